# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The front door's services: which gateways answer for each service, on which port.

A deployment (the hosts sharing deepseek_deployment, "default" without it) is one engine instance: across several
nodes only its first host (sorted by name, as deployment_hosts) serves, so it is one backend, that host's gateway.
Deployments that set the same deepseek_service are replicas of one service (the same model behind one endpoint);
without it each deployment is its own service. Pure functions: the filter onprem.deepseek.frontdoor_services feeds
them from hostvars, the loadbalancer role renders HAProxy's configuration from what they return.

vrrp() describes the virtual address that keepalived moves between the front-door hosts (one VRRP instance, unicast
to the peers): each host's address on the VIP's network and its priority, with the problems of the input as
sentences (the role fails listing them before anything changes).
"""

from __future__ import annotations

import ipaddress
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


# VRRP priorities: the first front door (sorted by name) 150, the next 140, ... (never below 10). keepalived's state
# is BACKUP on all of them with nopreempt, so the priority decides only who takes the address when several start.
VRRP_FIRST_PRIORITY = 150
VRRP_PRIORITY_STEP = 10


def _interface(vip):
    if not isinstance(vip, str) or "/" not in vip:
        raise ValueError(vip)
    return ipaddress.ip_interface(vip)


def vrrp(hosts, vip, router_id, require_addresses=True):
    """{vip, router_id, members: [{name, address, priority}], problems: [sentence]} of one VRRP instance.

    hosts: [{name, address, default_ipv4, default_ipv6, ansible_host, priority}] of the front-door hosts: address is
    loadbalancer_vrrp_address (given), else the default address of the VIP's family from the host's facts, else
    ansible_host when it is an address of that family; priority is loadbalancer_vrrp_priority (given), else by name.
    require_addresses=False (the input checks before facts are gathered): a host without a known address is not a
    problem yet. vip: "" means no virtual address (members empty, no problem).
    """
    found = {"vip": vip or "", "router_id": router_id, "members": [], "problems": []}
    problems = found["problems"]
    if not vip:
        return found
    try:
        network = _interface(vip)
    except ValueError:
        problems.append("loadbalancer_vip is %r; allowed: an address with its prefix length on the front doors' network "
                        "(10.0.10.100/24, fd00::100/64), or empty (no virtual address)" % (vip,))
        return found
    found["vip"] = str(network)
    if str(router_id).strip().isdigit() and 1 <= int(router_id) <= 255:
        found["router_id"] = int(router_id)
    else:
        problems.append("loadbalancer_vrrp_router_id is %r; allowed: 1-255, the same on the front doors sharing this "
                        "address and different from any other VRRP router on their network" % (router_id,))
    family = "default_ipv%d" % network.version
    by_address = {}
    for index, host in enumerate(sorted(hosts, key=lambda h: h["name"])):
        name = host["name"]
        address = host.get("address") or (host.get(family) or {}).get("address") or host.get("ansible_host")
        try:
            parsed = ipaddress.ip_address(str(address)) if address else None
        except ValueError:
            parsed = None
            if host.get("address"):
                problems.append("loadbalancer_vrrp_address of %s is %r; allowed: its IPv%d address on %s's network"
                                % (name, address, network.version, found["vip"]))
                continue
        if parsed is None or parsed.version != network.version:
            if require_addresses:
                problems.append("%s has no known IPv%d address for VRRP (no default route in its facts, ansible_host %r); "
                                "set loadbalancer_vrrp_address to its address on %s's network"
                                % (name, network.version, host.get("ansible_host"), network.network))
            continue
        if parsed not in network.network:
            problems.append("the address %s of %s is not on the network of loadbalancer_vip %s; allowed: the VIP on the "
                            "front doors' own network (set loadbalancer_vrrp_address where the default route is elsewhere)"
                            % (parsed, name, found["vip"]))
        if parsed == network.ip:
            problems.append("%s's own address is loadbalancer_vip %s; allowed: an address no host holds" % (name, parsed))
        priority = host.get("priority")
        if priority in (None, ""):
            priority = max(VRRP_FIRST_PRIORITY - VRRP_PRIORITY_STEP * index, 10)
        elif not (str(priority).strip().isdigit() and 1 <= int(priority) <= 254):
            problems.append("loadbalancer_vrrp_priority of %s is %r; allowed: 1-254" % (name, priority))
            continue
        by_address.setdefault(str(parsed), []).append(name)
        found["members"].append({"name": name, "address": str(parsed), "priority": int(priority)})
    for address, names in sorted(by_address.items()):
        if len(names) > 1:
            problems.append("front doors %s have the same VRRP address %s; allowed: one address per host" % (" and ".join(names), address))
    return found
