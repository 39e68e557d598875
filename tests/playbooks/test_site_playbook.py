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
    # Every play that changes or reads a host escalates; the closing summary only prints facts already gathered.
    plays = _yaml('playbooks', 'site.yml')
    assert plays[-1]['name'] == 'Summary' and plays[-1].get('become') is False
    assert all(set(t) <= {'name', 'ansible.builtin.debug', 'when'} for t in plays[-1]['tasks'])
    assert all(play.get('become') is True for play in plays[:-1]), [p['name'] for p in plays[:-1] if p.get('become') is not True]


def _tasks(items):
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            yield item
            for key in ('block', 'rescue', 'always'):
                yield from _tasks(item.get(key))


def test_no_role_runs_a_task_on_the_controller_with_privilege():
    # A task delegated to the controller would inherit become and ask for the operator's own sudo password: the one
    # such task (encrypted_storage's header backup mode) says become: false.
    offenders = []
    for folder, _dirs, files in os.walk(os.path.join(ROOT, 'roles')):
        for name in files:
            if name.endswith('.yml') and os.path.basename(folder) in ('tasks', 'handlers'):
                with open(os.path.join(folder, name), encoding='utf-8') as handle:
                    tasks = yaml.safe_load(handle)
                for task in _tasks(tasks):
                    local = 'local_action' in task or task.get('delegate_to') in ('localhost', '127.0.0.1')
                    if local and task.get('become') is not False:
                        offenders.append((os.path.relpath(os.path.join(folder, name), ROOT), task.get('name')))
    assert offenders == []


def test_prod_example_logs_in_as_a_deploy_user():
    assert _yaml('inventories', 'prod', 'group_vars', 'deepseek.yml')['ansible_user'] == 'deploy'


def test_a_tagged_dynamic_include_hands_its_tags_to_the_included_tasks():
    # Tags on include_tasks/include_role select the include only: without `apply`, `--tags model_store` would run the
    # include and skip every task it brings (found 2026-12-04: model_store's fetch, inference's candidate and watchdog).
    offenders = []
    for folder, _dirs, files in os.walk(os.path.join(ROOT, 'roles')):
        for name in files:
            if name.endswith('.yml') and os.path.basename(folder) == 'tasks':
                with open(os.path.join(folder, name), encoding='utf-8') as handle:
                    tasks = yaml.safe_load(handle)
                for task in _tasks(tasks):
                    for action in ('ansible.builtin.include_tasks', 'ansible.builtin.include_role'):
                        if action in task and task.get('tags'):
                            applied = (task[action].get('apply') or {}).get('tags', []) if isinstance(task[action], dict) else []
                            if not set(task['tags']) <= set(applied):
                                offenders.append((os.path.relpath(os.path.join(folder, name), ROOT), task.get('name')))
    assert offenders == []


def test_preflight_and_the_input_checks_run_whatever_tags_are_asked():
    # `--tags gateway` still checks the host and computes the plan first (the roles read preflight's facts).
    plays = _yaml('playbooks', 'site.yml')
    assert [p['name'] for p in plays if 'always' in p.get('tags', [])] == [plays[i]['name'] for i in range(4)]
    assert plays[2]['hosts'] == 'deepseek_frontdoor'  # the front door's own input checks
    # The offline bundle (deepseek_offline_bundle) before any role installs: the roles after it read what it sets.
    assert plays[3]['name'] == 'Offline bundle' and plays[3]['any_errors_fatal'] is True
    assert plays[3]['tasks'][0]['ansible.builtin.include_tasks'] == {'file': 'tasks/offline_bundle.yml', 'apply': {'tags': ['always']}}
    assert plays[4]['roles'] == [{'role': 'onprem.deepseek.os_tuning'}]
    assert plays[0]['roles'] == [{'role': 'onprem.deepseek.preflight'}]
