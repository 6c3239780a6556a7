#!/usr/bin/env python3
"""Summary of a proof run (data_scripts/proof_run.sh OUTDIR): a markdown table of gcc_train against its
PyTorch twin per seed -- ACC / NMI / ARI of the last evaluation, training time (the epochs' seconds: steps
and data loading, no evaluation), wall time of the whole program (ours adds the k-means baselines and the
pictures at the end), mean images/s per phase --,
the self-labelled model's figures, and OUTDIR/curves.png (ACC and loss per epoch, both implementations).

Usage: python3 data_scripts/proof_summary.py OUTDIR   (prints the table; writes OUTDIR/curves.png)
"""
import glob
import json
import os
import re
import sys


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def last_eval(rows):
    evals = [r["eval"] for r in rows if isinstance(r.get("eval"), dict)]
    return evals[-1] if evals else None


def per_phase_speed(rows, phase):
    v = [r["images_per_second"] for r in rows if r.get("phase") == phase and r.get("images_per_second")]
    return sum(v) / len(v) if v else None


def wall_times(seed_dir):
    t = {}
    path = os.path.join(seed_dir, "times.txt")
    if os.path.exists(path):
        for line in open(path):
            m = re.match(r"(\w+) seed \d+: exit (\d+), ([\d.]+) s", line)
            if m:
                t[m.group(1)] = (int(m.group(2)), float(m.group(3)))
    return t


def fmt(v, spec="{:.4f}"):
    return "n/a" if v is None else spec.format(v)


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) == 2 else 2
    out = sys.argv[1]
    seeds = sorted(glob.glob(os.path.join(out, "seed*")), key=lambda p: int(re.sub(r"\D", "", os.path.basename(p)) or 0))
    if not seeds:
        print(f"proof_summary: no seed* folders in {out}", file=sys.stderr)
        return 1
    env = open(os.path.join(out, "env.txt")).read().strip() if os.path.exists(os.path.join(out, "env.txt")) else ""
    print("\n".join("    " + line for line in env.splitlines()))
    print()
    print("| seed | run | epochs | ACC | NMI | ARI | train s | wall s | img/s phase 1 | img/s phase 2 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    curves, train = {}, {}
    for sd in seeds:
        seed = os.path.basename(sd)[4:]
        times = wall_times(sd)
        for run in ("ours", "twin", "selflabel"):
            rows = read_jsonl(os.path.join(sd, run, "metrics.jsonl"))
            if not rows:
                continue
            ev = last_eval(rows) or {}
            rc, wall = times.get(run, (None, None))
            label = {"ours": "gcc-toolkit", "twin": "PyTorch twin", "selflabel": "gcc-toolkit + self-labelling"}[run]
            if rc not in (None, 0):
                label += f" (exit {rc})"
            train_s = sum(r.get("seconds", 0.0) for r in rows)
            train[(seed, run)] = train_s
            print(f"| {seed} | {label} | {len(rows)} | {fmt(ev.get('acc'))} | {fmt(ev.get('nmi'))} | "
                  f"{fmt(ev.get('ari'))} | {train_s:.0f} | {fmt(wall, '{:.0f}')} | "
                  f"{fmt(per_phase_speed(rows, 1), '{:.0f}')} | {fmt(per_phase_speed(rows, 2), '{:.0f}')} |")
            if run != "selflabel":
                curves[(seed, run)] = rows
        o, t = train.get((seed, "ours")), train.get((seed, "twin"))
        if o and t:
            print(f"| {seed} | speed: twin's training time / ours | | | | | {t / o:.2f}x | | | |")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(no matplotlib: curves.png not written)")
        return 0
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for (seed, run), rows in sorted(curves.items()):
        style = "-" if run == "ours" else "--"
        name = ("gcc-toolkit" if run == "ours" else "PyTorch twin") + f" seed {seed}"
        ev = [(r["epoch"] + 1, r["eval"]["acc"]) for r in rows if isinstance(r.get("eval"), dict)]
        if ev:
            ax[0].plot(*zip(*ev), style, marker="o", label=name)
        ax[1].plot([r["epoch"] + 1 for r in rows], [r["loss"] for r in rows], style, label=name)
    ax[0].set(xlabel="epoch", ylabel="ACC (evaluation set)", title="clustering accuracy")
    ax[1].set(xlabel="epoch", ylabel="training loss (epoch mean)", title="loss")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "curves.png"), dpi=110)
    print(f"\ncurves: {os.path.join(out, 'curves.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
