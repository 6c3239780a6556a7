#!/usr/bin/python3
"""Small image sets for the own-data quality table (README, "Your own images"): seeded random subsets of
Fashion-MNIST (all 70,000 images, from Debian's dataset-fashion-mnist), optionally blurred by
down-sampling to S x S and up-sampling back to 28 x 28 (PIL bilinear), written as PNG folders with one
sub-folder per class -- the layout a user's labelled folder has.

  /usr/bin/python3 data_scripts/make_small_sets.py OUT_DIR [--fashion DIR]
writes OUT_DIR/fmnist-1000-8px, fmnist-2000-16px, fmnist-5000-28px (name: images, resolution).
"""
import argparse
import gzip
import os
import sys

try:
    import numpy as np
    from PIL import Image
except ImportError as e:  # pragma: no cover
    sys.exit("make_small_sets.py: needs numpy and PIL (apt install python3-numpy python3-pil): %s" % e)

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
SETS = [(1000, 8, 1), (2000, 16, 2), (5000, 28, 3)]  # (images, resolution, seed)


def read_idx(path, header):
    with gzip.open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, dtype=np.uint8, offset=header)


def load_fashion(root):
    x, y = [], []
    for split in ("train", "t10k"):
        img = os.path.join(root, split + "-images-idx3-ubyte.gz")
        lab = os.path.join(root, split + "-labels-idx1-ubyte.gz")
        if not os.path.exists(img):
            sys.exit("make_small_sets.py: '%s' is missing; install dataset-fashion-mnist or pass --fashion DIR" % img)
        x.append(read_idx(img, 16).reshape(-1, 28, 28))
        y.append(read_idx(lab, 8))
    return np.concatenate(x), np.concatenate(y)


def write_set(out, x, y, n, res, seed):
    name = "fmnist-%d-%dpx" % (n, res)
    folder = os.path.join(out, name)
    idx = np.sort(np.random.default_rng(seed).choice(len(x), size=n, replace=False))
    for c in CLASSES:
        os.makedirs(os.path.join(folder, c), exist_ok=True)
    for i in idx:
        im = Image.fromarray(x[i])
        if res != 28:
            im = im.resize((res, res), Image.BILINEAR).resize((28, 28), Image.BILINEAR)
        im.save(os.path.join(folder, CLASSES[y[i]], "%05d.png" % i))
    print("make_small_sets.py: %s: %d images (%d x %d, up-sampled to 28 x 28)" % (folder, n, res, res))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="output folder")
    ap.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist", help="Fashion-MNIST IDX folder")
    a = ap.parse_args()
    x, y = load_fashion(a.fashion)
    for n, res, seed in SETS:
        write_set(a.out, x, y, n, res, seed)


if __name__ == "__main__":
    main()
