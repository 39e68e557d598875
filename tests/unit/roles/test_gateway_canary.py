"""A canary version behind the gateway: the engines' weights in the rendered site, and their error ratios read back
from the access log a real nginx wrote.

The rendered text: without a canary one upstream server; with gateway_canary_upstream and a weight, both with
weights adding to 100 (100: the canary alone); the log format names the upstream(s) tried and their statuses. Live
(skipped where nginx and its njs module are not installed, scripts/gateway/packages.txt): nginx on 127.0.0.1 from
the rendered site splits 50/50 between two stub engines; a bounded loop of requests; the module
onprem.deepseek.canary_check (run by ansible-playbook on localhost) reads the log nginx wrote and counts the canary's
requests and errors apart from the serving engine's: a canary that answers 500 to every third request is rolled
back, a healthy one promoted. Everything below tmp_path, traffic on loopback only.
"""

import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_gateway_render import ASSERT, NGINX, NJS, ROOT, WITHOUT_NGINX, _ansible, _main_conf, _render
from tls_lab import certificate, free_port

KEYS = [{'name': 'canary-load', 'key': 'lab-canary-0123456789abcdef01234567', 'role': 'user', 'rate': 1000}]


# --- the rendered text ---------------------------------------------------------------------------

def _upstream(site):
    return re.search(r'^upstream deepseek_engine \{\n(.*?)^\}', site, re.M | re.S).group(1)


@pytest.mark.parametrize('weight, servers', [
    (0, ['server 127.0.0.1:8000;']),
    (10, ['server 127.0.0.1:8000 weight=90;', 'server 127.0.0.1:8001 weight=10;']),
    (100, ['server 127.0.0.1:8001 weight=100;']),
])
def test_the_canary_gets_its_weight_of_the_requests(tmp_path, weight, servers):
    site = _render(tmp_path, {'gateway_upstream': 'http://127.0.0.1:8000', 'gateway_canary_upstream': 'http://127.0.0.1:8001/',
                              'gateway_canary_weight': weight, 'gateway_api_keys': KEYS})['site']
    lines = [line.strip() for line in _upstream(site).splitlines() if line.strip().startswith('server ')]
    assert lines == servers
    assert 'keepalive 16;' in _upstream(site)


def test_without_a_canary_upstream_the_weight_is_ignored(tmp_path):
    site = _render(tmp_path, {'gateway_upstream': 'http://127.0.0.1:8000', 'gateway_canary_weight': 30, 'gateway_api_keys': KEYS})['site']
    assert [line.strip() for line in _upstream(site).splitlines() if 'server' in line] == ['server 127.0.0.1:8000;']


def test_the_log_names_the_upstreams_tried_and_their_statuses(tmp_path):
    site = _render(tmp_path, {'gateway_api_keys': KEYS})['site']
    assert 'upstream_time=$upstream_response_time upstream="$upstream_addr" upstream_status="$upstream_status" ' in site.replace("'\n", '').replace(
        "                            '", '')


def test_assert_names_a_bad_canary(tmp_path):
    result = _ansible(tmp_path, ASSERT, {'gateway_api_keys': KEYS, 'gateway_upstream': 'http://127.0.0.1:8000',
                                         'gateway_canary_upstream': 'http://127.0.0.1:8000', 'gateway_canary_weight': 101})
    assert result.returncode != 0
    assert ('gateway_canary_upstream is "http://127.0.0.1:8000"; allowed: http://host:port of another engine than gateway_upstream, '
            'or empty') in result.output
    assert 'gateway_canary_weight is 101; allowed: 0-100 (percent of the requests to the canary)' in result.output


# --- live: nginx, two stub engines, the module reading the log --------------------------------------

class _Engine(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def _send(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._send(200, '{"status": "ok"}')

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get('Content-Length') or 0))
        server = self.server
        with server.lock:
            server.served += 1
            fail = server.fail_every and server.served % server.fail_every == 0
        if fail:
            return self._send(500, '{"error": "boom"}')
        return self._send(200, '{"choices": [{"message": {"content": "%s"}}]}' % server.name)

    def log_message(self, *args):
        pass


def _engine(name, fail_every=0):
    server = ThreadingHTTPServer(('127.0.0.1', 0), _Engine)
    server.name, server.fail_every, server.served, server.lock = name, fail_every, 0, threading.Lock()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


CHECK = """
- hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - name: Check
      onprem.deepseek.canary_check:
        path: "{{ log }}"
        upstream: "{{ upstream }}"
        offset: "{{ offset }}"
      register: found
    - name: Show
      ansible.builtin.debug:
        msg: "{{ found | to_json }}"
"""


def _check(tree, log, upstream, offset):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK='json')
    (tree / 'check.yml').write_text(CHECK)
    (tree / 'check.json').write_text(json.dumps({'log': str(log), 'upstream': upstream, 'offset': offset,
                                                 'ansible_python_interpreter': sys.executable}))
    result = subprocess.run(['ansible-playbook', '-i', 'localhost,', str(tree / 'check.yml'), '-e', '@%s' % (tree / 'check.json')],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tasks = json.loads(result.stdout)['plays'][0]['tasks']
    return json.loads([t for t in tasks if t['task']['name'] == 'Show'][0]['hosts']['localhost']['msg'])


@pytest.mark.skipif(NJS is None, reason=WITHOUT_NGINX)
def test_live_a_failing_canary_is_rolled_back_and_a_healthy_one_promoted(tmp_path):
    serving, canary = _engine('serving'), _engine('canary', fail_every=3)
    port = free_port()
    canary_address = '127.0.0.1:%d' % canary.server_address[1]
    _render(tmp_path, {'gateway_port': port, 'gateway_server_name': 'localhost', 'gateway_api_keys': KEYS,
                       'gateway_upstream': 'http://127.0.0.1:%d' % serving.server_address[1],
                       'gateway_canary_upstream': 'http://' + canary_address, 'gateway_canary_weight': 50})
    certificate(tmp_path)
    conf = _main_conf(tmp_path)
    proc = subprocess.Popen([NGINX, '-p', str(tmp_path), '-e', str(tmp_path / 'logs' / 'start.log'), '-c', conf, '-g', 'daemon off;'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = tmp_path / 'logs' / 'access.log'
    context = ssl.create_default_context(cafile=str(tmp_path / 'server.crt'))

    def chat():
        conn = http.client.HTTPSConnection('127.0.0.1', port, context=context, timeout=30)
        try:
            conn.request('POST', '/v1/chat/completions', body='{"messages": []}',
                         headers={'Authorization': 'Bearer ' + KEYS[0]['key'], 'Content-Type': 'application/json'})
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    try:
        for dummy in range(50):
            try:
                if chat():
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.1)
        time.sleep(0.2)
        start = log.stat().st_size
        before = (serving.served, canary.served)
        statuses = [chat() for dummy in range(60)]
        served = (serving.served - before[0], canary.served - before[1])
        time.sleep(0.5)  # nginx writes the log line after the answer
        found = _check(tmp_path, log, canary_address, start)
        # nginx's weighted round robin: 30 each; every third request to the canary answered 500, passed on as 502 JSON.
        assert served == (30, 30), served
        assert found['canary'] == {'requests': 30, 'errors': 10, 'error_percent': 33.33}, found
        assert found['baseline'] == {'requests': 30, 'errors': 0, 'error_percent': 0.0}, found
        assert statuses.count(200) == 50 and len(statuses) == 60
        assert found['verdict'] == 'rollback' and found['rotated'] is False and found['size'] == log.stat().st_size
        assert found['summary'] == ('canary: 10 error(s) in 30 request(s), 33.33 % (threshold 5.00 %); '
                                    'serving version: 0 error(s) in 30 request(s), 0.00 %')

        canary.fail_every = 0  # the next version is healthy
        start = found['size']
        statuses = [chat() for dummy in range(40)]
        time.sleep(0.5)
        found = _check(tmp_path, log, canary_address, start)
        assert statuses == [200] * 40
        assert found['canary'] == {'requests': 20, 'errors': 0, 'error_percent': 0.0} and found['verdict'] == 'promote', found
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        serving.shutdown()
        canary.shutdown()
