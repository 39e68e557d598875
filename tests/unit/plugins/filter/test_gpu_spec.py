# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""onprem.deepseek.gpu_spec: GPU names, nvidia-smi names, dicts."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError


@pytest.mark.parametrize("name,canonical,memory_mib,fp8", [
    # nvidia-smi --query-gpu=name,memory.total on the respective GPUs; datasheets:
    # https://www.nvidia.com/en-us/data-center/h100/
    ("NVIDIA H100 80GB HBM3", "H100-80G", 81559, True),
    ("h100-80g", "H100-80G", 81559, True),
    ("H100_80G", "H100-80G", 81559, True),
    # https://www.nvidia.com/en-us/data-center/a100/
    ("NVIDIA A100-SXM4-80GB", "A100-80G", 81920, False),
    ("A100-40G", "A100-40G", 40960, False),
    ("NVIDIA A100-SXM4-40GB", "A100-40G", 40960, False),
    # https://www.nvidia.com/en-us/data-center/h200/
    ("NVIDIA H200", "H200", 143771, True),
    ("H20", "H20", 97871, True),
    # https://www.nvidia.com/en-us/data-center/l40s/
    ("NVIDIA L40S", "L40S", 46068, True),
    ("NVIDIA GeForce RTX 4090", "RTX4090", 24564, True),
    ("rtx4090", "RTX4090", 24564, True),
    # https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html
    ("AMD Instinct MI300X", "MI300X", 196288, True),
    ("NVIDIA B200", "B200", 183359, True),
    ("NVIDIA H800", "H800", 81559, True),
    ("NVIDIA A800-SXM4-80GB", "A800", 81920, False),
    ("NVIDIA H100 PCIe", "H100-PCIe", 81559, True),
    ("NVIDIA L20", "L20", 46068, True),
])
def test_names(filters, name, canonical, memory_mib, fp8):
    spec = filters["gpu_spec"](name)
    assert spec["name"] == canonical
    assert spec["memory_mib"] == memory_mib
    assert spec["memory_gib"] == pytest.approx(memory_mib / 1024.0)
    assert spec["fp8"] is fp8


def test_fp8_needs_ada_or_newer(filters):
    # FP8 tensor cores: Ada (8.9), Hopper (9.0), Blackwell; not Ampere (8.0).
    # https://docs.nvidia.com/cuda/cuda-c-programming-guide/ (compute capabilities)
    for name in ("A100-80G", "A100-40G", "A800"):
        assert "fp8" not in filters["gpu_spec"](name)["kv_dtypes"]
    for name in ("H100-80G", "L40S", "RTX4090", "B200", "H20", "H200"):
        assert "fp8" in filters["gpu_spec"](name)["kv_dtypes"]


def test_dict_gpu(filters):
    spec = filters["gpu_spec"]({"name": "V100-32G", "memory_mib": 32768, "compute_capability": "7.0"})
    assert spec["memory_gib"] == 32.0
    assert spec["fp8"] is False
    assert "bf16" not in spec["weight_dtypes"]


def test_ambiguous_or_unknown_gpu(filters):
    with pytest.raises(AnsibleFilterError) as err:
        filters["gpu_spec"]("H1000")
    assert str(err.value) == ("onprem.deepseek.gpu_spec: unknown gpu 'H1000'; allowed: A100-40G, A100-80G, A800, H100-80G, H100-PCIe, "
                              "H800, H100-NVL, H800-PCIe, H20, H200, L40S, L40, L20, RTX4090, B200, MI300X, "
                              "H20-141G, H200-NVL, B300, GB200, RTX-PRO-6000-SE, RTX5090, L4, RTX-A6000, A10, V100-32G, MI325X, MI355X; "
                              "did you mean H100-80G or H800 or H200? Not listed? Give the GPU as a dict with memory_gib "
                              "(and compute_capability, bandwidth_gbps).")
    # A100 comes in 40 and 80 GB: the memory must be named
    with pytest.raises(AnsibleFilterError):
        filters["gpu_spec"]("A100")


def test_gpu_dict_needs_memory(filters):
    with pytest.raises(AnsibleFilterError) as err:
        filters["gpu_spec"]({"name": "x"})
    assert str(err.value) == "onprem.deepseek.gpu_spec: gpu dict needs 'memory_gib' or 'memory_mib'; got keys: name"
