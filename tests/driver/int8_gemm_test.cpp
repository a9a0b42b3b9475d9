// INT8 dynamic quantization of the CPU driver's linear layers (cpu_int8_gemm.hpp, scheme
// g32r4): every kernel build available on this CPU (scalar, AVX2 vpmaddwd, AVX-512 VNNI
// vpdpbusd) against a plain reference written here from the documented formulas (int64 sums,
// double dequantization, outliers chosen by a stable sort), bit-for-bit against each other,
// row by row against calls with one row (batch independence), and against FP32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "driver/cpu/cpu_int8_gemm.hpp"
#include "driver/cpu/cpu_kernels.hpp"
#include "driver/row_norm_util.hpp"
#include "ripvec/error.hpp"
#include "util/thread_pool.hpp"

namespace ripvec::cpu {
namespace {

using test::in_place_norm;
using test::norm_reference;

constexpr int64_t kGroup = 32;
constexpr int kOut = 4;

// Symmetric quantization of v[0, n) with one scale: scale = max|v| / 127,
// q = clamp(rint(v * (127 / max|v|)), -127, 127).
void quant(const float* v, int64_t n, int32_t* q, float& scale) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(v[i]));
  float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  if (!(inv <= std::numeric_limits<float>::max())) inv = 0.0f;  // 127 / amax overflowed: codes 0
  for (int64_t i = 0; i < n; ++i)
    q[i] = static_cast<int32_t>(std::clamp(std::nearbyint(v[i] * inv), -127.0f, 127.0f));
  scale = amax / 127.0f;
}

// The columns of a row kept in FP32: the 4 largest |x|, lower column first among equals.
std::vector<int64_t> outliers(const float* x, int64_t k) {
  std::vector<int64_t> idx(static_cast<size_t>(k));
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(),
                   [&](int64_t a, int64_t b) { return std::fabs(x[a]) > std::fabs(x[b]); });
  idx.resize(std::min<size_t>(idx.size(), kOut));
  return idx;
}

// n values drawn from N(0, scale^2) by rng (consecutive calls continue its sequence).
std::vector<float> normal(std::mt19937& rng, int64_t n, float scale = 1.0f) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = scale * nd(rng);
  return v;
}

std::vector<float> reference(const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& bias, int64_t m, int64_t n, int64_t k) {
  const int64_t groups = (k + kGroup - 1) / kGroup;
  std::vector<int32_t> qw(static_cast<size_t>(n * k));
  std::vector<float> sw(static_cast<size_t>(n * groups));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t lo = g * kGroup, len = std::min(k, lo + kGroup) - lo;
      quant(&w[j * k + lo], len, &qw[j * k + lo], sw[j * groups + g]);
    }
  std::vector<float> y(static_cast<size_t>(m * n));
  std::vector<int32_t> qa(static_cast<size_t>(k));
  std::vector<float> sa(static_cast<size_t>(groups));
  for (int64_t r = 0; r < m; ++r) {
    std::vector<float> xr(x.begin() + r * k, x.begin() + (r + 1) * k);
    const auto out = outliers(xr.data(), k);
    for (int64_t c : out) xr[c] = 0.0f;
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t lo = g * kGroup, len = std::min(k, lo + kGroup) - lo;
      quant(&xr[lo], len, &qa[lo], sa[g]);
    }
    for (int64_t j = 0; j < n; ++j) {
      double acc = bias.empty() ? 0.0 : bias[j];
      for (int64_t g = 0; g < groups; ++g) {
        int64_t s = 0;
        for (int64_t c = g * kGroup; c < std::min(k, (g + 1) * kGroup); ++c)
          s += int64_t(qa[c]) * qw[j * k + c];
        acc += double(s) * double(sa[g]) * double(sw[j * groups + g]);
      }
      for (int64_t c : out) acc += double(x[r * k + c]) * w[j * k + c];
      y[r * n + j] = static_cast<float>(acc);
    }
  }
  return y;
}

std::vector<Int8Isa> available() {
  std::vector<Int8Isa> out{Int8Isa::kScalar};
  for (Int8Isa i : {Int8Isa::kAvx2, Int8Isa::kAvxVnni, Int8Isa::kAvx512Vnni}) {
    try {
      out.push_back(select_int8_isa(i));
    } catch (const std::exception&) {
      // not on this CPU
    }
  }
  return out;
}

// y (ldc = n + 5, gaps pre-filled with -7) of every ISA; checks the gaps stay untouched.
std::vector<std::vector<float>> run_all(const std::vector<float>& x, const std::vector<float>& w,
                                        const std::vector<float>& bias, int64_t m, int64_t n,
                                        int64_t k) {
  std::vector<std::vector<float>> ys;
  for (Int8Isa isa : available()) {
    const Int8Weight qw = quantize_weight(w.data(), n, k, isa);
    Int8Scratch s;
    std::vector<float> y(static_cast<size_t>(m * (n + 5)), -7.0f);
    int8_linear(qw, x.data(), k, y.data(), n + 5, m, bias.empty() ? nullptr : bias.data(), nullptr,
                s);
    std::vector<float> packed(static_cast<size_t>(m * n));
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t j = n; j < n + 5; ++j)
        EXPECT_EQ(y[r * (n + 5) + j], -7.0f) << int8_isa_name(isa) << " wrote past n";
      std::memcpy(&packed[r * n], &y[r * (n + 5)], n * sizeof(float));
    }
    ys.push_back(std::move(packed));
  }
  return ys;
}

// One ISA's INT8 product (bias, no GELU) of two m x k inputs with row strides lda1 and lda2 by
// the same quantized weight and scratch: [m, n] each.
std::pair<std::vector<float>, std::vector<float>> linear_pair(
    Int8Isa isa, const std::vector<float>& w, const std::vector<float>& bias, int64_t m, int64_t n,
    int64_t k, const float* x1, int64_t lda1, const float* x2, int64_t lda2) {
  const Int8Weight qw = quantize_weight(w.data(), n, k, isa);
  Int8Scratch s;
  std::vector<float> y1(m * n), y2(m * n);
  int8_linear(qw, x1, lda1, y1.data(), n, m, bias.data(), nullptr, s);
  int8_linear(qw, x2, lda2, y2.data(), n, m, bias.data(), nullptr, s);
  return {std::move(y1), std::move(y2)};
}

void check(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& bias,
           int64_t m, int64_t n, int64_t k) {
  const auto want = reference(x, w, bias, m, n, k);
  double max_ref = 0;
  for (float v : want) max_ref = std::max<double>(max_ref, std::fabs(v));
  const auto isas = available();
  const auto ys = run_all(x, w, bias, m, n, k);
  for (size_t i = 0; i < isas.size(); ++i) {
    SCOPED_TRACE(std::string(int8_isa_name(isas[i])) + " m=" + std::to_string(m) +
                 " n=" + std::to_string(n) + " k=" + std::to_string(k));
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        ASSERT_NEAR(ys[i][r * n + j], want[r * n + j], 2e-6 * (1.0 + max_ref))
            << "row " << r << " col " << j;
        // Same float operations in the same order on the same integers: bit-identical.
        ASSERT_EQ(ys[i][r * n + j], ys[0][r * n + j]) << "row " << r << " col " << j;
      }
  }
}

void check_shape(int64_t m, int64_t n, int64_t k, float outlier) {
  std::mt19937 rng(static_cast<unsigned>(m * 131 + n * 7 + k));
  std::vector<float> x = normal(rng, m * k), w = normal(rng, n * k, 0.05f),
                     bias = normal(rng, n, 0.1f);
  if (outlier != 0.0f && k > 3)
    for (int64_t r = 0; r < m; ++r) x[r * k + 3] = outlier;  // a BERT-like outlier channel
  check(x, w, bias, m, n, k);
}

TEST(Int8Gemm, MatchesReferenceOnModelShapes) {
  check_shape(37, 384, 384, 0.0f);
  check_shape(50, 1152, 384, 0.0f);
  check_shape(29, 384, 1536, 0.0f);
  check_shape(13, 768, 1152, 30.0f);  // ModernBERT's FFN down: k = 1152
  // Many row blocks: each task quantizes its own rows and prefetches the next block's.
  check_shape(1000, 40, 100, 0.0f);
  check_shape(300, 33, 1536, 30.0f);
}

// Rows of x at a stride larger than k (a slice of a wider tensor), over many row blocks: the
// same bits as the contiguous copy, on every ISA.
TEST(Int8Gemm, StridedRowsAcrossBlocks) {
  const int64_t m = 500, n = 50, k = 96, lda = k + 3;
  std::mt19937 rng(21);
  const std::vector<float> x = normal(rng, m * k), w = normal(rng, n * k), bias = normal(rng, n);
  std::vector<float> xs(static_cast<size_t>(m * lda), 1e30f);  // the gaps must never be read
  for (int64_t r = 0; r < m; ++r) std::memcpy(&xs[r * lda], &x[r * k], k * sizeof(float));
  for (Int8Isa isa : available()) {
    const auto [a, b] = linear_pair(isa, w, bias, m, n, k, x.data(), k, xs.data(), lda);
    for (int64_t i = 0; i < m * n; ++i) ASSERT_EQ(a[i], b[i]) << int8_isa_name(isa) << " " << i;
  }
}

TEST(Int8Gemm, MatchesReferenceOnRaggedShapes) {
  for (int64_t m : {1, 5, 13, 25})
    for (int64_t n : {1, 7, 17, 33})
      for (int64_t k : {1, 3, 4, 5, 18, 31, 32, 33, 67, 100}) check_shape(m, n, k, 0.0f);
}

TEST(Int8Gemm, NoBias) {
  std::mt19937 rng(3);
  const int64_t m = 7, n = 19, k = 45;
  const std::vector<float> x = normal(rng, m * k), w = normal(rng, n * k);
  check(x, w, {}, m, n, k);
}

TEST(Int8Gemm, ZeroRowsAndOutlierChannel) {
  check_shape(9, 40, 64, 60.0f);
  std::vector<float> x(3 * 8, 0.0f), w(4 * 8, 0.5f), bias{1, 2, 3, 4}, y(3 * 4);
  for (Int8Isa isa : available()) {
    const Int8Weight qw = quantize_weight(w.data(), 4, 8, isa);
    Int8Scratch s;
    int8_linear(qw, x.data(), 8, y.data(), 4, 3, bias.data(), nullptr, s);
    for (int r = 0; r < 3; ++r)
      for (int j = 0; j < 4; ++j) EXPECT_EQ(y[r * 4 + j], bias[j]) << int8_isa_name(isa);
  }
}

// A row with at most 4 nonzeros is entirely in the FP32 correction: the result is the FP32
// product (one fma per nonzero), whatever the weights' quantization error.
TEST(Int8Gemm, RowsWithFewNonzerosAreExact) {
  const int64_t m = 6, n = 21, k = 70;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(m * k, 0.0f), w(n * k), bias(n);
  for (auto& v : w) v = nd(rng);
  for (auto& v : bias) v = nd(rng);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t i = 0; i < std::min<int64_t>(r, 4); ++i)  // rows with 0, 1, 2, 3, 4, 4 nonzeros
      x[r * k + (17 * i + 5 * r) % k] = nd(rng) * 10.0f;
  check(x, w, bias, m, n, k);
  for (const auto& y : run_all(x, w, bias, m, n, k))
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double e = bias[j];
        for (int64_t c = 0; c < k; ++c) e += double(x[r * k + c]) * w[j * k + c];
        EXPECT_NEAR(y[r * n + j], e, 1e-5 * (1.0 + std::fabs(e))) << r << "," << j;
      }
}

// Equal |x| (either sign): the lower columns are the outliers. The tied entries sit in
// different groups among small values, so a different choice leaves a different group with a
// coarse scale and the result moves far beyond the tolerance.
TEST(Int8Gemm, OutlierTiesTakeTheLowerColumns) {
  const int64_t m = 3, n = 16, k = 96;
  std::mt19937 rng(7);
  const std::vector<float> w = normal(rng, n * k), bias(n, 0.0f);
  std::vector<float> x = normal(rng, m * k, 0.01f);
  for (int64_t r = 0; r < m; ++r) {
    const int64_t cols[] = {70, 2, 40, 7, 33};  // 5 ties: 2, 7, 33, 40 taken, 70 quantized
    for (int i = 0; i < 5; ++i) x[r * k + cols[i]] = (i + r) % 2 ? -5.0f : 5.0f;
  }
  check(x, w, bias, m, n, k);
  // Swapping which tie is quantized (the reference with column 2's tie made slightly smaller,
  // so 70 becomes an outlier) gives a result the kernels must NOT match.
  std::vector<float> x2 = x;
  for (int64_t r = 0; r < m; ++r) x2[r * k + 2] *= 0.99999f;
  const auto other = reference(x2, w, bias, m, n, k);
  const auto ys = run_all(x, w, bias, m, n, k);
  double diff = 0;
  for (size_t i = 0; i < other.size(); ++i)
    diff = std::max<double>(diff, std::fabs(ys[0][i] - other[i]));
  EXPECT_GT(diff, 1e-3);
}

// A NaN in a row makes that row's outputs NaN (as FP32 would), so the embedder's finiteness
// check refuses it; the other rows are untouched.
TEST(Int8Gemm, NanInARowGivesNanRow) {
  const int64_t m = 4, n = 20, k = 100;
  std::mt19937 rng(13);
  std::vector<float> x = normal(rng, m * k);
  const std::vector<float> w = normal(rng, n * k), bias = normal(rng, n);
  std::vector<float> clean = x;
  x[1 * k + 50] = std::numeric_limits<float>::quiet_NaN();   // SIMD body
  x[3 * k + 99] = -std::numeric_limits<float>::quiet_NaN();  // tail
  clean[1 * k + 50] = clean[3 * k + 99] = 0.0f;
  for (Int8Isa isa : available()) {
    const auto [y, yc] = linear_pair(isa, w, bias, m, n, k, x.data(), k, clean.data(), k);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        if (r == 1 || r == 3)
          EXPECT_TRUE(std::isnan(y[r * n + j])) << int8_isa_name(isa) << " " << r << "," << j;
        else
          EXPECT_EQ(y[r * n + j], yc[r * n + j]) << int8_isa_name(isa) << " " << r << "," << j;
      }
  }
}

// A group whose largest |x| is below 127 / FLT_MAX (its inverse scale overflows to infinity:
// 0 * inf = NaN and x * inf = inf, whose codes each ISA converted its own way) gets codes 0 on
// every ISA. The weights facing that group are huge, so that its (subnormal) scale times theirs
// is not negligible: codes other than 0 there change the outputs by about 0.1.
TEST(Int8Gemm, TinyGroupsGetZeroCodesOnEveryIsa) {
  const int64_t m = 30, n = 20, k = 100;
  std::mt19937 rng(31);
  std::vector<float> x = normal(rng, m * k), w = normal(rng, n * k, 0.05f), bias = normal(rng, n);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 32; c < 64; ++c) x[r * k + c] = (c % 3 == 0 ? 0.0f : 1e-38f) * (r % 4 + 1);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 32; c < 64; ++c) w[j * k + c] *= 1e36f;
  check(x, w, bias, m, n, k);
}

// A row's result does not depend on the other rows of the call (tiles, tasks, tails).
TEST(Int8Gemm, RowsIndependentOfTheBatch) {
  const int64_t m = 41, n = 70, k = 200;
  std::mt19937 rng(9);
  const std::vector<float> x = normal(rng, m * k), w = normal(rng, n * k), bias = normal(rng, n);
  for (Int8Isa isa : available()) {
    const Int8Weight qw = quantize_weight(w.data(), n, k, isa);
    Int8Scratch s;
    std::vector<float> all(m * n), one(n);
    int8_linear(qw, x.data(), k, all.data(), n, m, bias.data(), nullptr, s);
    for (int64_t r = 0; r < m; ++r) {
      int8_linear(qw, x.data() + r * k, k, one.data(), n, 1, bias.data(), nullptr, s);
      for (int64_t j = 0; j < n; ++j)
        ASSERT_EQ(one[j], all[r * n + j]) << int8_isa_name(isa) << " row " << r;
    }
  }
}

// int8_ffn is int8_linear(wi, bias, GELU) then int8_linear(wo), bit for bit, on every kernel:
// with few rows (the two products) and with enough for two row blocks per pool thread (the
// fused path: each block's intermediate kept in its thread's slot), ragged k and n included,
// also with the residual layer norm after it written over x in place (the model's call, x being
// the FFN's input too); mismatched weights are an InvalidArgument.
TEST(Int8Gemm, FfnIsTheTwoLinearsBitForBit) {
  const CpuKernels& kern = select_kernels(Isa::kAuto);
  std::mt19937 rng(23);
  const int64_t h = 72, inner = 200, threads = ThreadPool::global().size();
  for (Int8Isa isa : available()) {
    const auto wi = normal(rng, inner * h, 0.05f), wo = normal(rng, h * inner, 0.05f),
               b = normal(rng, inner);
    const Int8Weight qwi = quantize_weight(wi.data(), inner, h, isa),
                     qwo = quantize_weight(wo.data(), h, inner, isa);
    int64_t fused_rows = 13;
    while (!int8_ffn_fuses(isa, fused_rows, threads)) fused_rows *= 2;
    for (const int64_t m : {int64_t{5}, fused_rows + 7}) {
      SCOPED_TRACE(std::string(int8_isa_name(isa)) + " m=" + std::to_string(m));
      ASSERT_EQ(int8_ffn_fuses(isa, m, threads), m != 5);
      auto x = normal(rng, m * h);
      for (int64_t r = 0; r < m; r += 3) x[r * h + 5] = 40.0f;  // an outlier channel
      Int8Scratch s1, s2;
      std::vector<float> mid(static_cast<size_t>(m * inner)), want(static_cast<size_t>(m * h)),
          got(want.size(), -7.0f);
      int8_linear(qwi, x.data(), h, mid.data(), inner, m, b.data(), kern.gelu, s1);
      int8_linear(qwo, mid.data(), inner, want.data(), h, m, nullptr, nullptr, s1);
      std::vector<float> mid2(mid.size());
      int8_ffn(qwi, qwo, x.data(), h, mid2.data(), got.data(), h, m, b.data(), kern.gelu, s2);
      ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
      const auto bo = normal(rng, h), gamma = normal(rng, h), beta = normal(rng, h);
      std::vector<float> xn = x, prod(want.size());
      const auto xref = norm_reference(kern, x, want, h, bo, gamma, beta);
      const RowNorm norm = in_place_norm(kern, xn.data(), h, bo, gamma, beta);
      int8_ffn(qwi, qwo, xn.data(), h, mid2.data(), prod.data(), h, m, b.data(), kern.gelu, s2,
               &norm);
      ASSERT_EQ(std::memcmp(xn.data(), xref.data(), xn.size() * sizeof(float)), 0);
    }
    Int8Scratch s;
    EXPECT_THROW(int8_ffn(qwi, qwi, nullptr, h, nullptr, nullptr, h, 1, nullptr, nullptr, s),
                 InvalidArgument);
  }
}

// int8_linear with a residual layer norm after it (the attention output projection's call) is
// the product and then sum_layer_norm over its rows, bit for bit, written over the residual in
// place: with few rows (tasks split the panels: the norm a pass of its own) and with at least
// three 48-row blocks per pool thread (whole-row tasks norm their rows in the task).
TEST(Int8Gemm, LinearWithRowNormIsTheLinearThenTheNorm) {
  const CpuKernels& kern = select_kernels(Isa::kAuto);
  std::mt19937 rng(29);
  const int64_t n = 100, k = 96;
  for (Int8Isa isa : available()) {
    const auto w = normal(rng, n * k, 0.05f), bias = normal(rng, n), gamma = normal(rng, n),
               beta = normal(rng, n);
    const Int8Weight qw = quantize_weight(w.data(), n, k, isa);
    for (const int64_t m :
         {int64_t{7}, 3 * 48 * static_cast<int64_t>(ThreadPool::global().size()) + 7}) {
      SCOPED_TRACE(std::string(int8_isa_name(isa)) + " m=" + std::to_string(m));
      const auto in = normal(rng, m * k), res = normal(rng, m * n);
      Int8Scratch s1, s2;
      std::vector<float> y(static_cast<size_t>(m * n)), want = res, got = res, y2(y.size());
      int8_linear(qw, in.data(), k, y.data(), n, m, nullptr, nullptr, s1);
      want = norm_reference(kern, want, y, n, bias, gamma, beta);
      const RowNorm norm = in_place_norm(kern, got.data(), n, bias, gamma, beta);
      int8_linear(qw, in.data(), k, y2.data(), n, m, nullptr, nullptr, s2, &norm);
      ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
    }
  }
}

// Quantization error stays small against the exact FP32 product on Gaussian data.
TEST(Int8Gemm, CloseToFp32) {
  const int64_t m = 16, n = 64, k = 384;
  std::mt19937 rng(5);
  const std::vector<float> x = normal(rng, m * k), w = normal(rng, n * k);
  std::vector<float> bias(n, 0.0f), y(m * n);
  const Int8Weight qw = quantize_weight(w.data(), n, k, select_int8_isa(Int8Isa::kAuto));
  Int8Scratch s;
  int8_linear(qw, x.data(), k, y.data(), n, m, bias.data(), nullptr, s);
  double num = 0, den = 0;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double e = 0;
      for (int64_t kk = 0; kk < k; ++kk) e += double(x[r * k + kk]) * w[j * k + kk];
      num += (y[r * n + j] - e) * (y[r * n + j] - e);
      den += e * e;
    }
  EXPECT_LT(std::sqrt(num / den), 0.01);
}

// A CPU whose FP32 kernels are AVX2's and whose best INT8 kernel is AVX-VNNI's (Intel client
// CPUs since Alder Lake: no AVX-512) takes INT8 under Precision::Auto, as AVX2-only ones do;
// AVX-512 FP32 against AVX2 INT8 keeps FP32. Simulated through the environment overrides.
TEST(Int8Gemm, AutoTakesInt8WhereAvxVnniMeetsAvx2Fp32) {
  struct Env {
    const char* name;
    std::string old;
    bool had;
    explicit Env(const char* n) : name(n), had(std::getenv(n) != nullptr) {
      if (had) old = std::getenv(n);
    }
    ~Env() { had ? setenv(name, old.c_str(), 1) : unsetenv(name); }
  } isa{"RIPVEC_CPU_ISA"}, int8{"RIPVEC_CPU_INT8"};
  if (!isa_available(Isa::kAvx2)) GTEST_SKIP() << "no AVX2";
  setenv("RIPVEC_CPU_ISA", "avx2", 1);
  try {
    setenv("RIPVEC_CPU_INT8", "avxvnni", 1);
    EXPECT_EQ(select_int8_isa(Int8Isa::kAuto), Int8Isa::kAvxVnni);
    EXPECT_TRUE(int8_faster_than_f32());
  } catch (const UnsupportedError&) {
    std::cout << "no AVX-VNNI here: its case is not checked\n";
  }
  setenv("RIPVEC_CPU_INT8", "avx2", 1);
  EXPECT_TRUE(int8_faster_than_f32());
  if (isa_available(Isa::kAvx512)) {
    setenv("RIPVEC_CPU_ISA", "avx512", 1);
    EXPECT_FALSE(int8_faster_than_f32());
  }
}

}  // namespace
}  // namespace ripvec::cpu
