# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Load -> replicas: the engine replicas a request rate needs, on average or by Erlang C (M/M/c)."""

from __future__ import annotations

import math

from ansible_collections.onprem.deepseek.plugins.module_utils import common


def erlang_c(servers, offered_load):
    """Probability that an arrival waits in an M/M/c queue (Erlang C), via the stable Erlang-B recurrence."""
    if servers <= offered_load:
        return 1.0
    b = 1.0
    for n in range(1, servers + 1):
        b = offered_load * b / (n + offered_load * b)
    return servers * b / (servers - offered_load * (1.0 - b))


METHODS = ("average", "erlang_c")


def replicas_for_load(requests_per_day, seconds_per_request, peak_factor=1.0, method="average",
                      max_wait_probability=0.2, slots_per_replica=1):
    rpd = common._number("requests_per_day", requests_per_day, 0.0)
    t = common._number("seconds_per_request", seconds_per_request, 0.0, allow_equal_min=False)
    peak = common._number("peak_factor", 1.0 if peak_factor is None else peak_factor, 1.0)
    slots = common._number("slots_per_replica", 1 if slots_per_replica is None else slots_per_replica, 1, integer=True)
    if method not in METHODS:
        raise common._unknown("method", method, METHODS)
    target = common._number("max_wait_probability", max_wait_probability, 0.0, 1.0, allow_equal_min=False)
    lam = rpd / 86400.0
    lam_peak = lam * peak
    load = lam_peak * t
    if method == "average":
        needed = int(math.ceil(load - 1e-9)) if load > 0 else 0
        wait = None
    else:
        needed = int(math.floor(load)) + 1 if load > 0 else 0
        while needed and erlang_c(needed, load) > target:
            needed += 1
        wait = round(erlang_c(needed, load), 6) if needed else 0.0
    replicas = int(math.ceil(needed / float(slots))) if needed else 0
    if rpd > 0:
        replicas = max(1, replicas)
    return {
        "method": method,
        "arrival_rate_per_s": round(lam, 6),
        "peak_arrival_rate_per_s": round(lam_peak, 6),
        "offered_load_erlangs": round(load, 6),
        "concurrent_requests": needed,
        "slots_per_replica": slots,
        "replicas": replicas,
        "utilization": round(load / (replicas * slots), 4) if replicas else 0.0,
        "wait_probability": wait,
        "max_wait_probability": target if method == "erlang_c" else None,
    }
