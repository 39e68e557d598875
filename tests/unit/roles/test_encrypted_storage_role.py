"""The encrypted_storage role's input checks, entry points and the rotate_keys playbook, run under ansible-playbook.

Only what needs no block device runs here (connection local, nothing on the host changes): the assert entry point
with its exact sentences, the argument specs of both entry points, the Clevis policy the role derives, the main entry
point with no volumes (it publishes encrypted_storage_mounts), and that -vvv output never shows a passphrase. Making,
opening and mounting a volume needs device-mapper: the VM lab does that.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
PASS = 'S3cret-passphrase-never-shown-1'
NEW_PASS = 'N3w-passphrase-never-shown-2'
BACKUP_PASS = 'B4ckup-passphrase-never-shown-3'
SECRETS = (PASS, NEW_PASS, BACKUP_PASS)
TANG = [{'url': 'http://tang.lab:7500', 'thumbprint': 'yR1q3Fe0bGDpU9Np1Jv2p0yNo7w'}]
GOOD = {'encrypted_storage_volumes': [{'name': 'models', 'device': '/dev/disk/by-id/virtio-models', 'mount': '/srv/deepseek'}],
        'encrypted_storage_passphrase': PASS, 'encrypted_storage_tang_servers': TANG}

PLAY = """
- hosts: all
  gather_facts: false
  connection: local
  tasks:
%s
"""
ASSERT = """    - name: Check
      ansible.builtin.include_role:
        name: onprem.deepseek.encrypted_storage
        tasks_from: %s
"""
SHOW_VARS = """    - name: Vars
      ansible.builtin.include_role:
        name: onprem.deepseek.encrypted_storage
        tasks_from: vars.yml
        public: true
    - name: Show
      ansible.builtin.debug:
        msg: "{{ {'pin': __encrypted_storage_clevis_pin, 'config': __encrypted_storage_clevis_config,
                  'crypttab': __encrypted_storage_crypttab_opts[encrypted_storage_unlock]} | to_json }}"
"""
MAIN = """    - name: Role
      ansible.builtin.include_role:
        name: onprem.deepseek.encrypted_storage
    - name: Show
      ansible.builtin.debug:
        msg: "{{ encrypted_storage_mounts | to_json }}"
"""


def _run(tmp_path, tasks, extra, *args, playbook=None, callback='ansible.builtin.default'):
    """Run a play (or `playbook`) on localhost with `extra` as an extra-vars file (as a vault would hand them over)."""
    with open(tmp_path / 'vars.json', 'w') as handle:
        json.dump(dict(extra, ansible_python_interpreter=sys.executable), handle)
    if playbook is None:
        playbook = str(tmp_path / 'play.yml')
        with open(playbook, 'w') as handle:
            handle.write(PLAY % tasks)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
               ANSIBLE_STDOUT_CALLBACK=callback)
    cmd = ['ansible-playbook', '-i', 'localhost,', '-c', 'local', playbook, '-e', '@' + str(tmp_path / 'vars.json')] + list(args)
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    return result, result.stdout + result.stderr


def _no_secret(out):
    for secret in SECRETS:
        assert secret not in out, 'a passphrase shows in the output'


def test_good_input_passes_and_shows_no_passphrase(tmp_path):
    result, out = _run(tmp_path, ASSERT % 'assert.yml', GOOD, '-vvv')
    assert result.returncode == 0, out[-4000:]
    _no_secret(out)


def test_every_problem_in_one_message(tmp_path):
    extra = {'encrypted_storage_volumes': [{'name': 'models', 'device': '/dev/sdb', 'mount': '/srv/deepseek'}],
             'encrypted_storage_passphrase': 'short', 'encrypted_storage_unlock': 'tang',
             'encrypted_storage_tang_servers': [{'url': 'http://tang'}], 'encrypted_storage_tang_threshold': 2,
             'encrypted_storage_force_format': ['/dev/sdc'], 'encrypted_storage_header_backup_dir': str(tmp_path / 'h'),
             'encrypted_storage_pbkdf': 'scrypt', 'encrypted_storage_key_size': 384}
    result, out = _run(tmp_path, ASSERT % 'assert.yml', extra, '-vvv')
    assert result.returncode != 0
    assert 'short' not in out.replace('shorter', '')
    message = [line for line in out.splitlines() if 'encrypted_storage on localhost:' in line][0]
    message = message[message.index('encrypted_storage on localhost: '):]
    assert message.split(': ', 1)[1].split('; ') == [
        'encrypted_storage_volumes[0].device is /dev/sdb: a kernel name that can change between boots',
        'use /dev/disk/by-id/..., by-path, by-partlabel or by-partuuid (/dev/vdX is accepted for VM labs)',
        'encrypted_storage_pbkdf is "scrypt"',
        'allowed: argon2id, argon2i, pbkdf2',
        'encrypted_storage_key_size is 384',
        'allowed: 256, 512 (aes-xts: 512 is AES-256)',
        'encrypted_storage_passphrase is shorter than 16 characters',
        'encrypted_storage_tang_servers entries need url and thumbprint (tang-show-keys on the server): [{"url": "http://tang"}]',
        'encrypted_storage_tang_threshold is 2',
        'allowed: 1 to 1 (the number of Tang servers)',
        'encrypted_storage_force_format names /dev/sdc, not the device of any volume in encrypted_storage_volumes',
        'encrypted_storage_header_backup_passphrase is not set: the header backups are encrypted with it (vault)',
    ]


def test_missing_passphrase_and_tang_servers(tmp_path):
    extra = {'encrypted_storage_volumes': GOOD['encrypted_storage_volumes']}
    result, out = _run(tmp_path, ASSERT % 'assert.yml', extra)
    assert result.returncode != 0
    assert ('encrypted_storage_passphrase is not set: put it in the vault (it unlocks the volumes and adds the other keys); '
            'encrypted_storage_unlock is tang but encrypted_storage_tang_servers is empty (list [{url, thumbprint}])') in out


def test_no_volumes_needs_nothing(tmp_path):
    result, out = _run(tmp_path, ASSERT % 'assert.yml', {})
    assert result.returncode == 0, out[-4000:]


def test_main_entry_point_without_volumes_publishes_no_mounts(tmp_path):
    result, out = _run(tmp_path, MAIN, {}, callback='ansible.builtin.json')
    assert result.returncode == 0, out[-4000:]
    report = json.loads(result.stdout)
    shown = [task for task in report['plays'][0]['tasks'] if task['task']['name'] == 'Show'][0]
    assert json.loads(shown['hosts']['localhost']['msg']) == []
    assert report['stats']['localhost']['changed'] == 0


def test_argument_spec_rejects_a_bad_unlock_mode(tmp_path):
    result, out = _run(tmp_path, MAIN, {'encrypted_storage_unlock': 'usb', 'encrypted_storage_passphrase': PASS}, '-vvv')
    assert result.returncode != 0
    assert 'encrypted_storage_unlock' in out and 'usb' in out
    _no_secret(out)


@pytest.mark.parametrize('extra,expected', [
    ({'encrypted_storage_tang_servers': TANG},
     {'pin': 'tang', 'config': {'url': 'http://tang.lab:7500', 'thp': 'yR1q3Fe0bGDpU9Np1Jv2p0yNo7w'}, 'crypttab': 'luks,_netdev'}),
    ({'encrypted_storage_tang_servers': TANG + [{'url': 'http://tang2.lab:7500', 'thumbprint': 'T2'}], 'encrypted_storage_tang_threshold': 2},
     {'pin': 'sss', 'config': {'t': 2, 'pins': {'tang': [{'url': 'http://tang.lab:7500', 'thp': 'yR1q3Fe0bGDpU9Np1Jv2p0yNo7w'},
                                                         {'url': 'http://tang2.lab:7500', 'thp': 'T2'}]}}, 'crypttab': 'luks,_netdev'}),
    ({'encrypted_storage_unlock': 'tpm2'}, {'pin': 'tpm2', 'config': {'pcr_ids': '7'}, 'crypttab': 'luks'}),
    ({'encrypted_storage_unlock': 'tpm2', 'encrypted_storage_tpm2_pcr_ids': ''}, {'pin': 'tpm2', 'config': {}, 'crypttab': 'luks'}),
    ({'encrypted_storage_unlock': 'manual'}, {'pin': 'sss', 'config': {'t': 1, 'pins': {'tang': []}}, 'crypttab': 'luks,noauto'}),
])
def test_clevis_policy_and_crypttab_options(tmp_path, extra, expected):
    result, out = _run(tmp_path, SHOW_VARS, extra, callback='ansible.builtin.json')
    assert result.returncode == 0, out[-4000:]
    shown = [task for task in json.loads(result.stdout)['plays'][0]['tasks'] if task['task']['name'] == 'Show'][0]
    assert json.loads(shown['hosts']['localhost']['msg']) == expected


def test_rotate_refuses_the_same_passphrase_without_showing_it(tmp_path):
    extra = dict(GOOD, encrypted_storage_new_passphrase=PASS)
    result, out = _run(tmp_path, ASSERT % 'rotate.yml', extra, '-vvv')
    assert result.returncode != 0
    assert 'encrypted_storage_new_passphrase is the current encrypted_storage_passphrase; choose a new one' in out
    _no_secret(out)


def test_rotate_needs_the_new_passphrase(tmp_path):
    result, out = _run(tmp_path, ASSERT % 'rotate.yml', GOOD, '-vvv')
    assert result.returncode != 0
    # The rotate entry point's argument spec requires it, before any task.
    assert 'encrypted_storage_new_passphrase' in out
    _no_secret(out)


def test_rotate_keys_playbook_without_volumes_changes_nothing_and_shows_no_passphrase(tmp_path):
    extra = {'encrypted_storage_passphrase': PASS, 'encrypted_storage_new_passphrase': NEW_PASS,
             'encrypted_storage_header_backup_passphrase': BACKUP_PASS, 'rotate_keys_hosts': 'all'}
    result, out = _run(tmp_path, None, extra, '-vvv', playbook=os.path.join(ROOT, 'playbooks', 'rotate_keys.yml'))
    assert result.returncode == 0, out[-4000:]
    assert 'changed=0' in out and 'failed=0' in out
    _no_secret(out)


def test_rotate_keys_playbook_lists_its_tasks(tmp_path):
    result, out = _run(tmp_path, None, {}, '--syntax-check', playbook=os.path.join(ROOT, 'playbooks', 'rotate_keys.yml'))
    assert result.returncode == 0, out[-4000:]


def test_missing_device_fails_naming_it_before_any_change(tmp_path):
    """The volume tasks up to the device check (packages skipped: nothing is installed on this host)."""
    extra = dict(GOOD, encrypted_storage_volumes=[{'name': 'models', 'device': '/dev/disk/by-id/onprem-test-no-such-disk',
                                                   'mount': str(tmp_path / 'mnt')}])
    result, out = _run(tmp_path, MAIN, extra, '-vvv', '--skip-tags', 'encrypted_storage_packages')
    assert result.returncode != 0
    assert ('encrypted_storage on localhost: volume models: /dev/disk/by-id/onprem-test-no-such-disk is not a block device'
            ' on this host (it does not exist); check encrypted_storage_volumes') in out
    assert 'changed=0' in out
    _no_secret(out)


@pytest.mark.parametrize('family,release,expected', [
    # Debian 12's systemd carries /lib/systemd/systemd-cryptsetup and its generator (dpkg -S on Debian 12, 2026-12-06);
    # Debian 13 ships them in the package systemd-cryptsetup (257.13-1~deb13u1 in trixie/main, read 2026-12-06), and its
    # systemd without them leaves crypttab unread: the appliance's first boot found no systemd-cryptsetup@data.service.
    ('Debian', '12', []),
    ('Debian', '13', ['systemd-cryptsetup']),
    ('Debian', '14', ['systemd-cryptsetup']),
    ('RedHat', '9', []),
])
def test_systemd_cryptsetup_is_installed_where_it_is_a_package_of_its_own(family, release, expected):
    with open(os.path.join(ROOT, 'roles', 'encrypted_storage', 'vars', family + '.yml'), encoding='utf-8') as handle:
        table = yaml.safe_load(handle)
    by_release = table['__encrypted_storage_packages_systemd_by_release']
    assert by_release.get(release, table['__encrypted_storage_packages_systemd_default']) == expected


SECRET_COMMAND = """    - name: A command that reads the passphrase on stdin
      ansible.builtin.include_role:
        name: onprem.deepseek.encrypted_storage
        tasks_from: secret_command.yml
      vars:
        __es_name: models
        __es_device: /dev/disk/by-id/virtio-models
        __es_secret_what: Stand-in for cryptsetup
        __es_secret_argv: [sh, -c, '%s']
        __es_secret_stdin: "{{ encrypted_storage_passphrase }}"
"""


def test_a_failing_command_that_reads_the_passphrase_says_why_without_showing_it(tmp_path):
    # cryptsetup reencrypt and clevis luks bind run under no_log (the passphrase is their stdin), which used to leave
    # only "censored" when they failed. This stand-in fails as cryptsetup would, and echoes its stdin into its error
    # (no real tool should): the failure names host, volume, command, exit code and the error, the passphrase masked.
    script = 'echo "Device /dev/x is in use; read: $(cat)" >&2; exit 5'
    result, out = _run(tmp_path, SECRET_COMMAND % script, GOOD, '-vvv')
    assert result.returncode != 0
    assert ('encrypted_storage on localhost: volume models: sh -c on /dev/disk/by-id/virtio-models failed (exit 5):'
            ' Device /dev/x is in use; read: ********') in ' '.join(out.split()), out[-4000:]
    _no_secret(out)


def test_a_command_that_reads_the_passphrase_gets_it_on_stdin_and_reports_a_change(tmp_path):
    script = 'test "$(cat)" = "%s"' % PASS
    result, out = _run(tmp_path, SECRET_COMMAND % script, GOOD)
    assert result.returncode == 0, out[-4000:]
    assert 'changed=1' in out and 'failed=0' in out
