// Internal to the CPU driver: linear layers with BF16 operands and FP32 sums (Precision::BF16
// on the CPU; the rest of the forward pass stays FP32).
//
//   y[r, j] = bias[j] + sum over c of bf16(x[r, c]) * bf16(W[j, c]),  then exact GELU if asked
//
// bf16(v) rounds an FP32 to 8 mantissa bits, to nearest even, with a subnormal input taken as
// zero (keeping its sign) and a NaN kept a quiet NaN: what VCVTNE2PS2BF16 does. The product of
// two BF16 values is exact in FP32, so the kernels differ only in the order and FP32 rounding
// of their sums (bf16_gemm_test bounds the difference by 4 eps log2(k + 2) sum |products|), and a
// row's result never depends on the other rows of the call. Kernels:
//  * kEmulated: the operands rounded to BF16 values kept in FP32 and run through the FP32
//    packed kernel (any CPU; slower than FP32 by the rounding pass: the accuracy reference,
//    used by the tests and the accuracy studies, never picked by Precision::Auto);
//  * kAmx: AMX-BF16 tiles (TDPBF16PS): 32 x 32 output blocks of four 16 x 16 FP32 tiles, k in
//    steps of 32; the weights packed once in the tiles' pair layout, the activations converted
//    per call (VCVTNE2PS2BF16). Needs AMX-TILE, AMX-BF16, AVX512-BF16 and the kernel's leave
//    to use the tile state (Linux arch_prctl ARCH_REQ_XCOMP_PERM), asked for once per process.
#pragma once

#include <cstdint>
#include <vector>

#include "driver/cpu/cpu_kernels.hpp"
#include "driver/cpu/cpu_packed_gemm.hpp"
#include "driver/cpu/cpu_row_norm.hpp"
#include "util/aligned_vector.hpp"

namespace ripvec::cpu {

enum class Bf16Isa { kAuto, kEmulated, kAmx };

// Whether this CPU and OS run the AMX-BF16 kernel (CPUID, XCR0 and the tile-data permission,
// requested here the first time). Thread-safe; the answer is computed once.
bool amx_bf16_available();
// kAuto: kAmx where amx_bf16_available() (verified on AMX silicon), else kEmulated
// ($RIPVEC_CPU_BF16=emulated|amx overrides). Throws UnsupportedError for kAmx on a CPU
// without it.
Bf16Isa select_bf16_isa(Bf16Isa want);
const char* bf16_isa_name(Bf16Isa isa);
// Whether Precision::Auto should run documents in BF16: where select_bf16_isa(kAuto) gives the
// AMX kernel (cold index 3.0x FP32 on 2 cores of an AMX Xeon, 2026-12-06; 1.7x INT8 VNNI on
// the forward), never on the emulated kernel.
bool bf16_faster_than_f32();

// bf16(v) as defined above: its bits, and the FP32 value it represents.
uint16_t bf16_bits(float v);
float bf16_round(float v);

struct Bf16Weight {
  Bf16Isa isa = Bf16Isa::kEmulated;
  int64_t n = 0, k = 0;
  // kAmx: k padded to kp (a multiple of 32) and n to n_pad (a multiple of 32); n_pad / 32
  // panels of kp * 32 values: for each step of 32 k, two 16 x 16 pair tiles (channels 0-15,
  // then 16-31), element [kk][j][e] = bf16(W[32 p + j][32 s + 2 kk + e]) (zeros beyond n, k).
  int64_t kp = 0, n_pad = 0;
  AlignedVector<uint16_t> packed;
  // kEmulated: pack_weight(bf16-rounded W, n, k, gemm_nr) for the FP32 packed kernel (every
  // kernel build has one).
  PackedFloats emulated;
};

// W[n, k] row-major -> rounded and packed for isa (kAuto is resolved by select_bf16_isa).
Bf16Weight pack_bf16_weight(const CpuKernels& kern, const float* w, int64_t n, int64_t k,
                            Bf16Isa isa);

// Per call: the converted activations; grown on demand and reused (one driver = one thread).
struct Bf16Scratch {
  AlignedVector<uint16_t> act;    // kAmx: ceil(m / 32) * 32 rows of kp values, in tile order
  AlignedVector<uint16_t> inter;  // bf16_ffn on kAmx: a 128-row intermediate per pool thread
  std::vector<float> act_f32;     // kEmulated: m rows of k rounded values
};

// y[m, n] (ldc) = the formula above with bias (nullable), then exact GELU when gelu, then each
// row through norm (nullable; on AMX inside the task that made the row, where a task makes whole
// rows: a residual layer norm that may write the rows of x, which is converted before any row
// is written). x[m, k] (lda) is not modified otherwise. Runs on the global pool.
void bf16_linear(const CpuKernels& kern, const Bf16Weight& w, const float* x, int64_t lda, float* y,
                 int64_t ldc, int64_t m, const float* bias, bool gelu, Bf16Scratch& s,
                 const RowNorm* norm = nullptr);

// out[m, wo.n] (ldc) = the FFN: bf16_linear(wi, bias, gelu) into the intermediate mid[m, wi.n]
// (the caller's scratch, row-major), then bf16_linear(wo) without bias, bit for bit. On the AMX
// kernel with enough rows to give every pool thread two 128-row blocks, mid is not touched: the
// intermediate stays per row block in BF16 in the thread's L2 (cpu_bf16_amx_impl.hpp, amx_ffn)
// instead of being stored in FP32 and converted again. x is not modified; out, x and mid must not
// overlap. norm (nullable): then each row of out through it (a residual layer norm, which may
// write the rows of x: x is read, converted, before any row is written). Needs wo.k == wi.n and
// both weights of one isa (throws InvalidArgument otherwise). Runs on the global pool.
void bf16_ffn(const CpuKernels& kern, const Bf16Weight& wi, const Bf16Weight& wo, const float* x,
              int64_t lda, float* mid, float* out, int64_t ldc, int64_t m, const float* bias,
              bool gelu, Bf16Scratch& s, const RowNorm* norm = nullptr);

}  // namespace ripvec::cpu
