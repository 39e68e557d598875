# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Parallel layouts: the smallest deployment of a model on a GPU that an engine starts and that fits.

gpu_plan validates its arguments, searches the layouts the engine starts (engine_rules.RULES) in order of
size, sizes each with that engine's memory and KV-paging rules, and attaches the flags of every engine that
can serve the plan's hardware (built in :mod:`engines`); when nothing fits, it suggests the smallest hardware
that would. Dense models under load get data-parallel replicas rather than a pipeline over many nodes.
"""

from __future__ import annotations

import math

from ansible_collections.onprem.deepseek.plugins.module_utils import (
    catalog, common, dtypes, engine_rules, engines, gpu_specs, kvcache, models, queueing, weights)

# Per-GPU runtime overhead inside the engine's memory budget: CUDA context and NCCL
# buffers (~0.5-1 GiB), CUDA graphs (~0.5-1.5 GiB), and the activation peak the engines
# profile at their default batched-token budget (~1 GiB).  See docs/sizing.md.
DEFAULT_OVERHEAD_GIB = engine_rules.RULES["vllm"]["overhead_gib"]
DEFAULT_MARGIN_GIB = engine_rules.MARGIN_GIB
DEFAULT_MIN_KV_GIB = engine_rules.MIN_KV_GIB
DEFAULT_GPU_MEMORY_UTILIZATION = 0.90
DEFAULT_GPUS_PER_NODE = 8
# Upper bound of the node search when max_nodes is not given.
SEARCH_MAX_NODES = 64
# The engines a plan carries flags for (engine_args, command_args).
PLAN_ENGINES = ("vllm", "sglang", "llama_cpp")


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
    mat, emb, small = weights._component_bytes(spec, quant)
    parts = _pp_partition(spec["layers"], pp)
    stages = []
    start = 0
    kinds = {}  # _layer_params depends on the layer only through whether it is a MoE layer: two kinds, computed once
    for s, count in enumerate(parts):
        total = 0.0
        for i in range(start, start + count):
            moe = models._is_moe_layer(spec, i)
            layer = kinds.get(moe) or kinds.setdefault(moe, models._layer_params(spec, i))
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
                    total += layer["attn_kv"] * mat * kvcache._kv_heads_per_gpu(spec, tp) / spec["kv_heads"]
        divisor = 1 if dp_attention else tp
        if s == 0:
            total += spec["params_breakdown"]["embed"] * emb / divisor
        if s == pp - 1:
            total += (spec["params_breakdown"]["lm_head"] * emb / divisor) + spec["hidden_size"] * small
        stages.append({"layers": count, "weight_bytes": total})
        start += count
    return stages


def _evaluate(spec, gpu, quant, kv, layout, sizing):
    """One layout sized by one engine's rules. layout: (tp, pp, nodes, dp_attention, data_parallel)."""
    tp, pp, nodes, dp_attention, replicas = layout
    engine = sizing["engine"]
    util = sizing["util"] if engine_rules.RULES[engine]["memory_cap"] else 1.0
    overhead_gib, margin_gib = sizing["overhead_gib"], sizing["margin_gib"]
    max_model_len, concurrency = sizing["max_model_len"], sizing["concurrency"]
    block = engine_rules.kv_block_tokens(engine, spec, gpu)
    seq_tokens = engine_rules.tokens_per_sequence(max_model_len, block)
    memory_gib = gpu["memory_gib"]
    budget = memory_gib * util * common.GIB
    reserved = (overhead_gib + margin_gib) * common.GIB
    stages = _stage_weight_bytes(spec, quant, tp, pp, dp_attention)
    per_layer_gpu = kvcache.kv_bytes_per_layer_gpu(spec, tp, dp_attention, kv)
    worst = None
    for st in stages:
        free_kv = budget - st["weight_bytes"] - reserved
        per_token = per_layer_gpu * st["layers"]
        tokens = int(free_kv // per_token) // block * block if free_kv > 0 and per_token else 0
        st["kv_bytes"] = max(0.0, free_kv)
        st["tokens"] = tokens
        if worst is None or tokens < worst["tokens"] or (tokens == worst["tokens"] and st["weight_bytes"] > worst["weight_bytes"]):
            worst = st
    ranks = tp if dp_attention else 1
    kv_tokens = worst["tokens"] * ranks * replicas
    max_conc = (worst["tokens"] // seq_tokens) * ranks * replicas
    weights_gib = worst["weight_bytes"] / common.GIB
    kv_cache_gib = worst["kv_bytes"] / common.GIB
    weights_fit = worst["weight_bytes"] + reserved < budget
    gpus = tp * pp * replicas
    result = {
        "plan_engine": engine,
        "tensor_parallel": tp,
        "pipeline_parallel": pp,
        "data_parallel": replicas,
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
        "margin_gib": round(margin_gib, 3),
        # the margin is kept free: outside the budget + margin (what plan_svg draws as free)
        "free_gib": round(memory_gib - weights_gib - kv_cache_gib - overhead_gib, 3) if weights_fit else 0.0,
        "kv_block_tokens": block,
        "kv_bytes_per_token_per_gpu": per_layer_gpu * worst["layers"],
        "kv_tokens": kv_tokens,
        "max_concurrency": max_conc,
        "kv_needed_gib": round(kvcache.spec_kv_needed(per_layer_gpu * worst["layers"], seq_tokens, concurrency, ranks * replicas), 3),
        "stage_layers": [st["layers"] for st in stages],
        "weights_fit": weights_fit,
    }
    if not weights_fit:
        result["fits"] = False
        numbers = (weights_gib, overhead_gib, margin_gib, memory_gib * util, memory_gib, util, _layout_text(result))
        result["reason"] = ("weights need %.2f GiB per GPU plus %.2f GiB overhead and %.2f GiB safety margin, more than the %.2f GiB "
                            "budget (%.2f GiB x %.2f) with %s" % numbers)
    elif max_conc < concurrency:
        result["fits"] = False
        result["reason"] = ("KV cache holds %d tokens (%d sequences of %d tokens in %d-token blocks), fewer than the %d concurrent "
                            "sequences required with %s" % (kv_tokens, max_conc, max_model_len, block, concurrency, _layout_text(result)))
    elif kv_cache_gib < sizing.get("kv_floor", 0.0):
        result["fits"] = False
        result["reason"] = ("KV cache of %.2f GiB per GPU is under the %.2f GiB floor (min_kv_gib) with %s"
                            % (kv_cache_gib, sizing["kv_floor"], _layout_text(result)))
    else:
        result["fits"] = True
    return result


def _layout_text(plan):
    if plan.get("dp_attention"):
        text = "%d GPU(s) with data-parallel attention (DP%d + EP%d)" % (plan["gpus"], plan["gpus"], plan["gpus"])
    elif plan.get("data_parallel", 1) > 1:
        text = "%d data-parallel replicas of TP%d" % (plan["data_parallel"], plan["tensor_parallel"])
    else:
        text = "TP%d x PP%d" % (plan["tensor_parallel"], plan["pipeline_parallel"])
    return "%s on %d node(s)" % (text, plan["nodes"])


def _replicas(spec, gpu, quant, kv, singles, sizing, gpus_per_node, max_nodes):
    """Dense model, one node too small for the load: N replicas of the in-node layout that needs the fewest GPUs."""
    rules = engine_rules.RULES[sizing["engine"]]
    best = None
    for base in singles:
        if not base["weights_fit"] or base["max_concurrency"] < 1:
            continue
        count = queueing.replicas_for_concurrency(sizing["concurrency"], base["max_concurrency"])
        per_node = gpus_per_node // base["gpus"]
        nodes = int(math.ceil(count / float(per_node)))
        if nodes > 1:
            if rules["dense_data_parallel"] != "nodes":
                continue
            count = nodes * per_node  # full nodes: every node runs the same --data-parallel-size-local
        if nodes > max_nodes:
            continue
        key = (count * base["gpus"], base["gpus"])
        if best is None or key < best[0]:
            best = (key, (base["tensor_parallel"], 1, nodes, False, count))
    return _evaluate(spec, gpu, quant, kv, best[1], sizing) if best else None


def _search(spec, gpu, quant, kv, gpus_per_node, max_nodes, dp_attention, sizing):
    last, singles = None, []
    kind = catalog.QUANTS[quant]["kind"]
    dense_dp = not spec["moe"] and not dp_attention and engine_rules.RULES[sizing["engine"]]["dense_data_parallel"]
    for tp, pp, nodes in engine_rules.candidates(sizing["engine"], spec, gpu, kind, gpus_per_node, max_nodes, dp_attention,
                                                 lambda n: _valid_ep(spec, n)):
        if nodes > 1 and dense_dp and singles:
            alt = _replicas(spec, gpu, quant, kv, singles, sizing, gpus_per_node, max_nodes)
            if alt is not None and alt["fits"]:
                return alt, None
            singles = []
        plan = _evaluate(spec, gpu, quant, kv, (tp, pp, nodes, dp_attention, 1), sizing)
        if plan["fits"]:
            return plan, None
        if nodes == 1:
            singles.append(plan)
        last = plan
    if dense_dp and singles:
        alt = _replicas(spec, gpu, quant, kv, singles, sizing, gpus_per_node, max_nodes)
        if alt is not None and alt["fits"]:
            return alt, None
    if last is None:
        problem = engine_rules.layout_problem(sizing["engine"], spec, gpu, kind, 1, 1, 1, dp_attention) or "no layout of %s starts %s" % (
            sizing["engine"], spec["name"])
        return None, problem
    return last, None


def _engine_flags(spec, gspec, quant, kv, plan, sizing, gpus_per_node, dtype_override):
    """Flags of every engine that serves the plan's hardware, each with its own layout and memory rules."""
    out = {}
    kind = catalog.QUANTS[quant]["kind"]
    for engine in PLAN_ENGINES:
        if engine in sizing.get("unsupported", {}):
            continue
        if engine == plan.get("plan_engine") and plan["fits"]:
            eplan = plan
        else:
            layouts = [lay for lay in engine_rules.same_hardware_layouts(engine, plan)
                       if not engine_rules.layout_problem(engine, spec, gspec, kind, *lay, gpus_per_node=gpus_per_node)]
            if not layouts:
                continue
            layout = layouts[0]
            esizing = dict(sizing, engine=engine, overhead_gib=sizing["overhead_for"](engine), margin_gib=sizing["margin_for"](engine))
            eplan = _evaluate(spec, gspec, quant, kv, layout, esizing)
            if not eplan["fits"]:
                continue
        flags = engines._engine_args(spec, gspec, quant, kv, eplan, sizing["max_model_len"], sizing["concurrency"], sizing["util"],
                                     eplan["overhead_gib"] + eplan["margin_gib"], gpus_per_node, dtype_override)
        if engine in flags:
            out[engine] = flags[engine]
    return out


def _with_flags(spec, gspec, quant, kv, plan, sizing, gpus_per_node, dtype_override):
    plan["engine_args"] = _engine_flags(spec, gspec, quant, kv, plan, sizing, gpus_per_node, dtype_override) if plan.get("gpus") else {}
    plan["engine_argv"] = dict((name, engines.argv(flags)) for name, flags in plan["engine_args"].items())
    return plan


def gpu_plan(model, gpu, quant=None, kv_dtype="auto", gpus_per_node=DEFAULT_GPUS_PER_NODE, max_nodes=None,
             max_model_len=None, concurrency=1, gpu_memory_utilization=DEFAULT_GPU_MEMORY_UTILIZATION,
             overhead_gib=None, dp_attention=False, engine=None, suggest=True, margin_gib=None, min_kv_gib=None, _kv_floor=0.0,
             _bare=False):
    """Smallest deployment of `model` on `gpu` that fits; see plugins/filter/gpu_plan.yml."""
    spec = models.model_spec(model)
    gspec = gpu_specs.gpu_spec(gpu)
    quant = weights.normalize_quant(quant, spec)
    kv = kvcache.normalize_kv_dtype(kv_dtype)
    gpus_per_node = common._number("gpus_per_node", gpus_per_node, 1, 64, integer=True)
    limited = max_nodes is not None
    max_nodes = common._number("max_nodes", max_nodes, 1, 1024, integer=True) if limited else SEARCH_MAX_NODES
    context_source = "argument" if max_model_len is not None else "config.json"
    if max_model_len is None:
        max_model_len = spec["max_context"]
    max_model_len = common._number("max_model_len", max_model_len, 1, integer=True)
    if max_model_len > spec["max_context"]:
        raise common.SizingError("max_model_len %d exceeds the maximum context of %s (%d tokens)" % (max_model_len, spec["name"], spec["max_context"]),
                                 "max_model_len", max_model_len)
    concurrency = common._number("concurrency", 1 if concurrency is None else concurrency, 1, integer=True)
    util = common._number("gpu_memory_utilization", DEFAULT_GPU_MEMORY_UTILIZATION if gpu_memory_utilization is None else gpu_memory_utilization,
                          0.0, 1.0, allow_equal_min=False)
    if overhead_gib is not None:
        overhead_gib = common._number("overhead_gib", overhead_gib, 0.0)
    if margin_gib is not None:
        margin_gib = common._number("margin_gib", margin_gib, 0.0)
    min_kv_gib = common._number("min_kv_gib", DEFAULT_MIN_KV_GIB if min_kv_gib is None else min_kv_gib, 0.0)
    if engine is not None and engine not in PLAN_ENGINES:
        raise common._unknown("engine", engine, PLAN_ENGINES)
    if not isinstance(dp_attention, bool):
        raise common.SizingError("dp_attention must be true or false, got %r" % (dp_attention,), "dp_attention", dp_attention)
    if dp_attention and not (spec["attention"] == "mla" and spec["moe"]):
        raise common.SizingError("dp_attention needs an MLA mixture-of-experts model; %s uses %s attention" % (spec["name"], spec["attention"].upper()),
                                 "dp_attention", dp_attention)
    rules_engine = engine or engine_rules.default_engine(catalog.QUANTS[quant]["kind"])
    if dp_attention and not engine_rules.RULES[rules_engine]["dp_attention"]:
        raise common.SizingError("dp_attention is a vLLM and SGLang layout; engine %s has none" % rules_engine, "dp_attention", dp_attention)
    sizing = {
        "engine": rules_engine, "util": util, "max_model_len": max_model_len, "concurrency": concurrency, "kv_floor": _kv_floor,
        "overhead_for": lambda name: engine_rules.RULES[name]["overhead_gib"] if overhead_gib is None else overhead_gib,
        "margin_for": lambda name: engine_rules.RULES[name]["margin_gib"] if margin_gib is None else margin_gib,
    }
    sizing["overhead_gib"], sizing["margin_gib"] = sizing["overhead_for"](rules_engine), sizing["margin_for"](rules_engine)

    reason, kv, notes, dtype_override, unsupported = dtypes.check(spec, gspec, quant, kv)
    sizing["unsupported"] = unsupported
    if not reason and rules_engine in unsupported:
        reason = unsupported[rules_engine]
    if spec.get("weights_bytes"):
        notes.append(weights.weights(spec, quant)["note"])
    if gspec.get("memory_note"):
        notes.append(gspec["memory_note"])
    if not engine_rules.RULES[rules_engine]["memory_cap"]:
        notes.append("%s has no memory cap: the budget is the whole GPU less overhead and margin" % engine_rules.RULES[rules_engine]["label"])
    base = {
        "model": spec["name"], "gpu": gspec["name"], "quant": quant, "kv_dtype": kv, "max_model_len": max_model_len,
        "concurrency": concurrency, "gpu_memory_utilization": util, "gpus_per_node": gpus_per_node,
        "max_nodes": max_nodes if limited else None, "attention": spec["attention"],
        "kv_bytes_per_token": models._kv_bytes(spec, catalog.KV_DTYPES[kv]),
        "weights_total_gib": weights.weights(spec, quant)["total_gib"], "notes": notes, "plan_engine": rules_engine,
        "min_kv_gib": min_kv_gib,
        "max_model_len_source": context_source, "max_context": spec["max_context"],
        "context_model_card": spec.get("context_model_card"),
    }
    notes.extend(_context_notes(spec, max_model_len, context_source))
    plan = None
    if not reason:
        plan, reason = _search(spec, gspec, quant, kv, gpus_per_node, max_nodes, dp_attention, sizing)
    if plan is None:
        plan = {"fits": False, "reason": reason, "tensor_parallel": None, "pipeline_parallel": None, "data_parallel": None, "nodes": None,
                "gpus": None, "weights_gib": None, "kv_cache_gib": None, "overhead_gib": sizing["overhead_gib"], "margin_gib": sizing["margin_gib"],
                "free_gib": None, "kv_tokens": 0, "max_concurrency": 0, "engine_args": {}, "engine_argv": {},
                "memory_gib": round(gspec["memory_gib"], 3),
                "budget_gib": round(gspec["memory_gib"] * (util if engine_rules.RULES[rules_engine]["memory_cap"] else 1.0), 3)}
    else:
        if not _bare:  # smallest_fit's probes need the layout, not the flags
            _with_flags(spec, gspec, quant, kv, plan, sizing, gpus_per_node, dtype_override)
        if not plan["fits"] and limited:
            plan["reason"] += " (max_nodes %d)" % max_nodes
    plan.update(base)
    if engine is not None:
        plan["engine"] = engine
        plan["command_args"] = plan.get("engine_argv", {}).get(engine, [])
    if spec["attention"] == "mla" and spec["moe"] and not dp_attention and plan.get("gpus") and engine_rules.RULES[rules_engine]["dp_attention"] \
            and not _bare:
        alt = None
        if _valid_ep(spec, plan["gpus"]) and not plan.get("data_parallel", 1) > 1:
            alt = _evaluate(spec, gspec, quant, kv, (plan["gpus"], 1, plan["nodes"], True, 1), sizing)
            _with_flags(spec, gspec, quant, kv, alt, sizing, gpus_per_node, dtype_override)
        plan["dp_attention_layout"] = alt
    if not plan["fits"] and suggest:
        plan["smallest_fit"] = _smallest_fit(spec, gspec, quant, kv, gpus_per_node, dp_attention, max_model_len, concurrency, util,
                                             overhead_gib, margin_gib, rules_engine, min_kv_gib)
    return plan


def _context_notes(spec, max_model_len, source):
    """Which context limit the plan uses and why; the model card's, where it states less than config.json."""
    out = []
    if source == "config.json":
        out.append("max_model_len %d: config.json's max_position_embeddings, the limit vLLM and SGLang derive --max-model-len "
                   "from and enforce" % max_model_len)
    card = spec.get("context_model_card")
    if source == "config.json" and card and card == max_model_len and spec.get("context_note"):
        # the catalogue's word on where that figure comes from (the card and config.json agree, or only the card was read)
        out.append(spec["context_note"])
    if card and max_model_len > card:
        out.append(spec.get("context_note") or "the model card states %d tokens of context, less than the %d planned" % (card, max_model_len))
    return out


def _fit_summary(plan):
    return {
        "gpu": plan["gpu"], "gpus": plan["gpus"], "nodes": plan["nodes"],
        "tensor_parallel": plan["tensor_parallel"], "pipeline_parallel": plan["pipeline_parallel"],
        "dp_attention": plan.get("dp_attention", False), "data_parallel": plan.get("data_parallel", 1),
        "max_concurrency": plan["max_concurrency"], "kv_tokens": plan["kv_tokens"],
        "text": "%d node(s) x %d x %s (%s)" % (
            plan["nodes"], plan["gpus"] // plan["nodes"], plan["gpu"],
            "DP-attention %d" % plan["gpus"] if plan.get("dp_attention")
            else "%d x TP%d" % (plan["data_parallel"], plan["tensor_parallel"]) if plan.get("data_parallel", 1) > 1
            else "TP%d x PP%d" % (plan["tensor_parallel"], plan["pipeline_parallel"])),
    }


def _smallest_fit(spec, gspec, quant, kv, gpus_per_node, dp_attention, max_model_len, concurrency, util, overhead_gib, margin_gib, engine,
                  min_kv_gib):
    """The smallest hardware that would fit, with at least min_kv_gib of KV cache per GPU: more nodes of the same GPU, and the best
    catalogue GPU, by the same engine's rules."""
    kwargs = dict(quant=quant, kv_dtype=kv, gpus_per_node=gpus_per_node, max_nodes=SEARCH_MAX_NODES, max_model_len=max_model_len,
                  concurrency=concurrency, gpu_memory_utilization=util, overhead_gib=overhead_gib, dp_attention=dp_attention, suggest=False,
                  engine=engine, margin_gib=margin_gib, min_kv_gib=min_kv_gib, _kv_floor=min_kv_gib, _bare=True)
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
