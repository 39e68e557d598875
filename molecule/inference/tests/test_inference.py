"""The lab's serving stack: an OpenAI-compatible endpoint over TLS 1.3 with API keys, supervised by systemd.

Runs against the molecule container (testinfra, podman backend) and, from the controller, through
the gateway's published port with the `openai` client. The last tests restart things: the engine
container is killed, a broken upgrade is rolled out, a corrupted model is offered. The lab host's own restart
(the container equivalent of `systemctl reboot`) is the last test of the scenario (test_restart.py).
"""

import json
import os
import subprocess
import time

import httpx
import openai
import pytest
import yaml

from lab import (BASE_URL, CA, ENGINE_ROLES, HOST, KEYS, MODEL, PROJECT, SCENARIO, SERVICE, chat as _chat, client as _client,
                 converge as _converge, journal as _journal, wait_serving as _wait_serving)


def test_engine_unit_is_supervised_by_systemd(host):
    service = host.service(SERVICE)
    assert service.is_running, _journal(host)
    assert service.is_enabled
    props = host.run('systemctl show %s -p Restart -p Type' % SERVICE).stdout
    assert 'Restart=always' in props  # a clean exit (0) restarts too
    assert 'Type=notify' in props


def test_watchdog_timer_is_active(host):
    timer = host.service('deepseek-inference-watchdog.timer')
    assert timer.is_running and timer.is_enabled


def test_lab_host_survives_another_systemd_container_stopping(host):
    # cgroup v1 with --cgroupns=private: a stopping systemd container trimmed the lab host's
    # libpod-<id> cgroup and every later `podman exec` failed ("error adding pid ... cgroup.procs:
    # no such file or directory"). A sibling with the scenario's own options starts and stops here.
    scenario = yaml.safe_load(open(os.path.join(SCENARIO, 'molecule.yml'), encoding='utf-8'))
    platform = scenario['platforms'][0]
    sibling = 'onprem-inference-sibling'
    subprocess.run(['podman', 'rm', '--force', sibling], capture_output=True, check=False)
    try:
        subprocess.run(['podman', 'run', '--detach', '--name', sibling, '--systemd=always', '--privileged']
                       + platform['extra_opts'] + [platform['image'], '/sbin/init'], check=True, capture_output=True, timeout=120)
        subprocess.run(['podman', 'exec', sibling, 'systemctl', 'is-system-running', '--wait'], capture_output=True, timeout=120, check=False)
        subprocess.run(['podman', 'stop', '--time', '30', sibling], check=True, capture_output=True, timeout=120)
    finally:
        subprocess.run(['podman', 'rm', '--force', sibling], capture_output=True, check=False, timeout=120)
    exec_ = subprocess.run(['podman', 'exec', HOST, 'true'], capture_output=True, text=True, timeout=60, check=False)
    assert exec_.returncode == 0, exec_.stderr
    # The demo's lab host is started with the same cgroup namespace.
    with open(os.path.join(PROJECT, 'scripts', 'dev'), encoding='utf-8') as handle:
        assert '--cgroupns=private' not in handle.read()


def test_engine_listens_on_loopback_only(host):
    assert host.socket('tcp://127.0.0.1:8000').is_listening
    assert not host.socket('tcp://0.0.0.0:8000').is_listening
    assert host.socket('tcp://0.0.0.0:443').is_listening


def test_model_directory_is_mounted_read_only(host):
    mounts = json.loads(host.check_output("podman inspect --format '{{json .Mounts}}' %s" % SERVICE))
    models = [m for m in mounts if m['Destination'] == '/models']
    assert models and models[0]['RW'] is False
    assert models[0]['Source'] == '/srv/deepseek/models/tiny-llama-v1'


def test_model_verified_and_in_place(host):
    lab = os.path.join(os.environ['MOLECULE_PROJECT_DIRECTORY'], '.cache', 'inference-lab')
    with open(os.path.join(lab, 'manifest.json'), encoding='utf-8') as handle:
        manifest = json.load(handle)
    model = host.file('/srv/deepseek/models/tiny-llama-v1/tiny.gguf')
    assert model.is_file and model.mode == 0o644
    assert model.sha256sum == manifest[0]['sha256']
    assert host.file('/srv/deepseek/models/tiny-llama-v1/.onprem-deepseek-verified').is_file
    assert not host.file('/srv/deepseek/models/.staging/tiny-llama-v1').exists


def test_load_time_recorded(host):
    state = json.loads(host.file('/var/lib/onprem-deepseek/inference/active.json').content_string)
    assert state['image'] == 'localhost/onprem-deepseek/llama-cpp:0.3.16'
    assert 0 < float(state['load_seconds']) < 300


def test_api_keys_file_is_root_only(host):
    keys = host.file('/etc/nginx/onprem-deepseek/api-keys.json')
    assert keys.user == 'root' and keys.mode == 0o600
    # Hashes only (test_access.py checks the table); no clear key, revoked or not.
    for key in KEYS.values():
        assert key not in keys.content_string


def test_chat_completion_with_a_valid_key(ca_file):
    answer = _chat(ca_file)
    assert answer.model == MODEL
    assert answer.choices[0].finish_reason in ('length', 'stop')
    assert answer.usage.completion_tokens >= 1


def test_streamed_completion_arrives_in_chunks(ca_file):
    chunks = list(_chat(ca_file, stream=True))
    assert len(chunks) >= 3
    assert chunks[-1].choices[0].finish_reason in ('length', 'stop')


def test_plain_completion_endpoint(ca_file):
    answer = _client(ca_file, KEYS['alice']).completions.create(model=MODEL, prompt='the deep', max_tokens=4)
    assert answer.choices[0].text is not None


def test_no_key_gets_401(ca_file):
    response = httpx.get(BASE_URL + '/models', verify=ca_file)
    assert response.status_code == 401
    assert response.json()['error']['code'] == 'invalid_api_key'


@pytest.mark.parametrize('key', ['bob', 'unknown'])
def test_revoked_or_unknown_key_gets_401(ca_file, key):
    with pytest.raises(openai.AuthenticationError):
        _client(ca_file, KEYS.get(key, 'not-a-key-0123456789abcdefghij')).models.list()


def test_per_key_rate_limit(ca_file):
    statuses = []
    with httpx.Client(verify=ca_file) as client:
        for dummy in range(40):
            statuses.append(client.get(BASE_URL + '/models', headers={'Authorization': 'Bearer ' + KEYS['batch']}).status_code)
        other = client.get(BASE_URL + '/models', headers={'Authorization': 'Bearer ' + KEYS['alice']}).status_code
    assert 429 in statuses and 200 in statuses
    assert other == 200  # another key has its own bucket


def test_tls12_refused_tls13_accepted(host):
    old = host.run('openssl s_client -connect 127.0.0.1:443 -servername localhost -tls1_2 </dev/null')
    assert old.rc != 0
    assert 'alert protocol version' in old.stderr + old.stdout
    new = host.run('openssl s_client -connect 127.0.0.1:443 -servername localhost -tls1_3 -CAfile %s </dev/null' % CA)
    assert new.rc == 0, new.stderr
    assert 'TLSv1.3' in new.stdout
    assert 'Verify return code: 0 (ok)' in new.stdout


def test_access_log_names_the_key_never_the_key_or_prompt(host, ca_file):
    _chat(ca_file)
    log = host.file('/var/log/onprem-deepseek/gateway/access.log').content_string
    assert 'key=alice' in log
    for key in KEYS.values():
        assert key not in log
    assert 'hello world' not in log


def test_access_logs_rotated_and_kept_six_months(host):
    conf = host.file('/etc/logrotate.d/onprem-deepseek-gateway').content_string
    assert 'rotate 183' in conf and 'daily' in conf
    assert host.run('logrotate --debug /etc/logrotate.d/onprem-deepseek-gateway').rc == 0


def _new_container(host, before, seconds):
    """The id of the engine's container once it differs from `before` ('' or `before` on time-out)."""
    deadline = time.monotonic() + seconds
    after = before
    while time.monotonic() < deadline and after in (before, ''):
        time.sleep(2)
        after = host.run("podman inspect --format '{{.Id}}' %s" % SERVICE).stdout.strip()
    return after


def test_hung_engine_is_restarted_by_the_watchdog(host, ca_file):
    # SIGSTOP: the unit stays "running" and requests hang. The watchdog (every 5 s here, 2 misses)
    # restarts it once the start-up grace (the health timeout) is over: before the tests that restart the engine, so
    # the grace of their restarts is not waited out here (103 s with it, 2026-12-05).
    before = host.check_output("podman inspect --format '{{.Id}}' %s" % SERVICE)
    pid = host.check_output("podman inspect --format '{{.State.Pid}}' %s" % SERVICE)
    state_file = '/var/lib/onprem-deepseek/inference/watchdog-%s.json' % SERVICE
    restarts_before = json.loads(host.file(state_file).content_string).get('restarts', 0) if host.file(state_file).exists else 0
    assert host.run('kill -STOP %s' % pid).rc == 0
    after = _new_container(host, before, 240)
    assert after not in (before, ''), _journal(host) + _journal(host, 'deepseek-inference-watchdog')
    _wait_serving(ca_file)
    state = json.loads(host.file(state_file).content_string)
    assert state['restarts'] == restarts_before + 1
    assert 'restarting the engine' in _journal(host, 'deepseek-inference-watchdog', 200)


# KILL: a crash. TERM: the engine exits 0, which Restart=on-failure left dead (502 until someone acted).
@pytest.mark.parametrize('signal', ['KILL', 'TERM'])
def test_engine_that_exits_comes_back(host, ca_file, signal):
    before = host.check_output("podman inspect --format '{{.Id}}' %s" % SERVICE)
    host.run('podman kill --signal %s %s' % (signal, SERVICE))
    # TERM is a graceful shutdown: the old container can still answer for a moment, so waiting
    # for "serving" alone can see the old one. Wait for a new container first, then for it to serve.
    after = _new_container(host, before, 120)
    assert after not in (before, ''), _journal(host)
    _wait_serving(ca_file)


def test_mistyped_settings_fail_before_anything_changes(host):
    # Input checks of every serving role run in an early play: nothing is written or restarted.
    before = host.check_output("podman inspect --format '{{.Id}}' %s" % SERVICE)
    conf = host.file('/etc/nginx/conf.d/onprem-deepseek.conf').sha256sum
    result = _converge({'inference_port': 8001, 'inference_watchdog_failures': 0})
    assert result.returncode != 0
    text = ' '.join(result.output.split())
    assert 'inference: 2 problem(s) on onprem-inference' in text
    assert 'inference_port and inference_candidate_port are both 8001' in text
    assert 'Serve DeepSeek' not in text  # the play that changes things never started
    assert host.check_output("podman inspect --format '{{.Id}}' %s" % SERVICE) == before
    assert host.file('/etc/nginx/conf.d/onprem-deepseek.conf').sha256sum == conf


def test_serving_host_of_an_os_family_the_serving_roles_cannot_install_is_refused(host):
    # The serving roles are apt-only: a RHEL-family serving host is refused by preflight with that reason
    # (simulated by declaring Debian unsupported), before anything changes.
    before = host.check_output("podman inspect --format '{{.Id}}' %s" % SERVICE)
    result = _converge({'preflight_serving_os_families': ['RedHat']})
    assert result.returncode != 0
    text = ' '.join(result.output.split())
    assert 'the serving roles (container_runtime, model_store, gateway) install with apt only' in text
    assert '(Debian family) can be prepared (os_tuning, nvidia_driver, cuda) but cannot serve' in text
    assert 'Serve DeepSeek' not in text
    assert host.check_output("podman inspect --format '{{.Id}}' %s" % SERVICE) == before


def test_broken_upgrade_leaves_the_old_version_serving(host, ca_file):
    # The roles an engine upgrade goes through (site.yml's tags): inference reads the model directory from model_store and
    # the NCCL environment from fabric.
    result = _converge({'inference_image': 'localhost/onprem-deepseek/llama-cpp:broken', 'inference_health_timeout_base': 20},
                       tags=ENGINE_ROLES)
    assert result.returncode != 0
    assert 'did not answer /v1/models' in result.output
    assert 'engine is broken: cannot load model' in result.output  # the container's last log lines
    assert 'the previous version keeps serving' in result.output
    state = json.loads(host.file('/var/lib/onprem-deepseek/inference/active.json').content_string)
    assert state['image'] == 'localhost/onprem-deepseek/llama-cpp:0.3.16'
    assert host.service(SERVICE).is_running
    _chat(ca_file)


def test_http_source_delivers_a_new_model_version_once(host, ca_file):
    # An HTTP mirror on the lab host itself (the controller's model directory, read-only mount).
    host.run('systemd-run --unit onprem-test-http python3 -m http.server 8088 --bind 127.0.0.1 '
             '--directory /srv/onprem-cache/inference-lab/model')
    try:
        for dummy in range(30):
            if host.socket('tcp://127.0.0.1:8088').is_listening:
                break
            time.sleep(1)
        extra = {'model_store_model': 'tiny-http', 'model_store_source': 'http', 'model_store_http_url': 'http://127.0.0.1:8088'}
        first = _converge(extra, tags=ENGINE_ROLES)
        assert first.returncode == 0, first.output[-3000:]
        lab = os.path.join(os.environ['MOLECULE_PROJECT_DIRECTORY'], '.cache', 'inference-lab')
        with open(os.path.join(lab, 'manifest.json'), encoding='utf-8') as handle:
            manifest = json.load(handle)
        assert host.file('/srv/deepseek/models/tiny-http/tiny.gguf').sha256sum == manifest[0]['sha256']
        # Downloaded through the store's own file system (get_url tmp_dest), which it leaves empty.
        assert host.file('/srv/deepseek/models/.staging/.downloads').is_directory
        assert host.check_output('ls -A /srv/deepseek/models/.staging/.downloads') == ''
        # The new model version went through the candidate check and serves now.
        mounts = json.loads(host.check_output("podman inspect --format '{{json .Mounts}}' %s" % SERVICE))
        assert [m['Source'] for m in mounts if m['Destination'] == '/models'] == ['/srv/deepseek/models/tiny-http']
        _chat(ca_file)
        again = _converge(extra, tags=ENGINE_ROLES)
        assert again.returncode == 0, again.output[-3000:]
        assert ' changed=0 ' in again.output  # nothing downloaded or restarted again
    finally:
        host.run('systemctl stop onprem-test-http')


def test_model_with_a_wrong_checksum_is_refused_and_named(host):
    lab = os.path.join(os.environ['MOLECULE_PROJECT_DIRECTORY'], '.cache', 'inference-lab')
    result = _converge({'model_store_model': 'tiny-bad', 'model_store_controller_dir': os.path.join(lab, 'model-bad')},
                       tags='preflight,model_store')
    assert result.returncode != 0
    assert 'model_store: tiny.gguf of tiny-bad does not match the SHA-256 manifest' in result.output
    assert not host.file('/srv/deepseek/models/tiny-bad').exists
