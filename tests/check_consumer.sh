#!/bin/sh
# ctest entry package_consumer: the installed CMake package works for a project of its own.
# `cmake --install` of this build tree into a temporary prefix, then tests/consumer (gcc::core only) is
# configured against it (CMAKE_PREFIX_PATH), built and run; its binary must load OpenBLAS from the folder
# of the library gcc-toolkit was configured with, and neither its link line nor the binary may hold
# yaml-cpp, zlib, gcc::toolkit's library or stb code. A failing step stops the test with FAILED and
# the reason; nothing is skipped.
# Usage: sh tests/check_consumer.sh <build dir> <consumer source dir> <cmake> <C++ compiler>
#                                   <OpenBLAS library>
set -u
build=$1
src=$2
cmake=$3
cxx=$4
openblas=$5
T=$(mktemp -d "${TMPDIR:-/tmp}/gcc_consumer.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
fail() { echo "FAILED: $*"; exit 1; }
step() {  # step "what" command...: runs the command with its output in $T/log, shown on failure
  what=$1
  shift
  if ! "$@" > "$T/log" 2>&1; then
    tail -n 40 "$T/log"
    fail "$what"
  fi
}
for tool in readelf nm ldd; do
  command -v "$tool" > /dev/null 2>&1 || fail "'$tool' is not installed (Debian: binutils, libc-bin)"
done

step "cmake --install $build --prefix $T/prefix" "$cmake" --install "$build" --prefix "$T/prefix"
config=$(find "$T/prefix" -name gcc_toolkitConfig.cmake | head -n 1)
[ -n "$config" ] || fail "the install holds no gcc_toolkitConfig.cmake"
echo "installed: ${config#"$T"/prefix/}, $(find "$T/prefix" -type f | wc -l) files"

step "configuring the consumer against the installed package" "$cmake" -S "$src" -B "$T/build" -G "Unix Makefiles" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$T/prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
grep "gcc_consumer: gcc_toolkit" "$T/log"
grep -q "gcc_consumer: gcc_toolkit .* from $T/prefix/" "$T/log" ||
  fail "the consumer did not find the package in the temporary prefix"
step "building the consumer" "$cmake" --build "$T/build"
bin=$T/build/gcc_consumer
[ -x "$bin" ] || fail "no consumer binary at $bin"

link=$(find "$T/build" -name link.txt -path '*gcc_consumer.dir*' | head -n 1)
[ -n "$link" ] || fail "no link command of the consumer found under $T/build"
echo "consumer link line: $(sed 's/.*-o gcc_consumer//' "$link")"
grep -q -E 'yaml-cpp|libz\.|-lz( |$)|libgcc_toolkit' "$link" &&
  fail "gcc::core brings more than OpenBLAS and OpenMP into the link"

"$bin" > "$T/run" 2>&1
rc=$?
cat "$T/run"
[ "$rc" -eq 0 ] || fail "the consumer exited with $rc"

needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "consumer NEEDED: $needed"
case " $needed" in
  *" libyaml-cpp"*) fail "the consumer links yaml-cpp" ;;
esac
case " $needed" in
  *" libz.so"*) fail "the consumer links zlib" ;;
esac
case " $needed" in
  *" libopenblas.so"*) ;;
  *) fail "the consumer does not link OpenBLAS" ;;
esac
stb=$(nm "$bin" | grep -c -E ' (stbi_|stbiw_|stbi__)' || true)
[ "$stb" -eq 0 ] || fail "the consumer holds $stb stb symbols"
loaded=$(ldd "$bin" | sed -n 's/.*libopenblas\.so[^ ]* => \([^ ]*\).*/\1/p')
echo "consumer loads OpenBLAS from: $loaded"
want=$(dirname "$openblas")
[ "$(dirname "$loaded")" = "$want" ] || fail "OpenBLAS is loaded from '$loaded', not from $want"
ldd "$bin" | grep -q -E 'libyaml-cpp|libz\.so' && fail "yaml-cpp or zlib among the loaded libraries: $(ldd "$bin")"
echo "package_consumer: passed (installed, found, built, ran; links OpenBLAS from $want, no yaml-cpp, zlib or stb)"
