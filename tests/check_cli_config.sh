#!/bin/sh
# The CLIs and the one configuration, end to end (ctest "cli_config"):
#  1. for all seven presets, `gcc_train --preset P --list-keys` read back with --config gives the same
#     --list-keys output (config.yaml is the same YAML with another first comment line);
#  2. the release's example files load (gcc_train / gcc_selflabel --config ... --list-keys) and their
#     output reads back to itself;
#  3. a real tiny run on Fashion-MNIST: its config.yaml reads back to the --list-keys of the same command
#     line; gcc_selflabel and gcc_eval run from its checkpoint; --resume of the finished run;
#  4. errors: a bad value and a release file for the other stage exit 1 naming the key; an unknown option
#     exits 2; a run whose data cannot be read leaves no run folder behind.
# Usage: check_cli_config.sh BUILD_EXAMPLES_DIR REPO_DIR. Exit 77 (ctest: Skipped) only for part 3 when
# Fashion-MNIST (Debian's dataset-fashion-mnist) is missing, after parts 1, 2 and 4 passed.
set -eu
bin=$1
repo=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. presets
for p in cifar-10 cifar-20 stl-10 imagenet-10 imagenet-dogs tiny-imagenet fashion-mnist; do
  "$bin/gcc_train" --preset "$p" --list-keys > a.yaml
  "$bin/gcc_train" --config a.yaml --list-keys > b.yaml
  cmp -s a.yaml b.yaml || { diff a.yaml b.yaml >&2; fail "preset $p: --list-keys does not round-trip through --config"; }
  grep -q "^preset: $p " a.yaml || fail "preset $p: no 'preset: $p' line"
done
echo "presets: 7 of 7 round-trip through --config"

# 2. the release's files
for f in "$repo"/examples/configs/end2end_*.yml; do
  "$bin/gcc_train" --config "$f" --list-keys > a.yaml || fail "$f does not load"
  "$bin/gcc_train" --config a.yaml --list-keys > b.yaml
  cmp -s a.yaml b.yaml || fail "$f: its --list-keys does not round-trip"
done
"$bin/gcc_train" --config "$repo/examples/configs/end2end_cifar20.yml" --list-keys | grep -q '^mean: \[0.5071, 0.4867, 0.4408\]' ||
  fail "end2end_cifar20.yml: not CIFAR-100's normalisation"
for f in "$repo"/examples/configs/selflabel_*.yml; do
  p=$(basename "$f" .yml | sed 's/selflabel_//; s/cifar10/cifar-10/; s/cifar20/cifar-20/; s/stl10/stl-10/')
  "$bin/gcc_selflabel" --preset "$p" --config "$f" --list-keys > a.yaml || fail "$f does not load"
  "$bin/gcc_selflabel" --config a.yaml --list-keys > b.yaml
  cmp -s a.yaml b.yaml || fail "$f: its --list-keys does not round-trip"
done
echo "release files: all load and round-trip"

# 4. errors
set +e
"$bin/gcc_train" --lr abc > out.txt 2>&1; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "command line (--lr abc): lr: 'abc' is not a finite number" out.txt || fail "bad value: rc $rc, $(cat out.txt)"
grep -c "gcc_train:" out.txt | grep -qx 1 || fail "the program name is not printed once: $(cat out.txt)"
set +e
"$bin/gcc_train" --no-such-flag 1 > out.txt 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "unknown option: rc $rc"
set +e
"$bin/gcc_train" --config "$repo/examples/configs/selflabel_cifar10.yml" > out.txt 2>&1; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "use gcc_selflabel" out.txt || fail "selflabel file to gcc_train: rc $rc, $(cat out.txt)"
set +e
"$bin/gcc_train" --preset cifar-10 --data-root "$tmp/none" --out "$tmp/run-none" > out.txt 2>&1; rc=$?
set -e
[ $rc -eq 1 ] && [ ! -e "$tmp/run-none" ] || fail "missing data: rc $rc, run folder left: $(ls "$tmp")"
echo "errors: as expected"

# 3. a real run
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] && [ ! -f /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz ]; then
  echo "SKIPPED: the real run (Fashion-MNIST not installed: apt-get install dataset-fashion-mnist)"
  exit 77
fi
args="--preset fashion-mnist --train-subset 400 --epochs 2 --switch-epoch 0 --refresh-every 1 --base-width 2 --eval-set train --threads 2"
# shellcheck disable=SC2086
"$bin/gcc_train" $args --out run --quiet > out.txt
# shellcheck disable=SC2086
"$bin/gcc_train" $args --list-keys | tail -n +2 > a.yaml
"$bin/gcc_train" --config run/config.yaml --list-keys | tail -n +2 > b.yaml
tail -n +2 run/config.yaml > c.yaml
cmp -s a.yaml b.yaml && cmp -s a.yaml c.yaml || { diff a.yaml b.yaml >&2; fail "a run's config.yaml does not round-trip"; }
"$bin/gcc_train" --resume run --quiet > out.txt || fail "--resume of a finished run"
"$bin/gcc_selflabel" --checkpoint run/checkpoint.safetensors --epochs 1 --batch-size 200 --out sl --quiet > out.txt
"$bin/gcc_selflabel" --resume sl --list-keys | tail -n +2 > a.yaml
tail -n +2 sl/config.yaml > b.yaml
cmp -s a.yaml b.yaml || fail "gcc_selflabel's config.yaml differs from its checkpoint's"
grep -q "^  epochs: 1 " a.yaml || fail "gcc_selflabel --epochs did not set selflabel.epochs"
"$bin/gcc_eval" --checkpoint sl/checkpoint.safetensors --quiet > out.txt
grep -q "ACC" out.txt || fail "gcc_eval printed no metrics"
echo "real run: config.yaml round-trips; resume, self-labelling and evaluation run"
