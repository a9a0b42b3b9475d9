// Internal to the CPU driver: the element-wise and attention kernels, written once as
// templates over a SIMD vector type V and compiled three times (scalar, AVX2, AVX-512), each
// in a translation unit whose functions carry that ISA's target attribute.
//
// V provides: R (register type), W (lanes), kScalar, kJB / kCB (register-blocking factors of
// the attention kernel), zero, set1, load, store, loadn (first n lanes, others = fill),
// storen, add, sub, mul, div, fmadd (a*b+c), fnmadd (c-a*b), max, min, abs, hsum, hmax,
// round (to nearest even), pow2n (2^n for integral n in [-126, 127]), blend_lt(a, b, x, y)
// (a < b ? x : y), blend_gt, iota ({0, 1, ..., W-1}).
//
// Everything here has internal linkage (anonymous namespace): the three copies must never be
// merged by the linker, since each is compiled for a different instruction set.
// Include this file only from the cpu_kernels_<isa>.cpp files, after their target pragma.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "driver/batch.hpp"
#include "driver/cpu/cpu_kernels.hpp"

namespace ripvec::cpu {
namespace {

// ---------------------------------------------------------------- math

// c[0] r^(N-1) + c[1] r^(N-2) + ... + c[N-1] (Horner).
template <class V, size_t N>
inline typename V::R vhorner(typename V::R r, const float (&c)[N]) {
  typename V::R p = V::set1(c[0]);
  for (size_t i = 1; i < N; ++i) p = V::fmadd(p, r, V::set1(c[i]));
  return p;
}

// e^x. SIMD: Cephes-style range reduction and degree-6 polynomial (about 1 ulp); inputs below
// -87.3 (including -inf) give exactly 0, inputs above 88 saturate at e^88.
template <class V>
inline typename V::R vexp(typename V::R x) {
  if constexpr (V::kScalar) {
    return std::exp(x);
  } else {
    using R = typename V::R;
    const R lo = V::set1(-87.3f);
    x = V::min(x, V::set1(88.0f));
    const R xc = V::max(x, lo);
    const R fx = V::round(V::mul(xc, V::set1(1.44269504088896341f)));
    R r = V::fnmadd(fx, V::set1(0.693359375f), xc);
    r = V::fnmadd(fx, V::set1(-2.12194440e-4f), r);
    R y = vhorner<V>(r, {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                         1.6666665459e-1f, 5.0000001201e-1f});
    y = V::fmadd(y, V::mul(r, r), V::add(r, V::set1(1.0f)));
    y = V::mul(y, V::pow2n(fx));
    return V::blend_lt(x, lo, V::zero(), y);
  }
}

// 2^x. SIMD: round-to-nearest split, Cephes exp2f's degree-6 polynomial on [-0.5, 0.5]
// (about 2 ulp); inputs below -126 (including -inf) give exactly 0, above 127 saturate at 2^127.
// Cheaper than vexp (no ln 2 range reduction): the attention kernel works in log2 units.
template <class V>
inline typename V::R vexp2(typename V::R x) {
  if constexpr (V::kScalar) {
    return std::exp2(x);
  } else {
    using R = typename V::R;
    const R lo = V::set1(-126.0f);
    x = V::min(x, V::set1(127.0f));
    const R xc = V::max(x, lo);
    const R fx = V::round(xc);
    const R r = V::sub(xc, fx);
    const R p =
        vhorner<V>(r, {1.535336188319500e-4f, 1.339887440266574e-3f, 9.618437357674640e-3f,
                       5.550332471162809e-2f, 2.402264791363012e-1f, 6.931472028550421e-1f, 1.0f});
    return V::blend_lt(x, lo, V::zero(), V::mul(p, V::pow2n(fx)));
  }
}

// erf(x). SIMD: the rational approximation of Eigen / XLA on [-4, 4] (erf is +-1 in float
// beyond); measured max abs error 4.2e-7 against double erf.
template <class V>
inline typename V::R verf(typename V::R x) {
  if constexpr (V::kScalar) {
    return std::erf(x);
  } else {
    using R = typename V::R;
    x = V::max(V::min(x, V::set1(4.0f)), V::set1(-4.0f));
    const R x2 = V::mul(x, x);
    R p = V::fmadd(x2, V::set1(-2.72614225801306e-10f), V::set1(2.77068142495902e-08f));
    p = V::fmadd(x2, p, V::set1(-2.10102402082508e-06f));
    p = V::fmadd(x2, p, V::set1(-5.69250639462346e-05f));
    p = V::fmadd(x2, p, V::set1(-7.34990630326855e-04f));
    p = V::fmadd(x2, p, V::set1(-2.95459980854025e-03f));
    p = V::fmadd(x2, p, V::set1(-1.60960333262415e-02f));
    p = V::mul(x, p);
    R q = V::fmadd(x2, V::set1(-1.45660718464996e-05f), V::set1(-2.13374055278905e-04f));
    q = V::fmadd(x2, q, V::set1(-1.68282697438203e-03f));
    q = V::fmadd(x2, q, V::set1(-7.37332916720468e-03f));
    q = V::fmadd(x2, q, V::set1(-1.42647390514189e-02f));
    return V::div(p, q);
  }
}

template <class V>
inline typename V::R vtanh(typename V::R x) {
  if constexpr (V::kScalar) {
    return std::tanh(x);
  } else {
    using R = typename V::R;
    const R one = V::set1(1.0f);
    const R e = vexp<V>(V::mul(V::abs(x), V::set1(-2.0f)));
    const R t = V::div(V::sub(one, e), V::add(one, e));
    return V::blend_lt(x, V::zero(), V::sub(V::zero(), t), t);
  }
}

template <class V>
inline typename V::R vgelu(typename V::R x) {
  const auto half = V::set1(0.5f);
  const auto e = verf<V>(V::mul(x, V::set1(0.70710678118654752f)));
  return V::mul(V::mul(half, x), V::add(V::set1(1.0f), e));
}

template <class V>
inline typename V::R vgelu_tanh(typename V::R x) {
  const auto x3 = V::mul(V::mul(x, x), x);
  const auto inner = V::mul(V::set1(0.79788456080286536f), V::fmadd(V::set1(0.044715f), x3, x));
  return V::mul(V::mul(V::set1(0.5f), x), V::add(V::set1(1.0f), vtanh<V>(inner)));
}

template <class V>
inline typename V::R vsilu(typename V::R x) {
  const auto one = V::set1(1.0f);
  return V::div(x, V::add(one, vexp<V>(V::sub(V::zero(), x))));
}

// ---------------------------------------------------------------- element-wise maps

// x[i] = f(x[i]) over n floats, the tail through a partial vector.
template <class V, class F>
inline void map_inplace(float* x, int64_t n, F f) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(x + i, f(V::load(x + i), i));
  if (i < n) V::storen(x + i, f(V::loadn(x + i, n - i, 0.0f), i), n - i);
}

template <class V>
void gelu_k(float* x, int64_t n) {
  map_inplace<V>(x, n, [](auto v, int64_t) { return vgelu<V>(v); });
}

template <class V>
void bias_gelu_k(float* x, const float* bias, int64_t n) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W)
    V::store(x + i, vgelu<V>(V::add(V::load(x + i), V::load(bias + i))));
  if (i < n) {
    const int64_t r = n - i;
    V::storen(x + i, vgelu<V>(V::add(V::loadn(x + i, r, 0.0f), V::loadn(bias + i, r, 0.0f))), r);
  }
}

template <class V>
void gelu_tanh_k(float* x, int64_t n) {
  map_inplace<V>(x, n, [](auto v, int64_t) { return vgelu_tanh<V>(v); });
}

template <class V>
void silu_k(float* x, int64_t n) {
  map_inplace<V>(x, n, [](auto v, int64_t) { return vsilu<V>(v); });
}

template <class V, bool kGelu>
void gated_k(float* out, const float* gate, const float* val, int64_t n) {
  int64_t i = 0;
  auto act = [](auto g) {
    if constexpr (kGelu)
      return vgelu<V>(g);
    else
      return vsilu<V>(g);
  };
  for (; i + V::W <= n; i += V::W)
    V::store(out + i, V::mul(act(V::load(gate + i)), V::load(val + i)));
  if (i < n) {
    const int64_t r = n - i;
    V::storen(out + i, V::mul(act(V::loadn(gate + i, r, 0.0f)), V::loadn(val + i, r, 0.0f)), r);
  }
}

template <class V>
void add_k(float* out, const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(out + i, V::add(V::load(a + i), V::load(b + i)));
  if (i < n) {
    const int64_t r = n - i;
    V::storen(out + i, V::add(V::loadn(a + i, r, 0.0f), V::loadn(b + i, r, 0.0f)), r);
  }
}

template <class V>
void add3_k(float* out, const float* a, const float* b, const float* c, int64_t n) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W)
    V::store(out + i, V::add(V::add(V::load(a + i), V::load(b + i)), V::load(c + i)));
  if (i < n) {
    const int64_t r = n - i;
    V::storen(out + i,
              V::add(V::add(V::loadn(a + i, r, 0.0f), V::loadn(b + i, r, 0.0f)),
                     V::loadn(c + i, r, 0.0f)),
              r);
  }
}

template <class V>
void accumulate_k(float* acc, const float* x, int64_t n) {
  add_k<V>(acc, acc, x, n);
}

template <class V>
void scale_k(float* x, float s, int64_t n) {
  const auto vs = V::set1(s);
  map_inplace<V>(x, n, [vs](auto v, int64_t) { return V::mul(v, vs); });
}

template <class V>
float sum_squares_k(const float* x, int64_t n) {
  auto acc = V::zero();
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) {
    const auto v = V::load(x + i);
    acc = V::fmadd(v, v, acc);
  }
  if (i < n) {
    const auto v = V::loadn(x + i, n - i, 0.0f);
    acc = V::fmadd(v, v, acc);
  }
  return V::hsum(acc);
}

template <class V>
float dot_k(const float* a, const float* b, int64_t n) {
  auto acc = V::zero();
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) acc = V::fmadd(V::load(a + i), V::load(b + i), acc);
  if (i < n) acc = V::fmadd(V::loadn(a + i, n - i, 0.0f), V::loadn(b + i, n - i, 0.0f), acc);
  return V::hsum(acc);
}

template <class V>
void axpy_k(float* y, float a, const float* x, int64_t n) {
  const auto va = V::set1(a);
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(y + i, V::fmadd(va, V::load(x + i), V::load(y + i)));
  if (i < n) {
    const int64_t r = n - i;
    V::storen(y + i, V::fmadd(va, V::loadn(x + i, r, 0.0f), V::loadn(y + i, r, 0.0f)), r);
  }
}

// ---------------------------------------------------------------- layer norm

template <class V>
void layer_norm_k(float* out, const float* x, const float* gamma, const float* beta, int64_t n,
                  float eps) {
  if (n <= 0) return;
  auto s = V::zero();
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) s = V::add(s, V::load(x + i));
  if (i < n) s = V::add(s, V::loadn(x + i, n - i, 0.0f));
  const float mean = V::hsum(s) / static_cast<float>(n);
  const auto vm = V::set1(mean);
  // Two passes: the variance of the centered values does not cancel catastrophically.
  auto q = V::zero();
  for (i = 0; i + V::W <= n; i += V::W) {
    const auto d = V::sub(V::load(x + i), vm);
    q = V::fmadd(d, d, q);
  }
  if (i < n) {
    const auto d = V::sub(V::loadn(x + i, n - i, mean), vm);
    q = V::fmadd(d, d, q);
  }
  const float var = V::hsum(q) / static_cast<float>(n);
  const auto rstd = V::set1(1.0f / std::sqrt(var + eps));
  auto row = [&](auto v, int64_t at, int64_t cnt) {
    auto y = V::mul(V::sub(v, vm), rstd);
    if (gamma) y = V::mul(y, cnt == V::W ? V::load(gamma + at) : V::loadn(gamma + at, cnt, 0.0f));
    if (beta) y = V::add(y, cnt == V::W ? V::load(beta + at) : V::loadn(beta + at, cnt, 0.0f));
    return y;
  };
  for (i = 0; i + V::W <= n; i += V::W) V::store(out + i, row(V::load(x + i), i, V::W));
  if (i < n) V::storen(out + i, row(V::loadn(x + i, n - i, 0.0f), i, n - i), n - i);
}

template <class V>
void sum_layer_norm_k(float* out, float* x, const float* bias, const float* res, const float* gamma,
                      const float* beta, int64_t n, float eps) {
  if (bias && res)
    add3_k<V>(x, x, bias, res, n);
  else if (bias)
    add_k<V>(x, x, bias, n);
  else if (res)
    add_k<V>(x, x, res, n);
  layer_norm_k<V>(out, x, gamma, beta, n, eps);
}

// ---------------------------------------------------------------- softmax

// y[j] = scale * x[j] + add[j] over [b, e) where add is mask[j] (0 if null) or kMaskedScore
// when masked_const; returns the running max.
template <class V>
inline float affine_segment(float* x, int64_t b, int64_t e, float scale, const float* mask,
                            bool masked_const, float mx) {
  const auto vs = V::set1(scale);
  const auto vc = V::set1(kMaskedScore);
  auto vmax = V::set1(-INFINITY);
  int64_t j = b;
  for (; j + V::W <= e; j += V::W) {
    auto y = V::mul(V::load(x + j), vs);
    if (masked_const)
      y = V::add(y, vc);
    else if (mask)
      y = V::add(y, V::load(mask + j));
    V::store(x + j, y);
    vmax = V::max(vmax, y);
  }
  mx = std::max(mx, V::hmax(vmax));
  for (; j < e; ++j) {
    float y = x[j] * scale;
    if (masked_const)
      y += kMaskedScore;
    else if (mask)
      y += mask[j];
    x[j] = y;
    mx = std::max(mx, y);
  }
  return mx;
}

template <class V>
void softmax_k(float* x, int64_t n, float scale, const float* mask, int64_t lo, int64_t hi) {
  if (n <= 0) return;
  lo = std::clamp<int64_t>(lo, 0, n);
  hi = std::clamp<int64_t>(hi, lo, n);
  float mx = -INFINITY;
  mx = affine_segment<V>(x, 0, lo, scale, nullptr, true, mx);
  mx = affine_segment<V>(x, lo, hi, scale, mask, false, mx);
  mx = affine_segment<V>(x, hi, n, scale, nullptr, true, mx);
  const auto vm = V::set1(mx);
  auto vs = V::zero();
  int64_t j = 0;
  for (; j + V::W <= n; j += V::W) {
    const auto p = vexp<V>(V::sub(V::load(x + j), vm));
    V::store(x + j, p);
    vs = V::add(vs, p);
  }
  if (j < n) {
    const auto p = vexp<V>(V::sub(V::loadn(x + j, n - j, -INFINITY), vm));
    V::storen(x + j, p, n - j);
    vs = V::add(vs, p);
  }
  // The max element contributes exp(0) = 1, so the sum is at least 1.
  scale_k<V>(x, 1.0f / V::hsum(vs), n);
}

// ---------------------------------------------------------------- attention

// Register tiles of the attention kernel (kAttnQBlock queries = NV vectors along the lanes):
// acc[i][n] = init(i, n) + sum over t < steps of x[i * xi + t * xt] (broadcast) *
// y[t * Qb + n * W] (the query vectors), J x NV accumulators in registers; then fin(i, n, acc).
template <class V, int J, class Init, class Fin>
inline void attn_tile(const float* x, int64_t xi, int64_t xt, const float* y, int64_t steps,
                      Init init, Fin fin) {
  constexpr int64_t W = V::W, Qb = kAttnQBlock;
  constexpr int NV = static_cast<int>(Qb / W);
  typename V::R acc[J][NV];
#pragma GCC unroll 16
  for (int i = 0; i < J; ++i)
#pragma GCC unroll 16
    for (int n = 0; n < NV; ++n) acc[i][n] = init(i, n);
  for (int64_t t = 0; t < steps; ++t) {
#pragma GCC unroll 16
    for (int i = 0; i < J; ++i) {
      const typename V::R xb = V::set1(x[i * xi + t * xt]);
#pragma GCC unroll 16
      for (int n = 0; n < NV; ++n) acc[i][n] = V::fmadd(xb, V::load(y + t * Qb + n * W), acc[i][n]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < J; ++i)
#pragma GCC unroll 16
    for (int n = 0; n < NV; ++n) fin(i, n, acc[i][n]);
}

// QK: J keys x NV query vectors of scores s (rows of Qb floats) over hd, k from the packed K
// rows (hd floats per key); bmax keeps the running max of every query over the keys.
template <class V, int J>
inline void attn_qk_tile(const float* qt, const float* kj, int64_t hd, float* s,
                         typename V::R* bmax) {
  using R = typename V::R;
  attn_tile<V, J>(
      kj, hd, 1, qt, hd, [](int, int) { return V::zero(); },
      [&](int i, int n, R v) {
        V::store(s + i * kAttnQBlock + n * V::W, v);
        bmax[n] = V::max(bmax[n], v);
      });
}

// The last nk - j (< J + 1) keys of a block as one smaller tile.
template <class V, int J>
inline void attn_qk_rest(const float* qt, const float* kp, int64_t hd, float* s, int64_t nk,
                         int64_t j, typename V::R* bmax) {
  if constexpr (J > 0) {
    if (nk - j >= J) {
      attn_qk_tile<V, J>(qt, kp + j * hd, hd, s + j * kAttnQBlock, bmax);
      return;
    }
    attn_qk_rest<V, J - 1>(qt, kp, hd, s, nk, j, bmax);
  }
}

// PV: C dims x NV query vectors of accᵀ (rows of Qb floats, rescaled by corr first), summed
// over the block's nk keys: v from the packed V rows (hd floats per key).
template <class V, int C>
inline void attn_pv_tile(const float* p, const float* vc, int64_t hd, int64_t nk, const float* corr,
                         float* acc) {
  using R = typename V::R;
  constexpr int64_t Qb = kAttnQBlock, W = V::W;
  attn_tile<V, C>(
      vc, 1, hd, p, nk,
      [&](int i, int n) { return V::mul(V::load(acc + i * Qb + n * W), V::load(corr + n * W)); },
      [&](int i, int n, R v) { V::store(acc + i * Qb + n * W, v); });
}

template <class V, int C>
inline void attn_pv_rest(const float* p, const float* vp, int64_t hd, int64_t nk, const float* corr,
                         float* acc, int64_t c) {
  if constexpr (C > 0) {
    if (hd - c >= C) {
      attn_pv_tile<V, C>(p, vp + c, hd, nk, corr, acc + c * kAttnQBlock);
      c += C;
    }
    attn_pv_rest<V, C - 1>(p, vp, hd, nk, corr, acc, c);
  }
}

// Flash-style attention for one block of at most kAttnQBlock query rows [q0, q1) against the
// keys [k_begin, k_end) of the sequence, whose Q, K and V rows were packed contiguously (hd
// floats per row; query q0 at qpack's row 0, key k_base at kpack's / vpack's) by attention_k. Keys
// are visited in blocks of kAttnKBlock with an online (running max / running sum) softmax, so
// memory is independent of the sequence length. Scores and the output accumulator are kept
// transposed ([key][query] and [dim][query]) so every inner loop is a broadcast-FMA vectorized over
// query rows, with no horizontal reductions and no transposes inside the key loop.
//
// B = void: FP32 products. Otherwise B (the AVX-512 BF16 build's Bf16Ops) packs the queries'
// pairs (B::pack_queries) and gives the products in BF16 with FP32 sums (B::qk, B::pv, which
// also pairs the probabilities): kpack is then K's rows rounded to BF16
// ([keys][hd] uint16) and vpack V as pairs of consecutive keys ([keys / 2][hd] words, key 2p in
// the low half), both from key k_base on (an even offset from every block's first key).
template <class V, class B = void>
void attention_block_k(const AttnArgs& a, int64_t q0, int64_t q1, const float* qpack,
                       const void* kpack, const void* vpack, int64_t k_base) {
  using R = typename V::R;
  constexpr bool kBf16 = !std::is_void_v<B>;
  constexpr int64_t W = V::W;
  constexpr int64_t Qb = kAttnQBlock, Kb = kAttnKBlock;
  constexpr int NV = static_cast<int>(Qb / W);
  constexpr int JB = V::kJB, CB = V::kCB;
  static_assert(Qb % W == 0);
  const int64_t hd = a.head_dim;
  const int64_t nq = q1 - q0;
  float* qt = a.work;                      // [hd][Qb]; BF16: [hd / 2][Qb] pairs, then P's pairs
  float* acc = qt + kAttnMaxHeadDim * Qb;  // [hd][Qb]
  float* s = acc + kAttnMaxHeadDim * Qb;   // [Kb][Qb]
  float* m = s + Kb * Qb;                  // [Qb] running max
  float* l = m + Qb;                       // [Qb] running sum
  float* corr = l + Qb;                    // [Qb] rescale of this key block

  // Qᵀ (qpack rows were pre-multiplied by the softmax scale and log2(e): one multiply per
  // query element instead of one per score).
  if constexpr (kBf16) {
    B::pack_queries(qpack, nq, hd, reinterpret_cast<uint32_t*>(qt));
  } else {
    for (int64_t r = 0; r < Qb; ++r) {
      if (r < nq) {
        const float* src = qpack + r * hd;
        for (int64_t c = 0; c < hd; ++c) qt[c * Qb + r] = src[c];
      } else {
        for (int64_t c = 0; c < hd; ++c) qt[c * Qb + r] = 0.0f;
      }
    }
  }
  for (int64_t i = 0; i < hd * Qb; i += W) V::store(acc + i, V::zero());
  // The output rows are written at the end: start fetching their lines now (out, like qkv,
  // is larger than the caches).
  for (int64_t r = 0; r < nq; ++r)
    for (int64_t c = 0; c < hd; c += 16) __builtin_prefetch(a.out + (q0 + r) * a.ldo + c, 1, 0);
  for (int n = 0; n < NV; ++n) {
    V::store(m + n * W, V::set1(kMaskedScore));
    V::store(l + n * W, V::zero());
  }

  int64_t k_begin = 0, k_end = a.len;
  const bool local = a.half_window >= 0;
  if (local) {
    k_begin = std::max<int64_t>(0, q0 - a.half_window);
    k_end = std::min<int64_t>(a.len, q1 + a.half_window);
    // BF16: blocks start at an even offset from k_base (V's pairs); the key added is masked.
    if constexpr (kBf16) k_begin -= (k_begin - k_base) & 1;
  }
  const R vneg = V::set1(kMaskedScore);
  const R vwin = V::set1(static_cast<float>(a.half_window));

  for (int64_t j0 = k_begin; j0 < k_end; j0 += Kb) {
    const int64_t nk = std::min(Kb, k_end - j0);
    // 1. s[j][r] = q_r . k_j (scale already in q), and the block's max per query.
    R bmax[NV];
    for (int n = 0; n < NV; ++n) bmax[n] = V::set1(-INFINITY);
    int64_t j = 0;
    if constexpr (kBf16) {
      B::qk(reinterpret_cast<const uint32_t*>(qt),
            static_cast<const uint16_t*>(kpack) + (j0 - k_base) * hd, hd, s, nk, bmax);
    } else {
      const float* kp = static_cast<const float*>(kpack) + (j0 - k_base) * hd;
      for (; j + JB <= nk; j += JB) attn_qk_tile<V, JB>(qt, kp + j * hd, hd, s + j * Qb, bmax);
      attn_qk_rest<V, JB - 1>(qt, kp, hd, s, nk, j, bmax);
    }
    // Sliding window: keys with |i - j| > w are masked (skipped when every key of the block
    // is within the window of every real query of the block).
    const bool block_inside = j0 + nk - 1 - q0 <= a.half_window && q1 - 1 - j0 <= a.half_window;
    if (local && !block_inside) {
      for (int n = 0; n < NV; ++n) bmax[n] = V::set1(-INFINITY);
      for (j = 0; j < nk; ++j) {
        for (int n = 0; n < NV; ++n) {
          const R qi = V::add(V::iota(), V::set1(static_cast<float>(q0 + n * W)));
          const R dist = V::abs(V::sub(V::set1(static_cast<float>(j0 + j)), qi));
          float* sp = s + j * Qb + n * W;
          const R y = V::blend_gt(dist, vwin, vneg, V::load(sp));
          V::store(sp, y);
          bmax[n] = V::max(bmax[n], y);
        }
      }
    }
    // 2. Online softmax: new running max, rescale factor, probabilities in place of scores.
    for (int n = 0; n < NV; ++n) {
      const R mold = V::load(m + n * W);
      const R mnew = V::max(mold, bmax[n]);
      const R cr = vexp2<V>(V::sub(mold, mnew));
      R sum0 = V::zero(), sum1 = V::zero();
      j = 0;
      for (; j + 2 <= nk; j += 2) {
        float* sp = s + j * Qb + n * W;
        const R p0 = vexp2<V>(V::sub(V::load(sp), mnew));
        const R p1 = vexp2<V>(V::sub(V::load(sp + Qb), mnew));
        V::store(sp, p0);
        V::store(sp + Qb, p1);
        sum0 = V::add(sum0, p0);
        sum1 = V::add(sum1, p1);
      }
      if (j < nk) {
        float* sp = s + j * Qb + n * W;
        const R p = vexp2<V>(V::sub(V::load(sp), mnew));
        V::store(sp, p);
        sum0 = V::add(sum0, p);
      }
      V::store(l + n * W, V::fmadd(V::load(l + n * W), cr, V::add(sum0, sum1)));
      V::store(m + n * W, mnew);
      V::store(corr + n * W, cr);
    }
    // 3. accᵀ[c][r] = accᵀ[c][r] * corr[r] + sum_j v_j[c] * p[j][r]
    if constexpr (kBf16) {
      uint32_t* pp = reinterpret_cast<uint32_t*>(qt) + kAttnMaxHeadDim * Qb / 2;
      B::pv(s, nk, pp, static_cast<const uint32_t*>(vpack) + (j0 - k_base) / 2 * hd, hd, corr, acc);
    } else {
      const float* vp = static_cast<const float*>(vpack) + (j0 - k_base) * hd;
      int64_t c = 0;
      for (; c + CB <= hd; c += CB) attn_pv_tile<V, CB>(s, vp + c, hd, nk, corr, acc + c * Qb);
      attn_pv_rest<V, CB - 1>(s, vp, hd, nk, corr, acc, c);
    }
  }
  // 4. out[r][c] = accᵀ[c][r] / l[r]
  for (int n = 0; n < NV; ++n) V::store(l + n * W, V::div(V::set1(1.0f), V::load(l + n * W)));
  for (int64_t r = 0; r < nq; ++r) {
    const float inv = l[r];
    float* dst = a.out + (q0 + r) * a.ldo;
    for (int64_t c = 0; c < hd; ++c) dst[c] = acc[c * Qb + r] * inv;
  }
}

// All query blocks of rows [q_begin, q_end) of one (sequence, head): the Q, K and V rows they
// need are first copied into contiguous per-thread buffers (a.kv), reused by every query
// block of the task. In qkv they sit 3·H floats apart — for MiniLM 4,608 bytes, a multiple of
// 512, so a block of 64 keys maps onto 16 of an L1's 64 sets — and qkv, just written by the
// QKV projection, is far larger than the caches: read in place, every row was a cache miss
// the hardware prefetchers do not see coming (one 128-byte slice per 4.6 KB row). The copy
// prefetches rows ahead, so those misses overlap.
// B: as attention_block_k's (void: FP32; else K and V are copied as BF16 rows and pairs).
template <class V, class B = void>
void attention_k(const AttnArgs& a) {
  constexpr bool kBf16 = !std::is_void_v<B>;
  const int64_t hd = a.head_dim, ld = a.ld;
  int64_t k_begin = 0, k_end = a.len;
  if (a.half_window >= 0) {
    k_begin = std::max<int64_t>(0, a.q_begin - a.half_window);
    k_end = std::min<int64_t>(a.len, a.q_end + a.half_window);
  }
  const int64_t nk = std::max<int64_t>(0, k_end - k_begin);
  float* kpack = a.kv;
  float* vpack = kpack + nk * hd;
  // Rows [q_begin, q_end), times a.scale · log2(e): the scores come out in log2 units, so the
  // softmax's exponentials are 2^x (vexp2), a cheaper polynomial than e^x.
  float* qpack = vpack + nk * hd;
  const float qscale = a.scale * 1.44269504088896341f;
  const auto vscale = V::set1(qscale);
  // Query row t of the range, times qscale, into its row of qrows.
  auto pack_query = [q = a.q, q_begin = a.q_begin, ld, hd, qscale, vscale](int64_t t,
                                                                           float* qrows) {
    const float* src = q + t * ld;
    float* dst = qrows + (t - q_begin) * hd;
    int64_t c = 0;
    for (; c + V::W <= hd; c += V::W) V::store(dst + c, V::mul(V::load(src + c), vscale));
    for (; c < hd; ++c) dst[c] = src[c] * qscale;
  };
  const void* kp = kpack;
  const void* vp = vpack;
  if constexpr (kBf16) {
    // K as BF16 rows (nk · hd / 2 floats' room), V as pairs ((nk + 1) / 2 · hd), Q as above.
    auto* kb = reinterpret_cast<uint16_t*>(kpack);
    auto* vb = reinterpret_cast<uint32_t*>(kpack + (nk * hd + 1) / 2);
    B::pack_kv(a.k + k_begin * ld, a.v + k_begin * ld, ld, nk, hd, kb, vb);
    qpack = kpack + (nk * hd + 1) / 2 + (nk + 1) / 2 * hd;
    for (int64_t t = a.q_begin; t < a.q_end; ++t) pack_query(t, qpack);
    kp = kb;
    vp = vb;
  } else {
    constexpr int64_t kAhead = 8;  // rows prefetched ahead of the copy
    const int64_t lines = (hd + 15) / 16;
    for (int64_t j = 0; j < nk; ++j) {
      const int64_t t = k_begin + j;
      if (j + kAhead < nk) {
        for (int64_t i = 0; i < lines; ++i) {
          __builtin_prefetch(a.k + (t + kAhead) * ld + i * 16, 0, 0);
          __builtin_prefetch(a.v + (t + kAhead) * ld + i * 16, 0, 0);
          if (t + kAhead >= a.q_begin && t + kAhead < a.q_end)
            __builtin_prefetch(a.q + (t + kAhead) * ld + i * 16, 0, 0);
        }
      }
      std::memcpy(kpack + j * hd, a.k + t * ld, hd * sizeof(float));
      std::memcpy(vpack + j * hd, a.v + t * ld, hd * sizeof(float));
      if (t >= a.q_begin && t < a.q_end) pack_query(t, qpack);
    }
  }
  for (int64_t q0 = a.q_begin; q0 < a.q_end; q0 += kAttnQBlock)
    attention_block_k<V, B>(a, q0, std::min(a.q_end, q0 + kAttnQBlock),
                            qpack + (q0 - a.q_begin) * hd, kp, vp, k_begin);
}

}  // namespace
}  // namespace ripvec::cpu

#include "driver/cpu/cpu_gemm_impl.hpp"

namespace ripvec::cpu {
namespace {

// VG: the vector type of the GEMM kernels (the portable build takes SSE2's where the compiler
// targets it, its other kernels staying one float wide).
template <class V, class VG = V>
CpuKernels make_kernels(const char* isa) {
  CpuKernels k;
  k.isa = isa;
  k.layer_norm = &layer_norm_k<V>;
  k.sum_layer_norm = &sum_layer_norm_k<V>;
  k.gelu = &gelu_k<V>;
  k.bias_gelu = &bias_gelu_k<V>;
  k.gelu_tanh = &gelu_tanh_k<V>;
  k.silu = &silu_k<V>;
  k.geglu = &gated_k<V, true>;
  k.swiglu = &gated_k<V, false>;
  k.add = &add_k<V>;
  k.add3 = &add3_k<V>;
  k.softmax = &softmax_k<V>;
  k.accumulate = &accumulate_k<V>;
  k.scale = &scale_k<V>;
  k.sum_squares = &sum_squares_k<V>;
  k.dot = &dot_k<V>;
  k.axpy = &axpy_k<V>;
  k.attention = &attention_k<V>;
  // Register tiles: AVX2 6 x 16 (12 accumulators + 2 B vectors + 1 broadcast of 16 ymm),
  // AVX-512 12 x 32 (24 + 2 + 1 of 32 zmm). k blocks keep a panel's block (kc x NR floats)
  // within 32-48 KiB, an L1's worth.
  k.gemm_nt = &gemm_nt_k<VG>;
  // MR x NV·W register tile, k block, register tiles per row block, kernel.
  auto tiles = [&k](int mr, int nr, int kc, int mc_tiles, void (*block)(const GemmBlock&)) {
    k.gemm_mr = mr;
    k.gemm_nr = nr;
    k.gemm_kc = kc;
    k.gemm_mc_tiles = mc_tiles;
    k.gemm_block = block;
  };
  if constexpr (VG::W == 1) {
    tiles(4, 4, 256, 16, &gemm_block_k<VG, 4, 4>);  // the portable build without SSE2
  } else if constexpr (VG::W == 4) {
    // The portable build on x86-64 (SSE2, no FMA): 4 x 8, 8 accumulators + 2 B vectors + the
    // broadcast and the product of the multiply-add in 16 xmm (6 x 8: no faster).
    tiles(4, 8, 256, 12, &gemm_block_k<VG, 4, 2, V>);
  } else if constexpr (VG::W == 8) {
    tiles(6, 16, 512, 12, &gemm_block_k<V, 6, 2>);
  } else if constexpr (VG::W == 16) {
    // Row blocks of 4 tiles (48 rows): on the quiet Intel development VM (Xeon, 2 MiB L2) 4
    // tiles run the model's GEMMs 8-15% faster at 2 threads than 12 (gemm_bench, m = 4,096) and
    // the MiniLM forward 1.11x (docs/benchmarks.md); AVX2 keeps 12 (tuned on the AMD VM).
    tiles(12, 32, 384, 4, &gemm_block_k<V, 12, 2>);
  }
  return k;
}

}  // namespace
}  // namespace ripvec::cpu
