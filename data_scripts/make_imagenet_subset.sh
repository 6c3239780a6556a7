#!/bin/sh
# ImageNet-10 / ImageNet-Dogs (the GCC papers' subsets) from your ILSVRC-2012 train folder: writes the
# list file the toolkit reads (and optionally a symlink tree), then prints the path to pass to the trainer.
set -eu
GCC_DS_SCRIPT="make_imagenet_subset.sh"

usage() {
  cat <<'EOF'
Usage: make_imagenet_subset.sh --subset imagenet10|imagenet-dogs --train-dir DIR [--dest DIR]
                               [--per-class N] [--links] [--help]

Builds ImageNet-10 (10 classes, 13,000 images) or ImageNet-Dogs (15 dog classes, 19,500 images) from
an ILSVRC-2012 training folder (DIR/<wnid>/*.JPEG, as ILSVRC2012_img_train.tar unpacks; ImageNet is not
downloadable without an account, so this script never downloads). For each WordNet ID of the subset it
takes the first N images in sorted file-name order (byte order, as the toolkit's reader) and writes
DEST/<subset>.txt, one "path label" per line (label = position of the WNID in the list below). Stdout
holds only the path to pass to the trainer (DEST); progress and errors go to stderr.

  --subset S       imagenet10 or imagenet-dogs
  --train-dir DIR  the ILSVRC-2012 train folder (holding n02056570/ etc.)
  --dest DIR       output folder (default: ${GCC_DATA_DIR:-${XDG_CACHE_HOME:-~/.cache}/gcc-toolkit}/<subset>)
  --per-class N    images per class (default 1300, as the papers; 0 = all). A class with fewer
                   images than N is an error.
  --links          also create DEST/<wnid>/<file> symbolic links to the images (a tree that any
                   ImageFolder-style tool reads); the list then holds paths relative to DEST.
                   Without it the list holds absolute paths into the train folder.
  --help           this text

ImageNet-10:   n02056570 n02085936 n02128757 n02690373 n02692877 n03095699 n04254680 n04285008
               n04467665 n07747607
ImageNet-Dogs: n02085936 n02086646 n02088238 n02091467 n02097130 n02099601 n02101388 n02101556
               n02102177 n02105056 n02105412 n02105855 n02107142 n02110958 n02112137

Idempotent: when DEST already holds the same list the script says "already there" and prints DEST.
It refuses to write into an existing DEST that holds anything else.
EOF
}

say() { printf '%s: %s\n' "$GCC_DS_SCRIPT" "$*" >&2; }
die() { say "error: $*"; exit 1; }

subset="" train="" dest="" per_class=1300 links=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --subset) [ $# -ge 2 ] || { usage >&2; exit 2; }; subset="$2"; shift 2 ;;
    --train-dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; train="$2"; shift 2 ;;
    --dest) [ $# -ge 2 ] || { usage >&2; exit 2; }; dest="$2"; shift 2 ;;
    --per-class) [ $# -ge 2 ] || { usage >&2; exit 2; }; per_class="$2"; shift 2 ;;
    --links) links=1; shift ;;
    *) say "unknown argument '$1'"; usage >&2; exit 2 ;;
  esac
done

case "$subset" in
  imagenet10) wnids="n02056570 n02085936 n02128757 n02690373 n02692877 n03095699 n04254680 n04285008 n04467665 n07747607" ;;
  imagenet-dogs) wnids="n02085936 n02086646 n02088238 n02091467 n02097130 n02099601 n02101388 n02101556 n02102177 n02105056 n02105412 n02105855 n02107142 n02110958 n02112137" ;;
  "") say "--subset is required"; usage >&2; exit 2 ;;
  *) say "unknown subset '$subset' (imagenet10 or imagenet-dogs)"; exit 2 ;;
esac
[ -n "$train" ] || { say "--train-dir is required"; usage >&2; exit 2; }
case "$per_class" in ''|*[!0-9]*) die "--per-class must be a non-negative integer, got '$per_class'" ;; esac
[ -d "$train" ] || die "--train-dir $train is not a folder; pass your ILSVRC-2012 train folder (holding n02056570/ ...)"
train=$(cd "$train" && pwd -P)

if [ -z "$dest" ]; then
  if [ -n "${GCC_DATA_DIR:-}" ]; then base="$GCC_DATA_DIR"
  elif [ -n "${XDG_CACHE_HOME:-}" ]; then base="$XDG_CACHE_HOME/gcc-toolkit"
  else base="${HOME:-.}/.cache/gcc-toolkit"; fi
  dest="$base/$subset"
fi
dest="${dest%/}"

work=$(mktemp -d "${TMPDIR:-/tmp}/gcc_subset.XXXXXX") || die "cannot create a temporary folder"
trap 'rm -rf "$work"' EXIT INT TERM

# The list, built in $work/list.txt (paths relative to DEST with --links, else absolute).
label=0
: > "$work/list.txt"
for w in $wnids; do
  [ -d "$train/$w" ] || die "class folder $train/$w is missing: is $train the ILSVRC-2012 train folder?"
  find -L "$train/$w" -type f \( -name '*.JPEG' -o -name '*.jpeg' -o -name '*.jpg' -o -name '*.JPG' \
       -o -name '*.png' -o -name '*.PNG' -o -name '*.bmp' -o -name '*.BMP' \) -printf '%h\t%f\n' |
    LC_ALL=C sort > "$work/files.tsv"
  count=$(wc -l < "$work/files.tsv" | tr -d ' ')
  if [ "$per_class" -gt 0 ] && [ "$count" -lt "$per_class" ]; then
    die "class folder $train/$w holds $count images, fewer than the $per_class per class requested (--per-class 0 takes all)"
  fi
  [ "$count" -gt 0 ] || die "class folder $train/$w holds no images"
  take=$count
  [ "$per_class" -eq 0 ] || take=$per_class
  head -n "$take" "$work/files.tsv" | while IFS="$(printf '\t')" read -r dir file; do
    rel="${dir#"$train"/}/$file"
    if [ "$links" = 1 ]; then
      printf '%s %s\n' "$rel" "$label"
    else
      printf '%s/%s %s\n' "$dir" "$file" "$label"
    fi
  done >> "$work/list.txt"
  label=$((label + 1))
done
lines=$(wc -l < "$work/list.txt" | tr -d ' ')

list_name="$subset.txt"
if [ -f "$dest/$list_name" ] && cmp -s "$dest/$list_name" "$work/list.txt"; then
  say "already there: $dest ($lines images listed in $dest/$list_name)"
  printf '%s\n' "$dest"
  exit 0
fi
if [ -e "$dest" ] && [ -n "$(ls -A "$dest" 2>/dev/null)" ]; then
  die "refusing to overwrite $dest: it exists and does not hold this list (another subset, --per-class, --links or train folder?); remove it or pass another --dest"
fi

out="$dest.partial.$$"
rm -rf "$out"
mkdir -p "$out" || die "cannot create $out"
trap 'rm -rf "$work" "$out"' EXIT INT TERM
if [ "$links" = 1 ]; then
  while IFS= read -r line; do
    rel="${line% *}"
    mkdir -p "$out/$(dirname "$rel")"
    ln -s "$train/$rel" "$out/$rel" || die "cannot create the link $out/$rel"
  done < "$work/list.txt"
fi
cp "$work/list.txt" "$out/$list_name"
if [ -d "$dest" ]; then rmdir "$dest" || die "cannot replace the empty folder $dest"; fi
mkdir -p "$(dirname "$dest")"
mv "$out" "$dest" || die "cannot move the result to $dest"
say "ready: $dest ($lines images of $(echo "$wnids" | wc -w | tr -d ' ') classes listed in $dest/$list_name)"
printf '%s\n' "$dest"
