#!/bin/sh
# ctest entry dist_train: the data-parallel End2EndTrainer (tests/dist/dist_train.cpp, a tiny model on 32
# synthetic 28x28 images) on 2 MPI ranks as CI runs it (mpirun -np 2 --allow-run-as-root --oversubscribe,
# each step under `timeout`, one thread per rank):
#   1. 2 ranks with the global batch of 32 and synchronised BatchNorm equal 1 process with batch 32 to 1e-5
#      (absolute) in every epoch's losses, every weight and BatchNorm statistic, the feature memory, the kNN
#      graphs and the evaluation, after 2 phase-1 steps, 3 refreshes and 2 phase-2 steps; rank 1 = rank 0;
#   2. per-rank BatchNorm with a last batch of 8 images (4 per rank) runs, rank 1 = rank 0 exactly;
#   3. a 2-rank checkpoint (both ranks stop after the first step: rank 1 asked to) resumes in 1 process and
#      a 1-process one on 2 ranks, both ending as the uninterrupted run (1e-5);
#   4. rank 1 throws after epoch 0 while rank 0 goes on: the job ends non-zero before the time limit with
#      "rank 1 of 2: injected failure after epoch 0" on stderr;
#   5. rank 1 killed by SIGKILL mid-run: mpirun ends rank 0 too and exits non-zero, no hang.
# The equality holds where the run is well conditioned: the lr is small, and the kNN graphs' smallest score
# gaps (printed) are far above float noise; a flip of a near-tie would change the neighbours of phase 2.
# Exits 77 (ctest: Skipped) when mpirun is missing or the build has no MPI backend.
# Usage: sh tests/dist/check_dist_train.sh <gcc_dist_train>   (NONE: built without MPI)
# Environment: MPIRUN (default mpirun), GCC_DIST_TIMEOUT (seconds per step, default 60).
set -u
bin=${1:-NONE}
if [ "$bin" = NONE ]; then
  echo "dist_train: skipped: this build has no MPI backend (GCC_WITH_MPI=OFF); Debian: apt-get install" \
       "openmpi-bin libopenmpi-dev (sh data_scripts/install_deps.sh), then configure again"
  exit 77
fi
MPIRUN=${MPIRUN:-mpirun}
if ! command -v "$MPIRUN" >/dev/null 2>&1; then
  echo "dist_train: skipped: no '$MPIRUN' on the PATH (Debian: apt-get install openmpi-bin)"
  exit 77
fi
LIMIT=${GCC_DIST_TIMEOUT:-60}
T=$(mktemp -d "${TMPDIR:-/tmp}/gcc_dist_train.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1  # two ranks share the cores; the ranks inherit the environment
CFG="--images 32 --batch 32 --lr 0.002 --neighbours 2 --epochs 4 --switch-epoch 1 --sync-bn 1"
failed=0

# run NAME NP ARGS...: gcc_dist_train on NP ranks (0: no mpirun) under the time limit; $T/NAME.out/.err, rc, secs.
run() {
  name=$1
  np=$2
  shift 2
  t0=$(date +%s)
  if [ "$np" -eq 0 ]; then
    timeout -k 5 "$LIMIT" "$bin" "$@" >"$T/$name.out" 2>"$T/$name.err"
  else
    timeout -k 5 "$LIMIT" "$MPIRUN" -np "$np" --allow-run-as-root --oversubscribe "$bin" "$@" >"$T/$name.out" 2>"$T/$name.err"
  fi
  rc=$?
  secs=$(($(date +%s) - t0))
}
show() {
  echo "--- stdout"; tail -n 30 "$T/$1.out"
  echo "--- stderr"; tail -n 30 "$T/$1.err"
}
# must NAME WHAT: the last run succeeded, else report it.
must() {
  if [ "$rc" -ne 0 ]; then
    echo "FAILED: $2: exit status $rc after ${secs} s (124/137: killed at the ${LIMIT} s limit)"
    show "$1"
    failed=1
    return 1
  fi
  return 0
}
# same A B TOL WHAT: every figure of B within TOL of A's.
same() {
  if out=$(cd "$T" && "$bin" --compare "$1" "$2" --tol "$3" 2>&1); then
    echo "ok: $4: $(echo "$out" | tail -n 1)"
  else
    echo "FAILED: $4:"
    echo "$out" | grep -v '^note:' | tail -n 12
    failed=1
  fi
}

# 1. 2 ranks = 1 process
run one 0 $CFG --out "$T/one.txt" && must one "1-process run" &&
  echo "ok: 1 process (${secs} s): $(grep -o 'gap .*' "$T/one.out" | tr '\n' ' ')"
run two 2 $CFG --out "$T/two.txt"
if must two "2-rank run"; then
  same one.txt two.txt 1e-5 "2 ranks (global batch 32, sync BatchNorm, ${secs} s) vs 1 process"
  same two.txt two.txt.rank1 0 "rank 1's state vs rank 0's"
fi

# 2. per-rank BatchNorm, a last batch of 4 images per rank
run perrank 2 --images 40 --batch 32 --lr 0.002 --neighbours 2 --epochs 3 --switch-epoch 1 --sync-bn 0 --out "$T/perrank.txt"
must perrank "2-rank run with per-rank BatchNorm" && same perrank.txt perrank.txt.rank1 0 "per-rank BatchNorm, last batch 8: rank 1 vs rank 0"

# 3. checkpoints across rank counts
run stop2 2 $CFG --stop-on-rank 1 --checkpoint "$T/ck2.safetensors" --out "$T/stop2.txt"
if must stop2 "2-rank run stopped by rank 1"; then
  if grep -q "at epoch 1 step 0," "$T/stop2.out"; then  # epoch 0 is one step
    echo "ok: rank 1's stop request stopped both ranks after the first step: $(grep -o 'at epoch .*' "$T/stop2.out")"
  else
    echo "FAILED: a stop request on rank 1 should stop both ranks after the first step (epoch 0 of 1 step)"
    show stop2
    failed=1
  fi
  run resume1 0 $CFG --resume "$T/ck2.safetensors" --out "$T/resume1.txt" &&
    must resume1 "1-process resume of the 2-rank checkpoint" &&
    same one.txt resume1.txt 1e-5 "2-rank checkpoint resumed in 1 process vs the uninterrupted run"
fi
run stop1 0 $CFG --stop-on-rank 0 --checkpoint "$T/ck1.safetensors" --out "$T/stop1.txt"
if must stop1 "1-process run stopped after step 1"; then
  run resume2 2 $CFG --resume "$T/ck1.safetensors" --out "$T/resume2.txt" &&
    must resume2 "2-rank resume of the 1-process checkpoint" &&
    same one.txt resume2.txt 1e-5 "1-process checkpoint resumed on 2 ranks vs the uninterrupted run"
fi

# 4. a rank that throws
run throw 2 $CFG --epochs 40 --fail-rank 1 --fail-epoch 0 --out "$T/throw.txt"
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "FAILED: rank 1 threw after epoch 0 and the job still ran at the ${LIMIT} s limit: it hangs"
  show throw
  failed=1
elif [ "$rc" -eq 0 ] || ! grep -q "rank 1 of 2: injected failure after epoch 0" "$T/throw.err"; then
  echo "FAILED: rank 1 threw after epoch 0: exit status $rc, expected non-zero with 'rank 1 of 2: injected failure after epoch 0' on stderr"
  show throw
  failed=1
else
  echo "ok: rank 1's exception stopped both ranks in ${secs} s, exit status $rc: $(grep -m1 'rank 1 of 2:' "$T/throw.err")"
fi

# 5. a rank killed by SIGKILL
# ended PID: the process is gone or a zombie (killed, not yet reaped), waiting up to 10 s for that.
ended() {
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    st=$(ps -o stat= -p "$1" 2>/dev/null)
    case "$st" in "" | Z*) return 0 ;; esac
    sleep 0.5
  done
  return 1
}
mkdir "$T/pids"
t0=$(date +%s)
timeout -k 5 "$LIMIT" "$MPIRUN" -np 2 --allow-run-as-root --oversubscribe "$bin" $CFG --epochs 100000 \
  --pid-dir "$T/pids" --out "$T/kill.txt" >"$T/kill.out" 2>"$T/kill.err" &
job=$!
waited=0
while [ ! -s "$T/pids/rank1.pid" ] || [ ! -s "$T/pids/rank0.pid" ]; do
  sleep 0.2
  waited=$((waited + 1))
  [ "$waited" -gt $((LIMIT * 4)) ] && break
done
if [ -s "$T/pids/rank1.pid" ] && [ -s "$T/pids/rank0.pid" ]; then
  sleep 1  # in the training loop by now
  pid0=$(cat "$T/pids/rank0.pid")
  kill -9 "$(cat "$T/pids/rank1.pid")"
  wait "$job"
  rc=$?
  secs=$(($(date +%s) - t0))
  # mpirun itself exits 137 (128 + SIGKILL) here: only the clock tells a hang (timeout's 124 / 137)
  if [ "$rc" -eq 124 ] || [ "$secs" -ge "$LIMIT" ]; then
    echo "FAILED: rank 1 was killed (SIGKILL) and the job still ran at the ${LIMIT} s limit: it hangs"
    show kill
    failed=1
  elif [ "$rc" -eq 0 ] || ! ended "$pid0"; then
    echo "FAILED: rank 1 was killed (SIGKILL): mpirun exit status $rc, rank 0 (pid $pid0) $(ended "$pid0" && echo ended || echo still runs)"
    show kill
    failed=1
  else
    echo "ok: rank 1 killed by SIGKILL: mpirun ended the job in ${secs} s, exit status $rc:" \
         "$(grep -m1 -i -E 'signal|killed' "$T/kill.err" | tr -s ' ')"
  fi
else
  wait "$job"
  echo "FAILED: the ranks did not write their process ids (exit status $?)"
  show kill
  failed=1
fi

if [ "$failed" -ne 0 ]; then
  echo "dist_train: FAILED"
  exit 1
fi
echo "dist_train: passed"
