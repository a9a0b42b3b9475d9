// INT8 dynamic quantization of the CPU driver's linear layers (cpu_int8_gemm.hpp): every
// kernel build available on this CPU (scalar, AVX2 vpmaddwd, AVX-512 VNNI vpdpbusd) against a
// plain reference written here from the documented formulas, and against FP32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "driver/cpu/cpu_int8_gemm.hpp"
#include "driver/cpu/cpu_kernels.hpp"

namespace ripvec::cpu {
namespace {

// Per-row symmetric quantization: scale = max|v| / 127, q = rint(v * (127 / max|v|)).
std::vector<int32_t> quant(const float* v, int64_t n, float& scale) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(v[i]));
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  std::vector<int32_t> q(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    q[i] = static_cast<int32_t>(std::clamp(std::nearbyint(v[i] * inv), -127.0f, 127.0f));
  scale = amax / 127.0f;
  return q;
}

std::vector<float> reference(const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& bias, int64_t m, int64_t n, int64_t k) {
  std::vector<std::vector<int32_t>> qw(n);
  std::vector<float> sw(n);
  for (int64_t j = 0; j < n; ++j) qw[j] = quant(&w[j * k], k, sw[j]);
  std::vector<float> y(static_cast<size_t>(m * n));
  for (int64_t r = 0; r < m; ++r) {
    float sa;
    const auto qa = quant(&x[r * k], k, sa);
    for (int64_t j = 0; j < n; ++j) {
      int64_t acc = 0;
      for (int64_t kk = 0; kk < k; ++kk) acc += int64_t(qa[kk]) * qw[j][kk];
      y[r * n + j] = float(double(acc) * double(sa) * double(sw[j]) + bias[j]);
    }
  }
  return y;
}

std::vector<Int8Isa> available() {
  std::vector<Int8Isa> out{Int8Isa::kScalar};
  for (Int8Isa i : {Int8Isa::kAvx2, Int8Isa::kAvx512Vnni}) {
    try {
      out.push_back(select_int8_isa(i));
    } catch (const std::exception&) {
      // not on this CPU
    }
  }
  return out;
}

void check_shape(int64_t m, int64_t n, int64_t k, float outlier) {
  std::mt19937 rng(static_cast<unsigned>(m * 131 + n * 7 + k));
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(m * k)), w(static_cast<size_t>(n * k)), bias(n);
  for (auto& v : x) v = nd(rng);
  for (auto& v : w) v = 0.05f * nd(rng);
  for (auto& v : bias) v = 0.1f * nd(rng);
  if (outlier != 0.0f && k > 3)
    for (int64_t r = 0; r < m; ++r) x[r * k + 3] = outlier;  // a BERT-like outlier channel
  const auto want = reference(x, w, bias, m, n, k);
  double max_ref = 0;
  for (float v : want) max_ref = std::max<double>(max_ref, std::fabs(v));
  for (Int8Isa isa : available()) {
    SCOPED_TRACE(std::string(int8_isa_name(isa)) + " m=" + std::to_string(m) +
                 " n=" + std::to_string(n) + " k=" + std::to_string(k));
    const Int8Weight qw = quantize_weight(w.data(), n, k, isa);
    Int8Scratch s;
    std::vector<float> y(static_cast<size_t>(m * (n + 5)), -7.0f);  // ldc > n: gaps untouched
    int8_linear(qw, x.data(), k, y.data(), n + 5, m, bias.data(), nullptr, s);
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t j = 0; j < n; ++j)
        ASSERT_NEAR(y[r * (n + 5) + j], want[r * n + j], 1e-5 * (1.0 + max_ref))
            << "row " << r << " col " << j;
      for (int64_t j = n; j < n + 5; ++j) ASSERT_EQ(y[r * (n + 5) + j], -7.0f);
    }
  }
}

TEST(Int8Gemm, MatchesReferenceOnModelShapes) {
  check_shape(37, 384, 384, 0.0f);
  check_shape(50, 1152, 384, 0.0f);
  check_shape(29, 384, 1536, 0.0f);
}

TEST(Int8Gemm, MatchesReferenceOnRaggedShapes) {
  for (int64_t m : {1, 5, 13, 25})
    for (int64_t n : {1, 7, 17, 33})
      for (int64_t k : {1, 3, 5, 18, 67}) check_shape(m, n, k, 0.0f);
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

// Quantization error stays small against the exact FP32 product on Gaussian data.
TEST(Int8Gemm, CloseToFp32) {
  const int64_t m = 16, n = 64, k = 384;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(m * k), w(n * k), bias(n, 0.0f), y(m * n);
  for (auto& v : x) v = nd(rng);
  for (auto& v : w) v = nd(rng);
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
  EXPECT_LT(std::sqrt(num / den), 0.02);
}

}  // namespace
}  // namespace ripvec::cpu
