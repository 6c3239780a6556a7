#!/usr/bin/env bash
# The proof run: gcc_train and its PyTorch twin (data_scripts/reference_gcc_torch.py) side by side on
# Fashion-MNIST with the same configuration, seed and training images, then gcc_selflabel on ours; writes a
# summary table (ACC / NMI / ARI, wall time, images/s per phase) and the curves of both (curves.png).
# On the GPU machine it is the full-width proof (preset fashion-mnist-gpu); on a CPU, the same comparison
# at the CPU preset's small width.
#
# Usage, from the repository root:  bash data_scripts/proof_run.sh OUTDIR
# Settings (environment variables):
#   DEVICE   cpu (default) or cuda
#   PRESET   default fashion-mnist (cpu) / fashion-mnist-gpu (cuda)
#   SUBSET   training images (default 10000 on cpu, 20000 on cuda; 0 = all 70,000)
#   EPOCHS SWITCH REFRESH EVAL_EVERY   override the preset's epochs / switch_epoch / refresh_every /
#            eval_every (default EVAL_EVERY 2, for the curves)
#   SEEDS    seeds to run, e.g. "0 1" (default 0)
#   SELFLABEL_EPOCHS   gcc_selflabel epochs (default: the preset's; 0 skips self-labelling)
#   BUILD    build folder with the programs (default build; on cuda build-device)
#   DATA     Fashion-MNIST folder (default build-fmnist when it exists, else /usr/share/datasets/fashion-mnist)
#   THREADS  CPU threads for both (default: all cores)
#   TWIN_WORKERS  the twin's view worker processes (default 0 on cpu, 8 on cuda: its views are PIL images)
#   PYTHON   the python with torch (default /usr/bin/python3)
# OUTDIR gets summary.md, curves.png and seed<S>/{ours,twin,selflabel}/ (metrics.jsonl, evaluation.json,
# config.yaml, the logs; the large .npy and checkpoint files are removed).
set -u
OUT=${1:?usage: bash data_scripts/proof_run.sh OUTDIR}
ROOT=$(pwd)
[ -f "$ROOT/data_scripts/reference_gcc_torch.py" ] || { echo "proof_run: run me from the repository root" >&2; exit 2; }
DEVICE=${DEVICE:-cpu}
case "$DEVICE" in
  cpu) PRESET=${PRESET:-fashion-mnist}; SUBSET=${SUBSET:-10000}; BUILD=${BUILD:-build}; SUFFIX=""
       TWIN_WORKERS=${TWIN_WORKERS:-0} ;;
  cuda) PRESET=${PRESET:-fashion-mnist-gpu}; SUBSET=${SUBSET:-20000}; BUILD=${BUILD:-build-device}; SUFFIX=_cuda
        TWIN_WORKERS=${TWIN_WORKERS:-8} ;;
  *) echo "proof_run: DEVICE must be cpu or cuda" >&2; exit 2 ;;
esac
SEEDS=${SEEDS:-0}
EVAL_EVERY=${EVAL_EVERY:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
if [ -z "${DATA:-}" ]; then
  if [ -d "$ROOT/build-fmnist" ]; then DATA="$ROOT/build-fmnist"; else DATA=/usr/share/datasets/fashion-mnist; fi
fi
THREADS=${THREADS:-0}
TRAIN="$ROOT/$BUILD/examples/gcc_train$SUFFIX"
SELFLABEL="$ROOT/$BUILD/examples/gcc_selflabel$SUFFIX"
[ -x "$TRAIN" ] || { echo "proof_run: $TRAIN is not built (cmake --build $BUILD --target gcc_train$SUFFIX)" >&2; exit 1; }
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
SCRATCH=$(mktemp -d /tmp/gcc-proof.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT

overrides=(--preset "$PRESET" --data-root "$DATA" --device "$DEVICE" --train_subset "$SUBSET" --eval_every "$EVAL_EVERY"
           --threads "$THREADS")
[ -n "${EPOCHS:-}" ] && overrides+=(--epochs "$EPOCHS")
[ -n "${SWITCH:-}" ] && overrides+=(--switch_epoch "$SWITCH")
[ -n "${REFRESH:-}" ] && overrides+=(--refresh_every "$REFRESH")
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
slim() { rm -f "$1"/*.npy "$1"/checkpoint.safetensors "$1"/*.tmp.* 2>/dev/null; true; }

{
  echo "# proof run $(date -u +%Y-%m-%dT%H:%MZ): device $DEVICE, preset $PRESET, $SUBSET training images, seeds $SEEDS"
  echo "host: $(uname -srm), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PYTHON" -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

for seed in $SEEDS; do
  S="$OUT/seed$seed"
  mkdir -p "$S"
  # ---- ours (the dump gives the training images' ids to the twin) ----
  t0=$(now)
  "$TRAIN" "${overrides[@]}" --seed "$seed" --out "$S/ours" --dump-steps "$SCRATCH/dump$seed" > "$S/ours.log" 2>&1
  rc=$?; t1=$(now)
  echo "ours seed $seed: exit $rc, $(secs "$t0" "$t1") s" | tee -a "$S/times.txt"
  [ "$rc" -eq 0 ] || { tail -n 20 "$S/ours.log"; continue; }
  # ---- the twin: the same config.yaml, the same images ----
  t0=$(now)
  "$PYTHON" "$ROOT/data_scripts/reference_gcc_torch.py" --config "$S/ours/config.yaml" --data-root "$DATA" \
    --device "$DEVICE" --train-ids "$SCRATCH/dump$seed/train_ids.npy" --out "$S/twin" --workers "$TWIN_WORKERS" \
    $([ "$THREADS" != 0 ] && echo "--threads $THREADS") > "$S/twin.log" 2>&1
  rc=$?; t1=$(now)
  echo "twin seed $seed: exit $rc, $(secs "$t0" "$t1") s" | tee -a "$S/times.txt"
  [ "$rc" -eq 0 ] || tail -n 20 "$S/twin.log"
  # ---- self-labelling on ours ----
  if [ "${SELFLABEL_EPOCHS:-}" != 0 ] && [ -x "$SELFLABEL" ]; then
    t0=$(now)
    "$SELFLABEL" --checkpoint "$S/ours/checkpoint.safetensors" --data-root "$DATA" --device "$DEVICE" \
      --threads "$THREADS" ${SELFLABEL_EPOCHS:+--epochs "$SELFLABEL_EPOCHS"} --out "$S/selflabel" > "$S/selflabel.log" 2>&1
    rc=$?; t1=$(now)
    echo "selflabel seed $seed: exit $rc, $(secs "$t0" "$t1") s" | tee -a "$S/times.txt"
  fi
  slim "$S/ours"; slim "$S/twin"; slim "$S/selflabel"
done

"$PYTHON" "$ROOT/data_scripts/proof_summary.py" "$OUT" | tee "$OUT/summary.md"
