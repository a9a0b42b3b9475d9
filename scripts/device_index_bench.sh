#!/usr/bin/env bash
# Issue 9's GPU figures in one device call: cold index of a whole real repository against the
# pure embedding time of the same chunks (bench/index_bench --pure-embed), and `ripvec embed`
# through the CLI against the engine benchmark (bench/gpu_embed_bench) on the same texts, for a
# bge-small-shaped and a ModernBERT-shaped model (random weights: scripts/make_random_model.py).
#
#   [BUILD_TARGETS=...] [MODELS=...] scripts/device_index_bench.sh CARRY_DIR [build] [bench] [cpu]
#                                                               [ab] [startup] [cliab] [big]
#
# CARRY_DIR (carried to the device, git-ignored) holds ts_src.tar.xz (third_party/_src: the
# tree-sitter runtime and grammars, made by `tar -C third_party -cJf ts_src.tar.xz _src/grammars
# _src/tree-sitter _src/.lock-sha256 _src/VERSIONS`) and Django-5.0.9.tar.gz (PyPI sdist, sha256
# 6333870d342329b60174da3a60dbd302e533f3b0bb0971516750e974a99b5a39), the repository indexed.
set -uo pipefail
cd "$(dirname "$0")/.."
CARRY=$1; shift
OUT=${OUT:-/tmp/ripvec-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/index_bench.log") 2>&1
steps=("$@")
[[ ${#steps[@]} -eq 0 ]] && steps=(build bench)
want() { local s; for s in "${steps[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }
B=build/device
if want build; then
  if [[ ! -f third_party/_src/.lock-sha256 ]]; then
    mkdir -p third_party && tar -C third_party -xJf "$CARRY/ts_src.tar.xz" || exit 1
  fi
  source scripts/device_deps.sh
  BLAS_LIB=$(ls /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so 2>/dev/null ||
             ls $DEPS/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so)
  CBLAS_INC=$(dirname "$(ls /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h 2>/dev/null ||
                         ls $DEPS/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h)")
  cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DRIPVEC_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCMAKE_PREFIX_PATH="$DEPS/usr" -DBLAS_LIBRARIES="$BLAS_LIB" \
    -DOPENBLAS_CBLAS_INCLUDE="$CBLAS_INC" -DBLA_VENDOR=OpenBLAS >"$OUT/cmake.log" 2>&1 ||
    { tail -40 "$OUT/cmake.log"; exit 1; }
  cmake --build $B -j16 --target ${BUILD_TARGETS:-ripvec index_bench gpu_embed_bench query_bench} \
    >"$OUT/build.log" 2>&1 ||
    { grep -E "error|Error" "$OUT/build.log" | head -40; exit 1; }
  echo "build ok"
fi
source scripts/device_deps.sh
W=/tmp/ripvec-ib
mkdir -p $W
if [[ ! -d $W/Django-5.0.9 ]]; then tar -C $W -xzf "$CARRY/Django-5.0.9.tar.gz" || exit 1; fi
if want bench; then
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  lscpu | grep -E "Model name|^CPU\(s\)"
  for m in ${MODELS:-bge-small modernbert-embed}; do
    [[ -d $W/$m ]] || python3 scripts/make_random_model.py $m $W/$m 2>&1 | grep -v Warning
    pool=$([[ $m == bge-small ]] && echo cls || echo mean)
    echo "=== $m: cold index of Django 5.0.9 (whole sdist) vs pure embedding ==="
    timeout 300 $B/bench/index_bench --model $W/$m --device cuda --pure-embed \
      --dump-texts $W/$m.texts --dump-ids $W/$m.ids $W/Django-5.0.9
    echo "=== $m: ripvec embed (CLI, --npy) vs gpu_embed_bench on the same texts ==="
    TIMEFORMAT="ripvec embed of one text (start-up: model load, CUDA init): %R s"
    time $B/apps/cli/ripvec embed --model $W/$m --device cuda --precision f16 --document \
      --npy $W/$m.one.npy hello
    for rep in 1 2; do
      TIMEFORMAT="ripvec embed of $(wc -l < $W/$m.texts) texts, wall %R s (rep $rep)"
      time timeout 200 $B/apps/cli/ripvec embed \
        --model $W/$m --device cuda --precision f16 --document --npy $W/$m.npy < $W/$m.texts
      timeout 200 $B/bench/gpu_embed_bench --model-dir $W/$m --ids $W/$m.ids --out $W/$m.f32 \
        --precision f16 --pooling $pool --max-batch-tokens 16384 --reps 3 | sed "s/^/engine: /"
    done
    # The CLI's vectors against the engine's for the same ids (F16: batches differ, so close,
    # not bitwise): every row must agree.
    python3 - $W/$m.npy $W/$m.f32 <<'PY'
import sys, numpy as np
a = np.load(sys.argv[1]); b = np.fromfile(sys.argv[2], dtype=np.float32).reshape(a.shape)
cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
print(f"ripvec embed vs engine vectors: {len(a)} rows, min cosine {cos.min():.6f}, "
      f"rows < 0.999: {(cos < 0.999).sum()}")
PY
  done
fi
if want cpu; then
  echo "=== CPU (2 cores of the Intel host): warm query on a ~20k-chunk index ==="
  for n in 20000 100000; do
    taskset -c 0,1 $B/bench/query_bench --chunks $n --queries 200
  done
fi
if want ab; then
  # Cold index of the bge-small shape under each embed-group / window size in $AB_CONFIGS
  # (GROUP_TOKENS/WINDOW_CHUNKS pairs), interleaved over $AB_ROUNDS rounds, GPU warmed first
  # (index_bench --warm) as the pure-embedding baseline is.
  m=${AB_MODEL:-bge-small}
  [[ -d $W/$m ]] || python3 scripts/make_random_model.py $m $W/$m 2>&1 | grep -v Warning
  for r in $(seq ${AB_ROUNDS:-2}); do
    for cfg in ${AB_CONFIGS:-262144/4096 1048576/4096 1048576/16384}; do
      echo "== $m round $r: group ${cfg%/*} tokens, window ${cfg#*/} chunks"
      RIPVEC_GROUP_TOKENS=${cfg%/*} RIPVEC_WINDOW_CHUNKS=${cfg#*/} timeout 120 \
        $B/bench/index_bench --model $W/$m --device cuda --warm $W/Django-5.0.9 |
        grep -E "^\| cold|cold pipeline|embedding thread"
    done
  done
fi
if want startup; then
  # Where `ripvec embed`'s start-up goes: the process alone, the model on the CPU, the model on
  # the GPU, and a bare CUDA context (driver API through ctypes).
  m=${AB_MODEL:-bge-small}
  ldd $B/apps/cli/ripvec | grep -E "cu|nv" | sed 's/ (0x.*//'
  for rep in 1 2 3; do
    TIMEFORMAT="ripvec --version: %R s"; time $B/apps/cli/ripvec --version >/dev/null
    TIMEFORMAT="embed one text, cpu: %R s"
    time $B/apps/cli/ripvec embed --model $W/$m --device cpu --npy /tmp/one.npy hello
    TIMEFORMAT="embed one text, cuda: %R s"
    time $B/apps/cli/ripvec embed --model $W/$m --device cuda --precision f16 --npy /tmp/one.npy hello
    python3 - <<'PY'
import ctypes, time
t0 = time.perf_counter(); c = ctypes.CDLL("libcuda.so.1"); t1 = time.perf_counter()
assert c.cuInit(0) == 0; t2 = time.perf_counter()
dev = ctypes.c_int(); c.cuDeviceGet(ctypes.byref(dev), 0); ctx = ctypes.c_void_p()
assert c.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev) == 0; c.cuCtxSetCurrent(ctx)
p = ctypes.c_void_p(); c.cuMemAlloc_v2(ctypes.byref(p), ctypes.c_size_t(1 << 20)); t3 = time.perf_counter()
print(f"bare CUDA: dlopen {t1-t0:.3f} s, cuInit {t2-t1:.3f} s, primary context + first alloc {t3-t2:.3f} s")
PY
  done
fi
if want cliab; then
  # `ripvec embed` of the bench step's texts with the start-up work of 2026-12-06 (CUDA driver
  # started when the model starts loading, rows written on a thread of their own with early
  # write-back, no CUDA teardown at exit) against the same binary without it, interleaved.
  m=${AB_MODEL:-bge-small}
  for r in 1 2 3; do
    for cfg in "" "RIPVEC_CUDA_EARLY=0 RIPVEC_EXIT_TEARDOWN=1 RIPVEC_NPY_WRITEBACK=0"; do
      TIMEFORMAT="round $r [${cfg:-default}] one text %R s"
      time env $cfg $B/apps/cli/ripvec embed --model $W/$m --device cuda --precision f16 \
        --document --npy /tmp/one.npy hello
      TIMEFORMAT="round $r [${cfg:-default}] $(wc -l < $W/$m.texts) texts %R s"
      time env $cfg $B/apps/cli/ripvec embed --model $W/$m --device cuda --precision f16 \
        --document --npy $W/$m.npy < $W/$m.texts
    done
  done
fi
if want big; then
  # Throughput on a larger input: the bench step's texts four times over, CLI against engine.
  m=${AB_MODEL:-bge-small}
  pool=$([[ $m == bge-small ]] && echo cls || echo mean)
  for k in 1 2 3 4; do cat $W/$m.texts; done > $W/$m.texts4
  for k in 1 2 3 4; do cat $W/$m.ids; done > $W/$m.ids4 2>/dev/null
  for rep in 1 2; do
    TIMEFORMAT="ripvec embed of $(wc -l < $W/$m.texts4) texts (4x), wall %R s (rep $rep)"
    time $B/apps/cli/ripvec embed --model $W/$m --device cuda --precision f16 --document \
      --npy $W/$m.npy4 < $W/$m.texts4
  done
  timeout 300 $B/bench/gpu_embed_bench --model-dir $W/$m --ids $W/$m.ids4 --out $W/$m.f32_4 \
    --precision f16 --pooling $pool --max-batch-tokens 16384 --reps 2 | sed "s/^/engine 4x: /"
fi
