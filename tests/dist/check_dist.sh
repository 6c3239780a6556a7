#!/bin/sh
# ctest entry dist_mpi: gcc::dist over 2 MPI processes, as CI runs it (mpirun -np 2 --allow-run-as-root
# --oversubscribe, each step under `timeout`):
#   1. gcc_dist_tests: every collective, gradients, module broadcast, 2-rank vs 1-process gradient;
#   2. gcc_dist_fail without a failure: the loop's reductions add up (35 over 5 steps on 2 ranks);
#   3. gcc_dist_fail with rank 1 throwing at step 3 while rank 0 waits in that step's reduction: the job
#      must exit non-zero before the time limit with "rank 1 of 2: injected failure at step 3" on stderr.
# Exits 77 (ctest: Skipped) when mpirun is missing or the build has no MPI backend.
# Usage: sh tests/dist/check_dist.sh <gcc_dist_tests> <gcc_dist_fail>   (NONE NONE: built without MPI)
# Environment: MPIRUN (default mpirun), GCC_DIST_TIMEOUT (seconds per step, default 60).
set -u
tests=${1:-NONE}
fail=${2:-NONE}
if [ "$tests" = NONE ] || [ "$fail" = NONE ]; then
  echo "dist_mpi: skipped: this build has no MPI backend (GCC_WITH_MPI=OFF); Debian: apt-get install" \
       "openmpi-bin libopenmpi-dev (sh data_scripts/install_deps.sh), then configure again"
  exit 77
fi
MPIRUN=${MPIRUN:-mpirun}
if ! command -v "$MPIRUN" >/dev/null 2>&1; then
  echo "dist_mpi: skipped: no '$MPIRUN' on the PATH (Debian: apt-get install openmpi-bin)"
  exit 77
fi
LIMIT=${GCC_DIST_TIMEOUT:-60}
T=$(mktemp -d "${TMPDIR:-/tmp}/gcc_dist.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
export OMP_NUM_THREADS=1  # two ranks share the cores; the ranks inherit the environment

# run2 NAME PROGRAM ARGS...: runs PROGRAM on 2 ranks under the time limit; $T/NAME.out, $T/NAME.err, rc, secs.
run2() {
  name=$1
  shift
  t0=$(date +%s)
  timeout -k 5 "$LIMIT" "$MPIRUN" -np 2 --allow-run-as-root --oversubscribe "$@" >"$T/$name.out" 2>"$T/$name.err"
  rc=$?
  secs=$(($(date +%s) - t0))
}
show() {
  echo "--- stdout"; tail -n 40 "$T/$1.out"
  echo "--- stderr"; tail -n 40 "$T/$1.err"
}
failed=0

run2 tests "$tests" --no-colors
if [ "$rc" -eq 0 ] && grep -q "2 rank(s), mpi backend: passed" "$T/tests.out"; then
  echo "ok: gcc_dist_tests on 2 ranks passed (${secs} s): $(grep -E '^\[doctest\] (test cases|assertions)' "$T/tests.out" | tr -s ' ' | tr '\n' ' ')"
else
  echo "FAILED: gcc_dist_tests on 2 ranks: exit status $rc after ${secs} s (124/137: killed at the ${LIMIT} s limit)"
  show tests
  failed=1
fi

run2 fail_none "$fail" --steps 5
if [ "$rc" -eq 0 ] && grep -q "gcc_dist_fail: 2 rank(s), 5 steps, sum 35$" "$T/fail_none.out"; then
  echo "ok: the 5-step loop on 2 ranks sums to 35 (${secs} s)"
else
  echo "FAILED: the 5-step loop without a failure: exit status $rc after ${secs} s, expected 'sum 35'"
  show fail_none
  failed=1
fi

run2 fail_rank1 "$fail" --steps 5 --fail-rank 1 --fail-step 3
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "FAILED: rank 1 threw at step 3 and the job still ran at the ${LIMIT} s limit: it hangs"
  show fail_rank1
  failed=1
elif [ "$rc" -eq 0 ]; then
  echo "FAILED: rank 1 threw at step 3 but the job exited 0"
  show fail_rank1
  failed=1
elif ! grep -q "rank 1 of 2: injected failure at step 3" "$T/fail_rank1.err"; then
  echo "FAILED: the job stopped (exit status $rc) but stderr lacks 'rank 1 of 2: injected failure at step 3'"
  show fail_rank1
  failed=1
else
  echo "ok: rank 1's failure at step 3 stopped both ranks in ${secs} s, exit status $rc, stderr:" \
       "$(grep -m1 "rank 1 of 2:" "$T/fail_rank1.err")"
fi

if [ "$failed" -ne 0 ]; then
  echo "dist_mpi: FAILED"
  exit 1
fi
echo "dist_mpi: passed"
