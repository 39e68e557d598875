"""The front door (roles/loadbalancer) in the lab: HAProxy on onprem-inference-w in front of the gateways of both
deployments (onprem-inference and onprem-inference-b, one service `lab`: the same model twice).

From the controller through the front door's published port (127.0.0.1:18445), TLS passed through: a bounded loop of
4 clients x 12 one-token chat completions; after the first 12 answers, nginx on onprem-inference-b stops (systemctl
stop: nginx finishes what it serves). No request is lost beyond those in flight (at most one per client), the
stopped gateway is DOWN in HAProxy's runtime API, and UP again once nginx is back.

onprem-inference-b is the second front door: both share the virtual address 10.88.200.100 (keepalived, VRRP on the
lab's podman network). Exactly one holds it and answers through it; when HAProxy stops on the holder, the address
moves to the other, which answers; HAProxy back on the old holder does not take it back (nopreempt).
"""

import json
import threading
import time

import httpx
import pytest
import testinfra

from lab import CA, KEYS, MODEL

FRONTDOOR = 'https://localhost:18445'
VIP = '10.88.200.100'
FRONT_DOORS = ('onprem-inference-w', 'onprem-inference-b')
# GET /healthz through the virtual address from onprem-inference (a lab host on the same network), the status code
# printed; the lab gateways' CAs differ per host, so this probe does not verify them (the chat tests do).
PROBE = ("import socket, ssl; c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE;"
         " s = c.wrap_socket(socket.create_connection(('%s', 8443), timeout=5)); s.settimeout(5);"
         " s.sendall(b'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n'); print(s.recv(64).decode().split()[1])" % VIP)
STAT = ("import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock'); s.sendall(b'show stat\\n');"
        " d = b''.join(iter(lambda: s.recv(65536), b'')); print(d.decode())")


@pytest.fixture(scope='module')
def hosts():
    return dict((name, testinfra.get_host('podman://' + name)) for name in ('onprem-inference', 'onprem-inference-b', 'onprem-inference-w'))


@pytest.fixture(scope='module')
def ca_bundle(hosts, tmp_path_factory):
    # Each lab gateway has its own private CA; the client trusts both (a site gives its gateways one certificate).
    path = tmp_path_factory.mktemp('frontdoor') / 'cas.pem'
    path.write_text(hosts['onprem-inference'].file(CA).content_string + hosts['onprem-inference-b'].file(CA).content_string)
    return str(path)


def _servers(hosts):
    lines = hosts['onprem-inference-w'].check_output('python3 -c %s' % json.dumps(STAT)).splitlines()
    header = lines[0].lstrip('# ').split(',')
    rows = [dict(zip(header, line.split(','))) for line in lines[1:] if line]
    return dict((row['svname'], row['status']) for row in rows if row['pxname'] == 'lab' and row['svname'] not in ('FRONTEND', 'BACKEND'))


def _poll(what, check, timeout=60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError('%s: not within %d s (last: %r)' % (what, timeout, last))


def _chat(ca_bundle, key):
    return httpx.post(FRONTDOOR + '/v1/chat/completions', headers={'Authorization': 'Bearer ' + KEYS[key]}, verify=ca_bundle,
                      json={'model': MODEL, 'messages': [{'role': 'user', 'content': 'hi'}], 'max_tokens': 1}, timeout=60)


def test_the_front_door_balances_both_deployments(hosts, ca_bundle):
    assert hosts['onprem-inference-w'].service('haproxy').is_running
    _poll('both gateways UP', lambda: _servers(hosts) == {'onprem-inference': 'UP', 'onprem-inference-b': 'UP'} or None)
    answers = [_chat(ca_bundle, 'alice') for dummy in range(6)]
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert all(a.json()['model'] == MODEL for a in answers)


def test_a_stopped_gateway_loses_no_request_beyond_those_in_flight(hosts, ca_bundle):
    results, lock, started = [], threading.Lock(), threading.Event()

    def client(key):
        for dummy in range(12):
            try:
                outcome = _chat(ca_bundle, key).status_code
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            with lock:
                results.append(outcome)
                if len(results) >= 12:
                    started.set()

    threads = [threading.Thread(target=client, args=(key,)) for key in ('alice', 'carol', 'alice', 'carol')]
    for thread in threads:
        thread.start()
    try:
        assert started.wait(300)
        hosts['onprem-inference-b'].check_output('systemctl stop nginx')
        for thread in threads:
            thread.join(300)
        lost = [r for r in results if r != 200]
        assert len(results) == 48
        assert len(lost) <= 4, results  # one open request per client at most
        print('front door: 48 requests, nginx of onprem-inference-b stopped after 12, %d lost: %r' % (len(lost), lost))
        _poll('onprem-inference-b DOWN', lambda: _servers(hosts).get('onprem-inference-b', '').startswith('DOWN'))
        assert _servers(hosts)['onprem-inference'] == 'UP'
        assert _chat(ca_bundle, 'alice').status_code == 200
    finally:
        hosts['onprem-inference-b'].run('systemctl start nginx')
    _poll('onprem-inference-b UP again', lambda: _servers(hosts).get('onprem-inference-b') == 'UP')


def _holders(hosts):
    return [name for name in FRONT_DOORS if ' %s/16 ' % VIP in hosts[name].check_output('ip -4 -o addr show dev eth0')]


def _through_vip(hosts):
    return hosts['onprem-inference'].run('python3 -c %s' % json.dumps(PROBE)).stdout.strip()


def test_the_virtual_address_moves_to_the_other_front_door(hosts):
    for name in FRONT_DOORS:
        assert hosts[name].service('keepalived').is_running and hosts[name].service('keepalived').is_enabled
    holder = _poll('one front door holds the virtual address', lambda: _holders(hosts) if len(_holders(hosts)) == 1 else None)[0]
    other = [name for name in FRONT_DOORS if name != holder][0]
    _poll('an answer through the virtual address', lambda: _through_vip(hosts) == '200')
    hosts[holder].check_output('systemctl stop haproxy')
    try:
        started = time.monotonic()
        _poll('the address moves to %s' % other, lambda: _holders(hosts) == [other])
        moved = time.monotonic() - started
        _poll('an answer through the virtual address from %s' % other, lambda: _through_vip(hosts) == '200')
    finally:
        hosts[holder].run('systemctl start haproxy')
    time.sleep(5)  # HAProxy is back and healthy on the old holder: it does not take the address back
    assert _holders(hosts) == [other]
    print('front-door VIP: HAProxy stopped on %s, the address on %s %.1f s later' % (holder, other, moved))
