"""The checkout works as the collection onprem.deepseek with no install step (ansible.cfg + .collections)."""

import json
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _run(*cmd):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    result = subprocess.run(list(cmd), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_ansible_doc_lists_the_collection_modules():
    modules = json.loads(_run('ansible-doc', '-l', 'onprem.deepseek', '--json'))
    assert 'onprem.deepseek.hardware_facts' in modules


def test_site_playbook_resolves_by_fqcn_on_the_lab_inventory():
    out = _run('ansible-playbook', 'onprem.deepseek.site', '--list-tasks', '-i', 'inventories/lab/hosts.yml')
    assert 'onprem.deepseek.preflight : Read GPUs, NVSwitches and RDMA devices from sysfs' in out


def test_every_playbook_is_importable_by_fqcn():
    for name in sorted(os.listdir(os.path.join(ROOT, 'playbooks'))):
        if name.endswith('.yml'):
            _run('ansible-playbook', 'onprem.deepseek.' + name[:-4], '--syntax-check', '-i', 'inventories/lab/hosts.yml')


def test_site_playbook_on_the_prod_example_passes_syntax_check_and_lists_its_hosts():
    _run('ansible-playbook', 'onprem.deepseek.site', '--syntax-check', '-i', 'inventories/prod')
    out = _run('ansible-playbook', 'onprem.deepseek.site', '--list-hosts', '-i', 'inventories/prod')
    for host in ('ds-v3-h100-1', 'ds-v3-h100-2', 'ds-distill-l40s-1'):
        assert host in out


def test_ssh_host_keys_are_checked_outside_the_labs():
    # Real sites must verify host keys: only lab inventories / scenarios (molecule/vm) may turn the check off.
    with open(os.path.join(ROOT, 'ansible.cfg'), encoding='utf-8') as handle:
        settings = [line.split('=', 1) for line in handle if '=' in line and not line.lstrip().startswith(('#', ';'))]
    assert not [value for key, value in settings if key.strip() == 'host_key_checking' and value.strip().lower() in ('false', 'no', '0')]


def test_prod_example_secrets_are_vaulted_and_pass_the_gateways_checks(tmp_path):
    # The documented example password (inventories/prod/group_vars/deepseek_inference.yml, docs/inventory.md)
    password = tmp_path / 'vault-password'
    password.write_text('onprem-deepseek-example\n')
    text = open(os.path.join(ROOT, 'inventories', 'prod', 'group_vars', 'deepseek_inference.yml'), encoding='utf-8').read()
    assert text.count('!vault |') == 3  # two API keys and the mirror token: nothing secret in clear
    _run('ansible-playbook', os.path.join('tests', 'playbooks', 'files', 'prod_secrets.yml'), '-i', 'inventories/prod',
         '--vault-password-file', str(password))
