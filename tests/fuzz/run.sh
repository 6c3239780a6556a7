#!/bin/sh
# Builds and runs the libFuzzer targets of tests/fuzz (see README.md there). From the repository root:
#   tests/fuzz/run.sh SECONDS [TARGET...]
# SECONDS=0: replay the committed corpus and regressions once per file (what CI runs); SECONDS>0: fuzz
# each target that long. Env: GCC_FUZZ_BUILD (build dir, default build-fuzz), GCC_FUZZ_MERGE=1 (merge
# new coverage into tests/fuzz/corpus/<target>/), GCC_FUZZ_SEEDS=1 (regenerate the seeds), GCC_FUZZ_JOBS.
# GCC_FUZZ_OPT (compile flags, default "-O1 -g"; one build folder per value). Exit 77 (ctest: skipped)
# when clang++-14 is missing.
set -eu
[ $# -ge 1 ] || { echo "usage: tests/fuzz/run.sh SECONDS [TARGET...]" >&2; exit 2; }
SECS=$1
shift
ALL="cifar stl10 idx image safetensors npy yaml json image_cache checkpoint"
TARGETS=${*:-$ALL}
B=${GCC_FUZZ_BUILD:-build-fuzz}
HERE=tests/fuzz
LIMITS="-rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
[ -f "$HERE/fuzz.mk" ] || { echo "run.sh: run it from the repository root" >&2; exit 2; }
if ! command -v "${CXX_FUZZ:-clang++-14}" > /dev/null; then  # exit 77: ctest reports the check as skipped
  echo "fuzz: SKIPPED: ${CXX_FUZZ:-clang++-14} not found (Debian: apt-get install clang-14 libclang-rt-14-dev libomp-14-dev)"
  exit 77
fi

bins=""
for t in $TARGETS; do
  [ -f "$HERE/fuzz_$t.cpp" ] || { echo "run.sh: unknown target '$t' (known: $ALL)" >&2; exit 2; }
  bins="$bins $B/fuzz_$t"
done
start=$(date +%s)
make -s -f "$HERE/fuzz.mk" B="$B" OPT="${GCC_FUZZ_OPT:--O1 -g}" -j"${GCC_FUZZ_JOBS:-2}" $bins
echo "fuzz build: $(( $(date +%s) - start )) s ($TARGETS)"

# Seeds: generated where a target's corpus is empty, or for all with GCC_FUZZ_SEEDS=1.
need_seeds=${GCC_FUZZ_SEEDS:-0}
for t in $TARGETS; do [ -n "$(ls -A "$HERE/corpus/$t" 2>/dev/null)" ] || need_seeds=1; done
if [ "$need_seeds" = 1 ]; then
  make -s -f "$HERE/fuzz.mk" B="$B" "$B/make_seeds"
  rm -rf "$B/seeds"
  "$B/make_seeds" "$B/seeds"
  for t in $TARGETS; do
    if [ "${GCC_FUZZ_SEEDS:-0}" = 1 ] || [ -z "$(ls -A "$HERE/corpus/$t" 2>/dev/null)" ]; then
      mkdir -p "$HERE/corpus/$t"
      cp "$B/seeds/$t"/* "$HERE/corpus/$t/"
    fi
  done
fi

mkdir -p "$B/logs"
status=0
for t in $TARGETS; do
  if [ "$SECS" = 0 ]; then
    files=$(find "$HERE/corpus/$t" "$HERE/regressions/$t" -type f 2>/dev/null | sort)
    n=$(printf '%s\n' "$files" | grep -c . || true)
    # shellcheck disable=SC2086
    if "$B/fuzz_$t" $LIMITS $files >"$B/logs/replay_$t.log" 2>&1; then
      echo "fuzz replay $t: $n inputs, ok"
    else
      echo "fuzz replay $t: $n inputs, FAILED (see $B/logs/replay_$t.log)"
      tail -n 30 "$B/logs/replay_$t.log"
      status=1
    fi
    continue
  fi
  scratch="$B/corpus/$t"
  art="$B/artifacts/$t"
  rm -rf "$art"  # only this run's crashes are reported (keep findings in regressions/<target>/)
  mkdir -p "$scratch" "$art"
  log="$B/logs/fuzz_$t.log"
  t0=$(date +%s)
  # shellcheck disable=SC2086
  nice -n 5 "$B/fuzz_$t" $LIMITS -max_total_time="$SECS" -print_final_stats=1 -artifact_prefix="$art/" \
    "$scratch" "$HERE/corpus/$t" >"$log" 2>&1 || true
  took=$(( $(date +%s) - t0 ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
  cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
  crashes=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | tr '\n' ' ')
  echo "fuzz $t: ${took}s of ${SECS}s, ${execs:-?} execs, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, crashes: ${crashes:-none}"
  if [ -n "$crashes" ] || grep -q '==ERROR\|deadly signal' "$log"; then
    status=1
    grep -m 3 -E '==ERROR|runtime error|terminate called|what\(\)' "$log" || true
  fi
  if [ "${GCC_FUZZ_MERGE:-0}" = 1 ]; then
    # shellcheck disable=SC2086
    "$B/fuzz_$t" $LIMITS -merge=1 "$HERE/corpus/$t" "$scratch" >"$B/logs/merge_$t.log" 2>&1 || status=1
    files=$(find "$HERE/corpus/$t" -type f | wc -l)
    kb=$(du -sk "$HERE/corpus/$t" | cut -f1)
    echo "fuzz merge $t: corpus now $files files, $kb KB"
    [ "$files" -le 300 ] && [ "$kb" -le 1100 ] || echo "fuzz merge $t: WARNING: over the ~300 files / ~1 MB budget"
  fi
done
exit $status
