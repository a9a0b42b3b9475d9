// The AMX-BF16 kernel of the CPU driver (cpu_bf16_amx_impl.hpp) compiled against an emulation
// of the tile instructions, written here from the pseudo-code of Intel's SDM (LDTILECFG,
// TILELOADD, TILESTORED, TILEZERO, TDPBF16PS, TILERELEASE), so that its tile configuration,
// the pair layout of its packed weights, its A/B/C tile bookkeeping and its edge masks are
// checked on every CPU with AVX512-BF16 (the conversion instruction is real), not only on one
// with AMX. The emulation refuses what the hardware would fault on or compute wrongly: a tile
// used before a configuration is loaded in that thread, a palette other than 1, non-zero
// reserved bytes, tiles beyond 8, and shapes that do not match (K of A against the rows of B,
// N of B against the width of C, the rows of A against those of C).
#include <immintrin.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace amx_sim {

struct Config {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(Config) == 64);

inline thread_local bool configured = false;
inline thread_local Config config;
inline thread_local uint8_t tiles[8][16][64];

[[noreturn]] inline void fault(const char* what) {
  throw std::logic_error(std::string("AMX emulation: ") + what);
}
inline void load_config(const void* p) {
  std::memcpy(&config, p, sizeof config);
  if (config.palette != 1) fault("palette is not 1");
  for (uint8_t b : config.reserved)
    if (b != 0) fault("reserved bytes are not zero");
  for (int t = 0; t < 16; ++t) {
    if (t >= 8 && (config.colsb[t] != 0 || config.rows[t] != 0)) fault("tile 8-15 configured");
    if (config.colsb[t] > 64 || config.rows[t] > 16) fault("tile larger than 16 x 64 bytes");
  }
  configured = true;
  std::memset(tiles, 0, sizeof tiles);
}
inline void check(int t) {
  if (!configured) fault("tile used before LDTILECFG in this thread");
  if (t < 0 || t >= 8 || config.rows[t] == 0 || config.colsb[t] == 0) fault("tile not configured");
}
inline void load(int t, const void* base, long stride) {
  check(t);
  for (int r = 0; r < config.rows[t]; ++r)
    std::memcpy(tiles[t][r], static_cast<const char*>(base) + r * stride, config.colsb[t]);
}
inline void store(int t, void* base, long stride) {
  check(t);
  for (int r = 0; r < config.rows[t]; ++r)
    std::memcpy(static_cast<char*>(base) + r * stride, tiles[t][r], config.colsb[t]);
}
inline void zero(int t) {
  check(t);
  std::memset(tiles[t], 0, sizeof tiles[t]);
}
inline float widen(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// TDPBF16PS: C[m][n] += A[m][2k] B[k][2n] + A[m][2k+1] B[k][2n+1] over k < colsb(A) / 4.
inline void dot(int c, int a, int b) {
  check(c);
  check(a);
  check(b);
  if (config.colsb[a] / 4 != config.rows[b]) fault("K of A differs from the rows of B");
  if (config.colsb[c] != config.colsb[b]) fault("N of C differs from N of B");
  if (config.rows[c] != config.rows[a]) fault("M of C differs from M of A");
  for (int m = 0; m < config.rows[c]; ++m) {
    auto* cr = reinterpret_cast<float*>(tiles[c][m]);
    const auto* ar = reinterpret_cast<const uint16_t*>(tiles[a][m]);
    for (int k = 0; k < config.colsb[a] / 4; ++k) {
      const auto* br = reinterpret_cast<const uint16_t*>(tiles[b][k]);
      for (int n = 0; n < config.colsb[c] / 4; ++n) {
        cr[n] += widen(ar[2 * k]) * widen(br[2 * n]);
        cr[n] += widen(ar[2 * k + 1]) * widen(br[2 * n + 1]);
      }
    }
  }
}

}  // namespace amx_sim

#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbf16ps
#define _tile_loadconfig(p) amx_sim::load_config(p)
#define _tile_release() (amx_sim::configured = false)
#define _tile_loadd(t, base, stride) amx_sim::load(t, base, stride)
#define _tile_stored(t, base, stride) amx_sim::store(t, base, stride)
#define _tile_zero(t) amx_sim::zero(t)
#define _tile_dpbf16ps(c, a, b) amx_sim::dot(c, a, b)

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attn_head_args.hpp"
#include "driver/cpu/cpu_bf16_amx_impl.hpp"
#include "driver/cpu/cpu_bf16_attn_amx_impl.hpp"
#include "driver/cpu/cpu_kernels.hpp"

namespace ripvec::cpu {
namespace {

bool cpu_converts_bf16() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}

// The AMX kernel on the emulated tiles against the emulated-FP32 kernel (the same products,
// summed in another order): within 4 eps log2(k + 2) of sum |products|, nothing written past
// n, a NaN row kept in its row; single-threaded and on the pool.
TEST(Bf16AmxSim, AmxKernelMatchesTheEmulatedKernel) {
  if (!cpu_converts_bf16()) GTEST_SKIP() << "needs AVX512-BF16 for the conversion";
  const CpuKernels& kern = select_kernels(Isa::kAuto);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t shapes[][3] = {{1, 1, 1},       {5, 17, 31},    {33, 40, 64},    {64, 384, 384},
                               {200, 96, 1536}, {130, 33, 100}, {300, 1152, 384}};
  for (const auto& sh : shapes) {
    const int64_t m = sh[0], n = sh[1], k = sh[2], lda = k + 3, ldc = n + 5;
    for (const bool gelu : {false, true}) {
      SCOPED_TRACE("m=" + std::to_string(m) + " n=" + std::to_string(n) +
                   " k=" + std::to_string(k) + (gelu ? " gelu" : ""));
      std::vector<float> x(static_cast<size_t>(m * lda)), w(static_cast<size_t>(n * k)),
          bias(static_cast<size_t>(n));
      for (auto& v : x) v = nd(rng);
      for (auto& v : w) v = 0.05f * nd(rng);
      for (auto& v : bias) v = nd(rng);
      if (m > 3) x[3 * lda + k / 2] = std::numeric_limits<float>::quiet_NaN();
      Bf16Weight amx;
      amx.isa = Bf16Isa::kAmx;
      amx.n = n;
      amx.k = k;
      pack_amx(amx, w.data(), n, k);
      const Bf16Weight ref = pack_bf16_weight(kern, w.data(), n, k, Bf16Isa::kEmulated);
      Bf16Scratch s1, s2;
      std::vector<float> y(static_cast<size_t>(m * ldc), -7.0f), want(y.size(), -7.0f);
      amx_linear(amx, x.data(), lda, y.data(), ldc, m, bias.data(), gelu ? kern.gelu : nullptr, s1);
      bf16_linear(kern, ref, x.data(), lda, want.data(), ldc, m, bias.data(), gelu, s2);
      for (int64_t r = 0; r < m; ++r) {
        double mag = 0;  // sum |products| of the row's largest output, a bound for all
        for (int64_t c = 0; c < k; ++c) mag += std::fabs(bf16_round(x[r * lda + c]));
        const double tol =
            4.0 * std::numeric_limits<float>::epsilon() * std::log2(k + 2.0) * (mag * 0.25 + 4.0) +
            1e-6;
        for (int64_t j = 0; j < n; ++j) {
          const float a = y[r * ldc + j], b = want[r * ldc + j];
          if (r == 3 && m > 3) {
            ASSERT_TRUE(std::isnan(a)) << j;
          } else {
            ASSERT_NEAR(a, b, tol + 1e-6 * std::fabs(b)) << r << "," << j;
          }
        }
        for (int64_t j = n; j < ldc; ++j) ASSERT_EQ(y[r * ldc + j], -7.0f) << "wrote past n";
      }
    }
  }
}

// The fused FFN (amx_ffn) on the emulated tiles, bit for bit what amx_linear(wi, bias, gelu) then
// amx_linear(wo) compute: intermediate widths that are not a whole panel (its pad must be zero
// in the down projection's input), row counts that end inside a 32-row block and inside a
// 128-row task, strided input and output, a NaN kept in its row; nothing written past wo.n.
TEST(Bf16AmxSim, FusedFfnIsTheTwoProductsBitForBit) {
  if (!cpu_converts_bf16()) GTEST_SKIP() << "needs AVX512-BF16 for the conversion";
  const CpuKernels& kern = select_kernels(Isa::kAuto);
  std::mt19937 rng(13);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t shapes[][3] = {{1, 40, 33}, {33, 64, 100}, {130, 384, 1536}, {300, 96, 200}};
  for (const auto& sh : shapes) {
    const int64_t m = sh[0], h = sh[1], inner = sh[2], lda = h + 3, ldc = h + 5;
    SCOPED_TRACE("m=" + std::to_string(m) + " h=" + std::to_string(h) +
                 " i=" + std::to_string(inner));
    std::vector<float> x(static_cast<size_t>(m * lda)), wi(static_cast<size_t>(inner * h)),
        wo(static_cast<size_t>(h * inner)), bias(static_cast<size_t>(inner));
    for (auto& v : x) v = nd(rng);
    for (auto& v : wi) v = 0.05f * nd(rng);
    for (auto& v : wo) v = 0.05f * nd(rng);
    for (auto& v : bias) v = nd(rng);
    if (m > 3) x[3 * lda + h / 2] = std::numeric_limits<float>::quiet_NaN();
    auto pack = [](const std::vector<float>& w, int64_t n, int64_t k) {
      Bf16Weight b;
      b.isa = Bf16Isa::kAmx;
      b.n = n;
      b.k = k;
      pack_amx(b, w.data(), n, k);
      return b;
    };
    const Bf16Weight bwi = pack(wi, inner, h), bwo = pack(wo, h, inner);
    Bf16Scratch s1, s2;
    std::vector<float> mid(static_cast<size_t>(m * inner)),
        want(static_cast<size_t>(m * ldc), -7.0f), got(want.size(), -7.0f);
    amx_linear(bwi, x.data(), lda, mid.data(), inner, m, bias.data(), kern.gelu, s1);
    amx_linear(bwo, mid.data(), inner, want.data(), ldc, m, nullptr, nullptr, s1);
    amx_ffn(bwi, bwo, x.data(), lda, got.data(), ldc, m, bias.data(), kern.gelu, s2);
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t j = 0; j < h; ++j) {
        const float a = got[r * ldc + j], b = want[r * ldc + j];
        if (r == 3 && m > 3) {
          ASSERT_TRUE(std::isnan(a)) << j;
        } else {
          ASSERT_EQ(std::bit_cast<uint32_t>(a), std::bit_cast<uint32_t>(b)) << r << "," << j;
        }
      }
      for (int64_t j = h; j < ldc; ++j) ASSERT_EQ(got[r * ldc + j], -7.0f) << "wrote past n";
    }
  }
}

// The AMX attention (cpu_bf16_attn_amx_impl.hpp) on the emulated tiles against the FP32 kernel:
// within the error of BF16 operands, on head sizes 16 to 128 (one to four 32-dim steps, an odd
// number of 16-dim groups), sequences that are not a whole number of tiles, one and three
// softmax key blocks, a query range starting inside the sequence, sliding windows (ModernBERT's
// 64, and one wider than a key block); rows outside the range untouched.
TEST(Bf16AmxSim, AttentionCloseToF32) {
  if (!cpu_converts_bf16() || !__builtin_cpu_supports("avx512dq"))
    GTEST_SKIP() << "needs AVX512-BF16 and DQ for the vector code";
  const CpuKernels& f32 = select_kernels(Isa::kAuto);
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.5f);
  struct Case {
    int hd;
    int64_t len, q_begin, q_end;
    int window;
  };
  for (const Case& c : std::vector<Case>{{32, 256, 0, 256, -1},
                                         {16, 45, 0, 45, -1},
                                         {48, 600, 37, 600, -1},
                                         {128, 70, 0, 70, -1},
                                         {64, 1, 0, 1, -1},
                                         {64, 300, 40, 300, 64},
                                         {32, 500, 0, 500, 150}}) {
    SCOPED_TRACE("hd " + std::to_string(c.hd) + " len " + std::to_string(c.len) + " window " +
                 std::to_string(c.window));
    const int64_t nh = 2, H = nh * c.hd, ld = 3 * H;
    std::vector<float> qkv(static_cast<size_t>(c.len * ld));
    for (auto& v : qkv) v = nd(rng);
    std::vector<float> want(static_cast<size_t>(c.len * H), 0.0f), got = want;
    std::vector<float> work(kAttnWorkFloats),
        kv(static_cast<size_t>(attn_kv_floats(c.len, c.q_end - c.q_begin, c.window, c.hd)));
    double max_diff = 0;
    for (int64_t h = 0; h < nh; ++h) {
      AttnArgs a = test::head_args(qkv.data(), want.data(), h, nh, c.hd, c.len, c.q_begin, c.q_end,
                                   c.window, work.data(), kv.data());
      f32.attention(a);
      a.out = got.data() + h * c.hd;
      ASSERT_TRUE(attention_amx_fits(a));
      attention_amx_k(a);
    }
    for (int64_t r = 0; r < c.len; ++r)
      for (int64_t d = 0; d < H; ++d) {
        const float x = got[r * H + d], y = want[r * H + d];
        if (r < c.q_begin) {
          ASSERT_EQ(x, 0.0f) << "wrote row " << r;
          continue;
        }
        ASSERT_TRUE(std::isfinite(x)) << r << "," << d;
        max_diff = std::max(max_diff, std::fabs(double(x) - double(y)));
      }
    EXPECT_LT(max_diff, 0.05);  // outputs are weighted means of N(0, 1.5²) values
    if (c.len > 1) EXPECT_GT(max_diff, 0.0) << "BF16 rounding left no trace";
  }
}

// A tile used without a configuration is caught by the emulation (the test can fail).
TEST(Bf16AmxSim, EmulationRefusesUnconfiguredTiles) {
  amx_sim::configured = false;
  EXPECT_THROW(amx_sim::zero(0), std::logic_error);
}

}  // namespace
}  // namespace ripvec::cpu
