"""site.yml's "Monitoring" play in the lab: onprem-inference is the monitoring server (inventory/host_vars), the other
two hosts run exporters only (onprem-inference-w, a worker without a gateway, no mtail). Prometheus is asked over its
HTTPS API with basic auth from inside the lab host (python3 there; no curl in the image); every wait has a deadline.
"""

import json
import os
import time
from urllib.parse import quote

import yaml

import lab

with open(os.path.join(lab.SCENARIO, 'inventory', 'host_vars', 'onprem-inference.yml'), encoding='utf-8') as handle:
    MONITORING = yaml.safe_load(handle)
PROMETHEUS = 'https://127.0.0.1:9090'
ALERTMANAGER = 'http://127.0.0.1:9093'
DEADLINE = 180

# Runs inside the lab host: GET a URL (basic auth and an unverified TLS context for Prometheus's self-signed
# certificate; the test is about the API, test_monitoring_render.py about the certificate), print status and body.
_GET = r'''
import base64, ssl, sys, urllib.error, urllib.request
url, user, password = sys.argv[1:4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
headers = {'Authorization': 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode()).decode()} if user else {}
try:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), context=ctx, timeout=10) as r:
        print(r.status); print(r.read().decode())
except urllib.error.HTTPError as exc:
    print(exc.code); print(exc.read().decode())
'''


def _get(host, url, user='', password=''):
    # testinfra quotes each argument for the shell.
    result = host.run('python3 -c %s %s %s %s', _GET, url, user, password)
    assert result.rc == 0, result.stderr
    status, _sep, body = result.stdout.partition('\n')
    return int(status), body


def _query(host, expr):
    status, body = _get(host, '%s/api/v1/query?query=%s' % (PROMETHEUS, quote(expr)),
                        MONITORING.get('monitoring_prometheus_user', 'admin'), MONITORING['monitoring_prometheus_password'])
    assert status == 200, body
    return json.loads(body)['data']['result']


def _poll(what, probe, timeout=DEADLINE):
    """Call probe() until it returns something truthy; fail naming `what` and the last value after `timeout` s."""
    start = time.monotonic()
    last = None
    while time.monotonic() - start < timeout:
        last = probe()
        if last:
            return last
        time.sleep(3)
    raise AssertionError('%s: not within %d s; last: %r' % (what, timeout, last))


def test_prometheus_requires_its_password(host):
    assert _get(host, PROMETHEUS + '/api/v1/query?query=up')[0] == 401
    assert _get(host, PROMETHEUS + '/api/v1/query?query=up', 'admin', 'wrong-password')[0] == 401


def test_every_lab_host_is_scraped(host):
    def node_up():
        found = dict((r['metric']['instance'], r['value'][1]) for r in _query(host, 'up{job="node"}'))
        return found if all(found.get(h) == '1' for h in ('onprem-inference', 'onprem-inference-b', 'onprem-inference-w')) else None
    _poll('node exporters of the three lab hosts up', node_up)
    # mtail only where a gateway writes its access log: not on the worker.
    mtail = _poll('mtail targets up', lambda: list(_query(host, 'up{job="mtail"} == 1')))
    assert sorted(r['metric']['instance'] for r in mtail) == ['onprem-inference', 'onprem-inference-b']


# The first lab run (2026-12-03) saw no count rise within 180 s, while Prometheus showed the per-key counts minutes later:
# a restart of mtail (the lab host's restart in test_inference.py) resets its counters, so a reading taken from Prometheus
# before could be one of the old mtail. Now the counts are read from mtail itself around the requests (seconds apart), then
# Prometheus must show the same values; on failure the message carries the target and the access log's last lines.
def _mtail_counts(host):
    _status, metrics = _get(host, 'http://127.0.0.1:%d/metrics' % MONITORING.get('monitoring_mtail_port', 3903))
    counts = {}
    for line in metrics.splitlines():
        if line.startswith('onprem_gateway_requests_total{') and 'status="200"' in line:
            key = line.split('key="', 1)[1].split('"', 1)[0]
            counts[key] = float(line.rsplit('}', 1)[1].split()[0])  # value (and a timestamp where mtail emits one)
    return counts


def _diagnostics(host):
    return {'mtail': _mtail_counts(host), 'targets': _query(host, 'up{job="mtail"}'),
            'access.log': host.run('tail -n 5 /var/log/onprem-deepseek/gateway/access.log').stdout}


# Was flaky (xfail) until 2026-12-05: the audit log created /var/log/onprem-deepseek root-only (0750) before the gateway
# made its log directory below it, so mtail (user mtail, group adm) could not reach the access log once it reopened it
# (after the lab host's restart: this test runs after it). The gateway role now keeps that root 0755.
def test_gateway_requests_by_key_and_latency(host, ca_file):
    def in_prometheus(key):
        found = _query(host, 'sum(onprem_gateway_requests_total{instance="onprem-inference", key="%s", status="200"})' % key)
        return float(found[0]['value'][1]) if found else 0.0

    lab.wait_serving(ca_file)
    before = _mtail_counts(host)
    for key in ('alice', 'alice', 'carol'):
        lab.chat(ca_file, key)

    def counted():
        now = _mtail_counts(host)
        return now if now.get('alice', 0) >= before.get('alice', 0) + 2 and now.get('carol', 0) >= before.get('carol', 0) + 1 else None

    after = _poll('mtail counting the three requests by key', counted, timeout=60)
    try:
        _poll('Prometheus showing mtail\'s counts', lambda: in_prometheus('alice') >= after['alice'] and in_prometheus('carol') >= after['carol'])
    except AssertionError as exc:
        raise AssertionError('%s; diagnostics: %r' % (exc, _diagnostics(host))) from exc
    buckets = _poll('the gateway latency histogram',
                    lambda: _query(host, 'onprem_gateway_request_duration_seconds_bucket{instance="onprem-inference", le="+Inf"} > 0'))
    assert buckets[0]['metric']['job'] == 'mtail'


def test_watchdog_restarts_are_published(host):
    # test_inference.py's SIGSTOP test made the watchdog restart the engine at least once in this scenario; the textfile
    # collector publishes the count from the watchdog's state file.
    state_file = '/var/lib/onprem-deepseek/inference/watchdog-%s.json' % lab.SERVICE
    restarts = json.loads(host.file(state_file).content_string).get('restarts', 0) if host.file(state_file).exists else 0
    found = _poll('onprem_inference_watchdog_restarts_total of onprem-inference',
                  lambda: _query(host, 'onprem_inference_watchdog_restarts_total{instance="onprem-inference", unit="%s"}' % lab.SERVICE))
    assert float(found[0]['value'][1]) == restarts


def test_engine_down_reaches_alertmanager(host, ca_file):
    unit = lab.SERVICE + '.service'

    def alert():
        status, body = _get(host, ALERTMANAGER + '/api/v2/alerts?active=true')
        assert status == 200, body
        return [a for a in json.loads(body) if a['labels'].get('alertname') == 'DeepseekEngineDown'
                and a['labels'].get('instance') == 'onprem-inference' and a['labels'].get('unit') == unit]

    _poll('%s active in Prometheus' % unit,
          lambda: _query(host, 'onprem_systemd_unit_active{instance="onprem-inference", unit="%s"} == 1' % unit))
    # An earlier test's engine restart may still show for a moment.
    _poll('no DeepseekEngineDown before the stop', lambda: not alert() or None)
    start = time.monotonic()
    try:
        assert host.run('systemctl stop %s' % lab.SERVICE).rc == 0
        found = _poll('DeepseekEngineDown in Alertmanager', alert)
        print('DeepseekEngineDown reached Alertmanager %.0f s after the stop' % (time.monotonic() - start))
        assert 'is not active' in found[0]['annotations']['summary']
    finally:
        host.run('systemctl start %s' % lab.SERVICE)
        lab.wait_serving(ca_file)
    _poll('DeepseekEngineDown resolved', lambda: not alert() or None)
