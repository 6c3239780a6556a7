#!/usr/bin/python3
"""A t-SNE map of a run's features: RUN_DIR/features.npy [N, D] embedded in 2-D with scikit-learn's TSNE
(after PCA to 50 dimensions when D > 50) on a seeded random subset of at most --max-points images, drawn
with matplotlib coloured by predicted cluster (RUN_DIR/predictions.npy [N]) and, when RUN_DIR/targets.npy
holds labels (-1 = unlabelled), a second panel coloured by true class. Writes RUN_DIR/embedding_tsne.png
(or --out).

Run with Debian's python3 (python3-sklearn, python3-matplotlib):
  /usr/bin/python3 data_scripts/plot_embedding.py runs/cifar10 --max-points 5000 --seed 0

Exit status: 0 written, 1 bad input (missing or inconsistent files), 2 a missing Python package.
"""
import argparse
import os
import sys


def fail(msg, status=1):
    print(f"plot_embedding.py: {msg}", file=sys.stderr)
    sys.exit(status)


def import_packages():
    missing = []
    try:
        import numpy  # noqa: F401
    except ImportError:
        missing.append(("numpy", "python3-numpy"))
    try:
        import sklearn  # noqa: F401
    except ImportError:
        missing.append(("scikit-learn", "python3-sklearn"))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        missing.append(("matplotlib", "python3-matplotlib"))
    if missing:
        names = ", ".join(m[0] for m in missing)
        pkgs = " ".join(m[1] for m in missing)
        fail(f"{names} cannot be imported by {sys.executable}; install with: sudo apt-get install -y {pkgs}", 2)


def load(run_dir, name, required=True):
    import numpy as np
    path = os.path.join(run_dir, name)
    if not os.path.isfile(path):
        if required:
            fail(f"'{path}' does not exist; pass the output folder of gcc_train / gcc_eval (it writes {name})")
        return None
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any reading problem is reported the same way
        fail(f"cannot read '{path}': {e}")


def read_run(run_dir):
    features = load(run_dir, "features.npy")
    predictions = load(run_dir, "predictions.npy")
    targets = load(run_dir, "targets.npy", required=False)
    if features.ndim != 2 or features.shape[0] < 2:
        fail(f"'{run_dir}/features.npy' has shape {features.shape}; expected [N, D] with N >= 2")
    n = features.shape[0]
    if predictions.shape != (n,):
        fail(f"'{run_dir}/predictions.npy' has shape {predictions.shape}; expected [{n}] like features.npy")
    if targets is not None and targets.shape != (n,):
        fail(f"'{run_dir}/targets.npy' has shape {targets.shape}; expected [{n}] like features.npy")
    if targets is not None and not (targets >= 0).any():
        targets = None  # unlabelled data: no second panel
    return features, predictions, targets


def embed(features, seed):
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    x = features.astype(np.float32)
    if x.shape[1] > 50:
        x = PCA(n_components=50, random_state=seed).fit_transform(x)
    perplexity = float(min(30.0, max(2.0, (x.shape[0] - 1) / 3.0)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def colours(values):
    """RGBA of each group value: the v-th colour of tab10 / tab20 for up to 20 groups, else spread."""
    import matplotlib.pyplot as plt
    top = int(values.max()) if values.size else 0
    if top < 10:
        return plt.get_cmap("tab10")(values % 10)
    if top < 20:
        return plt.get_cmap("tab20")(values % 20)
    return plt.get_cmap("nipy_spectral")(values / top)


def scatter(ax, xy, values, title, names=None):
    import numpy as np
    keep = values >= 0
    size = float(min(12.0, max(2.0, 6000.0 / len(values))))  # points: smaller the more there are
    if (~keep).any():
        ax.scatter(xy[~keep, 0], xy[~keep, 1], s=size, color="lightgrey", linewidths=0, label="unlabelled")
    rgba = colours(values[keep])
    ax.scatter(xy[keep, 0], xy[keep, 1], s=size, c=rgba, linewidths=0)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    groups = np.unique(values[keep])
    if len(groups) <= 20:  # a legend of the groups present, in the scatter's colours
        for v, c in zip(groups, colours(groups)):
            label = names[v] if names is not None and v < len(names) else str(v)
            ax.scatter([], [], s=12, color=c, label=label)
        ax.legend(fontsize=7, loc="best", ncol=2 if len(groups) > 10 else 1, frameon=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", help="a run's output folder with features.npy and predictions.npy")
    ap.add_argument("--out", help="the PNG to write (default: RUN_DIR/embedding_tsne.png)")
    ap.add_argument("--max-points", type=int, default=5000, help="images embedded at most (random subset; default 5000)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the subset, PCA and t-SNE (default 0)")
    a = ap.parse_args()
    if a.max_points < 2:
        fail(f"--max-points must be >= 2, got {a.max_points}")
    if not os.path.isdir(a.run_dir):
        fail(f"'{a.run_dir}' is not a folder; pass the output folder of a run")
    import_packages()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    features, predictions, targets = read_run(a.run_dir)
    n = features.shape[0]
    rng = np.random.default_rng(a.seed)
    idx = np.sort(rng.choice(n, size=a.max_points, replace=False)) if n > a.max_points else np.arange(n)
    xy = embed(features[idx], a.seed)
    pred = predictions[idx].astype(np.int64)
    panels = 2 if targets is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 6.5), squeeze=False)
    k = len(np.unique(predictions))
    scatter(axes[0][0], xy, pred, f"t-SNE of {len(idx)} of {n} images: predicted cluster ({k} clusters)")
    if targets is not None:
        scatter(axes[0][1], xy, targets[idx].astype(np.int64), "true class")
    fig.tight_layout()
    out = a.out or os.path.join(a.run_dir, "embedding_tsne.png")
    fig.savefig(out, dpi=100)
    print(f"wrote {out} ({len(idx)} of {n} points, {features.shape[1]}-dim features)")


if __name__ == "__main__":
    main()
