# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Hugepages: how many pages of which size reserve a given amount of memory, within a share of RAM."""

from __future__ import annotations

import math

from ansible_collections.onprem.deepseek.plugins.module_utils import common


PAGE_SIZES = {"2M": 2 * 2 ** 20, "1G": 2 ** 30}


def hugepages(size, page_size="2M", ram_total_gib=None, max_fraction=0.5):
    size_bytes = common.parse_size(size, "size")
    page_bytes = PAGE_SIZES.get(str(page_size).upper().replace("IB", "").replace("B", "")) if not isinstance(page_size, int) else page_size
    if page_bytes not in PAGE_SIZES.values():
        raise common._unknown("page_size", page_size, list(PAGE_SIZES))
    page_name = [k for k, v in PAGE_SIZES.items() if v == page_bytes][0]
    count = int(math.ceil(size_bytes / float(page_bytes)))
    reserved = count * page_bytes
    max_fraction = common._number("max_fraction", max_fraction, 0.0, 1.0, allow_equal_min=False)
    result = {
        "size_bytes": size_bytes,
        "page_size": page_name,
        "page_size_bytes": page_bytes,
        "page_size_kib": page_bytes // 1024,
        "count": count,
        "reserved_bytes": reserved,
        "reserved_gib": common._gib(reserved),
        "ram_total_gib": None,
        "ram_fraction": None,
        "max_fraction": max_fraction,
        "sysctl": {"vm.nr_hugepages": count} if page_name == "2M" else {},
        "kernel_cmdline": "default_hugepagesz=%s hugepagesz=%s hugepages=%d" % (page_name, page_name, count),
    }
    if ram_total_gib is not None:
        ram = common._number("ram_total_gib", ram_total_gib, 0.0, allow_equal_min=False)
        fraction = reserved / (ram * common.GIB)
        if fraction > max_fraction:
            raise common.SizingError(
                "refusing to reserve %d x %s hugepages = %.2f GiB, %.1f%% of %.2f GiB RAM; the limit is max_fraction %.2f = %.2f GiB"
                % (count, page_name, reserved / common.GIB, fraction * 100, ram, max_fraction, ram * max_fraction),
                "size", size)
        result["ram_total_gib"] = ram
        result["ram_fraction"] = round(fraction, 4)
    return result
