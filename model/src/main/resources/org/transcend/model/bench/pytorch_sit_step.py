"""The SiT-core training step of TrainingStepBenchmark in PyTorch, timed on the same machine in the same run.

The network is REPA's SiT (adaLN-Zero blocks, fixed sin-cos position embedding, GELU-tanh MLP) with a
3-layer projector on block 2 regressing a fixed zero target, AdamW, gradient clipping at 1.0 and an EMA
update: the work of one transcend training step. Prints one line: `pytorch <version> ms/step <median> ...`.
"""
import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Block(nn.Module):
    def __init__(self, d, heads, mlp_ratio=4.0):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.fc1 = nn.Linear(d, int(d * mlp_ratio))
        self.fc2 = nn.Linear(int(d * mlp_ratio), d)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))

    def attention(self, x):
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        p = (q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5
        o = p.softmax(dim=-1) @ v
        return self.proj(o.transpose(1, 2).reshape(n, t, d))

    def forward(self, x, c):
        s1, sc1, g1, s2, sc2, g2 = self.ada(c).chunk(6, dim=1)
        x = x + g1.unsqueeze(1) * self.attention(modulate(self.norm1(x), s1, sc1))
        return x + g2.unsqueeze(1) * self.fc2(F.gelu(self.fc1(modulate(self.norm2(x), s2, sc2)), approximate="tanh"))


class SiT(nn.Module):
    def __init__(self, latent, channels, patch, d, depth, heads, classes, projector_hidden, projector_block):
        super().__init__()
        self.patch, self.channels, self.projector_block = patch, channels, projector_block
        grid = latent // patch
        self.x_embedder = nn.Conv2d(channels, d, patch, patch)
        self.register_buffer("pos_embed", torch.randn(1, grid * grid, d) * 0.02)
        self.t_mlp = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))
        self.y_embedder = nn.Embedding(classes + 1, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(depth))
        self.final_ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.final_norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.final_linear = nn.Linear(d, patch * patch * channels)
        self.projector = nn.Sequential(nn.Linear(d, projector_hidden), nn.SiLU(),
                                       nn.Linear(projector_hidden, projector_hidden), nn.SiLU(),
                                       nn.Linear(projector_hidden, d))

    def timestep(self, t):
        half = 128
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        args = t[:, None] * freqs[None]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def forward(self, x, t, y):
        n, _, h, _ = x.shape
        tokens = self.x_embedder(x).flatten(2).transpose(1, 2) + self.pos_embed
        c = self.t_mlp(self.timestep(t)) + self.y_embedder(y)
        z = None
        for i, block in enumerate(self.blocks):
            tokens = block(tokens, c)
            if i + 1 == self.projector_block:
                z = self.projector(tokens)
        shift, scale = self.final_ada(c).chunk(2, dim=1)
        out = self.final_linear(modulate(self.final_norm(tokens), shift, scale))
        g, p = h // self.patch, self.patch
        out = out.reshape(n, g, g, p, p, self.channels).permute(0, 5, 1, 3, 2, 4).reshape(n, self.channels, h, h)
        return out, z


def blas_library():
    """The BLAS library this process loaded, resolved through links, or "none loaded" (a torch with its BLAS built in).

    Debian's python3-torch takes whatever libblas.so.3 the alternatives system points at; on a machine with only
    libblas3 installed that is the unoptimised reference BLAS, ~30x slower on this step than OpenBLAS.
    """
    import os
    paths = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            name = os.path.basename(path)
            if "blas" in name or name.startswith("libmkl_rt"):
                paths.add(os.path.realpath(path))
    return ", ".join(sorted(paths)) or "none loaded"


def main():
    ap = argparse.ArgumentParser()
    for name, default in [("hidden", 256), ("depth", 6), ("heads", 4), ("latent", 16), ("channels", 4), ("patch", 2),
                          ("batch", 64), ("projector-hidden", 2048), ("steps", 5), ("threads", 2)]:
        ap.add_argument("--" + name, type=int, default=default)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = SiT(a.latent, a.channels, a.patch, a.hidden, a.depth, a.heads, 10, a.projector_hidden, 2)
    ema = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    x0 = torch.randn(a.batch, a.channels, a.latent, a.latent)
    target = torch.zeros(a.batch, (a.latent // a.patch) ** 2, a.hidden)

    def step():
        t = torch.rand(a.batch)
        eps = torch.randn_like(x0)
        xt = (1 - t)[:, None, None, None] * x0 + t[:, None, None, None] * eps
        y = torch.randint(0, 11, (a.batch,))
        out, z = model(xt, t, y)
        loss = F.mse_loss(out, eps - x0) + 0.5 * F.mse_loss(z, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            torch._foreach_mul_(ema, 0.9999)
            torch._foreach_add_(ema, [p.detach() for p in model.parameters()], alpha=1 - 0.9999)

    step()  # warm-up
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    print("pytorch %s ms/step %.1f threads %d all %s" % (torch.__version__, statistics.median(times), torch.get_num_threads(),
                                                         [round(v) for v in times]))
    print("blas %s" % blas_library())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
