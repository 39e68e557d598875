# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""CUDA driver compatibility: the minimum NVIDIA driver of a CUDA version, and whether a driver runs it."""

from __future__ import annotations

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, common


def cuda_compatible(driver_version, cuda_version, minor_version_compat=True):
    driver = common._version_tuple(driver_version, "driver_version")
    wanted = common._version_tuple(cuda_version, "cuda_version")
    key = "%d.%d" % (wanted[0], wanted[1] if len(wanted) > 1 else 0)
    if key not in catalog.CUDA_TOOLKIT_DRIVERS:
        raise common._unknown("cuda_version", cuda_version, list(catalog.CUDA_TOOLKIT_DRIVERS))
    if minor_version_compat and str(wanted[0]) in catalog.CUDA_MINOR_COMPAT_DRIVERS:
        minimum = catalog.CUDA_MINOR_COMPAT_DRIVERS[str(wanted[0])]
    else:
        minimum = catalog.CUDA_TOOLKIT_DRIVERS[key]
    return driver >= common._version_tuple(minimum, "minimum")


def cuda_minimum_driver(cuda_version, minor_version_compat=True):
    wanted = common._version_tuple(cuda_version, "cuda_version")
    key = "%d.%d" % (wanted[0], wanted[1] if len(wanted) > 1 else 0)
    if key not in catalog.CUDA_TOOLKIT_DRIVERS:
        raise common._unknown("cuda_version", cuda_version, list(catalog.CUDA_TOOLKIT_DRIVERS))
    if minor_version_compat and str(wanted[0]) in catalog.CUDA_MINOR_COMPAT_DRIVERS:
        return catalog.CUDA_MINOR_COMPAT_DRIVERS[str(wanted[0])]
    return catalog.CUDA_TOOLKIT_DRIVERS[key]
