// AVX-512 BF16 build of the attention kernel (cpu_kernels.hpp, attention_bf16): the same flash
// attention as the AVX-512 build (cpu_kernels_impl.hpp), with Q·Kᵀ and P·V as VDPBF16PS dot
// products of BF16 pairs summed in FP32 — half the instructions of the FP32 FMAs — and the online
// softmax in FP32 between them. Operands rounded to BF16 (VCVTNE2PS2BF16, nearest even): q
// (scaled), k, v and the probabilities. Every function defined after the target pragma is
// compiled for AVX-512F/BW/BF16; library headers are included before it. attention_bf16 hands
// the shapes it takes to the AMX-tile kernel where AMX runs (cpu_bf16_attn_amx_impl.hpp, whose
// functions carry their own target attribute).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "driver/batch.hpp"
#include "driver/cpu/cpu_bf16_gemm.hpp"
#include "driver/cpu/cpu_bf16_vec.hpp"
#include "driver/cpu/cpu_kernels.hpp"
#include "ripvec/error.hpp"

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")

namespace ripvec::cpu {
namespace {

#include "driver/cpu/cpu_v16.hpp"  // NOLINT(build/include): after the target pragma

// The BF16 products of attention_block_k (its B parameter). Layouts (words are 32 bits: two
// BF16, the first element in the low half, as VDPBF16PS pairs them):
//   queries  qp[t / 2][Qb]  words (q[r][t], q[r][t + 1]) of the block's rows, zero past them
//   keys     kb[j][hd]      BF16
//   values   vb[j / 2][hd]  words (v[j][c], v[j + 1][c]); a last odd key is paired with zero
//   probs    pp[j / 2][Qb]  words (p[j][r], p[j + 1][r])
struct Bf16Ops {
  static constexpr int64_t Qb = kAttnQBlock;
  static constexpr int NV = static_cast<int>(Qb / 16);

  // Words (bf16(lo), bf16(hi)) by the scalar rounding of the BF16 linear layers (bf16_bits, which
  // rounds as VCVTNE2PS2BF16 does): the tails the vector conversions do not cover.
  static uint32_t pair_bits(float lo, float hi) {
    return uint32_t{bf16_bits(lo)} | uint32_t{bf16_bits(hi)} << 16;
  }
  static __m512bh bcast(const void* p) {
    int32_t w;
    std::memcpy(&w, p, 4);
    return reinterpret_cast<__m512bh>(_mm512_set1_epi32(w));
  }
  static __m512bh load(const uint32_t* p) {
    return reinterpret_cast<__m512bh>(_mm512_loadu_si512(p));
  }

  static void pack_queries(const float* qpack, int64_t nq, int64_t hd, uint32_t* qp) {
    // A row rounded to BF16 is its pair words in order; they are stored down a column.
    const int64_t h32 = hd / 32 * 32;
    for (int64_t r = 0; r < Qb; ++r) {
      if (r >= nq) {  // rows past the block's queries: zero (no pointer past qpack is formed)
        for (int64_t t = 0; t < hd / 2; ++t) qp[t * Qb + r] = 0u;
        continue;
      }
      const float* q = qpack + r * hd;
      alignas(64) uint32_t w[16];
      for (int64_t c = 0; c < h32; c += 32) {
        _mm512_store_si512(w, bf16x32(_mm512_loadu_ps(q + c), _mm512_loadu_ps(q + c + 16)));
        for (int64_t t = 0; t < 16; ++t) qp[(c / 2 + t) * Qb + r] = w[t];
      }
      for (int64_t c = h32; c < hd; c += 2) qp[c / 2 * Qb + r] = pair_bits(q[c], q[c + 1]);
    }
  }

  static void pack_kv(const float* k, const float* v, int64_t ld, int64_t nk, int64_t hd,
                      uint16_t* kb, uint32_t* vb) {
    const int64_t hv = hd / 16 * 16;
    for (int64_t j = 0; j < nk; ++j) {
      const float* src = k + j * ld;
      uint16_t* dst = kb + j * hd;
      for (int64_t c = 0; c < hv; c += 16)
        _mm256_storeu_si256(
            reinterpret_cast<__m256i*>(dst + c),
            reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_loadu_ps(src + c))));
      for (int64_t c = hv; c < hd; ++c) dst[c] = bf16_bits(src[c]);
    }
    for (int64_t j = 0; j < nk; j += 2) {
      const float* lo = v + j * ld;
      const float* hi = j + 1 < nk ? v + (j + 1) * ld : nullptr;
      uint32_t* dst = vb + j / 2 * hd;
      for (int64_t c = 0; c < hv; c += 16)
        _mm512_storeu_si512(dst + c,
                            bf16_pairs(_mm512_loadu_ps(lo + c),
                                       hi ? _mm512_loadu_ps(hi + c) : _mm512_setzero_ps()));
      for (int64_t c = hv; c < hd; ++c) dst[c] = pair_bits(lo[c], hi ? hi[c] : 0.0f);
    }
  }

  // The register tile of both products (attn_tile's, in BF16 pairs): y[i][n] = init(i, n) + sum
  // over t < steps of x pair (x + i * xi + t * xt, broadcast) · y pairs (y + t * Qb + n * 16),
  // J x NV FP32 accumulators; then fin(i, n, y).
  template <int J, class X, class Init, class Fin>
  static void dp_tile(const X* x, int64_t xi, int64_t xt, const uint32_t* y, int64_t steps,
                      Init init, Fin fin) {
    __m512 acc[J][NV];
    for (int i = 0; i < J; ++i)
      for (int n = 0; n < NV; ++n) acc[i][n] = init(i, n);
    for (int64_t t = 0; t < steps; ++t) {
      __m512bh b[NV];
      for (int n = 0; n < NV; ++n) b[n] = load(y + t * Qb + n * 16);
#pragma GCC unroll 16
      for (int i = 0; i < J; ++i) {
        const __m512bh xb = bcast(x + i * xi + t * xt);
#pragma GCC unroll 4
        for (int n = 0; n < NV; ++n) acc[i][n] = _mm512_dpbf16_ps(acc[i][n], xb, b[n]);
      }
    }
    for (int i = 0; i < J; ++i)
      for (int n = 0; n < NV; ++n) fin(i, n, acc[i][n]);
  }

  // s[j][r] for J keys from kj (rows of hd BF16), the block max per query vector in bmax.
  template <int J>
  static void qk_tile(const uint32_t* qp, const uint16_t* kj, int64_t hd, float* s, __m512* bmax) {
    dp_tile<J>(
        kj, hd, 2, qp, hd / 2, [](int, int) { return _mm512_setzero_ps(); },
        [&](int i, int n, __m512 v) {
          _mm512_storeu_ps(s + i * Qb + n * 16, v);
          bmax[n] = _mm512_max_ps(bmax[n], v);
        });
  }
  static void qk(const uint32_t* qp, const uint16_t* kb, int64_t hd, float* s, int64_t nk,
                 __m512* bmax) {
    int64_t j = 0;
    for (; j + 8 <= nk; j += 8) qk_tile<8>(qp, kb + j * hd, hd, s + j * Qb, bmax);
    for (; j < nk; ++j) qk_tile<1>(qp, kb + j * hd, hd, s + j * Qb, bmax);
  }

  // accᵀ[c][r] for C dims: acc · corr + the block's P·V over npairs key pairs.
  template <int C>
  static void pv_tile(const uint32_t* pp, const uint32_t* vc, int64_t hd, int64_t npairs,
                      const float* corr, float* acc) {
    dp_tile<C>(
        vc, 1, hd, pp, npairs,
        [&](int i, int n) {
          return _mm512_mul_ps(_mm512_loadu_ps(acc + i * Qb + n * 16),
                               _mm512_loadu_ps(corr + n * 16));
        },
        [&](int i, int n, __m512 v) { _mm512_storeu_ps(acc + i * Qb + n * 16, v); });
  }
  static void pv(const float* s, int64_t nk, uint32_t* pp, const uint32_t* vb, int64_t hd,
                 const float* corr, float* acc) {
    const int64_t npairs = (nk + 1) / 2;
    for (int64_t p = 0; p < npairs; ++p)
      for (int n = 0; n < NV; ++n) {
        const __m512 lo = _mm512_loadu_ps(s + 2 * p * Qb + n * 16);
        const __m512 hi =
            2 * p + 1 < nk ? _mm512_loadu_ps(s + (2 * p + 1) * Qb + n * 16) : _mm512_setzero_ps();
        _mm512_storeu_si512(pp + p * Qb + n * 16, bf16_pairs(lo, hi));
      }
    int64_t c = 0;
    for (; c + 8 <= hd; c += 8) pv_tile<8>(pp, vb + c, hd, npairs, corr, acc + c * Qb);
    for (; c < hd; ++c) pv_tile<1>(pp, vb + c, hd, npairs, corr, acc + c * Qb);
  }
};

}  // namespace
}  // namespace ripvec::cpu

#include "driver/cpu/cpu_kernels_impl.hpp"
#pragma GCC pop_options

// Its own target attribute (AMX-TILE and AMX-BF16 on top of the above) on every function.
#include "driver/cpu/cpu_bf16_attn_amx_impl.hpp"

namespace ripvec::cpu {
bool attention_amx_runs(const AttnArgs& a) {
  return attention_amx_fits(a) && amx_bf16_available();
}
void attention_bf16(const AttnArgs& a, Bf16AttnKernel kernel) {
  const bool amx = kernel != Bf16AttnKernel::kDot && attention_amx_runs(a);
  if (kernel == Bf16AttnKernel::kAmx && !amx)
    throw UnsupportedError(
        "cpu driver: the AMX attention needs AMX-BF16 and a head_dim that is a multiple of 16 "
        "(at most 256)");
  if (amx)
    attention_amx_k(a);
  else
    attention_k<V16, Bf16Ops>(a);
}
}  // namespace ripvec::cpu

namespace ripvec::cpu {
bool attention_bf16_available() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16") &&
         __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool attention_bf16_pays() {
  static const bool pays = [] {
    if (!attention_bf16_available()) return false;
    if (const char* env = std::getenv("RIPVEC_CPU_ATTN"); env != nullptr && *env != '\0')
      return std::string_view(env) == "bf16";
    return __builtin_cpu_is("amd") != 0 || amx_bf16_available();
  }();
  return pays;
}
}  // namespace ripvec::cpu

#else
namespace ripvec::cpu {
void attention_bf16(const AttnArgs& a, Bf16AttnKernel kernel) {
  if (kernel == Bf16AttnKernel::kAmx)
    throw UnsupportedError("cpu driver: the AMX attention needs an x86-64 build");
  kernels_scalar().attention(a);
}
bool attention_amx_runs(const AttnArgs&) {
  return false;
}
bool attention_bf16_available() {
  return false;
}
bool attention_bf16_pays() {
  return false;
}
}  // namespace ripvec::cpu
#endif
