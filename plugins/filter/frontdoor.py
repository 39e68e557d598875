# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Front-door filters of onprem.deepseek (documented in the sidecar <name>.yml files); the logic is in
plugins/module_utils/frontdoor.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.deepseek.plugins.module_utils import frontdoor


def frontdoor_services(hosts, hostvars, ports=None):
    rows = []
    for name in hosts or []:
        facts = hostvars[name]
        rows.append({"name": str(name), "deployment": facts.get("deepseek_deployment"), "service": facts.get("deepseek_service"),
                     "address": facts.get("loadbalancer_backend_address") or facts.get("ansible_host"),
                     "port": facts.get("loadbalancer_backend_port") or facts.get("gateway_port")})
    try:
        return frontdoor.services(rows, dict(ports or {}))
    except (frontdoor.FrontdoorError, TypeError, KeyError) as exc:
        raise AnsibleFilterError("onprem.deepseek.frontdoor_services: %s" % exc)


def frontdoor_problems(services):
    try:
        return frontdoor.problems(services)
    except (TypeError, KeyError) as exc:
        raise AnsibleFilterError("onprem.deepseek.frontdoor_problems: %s" % exc)


def frontdoor_vrrp(hosts, hostvars, vip, router_id=51, require_addresses=True):
    rows = []
    for name in hosts or []:
        facts = hostvars[name]
        gathered = facts.get("ansible_facts") or {}
        rows.append({"name": str(name), "address": facts.get("loadbalancer_vrrp_address"), "priority": facts.get("loadbalancer_vrrp_priority"),
                     "ansible_host": facts.get("ansible_host"),
                     "default_ipv4": gathered.get("default_ipv4") or {}, "default_ipv6": gathered.get("default_ipv6") or {}})
    try:
        return frontdoor.vrrp(rows, vip, router_id, require_addresses=bool(require_addresses))
    except (TypeError, KeyError, AttributeError) as exc:
        raise AnsibleFilterError("onprem.deepseek.frontdoor_vrrp: %s" % exc)


class FilterModule(object):
    """onprem.deepseek front-door filters."""

    def filters(self):
        return {"frontdoor_services": frontdoor_services, "frontdoor_problems": frontdoor_problems, "frontdoor_vrrp": frontdoor_vrrp}
