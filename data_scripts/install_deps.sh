#!/bin/sh
# Installs what gcc-toolkit needs on Debian 12 and is not there yet (idempotent; apt runs only when
# something is missing). Usage: sh data_scripts/install_deps.sh [--reference]
#   --reference  also install Debian's python3-torch/-torchvision/-sklearn/-faiss (and yaml, scipy,
#                matplotlib), used only to regenerate test fixtures, run the comparison benchmarks and
#                the PyTorch twin (ctest torch_twin / checkpoint_torch run with them, skip without them).
set -eu
case "${1:-}" in
  -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
esac
# clang-14, libclang-rt-14-dev (libFuzzer, sanitizer runtimes), libomp-14-dev: the fuzz targets (tests/fuzz)
# libdnnl-dev: oneDNN, the CPU convolutions (optional in CMake; ~2x faster CPU training steps)
# openmpi-bin, libopenmpi-dev: data-parallel training over MPI (gcc::dist_mpi, ctest dist_mpi)
pkgs="cmake make g++ libopenblas-openmp-dev doctest-dev libstb-dev libyaml-cpp-dev zlib1g-dev libjpeg62-turbo-dev dataset-fashion-mnist zip unzip
clang-14 libclang-rt-14-dev libomp-14-dev openmpi-bin libopenmpi-dev libdnnl-dev"
if [ "${1:-}" = "--reference" ]; then
  pkgs="$pkgs python3 python3-numpy python3-torch python3-torchvision python3-yaml python3-scipy python3-matplotlib python3-sklearn python3-faiss"
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "install_deps: everything is installed"
  exit 0
fi
echo "install_deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
