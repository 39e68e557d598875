# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The catalogues are never mutated and call order does not matter."""

from __future__ import annotations

import copy
import json

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog


def _snapshot():
    return json.dumps([catalog.MODELS, catalog.GPUS, catalog.QUANTS, catalog.KV_DTYPES, catalog.CUDA_TOOLKIT_DRIVERS], sort_keys=True)


def _calls(filters):
    out = []
    for model in ("DeepSeek-V3", "DeepSeek-R1-Distill-Qwen-32B", "DeepSeek-V2-Lite"):
        spec = filters["model_spec"](model)
        spec["params_breakdown"]["embed"] = -1
        spec["layers"] = 0
        out.append(json.dumps(filters["weights_gib"](model), sort_keys=True))
        plan = filters["gpu_plan"](model, "H100", max_model_len=4096)
        plan["engine_args"]["vllm"]["--tensor-parallel-size"] = 99
        gpu = filters["gpu_spec"]("H100")
        gpu["weight_dtypes"].append("fp4")
        gpu["kv_dtypes"].append("fp4")
        out.append(json.dumps(filters["gpu_plan"](model, "L40S", max_model_len=4096), sort_keys=True))
    return out


def test_catalogue_untouched_and_order_irrelevant(filters):
    before = _snapshot()
    first = _calls(filters)
    second = _calls(filters)
    assert first == second
    reverse = list(reversed(_calls(filters)))
    assert sorted(reverse) == sorted(first)
    assert _snapshot() == before


def test_config_dict_input_not_mutated(filters):
    raw = copy.deepcopy(catalog.MODELS[0]["config"])
    keep = copy.deepcopy(raw)
    filters["model_spec"](raw)
    filters["gpu_plan"](raw, "H200")
    assert raw == keep
