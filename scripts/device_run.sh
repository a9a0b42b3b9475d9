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

source scripts/device_deps.sh  # .debs/ -> $DEPS, PKG_CONFIG_PATH, LD_LIBRARY_PATH
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
  targets=${BUILD_TARGETS:-driver_conformance_test bert_parity_test modernbert_parity_test \
    gpu_embed_bench cuda_parity_test ripvec}
  cmake --build $B -j16 --target $targets >"$OUT/build.log" 2>&1 ||
    { grep -E "error|Error" "$OUT/build.log" | head -40; exit 1; }
  echo "build ok"
fi
if want test; then
  $B/tests/driver_conformance_test --gtest_brief=1 2>&1 | tail -15
  $B/tests/cuda_parity_test 2>&1 | grep -vE '^\[ +(RUN|OK) +\]'
fi
if want sanitize; then
  # The CUDA backends of the conformance suite are instances 4-6 (F32, F16, BF16).
  cuda_conf='DriverConformance/4.*:DriverConformance/5.*:DriverConformance/6.*'
  compute-sanitizer --tool memcheck --error-exitcode 9 $B/tests/driver_conformance_test \
    --gtest_brief=1 --gtest_filter="$cuda_conf" 2>&1 | tail -6
  compute-sanitizer --tool racecheck --error-exitcode 9 $B/tests/driver_conformance_test \
    --gtest_brief=1 --gtest_filter='DriverConformance/4.Attention:DriverConformance/5.Attention:DriverConformance/6.Attention' 2>&1 | tail -6
  compute-sanitizer --tool racecheck --error-exitcode 9 $B/tests/cuda_parity_test \
    --gtest_brief=1 --gtest_filter='*Flash*' 2>&1 | tail -6
  compute-sanitizer --tool initcheck --error-exitcode 9 --print-limit 3 $B/tests/cuda_parity_test \
    --gtest_brief=1 --gtest_filter='*ClassicBertTiny*' > "$OUT/initcheck.log" 2>&1
  grep -m3 -A12 "Uninitialized" "$OUT/initcheck.log"; tail -3 "$OUT/initcheck.log"
fi
if want initcheck_lt; then
  # Does initcheck see the stores of cuBLASLt's bias-epilogue kernels? The linear test checks
  # its output both fresh and NaN-poisoned; a report against the fresh one alone means the
  # tool misses those stores (the poisoned run proves every element is written).
  compute-sanitizer --tool initcheck --print-limit 5 $B/tests/driver_conformance_test \
    --gtest_brief=1 --gtest_filter='DriverConformance/5.FusedLinearAndBiasOps' > "$OUT/initcheck_lt.log" 2>&1
  grep -E "Uninitialized|Device Frame" "$OUT/initcheck_lt.log" | sort | uniq -c | sort -rn | head -8
  tail -3 "$OUT/initcheck_lt.log"
fi
if want bench; then
  PYTHONUNBUFFERED=1 python3 scripts/gpu_bench.py $B/bench/gpu_embed_bench /tmp/ripvec-bench \
    ${BENCH_ARGS:-} 2>&1 | grep -v Warning
  cp /tmp/ripvec-bench/results.json "$OUT/" 2>/dev/null
fi
if want overlap; then
  # Ours only: one batch at a time (--overlap 0) against pipelined batches (embed_async), on
  # the bench's MiniLM and ModernBERT short workloads; outputs must be bitwise equal.
  PYTHONUNBUFFERED=1 python3 - "$B/bench/gpu_embed_bench" <<'PY' 2>&1 | grep -v Warning
import json, os, subprocess, sys
sys.path.insert(0, "scripts")
import gpu_bench as g
bench, out = sys.argv[1], "/tmp/ripvec-ovl"
os.makedirs(out, exist_ok=True)
for name in ["minilm-l6", "bge-small", "modernbert-embed-base"]:
    model, d = g.build_model(name, out)
    del model
    seqs = g.workload("short", 2048, g.SHAPES[name]["cfg"]["vocab_size"])
    ids = os.path.join(out, name + ".ids")
    with open(ids, "w") as f:
        f.write("\n".join(" ".join(map(str, s)) for s in seqs) + "\n")
    ntok = sum(map(len, seqs))
    embs = {}
    for ov in ["0", "1", "0", "1"]:
        emb = f"{out}/{name}-{ov}.emb"
        p = subprocess.run([bench, "--model-dir", d, "--ids", ids, "--out", emb, "--precision",
                            "f16", "--pooling", g.SHAPES[name]["pooling"], "--max-batch-tokens",
                            "16384", "--reps", "5", "--overlap", ov], capture_output=True, text=True)
        if p.returncode:
            print(p.stdout, p.stderr)
            raise SystemExit(1)
        sec = json.loads(p.stdout.strip().splitlines()[-1])["seconds"]
        embs[ov] = open(emb, "rb").read()
        print(f"{name:24s} overlap {ov}: {sec:.4f} s  {ntok / sec:,.0f} tok/s")
    print(f"{name:24s} outputs bitwise equal: {embs['0'] == embs['1']}")
PY
fi
if want diag; then
  PYTHONUNBUFFERED=1 python3 scripts/gpu_diag.py $B/bench/gpu_embed_bench /tmp/ripvec-diag 2>&1 | grep -v Warning
fi
