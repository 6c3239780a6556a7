#!/usr/bin/python3
"""Writes the PyTorch reference fixtures (tests/fixtures/*.bin) that the C++ tests
tests/test_reference_*.cpp must match. The script is the source of truth; the fixtures are committed
because CI has no PyTorch. Run it with Debian's python3 (python3-torch, torch 1.13 CPU):

    /usr/bin/python3 data_scripts/make_reference.py [--out tests/fixtures]

Everything is seeded and computed single-threaded, so a rerun writes the same bytes.

File format (little-endian), also documented in tests/fixture.hpp, which reads it:
    8 bytes   magic "GCCFIX\\0\\0"
    uint32    version (= 1)
    uint32    number of tensors
    per tensor:
        uint32          name length in bytes
        bytes           name (UTF-8, no terminator)
        uint32          ndim (0..4; 0 = a scalar with one element)
        int64[ndim]     dims
        float32[prod]   data, row-major
Integer data (class ids, neighbour indices, counts, masks) is stored as float32, exact below 2^24.

How the references are computed
- Networks and losses are written here from SPEC.md (§2, §4, §5) with plain torch ops, not imported
  from the release; the losses follow SPEC §4 literally (explicit exp/sum/log in float64, no fused
  log-sum-exp), so the fixtures check the C++ formulas against the specification's wording.
- Inputs and weights are drawn in float32 and stored; the reference then converts them to float64 and
  computes everything in float64, so every stored output is the exact answer for the stored float32
  inputs rounded once to float32. The C++ float32 error is then measured against the truth, not
  against another float32 implementation's rounding.

Why the networks are narrow (base width, i.e. the stage widths base, 2x, 4x, 8x)
- Full-width ResNet-18 has 11M parameters (45 MB per copy of the weights): far too big to commit.
- resnet18-cifar (fixture a) uses base width 16 (stages 16-32-64-128, feature 128, heads
  Linear(128,128)-ReLU-Linear(128,128) and Linear(128,K)): the code path is identical to width 64.
  Even so one copy of its weights is 2.9 MB, and it stores two (weights and gradients).
- resnet18-stl (fixture a) and the phase-2 training step (fixture c) use base width 4 (stages
  4-8-16-32, feature 32): at width 16 the three model fixtures would need ~12.5 MB (four 2.9 MB
  copies of the weights), at width 8 9.9 MB, above the ~8 MB budget for committed fixtures; at width 4
  all fixtures together take ~7.6 MB. Width 4 also makes the feature dimension (32) differ from the
  embedding dimension (128), so a transposed head weight would be caught, which width 16 (128 = 128)
  cannot catch.
- BatchNorm affine parameters and running statistics are set to random values (not SPEC's 1/0/0/1
  initialisation) so that eval mode and the affine transform are really exercised.

ReLU kinks (network fixtures): an input of a ReLU within float32 rounding of 0 may fall on the other
side of the kink in float32 than in float64, and then every gradient upstream differs (one such input
of 3e-7 made correct C++ gradients of layer1 differ by 20-40% from the reference). So, for each network
fixture, the BN (and contrastive-head) bias that feeds each ReLU is shifted per channel by at most
0.02 to put 0 in the middle of the widest gap between that channel's train-mode inputs
(center_relu_inputs), and the first seed whose inputs then stay RELU_MARGIN (3e-5) of each ReLU's
largest input away from 0, and whose max-pool windows have their two largest inputs POOL_MARGIN (3e-6)
apart, is used (search_seed). The C++ forward pass is within ~1.3e-6 of each intermediate tensor's
largest magnitude, so no ReLU or max-pool can decide differently. meta.seed, meta.relu_margin and
meta.pool_margin (-1: no max-pool) record what was found.

Tolerances: `--f32-report` runs the network fixtures through PyTorch's own float32 path and prints
its distance to the float64 reference with the metric of tests/fixture.hpp; the C++ tests use
|a - e| <= 1e-4 · max(|e|, 0.1 · max|e|) for network outputs, gradients, statistics and updated
weights, where PyTorch's float32 path stays below 3e-5 (it reaches 1.2e-3 with a floor of 1e-3).

Fixtures
  model_resnet18_cifar.bin  (a) End2EndModel(resnet18-cifar, width 16, K=10), batch 4 at 32x32
  model_resnet18_stl.bin    (a) End2EndModel(resnet18-stl, width 4, K=10), batch 4 at 96x96
        meta.*         base_width, num_clusters, in_channels, image_size, stl (1/0), seed,
                       relu_margin, pool_margin (see "ReLU kinks")
        w.<name>       the full state_dict before anything runs (num_batches_tracked as float)
        input          [4, 3, S, S]
        eval.embedding, eval.logits      eval mode (running statistics), run first
        train.embedding, train.logits    train mode, run second (updates running statistics)
        R1 [4, 128], R2 [4, K]; train.scalar = sum(emb*R1) + sum(logits*R2) of the train pass
        grad.<param>   d train.scalar / d param for every parameter
        after.<buffer> every buffer after the train pass (running_mean/var, num_batches_tracked)
  rgc.bin  (b) RGC phase 1 (b=8, D=16, tau 0.1), phase 1 with tau 0.01 (exp(100) would overflow a
        naive float32 implementation), phase 2 (three neighbour blocks, weights in [0.5, 1.2]):
        <case>.z, .z2, (.v0 .v1 .v2 .w [3, b]), .tau, .loss, .grad_z, .grad_z2, (.grad_v0 ...)
  agc.bin  (b) AGC, b=8, K=5, entropy weight 2: cases "agc" (random), "agc_empty" (cluster 3 has
        logits -1000 in every row of x: its mass o_3 is exactly 0 in float32 and float64, the release
        would give NaN; stored is the value with 0·log 0 := 0) and "agc_saturated" (rows one-hot
        x100: o_3 ≈ 4e-44, a float32 denormal): <case>.logits_x, .logits_u, .total, .consistency,
        .entropy, .grad_x, .grad_u  (gradients of total)
  confidence_ce.bin  (b) SPEC §5, threshold 0.98, N=12, K=4, rows either clearly above (> 0.995) or
        clearly below (< 0.95) the threshold: <case>.weak, .strong, .targets, .mask, .loss,
        .grad_strong for cases "balanced" and "unbalanced"
  train_step_phase2.bin  (c) one phase-2 step of End2EndModel(resnet18-cifar, width 4, K=5), b=4:
        five forward passes in this order, BatchNorm in train mode on each pass alone:
        [x; x2] (2b), v0, v1, v2, u (b each) — six images per sample, as SPEC §4;
        z, z2 = embeddings of the [x; x2] pass; logits_x = its first b logit rows;
        loss = 2·RGC_phase2(z, z2, emb(v0..v2), w_nb, tau 0.1) + AGC(logits_x, logits(u), λ=2);
        SGD(lr 0.4, momentum 0.9, weight decay 1e-4, no Nesterov) step.
        meta.*, w.<name> (initial state), x, x2, v0, v1, v2, u [4, 3, 32, 32], w_nb [3, 4],
        loss, rgc, agc, agc_consistency, agc_entropy, new.<name> (state after the step)
  knn.bin  (d) 500 vectors of 32 dims, normalised then rounded to multiples of 2^-8, so that every
        inner product is exact in float32 whatever the summation order: the C++ ordering must then
        match exactly. Rows {37, 38, 120, 300, 499} are copies of one vector and rows
        {10, 11, 200, 201, 202, 350, 460} copies of another (7 copies > k = 6), so ties are real.
        Tie rule: equal scores rank the smaller index first (so row 120's list starts with 37, and
        row 460 is in no list of its group, not even its own). features [500, 32], index [500, 6],
        score [500, 6], degree [500], weight [500] (w = sqrt(3/d), d = |N_i ∪ {j : i ∈ N_j}|)
  optim.bin  (e) y = (x W1ᵀ + b1) W2ᵀ + b2, loss = mean((y - Y)²) on fixed X [8, 3], Y [8, 2];
        W1 [4, 3], b1 [4], W2 [2, 4], b2 [2]. 10 steps of SGD (lr 0.1, momentum 0.9, wd 1e-4) and,
        from the same start, 10 steps of Adam (lr 1e-2, betas 0.9/0.999, eps 1e-8, wd 1e-4):
        X, Y, init.<p>, sgd.<p> [10, ...] (after each step), sgd.loss [10] (before each step),
        adam.<p>, adam.loss; cosine.epoch [4] = 0, 1, 500, 999 and cosine.lr = cosine_lr(0.4, e, 1000)
"""
import argparse
import copy
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MAGIC = b"GCCFIX\0\0"
VERSION = 1

CIFAR_WIDTH = 16   # fixture (a), resnet18-cifar
SMALL_WIDTH = 4    # fixture (a) resnet18-stl and fixture (c); see the docstring for why
EMBED_DIM = 128
TAU = 0.1
ENTROPY_WEIGHT = 2.0


# ---------------------------------------------------------------------------------------------------
# Writer
class Fixture:
    def __init__(self):
        self.items = []
        self.names = set()

    def add(self, name, value, integer=False):
        assert name not in self.names, f"duplicate tensor name {name}"
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            if value.dtype in (torch.int64, torch.int32, torch.bool, torch.uint8):
                integer = True
            value = value.double().numpy()
        a = np.asarray(value, dtype=np.float64)
        if integer:
            assert np.all(np.abs(a) < 2 ** 24) and np.all(a == np.round(a)), f"{name}: not small integers"
        assert a.ndim <= 4, f"{name}: {a.ndim} dims, the C++ Tensor holds at most 4"
        self.names.add(name)
        self.items.append((name, a.astype("<f4", order="C")))  # (np.ascontiguousarray would make 0-d 1-d)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(MAGIC)
            f.write(struct.pack("<II", VERSION, len(self.items)))
            for name, a in self.items:
                nb = name.encode("utf-8")
                f.write(struct.pack("<I", len(nb)))
                f.write(nb)
                f.write(struct.pack("<I", a.ndim))
                if a.ndim:
                    f.write(struct.pack("<%dq" % a.ndim, *a.shape))
                f.write(a.tobytes())
        return os.path.getsize(path)


# The reference computes in float64. --f32-report reruns the network fixtures in float32 (DTYPE) to
# show how far PyTorch's own float32 path is from the float64 truth, which justifies the C++ tolerances.
DTYPE = torch.float64


def f32(t):
    """Round to float32 (the stored value) and return it in the compute dtype (float64)."""
    return t.float().to(DTYPE)


# ---------------------------------------------------------------------------------------------------
# Networks (SPEC §2), named as the release names them
PROBE = None  # a list while kink margins are measured: every ReLU and max-pool input is appended


def relu(t):
    if PROBE is not None:
        PROBE.append(("relu", t.detach()))
    return F.relu(t)


def max_pool(t):
    if PROBE is not None:
        PROBE.append(("maxpool", t.detach()))
    return F.max_pool2d(t, 2, 2, 1)


class ReLU(nn.Module):
    def forward(self, x):
        return relu(x)

class BasicBlock(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or inp != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """stem_maxpool / final_avgpool (None: as the variant; final_avgpool 0 = global average) follow our
    ResNetConfig's overrides, used by reference_gcc_torch.py; the fixtures use the defaults."""
    def __init__(self, variant, width, in_channels=3, stem_maxpool=None, final_avgpool=None):
        super().__init__()
        assert variant in ("cifar", "stl")
        self.stl = variant == "stl"
        self.stem_maxpool = self.stl if stem_maxpool is None else bool(stem_maxpool)
        self.final_avgpool = (7 if self.stl else 0) if final_avgpool is None else int(final_avgpool)
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        inp = width
        for s in range(4):
            planes = width << s
            blocks = []
            for b in range(2):
                blocks.append(BasicBlock(inp, planes, 2 if (s > 0 and b == 0) else 1))
                inp = planes
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.feature_dim = inp

    def forward(self, x):
        h = relu(self.bn1(self.conv1(x)))
        if self.stem_maxpool:
            h = max_pool(h)
        for s in range(4):
            h = getattr(self, f"layer{s + 1}")(h)
        if self.final_avgpool:
            h = F.avg_pool2d(h, self.final_avgpool)
            assert h.shape[2] == 1 and h.shape[3] == 1
        else:
            h = F.adaptive_avg_pool2d(h, 1)
        return torch.flatten(h, 1)


class End2End(nn.Module):
    """forward() -> (embedding, logits of head 0); forward_heads() -> (embedding, [logits of every head]).
    in_channels, nheads, stem_maxpool and final_avgpool default to what the fixtures use."""
    def __init__(self, variant, width, num_clusters, in_channels=3, nheads=1, stem_maxpool=None,
                 final_avgpool=None):
        super().__init__()
        self.backbone = ResNet18(variant, width, in_channels, stem_maxpool, final_avgpool)
        f = self.backbone.feature_dim
        self.contrastive_head = nn.Sequential(nn.Linear(f, f), ReLU(), nn.Linear(f, EMBED_DIM))
        self.cluster_head = nn.ModuleList([nn.Linear(f, num_clusters) for _ in range(nheads)])

    def forward_heads(self, x):
        h = self.backbone(x)
        emb = F.normalize(self.contrastive_head(h), dim=1)
        return emb, [head(h) for head in self.cluster_head]

    def forward(self, x):
        emb, logits = self.forward_heads(x)
        return emb, logits[0]


def init_model(model, gen):
    """SPEC §2 for convs and linears (Kaiming-normal fan_out; U(±1/sqrt(fan_in))). BatchNorm gets
    random affine parameters (weight U(0.5, 1.5), bias U(-0.2, 0.2)) and running statistics (mean
    U(-0.1, 0.1), var U(0.5, 1.5), num_batches_tracked 0..4), so that both are really tested."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan_out))
        elif isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.in_features)
            with torch.no_grad():
                m.weight.copy_((torch.rand(m.weight.shape, generator=gen) * 2 - 1) * bound)
                m.bias.copy_((torch.rand(m.bias.shape, generator=gen) * 2 - 1) * bound)
        elif isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_((torch.rand(c, generator=gen) - 0.5) * 0.4)
                m.running_mean.copy_((torch.rand(c, generator=gen) - 0.5) * 0.2)
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
                m.num_batches_tracked.fill_(int(torch.randint(0, 5, (1,), generator=gen)))


def relu_sites(model):
    """The bias that shifts each ReLU input, in forward order (one ReLU per entry)."""
    bb = model.backbone
    sites = [bb.bn1.bias]
    for s in range(4):
        for blk in getattr(bb, f"layer{s + 1}"):
            sites += [blk.bn1.bias, blk.bn2.bias]  # relu(bn1(.)), relu(bn2(.) + shortcut)
    return sites + [model.contrastive_head[0].bias]


def probe_passes(model, passes):
    """Every ReLU / max-pool input of train-mode float64 forward passes (the model is not changed)."""
    global PROBE
    m64 = copy.deepcopy(model).double().train()
    PROBE = []
    with torch.no_grad():
        for x in passes:
            m64(f32(x).double())
    probe, PROBE = PROBE, None
    return probe


def center_relu_inputs(model, passes, max_shift=0.02):
    """Moves every ReLU input away from 0 by shifting, per channel, the bias that feeds it by at most
    max_shift: 0 is put in the middle of the widest gap between that channel's inputs (all passes
    together) within ±max_shift of 0. Done ReLU by ReLU in forward order, each against a fresh
    forward pass, since a shift changes everything downstream. The biases stay float32."""
    sites = relu_sites(model)
    for k, bias in enumerate(sites):
        relus = [t for kind, t in probe_passes(model, passes) if kind == "relu"]
        assert len(relus) == len(sites) * len(passes)
        per_pass = relus[k::len(sites)]
        v = torch.cat([t.double().transpose(0, 1).reshape(t.shape[1], -1) for t in per_pass], 1)  # [C, *]
        shift = torch.zeros(v.shape[0], dtype=torch.float64)
        for c in range(v.shape[0]):
            vals = torch.sort(v[c]).values
            mids = (vals[:-1] + vals[1:]) / 2
            cand = torch.cat([-mids[mids.abs() <= max_shift],
                              torch.tensor([0.0, -max_shift, max_shift], dtype=torch.float64)])
            near = vals[(vals.abs() <= 2 * max_shift)]
            if near.numel() == 0:
                continue  # no input of this channel is anywhere near 0
            margin = (near[None, :] + cand[:, None]).abs().min(1).values
            shift[c] = cand[int(torch.argmax(margin))]
        with torch.no_grad():
            bias.copy_((bias.double() + shift).float())


def add_state(fx, prefix, model):
    for k, v in model.state_dict().items():
        fx.add(prefix + k, v)


def add_meta(fx, width, K, size, stl):
    fx.add("meta.base_width", torch.tensor(float(width)), integer=True)
    fx.add("meta.num_clusters", torch.tensor(float(K)), integer=True)
    fx.add("meta.in_channels", torch.tensor(3.0), integer=True)
    fx.add("meta.image_size", torch.tensor(float(size)), integer=True)
    fx.add("meta.stl", torch.tensor(1.0 if stl else 0.0), integer=True)


# ---------------------------------------------------------------------------------------------------
# Losses, literally as SPEC §4 / §5 write them
def rgc_phase1(z, z2, tau):
    b = z.shape[0]
    C = torch.cat([z, z2], 0)                       # [2b, D]
    s = z @ C.t() / tau                             # [b, 2b]
    idx = torch.arange(b, device=z.device)
    P = torch.exp(s[idx, b + idx]) / torch.exp(s).sum(1)   # denominator: all 2b columns
    return -torch.log(P).mean()


def rgc_phase2(z, z2, vs, ws, tau):
    b = z.shape[0]
    g = [w[:, None] * v for v, w in zip(vs, ws)]    # g_k = w_{n_k(i)} · f(v_k,i)
    C = torch.cat([z, z2] + g, 0)                   # [5b, D]
    s = z @ C.t() / tau                             # [b, 5b]
    s = s - s.max(1, keepdim=True).values.detach()  # stabilised by the row max
    W = torch.ones(b, 5 * b, dtype=z.dtype, device=z.device)
    idx = torch.arange(b, device=z.device)
    for k in range(3):
        W[idx, (2 + k) * b + idx] = ws[k]
    E = torch.exp(s) * W
    pos = torch.zeros(b, 5 * b, dtype=torch.bool, device=z.device)
    for k in range(1, 5):
        pos[idx, k * b + idx] = True
    num = (E * pos).sum(1)
    D = (E * ~pos).sum(1)                           # includes column i, the anchor itself
    return -torch.log(num / D).mean()


def agc(logits_x, logits_u, lam=ENTROPY_WEIGHT):
    K = logits_x.shape[1]
    p = F.softmax(logits_x, 1)
    q = F.softmax(logits_u, 1)
    S = F.normalize(p, dim=0).t() @ F.normalize(q, dim=0)   # [K, K]
    consistency = F.cross_entropy(S, torch.arange(K, device=S.device))
    o = p.sum(0)
    o = o / o.sum()
    pos = o > 0
    xlogx = torch.where(pos, o * torch.log(torch.where(pos, o, torch.ones_like(o))), torch.zeros_like(o))
    entropy = math.log(K) + xlogx.sum()                    # 0·log 0 := 0
    return consistency + lam * entropy, consistency, entropy


def confidence_ce(weak, strong, threshold, balance):
    K = weak.shape[1]
    prob = F.softmax(weak, 1)
    maxp, target = prob.max(1)
    mask = maxp > threshold
    t = target[mask]
    n = int(mask.sum())
    weight = None
    if balance:
        idx, counts = torch.unique(t, return_counts=True)
        weight = torch.ones(K, dtype=strong.dtype)
        weight[idx] = 1.0 / (counts.to(strong.dtype) / n)
    loss = F.cross_entropy(strong[mask], t, weight=weight, reduction="mean")
    return loss, target, mask


# ---------------------------------------------------------------------------------------------------
# Fixtures
# ReLU kinks. A ReLU input within float32 rounding of 0 can come out on the other side of the kink in
# float32 than in the float64 reference; its gradient is then 0 in one and g in the other, and that
# difference spreads to every gradient upstream (seen: one input of 3e-7 in a [4, 32, 16, 16] ReLU
# made the C++ gradients of layer1 differ by 20-40% although every op was right). Likewise a max-pool
# window whose two largest inputs (nearly) tie. So each network fixture uses the first seed (base·1000
# + attempt) whose train-mode passes keep every ReLU input at least RELU_MARGIN · (largest |input| of
# that ReLU) away from 0 and every max-pool window's top two inputs POOL_MARGIN · (largest input)
# apart (windows whose maximum is 0 are skipped: their gradient stops at the ReLU before). The C++
# forward pass is within ~2e-6 of the largest magnitude of each intermediate tensor (measured through
# layer4), so the margins leave a 15x headroom for the ReLUs; the max-pool sits right after the stem,
# whose float32 error is ~1e-7. The margins found are stored as meta.relu_margin / meta.pool_margin.
RELU_MARGIN = 3e-5
POOL_MARGIN = 3e-6


def kink_margins(probe):
    relu_m, pool_m = math.inf, math.inf
    for kind, t in probe:
        t = t.double()
        mx = float(t.abs().max())
        if mx == 0:
            continue
        if kind == "relu":
            relu_m = min(relu_m, float(t.abs().min()) / mx)
        else:
            w = F.pad(t, (1, 1, 1, 1), value=-math.inf).unfold(2, 2, 2).unfold(3, 2, 2)
            w = w.reshape(*w.shape[:4], 4).sort(-1, descending=True).values
            gap = torch.where(w[..., 0] > 0, w[..., 0] - w[..., 1], torch.full_like(w[..., 0], math.inf))
            pool_m = min(pool_m, float(gap.min()) / mx)
    return relu_m, pool_m


def search_seed(build, base):
    """The first seed base·1000 + attempt for which build(gen) -> (model, passes), after
    center_relu_inputs, keeps every train-mode pass away from ReLU kinks and max-pool ties (see above).
    Returns (seed, relu margin, pool margin); build + center_relu_inputs with that seed reproduce it."""
    for attempt in range(100):
        seed = base * 1000 + attempt
        model, passes = build(torch.Generator().manual_seed(seed))
        center_relu_inputs(model, passes)
        relu_m, pool_m = kink_margins(probe_passes(model, passes))
        if relu_m >= RELU_MARGIN and pool_m >= POOL_MARGIN:
            return seed, relu_m, pool_m
    raise RuntimeError("no seed keeps the ReLU inputs away from 0; lower RELU_MARGIN/POOL_MARGIN")


def add_margins(fx, seed, relu_m, pool_m):
    fx.add("meta.seed", torch.tensor(float(seed)), integer=True)
    fx.add("meta.relu_margin", torch.tensor(relu_m))
    fx.add("meta.pool_margin", torch.tensor(pool_m if math.isfinite(pool_m) else -1.0))


def model_fixture(variant, width, K, size, seed):
    def build(gen):
        model = End2End(variant, width, K)
        init_model(model, gen)
        x = torch.randn(4, 3, size, size, generator=gen)
        return model, [x]

    seed, relu_m, pool_m = search_seed(build, seed)
    gen = torch.Generator().manual_seed(seed)
    model, (x,) = build(gen)
    center_relu_inputs(model, [x])
    fx = Fixture()
    add_meta(fx, width, K, size, variant == "stl")
    add_margins(fx, seed, relu_m, pool_m)
    add_state(fx, "w.", model)
    model = model.to(DTYPE)
    x = f32(x)
    R1 = f32(torch.randn(4, EMBED_DIM, generator=gen))
    R2 = f32(torch.randn(4, K, generator=gen))
    fx.add("input", x)
    fx.add("R1", R1)
    fx.add("R2", R2)
    model.eval()
    with torch.no_grad():
        emb, logits = model(x)
    fx.add("eval.embedding", emb)
    fx.add("eval.logits", logits)
    model.train()
    emb, logits = model(x)
    scalar = (emb * R1).sum() + (logits * R2).sum()
    scalar.backward()
    fx.add("train.embedding", emb)
    fx.add("train.logits", logits)
    fx.add("train.scalar", scalar)
    for n, p in model.named_parameters():
        fx.add("grad." + n, p.grad)
    for n, b in model.named_buffers():
        fx.add("after." + n, b)
    return fx


def unit_rows(t):
    return F.normalize(t, dim=1)


def rgc_fixture(seed):
    gen = torch.Generator().manual_seed(seed)
    fx = Fixture()
    b, D = 8, 16
    for case, tau in (("phase1", TAU), ("phase1_sharp", 0.01)):
        z = f32(unit_rows(torch.randn(b, D, generator=gen))).requires_grad_()
        # second view close to the first, as real views are
        z2 = f32(unit_rows(z.detach().float() + 0.5 * torch.randn(b, D, generator=gen))).requires_grad_()
        loss = rgc_phase1(z, z2, tau)
        loss.backward()
        for n, t in (("z", z), ("z2", z2), ("tau", torch.tensor(tau)), ("loss", loss),
                     ("grad_z", z.grad), ("grad_z2", z2.grad)):
            fx.add(f"{case}.{n}", t)
    z = f32(unit_rows(torch.randn(b, D, generator=gen))).requires_grad_()
    z2 = f32(unit_rows(z.detach().float() + 0.5 * torch.randn(b, D, generator=gen))).requires_grad_()
    vs = [f32(unit_rows(z.detach().float() + 0.8 * torch.randn(b, D, generator=gen))).requires_grad_()
          for _ in range(3)]
    w = f32(0.5 + 0.7 * torch.rand(3, b, generator=gen))
    loss = rgc_phase2(z, z2, vs, [w[0], w[1], w[2]], TAU)
    loss.backward()
    for n, t in (("z", z), ("z2", z2), ("v0", vs[0]), ("v1", vs[1]), ("v2", vs[2]), ("w", w),
                 ("tau", torch.tensor(TAU)), ("loss", loss), ("grad_z", z.grad), ("grad_z2", z2.grad),
                 ("grad_v0", vs[0].grad), ("grad_v1", vs[1].grad), ("grad_v2", vs[2].grad)):
        fx.add(f"phase2.{n}", t)
    return fx


def agc_fixture(seed):
    gen = torch.Generator().manual_seed(seed)
    fx = Fixture()
    b, K = 8, 5
    lx = f32(2.0 * torch.randn(b, K, generator=gen))
    lu = f32(lx.float() + 1.5 * torch.randn(b, K, generator=gen))
    empty_x = f32(2.0 * torch.randn(b, K, generator=gen))
    empty_x[:, 3] = -1000.0
    empty_u = f32(2.0 * torch.randn(b, K, generator=gen))
    assign = torch.tensor([0, 1, 2, 4, 0, 1, 2, 4])
    sat_x = 100.0 * F.one_hot(assign, K).double()
    sat_u = f32(sat_x.float() * 0.05 + torch.randn(b, K, generator=gen))
    for case, x, u in (("agc", lx, lu), ("agc_empty", empty_x, empty_u), ("agc_saturated", sat_x, sat_u)):
        x = x.clone().requires_grad_()
        u = u.clone().requires_grad_()
        total, ce, ne = agc(x, u)
        if case == "agc_empty":  # the release evaluates o·log(o) directly: NaN here, in float32 and float64
            o = F.softmax(x.detach(), 1).sum(0)
            o = o / o.sum()
            assert torch.isnan((o * torch.log(o)).sum()) and torch.isnan((o.float() * torch.log(o.float())).sum())
        total.backward()
        assert torch.isfinite(total) and torch.isfinite(x.grad).all() and torch.isfinite(u.grad).all()
        for n, t in (("logits_x", x), ("logits_u", u), ("total", total), ("consistency", ce),
                     ("entropy", ne), ("grad_x", x.grad), ("grad_u", u.grad)):
            fx.add(f"{case}.{n}", t)
    fx.add("entropy_weight", torch.tensor(ENTROPY_WEIGHT))
    return fx


def confidence_ce_fixture(seed):
    gen = torch.Generator().manual_seed(seed)
    fx = Fixture()
    N, K, thr = 12, 4, 0.98
    # confident rows: a margin of 7..9 over the others (max prob > 0.997); the others below 0.95
    target = torch.tensor([0, 0, 0, 1, 2, 0, 1, 3, 2, 0, 1, 2])
    confident = torch.tensor([1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1], dtype=torch.bool)
    weak = torch.randn(N, K, generator=gen) * 0.5
    margin = torch.where(confident, 7.0 + 2.0 * torch.rand(N, generator=gen), 0.5 * torch.rand(N, generator=gen))
    weak[torch.arange(N), target] += margin
    weak = f32(weak)
    strong = f32(torch.randn(N, K, generator=gen) * 1.5)
    maxp = F.softmax(weak, 1).max(1).values
    assert torch.all((maxp > 0.995) | (maxp < 0.95)), maxp
    for case, bal in (("balanced", True), ("unbalanced", False)):
        s = strong.clone().requires_grad_()
        loss, t, mask = confidence_ce(weak, s, thr, bal)
        assert bool((mask == confident).all())
        loss.backward()
        for n, v in (("weak", weak), ("strong", strong), ("targets", t), ("mask", mask), ("loss", loss),
                     ("grad_strong", s.grad)):
            fx.add(f"{case}.{n}", v)
    fx.add("threshold", torch.tensor(thr))
    return fx


def train_step_fixture(seed):
    b, K, size = 4, 5, 32
    names = ("x", "x2", "v0", "v1", "v2", "u")

    def build(gen):
        model = End2End("cifar", SMALL_WIDTH, K)
        init_model(model, gen)
        views = {n: torch.randn(b, 3, size, size, generator=gen) for n in names}
        return model, [torch.cat([views["x"], views["x2"]], 0), views["v0"], views["v1"], views["v2"], views["u"]]

    seed, relu_m, pool_m = search_seed(build, seed)
    gen = torch.Generator().manual_seed(seed)
    model, passes = build(gen)
    center_relu_inputs(model, passes)
    fx = Fixture()
    add_meta(fx, SMALL_WIDTH, K, size, False)
    add_margins(fx, seed, relu_m, pool_m)
    add_state(fx, "w.", model)
    model = model.to(DTYPE).train()
    views = {"x": f32(passes[0][:b]), "x2": f32(passes[0][b:]), "v0": f32(passes[1]), "v1": f32(passes[2]),
             "v2": f32(passes[3]), "u": f32(passes[4])}
    w_nb = f32(0.5 + 0.7 * torch.rand(3, b, generator=gen))
    for n, v in views.items():
        fx.add(n, v)
    fx.add("w_nb", w_nb)
    emb_xx, logits_xx = model(torch.cat([views["x"], views["x2"]], 0))
    emb_v = [model(views[f"v{k}"])[0] for k in range(3)]
    _, logits_u = model(views["u"])
    rgc = rgc_phase2(emb_xx[:b], emb_xx[b:], emb_v, [w_nb[0], w_nb[1], w_nb[2]], TAU)
    agc_total, ce, ne = agc(logits_xx[:b], logits_u)
    loss = 2.0 * rgc + agc_total
    opt = torch.optim.SGD(model.parameters(), lr=0.4, momentum=0.9, weight_decay=1e-4)
    opt.zero_grad()
    loss.backward()
    opt.step()
    for n, v in (("loss", loss), ("rgc", rgc), ("agc", agc_total), ("agc_consistency", ce), ("agc_entropy", ne)):
        fx.add(n, v)
    add_state(fx, "new.", model)
    return fx


def knn_fixture(seed):
    gen = torch.Generator().manual_seed(seed)
    n, D, k = 500, 32, 6
    f = unit_rows(torch.randn(n, D, generator=gen, dtype=torch.float64))
    f = torch.round(f * 256.0) / 256.0          # multiples of 2^-8: every inner product exact in float32
    for group in ([37, 38, 120, 300, 499], [10, 11, 200, 201, 202, 350, 460]):
        f[group] = f[group[0]].clone()
    S = f @ f.t()                                # exact in float64 too
    order = torch.sort(-S, dim=1, stable=True).indices[:, :k]   # ties: smaller index first
    score = torch.gather(S, 1, order)
    nbrs = [set(order[i].tolist()) for i in range(n)]
    for i in range(n):
        for j in order[i].tolist():
            nbrs[j].add(i)
    degree = torch.tensor([float(len(s)) for s in nbrs], dtype=torch.float64)
    weight = torch.tensor([math.sqrt(3.0 / d) for d in degree.tolist()], dtype=torch.float64)
    assert order[120, 0] == 37 and 460 not in order[460].tolist()
    fx = Fixture()
    fx.add("features", f)
    fx.add("index", order)
    fx.add("score", score)
    fx.add("degree", degree, integer=True)
    fx.add("weight", weight)
    return fx


def optim_fixture(seed):
    gen = torch.Generator().manual_seed(seed)
    fx = Fixture()
    X = f32(torch.randn(8, 3, generator=gen))
    Y = f32(torch.randn(8, 2, generator=gen))
    init = {"W1": f32(0.5 * torch.randn(4, 3, generator=gen)), "b1": f32(0.1 * torch.randn(4, generator=gen)),
            "W2": f32(0.5 * torch.randn(2, 4, generator=gen)), "b2": f32(0.1 * torch.randn(2, generator=gen))}
    fx.add("X", X)
    fx.add("Y", Y)
    for n, v in init.items():
        fx.add("init." + n, v)
    for name in ("sgd", "adam"):
        p = {n: v.clone().requires_grad_() for n, v in init.items()}
        params = [p["W1"], p["b1"], p["W2"], p["b2"]]
        if name == "sgd":
            opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4)
        else:
            opt = torch.optim.Adam(params, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)
        hist = {n: [] for n in p}
        losses = []
        for _ in range(10):
            opt.zero_grad()
            y = (X @ p["W1"].t() + p["b1"]) @ p["W2"].t() + p["b2"]
            loss = ((y - Y) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            for n in p:
                hist[n].append(p[n].detach().clone())
        for n in p:
            fx.add(f"{name}.{n}", torch.stack(hist[n]))
        fx.add(f"{name}.loss", torch.tensor(losses, dtype=torch.float64))
    epochs = [0, 1, 500, 999]
    lr, E = 0.4, 1000
    m = lr * 0.1 ** 3
    fx.add("cosine.epoch", torch.tensor(epochs, dtype=torch.float64), integer=True)
    fx.add("cosine.lr", torch.tensor([m + (lr - m) * (1 + math.cos(math.pi * e / E)) / 2 for e in epochs],
                                     dtype=torch.float64))
    return fx


# ---------------------------------------------------------------------------------------------------
# The comparison metric of tests/fixture.hpp (check_close), for --f32-report:
#   worst over elements of |a - e| / max(|e|, floor · max|e|)
# floor = NET_FLOOR for network outputs, gradients, running statistics and updated weights (elements
# below a tenth of the tensor's largest are held to an absolute error of tol·0.1·max|e|), 1e-3 else.
NET_FLOOR = 0.1
NET_GROUPS = ("eval", "train", "grad", "after", "new")


def worst_rel(a, e, floor, slack=None):
    a = np.asarray(a, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    diff = np.abs(a - e)
    if slack is not None:
        diff = np.maximum(diff - slack, 0.0)
    denom = np.maximum(np.abs(e), floor * np.abs(e).max())
    denom = np.where(denom > 0, denom, 1.0)
    return float((diff / denom).max()) if a.size else 0.0


def f32_report(names):
    """PyTorch's float32 path against the float64 truth, with the metric the C++ tests use (and, for
    the network groups, also with the stricter floors 1e-2 and 1e-3, to show why NET_FLOOR is 0.1)."""
    global DTYPE
    floors = (NET_FLOOR, 1e-2, 1e-3)
    for name in names:
        DTYPE = torch.float64
        ref = FIXTURES[name]()
        DTYPE = torch.float32
        got = FIXTURES[name]()
        DTYPE = torch.float64
        inputs = dict(ref.items)
        worst = {}

        def note(group, r, n):
            old = worst.get(group)
            worst[group] = [max(o, x) for o, x in zip(old[0], r)] if old else list(r), \
                (n if not old or r[0] > old[0][0] else old[1])

        for (n, e), (n2, a) in zip(ref.items, got.items):
            assert n == n2
            group = n.split(".")[0]
            if group in ("w", "meta") or (group not in NET_GROUPS and e.size != 1):
                continue  # inputs and weights: identical by construction
            if group in NET_GROUPS:
                note(group, [worst_rel(a, e, f) for f in floors], n)
            else:
                note(group, [worst_rel(a, e, 1e-3)] * 3, n)
            if group == "new" and "w." + n[4:] in inputs and "num_batches" not in n and "running" not in n:
                w = inputs["w." + n[4:]].astype(np.float64)
                note("delta", [worst_rel(a - w, e - w, f, slack=2.0 ** -23 * np.abs(e)) for f in floors],
                     "delta." + n[4:])
        print(f"{name}: PyTorch float32 vs the float64 reference, worst |a-e|/max(|e|, floor*max|e|)")
        print(f"    {'group':16s} {'floor 0.1':>10s} {'floor 1e-2':>10s} {'floor 1e-3':>10s}  (worst at floor 0.1)")
        for g, (r, n) in sorted(worst.items()):
            print(f"    {g:16s} {r[0]:10.2e} {r[1]:10.2e} {r[2]:10.2e}  ({n})")


FIXTURES = {
    "model_resnet18_cifar": lambda: model_fixture("cifar", CIFAR_WIDTH, 10, 32, seed=101),
    "model_resnet18_stl": lambda: model_fixture("stl", SMALL_WIDTH, 10, 96, seed=102),
    "rgc": lambda: rgc_fixture(seed=201),
    "agc": lambda: agc_fixture(seed=202),
    "confidence_ce": lambda: confidence_ce_fixture(seed=203),
    "train_step_phase2": lambda: train_step_fixture(seed=301),
    "knn": lambda: knn_fixture(seed=401),
    "optim": lambda: optim_fixture(seed=501),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures"),
                    help="directory for the .bin fixtures (default: tests/fixtures of this checkout)")
    ap.add_argument("--only", nargs="*", choices=sorted(FIXTURES), help="write only these fixtures")
    ap.add_argument("--f32-report", action="store_true",
                    help="write nothing; print how far PyTorch's float32 path is from the float64 reference "
                         "for the network fixtures (the yardstick for the C++ tolerances)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if args.f32_report:
        f32_report(args.only or ["model_resnet18_cifar", "model_resnet18_stl", "train_step_phase2"])
        return
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for name in args.only or FIXTURES:
        fx = FIXTURES[name]()
        size = fx.write(os.path.join(args.out, name + ".bin"))
        total += size
        print(f"{name + '.bin':28s} {len(fx.items):4d} tensors {size / 1e6:8.3f} MB")
    print(f"{'total':28s} {'':14s}{total / 1e6:8.3f} MB")


if __name__ == "__main__":
    main()
