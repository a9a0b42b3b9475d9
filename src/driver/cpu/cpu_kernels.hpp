// Internal to the CPU driver: the table of vectorized kernels and its runtime dispatch.
// Every kernel works on raw float rows; the driver splits work over rows with parallel_for.
// Three builds of the same templated kernels exist (cpu_kernels_impl.hpp): portable scalar,
// AVX2+FMA and AVX-512, each in its own translation unit compiled for that ISA, chosen once
// at run time from what the CPU supports.
#pragma once

#include <algorithm>
#include <array>  // cpu_gemm_impl.hpp (included by the ISA builds after their target pragma)
#include <cstdint>
#include <utility>

namespace ripvec::cpu {

enum class Isa { kAuto, kScalar, kAvx2, kAvx512 };

// Fused attention over one (sequence, head, range of query rows).
// q, k, v point at token 0 of the sequence for this head (e.g. q = qkv + row0 * ld + h * hd);
// consecutive tokens are `ld` floats apart. out points at token 0 of the sequence for this
// head, rows `ldo` floats apart. Query rows [q_begin, q_end) of the sequence are computed, in
// blocks of kAttnQBlock.
struct AttnArgs {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t ld = 0;
  float* out = nullptr;
  int64_t ldo = 0;
  int64_t len = 0;
  int64_t q_begin = 0, q_end = 0;
  int head_dim = 0;
  float scale = 1.0f;
  int half_window = -1;   // -1: every key of the sequence; w >= 0: keys with |i - j| <= w
  float* work = nullptr;  // kAttnWorkFloats floats, 64-byte aligned, owned by one thread
  // attn_kv_floats(...) floats, 64-byte aligned, owned by one thread: the contiguous copy of
  // the Q, K and V rows the query range needs.
  float* kv = nullptr;
  // The task this thread runs next (null: none; not owned): the AMX kernel fetches the Q, K and
  // V rows it will read a few cache lines at a time while it computes this one. qkv is far
  // larger than the caches and a head's rows are 3·H floats apart, a stride the hardware
  // prefetchers do not follow: loaded when needed, they stalled about a fifth of the kernel.
  const AttnArgs* next = nullptr;
};

// Query rows per attention task, keys per inner block, and the largest head size handled.
inline constexpr int64_t kAttnQBlock = 32;
inline constexpr int64_t kAttnKBlock = 64;
inline constexpr int64_t kAttnMaxHeadDim = 256;
// Keys per softmax block of the AMX attention (attention_bf16 on AMX): a block's scores stay
// in L1/L2 and one maximum per query row per block is taken (two horizontal reductions per row
// per 256 keys, not per 64).
inline constexpr int64_t kAttnAmxKeyBlock = 256;
// Per-thread workspace (AttnArgs::work), enough for either kernel:
//  FP32 / VDPBF16PS: Qᵀ [hd][Qb], scores/probabilities [Kb][Qb], accumulator Oᵀ [hd][Qb],
//    running max / sum / correction [Qb] each;
//  AMX: query tiles [Qb][kAttnMaxHeadDim] BF16, scores [Qb][kAttnAmxKeyBlock + 16] FP32 (16
//    floats of row padding: rows not a power of two apart), probability tiles
//    [Qb][kAttnAmxKeyBlock] BF16, the key block's output and the accumulator
//    [Qb][kAttnMaxHeadDim] FP32 each, running max / sum / rescale [Qb] each.
inline constexpr int64_t kAttnF32WorkFloats =
    kAttnMaxHeadDim * kAttnQBlock * 2 + kAttnKBlock * kAttnQBlock + 4 * kAttnQBlock;
inline constexpr int64_t kAttnAmxWorkFloats =
    kAttnQBlock * kAttnMaxHeadDim / 2 + kAttnQBlock * (kAttnAmxKeyBlock + 16) +
    kAttnQBlock * kAttnAmxKeyBlock / 2 + 2 * kAttnQBlock * kAttnMaxHeadDim + 3 * kAttnQBlock;
inline constexpr int64_t kAttnWorkFloats = std::max(kAttnF32WorkFloats, kAttnAmxWorkFloats);
// Floats of AttnArgs::kv enough for any range of at most `rows` query rows of a sequence of
// at most max_len tokens, for either kernel (the AMX one: K and V of every key, padded to 32
// keys, as BF16 tiles: K's head dims rounded up to 32, V's to 16).
inline int64_t attn_kv_floats(int64_t max_len, int64_t rows, int half_window, int head_dim) {
  int64_t keys = max_len;
  if (half_window >= 0) keys = std::min<int64_t>(max_len, rows + 2 * int64_t{half_window});
  const int64_t f32 = (2 * std::max<int64_t>(keys, 0) + rows) * head_dim;
  const int64_t keys32 = (std::max<int64_t>(max_len, 0) + 31) / 32 * 32;
  const int64_t amx = (keys32 * ((head_dim + 31) / 32 * 32 + (head_dim + 15) / 16 * 16) + 1) / 2;
  return std::max(f32, amx);
}

// One block of the packed-weight GEMM (cpu_gemm_impl.hpp): rows x panels [panel0, panel1) of
// C[rows, n] (=|+=) A[rows, k] · Wᵀ (+ bias) (then GELU), W packed by pack_weight() into
// panels of gemm_nr columns, k blocked by kc.
struct GemmBlock {
  const float* a = nullptr;  // row 0 of the block, row-major, lda floats per row
  int64_t lda = 0;
  const float* b = nullptr;  // packed weight (all panels)
  int64_t n = 0, k = 0, kc = 0;
  float* c = nullptr;  // row 0 of the block, column 0
  int64_t ldc = 0;
  int64_t rows = 0;
  int64_t panel0 = 0, panel1 = 0;
  const float* bias = nullptr;  // [n] or null
  bool accumulate = false;      // C += product (beta = 1) instead of C = product
  bool gelu = false;            // exact erf GELU on the result (after bias)
};

// C[rows, cols] (ldc) = alpha · A[rows, k] (lda) · B[cols, k]ᵀ (ldb), plus C's current values
// when accumulate: dot products over rows of A and B read where they are. For products too
// small to pay for packing B (a query's tokens against a weight used once: cpu_sgemm.cpp).
struct GemmNt {
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  int64_t rows = 0, cols = 0, k = 0;
  float alpha = 1.0f;
  bool accumulate = false;
};

struct CpuKernels {
  const char* isa = "";
  // out = (x - mean) / sqrt(var + eps) * gamma + beta; gamma/beta may be null (1 / 0).
  // out may alias x.
  void (*layer_norm)(float* out, const float* x, const float* gamma, const float* beta, int64_t n,
                     float eps);
  // x = x + bias + res (bias/res may be null), then out = layer_norm(x); out may alias x or res.
  void (*sum_layer_norm)(float* out, float* x, const float* bias, const float* res,
                         const float* gamma, const float* beta, int64_t n, float eps);
  void (*gelu)(float* x, int64_t n);                          // exact erf GELU, in place
  void (*bias_gelu)(float* x, const float* bias, int64_t n);  // x = gelu(x + bias)
  void (*gelu_tanh)(float* x, int64_t n);
  void (*silu)(float* x, int64_t n);
  // out = act(gate) * val; out may alias neither input partially (full alias is fine).
  void (*geglu)(float* out, const float* gate, const float* val, int64_t n);
  void (*swiglu)(float* out, const float* gate, const float* val, int64_t n);
  void (*add)(float* out, const float* a, const float* b, int64_t n);  // may alias
  void (*add3)(float* out, const float* a, const float* b, const float* c, int64_t n);
  // In place: x = softmax(scale * x + add) where add[j] = mask[j] (0 when mask is null) for
  // j in [lo, hi) and kMaskedScore outside.
  void (*softmax)(float* x, int64_t n, float scale, const float* mask, int64_t lo, int64_t hi);
  void (*accumulate)(float* acc, const float* x, int64_t n);  // acc += x
  void (*scale)(float* x, float s, int64_t n);                // x *= s
  float (*sum_squares)(const float* x, int64_t n);
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float* y, float a, const float* x, int64_t n);  // y += a * x
  void (*attention)(const AttnArgs& a);
  // Packed-weight GEMM, in every build (the portable one on SSE2's 4 x 8 tiles). gemm_mr x
  // gemm_nr is the register tile; gemm_kc the largest k block; gemm_mc_tiles register tiles
  // make a row block (one pool task's rows).
  int gemm_mr = 0, gemm_nr = 0, gemm_kc = 0, gemm_mc_tiles = 12;
  void (*gemm_block)(const GemmBlock& g) = nullptr;
  void (*gemm_nt)(const GemmNt& g) = nullptr;  // see GemmNt
};

// The attention with BF16 products and FP32 sums and softmax (cpu_kernels_avx512bf16.cpp):
// q·scale, k, v and the probabilities rounded to BF16 (nearest even), Q·Kᵀ and P·V in BF16 with
// FP32 sums. Two kernels: kDot, the flash kernel of the FP32 build with VDPBF16PS dot products
// (any shape); kAmx, AMX-BF16 tiles (cpu_bf16_attn_amx_impl.hpp: head_dim a multiple of 16,
// global or sliding-window; it takes a maximum per query row per 256 keys where kDot takes one
// per 64, so the two differ by the rounding of the probabilities, not only in sum order). kAuto
// takes kAmx where attention_amx_runs(a), else kDot. Only where attention_bf16_available() (AVX-512
// F, BW and BF16) and for an even head_dim; same arguments and workspaces as CpuKernels::attention.
// Throws UnsupportedError for kAmx where attention_amx_runs(a) is false.
enum class Bf16AttnKernel { kAuto, kDot, kAmx };
void attention_bf16(const AttnArgs& a, Bf16AttnKernel kernel = Bf16AttnKernel::kAuto);
bool attention_bf16_available();
// Whether kAmx runs a: amx_bf16_available() (CPU, OS and the tile permission; cpu_bf16_gemm.hpp)
// and a.head_dim a multiple of 16 in (0, kAttnMaxHeadDim].
bool attention_amx_runs(const AttnArgs& a);
// Whether reduced precision should take attention_bf16: where it is available and either
// VDPBF16PS runs at twice the FP32 FMA's flops, which AMD's AVX512-BF16 cores do (Zen 4: 456
// against 230 GFLOP/s on 2 cores, fma_peak_bench) and the Intel ones measured do not (the device
// host's Xeon: 172 against 328, where the kDot kernel measured slower; docs/benchmarks.md), or
// the AMX kernel runs (amx_bf16_available(): Intel's AMX Xeons).
// $RIPVEC_CPU_ATTN=f32 turns it off, =bf16 on wherever available (measurements).
bool attention_bf16_pays();

const CpuKernels& kernels_scalar();
const CpuKernels& kernels_avx2();
const CpuKernels& kernels_avx512();
bool isa_available(Isa isa);
// kAuto picks the widest available ISA; $RIPVEC_CPU_ISA (scalar|avx2|avx512) overrides it.
// Throws UnsupportedError for an ISA this CPU lacks.
const CpuKernels& select_kernels(Isa isa);

}  // namespace ripvec::cpu
