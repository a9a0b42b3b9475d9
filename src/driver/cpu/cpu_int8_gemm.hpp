// Internal to the CPU driver: dynamically quantized INT8 linear layers (Precision::Int8).
//
// Scheme "g32r4" (docs/benchmarks.md, INT8 section: the only batch-independent scheme of the
// accuracy study that keeps the real MiniLM at cosine >= 0.999 against FP32). With
// G = ceil(k / 32) groups of 32 input channels (the last one zero-padded):
//  * W is quantized once (at first use) per output channel and group:
//      sw[j, g] = max|W[j, 32g .. 32g+31]| / 127,
//      q(W)[j, c] = clamp(rint(W[j, c] * (127 / max|W[j, group of c]|)), -127, 127)
//    (a group that is all zero has scale 0 and codes 0);
//  * every row r of x keeps its kOutliers = 4 entries of largest |x| in FP32: they are taken in
//    the order |x| descending, lower column first among equal |x| (a row with fewer than 4
//    nonzeros takes zeros, which add nothing; k < 4 takes all k). Those entries are zeroed in
//    x', the rest is quantized per row and group like W: sa[r, g], q(x')[r, c];
//  * acc[r, j, g] = sum over the group of q(x')[r, c] * q(W)[j, c], exact in int32
//    (|acc| <= 32 * 127 * 255 < 2^24, so float(acc) is exact too);
//  * y[r, j] = bias[j] (0 without bias), then for g = 0 .. G-1 in order
//      y = fma(float(acc[r, j, g]), sa[r, g] * sw[j, g], y),
//    then for the 4 outliers (c_i, x_i) in the order above
//      y = fma(x_i, W[j, c_i], y)          (W from an FP32 copy made with q(W)),
//    then exact GELU when asked. A row of x holding a NaN gives a row of NaN (the NaN is
//    zeroed before quantization and the first outlier value set to NaN), as FP32 would.
// Every ISA performs exactly these float operations in this order on the same integers, so the
// outputs of all builds are bit-identical (int8_gemm_test checks it) and a row's result never
// depends on the other rows of the call (the batch):
//  * kScalar: plain loops; weights packed in quads of k (nr = 8);
//  * kAvx2: activations widened to s16, weights s8 -> s16 in pairs of k, vpmaddwd (one int32
//    lane per output channel, no saturation possible), 6 x 16 register tiles;
//  * kAvx512Vnni: vpdpbusd on u8 activations (q + 128) and s8 weights in quads of k, 12 x 16
//    tiles, the +128 offset removed per group through 128 * sum of the group's weight codes;
//    activations and their scales stored interleaved per 12-row tile, quantized with AVX-512
//    (the same codes: the outlier candidates bounded by 16 lane maxima, x read in place);
//  * kAvxVnni: the same layouts and sums with AVX-VNNI's 256-bit (VEX) vpdpbusd, for the CPUs
//    that have it without AVX-512 (Intel client CPUs since Alder Lake): each 12-row tile in
//    halves of 6 rows x 16 channels.
// Weights are packed into panels of nr output channels: within a panel, for each unit of u k
// (u = 2 for kAvx2, 4 otherwise), nr x u bytes, channel-major; k padded with zeros to kp, a
// multiple of 32. Scales (and VNNI column sums) per panel: [G][nr]. The FP32 copy is panel by
// panel, [panels][k][nr] (zero columns beyond n): the outliers of a tile's rows read one panel's
// k x nr floats, a few pages, where a [k][n] copy put every column of k in a page of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "driver/cpu/cpu_row_norm.hpp"
#include "util/aligned_vector.hpp"

namespace ripvec::cpu {

inline constexpr int64_t kInt8Group = 32;
inline constexpr int kInt8Outliers = 4;

enum class Int8Isa { kAuto, kScalar, kAvx2, kAvxVnni, kAvx512Vnni };

// kAuto: AVX-512 VNNI where the CPU has it, else AVX-VNNI, else AVX2, else scalar — all four
// have run and passed int8_gemm_test (bit-identical; VNNI on the Intel host, 2026-12-05;
// AVX-VNNI on the Intel development VM, 2026-12-07)
// ($RIPVEC_CPU_INT8=scalar|avx2|avxvnni|vnni overrides). Throws UnsupportedError for a requested
// ISA the CPU lacks.
Int8Isa select_int8_isa(Int8Isa want);
const char* int8_isa_name(Int8Isa isa);
// Whether Precision::Auto should pick INT8 on this CPU: where a verified INT8 kernel is
// measured faster than the FP32 kernels the CPU would run. True where both are AVX2's (no
// AVX-512: the INT8 AVX2 kernel is 1.19-1.21x the FP32 one on a quiet AMD VM, cold index and
// forward) and where the INT8 kernel is VNNI's (1.14-1.39x the AVX-512 FP32 forward on the
// Intel host; docs/benchmarks.md). False where FP32 runs AVX-512 and INT8 would be AVX2's (no
// VNNI: slower), and on the scalar kernels. $RIPVEC_CPU_ISA / $RIPVEC_CPU_INT8 are honoured
// (the kernels Auto would actually run are compared).
bool int8_faster_than_f32();

struct Int8Weight {
  Int8Isa isa = Int8Isa::kScalar;
  int64_t n = 0, k = 0, kp = 0, groups = 0, n_pad = 0;  // kp = groups * kInt8Group
  int nr = 0;
  AlignedVector<int8_t> packed;  // n_pad / nr panels of kp * nr bytes
  std::vector<float> scale;      // sw: n_pad / nr panels of [groups][nr]
  std::vector<int32_t> colsum;   // VNNI kernels: 128 * sum of the group's codes, as scale
  AlignedVector<float> wt;       // W by panel, [n_pad / nr][k][nr] (the outlier columns)
};

// W[n, k] row-major -> quantized, packed for isa.
Int8Weight quantize_weight(const float* w, int64_t n, int64_t k, Int8Isa isa);

// Quantized rows of activations as the kernels of one isa want them: the codes (m rounded up
// to whole 12-row tiles, the VNNI layout interleaved per tile, * kp * (2 for kAvx2: int16)
// bytes), as many rows of group scales, and each row's kInt8Outliers columns and values.
// Grown on demand, never shrunk.
struct Int8Rows {
  AlignedVector<int8_t> act;
  std::vector<float> scale;
  std::vector<int32_t> out_col;
  std::vector<float> out_val;
};

// Per call: the quantized activations (rows) and one slot per pool thread: the thread's kp
// floats for quantizing a row and, for int8_ffn's fused path, a row block's quantized inputs,
// its FP32 intermediate and that intermediate's codes. Slots are handed to the pool by index
// (each index once per call), never by thread, so that every buffer is made on the calling
// thread when a call needs more than any before and none on a later call (a thread_local one
// was first touched by whichever worker took rows on a later call). Reused across calls (one
// driver = one thread at a time).
struct Int8Scratch {
  Int8Rows rows;
  struct Slot {
    std::vector<float> buf;    // a row being quantized (the AVX2 and scalar paths copy it)
    Int8Rows in, inter;        // int8_ffn: the block's input codes and intermediate codes
    AlignedVector<float> mid;  // int8_ffn: the block's intermediate, [rows][wi.n]
  };
  std::vector<Slot> slots;
};

// y[m, n] (ldc) = the scheme above with bias (nullable), then exact GELU via gelu(row, n)
// when not null, then each row of y through norm (nullable: inside the task that made the row
// where the tasks make whole rows, else in a pass after the product). x[m, k] (lda) is not
// modified (every row of it is quantized before any product, so a norm may write it). Runs on
// the global pool.
void int8_linear(const Int8Weight& w, const float* x, int64_t lda, float* y, int64_t ldc, int64_t m,
                 const float* bias, void (*gelu)(float*, int64_t), Int8Scratch& s,
                 const RowNorm* norm = nullptr);

// Whether int8_ffn fuses its two products for m rows on a pool of threads: at least two row
// blocks per thread (fewer leave threads idle that the two separate products keep busy by
// splitting their panels).
bool int8_ffn_fuses(Int8Isa isa, int64_t m, int64_t threads);

// out[m, wo.n] (ldc) = the FFN: int8_linear(wi, x, bias, gelu) into an intermediate [m, wi.n],
// then int8_linear(wo) without bias, then each row of out through norm (nullable), bit for bit.
// Fused (int8_ffn_fuses), a pool thread takes row blocks of 4 register tiles one at a time and
// keeps each block's intermediate in a slot of its own (s.slots: FP32 rows and their codes,
// about 390 KiB at MiniLM's 48 x 1,536), where the down projection reads it from L2 and the
// norm finds the output rows still in cache: the intermediate (48 MiB at 8,192 x 1,536) never
// goes to memory and back twice. mid (the caller's [m, wi.n] scratch, row-major) is written only
// when not fused. norm may write x's rows: a block reads its rows of x before it writes them,
// and no block reads another's. x, mid and out must not overlap. Needs wo.k == wi.n and both
// weights of one isa (throws InvalidArgument otherwise). Runs on the global pool.
void int8_ffn(const Int8Weight& wi, const Int8Weight& wo, const float* x, int64_t lda, float* mid,
              float* out, int64_t ldc, int64_t m, const float* bias, void (*gelu)(float*, int64_t),
              Int8Scratch& s, const RowNorm* norm = nullptr);

}  // namespace ripvec::cpu
