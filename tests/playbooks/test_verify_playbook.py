"""onprem.deepseek.verify parses with the example production inventory (its hosts are TEST-NET addresses: nothing runs)."""

import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def test_verify_syntax_check_with_prod_inventory():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    result = subprocess.run(['ansible-playbook', 'playbooks/verify.yml', '-i', 'inventories/prod', '--syntax-check'],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'playbook: playbooks/verify.yml' in result.stdout


def test_verify_by_fqcn_is_the_playbook():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    result = subprocess.run(['ansible-playbook', 'onprem.deepseek.verify', '-i', 'inventories/prod', '--list-tasks'],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for task in ('Check the GPUs where there are GPUs and tools', 'Send streamed chat completions through the gateway at each level',
                 'Write report.md, report.json and latency.svg'):
        assert task in result.stdout
