# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""onprem.deepseek.gpu_plan against verified deployments and the engines' KV layouts."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError


def plan(filters, *args, **kwargs):
    return filters["gpu_plan"](*args, **kwargs)


# Verified deployments: (model, gpu, kwargs, nodes, tp, pp)
VERIFIED = [
    # SGLang DeepSeek V3/R1 docs: FP8 on one node of 8 x H200 (https://docs.sglang.ai/basic_usage/deepseek.html,
    # "8 x H200" row); vLLM recipes: DeepSeek-V3 with --tensor-parallel-size 8 on 8 x H200
    # (https://docs.vllm.ai/projects/recipes/en/latest/DeepSeek/DeepSeek-V3.html)
    ("DeepSeek-V3", "H200", {}, 1, 8, 1),
    ("deepseek-ai/DeepSeek-R1", "NVIDIA H200", {"max_model_len": 32768}, 1, 8, 1),
    # FP8 V3 does not fit one 8 x H100 node; two nodes do: vLLM distributed serving docs
    # (https://docs.vllm.ai/en/latest/serving/distributed_serving.html: TP 8 per node, PP across nodes)
    # and SGLang docs ("2 x 8 x H100/800/20" row).
    ("DeepSeek-V3", "H100-80G", {}, 2, 8, 2),
    ("DeepSeek-V3", "H800", {"max_model_len": 32768}, 2, 8, 2),
    # SGLang docs: 8 x MI300X serves DeepSeek-V3 FP8 on one node
    # (https://rocm.blogs.amd.com/artificial-intelligence/DeepSeekR1-Part2/README.html)
    # (four MI300X hold the 627 GiB of weights with ~12 GiB KV per GPU left; four full-length sequences need eight)
    ("DeepSeek-V3", "MI300X", {"concurrency": 4}, 1, 8, 1),
    # 8 x B200 (180 GB each) holds FP8 V3 on one node (NVIDIA DeepSeek-R1 on DGX B200 blog:
    # https://developer.nvidia.com/blog/nvidia-blackwell-delivers-world-record-deepseek-r1-inference-performance/)
    ("DeepSeek-R1", "B200", {}, 1, 8, 1),
    # R1-Distill-Qwen-32B BF16 (65.5 GB) needs two 48 GB cards; AWQ (~19 GB) fits one L40S
    ("DeepSeek-R1-Distill-Qwen-32B", "L40S", {"max_model_len": 32768}, 1, 2, 1),
    ("DeepSeek-R1-Distill-Qwen-32B", "L40S", {"quant": "awq", "max_model_len": 32768, "concurrency": 2}, 1, 1, 1),
    # R1-Distill-Llama-8B (16 GB BF16) on one RTX 4090 with an 8K context
    ("DeepSeek-R1-Distill-Llama-8B", "RTX4090", {"max_model_len": 8192}, 1, 1, 1),
    # R1-Distill-Llama-70B BF16 (141 GB): 4 x H100 (vLLM examples serve it with --tensor-parallel-size 4)
    ("DeepSeek-R1-Distill-Llama-70B", "H100-80G", {"max_model_len": 32768}, 1, 4, 1),
    # DeepSeek-V2.5 BF16 (472 GB) on 8 x 80 GB GPUs: model card "8*80GB GPUs" (https://huggingface.co/deepseek-ai/DeepSeek-V2.5)
    ("DeepSeek-V2.5", "A100-80G", {"max_model_len": 8192}, 1, 8, 1),
]


@pytest.mark.parametrize("model,gpu,kwargs,nodes,tp,pp", VERIFIED)
def test_verified_deployments(filters, model, gpu, kwargs, nodes, tp, pp):
    result = plan(filters, model, gpu, **kwargs)
    assert result["fits"] is True, result.get("reason")
    assert (result["nodes"], result["tensor_parallel"], result["pipeline_parallel"]) == (nodes, tp, pp)
    assert result["gpus"] == tp * pp
    assert result["engine_args"]["vllm"]["--tensor-parallel-size"] == tp
    assert result["engine_args"]["vllm"]["--pipeline-parallel-size"] == pp
    # SGLang spans nodes with tensor parallel (its DeepSeek guide: --tp 16 --nnodes 2), not with --pp-size
    assert result["engine_args"]["sglang"]["--tp-size"] == tp * pp
    assert "--pp-size" not in result["engine_args"]["sglang"]


def test_v3_on_8_h200_budget(filters):
    result = plan(filters, "DeepSeek-V3", "H200")
    # 143771 MiB (nvidia-smi) = 140.4 GiB; x 0.90 = 126.36 GiB budget
    assert result["memory_gib"] == pytest.approx(140.40, abs=0.01)
    assert result["budget_gib"] == pytest.approx(126.36, abs=0.01)
    # 626.9 GiB / 8 plus the replicated MLA down-projections (q_a_proj, kv_a_proj) on every rank
    assert result["weights_gib"] == pytest.approx(79.3, abs=0.3)
    assert result["kv_cache_gib"] == pytest.approx(result["budget_gib"] - result["weights_gib"] - result["overhead_gib"] - result["margin_gib"],
                                                   abs=0.002)
    assert (result["overhead_gib"], result["margin_gib"], result["kv_block_tokens"]) == (3.0, 1.0, 64)  # FlashMLA pages 64 tokens
    # MLA latent replicated on all 8 ranks: capacity = per-GPU KV / 70272 bytes
    # (whole 64-token blocks, kv_cache_gib rounded to 1 MiB)
    assert 0 <= result["kv_cache_gib"] * 2 ** 30 / 70272 - result["kv_tokens"] < 64 + 20
    assert 600000 < result["kv_tokens"] < 750000
    assert result["max_concurrency"] == result["kv_tokens"] // 163840
    assert result["kv_tokens"] % 64 == 0
    # outside the 0.90 budget, plus the 1 GiB safety margin kept free inside it
    assert result["free_gib"] == pytest.approx(140.40 * 0.10 + 1.0, abs=0.01)
    assert result["engine_args"]["vllm"]["--gpu-memory-utilization"] == 0.9
    assert result["engine_args"]["sglang"]["--mem-fraction-static"] == 0.87
    assert "--quantization" not in result["engine_args"]["vllm"]  # FP8 checkpoint is auto-detected


def test_v3_on_2x8_h100_pipeline_stages(filters):
    result = plan(filters, "DeepSeek-V3", "H100-80G")
    assert result["stage_layers"] == [31, 30]
    # each stage keeps the KV of its own layers.  The bottleneck is the second stage (30 MoE layers + output
    # head are heavier than 3 dense + 28 MoE layers + embeddings): per-GPU bytes per token = 576 x 30 x 2
    assert result["kv_bytes_per_token_per_gpu"] == 576 * 30 * 2
    assert result["engine_args"]["sglang"]["--nnodes"] == 2
    assert result["engine_args"]["vllm"]["--distributed-executor-backend"] == "ray"
    assert "--pipeline-parallel-size" in result["engine_argv"]["vllm"]


def test_does_not_fit_gives_reason_and_smallest_fit(filters):
    result = plan(filters, "DeepSeek-V3", "H100-80G", max_nodes=1)
    assert result["fits"] is False
    assert result["reason"].startswith("weights need 79.29 GiB per GPU plus 3.00 GiB overhead and 1.00 GiB safety margin, "
                                       "more than the 71.68 GiB budget")
    assert result["reason"].endswith("(max_nodes 1)")
    assert result["smallest_fit"]["same_gpu"]["nodes"] == 2
    # 4 x MI300X would hold the weights, but TP4 leaves 32 of the 128 heads per rank, which ROCm AITER MLA refuses (16 or
    # 128 only); the fewest catalogue GPUs vLLM starts it on are 4 of a 180+ GiB Blackwell
    fit = result["smallest_fit"]["any_gpu"]
    assert fit["gpus"] == 4 and fit["gpu"] in ("GB200", "B300")
    assert "2 node(s) x 8 x H100-80G (TP8 x PP2)" in result["smallest_fit"]["summary"]


def test_mla_kv_is_replicated_across_tp(filters):
    # vLLM / SGLang keep the whole MLA latent on every TP rank: TP8 holds no more tokens per GPU than TP1 would
    r = plan(filters, "DeepSeek-V2-Lite", "H100-80G", max_model_len=32768)
    assert r["tensor_parallel"] == 1
    tp8 = filters["gpu_plan"]("DeepSeek-V2-Lite", {"name": "tiny", "memory_gib": 8, "compute_capability": "9.0"}, max_model_len=4096,
                              overhead_gib=1)
    assert tp8["kv_bytes_per_token_per_gpu"] == (512 + 64) * 27 * 2


def test_gqa_kv_split_and_replicated_above_kv_heads(filters):
    # Qwen2.5-32B: 8 KV heads.  TP2 -> 4 heads per GPU; the heads split
    r = plan(filters, "DeepSeek-R1-Distill-Qwen-32B", "L40S", max_model_len=32768)
    assert r["tensor_parallel"] == 2
    assert r["kv_bytes_per_token_per_gpu"] == 2 * 64 * 4 * 128 * 2
    # Qwen-1.5B has 2 KV heads: at TP4 each GPU still keeps one (replicated), not half a head
    small = {"name": "tiny", "memory_gib": 2, "compute_capability": "9.0"}
    r = plan(filters, "DeepSeek-R1-Distill-Qwen-1.5B", small, max_model_len=2048, overhead_gib=0.5, margin_gib=0)
    assert r["tensor_parallel"] == 4
    assert r["kv_bytes_per_token_per_gpu"] == 2 * 28 * 1 * 128 * 2


def test_dp_attention_layout_multiplies_mla_kv_capacity(filters):
    tp = plan(filters, "DeepSeek-V3", "H200")
    dp = tp["dp_attention_layout"]
    assert dp["dp_attention"] is True and dp["gpus"] == 8
    assert dp["weights_gib"] > tp["weights_gib"]  # attention replicated on every rank
    assert dp["kv_tokens"] > 4 * tp["kv_tokens"]  # each rank caches its own sequences
    assert dp["engine_args"]["sglang"]["--enable-dp-attention"] is True
    assert dp["engine_args"]["sglang"]["--dp-size"] == 8
    assert dp["engine_args"]["vllm"]["--data-parallel-size"] == 8
    assert dp["engine_args"]["vllm"]["--enable-expert-parallel"] is True
    chosen = plan(filters, "DeepSeek-V3", "H200", dp_attention=True)
    assert chosen["dp_attention"] is True
    assert chosen["kv_tokens"] == dp["kv_tokens"]


def test_dp_attention_refused_for_gqa(filters):
    with pytest.raises(AnsibleFilterError) as err:
        plan(filters, "DeepSeek-R1-Distill-Qwen-32B", "H100", dp_attention=True)
    assert str(err.value) == ("onprem.deepseek.gpu_plan: dp_attention needs an MLA mixture-of-experts model; "
                              "DeepSeek-R1-Distill-Qwen-32B uses GQA attention")


def test_fp8_kv_on_ampere_is_vllm_only_with_the_note(filters):
    # vLLM 0.11 on compute capability 8.x stores an FP8 KV cache and computes in 16-bit: an FP8 KV cache selects its
    # Triton attention backend (vllm/platforms/cuda.py get_attn_backend_cls, "if (has_sink or use_fp8_kv_cache) and not
    # cls.is_device_capability(90): ... return TRITON_ATTN"). SGLang is not planned there.
    bf16 = plan(filters, "DeepSeek-R1-Distill-Llama-8B", "A100-80G", max_model_len=8192)
    result = plan(filters, "DeepSeek-R1-Distill-Llama-8B", "A100-80G", kv_dtype="fp8", max_model_len=8192)
    assert result["fits"] is True
    assert list(result["engine_args"]) == ["vllm"]
    assert result["engine_args"]["vllm"]["--kv-cache-dtype"] == "fp8"
    assert "computes attention in 16-bit" in result["notes"][0]
    assert result["kv_tokens"] == pytest.approx(2 * bf16["kv_tokens"], rel=0.001)
    refused = plan(filters, "DeepSeek-R1-Distill-Llama-8B", "A100-80G", kv_dtype="fp8", max_model_len=8192, engine="sglang")
    assert refused["fits"] is False
    assert refused["reason"] == ("SGLang is not planned with an FP8 KV cache on A100-80G, ampere (compute capability 8.0), which has "
                                 "no FP8 tensor cores; vLLM is")


def test_fp8_kv_on_ampere_refused_for_mla(filters):
    # vLLM runs MLA on Ampere with TRITON_MLA, which raises "TritonMLA V1 with FP8 KV cache not yet supported"
    # (vllm/v1/attention/backends/mla/triton_mla.py).
    result = plan(filters, "DeepSeek-V2-Lite", "A100-80G", kv_dtype="fp8", max_model_len=8192)
    assert result["fits"] is False
    assert result["reason"] == ("kv_dtype 'fp8' with MLA on A100-80G, ampere (compute capability 8.0): vLLM's Triton MLA backend has no "
                                "FP8 KV cache (\"TritonMLA V1 with FP8 KV cache not yet supported\"); kv_dtype it runs: auto, bf16, fp16")
    assert result["smallest_fit"]["any_gpu"]["gpu"] != "A100-80G"


def test_fp8_kv_refused_before_ampere(filters):
    result = plan(filters, "DeepSeek-R1-Distill-Llama-8B", "V100-32G", kv_dtype="fp8", max_model_len=8192)
    assert result["fits"] is False
    assert result["reason"] == ("kv_dtype 'fp8' needs FP8 support: vLLM stores an FP8 KV cache on compute capability 8.x (Ampere) and "
                                "newer; V100-32G is volta (compute capability 7.0); kv_dtype it runs: auto, fp16")


def test_fp8_weights_mapped_on_ampere(filters):
    result = plan(filters, "DeepSeek-R1-Distill-Llama-8B", "A100-80G", quant="fp8", max_model_len=8192)
    assert result["fits"] is True
    assert "weight-only" in result["notes"][0]
    assert result["engine_args"]["vllm"]["--quantization"] == "fp8"
    # FP8 weights on Ampere: vLLM's weight-only FP8 Marlin (is_fp8_marlin_supported: device capability >= 80,
    # vllm/model_executor/layers/quantization/utils/marlin_utils_fp8.py), not SGLang.
    assert "sglang" not in result["engine_args"]
    refused = plan(filters, "DeepSeek-R1-Distill-Llama-8B", "A100-80G", quant="fp8", max_model_len=8192, engine="sglang")
    assert refused["fits"] is False
    assert refused["reason"].startswith("SGLang runs no FP8 checkpoint on A100-80G")


def test_bf16_mapped_to_fp16_before_ampere(filters):
    v100 = {"name": "V100-32G", "memory_mib": 32768, "compute_capability": "7.0"}
    result = plan(filters, "DeepSeek-R1-Distill-Llama-8B", v100, max_model_len=8192)
    assert result["fits"] is True
    assert result["engine_args"]["vllm"]["--dtype"] == "half"


def test_fp8_kv_doubles_capacity(filters):
    a = plan(filters, "DeepSeek-R1-Distill-Qwen-32B", "H100", max_model_len=8192)
    b = plan(filters, "DeepSeek-R1-Distill-Qwen-32B", "H100", max_model_len=8192, kv_dtype="fp8")
    assert b["kv_tokens"] == pytest.approx(2 * a["kv_tokens"], rel=0.001)
    assert b["engine_args"]["vllm"]["--kv-cache-dtype"] == "fp8"
    assert b["engine_args"]["sglang"]["--kv-cache-dtype"] == "fp8_e4m3"


def test_concurrency_grows_the_deployment(filters):
    small = plan(filters, "DeepSeek-R1-Distill-Qwen-7B", "L40S", max_model_len=32768)
    big = plan(filters, "DeepSeek-R1-Distill-Qwen-7B", "L40S", max_model_len=32768, concurrency=64)
    assert small["gpus"] == 1
    assert big["gpus"] > small["gpus"]
    assert big["max_concurrency"] >= 64


def test_tp_divides_attention_heads(filters):
    # Qwen2.5-Math-7B: 28 heads, 4 KV heads: TP 8 is not allowed, so multi-node uses TP4 per node
    result = plan(filters, "DeepSeek-R1-Distill-Qwen-7B", {"name": "tiny", "memory_gib": 3, "compute_capability": "9.0"},
                  max_model_len=1024, overhead_gib=0.5)
    assert 28 % result["tensor_parallel"] == 0


def test_gguf_plan_has_llama_cpp_args(filters):
    result = plan(filters, "DeepSeek-R1-Distill-Qwen-32B", "RTX4090", quant="q4_k_m", max_model_len=8192, concurrency=2, engine="llama_cpp")
    assert result["fits"] is True
    assert result["engine_args"]["llama_cpp"]["--ctx-size"] == 16384
    assert result["command_args"][:2] == ["--ctx-size", "16384"]


@pytest.mark.parametrize("quant", ["iq4_xs", "IQ3_XXS", "iq2-xs", "iq2xxs", "IQ1_M", "iq1_s"])
def test_gguf_iquants_plan_like_q4_k_m(filters, quant):
    # i-quants are kind "gguf": accepted on every GPU listing "gguf" and served by llama.cpp like q4_k_m
    result = plan(filters, "DeepSeek-R1-Distill-Qwen-32B", "RTX4090", quant=quant, max_model_len=8192, concurrency=2, engine="llama_cpp")
    assert result["fits"] is True
    assert result["quant"].startswith("iq")
    assert result["engine_args"]["llama_cpp"]["--ctx-size"] == 16384
    # vLLM and SGLang flags only where they can hold it under their 0.9 cap (iq4_xs on a 24 GB card: they cannot)
    assert all(flags["--quantization"] == "gguf" for name, flags in result["engine_args"].items() if name != "llama_cpp")
    assert ("vllm" in result["engine_args"]) == (result["quant"] in ("iq2_xs", "iq2_xxs", "iq1_m", "iq1_s", "iq3_xxs"))


@pytest.mark.parametrize("kwargs,message", [
    ({"gpu": "H1000"}, "onprem.deepseek.gpu_plan: unknown gpu 'H1000'; allowed: A100-40G, A100-80G, A800, H100-80G, H100-PCIe, H800, H100-NVL, "
                       "H800-PCIe, H20, H200, L40S, L40, L20, RTX4090, B200, MI300X, "
                       "H20-141G, H200-NVL, B300, GB200, RTX-PRO-6000-SE, RTX5090, L4, RTX-A6000, A10, V100-32G, MI325X, MI355X; "
                       "did you mean H100-80G or H800 or H200? Not listed? Give the GPU as a dict with memory_gib (and compute_capability, "
                       "bandwidth_gbps)."),
    ({"quant": "int3"}, "onprem.deepseek.gpu_plan: unknown quant 'int3'; allowed: bf16, fp16, fp8, int8, awq, gptq, q8_0, q6_k, q5_k_m, "
                        "q4_k_m, q3_k_m, q2_k, iq4_xs, iq3_xxs, iq2_xs, iq2_xxs, iq1_m, iq1_s, nvfp4, mxfp4, w4a8; did you mean int8?"),
    ({"kv_dtype": "fp4"}, "onprem.deepseek.gpu_plan: unknown kv_dtype 'fp4'; allowed: auto, bf16, fp16, fp8, fp8_e4m3, fp8_e5m2; "
                          "did you mean fp8 or fp8_e4m3?"),
    ({"concurrency": -1}, "onprem.deepseek.gpu_plan: concurrency must be >= 1, got -1"),
    ({"concurrency": 0}, "onprem.deepseek.gpu_plan: concurrency must be >= 1, got 0"),
    ({"gpu_memory_utilization": 1.5}, "onprem.deepseek.gpu_plan: gpu_memory_utilization must be <= 1.0, got 1.5"),
    ({"gpu_memory_utilization": 0}, "onprem.deepseek.gpu_plan: gpu_memory_utilization must be > 0.0, got 0"),
    ({"overhead_gib": -2}, "onprem.deepseek.gpu_plan: overhead_gib must be >= 0.0, got -2"),
    ({"max_model_len": 200000}, "onprem.deepseek.gpu_plan: max_model_len 200000 exceeds the maximum context of DeepSeek-V3 (163840 tokens)"),
    ({"gpus_per_node": 0}, "onprem.deepseek.gpu_plan: gpus_per_node must be >= 1, got 0"),
    ({"engine": "tgi"}, "onprem.deepseek.gpu_plan: unknown engine 'tgi'; allowed: vllm, sglang, llama_cpp"),
])
def test_bad_input(filters, kwargs, message):
    gpu = kwargs.pop("gpu", "H200")
    with pytest.raises(AnsibleFilterError) as err:
        plan(filters, "DeepSeek-V3", gpu, **kwargs)
    assert str(err.value) == message


def test_string_numbers_from_inventory_are_accepted(filters):
    a = plan(filters, "DeepSeek-V3", "H200", max_model_len="32768", concurrency="4", gpu_memory_utilization="0.9")
    b = plan(filters, "DeepSeek-V3", "H200", max_model_len=32768, concurrency=4)
    assert a == b
