# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Test plugin cuda_compatible; documented in cuda_compatible.yml beside this file."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.deepseek.plugins.module_utils import common, cuda_driver


def cuda_compatible(driver_version, cuda_version, minor_version_compat=True):
    if not isinstance(minor_version_compat, bool):
        raise AnsibleFilterError("onprem.deepseek.cuda_compatible: minor_version_compat must be true or false, got %r" % (minor_version_compat,))
    try:
        return cuda_driver.cuda_compatible(driver_version, cuda_version, minor_version_compat=minor_version_compat)
    except common.SizingError as exc:
        raise AnsibleFilterError("onprem.deepseek.cuda_compatible: %s" % exc)


class TestModule(object):
    """onprem.deepseek tests."""

    def tests(self):
        return {"cuda_compatible": cuda_compatible}
