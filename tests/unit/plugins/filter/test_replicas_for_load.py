# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""onprem.deepseek.replicas_for_load: Little's law and Erlang C.

Erlang C reference values from the closed form P_wait = (A^N/N! * N/(N-A)) / (sum_{k<N} A^k/k! + A^N/N! * N/(N-A)),
https://en.wikipedia.org/wiki/Erlang_(unit)#Erlang_C_formula
"""

from __future__ import annotations

import math

import pytest

from ansible.errors import AnsibleFilterError


def _erlang_c_closed_form(n, a):
    top = a ** n / math.factorial(n) * n / (n - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(n)) + top)


@pytest.mark.parametrize("rpd,seconds,peak,expected", [
    (86400, 1, 1.0, 1),          # one request per second, one second each -> 1 busy slot
    (86400, 10, 1.0, 10),
    (100000, 30, 3.0, 105),      # 100000/86400 x 3 x 30 = 104.17 -> 105
    (864000, 2.5, 1.0, 25),
    (0, 10, 1.0, 0),
])
def test_average(filters, rpd, seconds, peak, expected):
    result = filters["replicas_for_load"](rpd, seconds, peak_factor=peak)
    assert result["concurrent_requests"] == expected
    assert result["replicas"] == expected


def test_slots_per_replica(filters):
    result = filters["replicas_for_load"](100000, 30, peak_factor=3, slots_per_replica=16)
    assert result["replicas"] == 7  # ceil(105 / 16)


def test_erlang_c_reference_value():
    from ansible_collections.onprem.deepseek.plugins.module_utils.sizing import erlang_c

    # textbook example: A = 2 Erlangs, N = 3 servers -> P_wait = 4/9
    assert erlang_c(3, 2.0) == pytest.approx(4.0 / 9.0, rel=1e-9)
    for n, a in ((5, 3.0), (20, 15.5), (50, 42.0)):
        assert erlang_c(n, a) == pytest.approx(_erlang_c_closed_form(n, a), rel=1e-9)


def test_erlang_c_method(filters):
    # A = 172800/86400 x 1 = 2 Erlangs; N=3 gives 0.444, N=4 gives 0.174 -> 4 slots for a 20 % target
    result = filters["replicas_for_load"](172800, 1, method="erlang_c", max_wait_probability=0.2)
    assert result["offered_load_erlangs"] == 2.0
    assert result["concurrent_requests"] == 4
    assert result["wait_probability"] == pytest.approx(_erlang_c_closed_form(4, 2.0), abs=1e-6)
    strict = filters["replicas_for_load"](172800, 1, method="erlang_c", max_wait_probability=0.01)
    assert strict["concurrent_requests"] > 4
    assert strict["wait_probability"] <= 0.01


@pytest.mark.parametrize("args,kwargs,message", [
    ((-1, 10), {}, "onprem.deepseek.replicas_for_load: requests_per_day must be >= 0.0, got -1"),
    ((100, 0), {}, "onprem.deepseek.replicas_for_load: seconds_per_request must be > 0.0, got 0"),
    ((100, 1), {"peak_factor": 0.5}, "onprem.deepseek.replicas_for_load: peak_factor must be >= 1.0, got 0.5"),
    ((100, 1), {"method": "poisson"}, "onprem.deepseek.replicas_for_load: unknown method 'poisson'; allowed: average, erlang_c"),
])
def test_bad_input(filters, args, kwargs, message):
    with pytest.raises(AnsibleFilterError) as err:
        filters["replicas_for_load"](*args, **kwargs)
    assert str(err.value) == message
