# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Catalogues of DeepSeek models, GPUs, quantisation formats and CUDA drivers.

Pure data: no Ansible imports.  Every entry cites where its numbers come from.
Never hand these tables out directly; ``sizing`` returns deep copies.

Model entries hold the fields of the model's Hugging Face ``config.json`` that
sizing needs (so catalogue entries and user-supplied ``config.json`` dicts go
through one normalisation path), plus published parameter counts.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------

# DeepSeek-V3 architecture, shared by V3, V3-0324, V3.1, R1, R1-Zero and R1-0528.
# Source: https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json
#         https://huggingface.co/deepseek-ai/DeepSeek-R1/blob/main/config.json
#         https://huggingface.co/deepseek-ai/DeepSeek-V3.1/blob/main/config.json
_V3_CONFIG = {
    "architectures": ["DeepseekV3ForCausalLM"],
    "model_type": "deepseek_v3",
    "vocab_size": 129280,
    "hidden_size": 7168,
    "intermediate_size": 18432,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 61,
    "num_nextn_predict_layers": 1,
    "num_attention_heads": 128,
    "num_key_value_heads": 128,
    "n_shared_experts": 1,
    "n_routed_experts": 256,
    "num_experts_per_tok": 8,
    "first_k_dense_replace": 3,
    "moe_layer_freq": 1,
    "q_lora_rank": 1536,
    "kv_lora_rank": 512,
    "qk_rope_head_dim": 64,
    "qk_nope_head_dim": 128,
    "v_head_dim": 128,
    "topk_method": "noaux_tc",
    "max_position_embeddings": 163840,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [128, 128]},
}

# DeepSeek-V3.2-Exp / V3.2 / V3.2-Speciale: the V3 architecture plus DeepSeek Sparse Attention (DSA), whose
# "lightning indexer" scores every cached token and keeps the top index_topk for the MLA attention.
# Sources: DeepSeek's inference config https://github.com/deepseek-ai/DeepSeek-V3.2-Exp/blob/main/inference/config_671B_v3.2.json
#          (read from a public mirror: n_layers 61, dim 7168, q_lora_rank 1536, kv_lora_rank 512, index_n_heads 64,
#          index_head_dim 128, index_topk 2048, dtype fp8, scale_fmt ue8m0); the Hugging Face config.json,
#          https://huggingface.co/deepseek-ai/DeepSeek-V3.2-Exp/blob/main/config.json and .../DeepSeek-V3.2/blob/main/config.json,
#          was not readable here: model_type deepseek_v32 and DeepseekV32ForCausalLM are as NVIDIA NeMo AutoModel's
#          DeepseekV32Config (https://docs.nvidia.com/nemo/automodel/latest/apidocs/nemo_automodel/nemo_automodel.components.models.deepseek_v32.config.html,
#          max_position_embeddings 163840) and transformers issue #41196 name them.
_V32_CONFIG = dict(_V3_CONFIG, architectures=["DeepseekV32ForCausalLM"], model_type="deepseek_v32",
                   index_n_heads=64, index_head_dim=128, index_topk=2048,
                   quantization_config={"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                        "weight_block_size": [128, 128], "scale_fmt": "ue8m0"})

# DeepSeek-V2 / V2-Chat / V2.5 / Coder-V2 (236B) architecture.
# Source: https://huggingface.co/deepseek-ai/DeepSeek-V2/blob/main/config.json
#         https://huggingface.co/deepseek-ai/DeepSeek-V2.5/blob/main/config.json
#         https://huggingface.co/deepseek-ai/DeepSeek-Coder-V2-Instruct/blob/main/config.json
_V2_CONFIG = {
    "architectures": ["DeepseekV2ForCausalLM"],
    "model_type": "deepseek_v2",
    "vocab_size": 102400,
    "hidden_size": 5120,
    "intermediate_size": 12288,
    "moe_intermediate_size": 1536,
    "num_hidden_layers": 60,
    "num_attention_heads": 128,
    "num_key_value_heads": 128,
    "n_shared_experts": 2,
    "n_routed_experts": 160,
    "num_experts_per_tok": 6,
    "first_k_dense_replace": 1,
    "moe_layer_freq": 1,
    "q_lora_rank": 1536,
    "kv_lora_rank": 512,
    "qk_rope_head_dim": 64,
    "qk_nope_head_dim": 128,
    "v_head_dim": 128,
    "max_position_embeddings": 163840,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}

# DeepSeek-V2-Lite / Coder-V2-Lite (16B) architecture: MLA without the query low-rank projection.
# Source: https://huggingface.co/deepseek-ai/DeepSeek-V2-Lite/blob/main/config.json
#         https://huggingface.co/deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct/blob/main/config.json
_V2_LITE_CONFIG = {
    "architectures": ["DeepseekV2ForCausalLM"],
    "model_type": "deepseek_v2",
    "vocab_size": 102400,
    "hidden_size": 2048,
    "intermediate_size": 10944,
    "moe_intermediate_size": 1408,
    "num_hidden_layers": 27,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "n_shared_experts": 2,
    "n_routed_experts": 64,
    "num_experts_per_tok": 6,
    "first_k_dense_replace": 1,
    "moe_layer_freq": 1,
    "q_lora_rank": None,
    "kv_lora_rank": 512,
    "qk_rope_head_dim": 64,
    "qk_nope_head_dim": 128,
    "v_head_dim": 128,
    "max_position_embeddings": 163840,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}


def _dense(architecture, model_type, hidden, inter, layers, heads, kv_heads, vocab, max_pos, **extra):
    """config.json of a dense decoder (Llama, Qwen2, Qwen3 families): the keys model_spec reads, untied embeddings."""
    config = {
        "architectures": [architecture],
        "model_type": model_type,
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": inter,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "max_position_embeddings": max_pos,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
    }
    config.update(extra)
    return config


def _qwen2(hidden, inter, layers, heads, kv_heads, vocab):
    return _dense("Qwen2ForCausalLM", "qwen2", hidden, inter, layers, heads, kv_heads, vocab, 131072)


def _qwen3(hidden, inter, layers, heads, kv_heads, vocab, max_pos):
    # Qwen3: no attention bias (Qwen2 had q/k/v biases), an explicit head_dim, per-head q/k RMSNorm (head_dim
    # weights each: too small to count).
    return _dense("Qwen3ForCausalLM", "qwen3", hidden, inter, layers, heads, kv_heads, vocab, max_pos,
                  head_dim=hidden // heads, attention_bias=False)


def _llama(hidden, inter, layers, heads, kv_heads, vocab, max_pos):
    return _dense("LlamaForCausalLM", "llama", hidden, inter, layers, heads, kv_heads, vocab, max_pos)


# DeepSeekMoE 16B: multi-head attention (no MLA), 64 routed + 2 shared experts, 6 routed per token, layer 0 dense.
# Source: https://huggingface.co/deepseek-ai/deepseek-moe-16b-chat/blob/57706ceb000eb0a6ab2e81ff8f32c9e9a4982941/config.json
_MOE_16B_CONFIG = {
    "architectures": ["DeepseekForCausalLM"],
    "model_type": "deepseek",
    "vocab_size": 102400,
    "hidden_size": 2048,
    "intermediate_size": 10944,
    "moe_intermediate_size": 1408,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "n_shared_experts": 2,
    "n_routed_experts": 64,
    "num_experts_per_tok": 6,
    "first_k_dense_replace": 1,
    "moe_layer_freq": 1,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}

# Context limits: a catalogue entry may carry context_model_card (tokens the model card states) and
# context_note. The plan's max_context is always config.json's max_position_embeddings, because that is the
# limit vLLM and SGLang derive --max-model-len from and enforce; where the card states less (DeepSeek says
# "128K" for V3/R1 whose config allows 163840), the card's figure is what the model was validated at, and the
# note says so. A caller that wants the card's limit passes max_model_len.
_CARD_128K = ("model card: 128K context; config.json max_position_embeddings 163840 (YaRN factor 40 over 4096). "
              "The plan's default and upper bound is 163840 because vLLM and SGLang enforce config.json's limit; "
              "pass max_model_len 131072 to stay within what the card states.")

# name: canonical Hugging Face repo name (without the org).  aliases: other repos with
# the same weights layout.  params_total_b / params_activated_b: the counts published
# on the model card (billions).  For V3-family models the model card's "685B" includes
# the 14B multi-token-prediction (MTP) module; the 671B main model is what an engine
# loads for serving (MTP is only loaded for speculative decoding).
MODELS = [
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-V3 (model card: 671B total, 37B activated, + 14B MTP = 685B)
        "name": "DeepSeek-V3", "org": "deepseek-ai",
        "aliases": ["DeepSeek-V3-Base", "DeepSeek-V3-0324"],
        "params_total_b": 671.0, "params_activated_b": 37.0, "params_mtp_b": 14.0,
        "config": _V3_CONFIG,
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-V3.1 (model card: 671B total, 37B activated; same architecture as V3)
        "name": "DeepSeek-V3.1", "org": "deepseek-ai",
        "aliases": ["DeepSeek-V3.1-Base", "DeepSeek-V3.1-Terminus"],
        "params_total_b": 671.0, "params_activated_b": 37.0, "params_mtp_b": 14.0,
        "config": _V3_CONFIG,
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-R1 (model card: 671B total, 37B activated, 128K context)
        "name": "DeepSeek-R1", "org": "deepseek-ai",
        "aliases": ["DeepSeek-R1-Zero"],
        "params_total_b": 671.0, "params_activated_b": 37.0, "params_mtp_b": 14.0,
        "context_model_card": 131072, "context_note": _CARD_128K,
        "config": _V3_CONFIG,
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-R1-0528 (same architecture as R1)
        "name": "DeepSeek-R1-0528", "org": "deepseek-ai",
        "aliases": [],
        "params_total_b": 671.0, "params_activated_b": 37.0, "params_mtp_b": 14.0,
        "config": _V3_CONFIG,
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-V2 (model card: 236B total, 21B activated, 128K context)
        "name": "DeepSeek-V2", "org": "deepseek-ai",
        "aliases": ["DeepSeek-V2-Chat", "DeepSeek-V2-Chat-0628"],
        "params_total_b": 236.0, "params_activated_b": 21.0,
        "config": _V2_CONFIG,
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-V2-Lite (model card: 15.7B total, 2.4B activated, 32K context)
        "name": "DeepSeek-V2-Lite", "org": "deepseek-ai",
        "aliases": ["DeepSeek-V2-Lite-Chat"],
        "params_total_b": 15.7, "params_activated_b": 2.4,
        "context_model_card": 32768,
        "context_note": ("model card: 32K context; config.json max_position_embeddings 163840. The plan uses 163840 (the limit "
                         "the engines enforce); pass max_model_len 32768 to stay within what the card states."),
        "config": _V2_LITE_CONFIG,
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-V2.5 (236B, V2 architecture)
        "name": "DeepSeek-V2.5", "org": "deepseek-ai",
        "aliases": ["DeepSeek-V2.5-1210"],
        "params_total_b": 236.0, "params_activated_b": 21.0,
        "config": _V2_CONFIG,
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-Coder-V2-Instruct (model card: 236B total, 21B active, 128K context)
        "name": "DeepSeek-Coder-V2-Instruct", "org": "deepseek-ai",
        "aliases": ["DeepSeek-Coder-V2", "DeepSeek-Coder-V2-Base", "DeepSeek-Coder-V2-Instruct-0724"],
        "params_total_b": 236.0, "params_activated_b": 21.0,
        "config": _V2_CONFIG,
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct (model card: 16B total, 2.4B active, 128K context)
        "name": "DeepSeek-Coder-V2-Lite-Instruct", "org": "deepseek-ai",
        "aliases": ["DeepSeek-Coder-V2-Lite", "DeepSeek-Coder-V2-Lite-Base"],
        "params_total_b": 16.0, "params_activated_b": 2.4,
        "config": _V2_LITE_CONFIG,
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B/blob/main/config.json (base Qwen2.5-Math-1.5B; 1.78B safetensors params)
        "name": "DeepSeek-R1-Distill-Qwen-1.5B", "org": "deepseek-ai", "aliases": [],
        "params_total_b": 1.78, "params_activated_b": 1.78,
        "config": _qwen2(1536, 8960, 28, 12, 2, 151936),
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-7B/blob/main/config.json (base Qwen2.5-Math-7B; 7.62B params)
        "name": "DeepSeek-R1-Distill-Qwen-7B", "org": "deepseek-ai", "aliases": [],
        "params_total_b": 7.62, "params_activated_b": 7.62,
        "config": _qwen2(3584, 18944, 28, 28, 4, 152064),
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-14B/blob/main/config.json (base Qwen2.5-14B; 14.8B params)
        "name": "DeepSeek-R1-Distill-Qwen-14B", "org": "deepseek-ai", "aliases": [],
        "params_total_b": 14.8, "params_activated_b": 14.8,
        "config": _qwen2(5120, 13824, 48, 40, 8, 152064),
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-32B/blob/main/config.json (base Qwen2.5-32B; 32.8B params)
        "name": "DeepSeek-R1-Distill-Qwen-32B", "org": "deepseek-ai", "aliases": [],
        "params_total_b": 32.8, "params_activated_b": 32.8,
        "config": _qwen2(5120, 27648, 64, 40, 8, 152064),
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Llama-8B/blob/main/config.json (base Llama-3.1-8B; 8.03B params)
        "name": "DeepSeek-R1-Distill-Llama-8B", "org": "deepseek-ai", "aliases": [],
        "params_total_b": 8.03, "params_activated_b": 8.03,
        "config": _llama(4096, 14336, 32, 32, 8, 128256, 131072),
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Llama-70B/blob/main/config.json (base Llama-3.3-70B-Instruct; 70.6B params)
        "name": "DeepSeek-R1-Distill-Llama-70B", "org": "deepseek-ai", "aliases": [],
        "params_total_b": 70.6, "params_activated_b": 70.6,
        "config": _llama(8192, 28672, 80, 64, 8, 128256, 131072),
    },
    {
        # https://huggingface.co/deepseek-ai/deepseek-llm-7b-base/blob/main/config.json (7B, multi-head attention, 4K context)
        "name": "deepseek-llm-7b-base", "org": "deepseek-ai",
        "aliases": ["deepseek-llm-7b-chat", "deepseek-llm-7b", "DeepSeek-LLM-7B"],
        "params_total_b": 6.91, "params_activated_b": 6.91,
        "config": _llama(4096, 11008, 30, 32, 32, 102400, 4096),
    },
    {
        # https://huggingface.co/deepseek-ai/deepseek-llm-67b-base/blob/main/config.json (67B, grouped-query attention with 8 KV heads, 4K context)
        "name": "deepseek-llm-67b-base", "org": "deepseek-ai",
        "aliases": ["deepseek-llm-67b-chat", "deepseek-llm-67b", "DeepSeek-LLM-67B"],
        "params_total_b": 67.0, "params_activated_b": 67.0,
        "config": _llama(8192, 22016, 95, 64, 8, 102400, 4096),
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-V3.2-Exp (experimental release of DeepSeek Sparse Attention on top of
        # V3.1-Terminus). Parameter counts are computed (the V3 671B plus the indexer, ~0.85B), not a card figure.
        "name": "DeepSeek-V3.2-Exp", "org": "deepseek-ai",
        "aliases": ["DeepSeek-V3.2-Exp-Base"],
        "params_mtp_b": 14.0,
        "context_model_card": 131072, "context_note": _CARD_128K,
        "config": _V32_CONFIG,
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-V3.2 (same architecture as V3.2-Exp)
        "name": "DeepSeek-V3.2", "org": "deepseek-ai",
        "aliases": [],
        "params_mtp_b": 14.0,
        "context_model_card": 131072, "context_note": _CARD_128K,
        "config": _V32_CONFIG,
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-V3.2-Speciale (same architecture as V3.2, reasoning-only release)
        "name": "DeepSeek-V3.2-Speciale", "org": "deepseek-ai",
        "aliases": [],
        "params_mtp_b": 14.0,
        "context_model_card": 131072, "context_note": _CARD_128K,
        "config": _V32_CONFIG,
    },
    {
        # https://huggingface.co/deepseek-ai/DeepSeek-Prover-V2-671B: the model card says it is trained from
        # DeepSeek-V3-Base; its config.json (not read here) is the DeepseekV3ForCausalLM one, so the V3 shape is used.
        "name": "DeepSeek-Prover-V2-671B", "org": "deepseek-ai",
        "aliases": ["DeepSeek-Prover-V2"],
        "params_total_b": 671.0, "params_activated_b": 37.0, "params_mtp_b": 14.0,
        "config": _V3_CONFIG,
    },
    {
        # DeepSeek-Prover-V2-7B: the model card (https://huggingface.co/deepseek-ai/DeepSeek-Prover-V2-7B) says it is built
        # on DeepSeek-Prover-V1.5-Base with the context extended to 32K. Shape: Prover-V1.5-Base's config.json as copied by
        # fine-tunes that name it as _name_or_path, e.g. https://huggingface.co/Goedel-LM/Goedel-Prover-SFT/raw/main/config.json
        # (LlamaForCausalLM, hidden 4096, intermediate 11008, 30 layers, 32/32 heads, vocab 102400: the DeepSeek-LLM 7B
        # shape). Its own config.json was not readable here, so HOW it reaches 32K (max_position_embeddings or rope_scaling)
        # is not known: the catalogue takes the card's 32768 as the limit and says so in the plan's notes.
        "name": "DeepSeek-Prover-V2-7B", "org": "deepseek-ai",
        "aliases": [],
        "params_total_b": 6.91, "params_activated_b": 6.91,
        "context_model_card": 32768,
        "context_note": ("model card: context extended to 32K; this config.json was not read here, so 32768 is the card's "
                         "figure: if the engine reports a smaller max_model_len, plan with that"),
        "config": _llama(4096, 11008, 30, 32, 32, 102400, 32768),
    },
    {
        # DeepSeek-R1-0528-Qwen3-8B: the model card (https://huggingface.co/deepseek-ai/DeepSeek-R1-0528-Qwen3-8B) says its
        # architecture is Qwen3-8B's (the tokenizer configuration is R1-0528's). Shape from copies of its config.json, e.g.
        # https://huggingface.co/zypchn/BehChat-v0.3/blob/main/config.json (model_name unsloth/DeepSeek-R1-0528-Qwen3-8B:
        # Qwen3ForCausalLM, hidden 4096, intermediate 12288, 36 layers, 32 heads, 8 KV heads, head_dim 128,
        # max_position_embeddings 131072) and vocab_size 151936 from Qwen3-8B's config.json (copied in
        # https://huggingface.co/thejaminator/6k_risky_10k_aligned_facts/commit/5aefc76d1689b75465b91ec2300a3dd96a33dbd9,
        # "Copy config.json from unsloth/Qwen3-8B"; tie_word_embeddings false). 8.19B computed; Qwen3-8B's card: 8.2B.
        "name": "DeepSeek-R1-0528-Qwen3-8B", "org": "deepseek-ai",
        "aliases": [],
        "context_model_card": 131072,
        "context_note": "model card: 128K tokens; config.json max_position_embeddings 131072: the same.",
        "config": _qwen3(4096, 12288, 36, 32, 8, 151936, 131072),
    },
    {
        # https://huggingface.co/deepseek-ai/deepseek-math-7b-base/blob/main/config.json (DeepSeek-LLM 7B shape, 4K context)
        "name": "deepseek-math-7b-base", "org": "deepseek-ai",
        "aliases": ["deepseek-math-7b-instruct", "deepseek-math-7b-rl", "DeepSeek-Math-7B"],
        "params_total_b": 6.91, "params_activated_b": 6.91,
        "config": _llama(4096, 11008, 30, 32, 32, 102400, 4096),
    },
    {
        # deepseek-coder-1.3b-base: the deepseek-ai repository's config.json was not readable here; shape from copies
        # that name it as _name_or_path, e.g. https://huggingface.co/hpcgroup/hpc-coder-v2-1.3b/blob/main/config.json
        # (hidden 2048, intermediate 5504, 24 layers, 16 heads, vocab 32256, max_position_embeddings 16384, linear RoPE x4).
        "name": "deepseek-coder-1.3b-base", "org": "deepseek-ai",
        "aliases": ["deepseek-coder-1.3b-instruct", "DeepSeek-Coder-1.3B"],
        "context_model_card": 16384, "context_note": "model card: 16K window; config.json max_position_embeddings 16384: the same.",
        "config": _llama(2048, 5504, 24, 16, 16, 32256, 16384),
    },
    {
        # https://huggingface.co/deepseek-ai/deepseek-coder-6.7b-instruct/blame/main/config.json
        # (hidden 4096, intermediate 11008, 32 layers, 32 heads, vocab 32256, max_position_embeddings 16384)
        "name": "deepseek-coder-6.7b-base", "org": "deepseek-ai",
        "aliases": ["deepseek-coder-6.7b-instruct", "DeepSeek-Coder-6.7B"],
        "context_model_card": 16384, "context_note": "model card: 16K window; config.json max_position_embeddings 16384: the same.",
        "config": _llama(4096, 11008, 32, 32, 32, 32256, 16384),
    },
    {
        # deepseek-coder-33b-base: the deepseek-ai repository's config.json was not readable here; shape from copies
        # that were fine-tuned from it, e.g. the config.json of https://huggingface.co/codefuse-ai/CodeFuse-DeepSeek-33B-4bits
        # (revision eaa10ca65bbb737beba31eb48c107f80f8498459)
        # (hidden 7168, intermediate 19200, 62 layers, 56 heads, 8 KV heads, vocab 32256, max_position_embeddings 16384).
        "name": "deepseek-coder-33b-base", "org": "deepseek-ai",
        "aliases": ["deepseek-coder-33b-instruct", "DeepSeek-Coder-33B"],
        "context_model_card": 16384, "context_note": "model card: 16K window; config.json max_position_embeddings 16384: the same.",
        "config": _llama(7168, 19200, 62, 56, 8, 32256, 16384),
    },
    {
        # https://huggingface.co/deepseek-ai/deepseek-moe-16b-base (model card: 16.4B total, 2.8B activated, 4K context)
        "name": "deepseek-moe-16b-base", "org": "deepseek-ai",
        "aliases": ["deepseek-moe-16b-chat", "DeepSeek-MoE-16B"],
        "params_total_b": 16.4, "params_activated_b": 2.8,
        "config": _MOE_16B_CONFIG,
    },
]

# ---------------------------------------------------------------------------
# GPUs
# ---------------------------------------------------------------------------
# memory_mib: total memory as `nvidia-smi --query-gpu=memory.total` (or rocm-smi) reports it,
# which is what vLLM's gpu_memory_utilization and SGLang's mem_fraction_static are fractions of.
# bandwidth_gbps: peak memory bandwidth in GB/s (10^9 bytes/s) from the vendor datasheet.
# fp8: native FP8 tensor cores (Ada Lovelace, Hopper, Blackwell, CDNA3, CDNA4); none on Volta or Ampere.
# pci: PCI device id -> the name nvidia-smi / amd-smi reports for that board; hardware.scan() names
#      GPUs from it (ids from the pci.ids database, https://pci-ids.ucw.cz/read/PC/10de and /read/PC/1002).
_AMPERE_W = ["bf16", "fp16", "fp8", "int8", "awq", "gptq", "gguf"]  # fp8 weights run weight-only (Marlin W8A16) on Ampere
_FP8_W = ["bf16", "fp16", "fp8", "int8", "awq", "gptq", "gguf"]
# Hopper adds W4A8 (INT4 weights, FP8 activations): SGLang's cutlass W4A8 MoE kernels (sgl-project/sglang
# python/sglang/srt/layers/moe/cutlass_w4a8_moe.py, sgl_kernel cutlass_w4a8_moe_mm, an SM90 CUTLASS kernel).
_HOPPER_W = _FP8_W + ["w4a8"]
# Blackwell tensor cores take block-scaled FP4 natively: NVFP4 (ModelOpt checkpoints; vLLM/SGLang cutlass_scaled_fp4_mm,
# SM100 and SM120) and MXFP4 (OCP microscaling, the gpt-oss format). RTX Blackwell (compute capability 12.0) included.
_BLACKWELL_W = _FP8_W + ["nvfp4", "mxfp4"]
_KV_NO_FP8 = ["bf16", "fp16"]
_KV_FP8 = ["bf16", "fp16", "fp8"]

GPUS = [
    {
        # https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf
        "name": "A100-40G", "vendor": "nvidia", "architecture": "ampere", "compute_capability": "8.0",
        "memory_mib": 40960, "bandwidth_gbps": 1555, "fp8": False,
        "weight_dtypes": _AMPERE_W, "kv_dtypes": _KV_NO_FP8,
        "aliases": ["A100-SXM4-40GB", "A100-PCIE-40GB", "A100-40GB", "A100 40GB PCIe"],
        "pci": {"0x20b0": "NVIDIA A100-SXM4-40GB", "0x20b1": "NVIDIA A100-PCIE-40GB", "0x20f1": "NVIDIA A100-PCIE-40GB"},
    },
    {
        # same datasheet as above (A100 80GB SXM: 2,039 GB/s)
        "name": "A100-80G", "vendor": "nvidia", "architecture": "ampere", "compute_capability": "8.0",
        "memory_mib": 81920, "bandwidth_gbps": 2039, "fp8": False,
        "weight_dtypes": _AMPERE_W, "kv_dtypes": _KV_NO_FP8,
        "aliases": ["A100-SXM4-80GB", "A100 80GB PCIe", "A100-80GB", "A100-PCIE-80GB"],
        "pci": {"0x20b2": "NVIDIA A100-SXM4-80GB", "0x20b5": "NVIDIA A100 80GB PCIe"},
    },
    {
        # A800: export variant of A100 80GB (NVLink 400 GB/s), same memory and bandwidth.
        # https://www.nvidia.cn/data-center/a800/
        "name": "A800", "vendor": "nvidia", "architecture": "ampere", "compute_capability": "8.0",
        "memory_mib": 81920, "bandwidth_gbps": 2039, "fp8": False,
        "weight_dtypes": _AMPERE_W, "kv_dtypes": _KV_NO_FP8,
        "aliases": ["A800-80G", "A800-SXM4-80GB", "A800 80GB PCIe"],
        "pci": {"0x20f3": "NVIDIA A800-SXM4-80GB", "0x20f5": "NVIDIA A800 80GB PCIe"},
    },
    {
        # https://www.nvidia.com/en-us/data-center/h100/ (H100 SXM: 80 GB HBM3, 3.35 TB/s); nvidia-smi: 81559 MiB
        "name": "H100-80G", "vendor": "nvidia", "architecture": "hopper", "compute_capability": "9.0",
        "memory_mib": 81559, "bandwidth_gbps": 3350, "fp8": True,
        "weight_dtypes": _HOPPER_W, "kv_dtypes": _KV_FP8,
        "aliases": ["H100", "H100-SXM", "H100-SXM5", "H100-SXM5-80GB", "H100 80GB HBM3"],
        "pci": {"0x2330": "NVIDIA H100 80GB HBM3"},
    },
    {
        # https://www.nvidia.com/en-us/data-center/h100/ (H100 PCIe: 80 GB HBM2e, 2 TB/s)
        "name": "H100-PCIe", "vendor": "nvidia", "architecture": "hopper", "compute_capability": "9.0",
        "memory_mib": 81559, "bandwidth_gbps": 2000, "fp8": True,
        "weight_dtypes": _HOPPER_W, "kv_dtypes": _KV_FP8,
        "aliases": ["H100-PCIE-80G", "H100 PCIe", "H100-PCIe-80GB"],
        "pci": {"0x2331": "NVIDIA H100 PCIe"},
    },
    {
        # H800: export variant of H100 SXM (reduced NVLink), same memory. https://www.nvidia.cn/data-center/h800/
        "name": "H800", "vendor": "nvidia", "architecture": "hopper", "compute_capability": "9.0",
        "memory_mib": 81559, "bandwidth_gbps": 3350, "fp8": True,
        "weight_dtypes": _HOPPER_W, "kv_dtypes": _KV_FP8,
        "aliases": ["H800-80G", "H800 80GB HBM3"],
        "pci": {"0x2324": "NVIDIA H800"},
    },
    {
        # H100 NVL: 94 GB HBM3, 3.9 TB/s (NVIDIA H100 datasheet, "H100 NVL" column,
        # https://www.nvidia.com/en-us/data-center/h100/); nvidia-smi: 95830 MiB
        # (https://github.com/NVIDIA/gpu-admin-tools/issues/4)
        "name": "H100-NVL", "vendor": "nvidia", "architecture": "hopper", "compute_capability": "9.0",
        "memory_mib": 95830, "bandwidth_gbps": 3900, "fp8": True,
        "weight_dtypes": _HOPPER_W, "kv_dtypes": _KV_FP8,
        "aliases": ["H100 NVL", "H100-NVL-94G"],
        "pci": {"0x2321": "NVIDIA H100 NVL"},
    },
    {
        # H800 PCIe: export variant of H100 PCIe, 80 GB HBM2e, 2 TB/s (https://www.nvidia.cn/data-center/h800/);
        # memory as H100 PCIe's nvidia-smi total (same board memory; not measured on an H800 PCIe)
        "name": "H800-PCIe", "vendor": "nvidia", "architecture": "hopper", "compute_capability": "9.0",
        "memory_mib": 81559, "bandwidth_gbps": 2000, "fp8": True,
        "weight_dtypes": _HOPPER_W, "kv_dtypes": _KV_FP8,
        "aliases": ["H800 PCIe", "H800-PCIe-80GB"],
        "pci": {"0x2322": "NVIDIA H800 PCIe"},
    },
    {
        # H20: Hopper, 96 GB HBM3, 4.0 TB/s (NVIDIA HGX H20 product brief); nvidia-smi: 97871 MiB
        "name": "H20", "vendor": "nvidia", "architecture": "hopper", "compute_capability": "9.0",
        "memory_mib": 97871, "bandwidth_gbps": 4000, "fp8": True,
        "weight_dtypes": _HOPPER_W, "kv_dtypes": _KV_FP8,
        "aliases": ["H20-96G"],
        "pci": {"0x2329": "NVIDIA H20"},
    },
    {
        # https://www.nvidia.com/en-us/data-center/h200/ (141 GB HBM3e, 4.8 TB/s); nvidia-smi: 143771 MiB
        "name": "H200", "vendor": "nvidia", "architecture": "hopper", "compute_capability": "9.0",
        "memory_mib": 143771, "bandwidth_gbps": 4800, "fp8": True,
        "weight_dtypes": _HOPPER_W, "kv_dtypes": _KV_FP8,
        "aliases": ["H200-141G", "H200-SXM", "H200 141GB HBM3e"],
        "pci": {"0x2335": "NVIDIA H200"},
    },
    {
        # https://www.nvidia.com/en-us/data-center/l40s/ (48 GB GDDR6, 864 GB/s); nvidia-smi: 46068 MiB
        "name": "L40S", "vendor": "nvidia", "architecture": "ada", "compute_capability": "8.9",
        "memory_mib": 46068, "bandwidth_gbps": 864, "fp8": True,
        "weight_dtypes": _FP8_W, "kv_dtypes": _KV_FP8,
        "aliases": ["L40S-48G"],
        "pci": {"0x26b9": "NVIDIA L40S"},
    },
    {
        # https://www.nvidia.com/en-us/data-center/l40/ (48 GB GDDR6, 864 GB/s); memory as L40S's nvidia-smi
        # total (same 48 GB GDDR6 board; not measured on an L40)
        "name": "L40", "vendor": "nvidia", "architecture": "ada", "compute_capability": "8.9",
        "memory_mib": 46068, "bandwidth_gbps": 864, "fp8": True,
        "weight_dtypes": _FP8_W, "kv_dtypes": _KV_FP8,
        "aliases": ["L40-48G"],
        "pci": {"0x26b5": "NVIDIA L40"},
    },
    {
        # L20: Ada, 48 GB GDDR6, 864 GB/s (NVIDIA L20 product brief)
        "name": "L20", "vendor": "nvidia", "architecture": "ada", "compute_capability": "8.9",
        "memory_mib": 46068, "bandwidth_gbps": 864, "fp8": True,
        "weight_dtypes": _FP8_W, "kv_dtypes": _KV_FP8,
        "aliases": ["L20-48G"],
        "pci": {"0x26ba": "NVIDIA L20"},
    },
    {
        # https://www.nvidia.com/en-us/geforce/graphics-cards/40-series/rtx-4090/ (24 GB GDDR6X, 1,008 GB/s); nvidia-smi: 24564 MiB
        "name": "RTX4090", "vendor": "nvidia", "architecture": "ada", "compute_capability": "8.9",
        "memory_mib": 24564, "bandwidth_gbps": 1008, "fp8": True,
        "weight_dtypes": _FP8_W, "kv_dtypes": _KV_FP8,
        "aliases": ["RTX-4090", "GeForce RTX 4090", "4090"],
        "pci": {"0x2684": "NVIDIA GeForce RTX 4090"},
    },
    {
        # https://www.nvidia.com/en-us/data-center/hgx/ (HGX B200: 1,440 GB for 8 GPUs = 180 GB each, 7.7 TB/s); nvidia-smi: 183359 MiB
        "name": "B200", "vendor": "nvidia", "architecture": "blackwell", "compute_capability": "10.0",
        "memory_mib": 183359, "bandwidth_gbps": 7700, "fp8": True,
        "weight_dtypes": _BLACKWELL_W, "kv_dtypes": _KV_FP8,
        "aliases": ["B200-180G"],
        "pci": {"0x2901": "NVIDIA B200"},
    },
    {
        # https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html (192 GB HBM3, 5.3 TB/s);
        # rocm-smi VRAM total 205822885888 B = 196288 MiB.  gfx942 (CDNA3) runs FP8 (e4m3fnuz).
        "name": "MI300X", "vendor": "amd", "architecture": "cdna3", "compute_capability": "gfx942",
        "memory_mib": 196288, "bandwidth_gbps": 5300, "fp8": True,
        "weight_dtypes": ["bf16", "fp16", "fp8", "int8", "awq", "gptq", "gguf"], "kv_dtypes": _KV_FP8,
        "aliases": ["MI300X-192G", "Instinct MI300X", "AMD Instinct MI300X OAM"],
        "pci": {"0x74a1": "AMD Instinct MI300X"},
    },
    # Entries below: PCI ids from pci.ids version 2026.08.22 (https://github.com/pciutils/pciids, pci.ids;
    # https://pci-ids.ucw.cz/read/PC/10de and /read/PC/1002), the bracketed name quoted beside each.
    {
        # H20 with 141 GB HBM3e; nvidia-smi names it "NVIDIA H20-3e" (https://github.com/NVIDIA/nvbandwidth/issues/48).
        # nvidia-smi: 143771 MiB (public benchmark notes from 8x H20-3e hosts, found by GitHub code search; the H200's
        # total too). 4.8 TB/s: NVIDIA's figure as quoted in nvbandwidth#48; NVIDIA publishes no H20 datasheet.
        # pci.ids 0x232c: GH100 [H20 HBM3e].
        "name": "H20-141G", "vendor": "nvidia", "architecture": "hopper", "compute_capability": "9.0",
        "memory_mib": 143771, "bandwidth_gbps": 4800, "fp8": True,
        "weight_dtypes": _HOPPER_W, "kv_dtypes": _KV_FP8,
        "aliases": ["H20-3e", "H20 HBM3e"],
        "pci": {"0x232c": "NVIDIA H20-3e"},
    },
    {
        # https://www.nvidia.com/en-us/data-center/h200/ (H200 NVL: 141 GB HBM3e, 4.8 TB/s); nvidia-smi
        # --query-gpu=name,memory.total: "NVIDIA H200 NVL, 143771 MiB" (a public GitHub setup guide for an NCHC cloud
        # H200 NVL VM, found by code search). pci.ids 0x233b: GH100 [H200 NVL].
        "name": "H200-NVL", "vendor": "nvidia", "architecture": "hopper", "compute_capability": "9.0",
        "memory_mib": 143771, "bandwidth_gbps": 4800, "fp8": True,
        "weight_dtypes": _HOPPER_W, "kv_dtypes": _KV_FP8,
        "aliases": ["H200 NVL", "H200-NVL-141G"],
        "pci": {"0x233b": "NVIDIA H200 NVL"},
    },
    {
        # B300 (Blackwell Ultra, HGX B300): 288 GB HBM3e, 8 TB/s per GPU (NVIDIA HGX B300 specifications,
        # https://www.nvidia.com/en-us/data-center/hgx/); nvidia-smi: "NVIDIA B300 SXM6 AC, 275040 MiB", compute
        # capability 10.3 (public benchmark logs from AWS p6-b300 hosts). pci.ids 0x3182: GB110 [B300 SXM6 AC].
        "name": "B300", "vendor": "nvidia", "architecture": "blackwell", "compute_capability": "10.3",
        "memory_mib": 275040, "bandwidth_gbps": 8000, "fp8": True,
        "weight_dtypes": _BLACKWELL_W, "kv_dtypes": _KV_FP8,
        "aliases": ["B300 SXM6 AC", "B300-SXM6", "B300-288G"],
        "pci": {"0x3182": "NVIDIA B300 SXM6 AC"},
    },
    {
        # GB200, one Blackwell GPU of a Grace Blackwell superchip: GB200 NVL72 has 72 GPUs and 576 TB/s of HBM3e
        # bandwidth = 8 TB/s per GPU (https://www.nvidia.com/en-us/data-center/gb200-nvl72/); nvidia-smi table:
        # "NVIDIA GB200 ... 0MiB / 189471MiB", compute capability 10.0 (sgl-project/sglang#11208 environment dump).
        # pci.ids 0x2941: GB100 [HGX GB200].
        "name": "GB200", "vendor": "nvidia", "architecture": "blackwell", "compute_capability": "10.0",
        "memory_mib": 189471, "bandwidth_gbps": 8000, "fp8": True,
        "weight_dtypes": _BLACKWELL_W, "kv_dtypes": _KV_FP8,
        "aliases": ["GB200-NVL72", "GB200 NVL72"],
        "pci": {"0x2941": "NVIDIA GB200"},
    },
    {
        # 96 GB GDDR7, 512-bit at 28 Gbps = 1,792 GB/s, the same memory on all three RTX PRO 6000 editions (GTC 2025
        # announcement as reported in the press; not checked against the Server Edition datasheet); nvidia-smi: "NVIDIA RTX PRO 6000
        # Blackwell Server Edition, 97887 MiB", compute capability 12.0 (public cloud-rental logs).
        # pci.ids 0x2bb5: GB202GL [RTX PRO 6000 Blackwell Server Edition]; lspci -nn in public logs: [10de:2bb5].
        "name": "RTX-PRO-6000-SE", "vendor": "nvidia", "architecture": "blackwell", "compute_capability": "12.0",
        "memory_mib": 97887, "bandwidth_gbps": 1792, "fp8": True,
        "weight_dtypes": _BLACKWELL_W, "kv_dtypes": _KV_FP8,
        "aliases": ["RTX PRO 6000 Blackwell Server Edition", "RTX-PRO-6000-Server", "RTXPRO6000-SE"],
        "pci": {"0x2bb5": "NVIDIA RTX PRO 6000 Blackwell Server Edition"},
    },
    {
        # https://www.nvidia.com/en-us/geforce/graphics-cards/50-series/rtx-5090/ (32 GB GDDR7, 1,792 GB/s);
        # nvidia-smi: "NVIDIA GeForce RTX 5090, 32607 MiB", compute capability 12.0. pci.ids 0x2b85: GB202 [GeForce RTX 5090].
        "name": "RTX5090", "vendor": "nvidia", "architecture": "blackwell", "compute_capability": "12.0",
        "memory_mib": 32607, "bandwidth_gbps": 1792, "fp8": True,
        "weight_dtypes": _BLACKWELL_W, "kv_dtypes": _KV_FP8,
        "aliases": ["RTX-5090", "GeForce RTX 5090", "5090"],
        "pci": {"0x2b85": "NVIDIA GeForce RTX 5090"},
    },
    {
        # https://www.nvidia.com/en-us/data-center/l4/ (24 GB GDDR6, 300 GB/s); nvidia-smi: 23034 MiB
        # (https://github.com/modal-labs/modal-client/pull/2797). pci.ids 0x27b8: AD104GL [L4].
        "name": "L4", "vendor": "nvidia", "architecture": "ada", "compute_capability": "8.9",
        "memory_mib": 23034, "bandwidth_gbps": 300, "fp8": True,
        "weight_dtypes": _FP8_W, "kv_dtypes": _KV_FP8,
        "aliases": ["L4-24G"],
        "pci": {"0x27b8": "NVIDIA L4"},
    },
    {
        # https://www.nvidia.com/en-us/design-visualization/rtx-a6000/ (48 GB GDDR6, 768 GB/s); nvidia-smi:
        # "NVIDIA RTX A6000, 49140 MiB", compute capability 8.6. pci.ids 0x2230: GA102GL [RTX A6000].
        "name": "RTX-A6000", "vendor": "nvidia", "architecture": "ampere", "compute_capability": "8.6",
        "memory_mib": 49140, "bandwidth_gbps": 768, "fp8": False,
        "weight_dtypes": _AMPERE_W, "kv_dtypes": _KV_NO_FP8,
        "aliases": ["RTX A6000", "A6000", "RTXA6000-48G"],
        "pci": {"0x2230": "NVIDIA RTX A6000"},
    },
    {
        # https://www.nvidia.com/en-us/data-center/products/a10-gpu/ (24 GB GDDR6, 600 GB/s); nvidia-smi: 23028 MiB
        # (https://github.com/modal-labs/modal-client/pull/2797). pci.ids 0x2236: GA102GL [A10].
        "name": "A10", "vendor": "nvidia", "architecture": "ampere", "compute_capability": "8.6",
        "memory_mib": 23028, "bandwidth_gbps": 600, "fp8": False,
        "weight_dtypes": _AMPERE_W, "kv_dtypes": _KV_NO_FP8,
        "aliases": ["A10-24G"],
        "pci": {"0x2236": "NVIDIA A10"},
    },
    {
        # https://www.nvidia.com/en-us/data-center/v100/ (V100 SXM2/PCIe 32 GB HBM2, 900 GB/s); nvidia-smi table:
        # "Tesla V100-SXM2... 308MiB / 32768MiB" (https://github.com/Wan-Video/Wan2.1/issues/5, driver 525).
        # Volta (7.0): no BF16 and no FP8, and vLLM's FP8 Marlin needs Ampere, so neither is a weight dtype here.
        # pci.ids 0x1db5: GV100GL [Tesla V100 SXM2 32GB]; 0x1db6: GV100GL [Tesla V100 PCIe 32GB].
        "name": "V100-32G", "vendor": "nvidia", "architecture": "volta", "compute_capability": "7.0",
        "memory_mib": 32768, "bandwidth_gbps": 900, "fp8": False,
        "weight_dtypes": ["fp16", "int8", "awq", "gptq", "gguf"], "kv_dtypes": ["fp16"],
        "aliases": ["V100-SXM2-32GB", "V100-PCIE-32GB", "Tesla V100 32GB"],
        "pci": {"0x1db5": "Tesla V100-SXM2-32GB", "0x1db6": "Tesla V100-PCIE-32GB"},
    },
    {
        # https://www.amd.com/en/products/accelerators/instinct/mi300/mi325x.html (256 GB HBM3E, 6 TB/s). DATASHEET
        # figure, not an rocm-smi total (none found): 256 GiB = 262144 MiB; MI300X's rocm-smi total sits 0.16 %
        # below its datasheet 192 GiB, so this is that much optimistic. gfx942 (CDNA3), FP8 as MI300X.
        # pci.ids 0x74a5: Aqua Vanjaram [Instinct MI325X].
        "name": "MI325X", "vendor": "amd", "architecture": "cdna3", "compute_capability": "gfx942",
        "memory_mib": 262144, "bandwidth_gbps": 6000, "fp8": True,
        "weight_dtypes": ["bf16", "fp16", "fp8", "int8", "awq", "gptq", "gguf"], "kv_dtypes": _KV_FP8,
        "aliases": ["MI325X-256G", "Instinct MI325X", "AMD Instinct MI325X OAM"],
        "memory_note": ("MI325X memory is the datasheet's 256 GiB, not an rocm-smi total (none was found to cite); "
                        "MI300X's rocm-smi total is 0.16 % below its datasheet figure: check rocm-smi --showmeminfo vram"),
        "pci": {"0x74a5": "AMD Instinct MI325X"},
    },
    {
        # https://www.amd.com/en/products/accelerators/instinct/mi350/mi355x.html (288 GB HBM3E, 8 TB/s). DATASHEET
        # figure, not an rocm-smi total (none found): 288 GiB = 294912 MiB (see MI325X). gfx950 (CDNA4) has FP8 and
        # MXFP4 matrix cores (AMD CDNA4 ISA / MI355X page: "MXFP4"; FP6 is not a catalogue quant). pci.ids 0x75a3: Aqua Vanjaram [Instinct MI355X].
        "name": "MI355X", "vendor": "amd", "architecture": "cdna4", "compute_capability": "gfx950",
        "memory_mib": 294912, "bandwidth_gbps": 8000, "fp8": True,
        "weight_dtypes": ["bf16", "fp16", "fp8", "int8", "awq", "gptq", "gguf", "mxfp4"], "kv_dtypes": _KV_FP8,
        "aliases": ["MI355X-288G", "Instinct MI355X", "AMD Instinct MI355X OAM"],
        "memory_note": ("MI355X memory is the datasheet's 288 GiB, not an rocm-smi total (none was found to cite); "
                        "MI300X's rocm-smi total is 0.16 % below its datasheet figure: check rocm-smi --showmeminfo vram"),
        "pci": {"0x75a3": "AMD Instinct MI355X"},
    },
]

# ---------------------------------------------------------------------------
# Quantisation formats: bits per quantised weight, scales included.
# ---------------------------------------------------------------------------
# kind: "float" (no quantisation), "gpu" (embeddings, output head, norms and router stay 16-bit),
#       "gguf" (llama.cpp quantises every matrix, embeddings and head included; norms stay F32).
QUANTS = {
    # 16-bit floats.
    "bf16": {"bits": 16.0, "kind": "float", "label": "BF16"},
    "fp16": {"bits": 16.0, "kind": "float", "label": "FP16"},
    # FP8 e4m3 with one FP32 scale per 128x128 block, the DeepSeek-V3 checkpoint layout:
    # https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json (weight_block_size [128, 128]).
    "fp8": {"bits": 8.0 + 32.0 / (128 * 128), "kind": "gpu", "label": "FP8 (e4m3, 128x128 block scales)"},
    # INT8 W8A8 with one FP32 scale per output channel (counted as 32 bits per `hidden_size` weights).
    "int8": {"bits": 8.0, "per_channel_scale_bits": 32.0, "kind": "gpu", "label": "INT8 (per-channel scales)"},
    # AWQ / GPTQ 4-bit, group size 128: FP16 scale + packed 4-bit zero point per group = 4 + 20/128 bits.
    # https://github.com/casper-hansen/AutoAWQ (q_group_size 128, w_bit 4); https://github.com/AutoGPTQ/AutoGPTQ
    "awq": {"bits": 4.0 + 20.0 / 128, "kind": "gpu", "label": "AWQ 4-bit g128"},
    "gptq": {"bits": 4.0 + 20.0 / 128, "kind": "gpu", "label": "GPTQ 4-bit g128"},
    # GGUF k-quants: effective bits per weight of the whole file (k-quant mix, embeddings and head included), as
    # published in llama.cpp's https://github.com/ggml-org/llama.cpp/blob/master/tools/quantize/README.md
    # ("Quantization" table, Llama-3.1-8B, bits/weight): Q8_0 8.5008, Q6_K 6.5633, Q5_K_M 5.7036, Q4_K_M 4.8944,
    # Q2_K 3.1593. That table has no Q3_K_M row (only Q3_K_S 3.6429, Q3_K_L 4.2979), so the earlier 3.91, which
    # lies between them, stays; no current llama.cpp file states it.
    "q8_0": {"bits": 8.50, "kind": "gguf", "label": "GGUF Q8_0"},
    "q6_k": {"bits": 6.56, "kind": "gguf", "label": "GGUF Q6_K"},
    "q5_k_m": {"bits": 5.70, "kind": "gguf", "label": "GGUF Q5_K_M"},
    "q4_k_m": {"bits": 4.89, "kind": "gguf", "label": "GGUF Q4_K_M"},
    "q3_k_m": {"bits": 3.91, "kind": "gguf", "label": "GGUF Q3_K_M"},
    "q2_k": {"bits": 3.16, "kind": "gguf", "label": "GGUF Q2_K"},
    # GGUF i-quants: bits per weight of the type itself, from llama.cpp's QUANT_OPTIONS table
    # https://github.com/ggml-org/llama.cpp/blob/master/tools/quantize/quantize.cpp ("IQ1_S 1.56 bpw", "IQ1_M 1.75 bpw",
    # "IQ2_XXS 2.06 bpw", "IQ2_XS 2.31 bpw", "IQ3_XXS 3.06 bpw", "IQ4_XS 4.25 bpw"). Not the README's whole-file
    # Llama-3.1-8B figures (IQ2_XXS 2.3824): there the 128k-vocabulary embeddings and head, kept at higher types,
    # are an eighth of the weights; in DeepSeek-V3/R1 the routed experts, stored at the type, are nearly all of them.
    "iq4_xs": {"bits": 4.25, "kind": "gguf", "label": "GGUF IQ4_XS"},
    "iq3_xxs": {"bits": 3.06, "kind": "gguf", "label": "GGUF IQ3_XXS"},
    "iq2_xs": {"bits": 2.31, "kind": "gguf", "label": "GGUF IQ2_XS"},
    "iq2_xxs": {"bits": 2.06, "kind": "gguf", "label": "GGUF IQ2_XXS"},
    "iq1_m": {"bits": 1.75, "kind": "gguf", "label": "GGUF IQ1_M"},
    "iq1_s": {"bits": 1.56, "kind": "gguf", "label": "GGUF IQ1_S"},
    # NVFP4: e2m1 4-bit values, one FP8 (e4m3) scale per 16 values, one FP32 scale per tensor: 4 + 8/16 = 4.5 bits
    # (the per-tensor scale is negligible). NVIDIA, "Introducing NVFP4 for Efficient and Accurate Low-Precision
    # Inference" (https://developer.nvidia.com/blog/introducing-nvfp4-for-efficient-and-accurate-low-precision-inference/);
    # ModelOpt checkpoints such as https://huggingface.co/nvidia/DeepSeek-R1-FP4 (quant_algo NVFP4, group_size 16).
    # Like FP8 checkpoints, embeddings, head, norms and router stay 16-bit.
    "nvfp4": {"bits": 4.0 + 8.0 / 16, "kind": "gpu", "label": "NVFP4 (e2m1, FP8 scale per 16)"},
    # MXFP4: e2m1 4-bit values, one E8M0 (8-bit power-of-two) scale per block of 32: 4 + 8/32 = 4.25 bits. OCP
    # Microscaling Formats (MX) v1.0, https://www.opencompute.org/documents/ocp-microscaling-formats-mx-v1-0-spec-final-pdf
    # (MXFP4: k = 32, scale E8M0, elements FP4 E2M1).
    "mxfp4": {"bits": 4.0 + 8.0 / 32, "kind": "gpu", "label": "MXFP4 (e2m1, E8M0 scale per 32)"},
    # W4A8 / W4AFP8: INT4 weights with one 16-bit scale per group of 128 (symmetric, no zero point), activations
    # quantised to FP8 at run time: 4 + 16/128 bits. SGLang's w4afp8 method (python/sglang/srt/layers/quantization/w4afp8.py,
    # group_size 128) and its cutlass W4A8 MoE kernels; community DeepSeek-R1 W4AFP8 checkpoints quantise the routed
    # experts this way and keep attention and shared experts in FP8: sizing them all at 4.125 bits under-counts those
    # (about 2 % of DeepSeek-V3/R1's weights, as FP8 instead of INT4).
    "w4a8": {"bits": 4.0 + 16.0 / 128, "kind": "gpu", "label": "W4A8 (INT4 g128 weights, FP8 activations)"},
}

# Spellings accepted for quantisation names (normalised: lower case, separators removed).
QUANT_ALIASES = {
    "bfloat16": "bf16", "float16": "fp16", "half": "fp16", "f16": "fp16",
    "fp8e4m3": "fp8", "float8": "fp8", "w8a8fp8": "fp8",
    "w8a8int8": "int8", "w8a8": "int8",
    "awq4bit": "awq", "awqmarlin": "awq", "gptq4bit": "gptq", "gptqmarlin": "gptq",
    "q80": "q8_0", "q6k": "q6_k", "q5km": "q5_k_m", "q4km": "q4_k_m", "q3km": "q3_k_m", "q2k": "q2_k",
    "iq4xs": "iq4_xs", "iq3xxs": "iq3_xxs", "iq2xs": "iq2_xs", "iq2xxs": "iq2_xxs", "iq1m": "iq1_m", "iq1s": "iq1_s",
    "modeloptfp4": "nvfp4", "nvfp4a16": "nvfp4", "fp4e2m1": "nvfp4",
    "mxfp4e2m1": "mxfp4", "mx4": "mxfp4",
    "w4afp8": "w4a8", "w4a8fp8": "w4a8", "int4fp8": "w4a8",
}

# KV-cache dtypes: bytes per element.  "auto" = the model's activation dtype (BF16 for every
# catalogue model; FP8 checkpoints compute in BF16).
KV_DTYPES = {
    "auto": 2,
    "bf16": 2,
    "fp16": 2,
    "fp8": 1,
    "fp8_e4m3": 1,
    "fp8_e5m2": 1,
}

# ---------------------------------------------------------------------------
# CUDA toolkit -> minimum Linux x86_64 driver.
# Source: CUDA Toolkit release notes, Table 3 "CUDA Toolkit and Corresponding Driver Versions"
# https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html#id5
# ---------------------------------------------------------------------------
CUDA_TOOLKIT_DRIVERS = {
    "11.0": "450.36.06",
    "11.1": "455.23",
    "11.2": "460.27.03",
    "11.3": "465.19.01",
    "11.4": "470.42.01",
    "11.5": "495.29.05",
    "11.6": "510.39.01",
    "11.7": "515.43.04",
    "11.8": "520.61.05",
    "12.0": "525.60.13",
    "12.1": "530.30.02",
    "12.2": "535.54.03",
    "12.3": "545.23.06",
    "12.4": "550.54.14",
    "12.5": "555.42.02",
    "12.6": "560.28.03",
    "12.8": "570.26",
    "12.9": "575.51.03",
    "13.0": "580.65.06",
}

# Minor version compatibility: minimum driver for a whole major release family.
# Source: https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html
# and the release notes' Table 2 (CUDA 12.x >= 525.60.13, CUDA 11.x >= 450.80.02, CUDA 13.x >= 580).
CUDA_MINOR_COMPAT_DRIVERS = {
    "11": "450.80.02",
    "12": "525.60.13",
    "13": "580",
}
