#!/usr/bin/env bash
# The library as a consumer sees it (scripts/test.sh runs this after the release build):
#   1. `cmake --install` BUILD_DIR into a clean temporary prefix;
#   2. every installed public header compiles on its own with only that prefix on the include
#      path (no src/ header may leak into include/ripvec);
#   3. examples/embed_similarity and examples/search_index build against the installed CMake
#      package (find_package(ripvec) -> ripvec::ripvec), and embed_similarity once more against
#      ripvec.pc with plain `c++ $(pkg-config ...)`;
#   4. both builds of embed_similarity run on the tiny committed model (tests/data/bert) and
#      print the same numbers; search_index indexes a copy of tests/data/chunk with it and finds hits.
#
#   scripts/check_install.sh [BUILD_DIR]     (default build/release)
# Nothing is written outside a temporary directory, which is removed afterwards.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build/release}" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/ripvec-install-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
jobs="${JOBS:-$(nproc)}"
cxx="${CXX:-c++}"
fail() { echo "check_install: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log" >&2; fail "cmake --install $build failed"; }
[[ -x "$prefix/bin/ripvec" ]] || fail "the ripvec executable was not installed"
[[ -f "$prefix/lib/cmake/ripvec/ripvecConfig.cmake" ]] || fail "no CMake package installed"
[[ -f "$prefix/lib/pkgconfig/ripvec.pc" ]] || fail "no ripvec.pc installed"
extra="$(find "$prefix/include" -type f ! -path "$prefix/include/ripvec/*.hpp")"
[[ -z "$extra" ]] || fail "files other than include/ripvec/*.hpp installed: $extra"

for h in "$prefix"/include/ripvec/*.hpp; do
  echo "#include <ripvec/$(basename "$h")>" |
    "$cxx" -std=c++20 -fsyntax-only -I"$prefix/include" -x c++ - ||
    fail "installed header $(basename "$h") does not compile on its own"
done

for ex in embed_similarity search_index; do
  cmake -S "$root/examples/$ex" -B "$work/$ex" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" >"$work/$ex.log" 2>&1 &&
    cmake --build "$work/$ex" -j"$jobs" >>"$work/$ex.log" 2>&1 ||
    { cat "$work/$ex.log" >&2; fail "examples/$ex does not build against the installed package"; }
done
PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
  "$cxx" -std=c++20 -O2 "$root/examples/embed_similarity/embed_similarity.cpp" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs ripvec) \
  -o "$work/embed_similarity_pc" ||
  fail "examples/embed_similarity does not build with pkg-config ripvec"

model="$root/tests/data/bert/tiny_bge_cls"
texts=("open a file" "read a file" "parse flags")
"$work/embed_similarity/embed_similarity" --model "$model" "${texts[@]}" >"$work/ex1.out" ||
  fail "embed_similarity failed on $model"
"$work/embed_similarity_pc" --model "$model" "${texts[@]}" >"$work/ex1_pc.out" ||
  fail "embed_similarity (pkg-config build) failed on $model"
cmp -s "$work/ex1.out" "$work/ex1_pc.out" ||
  fail "the CMake and pkg-config builds of embed_similarity disagree"
# One matrix row per text, each text against itself at cosine 1.
awk -v n=${#texts[@]} 'm && NF == n + 1 && $2 ~ /\./ { row++; if ($($1 + 2) != "1.000") bad = 1 }
  /^cosine similarity:/ { m = 1 } END { exit !(row == n && !bad) }' "$work/ex1.out" ||
  { cat "$work/ex1.out" >&2; fail "embed_similarity did not print a ${#texts[@]}x${#texts[@]} matrix with a unit diagonal"; }

# A copy outside the repository: inside it the git work tree's top would be the index root.
cp -r "$root/tests/data/chunk" "$work/tree"
HF_HUB_OFFLINE=1 "$work/search_index/search_index" --model "$model" --cache-dir "$work/cache" \
  "$work/tree" "parse the command line" >"$work/ex2.out" 2>"$work/ex2.err" ||
  { cat "$work/ex2.err" >&2; fail "search_index found nothing or failed"; }
echo "check_install: installed package OK ($(ls "$prefix/lib"/*.a | wc -l) static libraries," \
  "$(ls "$prefix/include/ripvec" | wc -l) headers; examples built and ran)"
