#include "index/vector_search.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <queue>

#include "util/thread_pool.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#define RIPVEC_X86 1
// GCC 12's AVX-512 headers build "undefined" vectors as `__Y = __Y`, which -Wuninitialized
// reports at every inlined use; the values are never read.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace ripvec::index {
namespace {

float dot_f32_scalar(const float* a, const float* b, size_t d) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= d; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < d; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

float dot_i8_scalar(const int8_t* c, const float* q, size_t d) {
  float s0 = 0, s1 = 0;
  size_t i = 0;
  for (; i + 2 <= d; i += 2) {
    s0 += static_cast<float>(c[i]) * q[i];
    s1 += static_cast<float>(c[i + 1]) * q[i + 1];
  }
  for (; i < d; ++i) s0 += static_cast<float>(c[i]) * q[i];
  return s0 + s1;
}

#ifdef RIPVEC_X86
__attribute__((target("avx2,fma"))) float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float dot_f32_avx2(const float* a, const float* b, size_t d) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= d; i += 8)
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum256(_mm256_add_ps(acc0, acc1));
  for (; i < d; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target("avx2,fma"))) float dot_i8_avx2(const int8_t* c, const float* q, size_t d) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i));
    __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
    __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8)));
    acc0 = _mm256_fmadd_ps(lo, _mm256_loadu_ps(q + i), acc0);
    acc1 = _mm256_fmadd_ps(hi, _mm256_loadu_ps(q + i + 8), acc1);
  }
  float s = hsum256(_mm256_add_ps(acc0, acc1));
  for (; i < d; ++i) s += static_cast<float>(c[i]) * q[i];
  return s;
}

__attribute__((target("avx512f"))) float dot_f32_avx512(const float* a, const float* b, size_t d) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  if (i + 16 <= d) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    i += 16;
  }
  if (i < d) {
    const __mmask16 m = static_cast<__mmask16>((1u << (d - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

__attribute__((target("avx512f"))) float dot_i8_avx512(const int8_t* c, const float* q, size_t d) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    __m512 x0 = _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i))));
    __m512 x1 = _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i + 16))));
    acc0 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(q + i), acc0);
    acc1 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(q + i + 16), acc1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  for (; i < d; ++i) s += static_cast<float>(c[i]) * q[i];
  return s;
}
// int8 x int8 dot with VNNI: vpdpbusd multiplies unsigned by signed bytes, so the row's codes
// are shifted to unsigned (xor 0x80 == +128) and the caller subtracts 128 * sum(query codes).
// Exact in int32 for dim <= 16384 (|sum| <= dim * 255 * 127).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) int32_t dot_u8s8_vnni(const int8_t* c,
                                                                             const int8_t* q,
                                                                             size_t d) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 128 <= d; i += 128) {
    acc0 = _mm512_dpbusd_epi32(acc0, _mm512_xor_si512(_mm512_loadu_si512(c + i), flip),
                               _mm512_loadu_si512(q + i));
    acc1 = _mm512_dpbusd_epi32(acc1, _mm512_xor_si512(_mm512_loadu_si512(c + i + 64), flip),
                               _mm512_loadu_si512(q + i + 64));
  }
  for (; i < d; i += 64) {
    const size_t rem = d - i;
    const __mmask64 m = rem >= 64 ? ~__mmask64(0) : ((__mmask64(1) << rem) - 1);
    // Masked-off lanes: the query byte is 0, so they add nothing.
    acc0 = _mm512_dpbusd_epi32(acc0, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, c + i), flip),
                               _mm512_maskz_loadu_epi8(m, q + i));
  }
  return _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1));
}
#endif

SimdLevel detect_level() {
#ifdef RIPVEC_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vnni"))
    return SimdLevel::Avx512Vnni;
  if (__builtin_cpu_supports("avx512f")) return SimdLevel::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::Avx2;
#endif
  return SimdLevel::Scalar;
}

std::atomic<int> g_cap{static_cast<int>(SimdLevel::Avx512Vnni)};

using DotF32 = float (*)(const float*, const float*, size_t);
using DotI8 = float (*)(const int8_t*, const float*, size_t);

DotF32 pick_f32() {
  switch (simd_level()) {
#ifdef RIPVEC_X86
    case SimdLevel::Avx512Vnni:
    case SimdLevel::Avx512:
      return dot_f32_avx512;
    case SimdLevel::Avx2:
      return dot_f32_avx2;
#endif
    default:
      return dot_f32_scalar;
  }
}
DotI8 pick_i8() {
  switch (simd_level()) {
#ifdef RIPVEC_X86
    case SimdLevel::Avx512Vnni:
    case SimdLevel::Avx512:
      return dot_i8_avx512;
    case SimdLevel::Avx2:
      return dot_i8_avx2;
#endif
    default:
      return dot_i8_scalar;
  }
}

// Splits [0, n) into blocks so that each pool thread gets several (load balance) but every
// block is long enough to amortize its heap.
size_t block_rows(size_t n) {
  const size_t threads = ThreadPool::global().size();
  size_t b = n / (threads * 8) + 1;
  return std::max<size_t>(b, 4096);
}

// Keeps the k best ScoredIds seen (worst on top).
struct TopK {
  explicit TopK(size_t k) : k_(k) {}
  void push(ScoredId s) {
    if (k_ == 0) return;
    if (h_.size() < k_) {
      h_.push_back(s);
      std::push_heap(h_.begin(), h_.end(), better);
    } else if (better(s, h_.front())) {
      std::pop_heap(h_.begin(), h_.end(), better);
      h_.back() = s;
      std::push_heap(h_.begin(), h_.end(), better);
    }
  }
  std::vector<ScoredId> sorted() && {
    std::sort(h_.begin(), h_.end(), better);
    return std::move(h_);
  }
  size_t k_;
  std::vector<ScoredId> h_;  // heap under `better`: front is the worst kept
};

}  // namespace

SimdLevel simd_level() {
  static const SimdLevel hw = detect_level();
  return static_cast<SimdLevel>(std::min(static_cast<int>(hw), g_cap.load()));
}

const char* simd_level_name(SimdLevel l) {
  switch (l) {
    case SimdLevel::Avx512Vnni:
      return "avx512vnni";
    case SimdLevel::Avx512:
      return "avx512";
    case SimdLevel::Avx2:
      return "avx2";
    default:
      return "scalar";
  }
}

void set_simd_level_cap(SimdLevel cap) {
  g_cap.store(static_cast<int>(cap));
}

float dot_f32(const float* a, const float* b, size_t dim) {
  return pick_f32()(a, b, dim);
}

std::vector<ScoredId> top_k_dot(std::span<const float> query, const float* vectors, size_t n,
                                size_t dim, size_t k, const uint8_t* allow) {
  k = std::min(k, n);
  if (k == 0 || query.size() < dim) return {};
  const DotF32 dot = pick_f32();
  const size_t rows = block_rows(n);
  const size_t nblocks = (n + rows - 1) / rows;
  std::vector<std::vector<ScoredId>> partial(nblocks);
  parallel_for(0, static_cast<int64_t>(nblocks), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      TopK top(k);
      const size_t end = std::min(n, (b + 1) * rows);
      for (size_t i = b * rows; i < end; ++i)
        if (allow == nullptr || allow[i] != 0)
          top.push({static_cast<uint32_t>(i), dot(query.data(), vectors + i * dim, dim)});
      partial[b] = std::move(top).sorted();
    }
  });
  TopK all(k);
  for (auto& p : partial)
    for (auto& s : p) all.push(s);
  return std::move(all).sorted();
}

namespace {

// One row of quantize_rows. Codes are lround(v / scale) clamped to [-127, 127] (half away from
// zero; 0 for a row whose scale is 0); the squared error is summed in double in 16 lanes
// (element j into lane j % 16), then the lanes in order, so that the scalar and AVX-512 paths
// give the same bytes.
constexpr size_t kErrLanes = 16;

float quant_err_bound(const double (&lane)[kErrLanes]) {
  double e2 = 0;
  for (double l : lane) e2 += l;
  // Rounded up so that float storage never makes the bound too small.
  return std::nextafter(static_cast<float>(std::sqrt(e2) * (1.0 + 1e-6)),
                        std::numeric_limits<float>::infinity());
}

void quantize_row_scalar(const float* v, size_t dim, int8_t* c, float* scale_out, float* err_out) {
  float m = 0;
  for (size_t j = 0; j < dim; ++j) m = std::max(m, std::fabs(v[j]));
  const float scale = m / 127.0f;
  double lane[kErrLanes] = {};
  for (size_t j = 0; j < dim; ++j) {
    long q = scale > 0 ? std::lround(v[j] / scale) : 0;
    q = std::clamp(q, -127L, 127L);
    c[j] = static_cast<int8_t>(q);
    const double diff = static_cast<double>(v[j]) - static_cast<double>(scale) * q;
    lane[j % kErrLanes] += diff * diff;
  }
  *scale_out = scale;
  *err_out = quant_err_bound(lane);
}

#ifdef RIPVEC_X86
// The same operations 16 elements at a time: v / scale divided (not multiplied by a
// reciprocal), rounded half away from zero as trunc + a step where |fraction| >= 0.5 (exact:
// the fraction of a float is a float), converted with truncation (a NaN becomes INT32_MIN and
// clamps to -127 as lround's result does), the differences and their squares in double with
// separate multiplies and adds.
__attribute__((target("avx512f"))) void quantize_row_avx512(const float* v, size_t dim, int8_t* c,
                                                            float* scale_out, float* err_out) {
  __m512 vm = _mm512_setzero_ps();
  size_t j = 0;
  // VMAXPS gives its second operand where either is NaN: the running maximum, which is what
  // std::max(m, NaN) keeps on the scalar path.
  for (; j + 16 <= dim; j += 16) vm = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(v + j)), vm);
  float m = _mm512_reduce_max_ps(vm);
  for (; j < dim; ++j) m = std::max(m, std::fabs(v[j]));
  const float scale = m / 127.0f;
  const bool nonzero = scale > 0;
  const __m512 vs = _mm512_set1_ps(nonzero ? scale : 1.0f);
  const __m512d vsd = _mm512_set1_pd(static_cast<double>(scale));
  const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
  for (j = 0; j < dim; j += 16) {
    const __mmask16 k = dim - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (dim - j)) - 1u);
    const __m512 x = _mm512_maskz_loadu_ps(k, v + j);
    __m512i q = _mm512_setzero_si512();
    if (nonzero) {
      const __m512 y = _mm512_div_ps(x, vs);
      const __m512 t = _mm512_roundscale_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __m512 f = _mm512_sub_ps(y, t);
      __m512 r = _mm512_mask_add_ps(t, _mm512_cmp_ps_mask(f, half, _CMP_GE_OQ), t, one);
      r = _mm512_mask_sub_ps(
          r, _mm512_cmp_ps_mask(f, _mm512_sub_ps(_mm512_setzero_ps(), half), _CMP_LE_OQ), r, one);
      q = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvttps_epi32(r), lo), hi);
      q = _mm512_maskz_mov_epi32(k, q);
    }
    _mm512_mask_cvtepi32_storeu_epi8(c + j, k, q);
    const __m512d x0 = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
    const __m512d x1 =
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
    const __m512d q0 = _mm512_cvtepi32_pd(_mm512_castsi512_si256(q));
    const __m512d q1 = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(q, 1));
    const __m512d d0 = _mm512_sub_pd(x0, _mm512_mul_pd(vsd, q0));
    const __m512d d1 = _mm512_sub_pd(x1, _mm512_mul_pd(vsd, q1));
    // Live lanes only: past the row's end 0 - scale * 0 is NaN for an infinite scale.
    acc0 = _mm512_mask_add_pd(acc0, static_cast<__mmask8>(k), acc0, _mm512_mul_pd(d0, d0));
    acc1 = _mm512_mask_add_pd(acc1, static_cast<__mmask8>(k >> 8), acc1, _mm512_mul_pd(d1, d1));
  }
  double lane[kErrLanes];
  _mm512_storeu_pd(lane, acc0);
  _mm512_storeu_pd(lane + 8, acc1);
  *scale_out = scale;
  *err_out = quant_err_bound(lane);
}
#endif

}  // namespace

void quantize_rows(const float* rows, size_t n, size_t dim, int8_t* codes, float* scales,
                   float* err) {
  auto row = &quantize_row_scalar;
#ifdef RIPVEC_X86
  if (simd_level() >= SimdLevel::Avx512) row = &quantize_row_avx512;
#endif
  parallel_for(0, static_cast<int64_t>(n), 1024, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      row(rows + r * dim, dim, codes + r * dim, scales + r, err + r);
  });
}

std::vector<ScoredId> top_k_dot_quantized(std::span<const float> query, const QuantizedRows& rows,
                                          size_t k, QuantizedSearchStats* stats) {
  const size_t n = rows.n, dim = rows.dim;
  k = std::min(k, n);
  if (k == 0 || query.size() < dim) return {};
  const DotI8 dot8 = pick_i8();
  const DotF32 dot = pick_f32();
  double qn2 = 0;
  for (size_t j = 0; j < dim; ++j) qn2 += static_cast<double>(query[j]) * query[j];
  const float qnorm = static_cast<float>(std::sqrt(qn2) * (1.0 + 1e-6));
  // Float rounding of the two dot products (approximate and exact), worst case gamma_d with
  // operands of norm <= ~1: covers the gap between real and computed scores on both sides.
  const float slack = static_cast<float>(dim + 16) * 2.4e-7f * std::max(qnorm, 1.0f);

  // VNNI path: the query is quantized too. q = sq * qc + dq, so
  //   |q.v - scales[i] * sq * (qc . codes_i)| <= ||q|| * err_i + ||dq|| * ||v~_i||
  // with ||v~_i|| <= ||v_i|| + err_i <= 1.001 + err_i for normalized rows.
  bool vnni = false;
  std::vector<int8_t> qc;
  float sq = 0, dq_norm = 0;
  int32_t q_bias = 0;  // 128 * sum(qc): undoes the unsigned shift of the codes
#ifdef RIPVEC_X86
  if (simd_level() == SimdLevel::Avx512Vnni && dim <= 16384) {
    float m = 0;
    for (size_t j = 0; j < dim; ++j) m = std::max(m, std::fabs(query[j]));
    sq = m / 127.0f;
    qc.resize(dim);
    double dq2 = 0;
    int64_t qsum = 0;
    for (size_t j = 0; j < dim; ++j) {
      long v = sq > 0 ? std::lround(query[j] / sq) : 0;
      v = std::clamp(v, -127L, 127L);
      qc[j] = static_cast<int8_t>(v);
      qsum += v;
      const double diff = static_cast<double>(query[j]) - static_cast<double>(sq) * v;
      dq2 += diff * diff;
    }
    q_bias = static_cast<int32_t>(128 * qsum);
    dq_norm = std::nextafter(static_cast<float>(std::sqrt(dq2) * (1.0 + 1e-6)),
                             std::numeric_limits<float>::infinity());
    vnni = true;
  }
#endif

  struct Block {
    std::vector<float> lower;          // min-heap of the k best lower bounds
    std::vector<ScoredId> candidates;  // (row, upper bound)
  };
  const size_t brows = block_rows(n);
  const size_t nblocks = (n + brows - 1) / brows;
  std::vector<Block> blocks(nblocks);
  parallel_for(0, static_cast<int64_t>(nblocks), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      Block& blk = blocks[b];
      auto& heap = blk.lower;
      heap.reserve(k);
      float thr = -std::numeric_limits<float>::infinity();
      const size_t end = std::min(n, (b + 1) * brows);
      for (size_t i = b * brows; i < end; ++i) {
        if (rows.allow != nullptr && rows.allow[i] == 0) continue;
        float approx, e;
#ifdef RIPVEC_X86
        if (vnni) {
          const int32_t dq = dot_u8s8_vnni(rows.codes + i * dim, qc.data(), dim) - q_bias;
          approx = rows.scales[i] * sq * static_cast<float>(dq);
          e = qnorm * rows.err[i] + dq_norm * (1.001f + rows.err[i]) + slack;
        } else
#endif
        {
          approx = rows.scales[i] * dot8(rows.codes + i * dim, query.data(), dim);
          e = qnorm * rows.err[i] + slack;
        }
        const float lb = approx - e, ub = approx + e;
        if (ub < thr) continue;
        blk.candidates.push_back({static_cast<uint32_t>(i), ub});
        if (heap.size() < k) {
          heap.push_back(lb);
          std::push_heap(heap.begin(), heap.end(), std::greater<>());
          if (heap.size() == k) thr = heap.front();
        } else if (lb > heap.front()) {
          std::pop_heap(heap.begin(), heap.end(), std::greater<>());
          heap.back() = lb;
          std::push_heap(heap.begin(), heap.end(), std::greater<>());
          thr = heap.front();
        }
        if (blk.candidates.size() >= 4 * k + 1024) {  // drop those the threshold passed by
          std::erase_if(blk.candidates, [&](const ScoredId& c) { return c.score < thr; });
        }
      }
    }
  });
  // The k-th best lower bound over all rows: k rows are known to score at least this much,
  // so a row whose upper bound is below it cannot be in the top k.
  std::vector<float> lows;
  for (auto& b : blocks) lows.insert(lows.end(), b.lower.begin(), b.lower.end());
  float global_thr = -std::numeric_limits<float>::infinity();
  if (lows.size() >= k) {
    std::nth_element(lows.begin(), lows.begin() + (k - 1), lows.end(), std::greater<>());
    global_thr = lows[k - 1];
  }
  std::vector<uint32_t> cand;
  for (auto& b : blocks)
    for (auto& c : b.candidates)
      if (c.score >= global_thr) cand.push_back(c.id);
  if (stats) stats->rescored = cand.size();
  std::vector<ScoredId> exact(cand.size());
  parallel_for(0, static_cast<int64_t>(cand.size()), 256, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      exact[i] = {cand[i], dot(query.data(), rows.exact + static_cast<size_t>(cand[i]) * dim, dim)};
  });
  TopK top(k);
  for (auto& s : exact) top.push(s);
  return std::move(top).sorted();
}

}  // namespace ripvec::index
