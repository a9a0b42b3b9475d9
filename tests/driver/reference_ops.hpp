// Plain scalar reference of every Driver operation, written straight from the contract's
// comments in src/driver/driver.hpp and src/driver/ops.hpp: no vectorization, no blocking, no
// online softmax, double accumulation. The conformance suite compares each driver to these.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "driver/batch.hpp"
#include "driver/driver.hpp"

namespace ripvec::ref {

using Vec = std::vector<float>;
using IVec = std::vector<int32_t>;

// out[T,H] = table[V,H][ids[T]]
inline Vec embedding_lookup(const Vec& table, int64_t h, const IVec& ids) {
  Vec out(ids.size() * h);
  for (size_t t = 0; t < ids.size(); ++t)
    for (int64_t c = 0; c < h; ++c) out[t * h + c] = table[ids[t] * h + c];
  return out;
}

// x[T,H] += table[ids]
inline void add_embeddings(Vec& x, const Vec& table, int64_t h, const IVec& ids) {
  for (size_t t = 0; t < ids.size(); ++t)
    for (int64_t c = 0; c < h; ++c) x[t * h + c] += table[ids[t] * h + c];
}

// out[R,C] = (x - mean) / sqrt(var + eps) * gamma + beta (biased variance, as torch).
inline Vec layer_norm(const Vec& x, int64_t c, const Vec& gamma, const Vec& beta, float eps) {
  const int64_t r = c == 0 ? 0 : static_cast<int64_t>(x.size()) / c;
  Vec out(x.size());
  for (int64_t i = 0; i < r; ++i) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < c; ++j) mean += x[i * c + j];
    mean /= c;
    for (int64_t j = 0; j < c; ++j) var += (x[i * c + j] - mean) * (x[i * c + j] - mean);
    var /= c;
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (int64_t j = 0; j < c; ++j) {
      double y = (x[i * c + j] - mean) * rstd;
      if (!gamma.empty()) y *= gamma[j];
      if (!beta.empty()) y += beta[j];
      out[i * c + j] = static_cast<float>(y);
    }
  }
  return out;
}

// C = alpha * op(A) op(B) + beta * C at element offsets (one batch entry).
inline void gemm(const GemmDesc& g, const float* a, const float* b, float* c) {
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < g.k; ++p) {
        const double av = g.trans_a ? a[p * g.lda + i] : a[i * g.lda + p];
        const double bv = g.trans_b ? b[j * g.ldb + p] : b[p * g.ldb + j];
        s += av * bv;
      }
      float& out = c[i * g.ldc + j];
      out = static_cast<float>(g.alpha * s + (g.beta == 0.0f ? 0.0 : g.beta * double(out)));
    }
}

inline Vec attn_mask(const IVec& lengths, int64_t s) {
  Vec m(lengths.size() * s);
  for (size_t b = 0; b < lengths.size(); ++b)
    for (int64_t j = 0; j < s; ++j) m[b * s + j] = j < lengths[b] ? 0.0f : kMaskedScore;
  return m;
}

// Softmax of a row of additive scores, in double.
inline void softmax_row(const std::vector<double>& y, float* out) {
  double mx = -INFINITY;
  for (double v : y) mx = std::max(mx, v);
  double sum = 0;
  for (double v : y) sum += std::exp(v - mx);
  for (size_t j = 0; j < y.size(); ++j) out[j] = static_cast<float>(std::exp(y[j] - mx) / sum);
}

// scores[B, nh, S, S]: softmax_j(scale * s + mask[b, j]); with half_window >= 0, keys with
// |i - j| > half_window get kMaskedScore instead of mask[b, j].
inline void scale_mask_softmax(Vec& scores, const Vec& mask, int64_t b_count, int64_t s,
                               float scale, int half_window = -1) {
  const int64_t nh = static_cast<int64_t>(scores.size()) / (b_count * s * s);
  std::vector<double> y(s);
  for (int64_t b = 0; b < b_count; ++b)
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t i = 0; i < s; ++i) {
        float* row = scores.data() + ((b * nh + h) * s + i) * s;
        for (int64_t j = 0; j < s; ++j) {
          const bool out_of_window = half_window >= 0 && std::abs(i - j) > half_window;
          y[j] = double(scale) * row[j] + (out_of_window ? kMaskedScore : mask[b * s + j]);
        }
        softmax_row(y, row);
      }
}

// qkv[T, 3H] -> q, k, v [B, nh, S, d], zero rows past each length.
inline void qkv_split(const Vec& qkv, const BatchInputs& bi, int nh, Vec& q, Vec& k, Vec& v) {
  const int64_t H = static_cast<int64_t>(qkv.size()) / bi.total_tokens / 3, d = H / nh;
  const int64_t B = bi.batch, S = bi.max_seq;
  Vec* outs[3] = {&q, &k, &v};
  for (Vec* o : outs) o->assign(B * nh * S * d, 0.0f);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < bi.seq_lengths[b]; ++s)
      for (int part = 0; part < 3; ++part)
        for (int64_t h = 0; h < nh; ++h)
          for (int64_t c = 0; c < d; ++c)
            (*outs[part])[((b * nh + h) * S + s) * d + c] =
                qkv[(bi.cu_seqlens[b] + s) * 3 * H + part * H + h * d + c];
}

// ctx[B, nh, S, d] -> out[T, H]
inline Vec attn_reshape(const Vec& ctx, const BatchInputs& bi, int64_t nh, int64_t d) {
  const int64_t H = nh * d, S = bi.max_seq;
  Vec out(bi.total_tokens * H);
  for (int64_t b = 0; b < bi.batch; ++b)
    for (int64_t s = 0; s < bi.seq_lengths[b]; ++s)
      for (int64_t h = 0; h < nh; ++h)
        for (int64_t c = 0; c < d; ++c)
          out[(bi.cu_seqlens[b] + s) * H + h * d + c] = ctx[((b * nh + h) * S + s) * d + c];
  return out;
}

// scores[h, i, w] = q_i . k_{i-half+w} for the sequence at rows [row0, row0 + len).
inline Vec banded_qk(const Vec& qkv, int64_t row0, int64_t len, const AttentionDesc& ad) {
  const int64_t nh = ad.num_heads, d = ad.head_dim, H = nh * d, half = ad.half_window,
                W = 2 * half + 1;
  Vec s(nh * len * W);
  for (int64_t h = 0; h < nh; ++h)
    for (int64_t i = 0; i < len; ++i)
      for (int64_t w = 0; w < W; ++w) {
        const int64_t j = i - half + w;
        double acc = kMaskedScore;
        if (j >= 0 && j < len) {
          acc = 0;
          for (int64_t c = 0; c < d; ++c)
            acc += double(qkv[(row0 + i) * 3 * H + h * d + c]) *
                   qkv[(row0 + j) * 3 * H + H + h * d + c];
        }
        s[(h * len + i) * W + w] = static_cast<float>(acc);
      }
  return s;
}

inline void banded_softmax(Vec& s, const AttentionDesc& ad) {
  const int64_t W = 2 * int64_t{ad.half_window} + 1;
  std::vector<double> y(W);
  for (size_t r = 0; r < s.size() / W; ++r) {
    for (int64_t w = 0; w < W; ++w) y[w] = double(ad.scale) * s[r * W + w];
    softmax_row(y, s.data() + r * W);
  }
}

// out[row0 + i, h*d:(h+1)*d] = sum_w p[h,i,w] * v_{i-half+w}
inline void banded_sv(Vec& out, const Vec& p, const Vec& qkv, int64_t row0, int64_t len,
                      const AttentionDesc& ad) {
  const int64_t nh = ad.num_heads, d = ad.head_dim, H = nh * d, half = ad.half_window,
                W = 2 * half + 1;
  for (int64_t h = 0; h < nh; ++h)
    for (int64_t i = 0; i < len; ++i)
      for (int64_t c = 0; c < d; ++c) {
        double acc = 0;
        for (int64_t w = 0; w < W; ++w) {
          const int64_t j = i - half + w;
          if (j >= 0 && j < len)
            acc += double(p[(h * len + i) * W + w]) * qkv[(row0 + j) * 3 * H + 2 * H + h * d + c];
        }
        out[(row0 + i) * H + h * d + c] = static_cast<float>(acc);
      }
}

// Multi-head attention of every sequence straight from the definition: for query i of
// sequence b, softmax over the keys j of the same sequence (and |i - j| <= w when local).
inline Vec attention(const Vec& qkv, const BatchInputs& bi, const AttentionDesc& ad) {
  const int64_t nh = ad.num_heads, d = ad.head_dim, H = nh * d;
  Vec out(bi.total_tokens * H, 0.0f);
  for (int64_t b = 0; b < bi.batch; ++b) {
    const int64_t r0 = bi.cu_seqlens[b], len = bi.seq_lengths[b];
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t i = 0; i < len; ++i) {
        std::vector<double> sc;
        std::vector<int64_t> keys;
        for (int64_t j = 0; j < len; ++j) {
          if (ad.half_window >= 0 && std::abs(i - j) > ad.half_window) continue;
          double s = 0;
          for (int64_t c = 0; c < d; ++c)
            s += double(qkv[(r0 + i) * 3 * H + h * d + c]) * qkv[(r0 + j) * 3 * H + H + h * d + c];
          sc.push_back(s * ad.scale);
          keys.push_back(j);
        }
        double mx = -INFINITY, sum = 0;
        for (double s : sc) mx = std::max(mx, s);
        for (double& s : sc) sum += (s = std::exp(s - mx));
        for (int64_t c = 0; c < d; ++c) {
          double acc = 0;
          for (size_t n = 0; n < keys.size(); ++n)
            acc += sc[n] * qkv[(r0 + keys[n]) * 3 * H + 2 * H + h * d + c];
          out[(r0 + i) * H + h * d + c] = static_cast<float>(acc / sum);
        }
      }
  }
  return out;
}

// HF rotate_half convention on the Q and K blocks of qkv[T, 3*nh*d].
inline void rope(Vec& qkv, const IVec& pos, const Vec& cos, const Vec& sin, int nh, int d) {
  const int64_t H = int64_t{nh} * d, half = d / 2;
  for (size_t t = 0; t < pos.size(); ++t)
    for (int64_t blk = 0; blk < 2; ++blk)
      for (int64_t h = 0; h < nh; ++h) {
        float* x = qkv.data() + t * 3 * H + blk * H + h * d;
        for (int64_t j = 0; j < half; ++j) {
          const double c = cos[pos[t] * half + j], s = sin[pos[t] * half + j];
          const double x1 = x[j], x2 = x[j + half];
          x[j] = static_cast<float>(x1 * c - x2 * s);
          x[j + half] = static_cast<float>(x2 * c + x1 * s);
        }
      }
}

inline float gelu(float x) {
  return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))));
}
inline float gelu_tanh(float x) {
  const double xd = x;
  return static_cast<float>(
      0.5 * xd * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (xd + 0.044715 * xd * xd * xd))));
}
inline float silu(float x) {
  return static_cast<float>(double(x) / (1.0 + std::exp(-double(x))));
}

// out[R, I] = act(in[:, :I]) * in[:, I:]
template <class F>
Vec gated(const Vec& in, int64_t two_i, F act) {
  const int64_t I = two_i / 2, R = static_cast<int64_t>(in.size()) / two_i;
  Vec out(R * I);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < I; ++c)
      out[r * I + c] = static_cast<float>(double(act(in[r * two_i + c])) * in[r * two_i + I + c]);
  return out;
}

inline Vec cls_pool(const Vec& hidden, int64_t h, const IVec& cu) {
  Vec out((cu.size() - 1) * h);
  for (size_t b = 0; b + 1 < cu.size(); ++b)
    for (int64_t c = 0; c < h; ++c) out[b * h + c] = hidden[cu[b] * h + c];
  return out;
}

inline Vec mean_pool(const Vec& hidden, int64_t h, const IVec& cu) {
  Vec out((cu.size() - 1) * h);
  for (size_t b = 0; b + 1 < cu.size(); ++b)
    for (int64_t c = 0; c < h; ++c) {
      double s = 0;
      for (int32_t t = cu[b]; t < cu[b + 1]; ++t) s += hidden[t * h + c];
      out[b * h + c] = static_cast<float>(s / (cu[b + 1] - cu[b]));
    }
  return out;
}

// Rows to unit L2 norm; zero rows stay zero (torch.nn.functional.normalize, eps 1e-12).
inline void l2_normalize(Vec& x, int64_t c) {
  for (size_t r = 0; r < x.size() / c; ++r) {
    double s = 0;
    for (int64_t j = 0; j < c; ++j) s += double(x[r * c + j]) * x[r * c + j];
    const double n = std::max(std::sqrt(s), 1e-12);
    for (int64_t j = 0; j < c; ++j) x[r * c + j] = static_cast<float>(x[r * c + j] / n);
  }
}

inline Vec pad(const Vec& in, int64_t c, const IVec& cu, int64_t s) {
  Vec out((cu.size() - 1) * s * c, 0.0f);
  for (size_t b = 0; b + 1 < cu.size(); ++b)
    for (int32_t t = cu[b]; t < cu[b + 1]; ++t)
      for (int64_t j = 0; j < c; ++j) out[(b * s + (t - cu[b])) * c + j] = in[t * c + j];
  return out;
}

inline Vec unpad(const Vec& in, int64_t c, const IVec& cu, int64_t s) {
  Vec out(cu.back() * c);
  for (size_t b = 0; b + 1 < cu.size(); ++b)
    for (int32_t t = cu[b]; t < cu[b + 1]; ++t)
      for (int64_t j = 0; j < c; ++j) out[t * c + j] = in[(b * s + (t - cu[b])) * c + j];
  return out;
}

// Nearest representable value with round-to-nearest-even, found by brute comparison of the
// two neighbours (independent of the bit tricks a driver uses).
inline uint16_t to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if (std::isnan(f)) return static_cast<uint16_t>((x >> 16) | 0x40);
  const uint16_t lo = static_cast<uint16_t>(x >> 16);
  const uint16_t hi = static_cast<uint16_t>(lo + 1);
  const double dlo = std::fabs(double(std::bit_cast<float>(uint32_t{lo} << 16)) - f);
  const double dhi = std::fabs(double(std::bit_cast<float>(uint32_t{hi} << 16)) - f);
  if (dlo < dhi) return lo;
  if (dhi < dlo) return hi;
  return (lo & 1) ? hi : lo;
}
inline float from_bf16(uint16_t b) {
  return std::bit_cast<float>(uint32_t{b} << 16);
}

// IEEE binary16 value of bits h, from the definition.
inline double from_f16(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e == 0) return sign * std::ldexp(double(m), -24);
  if (e == 31) return m ? NAN : sign * INFINITY;
  return sign * std::ldexp(1.0 + m / 1024.0, e - 15);
}
// Round to nearest even binary16 by searching the ordered finite values.
inline uint16_t to_f16(float f) {
  if (std::isnan(f)) return 0x7e00;
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double a = std::fabs(double(f));
  if (a >= 65520.0) return sign | 0x7c00;
  uint16_t lo = 0, hi = 0x7bff;  // largest finite
  while (lo < hi) {              // first magnitude >= a
    const uint16_t mid = static_cast<uint16_t>((lo + hi) / 2);
    if (from_f16(mid) < a)
      lo = mid + 1;
    else
      hi = mid;
  }
  uint16_t best = lo;
  if (lo > 0) {
    const double dup = from_f16(lo) - a, ddown = a - from_f16(lo - 1);
    if (ddown < dup || (ddown == dup && ((lo - 1) & 1) == 0)) best = lo - 1;
  }
  return sign | best;
}

}  // namespace ripvec::ref
