#!/bin/sh
# CIFAR-100 (binary version; CIFAR-20 = its coarse labels): downloads the official archive (or takes a local one with --archive), verifies its
# MD5, unpacks it where the toolkit looks by default and prints the path to pass to the trainer.
# Usage: sh data_scripts/download_cifar100.sh [--dest DIR] [--archive FILE] [--md5 HEX] [--keep-archive] [--help]
set -eu
GCC_DS_SCRIPT="download_cifar100.sh"
GCC_DS_NAME="cifar100"
GCC_DS_TITLE="CIFAR-100, binary version (60,000 32x32 images; CIFAR-20 = its coarse labels)"
GCC_DS_URL="https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"
GCC_DS_MD5="03b5dce01913d631647c71ecec9e9cb8"
GCC_DS_ARCHIVE="cifar-100-binary.tar.gz"
GCC_DS_SUBDIR="cifar-100-binary"
GCC_DS_FILES="train.bin test.bin coarse_label_names.txt fine_label_names.txt"
. "$(dirname "$0")/download_common.sh"
gcc_fetch_dataset "$@"
