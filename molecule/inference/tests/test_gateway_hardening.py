"""The gateway's hardening (issue 9), proved against the lab host's nginx and llama-cpp-python engine.

From the controller through the published port (lab.ORIGIN) with httpx, and on the lab host with
testinfra. Runs before test_inference.py: the per-address buckets it empties are refilled before it
ends, and the two converges it makes are refused before anything changes, so the lab stays as the
scenario's converge left it. One test per finding; each fails against the role before the issue.
"""

import hashlib
import json
import re
import time

import httpx
import pytest

import lab

SITE = '/etc/nginx/conf.d/onprem-deepseek.conf'
KEY_FILE = '/etc/nginx/onprem-deepseek/api-keys.json'
NOT_FORWARDED = ['/docs', '/openapi.json', '/extras/tokenize', '/health', '/metrics', '/']
LEAKS = re.compile(r'Traceback|\.py\b|/usr/|/opt/|site-packages|File "')


def _get(ca_file, path, key=None, method='GET', **kwargs):
    headers = {'Authorization': 'Bearer ' + key} if key else {}
    return httpx.request(method, lab.ORIGIN + path, headers=headers, verify=ca_file, timeout=120, **kwargs)


def _gateway_error(response, code):
    """The response is the gateway's own OpenAI-shaped error with HSTS."""
    assert response.headers['content-type'] == 'application/json', response.headers
    assert response.headers['strict-transport-security'] == 'max-age=31536000'
    error = response.json()['error']
    assert error['code'] == code and error['type'] and error['message'], error
    return error


def _access_log_since(host, lines_before):
    return host.file('/var/log/onprem-deepseek/gateway/access.log').content_string.splitlines()[lines_before:]


def _access_log_length(host):
    return len(host.file('/var/log/onprem-deepseek/gateway/access.log').content_string.splitlines())


# Finding 6: nginx's map compares strings ignoring case.
def test_key_with_its_case_swapped_gets_401(ca_file):
    assert _get(ca_file, '/v1/models', lab.KEYS['alice']).status_code == 200
    for wrong in [lab.KEYS['alice'].swapcase(), lab.KEYS['alice'].upper()]:
        response = _get(ca_file, '/v1/models', wrong)
        assert response.status_code == 401
        _gateway_error(response, 'invalid_api_key')
        assert response.headers['www-authenticate'] == 'Bearer realm="deepseek"'


def test_key_file_is_root_only_and_holds_hashes(host):
    keys = host.file(KEY_FILE)
    assert keys.user == 'root' and keys.mode == 0o600
    table = json.loads(keys.content_string)
    assert table[hashlib.sha256(lab.KEYS['alice'].encode()).hexdigest()]['name'] == 'alice'
    for key in lab.KEYS.values():
        assert key not in keys.content_string


# Finding 7: /healthz was an unauthenticated proxy of the engine's model list, any method, no limit.
def test_healthz_answers_get_only_with_a_minimal_body(ca_file):
    response = _get(ca_file, '/healthz')
    assert response.status_code == 200 and response.json() == {'status': 'ok'}
    assert lab.MODEL not in response.text
    assert _get(ca_file, '/healthz', method='HEAD').status_code == 200
    for method in ['POST', 'PUT', 'DELETE']:
        response = _get(ca_file, '/healthz', method=method, json={})
        assert response.status_code == 405, method
        _gateway_error(response, 'method_not_allowed')


def test_unauthenticated_requests_are_throttled_per_address(ca_file):
    statuses, retry_after = [], set()
    with httpx.Client(verify=ca_file, timeout=30) as client:
        for number in range(60):
            response = client.get(lab.BASE_URL + '/models', headers={'Authorization': 'Bearer guess-%02d-0123456789abcdefghij' % number})
            statuses.append(response.status_code)
            if response.status_code == 429:
                _gateway_error(response, 'rate_limit_exceeded')
                retry_after.add(response.headers.get('retry-after'))
        # Keys are not in the per-address bucket.
        assert client.get(lab.BASE_URL + '/models', headers={'Authorization': 'Bearer ' + lab.KEYS['alice']}).status_code == 200
        health = [client.get(lab.ORIGIN + '/healthz').status_code for dummy in range(60)]
    assert set(statuses) == {401, 429} and statuses[0] == 401
    assert retry_after == {'1'}
    assert set(health) == {200, 429} and health[0] == 200
    # Both buckets drain in burst / rate = 10 / 5 = 2 s; later tests (and test_inference's 401 checks) find them empty.
    time.sleep(4)
    assert _get(ca_file, '/v1/models').status_code == 401
    assert _get(ca_file, '/healthz').status_code == 200


# Finding 8: everything but the OpenAI paths reached the engine (its /docs, /openapi.json, /metrics ...).
@pytest.mark.parametrize('path', NOT_FORWARDED)
def test_engine_paths_get_404_json_without_reaching_the_engine(host, ca_file, path):
    before = _access_log_length(host)
    response = _get(ca_file, path, lab.KEYS['alice'])
    assert response.status_code == 404
    _gateway_error(response, 'not_found')
    # An access-log line without an upstream time: nginx answered it itself (the key's role and status follow it).
    lines = [line for line in _access_log_since(host, before) if '"GET %s HTTP/' % path in line]
    assert lines and all(' 404 ' in line and ' upstream_time=- ' in line for line in lines), lines


# Finding 2: headers and errors.
def test_hsts_on_every_response_including_401_and_error_pages(ca_file):
    responses = [_get(ca_file, '/v1/models'), _get(ca_file, '/v1/models', lab.KEYS['bob']), _get(ca_file, '/docs'),
                 _get(ca_file, '/healthz', method='POST'), _get(ca_file, '/healthz'), _get(ca_file, '/v1/models', lab.KEYS['alice'])]
    assert [r.status_code for r in responses] == [401, 401, 404, 405, 200, 200]
    for response in responses:
        assert response.headers['strict-transport-security'] == 'max-age=31536000', response.request.url


def test_rate_limited_key_gets_429_with_retry_after(ca_file):
    limited = None
    with httpx.Client(verify=ca_file, timeout=30) as client:
        for dummy in range(60):
            response = client.get(lab.BASE_URL + '/models', headers={'Authorization': 'Bearer ' + lab.KEYS['batch']})
            if response.status_code == 429:
                limited = response
                break
    assert limited is not None, 'batch (2 requests/s) was never limited'
    _gateway_error(limited, 'rate_limit_exceeded')
    assert limited.headers['retry-after'] == '1'


def test_engine_errors_never_reach_the_client(ca_file):
    def chat(**extra):
        body = dict({'model': lab.MODEL, 'messages': [{'role': 'user', 'content': 'hello world'}], 'max_tokens': 4}, **extra)
        return _get(ca_file, '/v1/chat/completions', lab.KEYS['alice'], method='POST', json=body)

    # A logit_bias key that is not a token id: llama-cpp-python 0.3.16 answers 500 with the Python
    # exception's text ("invalid literal for int() with base 10: 'abc'", measured on the engine directly).
    failed = chat(logit_bias={'abc': 1.0})
    assert failed.status_code == 500
    _gateway_error(failed, 'engine_error')
    assert 'invalid literal' not in failed.text and 'internal_server_error' not in failed.text
    # The same engine answers 500 with pydantic's internals for a wrong type (measured: temperature "hot").
    for extra in [{'max_tokens': -5}, {'max_tokens': 10 ** 9}, {'logit_bias': {'999999999': 1.0}}, {'temperature': 'hot'}]:
        response = chat(**extra)
        assert not LEAKS.search(response.text), (extra, response.status_code, response.text[:500])
        if response.status_code >= 500:
            _gateway_error(response, 'engine_error')


# Finding 1: Debian's nginx.service has Restart=no.
def test_nginx_comes_back_after_its_master_is_killed(host, ca_file):
    assert 'Restart=always' in host.check_output('systemctl show nginx -p Restart')
    before = host.file('/run/nginx.pid').content_string.strip()
    host.run('kill -9 %s' % before)
    start = time.monotonic()
    status = None
    while time.monotonic() - start < 15:
        time.sleep(1)
        pid = host.run('cat /run/nginx.pid').stdout.strip()
        if pid and pid != before and host.run('systemctl is-active nginx').stdout.strip() == 'active':
            try:
                status = _get(ca_file, '/healthz').status_code
            except httpx.HTTPError:
                status = None
            if status == 200:
                break
    assert status == 200, lab.journal(host, 'nginx')
    print('nginx serving again %.1f s after kill -9 of its master' % (time.monotonic() - start))


# Seen in the demo lab (2026-12-04): after a run that stopped half-way, nginx ran without the gateway's port, and the
# next run (nothing changed, nginx "running") left it so. Made here: the site's file away, a reload, the file back.
def test_a_master_running_without_the_gateway_port_is_restarted_by_the_next_run(host, ca_file):
    assert host.run('mv %s /root/site.conf.away && nginx -s reload && sleep 2 && mv /root/site.conf.away %s' % (SITE, SITE)).rc == 0
    try:
        assert ':443 ' not in host.check_output('ss -Hltn')
        result = lab.converge({}, tags='gateway')
        assert result.returncode == 0, result.output[-3000:]
        assert re.search(r"Restart nginx, which runs without the gateway's port\] \**\nchanged:", result.output), result.output[-3000:]
        assert _get(ca_file, '/healthz').status_code == 200
    finally:
        if not host.file(SITE).exists:
            host.run('mv /root/site.conf.away %s && systemctl restart nginx' % SITE)


# Findings 4 and 5: every input problem named at once before any change; a refused nginx config is rolled back.
def test_converge_names_every_problem_and_changes_nothing(host, ca_file):
    before = (host.file(SITE).sha256sum, host.file(KEY_FILE).sha256sum)
    keys = lab.CONVERGE_VARS['gateway_api_keys'] + [{'name': 'alice-copy', 'key': lab.KEYS['alice'].swapcase()}]
    result = lab.converge({'gateway_rate_limit': -5, 'gateway_api_keys': keys})
    assert result.returncode != 0
    assert 'gateway_rate_limit is -5; allowed: a whole number of requests/s, 1 or more' in result.output, result.output[-3000:]
    assert ('gateway_api_keys: alice and alice-copy have the same key (compared ignoring case); each key must be unique'
            in result.output)
    assert re.search(r'gateway: 2 problem\(s\) on onprem-inference', result.output)
    for entry in keys:
        assert entry['key'] not in result.output
    assert (host.file(SITE).sha256sum, host.file(KEY_FILE).sha256sum) == before
    assert host.service('nginx').is_running
    assert _get(ca_file, '/v1/models', lab.KEYS['alice']).status_code == 200


CONFIG_ONLY = """
# The role's key file and site alone, without its input checks: what nginx -t refuses must not stay.
- name: Gateway configuration only
  hosts: deepseek_inference
  gather_facts: false
  become: true
  tasks:
    - name: Write the key file and the site
      ansible.builtin.include_role:
        name: onprem.deepseek.gateway
        tasks_from: config.yml
"""


def test_configuration_refused_by_nginx_is_rolled_back(host, ca_file, tmp_path):
    before = (host.file(SITE).sha256sum, host.file(KEY_FILE).sha256sum)
    playbook = tmp_path / 'gateway-config.yml'
    playbook.write_text(CONFIG_ONLY)
    dave = {'name': 'dave', 'key': 'lab-dave-0123456789abcdef0123456789a'}
    result = lab.converge({'gateway_rate_limit': -5, 'gateway_api_keys': lab.CONVERGE_VARS['gateway_api_keys'] + [dave]},
                          playbook=str(playbook))
    assert result.returncode != 0
    assert 'were not kept (nginx -t refused them' in result.output, result.output[-3000:]
    assert 'invalid rate "rate=-5r/s"' in result.output
    assert dave['key'] not in result.output and lab.KEYS['alice'] not in result.output
    assert (host.file(SITE).sha256sum, host.file(KEY_FILE).sha256sum) == before
    leftovers = host.run('ls -A /etc/nginx/conf.d /etc/nginx/onprem-deepseek').stdout
    assert '~' not in leftovers, leftovers  # no backup stays behind
    assert host.run('nginx -t').rc == 0
    assert host.service('nginx').is_running
    assert _get(ca_file, '/v1/models', lab.KEYS['alice']).status_code == 200
