"""The lab host is reached as a site's server is: SSH as an unprivileged user, root through sudo with a vaulted password.

Every converge, check, idempotence run and re-converge of this scenario goes through that path (inventory/host_vars).
"""

import os

from lab import SCENARIO

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
    with open(os.path.join(SCENARIO, 'inventory', 'host_vars', 'onprem-inference.yml'), encoding='utf-8') as handle:
        assert 'ansible_become_password: !vault' in handle.read()
