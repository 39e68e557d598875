# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Air-gapped bundle filters of onprem.deepseek (documented in the sidecar <name>.yml files); the logic is in
plugins/module_utils/bundle.py."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.deepseek.plugins.module_utils import bundle
from ansible_collections.onprem.deepseek.plugins.module_utils import bundle_packages


def bundle_sources(document, deployment, suite, apt=True, images=True, models=True, family="Debian"):
    if not isinstance(document, dict):
        raise AnsibleFilterError("onprem.deepseek.bundle_sources: the input is %r; want bundle.json, parsed (from_json)" % (type(document).__name__,))
    try:
        return bundle.host_sources(document, str(deployment or ""), str(suite), apt=bool(apt), images=bool(images), models=bool(models),
                                   family=str(family))
    except (TypeError, KeyError, AttributeError) as exc:
        raise AnsibleFilterError("onprem.deepseek.bundle_sources: bundle.json is not what the bundle playbook writes: %s" % exc)


def bundle_apt_packages(groups, hostvars, tables, extra=None, gpu=None):
    if not isinstance(groups, Mapping):
        raise AnsibleFilterError("onprem.deepseek.bundle_apt_packages: the input is %r; want the magic variable groups" % (type(groups).__name__,))
    extra = [] if extra is None else extra
    if isinstance(extra, str) or not isinstance(extra, (list, tuple)):
        raise AnsibleFilterError("onprem.deepseek.bundle_apt_packages: extra is %r; want a list of package names" % (extra,))
    try:
        return bundle_packages.site_packages(dict((k, list(v)) for k, v in groups.items()), hostvars, tables, [str(e) for e in extra], gpu)
    except KeyError as exc:
        raise AnsibleFilterError("onprem.deepseek.bundle_apt_packages: the tables lack %s (want the roles' package lists, "
                                 "as playbooks/bundle.yml passes them)" % exc)


def bundle_gpu_hosts(groups, hostvars):
    if not isinstance(groups, Mapping):
        raise AnsibleFilterError("onprem.deepseek.bundle_gpu_hosts: the input is %r; want the magic variable groups" % (type(groups).__name__,))
    return bundle_packages.gpu_hosts(dict((k, list(v)) for k, v in groups.items()), hostvars)


def bundle_apt_sources(sources):
    return bundle_packages.apt_sources(sources)


class FilterModule(object):
    """onprem.deepseek air-gapped bundle filters."""

    def filters(self):
        return {"bundle_sources": bundle_sources, "bundle_apt_packages": bundle_apt_packages,
                "bundle_apt_sources": bundle_apt_sources, "bundle_gpu_hosts": bundle_gpu_hosts}
