#!/usr/bin/env python3
# Writes test/fixtures/gpt2-tiny/: a tiny random GPT-2 in Hugging Face format (config.json +
# model.safetensors with `transformer.`-prefixed keys and the causal-mask buffers HF used to store)
# and expected.json: logits at a few positions, the mean next-token loss and per-layer hidden-state
# norms, computed in float64 by an independent PyTorch implementation of GPT-2 written from the
# equations (no `transformers` needed). Run: /usr/bin/python3 scripts/make-gpt2-fixture.py
import json
import math
import os
import struct

import torch

L, H, C, V, T, B = 2, 2, 16, 64, 32, 2
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "gpt2-tiny")

g = torch.Generator().manual_seed(20240531)


def rnd(*shape, std=1.0, mean=0.0):
    """float32 weights, as a real checkpoint would hold them."""
    return (mean + std * torch.randn(*shape, generator=g, dtype=torch.float64)).to(torch.float32)


# Hugging Face GPT-2 names; Conv1D weights are [in, out].
w = {"wte.weight": rnd(V, C, std=0.5), "wpe.weight": rnd(T, C, std=0.3)}
for l in range(L):
    p = f"h.{l}."
    w[p + "ln_1.weight"] = rnd(C, std=0.2, mean=1.0)
    w[p + "ln_1.bias"] = rnd(C, std=0.1)
    w[p + "attn.c_attn.weight"] = rnd(C, 3 * C, std=0.3)
    w[p + "attn.c_attn.bias"] = rnd(3 * C, std=0.1)
    w[p + "attn.c_proj.weight"] = rnd(C, C, std=0.3)
    w[p + "attn.c_proj.bias"] = rnd(C, std=0.1)
    w[p + "ln_2.weight"] = rnd(C, std=0.2, mean=1.0)
    w[p + "ln_2.bias"] = rnd(C, std=0.1)
    w[p + "mlp.c_fc.weight"] = rnd(C, 4 * C, std=0.3)
    w[p + "mlp.c_fc.bias"] = rnd(4 * C, std=0.1)
    w[p + "mlp.c_proj.weight"] = rnd(4 * C, C, std=0.2)
    w[p + "mlp.c_proj.bias"] = rnd(C, std=0.1)
w["ln_f.weight"] = rnd(C, std=0.2, mean=1.0)
w["ln_f.bias"] = rnd(C, std=0.1)

seq = torch.randint(0, V, (B, T + 1), generator=g)
x, y = seq[:, :T], seq[:, 1:]


def ln(h, wt, bs, eps=1e-5):
    mu = h.mean(-1, keepdim=True)
    var = ((h - mu) ** 2).mean(-1, keepdim=True)
    return (h - mu) / torch.sqrt(var + eps) * wt + bs


def gelu_new(u):
    return 0.5 * u * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (u + 0.044715 * u ** 3)))


d = {k: v.to(torch.float64) for k, v in w.items()}
h = d["wte.weight"][x] + d["wpe.weight"][torch.arange(T)]  # [B, T, C]
hs = [h]
D = C // H
mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
for l in range(L):
    p = f"h.{l}."
    a_in = ln(h, d[p + "ln_1.weight"], d[p + "ln_1.bias"])
    qkv = a_in @ d[p + "attn.c_attn.weight"] + d[p + "attn.c_attn.bias"]  # [B, T, 3C]
    q, k, v = qkv.split(C, dim=2)
    q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v))  # [B, H, T, D]
    s = (q @ k.transpose(-2, -1)) / math.sqrt(D)
    s = s.masked_fill(~mask, float("-inf"))
    att = torch.softmax(s, dim=-1) @ v  # [B, H, T, D]
    att = att.transpose(1, 2).reshape(B, T, C)
    m = h + att @ d[p + "attn.c_proj.weight"] + d[p + "attn.c_proj.bias"]
    f_in = ln(m, d[p + "ln_2.weight"], d[p + "ln_2.bias"])
    f = gelu_new(f_in @ d[p + "mlp.c_fc.weight"] + d[p + "mlp.c_fc.bias"]) @ d[p + "mlp.c_proj.weight"] + d[p + "mlp.c_proj.bias"]
    h = m + f
    hs.append(h)
z = ln(h, d["ln_f.weight"], d["ln_f.bias"])
logits = z @ d["wte.weight"].T  # [B, T, V], lm_head tied to wte
loss = torch.nn.functional.cross_entropy(logits.reshape(B * T, V), y.reshape(B * T))

positions = [[0, 0], [0, 7], [1, 19], [1, T - 1]]
expected = {
    "description": "float64 PyTorch reference of GPT-2 from the equations (scripts/make-gpt2-fixture.py)",
    "torch": torch.__version__,
    "x": x.tolist(),
    "y": y.tolist(),
    "loss": loss.item(),
    "positions": positions,
    "logits": [logits[b, t].tolist() for b, t in positions],
    "hiddenNormMean": [hh.norm(dim=-1).mean().item() for hh in hs],  # mean over (b, t) of ||h^l||, l = 0..L
    "hiddenNorms0": [hh[0].norm(dim=-1).tolist() for hh in hs],  # ||h^l_t|| of sequence 0
}

config = {
    "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
    "n_layer": L, "n_head": H, "n_embd": C, "n_positions": T, "n_ctx": T, "vocab_size": V,
    "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True, "n_inner": None,
}

# safetensors by hand: u64 header length, JSON header, raw little-endian data.
tensors = {f"transformer.{k}": v for k, v in w.items()}
for l in range(L):  # the causal-mask buffers older HF checkpoints carry; loaders must skip them
    tensors[f"transformer.h.{l}.attn.bias"] = torch.tril(torch.ones(1, 1, T, T, dtype=torch.float32))
header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
for name in sorted(tensors):
    raw = tensors[name].contiguous().numpy().astype("<f4").tobytes()
    header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(raw)]}
    blobs.append(raw)
    off += len(raw)
hb = json.dumps(header, separators=(",", ":")).encode()
hb += b" " * ((8 - len(hb) % 8) % 8)

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "model.safetensors"), "wb") as fh:
    fh.write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
with open(os.path.join(OUT, "config.json"), "w") as fh:
    json.dump(config, fh, indent=2)
with open(os.path.join(OUT, "expected.json"), "w") as fh:
    json.dump(expected, fh)
print(f"wrote {OUT}: loss {loss.item():.6f}, hidden norms {expected['hiddenNormMean']}")
