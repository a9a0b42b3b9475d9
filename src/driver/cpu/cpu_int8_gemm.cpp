// GCC 12's avx512fintrin.h trips -W(maybe-)uninitialized on its own _mm512_undefined_ps().
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "driver/cpu/cpu_int8_gemm.hpp"
#include "driver/cpu/cpu_kernels.hpp"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "driver/cpu/cpu_gemm_tasks.hpp"
#include "driver/cpu/cpu_isa_env.hpp"
#include "ripvec/error.hpp"
#include "util/thread_pool.hpp"

namespace ripvec::cpu {

namespace {

constexpr int64_t kG = kInt8Group;
constexpr int kO = kInt8Outliers;
// Rows of a VNNI register tile. The VNNI kernel's activations (and their group scales) are
// stored tile by tile, interleaved (quant_row_u8), so that one base pointer and constant
// offsets reach every row of a tile: what lets group_vnni_asm address all 12 rows with one
// register (with a pointer per row, GCC also kept reloading the pointers from the stack).
constexpr int64_t kVnniMr = 12;

bool isa_ok(Int8Isa isa) {
  switch (isa) {
    case Int8Isa::kAuto:
    case Int8Isa::kScalar:
      return true;
#if defined(__x86_64__)
    case Int8Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Int8Isa::kAvxVnni:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("avxvnni");
    case Int8Isa::kAvx512Vnni:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    default:
      return false;
#endif
  }
  return false;
}

int nr_of(Int8Isa isa) {
  return isa == Int8Isa::kScalar ? 8 : 16;
}
// Both VNNI kernels use the interleaved 12-row tiles of quant_row_u8.
bool vnni_layout(Int8Isa isa) {
  return isa == Int8Isa::kAvx512Vnni || isa == Int8Isa::kAvxVnni;
}
int mr_of(Int8Isa isa) {
  return vnni_layout(isa) ? static_cast<int>(kVnniMr) : isa == Int8Isa::kAvx2 ? 6 : 4;
}
// k per unit of the packed layout: vpmaddwd takes pairs, vpdpbusd (and the scalar) quads.
int unit_of(Int8Isa isa) {
  return isa == Int8Isa::kAvx2 ? 2 : 4;
}

// ---------------------------------------------------------------- activation quantization

// Shared by every ISA so that they agree bit for bit: amax is order-independent, and
// x * inv is one IEEE multiply rounded to nearest-even (MXCSR default == nearbyint).
// A group whose max |x| is below 127 / FLT_MAX (its 127 / amax overflows) gets codes 0: an
// infinite inverse made 0 * inf = NaN, whose code each ISA converts its own way.
inline float row_inv(float amax) {
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  return inv <= std::numeric_limits<float>::max() ? inv : 0.0f;
}

// The row's kO outliers, kept sorted by |x| descending (lower column first among equals:
// only a strictly larger |x| moves ahead). Unused slots: column 0, value 0, |x| -1.
// A NaN in the row is never an outlier nor quantized (its code would be undefined): it is
// zeroed, and the first outlier value becomes NaN, so the row's outputs are NaN as in FP32 and
// the embedder's finiteness check refuses them instead of serving a wrong vector.
struct Outliers {
  float mag[kO] = {-1.0f, -1.0f, -1.0f, -1.0f};
  int32_t col[kO] = {};
  float val[kO] = {};
  bool nan = false;

  void offer(float v, int32_t c) {
    const float a = std::fabs(v);
    if (!(a > mag[kO - 1])) return;
    int i = kO - 1;
    for (; i > 0 && a > mag[i - 1]; --i) {
      mag[i] = mag[i - 1];
      col[i] = col[i - 1];
      val[i] = val[i - 1];
    }
    mag[i] = a;
    col[i] = c;
    val[i] = v;
  }
  // buf[0, k) holds x: x' = x with the outliers zeroed (and zeros up to kp); outliers to out_*.
  void finish(int64_t k, int64_t kp, float* buf, int32_t* out_col, float* out_val) const {
    std::fill(buf + k, buf + kp, 0.0f);
    for (int i = 0; i < kO; ++i)
      if (mag[i] >= 0.0f) buf[col[i]] = 0.0f;
    if (nan)
      for (int64_t i = 0; i < k; ++i)
        if (std::isnan(buf[i])) buf[i] = 0.0f;
    emit(out_col, out_val);
  }
  // The outliers' columns and values (the first value NaN for a row holding a NaN).
  void emit(int32_t* out_col, float* out_val) const {
    for (int i = 0; i < kO; ++i) {
      out_col[i] = col[i];
      out_val[i] = val[i];
    }
    if (nan) out_val[0] = std::numeric_limits<float>::quiet_NaN();
  }
  // Bit c of group g's 32 columns set where column 32 g + c is an outlier (zeroed in x').
  uint32_t group_mask(int64_t g) const {
    uint32_t z = 0;
    for (int i = 0; i < kO; ++i)
      if (mag[i] >= 0.0f && col[i] / kG == g) z |= 1u << (col[i] % kG);
    return z;
  }
};

// Also copies x[0, k) to buf.
Outliers find_outliers_scalar(const float* x, int64_t k, float* buf) {
  std::memcpy(buf, x, static_cast<size_t>(k) * sizeof(float));
  Outliers o;
  for (int64_t i = 0; i < k; ++i) {
    o.nan |= std::isnan(x[i]);
    o.offer(x[i], static_cast<int32_t>(i));
  }
  return o;
}

// Per row: outliers, then groups of x' quantized into q (kp codes) with scales sa[groups].
void quant_row_scalar(const float* x, int64_t k, int64_t kp, float* buf, int8_t* q, float* sa,
                      int32_t* oc, float* ov) {
  find_outliers_scalar(x, k, buf).finish(k, kp, buf, oc, ov);
  for (int64_t g = 0; g < kp / kG; ++g) {
    const float* b = buf + g * kG;
    float amax = 0.0f;
    for (int64_t i = 0; i < kG; ++i) amax = std::max(amax, std::fabs(b[i]));
    const float inv = row_inv(amax);
    for (int64_t i = 0; i < kG; ++i)
      q[g * kG + i] = static_cast<int8_t>(std::clamp(std::nearbyint(b[i] * inv), -127.0f, 127.0f));
    sa[g] = amax / 127.0f;
  }
}

#if defined(__x86_64__)
// Same selection as find_outliers_scalar, in two passes. The 8 lane maxima of |x| over the
// row's blocks of 8 are 8 distinct entries, so the 4th largest of them, t, is at most the
// row's 4th largest |x|: every outlier has |x| >= t. The second pass offers only those
// candidates, in column order, which gives the same 4 as offering every entry (the result is
// the first 4 of a stable sort by |x|, and all of them are offered). NaN never enters the
// lane maxima (max_ps returns its second operand when either is NaN) nor the candidates.
// The first pass also copies x to buf (x is read once; the second pass reads buf from L1).
__attribute__((target("avx2,fma"))) Outliers find_outliers_avx2(const float* x, int64_t k,
                                                                float* buf) {
  if (k < 64) return find_outliers_scalar(x, k, buf);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
  const int64_t k8 = k / 8 * 8;
  for (int64_t i = 0; i < k8; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(buf + i, v);
    m = _mm256_max_ps(_mm256_andnot_ps(sign, v), m);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  Outliers o;
  o.nan = _mm256_movemask_ps(bad) != 0;
  for (int64_t i = k8; i < k; ++i) {
    buf[i] = x[i];
    o.nan |= std::isnan(x[i]);
  }
  x = buf;
  alignas(32) float lane[8];
  _mm256_store_ps(lane, m);
  std::nth_element(lane, lane + kO - 1, lane + 8, std::greater<float>());
  const __m256 t = _mm256_set1_ps(lane[kO - 1]);
  for (int64_t i = 0; i < k8; i += 8) {
    const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i));
    int hit = _mm256_movemask_ps(_mm256_cmp_ps(a, t, _CMP_GE_OQ));
    while (hit != 0) {
      const int j = __builtin_ctz(static_cast<unsigned>(hit));
      hit &= hit - 1;
      o.offer(x[i + j], static_cast<int32_t>(i + j));
    }
  }
  for (int64_t i = k8; i < k; ++i) o.offer(x[i], static_cast<int32_t>(i));
  return o;
}

// The group's |x| max (32 floats) and the products x * (127 / max) as rounded int32 lanes.
struct GroupCodes {
  __m256i v[4];
  float amax;
};

__attribute__((target("avx2,fma"))) inline GroupCodes group_codes_avx2(const float* b) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 x0 = _mm256_loadu_ps(b), x1 = _mm256_loadu_ps(b + 8);
  const __m256 x2 = _mm256_loadu_ps(b + 16), x3 = _mm256_loadu_ps(b + 24);
  __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, x0), _mm256_andnot_ps(sign, x1)),
                           _mm256_max_ps(_mm256_andnot_ps(sign, x2), _mm256_andnot_ps(sign, x3)));
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  GroupCodes c;
  c.amax = _mm_cvtss_f32(h);
  const __m256 vi = _mm256_set1_ps(row_inv(c.amax));
  // |x * inv| <= 127 (rounded), so no clamp is needed: the same codes as the scalar's clamp.
  c.v[0] = _mm256_cvtps_epi32(_mm256_mul_ps(x0, vi));
  c.v[1] = _mm256_cvtps_epi32(_mm256_mul_ps(x1, vi));
  c.v[2] = _mm256_cvtps_epi32(_mm256_mul_ps(x2, vi));
  c.v[3] = _mm256_cvtps_epi32(_mm256_mul_ps(x3, vi));
  return c;
}

// AVX2: codes as int16.
__attribute__((target("avx2,fma"))) void quant_row_avx2(const float* x, int64_t k, int64_t kp,
                                                        float* buf, int16_t* q, float* sa,
                                                        int32_t* oc, float* ov) {
  find_outliers_avx2(x, k, buf).finish(k, kp, buf, oc, ov);
  for (int64_t g = 0; g < kp / kG; ++g) {
    const GroupCodes c = group_codes_avx2(buf + g * kG);
    // packs works per 128-bit lane: permute back to column order.
    const __m256i p0 = _mm256_permute4x64_epi64(_mm256_packs_epi32(c.v[0], c.v[1]), 0xD8);
    const __m256i p1 = _mm256_permute4x64_epi64(_mm256_packs_epi32(c.v[2], c.v[3]), 0xD8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + g * kG), p0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + g * kG + 16), p1);
    sa[g] = c.amax / 127.0f;
  }
}

// VNNI: codes + 128 as uint8 (the +128 is removed in the kernel through the column sums), in
// the row tiles' interleaved layout (kVnniMr rows per tile; per quad of k the tile's rows' 4
// bytes side by side): row i of its tile writes its quad s at q[s * 4 * kVnniMr + 4 * i], which
// the caller's q points at for i, and its group scales at sa[g * kVnniMr].
__attribute__((target("avx2,fma"))) void quant_row_u8(const float* x, int64_t k, int64_t kp,
                                                      float* buf, uint8_t* q, float* sa,
                                                      int32_t* oc, float* ov) {
  find_outliers_avx2(x, k, buf).finish(k, kp, buf, oc, ov);
  const __m256i off = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  constexpr int64_t kQuad = 4 * kVnniMr;  // bytes between a row's quads
  for (int64_t g = 0; g < kp / kG; ++g) {
    const GroupCodes c = group_codes_avx2(buf + g * kG);
    const __m256i w0 = _mm256_packs_epi32(c.v[0], c.v[1]);
    const __m256i w1 = _mm256_packs_epi32(c.v[2], c.v[3]);
    // Two lane-wise packs leave 4-byte blocks in the order 0 2 4 6 1 3 5 7: undo it.
    const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(w0, w1), order);
    alignas(32) uint32_t quads[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(quads), _mm256_xor_si256(b, off));
    uint8_t* qg = q + g * (kG / 4) * kQuad;
    for (int i = 0; i < 8; ++i) std::memcpy(qg + i * kQuad, &quads[i], 4);
    sa[g * kVnniMr] = c.amax / 127.0f;
  }
}

// quant_row_u8 on AVX-512, the same codes and scales: 16 lane maxima give the candidates'
// threshold (the 4th largest of 16 distinct entries' |x|: fewer candidates than 8 lanes give),
// and x is read in place, without a copy: each group's outlier columns (and NaNs) are masked
// off as it is loaded. Lanes past k load as zeros, which add nothing to a lane's maximum. buf
// is unused (the signature is quant_row_u8's).
__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) void quant_row_u8_avx512(
    const float* x, int64_t k, int64_t kp, float* buf, uint8_t* q, float* sa, int32_t* oc,
    float* ov) {
  if (k < 64) return quant_row_u8(x, k, kp, buf, q, sa, oc, ov);
  __m512 m = _mm512_setzero_ps();
  __mmask16 bad = 0;
  const int64_t k16 = k / 16 * 16;
  const auto tail = static_cast<__mmask16>((1u << (k - k16)) - 1);
  for (int64_t i = 0; i < k16; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    m = _mm512_max_ps(_mm512_abs_ps(v), m);  // a NaN keeps m (second operand)
    bad |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  }
  if (tail != 0) {
    const __m512 v = _mm512_maskz_loadu_ps(tail, x + k16);
    m = _mm512_max_ps(_mm512_abs_ps(v), m);
    bad |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  }
  Outliers o;
  o.nan = bad != 0;
  // The 4th largest lane maximum: the largest taken out one lane at a time, without branches
  // (std::nth_element's partition loops over 16 floats cost more than the row's candidates).
  __m512 t = m;
  for (int i = 0; i < kO; ++i) {
    t = _mm512_set1_ps(_mm512_reduce_max_ps(m));
    const unsigned first = _mm512_cmp_ps_mask(m, t, _CMP_EQ_OQ);
    m = _mm512_mask_mov_ps(m, static_cast<__mmask16>(first & -first), _mm512_set1_ps(-1.0f));
  }
  for (int64_t i = 0; i < k; i += 16) {
    const __mmask16 in = i < k16 ? static_cast<__mmask16>(0xFFFF) : tail;
    const __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(in, x + i));
    unsigned hit = _mm512_mask_cmp_ps_mask(in, a, t, _CMP_GE_OQ);
    while (hit != 0) {
      const int j = __builtin_ctz(hit);
      hit &= hit - 1;
      o.offer(x[i + j], static_cast<int32_t>(i + j));
    }
  }
  o.emit(oc, ov);
  const __m128i off = _mm_set1_epi8(static_cast<char>(0x80));
  constexpr int64_t kQuad = 4 * kVnniMr;  // bytes between a row's quads
  for (int64_t g = 0; g < kp / kG; ++g) {
    const int64_t c0 = g * kG, left = k - c0;  // >= 1: kp rounds k up to whole groups
    uint32_t keep = left >= kG ? 0xFFFFFFFFu : (1u << left) - 1;
    keep &= ~o.group_mask(g);
    __m512 x0 = _mm512_maskz_loadu_ps(static_cast<__mmask16>(keep), x + c0);
    __m512 x1 = _mm512_maskz_loadu_ps(static_cast<__mmask16>(keep >> 16), x + c0 + 16);
    if (o.nan) {  // NaNs are zeroed, never quantized (as quant_row_u8's finish does)
      x0 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x0, x0, _CMP_ORD_Q), x0);
      x1 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x1, x1, _CMP_ORD_Q), x1);
    }
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    const __m512 vi = _mm512_set1_ps(row_inv(amax));
    // |x * inv| <= 127 (rounded); saturated to 8 bits as quant_row_u8's packs saturate.
    const __m128i b0 =
        _mm_xor_si128(_mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(x0, vi))), off);
    const __m128i b1 =
        _mm_xor_si128(_mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(x1, vi))), off);
    alignas(32) uint32_t quads[8];
    _mm_store_si128(reinterpret_cast<__m128i*>(quads), b0);
    _mm_store_si128(reinterpret_cast<__m128i*>(quads + 4), b1);
    uint8_t* qg = q + g * (kG / 4) * kQuad;
    for (int i = 0; i < 8; ++i) std::memcpy(qg + i * kQuad, &quads[i], 4);
    sa[g * kVnniMr] = amax / 127.0f;
  }
}
#endif

// ---------------------------------------------------------------- micro-kernels

// Panel p's FP32 copy of W ([k][nr] floats: the outlier columns' weights, row stride nr).
const float* panel_wt(const Int8Weight& w, int64_t p) {
  return w.wt.data() + p * w.k * w.nr;
}

// One block: rows [0, rows) of the quantized activations x panels [p0, p1) of the weight;
// writes y rows (ldc) with the dequantized result. act and sa: row r at act + r * kp elements,
// sa + r * groups (scalar, AVX2); VNNI: tile by tile, interleaved (quant_row_u8), each tile
// where its first row would be.
struct Block {
  const Int8Weight* w;
  const void* act;
  const float* sa;      // [rows][groups] (VNNI: [tiles][groups][kVnniMr])
  const int32_t* ocol;  // [rows][kO]
  const float* oval;
  float* y;
  int64_t ldc;
  int64_t rows;
  int64_t p0, p1;
  const float* bias;
};

void block_scalar(const Block& b) {
  const Int8Weight& w = *b.w;
  const int64_t G = w.groups, nr = w.nr;
  const auto* act = static_cast<const int8_t*>(b.act);
  for (int64_t p = b.p0; p < b.p1; ++p) {
    const int8_t* panel = w.packed.data() + p * w.kp * nr;
    const float* sw = w.scale.data() + p * G * nr;
    const int64_t col0 = p * nr, cols = std::min<int64_t>(nr, w.n - col0);
    for (int64_t r = 0; r < b.rows; ++r) {
      const int8_t* a = act + r * w.kp;
      for (int64_t j = 0; j < cols; ++j) {
        float y = b.bias ? b.bias[col0 + j] : 0.0f;
        for (int64_t g = 0; g < G; ++g) {
          int32_t acc = 0;
          for (int64_t kk = g * kG; kk < (g + 1) * kG; ++kk)
            acc += int32_t(a[kk]) * int32_t(panel[(kk / 4) * nr * 4 + j * 4 + kk % 4]);
          y = std::fma(static_cast<float>(acc), b.sa[r * G + g] * sw[g * nr + j], y);
        }
        for (int o = 0; o < kO; ++o)
          y = std::fma(b.oval[r * kO + o], panel_wt(w, p)[b.ocol[r * kO + o] * nr + j], y);
        b.y[r * b.ldc + col0 + j] = y;
      }
    }
  }
}

#if defined(__x86_64__)
// The 8-lane kernels' shared steps on their rows' 16 float accumulators f (in L1): the start
// (the panel's bias), ...
__attribute__((target("avx2,fma"), always_inline)) inline void start_rows_avx2(
    float (*f)[16], int rows, const float* bias16) {
  const __m256 b0 = _mm256_loadu_ps(bias16), b1 = _mm256_loadu_ps(bias16 + 8);
  for (int r = 0; r < rows; ++r) {
    _mm256_store_ps(f[r], b0);
    _mm256_store_ps(f[r] + 8, b1);
  }
}

// ... one group's dequantization into a row, f += float(acc) * (s * sw), channels 0-7 from
// acc0 and 8-15 from acc1, ...
__attribute__((target("avx2,fma"), always_inline)) inline void dequant_row_avx2(
    float* f, __m256i acc0, __m256i acc1, float s, __m256 sw0, __m256 sw1) {
  const __m256 vs = _mm256_set1_ps(s);
  _mm256_store_ps(
      f, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc0), _mm256_mul_ps(vs, sw0), _mm256_load_ps(f)));
  _mm256_store_ps(f + 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc1), _mm256_mul_ps(vs, sw1),
                                         _mm256_load_ps(f + 8)));
}

// ... and, after the last group, the rows' outlier products (FP32, in order) and their first
// `cols` channels into y.
__attribute__((target("avx2,fma"))) inline void finish_rows_avx2(float (*f)[16], int rows,
                                                                 const int32_t* ocol,
                                                                 const float* oval, const float* wt,
                                                                 int64_t ldwt, float* y,
                                                                 int64_t ldc, int64_t cols) {
  for (int r = 0; r < rows; ++r) {
    __m256 f0 = _mm256_load_ps(f[r]), f1 = _mm256_load_ps(f[r] + 8);
    for (int o = 0; o < kO; ++o) {
      const __m256 v = _mm256_set1_ps(oval[r * kO + o]);
      const float* w = wt + ocol[r * kO + o] * ldwt;
      f0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(w), f0);
      f1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(w + 8), f1);
    }
    if (cols == 16) {
      _mm256_storeu_ps(y + r * ldc, f0);
      _mm256_storeu_ps(y + r * ldc + 8, f1);
    } else {
      alignas(32) float t[16];
      _mm256_store_ps(t, f0);
      _mm256_store_ps(t + 8, f1);
      std::memcpy(y + r * ldc, t, cols * sizeof(float));
    }
  }
}

// AVX2: NR = 16 channels, MR rows. Per pair of k: the panel's 32 bytes (16 channels x 2 k)
// widen to two s16 vectors (channels 0-7, 8-15); a row's 2 s16 activations are broadcast and
// vpmaddwd leaves one int32 per channel. Per group of 32 k the int32 sums are dequantized into
// the float accumulators, which live in f (L1) so that the 12 int32 accumulators, the two
// weight vectors and the broadcast fit the 16 registers.
template <int MR>
__attribute__((target("avx2,fma"))) void tile_avx2(const int16_t* a, int64_t kp, int64_t G,
                                                   const int8_t* panel, const float* sa,
                                                   const float* sw, const float* bias16,
                                                   const int32_t* ocol, const float* oval,
                                                   const float* wt, int64_t ldwt, float* y,
                                                   int64_t ldc, int64_t cols) {
  alignas(32) float f[MR][16];
  start_rows_avx2(f, MR, bias16);
  for (int64_t g = 0; g < G; ++g) {
    const int16_t* ar[MR];
    for (int r = 0; r < MR; ++r) ar[r] = a + r * kp + g * kG;
    __m256i acc0[MR], acc1[MR];
    for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm256_setzero_si256();
    const int8_t* pg = panel + g * kG * 16;
#pragma GCC unroll 16
    for (int s = 0; s < kG / 2; ++s) {
      const __m256i w0 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pg + s * 32)));
      const __m256i w1 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pg + s * 32 + 16)));
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        int32_t av;
        std::memcpy(&av, ar[r] + 2 * s, 4);
        const __m256i va = _mm256_set1_epi32(av);
        acc0[r] = _mm256_add_epi32(acc0[r], _mm256_madd_epi16(va, w0));
        acc1[r] = _mm256_add_epi32(acc1[r], _mm256_madd_epi16(va, w1));
        // Integer adds are associative: without this GCC turns the chains into trees of
        // madd results kept on the stack (spills on every step).
        asm("" : "+x"(acc0[r]), "+x"(acc1[r]));
      }
    }
    const __m256 sw0 = _mm256_loadu_ps(sw + g * 16), sw1 = _mm256_loadu_ps(sw + g * 16 + 8);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) dequant_row_avx2(f[r], acc0[r], acc1[r], sa[r * G + g], sw0, sw1);
  }
  finish_rows_avx2(f, MR, ocol, oval, wt, ldwt, y, ldc, cols);
}

// One group (32 k) of a whole 12-row VNNI tile: acc[r] += the u8 x s8 products of row r's
// quads (ag, interleaved) with the panel's 16 channels (pg), in assembly. From intrinsics GCC
// kept the 12 chains only with an empty asm barrier per step, and then rotated them through
// other registers: ~80 register moves per 96 vpdpbusd, on the same two ports (the whole tile
// ran at 45% of the VNNI peak in L1; 60% like this).
static_assert(kVnniMr == 12, "group_vnni_asm is written for 12 rows (48-byte quads)");
#define RIPVEC_DP(s, r, t)                           \
  "vpbroadcastd " #s "*48+" #r "*4(%[ag]), %%zmm" #t \
  "\n\t"                                             \
  "vpdpbusd %%zmm31, %%zmm" #t ", %[a" #r "]\n\t"
#define RIPVEC_STEP(s)                                                                    \
  "vmovdqu64 " #s "*64(%[pg]), %%zmm31\n\t" RIPVEC_DP(s, 0, 30) RIPVEC_DP(s, 1, 29)       \
      RIPVEC_DP(s, 2, 30) RIPVEC_DP(s, 3, 29) RIPVEC_DP(s, 4, 30) RIPVEC_DP(s, 5, 29)     \
          RIPVEC_DP(s, 6, 30) RIPVEC_DP(s, 7, 29) RIPVEC_DP(s, 8, 30) RIPVEC_DP(s, 9, 29) \
              RIPVEC_DP(s, 10, 30) RIPVEC_DP(s, 11, 29)
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"), always_inline)) inline void
group_vnni_asm(const uint8_t* ag, const int8_t* pg, __m512i* acc) {
  __m512i a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], a4 = acc[4], a5 = acc[5], a6 = acc[6],
          a7 = acc[7], a8 = acc[8], a9 = acc[9], a10 = acc[10], a11 = acc[11];
  asm(RIPVEC_STEP(0) RIPVEC_STEP(1) RIPVEC_STEP(2) RIPVEC_STEP(3) RIPVEC_STEP(4) RIPVEC_STEP(5)
          RIPVEC_STEP(6) RIPVEC_STEP(7)
      : [a0] "+v"(a0), [a1] "+v"(a1), [a2] "+v"(a2), [a3] "+v"(a3), [a4] "+v"(a4), [a5] "+v"(a5),
        [a6] "+v"(a6), [a7] "+v"(a7), [a8] "+v"(a8), [a9] "+v"(a9), [a10] "+v"(a10), [a11] "+v"(a11)
      : [ag] "r"(ag), [pg] "r"(pg), "m"(*(const uint8_t(*)[8 * 48]) ag),
        "m"(*(const int8_t(*)[8 * 64]) pg)
      : "xmm29", "xmm30", "xmm31");
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = a4, acc[5] = a5;
  acc[6] = a6, acc[7] = a7, acc[8] = a8, acc[9] = a9, acc[10] = a10, acc[11] = a11;
}
#undef RIPVEC_STEP
#undef RIPVEC_DP

// AVX-512 VNNI: NR = 16 channels (one zmm of 4 k each), MR rows; vpdpbusd of a row's 4 u8
// activations (broadcast) with the panel's 64 s8 bytes. Per group of 32 k the accumulators
// start at minus the group's column sums (128 * sum of the codes: the u8 offset) and are then
// dequantized into the float accumulators (12 + 12 + 4 of the 32 zmm registers). a and sa are
// the tile's interleaved activations and scales (quant_row_u8): row r's quad s at
// a[(s * kVnniMr + r) * 4], its scale of group g at sa[g * kVnniMr + r].
template <int MR>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma"))) void tile_vnni(
    const uint8_t* a, int64_t G, const int8_t* panel, const float* sa, const float* sw,
    const int32_t* colsum, const float* bias16, const int32_t* ocol, const float* oval,
    const float* wt, int64_t ldwt, float* y, int64_t ldc, int64_t cols) {
  constexpr int64_t kQuad = 4 * kVnniMr;
  __m512 f[MR];
  const __m512 vb = _mm512_loadu_ps(bias16);
  for (int r = 0; r < MR; ++r) f[r] = vb;
  for (int64_t g = 0; g < G; ++g) {
    const uint8_t* ag = a + g * (kG / 4) * kQuad;
    const __m512i neg =
        _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_loadu_si512(colsum + g * 16));
    __m512i acc[MR];
    for (int r = 0; r < MR; ++r) acc[r] = neg;
    const int8_t* pg = panel + g * kG * 16;
    if constexpr (MR == kVnniMr) {
      group_vnni_asm(ag, pg, acc);
    } else {
#pragma GCC unroll 8
      for (int s = 0; s < kG / 4; ++s) {
        const __m512i wv = _mm512_loadu_si512(pg + s * 64);
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
          int32_t av;
          std::memcpy(&av, ag + s * kQuad + 4 * r, 4);
          acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(av), wv);
          asm("" : "+v"(acc[r]));  // keep the chains as chains (see tile_avx2)
        }
      }
    }
    const __m512 vsw = _mm512_loadu_ps(sw + g * 16);
    const float* sg = sa + g * kVnniMr;
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
      f[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r]), _mm512_mul_ps(_mm512_set1_ps(sg[r]), vsw),
                             f[r]);
  }
  const __mmask16 mask = cols >= 16 ? __mmask16(0xffff) : __mmask16((1u << cols) - 1u);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    for (int o = 0; o < kO; ++o)
      f[r] = _mm512_fmadd_ps(_mm512_set1_ps(oval[r * kO + o]),
                             _mm512_loadu_ps(wt + ocol[r * kO + o] * ldwt), f[r]);
    _mm512_mask_storeu_ps(y + r * ldc, mask, f[r]);
  }
}

// One group (32 k) of up to 6 rows of an AVX-VNNI tile (the rows at ag, interleaved like
// quant_row_u8's), 16 channels as two 8-lane halves: 12 int32 accumulators, the two weight
// vectors and the broadcast fill the 16 ymm registers; then f[r] += acc * (sa * sw), as every
// kernel does.
template <int H>
__attribute__((target("avx2,fma,avxvnni"), always_inline)) inline void group_avxvnni(
    const uint8_t* ag, const int8_t* pg, const __m256i (&neg)[2], const float* sg,
    const __m256 (&vsw)[2], float (*f)[16]) {
  constexpr int64_t kQuad = 4 * kVnniMr;
  __m256i acc0[H], acc1[H];
  for (int r = 0; r < H; ++r) {
    acc0[r] = neg[0];
    acc1[r] = neg[1];
  }
#pragma GCC unroll 8
  for (int s = 0; s < kG / 4; ++s) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pg + s * 64));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pg + s * 64 + 32));
#pragma GCC unroll 6
    for (int r = 0; r < H; ++r) {
      int32_t av;
      std::memcpy(&av, ag + s * kQuad + 4 * r, 4);
      const __m256i va = _mm256_set1_epi32(av);
      acc0[r] = _mm256_dpbusd_avx_epi32(acc0[r], va, w0);
      acc1[r] = _mm256_dpbusd_avx_epi32(acc1[r], va, w1);
      asm("" : "+x"(acc0[r]), "+x"(acc1[r]));  // keep the chains as chains (see tile_avx2)
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < H; ++r) dequant_row_avx2(f[r], acc0[r], acc1[r], sg[r], vsw[0], vsw[1]);
}

// AVX-VNNI: tile_vnni's layouts and sums on 8-lane registers, MR (<= 12) rows as halves of up
// to 6 (group_avxvnni); the float accumulators in L1 (f), as in tile_avx2.
template <int MR>
__attribute__((target("avx2,fma,avxvnni"))) void tile_avxvnni(
    const uint8_t* a, int64_t G, const int8_t* panel, const float* sa, const float* sw,
    const int32_t* colsum, const float* bias16, const int32_t* ocol, const float* oval,
    const float* wt, int64_t ldwt, float* y, int64_t ldc, int64_t cols) {
  constexpr int64_t kQuad = 4 * kVnniMr;
  constexpr int H0 = MR < 6 ? MR : 6, H1 = MR - H0;
  alignas(32) float f[MR][16];
  start_rows_avx2(f, MR, bias16);
  for (int64_t g = 0; g < G; ++g) {
    const uint8_t* ag = a + g * (kG / 4) * kQuad;
    const int8_t* pg = panel + g * kG * 16;
    const __m256i zero = _mm256_setzero_si256();
    const __m256i neg[2] = {
        _mm256_sub_epi32(zero,
                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(colsum + g * 16))),
        _mm256_sub_epi32(
            zero, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(colsum + g * 16 + 8)))};
    const __m256 vsw[2] = {_mm256_loadu_ps(sw + g * 16), _mm256_loadu_ps(sw + g * 16 + 8)};
    const float* sg = sa + g * kVnniMr;
    group_avxvnni<H0>(ag, pg, neg, sg, vsw, f);
    if constexpr (H1 > 0) group_avxvnni<H1>(ag + 4 * H0, pg, neg, sg + H0, vsw, f + H0);
  }
  finish_rows_avx2(f, MR, ocol, oval, wt, ldwt, y, ldc, cols);
}

using Avx2Tile = void (*)(const int16_t*, int64_t, int64_t, const int8_t*, const float*,
                          const float*, const float*, const int32_t*, const float*, const float*,
                          int64_t, float*, int64_t, int64_t);
using VnniTile = void (*)(const uint8_t*, int64_t, const int8_t*, const float*, const float*,
                          const int32_t*, const float*, const int32_t*, const float*, const float*,
                          int64_t, float*, int64_t, int64_t);

template <int... R>
constexpr std::array<Avx2Tile, sizeof...(R) + 1> avx2_table(std::integer_sequence<int, R...>) {
  return {nullptr, &tile_avx2<R + 1>...};
}
template <int... R>
constexpr std::array<VnniTile, sizeof...(R) + 1> vnni_table(std::integer_sequence<int, R...>) {
  return {nullptr, &tile_vnni<R + 1>...};
}
template <int... R>
constexpr std::array<VnniTile, sizeof...(R) + 1> avxvnni_table(std::integer_sequence<int, R...>) {
  return {nullptr, &tile_avxvnni<R + 1>...};
}

// The panel's bias, 16 floats (zeros without bias or beyond n): the bias itself where the panel
// is whole, else a copy in tmp. (Loading 64 bytes that a few smaller stores have just written
// cannot be forwarded from the store buffer: a copy for every panel stalled each tile's start.)
const float* panel_bias16(const Block& b, int64_t col0, int64_t cols, float* tmp) {
  alignas(64) static const float kZeros[16] = {};
  if (b.bias == nullptr) return kZeros;
  if (cols == 16) return b.bias + col0;
  std::fill(tmp, tmp + 16, 0.0f);
  std::memcpy(tmp, b.bias + col0, cols * sizeof(float));
  return tmp;
}

void block_avx2(const Block& b) {
  static constexpr auto kTiles = avx2_table(std::make_integer_sequence<int, 6>{});
  const Int8Weight& w = *b.w;
  const int64_t G = w.groups;
  const auto* act = static_cast<const int16_t*>(b.act);
  for (int64_t p = b.p0; p < b.p1; ++p) {
    const int8_t* panel = w.packed.data() + p * w.kp * w.nr;
    const int64_t col0 = p * w.nr, cols = std::min<int64_t>(w.nr, w.n - col0);
    alignas(64) float tmp[16];
    const float* bias16 = panel_bias16(b, col0, cols, tmp);
    for (int64_t i = 0; i < b.rows; i += 6) {
      const int64_t mr = std::min<int64_t>(6, b.rows - i);
      kTiles[mr](act + i * w.kp, w.kp, G, panel, b.sa + i * G, w.scale.data() + p * G * 16, bias16,
                 b.ocol + i * kO, b.oval + i * kO, panel_wt(w, p), w.nr, b.y + i * b.ldc + col0,
                 b.ldc, cols);
    }
  }
}

// Both VNNI kernels (kTiles: their tiles of 1 .. kVnniMr rows).
void block_vnni(const Block& b, const std::array<VnniTile, kVnniMr + 1>& kTiles) {
  const Int8Weight& w = *b.w;
  const int64_t G = w.groups;
  const auto* act = static_cast<const uint8_t*>(b.act);
  for (int64_t p = b.p0; p < b.p1; ++p) {
    const int8_t* panel = w.packed.data() + p * w.kp * w.nr;
    const int64_t col0 = p * w.nr, cols = std::min<int64_t>(w.nr, w.n - col0);
    alignas(64) float tmp[16];
    const float* bias16 = panel_bias16(b, col0, cols, tmp);
    // Tile i's interleaved activations and scales start where row i's would in a row-major
    // layout (a tile holds kVnniMr rows), as do the block's (b.act, b.sa: row r0 of the call).
    for (int64_t i = 0; i < b.rows; i += kVnniMr) {
      const int64_t mr = std::min<int64_t>(kVnniMr, b.rows - i);
      kTiles[mr](act + i * w.kp, G, panel, b.sa + i * G, w.scale.data() + p * G * 16,
                 w.colsum.data() + p * G * 16, bias16, b.ocol + i * kO, b.oval + i * kO,
                 panel_wt(w, p), w.nr, b.y + i * b.ldc + col0, b.ldc, cols);
    }
  }
}
#endif

}  // namespace

Int8Isa select_int8_isa(Int8Isa want) {
  if (want == Int8Isa::kAuto)
    want = env_choice("RIPVEC_CPU_INT8", Int8Isa::kAuto,
                      {{"scalar", Int8Isa::kScalar},
                       {"avx2", Int8Isa::kAvx2},
                       {"avxvnni", Int8Isa::kAvxVnni},
                       {"vnni", Int8Isa::kAvx512Vnni}});
  if (want == Int8Isa::kAuto) {
    // VNNI where the CPU has it: int8_gemm_test's bitwise check against the scalar kernel
    // passed on the Intel host (AVX-512 VNNI, 2026-12-05), and it is 1.14-1.39x the AVX-512
    // FP32 forward there (docs/benchmarks.md). The three kernels compute the same bits.
    if (isa_ok(Int8Isa::kAvx512Vnni)) return Int8Isa::kAvx512Vnni;
    if (isa_ok(Int8Isa::kAvxVnni)) return Int8Isa::kAvxVnni;
    if (isa_ok(Int8Isa::kAvx2)) return Int8Isa::kAvx2;
    return Int8Isa::kScalar;
  }
  if (!isa_ok(want))
    throw UnsupportedError(std::string("cpu driver: this CPU lacks the INT8 kernels ") +
                           int8_isa_name(want));
  return want;
}

bool int8_faster_than_f32() {
  // INT8 is the default where its kernel is both verified and measured faster than the FP32
  // one beside it: AVX2 against AVX2 (1.19-1.21x on the AMD VM, quiet, 2026-12-05), AVX-VNNI
  // against AVX2 (faster than the AVX2 INT8 kernel: docs/benchmarks.md, 2026-12-07) and VNNI
  // against AVX-512 (1.14-1.39x on the Intel host, MiniLM and bge-small shapes, 2 and 8
  // threads, 2026-12-05). Against AVX-512 FP32 the AVX2 INT8 kernel would lose (a CPU with
  // AVX-512 but no VNNI, or RIPVEC_CPU_INT8=avx2 there, keeps FP32).
  const Int8Isa isa = select_int8_isa(Int8Isa::kAuto);
  const std::string_view f32 = select_kernels(Isa::kAuto).isa;
  return ((isa == Int8Isa::kAvx2 || isa == Int8Isa::kAvxVnni) && f32 == "avx2") ||
         isa == Int8Isa::kAvx512Vnni;
}

const char* int8_isa_name(Int8Isa isa) {
  switch (isa) {
    case Int8Isa::kAvx2:
      return "avx2";
    case Int8Isa::kAvxVnni:
      return "avx-vnni";
    case Int8Isa::kAvx512Vnni:
      return "avx512-vnni";
    case Int8Isa::kScalar:
      return "scalar";
    case Int8Isa::kAuto:
      break;
  }
  return "auto";
}

Int8Weight quantize_weight(const float* w, int64_t n, int64_t k, Int8Isa isa) {
  Int8Weight q;
  q.isa = isa;
  q.n = n;
  q.k = k;
  q.groups = (k + kG - 1) / kG;
  q.kp = q.groups * kG;
  q.nr = nr_of(isa);
  const int64_t u = unit_of(isa), nr = q.nr, G = q.groups;
  const int64_t panels = (n + nr - 1) / nr;
  q.n_pad = panels * nr;
  q.packed.assign(static_cast<size_t>(panels * q.kp * nr), 0);
  q.scale.assign(static_cast<size_t>(panels * G * nr), 0.0f);
  if (vnni_layout(isa)) q.colsum.assign(q.scale.size(), 0);
  q.wt.assign(static_cast<size_t>(panels * k * nr), 0.0f);
  // Once per weight, at first use: panels in parallel (each writes only its own bytes, and its
  // panel of the FP32 copy).
  auto quant_panels = [&](int64_t p0, int64_t p1) {
    for (int64_t j = p0 * nr; j < std::min(n, p1 * nr); ++j) {
      const float* row = w + j * k;
      const int64_t p = j / nr, jj = j % nr;
      int8_t* panel = q.packed.data() + p * q.kp * nr;
      for (int64_t g = 0; g < G; ++g) {
        const int64_t lo = g * kG, hi = std::min(k, lo + kG);
        float amax = 0.0f;
        for (int64_t kk = lo; kk < hi; ++kk) amax = std::max(amax, std::fabs(row[kk]));
        const float inv = row_inv(amax);
        int32_t sum = 0;
        for (int64_t kk = lo; kk < hi; ++kk) {
          const float v = std::clamp(std::nearbyint(row[kk] * inv), -127.0f, 127.0f);
          panel[(kk / u) * nr * u + jj * u + kk % u] = static_cast<int8_t>(v);
          sum += static_cast<int32_t>(v);
        }
        q.scale[(p * G + g) * nr + jj] = amax / 127.0f;
        if (!q.colsum.empty()) q.colsum[(p * G + g) * nr + jj] = 128 * sum;
      }
      float* wt = q.wt.data() + p * k * nr;  // this panel's FP32 copy, as panel_wt reads it
      for (int64_t kk = 0; kk < k; ++kk) wt[kk * nr + jj] = row[kk];
    }
  };
  parallel_for(0, panels, 1, quant_panels);
  return q;
}

namespace {

// rows grown to hold m rows of activations quantized for w (never shrunk).
void reserve_rows(const Int8Weight& w, int64_t m, Int8Rows& q) {
  const size_t elem = w.isa == Int8Isa::kAvx2 ? 2 : 1;
  // VNNI: whole row tiles (the last one's missing rows are never read).
  const auto tiles = static_cast<size_t>((m + kVnniMr - 1) / kVnniMr * kVnniMr);
  if (q.act.size() < tiles * static_cast<size_t>(w.kp) * elem)
    q.act.resize(tiles * static_cast<size_t>(w.kp) * elem);
  if (q.scale.size() < tiles * static_cast<size_t>(w.groups))
    q.scale.resize(tiles * static_cast<size_t>(w.groups));
  if (q.out_col.size() < static_cast<size_t>(m * kO)) {
    q.out_col.resize(static_cast<size_t>(m * kO));
    q.out_val.resize(static_cast<size_t>(m * kO));
  }
}

// Rows [lo, hi) of x (row r at x + r * lda) quantized for w into q's row r (q's row 0 begins a
// tile). buf: kp floats of the calling thread.
void quant_rows(const Int8Weight& w, const float* x, int64_t lda, int64_t lo, int64_t hi,
                Int8Rows& q, float* buf) {
  const int64_t kp = w.kp, G = w.groups;
  int8_t* act = q.act.data();
  float* sa = q.scale.data();
  for (int64_t r = lo; r < hi; ++r) {
    const float* xr = x + r * lda;
    int32_t* oc = q.out_col.data() + r * kO;
    float* ov = q.out_val.data() + r * kO;
    switch (w.isa) {
#if defined(__x86_64__)
      case Int8Isa::kAvx2:
        quant_row_avx2(xr, w.k, kp, buf, reinterpret_cast<int16_t*>(act) + r * kp, sa + r * G, oc,
                       ov);
        break;
      case Int8Isa::kAvx512Vnni:
        quant_row_u8_avx512(
            xr, w.k, kp, buf,
            reinterpret_cast<uint8_t*>(act) + (r - r % kVnniMr) * kp + r % kVnniMr * 4,
            sa + (r - r % kVnniMr) * G + r % kVnniMr, oc, ov);
        break;
      case Int8Isa::kAvxVnni:
        quant_row_u8(xr, w.k, kp, buf,
                     reinterpret_cast<uint8_t*>(act) + (r - r % kVnniMr) * kp + r % kVnniMr * 4,
                     sa + (r - r % kVnniMr) * G + r % kVnniMr, oc, ov);
        break;
#endif
      default:
        quant_row_scalar(xr, w.k, kp, buf, act + r * kp, sa + r * G, oc, ov);
    }
  }
}

// The block of rows [r0, r0 + rows) of q (r0 at a tile boundary) x panels [p0, p1) into y's
// rows from y (ldc), with bias, then GELU over the block's columns when asked.
void run_block(const Int8Weight& w, const Int8Rows& q, int64_t r0, int64_t rows, int64_t p0,
               int64_t p1, float* y, int64_t ldc, const float* bias,
               void (*gelu)(float*, int64_t)) {
  const int64_t elem = w.isa == Int8Isa::kAvx2 ? 2 : 1;
  const Block b{&w,
                q.act.data() + r0 * w.kp * elem,
                q.scale.data() + r0 * w.groups,
                q.out_col.data() + r0 * kO,
                q.out_val.data() + r0 * kO,
                y,
                ldc,
                rows,
                p0,
                p1,
                bias};
  switch (w.isa) {
#if defined(__x86_64__)
    case Int8Isa::kAvx2:
      block_avx2(b);
      break;
    case Int8Isa::kAvx512Vnni: {
      static constexpr auto kTiles = vnni_table(std::make_integer_sequence<int, kVnniMr>{});
      block_vnni(b, kTiles);
      break;
    }
    case Int8Isa::kAvxVnni: {
      static constexpr auto kTiles = avxvnni_table(std::make_integer_sequence<int, kVnniMr>{});
      block_vnni(b, kTiles);
      break;
    }
#endif
    default:
      block_scalar(b);
  }
  if (gelu != nullptr) {
    const int64_t c0 = p0 * w.nr, c1 = std::min(w.n, p1 * w.nr);
    for (int64_t r = 0; r < rows; ++r) gelu(y + r * ldc + c0, c1 - c0);
  }
}

// s.slots grown to one per pool thread, each with room to quantize a row of kp floats.
void reserve_slots(Int8Scratch& s, int64_t threads, int64_t kp) {
  if (s.slots.size() < static_cast<size_t>(threads)) s.slots.resize(static_cast<size_t>(threads));
  for (Int8Scratch::Slot& sl : s.slots)
    if (sl.buf.size() < static_cast<size_t>(kp)) sl.buf.resize(static_cast<size_t>(kp));
}

// Rows of a register-tile block: 4 tiles (48 rows on the VNNI kernels).
int64_t block_rows(Int8Isa isa) {
  return 4 * mr_of(isa);
}

}  // namespace

void int8_linear(const Int8Weight& w, const float* x, int64_t lda, float* y, int64_t ldc, int64_t m,
                 const float* bias, void (*gelu)(float*, int64_t), Int8Scratch& s,
                 const RowNorm* norm) {
  if (m <= 0 || w.n <= 0) return;
  Int8Rows& q = s.rows;
  reserve_rows(w, m, q);
  const int64_t threads = ThreadPool::global().size();
  reserve_slots(s, threads, w.kp);
  // Chunks of rows taken one at a time by slot; VNNI: whole pairs of tiles, so that no two
  // threads write one tile's interleaved lines (no race either way: each row has its own
  // bytes; this avoids sharing).
  const int64_t chunk = vnni_layout(w.isa) ? 2 * kVnniMr : 16, chunks = (m + chunk - 1) / chunk;
  std::atomic<int64_t> next_chunk{0};
  auto quant = [&](int64_t lo, int64_t hi) {
    for (int64_t si = lo; si < hi; ++si)
      for (int64_t c; (c = next_chunk.fetch_add(1, std::memory_order_relaxed)) < chunks;)
        quant_rows(w, x, lda, c * chunk, std::min(m, (c + 1) * chunk), q,
                   s.slots[static_cast<size_t>(si)].buf.data());
  };
  run_tasks(threads, 1, m * w.k < 32768, quant);

  // Row blocks of 4 register tiles; panel groups so that small m still spreads over the pool.
  const int64_t mc = block_rows(w.isa);
  const GemmTasks split(m, mc, w.n_pad / w.nr, threads);
  // Tasks that make whole rows norm them while they are in cache; else a pass afterwards.
  const bool whole_rows = split.groups == 1;
  auto run = [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t r0 = split.row_block(t) * mc, rows = std::min(mc, m - r0);
      run_block(w, q, r0, rows, split.panel0(t), split.panel1(t), y + r0 * ldc, ldc, bias, gelu);
      if (norm != nullptr && whole_rows)
        for (int64_t r = r0; r < r0 + rows; ++r) norm->row(y, ldc, r, w.n);
    }
  };
  const double ops = 2.0 * double(m) * double(w.n) * double(w.k);
  run_tasks(split.count, 1, ops < 2e6, run);
  if (norm != nullptr && !whole_rows) norm->all_rows(y, ldc, m, w.n);
}

bool int8_ffn_fuses(Int8Isa isa, int64_t m, int64_t threads) {
  const int64_t mc = block_rows(isa);
  return (m + mc - 1) / mc >= 2 * threads;
}

void int8_ffn(const Int8Weight& wi, const Int8Weight& wo, const float* x, int64_t lda, float* mid,
              float* out, int64_t ldc, int64_t m, const float* bias, void (*gelu)(float*, int64_t),
              Int8Scratch& s, const RowNorm* norm) {
  if (wo.k != wi.n || wo.isa != wi.isa)
    throw InvalidArgument("int8_ffn: the down weight's k (" + std::to_string(wo.k) +
                          ") is not the up weight's n (" + std::to_string(wi.n) +
                          ") or their kernels differ");
  if (m <= 0) return;
  const int64_t threads = ThreadPool::global().size();
  if (!int8_ffn_fuses(wi.isa, m, threads)) {
    int8_linear(wi, x, lda, mid, wi.n, m, bias, gelu, s);
    int8_linear(wo, mid, wi.n, out, ldc, m, nullptr, nullptr, s, norm);
    return;
  }
  const int64_t mc = block_rows(wi.isa), blocks = (m + mc - 1) / mc;
  reserve_slots(s, threads, std::max(wi.kp, wo.kp));
  for (Int8Scratch::Slot& sl : s.slots) {
    reserve_rows(wi, mc, sl.in);
    reserve_rows(wo, mc, sl.inter);
    if (sl.mid.size() < static_cast<size_t>(mc * wi.n))
      sl.mid.resize(static_cast<size_t>(mc * wi.n));
  }
  std::atomic<int64_t> next{0};
  // One call per slot (grain 1 over [0, threads): the pool hands each index out once); each
  // takes row blocks until none is left, so a slot is never shared.
  auto run = [&](int64_t lo, int64_t hi) {
    for (int64_t si = lo; si < hi; ++si) {
      Int8Scratch::Slot& sl = s.slots[static_cast<size_t>(si)];
      float* buf = sl.buf.data();
      for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < blocks;) {
        const int64_t r0 = t * mc, rows = std::min(mc, m - r0);
        quant_rows(wi, x + r0 * lda, lda, 0, rows, sl.in, buf);
        run_block(wi, sl.in, 0, rows, 0, wi.n_pad / wi.nr, sl.mid.data(), wi.n, bias, gelu);
        quant_rows(wo, sl.mid.data(), wi.n, 0, rows, sl.inter, buf);
        run_block(wo, sl.inter, 0, rows, 0, wo.n_pad / wo.nr, out + r0 * ldc, ldc, nullptr,
                  nullptr);
        if (norm != nullptr)  // the block's output rows are still in cache
          for (int64_t r = r0; r < r0 + rows; ++r) norm->row(out, ldc, r, wo.n);
      }
    }
  };
  run_tasks(threads, 1, false, run);
}

}  // namespace ripvec::cpu
