"""The same GPT training step in PyTorch on the CPU, for the bench's side-by-side row (what a CPU
user would pick). Optional: the bench runs it only when `python3 -c "import torch"` works; torch is
never a dependency of this project.

The model matches src/nn/gpt.ts: pre-LN GPT-2 blocks (fused qkv, causal softmax attention, tanh
GELU MLP of width 4C), learned positions, tied embeddings, final LayerNorm, mean next-token
cross-entropy; AdamW (betas 0.9/0.95, eps 1e-8, weight decay 0.1 on linear weights), global
gradient-norm clipping at 1. f32, the threads torch picks for this machine (all cores).

usage: python3 bench/peers/torch_gpt_step.py L H C B T V [steps]
prints one JSON line: {"msMedian", "msMin", "msFirst", "threads", "torch"}
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C: int, H: int):
        super().__init__()
        self.H = H
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        shape = (B, T, self.H, C // self.H)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
        y = causal_attention(q, k, v)
        x = x + self.c_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """PyTorch's fused attention (2.0+), or the same computation spelled out on 1.x (Debian's)."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[-2]
    s = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    return F.softmax(s, dim=-1) @ v


class GPT(nn.Module):
    def __init__(self, L: int, H: int, C: int, T: int, V: int):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block(C, H) for _ in range(L))
        self.ln_f = nn.LayerNorm(C, eps=1e-5)
        for name, p in self.named_parameters():
            if name.endswith("weight") and p.dim() == 2:
                std = 0.02 / math.sqrt(2 * L) if name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        h = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            h = b(h)
        logits = self.ln_f(h) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(B * T, -1), targets.view(B * T))


def main() -> None:
    L, H, C, B, T, V = (int(a) for a in sys.argv[1:7])
    steps = int(sys.argv[7]) if len(sys.argv) > 7 else 6
    torch.manual_seed(0)
    model = GPT(L, H, C, T, V)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and n != "wpe.weight" and n != "wte.weight"]
    rest = [p for n, p in model.named_parameters() if not (p.dim() == 2 and n != "wpe.weight" and n != "wte.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(5)
    x = torch.randint(0, V, (B, T), generator=g)
    y = torch.roll(x, -1)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        float(loss.detach())
        times.append((time.perf_counter() - t0) * 1000)
    warm = sorted(times[1:])
    print(json.dumps({"msMedian": warm[len(warm) // 2], "msMin": warm[0], "msFirst": times[0],
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
