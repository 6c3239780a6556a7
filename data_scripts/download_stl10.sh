#!/bin/sh
# STL-10 (binary version): downloads the official archive (or takes a local one with --archive), verifies its
# MD5, unpacks it where the toolkit looks by default and prints the path to pass to the trainer.
# Usage: sh data_scripts/download_stl10.sh [--dest DIR] [--archive FILE] [--md5 HEX] [--keep-archive] [--help]
set -eu
GCC_DS_SCRIPT="download_stl10.sh"
GCC_DS_NAME="stl10"
GCC_DS_TITLE="STL-10, binary version (5,000 train + 8,000 test + 100,000 unlabelled 96x96 images; 2.5 GB)"
GCC_DS_URL="http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
GCC_DS_MD5="91f7769df0f17e558f3565bffb0c7dfb"
GCC_DS_ARCHIVE="stl10_binary.tar.gz"
GCC_DS_SUBDIR="stl10_binary"
GCC_DS_FILES="train_X.bin train_y.bin test_X.bin test_y.bin unlabeled_X.bin class_names.txt"
. "$(dirname "$0")/download_common.sh"
gcc_fetch_dataset "$@"
