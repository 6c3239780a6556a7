#!/bin/sh
# CPU speed of gcc-toolkit against PyTorch (Debian's python3-torch, 2 threads) on the same cores, side by
# side: each case runs ours then PyTorch's, ROUNDS times alternating, and reports the medians and their
# ratio. Cases: full GCC steps (examples/bench_cpu_gcc_step vs data_scripts/bench_torch_gcc_step.py,
# same model, random data) at the default preset's shapes (ResNet-18 width 8 with the stem max-pool,
# 1x28x28, batch 256, AGC in phase 1) and at fmnist-mini's (width 16, no max-pool, RGC only in phase 1),
# phase 1 and phase 2 each; then the conv-BN-ReLU stacks (bench_cpu_step vs bench_torch_cpu.py).
# Checks the load first: measure on an idle machine (a loaded one slows PyTorch's OpenMP more than ours).
# Usage: sh data_scripts/bench_cpu_compare.sh [BUILD_DIR] [ROUNDS] [CASES]
#   CASES: space-separated subset of: default-1 default-2 mini-1 mini-2 stack-a stack-b (default: all)
#   THREADS=2 (both sides), STEPS=5 timed steps per run, PYTHON=/usr/bin/python3, FORCE=1 runs when loaded.
set -eu
case "${1:-}" in -h|--help) sed -n '2,11p' "$0"; exit 0 ;; esac
build=${1:-build}
rounds=${2:-5}
cases=${3:-"default-1 default-2 mini-1 mini-2 stack-a stack-b"}
threads=${THREADS:-2}
steps=${STEPS:-5}
py=${PYTHON:-/usr/bin/python3}
here=$(dirname "$0")
for b in bench_cpu_gcc_step bench_cpu_step; do
  [ -x "$build/examples/$b" ] || { echo "bench_cpu_compare: $build/examples/$b not built (cmake --build $build --target $b)" >&2; exit 1; }
done
"$py" -c "import torch" 2>/dev/null || { echo "bench_cpu_compare: SKIPPED -- $py cannot import torch (sh data_scripts/install_deps.sh --reference)" >&2; exit 77; }

load=$(cut -d' ' -f1 /proc/loadavg)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC'); load $load"
echo "torch $("$py" -c 'import torch; print(torch.__version__)'), $threads threads each side; $rounds rounds alternating, medians"
if awk -v l="$load" 'BEGIN { exit !(l > 0.3) }' && [ "${FORCE:-0}" != 1 ]; then
  echo "bench_cpu_compare: the 1-minute load is $load (> 0.3): wait for an idle machine, or FORCE=1 to measure anyway" >&2
  exit 1
fi

# The flags of each case: ours | PyTorch's.
ours_flags() {
  case "$1" in
    default-*) echo "--preset fashion-mnist --phase ${1#default-}" ;;
    mini-*) echo "--preset fashion-mnist --width 16 --stem-maxpool 0 --phase1-agc 0 --phase ${1#mini-}" ;;
    stack-a) echo "" ;;
    stack-b) echo "--batch 32 --in-channels 64 --width 64 --size 32" ;;
  esac
}
torch_flags() {
  case "$1" in
    default-*) echo "--width 8 --in-channels 1 --size 28 --stem-maxpool 1 --phase1-agc 1 --batch 256 --phase ${1#default-}" ;;
    mini-*) echo "--width 16 --in-channels 1 --size 28 --stem-maxpool 0 --phase1-agc 0 --batch 256 --phase ${1#mini-}" ;;
    stack-a) echo "" ;;
    stack-b) echo "--batch 32 --in-channels 64 --width 64 --size 32" ;;
  esac
}
run_ours() {
  case "$1" in
    stack-*) OMP_NUM_THREADS=$threads "$build/examples/bench_cpu_step" $(ours_flags "$1") --steps 10 | tail -1 ;;
    *) OMP_NUM_THREADS=$threads "$build/examples/bench_cpu_gcc_step" $(ours_flags "$1") --steps "$steps" | grep '^RESULT' ;;
  esac
}
run_torch() {
  case "$1" in
    stack-*) "$py" "$here/bench_torch_cpu.py" --threads "$threads" $(torch_flags "$1") ;;
    *) "$py" "$here/bench_torch_gcc_step.py" --device cpu --threads "$threads" --knn-n 0 --warmup 2 --steps "$steps" \
         $(torch_flags "$1") | grep '^RESULT torch_step' ;;
  esac
}
ips() { sed -n 's/.*images_per_s=\([0-9.]*\).*/\1/p; s/.* \([0-9.]*\) images\/s.*/\1/p' | head -1; }
med() { echo "$@" | tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

table=""
for c in $cases; do
  ours="" theirs=""
  i=0
  while [ "$i" -lt "$rounds" ]; do
    o=$(run_ours "$c" | ips); t=$(run_torch "$c" | ips)
    echo "  $c round $((i + 1)): gcc-toolkit $o images/s, PyTorch $t images/s"
    ours="$ours $o"; theirs="$theirs $t"
    i=$((i + 1))
  done
  mo=$(med $ours); mt=$(med $theirs)
  table="$table
| $c | $mo | $mt | $(echo "$mo $mt" | awk '{printf "%.2f", $1/$2}') |"
done
echo
echo "| case | gcc-toolkit images/s | PyTorch images/s | ratio |"
echo "|---|---:|---:|---:|$table"
echo "load after: $(cut -d' ' -f1 /proc/loadavg)"
