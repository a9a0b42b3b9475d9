// GCC 12's avx512fintrin.h trips -W(maybe-)uninitialized on its own _mm512_undefined_ps().
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "driver/cpu/cpu_int8_gemm.hpp"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "driver/cpu/cpu_gemm_tasks.hpp"
#include "ripvec/error.hpp"
#include "util/thread_pool.hpp"

namespace ripvec::cpu {

namespace {

bool isa_ok(Int8Isa isa) {
  switch (isa) {
    case Int8Isa::kAuto:
    case Int8Isa::kScalar:
      return true;
#if defined(__x86_64__)
    case Int8Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
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
  return isa == Int8Isa::kAvx512Vnni ? 16 : 8;
}
int mr_of(Int8Isa isa) {
  return isa == Int8Isa::kAvx512Vnni ? 12 : isa == Int8Isa::kAvx2 ? 6 : 4;
}

// ---------------------------------------------------------------- activation quantization

// Shared by every ISA so that they agree bit for bit: amax is order-independent, and
// x * inv is one IEEE multiply rounded to nearest-even (MXCSR default == nearbyint).
inline float row_inv(float amax) {
  return amax > 0.0f ? 127.0f / amax : 0.0f;
}

float quant_row_scalar(const float* x, int64_t k, int64_t kp, int8_t* q) {
  float amax = 0.0f;
  for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float inv = row_inv(amax);
  for (int64_t i = 0; i < k; ++i) {
    const float v = std::nearbyint(x[i] * inv);
    q[i] = static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f));
  }
  for (int64_t i = k; i < kp; ++i) q[i] = 0;
  return amax / 127.0f;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) float row_amax_avx2(const float* x, int64_t k) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
  alignas(32) float t[8];
  _mm256_store_ps(t, m);
  float amax = 0.0f;
  for (float v : t) amax = std::max(amax, v);
  for (; i < k; ++i) amax = std::max(amax, std::fabs(x[i]));
  return amax;
}

__attribute__((target("avx2,fma"))) float quant_row_avx2(const float* x, int64_t k, int64_t kp,
                                                         int16_t* q) {
  const float amax = row_amax_avx2(x, k);
  const float inv = row_inv(amax);
  const __m256 vi = _mm256_set1_ps(inv);
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vi));
    const __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), p);
  }
  for (; i < k; ++i) q[i] = static_cast<int16_t>(std::nearbyint(x[i] * inv));
  for (; i < kp; ++i) q[i] = 0;
  return amax / 127.0f;
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) float quant_row_vnni(const float* x,
                                                                                   int64_t k,
                                                                                   int64_t kp,
                                                                                   uint8_t* q) {
  const float amax = row_amax_avx2(x, k);
  const float inv = row_inv(amax);
  const __m512 vi = _mm512_set1_ps(inv);
  const __m128i off = _mm_set1_epi8(static_cast<char>(0x80));
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    const __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), vi));
    const __m128i b = _mm_xor_si128(_mm512_cvtsepi32_epi8(v), off);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), b);
  }
  for (; i < k; ++i) {
    const float v = std::clamp(std::nearbyint(x[i] * inv), -127.0f, 127.0f);
    q[i] = static_cast<uint8_t>(static_cast<int>(v) + 128);
  }
  for (; i < kp; ++i) q[i] = 128;
  return amax / 127.0f;
}
#endif

// ---------------------------------------------------------------- micro-kernels

// One block: rows [0, rows) of the quantized activations (act, row stride lda elements) x
// panels [p0, p1) of the weight; writes y rows (ldc) with the dequantized result.
struct Block {
  const Int8Weight* w;
  const void* act;
  int64_t lda;
  const float* sa;
  float* y;
  int64_t ldc;
  int64_t rows;
  int64_t p0, p1;
  const float* bias;
};

void block_scalar(const Block& b) {
  const Int8Weight& w = *b.w;
  const auto* act = static_cast<const int8_t*>(b.act);
  for (int64_t p = b.p0; p < b.p1; ++p) {
    const int8_t* panel = w.packed.data() + p * w.kp * w.nr;
    const int64_t col0 = p * w.nr, cols = std::min<int64_t>(w.nr, w.n - col0);
    for (int64_t r = 0; r < b.rows; ++r) {
      const int8_t* a = act + r * b.lda;
      for (int64_t j = 0; j < cols; ++j) {
        int32_t acc = 0;
        for (int64_t kk = 0; kk < w.kp; ++kk)
          acc += int32_t(a[kk]) * int32_t(panel[(kk / 4) * w.nr * 4 + j * 4 + kk % 4]);
        const int64_t c = col0 + j;
        b.y[r * b.ldc + c] =
            std::fma(static_cast<float>(acc), b.sa[r] * w.scale[c], b.bias ? b.bias[c] : 0.0f);
      }
    }
  }
}

#if defined(__x86_64__)
// AVX2: NR = 8 channels, MR rows. Per group of 4 k: the panel's 32 bytes widen to two s16
// vectors (channels 0-3 and 4-7, 4 k each); a row's 4 s16 activations are broadcast and
// vpmaddwd sums pairs into int32 (two lanes per channel, folded by hadd at the end).
template <int MR>
__attribute__((target("avx2,fma"))) void tile_avx2(const int16_t* a, int64_t lda,
                                                   const int8_t* panel, int64_t kp, const float* sa,
                                                   const float* sw, const float* bias, float* y,
                                                   int64_t ldc, int64_t cols) {
  __m256i acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t g = 0; g < kp / 4; ++g) {
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + g * 32));
    const __m256i b0 = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(raw));
    const __m256i b1 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(raw, 1));
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      int64_t av;
      std::memcpy(&av, a + r * lda + g * 4, 8);
      const __m256i va = _mm256_set1_epi64x(av);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(va, b0));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(va, b1));
    }
  }
  const bool full = cols == 8;
  alignas(32) float sw8[8] = {}, bias8[8] = {};
  std::memcpy(sw8, sw, cols * sizeof(float));
  if (bias) std::memcpy(bias8, bias, cols * sizeof(float));
  const __m256 vsw = _mm256_load_ps(sw8), vb = _mm256_load_ps(bias8);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    const __m256i h = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), 0xD8);
    const __m256 v =
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(h), _mm256_mul_ps(_mm256_set1_ps(sa[r]), vsw), vb);
    if (full) {
      _mm256_storeu_ps(y + r * ldc, v);
    } else {
      alignas(32) float t[8];
      _mm256_store_ps(t, v);
      std::memcpy(y + r * ldc, t, cols * sizeof(float));
    }
  }
}

// AVX-512 VNNI: NR = 16 channels (one zmm of 4 k each), MR rows; vpdpbusd of a row's 4 u8
// activations (broadcast) with the panel's 64 s8 bytes; the +128 offset is removed with the
// weight's column sums.
template <int MR>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma"))) void tile_vnni(
    const uint8_t* a, int64_t lda, const int8_t* panel, int64_t kp, const float* sa,
    const float* sw, const float* bias, const int32_t* colsum, float* y, int64_t ldc,
    int64_t cols) {
  __m512i acc[MR];
  for (int r = 0; r < MR; ++r) acc[r] = _mm512_setzero_si512();
  for (int64_t g = 0; g < kp / 4; ++g) {
    const __m512i vb = _mm512_loadu_si512(panel + g * 64);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      int32_t av;
      std::memcpy(&av, a + r * lda + g * 4, 4);
      acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(av), vb);
    }
  }
  const __mmask16 mask = cols >= 16 ? __mmask16(0xffff) : __mmask16((1u << cols) - 1u);
  const __m512 vsw = _mm512_maskz_loadu_ps(mask, sw);
  const __m512 vb = bias ? _mm512_maskz_loadu_ps(mask, bias) : _mm512_setzero_ps();
  const __m512i vc = _mm512_maskz_loadu_epi32(mask, colsum);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    const __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r], vc)),
                                     _mm512_mul_ps(_mm512_set1_ps(sa[r]), vsw), vb);
    _mm512_mask_storeu_ps(y + r * ldc, mask, v);
  }
}

using Avx2Tile = void (*)(const int16_t*, int64_t, const int8_t*, int64_t, const float*,
                          const float*, const float*, float*, int64_t, int64_t);
using VnniTile = void (*)(const uint8_t*, int64_t, const int8_t*, int64_t, const float*,
                          const float*, const float*, const int32_t*, float*, int64_t, int64_t);

template <int... R>
constexpr std::array<Avx2Tile, sizeof...(R) + 1> avx2_table(std::integer_sequence<int, R...>) {
  return {nullptr, &tile_avx2<R + 1>...};
}
template <int... R>
constexpr std::array<VnniTile, sizeof...(R) + 1> vnni_table(std::integer_sequence<int, R...>) {
  return {nullptr, &tile_vnni<R + 1>...};
}

void block_avx2(const Block& b) {
  static constexpr auto kTiles = avx2_table(std::make_integer_sequence<int, 6>{});
  const Int8Weight& w = *b.w;
  const auto* act = static_cast<const int16_t*>(b.act);
  for (int64_t p = b.p0; p < b.p1; ++p) {
    const int8_t* panel = w.packed.data() + p * w.kp * w.nr;
    const int64_t col0 = p * w.nr, cols = std::min<int64_t>(w.nr, w.n - col0);
    for (int64_t i = 0; i < b.rows; i += 6) {
      const int64_t mr = std::min<int64_t>(6, b.rows - i);
      kTiles[mr](act + i * b.lda, b.lda, panel, w.kp, b.sa + i, w.scale.data() + col0,
                 b.bias ? b.bias + col0 : nullptr, b.y + i * b.ldc + col0, b.ldc, cols);
    }
  }
}

void block_vnni(const Block& b) {
  static constexpr auto kTiles = vnni_table(std::make_integer_sequence<int, 12>{});
  const Int8Weight& w = *b.w;
  const auto* act = static_cast<const uint8_t*>(b.act);
  for (int64_t p = b.p0; p < b.p1; ++p) {
    const int8_t* panel = w.packed.data() + p * w.kp * w.nr;
    const int64_t col0 = p * w.nr, cols = std::min<int64_t>(w.nr, w.n - col0);
    for (int64_t i = 0; i < b.rows; i += 12) {
      const int64_t mr = std::min<int64_t>(12, b.rows - i);
      kTiles[mr](act + i * b.lda, b.lda, panel, w.kp, b.sa + i, w.scale.data() + col0,
                 b.bias ? b.bias + col0 : nullptr, w.colsum.data() + col0, b.y + i * b.ldc + col0,
                 b.ldc, cols);
    }
  }
}
#endif

}  // namespace

Int8Isa select_int8_isa(Int8Isa want) {
  if (want == Int8Isa::kAuto) {
    if (const char* env = std::getenv("RIPVEC_CPU_INT8")) {
      const std::string s = env;
      if (s == "scalar")
        want = Int8Isa::kScalar;
      else if (s == "avx2")
        want = Int8Isa::kAvx2;
      else if (s == "vnni")
        want = Int8Isa::kAvx512Vnni;
      else if (!s.empty() && s != "auto")
        throw InvalidArgument("RIPVEC_CPU_INT8: unknown value '" + s +
                              "' (expected scalar, avx2, vnni or auto)");
    }
  }
  if (want == Int8Isa::kAuto) {
    if (isa_ok(Int8Isa::kAvx512Vnni)) return Int8Isa::kAvx512Vnni;
    if (isa_ok(Int8Isa::kAvx2)) return Int8Isa::kAvx2;
    return Int8Isa::kScalar;
  }
  if (!isa_ok(want))
    throw UnsupportedError(std::string("cpu driver: this CPU lacks the INT8 kernels ") +
                           int8_isa_name(want));
  return want;
}

const char* int8_isa_name(Int8Isa isa) {
  switch (isa) {
    case Int8Isa::kAvx2:
      return "avx2";
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
  q.kp = (k + 3) / 4 * 4;
  q.nr = nr_of(isa);
  const int64_t panels = (n + q.nr - 1) / q.nr;
  q.packed.assign(static_cast<size_t>(panels * q.kp * q.nr), 0);
  q.scale.assign(static_cast<size_t>(panels * q.nr), 0.0f);
  q.colsum.assign(static_cast<size_t>(panels * q.nr), 0);
  for (int64_t j = 0; j < n; ++j) {
    const float* row = w + j * k;
    float amax = 0.0f;
    for (int64_t kk = 0; kk < k; ++kk) amax = std::max(amax, std::fabs(row[kk]));
    const float inv = row_inv(amax);
    q.scale[j] = amax / 127.0f;
    int8_t* panel = q.packed.data() + (j / q.nr) * q.kp * q.nr;
    const int64_t jj = j % q.nr;
    int32_t sum = 0;
    for (int64_t kk = 0; kk < k; ++kk) {
      const float v = std::clamp(std::nearbyint(row[kk] * inv), -127.0f, 127.0f);
      panel[(kk / 4) * q.nr * 4 + jj * 4 + kk % 4] = static_cast<int8_t>(v);
      sum += static_cast<int32_t>(v);
    }
    q.colsum[j] = 128 * sum;
  }
  return q;
}

void int8_linear(const Int8Weight& w, const float* x, int64_t lda, float* y, int64_t ldc, int64_t m,
                 const float* bias, void (*gelu)(float*, int64_t), Int8Scratch& s) {
  if (m <= 0 || w.n <= 0) return;
  const int64_t kp = w.kp;
  const size_t elem = w.isa == Int8Isa::kAvx2 ? 2 : 1;
  if (s.act.size() < static_cast<size_t>(m * kp) * elem)
    s.act.resize(static_cast<size_t>(m * kp) * elem);
  if (s.scale.size() < static_cast<size_t>(m)) s.scale.resize(static_cast<size_t>(m));
  int8_t* act = s.act.data();
  float* sa = s.scale.data();
  auto quant = [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      switch (w.isa) {
#if defined(__x86_64__)
        case Int8Isa::kAvx2:
          sa[r] = quant_row_avx2(x + r * lda, w.k, kp, reinterpret_cast<int16_t*>(act) + r * kp);
          break;
        case Int8Isa::kAvx512Vnni:
          sa[r] = quant_row_vnni(x + r * lda, w.k, kp, reinterpret_cast<uint8_t*>(act) + r * kp);
          break;
#endif
        default:
          sa[r] = quant_row_scalar(x + r * lda, w.k, kp, act + r * kp);
      }
    }
  };
  const int64_t threads = ThreadPool::global().size();
  if (threads == 1 || m * w.k < 32768)
    quant(0, m);
  else
    parallel_for(0, m, 16, [&quant](int64_t lo, int64_t hi) { quant(lo, hi); });

  // Row blocks of 4 register tiles; panel groups so that small m still spreads over the pool.
  const int64_t mr = mr_of(w.isa);
  const int64_t mc = 4 * mr;
  const GemmTasks split(m, mc, (w.n + w.nr - 1) / w.nr, threads);
  const int64_t tasks = split.count;
  auto run = [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t rb = split.row_block(t);
      Block b;
      b.w = &w;
      b.act = act + rb * mc * kp * static_cast<int64_t>(elem);
      b.lda = kp;
      b.sa = sa + rb * mc;
      b.y = y + rb * mc * ldc;
      b.ldc = ldc;
      b.rows = std::min(mc, m - rb * mc);
      b.p0 = split.panel0(t);
      b.p1 = split.panel1(t);
      b.bias = bias;
      switch (w.isa) {
#if defined(__x86_64__)
        case Int8Isa::kAvx2:
          block_avx2(b);
          break;
        case Int8Isa::kAvx512Vnni:
          block_vnni(b);
          break;
#endif
        default:
          block_scalar(b);
      }
      if (gelu != nullptr) {
        const int64_t c0 = b.p0 * w.nr, c1 = std::min(w.n, b.p1 * w.nr);
        for (int64_t r = 0; r < b.rows; ++r) gelu(b.y + r * ldc + c0, c1 - c0);
      }
    }
  };
  const double ops = 2.0 * double(m) * double(w.n) * double(w.k);
  if (threads == 1 || tasks == 1 || ops < 2e6)
    run(0, tasks);
  else
    parallel_for(0, tasks, 1, [&run](int64_t lo, int64_t hi) { run(lo, hi); });
}

}  // namespace ripvec::cpu
