#!/usr/bin/python3
"""The own-data quality table of the README from finished runs: for every set, GCC's ACC/NMI/ARI next to
k-means on the pixels and on the embeddings, as mean +- standard deviation over the seeds, with each run's
plan and training seconds (the sum of its epochs' times in metrics.jsonl).

  /usr/bin/python3 data_scripts/own_data_table.py RUNS_DIR
RUNS_DIR holds one folder per run named <set>-s<seed> (as the README's loop writes them), each with the
evaluation.json and config.yaml gcc_train writes.
"""
import json
import os
import re
import statistics
import sys


def figures(run):
    with open(os.path.join(run, "evaluation.json")) as f:
        e = json.load(f)
    plan = {}
    with open(os.path.join(run, "config.yaml")) as f:
        for line in f:
            m = re.match(r"^(epochs|batch_size|train_subset|base_width): (\d+)", line)
            if m:
                plan[m.group(1)] = int(m.group(2))
    plan["seconds"] = 0.0
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            if line.strip():
                plan["seconds"] += json.loads(line).get("seconds", 0.0)
    return e["gcc"], e["kmeans_pixels"], e.get("kmeans_embeddings", {}), plan


def cell(values):
    if len(values) == 1:
        return "%.3f" % values[0]
    return "%.3f ± %.3f" % (statistics.mean(values), statistics.stdev(values))


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    root = sys.argv[1]
    sets = {}
    for name in sorted(os.listdir(root)):
        m = re.match(r"^(.*)-s(\d+)$", name)
        if m and os.path.exists(os.path.join(root, name, "evaluation.json")):
            sets.setdefault(m.group(1), []).append(figures(os.path.join(root, name)))
    print("| set | seeds | plan (epochs × batch) | training s | GCC ACC | GCC NMI | GCC ARI | k-means pixels ACC | k-means pixels NMI "
          "| k-means embeddings ACC | GCC ACC >= k-means pixels |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, runs in sets.items():
        g = [r[0] for r in runs]
        p = [r[1] for r in runs]
        k = [r[2] for r in runs if "acc" in r[2]]
        plans = ", ".join("%d×%d" % (r[3].get("epochs", 0), r[3].get("batch_size", 0)) for r in runs)
        secs = ", ".join("%.0f" % r[3]["seconds"] for r in runs)
        wins = sum(1 for a, b in zip(g, p) if a["acc"] >= b["acc"])
        print("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d of %d |" % (
            name, len(runs), plans, secs, cell([x["acc"] for x in g]), cell([x["nmi"] for x in g]),
            cell([x["ari"] for x in g]), cell([x["acc"] for x in p]), cell([x["nmi"] for x in p]),
            cell([x["acc"] for x in k]) if k else "-", wins, len(runs)))


if __name__ == "__main__":
    main()
