# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""onprem.deepseek.hugepages.  Page sizes: https://www.kernel.org/doc/html/latest/admin-guide/mm/hugetlbpage.html"""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError


@pytest.mark.parametrize("size,page,count,reserved_gib", [
    ("100GiB", "2M", 51200, 100.0),          # 100 x 1024 MiB / 2 MiB
    ("100G", "2M", 51200, 100.0),
    (100 * 2 ** 30, "2M", 51200, 100.0),
    ("100GB", "2M", 47684, 93.133),          # 10^11 bytes rounded up to whole 2 MiB pages
    ("64GiB", "1G", 64, 64.0),
    ("1.5TiB", "1G", 1536, 1536.0),
    ("3MiB", "2M", 2, 0.004),                # rounds up
    (0, "2M", 0, 0.0),
    ("2 GiB", "2MiB", 1024, 2.0),
])
def test_counts(filters, size, page, count, reserved_gib):
    result = filters["hugepages"](size, page)
    assert result["count"] == count
    assert result["reserved_gib"] == pytest.approx(reserved_gib, abs=0.001)
    assert result["page_size"] == page.replace("iB", "")


def test_sysctl_and_cmdline(filters):
    two = filters["hugepages"]("4GiB")
    assert two["sysctl"] == {"vm.nr_hugepages": 2048}
    assert two["page_size_kib"] == 2048
    one = filters["hugepages"]("4GiB", "1G")
    assert one["sysctl"] == {}
    assert one["kernel_cmdline"] == "default_hugepagesz=1G hugepagesz=1G hugepages=4"


def test_ram_share(filters):
    ok = filters["hugepages"]("100GiB", ram_total_gib=512, max_fraction=0.5)
    assert ok["ram_fraction"] == pytest.approx(100 / 512.0, abs=1e-4)
    with pytest.raises(AnsibleFilterError) as err:
        filters["hugepages"]("300GiB", ram_total_gib=512, max_fraction=0.5)
    assert str(err.value) == ("onprem.deepseek.hugepages: refusing to reserve 153600 x 2M hugepages = 300.00 GiB, 58.6% of 512.00 GiB RAM; "
                              "the limit is max_fraction 0.50 = 256.00 GiB")


@pytest.mark.parametrize("args,message", [
    ((-5,), "onprem.deepseek.hugepages: size must be >= 0, got -5"),
    (("-5GiB",), "onprem.deepseek.hugepages: size must be >= 0, got '-5GiB'"),
    (("lots",), "onprem.deepseek.hugepages: size must be a size in bytes or a string like '100GiB' (units: B, K, KiB, KB, M, MiB, MB, G, GiB, GB, "
                "T, TiB, TB), got 'lots'"),
    (("1GiB", "4M"), "onprem.deepseek.hugepages: unknown page_size '4M'; allowed: 2M, 1G"),
])
def test_bad_input(filters, args, message):
    with pytest.raises(AnsibleFilterError) as err:
        filters["hugepages"](*args)
    assert str(err.value) == message
