#!/bin/sh
# CIFAR-10 (binary version): downloads the official archive (or takes a local one with --archive), verifies its
# MD5, unpacks it where the toolkit looks by default and prints the path to pass to the trainer.
# Usage: sh data_scripts/download_cifar10.sh [--dest DIR] [--archive FILE] [--md5 HEX] [--keep-archive] [--help]
set -eu
GCC_DS_SCRIPT="download_cifar10.sh"
GCC_DS_NAME="cifar10"
GCC_DS_TITLE="CIFAR-10, binary version (60,000 32x32 images; the toolkit reads all 6 batches)"
GCC_DS_URL="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
GCC_DS_MD5="c32a1d4ab5d03f1284b67883e8d87530"
GCC_DS_ARCHIVE="cifar-10-binary.tar.gz"
GCC_DS_SUBDIR="cifar-10-batches-bin"
GCC_DS_FILES="data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin batches.meta.txt"
. "$(dirname "$0")/download_common.sh"
gcc_fetch_dataset "$@"
