#!/usr/bin/env python3
"""JPEG decoding reference: small JPEG files written by PIL and the pixels PIL decodes from them (the
decoder torchvision's ImageFolder uses). tests/test_image_decode.cpp checks that gcc::decode_image_memory
gives the same bytes. Usage (from the repository root; needs python3-pil and python3-numpy):
    /usr/bin/python3 data_scripts/make_jpeg_reference.py [OUT_DIR]     (default tests/fixtures/jpeg)
Writes <name>.jpg and <name>.npy (uint8 [H, W, 3] for colour, [H, W] for grey) for: baseline 4:2:0,
baseline 4:4:4, progressive 4:2:0 with odd sizes, and greyscale."""
import os
import sys

import numpy as np
from PIL import Image


def pattern(h, w, seed):
    """A smooth colour field with edges and noise: exercises IDCT, upsampling and clamping."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / 3.0 + seed)
    g = 128 + 100 * np.cos(y / 4.0 - seed)
    b = np.where((x // 5 + y // 7) % 2 == 0, 230.0, 20.0)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/jpeg"
    os.makedirs(out, exist_ok=True)
    cases = [
        ("baseline420", pattern(24, 40, 1), dict(quality=80, subsampling=2)),
        ("baseline444", pattern(16, 16, 2), dict(quality=90, subsampling=0)),
        ("progressive420", pattern(19, 27, 3), dict(quality=70, subsampling=2, progressive=True)),
        ("grey", pattern(21, 13, 4)[:, :, 1], dict(quality=85)),
    ]
    for name, pixels, opts in cases:
        path = os.path.join(out, name + ".jpg")
        Image.fromarray(pixels).save(path, "JPEG", **opts)
        with Image.open(path) as im:
            decoded = np.asarray(im.convert("RGB") if pixels.ndim == 3 else im)
        np.save(os.path.join(out, name + ".npy"), np.ascontiguousarray(decoded))
        print(f"{path}: {decoded.shape} {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
