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

# The Erlang C search walks the Erlang-B recurrence once, upward from a - 10*sqrt(a) (below that the
# recurrence forgets its starting value: each step there shrinks an error by about n/a < 1), to the first
# slot count meeting the target, which square-root staffing puts at a + beta*sqrt(a) (beta about 3 for a 1e-3
# target, 5 for 1e-6); the walk stops at a + 100*sqrt(a). That is O(sqrt(a)) steps: 5e4 to 1e6 at the cap
# below. Past the cap the method refuses with the reason: there Erlang C adds about 5*sqrt(a) slots to the
# average answer for a 1e-6 target, under 0.05 %.
MAX_ERLANG_C_LOAD = 1e8


def _erlang_c_slots(load, target):
    """(slots, wait probability): the fewest slots whose Erlang C wait probability is <= target."""
    root = math.sqrt(load)
    n = max(0, int(math.floor(load - 10.0 * root)))
    # B(0) = 1 exactly; higher up, the fluid value 1 - n/a, whose error the recurrence damps out.
    b = 1.0 if n == 0 else 1.0 - n / load
    stop = int(math.ceil(load + 100.0 * root)) + 100
    while n < stop:
        n += 1
        b = load * b / (n + load * b)
        if n > load:
            wait = n * b / (n - load * (1.0 - b))
            if wait <= target:
                return n, wait
    raise common.SizingError("erlang_c found no slot count up to %d for offered load %r Erlangs and max_wait_probability %r"
                             % (stop, load, target), "max_wait_probability", target)


def replicas_for_concurrency(concurrent_requests, slots_per_replica):
    """Replicas whose slots hold `concurrent_requests` at once: ceil(N / slots), at least one when N > 0.

    replicas_for_load turns a request rate into N; gpu_plan (layout.py) calls this with the concurrency it is asked for
    and one replica's max_concurrency when a dense model needs data-parallel replicas.
    """
    if concurrent_requests <= 0:
        return 0
    return max(1, int(math.ceil(concurrent_requests / float(slots_per_replica))))


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
    if not math.isfinite(load):
        raise common.SizingError("requests_per_day x peak_factor x seconds_per_request overflows: %r x %r x %r"
                                 % (rpd, peak, t), "requests_per_day", rpd)
    if method == "average":
        needed = int(math.ceil(load - 1e-9)) if load > 0 else 0
        wait = None
    elif load > MAX_ERLANG_C_LOAD:
        raise common.SizingError("method erlang_c is evaluated up to %g Erlangs of offered load, got %g (requests_per_day %r); "
                                 "use method average: at that scale Erlang C adds under 0.05 %% to it"
                                 % (MAX_ERLANG_C_LOAD, load, rpd), "requests_per_day", rpd)
    elif load > 0:
        needed, wait = _erlang_c_slots(load, target)
        wait = round(wait, 6)
    else:
        needed, wait = 0, 0.0
    replicas = replicas_for_concurrency(needed, slots)
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
