# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Gateway filters of onprem.deepseek (documented in the sidecar <name>.yml files); the logic is in
plugins/module_utils/jwks.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.deepseek.plugins.module_utils import jwks


def jwks_verify_keys(jwk_set, default_alg="RS256"):
    try:
        return jwks.verify_keys(jwk_set, default_alg=default_alg)
    except jwks.JwksError as exc:
        raise AnsibleFilterError("onprem.deepseek.jwks_verify_keys: %s" % exc)


class FilterModule(object):
    """onprem.deepseek gateway filters."""

    def filters(self):
        return {"jwks_verify_keys": jwks_verify_keys}
