#!/usr/bin/env bash
# The GPU machine's check of gcc-toolkit, one script in under 7 minutes: environment, CUDA build, the CPU
# and CUDA test suites, compute-sanitizer memcheck, the phase-2 step benchmark against PyTorch eager
# (plus the kNN graph), the kernel drivers of kernels/dev/ and the op table's perf mode, and a summary. Every step has its own time limit; a failed step does not
# stop the script, which exits 1 if any step FAILed.
#
# Usage, from the repository root:
#   bash tests/device_check.sh OUTDIR        run the check; OUTDIR gets env.log build.log tests.log
#                                            memcheck.log bench.log kernels.log summary.md (7 files)
#   bash tests/device_check.sh --pack-deps   run HERE (Debian, with the deps installed) beforehand: writes
#                                            build-devdeps/gcc-devdeps.tar.gz (OpenBLAS, doctest, stb, zlib, libjpeg, yaml-cpp
#                                            headers and libraries, ~12 MB) for a GPU machine that lacks them; carry
#                                            build-devdeps there. The check unpacks it only if something is missing.
#   bash tests/device_check.sh --help
# Settings (environment variables):
#   GCC_CUDA_ARCHITECTURES  CUDA architectures to build (default 90: H100/H200 only, half the nvcc time)
#   JOBS                    build parallelism (default: nproc, i.e. 16 there)
#   BUILD_DIR               build directory (default build-device; reused when it exists)
#   GCC_TEST_GLOB           CPU test sources (default test_*.cpp, the whole suite)
#   DEADLINE_S              overall budget in seconds (default 400); each step also has its own cap
#   BENCH_BATCH, BENCH_STEPS  benchmark batch (default 256) and timed steps (default 10)
#   KNN_N                   kNN benchmark size (default 113000; 0 skips it)
#   MEMCHECK_ARGS           doctest arguments for the memcheck run (default: every CUDA test except the
#                           full training step, which is slow under the sanitizer): doctest arguments
#                           split on blanks ('?' matches any one character, e.g. '-tc=*op?table*');
#                           set it empty to run the whole suite under the sanitizer
#   PYTHON                  the python with torch (default python3)
#   ONLY                    the step groups to run, of: build tests memcheck bench kernels (default: all);
#                           the others are reported SKIP ("not selected"), e.g. ONLY="tests bench" on a
#                           rerun in a warm build directory
#   CUDNN_ROOT, CUBLAS_ROOT as the top-level CMakeLists.txt reads them (found automatically otherwise)
# Exit status: 0 when no step failed (skips allowed), 1 when one did, 2 on bad usage.
set -u

usage() { sed -n '2,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'; }

ROOT=$(pwd)
if [ ! -f "$ROOT/CMakeLists.txt" ] || [ ! -d "$ROOT/include/gcc" ]; then
  echo "device_check: run me from the repository root (bash tests/device_check.sh OUTDIR)" >&2
  exit 2
fi
DEPS_TAR="$ROOT/build-devdeps/gcc-devdeps.tar.gz"

# ---- --pack-deps: bundle the Debian build dependencies a bare CUDA image may lack -------------------
pack_deps() {
  local stage
  stage=$(mktemp -d /tmp/gcc-devdeps-pack.XXXXXX) || return 1
  mkdir -p "$stage/include" "$stage/lib/cmake" "$(dirname "$DEPS_TAR")"
  local ob=/usr/include/x86_64-linux-gnu/openblas-openmp  # the OpenMP build, the one CMakeLists.txt links
  [ -f "$ob/cblas.h" ] || { echo "pack-deps: no $ob/cblas.h (libopenblas-openmp-dev)" >&2; return 1; }
  cp "$ob"/*.h "$stage/include/"
  [ -f /usr/include/stb/stb_image.h ] || { echo "pack-deps: /usr/include/stb missing (libstb-dev)" >&2; return 1; }
  cp -r /usr/include/stb "$stage/include/stb"
  [ -f /usr/include/doctest/doctest.h ] || { echo "pack-deps: doctest missing (doctest-dev)" >&2; return 1; }
  cp -r /usr/include/doctest "$stage/include/doctest"
  cp -r /usr/lib/cmake/doctest "$stage/lib/cmake/doctest"
  # The exported targets hard-code the /usr prefix: make it relative to the config file.
  sed -i 's|^set(_IMPORT_PREFIX "/usr")|get_filename_component(_IMPORT_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)|' \
    "$stage/lib/cmake/doctest/doctestTargets.cmake"
  local lib
  lib=$(readlink -f /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0 2>/dev/null || true)
  [ -f "$lib" ] || { echo "pack-deps: no openblas-openmp/libopenblas.so.0 (libopenblas-openmp-dev)" >&2; return 1; }
  cp "$lib" "$stage/lib/libopenblas.so.0"
  ln -s libopenblas.so.0 "$stage/lib/libopenblas.so"
  local dep
  # libgfortran, libquadmath; not libc/libm, nor libgomp: the machine's compiler has its own (newer) one
  for dep in $(ldd "$lib" | awk '/=> \// {print $3}'); do
    case "$(basename "$dep")" in
      libc.so*|libm.so*|libgcc_s.so*|libpthread.so*|libdl.so*|libgomp.so*|ld-linux*) ;;
      *) cp "$(readlink -f "$dep")" "$stage/lib/$(basename "$dep")" ;;
    esac
  done
  # zlib (gzip-compressed IDX files): headers and a library to link against, kept out of lib/ (which
  # goes on LD_LIBRARY_PATH) so that python and torch keep the system's libz.so.1.
  [ -f /usr/include/zlib.h ] || { echo "pack-deps: /usr/include/zlib.h missing (zlib1g-dev)" >&2; return 1; }
  cp /usr/include/zlib.h /usr/include/zconf.h "$stage/include/"
  mkdir -p "$stage/lib-link"
  cp "$(readlink -f /usr/lib/x86_64-linux-gnu/libz.so.1)" "$stage/lib-link/libz.so.1"
  ln -s libz.so.1 "$stage/lib-link/libz.so"
  # libjpeg-turbo (data/jpeg_decode.hpp): headers and a library to link against, kept in lib-link/ like zlib.
  [ -f /usr/include/jpeglib.h ] || { echo "pack-deps: /usr/include/jpeglib.h missing (libjpeg62-turbo-dev)" >&2; return 1; }
  cp /usr/include/jpeglib.h /usr/include/jmorecfg.h /usr/include/jerror.h "$stage/include/"
  cp /usr/include/x86_64-linux-gnu/jconfig.h "$stage/include/"
  cp "$(readlink -f /usr/lib/x86_64-linux-gnu/libjpeg.so.62)" "$stage/lib-link/libjpeg.so.62"
  ln -s libjpeg.so.62 "$stage/lib-link/libjpeg.so"
  # yaml-cpp (train/config_*.hpp): headers, the shared library and its CMake package (prefix-relative).
  [ -f /usr/include/yaml-cpp/yaml.h ] || { echo "pack-deps: yaml-cpp missing (libyaml-cpp-dev)" >&2; return 1; }
  cp -r /usr/include/yaml-cpp "$stage/include/yaml-cpp"
  mkdir -p "$stage/lib/x86_64-linux-gnu/cmake"
  cp -r /usr/lib/x86_64-linux-gnu/cmake/yaml-cpp "$stage/lib/x86_64-linux-gnu/cmake/"
  local ylib
  ylib=$(readlink -f /usr/lib/x86_64-linux-gnu/libyaml-cpp.so)
  cp "$ylib" "$stage/lib/x86_64-linux-gnu/"
  ln -s "$(basename "$ylib")" "$stage/lib/x86_64-linux-gnu/libyaml-cpp.so.0.7"
  ln -s "$(basename "$ylib")" "$stage/lib/x86_64-linux-gnu/libyaml-cpp.so"
  tar -C "$stage" -czf "$DEPS_TAR" . && rm -rf "$stage"
  echo "pack-deps: wrote $DEPS_TAR ($(du -h "$DEPS_TAR" | cut -f1)); carry build-devdeps to the GPU machine"
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --pack-deps) pack_deps; exit $? ;;
  ""|-*) usage >&2; exit 2 ;;
esac
OUT=$1
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)

ARCH=${GCC_CUDA_ARCHITECTURES:-90}
JOBS=${JOBS:-$(nproc)}
BUILD=${BUILD_DIR:-build-device}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
TEST_GLOB=${GCC_TEST_GLOB:-test_*.cpp}
DEADLINE_S=${DEADLINE_S:-400}
BENCH_BATCH=${BENCH_BATCH:-256}
BENCH_STEPS=${BENCH_STEPS:-10}
KNN_N=${KNN_N:-113000}
MEMCHECK_ARGS=${MEMCHECK_ARGS--tce=*full?phase-2*}
set -f; read -r -a MEM_ARGS <<<"$MEMCHECK_ARGS"; set +f  # split on blanks, no globbing
ONLY=" ${ONLY:-build tests memcheck bench kernels} "
selected() { case "$ONLY" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
T_START=$(date +%s)
TMP=$(mktemp -d /tmp/gcc-device-check.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export PYTHONUNBUFFERED=1

LOG_ENV="$OUT/env.log" LOG_BUILD="$OUT/build.log" LOG_TESTS="$OUT/tests.log"
LOG_MEM="$OUT/memcheck.log" LOG_BENCH="$OUT/bench.log" LOG_KERNELS="$OUT/kernels.log" SUMMARY="$OUT/summary.md"
for f in "$LOG_ENV" "$LOG_BUILD" "$LOG_TESTS" "$LOG_MEM" "$LOG_BENCH" "$LOG_KERNELS" "$SUMMARY"; do : >"$f"; done

# ---- step bookkeeping ---------------------------------------------------------------------------------
ROWS=()   # "step|STATUS|seconds|key figure"
ANY_FAIL=0
row() {  # row STEP STATUS SECONDS KEY
  ROWS+=("$1|$2|$3|$4")
  [ "$2" = FAIL ] && ANY_FAIL=1
  printf '[device_check] %-16s %-5s %6ss  %s\n' "$1" "$2" "$3" "$4"
}
now_ms() { date +%s%3N; }
secs_since() { local d=$(( $(now_ms) - $1 )); printf '%d.%d' $((d / 1000)) $(((d % 1000) / 100)); }

# run LOG CAP CMD...: CMD under `timeout`, at most CAP seconds and never past the overall deadline (10 s
# are kept for the summary). Output goes to $LAST (parsed by the caller), then is appended to LOG unless
# LOG is "-". Sets RC (124: timed out, 200: not run, no time left) and SECS.
LAST="$TMP/last.log"
run() {
  local log=$1 cap=$2
  shift 2
  local left=$(( DEADLINE_S - ($(date +%s) - T_START) - 10 ))
  if [ "$left" -lt 5 ]; then
    echo "--- not run (overall deadline of ${DEADLINE_S}s reached): $*" >"$LAST"
    RC=200; SECS=0
  else
    local lim=$(( cap < left ? cap : left ))
    echo "--- \$ $*   [limit ${lim}s, $(date -u +%H:%M:%S)]" >"$LAST"
    local t0
    t0=$(now_ms)
    timeout --kill-after=5 "$lim" "$@" >>"$LAST" 2>&1 </dev/null
    RC=$?
    SECS=$(secs_since "$t0")
    [ "$RC" -eq 137 ] && RC=124
    echo "--- exit $RC after ${SECS}s$([ "$RC" -eq 124 ] && echo " (TIMED OUT at ${lim}s)")" >>"$LAST"
  fi
  [ "$log" = "-" ] || cat "$LAST" >>"$log"
}
why() {  # a status note for a non-zero RC
  case "$1" in 124) echo "timed out" ;; 200) echo "no time left" ;; 77) echo "skipped itself (exit 77)" ;; *) echo "exit $1" ;; esac
}
doctest_summary() {  # the "test cases: ..." figures of the last doctest run in a log
  grep -a '^\[doctest\] test cases:' "$1" | tail -1 | sed 's/^\[doctest\] //; s/ *|/,/g; s/  */ /g'
}

# ---- (a) environment ----------------------------------------------------------------------------------
t0=$(now_ms)
HAVE_GPU=0
{
  echo "# gcc-toolkit device check, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), in $ROOT"
  echo "## nvidia-smi"
  if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 20 nvidia-smi 2>&1
    timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  else
    echo "nvidia-smi: not found"
  fi
} >>"$LOG_ENV"
if command -v nvidia-smi >/dev/null 2>&1 && timeout 20 nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then HAVE_GPU=1; fi
GPU_NAME=$( [ "$HAVE_GPU" = 1 ] && timeout 20 nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)

# nvcc, cuDNN, cuBLAS, compute-sanitizer, and the Debian build deps.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
PY=${PYTHON:-python3}
py_pkg_dir() {  # py_pkg_dir MODULE FILE: a search location of MODULE holding FILE (relative path)
  "$PY" - "$1" "$2" 2>/dev/null <<'EOF'
import importlib.util, os, sys
try:
    spec = importlib.util.find_spec(sys.argv[1])
except Exception:
    spec = None
for p in (list(spec.submodule_search_locations or []) if spec else []):
    if os.path.exists(os.path.join(p, sys.argv[2])):
        print(p)
        break
EOF
}
NVCC_ROOT=$(cd "$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")/.." 2>/dev/null && pwd)
CUDNN_FROM="environment"
if [ -z "${CUDNN_ROOT:-}" ]; then
  CUDNN_ROOT=$(py_pkg_dir nvidia.cudnn include/cudnn.h)
  CUDNN_FROM="python3's nvidia.cudnn wheel"
  if [ -z "$CUDNN_ROOT" ]; then CUDNN_FROM="system paths (CMake's search)"; fi
fi
CUBLAS_FROM="CUDA toolkit ($NVCC_ROOT)"
if [ -z "${CUBLAS_ROOT:-}" ] && ! ls "$NVCC_ROOT"/lib64/libcublas.so* "$NVCC_ROOT"/lib/libcublas.so* \
     "$NVCC_ROOT"/targets/*/lib/libcublas.so* >/dev/null 2>&1; then
  for m in nvidia.cu13 nvidia.cublas nvidia.cu12; do
    CUBLAS_ROOT=$(py_pkg_dir "$m" lib/libcublas.so.13)
    [ -n "$CUBLAS_ROOT" ] || CUBLAS_ROOT=$(py_pkg_dir "$m" lib/libcublas.so.12)
    [ -n "$CUBLAS_ROOT" ] && { CUBLAS_FROM="python3's $m wheel"; break; }
  done
fi
[ -n "${CUBLAS_ROOT:-}" ] && [ "$CUBLAS_FROM" = "CUDA toolkit ($NVCC_ROOT)" ] && CUBLAS_FROM="environment"
for d in "${CUDNN_ROOT:-}" "${CUBLAS_ROOT:-}"; do
  [ -n "$d" ] && [ -d "$d/lib" ] && export LD_LIBRARY_PATH="$d/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
export CUDNN_ROOT="${CUDNN_ROOT:-}" CUBLAS_ROOT="${CUBLAS_ROOT:-}"

SANITIZER=$(command -v compute-sanitizer 2>/dev/null || true)
for c in "$NVCC_ROOT/bin/compute-sanitizer" "$NVCC_ROOT/compute-sanitizer/compute-sanitizer" \
         /usr/local/cuda/bin/compute-sanitizer; do
  [ -z "$SANITIZER" ] && [ -x "$c" ] && SANITIZER=$c
done

any_exists() { local p; for p in "$@"; do [ -e "$p" ] && return 0; done; return 1; }
MISSING=""
# OpenBLAS: the OpenMP build at Debian's paths (CMakeLists.txt's defaults), else the bundle's copy of it.
any_exists /usr/include/x86_64-linux-gnu/openblas-openmp/cblas.h || MISSING="$MISSING cblas.h"
any_exists /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so || MISSING="$MISSING libopenblas"
any_exists /usr/lib/cmake/doctest /usr/local/lib/cmake/doctest /usr/lib/x86_64-linux-gnu/cmake/doctest \
  /usr/share/doctest || MISSING="$MISSING doctest"
any_exists /usr/include/stb/stb_image.h || MISSING="$MISSING stb"
any_exists /usr/include/zlib.h /usr/local/include/zlib.h || MISSING="$MISSING zlib"
any_exists /usr/include/yaml-cpp/yaml.h /usr/local/include/yaml-cpp/yaml.h || MISSING="$MISSING yaml-cpp"
any_exists /usr/include/jpeglib.h /usr/local/include/jpeglib.h || MISSING="$MISSING libjpeg"
DEPS_NOTE="system"
OPENBLAS_ARGS=()
if [ -n "$MISSING" ]; then
  if [ -f "$DEPS_TAR" ]; then
    D=/tmp/gcc-devdeps
    mkdir -p "$D" && tar -C "$D" -xzf "$DEPS_TAR"
    export CMAKE_PREFIX_PATH="$D${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
    export CMAKE_INCLUDE_PATH="$D/include:$D/include/stb${CMAKE_INCLUDE_PATH:+:$CMAKE_INCLUDE_PATH}"
    export CMAKE_LIBRARY_PATH="$D/lib:$D/lib-link${CMAKE_LIBRARY_PATH:+:$CMAKE_LIBRARY_PATH}"
    export LD_LIBRARY_PATH="$D/lib:$D/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    case "$MISSING" in *libopenblas*|*cblas.h*)
      OPENBLAS_ARGS=(-DGCC_OPENBLAS_LIBRARY="$D/lib/libopenblas.so" -DGCC_CBLAS_INCLUDE_DIR="$D/include") ;;
    esac
    DEPS_NOTE="missing:$MISSING -> unpacked build-devdeps/gcc-devdeps.tar.gz into $D"
  else
    DEPS_NOTE="missing:$MISSING, and no build-devdeps/gcc-devdeps.tar.gz (make it with --pack-deps and carry it)"
  fi
fi
{
  echo "## versions"
  echo "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  command -v nvcc >/dev/null 2>&1 && nvcc --version | tail -2 || echo "nvcc: not found"
  cmake --version 2>&1 | head -1
  command -v ninja >/dev/null 2>&1 && echo "ninja $(ninja --version)"
  c++ --version 2>&1 | head -1
  "$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version(), "cuda available", torch.cuda.is_available())' 2>&1 | tail -1
  echo "compute-sanitizer: ${SANITIZER:-not found}"
  echo "## dependencies"
  echo "cuDNN: CUDNN_ROOT=${CUDNN_ROOT:-<unset>} (from $CUDNN_FROM)"
  echo "cuBLAS: CUBLAS_ROOT=${CUBLAS_ROOT:-<unset>} (from $CUBLAS_FROM)"
  echo "OpenBLAS/doctest/stb/zlib/yaml-cpp: $DEPS_NOTE"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  echo "GPU present: $HAVE_GPU ${GPU_NAME:+($GPU_NAME)}"
} >>"$LOG_ENV" 2>&1
if [ "$HAVE_GPU" = 1 ]; then
  row env PASS "$(secs_since "$t0")" "$GPU_NAME; arch $ARCH; deps: ${MISSING:+bundle for$MISSING}${MISSING:-system}"
else
  row env FAIL "$(secs_since "$t0")" "no GPU (nvidia-smi lists none): the GPU steps below cannot pass"
fi

# ---- (b) configure + build: every target (CPU tests, CUDA tests, examples, CUDA benchmarks) ----------
GEN=()
BIN_CPU="$BUILD/tests/gcc_tests" BIN_CUDA="$BUILD/tests/gcc_cuda_tests" BIN_BENCH="$BUILD/examples/bench_gcc_step"
if ! selected build; then
  row build SKIP 0 "not selected (ONLY=$(echo $ONLY)); using the binaries in $BUILD"
else
if [ ! -f "$BUILD/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then GEN=(-G Ninja); fi
run "$LOG_BUILD" 60 cmake -S "$ROOT" -B "$BUILD" ${GEN[@]+"${GEN[@]}"} -DCMAKE_BUILD_TYPE=Release -DGCC_WITH_CUDA=ON \
  -DGCC_CUDA_ARCHITECTURES="$ARCH" -DGCC_TEST_GLOB="$TEST_GLOB" -DGCC_BUILD_TESTS=ON -DGCC_BUILD_EXAMPLES=ON \
  ${CUDNN_ROOT:+-DCUDNN_ROOT="$CUDNN_ROOT"} ${CUBLAS_ROOT:+-DCUBLAS_ROOT="$CUBLAS_ROOT"} \
  ${OPENBLAS_ARGS[@]+"${OPENBLAS_ARGS[@]}"}
CFG_RC=$RC CFG_SECS=$SECS
if [ "$CFG_RC" -eq 0 ]; then
  KEEP_GOING=(-- -k)
  grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja' "$BUILD/CMakeCache.txt" && KEEP_GOING=(-- -k 0)
  run "$LOG_BUILD" 240 cmake --build "$BUILD" -j "$JOBS" "${KEEP_GOING[@]}"
  BUILD_RC=$RC
  SECS=$(awk -v a="$CFG_SECS" -v b="$SECS" 'BEGIN {printf "%.1f", a + b}')
else
  BUILD_RC=$CFG_RC SECS=$CFG_SECS
fi
built=""; for b in "$BIN_CPU" "$BIN_CUDA" "$BIN_BENCH"; do [ -x "$b" ] && built="$built $(basename "$b")"; done
nerr=$(grep -ac 'error:\|error [0-9]*:' "$LOG_BUILD" || true)
if [ "$CFG_RC" -ne 0 ]; then
  row build FAIL "$SECS" "configure failed ($(why "$CFG_RC")): see build.log"
elif [ "$BUILD_RC" -eq 0 ]; then
  row build PASS "$SECS" "sm_$ARCH, -j$JOBS, Release; built:$built"
else
  row build FAIL "$SECS" "$(why "$BUILD_RC"), $nerr error lines; built anyway:${built:- nothing}"
fi
fi

# ---- (c) the CPU suite and the CUDA suite -------------------------------------------------------------
if ! selected tests; then
  row cpu_tests SKIP 0 "not selected"
  row cuda_tests SKIP 0 "not selected"
else
if [ -x "$BIN_CPU" ]; then
  run "$LOG_TESTS" 120 "$BIN_CPU"
  s=$(doctest_summary "$LAST")
  if [ "$RC" -eq 0 ]; then row cpu_tests PASS "$SECS" "$s"; else row cpu_tests FAIL "$SECS" "$(why "$RC"); $s"; fi
else
  row cpu_tests FAIL 0 "gcc_tests was not built"
fi
if [ -x "$BIN_CUDA" ]; then
  run "$LOG_TESTS" 90 "$BIN_CUDA"
  s=$(doctest_summary "$LAST")
  if [ "$RC" -eq 0 ]; then
    row cuda_tests PASS "$SECS" "$s"
  elif [ "$RC" -eq 77 ] && [ "$HAVE_GPU" = 0 ]; then
    row cuda_tests SKIP "$SECS" "no GPU: $(grep -a 'SKIPPED' "$LAST" | tail -1 | cut -c1-120)"
  elif [ "$RC" -eq 77 ]; then
    row cuda_tests FAIL "$SECS" "exit 77 (skipped itself) on a GPU machine: $(grep -a 'SKIPPED' "$LAST" | tail -1 | cut -c1-100)"
  else
    row cuda_tests FAIL "$SECS" "$(why "$RC"); $s"
  fi
else
  row cuda_tests FAIL 0 "gcc_cuda_tests was not built"
fi
fi

# ---- (d) compute-sanitizer memcheck (leak check on) on the CUDA suite -----------------------------------
if ! selected memcheck; then
  row memcheck SKIP 0 "not selected"
elif [ "$HAVE_GPU" = 0 ]; then
  echo "memcheck not run: no GPU" >>"$LOG_MEM"
  row memcheck SKIP 0 "no GPU"
elif [ -z "$SANITIZER" ]; then
  echo "memcheck not run: compute-sanitizer not found" >>"$LOG_MEM"
  row memcheck SKIP 0 "compute-sanitizer not found"
elif [ ! -x "$BIN_CUDA" ]; then
  row memcheck FAIL 0 "gcc_cuda_tests was not built"
else
  # API errors are not reported: the backend's own tests provoke some on purpose (test_cuda_backend.cu).
  # Blocks held by the caching allocator, the context workspace and the cuBLAS/cuDNN handles are never
  # freed by design (they live until the process ends), so leaks are reported as a figure, not failed.
  RAW="$TMP/memcheck.raw"
  run - 110 "$SANITIZER" --tool memcheck --leak-check full --report-api-errors no --show-backtrace device \
    "$BIN_CUDA" ${MEM_ARGS[@]+"${MEM_ARGS[@]}"}
  mv "$LAST" "$RAW"
  head -c 6000000 "$RAW" >>"$LOG_MEM"
  [ "$(wc -c <"$RAW")" -gt 6000000 ] && { echo "... (truncated; the end follows)"; tail -c 200000 "$RAW"; } >>"$LOG_MEM"
  total=$(grep -a 'ERROR SUMMARY:' "$RAW" | tail -1 | sed 's/.*ERROR SUMMARY: \([0-9]*\).*/\1/')
  leaks=$(grep -ac 'Leaked [0-9]* bytes' "$RAW" || true)
  leak_line=$(grep -a 'LEAK SUMMARY:' "$RAW" | tail -1 | sed 's/.*LEAK SUMMARY: //')
  total=${total:-?}
  # Each leaked allocation counts as one error in the summary; the sanitizer prints only the first 100.
  leak_allocs=$(echo "$leak_line" | sed -n 's/.* in \([0-9]*\) allocations.*/\1/p')
  [ -n "$leak_allocs" ] && leaks=$leak_allocs
  if [ "$total" != "?" ]; then memerr=$(( total >= leaks ? total - leaks : total )); else memerr="?"; fi
  s=$(doctest_summary "$RAW")
  key="$memerr memory errors (besides leaks); leaks: ${leak_line:-none reported}${s:+; $s}; args: ${MEMCHECK_ARGS:-none}"
  if grep -aq 'Device not supported' "$RAW"; then
    row memcheck SKIP "$SECS" "compute-sanitizer: device not supported here"
  elif [ "$RC" -eq 0 ] && [ "$memerr" = 0 ]; then
    row memcheck PASS "$SECS" "$key"
  else
    row memcheck FAIL "$SECS" "$(why "$RC"); $key"
  fi
fi

# ---- (e) the benchmark: bench_gcc_step beside bench_torch_gcc_step.py (strict FP32, then TF32), then ---
# bench_gcc_step in strict FP32 with nondeterministic cuDNN algorithms allowed (PyTorch's default) ------
result() {  # result LOG TAG KEY: the value of KEY in the last "RESULT TAG ..." line
  grep -a "^RESULT $2 " "$1" | tail -1 | tr ' ' '\n' | sed -n "s/^$3=//p"
}
bench_row() {  # bench_row NAME PART TAG: a row from the run just made (its output is copied to PART)
  local name=$1 part=$2 tag=$3
  cp "$LAST" "$part"
  local ips ms key
  ips=$(result "$part" "$tag" images_per_s)
  ms=$(result "$part" "$tag" ms_per_step)
  key="${ips:+$ips images/s, $ms ms/step}"
  local kms
  kms=$(result "$part" "${tag%_step}_knn" knn_ms)
  [ -n "$kms" ] && key="$key; kNN ${KNN_N}x128 top-6 $kms ms"
  local fwd
  fwd=$(result "$part" "${tag%_step}_breakdown" forward_ms)
  [ -n "$fwd" ] && key="$key; forward $fwd / loss $(result "$part" "${tag%_step}_breakdown" loss_ms) / backward \
$(result "$part" "${tag%_step}_breakdown" backward_ms) / SGD $(result "$part" "${tag%_step}_breakdown" optimizer_ms) ms"
  local growth
  growth=$(result "$part" "$tag" malloc_growth)
  [ -n "$growth" ] && key="$key; cudaMalloc growth in timed steps: $growth"
  if [ "$RC" -eq 0 ] && [ -n "$ips" ]; then
    row "$name" PASS "$SECS" "$key"
  elif [ "$RC" -eq 77 ] && [ "$HAVE_GPU" = 0 ]; then
    row "$name" SKIP "$SECS" "no GPU"
  else
    row "$name" FAIL "$SECS" "$(why "$RC")${key:+; $key}; $(grep -a -i 'error\|bench_gcc_step:' "$part" | tail -1 | cut -c1-150)"
  fi
}
if ! selected bench; then
  for n in bench_gcc bench_torch bench_gcc_tf32 bench_torch_tf32 bench_gcc_nondet; do row "$n" SKIP 0 "not selected"; done
elif [ "$HAVE_GPU" = 0 ]; then
  echo "benchmarks not run: no GPU" >>"$LOG_BENCH"
  for n in bench_gcc bench_torch bench_gcc_tf32 bench_torch_tf32 bench_gcc_nondet; do row "$n" SKIP 0 "no GPU"; done
else
  B=(--batch "$BENCH_BATCH" --steps "$BENCH_STEPS" --time-limit 25)
  if [ -x "$BIN_BENCH" ]; then
    run "$LOG_BENCH" 100 "$BIN_BENCH" "${B[@]}" --breakdown 1 --tf32 0 --knn-n "$KNN_N"
    bench_row bench_gcc "$TMP/b1" gcc_step
  else
    row bench_gcc FAIL 0 "bench_gcc_step was not built"
  fi
  run "$LOG_BENCH" 90 "$PY" "$ROOT/data_scripts/bench_torch_gcc_step.py" "${B[@]}" --breakdown --tf32 off --knn-n "$KNN_N"
  bench_row bench_torch "$TMP/b2" torch_step
  if [ -x "$BIN_BENCH" ]; then
    run "$LOG_BENCH" 60 "$BIN_BENCH" "${B[@]}" --tf32 1 --knn-n 0
    bench_row bench_gcc_tf32 "$TMP/b3" gcc_step
  else
    row bench_gcc_tf32 FAIL 0 "bench_gcc_step was not built"
  fi
  run "$LOG_BENCH" 60 "$PY" "$ROOT/data_scripts/bench_torch_gcc_step.py" "${B[@]}" --tf32 on --knn-n 0
  bench_row bench_torch_tf32 "$TMP/b4" torch_step
  if [ -x "$BIN_BENCH" ]; then
    run "$LOG_BENCH" 60 "$BIN_BENCH" "${B[@]}" --tf32 0 --deterministic 0 --knn-n 0
    bench_row bench_gcc_nondet "$TMP/b5" gcc_step
  else
    row bench_gcc_nondet FAIL 0 "bench_gcc_step was not built"
  fi
fi

# ---- (e2) the kernel drivers (kernels/dev/, each built alone) and the op table's perf mode ---------------
if ! selected kernels; then
  row kernel_drivers SKIP 0 "not selected"
  row op_perf SKIP 0 "not selected"
elif [ "$HAVE_GPU" = 0 ]; then
  row kernel_drivers SKIP 0 "no GPU"
  row op_perf SKIP 0 "no GPU"
else
  NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  run "$LOG_KERNELS" 120 sh "$ROOT/tests/check_kernels.sh" "$ROOT" "$NVCC" "$BUILD/kernels_dev" "$ARCH"
  if [ "$RC" -ne 0 ]; then
    row kernel_drivers FAIL "$SECS" "drivers did not build: $(why "$RC")"
  else
    ok=0; bad=""; t0=$(now_ms)
    for drv in "$BUILD"/kernels_dev/*; do
      [ -x "$drv" ] || continue
      run "$LOG_KERNELS" 90 "$drv" --repeat 5
      if [ "$RC" -eq 0 ]; then ok=$((ok + 1)); else bad="$bad $(basename "$drv")($RC)"; fi
    done
    SECS=$(secs_since "$t0")
    if [ -z "$bad" ]; then row kernel_drivers PASS "$SECS" "$ok drivers: every version passed its checks"
    else row kernel_drivers FAIL "$SECS" "$ok passed; failed:$bad"; fi
  fi
  if [ -x "$BIN_CUDA" ]; then
    run "$LOG_KERNELS" 120 "$BIN_CUDA" -ts="cuda perf" --no-skip
    step_line=$(grep -a "one phase-2 step" "$LAST" | tail -1 | cut -c1-160)
    if [ "$RC" -eq 0 ]; then row op_perf PASS "$SECS" "${step_line:-see kernels.log}"
    else row op_perf FAIL "$SECS" "$(why "$RC")"; fi
  else
    row op_perf FAIL 0 "gcc_cuda_tests was not built"
  fi
fi

# ---- (f) summary --------------------------------------------------------------------------------------
ratio() {  # ratio A B: A / B with two decimals, or "n/a"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}
{
  echo "# gcc-toolkit device check"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'); GPU: ${GPU_NAME:-none}; sm_$ARCH; total $(( $(date +%s) - T_START )) s (deadline ${DEADLINE_S} s)"
  echo
  echo "| step | status | seconds | key figure |"
  echo "|---|---|---|---|"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r a b c d <<<"$r"
    echo "| $a | $b | $c | ${d//|/\/} |"
  done
  if [ "$HAVE_GPU" = 1 ]; then
    echo
    g1=$(result "$TMP/b1" gcc_step images_per_s 2>/dev/null); t1=$(result "$TMP/b2" torch_step images_per_s 2>/dev/null)
    g3=$(result "$TMP/b3" gcc_step images_per_s 2>/dev/null); t4=$(result "$TMP/b4" torch_step images_per_s 2>/dev/null)
    echo "phase-2 step, batch $BENCH_BATCH (6 x $BENCH_BATCH images/step): gcc / torch images/s = $(ratio "$g1" "$t1") (strict FP32), $(ratio "$g3" "$t4") (TF32)"
    g5=$(result "$TMP/b5" gcc_step images_per_s 2>/dev/null)
    echo "strict FP32 with nondeterministic cuDNN algorithms allowed (torch's default): gcc / torch images/s = $(ratio "$g5" "$t1")"
    gk=$(result "$TMP/b1" gcc_knn knn_ms 2>/dev/null); tk=$(result "$TMP/b2" torch_knn knn_ms 2>/dev/null)
    echo "kNN ${KNN_N} x 128, top-6: gcc ${gk:-n/a} ms, torch ${tk:-n/a} ms"
  fi
  echo
  echo "Logs: env.log, build.log, tests.log, memcheck.log, bench.log"
} >"$SUMMARY" 2>/dev/null
echo
cat "$SUMMARY"
exit "$ANY_FAIL"
