#!/usr/bin/python3
"""Checks, with PyTorch, that gcc-toolkit's checkpoints and the release's are interchangeable. Run by the
ctest entry checkpoint_torch (tests/check_checkpoint_torch.sh) with Debian's python3 (python3-torch):

    /usr/bin/python3 data_scripts/check_checkpoint_torch.py DIR

DIR holds, for each case (cifar: resnet18-cifar width 8, K 10, 32x32; stl: resnet18-stl width 4, K 15,
96x96), what the C++ test "io: checkpoint export for PyTorch" (tests/test_io.cpp) writes:
    <case>.safetensors                      our checkpoint (model only)
    <case>_input.npy                        a fixed input [3, 3, S, S]
    <case>_logits.npy, <case>_embedding.npy our model's outputs in eval mode
Steps per case:
 1. parse the safetensors file by hand (no `safetensors` package), keep the tensors of the model modules
    named in its metadata, and load them with load_state_dict(strict=True) into the model built as the
    release builds it (data_scripts/make_reference.py's End2End: ResNet-18 + contrastive head
    Linear-ReLU-Linear + cluster head in a ModuleList); num_batches_tracked must arrive as int64;
 2. run the forward pass in eval mode and compare logits and embeddings with ours;
 3. build a release-style checkpoint with torch.save ({'model': state dict with DataParallel's 'module.'
    prefixes, 'epoch', 'optimizer'}) from a freshly initialised reference model, convert it with
    data_scripts/convert_release_checkpoint.py into <case>_converted.safetensors, and write torch's
    outputs on the same input to <case>_release_logits.npy / <case>_release_embedding.npy, which the
    C++ test "io: converted release checkpoint matches PyTorch" then compares with our model's.
Exit status: 0 all matched, 1 a mismatch or error, 77 torch is not importable (ctest reports SKIPPED).
"""
import os
import sys

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print(f"SKIPPED: {e}")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_release_checkpoint as conv  # noqa: E402
import make_reference as ref  # noqa: E402

ATOL = 1e-4  # float32 vs float32 with different summation orders; outputs are O(1)


def build_model(meta):
    preset = meta["backbone_preset"]
    variant = {"resnet18-cifar": "cifar", "resnet18-stl": "stl"}.get(preset)
    if variant is None:
        raise ValueError(f"no reference model for backbone {preset}")
    return ref.End2End(variant, int(meta["base_width"]), int(meta["num_clusters"]))


def model_state(tensors, meta):
    mods = set(meta["model_modules"].split(","))
    return {k: torch.from_numpy(v) for k, v in tensors.items() if k.split(".")[0] in mods}


def forward(model, x):
    model.eval()
    with torch.no_grad():
        emb, logits = model(x)
    return emb.numpy(), logits.numpy()


def compare(what, got, want):
    d = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if got.size else 0.0
    ok = got.shape == want.shape and d <= ATOL
    print(f"  {what}: shape {list(got.shape)}, largest difference {d:.3g} {'ok' if ok else 'MISMATCH'}")
    return ok


def check_case(d, case):
    base = os.path.join(d, case)
    print(f"{case}:")
    tensors, meta = conv.read_safetensors(base + ".safetensors")
    if meta.get("format") != conv.FORMAT:
        raise ValueError(f"{base}.safetensors: metadata format is {meta.get('format')!r}")
    model = build_model(meta)
    sd = model_state(tensors, meta)
    for k, v in sd.items():
        if k.endswith("num_batches_tracked") and v.dtype != torch.int64:
            raise ValueError(f"{k} is {v.dtype}, PyTorch keeps it as int64")
    model.load_state_dict(sd, strict=True)  # raises on any missing/unexpected name or shape
    for k, v in model.state_dict().items():
        if not torch.equal(v, sd[k]):
            raise ValueError(f"{k} differs after load_state_dict")
    print(f"  load_state_dict(strict=True): {len(sd)} tensors")
    x = torch.from_numpy(np.load(base + "_input.npy"))
    emb, logits = forward(model, x)
    ok = compare("logits", logits, np.load(base + "_logits.npy"))
    ok &= compare("embedding", emb, np.load(base + "_embedding.npy"))

    # A release-style checkpoint, converted for the C++ side.
    gen = torch.Generator().manual_seed(1234)
    rel = build_model(meta)
    ref.init_model(rel, gen)  # random weights and BatchNorm statistics
    pth = base + "_release.pth.tar"
    torch.save({"epoch": 17, "model": {"module." + k: v for k, v in rel.state_dict().items()},
                "optimizer": {"state": {}, "param_groups": []}, "best_acc": 0.5}, pth)
    n = conv.convert(pth, base + "_converted.safetensors")
    back, bmeta = conv.read_safetensors(base + "_converted.safetensors")
    if bmeta.get("release_epoch") != "17" or set(back) != set(rel.state_dict()):
        raise ValueError("converted file: wrong names or metadata")
    for k, v in rel.state_dict().items():
        if back[k].dtype != (np.int64 if k.endswith("num_batches_tracked") else np.float32) or \
                not np.array_equal(back[k], v.numpy()):
            raise ValueError(f"converted {k} differs")
    remb, rlogits = forward(rel, x)
    np.save(base + "_release_logits.npy", rlogits.astype(np.float32))
    np.save(base + "_release_embedding.npy", remb.astype(np.float32))
    print(f"  release-style checkpoint converted: {n} tensors -> {case}_converted.safetensors")
    return ok


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 1
    d = sys.argv[1]
    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    ok = True
    for case in ("cifar", "stl"):
        try:
            ok &= check_case(d, case)
        except (ValueError, OSError, RuntimeError, KeyError) as e:
            print(f"  FAILED: {e}")
            ok = False
    print("check_checkpoint_torch:", "all outputs match" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
