# Shared logic of the data_scripts/download_*.sh scripts (sourced, not run): argument parsing, the
# default destination, download or local archive, MD5 check, unpack into a temp folder, check of the
# expected files, atomic move into place, and the "already there" / "refusing to overwrite" rules.
#
# Conventions (all scripts): messages go to stderr; on success the ONLY line on stdout is the path to
# pass to the trainer, so `ROOT=$(sh data_scripts/download_cifar10.sh)` works. Exit status 0 on success
# (also when the data is already there), 1 on any failure, 2 on a usage error.
# Default destination: ${GCC_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gcc-toolkit}/<name>, the same
# folder the toolkit's readers look in when given no root (gcc::data_detail::default_data_dir()).

gcc_say() { printf '%s: %s\n' "$GCC_DS_SCRIPT" "$*" >&2; }
gcc_die() { gcc_say "error: $*"; exit 1; }

gcc_default_data_dir() {
  if [ -n "${GCC_DATA_DIR:-}" ]; then
    printf '%s\n' "$GCC_DATA_DIR"
  elif [ -n "${XDG_CACHE_HOME:-}" ]; then
    printf '%s\n' "$XDG_CACHE_HOME/gcc-toolkit"
  else
    printf '%s\n' "${HOME:-.}/.cache/gcc-toolkit"
  fi
}

gcc_md5() {  # prints the MD5 of file $1
  if command -v md5sum >/dev/null 2>&1; then
    md5sum "$1" | cut -d' ' -f1
  elif command -v md5 >/dev/null 2>&1; then
    md5 -q "$1"
  else
    gcc_die "neither md5sum nor md5 is installed; cannot verify the archive"
  fi
}

gcc_usage() {  # to stdout for --help, to stderr (gcc_usage >&2) on a usage error
  cat <<EOF
Usage: $GCC_DS_SCRIPT [--dest DIR] [--archive FILE] [--md5 HEX] [--keep-archive] [--help]

Downloads $GCC_DS_TITLE
  from $GCC_DS_URL,
verifies its MD5 ($GCC_DS_MD5), unpacks it into DIR and prints the path to pass to the
trainer (DIR/$GCC_DS_SUBDIR). Progress and errors go to stderr; stdout holds only that path.

  --dest DIR      where to unpack (default: $(gcc_default_data_dir)/$GCC_DS_NAME;
                  GCC_DATA_DIR or XDG_CACHE_HOME move the default)
  --archive FILE  use this local copy of the archive instead of downloading (machines without internet)
  --md5 HEX       expect this MD5 instead of the official one (a repackaged mirror; testing)
  --keep-archive  keep the downloaded archive as DIR/$GCC_DS_ARCHIVE
  --help          this text

Idempotent: when DIR already holds the unpacked dataset the script says "already there" and prints
the path again. It refuses to write into an existing DIR that holds anything else.
EOF
}

# gcc_fetch_dataset "$@": needs GCC_DS_SCRIPT, GCC_DS_NAME, GCC_DS_TITLE, GCC_DS_URL, GCC_DS_MD5,
# GCC_DS_ARCHIVE (file name), GCC_DS_SUBDIR (top folder inside the archive), GCC_DS_FILES (paths
# relative to GCC_DS_SUBDIR that must exist after unpacking).
gcc_fetch_dataset() {
  dest="" archive="" md5="$GCC_DS_MD5" keep=0
  while [ $# -gt 0 ]; do
    case "$1" in
      -h|--help) gcc_usage; exit 0 ;;
      --dest) [ $# -ge 2 ] || { gcc_usage >&2; exit 2; }; dest="$2"; shift 2 ;;
      --archive) [ $# -ge 2 ] || { gcc_usage >&2; exit 2; }; archive="$2"; shift 2 ;;
      --md5) [ $# -ge 2 ] || { gcc_usage >&2; exit 2; }; md5="$2"; shift 2 ;;
      --keep-archive) keep=1; shift ;;
      *) gcc_say "unknown argument '$1'"; gcc_usage >&2; exit 2 ;;
    esac
  done
  [ -n "$dest" ] || dest="$(gcc_default_data_dir)/$GCC_DS_NAME"
  dest="${dest%/}"
  final="$dest/$GCC_DS_SUBDIR"
  marker="$dest/.gcc-dataset"
  want_marker="$GCC_DS_NAME $GCC_DS_ARCHIVE md5=$md5"

  # Already there?
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want_marker" ]; then
    missing=""
    for f in $GCC_DS_FILES; do [ -e "$final/$f" ] || missing="$missing $f"; done
    if [ -z "$missing" ]; then
      gcc_say "already there: $final"
      printf '%s\n' "$final"
      exit 0
    fi
    gcc_die "$dest was unpacked before but now lacks:$missing; remove $dest and run again"
  fi
  if [ -e "$dest" ] && [ -n "$(ls -A "$dest" 2>/dev/null)" ]; then
    gcc_die "refusing to overwrite $dest: it exists and does not hold this script's $GCC_DS_NAME ($GCC_DS_ARCHIVE); remove it or pass another --dest"
  fi
  if [ -e "$dest" ] && [ ! -d "$dest" ]; then
    gcc_die "refusing to overwrite $dest: it is a file; remove it or pass another --dest"
  fi

  parent=$(dirname "$dest")
  mkdir -p "$parent" || gcc_die "cannot create $parent"
  work="$dest.partial.$$"
  rm -rf "$work"
  mkdir -p "$work" || gcc_die "cannot create $work"
  trap 'rm -rf "$work"' EXIT INT TERM

  if [ -n "$archive" ]; then
    [ -f "$archive" ] || gcc_die "--archive $archive: no such file"
    src="$archive"
    gcc_say "using the local archive $archive"
  else
    src="$work/$GCC_DS_ARCHIVE"
    gcc_say "downloading $GCC_DS_URL"
    if command -v curl >/dev/null 2>&1; then
      curl -fL --retry 3 -o "$src" "$GCC_DS_URL" || gcc_die "download of $GCC_DS_URL failed (no internet? fetch it elsewhere and pass --archive FILE)"
    elif command -v wget >/dev/null 2>&1; then
      wget -O "$src" "$GCC_DS_URL" || gcc_die "download of $GCC_DS_URL failed (no internet? fetch it elsewhere and pass --archive FILE)"
    else
      gcc_die "neither curl nor wget is installed; fetch $GCC_DS_URL elsewhere and pass --archive FILE"
    fi
  fi

  gcc_say "verifying the MD5 of $src"
  got=$(gcc_md5 "$src")
  if [ "$got" != "$md5" ]; then
    gcc_die "checksum mismatch for $src: MD5 $got, expected $md5 ($GCC_DS_URL); the file is corrupt, incomplete or not the official archive: delete it and download again"
  fi

  gcc_say "unpacking into $dest"
  mkdir -p "$work/data"
  case "$GCC_DS_ARCHIVE" in
    *.tar.gz|*.tgz) tar -xzf "$src" -C "$work/data" || gcc_die "cannot unpack $src (tar failed)" ;;
    *.zip)
      if command -v unzip >/dev/null 2>&1; then
        unzip -q "$src" -d "$work/data" || gcc_die "cannot unpack $src (unzip failed)"
      elif command -v python3 >/dev/null 2>&1; then
        python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$src" "$work/data" ||
          gcc_die "cannot unpack $src (python3 zipfile failed)"
      else
        gcc_die "cannot unpack $src: install unzip"
      fi ;;
    *) gcc_die "unknown archive type $GCC_DS_ARCHIVE" ;;
  esac
  missing=""
  for f in $GCC_DS_FILES; do [ -e "$work/data/$GCC_DS_SUBDIR/$f" ] || missing="$missing $f"; done
  [ -z "$missing" ] || gcc_die "$src does not hold the expected files (missing in $GCC_DS_SUBDIR/:$missing); is it the right archive?"
  printf '%s\n' "$want_marker" > "$work/data/.gcc-dataset"
  if [ "$keep" = 1 ] && [ -z "$archive" ]; then mv "$src" "$work/data/$GCC_DS_ARCHIVE"; fi
  if [ -d "$dest" ]; then rmdir "$dest" || gcc_die "cannot replace the empty folder $dest"; fi
  mv "$work/data" "$dest" || gcc_die "cannot move the unpacked data to $dest"
  rm -rf "$work"
  trap - EXIT INT TERM
  gcc_say "ready: $final"
  printf '%s\n' "$final"
}
