#!/bin/sh
# Users' own data through the CLIs (ctest "own_data"): toy data sets from tests/make_toy_images.cpp in
# every format the CLIs read (--dataset folder | list | idx | npy; with and without labels) each train a
# tiny gcc_train run that must exit 0 and write every output file (confusion.* only when labelled) and a
# k-means baseline line; a folder with one broken image trains with a "skipped" warning; gcc_predict on
# the training images reproduces the run's predictions.npy byte for byte; gcc_selflabel trains from an
# unlabelled run and gcc_eval scores a labelled one; and bad inputs (empty folder,
# mixed sizes or channels, wrong .npy dtype, rank or label count, K > N, --minutes 0) exit 1 with a
# message naming the problem and leave no --out folder behind.
# Usage: check_own_data.sh BIN_DIR MAKE_TOY_IMAGES
#   BIN_DIR          folder holding gcc_train, gcc_predict, gcc_selflabel and gcc_eval
#   MAKE_TOY_IMAGES  the make_toy_images binary
# Prints PASS/FAIL per check and a summary; exit 0 when all passed, 1 otherwise (2: bad usage).
# KEEP_TMP=1 keeps the temporary folder (data, runs, logs) and prints where it is.
set -u
if [ $# -ne 2 ]; then
  echo "usage: check_own_data.sh BIN_DIR MAKE_TOY_IMAGES" >&2
  exit 2
fi
bin=$1
gen=$2
tmp=$(mktemp -d)
if [ "${KEEP_TMP:-0}" = 1 ]; then
  trap 'echo "kept: $tmp"' EXIT
else
  trap 'rm -rf "$tmp"' EXIT
fi
trap 'exit 130' INT TERM
mkdir "$tmp/runs" "$tmp/pred" "$tmp/logs"
data=$tmp/data
start=$(date +%s)

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# verdict STATUS PASS_TEXT FAIL_TEXT: a check that passed when STATUS (a $?) is 0; returns 1 when failed.
verdict() { if [ "$1" -eq 0 ]; then pass "$2"; else fail "$3"; return 1; fi; }
# The first lines of a log, indented, after a FAIL.
show() { [ -s "$1" ] && sed -n '1,8s/^/    | /p' "$1"; return 0; }

# Tiny settings for every gcc_train call; --num-clusters and --minutes are added per call so that the
# error checks can give their own values without repeating a key.
tiny="--epochs 2 --switch-epoch 1 --refresh-every 1 --batch-size 64 --base-width 4 --threads 2 --quiet"

# train NAME ARGS...: gcc_train ARGS $tiny --out runs/NAME, stdout/stderr in logs/NAME.out|.err; sets $rc.
train() {
  name=$1
  shift
  # shellcheck disable=SC2086
  "$bin/gcc_train" "$@" $tiny --out "$tmp/runs/$name" > "$tmp/logs/$name.out" 2> "$tmp/logs/$name.err"
  rc=$?
}

# npy_count FILE: the number of values in a 1-D .npy array of int64 (numpy's 128-byte header).
npy_count() { echo $((($(wc -c < "$1") - 128) / 8)); }

base_files="config.yaml checkpoint.safetensors metrics.jsonl predictions.npy probabilities.npy features.npy
targets.npy neighbours.npy evaluation.json gallery.png curves.png"

# good NAME labelled|unlabelled N ARGS...: a tiny run on N images must succeed and write its outputs.
good() {
  gname=$1 labels=$2 n=$3
  shift 3
  train "$gname" "$@" --num-clusters 3 --minutes 1
  run=$tmp/runs/$gname
  if [ $rc -ne 0 ]; then
    fail "$gname: gcc_train exits 0 (got $rc)"
    show "$tmp/logs/$gname.err"
    return 1
  fi
  pass "$gname: gcc_train exits 0"
  missing=""
  for f in $base_files; do [ -s "$run/$f" ] || missing="$missing $f"; done
  [ -z "$missing" ]
  verdict $? "$gname: all output files written, non-empty" "$gname: missing or empty:$missing"
  if [ "$labels" = labelled ]; then
    [ -s "$run/confusion.csv" ] && [ -s "$run/confusion.png" ]
    verdict $? "$gname: confusion.csv/png written (labelled)" "$gname: confusion.csv/png missing for labelled data"
  else
    [ ! -e "$run/confusion.csv" ] && [ ! -e "$run/confusion.png" ]
    verdict $? "$gname: no confusion.csv/png (unlabelled)" "$gname: confusion.csv/png written for unlabelled data"
  fi
  if [ -s "$run/predictions.npy" ]; then
    got=$(npy_count "$run/predictions.npy")
    [ "$got" -eq "$n" ]
    verdict $? "$gname: predictions.npy holds $n predictions" "$gname: predictions.npy holds $got, expected $n"
  fi
  if tail -n 1 "$tmp/logs/$gname.out" | grep -q '^gcc_train:' && grep -q 'k-means' "$tmp/logs/$gname.out"; then
    pass "$gname: stdout ends with the gcc_train: summary and a k-means baseline"
  else
    fail "$gname: stdout lacks the final gcc_train: lines or the k-means baseline"
    show "$tmp/logs/$gname.out"
  fi
  return 0
}

# predict NAME RUN N ARGS...: gcc_predict on RUN's training images reproduces its predictions.npy.
predict() {
  pname=$1 prun=$tmp/runs/$2 n=$3
  shift 3
  out=$tmp/pred/$pname
  "$bin/gcc_predict" --run "$prun" "$@" --threads 2 --out "$out" > "$tmp/logs/predict-$pname.out" 2> "$tmp/logs/predict-$pname.err"
  prc=$?
  if [ $prc -ne 0 ]; then
    fail "predict $pname: gcc_predict exits 0 (got $prc)"
    show "$tmp/logs/predict-$pname.err"
    return 1
  fi
  pass "predict $pname: gcc_predict exits 0"
  missing=""
  for f in predictions.csv predictions.npy features.npy probabilities.npy; do
    [ -s "$out/$f" ] || missing="$missing $f"
  done
  [ -z "$missing" ]
  verdict $? "predict $pname: all output files written, non-empty" "predict $pname: missing or empty:$missing"
  lines=0
  [ -f "$out/predictions.csv" ] && lines=$(($(wc -l < "$out/predictions.csv")))
  header='^index,path,cluster,confidence,top3'
  if [ "$lines" -eq $((n + 1)) ] && head -n 1 "$out/predictions.csv" | grep -q "$header"; then
    pass "predict $pname: predictions.csv has the header and $n rows"
  else
    fail "predict $pname: predictions.csv has $lines lines (expected the header + $n rows) or another header"
    head -n 2 "$out/predictions.csv" 2> /dev/null | sed 's/^/    | /'
  fi
  cmp -s "$out/predictions.npy" "$prun/predictions.npy"
  verdict $? "predict $pname: predictions.npy identical to the run's" \
    "predict $pname: predictions.npy differs from runs/$2/predictions.npy"
}

# refuse NAME PATTERN ARGS...: gcc_train ARGS must exit 1, say PATTERN (grep -E, any case) on stderr and
# create no --out folder.
refuse() {
  rname=$1 pattern=$2
  shift 2
  train "$rname" "$@"
  why=""
  [ $rc -eq 1 ] || why="exit code $rc, expected 1"
  grep -qiE -- "$pattern" "$tmp/logs/$rname.err" || why="${why:+$why; }stderr does not match '$pattern'"
  [ ! -e "$tmp/runs/$rname" ] || why="${why:+$why; }the --out folder was created"
  if [ -z "$why" ]; then
    pass "refuse $rname: exit 1, message matches '$pattern', no output folder"
  else
    fail "refuse $rname: $why"
    show "$tmp/logs/$rname.err"
  fi
}

# ---- the data -------------------------------------------------------------------------------------
for b in "$bin/gcc_train" "$bin/gcc_predict" "$gen"; do
  [ -x "$b" ] || { fail "$b is not an executable"; echo "summary: 0 passed, 1 failed"; exit 1; }
done
if "$gen" "$data" > "$tmp/logs/make_toy_images.out" 2>&1; then
  pass "make_toy_images writes the toy data sets ($(find "$data" -type f | wc -l | tr -d ' ') files)"
else
  fail "make_toy_images"
  show "$tmp/logs/make_toy_images.out"
  echo "summary: $passed passed, $failed failed"
  exit 1
fi

# ---- good sources: train, outputs, summary --------------------------------------------------------
good folder labelled 240 --dataset folder --data-root "$data/folder" --eval-set all
good flat unlabelled 240 --dataset folder --data-root "$data/flat"
good folder_unlabelled unlabelled 240 --dataset folder --data-root "$data/folder" --unlabelled
good list labelled 120 --dataset list --data-root "$data/list/list.txt"
good idx labelled 240 --dataset idx --data-root "$data/idx/images-idx3-ubyte.gz" \
  --labels-file "$data/idx/labels-idx1-ubyte.gz"
good npy labelled 240 --dataset npy --data-root "$data/npy/images.npy" --labels-file "$data/npy/labels.npy" \
  --eval-set all
good npy_unlabelled unlabelled 240 --dataset npy --data-root "$data/npy/images.npy"
good mixed_sizes_resized unlabelled 81 --dataset folder --data-root "$data/bad/mixed_sizes" --image-size 32

# One undecodable image: skipped with a warning, the 90 good ones train.
if good one_broken labelled 90 --dataset folder --data-root "$data/bad/one_broken"; then
  grep -qi 'skipped' "$tmp/logs/one_broken.err"
  verdict $? "one_broken: stderr reports the skipped image" "one_broken: stderr does not say 'skipped'" ||
    show "$tmp/logs/one_broken.err"
fi

# ---- gcc_predict on the training images -----------------------------------------------------------
[ -d "$tmp/runs/folder" ] && predict folder folder 240 --dataset folder --data-root "$data/folder"
[ -d "$tmp/runs/npy" ] && predict npy npy 240 --dataset npy --data-root "$data/npy/images.npy" \
  --labels-file "$data/npy/labels.npy"

# ---- self-labelling of an unlabelled run, evaluation of a labelled one ----------------------------
if [ -d "$tmp/runs/flat" ]; then
  "$bin/gcc_selflabel" --checkpoint "$tmp/runs/flat/checkpoint.safetensors" --epochs 1 --batch-size 64 --threads 2 \
    --quiet --out "$tmp/runs/flat_sl" > "$tmp/logs/flat_sl.out" 2> "$tmp/logs/flat_sl.err"
  src=$?
  [ $src -eq 0 ] && [ -s "$tmp/runs/flat_sl/gallery.png" ] && grep -q 'no labels' "$tmp/logs/flat_sl.out"
  verdict $? "selflabel flat: gcc_selflabel trains an unlabelled run and reports the diagnostics" \
    "selflabel flat: exit $src, or no gallery.png / 'no labels' line" || show "$tmp/logs/flat_sl.err"
fi
if [ -d "$tmp/runs/folder" ]; then
  "$bin/gcc_eval" --checkpoint "$tmp/runs/folder/checkpoint.safetensors" --quiet --out "$tmp/runs/folder_eval" \
    > "$tmp/logs/folder_eval.out" 2> "$tmp/logs/folder_eval.err"
  erc=$?
  [ $erc -eq 0 ] && grep -q 'ACC' "$tmp/logs/folder_eval.out" && [ -s "$tmp/runs/folder_eval/confusion.png" ]
  verdict $? "eval folder: gcc_eval scores the run on its folder" "eval folder: exit $erc, or no ACC / confusion.png" ||
    show "$tmp/logs/folder_eval.err"
fi

# ---- bad inputs: exit 1, a message naming the problem, no output folder ---------------------------
ok="--num-clusters 3 --minutes 1"
# shellcheck disable=SC2086
{
  refuse empty_folder 'bad/empty' --dataset folder --data-root "$data/bad/empty" $ok
  refuse mixed_sizes 'odd_40x24\.png' --dataset folder --data-root "$data/bad/mixed_sizes" $ok
  refuse mixed_channels 'odd_rgb\.png' --dataset folder --data-root "$data/bad/mixed_channels" $ok
  refuse float_npy 'uint8' --dataset npy --data-root "$data/bad/float.npy" $ok
  refuse rank2_npy 'rank2\.npy' --dataset npy --data-root "$data/bad/rank2.npy" $ok
  refuse labels_short '239|240' --dataset npy --data-root "$data/npy/images.npy" \
    --labels-file "$data/bad/labels_short.npy" $ok
  refuse too_many_clusters 'num.clusters' --dataset folder --data-root "$data/folder" --num-clusters 500 --minutes 1
  refuse zero_minutes 'minutes' --dataset folder --data-root "$data/folder" --num-clusters 3 --minutes 0
}

echo "summary: $passed passed, $failed failed ($(($(date +%s) - start)) s)"
[ $failed -eq 0 ]
