# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Headroom: concurrency >= 1, whole KV blocks per sequence, the safety margin, the KV floor of smallest_fit,
and data-parallel replicas of a dense model under load (tied to queueing.replicas_for_concurrency)."""

from __future__ import annotations

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import common, layout, queueing


@pytest.mark.parametrize("value", [0, -3, "0"])
def test_concurrency_is_at_least_one(value):
    with pytest.raises(common.SizingError) as err:
        layout.gpu_plan("DeepSeek-V3", "H200", concurrency=value)
    assert err.value.argument == "concurrency"
    assert str(err.value) == "concurrency must be >= 1, got %r" % (value if not isinstance(value, str) else int(value))


def test_sequences_occupy_whole_blocks():
    # vLLM on Hopper pages DeepSeek-V3's MLA cache in 64-token FlashMLA blocks: a 1000-token sequence holds 1024 slots
    plan = layout.gpu_plan("DeepSeek-V3", "H200", max_model_len=1000)
    assert plan["kv_block_tokens"] == 64
    assert plan["kv_tokens"] % 64 == 0
    assert plan["max_concurrency"] == plan["kv_tokens"] // 1024
    # SGLang pages one token at a time on Hopper
    sglang = layout.gpu_plan("DeepSeek-V3", "H200", max_model_len=1000, engine="sglang")
    assert sglang["kv_block_tokens"] == 1 and sglang["max_concurrency"] == sglang["kv_tokens"] // 1000


def test_a_plan_fits_only_when_the_rounded_sequences_fit():
    # Find the concurrency at the edge: the plan holds max_concurrency rounded sequences, not one more
    plan = layout.gpu_plan("DeepSeek-R1-Distill-Qwen-32B", "L40S", quant="awq", max_model_len=32760)
    edge = plan["max_concurrency"]
    assert layout.gpu_plan("DeepSeek-R1-Distill-Qwen-32B", "L40S", quant="awq", max_model_len=32760, concurrency=edge)["gpus"] == 1
    bigger = layout.gpu_plan("DeepSeek-R1-Distill-Qwen-32B", "L40S", quant="awq", max_model_len=32760, concurrency=edge + 1, max_nodes=1)
    assert bigger["gpus"] > 1 or not bigger["fits"]


def test_safety_margin_comes_out_of_the_kv_cache():
    default = layout.gpu_plan("DeepSeek-V3", "H200")
    none = layout.gpu_plan("DeepSeek-V3", "H200", margin_gib=0)
    assert default["margin_gib"] == layout.DEFAULT_MARGIN_GIB == 1.0
    assert none["kv_cache_gib"] - default["kv_cache_gib"] == pytest.approx(1.0, abs=0.002)
    assert default["free_gib"] - none["free_gib"] == pytest.approx(1.0, abs=0.002)
    with pytest.raises(common.SizingError, match="margin_gib must be >= 0.0, got -1"):
        layout.gpu_plan("DeepSeek-V3", "H200", margin_gib=-1)


def test_smallest_fit_never_proposes_a_few_hundred_mib_of_kv():
    # R1-Distill-Llama-8B BF16 (15 GiB) with an FP8 cache, refused on a V100 (no FP8 KV cache before compute capability 8.x).
    # An A10 or L4 (24 GB) would hold it with about 1.3 GiB of KV (vLLM stores an FP8 KV cache on the Ampere A10 too);
    # the suggestion needs min_kv_gib (2 GiB by default) per GPU.
    args = ("DeepSeek-R1-Distill-Llama-8B", "V100-32G")
    kwargs = dict(kv_dtype="fp8", max_model_len=4096)
    plan = layout.gpu_plan(*args, **kwargs)
    assert plan["fits"] is False
    assert plan["min_kv_gib"] == layout.DEFAULT_MIN_KV_GIB == 2.0
    fit = plan["smallest_fit"]["any_gpu"]
    chosen = layout.gpu_plan("DeepSeek-R1-Distill-Llama-8B", fit["gpu"], **kwargs)
    assert chosen["kv_cache_gib"] >= 2.0
    loose = layout.gpu_plan(*args, min_kv_gib=0, **kwargs)["smallest_fit"]["any_gpu"]
    assert loose["gpu"] in ("A10", "L4") and fit["gpu"] not in ("A10", "L4")
    assert layout.gpu_plan("DeepSeek-R1-Distill-Llama-8B", loose["gpu"], **kwargs)["kv_cache_gib"] < 2.0


def test_dense_model_under_load_gets_replicas_not_a_pipeline():
    # R1-Distill-Qwen-7B, 32K context, 300 concurrent sequences on L40S: one node's TP4 holds 75; four TP4
    # replicas on two nodes carry the load (vLLM --data-parallel-size 4, 2 per node), not TP4 x PP over nodes.
    plan = layout.gpu_plan("DeepSeek-R1-Distill-Qwen-7B", "L40S", max_model_len=32768, concurrency=300)
    assert plan["fits"] is True, plan.get("reason")
    assert (plan["data_parallel"], plan["tensor_parallel"], plan["pipeline_parallel"], plan["nodes"], plan["gpus"]) == (4, 4, 1, 2, 16)
    one = layout.gpu_plan("DeepSeek-R1-Distill-Qwen-7B", "L40S", max_model_len=32768, max_nodes=1)
    replica = layout.gpu_plan("DeepSeek-R1-Distill-Qwen-7B", "L40S", max_model_len=32768, concurrency=60)
    assert replica["tensor_parallel"] == 4 and one["gpus"] == 1
    assert plan["max_concurrency"] == 4 * replica["max_concurrency"] >= 300
    assert queueing.replicas_for_concurrency(300, replica["max_concurrency"]) <= plan["data_parallel"]
    vllm = plan["engine_args"]["vllm"]
    assert (vllm["--data-parallel-size"], vllm["--data-parallel-size-local"], vllm["--tensor-parallel-size"]) == (4, 2, 4)
    assert "--distributed-executor-backend" not in vllm
    assert "sglang" not in plan["engine_args"]  # SGLang's --dp-size stays on one node
    # replicas_for_load with the plan's max_concurrency as the slots: the whole deployment is one replica of the load
    load = queueing.replicas_for_load(300 * 86400 / 60.0, 60, slots_per_replica=plan["max_concurrency"])
    assert load["replicas"] == 1


def test_dense_replicas_on_one_node_run_in_both_gpu_engines():
    plan = layout.gpu_plan("DeepSeek-R1-Distill-Qwen-7B", "L40S", max_model_len=32768, concurrency=150)
    assert (plan["data_parallel"], plan["tensor_parallel"], plan["nodes"], plan["gpus"]) == (2, 4, 1, 8)
    assert plan["engine_args"]["sglang"]["--dp-size"] == 2 and plan["engine_args"]["sglang"]["--tp-size"] == 4
    assert plan["engine_args"]["vllm"]["--data-parallel-size"] == 2


def test_mixture_of_experts_keeps_pipeline_and_dp_attention():
    plan = layout.gpu_plan("DeepSeek-V3", "H200", concurrency=8)
    assert plan["data_parallel"] == 1
    assert (plan["nodes"], plan["tensor_parallel"], plan["pipeline_parallel"]) == (2, 8, 2)
    assert plan["dp_attention_layout"]["max_concurrency"] >= 8


def test_replicas_for_concurrency():
    assert [queueing.replicas_for_concurrency(n, 16) for n in (0, 1, 16, 17, 105)] == [0, 1, 1, 2, 7]
