#!/usr/bin/env bash
# Builds and runs the test suite (the README's test command; .ci/run calls it).
#   scripts/test.sh          # default tier: release build, all tests but "slow", the installed
#                            # package and examples (scripts/check_install.sh), then the
#                            # bad-input tiers (unit, fuzz, driver) again under ASan + UBSan
#   scripts/test.sh --slow   # also the slow tier
#   scripts/test.sh --no-asan
#   scripts/test.sh --no-cuda   # skip compiling the CUDA driver (done whenever nvcc exists)
#   scripts/test.sh --no-fuzz   # skip the libFuzzer tier (scripts/fuzz.sh, 20 s per target)
set -euo pipefail
cd "$(dirname "$0")/.."
slow=0; asan=1; cuda=1; fuzz=1
for a in "$@"; do
  case "$a" in
    --slow) slow=1 ;;
    --no-asan) asan=0 ;;
    --no-cuda) cuda=0 ;;
    --no-fuzz) fuzz=0 ;;
    *) echo "test.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
scripts/setup.sh --no-build
# The real LSP client of tests/cli/lsp_test (Neovim's built-in one, headless): without it those
# tests skip, so a fresh machine would not check the LSP server against a client we did not write.
if ! command -v nvim >/dev/null 2>&1; then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "test.sh: installing neovim (the LSP client of lsp_test)" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq neovim >/dev/null
fi
jobs=$(nproc)

cmake --preset release >/dev/null
cmake --build build/release -j"$jobs"
label_args=(-LE slow)
((slow)) && label_args=()
(cd build/release && ctest --output-on-failure -j"$jobs" "${label_args[@]}")
# The installed library as a consumer uses it: cmake --install into a temporary prefix, the
# examples built against find_package(ripvec) and ripvec.pc, run on the tiny committed model.
JOBS="$jobs" scripts/check_install.sh build/release

# The CUDA driver must compile everywhere nvcc exists (sm_80 and sm_90), even without a GPU;
# its tests then skip at run time. --no-cuda skips this tier.
if ((cuda)) && command -v nvcc >/dev/null 2>&1; then
  cmake -S . -B build/cuda -DCMAKE_BUILD_TYPE=Release -DRIPVEC_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="80;90" -DRIPVEC_TREESITTER=OFF -DRIPVEC_BENCH=ON >/dev/null
  cmake --build build/cuda -j"$jobs" --target ripvec_driver_cuda cuda_parity_test \
    driver_conformance_test gpu_embed_bench
  (cd build/cuda && ctest --output-on-failure -R '^(cuda_parity_test|driver_conformance_test)$')
fi

if ((asan)); then
  cmake --preset asan >/dev/null
  cmake --build build/asan -j"$jobs"
  (cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j"$jobs" -L "unit|fuzz|driver" -LE slow)
fi

# libFuzzer targets (clang, ASan + UBSan), each from its committed seeds for a short budget:
# catches a regression that the seeds or a few seconds of mutation reach. Long runs: see
# docs/reliability.md ("Fuzzing") and scripts/fuzz.sh --seconds.
if ((fuzz)); then
  scripts/fuzz.sh --seconds 20 --jobs "$jobs"
fi
