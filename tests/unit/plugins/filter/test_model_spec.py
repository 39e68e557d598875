# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""onprem.deepseek.model_spec: names, architectures and published parameter counts."""

from __future__ import annotations

import copy

import pytest

from ansible.errors import AnsibleFilterError


def _f(filters):
    return filters["model_spec"]


# (name, published total params (B), published activated params (B), source)
PUBLISHED_PARAMS = [
    # https://huggingface.co/deepseek-ai/DeepSeek-V3 model card: "671B total parameters with 37B activated for each token"
    ("deepseek-ai/DeepSeek-V3", 671.0, 37.0),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1 model card: 671B total, 37B activated
    ("DeepSeek-R1", 671.0, 37.0),
    # https://huggingface.co/deepseek-ai/DeepSeek-V3.1 model card: 671B total, 37B activated
    ("deepseek-v3.1", 671.0, 37.0),
    # https://huggingface.co/deepseek-ai/DeepSeek-V2 model card: 236B total, 21B activated
    ("DeepSeek-V2", 236.0, 21.0),
    # https://huggingface.co/deepseek-ai/DeepSeek-Coder-V2-Instruct model card: 236B total, 21B active
    ("DeepSeek-Coder-V2-Instruct", 236.0, 21.0),
    # https://huggingface.co/deepseek-ai/DeepSeek-V2-Lite model card: 15.7B total
    ("DeepSeek-V2-Lite", 15.7, None),
    # https://huggingface.co/deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct model card: 16B total
    ("DeepSeek-Coder-V2-Lite-Instruct", 16.0, None),
    # Hugging Face safetensors parameter counts shown on each repo page:
    # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B (1.78B)
    ("deepseek-r1-distill-qwen-1.5b", 1.78, 1.78),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-7B (7.62B)
    ("deepseek-r1-distill-qwen-7b", 7.62, 7.62),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-14B (14.8B)
    ("deepseek-r1-distill-qwen-14b", 14.8, 14.8),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-32B (32.8B)
    ("deepseek-r1-distill-qwen-32b", 32.8, 32.8),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Llama-8B (8.03B)
    ("deepseek-r1-distill-llama-8b", 8.03, 8.03),
    # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Llama-70B (70.6B)
    ("deepseek-r1-distill-llama-70b", 70.6, 70.6),
    # https://huggingface.co/deepseek-ai/deepseek-llm-7b-base (7B; 6.91B safetensors)
    ("deepseek-llm-7b-base", 6.91, 6.91),
    # https://huggingface.co/deepseek-ai/deepseek-llm-67b-base (67B)
    ("deepseek-llm-67b-chat", 67.0, 67.0),
]


@pytest.mark.parametrize("name,total_b,activated_b", PUBLISHED_PARAMS)
def test_computed_parameters_match_published(filters, name, total_b, activated_b):
    spec = _f(filters)(name)
    assert spec["params_total"] / 1e9 == pytest.approx(total_b, rel=0.02)
    if activated_b is not None:
        assert spec["params_activated"] / 1e9 == pytest.approx(activated_b, rel=0.03)


def test_v3_mtp_module_makes_685b(filters):
    # https://huggingface.co/deepseek-ai/DeepSeek-V3: "685B ... includes 671B of the Main Model weights
    # and 14B of the Multi-Token Prediction (MTP) Module weights"
    spec = _f(filters)("DeepSeek-V3")
    assert (spec["params_total"] + spec["params_mtp"]) / 1e9 == pytest.approx(685.0, rel=0.01)
    assert spec["params_mtp"] / 1e9 == pytest.approx(14.0, rel=0.05)


# Architecture values from each model's config.json on Hugging Face:
# https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json
# https://huggingface.co/deepseek-ai/DeepSeek-V2-Lite/blob/main/config.json
# https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-32B/blob/main/config.json
# https://huggingface.co/deepseek-ai/deepseek-llm-7b-base/blob/main/config.json
@pytest.mark.parametrize("name,expected", [
    ("DeepSeek-V3", {"attention": "mla", "layers": 61, "hidden_size": 7168, "attention_heads": 128, "kv_lora_rank": 512,
                     "qk_rope_head_dim": 64, "routed_experts": 256, "shared_experts": 1, "experts_per_token": 8,
                     "dense_layers": 3, "vocab_size": 129280, "native_dtype": "fp8", "max_context": 163840}),
    ("DeepSeek-V2-Lite", {"attention": "mla", "layers": 27, "hidden_size": 2048, "attention_heads": 16, "q_lora_rank": None,
                          "routed_experts": 64, "shared_experts": 2, "experts_per_token": 6, "dense_layers": 1, "native_dtype": "bf16"}),
    ("DeepSeek-R1-Distill-Qwen-32B", {"attention": "gqa", "layers": 64, "hidden_size": 5120, "attention_heads": 40, "kv_heads": 8,
                                      "head_dim": 128, "moe": False, "vocab_size": 152064, "max_context": 131072}),
    ("deepseek-llm-7b-base", {"attention": "mha", "layers": 30, "kv_heads": 32, "head_dim": 128, "max_context": 4096}),
    ("deepseek-llm-67b-base", {"attention": "gqa", "layers": 95, "kv_heads": 8, "head_dim": 128}),
])
def test_architecture(filters, name, expected):
    spec = _f(filters)(name)
    for key, value in expected.items():
        assert spec[key] == value, key


@pytest.mark.parametrize("alias", [
    "deepseek-v3", "deepseek-ai/DeepSeek-V3", "DEEPSEEK_V3", "DeepSeekV3", " deepseek-ai/deepseek-v3 ", "DeepSeek-V3-0324",
])
def test_names_ignore_org_case_and_separators(filters, alias):
    assert _f(filters)(alias)["name"] == "DeepSeek-V3"


def test_distill_name_without_org(filters):
    assert _f(filters)("deepseek-r1-distill-qwen-32b")["hf_repo"] == "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"


def test_config_json_dict_is_normalised_like_the_catalogue(filters):
    from ansible_collections.onprem.deepseek.plugins.module_utils import catalog

    raw = copy.deepcopy(catalog.MODELS[0]["config"])
    raw["_name_or_path"] = "/models/my-v3-finetune"
    spec = _f(filters)(raw)
    ref = _f(filters)("DeepSeek-V3")
    assert spec["source"] == "config.json"
    assert spec["name"] == "my-v3-finetune"
    for key in ("attention", "layers", "params_total", "params_activated", "kv_bytes_per_token_bf16", "native_dtype"):
        assert spec[key] == ref[key]


def test_model_spec_result_is_accepted_again(filters):
    spec = _f(filters)("DeepSeek-V2")
    assert _f(filters)(spec) == spec


def test_unknown_model_names_allowed_values(filters):
    with pytest.raises(AnsibleFilterError) as err:
        _f(filters)("deepseek-v9")
    msg = str(err.value)
    assert msg.startswith("onprem.deepseek.model_spec: unknown model 'deepseek-v9'; allowed: DeepSeek-V3, DeepSeek-V3.1, DeepSeek-R1, ")
    assert "DeepSeek-R1-Distill-Qwen-32B" in msg


def test_config_missing_keys(filters):
    with pytest.raises(AnsibleFilterError) as err:
        _f(filters)({"num_hidden_layers": 4, "hidden_size": 64})
    assert str(err.value) == (
        "onprem.deepseek.model_spec: model config.json is missing or has non-integer 'num_attention_heads', 'vocab_size', "
        "'intermediate_size'; required keys: hidden_size, num_hidden_layers, num_attention_heads, vocab_size, intermediate_size")


def test_results_are_copies(filters):
    spec = _f(filters)("DeepSeek-V3")
    spec["layers"] = 1
    spec["params_breakdown"]["embed"] = 0
    again = _f(filters)("DeepSeek-V3")
    assert again["layers"] == 61
    assert again["params_breakdown"]["embed"] == 129280 * 7168


@pytest.mark.parametrize('typo, suggestion', [
    ('DeepSeek-V3-0324x', 'DeepSeek-V3'),      # one character too many
    ('deepseek-r1-distil-qwen-32b', 'DeepSeek-R1-Distill-Qwen-32B'),  # case and a missing letter
])
def test_a_mistyped_model_gets_did_you_mean(filters, typo, suggestion):
    with pytest.raises(AnsibleFilterError) as err:
        filters['model_spec'](typo)
    assert 'did you mean ' in str(err.value)
    assert suggestion in str(err.value).split('did you mean ')[1]


def test_no_suggestion_when_nothing_is_close(filters):
    with pytest.raises(AnsibleFilterError) as err:
        filters['model_spec']('llama-3-70b-instruct-totally-else')
    assert 'did you mean' not in str(err.value)
