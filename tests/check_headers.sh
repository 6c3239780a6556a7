#!/bin/sh
# ctest entry headers_alone: every public header include/gcc/**/*.hpp compiles on its own, i.e. a .cpp
# holding only `#include <gcc/...hpp>` passes `<c++> -fsyntax-only` (two at a time). Failures are listed
# with the compiler's first error lines. .cuh headers (CUDA backend) are not compiled (nvcc is slow) and
# the output says how many were skipped.
# Usage: sh tests/check_headers.sh <include dir> <C++ compiler> <flags file, one flag a line>
set -u
inc=$1
cxx=$2
flags_file=$3
[ -d "$inc/gcc" ] || { echo "FAILED: no gcc/ folder under '$inc'"; exit 1; }
[ -r "$flags_file" ] || { echo "FAILED: cannot read the flags file '$flags_file'"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/gcc_headers.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

grep -v '^$' "$flags_file" > "$T/flags"  # one flag a line, as CMake's file(GENERATE) wrote them

(cd "$inc" && find gcc -name '*.hpp' | LC_ALL=C sort) > "$T/hpp"
(cd "$inc" && find gcc -name '*.cuh' | LC_ALL=C sort) > "$T/cuh"
n=$(wc -l < "$T/hpp")
[ "$n" -gt 0 ] || { echo "FAILED: no .hpp headers under $inc/gcc"; exit 1; }

# One job per header: writes $T/fail.<id> (header name + compiler output) when it does not compile.
export T cxx
# shellcheck disable=SC2016  # expanded by the job's shell
xargs -P2 -I{} sh -c '
  h=$1
  id=$(printf "%s" "$h" | tr "/." "__")
  printf "#include <%s>\n" "$h" > "$T/$id.cpp"
  set --
  while IFS= read -r f; do set -- "$@" "$f"; done < "$T/flags"
  if ! "$cxx" "$@" -fsyntax-only "$T/$id.cpp" > "$T/$id.log" 2>&1; then
    { echo "--- $h"; head -n 25 "$T/$id.log"; } > "$T/fail.$id"
  fi' _ {} < "$T/hpp"

failed=0
for f in "$T"/fail.*; do
  [ -e "$f" ] || continue
  failed=$((failed + 1))
  cat "$f"
done
ncuh=$(wc -l < "$T/cuh")
if [ "$ncuh" -gt 0 ]; then
  echo "skipped: $ncuh .cuh headers (the CUDA backend: compiled by the CUDA targets, and the kernel headers of"
  echo "kernels/gcc/kernels/ one by one by ctest kernels_alone; not here: nvcc is slow):"
  tr '\n' ' ' < "$T/cuh"
  echo
fi
if [ "$failed" -gt 0 ]; then
  echo "FAILED: $failed of $n headers do not compile on their own (listed above)"
  exit 1
fi
echo "headers_alone: all $n .hpp headers compile on their own"
