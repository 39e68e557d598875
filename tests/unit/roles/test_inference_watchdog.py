"""The inference role's liveness watchdog (roles/inference/files/inference-watchdog), run for real.

A stub `systemctl` on PATH answers the unit's state and records restarts; the engine's health
endpoint is a local HTTP server on 127.0.0.1 that answers, answers 500, or never answers (a
frozen engine: the socket accepts, nothing replies).
"""

import http.server
import json
import os
import socket
import stat
import subprocess
import threading

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
WATCHDOG = os.path.join(ROOT, 'roles', 'inference', 'files', 'inference-watchdog')

SYSTEMCTL = """#!/bin/sh
# systemctl stub: show -p PROP --value answers from the environment; restart is recorded.
case "$1" in
  show) case "$4" in
          ActiveState) echo "$STUB_STATE" ;;
          ActiveEnterTimestampMonotonic) echo "$STUB_ENTERED_US" ;;
        esac ;;
  --no-block) echo "$@" >> "$STUB_LOG" ;;
esac
"""


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def env(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    stub = bin_dir / 'systemctl'
    stub.write_text(SYSTEMCTL)
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return dict(os.environ, PATH='%s:%s' % (bin_dir, os.environ['PATH']), STUB_STATE='active',
                STUB_ENTERED_US='1', STUB_LOG=str(tmp_path / 'restarts.log'))


@pytest.fixture()
def server():
    httpd = http.server.HTTPServer(('127.0.0.1', 0), _Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


@pytest.fixture()
def frozen():
    """A socket that accepts connections and never answers, like a SIGSTOPped engine."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


def _run(env, state_dir, port, failures=2, grace=0, timeout=1, peers=()):
    cmd = ['sh', WATCHDOG, 'deepseek-inference', 'http://127.0.0.1:%d/health' % port, str(timeout),
           str(failures), str(grace), str(state_dir)] + list(peers)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30, check=False)


def _state(state_dir):
    return json.loads((state_dir / 'watchdog-deepseek-inference.json').read_text())


def test_healthy_engine_is_left_alone(tmp_path, env, server):
    result = _run(env, tmp_path / 'state', server.server_port)
    assert result.returncode == 0, result.stderr
    assert _state(tmp_path / 'state')['consecutive_failures'] == 0
    assert not os.path.exists(env['STUB_LOG'])


def test_frozen_engine_is_restarted_after_the_failures_in_a_row(tmp_path, env, frozen):
    first = _run(env, tmp_path / 'state', frozen)
    assert first.returncode == 1
    assert 'did not answer within 1 s' in first.stdout and '1 time(s) in a row' in first.stdout
    assert not os.path.exists(env['STUB_LOG'])
    second = _run(env, tmp_path / 'state', frozen)
    assert second.returncode == 2
    assert 'restarting the engine: 2 failed health checks in a row' in second.stdout
    with open(env['STUB_LOG'], encoding='utf-8') as handle:
        assert handle.read().split() == ['--no-block', 'restart', 'deepseek-inference']
    state = _state(tmp_path / 'state')
    assert state['restarts'] == 1 and state['consecutive_failures'] == 0


def test_an_error_status_counts_as_a_failure_and_an_answer_resets_the_count(tmp_path, env, server):
    _Health.status = 500
    try:
        assert _run(env, tmp_path / 'state', server.server_port, failures=3).returncode == 1
        assert _state(tmp_path / 'state')['consecutive_failures'] == 1
    finally:
        _Health.status = 200
    assert _run(env, tmp_path / 'state', server.server_port, failures=3).returncode == 0
    assert _state(tmp_path / 'state')['consecutive_failures'] == 0


def test_an_engine_still_loading_or_not_active_is_left_alone(tmp_path, env, frozen):
    # Active for less than the grace (the unit entered 'active' just now): no check at all.
    with open('/proc/uptime', encoding='utf-8') as handle:
        now_us = int(float(handle.read().split()[0]) * 1e6)
    loading = dict(env, STUB_ENTERED_US=str(now_us))
    assert _run(loading, tmp_path / 'state', frozen, failures=1, grace=3600).returncode == 0
    stopped = dict(env, STUB_STATE='failed')
    assert _run(stopped, tmp_path / 'state', frozen, failures=1).returncode == 0
    assert not os.path.exists(env['STUB_LOG'])


def test_usage(tmp_path, env):
    result = subprocess.run(['sh', WATCHDOG], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 64
    assert result.stderr.startswith('usage: inference-watchdog UNIT URL')


def test_a_worker_that_does_not_answer_fails_the_check_of_a_healthy_head(tmp_path, env, server, frozen):
    # A multi-node llama.cpp engine: its head answers HTTP while an rpc-server worker is gone; a worker that
    # accepts connections (frozen: listening) passes, a closed port is named.
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    gone = closed.getsockname()[1]
    closed.close()
    assert _run(env, tmp_path / 'state', server.server_port, peers=['127.0.0.1:%d' % frozen]).returncode == 0
    result = _run(env, tmp_path / 'state', server.server_port, failures=1, peers=['127.0.0.1:%d' % frozen, '127.0.0.1:%d' % gone])
    assert result.returncode == 2, result.stdout
    assert 'worker 127.0.0.1:%d does not answer' % gone in result.stdout
    assert _state(tmp_path / 'state')['restarts'] == 1


def test_a_worker_holding_the_engines_connection_is_not_probed(tmp_path, env, server):
    # llama.cpp's rpc-server serves one client and listens with a backlog of 1 (tools/rpc/rpc-server.cpp,
    # ggml-rpc.cpp's create_server_socket: listen(sock, 1)): while the head is connected, probes queue, two fill the
    # queue and later ones time out (measured here on 2026-12-04 with the lab image: probes 3 to 5 timed out). A
    # worker like that: one client connected, backlog 1, the queue filled by two probes; the watchdog must not fail.
    worker = socket.socket()
    worker.bind(('127.0.0.1', 0))
    worker.listen(1)
    port = worker.getsockname()[1]
    head = socket.create_connection(('127.0.0.1', port))
    served = worker.accept()[0]
    queued = [socket.create_connection(('127.0.0.1', port), timeout=2) for _probe in range(2)]
    try:
        for _check in range(3):
            assert _run(env, tmp_path / 'state', server.server_port, failures=1, timeout=2,
                        peers=['127.0.0.1:%d' % port]).returncode == 0
    finally:
        for sock in queued + [head, served, worker]:
            sock.close()
