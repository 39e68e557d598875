# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""engine_rules.RULES: the layouts each engine starts, and gpu_plan following them.

Sources of each rule are cited in plugins/module_utils/engine_rules.py and docs/sizing.md.
"""

from __future__ import annotations

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, common, engine_rules, engines, gpu_specs, layout, models

V3 = models.model_spec("DeepSeek-V3")
H200 = gpu_specs.gpu_spec("H200")
MI300X = gpu_specs.gpu_spec("MI300X")


def test_one_rule_entry_per_engine():
    assert set(engine_rules.RULES) == set(engines.ENGINES) == set(layout.PLAN_ENGINES)
    keys = set(engine_rules.RULES["vllm"])
    for name, rules in engine_rules.RULES.items():
        assert set(rules) == keys, name


@pytest.mark.parametrize("engine,tp,pp,nodes,problem", [
    # SGLang: TP divides the heads, so no TP24 over three 8-GPU nodes for 128 heads; and it spans nodes with TP, not PP
    ("sglang", 24, 1, 3, "SGLang needs tensor parallel to divide the 128 attention heads of DeepSeek-V3; TP24 does not"),
    ("sglang", 8, 2, 2, "SGLang spans nodes with tensor parallel, not pipeline parallel"),
    ("sglang", 16, 1, 2, None),
    # vLLM: TP inside a node, PP across nodes
    ("vllm", 8, 2, 2, None),
    ("vllm", 16, 1, 2, "vLLM keeps tensor parallel inside a node (TP16 > 8 GPUs per node)"),
    ("llama_cpp", 1, 16, 2, "llama.cpp serves only GGUF files"),
])
def test_layout_rules_on_nvidia(engine, tp, pp, nodes, problem):
    assert engine_rules.layout_problem(engine, V3, H200, "gpu", tp, pp, nodes) == problem


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_rocm_aiter_mla_takes_16_or_128_heads_per_rank(engine):
    assert engine_rules.layout_problem(engine, V3, MI300X, "gpu", 4, 1, 1) == (
        "ROCm AITER MLA runs 16 or 128 heads per rank; TP4 leaves 32 of the 128 heads of DeepSeek-V3 per MI300X GPU")
    assert engine_rules.layout_problem(engine, V3, MI300X, "gpu", 8, 1, 1) is None
    # SGLang's TP16 over two nodes would leave 8 heads per rank
    assert engine_rules.layout_problem("sglang", V3, MI300X, "gpu", 16, 1, 2).startswith("ROCm AITER MLA runs 16 or 128")
    # data-parallel attention keeps all 128 heads on every rank
    assert engine_rules.layout_problem(engine, V3, MI300X, "gpu", 8, 1, 1, dp_attention=True) is None
    lite = models.model_spec("DeepSeek-V2-Lite")  # 16 heads: TP1 only
    tps = [tp for tp, pp, nodes in engine_rules.candidates(engine, lite, MI300X, "gpu", 8, 1, False, lambda n: True)]
    assert tps == [1]


def test_v3_on_mi300x_is_tp8_per_node():
    plan = layout.gpu_plan("DeepSeek-V3", "MI300X")
    assert (plan["fits"], plan["tensor_parallel"], plan["gpus"]) == (True, 8, 8)
    assert plan["kv_block_tokens"] == 1


def test_sglang_plan_spans_nodes_with_tp():
    plan = layout.gpu_plan("DeepSeek-V3", "H100-80G", engine="sglang")
    assert (plan["nodes"], plan["tensor_parallel"], plan["pipeline_parallel"]) == (2, 16, 1)
    assert plan["command_args"][plan["command_args"].index("--tp-size") + 1] == "16"
    assert "--pp-size" not in plan["command_args"]
    # vLLM runs the same two nodes as TP8 x PP2
    assert plan["engine_args"]["vllm"]["--tensor-parallel-size"] == 8
    assert plan["engine_args"]["vllm"]["--pipeline-parallel-size"] == 2
    # BF16 V3 (1.25 TiB): vLLM pipelines three H100 nodes; SGLang cannot run TP24 and takes four (TP32)
    vllm = layout.gpu_plan("DeepSeek-V3", "H100-80G", quant="bf16", max_model_len=32768, engine="vllm")
    sglang = layout.gpu_plan("DeepSeek-V3", "H100-80G", quant="bf16", max_model_len=32768, engine="sglang")
    assert (vllm["nodes"], vllm["tensor_parallel"], vllm["pipeline_parallel"]) == (3, 8, 3)
    assert (sglang["nodes"], sglang["tensor_parallel"]) == (4, 32)
    assert "sglang" not in vllm["engine_args"]


def test_llama_cpp_splits_layers_over_two_24gb_cards():
    # R1-Distill-Llama-70B Q4_K_M (~40 GiB): llama.cpp splits its 80 layers over two 24 GB cards, with no 0.9 cap;
    # vLLM needs TP4 for the same file under its cap and overhead.
    plan = layout.gpu_plan("DeepSeek-R1-Distill-Llama-70B", "RTX4090", quant="q4_k_m", max_model_len=8192, engine="llama_cpp")
    assert plan["fits"] is True, plan.get("reason")
    assert (plan["gpus"], plan["tensor_parallel"], plan["pipeline_parallel"], plan["nodes"]) == (2, 1, 2, 1)
    assert plan["stage_layers"] == [40, 40]
    assert plan["budget_gib"] == plan["memory_gib"]
    assert plan["overhead_gib"] == 1.0 and plan["margin_gib"] == 0.5
    assert set(plan["engine_args"]) == {"llama_cpp"}  # neither vLLM nor SGLang holds it on two cards
    assert plan["engine_args"]["llama_cpp"]["--split-mode"] == "layer"
    vllm = layout.gpu_plan("DeepSeek-R1-Distill-Llama-70B", "RTX4090", quant="q4_k_m", max_model_len=8192, engine="vllm")
    assert (vllm["gpus"], vllm["tensor_parallel"]) == (4, 4)


def test_llama_cpp_refuses_non_gguf_weights():
    plan = layout.gpu_plan("DeepSeek-R1-Distill-Qwen-32B", "L40S", quant="awq", max_model_len=32768, engine="llama_cpp")
    assert plan["fits"] is False and plan["reason"] == "llama.cpp serves only GGUF files"
    assert plan["engine_args"] == {} and plan["command_args"] == []


def test_llama_cpp_stays_on_one_host():
    assert engine_rules.layout_problem("llama_cpp", V3, H200, "gguf", 1, 16, 2) == "llama.cpp serves from one host (layers split over its GPUs)"
    with pytest.raises(common.SizingError, match="dp_attention is a vLLM and SGLang layout"):
        layout.gpu_plan("DeepSeek-V3", "H200", quant="q2_k", engine="llama_cpp", dp_attention=True)


def test_without_engine_the_default_engine_plans_and_only_engines_that_run_it_get_flags():
    plan = layout.gpu_plan("DeepSeek-V3", "H200")
    assert plan["plan_engine"] == "vllm" and "engine" not in plan
    assert set(plan["engine_args"]) == {"vllm", "sglang"}  # no GGUF: no llama.cpp
    gguf = layout.gpu_plan("DeepSeek-R1-Distill-Qwen-32B", "RTX4090", quant="q4_k_m", max_model_len=8192)
    assert gguf["plan_engine"] == "llama_cpp"
    explicit = layout.gpu_plan("DeepSeek-R1-Distill-Qwen-32B", "RTX4090", quant="q4_k_m", max_model_len=8192, engine="llama_cpp")
    assert explicit.pop("engine") == "llama_cpp" and explicit.pop("command_args")
    assert gguf == explicit


@pytest.mark.parametrize("engine,model,gpu,block", [
    ("vllm", "DeepSeek-V3", "H200", 64),       # FlashMLA
    ("vllm", "DeepSeek-V3", "B200", 128),      # CUTLASS MLA
    ("vllm", "DeepSeek-V3", "MI300X", 1),      # AITER MLA
    ("vllm", "DeepSeek-R1-Distill-Qwen-32B", "H200", 16),
    ("sglang", "DeepSeek-V3", "H200", 1),
    ("sglang", "DeepSeek-V3", "B200", 64),     # trtllm_mla
    ("llama_cpp", "DeepSeek-R1-Distill-Qwen-32B", "RTX4090", 1),
])
def test_kv_block_tokens(engine, model, gpu, block):
    assert engine_rules.kv_block_tokens(engine, models.model_spec(model), gpu_specs.gpu_spec(gpu)) == block


def test_a_model_that_requires_an_architecture_is_refused_elsewhere():
    spec = models.model_spec("DeepSeek-V3")
    spec["name"] = "sparse-attention-test"
    spec["requires_architectures"] = ("hopper", "blackwell")
    plan = layout.gpu_plan(spec, "A100-80G", max_model_len=32768)
    assert plan["fits"] is False
    assert plan["reason"] == "sparse-attention-test runs only on hopper, blackwell GPUs; A100-80G is ampere (compute capability 8.0)"
    assert plan["smallest_fit"]["any_gpu"]["gpu"] in [g["name"] for g in catalog.GPUS if g["architecture"] in ("hopper", "blackwell")]
    mi = layout.gpu_plan(spec, "MI300X", max_model_len=32768, suggest=False)
    assert mi["reason"] == "sparse-attention-test runs only on hopper, blackwell GPUs; MI300X is cdna3 (compute capability gfx942)"
    assert layout.gpu_plan(spec, "H200", max_model_len=32768)["fits"] is True


def test_a_new_gpu_quant_kind_does_not_break_the_plan(monkeypatch):
    # quants the catalogue may gain (nvfp4, mxfp4, w4a8) are kind "gpu": refused where the GPU does not list them,
    # planned where it does, with no --quantization flag (the checkpoint says it)
    monkeypatch.setitem(catalog.QUANTS, "nvfp4-test", {"bits": 4.5, "kind": "gpu", "label": "test FP4"})
    refused = layout.gpu_plan("DeepSeek-V3", "B200", quant="nvfp4-test", suggest=False)
    assert refused["fits"] is False and refused["reason"].startswith("quant 'nvfp4-test' cannot run on B200")
    card = {"name": "fp4-card", "memory_gib": 180, "compute_capability": "10.0", "architecture": "blackwell",
            "weight_dtypes": ["bf16", "fp8", "nvfp4-test"]}
    plan = layout.gpu_plan("DeepSeek-V3", card, quant="nvfp4-test", max_model_len=32768)
    assert plan["fits"] is True and plan["gpus"] == 4
    assert "--quantization" not in plan["engine_args"]["vllm"]
