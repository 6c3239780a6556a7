#!/bin/sh
# ctest entry checkpoint_torch: our checkpoints load into the release's PyTorch model and give the same
# outputs, and a release-style .pth.tar converted by data_scripts/convert_release_checkpoint.py gives our
# model PyTorch's outputs. Needs Debian's /usr/bin/python3 with torch; without it, exits 77 (SKIPPED).
# Usage: sh tests/check_checkpoint_torch.sh <gcc_tests binary> <data_scripts dir>
set -u
bin=$1
scripts=$2
if ! /usr/bin/python3 -c "import torch, numpy" >/dev/null 2>&1; then
  echo "SKIPPED: /usr/bin/python3 cannot import torch and numpy (Debian: apt-get install python3-torch)"
  exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/gcc_torch_check.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
GCC_TORCH_EXPORT_DIR=$dir
export GCC_TORCH_EXPORT_DIR
"$bin" --test-case="io: checkpoint export for PyTorch" || { echo "FAILED: the C++ export"; exit 1; }
[ -f "$dir/cifar.safetensors" ] || { echo "FAILED: the C++ export wrote nothing"; exit 1; }
/usr/bin/python3 "$scripts/check_checkpoint_torch.py" "$dir" || exit 1
"$bin" --test-case="io: converted release checkpoint matches PyTorch" || { echo "FAILED: the converted checkpoint"; exit 1; }
echo "checkpoint_torch: passed"
