"""site.yml runs as an operator runs it: every play escalates, nothing needs a root login.

Static checks of the playbook and roles (the plays themselves run in the inference Molecule scenario and
the demo, where they escalate through sudo as root).
"""

import os

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _yaml(*parts):
    with open(os.path.join(ROOT, *parts), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def test_every_site_play_escalates():
    plays = _yaml('playbooks', 'site.yml')
    assert plays and all(play.get('become') is True for play in plays), [p['name'] for p in plays if p.get('become') is not True]


def test_no_role_runs_a_task_on_the_controller_with_privilege():
    # A task delegated to the controller would inherit become and ask for the operator's own sudo password.
    offenders = []
    for folder, _dirs, files in os.walk(os.path.join(ROOT, 'roles')):
        for name in files:
            if name.endswith('.yml'):
                with open(os.path.join(folder, name), encoding='utf-8') as handle:
                    text = handle.read()
                if 'delegate_to: localhost' in text or 'local_action' in text:
                    offenders.append(os.path.relpath(os.path.join(folder, name), ROOT))
    assert offenders == []


def test_prod_example_logs_in_as_a_deploy_user():
    assert _yaml('inventories', 'prod', 'group_vars', 'deepseek.yml')['ansible_user'] == 'deploy'
