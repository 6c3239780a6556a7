#!/usr/bin/python3
"""PyTorch "twin" of gcc_train: GCC's end-to-end loop (SPEC §3, §4, §6) written in plain PyTorch from the
SPEC, as a yardstick for our C++ trainer (same config.yaml, same seed, same training images). Run it with
Debian's python3 (python3-torch, python3-torchvision; numpy, scipy, PIL, yaml):

    reference_gcc_torch.py --config RUN/config.yaml --out DIR [--device cpu|cuda] [--threads N]
        [--train-ids FILE.npy] [--init FILE.safetensors] [--epochs N] [--train-subset N]
        [--switch-epoch N] [--eval-set all|train|test] [--data-root DIR] [--workers N] [--quiet]
    reference_gcc_torch.py --check-steps DUMP [--tolerance 1e-4] [--device ...] [--threads N]

Training writes DIR/metrics.jsonl (one object per epoch, gcc_train's keys: epoch, phase, complete, lr,
steps, images, seconds, images_per_second, loss, rgc, agc, agc_consistency, agc_entropy, knn_accuracy
after a refresh, "eval" {acc, nmi, ari, top5, images, seconds, mean_confidence, cluster_sizes} at
evaluation epochs), DIR/predictions.npy (int64 cluster of every evaluation image, last evaluation) and
DIR/evaluation.json {acc, nmi, ari, images, seconds_total, images_per_second_phase1/2}.
--train-ids: int64 indices into Fashion-MNIST's 70,000 "all" images (60,000 train then 10,000 test) of the
training set, in training-set order (gcc_train --dump-steps writes DUMP/train_ids.npy); without it a seeded
subset of train_subset images (numpy's RNG, so not the same images as ours). --init: initial weights from
one of our safetensors files (model tensors under our names). --epochs also sets the cosine length, as
the config key does. images/s counts images through the network (2 per sample in phase 1, 6 in phase 2)
over the epoch's wall time, data loading included, as ours does.

--check-steps DUMP reads DUMP/config.yaml and, for DUMP/phase1 and DUMP/phase2 where present, loads
model.safetensors, runs the training loop's loss code (gcc_losses, BatchNorm in train mode, one batch per
forward pass) on views.npy [V, m, C, H, W] (and weights.npy [3, m] in phase 2) and compares loss, rgc,
agc, agc_consistency and agc_entropy with losses.json: |twin - ours| <= tol * max(1, |ours|).
Exit 0 all within, 1 otherwise, 77 when torch cannot be imported.

Reused, not copied: make_reference.py's End2End and its losses rgc_phase1, rgc_phase2, agc (evaluated
in float64 on the float32 network outputs); convert_release_checkpoint.read_safetensors.

The same as gcc_train: the model and its initialisation rule (SPEC §2), the view distributions
(torchvision's RandomResizedCrop / flip / ColorJitter / RandomGrayscale on PIL images, which our views
reproduce), phases (phase 1 for e <= switch_epoch), BatchNorm per forward pass, the memory of the last
memory_slots detached z' per sample, the refresh rule (after e >= switch_epoch with
(e - switch_epoch) % refresh_every == 0: top num_neighbors+1 by inner product of the memory means,
self included; w = sqrt(3/d) with the symmetric degree), phase-2 views (x, x', n_0, n_1, n_2, u from a
uniform neighbour of the list), loss = rgc_weight*RGC + agc_weight*sum over heads of AGC (phase-1 AGC
between the two views when phase1_agc), SGD with momentum / weight decay on every parameter, the cosine
schedule per epoch, evaluation (eval views, BatchNorm eval mode, head 0; ACC by Hungarian, NMI with the
arithmetic mean, ARI).
Not the same: every random draw (initial weights, shuffling, augmentations, neighbour u, the subset
without --train-ids) comes from torch's / numpy's RNGs, so only the distributions match; kNN ties are
broken by torch.topk, not by the smaller index; the losses are computed in float64 (ours in float32 with
log-sum-exps); no NaN guard, checkpoints, resume or self-labelling; evaluation reports no embedding
kNN accuracy or neighbour agreement.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as _e:  # pragma: no cover
    torch = None
    TORCH_ERROR = _e

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_release_checkpoint as conv  # noqa: E402  (numpy only)

MODEL_MODULES = ("backbone", "contrastive_head", "cluster_head")
FMNIST_ROOT = "/usr/share/datasets/fashion-mnist"

# ---------------------------------------------------------------------------------------------------
# Config: the keys the twin reads, with gcc::train::Config's defaults (config.hpp) and their types.
STR, INT, FLOAT, BOOL, FLOATS = "text", "integer", "number", "boolean", "3 numbers"
KEYS = {
    "dataset": (STR, "cifar-10"), "data_root": (STR, ""), "train_subset": (INT, 0), "eval_set": (STR, "train"),
    "channels": (INT, 3), "train_size": (INT, 32), "eval_resize": (INT, 40), "eval_crop": (INT, 32),
    "mean": (FLOATS, [0.4914, 0.4822, 0.4465]), "std": (FLOATS, [0.2023, 0.1994, 0.2010]),
    "crop_scale_min": (FLOAT, 0.2), "crop_scale_max": (FLOAT, 1.0), "crop_ratio_min": (FLOAT, 0.75),
    "crop_ratio_max": (FLOAT, 4 / 3), "flip_p": (FLOAT, 0.5), "jitter_p": (FLOAT, 0.8), "gray_p": (FLOAT, 0.2),
    "brightness": (FLOAT, 0.4), "contrast": (FLOAT, 0.4), "saturation": (FLOAT, 0.4), "hue": (FLOAT, 0.1),
    "backbone": (STR, "resnet18-cifar"), "base_width": (INT, 64), "stem_maxpool": (INT, -1),
    "final_avgpool": (INT, -1), "num_clusters": (INT, 10), "nheads": (INT, 1), "epochs": (INT, 1000),
    "switch_epoch": (INT, 50), "refresh_every": (INT, 5), "num_neighbors": (INT, 5), "memory_slots": (INT, 4),
    "batch_size": (INT, 256), "drop_last": (BOOL, False), "lr": (FLOAT, 0.4), "momentum": (FLOAT, 0.9),
    "weight_decay": (FLOAT, 1e-4), "lr_decay_rate": (FLOAT, 0.1), "cosine": (BOOL, True),
    "temperature": (FLOAT, 0.1), "entropy_weight": (FLOAT, 2.0), "rgc_weight": (FLOAT, 2.0),
    "agc_weight": (FLOAT, 1.0), "phase1_agc": (BOOL, False), "eval_every": (INT, 5), "seed": (INT, 0),
    "eval_batch_size": (INT, 512), "device": (STR, "cpu"), "threads": (INT, 0),
    "auto_plan": (BOOL, False), "data_stats": (BOOL, False),
}
# Ours, without meaning here (run bookkeeping, user-image options, the self-labelling stage).
IGNORED = {"preset", "minutes", "labels_file", "unlabelled", "image_size", "eval_knn_max", "loader_threads",
           "checkpoint_every", "selflabel", "batched_passes", "sync_batchnorm"}


class ConfigError(ValueError):
    pass


def _convert(key, kind, v):
    try:
        if kind == STR:
            return "" if v is None else str(v)
        if kind == INT:
            if isinstance(v, bool) or float(v) != int(float(v)):
                raise ValueError
            return int(float(v))
        if kind == FLOAT:
            return float(v)  # PyYAML reads 1e-04 as a string: float() takes it
        if kind == BOOL:
            if isinstance(v, bool):
                return v
            s = str(v).lower()
            if s in ("true", "yes", "on", "1", "y"):
                return True
            if s in ("false", "no", "off", "0", "n"):
                return False
            raise ValueError
        vals = [float(x) for x in (v if isinstance(v, list) else [v])]
        if len(vals) == 1:
            vals *= 3
        if len(vals) != 3:
            raise ValueError
        return vals
    except (TypeError, ValueError):
        raise ConfigError(f"config key {key}: {v!r} is not valid ({kind} expected)") from None


def read_config(path):
    import yaml
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected flat YAML keys")
    cfg = {k: d for k, (_, d) in KEYS.items()}
    for k, v in raw.items():
        if k in KEYS:
            cfg[k] = _convert(k, KEYS[k][0], v)
        elif k not in IGNORED:
            print(f"warning: {path}: key {k} is unknown to the twin, ignored", file=sys.stderr)
    return cfg


def check_config(cfg):
    def need(ok, key, supported):
        if not ok:
            raise ConfigError(f"config key {key}: {cfg[key]!r} is not supported by the twin; supported: {supported}")
    ds = cfg["dataset"].lower().replace("_", "-")
    need(ds in ("fashion-mnist", "fashionmnist", "fmnist"), "dataset", "fashion-mnist")
    need(cfg["backbone"] in ("resnet18-cifar", "resnet18"), "backbone", "resnet18-cifar (or resnet18)")
    need(cfg["eval_set"] in ("all", "train", "test"), "eval_set", "all, train, test")
    need(cfg["channels"] in (1, 3), "channels", "1, 3")
    need(not cfg["auto_plan"], "auto_plan", "false (use the run's config.yaml, which stores the plan)")
    need(not cfg["data_stats"], "data_stats", "false (use the run's config.yaml, which stores mean/std)")
    need(cfg["base_width"] > 0 and cfg["num_clusters"] >= 2 and cfg["nheads"] >= 1, "base_width",
         "base_width > 0, num_clusters >= 2, nheads >= 1")
    need(cfg["stem_maxpool"] in (-1, 0, 1), "stem_maxpool", "-1, 0, 1")
    need(cfg["final_avgpool"] >= -1, "final_avgpool", "-1, 0 or a kernel size")
    need(cfg["eval_crop"] <= cfg["eval_resize"], "eval_crop", "eval_crop <= eval_resize")
    need(cfg["refresh_every"] >= 1 and cfg["memory_slots"] >= 1 and cfg["num_neighbors"] >= 1, "refresh_every",
         "refresh_every, memory_slots, num_neighbors >= 1")
    need(cfg["epochs"] >= 1 and cfg["batch_size"] >= 1, "epochs", "epochs >= 1 and batch_size >= 1")


def build_model(cfg):
    import make_reference as mr
    maxpool = None if cfg["stem_maxpool"] < 0 else cfg["stem_maxpool"]
    avgpool = None if cfg["final_avgpool"] < 0 else cfg["final_avgpool"]
    return mr.End2End("cifar", cfg["base_width"], cfg["num_clusters"], in_channels=cfg["channels"],
                      nheads=cfg["nheads"], stem_maxpool=maxpool, final_avgpool=avgpool)


def init_weights(model):
    """SPEC §2: conv Kaiming-normal (fan_out, ReLU), BatchNorm 1/0, Linear PyTorch's default (kept)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def load_our_weights(model, path):
    tensors, _ = conv.read_safetensors(path)
    sd = {k: torch.from_numpy(v) for k, v in tensors.items() if k.split(".")[0] in MODEL_MODULES}
    model.load_state_dict(sd, strict=True)  # raises naming any missing / unexpected / misshaped tensor
    return len(sd)


# ---------------------------------------------------------------------------------------------------
# Losses: one function for training and --check-steps.
def gcc_losses(model, views, w, cfg):
    """views: [x, x'] (phase 1) or [x, x', v0, v1, v2, u] (phase 2), each [m, C, S, S]; w: [3, m] node
    weights of n_0..n_2 (phase 2). Forward passes (each its own BatchNorm batch): [x; x'], then v0, v1,
    v2, u. Returns (loss tensor, {rgc, agc, agc_consistency, agc_entropy} floats, z' detached)."""
    import make_reference as mr
    m = views[0].shape[0]
    emb, logits = model.forward_heads(torch.cat([views[0], views[1]], 0))
    z, z2 = emb[:m].double(), emb[m:].double()
    tau = cfg["temperature"]
    if len(views) == 2:
        rgc = mr.rgc_phase1(z, z2, tau)
        pairs = [(lg[:m], lg[m:]) for lg in logits] if cfg["phase1_agc"] else []
    else:
        vs = [model.forward_heads(views[2 + k])[0].double() for k in range(3)]
        _, logits_u = model.forward_heads(views[5])
        rgc = mr.rgc_phase2(z, z2, vs, [w[k].double() for k in range(3)], tau)
        pairs = [(lg[:m], lu) for lg, lu in zip(logits, logits_u)]
    loss = cfg["rgc_weight"] * rgc
    terms = {"rgc": rgc.item(), "agc": 0.0, "agc_consistency": 0.0, "agc_entropy": 0.0}
    for lx, lu in pairs:  # summed over heads, as end2end.hpp
        total, ce, ne = mr.agc(lx.double(), lu.double(), cfg["entropy_weight"])
        loss = loss + cfg["agc_weight"] * total
        terms["agc"] += total.item()
        terms["agc_consistency"] += ce.item()
        terms["agc_entropy"] += ne.item()
    terms["loss"] = loss.item()
    return loss, terms, emb[m:].detach()


# ---------------------------------------------------------------------------------------------------
# Data: Fashion-MNIST "all" (60,000 train then 10,000 test) and the views of SPEC §3.
def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        b = f.read()
    ndim = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def read_fashion_mnist(root):
    root = root or FMNIST_ROOT
    parts = []
    for split in ("train", "t10k"):
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            p = os.path.join(root, f"{split}-{kind}")
            p = p + ".gz" if os.path.exists(p + ".gz") else p
            if not os.path.exists(p):
                raise ConfigError(f"fashion-mnist: {p}(.gz) not found (data_root {root!r})")
            parts.append(read_idx(p))
    return np.concatenate([parts[0], parts[2]]), np.concatenate([parts[1], parts[3]]).astype(np.int64)


class Views(torch.utils.data.Dataset if torch else object):
    """Item j: a view of image j (uint8 [H, W] grey) through `transform` (torchvision on a PIL image)."""

    def __init__(self, images, transform, rgb):
        self.images, self.transform, self.rgb = images, transform, rgb

    def __len__(self):
        return len(self.images)

    def __getitem__(self, j):
        from PIL import Image
        img = Image.fromarray(self.images[j], "L")
        return self.transform(img.convert("RGB") if self.rgb else img)


def transforms_of(cfg):
    import torchvision.transforms as T
    c = cfg["channels"]
    norm = T.Normalize(cfg["mean"][:c], cfg["std"][:c])
    simclr = T.Compose([
        T.RandomResizedCrop(cfg["train_size"], scale=(cfg["crop_scale_min"], cfg["crop_scale_max"]),
                            ratio=(cfg["crop_ratio_min"], cfg["crop_ratio_max"]),
                            interpolation=T.InterpolationMode.BILINEAR),
        T.RandomHorizontalFlip(cfg["flip_p"]),
        T.RandomApply([T.ColorJitter(cfg["brightness"], cfg["contrast"], cfg["saturation"], cfg["hue"])],
                      p=cfg["jitter_p"]),
        T.RandomGrayscale(cfg["gray_p"]),
        T.ToTensor(), norm])
    evalv = T.Compose([T.Resize(cfg["eval_resize"], interpolation=T.InterpolationMode.BILINEAR),
                       T.CenterCrop(cfg["eval_crop"]), T.ToTensor(), norm])
    return simclr, evalv


# ---------------------------------------------------------------------------------------------------
# Graph (SPEC §4) and metrics (SPEC §6)
def knn_graph(feat, k, block=1024):
    """Top k rows by inner product for every row (itself included), best first."""
    out = []
    for s in range(0, feat.shape[0], block):
        out.append(torch.topk(feat[s:s + block] @ feat.t(), k, dim=1).indices)
    return torch.cat(out).cpu().numpy()


def degree_weights(index):
    """w_i = sqrt(3 / d_i), d_i = |N_i ∪ {j : i ∈ N_j}| (symmetric graph, self-loop kept)."""
    n, k = index.shape
    rows = np.repeat(np.arange(n), k)
    cols = index.reshape(-1)
    pairs = np.unique(np.concatenate([rows * n + cols, cols * n + rows]))
    deg = np.bincount(pairs // n, minlength=n)
    return np.sqrt(3.0 / deg).astype(np.float32)


def clustering_metrics(pred, labels, probs=None):
    from scipy.optimize import linear_sum_assignment
    n = len(labels)
    K, C = int(max(pred.max(), 0)) + 1, int(labels.max()) + 1
    cont = np.zeros((K, C), dtype=np.int64)
    np.add.at(cont, (pred, labels), 1)
    r, c = linear_sum_assignment(cont, maximize=True)
    acc = cont[r, c].sum() / n
    mapping = np.full(probs.shape[1] if probs is not None else K, -1)
    mapping[r] = c
    nz = cont[cont > 0].astype(np.float64)
    a, b = cont.sum(1).astype(np.float64), cont.sum(0).astype(np.float64)
    ent = lambda s: -np.sum((s[s > 0] / n) * np.log(s[s > 0] / n))  # noqa: E731
    ii, jj = np.nonzero(cont)
    mi = np.sum(nz / n * (np.log(nz * n) - np.log(a[ii] * b[jj])))
    ha, hb = ent(a), ent(b)
    nmi = 1.0 if (K == 1 and C == 1) else max(mi, 0.0) / max((ha + hb) / 2, np.finfo(np.float64).eps)
    comb = lambda x: np.sum(x * (x - 1) / 2)  # noqa: E731
    index, sa, sb = comb(cont.astype(np.float64)), comb(a), comb(b)
    expected = sa * sb / (n * (n - 1) / 2)
    denom = (sa + sb) / 2 - expected
    ari = 1.0 if denom == 0 else (index - expected) / denom
    top5 = None
    if probs is not None:
        top = np.argsort(-probs, axis=1, kind="stable")[:, :min(5, probs.shape[1])]
        top5 = float(np.mean(np.any(mapping[top] == labels[:, None], axis=1)))
    return float(acc), float(nmi), float(ari), top5


# ---------------------------------------------------------------------------------------------------
# Training
class Twin:
    def __init__(self, cfg, device, train_ids, workers, quiet):
        self.cfg, self.dev, self.quiet, self.workers = cfg, device, quiet, workers
        images, labels = read_fashion_mnist(cfg["data_root"])
        if train_ids is None:
            n_all, sub = len(images), cfg["train_subset"]
            train_ids = np.arange(n_all) if sub <= 0 or sub >= n_all else \
                np.sort(np.random.default_rng(cfg["seed"]).choice(n_all, sub, replace=False))
        if train_ids.min() < 0 or train_ids.max() >= len(images):
            raise ConfigError(f"train ids outside [0, {len(images)})")
        self.train_ids = train_ids.astype(np.int64)
        self.eval_ids = {"all": np.arange(len(images)), "train": self.train_ids,
                         "test": np.arange(60000, len(images))}[cfg["eval_set"]]
        self.images, self.labels = images, labels
        simclr, self.eval_tf = transforms_of(cfg)
        self.views = Views(images[self.train_ids], simclr, cfg["channels"] == 3)
        self.train_labels = labels[self.train_ids]
        n = len(self.train_ids)
        if cfg["num_neighbors"] + 1 > n or cfg["num_clusters"] > n:
            raise ConfigError(f"{n} training images: too few for num_neighbors / num_clusters")
        torch.manual_seed(cfg["seed"])
        self.model = build_model(cfg)
        init_weights(self.model)
        self.gen = torch.Generator().manual_seed(cfg["seed"] + 1)  # shuffling and the neighbour u
        self.memory = torch.zeros(n, cfg["memory_slots"], 128, device=device)
        self.mem_next = torch.zeros(n, dtype=torch.long, device=device)
        self.mem_count = torch.zeros(n, device=device)
        self.neighbours = self.node_w = None
        self.eval_cache = None

    def lr_at(self, e):
        c, m = self.cfg, self.cfg["lr"] * self.cfg["lr_decay_rate"] ** 3  # float32, as ours
        lr = m + (c["lr"] - m) * (1 + math.cos(math.pi * e / c["epochs"])) / 2 if c["cosine"] else c["lr"]
        return float(np.float32(lr))

    def batches(self, phase):
        """Per step: (anchor rows [m], image rows of every view [V * m])."""
        n, bs = len(self.train_ids), self.cfg["batch_size"]
        perm = torch.randperm(n, generator=self.gen).numpy()
        out = []
        for s in range(0, n, bs):
            a = perm[s:s + bs]
            if len(a) < bs and self.cfg["drop_last"]:
                break
            rows = [a, a]
            if phase == 2:
                nb = self.neighbours[a]
                k = nb.shape[1]
                pick = torch.randint(k, (len(a),), generator=self.gen).numpy()
                rows += [nb[:, min(j, k - 1)] for j in range(3)] + [nb[np.arange(len(a)), pick]]
            out.append((a, np.concatenate(rows)))
        return out

    def train_epoch(self, e, opt):
        cfg, phase = self.cfg, 1 if e <= self.cfg["switch_epoch"] else 2
        lr = self.lr_at(e)
        for g in opt.param_groups:
            g["lr"] = lr
        self.model.train()
        plan = self.batches(phase)
        loader = torch.utils.data.DataLoader(self.views, batch_sampler=[r.tolist() for _, r in plan],
                                             num_workers=self.workers)
        V = 2 if phase == 1 else 6
        sums, steps, images = {}, 0, 0
        t0 = time.perf_counter()
        for (anchors, rows), x in zip(plan, loader):
            m = len(anchors)
            x = x.to(self.dev, non_blocking=True).view(V, m, *x.shape[1:])
            w = None
            if phase == 2:
                nb = self.neighbours[anchors]
                k = nb.shape[1]
                w = torch.from_numpy(np.stack([self.node_w[nb[:, min(j, k - 1)]] for j in range(3)])).to(self.dev)
            loss, terms, z2 = gcc_losses(self.model, list(x), w, cfg)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ids = torch.from_numpy(anchors).to(self.dev)  # memory push of z' (detached)
            self.memory[ids, self.mem_next[ids]] = z2
            self.mem_next[ids] = (self.mem_next[ids] + 1) % cfg["memory_slots"]
            self.mem_count[ids] = torch.clamp(self.mem_count[ids] + 1, max=cfg["memory_slots"])
            for key, v in terms.items():
                sums[key] = sums.get(key, 0.0) + v
            steps += 1
            images += V * m
            if not self.quiet and sys.stdout.isatty():
                dt = time.perf_counter() - t0
                print(f"\repoch {e + 1}/{cfg['epochs']} [phase {phase}] step {steps}/{len(plan)}  loss "
                      f"{terms['loss']:.4f} (rgc {terms['rgc']:.4f} agc {terms['agc']:.4f})  lr {lr:.4g}  "
                      f"{images / max(dt, 1e-9):.0f} img/s", end="", flush=True)
        if self.dev.type == "cuda":
            torch.cuda.synchronize()
        secs = time.perf_counter() - t0
        rec = {"epoch": e, "phase": phase, "complete": True, "lr": lr, "steps": steps, "images": images,
               "seconds": secs, "images_per_second": images / secs if secs > 0 else 0.0}
        for key in ("loss", "rgc", "agc", "agc_consistency", "agc_entropy"):
            rec[key] = sums.get(key, 0.0) / max(steps, 1)
        return rec

    def refresh(self):
        k = self.cfg["num_neighbors"] + 1
        mean = self.memory.sum(1) / self.mem_count.clamp(min=1)[:, None]  # not re-normalised
        self.neighbours = knn_graph(mean, k)
        self.node_w = degree_weights(self.neighbours)
        lab = self.train_labels
        return float(np.mean(lab[self.neighbours[:, 1:]] == lab[:, None]))

    def evaluate(self):
        with torch.no_grad():
            return self._evaluate()

    def _evaluate(self):
        t0 = time.perf_counter()
        if self.eval_cache is None:
            self.eval_cache = torch.stack([Views(self.images, self.eval_tf, self.cfg["channels"] == 3)[j]
                                           for j in self.eval_ids])
        self.model.eval()
        probs = []
        bs = self.cfg["eval_batch_size"]
        for s in range(0, len(self.eval_cache), bs):
            _, logits = self.model.forward_heads(self.eval_cache[s:s + bs].to(self.dev))
            probs.append(F.softmax(logits[0].float(), 1).cpu())
        self.model.train()
        probs = torch.cat(probs).numpy()
        pred = probs.argmax(1).astype(np.int64)
        acc, nmi, ari, top5 = clustering_metrics(pred, self.labels[self.eval_ids], probs)
        return pred, {"acc": acc, "nmi": nmi, "ari": ari, "top5": top5, "images": int(len(pred)),
                      "seconds": time.perf_counter() - t0, "mean_confidence": float(probs.max(1).mean()),
                      "cluster_sizes": np.bincount(pred, minlength=self.cfg["num_clusters"]).tolist()}

    def warm_up(self):
        """Two untimed steps on a copy of the model at the step shapes (oneDNN / cuDNN set-up is then not
        charged to epoch 0's images/s); the model, its statistics and the RNG streams are untouched."""
        import copy
        m, bs, g = copy.deepcopy(self.model).train(), self.cfg["batch_size"], torch.Generator().manual_seed(0)
        shape = (self.cfg["channels"], self.cfg["train_size"], self.cfg["train_size"])
        for _ in range(2):
            for b in (2 * bs, bs):
                emb, logits = m.forward_heads(torch.randn(b, *shape, generator=g).to(self.dev))
                (emb.sum() + logits[0].sum()).backward()

    def fit(self, out_dir):
        cfg = self.cfg
        self.warm_up()
        opt = torch.optim.SGD(self.model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                              weight_decay=cfg["weight_decay"])
        os.makedirs(out_dir, exist_ok=True)
        log = open(os.path.join(out_dir, "metrics.jsonl"), "w")
        per_phase = {1: [0, 0.0], 2: [0, 0.0]}
        t_start, best, last, pred = time.perf_counter(), -1.0, None, None
        for e in range(cfg["epochs"]):
            rec = self.train_epoch(e, opt)
            per_phase[rec["phase"]][0] += rec["images"]
            per_phase[rec["phase"]][1] += rec["seconds"]
            extra = ""
            if e >= cfg["switch_epoch"] and (e - cfg["switch_epoch"]) % cfg["refresh_every"] == 0:
                rec["knn_accuracy"] = self.refresh()
                extra += f"  knn-acc {rec['knn_accuracy']:.4f}"
            if e == cfg["epochs"] - 1 or (cfg["eval_every"] > 0 and e > 0 and e % cfg["eval_every"] == 0):
                pred, last = self.evaluate()
                rec["eval"] = last
                best = max(best, last["acc"])
                rec["best_acc_label_selected"] = best
                extra += (f"  | ACC {last['acc']:.4f} NMI {last['nmi']:.4f} ARI {last['ari']:.4f} "
                          f"({last['seconds']:.0f} s)")
            log.write(json.dumps(rec) + "\n")
            log.flush()
            if not self.quiet:
                print(("\r" if sys.stdout.isatty() else "") +
                      f"epoch {e + 1}/{cfg['epochs']} phase {rec['phase']}  loss {rec['loss']:.4f} (rgc "
                      f"{rec['rgc']:.4f} agc {rec['agc']:.4f} = ce {rec['agc_consistency']:.4f} + ent "
                      f"{rec['agc_entropy']:.4f})  lr {rec['lr']:.4g}  {rec['images_per_second']:.0f} img/s  "
                      f"{rec['seconds']:.1f} s{extra}", flush=True)
        log.close()
        np.save(os.path.join(out_dir, "predictions.npy"), pred)
        ips = {p: (v[0] / v[1] if v[1] > 0 else None) for p, v in per_phase.items()}
        summary = {"acc": last["acc"], "nmi": last["nmi"], "ari": last["ari"], "images": last["images"],
                   "seconds_total": time.perf_counter() - t_start, "images_per_second_phase1": ips[1],
                   "images_per_second_phase2": ips[2]}
        with open(os.path.join(out_dir, "evaluation.json"), "w") as f:
            json.dump(summary, f, indent=1)
        return summary


# ---------------------------------------------------------------------------------------------------
def check_steps(dump, tol, device):
    cfg = read_config(os.path.join(dump, "config.yaml"))
    check_config(cfg)
    ok, found = True, 0
    for phase in (1, 2):
        d = os.path.join(dump, f"phase{phase}")
        if not os.path.isdir(d):
            continue
        found += 1
        model = build_model(cfg)
        n = load_our_weights(model, os.path.join(d, "model.safetensors"))
        model.to(device).train()
        views = torch.from_numpy(np.load(os.path.join(d, "views.npy"))).to(device)
        if views.shape[0] != (2 if phase == 1 else 6):
            raise ValueError(f"{d}/views.npy: {views.shape[0]} views, expected {2 if phase == 1 else 6}")
        w = torch.from_numpy(np.load(os.path.join(d, "weights.npy"))).to(device) if phase == 2 else None
        with open(os.path.join(d, "losses.json")) as f:
            ours = json.load(f)
        with torch.no_grad():
            _, terms, _ = gcc_losses(model, list(views), w, cfg)
        print(f"phase {phase}: {n} tensors, views {list(views.shape)}, epoch {ours.get('epoch')} step {ours.get('step')}")
        for key in ("loss", "rgc", "agc", "agc_consistency", "agc_entropy"):
            o, t = float(ours[key]), terms[key]
            good = abs(t - o) <= tol * max(1.0, abs(o))
            ok &= good
            print(f"  phase{phase} {key:16s} twin {t:.8f}  ours {o:.8f}  diff {abs(t - o):.2e}  "
                  f"(tol {tol * max(1.0, abs(o)):.1e}) {'ok' if good else 'MISMATCH'}")
    if not found:
        print(f"check-steps: {dump} holds neither phase1/ nor phase2/")
        return 1
    print("check-steps:", "all terms within tolerance" if ok else "MISMATCH")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="the run's config.yaml (gcc_train writes RUN/config.yaml)")
    ap.add_argument("--out", help="output directory (metrics.jsonl, predictions.npy, evaluation.json)")
    ap.add_argument("--device", help="cpu or cuda (default: the config's device; auto = cuda when available)")
    ap.add_argument("--threads", type=int, help="torch threads (default: the config's threads; 0 = all cores)")
    ap.add_argument("--train-ids", help="int64 .npy of training images (indices into the 70,000 'all' images)")
    ap.add_argument("--init", help="initial model weights: one of our safetensors files")
    ap.add_argument("--epochs", type=int, help="override epochs (also the cosine schedule's length)")
    ap.add_argument("--train-subset", type=int, help="override train_subset (ignored with --train-ids)")
    ap.add_argument("--switch-epoch", type=int, help="override switch_epoch")
    ap.add_argument("--eval-set", choices=("all", "train", "test"), help="override eval_set")
    ap.add_argument("--data-root", help="override data_root (the Fashion-MNIST folder)")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader worker processes for the views (default 0)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    ap.add_argument("--check-steps", metavar="DUMP", help="compare the losses of gcc_train --dump-steps DUMP")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="--check-steps: relative tolerance (1e-4)")
    args = ap.parse_args()
    if torch is None:  # (--help works without it)
        print(f"SKIPPED: torch cannot be imported ({TORCH_ERROR})")
        return 77
    try:
        path = os.path.join(args.check_steps, "config.yaml") if args.check_steps else args.config
        if not path or (not args.check_steps and not args.out):
            ap.error("give --config and --out, or --check-steps DUMP")
        cfg = read_config(path)
        for key in ("epochs", "train_subset", "switch_epoch", "eval_set", "data_root"):
            if getattr(args, key) is not None:
                cfg[key] = getattr(args, key)
        check_config(cfg)
        dev = args.device or cfg["device"]
        if dev == "auto":
            dev = "cuda" if torch.cuda.is_available() else "cpu"
        device = torch.device(dev)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {dev}: this torch has no CUDA or sees no GPU (torch {torch.__version__})")
        threads = args.threads if args.threads is not None else cfg["threads"]
        torch.set_num_threads(threads if threads > 0 else (os.cpu_count() or 1))
        if args.check_steps:
            return check_steps(args.check_steps, args.tolerance, device)
        ids = np.load(args.train_ids).astype(np.int64).reshape(-1) if args.train_ids else None
        twin = Twin(cfg, device, ids, args.workers, args.quiet)
        if args.init:
            load_our_weights(twin.model, args.init)
        twin.model.to(device)
        if not args.quiet:
            print(f"twin: fashion-mnist, {len(twin.train_ids)} training images, {len(twin.eval_ids)} evaluation "
                  f"images, {cfg['epochs']} epochs (phase 2 after epoch {cfg['switch_epoch']}), batch "
                  f"{cfg['batch_size']}, width {cfg['base_width']}, K {cfg['num_clusters']}, {device}", flush=True)
        s = twin.fit(args.out)
        if not args.quiet:
            print(f"twin: ACC {s['acc']:.4f} NMI {s['nmi']:.4f} ARI {s['ari']:.4f} on {s['images']} images, "
                  f"{s['seconds_total']:.1f} s -> {args.out}")
        return 0
    except (ConfigError, OSError, ValueError, RuntimeError, KeyError) as e:
        print(f"reference_gcc_torch: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
