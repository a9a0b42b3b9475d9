#!/usr/bin/env bash
# One call on the GPU machine: build with CUDA, run the driver conformance suite and the
# parity tests on the GPU, compute-sanitizer, then the speed comparison with PyTorch
# (scripts/gpu_bench.py). Everything it prints also lands in $OUT/device.log.
#   scripts/device_run.sh [all|build|test|bench|sanitize] ...   (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/ripvec-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/device.log") 2>&1
steps=("$@")
[[ ${#steps[@]} -eq 0 ]] && steps=(all)
want() { local s; for s in "${steps[@]}"; do [[ $s == all || $s == "$1" ]] && return 0; done; return 1; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nvcc --version | tail -1

# Debian -dev packages carried in .debs/ (the device image has no apt access), unpacked into
# a private prefix; system copies win where present.
DEPS=/tmp/ripvec-deps
if [[ -d .debs ]]; then
  rm -rf $DEPS; mkdir -p $DEPS
  for f in .debs/*.deb; do dpkg -x "$f" $DEPS; done
  for pc in $DEPS/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc; do
    sed -i "s|^prefix=/usr\$|prefix=$DEPS/usr|" "$pc"
  done
fi
export PKG_CONFIG_PATH=$DEPS/usr/lib/x86_64-linux-gnu/pkgconfig:${PKG_CONFIG_PATH:-}
export LD_LIBRARY_PATH=$DEPS/usr/lib/x86_64-linux-gnu/openblas-pthread:$DEPS/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
BLAS_LIB=$(ls /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so 2>/dev/null ||
           ls $DEPS/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so)
CBLAS_INC=$(dirname "$(ls /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h 2>/dev/null ||
                       ls $DEPS/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h)")
B=build/device
if want build; then
  rm -rf $B
  cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DRIPVEC_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DRIPVEC_TREESITTER=OFF -DCMAKE_PREFIX_PATH="$DEPS/usr" -DBLAS_LIBRARIES="$BLAS_LIB" \
    -DOPENBLAS_CBLAS_INCLUDE="$CBLAS_INC" -DBLA_VENDOR=OpenBLAS >"$OUT/cmake.log" 2>&1 ||
    { tail -40 "$OUT/cmake.log"; exit 1; }
  cmake --build $B -j16 --target driver_conformance_test bert_parity_test modernbert_parity_test \
    gpu_embed_bench cuda_parity_test ripvec >"$OUT/build.log" 2>&1 ||
    { grep -E "error|Error" "$OUT/build.log" | head -40; exit 1; }
  echo "build ok"
fi
if want test; then
  $B/tests/driver_conformance_test --gtest_brief=1 2>&1 | tail -15
  $B/tests/cuda_parity_test 2>&1 | tail -25
fi
if want sanitize; then
  compute-sanitizer --tool memcheck --error-exitcode 9 $B/tests/driver_conformance_test \
    --gtest_brief=1 --gtest_filter='DriverConformance/4.*' 2>&1 | tail -6
  compute-sanitizer --tool racecheck --error-exitcode 9 $B/tests/cuda_parity_test \
    --gtest_brief=1 --gtest_filter='*Flash*' 2>&1 | tail -6
  compute-sanitizer --tool initcheck --error-exitcode 9 --print-limit 3 $B/tests/cuda_parity_test \
    --gtest_brief=1 --gtest_filter='*ClassicBertTiny*' > "$OUT/initcheck.log" 2>&1
  grep -m3 -A12 "Uninitialized" "$OUT/initcheck.log"; tail -3 "$OUT/initcheck.log"
fi
if want bench; then
  PYTHONUNBUFFERED=1 python3 scripts/gpu_bench.py $B/bench/gpu_embed_bench /tmp/ripvec-bench \
    ${BENCH_ARGS:-} 2>&1 | grep -v Warning
  cp /tmp/ripvec-bench/results.json "$OUT/" 2>/dev/null
fi
if want diag; then
  PYTHONUNBUFFERED=1 python3 scripts/gpu_diag.py $B/bench/gpu_embed_bench /tmp/ripvec-diag 2>&1 | grep -v Warning
fi
