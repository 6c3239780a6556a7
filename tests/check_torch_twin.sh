#!/bin/sh
# ctest entry torch_twin: the PyTorch twin of the training loop (data_scripts/reference_gcc_torch.py)
# computes the same first-step losses as gcc_train, and trains one tiny epoch of each phase.
#  1. gcc_train on 300 Fashion-MNIST images, 2 epochs (epoch 1 is phase 2), --dump-steps: the model before
#     the first step of each phase, the views, the node weights and the losses (train/step_dump.hpp);
#  2. reference_gcc_torch.py --check-steps: the twin's losses on the same views and weights, 1e-4;
#  3. the twin trains the same 2 epochs on the same 300 images (--train-ids) and writes metrics.jsonl
#     and evaluation.json.
# Needs Debian's /usr/bin/python3 with torch and torchvision and the Fashion-MNIST files; without them,
# exits 77 (SKIPPED) saying which is missing.
# Usage: sh tests/check_torch_twin.sh <folder of gcc_train> <data_scripts dir>
set -u
bin=$1
scripts=$2
if ! /usr/bin/python3 -c "import torch, torchvision, numpy, yaml, scipy" > /dev/null 2>&1; then
  echo "SKIPPED: /usr/bin/python3 cannot import torch, torchvision, numpy, yaml and scipy"
  echo "         (Debian: apt-get install python3-torch python3-torchvision python3-yaml python3-scipy)"
  exit 77
fi
fm=${GCC_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -f "$fm/train-images-idx3-ubyte.gz" ] && [ ! -f "$fm/train-images-idx3-ubyte" ]; then
  echo "SKIPPED: no Fashion-MNIST files in $fm (Debian: apt-get install dataset-fashion-mnist)"
  exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/gcc_twin_check.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAILED: $*"; exit 1; }

"$bin/gcc_train" --preset fashion-mnist --data-root "$fm" --train_subset 300 --epochs 2 --switch_epoch 0 \
  --refresh_every 1 --batch_size 64 --eval_set train --threads 2 --out "$dir/ours" --dump-steps "$dir/dump" \
  --quiet > "$dir/ours.log" 2>&1 || { cat "$dir/ours.log"; fail "gcc_train"; }
for f in train_ids.npy config.yaml phase1/losses.json phase2/losses.json phase2/weights.npy; do
  [ -f "$dir/dump/$f" ] || fail "gcc_train --dump-steps wrote no $f"
done

/usr/bin/python3 "$scripts/reference_gcc_torch.py" --check-steps "$dir/dump" --threads 2 \
  || fail "the twin's first-step losses differ from gcc_train's (above)"

/usr/bin/python3 "$scripts/reference_gcc_torch.py" --config "$dir/ours/config.yaml" --data-root "$fm" \
  --train-ids "$dir/dump/train_ids.npy" --out "$dir/twin" --threads 2 --quiet > "$dir/twin.log" 2>&1 \
  || { tail -n 30 "$dir/twin.log"; fail "the twin's training run"; }
[ "$(wc -l < "$dir/twin/metrics.jsonl")" -eq 2 ] || fail "the twin wrote $(wc -l < "$dir/twin/metrics.jsonl") epochs, expected 2"
grep -Eq '"phase": ?2' "$dir/twin/metrics.jsonl" || fail "the twin's second epoch is not phase 2"
[ -f "$dir/twin/evaluation.json" ] || fail "the twin wrote no evaluation.json"
echo "torch_twin: first-step losses equal (1e-4), the twin trained both phases:"
tail -n 1 "$dir/twin/metrics.jsonl" | cut -c1-200
