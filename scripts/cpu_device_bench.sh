#!/usr/bin/env bash
# CPU measurements on the device machine's host CPU (issue 13): build the CPU-only tree, run the
# driver conformance suite (AVX-512 kernels included), the FP32 peak-FMA microbenchmark, the
# GEMM paths on the model shapes, and ripvec against ONNX Runtime (FP32 stock, BERT-fused,
# INT8 quantize_dynamic) on MiniLM- and bge-small-shaped models (random weights, seed 0; speed
# does not depend on the values; the ONNX graph is checked against transformers first).
#   scripts/cpu_device_bench.sh [build] [test] [peak] [gemm] [tune] [coretype] [scaling]
#                               [share] [bf16] [budget] [libs] [cold] [peers-minilm] [peers-bge] ...
# share: per thread count in $THREADS, ROUNDS (default 3) interleaved rounds of the FP32 peak
# FMA rate, one MiniLM layer op by op (cpu_ops_bench --layer: GEMM share of the layer's time)
# and the MiniLM-shaped forward (embed_bench), printing the forward's % of that round's peak.
# test: the driver conformance suite, int8_gemm_test (the VNNI kernel bit for bit against the
# scalar one and a reference from the formulas), and the INT8 parity tests (tiny BERTs and
# ModernBERTs against their FP32 goldens, Precision::Auto picking INT8 on a VNNI CPU; the real
# MiniLM test runs only when RIPVEC_TEST_MODEL_DIR names a copy of it, else it is skipped).
# libs: lib_gemm_bench (oneDNN f32 / s8 / bf16 and BLIS against our FP32 / INT8 / BF16 kernels on
# the model shapes) per thread count in $THREADS; needs libdnnl2 libdnnl-dev libblis4-openmp
# libblis-openmp-dev among the carried debs (the build skips the bench without them).
# Needs .debs/ (Debian -dev packages: nlohmann-json3-dev libutf8proc-dev libutf8proc2
# libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libopenblas0 libgtest-dev
# libcurl4-openssl-dev libcurl4 pkgconf pkgconf-bin libpkgconf3) and .devcarry/tok/ (the
# MiniLM tokenizer and sentence-transformers files) carried with the call.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/ripvec-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/cpu.log") 2>&1
steps=("$@")
[[ ${#steps[@]} -eq 0 ]] && steps=(build test peak gemm peers-minilm peers-bge)
want() { local s; for s in "${steps[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }
THREADS=${THREADS:-2 8}

echo "== $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null) $(git status --short -uno | wc -l) modified"
lscpu | grep -E "Model name|^CPU\(s\)|Thread|Core|Socket|MHz|L1d|L2|L3"
echo "flags: $(grep -o -E 'avx512[a-z_0-9]*|amx[a-z_0-9]*|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load: $(cat /proc/loadavg)"

source scripts/device_deps.sh
B=${CPU_BUILD:-build/cpu}  # CPU_BUILD=build/device: the CUDA tree's build (its CPU driver)
if want build; then
  python3 -c "import torch, onnxruntime, numpy; print('torch', torch.__version__, 'ort', onnxruntime.__version__, 'numpy', numpy.__version__)"
  cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DRIPVEC_TREESITTER=OFF \
    -DCMAKE_PREFIX_PATH="$DEPS/usr" \
    -DBLAS_LIBRARIES="$DEPS/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so" \
    -DOPENBLAS_CBLAS_INCLUDE="$DEPS/usr/include/x86_64-linux-gnu/openblas-pthread" \
    -DBLA_VENDOR=OpenBLAS >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
  cmake --build $B -j16 --target driver_conformance_test int8_gemm_test bf16_gemm_test fma_peak_bench \
    gemm_bench embed_bench index_bench \
    cpu_ops_bench bert_parity_test modernbert_parity_test \
    >"$OUT/build.log" 2>&1 || { grep -E "error|Error" "$OUT/build.log" | head -30; exit 1; }
  cmake --build $B -j16 --target lib_gemm_bench >>"$OUT/build.log" 2>&1 ||
    echo "lib_gemm_bench not built (oneDNN / BLIS debs not carried?)"
  echo "build ok"
fi
if want test; then
  RIPVEC_THREADS=8 $B/tests/driver_conformance_test --gtest_brief=1 2>&1 | tail -6
  RIPVEC_THREADS=8 $B/tests/int8_gemm_test --gtest_brief=1 2>&1 | tail -6
  RIPVEC_THREADS=8 $B/tests/bert_parity_test --gtest_filter='*Int8*:*AutoPrecision*' 2>&1 |
    grep -E "texts end-to-end|OK|FAILED|SKIPPED|PASSED|Failure|Expected|actual"
  RIPVEC_THREADS=8 $B/tests/modernbert_parity_test --gtest_filter='*Int8*' 2>&1 |
    grep -E "int8|OK|FAILED|PASSED|Failure|Expected|actual"
fi
if want peak; then
  $B/bench/fma_peak_bench --threads 1,2,4,8,16 --seconds 0.3
fi
if want gemm; then
  for t in $THREADS; do
    RIPVEC_THREADS=$t $B/bench/gemm_bench --reps 3 --m ${GEMM_M:-256,1024,4096,8192}
  done
fi
if want tune; then  # the packed kernel's blocking: k block x row-block tiles, 2 threads, m = 4096
  for kc in 192 256 384; do for mc in 6 12 24; do
    echo "-- RIPVEC_CPU_GEMM_KC=$kc RIPVEC_CPU_GEMM_MC=$mc"
    RIPVEC_CPU_GEMM_KC=$kc RIPVEC_CPU_GEMM_MC=$mc RIPVEC_THREADS=2 $B/bench/gemm_bench --reps 5 \
      --m 4096 --packed-only | tail -n +3
  done; done
fi
if want coretype; then  # OpenBLAS with the kernels its CPU detection should have picked
  OPENBLAS_CORETYPE=SkylakeX RIPVEC_THREADS=2 $B/bench/gemm_bench --reps 3 --m 4096
fi
MODELS=/tmp/ripvec-models
make_model() {  # name layers
  [[ -f $MODELS/$1/model.safetensors ]] && return 0
  mkdir -p $MODELS/$1
  cp -r .devcarry/tok/. $MODELS/$1/
  python3 - "$MODELS/$1" "$2" <<'PY'
import sys, torch, transformers
torch.manual_seed(0)
cfg = transformers.BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=int(sys.argv[2]),
                              num_attention_heads=12, intermediate_size=1536, hidden_act="gelu",
                              max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12)
transformers.BertModel(cfg, add_pooling_layer=False).eval().save_pretrained(sys.argv[1])
PY
}
peers() {  # name layers
  make_model "$1" "$2"
  for t in $THREADS; do
    PYTHONUNBUFFERED=1 python3 scripts/bench_peer_ort.py --ripvec-bench $B/bench/embed_bench \
      --model-dir $MODELS/$1 --label "$1-shape" --threads $t --texts ${TEXTS:-32} --batch 32 \
      --iters ${ITERS:-3} $(for e in ${PEER_ENVS-} ${EXTRA_RIPVEC_ENV-}; do
        echo --ripvec-env "$e"; done) 2>&1 | grep -vE "Warning|WARNING|^\s*$|graph.cc"
  done
}
if want scaling; then  # ripvec alone, 1..16 threads, MiniLM shape
  make_model minilm 6
  for t in 1 2 4 8 16; do
    RIPVEC_THREADS=$t HF_HUB_OFFLINE=1 $B/bench/embed_bench --model $MODELS/minilm --texts 32 \
      --iters 2 --json
  done
fi
if want share; then  # GEMM share of a layer and the forward's % of the peak FMA rate
  make_model minilm 6
  for t in $THREADS; do
    for r in $(seq "${ROUNDS:-3}"); do
      peak=$($B/bench/fma_peak_bench --threads "$t" --seconds 0.3 |
        awk '$1 == "avx512" && / threads:/ { print $4 + 0 }')  # the FP32 FMA line
      RIPVEC_THREADS=$t $B/bench/cpu_ops_bench 32 256 --layer --reps 5 | tail -10
      fwd=$(RIPVEC_THREADS=$t HF_HUB_OFFLINE=1 $B/bench/embed_bench --model $MODELS/minilm \
        --texts 32 --iters 3 --json | python3 -c "import json,sys; print(json.load(sys.stdin)['gflops'])")
      awk -v t="$t" -v r="$r" -v p="$peak" -v f="$fwd" 'BEGIN {
        printf "share: threads %s round %s: peak FMA %.1f GFLOP/s, forward %.1f GFLOP/s = %.0f%% of peak\n",
          t, r, p, f, 100 * f / p }'
    done
  done
fi
if want bf16; then  # BF16 linear layers: AMX against the emulated kernel and the formula
  export RIPVEC_CPU_BF16=${RIPVEC_CPU_BF16:-amx}  # the AMX kernel, also where Auto would not take it
  RIPVEC_THREADS=8 $B/tests/bf16_gemm_test --gtest_brief=1 2>&1 | tail -4
  RIPVEC_THREADS=8 $B/tests/bert_parity_test --gtest_filter='*Bf16*:*AutoPrecision*' 2>&1 |
    grep -E "texts end-to-end|OK|FAILED|SKIPPED|PASSED|Failure|Expected|actual"
  RIPVEC_THREADS=8 $B/tests/modernbert_parity_test --gtest_filter='*Bf16*' 2>&1 |
    grep -E "bf16|OK|FAILED|PASSED|Failure|Expected|actual"
  for t in $THREADS; do
    RIPVEC_THREADS=$t $B/bench/cpu_ops_bench 32 256 --layer --reps 5 --bf16 | tail -8
  done
fi
if want budget; then  # forward tokens/s per token budget of a pass (B x 256 tokens), BF16 and FP32
  make_model minilm 6
  for t in ${BUDGET_THREADS:-2}; do
    for r in $(seq 1 ${BUDGET_ROUNDS:-2}); do
      for b in ${BUDGET_BATCHES:-4 8 16 32}; do
        for p in ${BUDGET_PRECISIONS:-bf16 f32}; do
          echo -n "threads $t round $r batch $b $p: "
          RIPVEC_THREADS=$t RIPVEC_BENCH_PRECISION=$p taskset -c 0-$((t - 1)) $B/bench/embed_bench \
            --model $MODELS/minilm --texts 64 --batch $b --iters 3 | grep "^forward"
        done
      done
    done
  done
fi
if want libs; then
  for t in $THREADS; do
    RIPVEC_THREADS=$t LD_LIBRARY_PATH=$DEPS/usr/lib/x86_64-linux-gnu/blis-openmp:$LD_LIBRARY_PATH \
      $B/bench/lib_gemm_bench --reps 3 --m ${GEMM_M:-1024,8192}
  done
fi
if want cold; then  # cold index of a real tree on 2 cores: --precision f32 against int8 and bf16
  make_model minilm 6
  for r in $(seq 1 ${COLD_ROUNDS:-2}); do
    for pb in ${COLD_PRECISIONS:-f32 int8 bf16}; do  # P or P@TOKENS (a pass's token budget)
      p=${pb%@*}; tb=$([[ $pb == *@* ]] && echo "${pb#*@}")
      echo "-- round $r, --precision $p${tb:+, RIPVEC_BATCH_TOKENS=$tb}"
      RIPVEC_BATCH_TOKENS=$tb RIPVEC_THREADS=2 taskset -c 0,1 $B/bench/index_bench \
        --model $MODELS/minilm --device cpu --precision $p --max-files ${COLD_FILES:-300} ${COLD_TREE:?a directory to index} |
        grep -E "^\| cold|^model"
    done
  done
fi
want peers-minilm && peers minilm 6
want peers-bge && peers bge-small 12
echo "== done $(date -u +%FT%TZ) load: $(cat /proc/loadavg)"
