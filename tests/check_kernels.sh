#!/bin/sh
# ctest entry kernels_alone: the kernels can be studied alone.
#  1. Every kernel header kernels/gcc/kernels/*.cuh compiles with nvcc (for the last architecture; the
#     drivers below include every header and build for all of them) when only kernels/gcc/ is on the
#     include path (no include/: no gcc::Tensor, gcc/core or gcc/cuda header can sneak in), and
#     includes nothing outside gcc/kernels/ but the CUDA and C++ standard headers.
#  2. Every driver kernels/dev/*.cu builds in an EMPTY folder holding only itself, driver.cuh and a
#     copy of kernels/gcc/, with the nvcc line written in its own header comment (the README's recipe);
#     `-arch=...` is replaced by the architectures below. The binaries are left in OUT_DIR.
# Usage: sh tests/check_kernels.sh REPO_ROOT NVCC OUT_DIR [ARCHS, default "80 90"]
set -u
root=$1
nvcc=$2
out=$3
archs=${4:-80 90}
[ -d "$root/kernels/gcc/kernels" ] || { echo "FAILED: no kernels/gcc/kernels under '$root'"; exit 1; }
command -v "$nvcc" > /dev/null 2>&1 || [ -x "$nvcc" ] || { echo "SKIPPED: no nvcc ('$nvcc')"; exit 77; }
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/gcc_kernels.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
gencode=""
for a in $archs; do gencode="$gencode -gencode arch=compute_$a,code=sm_$a"; last=$a; done
# The headers alone need one architecture: what they must show is that they include nothing of ours
# outside gcc/kernels/. Every header is also included by a driver, built below for every architecture.
hdr_gencode="-gencode arch=compute_$last,code=sm_$last"
export T nvcc gencode hdr_gencode out root

# ---- 1. headers alone ----------------------------------------------------------------------------
mkdir -p "$T/hdr" && cp -R "$root/kernels/gcc" "$T/hdr/"
(cd "$T/hdr" && find gcc/kernels -name '*.cuh' | LC_ALL=C sort) > "$T/headers"
nh=$(wc -l < "$T/headers")
[ "$nh" -gt 0 ] || { echo "FAILED: no kernel headers"; exit 1; }
# shellcheck disable=SC2016  # expanded by the job's shell
xargs -P2 -I{} sh -c '
  h=$1
  id=$(printf "%s" "$h" | tr "/." "__")
  bad=$(grep -n "^#include \"" "$T/hdr/$h" | grep -v "#include \"[a-z_0-9]*\.cuh\"")
  if [ -n "$bad" ]; then
    { echo "--- $h includes something outside gcc/kernels/:"; echo "$bad"; } > "$T/fail.$id"; exit 0
  fi
  printf "#include \"%s\"\nint main() { return 0; }\n" "$h" > "$T/hdr/$id.cu"
  # shellcheck disable=SC2086
  if ! (cd "$T/hdr" && "$nvcc" -std=c++17 $hdr_gencode -I. -c "$id.cu" -o "$id.o") > "$T/$id.log" 2>&1; then
    { echo "--- $h does not compile alone:"; head -n 20 "$T/$id.log"; } > "$T/fail.$id"
  else
    echo "ok   header $h"
  fi' _ {} < "$T/headers"

# ---- 2. drivers, each in an empty folder ----------------------------------------------------------
ls "$root"/kernels/dev/*.cu 2> /dev/null | LC_ALL=C sort > "$T/drivers"
nd=$(wc -l < "$T/drivers")
[ "$nd" -gt 0 ] || { echo "FAILED: no drivers in kernels/dev"; exit 1; }
# shellcheck disable=SC2016
xargs -P2 -I{} sh -c '
  src=$1
  name=$(basename "$src" .cu)
  d="$T/drv_$name"
  mkdir -p "$d" && cp "$src" "$root/kernels/dev/driver.cuh" "$d/" && cp -R "$root/kernels/gcc" "$d/"
  line=$(grep -m1 "^//   nvcc " "$src" | sed "s|^//   ||; s| && .*||")
  if [ -z "$line" ]; then
    echo "--- driver $name.cu: no build line (\"//   nvcc ... $name.cu -o $name\") in its header comment" > "$T/fail.drv_$name"
    exit 0
  fi
  cmd=$(printf "%s" "$line" | sed "s|-arch=[^ ]*|$gencode|; s|-o $name\\b|-o $out/$name|")
  if (cd "$d" && sh -c "$cmd") > "$T/drv_$name.log" 2>&1; then
    echo "ok   driver kernels/dev/$name.cu  ($line)"
  else
    { echo "--- driver $name.cu does not build alone with: $cmd"; head -n 25 "$T/drv_$name.log"; } > "$T/fail.drv_$name"
  fi' _ {} < "$T/drivers"

failed=0
for f in "$T"/fail.*; do
  [ -e "$f" ] || continue
  failed=$((failed + 1))
  cat "$f"
done
if [ "$failed" -gt 0 ]; then
  echo "FAILED: $failed of $nh headers + $nd drivers (listed above)"
  exit 1
fi
echo "kernels_alone: $nh kernel headers compile alone (sm_$last), $nd drivers build in empty folders (sm_$(echo "$archs" | sed "s/ /, sm_/g")); binaries in $out"
