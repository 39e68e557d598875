"""The gateway's key and JWT check (roles/gateway/files/api-keys.js) run by the njs command line (Debian's njs, the
engine of nginx's njs module, same version as libnginx-mod-http-js), outside nginx.

The file is loaded as nginx loads it, with the two preloaded objects (hashed keys, JWT settings) as globals and a
stand-in for the request object; each case prints what authorize() answers (status and reason header) and what
the js_set variables (name, role, status) hold. Tokens are signed here with the `cryptography` library: RS256 by a
2048-bit RSA key and ES256 by a P-256 key, serialised as RFC 7515 section 7.1 compact JWS; the gateway's keys come
from the same JWKS through the role's filter (onprem.deepseek.jwks_verify_keys). nginx's part (auth_request,
auth_request_set, the 401 body) is proven by the inference lab (molecule/inference/tests/test_gateway_jwt.py).
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ansible_collections.onprem.deepseek.plugins.module_utils import jwks

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
SCRIPT = os.path.join(ROOT, 'roles', 'gateway', 'files', 'api-keys.js')
NJS = shutil.which('njs')
pytestmark = pytest.mark.skipif(NJS is None, reason='the njs command line is not installed here (apt-get install njs)')

ISSUER = 'https://idp.example.internal/realms/bank'
AUDIENCE = 'deepseek-gateway'
API_KEY = 'lab-carol-0123456789abcdef0123456789'


def _b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def _int_b64u(number, size=None):
    return _b64u(number.to_bytes(size or (number.bit_length() + 7) // 8, 'big'))


@pytest.fixture(scope='module')
def keys():
    return {'rsa': rsa.generate_private_key(public_exponent=65537, key_size=2048), 'ec': ec.generate_private_key(ec.SECP256R1()),
            'other': rsa.generate_private_key(public_exponent=65537, key_size=2048)}


@pytest.fixture(scope='module')
def jwt_settings(keys):
    rsa_numbers = keys['rsa'].public_key().public_numbers()
    ec_numbers = keys['ec'].public_key().public_numbers()
    jwk_set = {'keys': [
        {'kty': 'RSA', 'kid': 'rsa-1', 'use': 'sig', 'alg': 'RS256', 'n': _int_b64u(rsa_numbers.n), 'e': _int_b64u(rsa_numbers.e)},
        {'kty': 'EC', 'kid': 'ec-1', 'crv': 'P-256', 'alg': 'ES256', 'x': _int_b64u(ec_numbers.x, 32), 'y': _int_b64u(ec_numbers.y, 32)},
    ]}
    return {'enabled': True, 'issuer': ISSUER, 'audience': AUDIENCE, 'subject_claim': 'preferred_username',
            'role_claim': 'groups', 'roles': {'llm-users': 'user', 'llm-admins': 'admin', 'llm-audit': 'auditor'},
            'leeway': 60, 'keys': jwks.verify_keys(jwk_set)}


def _token(keys, claims=None, header=None, signer='rsa', tamper=False):
    now = int(time.time())
    body = {'iss': ISSUER, 'aud': [AUDIENCE, 'account'], 'exp': now + 300, 'iat': now, 'preferred_username': 'alice',
            'groups': ['llm-users']}
    body.update(claims or {})
    head = {'alg': 'ES256' if signer == 'ec' else 'RS256', 'typ': 'JWT', 'kid': 'ec-1' if signer == 'ec' else 'rsa-1'}
    head.update(header or {})
    signing_input = (_b64u(json.dumps(head).encode()) + '.' + _b64u(json.dumps(body).encode())).encode()
    if signer == 'ec':
        r, s = decode_dss_signature(keys['ec'].sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, 'big') + s.to_bytes(32, 'big')  # JWS ES256: r || s (RFC 7518 section 3.4)
    else:
        signature = keys[signer].sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    if tamper:
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    return signing_input.decode() + '.' + _b64u(signature)


def _run(tmp_path, cases, jwt_settings, roles=' user admin '):
    """{case: {code, reason, name, role, status}} from the njs command line."""
    source = open(SCRIPT).read().replace('export default {', 'var checks = {')
    api_keys = {hashlib.sha256(API_KEY.encode()).hexdigest(): {'name': 'carol', 'role': 'user', 'expires': None, 'revoked': False}}
    driver = """
var deepseek_api_keys = %s;
var deepseek_jwt = %s;
%s
var cases = %s;
Object.keys(cases).forEach(function (name) {
    function request() {
        return {headersIn: cases[name] === null ? {} : {Authorization: cases[name]}, headersOut: {},
                variables: {deepseek_roles: %s}, error: function () {}};
    }
    var probe = request();
    var seen = {name: checks.keyName(probe), role: checks.keyRole(probe), status: checks.keyStatus(probe)};
    var r = request();
    r.return = function (code) {
        seen.code = code;
        seen.reason = r.variables.deepseek_auth;
        console.log(JSON.stringify([name, seen]));
    };
    checks.authorize(r);
});
""" % (json.dumps(api_keys), json.dumps(jwt_settings), source, json.dumps(cases), json.dumps(roles))
    path = tmp_path / 'check.js'
    path.write_text(driver)
    result = subprocess.run([NJS, str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    out = dict(json.loads(line) for line in result.stdout.splitlines() if line.startswith('['))
    assert sorted(out) == sorted(cases), result.stdout + result.stderr
    return out


def test_valid_tokens_pass_with_their_subject_and_mapped_role(tmp_path, keys, jwt_settings):
    out = _run(tmp_path, {
        'rs256': 'Bearer ' + _token(keys),
        'es256': 'Bearer ' + _token(keys, signer='ec', claims={'preferred_username': 'bob@bank', 'groups': ['llm-admins', 'llm-users']}),
        'api key': 'Bearer ' + API_KEY,
    }, jwt_settings)
    assert out['rs256'] == {'code': 204, 'reason': 'ok', 'name': 'jwt:alice', 'role': 'user', 'status': 'ok'}
    # several groups: the most privileged role; the subject reaches the log as it is (safe characters)
    assert out['es256'] == {'code': 204, 'reason': 'ok', 'name': 'jwt:bob@bank', 'role': 'admin', 'status': 'ok'}
    assert out['api key'] == {'code': 204, 'reason': 'ok', 'name': 'carol', 'role': 'user', 'status': 'ok'}


def test_refused_tokens_get_401_saying_why(tmp_path, keys, jwt_settings):
    now = int(time.time())
    out = _run(tmp_path, {
        'signature': 'Bearer ' + _token(keys, tamper=True),
        'other key, same kid': 'Bearer ' + _token(keys, signer='other'),
        'expired': 'Bearer ' + _token(keys, claims={'exp': now - 61}),
        'not yet valid': 'Bearer ' + _token(keys, claims={'nbf': now + 120}),
        'audience': 'Bearer ' + _token(keys, claims={'aud': 'another-app'}),
        'issuer': 'Bearer ' + _token(keys, claims={'iss': 'https://evil.example'}),
        'no exp': 'Bearer ' + _token(keys, claims={'exp': None}),
        'alg none': 'Bearer ' + _token(keys, header={'alg': 'none'}),
        'alg HS256 with the RSA kid': 'Bearer ' + _token(keys, header={'alg': 'HS256'}),
        'unknown kid': 'Bearer ' + _token(keys, header={'kid': 'rotated-away'}),
        'no role': 'Bearer ' + _token(keys, claims={'groups': ['staff']}),
        'garbage': 'Bearer aaaa.bbbb.cccc',
        'missing': None,
    }, jwt_settings)
    reasons = dict((name, (seen['code'], seen['reason'])) for name, seen in out.items())
    assert reasons == {
        'signature': (401, 'token signature invalid'), 'other key, same kid': (401, 'token signature invalid'),
        'expired': (401, 'token expired'), 'not yet valid': (401, 'token not yet valid'),
        'audience': (401, 'wrong token audience'), 'issuer': (401, 'wrong token issuer'), 'no exp': (401, 'token without exp'),
        'alg none': (401, 'token algorithm not allowed'), 'alg HS256 with the RSA kid': (401, 'token algorithm not allowed'),
        'unknown kid': (401, 'unknown token signing key'), 'no role': (401, 'token without a gateway role'),
        'garbage': (401, 'malformed token'), 'missing': (401, 'missing key'),
    }
    # a token whose signature is not checked yet still names its subject for the rate limits (signature: the access phase)
    assert out['signature']['name'] == 'jwt:alice' and out['expired']['name'] == ''


def test_role_limits_and_disabled_jwt(tmp_path, keys, jwt_settings):
    auditor = 'Bearer ' + _token(keys, claims={'groups': 'llm-audit'})
    assert _run(tmp_path, {'auditor': auditor}, jwt_settings)['auditor']['code'] == 403
    out = _run(tmp_path, {'jwt': 'Bearer ' + _token(keys), 'api key': 'Bearer ' + API_KEY}, {'enabled': False})
    assert (out['jwt']['code'], out['jwt']['reason']) == (401, 'unknown key')
    assert out['api key']['code'] == 204


def test_roles_without_a_map_are_the_claim_itself(tmp_path, keys, jwt_settings):
    settings = dict(jwt_settings, roles=None, role_claim='scope')
    out = _run(tmp_path, {'scope': 'Bearer ' + _token(keys, claims={'scope': 'openid admin profile'})}, settings)
    assert (out['scope']['code'], out['scope']['role']) == (204, 'admin')


# Usage accounting (usage(r, data, flags), nginx's js_body_filter): the chat completion object and the streamed
# chunks have the shape of OpenAI's API reference (https://platform.openai.com/docs/api-reference/chat/object:
# "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}; with stream_options.include_usage the last
# chunk has an empty choices list and the usage), which vLLM, SGLang and llama-cpp-python's server follow.
COMPLETION = ('{"id":"chatcmpl-1","object":"chat.completion","created":1733300000,"model":"deepseek",'
              '"choices":[{"index":0,"message":{"role":"assistant","content":"Grüße, 你好 \\"usage\\""},'
              '"finish_reason":"length"}],"usage":{"prompt_tokens":12,"completion_tokens":16,"total_tokens":28}}')
STREAM = ''.join('data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"tok%d"}}]}\n\n' % i
                 for i in range(200)) + ('data: {"id":"c","object":"chat.completion.chunk","choices":[],'
                                         '"usage":{"prompt_tokens":7,"completion_tokens":200,"total_tokens":207}}\n\ndata: [DONE]\n\n')
STREAM_WITHOUT_USAGE = STREAM[:STREAM.index('data: {"id":"c","object":"chat.completion.chunk","choices":[],')] + 'data: [DONE]\n\n'


def _filter(tmp_path, bodies, chunk):
    """{case: {same (the bytes passed on are the body's), prompt, completion}} for each body cut into chunks of `chunk` bytes."""
    source = open(SCRIPT).read().replace('export default {', 'var checks = {')
    driver = """
var deepseek_api_keys = {};
var deepseek_jwt = {enabled: false};
%s
var bodies = %s;
Object.keys(bodies).forEach(function (name) {
    var body = Buffer.from(bodies[name], 'hex');
    var sent = [];
    var r = {variables: {}, sendBuffer: function (data, flags) { sent.push(Buffer.from(data)); }};
    for (var at = 0; at < body.length; at += %d) {
        var piece = body.slice(at, Math.min(at + %d, body.length));
        checks.usage(r, piece, {last: at + %d >= body.length});
    }
    var same = Buffer.concat(sent).equals(body) && sent.length === Math.ceil(body.length / %d);
    console.log(JSON.stringify([name, {same: same, prompt: r.variables.deepseek_prompt_tokens || null,
                                       completion: r.variables.deepseek_completion_tokens || null}]));
});
""" % (source, json.dumps({k: v.encode().hex() for k, v in bodies.items()}), chunk, chunk, chunk, chunk)
    path = tmp_path / 'usage.js'
    path.write_text(driver)
    result = subprocess.run([NJS, str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(json.loads(line) for line in result.stdout.splitlines() if line.startswith('['))


@pytest.mark.parametrize('chunk', [1, 7, 100, 100000])
def test_usage_counts_come_from_the_response_which_passes_unchanged(tmp_path, chunk):
    bodies = {'completion': COMPLETION, 'stream': STREAM, 'stream without usage': STREAM_WITHOUT_USAGE,
              'refusal': '{"error":{"message":"key expired","type":"invalid_request_error"}}'}
    out = _filter(tmp_path, bodies, chunk)
    # Byte for byte and chunk for chunk, multi-byte characters cut between chunks included.
    assert sorted(out) == sorted(bodies) and all(seen['same'] for seen in out.values()), out
    assert (out['completion']['prompt'], out['completion']['completion']) == ('12', '16')
    # The stream's usage is its last chunk, 200 chunks (about 16 KiB) after the first: the kept tail holds it.
    assert (out['stream']['prompt'], out['stream']['completion']) == ('7', '200')
    assert (out['stream without usage']['prompt'], out['stream without usage']['completion']) == (None, None)
    assert (out['refusal']['prompt'], out['refusal']['completion']) == (None, None)
