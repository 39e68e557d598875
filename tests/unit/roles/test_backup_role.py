"""The backup role's input checks, its rendered script and units, under ansible-playbook on localhost (nothing changes there).

The assert entry point's exact sentences, that -vvv output never shows the restic password, and the script/units the role
renders (rendered with the role's own templates into a temporary directory). Backing up, restoring and the SFTP remote run
in containers (molecule/inference/tests/test_backup.py); restic itself is not needed here.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
PASSWORD = 'R3stic-password-never-shown-9'
HOST_KEY = '10.0.0.2 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMd4sI0hc4gLQ5txnktej48dGa3tiLrOzIrd7BOA91vz'
GOOD = {'backup_password': PASSWORD,
        'backup_repositories': [{'name': 'local', 'url': '/srv/backup/restic'},
                                {'name': 'offsite', 'url': 'sftp:backup@10.0.0.2:/srv/restic/gpu-a', 'port': 2222,
                                 'known_hosts': HOST_KEY}]}

PLAY = """
- hosts: all
  gather_facts: false
  connection: local
  tasks:
    - name: Check
      ansible.builtin.include_role:
        name: onprem.deepseek.backup
        tasks_from: assert.yml
        public: true
%s
"""
RENDER = """
    - name: Render
      ansible.builtin.template:
        src: "{{ item }}.j2"
        dest: "%s/{{ item }}"
        mode: "0600"
      loop: [onprem-deepseek-backup.sh, onprem-deepseek-backup.service, onprem-deepseek-backup.timer]
"""


def _run(tmp_path, extra, *args, render=False):
    with open(tmp_path / 'vars.json', 'w') as handle:
        json.dump(dict(extra, ansible_python_interpreter=sys.executable), handle)
    tasks = ''
    if render:
        # Templates are looked up in the included role's templates/ only inside it: render from its path.
        tasks = RENDER.replace('src: "{{ item }}.j2"', 'src: "%s/roles/backup/templates/{{ item }}.j2"' % ROOT) % tmp_path
    with open(tmp_path / 'play.yml', 'w') as handle:
        handle.write(PLAY % tasks)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    cmd = ['ansible-playbook', '-i', 'gpu-a,', '-c', 'local', str(tmp_path / 'play.yml'), '-e', '@' + str(tmp_path / 'vars.json')] + list(args)
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    return result, result.stdout + result.stderr


def test_good_input_passes_and_never_shows_the_password(tmp_path):
    result, out = _run(tmp_path, GOOD, '-vvv')
    assert result.returncode == 0, out[-4000:]
    assert PASSWORD not in out


def test_no_repositories_needs_nothing(tmp_path):
    result, out = _run(tmp_path, {})
    assert result.returncode == 0, out[-4000:]


def test_every_problem_in_one_message(tmp_path):
    extra = {'backup_password': 'short-pw',
             'backup_repositories': [{'name': 'local', 'url': 'relative/path'}, {'name': 'local', 'url': '/srv/b'},
                                     {'name': 'Off Site', 'url': 'sftp://backup@host/srv'},
                                     {'name': 'remote', 'url': 'sftp:backup@host:/srv/restic'}, {'name': 'nourl'}],
             'backup_restore_repository': 'nas', 'backup_restore_snapshot': 'yesterday',
             'backup_extra_paths': ['etc/x'], 'backup_keep_daily': 0, 'backup_keep_weekly': 0, 'backup_keep_monthly': 0}
    result, out = _run(tmp_path, extra, '-vvv')
    assert result.returncode != 0
    assert 'short-pw' not in out
    for sentence in (
            'backup on gpu-a: backup_password is shorter than 16 characters',
            'backup_repositories entries need a name of a-z, 0-9, _ or -: [{"name": "Off Site", "url": "sftp://backup@host/srv"}]',
            'backup_repositories names repeat: ["local"]',
            'backup_repositories entries need a url: [{"name": "nourl"}]',
            'backup_repositories url "relative/path" is not a local absolute path or sftp:user@host:/path',
            'backup_repositories url "sftp://backup@host/srv" is not a local absolute path or sftp:user@host:/path',
            'backup_repositories SFTP entries need known_hosts (the server host key lines, ssh-keyscan checked against the server): Off Site, remote',
            'backup_restore_repository is "nas"; allowed: local, local, Off Site, remote, nourl',
            'backup_restore_snapshot is "yesterday"; allowed: latest or a snapshot id (hex)',
            'backup_paths and backup_extra_paths must be absolute paths: ["etc/x"]',
            'backup_keep_daily / _weekly / _monthly are [0, 0, 0]; want whole numbers >= 0, at least one > 0'):
        assert sentence in out, sentence + '\n' + out[-4000:]


def test_missing_password(tmp_path):
    result, out = _run(tmp_path, {'backup_repositories': GOOD['backup_repositories']})
    assert result.returncode != 0
    assert 'backup_password is not set: put it in the vault (it encrypts every repository)' in out


def test_rendered_script_and_units(tmp_path):
    extra = dict(GOOD, backup_extra_paths=['/etc/site-extra'], backup_exclude=['*.tmp'],
                 encrypted_storage_volumes=[{'name': 'models', 'device': '/dev/disk/by-id/nvme-x', 'mount': '/srv/deepseek'}])
    result, out = _run(tmp_path, extra, '-vvv', render=True)
    assert result.returncode == 0, out[-4000:]
    assert PASSWORD not in out
    script = (tmp_path / 'onprem-deepseek-backup.sh').read_text()
    service = (tmp_path / 'onprem-deepseek-backup.service').read_text()
    timer = (tmp_path / 'onprem-deepseek-backup.timer').read_text()
    assert PASSWORD not in script + service + timer
    assert 'export RESTIC_PASSWORD_FILE=/etc/onprem-deepseek-backup/password' in script
    assert 'for path in /etc/onprem-deepseek /etc/nginx/onprem-deepseek /var/lib/onprem-deepseek /etc/site-extra ;' in script
    assert 'for marker in /srv/deepseek/models/*/.onprem-deepseek-verified; do' in script
    assert "excludes+=(--exclude '*.tmp')" in script
    assert 'cryptsetup luksHeaderBackup /dev/disk/by-id/nvme-x --header-backup-file /var/backups/onprem-deepseek-luks/models.luks-header' in script
    assert '--keep-daily 7 --keep-weekly 4 --keep-monthly 6 --prune' in script
    assert 'run local /srv/backup/restic || failed+=(local)' in script
    assert ("run offsite sftp:backup@10.0.0.2:/srv/restic/gpu-a -o 'sftp.command=ssh -i /etc/onprem-deepseek-backup/id_ed25519"
            " -o BatchMode=yes -o ConnectTimeout=30 -o StrictHostKeyChecking=yes"
            " -o UserKnownHostsFile=/etc/onprem-deepseek-backup/known_hosts -p 2222 backup@10.0.0.2 -s sftp' || failed+=(offsite)") in script
    assert 'restic "$@" check || return 1' in script
    assert 'Type=oneshot' in service and 'ExecStart=/usr/local/sbin/onprem-deepseek-backup' in service
    assert 'Environment' not in service
    assert 'OnCalendar=*-*-* 02:30:00' in timer and 'Persistent=true' in timer
    # The script is valid bash.
    check = subprocess.run(['bash', '-n', str(tmp_path / 'onprem-deepseek-backup.sh')], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr


def test_weights_on_request(tmp_path):
    result, out = _run(tmp_path, dict(GOOD, backup_include_weights=True, model_store_dir='/data/models'), render=True)
    assert result.returncode == 0, out[-4000:]
    script = (tmp_path / 'onprem-deepseek-backup.sh').read_text()
    assert '[ -e /data/models ] && paths+=(/data/models)' in script
    assert 'excludes=(--exclude /data/models/.staging)' in script
    assert '.onprem-deepseek-verified' not in script


def test_playbooks_list_their_tasks():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    for name in ('backup', 'restore'):
        result = subprocess.run(['ansible-playbook', '-i', 'gpu-a,', '--list-tasks', os.path.join(ROOT, 'playbooks', name + '.yml')],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
