#!/usr/bin/env bash
# Downloads the tree-sitter runtime and grammar sources pinned in third_party/grammars.lock
# (PyPI sdists), verifies their sha256 and extracts the C sources into third_party/_src/.
# Idempotent: archives already present with the right hash are not downloaded again, and
# nothing is done when third_party/_src/.lock-sha256 matches the lock file.
#   scripts/fetch_grammars.sh [--force]
# Env: RIPVEC_GRAMMAR_CACHE=<dir>  where sdists are kept (default third_party/_src/downloads);
#      PIP=<cmd>                   pip command (default "python3 -m pip").
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$root/third_party/grammars.lock"
src="$root/third_party/_src"
cache="${RIPVEC_GRAMMAR_CACHE:-$src/downloads}"
pip_cmd=(${PIP:-python3 -m pip})
force=0
[[ "${1:-}" == "--force" ]] && force=1

mkdir -p "$src" "$cache"
# Several build directories may configure at once; one fetch at a time.
exec 9>"$src/.fetch.lock"
flock 9

lock_sha="$(sha256sum "$lock" | cut -d' ' -f1)"
if [[ $force == 0 && -f "$src/.lock-sha256" && "$(cat "$src/.lock-sha256")" == "$lock_sha" ]]; then
  echo "fetch_grammars: sources up to date in $src"
  exit 0
fi

# archive_for <package> <version> <sha256>: prints the path of the verified sdist.
archive_for() {
  local pkg="$1" ver="$2" sha="$3" norm f
  norm="$(echo "$pkg" | tr '-' '_')"
  for f in "$cache/$norm-$ver.tar.gz" "$cache/$pkg-$ver.tar.gz"; do
    if [[ -f "$f" ]] && [[ "$(sha256sum "$f" | cut -d' ' -f1)" == "$sha" ]]; then
      echo "$f"
      return 0
    fi
  done
  local tmp
  tmp="$(mktemp -d)"
  echo "fetch_grammars: downloading $pkg==$ver" >&2
  "${pip_cmd[@]}" download --quiet --no-deps --no-binary :all: -d "$tmp" "$pkg==$ver" >&2
  f="$(ls "$tmp"/*.tar.gz | head -1)"
  local got
  got="$(sha256sum "$f" | cut -d' ' -f1)"
  if [[ "$got" != "$sha" ]]; then
    echo "fetch_grammars: sha256 mismatch for $pkg==$ver: expected $sha, got $got" >&2
    rm -rf "$tmp"
    return 1
  fi
  mv "$f" "$cache/"
  rm -rf "$tmp"
  echo "$cache/$(basename "$f")"
}

rm -f "$src/.lock-sha256"
rm -rf "$src/tree-sitter" "$src/grammars"
while read -r name pkg ver sha inner dest; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  archive="$(archive_for "$pkg" "$ver" "$sha")"
  top="$(basename "$archive" .tar.gz)"  # an sdist's single top-level folder
  tmp="$(mktemp -d)"
  # --touch: fresh mtimes, so that builds notice sources that changed with the lock file.
  tar xzf "$archive" --touch -C "$tmp" "$top/$inner"
  mkdir -p "$(dirname "$src/$dest")"
  rm -rf "$src/$dest"
  mv "$tmp/$top/$inner" "$src/$dest"
  rm -rf "$tmp"
  echo "$name $pkg $ver" >>"$src/VERSIONS.new"
  echo "fetch_grammars: $name <- $pkg $ver ($inner)"
done <"$lock"
mv "$src/VERSIONS.new" "$src/VERSIONS"
echo "$lock_sha" >"$src/.lock-sha256"
echo "fetch_grammars: done ($src)"
