# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Per-engine plan rules: which layouts each engine starts, how it pages the KV cache, what memory it claims.

One table (RULES), one entry per engine of engines.ENGINES; gpu_plan (layout.py) searches the layouts an
engine starts and sizes them with its memory rules. Each rule cites where the engine says so (read 2026-12-03,
against the pinned vLLM 0.11.0 and SGLang 0.5.4 where the code has moved since):

- TP divides the attention heads. vLLM: vllm/config/model.py verify_with_parallel_config raises "Total number
  of attention heads (...) must be divisible by tensor parallel size (...)". SGLang: python/sglang/srt/models/
  deepseek_v2.py `assert num_heads % attn_tp_size == 0` (and the same in its Llama/Qwen2 attention).
  GQA: both split the KV heads when there are at least as many as TP ranks and replicate them otherwise
  (vLLM QKVParallelLinear, SGLang "if self.num_kv_heads >= attn_tp_size ... partition ... else replicate").
- vLLM spans nodes with pipeline parallel, TP inside a node: docs.vllm.ai serving/distributed_serving
  ("tensor parallel size to the number of GPUs in each node, pipeline parallel size to the number of nodes").
- SGLang spans nodes with tensor parallel: its DeepSeek guide (docs.sglang.ai basic_usage/deepseek.html,
  "2 x 8 x H100/800/20": `--tp 16 --nnodes 2 --dist-init-addr ...`) and sgl-project/sglang#2591 (`--tp 14
  --nnodes 4`). SGLang 0.5.4 has --pp-size, but its DeepSeek multi-node recipes do not use it; the plan follows
  the documented path.
- ROCm AITER MLA decode kernels take 16 or 128 query heads per rank: vllm/v1/attention/backends/mla/
  rocm_aiter_mla.py asserts "Aiter MLA only supports 16 or 128 number of heads ... Try adjusting
  tensor_parallel_size value" (the same AITER kernels back SGLang's aiter backend; ROCm/aiter#1468: 32 heads
  per rank, DeepSeek-R1 TP4 on MI355X, refused). DeepSeek V2/V3 (128 heads) on MI300X-class GPUs is TP1 or TP8
  per node, and so no SGLang TP16 across two nodes there.
- llama.cpp splits layers (and their KV) over any number of GPUs of one host: common/arg.cpp `--split-mode`
  "layer (default): split layers and KV across GPUs", `--tensor-split` proportions. It has no memory-utilisation
  cap (it allocates what the model, the context and its compute buffers need) and no TP head rule.
- KV paging (tokens per block; a sequence occupies whole blocks):
  vLLM CacheConfig DEFAULT_BLOCK_SIZE 16 (vllm/config/cache.py); on Hopper MLA models run FlashMLA and
  vllm/platforms/cuda.py logs "Forcing kv cache block size to 64 for FlashMLA backend"; on Blackwell (SM100) the
  CUTLASS MLA backend: "Forcing kv cache block size to 128 for CUTLASS_MLA backend"; ROCm AITER MLA runs with
  block size 1. SGLang page_size defaults to 1 (python/sglang/srt/server_args.py; FlashMLA forces 64, cutlass_mla
  128, trtllm_mla - its Blackwell MLA default - 32 or 64). llama.cpp: --ctx-size is the whole cache, shared by
  --parallel slots, so no per-sequence rounding.
- Memory: vLLM caps weights + activations + KV at --gpu-memory-utilization; SGLang's --mem-fraction-static
  covers weights + KV pool (the plan derives it from the same budget). vLLM 0.11 captures CUDA graphs after it
  sizes the KV cache and outside its profile (CUDA-graph memory profiling became vLLM's default only later,
  "default since v0.21.0" in its own log line), so a safety margin stays free of weights and KV: MARGIN_GIB.
"""

from __future__ import annotations

import math

# Per-GPU margin kept free of weights and KV cache besides overhead_gib: vLLM 0.11's CUDA-graph capture after KV
# sizing (later vLLM logs "Estimated CUDA graph memory: 0.55 GiB total" for a mid-size model at default capture
# sizes) plus the allocator fragmentation the profile run leaves. docs/sizing.md explains the choice.
MARGIN_GIB = 1.0
# smallest_fit proposes no layout whose KV cache per GPU is below this (a plan with a few hundred MiB of KV starts,
# then serves one short request at a time).
MIN_KV_GIB = 2.0

RULES = {
    "vllm": {
        "label": "vLLM",
        "tp_divides_heads": True,
        "across_nodes": "pp",
        "dense_data_parallel": "nodes",   # --data-parallel-size, across nodes with --data-parallel-size-local
        "dp_attention": True,
        "memory_cap": True,
        "overhead_gib": 3.0,
        "margin_gib": MARGIN_GIB,
        "kv_block": {"default": 16, "mla_hopper": 64, "mla_blackwell": 128, "mla_amd": 1},
        "quant_kinds": ("float", "gpu", "gguf"),
    },
    "sglang": {
        "label": "SGLang",
        "tp_divides_heads": True,
        "across_nodes": "tp",
        "dense_data_parallel": "node",    # --dp-size on one node
        "dp_attention": True,
        "memory_cap": True,
        "overhead_gib": 3.0,
        "margin_gib": MARGIN_GIB,
        "kv_block": {"default": 1, "mla_hopper": 1, "mla_blackwell": 64, "mla_amd": 1},
        "quant_kinds": ("float", "gpu", "gguf"),
    },
    "llama_cpp": {
        "label": "llama.cpp",
        "tp_divides_heads": False,
        "across_nodes": None,
        "dense_data_parallel": None,
        "dp_attention": False,
        "memory_cap": False,
        # CUDA context (~0.3-0.5 GiB) + the compute buffer llama.cpp logs as "CUDA0 compute buffer size" at its
        # default 512-token micro-batch (a few hundred MiB for 8B-70B models).
        "overhead_gib": 1.0,
        "margin_gib": 0.5,
        "kv_block": {"default": 1, "mla_hopper": 1, "mla_blackwell": 1, "mla_amd": 1},
        "quant_kinds": ("gguf",),
    },
}
# Engine whose rules a plan without `engine` follows: llama.cpp for GGUF files, vLLM otherwise.
DEFAULT_ENGINE = {"gguf": "llama_cpp"}
DEFAULT_ENGINE_OTHER = "vllm"
AITER_MLA_HEADS = (16, 128)


def default_engine(quant_kind):
    return DEFAULT_ENGINE.get(quant_kind, DEFAULT_ENGINE_OTHER)


def _amd(gpu):
    return gpu.get("vendor") == "amd" or str(gpu.get("architecture", "")).startswith("cdna")


def kv_block_tokens(engine, spec, gpu):
    """Tokens per KV block the engine pages with for this model on this GPU."""
    blocks = RULES[engine]["kv_block"]
    if spec["attention"] != "mla":
        return blocks["default"]
    if _amd(gpu):
        return blocks["mla_amd"]
    arch = gpu.get("architecture")
    if arch == "hopper":
        return blocks["mla_hopper"]
    if arch == "blackwell" and str(gpu.get("compute_capability", "")).startswith("10."):
        return blocks["mla_blackwell"]
    return blocks["default"]


def tokens_per_sequence(max_model_len, block):
    return int(math.ceil(max_model_len / float(block))) * block


def _heads_problem(engine, spec, gpu, tp):
    heads = spec["attention_heads"]
    if heads % tp:
        return "%s needs tensor parallel to divide the %d attention heads of %s; TP%d does not" % (RULES[engine]["label"], heads, spec["name"], tp)
    if spec["attention"] != "mla":
        kv = spec["kv_heads"]
        if kv % tp and tp % kv:
            return "TP%d neither divides nor is a multiple of the %d KV heads of %s" % (tp, kv, spec["name"])
    elif _amd(gpu) and heads // tp not in AITER_MLA_HEADS:
        return ("ROCm AITER MLA runs 16 or 128 heads per rank; TP%d leaves %d of the %d heads of %s per %s GPU"
                % (tp, heads // tp, heads, spec["name"], gpu["name"]))
    return None


def layout_problem(engine, spec, gpu, quant_kind, tp, pp, nodes, dp_attention=False, data_parallel=1, gpus_per_node=8):
    """None when `engine` starts this layout, else one sentence saying why not."""
    rules = RULES[engine]
    label = rules["label"]
    if quant_kind not in rules["quant_kinds"]:
        return "%s serves only GGUF files" % label if engine == "llama_cpp" else "%s does not load %s weights" % (label, quant_kind)
    if dp_attention:
        if not rules["dp_attention"]:
            return "%s has no data-parallel attention" % label
        return _heads_problem(engine, spec, gpu, 1) if _amd(gpu) and spec["attention"] == "mla" else None
    if engine == "llama_cpp":
        if nodes > 1:
            return "llama.cpp serves from one host (layers split over its GPUs)"
        if tp != 1 or data_parallel != 1:
            return "llama.cpp splits layers, not tensors or replicas"
        return None
    if data_parallel > 1:
        if not rules["dense_data_parallel"] or (rules["dense_data_parallel"] == "node" and nodes > 1):
            return "%s runs no data-parallel replicas across %d nodes" % (label, nodes)
    if rules["tp_divides_heads"]:
        problem = _heads_problem(engine, spec, gpu, tp)
        if problem:
            return problem
    if rules["across_nodes"] == "tp":
        if pp != 1:
            return "%s spans nodes with tensor parallel, not pipeline parallel" % label
    elif tp > gpus_per_node:
        return "%s keeps tensor parallel inside a node (TP%d > %d GPUs per node)" % (label, tp, gpus_per_node)
    if pp > spec["layers"]:
        return "%d pipeline stages for %d layers" % (pp, spec["layers"])
    return None


def candidates(engine, spec, gpu, quant_kind, gpus_per_node, max_nodes, dp_attention, ep_valid):
    """(tp, pp, nodes) layouts `engine` starts, smallest first."""
    if dp_attention:
        if not RULES[engine]["dp_attention"]:
            return
        for n in range(1, gpus_per_node + 1):
            if ep_valid(n) and not layout_problem(engine, spec, gpu, quant_kind, n, 1, 1, True):
                yield n, 1, 1
        for nodes in range(2, max_nodes + 1):
            n = nodes * gpus_per_node
            if ep_valid(n) and not layout_problem(engine, spec, gpu, quant_kind, n, 1, nodes, True):
                yield n, 1, nodes
        return
    if engine == "llama_cpp":
        if layout_problem(engine, spec, gpu, quant_kind, 1, 1, 1):
            return
        for n in range(1, min(gpus_per_node, spec["layers"]) + 1):
            yield 1, n, 1
        return
    tps = [t for t in range(1, gpus_per_node + 1) if not layout_problem(engine, spec, gpu, quant_kind, t, 1, 1, gpus_per_node=gpus_per_node)]
    for tp in tps:
        yield tp, 1, 1
    if not tps:
        return
    for nodes in range(2, max_nodes + 1):
        if RULES[engine]["across_nodes"] == "tp":
            tp = nodes * gpus_per_node
            if not layout_problem(engine, spec, gpu, quant_kind, tp, 1, nodes, gpus_per_node=gpus_per_node):
                yield tp, 1, nodes
        elif nodes <= spec["layers"]:
            yield tps[-1], nodes, nodes


def same_hardware_layouts(engine, plan):
    """Layouts `engine` could run on the plan's GPUs and nodes, preferred first: (tp, pp, nodes, dp_attention, data_parallel)."""
    gpus, nodes = plan["gpus"], plan["nodes"]
    replicas = plan.get("data_parallel", 1) or 1
    if plan.get("dp_attention"):
        return [(gpus, 1, nodes, True, 1)]
    if replicas > 1:
        return [(plan["tensor_parallel"], 1, nodes, False, replicas)]
    if engine == "llama_cpp":
        return [(1, gpus, nodes, False, 1)]
    if RULES[engine]["across_nodes"] == "tp":
        return [(gpus, 1, nodes, False, 1)]
    per_node = gpus // nodes
    return [(per_node, nodes, nodes, False, 1)] + ([(1, gpus, 1, False, 1)] if nodes == 1 and gpus > 1 else [])
