# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""onprem.deepseek.cuda_compatible.

Minimum drivers: CUDA Toolkit release notes, Table 3 (toolkit driver) and Table 2 (minor version compatibility),
https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/ and
https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html
"""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError


@pytest.mark.parametrize("driver,cuda,compat,expected", [
    ("550.54.15", "12.4", True, True),
    ("550.54.14", "12.4", False, True),      # CUDA 12.4 GA needs >= 550.54.14
    ("550.54.13", "12.4", False, False),
    ("535.104.05", "12.4", True, True),      # minor version compatibility: any 12.x on >= 525.60.13
    ("535.104.05", "12.4", False, False),
    ("525.60.13", "12.8", True, True),
    ("525.60.12", "12.0", True, False),
    ("570.124.06", "12.8", False, True),     # CUDA 12.8 GA needs >= 570.26
    ("565.57.01", "12.8", False, False),
    ("450.80.02", "11.8", True, True),       # 11.x minor version compatibility: >= 450.80.02
    ("450.80.02", "11.8", False, False),     # CUDA 11.8 needs >= 520.61.05
    ("580.65.06", "13.0", False, True),
    ("575.57.08", "13.0", True, False),
    ("580.82.07", "12.4", False, True),      # newer drivers run older toolkits
    ("470.256.02", "12.0", True, False),
])
def test_table(tests, driver, cuda, compat, expected):
    assert tests["cuda_compatible"](driver, cuda, minor_version_compat=compat) is expected


def test_default_is_minor_version_compat(tests):
    assert tests["cuda_compatible"]("535.104.05", "12.6") is True


@pytest.mark.parametrize("args,message", [
    (("550.54.15", "12.7"), "onprem.deepseek.cuda_compatible: unknown cuda_version '12.7'; allowed: 11.0, 11.1, 11.2, 11.3, 11.4, 11.5, 11.6, "
                            "11.7, 11.8, 12.0, 12.1, 12.2, 12.3, 12.4, 12.5, 12.6, 12.8, 12.9, 13.0; did you mean 12.9 or 12.8 or 12.6?"),
    (("five-fifty", "12.4"), "onprem.deepseek.cuda_compatible: driver_version must be a dotted version like '550.54.15', got 'five-fifty'"),
])
def test_bad_input(tests, args, message):
    with pytest.raises(AnsibleFilterError) as err:
        tests["cuda_compatible"](*args)
    assert str(err.value) == message
