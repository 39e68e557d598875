# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Models: catalogue lookup, config.json normalisation and the parameter count of each part.

A model is a catalogue name (or alias, or Hugging Face repository), a config.json dict, or a
model_spec result; model_spec turns each into the same normalised dict. The KV elements a token
stores per layer are an architecture fact too, published in the spec (kv_bytes_per_token_bf16).
The catalogue in :mod:`catalog` is never handed out or mutated: callers get deep copies.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, common


MODEL_ROUTE = "Give the model's config.json as a dict (deepseek_model: the path of its directory reads it on the controller)."


def _model_index():
    index = {}
    for entry in catalog.MODELS:
        for name in [entry["name"]] + list(entry["aliases"]):
            index[common._norm(name)] = entry
    return index


_MODEL_INDEX = _model_index()


def model_names():
    """Canonical catalogue model names, in catalogue order."""
    return [m["name"] for m in catalog.MODELS]


# Hugging Face names of DeepSeek's vision-language models: deepseek-vl-7b-chat, deepseek-vl2(-small, -tiny),
# Janus-Pro-7B, JanusFlow-1.3B, DeepSeek-OCR.
_VISION_NAME = re.compile(r"(?:^|[-_])(?:vl2?|janus\w*|ocr)(?:[-_]|$)")


def _lookup_model(name):
    key = str(name).strip()
    if "/" in key:
        key = key.rsplit("/", 1)[1]
    entry = _MODEL_INDEX.get(common._norm(key))
    if entry is None and _VISION_NAME.search(key.lower()):
        raise common.SizingError(
            "model %r is a vision-language model (DeepSeek-VL, VL2, Janus, OCR), not in the catalogue: only its language tower can be "
            "sized; pass its config.json's 'language_config' dict as the model and add the vision encoder's weights to overhead_gib"
            % name, "model", name)
    if entry is None:
        raise common._unknown("model", name, model_names(), MODEL_ROUTE, dict((k, e["name"]) for k, e in _MODEL_INDEX.items()),
                              lambda value: common._norm(str(value).strip().rsplit("/", 1)[-1]))
    return entry


_REQUIRED_CONFIG_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size", "intermediate_size")


def _native_dtype(config):
    qc = config.get("quantization_config") or {}
    method = common._norm(qc.get("quant_method", "")) if isinstance(qc, dict) else ""
    if method in ("fp8", "awq", "gptq", "mxfp4"):
        return method
    if method in ("w4afp8", "w4a8"):
        return "w4a8"
    if method in ("modelopt", "modeloptfp4") and "fp4" in str(qc).lower():
        return "nvfp4"  # ModelOpt: quant_algo NVFP4
    if method == "compressedtensors" and "nvfp4" in str(qc).lower():
        return "nvfp4"  # llm-compressor format nvfp4-pack-quantized
    if method in ("compressedtensors", "w8a8int8"):
        return "int8" if "int" in str(qc).lower() else "fp8"
    dtype = common._norm(config.get("torch_dtype") or config.get("dtype") or "bfloat16")
    return "fp16" if dtype in ("float16", "fp16", "half") else "bf16"


# Input caps on config.json integers: far above any published model (DeepSeek-V3: 61 layers, hidden 7168, vocab 129280),
# low enough that the per-layer walk and the float arithmetic stay bounded (a config.json with 10**400 layers is refused
# by name instead of exhausting memory).
_MAX_LAYERS = 4096
_MAX_CONFIG_INT = 2 ** 31 - 1


def _int_or(config, key, default, minimum=0):
    value = config.get(key)
    if value is None:
        return default
    limit = _MAX_LAYERS if key == "num_hidden_layers" else _MAX_CONFIG_INT
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not minimum <= value <= limit or value != int(value):
        raise common.SizingError("model config.json key %r must be an integer from %d to %d, got %r" % (key, minimum, limit, value),
                                 "model", value)
    return int(value)


# DeepSeek Sparse Attention (V3.2): the lightning indexer's shape when a deepseek_v32 config.json leaves it out,
# as the defaults of DeepseekV32Config (transformers#41197; NVIDIA NeMo AutoModel deepseek_v32/config.py).
_INDEX_DEFAULTS = {"index_n_heads": 64, "index_head_dim": 128, "index_topk": 2048}
# Sparse MLA kernels: FlashMLA sparse runs on compute capability 9.x and 10.x only (vLLM
# vllm/v1/attention/backends/mla/flashmla_sparse.py, FlashMLASparseBackend.supports_compute_capability:
# "capability.major in [9, 10]"); the catalogue names those architectures.
SPARSE_ARCHITECTURES = ("hopper", "blackwell")
# ... and, within those, compute capability 9.x and 10.x only: RTX Blackwell (12.0: RTX PRO 6000, RTX 5090) is
# "blackwell" in the catalogue but has no FlashMLA sparse kernel in the pinned vLLM 0.11 (a separate SM120 sparse
# backend, FlashInferMLASparseSM120Backend, came later).
SPARSE_COMPUTE_MAJORS = (9, 10)
_VISION_TYPES = ("deepseek_vl_v2", "deepseek_vl", "multi_modality", "deepseek_ocr")


def _refuse_unmodelled(config):
    """One sentence for a config.json whose attention or modality the sizing cannot model, else None."""
    model_type = str(config.get("model_type") or "")
    if model_type in _VISION_TYPES or "language_config" in config or "vision_config" in config:
        return ("model config.json is a vision-language model (model_type %r): only its language tower can be sized; pass "
                "config.json's 'language_config' dict as the model (DeepSeek-VL2, DeepSeek-OCR) and add the vision encoder's "
                "weights to overhead_gib" % model_type)
    if model_type == "deepseek_v4" or "compress_ratios" in config:
        return ("attention kind 'csa_hca' is not modelled: model_type %r with per-layer compress_ratios (DeepSeek-V4 compressed "
                "sparse + heavily compressed attention) stores a KV cache this sizing cannot compute" % model_type)
    if _sparse(config) and config.get("kv_lora_rank") is None:
        return ("attention kind 'gqa_sparse' is not modelled: config.json has indexer keys (index_*) without MLA's kv_lora_rank")
    return None


def _sparse(config):
    return config.get("model_type") == "deepseek_v32" or any(config.get(k) is not None for k in _INDEX_DEFAULTS)


def _spec_from_config(config, meta=None):
    """Normalise a Hugging Face config.json dict (a catalogue entry's or a user's)."""
    refusal = _refuse_unmodelled(config)
    if refusal:
        raise common.SizingError(refusal, "model", config.get("model_type"))
    missing = [k for k in _REQUIRED_CONFIG_KEYS if not isinstance(config.get(k), int) or isinstance(config.get(k), bool)]
    if missing:
        raise common.SizingError(
            "model config.json is missing or has non-integer %s; required keys: %s" % (", ".join(repr(k) for k in missing), ", ".join(_REQUIRED_CONFIG_KEYS)),
            "model", sorted(config.keys()), list(_REQUIRED_CONFIG_KEYS))
    for key in _REQUIRED_CONFIG_KEYS:
        _int_or(config, key, None, minimum=1)
    meta = meta or {}
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    mla = config.get("kv_lora_rank") is not None
    kv_heads = _int_or(config, "num_key_value_heads", heads, minimum=1)
    head_dim = _int_or(config, "head_dim", hidden // heads)
    routed = _int_or(config, "n_routed_experts", 0)
    layers = config["num_hidden_layers"]
    dense_layers = _int_or(config, "first_k_dense_replace", 0) if routed else layers
    name = meta.get("name") or config.get("_name_or_path") or "custom"
    if isinstance(name, str) and "/" in name:
        name = name.rstrip("/").rsplit("/", 1)[1]
    sparse = mla and _sparse(config)
    spec = {
        "name": name,
        "hf_repo": "%s/%s" % (meta["org"], meta["name"]) if meta.get("org") else config.get("_name_or_path"),
        "source": "catalogue" if meta else "config.json",
        "architecture": config.get("model_type") or "unknown",
        # attention: the KV layout the plan and the engine flags branch on (sparse MLA caches the MLA latent);
        # attention_kind: that plus sparsity, "mla_sparse" for DeepSeek Sparse Attention.
        "attention": "mla" if mla else ("mha" if kv_heads == heads else "gqa"),
        "attention_kind": "mla_sparse" if sparse else ("mla" if mla else ("mha" if kv_heads == heads else "gqa")),
        "index_n_heads": _int_or(config, "index_n_heads", _INDEX_DEFAULTS["index_n_heads"]) if sparse else None,
        "index_head_dim": _int_or(config, "index_head_dim", _INDEX_DEFAULTS["index_head_dim"]) if sparse else None,
        "index_topk": _int_or(config, "index_topk", _INDEX_DEFAULTS["index_topk"]) if sparse else None,
        "requires_architectures": SPARSE_ARCHITECTURES if sparse else None,
        "layers": layers,
        "hidden_size": hidden,
        "intermediate_size": config["intermediate_size"],
        "attention_heads": heads,
        "kv_heads": heads if mla else kv_heads,
        "head_dim": None if mla else head_dim,
        "q_lora_rank": _int_or(config, "q_lora_rank", None) if mla else None,
        "kv_lora_rank": _int_or(config, "kv_lora_rank", None, minimum=1) if mla else None,
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
        "context_model_card": meta.get("context_model_card"),
        "context_note": meta.get("context_note"),
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
    spec["weights_bytes"] = _weights_bytes(config.get("weights_bytes"))
    return spec


def _weights_bytes(value):
    """A measured total weights size (bytes or '140GiB'), or None: weights.weights() then uses it instead of bits x params."""
    if value is None:
        return None
    size = common.parse_size(value, "weights_bytes")
    if size <= 0:
        raise common.SizingError("weights_bytes must be > 0, got %r" % (value,), "weights_bytes", value)
    return size


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
        if spec.get("index_head_dim"):
            # DSA lightning indexer, replicated on every TP rank (vLLM deepseek_v2.py class Indexer: ReplicatedLinear
            # wq_b q_lora_rank -> index_n_heads x index_head_dim, wk hidden -> index_head_dim, both quantised).
            replicated += (spec["q_lora_rank"] or h) * spec["index_n_heads"] * spec["index_head_dim"] + h * spec["index_head_dim"]
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
        if spec.get("index_head_dim"):
            # indexer weights_proj (hidden -> index_n_heads, quant_config=None in vLLM: stays 16-bit) and
            # k_norm (a LayerNorm: weight + bias of index_head_dim)
            small += h * spec["index_n_heads"] + 2 * spec["index_head_dim"]
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
    """Normalised architecture dict of a catalogue name, a config.json dict, a model_spec result, or
    {"model": catalogue name, "weights_bytes": measured size} (a catalogue model with a measured weights size)."""
    if isinstance(model, dict) and "model" in model and "num_hidden_layers" not in model:
        unknown = sorted(str(k) for k in model if k not in ("model", "weights_bytes"))
        if unknown:
            raise common.SizingError("model dict with 'model' takes only 'weights_bytes' beside it, got %s" % ", ".join(unknown),
                                     "model", unknown, ["model", "weights_bytes"])
        spec = model_spec(model["model"])
        if "weights_bytes" in model:
            spec["weights_bytes"] = _weights_bytes(model["weights_bytes"])
        return spec
    if isinstance(model, dict):
        if "num_hidden_layers" in model or _refuse_unmodelled(model):
            return _spec_from_config(copy.deepcopy(dict(model)))
        if "layers" in model and "attention" in model and "params_breakdown" in model:
            spec = copy.deepcopy(dict(model))
            # a spec saved before these keys existed is a dense one
            for key in ("index_n_heads", "index_head_dim", "index_topk", "requires_architectures", "context_model_card",
                        "context_note", "weights_bytes"):
                spec.setdefault(key, None)
            spec.setdefault("attention_kind", spec["attention"])
            if spec["weights_bytes"] is not None:
                spec["weights_bytes"] = _weights_bytes(spec["weights_bytes"])
            return spec
        raise common.SizingError(
            "model dict is neither a Hugging Face config.json (needs %s) nor a model_spec result" % ", ".join(_REQUIRED_CONFIG_KEYS),
            "model", sorted(str(k) for k in model.keys()), list(_REQUIRED_CONFIG_KEYS))
    if not isinstance(model, str) or not model.strip():
        raise common._unknown("model", model, model_names(), MODEL_ROUTE)
    entry = _lookup_model(model)
    spec = _spec_from_config(copy.deepcopy(entry["config"]), meta=entry)
    spec["aliases"] = list(entry["aliases"])
    if "params_mtp_b" in entry:
        spec["params_mtp_b"] = entry["params_mtp_b"]
    return spec


# ---------------------------------------------------------------------------
# KV cache per token, per layer (model-wide)
# ---------------------------------------------------------------------------

def _kv_elems_per_layer(spec):
    """KV elements stored per token per layer for the whole model (before any split)."""
    if spec["attention"] == "mla":
        return spec["kv_lora_rank"] + spec["qk_rope_head_dim"]
    return 2 * spec["kv_heads"] * spec["head_dim"]


def _kv_layer_bytes(spec, dtype_bytes):
    """KV-cache bytes one token stores in one layer at a 1- or 2-byte KV dtype.

    Sparse MLA (V3.2) stores more than the latent: vLLM's FP8 sparse cache (fp8_ds_mla) is 656 bytes per token,
    512 FP8 latent values + 4 FP32 scales (one per 128) + the 64 RoPE values in BF16 (FlashMLASparseBackend
    .get_kv_cache_shape, vllm/v1/attention/backends/mla/flashmla_sparse.py); at 16 bits it is 576 x 2. Each layer
    also keeps the indexer's key cache, FP8 whatever the KV dtype: index_head_dim bytes + one FP32 scale per 128
    = 132 bytes (vLLM deepseek_v2.py Indexer: DeepseekV32IndexerCache head_dim + head_dim // 128 * 4; SGLang's
    NSA pool allocates the same index_head_dim + index_head_dim // quant_block_size * 4).
    """
    if not spec.get("index_head_dim"):
        return _kv_elems_per_layer(spec) * dtype_bytes
    rank, rope, index = spec["kv_lora_rank"], spec["qk_rope_head_dim"], spec["index_head_dim"]
    latent = rank + rank // 128 * 4 + rope * 2 if dtype_bytes == 1 else (rank + rope) * dtype_bytes
    return latent + index + index // 128 * 4


def _kv_bytes(spec, dtype_bytes):
    return _kv_layer_bytes(spec, dtype_bytes) * spec["layers"]
