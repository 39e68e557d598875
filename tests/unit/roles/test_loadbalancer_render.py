"""The front door's HAProxy configuration, rendered by ansible from the role's own template, defaults and vars.

Two layers: the rendered text, and a throwaway HAProxy on 127.0.0.1 (skipped where haproxy is not installed:
scripts/loadbalancer/packages.txt) in front of two stub gateways that speak TLS 1.3 and answer /healthz, as the
gateway role's do. It proves what the text cannot: TLS passes through (the client sees the gateway's certificate),
both gateways get connections, a bounded client loop loses no request when one gateway stops in its middle (only
those in flight on it may fail: counted and compared), the stopped one is marked DOWN by its health check and comes
back UP when it answers again, and the metrics endpoint speaks Prometheus. Everything is written below tmp_path;
traffic goes to loopback only. The role's input checks run under ansible-playbook on localhost.
"""

import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from role_play import role_play
from tls_lab import certificate, free_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
ROLE = os.path.join(ROOT, 'roles', 'loadbalancer')
HAPROXY = shutil.which('haproxy') or shutil.which('haproxy', path='/usr/sbin:/sbin')
needs_haproxy = pytest.mark.skipif(HAPROXY is None, reason='haproxy is not installed here (apt-get install haproxy to run these)')

RENDER = role_play('localhost', ROLE) + """
    - name: Render
      ansible.builtin.template:
        src: {role}/templates/haproxy.cfg.j2
        dest: "{{{{ out }}}}/haproxy.cfg"
        mode: "0600"
""".format(role=ROLE)


def _playbook(tmp_path, text, extra_vars, name):
    (tmp_path / ('%s.yml' % name)).write_text(text)
    (tmp_path / ('%s.json' % name)).write_text(json.dumps(dict(extra_vars, ansible_python_interpreter=sys.executable)))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    result = subprocess.run(['ansible-playbook', '-i', 'localhost,', str(tmp_path / ('%s.yml' % name)),
                             '-e', '@%s' % (tmp_path / ('%s.json' % name))],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    result.output = result.stdout + result.stderr
    return result


def _render(out, extra_vars):
    variables = {'out': str(out),
                 # Not root here: no chroot, no user switch, no syslog; the runtime API socket below tmp_path.
                 '__loadbalancer_global': {'chroot': '', 'user': '', 'group': '', 'log': '', 'socket': str(out / 'admin.sock')}}
    variables.update(extra_vars)
    result = _playbook(out, RENDER, variables, 'render')
    assert result.returncode == 0, result.output[-4000:]
    return (out / 'haproxy.cfg').read_text()


class _Gateway:
    """A stub gateway on 127.0.0.1: TLS 1.3, GET /healthz 200, POST answers with its name after a short think."""

    def __init__(self, name, tree, port):
        self.name, self.port, self.served, self.in_flight = name, port, 0, 0
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_GET(self):  # noqa: N802 (http.server's naming)
                self._answer(200, {'status': 'ok'})

            def do_POST(self):  # noqa: N802
                with gateway.lock:
                    gateway.in_flight += 1
                try:
                    self.rfile.read(int(self.headers.get('Content-Length', 0)))
                    time.sleep(0.02)
                    self._answer(200, {'gateway': gateway.name})
                    with gateway.lock:
                        gateway.served += 1
                finally:
                    with gateway.lock:
                        gateway.in_flight -= 1

            def _answer(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_3
        self.context.load_cert_chain(str(tree / 'server.crt'), str(tree / 'server.key'))
        self.handler = Handler
        self.server = None
        self.start()

    def start(self):
        self.server = ThreadingHTTPServer(('127.0.0.1', self.port), self.handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # health checks that hang up mid-handshake
        self.server.socket = self.context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        """Stop accepting (a stopped gateway: connection refused); requests already in flight finish."""
        with self.lock:
            in_flight = self.in_flight
        self.server.shutdown()
        self.server.server_close()
        return in_flight


def _stat(sock_path, column='status'):
    """{server: column} of HAProxy's runtime API `show stat`: status (UP, DOWN, ...), scur (connections open now)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(sock_path)
        sock.sendall(b'show stat\n')
        data = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    lines = data.decode().splitlines()
    header = lines[0].lstrip('# ').split(',')
    rows = [dict(zip(header, line.split(','))) for line in lines[1:] if line]
    return dict((row['svname'], row[column]) for row in rows if row['svname'] not in ('FRONTEND', 'BACKEND'))


def _poll(what, check, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError('%s: not within %d s' % (what, timeout))


@pytest.fixture(scope='module')
def frontdoor(tmp_path_factory):
    if HAPROXY is None:
        pytest.skip('haproxy is not installed here (apt-get install haproxy to run these)')
    tree = tmp_path_factory.mktemp('frontdoor')
    certificate(tree)
    gateways = [_Gateway('gw-a', tree, free_port()), _Gateway('gw-b', tree, free_port())]
    port, metrics = free_port(), free_port()
    services = [{'name': 'r1', 'port': port, 'backends': [{'name': g.name, 'address': '127.0.0.1', 'port': g.port} for g in gateways]}]
    config = _render(tree, {'loadbalancer_services': services, 'loadbalancer_bind_address': '127.0.0.1', 'loadbalancer_check_interval': 1,
                            'loadbalancer_check_fall': 2, 'loadbalancer_check_rise': 1, 'loadbalancer_slowstart': 0,
                            'loadbalancer_metrics_port': metrics, 'loadbalancer_backend_ca': (tree / 'server.crt').read_text(),
                            '__loadbalancer_ca_file': str(tree / 'server.crt')})
    check = subprocess.run([HAPROXY, '-c', '-f', str(tree / 'haproxy.cfg')], capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    proc = subprocess.Popen([HAPROXY, '-db', '-f', str(tree / 'haproxy.cfg')], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        sock_path = str(tree / 'admin.sock')
        _poll('haproxy started', lambda: os.path.exists(sock_path) or proc.poll() is not None)
        assert proc.poll() is None, proc.stderr.read().decode()
        _poll('both gateways UP', lambda: _stat(sock_path) == {'gw-a': 'UP', 'gw-b': 'UP'})
        context = ssl.create_default_context(cafile=str(tree / 'server.crt'))

        def chat():
            conn = http.client.HTTPSConnection('127.0.0.1', port, context=context, timeout=10)
            try:
                conn.request('POST', '/v1/chat/completions', body='{}', headers={'Content-Type': 'application/json'})
                response = conn.getresponse()
                return response.status, json.loads(response.read())
            finally:
                conn.close()

        chat.gateways = dict((g.name, g) for g in gateways)
        chat.stat = lambda column='status': _stat(sock_path, column)
        chat.config = config
        chat.metrics = metrics
        chat.context = context
        chat.port = port
        yield chat
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        for gateway in gateways:
            try:
                gateway.server.shutdown()
            except OSError:
                pass


# --- the rendered text ---------------------------------------------------------------------------

def test_each_service_is_a_tcp_frontend_with_health_checked_gateways(tmp_path):
    services = [{'name': 'v3_h100', 'port': 443, 'backends': [{'name': 'ds-v3-h100-1', 'address': '192.0.2.11', 'port': 443}]},
                {'name': 'r1', 'port': 8443, 'backends': [{'name': 'r1-a', 'address': '192.0.2.21', 'port': 443},
                                                          {'name': 'r1-b', 'address': '192.0.2.22', 'port': 443}]}]
    text = _render(tmp_path, {'loadbalancer_services': services})
    assert 'mode tcp' in text and 'option redispatch' in text and 'retries 2' in text
    assert 'timeout client 600s' in text and 'timeout server 600s' in text
    for service in services:
        backend = text.split('backend %s\n' % service['name'], 1)[1].split('\n\n', 1)[0]
        assert 'balance leastconn' in backend and 'option httpchk' in backend and 'http-check expect status 200' in backend
        assert 'http-check send meth GET uri /healthz' in backend
        assert 'check check-ssl verify none inter 2s fall 3 rise 2 slowstart 30s' in backend
        assert [line.split()[1:] for line in backend.splitlines() if line.strip().startswith('server ')] == [
            [b['name'], '%s:%d' % (b['address'], b['port'])] for b in service['backends']]
        assert 'bind *:%d\n' % service['port'] in text.split('frontend %s\n' % service['name'], 1)[1]
    assert 'http-request use-service prometheus-exporter if { path /metrics }' in text and 'bind 127.0.0.1:8405' in text


def test_the_gateways_ca_turns_verification_on(tmp_path):
    text = _render(tmp_path, {'loadbalancer_backend_ca': '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----',
                              'loadbalancer_metrics_port': 0,
                              'loadbalancer_services': [{'name': 'a', 'port': 443, 'backends': [{'name': 'h', 'address': 'h', 'port': 443}]}]})
    assert 'verify required ca-file /etc/haproxy/onprem-deepseek-backend-ca.pem' in text
    assert 'prometheus-exporter' not in text


# --- a live HAProxy on 127.0.0.1 ------------------------------------------------------------------

@needs_haproxy
def test_live_tls_passes_through_and_both_gateways_serve(frontdoor):
    # The client checks the gateway's own certificate: the front door holds none.
    with socket.create_connection(('127.0.0.1', frontdoor.port), timeout=10) as raw:
        with frontdoor.context.wrap_socket(raw, server_hostname='localhost') as tls:
            assert tls.version() == 'TLSv1.3'
            assert tls.getpeercert()['subject'] == ((('commonName', 'localhost'),),)
    answers = [frontdoor() for dummy in range(20)]
    assert all(status == 200 for status, dummy in answers)
    assert {body['gateway'] for dummy, body in answers} == {'gw-a', 'gw-b'}


@needs_haproxy
def test_live_a_stopped_gateway_loses_only_its_requests_in_flight(frontdoor):
    # A bounded loop of 4 clients x 40 requests; gw-b stops after the first quarter. Connections to it are refused,
    # which HAProxy retries on gw-a (redispatch) before and after the health check marks it DOWN: only requests that
    # were in flight to gw-b when it stopped may fail. Each client has one request open at a time, so at most 4 are in
    # flight anywhere; the test reports those open to gw-b (HAProxy's `show stat` scur just before, or the requests
    # inside gw-b's handler, whichever is more) beside the failures.
    results, lock = [], threading.Lock()
    started = threading.Event()
    gateway = frontdoor.gateways['gw-b']

    def client():
        for dummy in range(40):
            try:
                status, body = frontdoor()
                outcome = (status, body.get('gateway'))
            except (OSError, http.client.HTTPException, ValueError) as exc:
                outcome = ('error', type(exc).__name__)
            with lock:
                results.append(outcome)
                if len(results) >= 40:
                    started.set()

    threads = [threading.Thread(target=client) for dummy in range(4)]
    for thread in threads:
        thread.start()
    assert started.wait(60)
    open_to_b = int(frontdoor.stat('scur').get('gw-b') or 0)
    inside_b = gateway.stop()
    for thread in threads:
        thread.join(120)
    in_flight = max(open_to_b, inside_b)
    failed = [r for r in results if r[0] != 200]
    assert len(results) == 160
    assert len(failed) <= 4, (failed, open_to_b, inside_b)
    assert results[-1] == (200, 'gw-a')
    _poll('gw-b marked DOWN by its health check', lambda: frontdoor.stat().get('gw-b', '').startswith('DOWN'))
    assert frontdoor.stat()['gw-a'] == 'UP'
    print('front door: %d requests, gw-b stopped with %d in flight, %d failed' % (len(results), in_flight, len(failed)))


@needs_haproxy
def test_live_a_gateway_that_answers_again_comes_back(frontdoor):
    gateway = frontdoor.gateways['gw-b']
    if frontdoor.stat().get('gw-b') == 'UP':
        gateway.stop()
        _poll('gw-b DOWN', lambda: frontdoor.stat().get('gw-b', '').startswith('DOWN'))
    gateway.start()
    _poll('gw-b UP again', lambda: frontdoor.stat().get('gw-b') == 'UP')
    before = gateway.served
    _poll('gw-b serving again', lambda: frontdoor()[1]['gateway'] == 'gw-b' or gateway.served > before)


@needs_haproxy
def test_live_metrics_are_prometheus_text(frontdoor):
    conn = http.client.HTTPConnection('127.0.0.1', frontdoor.metrics, timeout=10)
    try:
        conn.request('GET', '/metrics')
        response = conn.getresponse()
        text = response.read().decode()
    finally:
        conn.close()
    assert response.status == 200
    assert re.search(r'^haproxy_backend_active_servers\{proxy="r1"\} \d', text, re.M), text[:2000]


# --- the input checks ------------------------------------------------------------------------------

ASSERT = """
- hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - name: Check
      ansible.builtin.include_role:
        name: onprem.deepseek.loadbalancer
        tasks_from: assert.yml
"""


def test_assert_names_every_problem(tmp_path):
    services = [{'name': 'a b', 'port': 443, 'backends': [{'name': 'h', 'address': 'h', 'port': 443}]},
                {'name': 'c', 'port': 443, 'backends': []}]
    result = _playbook(tmp_path, ASSERT, {'loadbalancer_services': services, 'loadbalancer_check_interval': 0,
                                          'loadbalancer_metrics_port': 70000, 'loadbalancer_backend_ca': 'not a pem'}, 'assert')
    assert result.returncode != 0
    problems = re.search(r'loadbalancer: (\d+) problem\(s\) on localhost:\n((?:\s+- .*\n)+)', result.output)
    assert problems, result.output[-3000:]
    assert [line.strip()[2:] for line in problems.group(2).splitlines()] == [
        'loadbalancer_services: the names ["a b"] are not allowed; allowed: letters, digits, _ . -',
        'loadbalancer_services: c has no gateway behind it; allowed: one or more backends',
        'loadbalancer_check_interval is 0; allowed: a whole number of seconds, 1 or more',
        'loadbalancer_metrics_port is 70000; allowed: 1-65535, or 0 (no metrics)',
        'loadbalancer_backend_ca is not a PEM certificate; allowed: the PEM of the CA that signed the gateways certificates, or empty',
        'services a b and c all listen on port 443; give each its own in loadbalancer_ports ({service: port})',
    ]


def test_assert_passes_on_the_inventory_default_and_changes_nothing(tmp_path):
    result = _playbook(tmp_path, ASSERT, {}, 'assert-ok')
    assert result.returncode == 0, result.output[-3000:]
    assert re.search(r'changed=0 ', result.output)


def test_assert_names_the_problems_of_the_virtual_address(tmp_path):
    result = _playbook(tmp_path, ASSERT, {'loadbalancer_services': [], 'loadbalancer_vip': '10.0.10.100', 'loadbalancer_bind_address': '10.0.10.100',
                                          'loadbalancer_metrics_port': 0, 'loadbalancer_vrrp_check_fall': 0}, 'assert-vip')
    assert result.returncode != 0
    problems = re.search(r'loadbalancer: (\d+) problem\(s\) on localhost:\n((?:\s+- .*\n)+)', result.output)
    assert problems, result.output[-3000:]
    assert [line.strip()[2:] for line in problems.group(2).splitlines()] == [
        'loadbalancer_vip is 10.0.10.100 but localhost is not in loadbalancer_vrrp_group deepseek_frontdoor; allowed: the hosts that share '
        'the address are that group',
        'loadbalancer_bind_address is "10.0.10.100" with loadbalancer_vip 10.0.10.100; allowed: "*" (a front door that does not hold the '
        'address must still start)',
        'loadbalancer_metrics_port is 0 with loadbalancer_vip 10.0.10.100; allowed: a port (keepalived checks HAProxy on its metrics endpoint)',
        'loadbalancer_vrrp_advert_interval, _check_interval, _check_fall and _check_rise are [1, 2, 0, 2]; allowed: whole numbers, 1 or more',
        "loadbalancer_vip is '10.0.10.100'; allowed: an address with its prefix length on the front doors' network (10.0.10.100/24, "
        'fd00::100/64), or empty (no virtual address)',
    ]
