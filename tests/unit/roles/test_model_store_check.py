"""The model store's integrity check: the checker program on its own, and the role around it.

`roles/model_store/files/model-store-check` is run as a subprocess with python3 on temporary model
directories (the engine unit runs it the same way before each start). The role itself then runs
under ansible-playbook on localhost (connection local, controller source) against a temporary
store: it writes only below pytest's tmp_path.
"""

import hashlib
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
CHECKER = os.path.join(ROOT, 'roles', 'model_store', 'files', 'model-store-check')
MARKER = '.onprem-deepseek-verified'
FILES = {'model.gguf': b'GGUF' + bytes(range(256)) * 4, 'tokenizer/config.json': b'{"vocab": 32}\n'}


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _manifest(files=None):
    return [{'name': name, 'sha256': _sha256(data), 'size': len(data)} for name, data in sorted((files or FILES).items())]


def _write(directory, files=None):
    for name, data in (files or FILES).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _run(*args, stdin=None):
    return subprocess.run([sys.executable, CHECKER] + [str(a) for a in args], input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)


def _flip(path, offset=10):
    """Flip one bit of one byte in place: same size, new mtime."""
    with open(path, 'r+b') as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


@pytest.fixture
def model(tmp_path):
    """A verified model directory: files written, then the marker recorded by the checker itself."""
    directory = tmp_path / 'tiny-llama-v1'
    _write(directory)
    result = _run('--record', directory, stdin=json.dumps({'manifest_sha256': 'ab' * 32, 'files': _manifest()}))
    assert result.returncode == 0, result.stderr
    return directory


def _one_line(result):
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_record_writes_a_json_marker_with_each_files_size_and_mtime(model):
    marker = json.loads((model / MARKER).read_text())
    assert marker['format'] == 2 and marker['manifest_sha256'] == 'ab' * 32 and marker['model'] == 'tiny-llama-v1'
    entry = [f for f in marker['files'] if f['name'] == 'model.gguf'][0]
    info = os.stat(model / 'model.gguf')
    assert entry == {'name': 'model.gguf', 'sha256': _sha256(FILES['model.gguf']), 'size': info.st_size,
                     'mtime_ns': info.st_mtime_ns}
    assert oct(os.stat(model / MARKER).st_mode & 0o777) == '0o644'
    assert not (model / (MARKER + '.tmp')).exists()


def test_intact_store_passes_silently(model):
    for args in ([model], ['--full', model]):
        result = _run(*args)
        assert (result.returncode, result.stderr) == (0, '')


def test_byte_flipped_in_place_fails_naming_the_file(model):
    _flip(model / 'model.gguf')
    result = _run(model)
    assert result.returncode == 1
    line = _one_line(result)
    assert line.startswith('model-store-check: %s: model.gguf changed since it was verified (mtime ' % model)
    assert line.endswith('; run the model_store role again')
    assert 'size' not in line  # same size: the mtime told


def test_size_change_fails_with_both_sizes(model):
    with open(model / 'tokenizer' / 'config.json', 'ab') as handle:
        handle.write(b' ')
    result = _run(model)
    assert result.returncode == 1
    size = len(FILES['tokenizer/config.json'])
    assert 'tokenizer/config.json changed since it was verified (size %d -> %d, mtime ' % (size, size + 1) in _one_line(result)


def test_several_files_are_named_on_one_line(model):
    (model / 'tokenizer' / 'config.json').unlink()
    _flip(model / 'model.gguf')
    result = _run(model)
    assert result.returncode == 1
    line = _one_line(result)
    assert ': 2 files changed since they were verified: model.gguf (mtime ' in line
    assert 'tokenizer/config.json (missing)' in line


def test_full_finds_a_flipped_byte_whose_mtime_was_restored(model):
    path = model / 'model.gguf'
    before = os.stat(path)
    _flip(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert _run(model).returncode == 0  # the quick check cannot see it: that is what --full is for
    result = _run('--full', model)
    assert result.returncode == 1
    line = _one_line(result)
    assert line.startswith('model-store-check: %s: model.gguf does not match its verified SHA-256 (sha256 ' % model)
    assert 'verified %s...' % _sha256(FILES['model.gguf'])[:12] in line


def test_old_style_marker_asks_for_a_full_check(model):
    (model / MARKER).write_text('ab' * 32 + '\n')
    for args in ([model], ['--full', model]):
        result = _run(*args)
        assert result.returncode == 3
        assert _one_line(result) == ('model-store-check: %s: verified by an older model_store role (no per-file record); '
                                     'run the model_store role again: it checks every file in full once' % model)
    report = json.loads(_run('--json', model).stdout)
    assert (report['status'], report['manifest_sha256']) == ('legacy', 'ab' * 32)


@pytest.mark.parametrize('content, expected', [
    (None, 'not verified (no %s); run the model_store role' % MARKER),
    ('{"format": 2, "manifest_sha256": "x", "files": [{"name": "../../etc/passwd", "sha256": "", "size": 1, "mtime_ns": 1}]}',
     '%s is unreadable (bad file entry' % MARKER),
    ('{"format": 2', '%s is unreadable (' % MARKER),
])
def test_missing_or_unusable_marker_is_not_checkable(model, content, expected):
    if content is None:
        (model / MARKER).unlink()
    else:
        (model / MARKER).write_text(content)
    result = _run(model)
    assert result.returncode == 3
    assert _one_line(result).startswith('model-store-check: %s: %s' % (model, expected))


def test_no_such_directory(tmp_path):
    result = _run(tmp_path / 'absent')
    assert result.returncode == 3
    assert _one_line(result) == 'model-store-check: %s: no such directory; run the model_store role' % (tmp_path / 'absent')


def test_json_report_for_the_role(model):
    _flip(model / 'model.gguf')
    result = _run('--json', model)
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert report['status'] == 'changed' and report['manifest_sha256'] == 'ab' * 32
    assert [f['name'] for f in report['files']] == ['model.gguf']
    assert report['bytes'] == sum(len(d) for d in FILES.values())
    assert report['verified_at'].endswith('Z')


def test_record_refuses_a_missing_file(tmp_path):
    directory = tmp_path / 'm'
    _write(directory, {'a.bin': b'a'})
    result = _run('--record', directory, stdin=json.dumps({'manifest_sha256': 'x', 'files': _manifest({'a.bin': b'a', 'b.bin': b'b'})}))
    assert result.returncode == 2
    assert 'cannot record the verification (b.bin is missing)' in result.stderr
    assert not (directory / MARKER).exists()


def test_usage_error_exits_2():
    assert _run().returncode == 2


# --- the role on localhost ----------------------------------------------------------------------

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  connection: local
  roles:
    - role: onprem.deepseek.model_store
  post_tasks:
    - name: Show the published facts
      ansible.builtin.debug:
        msg: "{{ {'path': model_store_path, 'check': model_store_check_command, 'updated': model_store_updated} | to_json }}"
"""


def _summary(stdout):
    """From the json callback: the recap of localhost and the published facts (when the play got that far)."""
    report = json.loads(stdout[stdout.index('{'):])
    stats = report['stats']['localhost']
    facts = [t['hosts']['localhost'].get('msg') for p in report['plays'] for t in p['tasks']
             if t['task']['name'] == 'Show the published facts']
    return {'changed': stats['changed'], 'failed': stats['failures']}, (facts[0] if facts else None)


@pytest.fixture
def store(tmp_path):
    """A controller directory with a small model and its manifest; a store and a checker path under tmp_path."""
    source = tmp_path / 'controller'
    _write(source)
    extra = {
        'model_store_dir': str(tmp_path / 'store'),
        'model_store_model': 'tiny-llama-v1',
        'model_store_source': 'controller',
        'model_store_controller_dir': str(source),
        'model_store_manifest': _manifest(),
        'model_store_check_program': str(tmp_path / 'libexec' / 'model-store-check'),
        'model_store_owner': 'root',
        'model_store_free_margin_gib': 0,
        'ansible_python_interpreter': sys.executable,
    }
    (tmp_path / 'vars.json').write_text(json.dumps(extra))
    (tmp_path / 'play.yml').write_text(PLAYBOOK)

    def play(*args, **extra_vars):
        cmd = ['ansible-playbook', '-i', 'localhost,', str(tmp_path / 'play.yml'), '-e', '@' + str(tmp_path / 'vars.json'),
               '-e', json.dumps(extra_vars)] + list(args)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                   ANSIBLE_FORCE_COLOR='0', ANSIBLE_STDOUT_CALLBACK='json')
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        result.output = result.stdout + result.stderr
        result.recap, result.facts = _summary(result.stdout)
        return result

    play.model = tmp_path / 'store' / 'tiny-llama-v1'
    play.checker = extra['model_store_check_program']
    return play


@pytest.mark.skipif(os.geteuid() != 0, reason='the role chowns to root: run as root (the dev container is)')
def test_role_rechecks_the_store_on_every_run(store):
    first = store()
    assert first.recap == {'changed': first.recap['changed'], 'failed': 0}, first.output[-3000:]
    assert first.recap['changed'] > 0
    facts = json.loads(first.facts)
    assert facts == {'path': str(store.model), 'check': '%s %s' % (store.checker, store.model), 'updated': True}
    assert oct(os.stat(store.checker).st_mode & 0o777) == '0o755'
    assert subprocess.run(facts['check'].split(), check=False).returncode == 0

    again = store()
    assert again.recap == {'changed': 0, 'failed': 0}, again.output[-3000:]
    assert json.loads(again.facts)['updated'] is False
    check = store('--check')
    assert check.recap == {'changed': 0, 'failed': 0}, check.output[-3000:]

    # One byte flipped in place (same size): the run fails naming the file and the model, and says what to do.
    _flip(store.model / 'model.gguf')
    broken = store()
    assert broken.recap['failed'] == 1
    assert 'model_store: model.gguf of tiny-llama-v1 does not match the SHA-256 manifest (in place in %s' % store.model in broken.output
    assert 'model_store_repair=true' in broken.output
    assert store(model_store_verify='quick').recap['failed'] == 1  # quick: the mtime gives it away, then the hash

    # Repair: the version is fetched again through staging (the intact file is linked, not copied).
    inode = os.stat(store.model / 'tokenizer' / 'config.json').st_ino
    repaired = store(model_store_repair=True)
    assert repaired.recap['failed'] == 0, repaired.output[-3000:]
    assert (store.model / 'model.gguf').read_bytes() == FILES['model.gguf']
    assert os.stat(store.model / 'tokenizer' / 'config.json').st_ino == inode
    assert not os.listdir(store.model.parent / '.staging')
    assert subprocess.run([store.checker, '--full', str(store.model)], check=False).returncode == 0

    # A marker of the role's first format (the manifest's hash alone): hashed in full once, never fetched again.
    marker = json.loads((store.model / MARKER).read_text())
    (store.model / MARKER).write_text(marker['manifest_sha256'] + '\n')
    legacy = store(model_store_verify='quick')
    assert legacy.recap == {'changed': 1, 'failed': 0}, legacy.output[-3000:]
    assert 'Copy the model files from the controller' not in legacy.output
    assert json.loads((store.model / MARKER).read_text())['format'] == 2
    assert store(model_store_verify='quick').recap == {'changed': 0, 'failed': 0}


@pytest.mark.skipif(os.geteuid() != 0, reason='the role chowns to root: run as root (the dev container is)')
def test_a_local_source_that_is_the_store_s_own_directory_is_adopted_where_it_is(store):
    # The appliance's layout (issue 18): the offline bundle on the data partition holds models/<version>/, and the store
    # is that models/ directory. The files are hashed and recorded in place: no staging copy (twice the space of the
    # weights while it lasts), no move, no removal; the files keep their inodes.
    _write(store.model)
    inodes = {name: os.stat(store.model / name).st_ino for name in FILES}
    adopt = {'model_store_source': 'local', 'model_store_local_dir': str(store.model) + '/', 'model_store_controller_dir': ''}
    first = store(**adopt)
    assert first.recap['failed'] == 0, first.output[-3000:]
    assert 'adopted where it is' in first.output
    assert json.loads(first.facts) == {'path': str(store.model), 'check': '%s %s' % (store.checker, store.model), 'updated': True}
    assert {name: os.stat(store.model / name).st_ino for name in FILES} == inodes
    assert not (store.model.parent / '.staging').exists()
    assert subprocess.run([store.checker, '--full', str(store.model)], check=False).returncode == 0

    again = store(**adopt)
    assert again.recap == {'changed': 0, 'failed': 0}, again.output[-3000:]
    assert json.loads(again.facts)['updated'] is False

    # A file that changed: named, and a repair is refused (there is no other copy to repair from).
    _flip(store.model / 'model.gguf')
    assert 'does not match the SHA-256 manifest (in place in %s' % store.model in store(**adopt).output
    refused = store(model_store_repair=True, **adopt)
    assert refused.recap['failed'] == 1
    assert 'which is also model_store_local_dir (adopted in place): there is no other copy to repair from' in refused.output
    assert (store.model / 'model.gguf').exists()


@pytest.mark.skipif(os.geteuid() != 0, reason='the role chowns to root: run as root (the dev container is)')
def test_an_adopted_directory_that_does_not_match_fails_naming_the_file_and_keeps_it(store):
    _write(store.model, {'model.gguf': b'not the model', 'tokenizer/config.json': FILES['tokenizer/config.json']})
    result = store(model_store_source='local', model_store_local_dir=str(store.model), model_store_controller_dir='')
    assert result.recap['failed'] == 1
    assert 'model_store: model.gguf of tiny-llama-v1 does not match the SHA-256 manifest' in result.output
    assert (store.model / 'model.gguf').read_bytes() == b'not the model'
    assert not (store.model / MARKER).exists()


def test_the_bundle_knows_the_store_s_record_by_the_role_s_name_for_it():
    # plugins/module_utils/bundle.py lets a store's record stand in a bundle's model directory (an adopted version):
    # the name it allows is the role's marker.
    import yaml
    from ansible_collections.onprem.deepseek.plugins.module_utils import bundle
    with open(os.path.join(ROOT, 'roles', 'model_store', 'vars', 'main.yml')) as handle:
        assert yaml.safe_load(handle)['__model_store_marker'] == MARKER == bundle.STORE_RECORD
