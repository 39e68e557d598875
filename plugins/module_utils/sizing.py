# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Sizing engine facade: how many of which GPUs a DeepSeek deployment needs, and what it serves.

The engine lives in one module per concern; this module only re-exports their names for callers
that import ``sizing`` (benchmarks, older code). New code imports the module that holds the name:

- common: SizingError, argument checks (_number, _unknown, did_you_mean), GIB, parse_size, _version_tuple
- models: model_spec, model_names and the parameter breakdown of a config.json
- gpu_specs: gpu_spec, gpu_names
- weights: quantisation names (normalize_quant) and weights
- kvcache: normalize_kv_dtype, kv_bytes_per_token and the per-GPU KV split
- layout: gpu_plan, its defaults and the layout search
- engines: the engine table, image_driver_check and the engine flags of a plan (argv)
- engine_rules: the plan rules of each engine (RULES: layouts, KV paging, memory cap, overhead and margin)
- hugepages, queueing (replicas_for_load, replicas_for_concurrency, erlang_c), cuda_driver (cuda_compatible, cuda_minimum_driver)
"""

from __future__ import annotations

from ansible_collections.onprem.deepseek.plugins.module_utils.common import (
    GIB, SizingError, _UNITS, _gib, _norm, _number, _unknown, _version_tuple, did_you_mean, parse_size)
from ansible_collections.onprem.deepseek.plugins.module_utils.cuda_driver import cuda_compatible, cuda_minimum_driver
from ansible_collections.onprem.deepseek.plugins.module_utils.engine_rules import RULES as ENGINE_RULES
from ansible_collections.onprem.deepseek.plugins.module_utils.engines import _engine_args, argv
from ansible_collections.onprem.deepseek.plugins.module_utils.gpu_specs import gpu_names, gpu_spec
from ansible_collections.onprem.deepseek.plugins.module_utils.hugepages import PAGE_SIZES, hugepages
from ansible_collections.onprem.deepseek.plugins.module_utils.kvcache import kv_bytes_per_token, normalize_kv_dtype, spec_kv_needed
from ansible_collections.onprem.deepseek.plugins.module_utils.layout import (
    DEFAULT_GPU_MEMORY_UTILIZATION, DEFAULT_GPUS_PER_NODE, DEFAULT_MARGIN_GIB, DEFAULT_MIN_KV_GIB, DEFAULT_OVERHEAD_GIB, PLAN_ENGINES as ENGINES,
    SEARCH_MAX_NODES, gpu_plan)
from ansible_collections.onprem.deepseek.plugins.module_utils.models import model_names, model_spec
from ansible_collections.onprem.deepseek.plugins.module_utils.queueing import METHODS, erlang_c, replicas_for_concurrency, replicas_for_load
from ansible_collections.onprem.deepseek.plugins.module_utils.weights import normalize_quant, quant_names, weights

__all__ = [
    "GIB", "SizingError", "_UNITS", "_gib", "_norm", "_number", "_unknown", "_version_tuple", "did_you_mean", "parse_size",
    "cuda_compatible", "cuda_minimum_driver",
    "ENGINE_RULES", "_engine_args", "argv",
    "gpu_names", "gpu_spec",
    "PAGE_SIZES", "hugepages",
    "kv_bytes_per_token", "normalize_kv_dtype", "spec_kv_needed",
    "DEFAULT_GPU_MEMORY_UTILIZATION", "DEFAULT_GPUS_PER_NODE", "DEFAULT_MARGIN_GIB", "DEFAULT_MIN_KV_GIB", "DEFAULT_OVERHEAD_GIB", "ENGINES",
    "SEARCH_MAX_NODES", "gpu_plan",
    "model_names", "model_spec",
    "METHODS", "erlang_c", "replicas_for_concurrency", "replicas_for_load",
    "normalize_quant", "quant_names", "weights",
]
