#!/bin/sh
# Tiny-ImageNet-200: downloads the official archive (or takes a local one with --archive), verifies its
# MD5, unpacks it where the toolkit looks by default and prints the path to pass to the trainer.
# Usage: sh data_scripts/download_tiny_imagenet.sh [--dest DIR] [--archive FILE] [--md5 HEX] [--keep-archive] [--help]
set -eu
GCC_DS_SCRIPT="download_tiny_imagenet.sh"
GCC_DS_NAME="tiny-imagenet"
GCC_DS_TITLE="Tiny-ImageNet-200 (100,000 train + 10,000 val 64x64 images, 200 classes)"
GCC_DS_URL="http://cs231n.stanford.edu/tiny-imagenet-200.zip"
GCC_DS_MD5="90528d7ca1a48142e341f4ef8d21d0de"
GCC_DS_ARCHIVE="tiny-imagenet-200.zip"
GCC_DS_SUBDIR="tiny-imagenet-200"
GCC_DS_FILES="wnids.txt words.txt train val/val_annotations.txt"
. "$(dirname "$0")/download_common.sh"
gcc_fetch_dataset "$@"
