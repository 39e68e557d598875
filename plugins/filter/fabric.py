# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Fabric filters of onprem.deepseek (documented in the sidecar <name>.yml files); the logic is in
plugins/module_utils/fabric.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.deepseek.plugins.module_utils import common, fabric


def fabric_config(hardware, transport="none", host="", hcas=None, min_rate_gbps=0, socket_ifname="", ib_hca="auto",
                  gpudirect="none", nccl_overrides=None, address="", pool="", index=0, offset=10, check_ports=True,
                  qos=None):
    try:
        return fabric.fabric_config(hardware, transport=transport, host=host, hcas=hcas, min_rate_gbps=min_rate_gbps,
                                    socket_ifname=socket_ifname, ib_hca=ib_hca, gpudirect=gpudirect,
                                    nccl_overrides=nccl_overrides, address=address, pool=pool, index=index, offset=offset,
                                    check_ports=check_ports, qos=qos)
    except (common.SizingError, ValueError, TypeError) as exc:
        raise AnsibleFilterError("onprem.deepseek.fabric_config: %s" % exc)


def perftest_figures(output, kind="bandwidth"):
    try:
        if kind == "bandwidth":
            return fabric.perftest_bandwidth(output)
        if kind == "latency":
            return fabric.perftest_latency(output)
        raise ValueError("kind %r; allowed: bandwidth, latency" % kind)
    except ValueError as exc:
        raise AnsibleFilterError("onprem.deepseek.perftest_figures: %s" % exc)


class FilterModule(object):
    """onprem.deepseek fabric filters."""

    def filters(self):
        return {"fabric_config": fabric_config, "perftest_figures": perftest_figures}
