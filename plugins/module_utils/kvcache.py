# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""KV cache: dtype names, bytes per token, the per-GPU split under tensor parallelism."""

from __future__ import annotations

import math

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, common, models


def normalize_kv_dtype(kv_dtype):
    if kv_dtype is None:
        return "auto"
    if not isinstance(kv_dtype, str):
        raise common._unknown("kv_dtype", kv_dtype, list(catalog.KV_DTYPES))
    key = kv_dtype.strip().lower()
    aliases = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "fp8e4m3": "fp8_e4m3", "fp8e5m2": "fp8_e5m2", "float8": "fp8"}
    key = aliases.get(common._norm(key), key)
    if key not in catalog.KV_DTYPES:
        raise common._unknown("kv_dtype", kv_dtype, list(catalog.KV_DTYPES))
    return key


def kv_bytes_per_token(model, kv_dtype="auto"):
    spec = models.model_spec(model)
    kv = normalize_kv_dtype(kv_dtype)
    return models._kv_bytes(spec, catalog.KV_DTYPES[kv])


def _kv_heads_per_gpu(spec, tp):
    if spec["attention"] == "mla":
        return None
    return max(1, spec["kv_heads"] // tp)


def _kv_elems_per_layer_gpu(spec, tp, dp_attention):
    """Per-GPU KV elements per token per layer.

    GQA/MHA: heads split by TP, at least one KV head per GPU (replicated above the KV-head count).
    MLA: the latent cache is not split by head; every TP rank keeps the full latent (vLLM, SGLang).
    """
    if spec["attention"] == "mla" or dp_attention:
        return models._kv_elems_per_layer(spec)
    return 2 * _kv_heads_per_gpu(spec, tp) * spec["head_dim"]


def kv_bytes_per_layer_gpu(spec, tp, dp_attention, kv_dtype):
    """Per-GPU KV-cache bytes per token per layer at a KV dtype name.

    Equal to _kv_elems_per_layer_gpu x bytes per element for dense attention; sparse MLA (DeepSeek-V3.2) adds the
    indexer's FP8 key cache and stores an FP8 latent as 656 bytes (models._kv_layer_bytes), which the element
    count cannot express. Both are whole on every rank: the latent and the single indexer key are not split by head.
    """
    dtype_bytes = catalog.KV_DTYPES[normalize_kv_dtype(kv_dtype)]
    if spec.get("index_head_dim"):
        return models._kv_layer_bytes(spec, dtype_bytes)
    return _kv_elems_per_layer_gpu(spec, tp, dp_attention) * dtype_bytes


def spec_kv_needed(per_token_gpu, max_model_len, concurrency, ranks):
    """Per-GPU KV GiB needed so that `concurrency` sequences of max_model_len fit."""
    per_rank = int(math.ceil(concurrency / float(ranks)))
    return per_token_gpu * max_model_len * per_rank / common.GIB
