"""Backups (roles/backup, onprem.deepseek.backup, onprem.deepseek.restore) on the lab host, end to end.

onprem-inference backs up to its local repository (inventory/group_vars/deepseek_inference.yml) and to an SFTP repository
on onprem-inference-b, reached over the lab's podman network. Lab-only glue, here and not in the role: a `restic-lab` user
on onprem-inference-b with onprem-inference's backup key authorised, and that server's host key read from its own file
(never learnt on first use). Then: back up, wipe /etc/onprem-deepseek, restore from the SFTP repository with -vvv, and the
files' checksums, the served certificate and the API keys are the same as before; site.yml then reports 0 changed, and the
restic password shows in no output. The tests depend on each other's order (one module, run top to bottom).
"""

import hashlib
import json
import os
import re
import ssl
import subprocess

import pytest
import testinfra
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

import lab

REMOTE = 'onprem-inference-b'
REMOTE_USER = 'restic-lab'
KEY_PUB = '/etc/onprem-deepseek-backup/id_ed25519.pub'
SNAP = {}


def _vaulted(path, name):
    class Loader(yaml.SafeLoader):
        pass
    Loader.add_constructor('!vault', lambda loader, node: loader.construct_scalar(node))
    with open(path, encoding='utf-8') as handle:
        cipher = yaml.load(handle, Loader=Loader)[name]  # noqa: S506 - SafeLoader subclass
    with open(os.path.join(lab.SCENARIO, 'vault-password'), encoding='utf-8') as handle:
        secret = VaultSecret(handle.read().strip().encode())
    return VaultLib([('default', secret)]).decrypt(cipher.encode()).decode()


PASSWORD = _vaulted(os.path.join(lab.SCENARIO, 'inventory', 'group_vars', 'deepseek_inference.yml'), 'backup_password')


def _run(extra_vars, playbook, *args):
    """lab.converge with extra ansible-playbook arguments (-vvv)."""
    cmd = ['ansible-playbook', '-i', os.environ['MOLECULE_INVENTORY_FILE'], playbook, '--limit', lab.HOST,
           '-e', json.dumps(extra_vars)] + list(args)
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900, env=env)
    result.output = result.stdout + result.stderr
    # ansible.cfg's callback_result_format = yaml folds long messages over lines: the words, one space apart.
    result.flat = ' '.join(result.output.split())
    assert PASSWORD not in result.output, 'the restic password shows in the output of %s' % playbook
    return result


def _playbook(name):
    return os.path.join(lab.PROJECT, 'playbooks', name + '.yml')


def _recap_changed(output):
    match = re.search(r'^%s\s+: ok=\d+\s+changed=(\d+)' % re.escape(lab.HOST), output, re.M)
    assert match, output[-3000:]
    return int(match.group(1))


def _changed_tasks(output):
    """The TASK / RUNNING HANDLER headers above each `changed:` line of a run's output."""
    found, header = [], None
    for line in output.splitlines():
        if line.startswith(('TASK [', 'RUNNING HANDLER [')):
            header = line.rstrip(' *')
        elif line.startswith('changed:'):
            found.append('%s: %s' % (header, line))
    return found


def _checksums(host):
    out = host.check_output('find /etc/onprem-deepseek -type f -print0 | sort -z | xargs -0 sha256sum')
    modes = host.check_output("find /etc/onprem-deepseek -printf '%p %m %u %g\\n' | sort")
    return out, modes


def _served_certificate():
    pem = ssl.get_server_certificate(('127.0.0.1', int(lab.ORIGIN.rsplit(':', 1)[1])))
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


@pytest.fixture(scope='module')
def remote():
    return testinfra.get_host('podman://' + REMOTE)


@pytest.fixture(scope='module')
def backup_vars(host, remote):
    """Authorise onprem-inference's backup key on onprem-inference-b; the repositories with the SFTP one."""
    public_key = host.file(KEY_PUB).content_string.strip()
    address = subprocess.run(['podman', 'inspect', REMOTE, '--format', '{{.NetworkSettings.IPAddress}}'],
                             capture_output=True, text=True, check=True).stdout.strip()
    if not address:  # a named network: the first address
        address = subprocess.run(['podman', 'inspect', REMOTE, '--format',
                                  '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}'],
                                 capture_output=True, text=True, check=True).stdout.split()[0]
    remote.check_output('id %s || useradd --create-home --shell /bin/bash %s', REMOTE_USER, REMOTE_USER)
    remote.check_output('install -d -m 0700 -o %s -g %s /home/%s/.ssh /home/%s/restic', REMOTE_USER, REMOTE_USER, REMOTE_USER, REMOTE_USER)
    remote.check_output("printf '%%s\\n' %s > /home/%s/.ssh/authorized_keys && chown %s: /home/%s/.ssh/authorized_keys",
                        public_key, REMOTE_USER, REMOTE_USER, REMOTE_USER)
    host_key = ' '.join(remote.file('/etc/ssh/ssh_host_ed25519_key.pub').content_string.split()[:2])
    return {'backup_repositories': [
        {'name': 'local', 'url': '/srv/backup/restic'},
        {'name': 'offsite', 'url': 'sftp:%s@%s:/home/%s/restic/%s' % (REMOTE_USER, address, REMOTE_USER, lab.HOST),
         'known_hosts': '%s %s' % (address, host_key)}]}


def test_site_sets_up_both_repositories(host, backup_vars):
    # A whole site.yml run, not the backup tag alone: with the tag alone, the run after the restore changed 2 tasks
    # (2026-12-04 lab run, names not kept); the snapshot is taken of the state a whole run leaves.
    result = _run(backup_vars, os.path.join(lab.SCENARIO, 'converge.yml'))
    assert result.returncode == 0, result.output[-4000:]
    assert host.service('onprem-deepseek-backup.timer').is_enabled
    assert host.service('onprem-deepseek-backup.timer').is_running
    password_file = host.file('/etc/onprem-deepseek-backup/password')
    assert (password_file.user, password_file.mode) == ('root', 0o600)
    unit = host.check_output('systemctl cat onprem-deepseek-backup.service')
    assert PASSWORD not in unit and 'Environment' not in unit


def test_backup_playbook_snapshots_both_repositories(host, backup_vars):
    result = _run(backup_vars, _playbook('backup'), '-vvv')
    if result.returncode != 0:
        print(lab.journal(host, 'onprem-deepseek-backup', 80))
    assert result.returncode == 0, result.output[-4000:]
    found = re.search(r'backed up as %s: local snapshot ([0-9a-f]{8}), offsite snapshot ([0-9a-f]{8})' % lab.HOST, result.flat)
    assert found, result.output[-4000:]
    SNAP['ids'] = found.groups()
    journal = lab.journal(host, 'onprem-deepseek-backup', 200)
    assert journal.count('no errors were found') >= 2, journal  # restic check, each repository


def test_wipe_and_restore_gives_the_same_files_certificate_and_keys(host, ca_file, backup_vars):
    assert SNAP, 'the backup test did not run'
    before = _checksums(host)
    certificate = _served_certificate()
    lab.chat(ca_file, 'alice')

    host.check_output('rm -rf /etc/onprem-deepseek')
    assert not host.file('/etc/onprem-deepseek').exists

    result = _run(dict(backup_vars, backup_restore_repository='offsite'), _playbook('restore'), '-vvv')
    assert result.returncode == 0, result.output[-4000:]
    assert 'snapshot %s of %s restored from offsite' % (SNAP['ids'][1], lab.HOST) in result.flat

    assert _checksums(host) == before
    assert _served_certificate() == certificate
    # The restored CA is the one the clients already trust, and alice's key still answers.
    lab.wait_serving(ca_file)
    lab.chat(ca_file, 'alice')


def test_site_after_the_restore_changes_nothing(host, backup_vars):
    result = _run(backup_vars, os.path.join(lab.SCENARIO, 'converge.yml'))
    assert result.returncode == 0, result.output[-4000:]
    assert _recap_changed(result.output) == 0, _changed_tasks(result.output)


def test_back_to_the_scenario_repositories(host):
    # The later tests converge with the scenario's variables: the local repository only, as the scenario converged it.
    result = lab.converge({}, tags='preflight,backup')
    assert result.returncode == 0, result.output[-3000:]
    assert 'sftp:' not in host.file('/usr/local/sbin/onprem-deepseek-backup').content_string
