"""The lab host is reached as a site's server is: SSH as an unprivileged user, root through sudo with a vaulted password.

Every converge, check, idempotence run and re-converge of this scenario goes through that path (inventory/host_vars).
"""

import os
import subprocess

import httpx
import openai

from lab import CA, KEYS, MODEL, SCENARIO

SECOND = 'onprem-inference-b'

SUDO_PASSWORD = 'lab-sudo-password-0123456789'  # Dockerfile.j2; its only copy in the inventory is vaulted


def test_deploy_is_an_unprivileged_user_whose_sudo_needs_a_password(host):
    deploy = host.user('deploy')
    assert deploy.exists and deploy.uid != 0
    # No NOPASSWD rule: without the (vaulted) password sudo refuses.
    assert host.run("su deploy -c 'sudo --non-interactive true'").rc != 0


def test_the_runs_came_over_ssh_as_deploy_and_became_root_with_sudo(host):
    sshd = host.run('journalctl --unit ssh.service --no-pager --output cat').stdout
    assert 'Accepted publickey for deploy' in sshd
    assert 'for root' not in sshd
    sudo = host.run('journalctl --no-pager --output cat _COMM=sudo').stdout
    assert 'deploy : ' in sudo and 'USER=root' in sudo


def test_the_sudo_password_is_only_vaulted_in_the_inventory():
    for root, _dirs, files in os.walk(os.path.join(SCENARIO, 'inventory')):
        for name in files:
            with open(os.path.join(root, name), encoding='utf-8') as handle:
                assert SUDO_PASSWORD not in handle.read(), name
    with open(os.path.join(SCENARIO, 'inventory', 'group_vars', 'deepseek.yml'), encoding='utf-8') as handle:
        assert 'ansible_become_password: !vault' in handle.read()


def test_second_deployment_serves_its_own_completion(tmp_path):
    # Two hosts, two deployments, converged (and checked idempotent) by the same site.yml runs over SSH; the
    # second host's gateway answers through its own port with its own CA.
    ca = subprocess.run(['podman', 'exec', SECOND, 'cat', CA], capture_output=True, text=True, check=True, timeout=60).stdout
    ca_file = tmp_path / 'ca-b.crt'
    ca_file.write_text(ca)
    client = openai.OpenAI(base_url='https://localhost:18444/v1', api_key=KEYS['alice'], max_retries=0, timeout=60,
                           http_client=httpx.Client(verify=str(ca_file), timeout=60))
    answer = client.chat.completions.create(model=MODEL, messages=[{'role': 'user', 'content': 'hello'}], max_tokens=4)
    assert answer.choices[0].message.content is not None
    active = subprocess.run(['podman', 'exec', SECOND, 'systemctl', 'is-active', 'deepseek-inference.service'],
                            capture_output=True, text=True, check=False, timeout=60).stdout.strip()
    assert active == 'active'
