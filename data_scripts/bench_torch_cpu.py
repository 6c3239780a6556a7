#!/usr/bin/python3
"""Times one training step (forward, backward, SGD update) of a conv-BN-ReLU stack in PyTorch on
the CPU, the same stack as examples/bench_cpu_step.cpp. Prints images/s and GFLOP/s on one line.

Run with Debian's python3 (python3-torch):  /usr/bin/python3 data_scripts/bench_torch_cpu.py --help
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def build_stack(in_ch, width, depth):
    layers = []
    c = in_ch
    for _ in range(depth):
        layers += [nn.Conv2d(c, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        c = width
    return nn.Sequential(*layers)


def conv_macs(in_ch, width, depth, size):
    macs = 0
    c = in_ch
    for _ in range(depth):
        macs += c * width * 9 * size * size
        c = width
    return macs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--in-channels", type=int, default=16)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = build_stack(a.in_channels, a.width, a.depth)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(a.batch, a.in_channels, a.size, a.size)
    r = torch.randn(a.batch, a.width, a.size, a.size)

    def step():
        opt.zero_grad(set_to_none=True)
        y = net(x)
        loss = (y * r).mean()
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = (time.perf_counter() - t0) / a.steps
    flops = 3 * 2 * conv_macs(a.in_channels, a.width, a.depth, a.size) * a.batch
    print(f"pytorch {torch.__version__} threads={a.threads}: step {dt * 1e3:.1f} ms, "
          f"{a.batch / dt:.1f} images/s, {flops / dt / 1e9:.1f} GFLOP/s (conv FLOPs x3)")


if __name__ == "__main__":
    main()
