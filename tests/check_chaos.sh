#!/bin/sh
# Training survives what happens to real runs (ctest "chaos"; the full count is a script):
#  1. kill -9 at random moments (a step, the graph refresh, the evaluation, the report), KILLS times,
#     then WRITE_KILLS times (default KILLS / 4) while a checkpoint is being written; each followed by --resume (or a fresh start when no checkpoint was written
#     yet); every run that reaches its end must leave a checkpoint byte-identical to an uninterrupted
#     run's (the weights, optimiser, memory, graph and RNG: the whole file);
#  2. SIGTERM stops like Ctrl-C (exit 130, checkpoint written, "--resume" hint) and the resumed run ends
#     identical too;
#  3. a second gcc_train on a folder in use is refused, naming the folder and the process;
#  4. a checkpoint write that fails for want of space (RLIMIT_FSIZE via prlimit) stops the run with a
#     message saying the previous checkpoint is intact, which it is (byte for byte), with no temporary
#     file left behind;
#  5. a read-only output folder is refused before training starts (as an unprivileged user: root
#     ignores file modes; SKIP when that cannot be arranged).
# Usage: check_chaos.sh BIN_DIR MAKE_TOY_IMAGES [KILLS [SEED]]   (defaults: 20 kills, seed 1)
# Prints PASS/FAIL/SKIP per check, a line per kill and a summary; exit 0 when nothing failed.
# KEEP_TMP=1 keeps the temporary folder.
set -u
if [ $# -lt 2 ]; then
  echo "usage: check_chaos.sh BIN_DIR MAKE_TOY_IMAGES [KILLS [SEED]]" >&2
  exit 2
fi
bin=$1
gen=$2
kills=${3:-20}
seed=${4:-1}
tmp=$(mktemp -d)
if [ "${KEEP_TMP:-0}" = 1 ]; then trap 'echo "kept: $tmp"' EXIT; else trap 'rm -rf "$tmp"' EXIT; fi
trap 'exit 130' INT TERM
passed=0
failed=0
skipped=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
skip() { skipped=$((skipped + 1)); echo "SKIP: $*"; }
show() { [ -s "$1" ] && sed -n '1,6s/^/    | /p' "$1"; return 0; }

"$gen" "$tmp/data" > /dev/null || { echo "FAIL: make_toy_images"; exit 1; }
# A small run with every phase: 2 epochs of phase 1, then phase 2 with a graph refresh, an evaluation
# and a checkpoint after every epoch. Fixed settings (no automatic plan), so every run is the same.
run_args="--dataset npy --data-root $tmp/data/npy/images.npy --labels-file $tmp/data/npy/labels.npy
  --auto_plan false --num-clusters 3 --epochs 5 --switch-epoch 2 --refresh-every 1 --batch-size 32
  --base-width 4 --threads 2 --checkpoint-every 1 --eval-every 1"

# train OUT LOG [ARGS...]: a fresh run into OUT (arguments after LOG are added), in the foreground.
train() {
  out=$1
  log=$2
  shift 2
  # shellcheck disable=SC2086
  "$bin/gcc_train" $run_args "$@" --out "$out" > "$log" 2>&1
}
# start OUT LOG: in the background, resuming OUT when it holds a checkpoint; sets $pid.
start() {
  if [ -f "$1/checkpoint.safetensors" ]; then
    "$bin/gcc_train" --resume "$1" > "$2" 2>&1 &
  else
    # shellcheck disable=SC2086
    "$bin/gcc_train" $run_args --out "$1" > "$2" 2>&1 &
  fi
  pid=$!
}
now_ms() { date +%s%N | cut -c1-13; }

# ---- the reference: one uninterrupted run -----------------------------------------------------------
t0=$(now_ms)
if train "$tmp/ref" "$tmp/ref.log"; then
  ref_ms=$(($(now_ms) - t0))
  pass "uninterrupted reference run ($ref_ms ms)"
else
  fail "the reference run failed"
  show "$tmp/ref.log"
  exit 1
fi
ref=$tmp/ref/checkpoint.safetensors

# ---- 1. kill -9 loop ----------------------------------------------------------------------------------
# KILLS kills at delays uniform in [0, 0.7 x the reference run's time] (a seeded awk stream), then
# WRITE_KILLS kills the moment the process has a checkpoint's temporary file of its own open (seen by
# polling). A run that reaches its end before its kill is compared and started over.
write_kills=${WRITE_KILLS:-$(( (kills + 3) / 4 ))}
delays=$(awk -v n="$((kills * 5))" -v s="$seed" -v t="$ref_ms" 'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%d ", rand() * 0.7 * t }')
done_kills=0
rounds=0
identical=0
writes_hit=0
in_epochs=0
in_report=0
in_start=0
n=0
run=$tmp/chaos
# finished RC LOG: a round reached its end; compare it with the reference and start over.
finished() {
  rounds=$((rounds + 1))
  if [ "$1" -eq 0 ] && cmp -s "$ref" "$run/checkpoint.safetensors"; then
    identical=$((identical + 1))
    echo "round $rounds: finished; checkpoint identical to the reference"
  else
    fail "round $rounds (exit $1): the finished run's checkpoint differs from the reference"
    show "$2"
  fi
  rm -rf "$run"
}
# killed LOG: classify where the process died (a temporary file of its own left = inside a file write;
# else the last line of its log) and count it.
killed() {
  done_kills=$((done_kills + 1))
  at=$(grep -o 'resuming at epoch [0-9]* step [0-9]*' "$1" | sed 's/resuming at //')
  last=$(tail -n 1 "$1")
  left=$(find "$run" -name "*.tmp.$pid.*" 2> /dev/null | sed 's|.*/||; s|\.tmp\..*||' | head -n 1)
  if [ -n "$left" ]; then where="while writing $left"; writes_hit=$((writes_hit + 1))
  elif echo "$last" | grep -q '^epoch [0-9]*/[0-9]*'; then where="in the epoch after: $(echo "$last" | cut -c1-16)"; in_epochs=$((in_epochs + 1))
  elif echo "$last" | grep -q 'baseline\|done in'; then where="in the final report"; in_report=$((in_report + 1))
  else where="during start-up"; in_start=$((in_start + 1)); fi
  echo "kill $done_kills: life started at ${at:-the beginning}, killed $where"
}
for d in $delays; do
  [ "$done_kills" -lt "$kills" ] || break
  n=$((n + 1))
  start "$run" "$tmp/life$n.log"
  sleep "$(awk -v d="$d" 'BEGIN { printf "%.3f", d / 1000 }')"
  if kill -9 "$pid" 2> /dev/null; then
    wait "$pid" 2> /dev/null
    killed "$tmp/life$n.log"
  else
    wait "$pid"
    finished $? "$tmp/life$n.log"
  fi
done
# this round to its end, then fresh rounds killed inside their checkpoint writes
start "$run" "$tmp/life$n.log"
wait "$pid"
finished $? "$tmp/life$n.log"
w=0
while [ "$w" -lt "$write_kills" ] && [ "$n" -lt $((kills * 10 + 100)) ]; do
  n=$((n + 1))
  start "$run" "$tmp/life$n.log"
  while [ -z "$(find "$run" -name "checkpoint.safetensors.tmp.$pid.*" 2> /dev/null)" ] && kill -0 "$pid" 2> /dev/null; do :; done
  if kill -9 "$pid" 2> /dev/null; then
    wait "$pid" 2> /dev/null
    before=$writes_hit
    killed "$tmp/life$n.log"
    [ "$writes_hit" -gt "$before" ] && w=$((w + 1))
  else
    wait "$pid"
    finished $? "$tmp/life$n.log"
  fi
done
# The last interrupted round, run to its end.
start "$run" "$tmp/final.log"
wait "$pid"
finished $? "$tmp/final.log"
stray=$(find "$tmp/chaos" -name '*.tmp.*' 2> /dev/null | wc -l | tr -d ' ')
[ "$stray" -eq 0 ] || fail "$stray temporary files left in the run folder"
if [ "$identical" -eq "$rounds" ] && [ "$done_kills" -ge "$kills" ]; then
  pass "kill -9: $done_kills kills survived of $done_kills tried ($in_start during start-up, $in_epochs inside epochs, $writes_hit while writing a file, $in_report in the final report); $rounds of $rounds rounds end bit-identical to the uninterrupted run"
elif [ "$done_kills" -lt "$kills" ]; then
  fail "kill -9: only $done_kills of $kills kills landed (the runs ended first)"
fi

# ---- 2. SIGTERM ---------------------------------------------------------------------------------------
rm -rf "$run"
start "$run" "$tmp/term.log"
sleep "$(awk -v t="$ref_ms" 'BEGIN { printf "%.3f", 0.5 * t / 1000 }')"
kill -TERM "$pid"
wait "$pid"
rc=$?
if [ "$rc" -eq 130 ] && grep -q 'interrupted at epoch' "$tmp/term.log" && grep -q -- '--resume' "$tmp/term.log"; then
  start "$run" "$tmp/term2.log"
  wait "$pid"
  if [ $? -eq 0 ] && cmp -s "$ref" "$run/checkpoint.safetensors"; then
    pass "SIGTERM: exit 130 with a checkpoint and the --resume hint; the resumed run ends bit-identical"
  else
    fail "SIGTERM: the resumed run does not end identical to the reference"
    show "$tmp/term2.log"
  fi
elif [ "$rc" -eq 0 ]; then
  skip "SIGTERM: the run finished before the signal (machine faster than the reference run?)"
else
  fail "SIGTERM: exit $rc (expected 130 with 'interrupted at epoch' and a --resume hint)"
  show "$tmp/term.log"
fi

# ---- 3. two runs on one folder ------------------------------------------------------------------------
rm -rf "$run"
start "$run" "$tmp/first.log"
first=$pid
i=0
while [ ! -f "$run/.lock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
train "$run" "$tmp/second.log"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "is in use by another run (gcc_train pid $first" "$tmp/second.log"; then
  pass "a second run on a folder in use exits 1 naming the folder and the first run's pid"
else
  fail "a second run on a folder in use: exit $rc"
  show "$tmp/second.log"
fi
wait "$first" || fail "the first run failed while a second one was refused"
cmp -s "$ref" "$run/checkpoint.safetensors" || fail "the first run's result changed by the refused second run"

# ---- 4. disk full during a checkpoint write -----------------------------------------------------------
if command -v prlimit > /dev/null; then
  # a run stopped (SIGTERM) after its second epoch, resumed under a file size limit of half a checkpoint
  rm -rf "$run"
  start "$run" "$tmp/part.log"
  i=0
  while ! grep -q '"epoch": *2' "$run/metrics.jsonl" 2> /dev/null && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
  kill -TERM "$pid"
  wait "$pid"
  cp "$run/checkpoint.safetensors" "$tmp/before.safetensors"
  size=$(wc -c < "$run/checkpoint.safetensors")
  prlimit --fsize=$((size / 2)) "$bin/gcc_train" --resume "$run" > "$tmp/full.log" 2>&1
  rc=$?
  left=$(find "$run" -name '*.tmp.*' | wc -l | tr -d ' ')
  if [ "$rc" -eq 1 ] && grep -q 'File too large' "$tmp/full.log" && grep -q 'is intact' "$tmp/full.log" &&
     cmp -s "$tmp/before.safetensors" "$run/checkpoint.safetensors" && [ "$left" -eq 0 ]; then
    pass "disk full (file size limit $((size / 2)) bytes): exit 1, 'previous checkpoint is intact', which it is, no temporary file left"
  else
    fail "disk full: exit $rc, $left temporary files left"
    show "$tmp/full.log"
  fi
else
  skip "disk full: prlimit (util-linux) not found"
fi

# ---- 5. read-only output folder -----------------------------------------------------------------------
mkdir -p "$tmp/ro"
chmod 555 "$tmp/ro"
as_user=""
if [ "$(id -u)" -eq 0 ]; then
  # root ignores file modes: run as nobody, with the binary and data copied where nobody can read them
  if command -v setpriv > /dev/null; then
    mkdir -p "$tmp/pub"
    cp "$bin/gcc_train" "$tmp/pub/" && cp "$tmp/data/npy/images.npy" "$tmp/data/npy/labels.npy" "$tmp/pub/"
    chmod 755 "$tmp" "$tmp/pub" && chmod 644 "$tmp/pub/images.npy" "$tmp/pub/labels.npy"
    as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
    $as_user true 2> /dev/null || as_user=""
  fi
fi
if [ "$(id -u)" -ne 0 ] || [ -n "$as_user" ]; then
  exe=$bin/gcc_train
  npy=$tmp/data/npy
  [ -n "$as_user" ] && exe=$tmp/pub/gcc_train && npy=$tmp/pub
  # shellcheck disable=SC2086
  $as_user "$exe" --dataset npy --data-root "$npy/images.npy" --labels-file "$npy/labels.npy" --auto_plan false \
    --num-clusters 3 --epochs 1 --base-width 4 --out "$tmp/ro" > "$tmp/ro.log" 2>&1
  rc=$?
  if [ "$rc" -eq 1 ] && grep -q "cannot write in the output folder '$tmp/ro'" "$tmp/ro.log" &&
     ! grep -q 'epoch 1' "$tmp/ro.log"; then
    pass "a read-only output folder: exit 1 before training, naming the folder"
  else
    fail "a read-only output folder: exit $rc"
    show "$tmp/ro.log"
  fi
else
  skip "read-only output folder: running as root without setpriv to become an unprivileged user"
fi

echo "chaos: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
