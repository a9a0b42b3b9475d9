#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/*_fuzz.cpp) with clang, ASan and UBSan into build/fuzz and
# runs each for a time budget, starting from the committed seeds in fuzz/corpus/<target>.
#   scripts/fuzz.sh                         # every target, 30 s each
#   scripts/fuzz.sh --seconds 600 chunker   # one target, 10 minutes
#   scripts/fuzz.sh --jobs 2                # two targets at a time
#   scripts/fuzz.sh --runs 1000000 tokenize # stop after that many executions instead
#   scripts/fuzz.sh --no-run                # build only
#   scripts/fuzz.sh --no-build tokenize     # run what build/fuzz holds
# Inputs in fuzz/regressions/<target>/ (past findings too large to be seeds) run first.
# New inputs the fuzzer finds go to build/fuzz/corpus/<target> (not committed). A finding
# (crash, sanitizer report, timeout, leak, failed FUZZ_CHECK) is saved under
# build/fuzz/findings/<target>/ and makes the script exit 1; reproduce it with
#   build/fuzz/fuzz/fuzz_<target> build/fuzz/findings/<target>/crash-...
# Needs clang >= 15 with compiler-rt (Debian: clang-16 libclang-rt-16-dev; installed when
# missing, as scripts/setup.sh does for the rest).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=30; runs=-1; jobs=1; run=1; build=1; targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift ;;
    --runs) runs="$2"; seconds=0; shift ;;
    --jobs) jobs="$2"; shift ;;
    --no-run) run=0 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done

CLANG_VERSION=16
if ((build)) && { ! command -v clang++-$CLANG_VERSION >/dev/null 2>&1 ||
   ! dpkg-query -W -f='${Status}' libclang-rt-$CLANG_VERSION-dev 2>/dev/null | grep -q "install ok installed"; }; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "fuzz.sh: installing clang-$CLANG_VERSION libclang-rt-$CLANG_VERSION-dev" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang-$CLANG_VERSION \
    libclang-rt-$CLANG_VERSION-dev >/dev/null
fi

if ((${#targets[@]} == 0)); then
  for f in fuzz/*_fuzz.cpp; do t=${f#fuzz/}; targets+=("${t%_fuzz.cpp}"); done
fi
for t in "${targets[@]}"; do
  [[ -f fuzz/${t}_fuzz.cpp ]] || { echo "fuzz.sh: no target $t (fuzz/${t}_fuzz.cpp)" >&2; exit 2; }
done

if ((build)); then
  launcher=()
  command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # -O1 with line tables (readable stacks), assertions on: libstdc++'s bounds checks turn a quiet
  # out-of-range operator[] into a finding.
  CC=clang-$CLANG_VERSION CXX=clang++-$CLANG_VERSION cmake -S . -B build/fuzz -DRIPVEC_LIBFUZZER=ON \
    -DRIPVEC_TESTS=OFF -DRIPVEC_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -D_GLIBCXX_ASSERTIONS" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" "${launcher[@]}" >/dev/null
  cmake --build build/fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
fi
((run)) || exit 0

dict_for() {
  case "$1" in
    safetensors) echo fuzz/dict/safetensors.dict ;;
    model_config|tokenizer_json|store_manifest) echo fuzz/dict/json.dict ;;
    gitignore) echo fuzz/dict/gitignore.dict ;;
  esac
}

run_one() {
  local t=$1 work=build/fuzz/corpus/$1 out=build/fuzz/findings/$1 log=build/fuzz/logs/$1.log
  mkdir -p "$work" "$out" build/fuzz/logs
  local args=(-timeout=20 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/")
  ((seconds > 0)) && args+=(-max_total_time="$seconds")
  ((runs > 0)) && args+=(-runs="$runs")
  local d; d=$(dict_for "$t"); [[ -n "$d" ]] && args+=(-dict="$d")
  local rc=0
  # Inputs that once failed (too large for the seed corpus, where they would raise max_len):
  # each must now run clean.
  if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "build/fuzz/fuzz/fuzz_$t" fuzz/regressions/"$t"/* >"$log.regressions" 2>&1 || {
      echo "fuzz $t: a regression input fails again; see $log.regressions" >&2
      echo 1 >"build/fuzz/logs/$t.rc"
      return 1
    }
  fi
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "build/fuzz/fuzz/fuzz_$t" "${args[@]}" "$work" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  # "#N DONE cov: C ft: F corp: ..." and stat::average_exec_per_sec: one summary line.
  local done_line execs eps
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if ((rc == 0)); then
    printf 'fuzz %-15s ok   %10s execs %7s exec/s  %s\n' "$t" "${execs:-?}" "${eps:-?}" \
      "$(sed -E 's/^#[0-9]+[[:space:]]+DONE[[:space:]]+//; s/[[:space:]]+lim:.*//' <<<"$done_line")"
  else
    printf 'fuzz %-15s FAIL (exit %d) after %s execs; log %s, input in %s\n' "$t" "$rc" \
      "${execs:-?}" "$log" "$out" >&2
    grep -E 'ERROR|FUZZ_CHECK|SUMMARY|Test unit written' "$log" | head -5 >&2 || true
  fi
  echo $rc >"build/fuzz/logs/$t.rc"
}

for t in "${targets[@]}"; do
  rm -f "build/fuzz/logs/$t.rc"
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  run_one "$t" &
done
wait
fail=0
for t in "${targets[@]}"; do
  [[ "$(cat "build/fuzz/logs/$t.rc" 2>/dev/null)" == 0 ]] || fail=1
done
exit $fail
