#!/bin/sh
# Runs the CPU training-step benchmark of this toolkit and of PyTorch (2 threads) side by side,
# alternating ROUNDS times on the same stack, and prints each run and the median ratio.
# Usage: sh data_scripts/bench_cpu_compare.sh [BUILD_DIR] [ROUNDS] [-- stack flags...]
set -eu
build=${1:-build}
rounds=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
case "$build" in -h|--help) sed -n '2,4p' "$0"; exit 0 ;; esac
[ -x "$build/examples/bench_cpu_step" ] || { echo "bench_cpu_compare: $build/examples/bench_cpu_step not built (cmake --build $build --target bench_cpu_step)" >&2; exit 1; }
ours="" theirs=""
i=0
while [ $i -lt "$rounds" ]; do
  o=$(OMP_NUM_THREADS=2 "$build/examples/bench_cpu_step" "$@" | tail -1)
  t=$(/usr/bin/python3 "$(dirname "$0")/bench_torch_cpu.py" --threads 2 "$@")
  echo "$o"; echo "$t"
  ours="$ours $(echo "$o" | sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p')"
  theirs="$theirs $(echo "$t" | sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p')"
  i=$((i + 1))
done
med() { echo "$@" | tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(med $ours); mt=$(med $theirs)
echo "median images/s: gcc-toolkit $mo, pytorch $mt, ratio (gcc/pytorch) $(echo "$mo $mt" | awk '{printf "%.2f", $1/$2}')"
