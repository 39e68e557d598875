# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A JSON Web Key Set (RFC 7517) turned into the keys the gateway's njs check imports.

nginx's njs 0.7 (Debian 12) imports WebCrypto keys from SPKI DER only (the JWK format arrived in njs 0.7.10), so the
identity provider's JWKS is converted on the controller, by the `cryptography` library (an Ansible dependency): no
ASN.1 or key arithmetic is written here. Only signing keys of the algorithms below are kept; the gateway refuses a
token whose header names another algorithm (``none`` and HMAC included), or a key id the set does not hold.
"""

from __future__ import annotations

import base64
import binascii
import re

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - ansible-core depends on cryptography
    HAS_CRYPTOGRAPHY = False

# JWS algorithm -> (JWK kty, EC curve or None, WebCrypto import and verify parameters), RFC 7518 sections 3.3 and 3.4.
ALGORITHMS = {
    "RS256": ("RSA", None, {"name": "RSASSA-PKCS1-v1_5", "hash": "SHA-256"}),
    "RS384": ("RSA", None, {"name": "RSASSA-PKCS1-v1_5", "hash": "SHA-384"}),
    "RS512": ("RSA", None, {"name": "RSASSA-PKCS1-v1_5", "hash": "SHA-512"}),
    "ES256": ("EC", "P-256", {"name": "ECDSA", "namedCurve": "P-256", "hash": "SHA-256"}),
    "ES384": ("EC", "P-384", {"name": "ECDSA", "namedCurve": "P-384", "hash": "SHA-384"}),
}
_CURVES = {"P-256": "SECP256R1", "P-384": "SECP384R1"}
# RSA keys shorter than this are refused (RFC 7518 section 3.3: "A key of size 2048 bits or larger MUST be used").
MIN_RSA_BITS = 2048
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


class JwksError(ValueError):
    """A JWKS the gateway cannot use; the message names the key and what is wrong."""


def _b64url_int(value, what):
    if not isinstance(value, str) or not value:
        raise JwksError("%s is %r; want a base64url string (RFC 7518)" % (what, value))
    if not _B64URL.match(value):
        raise JwksError("%s is not base64url" % what)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise JwksError("%s is not base64url" % what)
    return int.from_bytes(raw, "big")


def _public_key(jwk, alg, label):
    kty, curve, _params = ALGORITHMS[alg]
    if jwk.get("kty") != kty:
        raise JwksError("%s: alg %s needs kty %s, the key has kty %r" % (label, alg, kty, jwk.get("kty")))
    if kty == "RSA":
        n = _b64url_int(jwk.get("n"), label + " n")
        e = _b64url_int(jwk.get("e"), label + " e")
        if n.bit_length() < MIN_RSA_BITS:
            raise JwksError("%s: RSA modulus of %d bits; at least %d are needed (RFC 7518 section 3.3)" % (label, n.bit_length(), MIN_RSA_BITS))
        return rsa.RSAPublicNumbers(e, n).public_key()
    if jwk.get("crv") != curve:
        raise JwksError("%s: alg %s needs crv %s, the key has crv %r" % (label, alg, curve, jwk.get("crv")))
    x = _b64url_int(jwk.get("x"), label + " x")
    y = _b64url_int(jwk.get("y"), label + " y")
    try:
        return ec.EllipticCurvePublicNumbers(x, y, getattr(ec, _CURVES[curve])()).public_key()
    except ValueError as exc:
        raise JwksError("%s: %s" % (label, exc))


def verify_keys(jwks, default_alg="RS256"):
    """{kid: {"alg", "spki" (base64 DER), "params" (WebCrypto)}} for the signing keys of a JWKS.

    A key without "alg" takes `default_alg` when its kty matches it; keys with "use" other than "sig", or with an
    "alg" this gateway does not verify (HS256, PS256, EdDSA...), are left out. A key without "kid" is stored under ""
    (tokens without a kid header use it). Fewer than one usable key, or two keys with one kid, is an error.
    """
    if not HAS_CRYPTOGRAPHY:
        raise JwksError("the Python library cryptography is needed on the controller to read a JWKS")
    if default_alg not in ALGORITHMS:
        raise JwksError("default alg %r; allowed: %s" % (default_alg, ", ".join(sorted(ALGORITHMS))))
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise JwksError("want a JWKS: a mapping with a 'keys' list (RFC 7517 section 5), got %r" % (type(jwks).__name__,))
    out = {}
    for index, jwk in enumerate(jwks["keys"]):
        if not isinstance(jwk, dict):
            raise JwksError("keys[%d] is %r; want a JWK mapping" % (index, jwk))
        kid = jwk.get("kid", "")
        label = "keys[%d] (kid %r)" % (index, kid)
        if not isinstance(kid, str):
            raise JwksError("%s: kid must be a string" % label)
        if jwk.get("use", "sig") != "sig":
            continue
        alg = jwk.get("alg")
        if alg is None:
            alg = default_alg if jwk.get("kty") == ALGORITHMS[default_alg][0] else None
        if alg not in ALGORITHMS:
            continue
        if kid in out:
            raise JwksError("%s: two signing keys share this kid" % label)
        spki = _public_key(jwk, alg, label).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        out[kid] = {"alg": alg, "spki": base64.b64encode(spki).decode("ascii"), "params": dict(ALGORITHMS[alg][2])}
    if not out:
        raise JwksError("no signing key of a supported algorithm (%s) in the JWKS" % ", ".join(sorted(ALGORITHMS)))
    return out
