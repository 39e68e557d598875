"""API keys with a role, an expiry and an owner, stored hashed and checked by njs (issue 17, first part).

Against the lab host's gateway and llama-cpp-python engine, from the controller through the published
port. The lab's keys (inventory/group_vars/all.yml): alice and batch are admins, carol has no role (a
user), audit is an auditor, old expired on 2020-01-01, bob is revoked. Runs first (name order): it
makes a few requests without a valid key, then waits for the per-address bucket to refill.
"""

import hashlib
import json
import re
import time

import httpx
import pytest

import lab

KEY_FILE = '/etc/nginx/onprem-deepseek/api-keys.json'
INFERENCE = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']
# Exactly the paths each role reaches; every other API path answers 403.
ALLOWED = {'admin': ['/v1/models', '/v1/usage'] + INFERENCE, 'user': INFERENCE, 'auditor': ['/v1/usage']}
ROLES = {'alice': 'admin', 'carol': 'user', 'audit': 'auditor'}
# One token each: the lab's CPU stays free. The lab engine runs without embeddings: its answer there is a
# 500 (the gateway's engine_error), which still proves the gateway let the request through.
BODIES = {'/v1/chat/completions': {'messages': [{'role': 'user', 'content': 'hi'}], 'max_tokens': 1},
          '/v1/completions': {'prompt': 'hi', 'max_tokens': 1},
          '/v1/embeddings': {'input': 'hi'}}
SERVED = {'/v1/models': 200, '/v1/usage': 200, '/v1/chat/completions': 200, '/v1/completions': 200, '/v1/embeddings': 500}


def _call(ca_file, path, key=None):
    headers = {'Authorization': 'Bearer ' + key} if key else {}
    if path in ('/v1/models', '/v1/usage'):
        return httpx.get(lab.ORIGIN + path, headers=headers, verify=ca_file, timeout=60)
    return httpx.post(lab.ORIGIN + path, headers=headers, json=BODIES[path], verify=ca_file, timeout=60)


def _log_lines(host):
    return host.file('/var/log/onprem-deepseek/gateway/access.log').content_string.splitlines()


@pytest.mark.parametrize('name', sorted(ROLES))
def test_each_role_reaches_exactly_its_paths(host, ca_file, name):
    role = ROLES[name]
    before = len(_log_lines(host))
    for path in ['/v1/models', '/v1/usage'] + INFERENCE:
        response = _call(ca_file, path, lab.KEYS[name])
        if path in ALLOWED[role]:
            assert response.status_code == SERVED[path], (name, path, response.text)
        else:
            assert response.status_code == 403, (name, path, response.text)
            error = response.json()['error']
            assert error['code'] == 'forbidden' and error['type'] == 'invalid_request_error', error
            assert response.headers['strict-transport-security'] == 'max-age=31536000'
    lines = [line for line in _log_lines(host)[before:] if 'key=%s ' % name in line]
    assert len(lines) == 5, lines
    # The log names the key's role and, for a 403, why; a refused role never reaches the engine (no upstream time),
    # an allowed one does.
    refused = [line for line in lines if ' 403 ' in line]
    assert len(refused) == 5 - len(ALLOWED[role]), lines
    assert all(('role=%s ' % role) in line for line in lines), lines
    assert all('auth="ok"' in line for line in lines if line not in refused), lines
    assert all('auth="role %s may not use this path"' % role in line for line in refused), refused
    assert all('upstream_time=- ' in line for line in refused), refused
    # The usage report is the gateway's own answer: it never reaches the engine either.
    assert all(re.search(r'upstream_time=[0-9.]+ ', line) for line in lines if line not in refused and '/v1/usage' not in line), lines


def test_a_user_key_without_a_role_gets_completions(ca_file):
    answer = lab.chat(ca_file, key='carol')
    assert answer.model == lab.MODEL and answer.usage.completion_tokens >= 1


@pytest.mark.parametrize('name, reason', [('old', 'key expired'), ('bob', 'key revoked'), ('nobody', 'unknown key'),
                                          (None, 'missing key')])
def test_refused_keys_get_401_saying_why(host, ca_file, name, reason):
    key = lab.KEYS.get(name, 'lab-nobody-0123456789abcdef01234567') if name else None
    for path in ['/v1/models', '/v1/chat/completions']:
        response = _call(ca_file, path, key)
        assert response.status_code == 401, (name, path, response.text)
        error = response.json()['error']
        assert error == {'message': reason, 'type': 'invalid_request_error', 'code': 'invalid_api_key'}
        assert response.headers['www-authenticate'] == 'Bearer realm="deepseek"'
    # The access log says why, without the key (its name is not trusted until the key is valid).
    last = _log_lines(host)[-1]
    assert 'key= ' in last and 'auth="%s"' % reason in last and (key is None or key not in last), last
    time.sleep(1)  # refill the per-address bucket (5/s, burst 10) these requests drew on


def test_the_key_file_holds_hashes_roles_and_expiry_never_a_key(host):
    keys = host.file(KEY_FILE)
    assert keys.user == 'root' and keys.group == 'root' and keys.mode == 0o600
    table = json.loads(keys.content_string)
    expected = {}
    for entry in lab.CONVERGE_VARS['gateway_api_keys']:
        expected[hashlib.sha256(entry['key'].encode()).hexdigest()] = {
            'name': entry['name'], 'role': entry.get('role', 'user'), 'expires': entry.get('expires'),
            'revoked': entry.get('state') == 'revoked', 'owner': entry.get('owner')}
    assert table == expected
    # No clear key anywhere in nginx's configuration (the old clear-key map is gone) or the gateway's logs.
    assert not host.file('/etc/nginx/onprem-deepseek/api-keys.map').exists
    for name, key in lab.KEYS.items():
        found = host.run('grep -rlF -- %s /etc/nginx /var/log/onprem-deepseek/gateway' % key)
        assert found.rc == 1 and found.stdout == '', (name, found.stdout)


def test_the_njs_module_is_enabled(host):
    assert host.package('libnginx-mod-http-js').is_installed
    link = host.file('/etc/nginx/modules-enabled/50-mod-http-js.conf')
    assert link.is_symlink and link.linked_to == '/usr/share/nginx/modules-available/mod-http-js.conf'


def test_usage_report_counts_the_tokens_of_the_answers(host, ca_file):
    # The engine's usage reaches the access log (the njs body filter) and the usage report sums it per day and key:
    # llama-cpp-python's server reports usage in each whole answer.
    day = host.check_output('date -u +%F')
    before = json.loads(host.check_output('onprem-deepseek-usage --json --key carol --since %s' % day))
    answers = [_call(ca_file, path, lab.KEYS['carol']) for path in ['/v1/chat/completions', '/v1/completions']]
    assert [answer.status_code for answer in answers] == [200, 200], [answer.text for answer in answers]
    usage = [answer.json()['usage'] for answer in answers]
    lines = [line for line in _log_lines(host) if 'key=carol ' in line][-2:]
    assert [line.split(' prompt_tokens=')[1] for line in lines] == [
        '%d completion_tokens=%d owner="lab"' % (u['prompt_tokens'], u['completion_tokens']) for u in usage], lines
    after = json.loads(host.check_output('onprem-deepseek-usage --json --key carol --since %s' % day))
    was = before[0] if before else {'requests': 0, 'answered': 0, 'prompt_tokens': 0, 'completion_tokens': 0}
    assert len(after) == 1 and after[0]['key'] == 'carol' and after[0]['day'] == day, after
    assert after[0]['requests'] - was['requests'] == 2 and after[0]['answered'] - was['answered'] == 2
    assert after[0]['prompt_tokens'] - was['prompt_tokens'] == sum(u['prompt_tokens'] for u in usage)
    assert after[0]['completion_tokens'] - was['completion_tokens'] == sum(u['completion_tokens'] for u in usage)
    # The report never shows a key, only names.
    assert lab.KEYS['carol'] not in host.check_output('onprem-deepseek-usage')
    # Over HTTPS, for the auditor: the snapshot its timer writes (started here rather than waited for) says the same.
    timer = host.service('onprem-deepseek-usage-snapshot.timer')
    assert timer.is_enabled and timer.is_running
    host.check_output('systemctl start onprem-deepseek-usage-snapshot.service')
    # Read before the requests below, which the auditor's key (owner lab) adds to the log.
    per_owner = json.loads(host.check_output('onprem-deepseek-usage --json --by owner --owner lab --since %s' % day))
    auditor = {'Authorization': 'Bearer ' + lab.KEYS['audit']}
    response = httpx.get(lab.ORIGIN + '/v1/usage', params={'key': 'carol', 'since': day}, headers=auditor, verify=ca_file, timeout=60)
    assert response.status_code == 200 and response.json()['data'] == after, response.text
    response = httpx.get(lab.ORIGIN + '/v1/usage', params={'by': 'owner', 'owner': 'lab', 'since': day}, headers=auditor,
                         verify=ca_file, timeout=60)
    assert response.status_code == 200 and response.json()['data'] == per_owner, response.text
