#!/usr/bin/python3
"""Times torchvision's SimCLR transform (the release's "simclr" augmentation strategy), its evaluation
transform and SCAN's strong transform on PIL images, one thread, the same views as
examples/bench_augment.cpp. Prints images/s.

Run with Debian's python3 (python3-torchvision):  /usr/bin/python3 data_scripts/bench_augment_torchvision.py --help

The images are PIL images made once beforehand (what a torchvision dataset's __getitem__ hands to the
transform after Image.fromarray), so only the transform is timed. The strong transform is SCAN's
data/augment.py (Augment(4) + Cutout) written out here with the same PIL calls.
"""
import argparse
import math
import random
import time

import numpy as np
import PIL
import PIL.Image
import PIL.ImageEnhance
import PIL.ImageOps
import torch
import torchvision
import torchvision.transforms as T

CIFAR = dict(size=32, resize=40, crop=32, cutout=16, mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.2010))
STL = dict(size=96, resize=112, crop=96, cutout=32, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def simclr_transform(p):
    return T.Compose([
        T.RandomResizedCrop(p["size"], scale=(0.2, 1.0)),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.ToTensor(),
        T.Normalize(p["mean"], p["std"]),
    ])


def eval_transform(p):
    return T.Compose([T.Resize(p["resize"]), T.CenterCrop(p["crop"]), T.ToTensor(), T.Normalize(p["mean"], p["std"])])


# SCAN's strong augmentation (data/augment.py), the release's "ours" strategy.
def _mirror(v):
    return -v if random.random() > 0.5 else v


AUGMENT_LIST = [
    (lambda img, v: img, 0, 1),
    (lambda img, v: PIL.ImageOps.autocontrast(img), 0, 1),
    (lambda img, v: PIL.ImageOps.equalize(img), 0, 1),
    (lambda img, v: img.rotate(_mirror(v)), -30, 30),
    (lambda img, v: PIL.ImageOps.solarize(img, v), 0, 256),
    (lambda img, v: PIL.ImageEnhance.Color(img).enhance(v), 0.05, 0.95),
    (lambda img, v: PIL.ImageEnhance.Contrast(img).enhance(v), 0.05, 0.95),
    (lambda img, v: PIL.ImageEnhance.Brightness(img).enhance(v), 0.05, 0.95),
    (lambda img, v: PIL.ImageEnhance.Sharpness(img).enhance(v), 0.05, 0.95),
    (lambda img, v: img.transform(img.size, PIL.Image.AFFINE, (1, _mirror(v), 0, 0, 1, 0)), -0.1, 0.1),
    (lambda img, v: img.transform(img.size, PIL.Image.AFFINE, (1, 0, _mirror(v) * img.size[0], 0, 1, 0)), -0.1, 0.1),
    (lambda img, v: img.transform(img.size, PIL.Image.AFFINE, (1, 0, 0, 0, 1, _mirror(v) * img.size[1])), -0.1, 0.1),
    (lambda img, v: PIL.ImageOps.posterize(img, int(v)), 4, 8),
    (lambda img, v: img.transform(img.size, PIL.Image.AFFINE, (1, 0, 0, _mirror(v), 1, 0)), -0.1, 0.1),
]


class Augment:
    def __init__(self, n):
        self.n = n

    def __call__(self, img):
        for op, lo, hi in random.choices(AUGMENT_LIST, k=self.n):
            img = op(img, random.random() * float(hi - lo) + lo)
        return img


class Cutout:
    def __init__(self, length):
        self.length = length

    def __call__(self, img):
        h, w = img.size(1), img.size(2)
        length = random.randint(1, self.length)
        mask = np.ones((h, w), np.float32)
        y, x = np.random.randint(h), np.random.randint(w)
        y1, y2 = np.clip(y - length // 2, 0, h), np.clip(y + length // 2, 0, h)
        x1, x2 = np.clip(x - length // 2, 0, w), np.clip(x + length // 2, 0, w)
        mask[y1:y2, x1:x2] = 0.0
        return img * torch.from_numpy(mask).expand_as(img)


def strong_transform(p):
    return T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(p["crop"]), Augment(4), T.ToTensor(),
                      T.Normalize(p["mean"], p["std"]), Cutout(p["cutout"])])


def make_images(count, size, seed):
    rs = np.random.RandomState(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    out = []
    for _ in range(count):
        fx, fy, ph = rs.uniform(0.05, 0.4), rs.uniform(0.05, 0.4), rs.uniform(0, 6.3)
        chans = [128 + 80 * np.sin(fx * x + ph + c) * np.cos(fy * y - c) + 15 * rs.normal(size=x.shape)
                 for c in range(3)]
        out.append(PIL.Image.fromarray(np.clip(np.stack(chans, -1), 0, 255).astype(np.uint8), "RGB"))
    return out


def time_transform(tf, images, seconds):
    for img in images[:50]:  # warm up
        tf(img)
    n, t0 = 0, time.perf_counter()
    while True:
        for img in images:
            tf(img)
        n += len(images)
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return n / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="time per measurement (default 3)")
    ap.add_argument("--pool", type=int, default=256, help="distinct source images per size (default 256)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    print(f"torchvision {torchvision.__version__} (PIL {PIL.__version__}), 1 thread, images/s:")
    for name, p in (("cifar", CIFAR), ("stl", STL)):
        imgs = make_images(a.pool, p["size"], 7)
        simclr = time_transform(simclr_transform(p), imgs, a.seconds)
        ev = time_transform(eval_transform(p), imgs, a.seconds)
        strong = time_transform(strong_transform(p), imgs, a.seconds)
        print(f"  {name:5s} {p['size']:3d}x{p['size']:<3d}  SimCLR view {simclr:9.0f}   eval view "
              f"({p['resize']}->{p['crop']}) {ev:9.0f}   strong view {strong:9.0f}")


if __name__ == "__main__":
    main()
