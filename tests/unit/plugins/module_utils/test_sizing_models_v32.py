# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""DeepSeek-V3.2 (sparse attention), the added catalogue models, context notes and the refusals.

Every number is worked out from its source beside the assertion; docs/sizing-models.md lists the sources.
"""

from __future__ import annotations

import copy

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, common, kvcache, models, sizing

# DeepSeek's V3.2 inference config (github.com/deepseek-ai/DeepSeek-V3.2-Exp inference/config_671B_v3.2.json) in
# Hugging Face key names, as a user would pass a downloaded config.json.
V32_CONFIG = {
    "architectures": ["DeepseekV32ForCausalLM"], "model_type": "deepseek_v32", "vocab_size": 129280, "hidden_size": 7168,
    "intermediate_size": 18432, "moe_intermediate_size": 2048, "num_hidden_layers": 61, "num_nextn_predict_layers": 1,
    "num_attention_heads": 128, "num_key_value_heads": 128, "n_shared_experts": 1, "n_routed_experts": 256,
    "num_experts_per_tok": 8, "first_k_dense_replace": 3, "q_lora_rank": 1536, "kv_lora_rank": 512,
    "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128, "max_position_embeddings": 163840,
    "index_n_heads": 64, "index_head_dim": 128, "index_topk": 2048,
    "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128], "scale_fmt": "ue8m0"},
}

# Indexer parameters per layer (vLLM vllm/model_executor/models/deepseek_v2.py, class Indexer):
# wq_b 1536 x (64 x 128) + wk 7168 x 128 (quantised, replicated) + weights_proj 7168 x 64 (16-bit) + k_norm 2 x 128.
INDEXER_PER_LAYER = 1536 * 64 * 128 + 7168 * 128 + 7168 * 64 + 2 * 128


@pytest.mark.parametrize("name", ["DeepSeek-V3.2-Exp", "DeepSeek-V3.2", "DeepSeek-V3.2-Speciale", "deepseek-ai/DeepSeek-V3.2"])
def test_v32_catalogue_entries_are_sparse_mla(name):
    spec = models.model_spec(name)
    assert spec["architecture"] == "deepseek_v32"
    assert spec["attention"] == "mla"  # the KV layout the plan and the engine flags branch on
    assert spec["attention_kind"] == "mla_sparse"
    assert (spec["index_n_heads"], spec["index_head_dim"], spec["index_topk"]) == (64, 128, 2048)
    assert spec["requires_architectures"] == ("hopper", "blackwell")
    assert spec["native_dtype"] == "fp8"


def test_v32_config_dict_is_recognised_never_sized_as_v3():
    spec = models.model_spec(V32_CONFIG)
    assert spec["source"] == "config.json"
    assert spec["attention_kind"] == "mla_sparse"
    assert spec["requires_architectures"] == ("hopper", "blackwell")
    v3 = models.model_spec("DeepSeek-V3")
    assert spec["params_total"] - v3["params_total"] == 61 * INDEXER_PER_LAYER == 851524864
    assert spec["kv_bytes_per_token_bf16"] != v3["kv_bytes_per_token_bf16"]


@pytest.mark.parametrize("drop", [(), ("index_n_heads", "index_head_dim", "index_topk")])
def test_model_type_alone_or_index_keys_alone_mark_v32(drop):
    by_type = {k: v for k, v in V32_CONFIG.items() if k not in drop}
    assert models.model_spec(by_type)["attention_kind"] == "mla_sparse"
    by_keys = dict(V32_CONFIG, model_type="deepseek_v3")
    assert models.model_spec(by_keys)["attention_kind"] == "mla_sparse"


def test_v32_kv_bytes_per_token():
    # 16-bit KV: (512 + 64) x 2 = 1152 latent bytes + 132 indexer bytes (128 FP8 + one FP32 scale per 128;
    # vLLM deepseek_v2.py DeepseekV32IndexerCache head_dim + head_dim // 128 * 4) = 1284 per layer, x 61 layers.
    assert kvcache.kv_bytes_per_token("DeepSeek-V3.2", "bf16") == 1284 * 61 == 78324
    # FP8 KV: vLLM flashmla_sparse.py "each token's KV cache is 656 Bytes" (512 FP8 + 4 x FP32 scales + 64 x BF16 RoPE)
    # + 132 indexer bytes = 788 per layer.
    assert kvcache.kv_bytes_per_token("DeepSeek-V3.2", "fp8") == (512 + 16 + 128 + 132) * 61 == 48068
    # V3 for comparison: 576 elements x 1 byte.
    assert kvcache.kv_bytes_per_token("DeepSeek-V3", "fp8") == 576 * 61


def test_v32_kv_bytes_per_layer_gpu_is_whole_on_every_rank():
    spec = models.model_spec("DeepSeek-V3.2")
    for tp in (1, 8, 16):
        assert kvcache.kv_bytes_per_layer_gpu(spec, tp, False, "fp8") == 788
        assert kvcache.kv_bytes_per_layer_gpu(spec, tp, True, "auto") == 1284
    dense = models.model_spec("deepseek-coder-33b-base")  # 8 KV heads x 128: split by TP
    assert kvcache.kv_bytes_per_layer_gpu(dense, 8, False, "bf16") == 2 * 1 * 128 * 2


def test_v32_plan_on_h200_through_sizing_facade():
    plan = sizing.gpu_plan("DeepSeek-V3.2", "H200")
    assert plan["fits"] is True
    assert plan["kv_bytes_per_token"] == 78324


def test_v32_on_a_gpu_without_sparse_kernels_is_refused():
    # The spec carries requires_architectures; layout.py refuses from it.
    spec = models.model_spec("DeepSeek-V3.2")
    a100 = sizing.gpu_spec("A100-80G")
    assert a100["architecture"] not in spec["requires_architectures"]
    assert models.model_spec("DeepSeek-V3")["requires_architectures"] is None
    plan = sizing.gpu_plan("DeepSeek-V3.2", "A100-80G")
    assert plan["fits"] is False
    assert plan["reason"] == "DeepSeek-V3.2 runs only on hopper, blackwell GPUs; A100-80G is ampere (compute capability 8.0)"


@pytest.mark.parametrize("gpu", ["RTX-PRO-6000-SE", "RTX5090"])
def test_v32_on_rtx_blackwell_is_refused(gpu):
    # vLLM 0.11 FlashMLASparseBackend.supports_compute_capability: "return capability.major in [9, 10]"
    # (vllm/v1/attention/backends/mla/flashmla_sparse.py); RTX Blackwell is compute capability 12.0.
    plan = sizing.gpu_plan("DeepSeek-V3.2", gpu, max_model_len=8192)
    assert plan["fits"] is False
    assert plan["reason"] == ("DeepSeek-V3.2's sparse attention kernels (vLLM FlashMLA sparse) run on compute capability 9.x and 10.x "
                              "only (Hopper, data-centre Blackwell); %s is blackwell (compute capability 12.0)" % gpu)
    assert plan["smallest_fit"]["any_gpu"]["gpu"] not in ("RTX-PRO-6000-SE", "RTX5090")


@pytest.mark.parametrize("gpu", ["B200", "B300", "GB200", "H20"])
def test_v32_runs_on_data_centre_blackwell_and_hopper(gpu):
    assert sizing.gpu_plan("DeepSeek-V3.2", gpu, max_model_len=8192)["fits"] is True


# Added models: shapes from config.json (URLs in catalog.py), counts checked against the model cards.
@pytest.mark.parametrize("name,attention,total,card_b", [
    # deepseek-moe-16b-chat config.json; card: 16.4B total, 2.8B activated
    ("deepseek-moe-16b-base", "mha", 16375728128, 16.4),
    # deepseek-math-7b-base config.json (DeepSeek-LLM 7B shape): 6.91B
    ("deepseek-math-7b-base", "mha", 6910365696, 6.91),
    # deepseek-coder 1.3B / 6.7B / 33B config.json: 24 x 2048, 32 x 4096, 62 x 7168 with 8 KV heads
    ("deepseek-coder-1.3b-base", "mha", 1346471936, 1.35),
    ("deepseek-coder-6.7b-base", "mha", 6740512768, 6.74),
    ("deepseek-coder-33b-base", "gqa", 33342991360, 33.34),
    # Prover-V2-671B: V3 architecture
    ("DeepSeek-Prover-V2-671B", "mla", 671026404352, 671.0),
])
def test_added_models(name, attention, total, card_b):
    spec = models.model_spec(name)
    assert spec["attention_kind"] == attention
    assert spec["params_total"] == total
    assert spec["params_total_b"] == card_b


def test_moe_16b_activated_matches_the_card():
    spec = models.model_spec("deepseek-moe-16b-chat")
    assert spec["moe"] and spec["dense_layers"] == 1 and spec["moe_layers"] == 27
    assert round(spec["params_activated"] / 1e9, 1) == 2.8


def test_r1_0528_qwen3_8b_is_qwen3_8b():
    # Qwen3-8B's model card: 8.2B parameters, 6.95B without the embeddings (untied input and output: 2 x 151936 x 4096);
    # head_dim 128 and 8 KV heads: 2 x 8 x 128 x 36 layers x 2 bytes = 147456 bytes of BF16 KV per token.
    spec = models.model_spec("DeepSeek-R1-0528-Qwen3-8B")
    assert spec["attention_kind"] == "gqa" and spec["head_dim"] == 128 and spec["kv_heads"] == 8
    assert spec["params_total"] == 8190726144 and spec["params_total_b"] == 8.19
    assert round((spec["params_total"] - 2 * 151936 * 4096) / 1e9, 2) == 6.95
    assert models._kv_bytes(spec, 2) == 147456
    assert (spec["max_context"], spec["context_model_card"]) == (131072, 131072)


def test_prover_v2_7b_is_the_deepseek_llm_7b_shape_with_the_cards_32k():
    # Prover-V1.5-Base (DeepSeek-LLM 7B shape, 6.91B) with the card's 32K: the plan says the 32768 is the card's figure
    spec = models.model_spec("DeepSeek-Prover-V2-7B")
    assert spec["params_total"] == models.model_spec("deepseek-math-7b-base")["params_total"] == 6910365696
    assert spec["max_context"] == 32768
    plan = sizing.gpu_plan("DeepSeek-Prover-V2-7B", "L40S", quant="bf16")
    assert plan["fits"] and plan["max_model_len"] == 32768
    assert any("32768 is the card's figure" in note for note in plan["notes"]), plan["notes"]


def test_context_note_records_both_limits():
    spec = models.model_spec("DeepSeek-V2-Lite")
    assert (spec["max_context"], spec["context_model_card"]) == (163840, 32768)
    assert "pass max_model_len 32768" in spec["context_note"]
    r1 = models.model_spec("DeepSeek-R1")
    assert (r1["max_context"], r1["context_model_card"]) == (163840, 131072)
    assert models.model_spec(V32_CONFIG)["context_note"] is None


@pytest.mark.parametrize("config,message", [
    ({"model_type": "deepseek_vl_v2", "language_config": {"hidden_size": 1280}},
     "model config.json is a vision-language model (model_type 'deepseek_vl_v2'): only its language tower can be sized; "
     "pass config.json's 'language_config' dict as the model (DeepSeek-VL2, DeepSeek-OCR) and add the vision encoder's "
     "weights to overhead_gib"),
    (dict(V32_CONFIG, model_type="deepseek_v4", compress_ratios=[0, 4, 128]),
     "attention kind 'csa_hca' is not modelled: model_type 'deepseek_v4' with per-layer compress_ratios (DeepSeek-V4 "
     "compressed sparse + heavily compressed attention) stores a KV cache this sizing cannot compute"),
    (dict(V32_CONFIG, kv_lora_rank=None),
     "attention kind 'gqa_sparse' is not modelled: config.json has indexer keys (index_*) without MLA's kv_lora_rank"),
])
def test_unmodelled_attention_is_refused_by_name(config, message):
    with pytest.raises(common.SizingError) as err:
        models.model_spec(config)
    assert str(err.value) == message


def test_vl2_language_tower_is_sizeable():
    vl2 = {"model_type": "deepseek_vl_v2", "language_config": copy.deepcopy(catalog.MODELS[0]["config"])}
    assert models.model_spec(vl2["language_config"])["attention"] == "mla"


def test_saved_spec_without_new_keys_reads_as_dense():
    spec = models.model_spec("DeepSeek-V3")
    for key in ("attention_kind", "index_head_dim", "requires_architectures", "weights_bytes"):
        del spec[key]
    again = models.model_spec(spec)
    assert again["attention_kind"] == "mla" and again["requires_architectures"] is None


@pytest.mark.parametrize('kv_dtype, per_layer', [('fp8', 656 + 132), ('auto', 1152 + 132)])
def test_v32_plan_sizes_the_kv_cache_per_gpu_with_the_sparse_entry(kv_dtype, per_layer):
    # vLLM flashmla_sparse: the FP8 latent entry is 656 bytes (512 FP8 + 4 FP32 scales + 64 BF16 rope), 16-bit is
    # 576 x 2; the indexer's key cache adds 128 FP8 + one FP32 scale = 132 bytes per layer. The latent and the indexer
    # key are whole on every rank (MLA), so the per-GPU figure is the per-token one.
    plan = sizing.gpu_plan('DeepSeek-V3.2', 'H200', kv_dtype=kv_dtype)
    assert plan['kv_bytes_per_token_per_gpu'] == per_layer * 61
    block = plan['kv_block_tokens']
    # kv_cache_gib is rounded to 3 decimals in the plan: within one block of the exact count
    assert abs(plan['kv_tokens'] - int(plan['kv_cache_gib'] * 2 ** 30 // (per_layer * 61)) // block * block) <= block


def test_the_plan_says_which_context_limit_it_uses_and_why():
    # DeepSeek-R1: config.json max_position_embeddings 163840 (https://huggingface.co/deepseek-ai/DeepSeek-R1/blob/main/config.json),
    # model card "128K" context (https://huggingface.co/deepseek-ai/DeepSeek-R1).
    plan = sizing.gpu_plan("DeepSeek-R1", "H200")
    assert (plan["max_model_len"], plan["max_model_len_source"], plan["max_context"], plan["context_model_card"]) == (
        163840, "config.json", 163840, 131072)
    assert plan["notes"][0].startswith("max_model_len 163840: config.json's max_position_embeddings")
    assert "pass max_model_len 131072" in plan["notes"][1]
    within = sizing.gpu_plan("DeepSeek-R1", "H200", max_model_len=131072)
    assert within["max_model_len_source"] == "argument" and within["notes"] == []
    # V3 records no card figure: only the config.json note
    assert len(sizing.gpu_plan("DeepSeek-V3", "H200")["notes"]) == 1
