#!/usr/bin/python3
"""Converts a checkpoint of the authors' PyTorch release (a .pth.tar / .pth written by torch.save) into
the safetensors file gcc-toolkit loads (gcc::io::Checkpoint::load + load_model). Run it with Debian's
python3 (python3-torch); the `safetensors` package is not needed (the format is written by hand below).

    /usr/bin/python3 data_scripts/convert_release_checkpoint.py end2end_checkpoint.pth.tar model.safetensors

What it accepts: a dict with the state dict under 'model' (the release's end2end/selflabel checkpoints),
'state_dict' or 'model_state_dict', or a bare state dict (the release's *_model.pth.tar files); the
'module.' prefixes of nn.DataParallel are stripped. Tensor names stay the release's (backbone.*,
contrastive_head.*, cluster_head.*), which are our names. Floating-point tensors are written as F32,
integer ones (BatchNorm's num_batches_tracked) as I64. The release's optimizer state is not converted
(its layout is keyed by parameter index); a converted file is a model-only file, loadable for evaluation,
self-labelling (ModelLoadOptions::without_contrastive_head) or as the start of a new run.

Options:
    --drop-contrastive-head   leave contrastive_head.* out (what the release's self-labelling does)
    --allow-other-keys        keep tensors outside backbone/contrastive_head/cluster_head

read_safetensors() and write_safetensors() are also used by data_scripts/check_checkpoint_torch.py.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

FORMAT = "gcc-toolkit checkpoint"
MODEL_MODULES = ("backbone", "contrastive_head", "cluster_head")

# safetensors dtype <-> numpy (little-endian)
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}


def read_safetensors(path):
    """Returns ({name: numpy array}, {metadata}) with every offset checked (as strictly as our reader)."""
    with open(path, "rb") as f:
        b = f.read()
    if len(b) < 8:
        raise ValueError(f"{path}: truncated ({len(b)} bytes)")
    (n,) = struct.unpack("<Q", b[:8])
    if n > len(b) - 8:
        raise ValueError(f"{path}: header of {n} bytes, only {len(b) - 8} follow")
    header = json.loads(b[8:8 + n].decode("utf-8"))
    data = b[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    out, ranges = {}, []
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in DTYPES:
            raise ValueError(f"{path}: tensor {name}: unknown dtype {dt}")
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        npdt = np.dtype(DTYPES[dt])
        if end - begin != int(np.prod(shape, dtype=np.int64)) * npdt.itemsize or end > len(data):
            raise ValueError(f"{path}: tensor {name}: bad data_offsets {begin, end} for {dt} {list(shape)}")
        out[name] = np.frombuffer(data[begin:end], dtype=npdt).reshape(shape).copy()
        ranges.append((begin, end, name))
    at = 0
    for begin, end, name in sorted(ranges):
        if begin != at:
            raise ValueError(f"{path}: tensor {name} starts at {begin}, expected {at} (gap or overlap)")
        at = end
    if at != len(data):
        raise ValueError(f"{path}: {len(data) - at} bytes after the last tensor")
    return out, meta


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, numpy array) in order (float32 / int64 arrays). Same layout as
    gcc::io::Safetensors: header in the given order, data of 8-byte types first, header padded with
    spaces to a multiple of 8. Written atomically (temporary file, fsync, rename)."""
    dt_of = {np.dtype("<f4"): "F32", np.dtype("<i8"): "I64", np.dtype("<f8"): "F64", np.dtype("<i4"): "I32"}
    # (np.ascontiguousarray would turn a 0-d array into shape [1]; 0-d must stay 0-d)
    arrays = [(name, np.array(a, order="C", copy=True)) for name, a in tensors]
    order = sorted(range(len(arrays)), key=lambda i: -arrays[i][1].dtype.itemsize)  # stable
    begin, off = {}, 0
    for i in order:
        begin[i] = off
        off += arrays[i][1].nbytes
    head = {}
    if metadata:
        head["__metadata__"] = {str(k): str(v) for k, v in sorted(metadata.items())}
    for i, (name, a) in enumerate(arrays):
        if a.dtype not in dt_of:
            raise ValueError(f"tensor {name}: unsupported dtype {a.dtype}")
        head[name] = {"dtype": dt_of[a.dtype], "shape": list(a.shape), "data_offsets": [begin[i], begin[i] + a.nbytes]}
    h = json.dumps(head, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for i in order:
                f.write(arrays[i][1].astype(arrays[i][1].dtype.newbyteorder("<"), copy=False).tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def release_state_dict(obj, source="checkpoint"):
    """The model's state dict inside whatever torch.load returned, without 'module.' prefixes."""
    import torch
    sd = None
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                sd = obj[key]
                break
        if sd is None and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            sd = obj
    elif hasattr(obj, "state_dict"):
        sd = obj.state_dict()
    if sd is None:
        keys = list(obj.keys()) if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{source}: no state dict found (expected a dict with 'model' or 'state_dict', "
                         f"or a state dict itself); top-level keys: {keys}")
    out = {}
    for k, v in sd.items():
        while k.startswith("module."):
            k = k[len("module."):]
        if k in out:
            raise ValueError(f"{source}: tensor {k} appears twice after stripping 'module.'")
        out[k] = v
    return out


def convert(src, dst, drop_contrastive_head=False, allow_other_keys=False):
    import torch
    obj = torch.load(src, map_location="cpu")
    sd = release_state_dict(obj, src)
    tensors, modules = [], set()
    for name, t in sd.items():
        top = name.split(".")[0]
        if drop_contrastive_head and top == "contrastive_head":
            continue
        if top not in MODEL_MODULES and not allow_other_keys:
            raise ValueError(f"{src}: tensor {name} is not part of the release's model "
                             f"({', '.join(MODEL_MODULES)}); pass --allow-other-keys to keep it")
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{src}: {name} is a {type(t).__name__}, not a tensor")
        t = t.detach().cpu()
        if t.is_floating_point():
            a = t.to(torch.float32).numpy()
        elif t.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool):
            a = t.to(torch.int64).numpy()
        else:
            raise ValueError(f"{src}: tensor {name} has unsupported dtype {t.dtype}")
        tensors.append((name, a))
        modules.add(top)
    if not tensors:
        raise ValueError(f"{src}: no tensors to convert")
    meta = {"format": FORMAT, "format_version": "1", "model_modules": ",".join(sorted(modules)),
            "converted_from": os.path.basename(src)}
    if isinstance(obj, dict) and isinstance(obj.get("epoch"), int):
        meta["release_epoch"] = str(obj["epoch"])
    write_safetensors(dst, tensors, meta)
    return len(tensors)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="the release's .pth.tar / .pth")
    ap.add_argument("dst", help="the .safetensors file to write")
    ap.add_argument("--drop-contrastive-head", action="store_true")
    ap.add_argument("--allow-other-keys", action="store_true")
    args = ap.parse_args()
    try:
        n = convert(args.src, args.dst, args.drop_contrastive_head, args.allow_other_keys)
    except (ValueError, OSError) as e:
        print(f"convert_release_checkpoint: {e}", file=sys.stderr)
        return 1
    print(f"convert_release_checkpoint: wrote {n} tensors to {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
