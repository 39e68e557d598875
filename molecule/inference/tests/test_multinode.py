"""The second deployment (molecule-b) is ONE llama.cpp engine across two lab hosts (issue 14, multi-node on CPU).

onprem-inference-b is its head (rank 0: gateway and llama.cpp's server), onprem-inference-w its worker (rank 1:
llama.cpp's rpc-server on its lab address). The server offloads one of the tiny model's two layers to the worker
over ggml's RPC backend (host_vars: --n-gpu-layers 1; the RPC device counts as a GPU). Killing the worker's
service fails the head with a clear message in its journal; bringing the worker back restores the service.
"""

import subprocess
import time

import httpx
import openai
import pytest

from lab import CA, KEYS, MODEL

HEAD = 'onprem-inference-b'
WORKER = 'onprem-inference-w'
UNIT = 'deepseek-inference'
RPC_PORT = 50052  # the inference role's default inference_rpc_port


def _exec(host, *argv, check=True):
    return subprocess.run(['podman', 'exec', host] + list(argv), capture_output=True, text=True, check=check, timeout=120)


def _journal(host, since):
    # The unit's own lines (runner, ExecStartPre) and the container's (podman's journald log driver).
    return _exec(host, 'journalctl', '--no-pager', '--output=cat', '--since', since, '_SYSTEMD_UNIT=%s.service' % UNIT, '+',
                 'CONTAINER_NAME=%s' % UNIT, '+', 'UNIT=%s.service' % UNIT, '+', '_SYSTEMD_UNIT=%s-watchdog.service' % UNIT,
                 check=False).stdout


def _established_rpc(host):
    # /proc/net/tcp: local address HEX_IP:HEX_PORT, state 01 = ESTABLISHED (no ss in the lab image needed).
    rows = _exec(host, 'cat', '/proc/net/tcp').stdout.splitlines()[1:]
    return [row for row in rows if row.split()[1].endswith(':%04X' % RPC_PORT) and row.split()[3] == '01']


@pytest.fixture(scope='module')
def head_client(tmp_path_factory):
    ca = _exec(HEAD, 'cat', CA).stdout
    ca_file = tmp_path_factory.mktemp('ca') / 'ca-b.crt'
    ca_file.write_text(ca)
    return openai.OpenAI(base_url='https://localhost:18444/v1', api_key=KEYS['alice'], max_retries=0, timeout=30,
                         http_client=httpx.Client(verify=str(ca_file), timeout=30))


def _complete(client):
    return client.chat.completions.create(model=MODEL, messages=[{'role': 'user', 'content': 'hello'}], max_tokens=4)


def _poll(predicate, timeout, what):
    start, last = time.monotonic(), None
    while time.monotonic() - start < timeout:
        ok, last = predicate()
        if ok:
            return time.monotonic() - start
        time.sleep(3)
    raise AssertionError('%s not within %d s (last: %r)' % (what, timeout, last))


def _serves(client):
    try:
        _complete(client)
        return True, None
    except (openai.APIError, httpx.HTTPError) as exc:
        return False, exc


def test_the_worker_runs_rpc_server_on_its_lab_address_and_no_gateway():
    ps = _exec(WORKER, 'podman', 'ps', '--no-trunc', '--format', '{{.Names}} {{.Command}}').stdout
    assert '%s --host ' % UNIT in ps and '--port %d' % RPC_PORT in ps, ps
    assert _exec(WORKER, 'systemctl', 'is-active', '%s.service' % UNIT, check=False).stdout.strip() == 'active'
    # The endpoint is the head's: no gateway on the worker.
    assert _exec(WORKER, 'systemctl', 'is-active', 'nginx.service', check=False).stdout.strip() != 'active'


def test_one_engine_across_two_nodes_serves_through_the_head_gateway(head_client):
    answer = _complete(head_client)
    assert answer.choices[0].message.content is not None
    runner = _exec(HEAD, 'cat', '/usr/local/libexec/onprem-deepseek/%s' % UNIT).stdout
    worker_address = _exec(WORKER, 'podman', 'inspect', '--format', '{{.Args}}', UNIT).stdout
    assert '--rpc_servers' in runner, runner
    # The head's engine holds the connection to the worker's rpc-server: the layer lives there.
    assert _established_rpc(WORKER), worker_address
    log = _exec(HEAD, 'journalctl', '--no-pager', '--output=cat', 'CONTAINER_NAME=%s' % UNIT).stdout
    assert 'RPC[' in log, log[-3000:]


def test_killing_the_worker_fails_the_head_clearly_and_its_return_restores_service(head_client):
    since = _exec(HEAD, 'date', '+%Y-%m-%d %H:%M:%S').stdout.strip()
    refusal = 'worker %s:%d of deployment molecule-b does not answer: not starting'
    _exec(WORKER, 'systemctl', 'stop', '%s.service' % UNIT)
    try:
        # The head's next request finds the worker gone (ggml's RPC client aborts: "Remote RPC server crashed"), or the
        # watchdog finds the worker's port closed first; either way the unit restarts and its runner refuses to start
        # without the worker, naming it and the deployment.
        _poll(lambda: (not _serves(head_client)[0], None), 120, 'a failing completion with the worker down')
        _poll(lambda: (' of deployment molecule-b does not answer: not starting' in _journal(HEAD, since), None), 150,
              "the head's runner refusing to start without its worker")
        log = _journal(HEAD, since)
        address = [line for line in log.splitlines() if 'of deployment molecule-b does not answer' in line][0]
        assert ':%d of deployment molecule-b' % RPC_PORT in address and refusal.split(' %s', maxsplit=1)[0] in address, address
    finally:
        _exec(WORKER, 'systemctl', 'start', '%s.service' % UNIT)
        # Nobody touches the head: its Restart= and runner bring it back once the worker answers.
        took = _poll(lambda: _serves(head_client), 240, 'a completion after the worker came back')
    print('service restored %.0f s after the worker came back' % took)
