# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Sizing engine: how many of which GPUs a DeepSeek deployment needs, and what it serves.

Pure Python, no Ansible imports; the filter plugins in ``plugins/filter`` are thin
wrappers that turn :class:`SizingError` into ``AnsibleFilterError``.

Units: GiB = 2**30 bytes everywhere; every key name carries its unit.
The catalogues in :mod:`catalog` are never handed out or mutated: callers get deep copies.
"""

from __future__ import annotations

import copy
import difflib
import math
import re

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog

GIB = float(2 ** 30)

# Per-GPU runtime overhead inside the engine's memory budget: CUDA context and NCCL
# buffers (~0.5-1 GiB), CUDA graphs (~0.5-1.5 GiB), and the activation peak the engines
# profile at their default batched-token budget (~1 GiB).  See docs/sizing.md.
DEFAULT_OVERHEAD_GIB = 3.0
DEFAULT_GPU_MEMORY_UTILIZATION = 0.90
DEFAULT_GPUS_PER_NODE = 8
# Upper bound of the node search when max_nodes is not given.
SEARCH_MAX_NODES = 64
ENGINES = ("vllm", "sglang", "llama_cpp")


class SizingError(ValueError):
    """Bad input to the sizing engine: names the argument, the value and what is allowed."""

    def __init__(self, message, argument=None, value=None, allowed=None):
        super(SizingError, self).__init__(message)
        self.argument = argument
        self.value = value
        self.allowed = allowed


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _norm(name):
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _gib(num_bytes, digits=3):
    return round(num_bytes / GIB, digits)


def did_you_mean(value, allowed, limit=3):
    """The allowed names closest to a mistyped one (case and punctuation ignored), best first."""
    by_key = {}
    for name in allowed:
        by_key.setdefault(_norm(name), name)
    close = difflib.get_close_matches(_norm(value), list(by_key), n=limit, cutoff=0.6)
    return [by_key[key] for key in close]


def _unknown(argument, value, allowed):
    close = did_you_mean(value, allowed) if isinstance(value, str) and value.strip() else []
    hint = ("; did you mean %s?" % " or ".join(close)) if close else ""
    return SizingError(
        "unknown %s %r; allowed: %s%s" % (argument, value, ", ".join(allowed), hint),
        argument=argument, value=value, allowed=list(allowed))


def _number(argument, value, minimum=0.0, maximum=None, integer=False, allow_equal_min=True):
    """Validate a numeric argument; booleans and numeric strings are handled explicitly."""
    if isinstance(value, bool):
        raise SizingError("%s must be a number, got %r" % (argument, value), argument, value)
    if isinstance(value, str):
        try:
            value = float(value) if not integer else int(value)
        except ValueError:
            raise SizingError("%s must be a number, got %r" % (argument, value), argument, value)
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        raise SizingError("%s must be a number, got %r" % (argument, value), argument, value)
    if integer and int(value) != value:
        raise SizingError("%s must be a whole number, got %r" % (argument, value), argument, value)
    if (value < minimum) if allow_equal_min else (value <= minimum):
        raise SizingError("%s must be %s %s, got %r" % (argument, ">=" if allow_equal_min else ">", minimum, value), argument, value)
    if maximum is not None and value > maximum:
        raise SizingError("%s must be <= %s, got %r" % (argument, maximum, value), argument, value)
    return int(value) if integer else value


# ---------------------------------------------------------------------------
# Model catalogue and config.json normalisation
# ---------------------------------------------------------------------------

def _model_index():
    index = {}
    for entry in catalog.MODELS:
        for name in [entry["name"]] + list(entry["aliases"]):
            index[_norm(name)] = entry
    return index


_MODEL_INDEX = _model_index()


def model_names():
    """Canonical catalogue model names, in catalogue order."""
    return [m["name"] for m in catalog.MODELS]


def _lookup_model(name):
    key = str(name).strip()
    if "/" in key:
        key = key.rsplit("/", 1)[1]
    entry = _MODEL_INDEX.get(_norm(key))
    if entry is None:
        raise _unknown("model", name, model_names())
    return entry


_REQUIRED_CONFIG_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size", "intermediate_size")


def _native_dtype(config):
    qc = config.get("quantization_config") or {}
    method = _norm(qc.get("quant_method", "")) if isinstance(qc, dict) else ""
    if method in ("fp8", "awq", "gptq"):
        return method
    if method in ("compressedtensors", "w8a8int8"):
        return "int8" if "int" in str(qc).lower() else "fp8"
    dtype = _norm(config.get("torch_dtype") or config.get("dtype") or "bfloat16")
    return "fp16" if dtype in ("float16", "fp16", "half") else "bf16"


def _int_or(config, key, default):
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise SizingError("model config.json key %r must be a non-negative integer, got %r" % (key, value), "model", value)
    return int(value)


def _spec_from_config(config, meta=None):
    """Normalise a Hugging Face config.json dict (a catalogue entry's or a user's)."""
    missing = [k for k in _REQUIRED_CONFIG_KEYS if not isinstance(config.get(k), int) or isinstance(config.get(k), bool)]
    if missing:
        raise SizingError(
            "model config.json is missing or has non-integer %s; required keys: %s" % (", ".join(repr(k) for k in missing), ", ".join(_REQUIRED_CONFIG_KEYS)),
            "model", sorted(config.keys()), list(_REQUIRED_CONFIG_KEYS))
    meta = meta or {}
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    mla = config.get("kv_lora_rank") is not None
    kv_heads = _int_or(config, "num_key_value_heads", heads)
    head_dim = _int_or(config, "head_dim", hidden // heads)
    routed = _int_or(config, "n_routed_experts", 0)
    layers = config["num_hidden_layers"]
    dense_layers = _int_or(config, "first_k_dense_replace", 0) if routed else layers
    name = meta.get("name") or config.get("_name_or_path") or "custom"
    if isinstance(name, str) and "/" in name:
        name = name.rstrip("/").rsplit("/", 1)[1]
    spec = {
        "name": name,
        "hf_repo": "%s/%s" % (meta["org"], meta["name"]) if meta.get("org") else config.get("_name_or_path"),
        "source": "catalogue" if meta else "config.json",
        "architecture": config.get("model_type") or "unknown",
        "attention": "mla" if mla else ("mha" if kv_heads == heads else "gqa"),
        "layers": layers,
        "hidden_size": hidden,
        "intermediate_size": config["intermediate_size"],
        "attention_heads": heads,
        "kv_heads": heads if mla else kv_heads,
        "head_dim": None if mla else head_dim,
        "q_lora_rank": config.get("q_lora_rank") if mla else None,
        "kv_lora_rank": config.get("kv_lora_rank") if mla else None,
        "qk_rope_head_dim": _int_or(config, "qk_rope_head_dim", 64) if mla else None,
        "qk_nope_head_dim": _int_or(config, "qk_nope_head_dim", 128) if mla else None,
        "v_head_dim": _int_or(config, "v_head_dim", 128) if mla else None,
        "attention_bias": bool(config.get("attention_bias", config.get("model_type") == "qwen2")),
        "moe": routed > 0,
        "routed_experts": routed,
        "shared_experts": _int_or(config, "n_shared_experts", 0) if routed else 0,
        "experts_per_token": _int_or(config, "num_experts_per_tok", 0) if routed else 0,
        "moe_intermediate_size": _int_or(config, "moe_intermediate_size", 0) if routed else 0,
        "moe_layer_freq": max(1, _int_or(config, "moe_layer_freq", 1)),
        "dense_layers": min(dense_layers, layers),
        "vocab_size": config["vocab_size"],
        "tie_word_embeddings": bool(config.get("tie_word_embeddings", False)),
        "native_dtype": _native_dtype(config),
        "max_context": _int_or(config, "max_position_embeddings", 4096),
        "mtp_layers": _int_or(config, "num_nextn_predict_layers", 0),
    }
    if spec["moe"]:
        moe_layers = len([i for i in range(layers) if _is_moe_layer(spec, i)])
        spec["moe_layers"] = moe_layers
        spec["dense_layers"] = layers - moe_layers
    else:
        spec["moe_layers"] = 0
    breakdown = _param_breakdown(spec)
    spec["params_breakdown"] = breakdown
    spec["params_total"] = breakdown["total"]
    spec["params_activated"] = breakdown["activated"]
    spec["params_mtp"] = breakdown["mtp"]
    spec["params_total_b"] = meta.get("params_total_b", round(breakdown["total"] / 1e9, 2))
    spec["params_activated_b"] = meta.get("params_activated_b", round(breakdown["activated"] / 1e9, 2))
    spec["kv_bytes_per_token_bf16"] = _kv_bytes(spec, 2)
    return spec


def _is_moe_layer(spec, index):
    return spec["routed_experts"] > 0 and index >= spec["dense_layers"] and index % spec["moe_layer_freq"] == 0


def _attention_params(spec):
    """(split, replicated_under_tp, kv_projection) parameter counts of one attention block."""
    h = spec["hidden_size"]
    heads = spec["attention_heads"]
    if spec["attention"] == "mla":
        qk = spec["qk_nope_head_dim"] + spec["qk_rope_head_dim"]
        replicated = h * (spec["kv_lora_rank"] + spec["qk_rope_head_dim"])  # kv_a_proj_with_mqa
        if spec["q_lora_rank"]:
            replicated += h * spec["q_lora_rank"]  # q_a_proj
            split = spec["q_lora_rank"] * heads * qk  # q_b_proj
        else:
            split = h * heads * qk  # q_proj
        split += spec["kv_lora_rank"] * heads * (spec["qk_nope_head_dim"] + spec["v_head_dim"])  # kv_b_proj
        split += heads * spec["v_head_dim"] * h  # o_proj
        return split, replicated, 0
    hd = spec["head_dim"]
    split = 2 * h * heads * hd  # q_proj + o_proj
    kv = 2 * h * spec["kv_heads"] * hd  # k_proj + v_proj
    return split, 0, kv


def _small_params(spec, moe_layer):
    """Norms, biases and router weights of one layer: never quantised, replicated under TP."""
    h = spec["hidden_size"]
    small = 2 * h  # input_layernorm + post_attention_layernorm
    if spec["attention"] == "mla":
        small += spec["kv_lora_rank"] + (spec["q_lora_rank"] or 0)
    elif spec["attention_bias"]:
        small += (spec["attention_heads"] + 2 * spec["kv_heads"]) * spec["head_dim"]
    if moe_layer:
        small += h * spec["routed_experts"]  # router gate
    return small


def _layer_params(spec, index):
    moe_layer = _is_moe_layer(spec, index)
    h = spec["hidden_size"]
    attn_split, attn_repl, attn_kv = _attention_params(spec)
    if moe_layer:
        expert = 3 * h * spec["moe_intermediate_size"]
        mlp = spec["shared_experts"] * expert
        experts = spec["routed_experts"] * expert
    else:
        mlp = 3 * h * spec["intermediate_size"]
        experts = 0
    return {
        "moe": moe_layer, "attn_split": attn_split, "attn_repl": attn_repl, "attn_kv": attn_kv,
        "mlp": mlp, "experts": experts, "small": _small_params(spec, moe_layer),
    }


def _param_breakdown(spec):
    h = spec["hidden_size"]
    embed = spec["vocab_size"] * h
    lm_head = 0 if spec["tie_word_embeddings"] else embed
    out = {"embed": embed, "lm_head": lm_head, "attention": 0, "mlp_dense": 0, "experts_shared": 0,
           "experts_routed": 0, "norms_router_bias": h}
    activated_routed = 0
    for i in range(spec["layers"]):
        layer = _layer_params(spec, i)
        out["attention"] += layer["attn_split"] + layer["attn_repl"] + layer["attn_kv"]
        if layer["moe"]:
            out["experts_shared"] += layer["mlp"]
            out["experts_routed"] += layer["experts"]
            activated_routed += layer["experts"] * spec["experts_per_token"] // spec["routed_experts"]
        else:
            out["mlp_dense"] += layer["mlp"]
        out["norms_router_bias"] += layer["small"]
    total = sum(out.values())
    mtp = 0
    if spec["mtp_layers"]:
        # DeepSeek-V3 MTP module, as stored in the checkpoint (layer 61): one full MoE decoder
        # layer, enorm + hnorm + shared_head.norm, eh_proj (2h x h), plus its own copies of
        # embed_tokens and shared_head.head.
        layer = _layer_params(spec, spec["layers"])
        per = (layer["attn_split"] + layer["attn_repl"] + layer["attn_kv"] + layer["mlp"] + layer["experts"] + layer["small"]
               + 3 * h + 2 * h * h + embed + (lm_head or embed))
        mtp = per * spec["mtp_layers"]
    out["total"] = total
    out["activated"] = total - out["experts_routed"] + activated_routed
    out["mtp"] = mtp
    out["total_with_mtp"] = total + mtp
    return out


def model_spec(model):
    """Normalised architecture dict of a catalogue name, a config.json dict or a model_spec result."""
    if isinstance(model, dict):
        if "num_hidden_layers" in model:
            return _spec_from_config(copy.deepcopy(dict(model)))
        if "layers" in model and "attention" in model and "params_breakdown" in model:
            return copy.deepcopy(dict(model))
        raise SizingError(
            "model dict is neither a Hugging Face config.json (needs %s) nor a model_spec result" % ", ".join(_REQUIRED_CONFIG_KEYS),
            "model", sorted(str(k) for k in model.keys()), list(_REQUIRED_CONFIG_KEYS))
    if not isinstance(model, str) or not model.strip():
        raise _unknown("model", model, model_names())
    entry = _lookup_model(model)
    spec = _spec_from_config(copy.deepcopy(entry["config"]), meta=entry)
    spec["aliases"] = list(entry["aliases"])
    if "params_mtp_b" in entry:
        spec["params_mtp_b"] = entry["params_mtp_b"]
    return spec


# ---------------------------------------------------------------------------
# GPUs
# ---------------------------------------------------------------------------

def _gpu_key(name):
    key = str(name).lower()
    key = re.sub(r"\b(nvidia|amd|geforce|instinct|tesla)\b", " ", key)
    key = re.sub(r"(\d+)\s*gb?\b", r"\1g", key)
    return _norm(key)


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
            spec["memory_gib"] = _number("gpu.memory_mib", spec["memory_mib"], 0, allow_equal_min=False) / 1024.0
        if "memory_gib" not in spec:
            raise SizingError("gpu dict needs 'memory_gib' or 'memory_mib'; got keys: %s" % ", ".join(sorted(str(k) for k in spec)), "gpu", spec)
        spec["memory_gib"] = float(_number("gpu.memory_gib", spec["memory_gib"], 0, allow_equal_min=False))
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
        raise _unknown("gpu", gpu, gpu_names())
    entry = _GPU_INDEX.get(_gpu_key(gpu))
    if entry is None:
        raise _unknown("gpu", gpu, gpu_names())
    spec = copy.deepcopy(entry)
    spec["memory_gib"] = entry["memory_mib"] / 1024.0
    return spec


# ---------------------------------------------------------------------------
# Quantisation and weights
# ---------------------------------------------------------------------------

def quant_names():
    return list(catalog.QUANTS.keys())


def normalize_quant(quant, spec=None, argument="quant"):
    if quant is None or (isinstance(quant, str) and quant.strip().lower() in ("", "auto", "native")):
        if spec is None:
            raise _unknown(argument, quant, quant_names())
        return spec["native_dtype"]
    if not isinstance(quant, str):
        raise _unknown(argument, quant, quant_names())
    key = quant.strip().lower()
    if key in catalog.QUANTS:
        return key
    alias = catalog.QUANT_ALIASES.get(_norm(key))
    if alias:
        return alias
    for name in catalog.QUANTS:
        if _norm(name) == _norm(key):
            return name
    raise _unknown(argument, quant, quant_names())


def normalize_kv_dtype(kv_dtype):
    if kv_dtype is None:
        return "auto"
    if not isinstance(kv_dtype, str):
        raise _unknown("kv_dtype", kv_dtype, list(catalog.KV_DTYPES))
    key = kv_dtype.strip().lower()
    aliases = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "fp8e4m3": "fp8_e4m3", "fp8e5m2": "fp8_e5m2", "float8": "fp8"}
    key = aliases.get(_norm(key), key)
    if key not in catalog.KV_DTYPES:
        raise _unknown("kv_dtype", kv_dtype, list(catalog.KV_DTYPES))
    return key


def _quant_bytes(params, quant, spec):
    q = catalog.QUANTS[quant]
    bits = q["bits"]
    if q.get("per_channel_scale_bits"):
        bits += q["per_channel_scale_bits"] / spec["hidden_size"]
    return params * bits / 8.0


def _component_bytes(spec, quant):
    """Bytes per parameter class at `quant`: (quantised matrices, embed/head, small tensors)."""
    q = catalog.QUANTS[quant]
    if q["kind"] == "float":
        return 2.0, 2.0, 2.0
    per_param = _quant_bytes(1.0, quant, spec)
    if q["kind"] == "gguf":
        return per_param, per_param, 4.0  # llama.cpp keeps norms / router in F32
    return per_param, 2.0, 2.0  # embeddings, head, norms, router stay BF16


def weights(model, quant=None, include_mtp=False):
    """Weight memory of a model at a quantisation."""
    spec = model_spec(model)
    quant = normalize_quant(quant, spec)
    b = spec["params_breakdown"]
    mat, emb, small = _component_bytes(spec, quant)
    matrices = b["attention"] + b["mlp_dense"] + b["experts_shared"] + b["experts_routed"]
    embeds = b["embed"] + b["lm_head"]
    smalls = b["norms_router_bias"]
    if include_mtp and b["mtp"]:
        h = spec["hidden_size"]
        mtp_embeds = b["embed"] + (b["lm_head"] or b["embed"])
        layer = _layer_params(spec, spec["layers"])
        mtp_small = layer["small"] + 3 * h
        matrices += b["mtp"] - mtp_embeds - mtp_small
        embeds += mtp_embeds
        smalls += mtp_small
    quantized_bytes = matrices * mat
    unquantized_bytes = embeds * emb + smalls * small
    total = quantized_bytes + unquantized_bytes
    params = matrices + embeds + smalls
    q = catalog.QUANTS[quant]
    return {
        "model": spec["name"],
        "quant": quant,
        "quant_label": q["label"],
        "include_mtp": bool(include_mtp and b["mtp"]),
        "params": params,
        "params_b": round(params / 1e9, 3),
        "params_quantized": matrices if q["kind"] != "float" else 0,
        "params_unquantized": params - (matrices if q["kind"] != "float" else 0),
        "bits_per_weight": round(mat * 8.0, 4),
        "effective_bits_per_weight": round(total * 8.0 / params, 4),
        "quantized_bytes": int(round(quantized_bytes)) if q["kind"] != "float" else 0,
        "unquantized_bytes": int(round(unquantized_bytes)) if q["kind"] != "float" else int(round(total)),
        "bytes": int(round(total)),
        "quantized_gib": _gib(quantized_bytes) if q["kind"] != "float" else 0.0,
        "unquantized_gib": _gib(unquantized_bytes) if q["kind"] != "float" else _gib(total),
        "total_gib": _gib(total),
        "total_gb": round(total / 1e9, 3),
    }


# ---------------------------------------------------------------------------
# KV cache
# ---------------------------------------------------------------------------

def _kv_elems_per_layer(spec):
    """KV elements stored per token per layer for the whole model (before any split)."""
    if spec["attention"] == "mla":
        return spec["kv_lora_rank"] + spec["qk_rope_head_dim"]
    return 2 * spec["kv_heads"] * spec["head_dim"]


def _kv_bytes(spec, dtype_bytes):
    return _kv_elems_per_layer(spec) * spec["layers"] * dtype_bytes


def kv_bytes_per_token(model, kv_dtype="auto"):
    spec = model_spec(model)
    kv = normalize_kv_dtype(kv_dtype)
    return _kv_bytes(spec, catalog.KV_DTYPES[kv])


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
        return _kv_elems_per_layer(spec)
    return 2 * _kv_heads_per_gpu(spec, tp) * spec["head_dim"]


# ---------------------------------------------------------------------------
# Parallel layouts
# ---------------------------------------------------------------------------

def _valid_tp(spec, tp):
    if spec["attention_heads"] % tp:
        return False
    if spec["attention"] != "mla":
        kv = spec["kv_heads"]
        if kv % tp and tp % kv:
            return False
    return True


def _valid_ep(spec, n):
    return spec["moe"] and spec["attention"] == "mla" and spec["routed_experts"] % n == 0


def _pp_partition(layers, pp):
    """Layers per pipeline stage, the way vLLM partitions them (extra layers before the last stage)."""
    parts = [layers // pp] * pp
    remaining = layers % pp
    for i in range(remaining):
        parts[(pp - 2 - i) % pp] += 1
    return parts


def _stage_weight_bytes(spec, quant, tp, pp, dp_attention):
    """Per-GPU weight bytes of each pipeline stage and the layers in it."""
    mat, emb, small = _component_bytes(spec, quant)
    parts = _pp_partition(spec["layers"], pp)
    stages = []
    start = 0
    for s, count in enumerate(parts):
        total = 0.0
        for i in range(start, start + count):
            layer = _layer_params(spec, i)
            total += layer["small"] * small
            if dp_attention:
                # vLLM DP+EP / SGLang DP attention: attention and non-expert MLPs replicated on
                # every rank, routed experts spread over all `tp` GPUs (expert parallel).
                total += (layer["attn_split"] + layer["attn_repl"] + layer["attn_kv"] + layer["mlp"]) * mat
                total += layer["experts"] * mat / tp
            else:
                total += (layer["attn_split"] + layer["mlp"] + layer["experts"]) * mat / tp
                total += layer["attn_repl"] * mat
                if layer["attn_kv"]:
                    total += layer["attn_kv"] * mat * _kv_heads_per_gpu(spec, tp) / spec["kv_heads"]
        divisor = 1 if dp_attention else tp
        if s == 0:
            total += spec["params_breakdown"]["embed"] * emb / divisor
        if s == pp - 1:
            total += (spec["params_breakdown"]["lm_head"] * emb / divisor) + spec["hidden_size"] * small
        stages.append({"layers": count, "weight_bytes": total})
        start += count
    return stages


def _check_dtypes(spec, gpu, quant, kv):
    """Returns (reason or None, effective kv name, notes, dtype override)."""
    notes = []
    dtype_override = None
    kind = catalog.QUANTS[quant]["kind"]
    base = "gguf" if kind == "gguf" else quant
    name = gpu["name"]
    arch = "%s (compute capability %s)" % (gpu.get("architecture", "unknown"), gpu.get("compute_capability"))
    if base not in gpu["weight_dtypes"]:
        if base == "bf16" and "fp16" in gpu["weight_dtypes"]:
            dtype_override = "fp16"
            notes.append("%s has no BF16; weights run as FP16 (vLLM --dtype half), as the engines map it" % name)
        else:
            return ("quant %r cannot run on %s, %s; weight dtypes it runs: %s" % (quant, name, arch, ", ".join(gpu["weight_dtypes"])),
                    kv, notes, dtype_override)
    if quant == "fp8" and not gpu.get("fp8"):
        notes.append("%s has no FP8 tensor cores: FP8 weights run weight-only (FP8 Marlin, W8A16) in vLLM; "
                     "SGLang needs a BF16 or INT8 checkpoint" % name)
    if kv.startswith("fp8") and not gpu.get("fp8"):
        allowed = ["auto"] + list(gpu["kv_dtypes"])
        return ("kv_dtype %r needs native FP8 (Ada/Hopper or newer); %s is %s; kv_dtype it runs: %s" % (kv, name, arch, ", ".join(allowed)),
                kv, notes, dtype_override)
    if kv == "bf16" and "bf16" not in gpu["kv_dtypes"]:
        notes.append("%s has no BF16; KV cache stored as FP16" % name)
        kv = "fp16"
    return None, kv, notes, dtype_override


def _evaluate(spec, gpu, quant, kv, tp, pp, nodes, dp_attention, max_model_len, concurrency, util, overhead_gib):
    kv_bytes_elem = catalog.KV_DTYPES[kv]
    memory_gib = gpu["memory_gib"]
    budget = memory_gib * util * GIB
    overhead = overhead_gib * GIB
    stages = _stage_weight_bytes(spec, quant, tp, pp, dp_attention)
    per_layer_gpu = _kv_elems_per_layer_gpu(spec, tp, dp_attention) * kv_bytes_elem
    worst = None
    for st in stages:
        free_kv = budget - st["weight_bytes"] - overhead
        per_token = per_layer_gpu * st["layers"]
        tokens = int(free_kv // per_token) if free_kv > 0 and per_token else 0
        st["kv_bytes"] = max(0.0, free_kv)
        st["tokens"] = tokens
        if worst is None or tokens < worst["tokens"] or (tokens == worst["tokens"] and st["weight_bytes"] > worst["weight_bytes"]):
            worst = st
    gpus = tp * pp
    if dp_attention:
        rank_tokens = worst["tokens"]
        kv_tokens = rank_tokens * tp
        max_conc = (rank_tokens // max_model_len) * tp
    else:
        kv_tokens = worst["tokens"]
        max_conc = kv_tokens // max_model_len
    weights_gib = worst["weight_bytes"] / GIB
    kv_cache_gib = worst["kv_bytes"] / GIB
    weights_fit = worst["weight_bytes"] + overhead < budget
    result = {
        "tensor_parallel": tp,
        "pipeline_parallel": pp,
        "data_parallel_attention": tp if dp_attention else 1,
        "dp_attention": bool(dp_attention),
        "nodes": nodes,
        "gpus": gpus,
        "gpus_per_node_used": gpus // nodes,
        "memory_gib": round(memory_gib, 3),
        "budget_gib": round(memory_gib * util, 3),
        "weights_gib": round(weights_gib, 3),
        "kv_cache_gib": round(kv_cache_gib, 3),
        "overhead_gib": round(overhead_gib, 3),
        "free_gib": round(memory_gib - weights_gib - kv_cache_gib - overhead_gib, 3) if weights_fit else 0.0,
        "kv_bytes_per_token_per_gpu": per_layer_gpu * worst["layers"],
        "kv_tokens": kv_tokens,
        "max_concurrency": max_conc,
        "kv_needed_gib": round(spec_kv_needed(per_layer_gpu * worst["layers"], max_model_len, concurrency, tp if dp_attention else 1), 3),
        "stage_layers": [st["layers"] for st in stages],
    }
    if not weights_fit:
        result["fits"] = False
        result["reason"] = ("weights need %.2f GiB per GPU plus %.2f GiB overhead, more than the %.2f GiB budget (%.2f GiB x %.2f) "
                            "with %s" % (weights_gib, overhead_gib, memory_gib * util, memory_gib, util, _layout_text(result)))
    elif max_conc < concurrency:
        result["fits"] = False
        result["reason"] = ("KV cache holds %d tokens (%d sequences of %d tokens), fewer than the %d concurrent sequences required "
                            "with %s" % (kv_tokens, max_conc, max_model_len, concurrency, _layout_text(result)))
    else:
        result["fits"] = True
    return result


def spec_kv_needed(per_token_gpu, max_model_len, concurrency, ranks):
    """Per-GPU KV GiB needed so that `concurrency` sequences of max_model_len fit."""
    per_rank = int(math.ceil(concurrency / float(ranks)))
    return per_token_gpu * max_model_len * per_rank / GIB


def _layout_text(plan):
    if plan.get("dp_attention"):
        text = "%d GPU(s) with data-parallel attention (DP%d + EP%d)" % (plan["gpus"], plan["gpus"], plan["gpus"])
    else:
        text = "TP%d x PP%d" % (plan["tensor_parallel"], plan["pipeline_parallel"])
    return "%s on %d node(s)" % (text, plan["nodes"])


def _candidates(spec, gpus_per_node, max_nodes, dp_attention):
    if dp_attention:
        single = [n for n in range(1, gpus_per_node + 1) if _valid_ep(spec, n)]
        for n in single:
            yield n, 1, 1
        for nodes in range(2, max_nodes + 1):
            n = nodes * gpus_per_node
            if _valid_ep(spec, n):
                yield n, 1, nodes
        return
    tps = [t for t in range(1, gpus_per_node + 1) if _valid_tp(spec, t)]
    for tp in tps:
        yield tp, 1, 1
    top = tps[-1]
    for nodes in range(2, min(max_nodes, spec["layers"]) + 1):
        yield top, nodes, nodes


def _search(spec, gpu, quant, kv, gpus_per_node, max_nodes, dp_attention, max_model_len, concurrency, util, overhead_gib):
    last = None
    for tp, pp, nodes in _candidates(spec, gpus_per_node, max_nodes, dp_attention):
        plan = _evaluate(spec, gpu, quant, kv, tp, pp, nodes, dp_attention, max_model_len, concurrency, util, overhead_gib)
        if plan["fits"]:
            return plan
        last = plan
    return last


def _engine_args(spec, gpu, quant, kv, plan, max_model_len, concurrency, util, overhead_gib, gpus_per_node, dtype_override):
    tp, pp, nodes = plan["tensor_parallel"], plan["pipeline_parallel"], plan["nodes"]
    native = spec["native_dtype"]
    kind = catalog.QUANTS[quant]["kind"]
    vllm = {}
    sglang = {}
    if plan["dp_attention"]:
        vllm["--tensor-parallel-size"] = 1
        vllm["--data-parallel-size"] = tp
        if nodes > 1:
            vllm["--data-parallel-size-local"] = tp // nodes
        vllm["--enable-expert-parallel"] = True
        sglang["--tp-size"] = tp
        sglang["--dp-size"] = tp
        sglang["--enable-dp-attention"] = True
    else:
        vllm["--tensor-parallel-size"] = tp
        vllm["--pipeline-parallel-size"] = pp
        sglang["--tp-size"] = tp
        if pp > 1:
            sglang["--pp-size"] = pp
    if nodes > 1:
        if not plan["dp_attention"]:
            vllm["--distributed-executor-backend"] = "ray"
        sglang["--nnodes"] = nodes
    vllm["--max-model-len"] = max_model_len
    sglang["--context-length"] = max_model_len
    vllm["--gpu-memory-utilization"] = util
    # SGLang's mem_fraction_static covers weights + KV pool only; activations live outside it.
    sglang["--mem-fraction-static"] = math.floor((util - overhead_gib / gpu["memory_gib"]) * 100) / 100.0
    vllm["--kv-cache-dtype"] = "fp8" if kv == "fp8" else (kv if kv.startswith("fp8") else "auto")
    sglang["--kv-cache-dtype"] = "fp8_e4m3" if kv == "fp8" else (kv if kv.startswith("fp8") else "auto")
    if dtype_override == "fp16" or quant == "fp16" or kv == "fp16":
        vllm["--dtype"] = "half"
        sglang["--dtype"] = "half"
    if quant != native:
        engine_quant = {"fp8": "fp8", "int8": "w8a8_int8", "awq": "awq", "gptq": "gptq"}.get(quant)
        if kind == "gguf":
            vllm["--quantization"] = "gguf"
            sglang["--quantization"] = "gguf"
        elif engine_quant:
            # A pre-quantised checkpoint is auto-detected; the flag also makes a BF16 checkpoint
            # quantise on load for fp8 (vLLM dynamic FP8, SGLang fp8).
            # AWQ/GPTQ: no flag for vLLM, which then picks its Marlin kernels (awq_marlin, gptq_marlin)
            # itself; `--quantization awq` forces the slow fp16-only AWQ kernel and fails on bfloat16.
            if quant not in ("awq", "gptq"):
                vllm["--quantization"] = "fp8" if quant == "fp8" else "compressed-tensors"
            sglang["--quantization"] = engine_quant
    args = {"vllm": vllm, "sglang": sglang}
    if kind == "gguf":
        parallel = max(1, int(concurrency or 1))
        args["llama_cpp"] = {
            "--ctx-size": max_model_len * parallel,
            "--parallel": parallel,
            "--n-gpu-layers": 999,
            "--split-mode": "layer",
            "--cache-type-k": "q8_0" if kv.startswith("fp8") else "f16",
            "--cache-type-v": "q8_0" if kv.startswith("fp8") else "f16",
        }
    return args


def argv(flags):
    """Render an engine_args dict as a list of command-line strings (True -> bare flag)."""
    out = []
    for flag, value in flags.items():
        if value is True:
            out.append(flag)
        elif value is False or value is None:
            continue
        else:
            out.extend([flag, str(value)])
    return out


def gpu_plan(model, gpu, quant=None, kv_dtype="auto", gpus_per_node=DEFAULT_GPUS_PER_NODE, max_nodes=None,
             max_model_len=None, concurrency=1, gpu_memory_utilization=DEFAULT_GPU_MEMORY_UTILIZATION,
             overhead_gib=None, dp_attention=False, engine=None, suggest=True):
    """Smallest deployment of `model` on `gpu` that fits; see plugins/filter/gpu_plan.yml."""
    spec = model_spec(model)
    gspec = gpu_spec(gpu)
    quant = normalize_quant(quant, spec)
    kv = normalize_kv_dtype(kv_dtype)
    gpus_per_node = _number("gpus_per_node", gpus_per_node, 1, 64, integer=True)
    limited = max_nodes is not None
    max_nodes = _number("max_nodes", max_nodes, 1, 1024, integer=True) if limited else SEARCH_MAX_NODES
    if max_model_len is None:
        max_model_len = spec["max_context"]
    max_model_len = _number("max_model_len", max_model_len, 1, integer=True)
    if max_model_len > spec["max_context"]:
        raise SizingError("max_model_len %d exceeds the maximum context of %s (%d tokens)" % (max_model_len, spec["name"], spec["max_context"]),
                          "max_model_len", max_model_len)
    concurrency = _number("concurrency", 1 if concurrency is None else concurrency, 0, integer=True)
    util = _number("gpu_memory_utilization", DEFAULT_GPU_MEMORY_UTILIZATION if gpu_memory_utilization is None else gpu_memory_utilization,
                   0.0, 1.0, allow_equal_min=False)
    overhead_gib = _number("overhead_gib", DEFAULT_OVERHEAD_GIB if overhead_gib is None else overhead_gib, 0.0)
    if engine is not None and engine not in ENGINES:
        raise _unknown("engine", engine, ENGINES)
    if not isinstance(dp_attention, bool):
        raise SizingError("dp_attention must be true or false, got %r" % (dp_attention,), "dp_attention", dp_attention)
    if dp_attention and not (spec["attention"] == "mla" and spec["moe"]):
        raise SizingError("dp_attention needs an MLA mixture-of-experts model; %s uses %s attention" % (spec["name"], spec["attention"].upper()),
                          "dp_attention", dp_attention)

    reason, kv, notes, dtype_override = _check_dtypes(spec, gspec, quant, kv)
    base = {
        "model": spec["name"],
        "gpu": gspec["name"],
        "quant": quant,
        "kv_dtype": kv,
        "max_model_len": max_model_len,
        "concurrency": concurrency,
        "gpu_memory_utilization": util,
        "gpus_per_node": gpus_per_node,
        "max_nodes": max_nodes if limited else None,
        "attention": spec["attention"],
        "kv_bytes_per_token": _kv_bytes(spec, catalog.KV_DTYPES[kv]),
        "weights_total_gib": weights(spec, quant)["total_gib"],
        "notes": notes,
    }
    if reason:
        plan = {"fits": False, "reason": reason, "tensor_parallel": None, "pipeline_parallel": None, "nodes": None, "gpus": None,
                "weights_gib": None, "kv_cache_gib": None, "overhead_gib": overhead_gib, "free_gib": None, "kv_tokens": 0,
                "max_concurrency": 0, "engine_args": {}, "engine_argv": {}}
    else:
        plan = _search(spec, gspec, quant, kv, gpus_per_node, max_nodes, dp_attention, max_model_len, concurrency, util, overhead_gib)
        plan["engine_args"] = _engine_args(spec, gspec, quant, kv, plan, max_model_len, concurrency, util, overhead_gib, gpus_per_node, dtype_override)
        plan["engine_argv"] = dict((name, argv(flags)) for name, flags in plan["engine_args"].items())
        if not plan["fits"] and limited:
            plan["reason"] += " (max_nodes %d)" % max_nodes
    plan.update(base)
    if engine is not None:
        plan["engine"] = engine
        plan["command_args"] = plan["engine_argv"].get(engine, [])
    if spec["attention"] == "mla" and spec["moe"] and not dp_attention and plan.get("gpus") and not reason:
        alt = _evaluate(spec, gspec, quant, kv, plan["gpus"], 1, plan["nodes"], True, max_model_len, concurrency, util, overhead_gib) \
            if _valid_ep(spec, plan["gpus"]) else None
        if alt is not None:
            alt["engine_args"] = _engine_args(spec, gspec, quant, kv, alt, max_model_len, concurrency, util, overhead_gib, gpus_per_node, dtype_override)
            alt["engine_argv"] = dict((name, argv(flags)) for name, flags in alt["engine_args"].items())
        plan["dp_attention_layout"] = alt
    if not plan["fits"] and suggest:
        plan["smallest_fit"] = _smallest_fit(spec, gspec, quant, kv, gpus_per_node, dp_attention, max_model_len, concurrency, util, overhead_gib)
    return plan


def _fit_summary(plan):
    return {
        "gpu": plan["gpu"], "gpus": plan["gpus"], "nodes": plan["nodes"],
        "tensor_parallel": plan["tensor_parallel"], "pipeline_parallel": plan["pipeline_parallel"],
        "dp_attention": plan.get("dp_attention", False),
        "max_concurrency": plan["max_concurrency"], "kv_tokens": plan["kv_tokens"],
        "text": "%d node(s) x %d x %s (%s)" % (
            plan["nodes"], plan["gpus"] // plan["nodes"], plan["gpu"],
            "DP-attention %d" % plan["gpus"] if plan.get("dp_attention")
            else "TP%d x PP%d" % (plan["tensor_parallel"], plan["pipeline_parallel"])),
    }


def _smallest_fit(spec, gspec, quant, kv, gpus_per_node, dp_attention, max_model_len, concurrency, util, overhead_gib):
    """The smallest hardware that would fit: more nodes of the same GPU, and the best catalogue GPU."""
    kwargs = dict(quant=quant, kv_dtype=kv, gpus_per_node=gpus_per_node, max_nodes=SEARCH_MAX_NODES, max_model_len=max_model_len,
                  concurrency=concurrency, gpu_memory_utilization=util, overhead_gib=overhead_gib, dp_attention=dp_attention, suggest=False)
    same = gpu_plan(spec, gspec, **kwargs)
    best = None
    for entry in catalog.GPUS:
        cand = gpu_plan(spec, entry["name"], **kwargs)
        if not cand["fits"]:
            continue
        key = (cand["gpus"], entry["memory_mib"])
        if best is None or key < best[0]:
            best = (key, cand)
    out = {"same_gpu": _fit_summary(same) if same["fits"] else None, "any_gpu": _fit_summary(best[1]) if best else None}
    parts = []
    if out["same_gpu"]:
        parts.append(out["same_gpu"]["text"])
    if out["any_gpu"] and (not out["same_gpu"] or out["any_gpu"]["gpu"] != out["same_gpu"]["gpu"]):
        parts.append(out["any_gpu"]["text"])
    out["summary"] = " or ".join(parts) if parts else "no catalogue GPU fits with quant %s, kv_dtype %s, max_model_len %d, concurrency %d" % (
        quant, kv, max_model_len, concurrency)
    return out


# ---------------------------------------------------------------------------
# Hugepages
# ---------------------------------------------------------------------------

_UNITS = {
    "": 1, "b": 1,
    "k": 2 ** 10, "ki": 2 ** 10, "kib": 2 ** 10, "kb": 10 ** 3,
    "m": 2 ** 20, "mi": 2 ** 20, "mib": 2 ** 20, "mb": 10 ** 6,
    "g": 2 ** 30, "gi": 2 ** 30, "gib": 2 ** 30, "gb": 10 ** 9,
    "t": 2 ** 40, "ti": 2 ** 40, "tib": 2 ** 40, "tb": 10 ** 12,
}


def parse_size(value, argument="size"):
    """Bytes from an int or a string like '100GiB', '2M', '1.5 TiB' (K/M/G/T and KiB.. are binary, KB.. decimal)."""
    if isinstance(value, bool):
        raise SizingError("%s must be a size in bytes or a string like '100GiB', got %r" % (argument, value), argument, value)
    if isinstance(value, (int, float)):
        if value < 0:
            raise SizingError("%s must be >= 0, got %r" % (argument, value), argument, value)
        return int(value)
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$", str(value))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        if isinstance(value, str) and value.strip().startswith("-"):
            raise SizingError("%s must be >= 0, got %r" % (argument, value), argument, value)
        raise SizingError("%s must be a size in bytes or a string like '100GiB' (units: B, K, KiB, KB, M, MiB, MB, G, GiB, GB, T, TiB, TB), got %r"
                          % (argument, value), argument, value, sorted(_UNITS))
    return int(round(float(match.group(1)) * _UNITS[unit]))


PAGE_SIZES = {"2M": 2 * 2 ** 20, "1G": 2 ** 30}


def hugepages(size, page_size="2M", ram_total_gib=None, max_fraction=0.5):
    size_bytes = parse_size(size, "size")
    page_bytes = PAGE_SIZES.get(str(page_size).upper().replace("IB", "").replace("B", "")) if not isinstance(page_size, int) else page_size
    if page_bytes not in PAGE_SIZES.values():
        raise _unknown("page_size", page_size, list(PAGE_SIZES))
    page_name = [k for k, v in PAGE_SIZES.items() if v == page_bytes][0]
    count = int(math.ceil(size_bytes / float(page_bytes)))
    reserved = count * page_bytes
    max_fraction = _number("max_fraction", max_fraction, 0.0, 1.0, allow_equal_min=False)
    result = {
        "size_bytes": size_bytes,
        "page_size": page_name,
        "page_size_bytes": page_bytes,
        "page_size_kib": page_bytes // 1024,
        "count": count,
        "reserved_bytes": reserved,
        "reserved_gib": _gib(reserved),
        "ram_total_gib": None,
        "ram_fraction": None,
        "max_fraction": max_fraction,
        "sysctl": {"vm.nr_hugepages": count} if page_name == "2M" else {},
        "kernel_cmdline": "default_hugepagesz=%s hugepagesz=%s hugepages=%d" % (page_name, page_name, count),
    }
    if ram_total_gib is not None:
        ram = _number("ram_total_gib", ram_total_gib, 0.0, allow_equal_min=False)
        fraction = reserved / (ram * GIB)
        if fraction > max_fraction:
            raise SizingError(
                "refusing to reserve %d x %s hugepages = %.2f GiB, %.1f%% of %.2f GiB RAM; the limit is max_fraction %.2f = %.2f GiB"
                % (count, page_name, reserved / GIB, fraction * 100, ram, max_fraction, ram * max_fraction),
                "size", size)
        result["ram_total_gib"] = ram
        result["ram_fraction"] = round(fraction, 4)
    return result


# ---------------------------------------------------------------------------
# Load -> replicas
# ---------------------------------------------------------------------------

def erlang_c(servers, offered_load):
    """Probability that an arrival waits in an M/M/c queue (Erlang C), via the stable Erlang-B recurrence."""
    if servers <= offered_load:
        return 1.0
    b = 1.0
    for n in range(1, servers + 1):
        b = offered_load * b / (n + offered_load * b)
    return servers * b / (servers - offered_load * (1.0 - b))


METHODS = ("average", "erlang_c")


def replicas_for_load(requests_per_day, seconds_per_request, peak_factor=1.0, method="average",
                      max_wait_probability=0.2, slots_per_replica=1):
    rpd = _number("requests_per_day", requests_per_day, 0.0)
    t = _number("seconds_per_request", seconds_per_request, 0.0, allow_equal_min=False)
    peak = _number("peak_factor", 1.0 if peak_factor is None else peak_factor, 1.0)
    slots = _number("slots_per_replica", 1 if slots_per_replica is None else slots_per_replica, 1, integer=True)
    if method not in METHODS:
        raise _unknown("method", method, METHODS)
    target = _number("max_wait_probability", max_wait_probability, 0.0, 1.0, allow_equal_min=False)
    lam = rpd / 86400.0
    lam_peak = lam * peak
    load = lam_peak * t
    if method == "average":
        needed = int(math.ceil(load - 1e-9)) if load > 0 else 0
        wait = None
    else:
        needed = int(math.floor(load)) + 1 if load > 0 else 0
        while needed and erlang_c(needed, load) > target:
            needed += 1
        wait = round(erlang_c(needed, load), 6) if needed else 0.0
    replicas = int(math.ceil(needed / float(slots))) if needed else 0
    if rpd > 0:
        replicas = max(1, replicas)
    return {
        "method": method,
        "arrival_rate_per_s": round(lam, 6),
        "peak_arrival_rate_per_s": round(lam_peak, 6),
        "offered_load_erlangs": round(load, 6),
        "concurrent_requests": needed,
        "slots_per_replica": slots,
        "replicas": replicas,
        "utilization": round(load / (replicas * slots), 4) if replicas else 0.0,
        "wait_probability": wait,
        "max_wait_probability": target if method == "erlang_c" else None,
    }


# ---------------------------------------------------------------------------
# CUDA driver compatibility
# ---------------------------------------------------------------------------

def _version_tuple(value, argument):
    text = str(value).strip()
    if not re.match(r"^[0-9]+(\.[0-9]+)*$", text):
        raise SizingError("%s must be a dotted version like '550.54.15', got %r" % (argument, value), argument, value)
    return tuple(int(p) for p in text.split("."))


def cuda_compatible(driver_version, cuda_version, minor_version_compat=True):
    driver = _version_tuple(driver_version, "driver_version")
    wanted = _version_tuple(cuda_version, "cuda_version")
    key = "%d.%d" % (wanted[0], wanted[1] if len(wanted) > 1 else 0)
    if key not in catalog.CUDA_TOOLKIT_DRIVERS:
        raise _unknown("cuda_version", cuda_version, list(catalog.CUDA_TOOLKIT_DRIVERS))
    if minor_version_compat and str(wanted[0]) in catalog.CUDA_MINOR_COMPAT_DRIVERS:
        minimum = catalog.CUDA_MINOR_COMPAT_DRIVERS[str(wanted[0])]
    else:
        minimum = catalog.CUDA_TOOLKIT_DRIVERS[key]
    return driver >= _version_tuple(minimum, "minimum")


def cuda_minimum_driver(cuda_version, minor_version_compat=True):
    wanted = _version_tuple(cuda_version, "cuda_version")
    key = "%d.%d" % (wanted[0], wanted[1] if len(wanted) > 1 else 0)
    if key not in catalog.CUDA_TOOLKIT_DRIVERS:
        raise _unknown("cuda_version", cuda_version, list(catalog.CUDA_TOOLKIT_DRIVERS))
    if minor_version_compat and str(wanted[0]) in catalog.CUDA_MINOR_COMPAT_DRIVERS:
        return catalog.CUDA_MINOR_COMPAT_DRIVERS[str(wanted[0])]
    return catalog.CUDA_TOOLKIT_DRIVERS[key]
