// Vector top-k against a brute-force reference (double precision full sort), on every SIMD
// level the CPU offers; the int8-prefiltered search must return exactly the float32 top-k.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "index/vector_search.hpp"

using namespace ripvec::index;

namespace {

std::vector<float> random_unit_rows(size_t n, size_t dim, uint32_t seed) {
  std::minstd_rand rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(n * dim);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t j = 0; j < dim; ++j) {
      v[i * dim + j] = nd(rng);
      s += double(v[i * dim + j]) * v[i * dim + j];
    }
    for (size_t j = 0; j < dim; ++j)
      v[i * dim + j] = static_cast<float>(v[i * dim + j] / std::sqrt(s));
  }
  return v;
}

std::vector<std::pair<double, uint32_t>> brute(const std::vector<float>& q,
                                               const std::vector<float>& v, size_t n, size_t dim) {
  std::vector<std::pair<double, uint32_t>> all(n);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t j = 0; j < dim; ++j) s += double(q[j]) * v[i * dim + j];
    all[i] = {s, static_cast<uint32_t>(i)};
  }
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  return all;
}

struct CapGuard {
  explicit CapGuard(SimdLevel l) { set_simd_level_cap(l); }
  ~CapGuard() { set_simd_level_cap(SimdLevel::Avx512Vnni); }
};

}  // namespace

class VectorLevels : public ::testing::TestWithParam<SimdLevel> {};

TEST_P(VectorLevels, TopKMatchesBruteForce) {
  CapGuard g(GetParam());
  for (size_t dim : {384u, 37u, 16u, 768u}) {
    const size_t n = 8000;
    auto v = random_unit_rows(n, dim, 1 + dim);
    auto q = random_unit_rows(1, dim, 99 + dim);
    auto ref = brute(q, v, n, dim);
    for (size_t k : {1u, 10u, 100u}) {
      auto got = top_k_dot(q, v.data(), n, dim, k);
      ASSERT_EQ(got.size(), k);
      for (size_t i = 0; i < k; ++i) {
        // Random data has no near-ties at this depth, so ids must match exactly.
        EXPECT_EQ(got[i].id, ref[i].second) << "dim " << dim << " k " << k << " i " << i;
        EXPECT_NEAR(got[i].score, ref[i].first, 1e-5);
      }
      EXPECT_TRUE(std::is_sorted(got.begin(), got.end(), better));
    }
  }
}

// Filters act inside the scan: with an allow mask, both scans return the top k of the allowed
// rows (not the top k of all rows, filtered afterwards).
TEST_P(VectorLevels, AllowMaskGivesTheTopKOfAllowedRows) {
  CapGuard g(GetParam());
  const size_t n = 5000, dim = 64;
  auto v = random_unit_rows(n, dim, 77);
  std::vector<int8_t> codes(n * dim);
  std::vector<float> scales(n), err(n);
  quantize_rows(v.data(), n, dim, codes.data(), scales.data(), err.data());
  std::vector<uint8_t> allow(n, 0);
  for (size_t i = 0; i < n; i += 7) allow[i] = 1;  // 715 rows
  QuantizedRows rows{codes.data(), scales.data(), err.data(), v.data(), n, dim};
  rows.allow = allow.data();
  auto q = random_unit_rows(1, dim, 78);
  // Reference: exact scores of the allowed rows only.
  std::vector<ScoredId> want;
  for (size_t i = 0; i < n; i += 7)
    want.push_back({static_cast<uint32_t>(i), dot_f32(q.data(), v.data() + i * dim, dim)});
  std::sort(want.begin(), want.end(), better);
  for (size_t k : {1u, 10u, 1000u}) {
    auto a = top_k_dot_quantized(q, rows, k);
    auto b = top_k_dot(q, v.data(), n, dim, k, allow.data());
    const size_t expect = std::min(k, want.size());
    ASSERT_EQ(a.size(), expect) << k;
    ASSERT_EQ(b.size(), expect) << k;
    for (size_t i = 0; i < expect; ++i) {
      EXPECT_EQ(a[i].id, want[i].id) << "k " << k << " i " << i;
      EXPECT_EQ(b[i].id, want[i].id) << "k " << k << " i " << i;
      EXPECT_EQ(a[i].score, b[i].score);
    }
  }
}

TEST_P(VectorLevels, QuantizedEqualsFloatTopK) {
  CapGuard g(GetParam());
  for (size_t dim : {384u, 40u}) {
    const size_t n = 20000;
    auto v = random_unit_rows(n, dim, 5 + dim);
    std::vector<int8_t> codes(n * dim);
    std::vector<float> scales(n), err(n);
    quantize_rows(v.data(), n, dim, codes.data(), scales.data(), err.data());
    QuantizedRows rows{codes.data(), scales.data(), err.data(), v.data(), n, dim};
    for (uint32_t qs = 0; qs < 3; ++qs) {
      auto q = random_unit_rows(1, dim, 1000 + qs);
      for (size_t k : {1u, 10u, 250u}) {
        QuantizedSearchStats st;
        auto a = top_k_dot_quantized(q, rows, k, &st);
        auto b = top_k_dot(q, v.data(), n, dim, k);
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) {
          EXPECT_EQ(a[i].id, b[i].id) << "dim " << dim << " k " << k << " i " << i;
          EXPECT_EQ(a[i].score, b[i].score);
        }
        EXPECT_LT(st.rescored, n / 4) << "the int8 prefilter should discard most rows";
      }
    }
  }
}

// quantize_rows on every path is the formula: codes lround(v / scale) (half away from zero)
// clamped to [-127, 127], scale max|v| / 127, and an error bound at least the true error and
// within float rounding of it. Rows with exact ties (scale 1: v / scale = k + 0.5), a zero row,
// lengths that are not a multiple of 16, and random rows; every path gives the same bytes.
TEST_P(VectorLevels, QuantizeRowsIsTheFormulaOnEveryPath) {
  {
    CapGuard g(GetParam());
    if (simd_level() != GetParam()) GTEST_SKIP() << "this CPU lacks the level";
  }
  for (size_t dim : {384u, 40u, 19u, 1u}) {
    const size_t n = 300;
    auto v = random_unit_rows(n, dim, 90 + dim);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    for (size_t j = 0; j < dim; ++j) {  // row 0: ties; row 1: zero; row 2: a huge value
      const float tie[] = {127.0f, 2.5f, -3.5f, 0.5f, -0.5f, 126.5f, -126.5f, 1.5f, -0.0f};
      v[j] = j == 0 ? 127.0f : tie[j % 9];
      v[dim + j] = 0.0f;
      v[2 * dim + j] = j == dim / 2 ? 3e38f : 1e-30f * static_cast<float>(j);
      // Rows 3-5 (the review of 2026-12-07: VMAXPS passes a NaN on where std::max drops it,
      // and lanes past the end of a row of infinities added NaN): a NaN in the first block and
      // one in the last, and a row of +inf.
      v[3 * dim + j] = j == 0 ? 1.0f : j == 16 % dim ? nan : 0.01f;
      v[4 * dim + j] = j + 1 == dim ? nan : 0.5f * static_cast<float>(j % 3);
      v[5 * dim + j] = inf;
    }
    std::vector<int8_t> codes(n * dim), ref_codes(n * dim);
    std::vector<float> scales(n), err(n);
    {
      CapGuard g(GetParam());
      quantize_rows(v.data(), n, dim, codes.data(), scales.data(), err.data());
    }
    std::vector<int8_t> scalar_codes(n * dim);
    std::vector<float> scalar_scales(n), scalar_err(n);
    {
      CapGuard g(SimdLevel::Scalar);
      quantize_rows(v.data(), n, dim, scalar_codes.data(), scalar_scales.data(), scalar_err.data());
    }
    auto same = [](float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); };
    for (size_t r = 0; r < n; ++r) {
      const float* row = v.data() + r * dim;
      float m = 0;
      for (size_t j = 0; j < dim; ++j) m = std::max(m, std::fabs(row[j]));
      const float scale = m / 127.0f;
      ASSERT_TRUE(same(scales[r], scale)) << "dim " << dim << " row " << r << ": " << scales[r];
      double e2 = 0;
      for (size_t j = 0; j < dim; ++j) {
        const long q = scale > 0 ? std::clamp(std::lround(row[j] / scale), -127L, 127L) : 0;
        ASSERT_EQ(codes[r * dim + j], q) << "dim " << dim << " row " << r << " col " << j;
        const double d = double(row[j]) - double(scale) * double(q);
        e2 += d * d;
      }
      const double want = std::sqrt(e2);
      EXPECT_TRUE(same(scalar_scales[r], scales[r])) << "dim " << dim << " row " << r;
      EXPECT_TRUE(same(scalar_err[r], err[r])) << "dim " << dim << " row " << r;
      if (!std::all_of(row, row + dim, [](float x) { return std::isfinite(x); })) {
        EXPECT_FALSE(std::isfinite(err[r])) << "dim " << dim << " row " << r;  // so is the bound
        continue;
      }
      EXPECT_GE(double(err[r]), want) << "dim " << dim << " row " << r;
      EXPECT_LE(double(err[r]), want * (1 + 1e-5) + 1e-37) << "dim " << dim << " row " << r;
    }
    EXPECT_EQ(scalar_codes, codes) << "dim " << dim;
    if (dim >= 9) {  // the ties: 2.5 -> 3, -3.5 -> -4, 0.5 -> 1, -0.5 -> -1, 126.5 -> 127
      EXPECT_EQ(codes[1], 3);
      EXPECT_EQ(codes[2], -4);
      EXPECT_EQ(codes[3], 1);
      EXPECT_EQ(codes[4], -1);
      EXPECT_EQ(codes[5], 127);
      EXPECT_EQ(codes[6], -127);
      EXPECT_EQ(codes[7], 2);
    }
    EXPECT_EQ(scales[1], 0.0f);
    EXPECT_EQ(err[1], std::nextafter(0.0f, 1.0f));
  }
}

INSTANTIATE_TEST_SUITE_P(Index, VectorLevels,
                         ::testing::Values(SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512,
                                           SimdLevel::Avx512Vnni),
                         [](const auto& i) { return simd_level_name(i.param); });

TEST(SearchVector, QuantizedHandlesNearDuplicatesAndTies) {
  // Adversarial: many rows within quantization error of each other and exact duplicates.
  const size_t dim = 64, n = 5000;
  auto base = random_unit_rows(1, dim, 3);
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0, 1e-3f);
  std::vector<float> v(n * dim);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t j = 0; j < dim; ++j) {
      v[i * dim + j] = base[j] + (i % 7 == 0 ? 0.0f : nd(rng));
      s += double(v[i * dim + j]) * v[i * dim + j];
    }
    for (size_t j = 0; j < dim; ++j)
      v[i * dim + j] = static_cast<float>(v[i * dim + j] / std::sqrt(s));
  }
  std::vector<int8_t> codes(n * dim);
  std::vector<float> scales(n), err(n);
  quantize_rows(v.data(), n, dim, codes.data(), scales.data(), err.data());
  QuantizedRows rows{codes.data(), scales.data(), err.data(), v.data(), n, dim};
  for (size_t k : {1u, 10u, 50u}) {
    auto a = top_k_dot_quantized(base, rows, k);
    auto b = top_k_dot(base, v.data(), n, dim, k);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].id, b[i].id) << i;
      EXPECT_EQ(a[i].score, b[i].score);
    }
  }
}

TEST(SearchVector, QuantizationErrorBoundHolds) {
  const size_t dim = 384, n = 2000;
  auto v = random_unit_rows(n, dim, 8);
  std::vector<int8_t> codes(n * dim);
  std::vector<float> scales(n), err(n);
  quantize_rows(v.data(), n, dim, codes.data(), scales.data(), err.data());
  for (size_t i = 0; i < n; ++i) {
    double e2 = 0;
    for (size_t j = 0; j < dim; ++j) {
      double d = double(v[i * dim + j]) - double(scales[i]) * codes[i * dim + j];
      e2 += d * d;
    }
    EXPECT_LE(std::sqrt(e2), err[i]);
    EXPECT_LT(err[i], 0.02f);  // int8 keeps ~1% of the norm
  }
}

TEST(SearchVector, EdgeCases) {
  std::vector<float> q(8, 0.0f);
  EXPECT_TRUE(top_k_dot(q, nullptr, 0, 8, 10).empty());
  std::vector<float> v = {1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  q[1] = 1;
  auto r = top_k_dot(q, v.data(), 2, 8, 10);  // k > n
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].id, 1u);
  EXPECT_FLOAT_EQ(r[0].score, 1.0f);
  // A zero row quantizes to scale 0, error 0, and still ranks.
  std::vector<float> z(16, 0.0f);
  std::vector<int8_t> codes(16);
  std::vector<float> scales(2), err(2);
  quantize_rows(z.data(), 2, 8, codes.data(), scales.data(), err.data());
  EXPECT_EQ(scales[0], 0.0f);
  QuantizedRows rows{codes.data(), scales.data(), err.data(), z.data(), 2, 8};
  auto rz = top_k_dot_quantized(q, rows, 1);
  ASSERT_EQ(rz.size(), 1u);
  EXPECT_EQ(rz[0].id, 0u);
}
