#!/usr/bin/env bash
# Builds and runs the test suite (the README's test command; .ci/run calls it).
#   scripts/test.sh          # default tier: release build, all tests but "slow", then the
#                            # bad-input tiers (unit, fuzz, driver) again under ASan + UBSan
#   scripts/test.sh --slow   # also the slow tier
#   scripts/test.sh --no-asan
set -euo pipefail
cd "$(dirname "$0")/.."
slow=0; asan=1
for a in "$@"; do
  case "$a" in
    --slow) slow=1 ;;
    --no-asan) asan=0 ;;
    *) echo "test.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
scripts/setup.sh --no-build
jobs=$(nproc)

cmake --preset release >/dev/null
cmake --build build/release -j"$jobs"
label_args=(-LE slow)
((slow)) && label_args=()
(cd build/release && ctest --output-on-failure -j"$jobs" "${label_args[@]}")

if ((asan)); then
  cmake --preset asan >/dev/null
  cmake --build build/asan -j"$jobs"
  (cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j"$jobs" -L "unit|fuzz|driver" -LE slow)
fi
