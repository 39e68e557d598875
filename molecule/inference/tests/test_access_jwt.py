"""JWT bearer tokens from the site's identity provider, beside the API keys (issue 17).

prepare.yml made a stand-in provider: an RSA key (.cache/inference-lab/jwt/signing-key.pem) and its JWKS, which the
inventory gives the gateway (gateway_jwt_jwks; issuer, audience, the groups claim mapped to roles). These tests sign
RS256 tokens with that key (the `cryptography` library, RFC 7515 compact serialisation) and send them through the
published port: the gateway's njs checks the signature with WebCrypto and exp, nbf, iss, aud itself.
"""

import base64
import json
import os
import time

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import lab

JWT_DIR = os.path.join(lab.LAB_CACHE, 'jwt')
ISSUER = lab.CONVERGE_VARS['gateway_jwt_issuer']
AUDIENCE = lab.CONVERGE_VARS['gateway_jwt_audience']


def _b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def _token(key=None, **claims):
    with open(os.path.join(JWT_DIR, 'signing-key.pem'), 'rb') as handle:
        signing_key = key or serialization.load_pem_private_key(handle.read(), password=None)
    now = int(time.time())
    body = dict({'iss': ISSUER, 'aud': [AUDIENCE, 'account'], 'exp': now + 300, 'iat': now, 'preferred_username': 'dana',
                 'groups': ['llm-users']}, **claims)
    signing_input = _b64u(json.dumps({'alg': 'RS256', 'typ': 'JWT', 'kid': 'lab-idp-1'}).encode()) + '.' + _b64u(json.dumps(body).encode())
    return signing_input + '.' + _b64u(signing_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))


def _chat(ca_file, token):
    return httpx.post(lab.ORIGIN + '/v1/chat/completions', headers={'Authorization': 'Bearer ' + token}, verify=ca_file, timeout=60,
                      json={'messages': [{'role': 'user', 'content': 'hi'}], 'max_tokens': 1})


def _log_lines(host):
    return host.file('/var/log/onprem-deepseek/gateway/access.log').content_string.splitlines()


def test_a_token_from_the_provider_is_served_and_logged_by_subject(host, ca_file):
    response = _chat(ca_file, _token())
    assert response.status_code == 200, response.text
    assert response.json()['usage']['completion_tokens'] >= 1
    last = _log_lines(host)[-1]
    assert 'key=jwt:dana ' in last and 'role=user ' in last and 'auth="ok"' in last, last
    # the groups claim maps to roles: a user may not list models, an admin may
    models = httpx.get(lab.ORIGIN + '/v1/models', headers={'Authorization': 'Bearer ' + _token()}, verify=ca_file, timeout=60)
    assert models.status_code == 403, models.text
    models = httpx.get(lab.ORIGIN + '/v1/models', headers={'Authorization': 'Bearer ' + _token(groups=['llm-admins'])},
                       verify=ca_file, timeout=60)
    assert models.status_code == 200, models.text


def test_refused_tokens_get_401_saying_why_and_never_reach_the_engine(host, ca_file):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    before = len(_log_lines(host))
    cases = [(_token(key=other_key), 'token signature invalid'), (_token(aud='another-app'), 'wrong token audience'),
             (_token(exp=now - 120), 'token expired'), (_token(iss='https://idp.elsewhere'), 'wrong token issuer')]
    for token, reason in cases:
        response = _chat(ca_file, token)
        assert response.status_code == 401, (reason, response.text)
        assert response.json()['error'] == {'message': reason, 'type': 'invalid_request_error', 'code': 'invalid_api_key'}
        time.sleep(0.3)  # tokens refused before their signature count against the per-address limit (5/s)
    lines = _log_lines(host)[before:]
    assert len(lines) == len(cases) and all('upstream_time=- ' in line for line in lines), lines
    assert [line.split('auth="')[1].split('"')[0] for line in lines] == [reason for dummy, reason in cases]
    time.sleep(1)  # refill the per-address bucket


def test_the_host_holds_the_providers_public_keys_only(host):
    jwt_file = host.file('/etc/nginx/onprem-deepseek/jwt.json')
    assert jwt_file.user == 'root' and jwt_file.mode == 0o600
    text = jwt_file.content_string
    settings = json.loads(text)
    assert settings['enabled'] and settings['issuer'] == ISSUER and sorted(settings['keys']) == ['lab-idp-1']
    assert settings['keys']['lab-idp-1']['alg'] == 'RS256'
    # SPKI public keys only: no private key, no JWK private member ("d"), nothing of the signing key's PEM
    assert 'PRIVATE' not in text and '"d"' not in text
    with open(os.path.join(JWT_DIR, 'signing-key.pem')) as handle:
        pem_body = ''.join(handle.read().splitlines()[1:-1])
    assert pem_body[:40] not in text and host.run('grep -rlF -- %s /etc /var/log' % pem_body[:40]).rc == 1
