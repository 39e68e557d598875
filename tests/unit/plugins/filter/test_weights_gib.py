# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""onprem.deepseek.weights_gib against published checkpoint sizes (within 5 %)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

GIB = 2 ** 30

# (model, quant, include_mtp, published size in GB (10^9 bytes), source)
CHECKPOINTS = [
    # https://huggingface.co/deepseek-ai/DeepSeek-V3/tree/main: 163 FP8 safetensors shards, ~688 GB,
    # which include the MTP module (model.layers.61.*) and BF16 embeddings/head/norms.
    ("DeepSeek-V3", "fp8", True, 688.0),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1/tree/main: same layout as V3, ~688 GB
    ("DeepSeek-R1", "fp8", True, 688.0),
    # https://huggingface.co/deepseek-ai/DeepSeek-V2/tree/main: BF16, 55 shards, ~472 GB (236B x 2 bytes)
    ("DeepSeek-V2", "bf16", False, 472.0),
    # https://huggingface.co/deepseek-ai/DeepSeek-V2-Lite/tree/main: BF16, ~31.4 GB
    ("DeepSeek-V2-Lite", "bf16", False, 31.4),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-32B/tree/main: BF16, 8 shards, ~65.5 GB
    ("DeepSeek-R1-Distill-Qwen-32B", "bf16", False, 65.5),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Llama-70B/tree/main: BF16, 17 shards, ~141 GB
    ("DeepSeek-R1-Distill-Llama-70B", "bf16", False, 141.1),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Llama-8B/tree/main: BF16, ~16.1 GB
    ("DeepSeek-R1-Distill-Llama-8B", "bf16", False, 16.1),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B/tree/main: ~3.55 GB
    ("DeepSeek-R1-Distill-Qwen-1.5B", "bf16", False, 3.55),
    # https://huggingface.co/unsloth/DeepSeek-R1-GGUF (Q4_K_M: 404 GB; llama.cpp GGUFs carry no MTP layer)
    ("DeepSeek-R1", "q4_k_m", False, 404.0),
    # https://huggingface.co/bartowski/DeepSeek-R1-Distill-Qwen-32B-GGUF (Q4_K_M 19.85 GB, Q8_0 34.82 GB, Q6_K 26.89 GB)
    ("DeepSeek-R1-Distill-Qwen-32B", "q4_k_m", False, 19.85),
    ("DeepSeek-R1-Distill-Qwen-32B", "q8_0", False, 34.82),
    ("DeepSeek-R1-Distill-Qwen-32B", "q6_k", False, 26.89),
    # https://huggingface.co/Qwen/Qwen2.5-32B-Instruct-AWQ (same architecture as R1-Distill-Qwen-32B): ~19.3 GB,
    # AWQ 4-bit g128 with FP16 embeddings and head
    ("DeepSeek-R1-Distill-Qwen-32B", "awq", False, 19.3),
]


@pytest.mark.parametrize("model,quant,mtp,published_gb", CHECKPOINTS)
def test_checkpoint_sizes_within_5_percent(filters, model, quant, mtp, published_gb):
    result = filters["weights_gib"](model, quant, include_mtp=mtp)
    assert result["total_gb"] == pytest.approx(published_gb, rel=0.05)
    assert result["total_gib"] == pytest.approx(result["bytes"] / GIB, abs=0.001)


def test_v3_fp8_served_vs_on_disk(filters):
    served = filters["weights_gib"]("deepseek-v3")  # native dtype is fp8
    disk = filters["weights_gib"]("deepseek-v3", "fp8", include_mtp=True)
    assert served["quant"] == "fp8"
    assert served["include_mtp"] is False
    assert served["params"] == disk["params"] - filters["model_spec"]("deepseek-v3")["params_mtp"]
    assert served["total_gib"] == pytest.approx(626.9, abs=0.5)
    # embeddings + output head (2 x 129280 x 7168) plus norms and router stay BF16
    assert served["unquantized_gib"] == pytest.approx(3.65, abs=0.05)
    assert served["quantized_gib"] + served["unquantized_gib"] == pytest.approx(served["total_gib"], abs=0.002)


@pytest.mark.parametrize("quant,bits", [
    ("bf16", 16.0), ("fp16", 16.0),
    # FP8 e4m3 + FP32 scale per 128x128 block (DeepSeek-V3 config.json weight_block_size)
    ("fp8", 8.002),
    # 4-bit + FP16 scale + 4-bit zero per group of 128 (AutoAWQ / AutoGPTQ defaults)
    ("awq", 4.1562), ("gptq", 4.1562),
    # llama.cpp tools/quantize/README.md "Quantization" table, bits/weight (Q8_0 8.5008, Q6_K 6.5633, Q5_K_M 5.7036,
    # Q4_K_M 4.8944, Q2_K 3.1593); Q3_K_M has no row there and keeps 3.91
    ("q8_0", 8.5), ("q6_k", 6.56), ("q5_k_m", 5.70), ("q4_k_m", 4.89), ("q3_k_m", 3.91), ("q2_k", 3.16),
    # llama.cpp tools/quantize/quantize.cpp QUANT_OPTIONS: "IQ4_XS 4.25 bpw", "IQ3_XXS 3.06 bpw", "IQ2_XS 2.31 bpw",
    # "IQ2_XXS 2.06 bpw", "IQ1_M 1.75 bpw", "IQ1_S 1.56 bpw"
    ("iq4_xs", 4.25), ("iq3_xxs", 3.06), ("iq2_xs", 2.31), ("iq2_xxs", 2.06), ("iq1_m", 1.75), ("iq1_s", 1.56),
])
def test_bits_per_weight(filters, quant, bits):
    assert filters["weights_gib"]("DeepSeek-R1-Distill-Llama-8B", quant)["bits_per_weight"] == pytest.approx(bits, abs=0.001)


def test_quant_spellings(filters):
    a = filters["weights_gib"]("deepseek-v2-lite", "Q4_K_M")
    b = filters["weights_gib"]("deepseek-v2-lite", "q4-k-m")
    c = filters["weights_gib"]("deepseek-v2-lite", "bfloat16")
    assert a == b
    assert c["quant"] == "bf16"


@pytest.mark.parametrize("spelling,quant", [
    ("IQ2_XXS", "iq2_xxs"), ("iq2xxs", "iq2_xxs"), ("iq2-xs", "iq2_xs"), ("IQ1_S", "iq1_s"), ("iq1m", "iq1_m"),
    ("IQ3-XXS", "iq3_xxs"), ("iq4xs", "iq4_xs"),
])
def test_iquant_spellings(filters, spelling, quant):
    result = filters["weights_gib"]("deepseek-v2-lite", spelling)
    assert result["quant"] == quant
    assert result["quant_label"] == "GGUF " + quant.upper()


def test_quant_typo(filters):
    with pytest.raises(AnsibleFilterError) as err:
        filters["weights_gib"]("deepseek-v3", "fp9")
    assert str(err.value) == ("onprem.deepseek.weights_gib: unknown quant 'fp9'; allowed: bf16, fp16, fp8, int8, awq, gptq, "
                              "q8_0, q6_k, q5_k_m, q4_k_m, q3_k_m, q2_k, iq4_xs, iq3_xxs, iq2_xs, iq2_xxs, iq1_m, iq1_s, nvfp4, mxfp4, w4a8; "
                              "did you mean fp8?")


def test_bad_keyword(filters):
    with pytest.raises(AnsibleFilterError) as err:
        filters["weights_gib"]("deepseek-v3", quantization="fp8")
    assert str(err.value).startswith("onprem.deepseek.weights_gib: bad arguments: ")
