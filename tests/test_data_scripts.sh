#!/bin/sh
# Tests data_scripts/ without network: fake archives in the official layouts are passed with --archive;
# checks the MD5 rule (mismatch fails clearly, nothing is left behind), unpacking, the printed path,
# idempotence ("already there"), refusal to overwrite, --help, and make_imagenet_subset.sh's lists.
# Usage: sh tests/test_data_scripts.sh [path/to/data_scripts]
# shellcheck disable=SC2016  # conditions given to `checks` in single quotes are evaluated later on purpose
set -u
DS="${1:-$(cd "$(dirname "$0")/../data_scripts" && pwd)}"
T=$(mktemp -d "${TMPDIR:-/tmp}/gcc_scripts_test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); printf 'FAIL: %s\n' "$*" >&2; }
check() {  # check "description" command...
  d="$1"; shift
  if "$@"; then ok; else bad "$d"; fi
}
# checks "description" 'shell condition' (evaluated now; may combine tests with && and ||)
checks() {
  d="$1"
  if eval "$2"; then ok; else bad "$d"; fi
}
contains() { case "$1" in *"$2"*) return 0 ;; *) return 1 ;; esac; }
# run SCRIPT ARGS...: sets rc, out (stdout), err (stderr)
run() {
  script="$1"
  shift
  sh "$DS/$script" "$@" > "$T/out" 2> "$T/err" </dev/null
  rc=$?
  out=$(cat "$T/out")
  err=$(cat "$T/err")
}
no_partial() { for f in "$T"/*partial*; do [ -e "$f" ] && return 1; done; return 0; }
md5of() { md5sum "$1" | cut -d' ' -f1; }

# ---- --help and usage errors -----------------------------------------------------------------------
for s in download_cifar10.sh download_cifar100.sh download_stl10.sh download_tiny_imagenet.sh make_imagenet_subset.sh; do
  run "$s" --help
  check "$s --help exits 0" [ "$rc" -eq 0 ]
  check "$s --help prints usage on stdout" contains "$out" "Usage:"
  run "$s" --bogus
  check "$s --bogus exits 2" [ "$rc" -eq 2 ]
  check "$s --bogus names the argument" contains "$err" "unknown argument '--bogus'"
done

# ---- CIFAR-10: a fake archive in the official layout ------------------------------------------------
mkdir -p "$T/src/cifar-10-batches-bin"
for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
  head -c 3073 /dev/zero > "$T/src/cifar-10-batches-bin/$f.bin"
done
printf 'airplane\nautomobile\n' > "$T/src/cifar-10-batches-bin/batches.meta.txt"
tar -czf "$T/cifar-10-binary.tar.gz" -C "$T/src" cifar-10-batches-bin
sum=$(md5of "$T/cifar-10-binary.tar.gz")

# checksum mismatch (the fake is not the official archive): clear failure, nothing left behind
run download_cifar10.sh --dest "$T/c10" --archive "$T/cifar-10-binary.tar.gz"
check "md5 mismatch exits 1" [ "$rc" -eq 1 ]
check "md5 mismatch says so" contains "$err" "checksum mismatch for $T/cifar-10-binary.tar.gz: MD5 $sum, expected c32a1d4ab5d03f1284b67883e8d87530"
check "md5 mismatch prints no path" [ -z "$out" ]
check "md5 mismatch creates no destination" [ ! -e "$T/c10" ]
check "md5 mismatch leaves no partial folder" no_partial

# success with the expected MD5 given explicitly
run download_cifar10.sh --dest "$T/c10" --archive "$T/cifar-10-binary.tar.gz" --md5 "$sum"
check "cifar10 unpack exits 0" [ "$rc" -eq 0 ]
check "cifar10 prints the path to pass" [ "$out" = "$T/c10/cifar-10-batches-bin" ]
check "cifar10 files unpacked" [ -f "$T/c10/cifar-10-batches-bin/test_batch.bin" ]
check "cifar10 says ready" contains "$err" "ready: $T/c10/cifar-10-batches-bin"
# idempotent
run download_cifar10.sh --dest "$T/c10" --archive "$T/cifar-10-binary.tar.gz" --md5 "$sum"
check "second run exits 0" [ "$rc" -eq 0 ]
check "second run prints the same path" [ "$out" = "$T/c10/cifar-10-batches-bin" ]
check "second run says already there" contains "$err" "already there: $T/c10/cifar-10-batches-bin"
# the data lost a file
rm "$T/c10/cifar-10-batches-bin/data_batch_3.bin"
run download_cifar10.sh --dest "$T/c10" --archive "$T/cifar-10-binary.tar.gz" --md5 "$sum"
check "damaged destination fails" [ "$rc" -eq 1 ]
check "damaged destination names the missing file" contains "$err" "lacks: data_batch_3.bin"
# refuses to overwrite a folder holding something else
mkdir -p "$T/other"
echo precious > "$T/other/file.txt"
run download_cifar10.sh --dest "$T/other" --archive "$T/cifar-10-binary.tar.gz" --md5 "$sum"
check "refuses to overwrite: exit 1" [ "$rc" -eq 1 ]
check "refuses to overwrite: message" contains "$err" "refusing to overwrite $T/other"
check "refuses to overwrite: content untouched" [ "$(cat "$T/other/file.txt")" = precious ]
check "refuses to overwrite: nothing added" [ "$(ls -A "$T/other")" = file.txt ]
# an empty existing folder is fine
mkdir -p "$T/empty"
run download_cifar10.sh --dest "$T/empty" --archive "$T/cifar-10-binary.tar.gz" --md5 "$sum"
checks "empty destination folder accepted" '[ "$rc" -eq 0 ] && [ -f "$T/empty/cifar-10-batches-bin/data_batch_1.bin" ]'
# the default destination follows GCC_DATA_DIR
export GCC_DATA_DIR="$T/datadir"
run download_cifar10.sh --archive "$T/cifar-10-binary.tar.gz" --md5 "$sum"
unset GCC_DATA_DIR
check "default destination under GCC_DATA_DIR" [ "$out" = "$T/datadir/cifar10/cifar-10-batches-bin" ]
# an archive of the right checksum but without the expected files
mkdir -p "$T/src2/cifar-10-batches-bin"
cp "$T/src/cifar-10-batches-bin/data_batch_1.bin" "$T/src2/cifar-10-batches-bin/"
tar -czf "$T/partial.tar.gz" -C "$T/src2" cifar-10-batches-bin
run download_cifar10.sh --dest "$T/c10b" --archive "$T/partial.tar.gz" --md5 "$(md5of "$T/partial.tar.gz")"
check "incomplete archive fails" [ "$rc" -eq 1 ]
check "incomplete archive names what is missing" contains "$err" "missing in cifar-10-batches-bin/: data_batch_2.bin"
check "incomplete archive creates no destination" [ ! -e "$T/c10b" ]
# a missing local archive
run download_cifar10.sh --dest "$T/c10c" --archive "$T/nope.tar.gz"
checks "missing --archive file fails" '[ "$rc" -eq 1 ] && contains "$err" "--archive $T/nope.tar.gz: no such file"'
# a corrupt archive whose checksum was (wrongly) vouched for
head -c 1000 /dev/urandom > "$T/garbage.tar.gz"
run download_cifar10.sh --dest "$T/c10d" --archive "$T/garbage.tar.gz" --md5 "$(md5of "$T/garbage.tar.gz")"
checks "garbage archive fails at unpacking" '[ "$rc" -eq 1 ] && contains "$err" "cannot unpack"'
check "garbage archive creates no destination" [ ! -e "$T/c10d" ]

# ---- CIFAR-100, STL-10 (tar.gz) and Tiny-ImageNet (zip) ---------------------------------------------
mkdir -p "$T/src/cifar-100-binary"
for f in train.bin test.bin coarse_label_names.txt fine_label_names.txt; do echo x > "$T/src/cifar-100-binary/$f"; done
tar -czf "$T/c100.tar.gz" -C "$T/src" cifar-100-binary
run download_cifar100.sh --dest "$T/c100" --archive "$T/c100.tar.gz" --md5 "$(md5of "$T/c100.tar.gz")"
checks "cifar100 path" '[ "$rc" -eq 0 ] && [ "$out" = "$T/c100/cifar-100-binary" ]'
run download_cifar100.sh --dest "$T/c100x" --archive "$T/c100.tar.gz"
checks "cifar100 checksum mismatch" '[ "$rc" -eq 1 ] && contains "$err" "expected 03b5dce01913d631647c71ecec9e9cb8"'

mkdir -p "$T/src/stl10_binary"
for f in train_X.bin train_y.bin test_X.bin test_y.bin unlabeled_X.bin class_names.txt; do echo x > "$T/src/stl10_binary/$f"; done
tar -czf "$T/stl.tar.gz" -C "$T/src" stl10_binary
run download_stl10.sh --dest "$T/stl" --archive "$T/stl.tar.gz" --md5 "$(md5of "$T/stl.tar.gz")"
checks "stl10 path" '[ "$rc" -eq 0 ] && [ "$out" = "$T/stl/stl10_binary" ]'
run download_stl10.sh --dest "$T/stlx" --archive "$T/stl.tar.gz"
checks "stl10 checksum mismatch" '[ "$rc" -eq 1 ] && contains "$err" "expected 91f7769df0f17e558f3565bffb0c7dfb"'

mkdir -p "$T/src/tiny-imagenet-200/train/n01443537/images" "$T/src/tiny-imagenet-200/val/images"
printf 'n01443537\n' > "$T/src/tiny-imagenet-200/wnids.txt"
printf 'n01443537\tgoldfish\n' > "$T/src/tiny-imagenet-200/words.txt"
echo x > "$T/src/tiny-imagenet-200/train/n01443537/images/n01443537_0.JPEG"
printf 'val_0.JPEG\tn01443537\t0\t0\t1\t1\n' > "$T/src/tiny-imagenet-200/val/val_annotations.txt"
if command -v zip >/dev/null 2>&1; then
  (cd "$T/src" && zip -qr "$T/tiny.zip" tiny-imagenet-200)
else
  python3 -c 'import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1], "w")
os.chdir(sys.argv[2])
for d, _, fs in os.walk("tiny-imagenet-200"):
    for f in fs: z.write(os.path.join(d, f))
z.close()' "$T/tiny.zip" "$T/src"
fi
run download_tiny_imagenet.sh --dest "$T/tiny" --archive "$T/tiny.zip" --md5 "$(md5of "$T/tiny.zip")"
checks "tiny-imagenet path" '[ "$rc" -eq 0 ] && [ "$out" = "$T/tiny/tiny-imagenet-200" ]'
check "tiny-imagenet unpacked" [ -f "$T/tiny/tiny-imagenet-200/train/n01443537/images/n01443537_0.JPEG" ]
run download_tiny_imagenet.sh --dest "$T/tiny" --archive "$T/tiny.zip" --md5 "$(md5of "$T/tiny.zip")"
checks "tiny-imagenet already there" '[ "$rc" -eq 0 ] && contains "$err" "already there"'
run download_tiny_imagenet.sh --dest "$T/tinyx" --archive "$T/tiny.zip"
checks "tiny-imagenet checksum mismatch" '[ "$rc" -eq 1 ] && contains "$err" "expected 90528d7ca1a48142e341f4ef8d21d0de"'

# ---- make_imagenet_subset.sh ------------------------------------------------------------------------
TR="$T/ILSVRC2012/train"
for w in n02056570 n02085936 n02128757 n02690373 n02692877 n03095699 n04254680 n04285008 n04467665 n07747607 n01440764; do
  mkdir -p "$TR/$w"
  for k in 3 1 10 2; do echo "$w $k" > "$TR/$w/${w}_$k.JPEG"; done
  echo notes > "$TR/$w/readme.txt"
done
run make_imagenet_subset.sh --subset imagenet10 --train-dir "$TR" --dest "$T/in10" --per-class 2
check "subset exits 0" [ "$rc" -eq 0 ]
check "subset prints the destination" [ "$out" = "$T/in10" ]
check "subset writes 20 lines" [ "$(wc -l < "$T/in10/imagenet10.txt" | tr -d ' ')" -eq 20 ]
check "subset: first file in byte order" [ "$(sed -n 1p "$T/in10/imagenet10.txt")" = "$TR/n02056570/n02056570_1.JPEG 0" ]
check "subset: second file in byte order" [ "$(sed -n 2p "$T/in10/imagenet10.txt")" = "$TR/n02056570/n02056570_10.JPEG 0" ]
check "subset: last label 9" [ "$(sed -n 20p "$T/in10/imagenet10.txt")" = "$TR/n07747607/n07747607_10.JPEG 9" ]
check "subset: other classes ignored" [ -z "$(grep n01440764 "$T/in10/imagenet10.txt")" ]
run make_imagenet_subset.sh --subset imagenet10 --train-dir "$TR" --dest "$T/in10" --per-class 2
checks "subset second run: already there" '[ "$rc" -eq 0 ] && contains "$err" "already there: $T/in10" && [ "$out" = "$T/in10" ]'
run make_imagenet_subset.sh --subset imagenet10 --train-dir "$TR" --dest "$T/in10" --per-class 3
checks "subset with other options refuses to overwrite" '[ "$rc" -eq 1 ] && contains "$err" "refusing to overwrite $T/in10"'
run make_imagenet_subset.sh --subset imagenet10 --train-dir "$TR" --dest "$T/in10l" --per-class 4 --links
check "subset --links exits 0" [ "$rc" -eq 0 ]
check "subset --links: relative paths" [ "$(sed -n 4p "$T/in10l/imagenet10.txt")" = "n02056570/n02056570_3.JPEG 0" ]
checks "subset --links: link resolves" '[ -L "$T/in10l/n02056570/n02056570_3.JPEG" ] && [ "$(cat "$T/in10l/n02056570/n02056570_3.JPEG")" = "n02056570 3" ]'
run make_imagenet_subset.sh --subset imagenet10 --train-dir "$TR" --dest "$T/in10f" --per-class 5
checks "subset: too few images fails" '[ "$rc" -eq 1 ] && contains "$err" "holds 4 images, fewer than the 5 per class"'
check "subset: failure creates no destination" [ ! -e "$T/in10f" ]
run make_imagenet_subset.sh --subset imagenet-dogs --train-dir "$TR" --dest "$T/dogs" --per-class 2
checks "dogs: missing class folder fails" '[ "$rc" -eq 1 ] && contains "$err" "class folder $TR/n02086646 is missing"'
run make_imagenet_subset.sh --subset imagenet10 --train-dir "$T/nowhere"
checks "subset: missing train folder fails" '[ "$rc" -eq 1 ] && contains "$err" "--train-dir $T/nowhere is not a folder"'
export GCC_DATA_DIR="$T/dd"
run make_imagenet_subset.sh --subset imagenet10 --train-dir "$TR" --per-class 0
unset GCC_DATA_DIR
lines=$(wc -l < "$T/dd/imagenet10/imagenet10.txt" | tr -d ' ')
check "subset default destination" [ "$out" = "$T/dd/imagenet10" ]
check "subset --per-class 0 takes all" [ "$lines" -eq 40 ]

printf 'test_data_scripts: %d checks passed, %d failed\n' "$pass" "$fail"
[ "$fail" -eq 0 ]
