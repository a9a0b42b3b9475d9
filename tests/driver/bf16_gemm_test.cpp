// BF16 linear layers of the CPU driver (cpu_bf16_gemm.hpp): the rounding against its definition,
// every kernel available on this CPU (the emulated one always, AMX-BF16 where the CPU and OS
// run it) against a reference written here from the formula (double sums of the rounded
// operands' products), row by row against one-row calls (batch independence), and the driver's
// linear()/linear_gelu() in BF16 against FP32.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attn_head_args.hpp"
#include "driver/cpu/cpu_bf16_gemm.hpp"
#include "driver/cpu/cpu_driver.hpp"
#include "driver/cpu/cpu_kernels.hpp"
#include "driver/row_norm_util.hpp"
#include "ripvec/error.hpp"
#include "util/thread_pool.hpp"

namespace ripvec::cpu {
namespace {

using test::in_place_norm;
using test::norm_reference;

std::vector<float> normal(std::mt19937& rng, int64_t n, float scale = 1.0f) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = scale * nd(rng);
  return v;
}

// bf16 by its definition, through doubles: the nearest value with 8 significant bits (ties to
// the even one), subnormal inputs as signed zero, NaN quiet.
float bf16_by_definition(float v) {
  if (std::isnan(v)) return std::numeric_limits<float>::quiet_NaN();
  if (std::fpclassify(v) == FP_SUBNORMAL) return std::signbit(v) ? -0.0f : 0.0f;
  if (v == 0.0f || std::isinf(v)) return v;
  int e = 0;
  const double f = std::frexp(static_cast<double>(v), &e);  // v = f * 2^e, 0.5 <= |f| < 1
  const double scaled = std::ldexp(f, 8);                   // 8 significant bits
  const double r = std::nearbyint(scaled);                  // ties to even (default mode)
  const double out = std::ldexp(r, e - 8);
  return out > std::numeric_limits<float>::max()    ? std::numeric_limits<float>::infinity()
         : out < -std::numeric_limits<float>::max() ? -std::numeric_limits<float>::infinity()
                                                    : static_cast<float>(out);
}

std::vector<Bf16Isa> kernels() {
  std::vector<Bf16Isa> v{Bf16Isa::kEmulated};
  if (amx_bf16_available()) v.push_back(Bf16Isa::kAmx);
  return v;
}

// y = bias + sum bf16(x) bf16(W) in double, and the bound each output may differ by: a few
// FP32 ulps of sum |products| (the kernels sum in FP32, in orders of their own).
void reference(const std::vector<float>& x, const std::vector<float>& w, const float* bias,
               int64_t m, int64_t n, int64_t k, std::vector<double>& y, std::vector<double>& tol) {
  y.assign(static_cast<size_t>(m * n), 0.0);
  tol.assign(static_cast<size_t>(m * n), 0.0);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double s = bias ? bias[j] : 0.0, a = bias ? std::fabs(bias[j]) : 0.0;
      for (int64_t c = 0; c < k; ++c) {
        const double p = static_cast<double>(bf16_round(x[r * k + c])) * bf16_round(w[j * k + c]);
        s += p;
        a += std::fabs(p);
      }
      y[r * n + j] = s;
      tol[r * n + j] = 4.0 * std::numeric_limits<float>::epsilon() * a * std::log2(k + 2.0) + 1e-30;
    }
}

TEST(Bf16Round, MatchesDefinition) {
  std::mt19937 rng(1);
  std::vector<float> v = normal(rng, 20000, 3.0f);
  for (uint32_t bits :
       {0x3f800000u, 0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu, 0xff7fffffu, 0x00000001u,
        0x80400000u, 0x00800000u, 0x7f800000u, 0xff800000u, 0x80000000u, 0x3f7fffffu, 0x47ffffffu})
    v.push_back(std::bit_cast<float>(bits));
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 20000; ++i) v.push_back(std::bit_cast<float>(any(rng)));
  for (float f : v) {
    const float got = bf16_round(f), want = bf16_by_definition(f);
    SCOPED_TRACE(std::to_string(std::bit_cast<uint32_t>(f)));
    EXPECT_EQ(std::bit_cast<uint32_t>(got) & 0xffffu, 0u);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(got));
    } else {
      EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want));
    }
  }
}

TEST(Bf16Gemm, EveryKernelMatchesTheFormula) {
  const CpuKernels& kern = select_kernels(Isa::kAuto);
  std::mt19937 rng(7);
  const int64_t shapes[][3] = {{1, 1, 1},       {5, 17, 31},     {33, 40, 64},  {64, 384, 384},
                               {200, 96, 1536}, {37, 1152, 384}, {130, 33, 100}};
  for (Bf16Isa isa : kernels()) {
    for (const auto& sh : shapes) {
      const int64_t m = sh[0], n = sh[1], k = sh[2];
      for (int variant = 0; variant < 2; ++variant) {
        const bool with_bias = variant == 0, gelu = variant == 1;
        SCOPED_TRACE(std::string(bf16_isa_name(isa)) + " m=" + std::to_string(m) + " n=" +
                     std::to_string(n) + " k=" + std::to_string(k) + (gelu ? " gelu" : " bias"));
        const auto x = normal(rng, m * k), w = normal(rng, n * k, 0.05f), b = normal(rng, n);
        const Bf16Weight bw = pack_bf16_weight(kern, w.data(), n, k, isa);
        ASSERT_EQ(bw.isa, isa);
        Bf16Scratch s;
        // ldc > n with a sentinel beyond n: nothing may be written there.
        const int64_t ldc = n + 3;
        std::vector<float> y(static_cast<size_t>(m * ldc), -7.0f);
        bf16_linear(kern, bw, x.data(), k, y.data(), ldc, m, with_bias ? b.data() : nullptr, gelu,
                    s);
        std::vector<double> ref, tol;
        reference(x, w, with_bias ? b.data() : nullptr, m, n, k, ref, tol);
        for (int64_t r = 0; r < m; ++r) {
          for (int64_t j = 0; j < n; ++j) {
            double want = ref[r * n + j];
            if (gelu) want = 0.5 * want * (1.0 + std::erf(want / std::sqrt(2.0)));
            ASSERT_NEAR(y[r * ldc + j], want, tol[r * n + j] + 1e-6 * std::fabs(want))
                << r << "," << j;
          }
          for (int64_t j = n; j < ldc; ++j) ASSERT_EQ(y[r * ldc + j], -7.0f) << "wrote past n";
        }
      }
    }
  }
}

// bf16_ffn is bf16_linear(wi, bias, gelu) then bf16_linear(wo), bit for bit, on every kernel:
// with few rows (the two products) and with enough to give every pool thread two 128-row blocks
// (on AMX, the fused kernel), also with the residual layer norm after it written over x;
// mismatched weights are an InvalidArgument.
TEST(Bf16Gemm, FfnIsTheTwoLinearsBitForBit) {
  const CpuKernels& kern = select_kernels(Isa::kAuto);
  std::mt19937 rng(17);
  const int64_t h = 96, inner = 200, fused_rows = 2 * 128 * ThreadPool::global().size() + 37;
  for (Bf16Isa isa : kernels()) {
    const auto wi = normal(rng, inner * h, 0.05f), wo = normal(rng, h * inner, 0.05f),
               b = normal(rng, inner);
    const Bf16Weight bwi = pack_bf16_weight(kern, wi.data(), inner, h, isa),
                     bwo = pack_bf16_weight(kern, wo.data(), h, inner, isa);
    for (const int64_t m : {int64_t{5}, fused_rows}) {
      SCOPED_TRACE(std::string(bf16_isa_name(isa)) + " m=" + std::to_string(m));
      const auto x = normal(rng, m * h);
      Bf16Scratch s1, s2;
      std::vector<float> mid(static_cast<size_t>(m * inner)), want(static_cast<size_t>(m * h)),
          got(want.size(), -7.0f);
      bf16_linear(kern, bwi, x.data(), h, mid.data(), inner, m, b.data(), true, s1);
      bf16_linear(kern, bwo, mid.data(), inner, want.data(), h, m, nullptr, false, s1);
      std::vector<float> mid2(mid.size());
      bf16_ffn(kern, bwi, bwo, x.data(), h, mid2.data(), got.data(), h, m, b.data(), true, s2);
      ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
      // With the residual layer norm after it, written over x in place (the model's call): the
      // same as sum_layer_norm over the product's rows afterwards.
      const auto bo = normal(rng, h), gamma = normal(rng, h), beta = normal(rng, h);
      std::vector<float> xn = x, prod(want.size());
      const auto xref = norm_reference(kern, x, want, h, bo, gamma, beta);
      const RowNorm norm = in_place_norm(kern, xn.data(), h, bo, gamma, beta);
      bf16_ffn(kern, bwi, bwo, xn.data(), h, mid2.data(), prod.data(), h, m, b.data(), true, s2,
               &norm);
      ASSERT_EQ(std::memcmp(xn.data(), xref.data(), xn.size() * sizeof(float)), 0);
    }
    Bf16Scratch s;
    EXPECT_THROW(bf16_ffn(kern, bwi, bwi, nullptr, h, nullptr, nullptr, h, 1, nullptr, true, s),
                 InvalidArgument);
  }
}

// bf16_linear with a residual layer norm after it (the attention output projection's call) is
// the product and then sum_layer_norm over its rows, bit for bit, written over the residual in
// place: with few rows (the norm a pass of its own) and with enough for whole-row tasks (on AMX,
// each task's rows normed in the task).
TEST(Bf16Gemm, LinearWithRowNormIsTheLinearThenTheNorm) {
  const CpuKernels& kern = select_kernels(Isa::kAuto);
  std::mt19937 rng(19);
  const int64_t n = 96, k = 96, whole_rows = 3 * 128 * ThreadPool::global().size() + 11;
  for (Bf16Isa isa : kernels()) {
    const auto w = normal(rng, n * k, 0.05f), bias = normal(rng, n), gamma = normal(rng, n),
               beta = normal(rng, n);
    const Bf16Weight bw = pack_bf16_weight(kern, w.data(), n, k, isa);
    for (const int64_t m : {int64_t{7}, whole_rows}) {
      SCOPED_TRACE(std::string(bf16_isa_name(isa)) + " m=" + std::to_string(m));
      const auto in = normal(rng, m * k), res = normal(rng, m * n);
      Bf16Scratch s1, s2;
      std::vector<float> y(static_cast<size_t>(m * n)), want = res, got = res, y2(y.size());
      bf16_linear(kern, bw, in.data(), k, y.data(), n, m, nullptr, false, s1);
      want = norm_reference(kern, want, y, n, bias, gamma, beta);
      const RowNorm norm = in_place_norm(kern, got.data(), n, bias, gamma, beta);
      bf16_linear(kern, bw, in.data(), k, y2.data(), n, m, nullptr, false, s2, &norm);
      ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
    }
  }
}

// A row's result does not depend on the other rows of the call; strided x (lda > k) is read in
// place; a NaN in one row stays in that row.
TEST(Bf16Gemm, RowsAreIndependentAndStridesHonoured) {
  const CpuKernels& kern = select_kernels(Isa::kAuto);
  std::mt19937 rng(11);
  const int64_t m = 77, n = 96, k = 384, lda = k + 9;
  std::vector<float> x = normal(rng, m * lda);
  x[5 * lda + 17] = std::numeric_limits<float>::quiet_NaN();
  const auto w = normal(rng, n * k, 0.05f), b = normal(rng, n);
  for (Bf16Isa isa : kernels()) {
    SCOPED_TRACE(bf16_isa_name(isa));
    const Bf16Weight bw = pack_bf16_weight(kern, w.data(), n, k, isa);
    Bf16Scratch s;
    std::vector<float> all(static_cast<size_t>(m * n));
    bf16_linear(kern, bw, x.data(), lda, all.data(), n, m, b.data(), false, s);
    for (int64_t r = 0; r < m; ++r) {
      std::vector<float> one(static_cast<size_t>(n));
      bf16_linear(kern, bw, x.data() + r * lda, lda, one.data(), n, 1, b.data(), false, s);
      for (int64_t j = 0; j < n; ++j) {
        if (r == 5) {
          ASSERT_TRUE(std::isnan(all[r * n + j])) << j;
        } else {
          ASSERT_EQ(one[j], all[r * n + j]) << "row " << r << " col " << j;
        }
      }
    }
  }
}

// The driver's linear layers with BF16 on: close to FP32 (cosine per row), and paused runs are
// exact FP32 again.
TEST(Bf16Gemm, DriverLinearCloseToF32AndPauseIsExact) {
  std::mt19937 rng(3);
  const int64_t m = 96, n = 384, k = 384;
  const auto x = normal(rng, m * k), w = normal(rng, n * k, 0.05f), b = normal(rng, n, 0.1f);
  CpuDriver d;
  d.reserve_scratch(64 << 20);
  auto host = [](const std::vector<float>& v, std::vector<int64_t> shape) {
    HostTensorRef h;
    h.rank = static_cast<int>(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) h.shape[i] = shape[i];
    h.dtype = DType::F32;
    h.data = v.data();
    return h;
  };
  using Tensor = CpuDriver::Tensor;
  const Tensor tw = d.load_weight(host(w, {n, k}), DType::F32);
  const Tensor tb = d.load_weight(host(b, {n}), DType::F32);
  Tensor tx = d.alloc(DType::F32, {m, k});
  std::memcpy(tx.data, x.data(), x.size() * sizeof(float));
  Tensor f32 = d.alloc(DType::F32, {m, n}), bf = d.alloc(DType::F32, {m, n}),
         paused = d.alloc(DType::F32, {m, n});
  d.linear_gelu(f32, tx, tw, tb);
  d.set_bf16(true);
  d.linear_gelu(bf, tx, tw, tb);
  d.set_reduced_paused(true);
  d.linear_gelu(paused, tx, tw, tb);
  d.set_reduced_paused(false);
  const float* a = static_cast<const float*>(f32.data);
  const float* q = static_cast<const float*>(bf.data);
  const float* p = static_cast<const float*>(paused.data);
  // BF16 really ran: the rounded operands change the results.
  EXPECT_NE(std::vector<float>(a, a + m * n), std::vector<float>(q, q + m * n));
  for (int64_t r = 0; r < m; ++r) {
    double dot = 0, na = 0, nq = 0;
    for (int64_t j = 0; j < n; ++j) {
      dot += double(a[r * n + j]) * q[r * n + j];
      na += double(a[r * n + j]) * a[r * n + j];
      nq += double(q[r * n + j]) * q[r * n + j];
      ASSERT_EQ(p[r * n + j], a[r * n + j]) << "paused is not FP32";
    }
    EXPECT_GE(dot / std::sqrt(na * nq), 0.9999) << "row " << r << " (" << d.bf16_isa_name() << ")";
  }
}

// Until the AMX kernel is verified on an AMX CPU, only $RIPVEC_CPU_BF16=amx takes it: without
// the variable kAuto is the emulated kernel on every CPU, AMX ones included, and Auto precision
// never picks BF16.
// Auto runs the AMX kernel exactly where the CPU and OS allow it (verified there), and then
// BF16 is Auto's choice over FP32; elsewhere the emulation, never Auto's choice.
TEST(Bf16Gemm, AutoTakesAmxExactlyWhereItRuns) {
  if (std::getenv("RIPVEC_CPU_BF16") != nullptr) GTEST_SKIP() << "RIPVEC_CPU_BF16 is set";
  const bool amx = amx_bf16_available();
  EXPECT_EQ(select_bf16_isa(Bf16Isa::kAuto), amx ? Bf16Isa::kAmx : Bf16Isa::kEmulated);
  EXPECT_EQ(bf16_faster_than_f32(), amx);
}

// Asking for AMX where the CPU (or OS) has none is a clear error, never a crash (#UD) or a
// silent fallback; Auto then stays on the emulated kernel and is not Auto's choice.
TEST(Bf16Gemm, AmxOnACpuWithoutItIsAClearError) {
  if (amx_bf16_available()) GTEST_SKIP() << "this CPU runs AMX-BF16";
  try {
    select_bf16_isa(Bf16Isa::kAmx);
    FAIL() << "no error";
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("AMX-BF16"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(bf16_faster_than_f32());  // whatever $RIPVEC_CPU_BF16 says
}

// The BF16 attention (cpu::attention_bf16) against the FP32 kernel on the same inputs: every
// output within the error of BF16 operands (q, k, v and probabilities rounded: about 2^-8
// relative each), over head sizes with and without a 16-float tail, sequences that are not a
// whole number of query or key blocks (odd key counts: the last V pair is half padding), query
// ranges that start inside a sequence, and sliding windows (odd window starts: a key added in
// front to keep V's pairs aligned, masked).
// Each kernel where it runs: kDot on every shape, kAmx on those with a head size that is a
// multiple of 16 (more than one 256-key softmax block, head sizes 16 to 128, windows of 0 to
// 200 keys, one wider than a key block) on a CPU with AMX.
class Bf16Attention : public ::testing::TestWithParam<Bf16AttnKernel> {};

TEST_P(Bf16Attention, CloseToF32OnEveryShape) {
  if (!attention_bf16_available()) GTEST_SKIP() << "needs AVX512-BF16";
  const Bf16AttnKernel kernel = GetParam();
  if (kernel == Bf16AttnKernel::kAmx && !amx_bf16_available()) GTEST_SKIP() << "needs AMX-BF16";
  const CpuKernels& f32 = select_kernels(Isa::kAuto);
  std::mt19937 rng(7);
  struct Case {
    int hd;
    int64_t len, q_begin, q_end;
    int window;
  };
  for (const Case& c : std::vector<Case>{{32, 256, 0, 256, -1},
                                         {32, 77, 0, 77, -1},
                                         {32, 1, 0, 1, -1},
                                         {64, 131, 32, 131, -1},
                                         {40, 45, 0, 45, -1},
                                         {32, 200, 64, 160, 37},
                                         {64, 300, 0, 300, 64},
                                         {32, 99, 0, 99, 0},
                                         {16, 600, 0, 600, -1},
                                         {48, 513, 100, 420, -1},
                                         {128, 257, 0, 257, -1},
                                         {64, 31, 0, 31, -1},
                                         {32, 700, 0, 700, 200},
                                         {16, 300, 33, 290, 5}}) {
    const int64_t nh = 2, H = nh * c.hd, ld = 3 * H;
    std::vector<float> qkv = normal(rng, c.len * ld, 1.5f);
    std::vector<float> out_f32(static_cast<size_t>(c.len * H), 0.0f), out_bf16 = out_f32;
    const int64_t kv = attn_kv_floats(c.len, c.q_end - c.q_begin, c.window, c.hd) + 64;
    std::vector<float> work(kAttnWorkFloats + 16), kvbuf(static_cast<size_t>(kv));
    double max_diff = 0, sum_diff = 0;
    int64_t count = 0;
    for (int64_t h = 0; h < nh; ++h) {
      AttnArgs a = test::head_args(qkv.data(), out_f32.data(), h, nh, c.hd, c.len, c.q_begin,
                                   c.q_end, c.window, work.data(), kvbuf.data());
      f32.attention(a);
      a.out = out_bf16.data() + h * c.hd;
      if (kernel == Bf16AttnKernel::kAmx && !attention_amx_runs(a)) break;
      attention_bf16(a, kernel);
      for (int64_t r = c.q_begin; r < c.q_end; ++r)
        for (int64_t d = 0; d < c.hd; ++d) {
          const double diff = std::fabs(double(out_f32[r * H + h * c.hd + d]) -
                                        double(out_bf16[r * H + h * c.hd + d]));
          ASSERT_TRUE(std::isfinite(out_bf16[r * H + h * c.hd + d]));
          max_diff = std::max(max_diff, diff);
          sum_diff += diff;
          ++count;
        }
      // Rows outside the range are not written.
      for (int64_t r = 0; r < c.q_begin; ++r) EXPECT_EQ(out_bf16[r * H + h * c.hd], 0.0f);
    }
    if (count == 0) continue;  // a shape kAmx does not take
    const std::string what = "hd " + std::to_string(c.hd) + " len " + std::to_string(c.len) +
                             " window " + std::to_string(c.window);
    // v is N(0, 1.5²): outputs are weighted means of v, BF16 moves each by ~1e-2 at most.
    EXPECT_LT(max_diff, 0.05) << what;
    EXPECT_LT(sum_diff / static_cast<double>(count), 0.005) << what;
    if (c.len > 1) EXPECT_GT(max_diff, 0.0) << what << ": the BF16 products did not run";
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, Bf16Attention,
                         ::testing::Values(Bf16AttnKernel::kDot, Bf16AttnKernel::kAmx),
                         [](const ::testing::TestParamInfo<Bf16AttnKernel>& i) {
                           return std::string(i.param == Bf16AttnKernel::kAmx ? "Amx" : "Dot");
                         });

}  // namespace
}  // namespace ripvec::cpu
