# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""GPUs: catalogue lookup by name (nvidia-smi names and aliases too) or from a dict."""

from __future__ import annotations

import copy
import re

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, common


GPU_ROUTE = "Give the GPU as a dict with memory_gib (and compute_capability, bandwidth_gbps)."


def _gpu_key(name):
    key = str(name).lower()
    key = re.sub(r"\b(nvidia|amd|geforce|instinct|tesla)\b", " ", key)
    key = re.sub(r"(\d+)\s*gb?\b", r"\1g", key)
    return common._norm(key)


def _gpu_index():
    index = {}
    for entry in catalog.GPUS:
        for name in [entry["name"]] + list(entry["aliases"]):
            index[_gpu_key(name)] = entry
    return index


_GPU_INDEX = _gpu_index()


def gpu_names():
    return [g["name"] for g in catalog.GPUS]


def gpu_spec(gpu):
    """Normalised GPU dict from a catalogue name, an nvidia-smi name or a dict."""
    if isinstance(gpu, dict):
        spec = copy.deepcopy(dict(gpu))
        if "memory_gib" not in spec and "memory_mib" in spec:
            spec["memory_gib"] = common._number("gpu.memory_mib", spec["memory_mib"], 0, allow_equal_min=False) / 1024.0
        if "memory_gib" not in spec:
            raise common.SizingError("gpu dict needs 'memory_gib' or 'memory_mib'; got keys: %s" % ", ".join(sorted(str(k) for k in spec)), "gpu", spec)
        spec["memory_gib"] = float(common._number("gpu.memory_gib", spec["memory_gib"], 0, allow_equal_min=False))
        spec.setdefault("name", "custom-gpu")
        spec.setdefault("vendor", "nvidia")
        cc = str(spec.get("compute_capability", "9.0"))
        spec["compute_capability"] = cc
        try:
            ccf = float(cc)
        except ValueError:
            ccf = 9.0
        spec.setdefault("fp8", spec["vendor"] == "amd" or ccf >= 8.9)
        spec.setdefault("architecture", "unknown")
        spec.setdefault("bandwidth_gbps", None)
        spec.setdefault("weight_dtypes", ["bf16", "fp16", "fp8", "int8", "awq", "gptq", "gguf"] if ccf >= 8.0 else ["fp16", "int8", "awq", "gptq", "gguf"])
        spec.setdefault("kv_dtypes", (["bf16", "fp16"] if ccf >= 8.0 else ["fp16"]) + (["fp8"] if spec["fp8"] else []))
        spec.setdefault("aliases", [])
        return spec
    if not isinstance(gpu, str) or not gpu.strip():
        raise common._unknown("gpu", gpu, gpu_names(), GPU_ROUTE)
    entry = _GPU_INDEX.get(_gpu_key(gpu))
    if entry is None:
        # closest names among the aliases too (what nvidia-smi / rocm-smi print), each reported by its catalogue name
        raise common._unknown("gpu", gpu, gpu_names(), GPU_ROUTE, dict((k, e["name"]) for k, e in _GPU_INDEX.items()), _gpu_key)
    spec = copy.deepcopy(entry)
    spec["memory_gib"] = entry["memory_mib"] / 1024.0
    return spec
