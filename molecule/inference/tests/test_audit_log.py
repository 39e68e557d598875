"""The host's audit log: who changed the service and when (issue 17).

converge.yml (site.yml) wrote the API keys, the token settings and deployed the engine on the fresh lab host: each
appended one JSON line to /var/log/onprem-deepseek/audit.log (onprem.deepseek.audit_log), with the controller's
user, never a key. The idempotence run, which changed nothing, appended nothing.
"""

import json

import lab

AUDIT_LOG = '/var/log/onprem-deepseek/audit.log'


def test_the_first_deployment_is_in_the_audit_log_with_who_and_when(host):
    audit = host.file(AUDIT_LOG)
    assert audit.user == 'root' and audit.mode == 0o600
    entries = [json.loads(line) for line in audit.content_string.splitlines()]
    actions = [(entry['role'], entry['action']) for entry in entries]
    assert ('gateway', 'api keys changed') in actions and ('gateway', 'jwt settings changed') in actions, actions
    assert ('inference', 'engine deployed') in actions, actions
    keys = [entry for entry in entries if entry['action'] == 'api keys changed'][0]
    assert sorted(keys['detail']['revoked']) == ['bob'] and 'alice' in keys['detail']['present']
    assert all('@' in entry['actor'] and entry['time'].endswith('Z') for entry in entries), entries
    deployed = [entry for entry in entries if entry['action'] == 'engine deployed'][0]
    assert deployed['detail']['image'].startswith('localhost/onprem-deepseek/llama-cpp:'), deployed
    for key in lab.KEYS.values():
        assert key not in audit.content_string
