#!/usr/bin/env bash
# Downloads the tree-sitter runtime and grammar sources pinned in third_party/grammars.lock
# (PyPI sdists), verifies their sha256 and extracts the C sources into third_party/_src/.
# Idempotent: archives already present with the right hash are not downloaded again, and
# nothing is done when third_party/_src/.lock-sha256 matches the lock file.
#   scripts/fetch_grammars.sh [--force]
# The sdists are downloaded as plain files by scripts/fetch_pypi_sdist.py (found by their
# sha256 on the package index, fetched in parallel, nothing built or installed).
# Env: RIPVEC_GRAMMAR_CACHE=<dir>  where sdists are kept (default third_party/_src/downloads);
#      RIPVEC_PYPI_INDEX=<url>     package index root (default $PIP_INDEX_URL, else
#                                  https://pypi.org/simple).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$root/third_party/grammars.lock"
src="$root/third_party/_src"
cache="${RIPVEC_GRAMMAR_CACHE:-$src/downloads}"
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

# Read the lock, then extract per archive in one tar pass (the language pack is 49 MB).
names=() pkgs=() vers=() shas=() inners=() dests=()
while read -r name pkg ver sha inner dest; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  names+=("$name") pkgs+=("$pkg") vers+=("$ver") shas+=("$sha") inners+=("$inner") dests+=("$dest")
done <"$lock"
# Every distinct sdist, verified in the cache (downloaded in parallel when missing).
declare -A archive=() specs_seen=()
specs=()
for i in "${!names[@]}"; do
  spec="${pkgs[$i]}==${vers[$i]}=${shas[$i]}"
  [[ -n "${specs_seen[$spec]:-}" ]] && continue
  specs_seen[$spec]=1
  specs+=("$spec")
done
if ! listing="$(python3 "$root/scripts/fetch_pypi_sdist.py" "$cache" "${specs[@]}")"; then
  echo "fetch_grammars: could not get the sdists pinned in $lock (see above; offline?). Put them" \
    "(same sha256) in a folder and set RIPVEC_GRAMMAR_CACHE to it, or configure with" \
    "-DRIPVEC_TREESITTER=OFF to chunk by line windows only." >&2
  exit 1
fi
while read -r key path; do archive[$key]="$path"; done <<<"$listing"
# Only now that every archive is here: replace the extracted sources. Each archive is unpacked
# once (one tar pass over the members the lock names), then the rows are copied in lock order,
# so a later row may add files inside an earlier row's tree (C#'s headers).
rm -f "$src/.lock-sha256"
rm -rf "$src/tree-sitter" "$src/grammars"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
declare -A unpacked=()
for i in "${!names[@]}"; do
  key="${pkgs[$i]}==${vers[$i]}"
  [[ -n "${unpacked[$key]:-}" ]] && continue
  file="${archive[$key]}"
  top="$(basename "$file" .tar.gz)"  # an sdist's single top-level folder
  unpacked[$key]="$tmp/$i/$top"
  # Members of this archive, less those inside another member (tar would miss them twice).
  members=()
  for j in "${!names[@]}"; do
    [[ "${pkgs[$j]}==${vers[$j]}" == "$key" ]] || continue
    inside=0
    for k in "${!names[@]}"; do
      [[ $k != "$j" && "${pkgs[$k]}==${vers[$k]}" == "$key" && "${inners[$j]}" == "${inners[$k]}"/* ]] &&
        inside=1
    done
    [[ $inside == 0 ]] && members+=("$top/${inners[$j]}")
  done
  mkdir -p "$tmp/$i"
  # --touch: fresh mtimes, so that builds notice sources that changed with the lock file.
  tar xzf "$file" --touch -C "$tmp/$i" "${members[@]}"
done
: >"$src/VERSIONS.new"
for i in "${!names[@]}"; do
  key="${pkgs[$i]}==${vers[$i]}"
  mkdir -p "$(dirname "$src/${dests[$i]}")"
  rm -rf "${src:?}/${dests[$i]}"
  cp -r "${unpacked[$key]}/${inners[$i]}" "$src/${dests[$i]}"
  echo "${names[$i]} ${pkgs[$i]} ${vers[$i]}" >>"$src/VERSIONS.new"
  echo "fetch_grammars: ${names[$i]} <- ${pkgs[$i]} ${vers[$i]} (${inners[$i]})"
done
mv "$src/VERSIONS.new" "$src/VERSIONS"
echo "$lock_sha" >"$src/.lock-sha256"
echo "fetch_grammars: done ($src)"
