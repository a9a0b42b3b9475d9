#!/usr/bin/env bash
# CPU embedding benchmark: builds bench/embed_bench (release) and runs it beside PyTorch and
# ONNX Runtime on the same corpus and thread count (scripts/bench_peer_cpu.py prints the table).
#   scripts/bench_cpu.sh [--threads N] [--texts 64] [--batch 32] [--seq 256] [--iters 3] ...
# BUILD_DIR (default build/release) picks the build tree.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build/release}"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target embed_bench
python3 -c "import onnx" 2>/dev/null || python3 -m pip install --quiet onnx
exec python3 scripts/bench_peer_cpu.py --ripvec-bench "$build/bench/embed_bench" "$@"
