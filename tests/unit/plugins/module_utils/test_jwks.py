# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""jwks.verify_keys: a JWKS (RFC 7517) to the SPKI keys the gateway's njs check imports."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ansible_collections.onprem.deepseek.plugins.module_utils import jwks

# RFC 7517 appendix A.1, the example EC public key (its "use" there is "enc").
RFC7517_EC = {"kty": "EC", "crv": "P-256", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
              "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM", "use": "enc", "kid": "1"}


def _b64u(number):
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _rsa_jwk(key, **extra):
    numbers = key.public_key().public_numbers()
    return dict({"kty": "RSA", "n": _b64u(numbers.n), "e": _b64u(numbers.e)}, **extra)


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _spki(public_key):
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def test_rsa_key_round_trips_and_verifies(rsa_key):
    out = jwks.verify_keys({"keys": [_rsa_jwk(rsa_key, kid="k1", use="sig", alg="RS256")]})
    assert out == {"k1": {"alg": "RS256", "spki": _spki(rsa_key.public_key()),
                          "params": {"name": "RSASSA-PKCS1-v1_5", "hash": "SHA-256"}}}
    # the SPKI verifies what the private key signed: it is the same key
    loaded = serialization.load_der_public_key(base64.b64decode(out["k1"]["spki"]))
    loaded.verify(rsa_key.sign(b"a.b", padding.PKCS1v15(), hashes.SHA256()), b"a.b", padding.PKCS1v15(), hashes.SHA256())


def test_rfc7517_ec_example_as_a_signing_key():
    assert jwks.verify_keys({"keys": [dict(RFC7517_EC, use="sig", alg="ES256")]})["1"]["params"] == {
        "name": "ECDSA", "namedCurve": "P-256", "hash": "SHA-256"}
    # as published (use "enc") it is not a signing key: nothing left to verify with
    with pytest.raises(jwks.JwksError, match="no signing key"):
        jwks.verify_keys({"keys": [RFC7517_EC]})


def test_keys_without_alg_take_the_default_and_others_are_left_out(rsa_key):
    ec_key = ec.generate_private_key(ec.SECP256R1())
    numbers = ec_key.public_key().public_numbers()
    jwk_set = {"keys": [
        _rsa_jwk(rsa_key, kid="rsa"),                                     # no alg: RS256 (the default)
        {"kty": "EC", "crv": "P-256", "x": _b64u(numbers.x), "y": _b64u(numbers.y), "kid": "ec"},  # no alg, not RSA: left out
        {"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "hmac"},   # HMAC: never
        _rsa_jwk(rsa_key, kid="pss", alg="PS256"),                        # not verified by this gateway
    ]}
    assert sorted(jwks.verify_keys(jwk_set)) == ["rsa"]
    assert sorted(jwks.verify_keys(jwk_set, default_alg="ES256")) == ["ec"]


@pytest.mark.parametrize("jwk_set,message", [
    ({"kid": "x"}, "want a JWKS"),
    ({"keys": ["x"]}, "keys\\[0\\] is 'x'"),
    ({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "alg": "RS256"}]}, "RSA modulus of 17 bits; at least 2048"),
    ({"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "alg": "ES256"}]}, "needs crv P-256"),
    ({"keys": [{"kty": "EC", "crv": "P-256", "x": "AQ", "y": "AQ", "alg": "ES256", "kid": "off"}]}, "kid 'off'"),
    ({"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB", "alg": "RS256"}]}, "n is not base64url"),
])
def test_bad_sets_are_named(jwk_set, message):
    with pytest.raises(jwks.JwksError, match=message):
        jwks.verify_keys(jwk_set)


def test_two_keys_with_one_kid_are_refused(rsa_key):
    with pytest.raises(jwks.JwksError, match="two signing keys share this kid"):
        jwks.verify_keys({"keys": [_rsa_jwk(rsa_key, kid="a"), _rsa_jwk(rsa_key, kid="a")]})


def test_filter_error_names_the_filter(filters):
    from ansible.errors import AnsibleFilterError
    from ansible_collections.onprem.deepseek.plugins.filter.gateway import FilterModule
    with pytest.raises(AnsibleFilterError, match="onprem.deepseek.jwks_verify_keys: want a JWKS"):
        FilterModule().filters()["jwks_verify_keys"]([])
