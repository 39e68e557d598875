# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Quantisation names and the weight memory of a model at a quantisation."""

from __future__ import annotations

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, common, models


def quant_names():
    return list(catalog.QUANTS.keys())


def normalize_quant(quant, spec=None, argument="quant"):
    if quant is None or (isinstance(quant, str) and quant.strip().lower() in ("", "auto", "native")):
        if spec is None:
            raise common._unknown(argument, quant, quant_names())
        return spec["native_dtype"]
    if not isinstance(quant, str):
        raise common._unknown(argument, quant, quant_names())
    key = quant.strip().lower()
    if key in catalog.QUANTS:
        return key
    alias = catalog.QUANT_ALIASES.get(common._norm(key))
    if alias:
        return alias
    for name in catalog.QUANTS:
        if common._norm(name) == common._norm(key):
            return name
    raise common._unknown(argument, quant, quant_names())


def _quant_bytes(params, quant, spec):
    q = catalog.QUANTS[quant]
    bits = q["bits"]
    if q.get("per_channel_scale_bits"):
        bits += q["per_channel_scale_bits"] / spec["hidden_size"]
    return params * bits / 8.0


def _estimated_component_bytes(spec, quant):
    q = catalog.QUANTS[quant]
    if q["kind"] == "float":
        return 2.0, 2.0, 2.0
    per_param = _quant_bytes(1.0, quant, spec)
    if q["kind"] == "gguf":
        return per_param, per_param, 4.0  # llama.cpp keeps norms / router in F32
    return per_param, 2.0, 2.0  # embeddings, head, norms, router stay BF16


def _split(spec):
    """Parameters of the main model by class: (quantised matrices, embed/head, small tensors)."""
    b = spec["params_breakdown"]
    return (b["attention"] + b["mlp_dense"] + b["experts_shared"] + b["experts_routed"], b["embed"] + b["lm_head"],
            b["norms_router_bias"])


def _component_bytes(spec, quant):
    """Bytes per parameter class at `quant`: (quantised matrices, embed/head, small tensors).

    With a measured spec["weights_bytes"] (mixed "dynamic" GGUF quants such as unsloth's UD-IQ1_S have no single
    bits per weight) all three are scaled by measured / estimated, so the total is the measured size and each layer
    and stage gets its share in proportion to the bits-per-weight estimate.
    """
    mat, emb, small = _estimated_component_bytes(spec, quant)
    measured = spec.get("weights_bytes")
    if not measured:
        return mat, emb, small
    matrices, embeds, smalls = _split(spec)
    factor = measured / float(matrices * mat + embeds * emb + smalls * small)
    return mat * factor, emb * factor, small * factor


def _weights_note(spec, q):
    if spec.get("weights_bytes"):
        return ("weights size measured (weights_bytes %d), not estimated from bits per weight; split over layers in "
                "proportion to the %s estimate" % (spec["weights_bytes"], q["label"]))
    return "weights size estimated from %s bits per weight" % q["label"]


def weights(model, quant=None, include_mtp=False):
    """Weight memory of a model at a quantisation."""
    spec = models.model_spec(model)
    quant = normalize_quant(quant, spec)
    b = spec["params_breakdown"]
    mat, emb, small = _component_bytes(spec, quant)
    matrices, embeds, smalls = _split(spec)
    if include_mtp and b["mtp"]:
        h = spec["hidden_size"]
        mtp_embeds = b["embed"] + (b["lm_head"] or b["embed"])
        layer = models._layer_params(spec, spec["layers"])
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
        "quantized_gib": common._gib(quantized_bytes) if q["kind"] != "float" else 0.0,
        "unquantized_gib": common._gib(unquantized_bytes) if q["kind"] != "float" else common._gib(total),
        "total_gib": common._gib(total),
        "total_gb": round(total / 1e9, 3),
        "source": "measured" if spec.get("weights_bytes") else "estimated",
        "note": _weights_note(spec, q),
    }
