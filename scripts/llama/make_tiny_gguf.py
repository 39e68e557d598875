#!/usr/bin/env python3
"""Write a tiny llama-architecture GGUF model with random weights, for tests only.

usage: make_tiny_gguf.py OUT.gguf [--seed N]

2 layers, hidden 64, 4 heads (2 KV heads), an SPM-style vocabulary of control tokens, the 256
byte-fallback tokens and a few dozen word pieces, and a chat template, so that llama.cpp loads it,
tokenizes any UTF-8 text and generates (nonsense) tokens. Needs the `gguf` PyPI package (and numpy).
"""

import argparse
import string

import numpy as np
import gguf

HIDDEN = 64
LAYERS = 2
HEADS = 4
KV_HEADS = 2
FFN = 128
CONTEXT = 512
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def vocabulary():
    """Tokens, scores and types: <unk> <s> </s>, byte tokens, then word pieces (SPM convention)."""
    tokens = [("<unk>", 0.0, gguf.TokenType.UNKNOWN), ("<s>", 0.0, gguf.TokenType.CONTROL),
              ("</s>", 0.0, gguf.TokenType.CONTROL)]
    tokens += [("<0x%02X>" % b, 0.0, gguf.TokenType.BYTE) for b in range(256)]
    pieces = ["\u2581"] + ["\u2581" + c for c in string.ascii_lowercase] + list(string.ascii_letters + string.digits)
    pieces += ["\u2581hello", "\u2581world", "\u2581the", "\u2581deep", "\u2581seek"]
    tokens += [(p, -float(i), gguf.TokenType.NORMAL) for i, p in enumerate(pieces)]
    return tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    vocab = vocabulary()
    head_dim = HIDDEN // HEADS

    writer = gguf.GGUFWriter(args.out, "llama")
    writer.add_name("onprem-deepseek-tiny-test")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(vocab))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list([t for t, _, _ in vocab])
    writer.add_token_scores([s for _, s, _ in vocab])
    writer.add_token_types([int(k) for _, _, k in vocab])
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    def weight(*shape):
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    kv_dim = head_dim * KV_HEADS
    writer.add_tensor("token_embd.weight", weight(len(vocab), HIDDEN))
    for layer in range(LAYERS):
        prefix = "blk.%d." % layer
        writer.add_tensor(prefix + "attn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        writer.add_tensor(prefix + "attn_q.weight", weight(HIDDEN, HIDDEN))
        writer.add_tensor(prefix + "attn_k.weight", weight(kv_dim, HIDDEN))
        writer.add_tensor(prefix + "attn_v.weight", weight(kv_dim, HIDDEN))
        writer.add_tensor(prefix + "attn_output.weight", weight(HIDDEN, HIDDEN))
        writer.add_tensor(prefix + "ffn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        writer.add_tensor(prefix + "ffn_gate.weight", weight(FFN, HIDDEN))
        writer.add_tensor(prefix + "ffn_up.weight", weight(FFN, HIDDEN))
        writer.add_tensor(prefix + "ffn_down.weight", weight(HIDDEN, FFN))
    writer.add_tensor("output_norm.weight", np.ones(HIDDEN, dtype=np.float32))
    writer.add_tensor("output.weight", weight(len(vocab), HIDDEN))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
