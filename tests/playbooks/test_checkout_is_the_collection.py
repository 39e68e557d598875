"""The checkout works as the collection onprem.deepseek with no install step (ansible.cfg + .collections)."""

import json
import os
import subprocess
import sys

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
    for host in ('ds-v3-h100-1', 'ds-v3-h100-2', 'ds-distill-l40s-1', 'ds-frontdoor-1', 'ds-frontdoor-2'):
        assert host in out


FRONTDOOR = """
- hosts: deepseek_frontdoor
  gather_facts: false
  connection: local
  tasks:
    - name: Check
      ansible.builtin.include_role:
        name: onprem.deepseek.loadbalancer
        tasks_from: assert.yml
        public: true
    - name: Show
      ansible.builtin.debug:
        msg: "{{ loadbalancer_services | to_json }}"
    - name: VRRP
      ansible.builtin.debug:
        msg: >-
          {{ groups[loadbalancer_vrrp_group] | onprem.deepseek.frontdoor_vrrp(hostvars, loadbalancer_vip, router_id=loadbalancer_vrrp_router_id)
             | to_json }}
"""


def test_the_prod_front_door_balances_each_deployment_on_its_port(tmp_path):
    # V3 on two nodes is one engine: its first node's gateway is the backend; the distilled model on its own port.
    (tmp_path / 'frontdoor.yml').write_text(FRONTDOOR)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK='json')
    result = subprocess.run(['ansible-playbook', str(tmp_path / 'frontdoor.yml'), '-i', 'inventories/prod', '-e',
                             'ansible_python_interpreter=%s' % sys.executable], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    tasks = json.loads(result.stdout)['plays'][0]['tasks']
    services = json.loads([t for t in tasks if t['task']['name'] == 'Show'][0]['hosts']['ds-frontdoor-1']['msg'])
    assert [(s['name'], s['port'], [(b['name'], b['address'], b['port']) for b in s['backends']]) for s in services] == [
        ('distill_l40s', 8443, [('ds-distill-l40s-1', '192.0.2.21', 443)]),
        ('v3_h100', 443, [('ds-v3-h100-1', '192.0.2.11', 443)])]
    # Both front doors share 192.0.2.30 (no facts here: their ansible_host addresses are their VRRP addresses).
    vrrp = json.loads([t for t in tasks if t['task']['name'] == 'VRRP'][0]['hosts']['ds-frontdoor-2']['msg'])
    assert vrrp == {'vip': '192.0.2.30/24', 'router_id': 51, 'problems': [],
                    'members': [{'name': 'ds-frontdoor-1', 'address': '192.0.2.31', 'priority': 150},
                                {'name': 'ds-frontdoor-2', 'address': '192.0.2.32', 'priority': 140}]}


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
