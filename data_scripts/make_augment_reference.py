#!/usr/bin/python3
"""Writes tests/fixtures/augment.bin: what torchvision 0.14 and PIL do to a few small images, for the
augmentation tests (tests/test_augment.cpp) of include/gcc/data/augment*.hpp. The script is the
source of truth; the fixture is committed because CI has neither PyTorch nor PIL. Run it with
Debian's python3 (python3-torchvision 0.14, python3-pil 9.4):

    /usr/bin/python3 data_scripts/make_augment_reference.py [--out tests/fixtures]

Everything is seeded and single-threaded, so a rerun writes the same bytes. The file format is the
one of data_scripts/make_reference.py (its Fixture writer is reused; tests/fixture.hpp reads it).
Images are uint8 H x W x C (C = 3 for RGB, 1 for L) and are stored as float32 [H, W, C]; normalised
tensors are float32 [C, H, W] as torchvision's ToTensor + Normalize give them.

Why PIL: the release feeds PIL images to torchvision's transforms, so RandomResizedCrop resizes with
PIL's bilinear filter (antialiased when it shrinks), ColorJitter goes through PIL's ImageEnhance
(brightness, contrast, saturation) and through HSV in uint8 (hue), RandomGrayscale through
PIL's "L" conversion, and the self-labelling strong view (SCAN's data/augment.py, which GCC's release
imports) calls PIL.ImageOps / ImageEnhance / Image.transform directly. Each PIL step rounds to uint8.

Sources
  src/a  [25, 33, 3]  smooth colour image in [20, 230] plus noise; its first two rows start with edge
                       colours (black, white, greys, primaries, near-primaries) for the HSV code paths
  src/b  [50, 50, 3]  smooth full-range colour image plus noise
  src/g  [28, 28, 1]  grey (L) image shaped like a Fashion-MNIST item: dark background, bright object

Cases (each case is a group <kind>/<source>/<k>/...; the test walks the names)
  resize/<s>/<k>/size [2] (oh, ow), /out       PIL resize BILINEAR (F.resize on a PIL image)
  crop/<s>/<k>/box [5] (top, left, h, w, S), /out   F.resized_crop (RandomResizedCrop's resample)
  brightness|contrast|saturation|hue/<s>/<k>/factor, /out   F.adjust_* (ColorJitter's four)
  gray/<s>/0/out      F.rgb_to_grayscale(num_output_channels=3) (RandomGrayscale)
  flip/<s>/0/out      F.hflip
  norm/<s>/0/mean [C], /std [C], /out [C, H, W]   ToTensor + Normalize
  eval/<s>/<k>/params [2] (R, C), /mean, /std, /out [C, C, C]   Resize(R) + CenterCrop(C) + normalise
  strong/<op>/<s>/<k>/value, /out   SCAN's op at a fixed value (sign already applied):
        autocontrast, equalize, rotate (degrees), solarize (threshold), posterize (bits, int(v)),
        color, contrast, brightness, sharpness (factor), shearx, sheary (shear), translatex,
        translatey (pixels = v * width or v * height)
  simclr/<s>/<k>/size, /mean, /std, /draw [15], /out   the whole SimCLR view for given random choices:
        draw = (top, left, h, w, flip, jitter, order0..3, brightness, contrast, saturation, hue, gray)
  strong_view/<s>/<k>/crop, /mean, /std, /draw [14], /out   the whole strong view for given random
        choices: draw = (flip, top, left, op0, v0, .., op3, v3, cutout length, centre y, centre x)
  stats/rrc/<H>x<W>/...   torchvision's RandomResizedCrop.get_params sampled 200,000 times
        (torch.manual_seed(0)): area_hist [10] (share of crops whose area fraction falls in
        [0.2 + 0.08 k, 0.2 + 0.08 (k+1)), the last bin closed), mean_area, mean_logratio,
        std_logratio, full_share (share of crops that are the whole image)
"""
import argparse
import math
import os
import sys

import numpy as np
import PIL
import PIL.Image
import PIL.ImageEnhance
import PIL.ImageOps
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import Fixture  # noqa: E402  (same file format as the other fixtures)

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
FMNIST_MEAN, FMNIST_STD = (0.2860,), (0.3530,)


# ---------------------------------------------------------------------------------------------------
# Source images
def make_sources():
    rs = np.random.RandomState(20240501)

    def smooth(h, w, lo, hi, noise):
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        chans = []
        for _ in range(3):
            fx, fy, ph = rs.uniform(0.05, 0.3), rs.uniform(0.05, 0.3), rs.uniform(0, 2 * math.pi)
            c = 0.5 + 0.3 * np.sin(fx * x + ph) + 0.2 * np.cos(fy * y + 0.7 * ph)
            chans.append(lo + (hi - lo) * c + rs.normal(0, noise, (h, w)))
        return np.clip(np.rint(np.stack(chans, -1)), lo, hi).astype(np.uint8)

    a = smooth(25, 33, 20, 230, 10.0)
    edge = [(0, 0, 0), (255, 255, 255), (128, 128, 128), (1, 1, 1), (254, 254, 254), (255, 0, 0), (0, 255, 0),
            (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255), (255, 0, 1), (1, 0, 255), (254, 255, 0),
            (10, 200, 10), (200, 10, 200), (3, 2, 1), (1, 2, 3), (2, 1, 3), (250, 251, 249), (128, 64, 0),
            (0, 64, 128), (64, 0, 128), (255, 128, 128), (17, 99, 240), (240, 99, 17), (99, 17, 240),
            (120, 121, 119), (200, 100, 150), (37, 37, 36), (36, 37, 37), (37, 36, 37), (90, 180, 0),
            (180, 0, 90), (0, 90, 180), (255, 254, 0), (0, 1, 255)]
    edge = np.array(edge, dtype=np.uint8)
    a[0, :33] = edge[:33]
    a[1, :len(edge) - 33] = edge[33:]
    b = smooth(50, 50, 0, 255, 18.0)
    y, x = np.mgrid[0:28, 0:28].astype(np.float64)
    blob = np.exp(-(((x - 13.5) / 6.0) ** 2 + ((y - 14.0) / 9.0) ** 2) ** 2)
    g = np.clip(np.rint(230 * blob + rs.normal(0, 8, (28, 28)) * (blob > 0.1)), 0, 255).astype(np.uint8)
    g[:3, :] = 0
    return {"a": PIL.Image.fromarray(a, "RGB"), "b": PIL.Image.fromarray(b, "RGB"), "g": PIL.Image.fromarray(g, "L")}


def hwc(img):
    """PIL image -> float array [H, W, C] of its uint8 values."""
    a = np.asarray(img, dtype=np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    return a.astype(np.float64)


def normalised(img, mean, std):
    return T.Normalize(mean, std)(T.ToTensor()(img))


# ---------------------------------------------------------------------------------------------------
# SCAN's strong operations (data/augment.py of the release), with the random sign taken out: the
# value passed here is the one after the release's sign flip.
def strong_op(name, img, v):
    if name == "identity":
        return img
    if name == "autocontrast":
        return PIL.ImageOps.autocontrast(img)
    if name == "equalize":
        return PIL.ImageOps.equalize(img)
    if name == "rotate":
        return img.rotate(v)
    if name == "solarize":
        return PIL.ImageOps.solarize(img, v)
    if name == "posterize":
        return PIL.ImageOps.posterize(img, int(v))
    if name == "color":
        return PIL.ImageEnhance.Color(img).enhance(v)
    if name == "contrast":
        return PIL.ImageEnhance.Contrast(img).enhance(v)
    if name == "brightness":
        return PIL.ImageEnhance.Brightness(img).enhance(v)
    if name == "sharpness":
        return PIL.ImageEnhance.Sharpness(img).enhance(v)
    if name == "shearx":
        return img.transform(img.size, PIL.Image.AFFINE, (1, v, 0, 0, 1, 0))
    if name == "sheary":
        return img.transform(img.size, PIL.Image.AFFINE, (1, 0, 0, v, 1, 0))
    if name == "translatex":  # v in pixels (the release passes v * width)
        return img.transform(img.size, PIL.Image.AFFINE, (1, 0, v, 0, 1, 0))
    if name == "translatey":  # v in pixels (the release passes v * height)
        return img.transform(img.size, PIL.Image.AFFINE, (1, 0, 0, 0, 1, v))
    raise ValueError(name)


# The order of SCAN's augment_list(); include/gcc/data/augment_strong.hpp numbers them the same way.
STRONG_OPS = ["identity", "autocontrast", "equalize", "rotate", "solarize", "color", "contrast", "brightness",
              "sharpness", "shearx", "translatex", "translatey", "posterize", "sheary"]


# ---------------------------------------------------------------------------------------------------
def simclr_case(img, size, draw, mean, std):
    """The SimCLR view of torchvision (RandomResizedCrop, flip, RandomApply(ColorJitter), RandomGrayscale,
    ToTensor, Normalize) with its random choices given: draw = (top, left, h, w, flip, jitter, order0..3,
    brightness, contrast, saturation, hue, gray)."""
    top, left, h, w, flip, jitter = (int(v) for v in draw[:6])
    order = [int(v) for v in draw[6:10]]
    b, c, s, hue = (float(np.float32(v)) for v in draw[10:14])
    gray = int(draw[14])
    x = F.resized_crop(img, top, left, h, w, [size, size], T.InterpolationMode.BILINEAR)
    if flip:
        x = F.hflip(x)
    if jitter:
        for fn in order:  # ColorJitter.forward
            if fn == 0:
                x = F.adjust_brightness(x, b)
            elif fn == 1:
                x = F.adjust_contrast(x, c)
            elif fn == 2:
                x = F.adjust_saturation(x, s)
            else:
                x = F.adjust_hue(x, hue)
    if gray:
        x = F.rgb_to_grayscale(x, num_output_channels=len(x.getbands()))
    return normalised(x, mean, std)


def strong_view_case(img, crop, draw, mean, std):
    """SCAN's strong view (RandomHorizontalFlip, RandomCrop(crop), Augment(4), ToTensor, Normalize,
    Cutout(1, L)) with its random choices given: draw = (flip, top, left, op0, v0, op1, v1, op2, v2, op3, v3,
    cut_len, cut_y, cut_x); v is the value after the sign flip (translate: a fraction of the size, as the
    release draws it)."""
    flip, top, left = (int(v) for v in draw[:3])
    x = F.hflip(img) if flip else img
    x = F.crop(x, top, left, crop, crop)
    for k in range(4):
        name = STRONG_OPS[int(draw[3 + 2 * k])]
        v = float(draw[4 + 2 * k])
        if name == "translatex":
            v = v * x.size[0]
        elif name == "translatey":
            v = v * x.size[1]
        x = strong_op(name, x, v)
    t = normalised(x, mean, std)
    # SCAN's Cutout: a hole [y - l//2, y + l//2) x [x - l//2, x + l//2), clipped, set to 0
    length, cy, cx = (int(v) for v in draw[11:14])
    hh, ww = t.shape[1], t.shape[2]
    y1, y2 = np.clip(cy - length // 2, 0, hh), np.clip(cy + length // 2, 0, hh)
    x1, x2 = np.clip(cx - length // 2, 0, ww), np.clip(cx + length // 2, 0, ww)
    t[:, y1:y2, x1:x2] = 0.0
    return t


def rrc_stats(fx, height, width, draws=200000):
    torch.manual_seed(0)
    dummy = torch.zeros(1, height, width)
    scale, ratio = (0.2, 1.0), (3.0 / 4.0, 4.0 / 3.0)
    area = np.empty(draws)
    logr = np.empty(draws)
    full = 0
    for n in range(draws):
        i, j, h, w = T.RandomResizedCrop.get_params(dummy, scale, ratio)
        area[n] = h * w / (height * width)
        logr[n] = math.log(w / h)
        full += (h == height and w == width)
    hist = np.histogram(area, bins=10, range=(0.2, 1.0))[0] / draws
    # np.histogram puts area < 0.2 (rounding can give 0.19...) nowhere: count them in bin 0
    hist[0] += np.mean(area < 0.2)
    p = f"stats/rrc/{height}x{width}/"
    fx.add(p + "area_hist", hist)
    fx.add(p + "mean_area", area.mean())
    fx.add(p + "mean_logratio", logr.mean())
    fx.add(p + "std_logratio", logr.std())
    fx.add(p + "full_share", full / draws)


def build():
    fx = Fixture()
    src = make_sources()
    for k, im in src.items():
        fx.add(f"src/{k}", hwc(im))

    resize_cases = {"a": [(16, 16), (36, 44), (13, 20), (44, 30), (25, 20), (17, 33), (7, 5)],
                    "b": [(32, 32), (21, 75)], "g": [(32, 32), (20, 20), (28, 11)]}
    for s, sizes in resize_cases.items():
        for k, (oh, ow) in enumerate(sizes):
            fx.add(f"resize/{s}/{k}/size", [oh, ow], integer=True)
            fx.add(f"resize/{s}/{k}/out", hwc(F.resize(src[s], [oh, ow], T.InterpolationMode.BILINEAR)))

    crop_cases = {"a": [(0, 0, 25, 33, 32), (3, 5, 17, 11, 32), (6, 16, 19, 17, 24), (0, 0, 5, 9, 16),
                        (24, 32, 1, 1, 8), (2, 1, 23, 32, 16)],
                  "b": [(7, 3, 40, 33, 32), (0, 0, 50, 50, 40), (20, 9, 30, 41, 32)],
                  "g": [(4, 4, 20, 20, 28), (0, 3, 14, 25, 28)]}
    for s, boxes in crop_cases.items():
        for k, (top, left, h, w, size) in enumerate(boxes):
            fx.add(f"crop/{s}/{k}/box", [top, left, h, w, size], integer=True)
            out = F.resized_crop(src[s], top, left, h, w, [size, size], T.InterpolationMode.BILINEAR)
            fx.add(f"crop/{s}/{k}/out", hwc(out))

    # ColorJitter factors: its range (0.6, 1.4) and hue (-0.1, 0.1), the strong view's (0.05, 0.95), beyond.
    # Factors are float32 values (torch draws them in float32).
    factors = {"a": [0.05, 0.6, 1.4, 2.5], "b": [1.37], "g": [0.6, 1.4]}
    hues = {"a": [-0.5, -0.1, 0.0042, 0.1], "b": [0.5], "g": [0.05]}
    for s in src:
        for k, f in enumerate(factors[s]):
            f = float(np.float32(f))
            for name, fn in (("brightness", F.adjust_brightness), ("contrast", F.adjust_contrast),
                             ("saturation", F.adjust_saturation)):
                if (s == "g" and name == "saturation") or (s == "b" and name == "contrast"):
                    continue
                fx.add(f"{name}/{s}/{k}/factor", f)
                fx.add(f"{name}/{s}/{k}/out", hwc(fn(src[s], f)))
        for k, f in enumerate(hues[s]):
            f = float(np.float32(f))
            fx.add(f"hue/{s}/{k}/factor", f)
            fx.add(f"hue/{s}/{k}/out", hwc(F.adjust_hue(src[s], f)))
    for s in ("a", "g"):
        fx.add(f"gray/{s}/0/out", hwc(F.rgb_to_grayscale(src[s], num_output_channels=len(src[s].getbands()))))
        fx.add(f"flip/{s}/0/out", hwc(F.hflip(src[s])))
    for s, (mean, std) in (("a", (CIFAR_MEAN, CIFAR_STD)), ("g", (FMNIST_MEAN, FMNIST_STD))):
        fx.add(f"norm/{s}/0/mean", mean)
        fx.add(f"norm/{s}/0/std", std)
        fx.add(f"norm/{s}/0/out", normalised(src[s], mean, std))

    eval_cases = [("a", 0, 40, 32, CIFAR_MEAN, CIFAR_STD), ("b", 0, 56, 48, IMAGENET_MEAN, IMAGENET_STD),
                  ("g", 0, 32, 28, FMNIST_MEAN, FMNIST_STD), ("a", 1, 31, 27, CIFAR_MEAN, CIFAR_STD),
                  ("a", 2, 25, 24, IMAGENET_MEAN, IMAGENET_STD)]
    for s, k, r, c, mean, std in eval_cases:
        tf = T.Compose([T.Resize(r), T.CenterCrop(c), T.ToTensor(), T.Normalize(mean, std)])
        fx.add(f"eval/{s}/{k}/params", [r, c], integer=True)
        fx.add(f"eval/{s}/{k}/mean", mean)
        fx.add(f"eval/{s}/{k}/std", std)
        fx.add(f"eval/{s}/{k}/out", tf(src[s]))

    strong_values = {
        # geometry is the same code for every channel count: most geometric cases use the grey image
        "autocontrast": {"a": [0], "g": [0]},
        "equalize": {"a": [0], "b": [0], "g": [0]},
        "rotate": {"a": [-30.0, 90.0], "g": [-17.0, 30.0, -11.3, 0.6, 90.0, -90.0, 180.0, 360.0]},
        "solarize": {"a": [0.0, 100.5], "g": [31.7, 128.0, 255.5, 256.0]},
        "posterize": {"a": [4, 6], "g": [5, 7, 8]},
        "color": {"a": [0.05, 0.95]},
        "contrast": {"a": [0.05, 0.95], "g": [0.3]},
        "brightness": {"a": [0.05, 0.95], "g": [0.7]},
        "sharpness": {"a": [0.5], "g": [0.05, 0.7, 0.95]},
        "shearx": {"a": [0.1], "g": [-0.1, 0.037]},
        "sheary": {"a": [-0.1], "g": [0.1, 0.052]},
        "translatex": {"a": [-3.3], "g": [2.2, -2.8, 0.6, -0.35]},
        "translatey": {"a": [2.5], "g": [-2.9, 1.3, 2.8]},
    }
    for name, per_src in strong_values.items():
        for s, values in per_src.items():
            for k, v in enumerate(values):
                v = float(np.float32(v))  # the test reads the value back as float32
                fx.add(f"strong/{name}/{s}/{k}/value", v)
                fx.add(f"strong/{name}/{s}/{k}/out", hwc(strong_op(name, src[s], v)))

    # Whole views with given random choices.
    simclr_cases = [
        ("a", 0, 32, (3, 5, 20, 25, 1, 1, 2, 0, 3, 1, 0.71, 1.32, 0.64, -0.083, 0), CIFAR_MEAN, CIFAR_STD),
        ("a", 1, 32, (0, 0, 25, 33, 0, 1, 3, 2, 1, 0, 1.38, 0.62, 1.21, 0.097, 1), CIFAR_MEAN, CIFAR_STD),
        ("b", 0, 32, (10, 4, 31, 28, 1, 0, 0, 1, 2, 3, 1.0, 1.0, 1.0, 0.0, 1), IMAGENET_MEAN, IMAGENET_STD),
        ("b", 1, 24, (0, 0, 50, 50, 0, 1, 0, 1, 2, 3, 1.4, 0.6, 0.6, -0.1, 0), IMAGENET_MEAN, IMAGENET_STD),
        ("g", 0, 28, (2, 3, 19, 22, 1, 1, 1, 3, 0, 2, 0.83, 1.19, 0.9, 0.05, 0), FMNIST_MEAN, FMNIST_STD),
    ]
    for s, k, size, draw, mean, std in simclr_cases:
        draw = [float(np.float32(v)) for v in draw]
        fx.add(f"simclr/{s}/{k}/size", size)
        fx.add(f"simclr/{s}/{k}/draw", draw)
        fx.add(f"simclr/{s}/{k}/mean", mean)
        fx.add(f"simclr/{s}/{k}/std", std)
        fx.add(f"simclr/{s}/{k}/out", simclr_case(src[s], size, draw, mean, std))

    strong_cases = [
        ("b", 0, 32, (1, 7, 11, 3, -21.5, 8, 0.4, 10, 0.06, 2, 0.5, 16, 3, 30), CIFAR_MEAN, CIFAR_STD),
        ("b", 1, 32, (0, 18, 0, 12, 5.7, 13, -0.08, 4, 90.2, 1, 0.9, 15, 20, 9), CIFAR_MEAN, CIFAR_STD),
        ("a", 0, 25, (1, 0, 5, 9, 0.1, 5, 0.33, 11, -0.07, 6, 0.8, 1, 14, 14), CIFAR_MEAN, CIFAR_STD),
        ("g", 0, 28, (1, 0, 0, 7, 0.6, 3, 12.0, 0, 0.0, 5, 0.2, 9, 26, 1), FMNIST_MEAN, FMNIST_STD),
    ]
    for s, k, crop, draw, mean, std in strong_cases:
        draw = [float(np.float32(v)) for v in draw]
        fx.add(f"strong_view/{s}/{k}/crop", crop)
        fx.add(f"strong_view/{s}/{k}/draw", draw)
        fx.add(f"strong_view/{s}/{k}/mean", mean)
        fx.add(f"strong_view/{s}/{k}/std", std)
        fx.add(f"strong_view/{s}/{k}/out", strong_view_case(src[s], crop, draw, mean, std))

    rrc_stats(fx, 32, 32)
    rrc_stats(fx, 25, 33)
    rrc_stats(fx, 96, 64)
    return fx


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures"),
                    help="directory for augment.bin (default: tests/fixtures of this checkout)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torchvision {torchvision.__version__}, PIL {PIL.__version__}, torch {torch.__version__}")
    fx = build()
    os.makedirs(args.out, exist_ok=True)
    size = fx.write(os.path.join(args.out, "augment.bin"))
    print(f"augment.bin {len(fx.items):4d} tensors {size / 1e6:8.3f} MB")


if __name__ == "__main__":
    main()
