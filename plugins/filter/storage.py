# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Encrypted-storage filters of onprem.deepseek (documented in the sidecar <name>.yml files); the logic is in
plugins/module_utils/storage.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.deepseek.plugins.module_utils import storage


def luks_volume_problems(volumes):
    try:
        return storage.volume_problems(volumes)
    except (TypeError, ValueError, AttributeError) as exc:
        raise AnsibleFilterError("onprem.deepseek.luks_volume_problems: %s" % exc)


def luks_device_verdict(blkid_output, name, device, record_uuid="", force=False, wipefs_output="", in_place=False):
    if not isinstance(name, str) or not storage.NAME_RE.match(name):
        raise AnsibleFilterError("onprem.deepseek.luks_device_verdict: name is %r; want a volume name (lower-case letters,"
                                 " digits or _)" % (name,))
    try:
        return storage.device_verdict(str(blkid_output or ""), name, str(device), record_uuid=str(record_uuid or ""),
                                      force=bool(force), wipefs_output=str(wipefs_output or ""),
                                      in_place=bool(in_place))
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("onprem.deepseek.luks_device_verdict: %s" % exc)


def clevis_bindings(list_output, pin, config):
    if pin not in ("tang", "sss", "tpm2"):
        raise AnsibleFilterError("onprem.deepseek.clevis_bindings: pin is %r; allowed: tang, sss, tpm2" % (pin,))
    if not isinstance(config, dict):
        raise AnsibleFilterError("onprem.deepseek.clevis_bindings: config is %r; want the pin's configuration (a dictionary)" % (config,))
    try:
        return storage.clevis_bindings(str(list_output or ""), pin, config)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("onprem.deepseek.clevis_bindings: %s" % exc)


class FilterModule(object):
    """onprem.deepseek encrypted-storage filters."""

    def filters(self):
        return {"luks_volume_problems": luks_volume_problems, "luks_device_verdict": luks_device_verdict,
                "clevis_bindings": clevis_bindings}
