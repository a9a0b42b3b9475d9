// Internal to the CPU driver: dynamically quantized INT8 linear layers (Precision::Int8).
//
// y[m, n] = dequant(q(x)[m, k] · q(W)[n, k]ᵀ) + bias (then GELU), where
//  * W is quantized once (at first use) per output channel: sw[j] = max|W[j, :]| / 127,
//    q(W)[j, kk] = rint(W[j, kk] * (127 / max|W[j, :]|)) in [-127, 127];
//  * x is quantized per call, per row (token): sa[r] = max|x[r, :]| / 127, same rounding;
//  * products accumulate exactly in int32 (|acc| <= k * 127 * 255 < 2^31 for k <= 66,000);
//  * y[r, j] = float(acc[r, j]) * (sa[r] * sw[j]) + bias[j], then exact GELU when asked.
// Every ISA computes the same int32 accumulators (bit-identical outputs up to the order of
// the final float multiply-add), so the scalar build is the reference of the SIMD builds:
//  * kScalar: plain loops;
//  * kAvx2: activations widened to s16, weights s8 -> s16, vpmaddwd (no saturation possible);
//  * kAvx512Vnni: vpdpbusd on u8 activations (x + 128) and s8 weights, with the +128 offset
//    removed through the weight's column sums.
// Weights are packed into panels of nr output channels: for each group of 4 k, nr x 4 bytes
// (channel-major), k padded with zeros to a multiple of 4.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace ripvec::cpu {

enum class Int8Isa { kAuto, kScalar, kAvx2, kAvx512Vnni };

// kAuto: the widest this CPU has ($RIPVEC_CPU_INT8=scalar|avx2|vnni overrides). Throws
// UnsupportedError for a requested ISA the CPU lacks.
Int8Isa select_int8_isa(Int8Isa want);
const char* int8_isa_name(Int8Isa isa);

struct Int8Weight {
  Int8Isa isa = Int8Isa::kScalar;
  int64_t n = 0, k = 0, kp = 0;  // kp: k rounded up to a multiple of 4
  int nr = 0;
  std::vector<int8_t> packed;   // ceil(n / nr) panels of kp * nr bytes
  std::vector<float> scale;     // sw[n]
  std::vector<int32_t> colsum;  // 128 * sum_k q(W)[j, k] (the u8 offset of the VNNI path)
};

// W[n, k] row-major -> quantized, packed for isa.
Int8Weight quantize_weight(const float* w, int64_t n, int64_t k, Int8Isa isa);

// Per-row scale and quantized values of x[m, k] (lda) as the kernels of isa want them;
// grown on demand, reused across calls (one driver = one thread at a time).
struct Int8Scratch {
  std::vector<int8_t> act;  // m * kp * (2 for kAvx2: int16) bytes
  std::vector<float> scale;
};

// y[m, n] (ldc) = dequant(...) + bias (nullable), then exact GELU via gelu(row, n) when not
// null. Runs on the global pool.
void int8_linear(const Int8Weight& w, const float* x, int64_t lda, float* y, int64_t ldc, int64_t m,
                 const float* bias, void (*gelu)(float*, int64_t), Int8Scratch& s);

}  // namespace ripvec::cpu
