#!/usr/bin/env bash
# ModernBERT parity at the full modernbert-embed-base shape, on demand (too big for CI):
#   1. scripts/gen_modernbert_goldens.py full DIR: random-initialized ModernBertModel with the
#      config of nomic-ai/modernbert-embed-base (read from tests/data/assets), its weights (~600 MB) and transformers' hidden states for lengths 1 .. 2048;
#   2. tests/parity/modernbert_full_slow_test.cpp against DIR (per-token cosine >= 0.99999,
#      max |diff| <= 1e-4, each sequence alone and all of them in one mixed batch).
#
#   scripts/modernbert_full_parity.sh [DIR]
#
# DIR defaults to a fresh temporary directory that is removed afterwards; a DIR that already
# holds goldens.json is reused as is (KEEP it for the CPU benchmark: scripts/bench_modernbert_cpu.py
# --model-dir DIR). BUILD_DIR (default build/release) picks the build tree; JOBS (default 2)
# the build parallelism.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
build="${BUILD_DIR:-build/release}"
jobs="${JOBS:-2}"

cfg="$root/tests/data/assets/models/nomic-modernbert-embed-base/config.json"
if [[ ! -f "$cfg" ]]; then
  echo "missing $cfg (tests/data/assets); cannot build the full-shape fixture" >&2
  exit 1
fi

if [[ $# -ge 1 ]]; then
  dir="$1"
  mkdir -p "$dir"
  cleanup=""
else
  dir="$(mktemp -d "${TMPDIR:-/tmp}/ripvec-modernbert-full.XXXXXX")"
  cleanup="$dir"
fi
trap '[[ -n "$cleanup" ]] && rm -rf "$cleanup"' EXIT

if [[ -f "$dir/goldens.json" && -f "$dir/model.safetensors" ]]; then
  echo "reusing goldens in $dir"
else
  echo "generating the full-shape fixture in $dir (transformers, CPU; minutes on 2 cores)"
  time python3 scripts/gen_modernbert_goldens.py full "$dir"
fi

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j"$jobs" --target modernbert_full_slow_test
RIPVEC_MODERNBERT_FULL_DIR="$dir" "$build/tests/modernbert_full_slow_test" --gtest_color=no
