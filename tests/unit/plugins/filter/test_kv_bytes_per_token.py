# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""onprem.deepseek.kv_bytes_per_token: MLA latent vs GQA/MHA heads."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError


@pytest.mark.parametrize("model,kv_dtype,expected", [
    # MLA caches (kv_lora_rank + qk_rope_head_dim) per layer: DeepSeek-V2 paper, section 2.1.4 / table 1
    # (https://arxiv.org/abs/2405.04434); V3 config.json: kv_lora_rank 512, qk_rope_head_dim 64, 61 layers.
    ("DeepSeek-V3", "auto", (512 + 64) * 61 * 2),        # 70272
    ("DeepSeek-V3", "fp8", (512 + 64) * 61 * 1),
    ("DeepSeek-V2", "bf16", (512 + 64) * 60 * 2),        # 69120
    ("DeepSeek-V2-Lite", "auto", (512 + 64) * 27 * 2),
    # GQA: 2 x layers x kv_heads x head_dim x bytes; Qwen2.5-32B config.json: 64 layers, 8 KV heads, head_dim 128
    ("DeepSeek-R1-Distill-Qwen-32B", "auto", 2 * 64 * 8 * 128 * 2),   # 262144
    ("DeepSeek-R1-Distill-Qwen-32B", "fp8_e5m2", 2 * 64 * 8 * 128),
    # Llama-3.3-70B config.json: 80 layers, 8 KV heads, head_dim 128
    ("DeepSeek-R1-Distill-Llama-70B", "fp16", 2 * 80 * 8 * 128 * 2),
    # MHA: deepseek-llm-7b config.json: 30 layers, 32 heads of 128
    ("deepseek-llm-7b-base", "auto", 2 * 30 * 32 * 128 * 2),
])
def test_kv_bytes(filters, model, kv_dtype, expected):
    assert filters["kv_bytes_per_token"](model, kv_dtype) == expected


def test_mla_is_much_smaller_than_mha_equivalent(filters):
    # DeepSeek-V2 paper: MLA cuts the KV cache by 93.3 % vs DeepSeek 67B
    v2 = filters["kv_bytes_per_token"]("DeepSeek-V2")
    mha = 2 * 60 * 128 * 128 * 2
    assert v2 / mha < 0.05


def test_kv_dtype_typo(filters):
    with pytest.raises(AnsibleFilterError) as err:
        filters["kv_bytes_per_token"]("DeepSeek-V3", "fp7")
    assert str(err.value) == ("onprem.deepseek.kv_bytes_per_token: unknown kv_dtype 'fp7'; allowed: auto, bf16, fp16, fp8, fp8_e4m3, fp8_e5m2; "
                              "did you mean fp8?")
