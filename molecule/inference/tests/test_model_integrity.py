"""The model in place is re-checked: a byte flipped in the served model fails the next run naming it,
the engine unit refuses to start on it (ExecStartPre = model_store_check_command), and a repair
run fetches the version again and the engine serves.

Runs after test_inference.py (name order), last in the scenario: the tests below depend on each
other's order and leave the lab serving the scenario's model, intact.
"""

import lab

MODEL = lab.CONVERGE_VARS['model_store_model']
MODEL_DIR = '/srv/deepseek/models/' + MODEL
MODEL_FILE = MODEL_DIR + '/tiny.gguf'
CHECKER = '/usr/local/libexec/onprem-deepseek/model-store-check'
# inference reads the model directory from model_store and the NCCL environment from fabric.
ENGINE_ROLES = lab.ENGINE_ROLES
# One bit of the byte in the middle of the file, in place: same size, new mtime.
FLIP = ('import os, sys\n'
        'path = sys.argv[1]\n'
        'offset = os.path.getsize(path) // 2\n'
        'with open(path, "r+b") as handle:\n'
        '    handle.seek(offset)\n'
        '    byte = handle.read(1)[0]\n'
        '    handle.seek(offset)\n'
        '    handle.write(bytes([byte ^ 1]))\n')


def test_engine_serves_the_scenario_model_behind_the_check(host, ca_file):
    # Earlier tests leave another version (tiny-http) serving: back to the scenario's own model, with the engine roles'
    # tags (the lab host keeps its address until test_restart, the scenario's last test).
    result = lab.converge({}, tags=ENGINE_ROLES)
    assert result.returncode == 0, result.output[-3000:]
    pre = host.run('systemctl show %s -p ExecStartPre' % lab.SERVICE).stdout
    assert '%s %s' % (CHECKER, MODEL_DIR) in pre, pre
    check = host.run('%s %s' % (CHECKER, MODEL_DIR))
    assert check.rc == 0, check.stderr
    lab.wait_serving(ca_file)


def test_byte_flipped_in_place_fails_the_run_naming_file_and_model(host):
    size = host.file(MODEL_FILE).size
    host.check_output('python3 -c %s %s', FLIP, MODEL_FILE)
    assert host.file(MODEL_FILE).size == size
    assert host.file(MODEL_FILE).sha256sum != lab.manifest()[0]['sha256']
    # The model store's own check (site.yml's model_store tag, after preflight) is what must fail.
    result = lab.converge({}, tags='preflight,model_store')
    assert result.returncode != 0
    assert 'model_store: tiny.gguf of %s does not match the SHA-256 manifest' % MODEL in result.output
    assert 'model_store_repair=true' in result.output


def test_engine_refuses_to_start_on_the_changed_store(host):
    restart = host.run('systemctl restart %s' % lab.SERVICE)
    assert restart.rc != 0, lab.journal(host)
    journal = lab.journal(host, lines=80)
    assert 'model-store-check: %s: tiny.gguf changed since it was verified' % MODEL_DIR in journal, journal
    assert not host.service(lab.SERVICE).is_running


def test_repair_fetches_the_version_again_and_the_engine_serves(host, ca_file):
    result = lab.converge({'model_store_repair': True}, tags=ENGINE_ROLES)
    assert result.returncode == 0, result.output[-3000:]
    assert host.file(MODEL_FILE).sha256sum == lab.manifest()[0]['sha256']
    full = host.run('%s --full %s' % (CHECKER, MODEL_DIR))
    assert full.rc == 0, full.stderr
    assert not host.file('/srv/deepseek/models/.staging/' + MODEL).exists
    lab.wait_serving(ca_file)
    assert host.service(lab.SERVICE).is_running, lab.journal(host)
