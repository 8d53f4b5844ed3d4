"""Independent reference for Primus C++'s CPU engine: a small Llama in PyTorch.

Builds a Llama (GQA, RoPE, RMSNorm, SwiGLU, untied output layer, padded
vocabulary) with plain torch ops in float64, runs one forward and backward on
fixed tokens, and writes the weights (in Megatron-Core's names and layouts),
the inputs, the loss and every gradient to tests/golden/<name>.safetensors,
plus the architecture to tests/golden/<name>.json. The C++ test loads the
weights into GPTModel and must reproduce the loss and every gradient.

Layouts follow Megatron-Core so checkpoints map 1:1:
  - linear weights are [out_features, in_features];
  - linear_qkv rows are grouped per query group: for each group, its
    (heads/groups) query heads, then its key head, then its value head;
  - linear_fc1 rows are [gate; up] and the MLP computes silu(gate) * up;
  - RoPE is Megatron's default non-interleaved form (rotate_half);
  - cross-entropy runs over the padded vocabulary, as Megatron does;
  - loss = sum(token_loss * loss_mask) / sum(loss_mask).

Regenerate (needs torch and safetensors; runs on CPU, takes seconds):
    python3 tools/reference/llama_reference.py --out tests/golden
"""
import argparse
import json
import math
import os

import torch
from safetensors.torch import save_file

CONFIG = {
    "name": "llama_small",
    "num_layers": 2,
    "hidden_size": 64,
    "ffn_hidden_size": 96,
    "num_attention_heads": 4,
    "num_query_groups": 2,
    "kv_channels": 16,
    "vocab_size": 100,
    "padded_vocab_size": 128,
    "seq_length": 16,
    "micro_batch_size": 2,
    "norm_epsilon": 1e-5,
    "rotary_base": 10000.0,
    "init_method_std": 0.05,
    "seed": 1234,
}


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(seq, dim, base):
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    freqs = torch.outer(torch.arange(seq, dtype=torch.float64), inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)  # [s, dim]: Megatron's non-interleaved layout
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x, cos, sin):  # x [b, s, heads, d]
    return x * cos[None, :, None, :] + rotate_half(x) * sin[None, :, None, :]


def forward(p, tokens, labels, loss_mask, c):
    b, s = tokens.shape
    h, nq, ng, d = c["hidden_size"], c["num_attention_heads"], c["num_query_groups"], c["kv_channels"]
    per_group = nq // ng
    x = p["embedding.word_embeddings.weight"][tokens]  # [b, s, h]
    cos, sin = rope_tables(s, d, c["rotary_base"])
    causal = torch.full((s, s), float("-inf"), dtype=torch.float64).triu(1)
    for i in range(c["num_layers"]):
        pre = f"decoder.layers.{i}."
        y = rms_norm(x, p[pre + "input_layernorm.weight"], c["norm_epsilon"])
        qkv = y @ p[pre + "self_attention.linear_qkv.weight"].T  # [b, s, ng*(per_group+2)*d]
        qkv = qkv.view(b, s, ng, per_group + 2, d)
        q = qkv[:, :, :, :per_group, :].reshape(b, s, nq, d)
        k = qkv[:, :, :, per_group, :]  # [b, s, ng, d]
        v = qkv[:, :, :, per_group + 1, :]
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        k = k.repeat_interleave(per_group, dim=2)  # query head j uses group j // per_group
        v = v.repeat_interleave(per_group, dim=2)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d) + causal
        attn = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v).reshape(b, s, nq * d)
        x = x + attn @ p[pre + "self_attention.linear_proj.weight"].T
        y = rms_norm(x, p[pre + "pre_mlp_layernorm.weight"], c["norm_epsilon"])
        gate, up = (y @ p[pre + "mlp.linear_fc1.weight"].T).chunk(2, dim=-1)
        x = x + (torch.nn.functional.silu(gate) * up) @ p[pre + "mlp.linear_fc2.weight"].T
    x = rms_norm(x, p["decoder.final_layernorm.weight"], c["norm_epsilon"])
    logits = x @ p["output_layer.weight"].T  # [b, s, padded_vocab]
    token_loss = torch.nn.functional.cross_entropy(
        logits.reshape(b * s, -1), labels.reshape(-1), reduction="none")
    mask = loss_mask.reshape(-1)
    return (token_loss * mask).sum() / mask.sum()


def make_parameters(c, gen):
    h, ffn, nq, ng, d = (c["hidden_size"], c["ffn_hidden_size"], c["num_attention_heads"],
                         c["num_query_groups"], c["kv_channels"])
    v = c["padded_vocab_size"]
    std = c["init_method_std"]

    def normal(*shape, scale=1.0):
        return torch.randn(*shape, generator=gen, dtype=torch.float64) * std * scale

    def norm_weight():  # not 1: a reference that never exercises the norm weight would hide bugs
        return 1.0 + 0.1 * torch.randn(h, generator=gen, dtype=torch.float64)

    p = {"embedding.word_embeddings.weight": normal(v, h)}
    for i in range(c["num_layers"]):
        pre = f"decoder.layers.{i}."
        p[pre + "input_layernorm.weight"] = norm_weight()
        p[pre + "self_attention.linear_qkv.weight"] = normal((nq + 2 * ng) * d, h)
        p[pre + "self_attention.linear_proj.weight"] = normal(h, nq * d)
        p[pre + "pre_mlp_layernorm.weight"] = norm_weight()
        p[pre + "mlp.linear_fc1.weight"] = normal(2 * ffn, h)
        p[pre + "mlp.linear_fc2.weight"] = normal(h, ffn)
    p["decoder.final_layernorm.weight"] = norm_weight()
    p["output_layer.weight"] = normal(v, h)
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/golden")
    args = ap.parse_args()
    c = CONFIG
    gen = torch.Generator().manual_seed(c["seed"])
    params = make_parameters(c, gen)
    b, s = c["micro_batch_size"], c["seq_length"]
    tokens = torch.randint(0, c["vocab_size"], (b, s), generator=gen)
    labels = torch.randint(0, c["vocab_size"], (b, s), generator=gen)
    loss_mask = (torch.rand(b, s, generator=gen, dtype=torch.float64) > 0.2).to(torch.float64)
    for t in params.values():
        t.requires_grad_(True)
    loss = forward(params, tokens, labels, loss_mask, c)
    loss.backward()

    out = {name: t.detach().float().contiguous() for name, t in params.items()}
    out.update({"grad." + name: t.grad.float().contiguous() for name, t in params.items()})
    out["input.tokens"] = tokens.to(torch.int32).contiguous()
    out["input.labels"] = labels.to(torch.int32).contiguous()
    out["input.loss_mask"] = loss_mask.float().contiguous()
    out["loss"] = loss.detach().float().reshape(1)
    os.makedirs(args.out, exist_ok=True)
    save_file(out, os.path.join(args.out, c["name"] + ".safetensors"),
              metadata={"generator": "tools/reference/llama_reference.py", "torch": torch.__version__})
    with open(os.path.join(args.out, c["name"] + ".json"), "w") as f:
        json.dump({**c, "loss": loss.item(), "torch": torch.__version__}, f, indent=2)
    print(f"loss {loss.item():.10f}; wrote {len(out)} tensors to {args.out}")


if __name__ == "__main__":
    main()
