# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The front door's services: which gateways answer for each service, on which port.

A deployment (the hosts sharing deepseek_deployment, "default" without it) is one engine instance: across several
nodes only its first host (sorted by name, as deployment_hosts) serves, so it is one backend, that host's gateway.
Deployments that set the same deepseek_service are replicas of one service (the same model behind one endpoint);
without it each deployment is its own service. Pure functions: the filter onprem.deepseek.frontdoor_services feeds
them from hostvars, the loadbalancer role renders HAProxy's configuration from what they return.
"""

from __future__ import annotations

import re

DEFAULT_DEPLOYMENT = "default"
DEFAULT_PORT = 443
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class FrontdoorError(ValueError):
    """Input that cannot describe a service."""


def _port(value, what):
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise FrontdoorError("%s is %r; allowed: a port, 1-65535" % (what, value))
    if not 1 <= port <= 65535:
        raise FrontdoorError("%s is %r; allowed: a port, 1-65535" % (what, value))
    return port


def services(hosts, ports=None):
    """[{name, port, backends: [{name, address, port, deployment}]}] sorted by service name.

    hosts: [{name, deployment, service, address, port}] (deployment, service, address and port may be missing or
    None: "default", the deployment, the host's name and 443). ports: {service: port} of the front door; a service
    without one listens on 443.
    """
    ports = ports or {}
    heads = {}
    for host in sorted(hosts, key=lambda h: h["name"]):
        deployment = host.get("deployment") or DEFAULT_DEPLOYMENT
        if deployment in heads:
            continue  # a later node of a multi-node deployment: its head already serves
        heads[deployment] = host
    by_service = {}
    for deployment, host in heads.items():
        service = host.get("service") or deployment
        if not NAME_RE.match(str(service)):
            raise FrontdoorError("deepseek_service of %s is %r; allowed: letters, digits, _ . -" % (host["name"], service))
        by_service.setdefault(str(service), []).append({
            "name": host["name"], "deployment": deployment, "address": str(host.get("address") or host["name"]),
            "port": _port(host.get("port") or DEFAULT_PORT, "the gateway port of %s" % host["name"])})
    unknown = sorted(set(ports) - set(by_service))
    if unknown:
        raise FrontdoorError("loadbalancer_ports names %s, not a service of the inventory (services: %s)"
                             % (", ".join(unknown), ", ".join(sorted(by_service)) or "none"))
    return [{"name": name, "port": _port(ports.get(name, DEFAULT_PORT), "loadbalancer_ports[%s]" % name),
             "backends": sorted(backends, key=lambda b: b["name"])}
            for name, backends in sorted(by_service.items())]


def problems(service_list):
    """Sentences for services that cannot share one front door: two on one port."""
    seen = {}
    for service in service_list:
        seen.setdefault(service["port"], []).append(service["name"])
    return ["services %s all listen on port %d; give each its own in loadbalancer_ports ({service: port})"
            % (" and ".join(names), port) for port, names in sorted(seen.items()) if len(names) > 1]
