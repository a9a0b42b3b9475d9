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
# Read the lock, then extract per archive in one tar pass (the language pack is 49 MB).
names=() pkgs=() vers=() shas=() inners=() dests=()
while read -r name pkg ver sha inner dest; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  names+=("$name") pkgs+=("$pkg") vers+=("$ver") shas+=("$sha") inners+=("$inner") dests+=("$dest")
done <"$lock"
declare -A done_archive=()
: >"$src/VERSIONS.new"
for i in "${!names[@]}"; do
  key="${pkgs[$i]}==${vers[$i]}"
  [[ -n "${done_archive[$key]:-}" ]] && continue
  done_archive[$key]=1
  archive="$(archive_for "${pkgs[$i]}" "${vers[$i]}" "${shas[$i]}")"
  top="$(basename "$archive" .tar.gz)"  # an sdist's single top-level folder
  members=()
  for j in "${!names[@]}"; do
    [[ "${pkgs[$j]}==${vers[$j]}" == "$key" ]] && members+=("$top/${inners[$j]}")
  done
  tmp="$(mktemp -d)"
  # --touch: fresh mtimes, so that builds notice sources that changed with the lock file.
  tar xzf "$archive" --touch -C "$tmp" "${members[@]}"
  for j in "${!names[@]}"; do
    [[ "${pkgs[$j]}==${vers[$j]}" == "$key" ]] || continue
    mkdir -p "$(dirname "$src/${dests[$j]}")"
    rm -rf "${src:?}/${dests[$j]}"
    mv "$tmp/$top/${inners[$j]}" "$src/${dests[$j]}"
    echo "${names[$j]} ${pkgs[$j]} ${vers[$j]}" >>"$src/VERSIONS.new"
    echo "fetch_grammars: ${names[$j]} <- ${pkgs[$j]} ${vers[$j]} (${inners[$j]})"
  done
  rm -rf "$tmp"
done
mv "$src/VERSIONS.new" "$src/VERSIONS"
echo "$lock_sha" >"$src/.lock-sha256"
echo "fetch_grammars: done ($src)"
