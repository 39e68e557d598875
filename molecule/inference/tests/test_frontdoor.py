"""The front door (roles/loadbalancer) in the lab: HAProxy on onprem-inference-w in front of the gateways of both
deployments (onprem-inference and onprem-inference-b, one service `lab`: the same model twice).

From the controller through the front door's published port (127.0.0.1:18445), TLS passed through: a bounded loop of
4 clients x 12 one-token chat completions; after the first 12 answers, nginx on onprem-inference-b stops (systemctl
stop: nginx finishes what it serves). No request is lost beyond those in flight (at most one per client), the
stopped gateway is DOWN in HAProxy's runtime API, and UP again once nginx is back.
"""

import json
import threading
import time

import httpx
import pytest
import testinfra

from lab import CA, KEYS, MODEL

FRONTDOOR = 'https://localhost:18445'
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
