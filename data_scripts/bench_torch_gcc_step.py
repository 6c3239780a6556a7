#!/usr/bin/env python3
"""PyTorch-eager baseline for examples/bench_gcc_step: one GCC phase-2 training step (SPEC §4, §7),
written here from the SPEC (not imported from the authors' release), and the kNN graph over
113,000 x 128 features with torch.topk over chunked matrix products.

The step: ResNet-18 (cifar variant, SPEC §2) with the contrastive head (Linear-ReLU-Linear, L2
normalised, 128-d) and one cluster head (Linear(512, K)); forward passes [x; x'] (2b), v0, v1, v2, u
(b each; BatchNorm in train mode on each pass alone) = six images per sample; loss = 2·L_RGC (phase 2,
with neighbours) + L_AGC, both as SPEC §4 writes them; backward; SGD(lr 0.4, momentum 0.9,
weight decay 1e-4). images/s counts 6·b images per step.

Usage (GPU):   python3 data_scripts/bench_torch_gcc_step.py [--batch 256] [--tf32 off|on|default]
Smoke (CPU):   /usr/bin/python3 data_scripts/bench_torch_gcc_step.py --device cpu --batch 4 --knn-n 2000 \
                   --warmup 1 --steps 1
Prints 'RESULT torch_step ...' and 'RESULT torch_knn ...' lines (read by tests/device_check.sh).
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

TAU = 0.1
ENTROPY_WEIGHT = 2.0


# The model (SPEC §2) and the losses (SPEC §4) are make_reference.py's, which the fixtures check
# against the toolkit: End2End, rgc_phase1, rgc_phase2, agc.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_reference as mr  # noqa: E402


def init_model(model):
    """SPEC §2: convs Kaiming-normal (fan_out, ReLU gain); BN weight 1, bias 0; Linear as PyTorch's default."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------------------------------------
class Timer:
    """CUDA events on the GPU, perf_counter (after a no-op sync) on the CPU."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def mark(self):
        if self.cuda:
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            return e
        return time.perf_counter()

    def ms(self, a, b):
        if self.cuda:
            b.synchronize()
            return a.elapsed_time(b)
        return (b - a) * 1e3


def set_tf32(mode, device):
    if device.type != "cuda" or mode == "default":
        return
    on = mode == "on"
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def bench_step(args, device, timer):
    torch.manual_seed(args.seed)
    model = mr.End2End("cifar", args.width, args.clusters, in_channels=args.in_channels,
                       stem_maxpool=args.stem_maxpool).to(device)
    init_model(model)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.4, momentum=0.9, weight_decay=1e-4)
    b, S, C = args.batch, args.size, args.in_channels
    views = 2 if args.phase == 1 else 6
    gen = torch.Generator(device=device).manual_seed(args.seed + 1)
    # random inputs, generated once on the device
    xx = torch.randn(2 * b, C, S, S, device=device, generator=gen)
    vs = [torch.randn(b, C, S, S, device=device, generator=gen) for _ in range(3)]
    u = torch.randn(b, C, S, S, device=device, generator=gen)
    ws = [math.sqrt(3 / 12) + (math.sqrt(3 / 6) - math.sqrt(3 / 12)) * torch.rand(b, device=device, generator=gen)
          for _ in range(3)]
    nparams = sum(p.numel() for p in model.parameters())
    what = ("two views, one pass" + (", AGC between the views" if args.phase1_agc else "") if args.phase == 1
            else "six views in five passes")
    print(f"model: resnet18-cifar, base width {args.width}, {C} channel(s), stem max-pool {args.stem_maxpool}, "
          f"K {args.clusters}, {nparams} parameters; phase {args.phase}, batch {b}, {S}x{S}, {what}: "
          f"{views * b} images forward+backward per step")

    def forward():
        """The passes: [x; x'] (phase 1), or [x; x'], v_0, v_1, v_2, u (phase 2)."""
        z_xx, l_xx = model(xx)
        if args.phase == 1:
            return z_xx, l_xx, None, None
        return z_xx, l_xx, [model(v)[0] for v in vs], model(u)[1]

    def loss_of(z_xx, l_xx, ev, l_u):
        """Phase 1: 2·RGC [+ AGC(x, x')]; phase 2: 2·RGC with neighbours + AGC (SPEC §4)."""
        if args.phase == 1:
            loss = 2 * mr.rgc_phase1(z_xx[:b], z_xx[b:], TAU)
            return loss + mr.agc(l_xx[:b], l_xx[b:], ENTROPY_WEIGHT)[0] if args.phase1_agc else loss
        return 2 * mr.rgc_phase2(z_xx[:b], z_xx[b:], ev, ws, TAU) + mr.agc(l_xx[:b], l_u, ENTROPY_WEIGHT)[0]

    def step(marks=None):
        if marks is not None:
            marks.append(timer.mark())
        opt.zero_grad(set_to_none=True)
        out = forward()
        if marks is not None:
            marks.append(timer.mark())
        loss = loss_of(*out)
        if marks is not None:
            marks.append(timer.mark())
        loss.backward()
        if marks is not None:
            marks.append(timer.mark())
        opt.step()
        if marks is not None:
            marks.append(timer.mark())
        return loss

    t0 = time.perf_counter()
    for _ in range(args.warmup):
        step()
    timer.sync()
    print(f"warmup: {args.warmup} steps in {time.perf_counter() - t0:.2f} s")
    h0 = time.perf_counter()
    start = timer.mark()
    done = 0
    while done < args.steps:
        loss = step()
        done += 1
        if time.perf_counter() - h0 > args.time_limit:
            break
    end = timer.mark()
    ms = timer.ms(start, end) / done
    host_ms = (time.perf_counter() - h0) * 1e3 / done
    ips = views * b * 1e3 / ms
    print(f"timed: {done} steps{' (stopped early at --time-limit)' if done < args.steps else ''}: {ms:.2f} ms/step "
          f"({'CUDA events' if timer.cuda else 'host clock'}; host clock {host_ms:.2f} ms/step), {ips:.1f} images/s "
          f"({views} x {b} images per step); last loss {float(loss):.4f}")
    if args.width == 64 and S == 32 and args.phase == 2 and C == 3:
        tflops = 6 * b * 0.56e9 * 2 * 3 / (ms * 1e-3) / 1e12
        print(f"        ≈ {tflops:.1f} TFLOP/s by SPEC §7's estimate (0.56 GMAC/image forward, step = 3x forward)")
    if device.type == "cuda":
        print(f"memory: peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB allocated, "
              f"{torch.cuda.memory_reserved() / 2**30:.2f} GiB reserved")
    print(f"RESULT torch_step phase={args.phase} images_per_s={ips:.1f} ms_per_step={ms:.2f} batch={b} "
          f"width={args.width} size={S} tf32={args.tf32} steps={done}")
    if args.breakdown:
        acc = [0.0] * 4
        n = 0
        p0 = time.perf_counter()
        while n < args.steps:
            marks = []
            step(marks)
            for p in range(4):
                acc[p] += timer.ms(marks[p], marks[p + 1])
            n += 1
            if time.perf_counter() - p0 > args.time_limit:
                break
        total = sum(acc)
        print(f"breakdown over {n} steps:")
        for name, a in zip(["forward (all passes)", "loss (RGC [+ AGC])", "backward", "optimiser (SGD)"], acc):
            print(f"  {name:<20} {a / n:9.2f} ms/step  {100 * a / total:5.1f}%")
        print(f"RESULT torch_breakdown forward_ms={acc[0] / n:.2f} loss_ms={acc[1] / n:.2f} "
              f"backward_ms={acc[2] / n:.2f} optimizer_ms={acc[3] / n:.2f}")


def bench_knn(args, device, timer):
    """Top-k by inner product of every row against all rows (self included), chunks of rows times the
    whole matrix, torch.topk per chunk; then the symmetric degree weights w_i = sqrt(3 / d_i)."""
    n, d, k, chunk = args.knn_n, args.knn_dim, args.knn_k, args.knn_chunk
    gen = torch.Generator(device=device).manual_seed(99)
    f = F.normalize(torch.randn(n, d, device=device, generator=gen), dim=1)

    def topk_graph():
        idx = torch.empty(n, k, dtype=torch.long, device=device)
        val = torch.empty(n, k, device=device)
        for s in range(0, n, chunk):
            v, i = (f[s:s + chunk] @ f.t()).topk(k, dim=1)
            val[s:s + chunk] = v
            idx[s:s + chunk] = i
        return val, idx

    # warm-up on one chunk (cuBLAS handle, kernels)
    (f[:min(chunk, n)] @ f.t()).topk(k, dim=1)
    timer.sync()
    t0 = timer.mark()
    val, idx = topk_graph()
    t1 = timer.mark()
    rows = torch.arange(n, device=device).repeat_interleave(k)
    cols = idx.reshape(-1)
    keys = torch.unique(torch.cat([rows * n + cols, cols * n + rows]))
    deg = torch.bincount(keys // n, minlength=n)
    w = torch.sqrt(3.0 / deg.to(torch.float32))
    t2 = timer.mark()
    knn_ms, deg_ms = timer.ms(t0, t1), timer.ms(t1, t2)
    self_first = float((idx[:, 0] == torch.arange(n, device=device)).float().mean())
    print(f"kNN: {n} x {d} features on {device}, top-{k} by inner product in chunks of {chunk} rows: {knn_ms:.1f} ms; "
          f"degree weights {deg_ms:.1f} ms; {self_first:.4f} of the rows list themselves first; w[0] = {float(w[0]):.4f}")
    print(f"RESULT torch_knn n={n} dim={d} k={k} knn_ms={knn_ms:.1f} degree_ms={deg_ms:.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    ap.add_argument("--batch", type=int, default=256, help="anchors per step (b); 6*b images per step")
    ap.add_argument("--size", type=int, default=32, help="image height and width")
    ap.add_argument("--width", type=int, default=64, help="base width (64 = the published ResNet-18)")
    ap.add_argument("--clusters", type=int, default=10, help="K")
    ap.add_argument("--phase", type=int, choices=[1, 2], default=2,
                    help="1: two views in one pass (2·RGC); 2: six views in five passes (2·RGC + AGC)")
    ap.add_argument("--in-channels", type=int, default=3, help="image channels")
    ap.add_argument("--stem-maxpool", type=int, choices=[0, 1], default=0, help="max-pool after the stem")
    ap.add_argument("--phase1-agc", type=int, choices=[0, 1], default=0, help="phase 1: also AGC between the views")
    ap.add_argument("--threads", type=int, default=0, help="CPU: torch.set_num_threads (0: leave as it is)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--time-limit", type=float, default=40.0, help="stop the timed loop after this many seconds")
    ap.add_argument("--breakdown", action="store_true", help="time forward / loss / backward / optimiser separately")
    ap.add_argument("--tf32", choices=["off", "on", "default"], default="off",
                    help="TF32 in cuDNN convolutions and cuBLAS matmuls: off = strict FP32 (as the toolkit's "
                         "default), on, or PyTorch's defaults (cuDNN TF32 on, matmul off)")
    ap.add_argument("--cudnn-benchmark", type=int, default=1, help="torch.backends.cudnn.benchmark")
    ap.add_argument("--no-step", action="store_true", help="skip the training-step benchmark")
    ap.add_argument("--knn-n", type=int, default=113000, help="kNN benchmark: samples (0 skips it)")
    ap.add_argument("--knn-dim", type=int, default=128, help="kNN benchmark: feature dimension")
    ap.add_argument("--knn-k", type=int, default=6, help="kNN benchmark: neighbours per row (self included)")
    ap.add_argument("--knn-chunk", type=int, default=4096, help="kNN benchmark: rows per matrix product")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", 0)  # newer torch wants an explicit index in set_device & co.
    if device.type == "cuda" and not torch.cuda.is_available():
        print("bench_torch_gcc_step: SKIPPED -- torch.cuda.is_available() is False")
        return 77
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = bool(args.cudnn_benchmark)
        set_tf32(args.tf32, device)
        p = torch.cuda.get_device_properties(device)
        print(f"device: {p.name} ({device}, {p.multi_processor_count} SMs, {p.total_memory / 2**30:.1f} GiB); "
              f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}; "
              f"TF32 cudnn {torch.backends.cudnn.allow_tf32} matmul {torch.backends.cuda.matmul.allow_tf32}; "
              f"cudnn.benchmark {torch.backends.cudnn.benchmark}")
    else:
        if args.threads > 0:
            torch.set_num_threads(args.threads)
        print(f"device: cpu, torch {torch.__version__}, {torch.get_num_threads()} threads")
    timer = Timer(device)
    if not args.no_step:
        bench_step(args, device, timer)
    if args.knn_n > 0:
        bench_knn(args, device, timer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
