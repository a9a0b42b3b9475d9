// The AVX2 register tiles an INT8 GEMM can be built on, in L1 (6 rows x 16 channels, k = 512,
// repeated; one thread): multiply-adds per second of the FP32 FMA tile (cpu_packed_gemm's shape),
// of the s16 x s16 `vpmaddwd` tile (cpu_int8_gemm's AVX2 kernel, without the s8 -> s16 widening
// of its weights) and of the u8 x s8 `vpmaddubsw` + `vpmaddwd` tile (4 k per step; it needs
// 7-bit weights or activations, since two u8 x s8 products saturate its int16 pair sums). The
// ceiling of each formulation on this CPU, not a GEMM: docs/benchmarks.md ("INT8 tile ceilings").
//
//   int8_tile_bench [reps]
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
alignas(64) int16_t A16[6][512];    // activations s16, K=512
alignas(64) int16_t W16[512 * 16];  // k-pair-major: per pair 32 int16 (16 ch x 2k)
alignas(64) uint8_t A8[6][512];
alignas(64) int8_t W8[512 * 16];  // per 4k: 64 bytes (16 ch x 4k)
constexpr int K = 512;
// Both integer tiles read 64 weight bytes and a row's 4 activation bytes per step: 2 k of s16
// (vpmaddwd) or 4 k of u8 x s8 (vpmaddubsw, then vpmaddwd by ones to int32).
template <bool kU8>
__attribute__((noinline, target("avx2,fma"))) __m256i int_tile(int reps) {
  const auto* w = reinterpret_cast<const uint8_t*>(kU8 ? static_cast<const void*>(W8) : W16);
  const auto* a = reinterpret_cast<const uint8_t*>(kU8 ? static_cast<const void*>(A8) : A16);
  constexpr int64_t kRowBytes = kU8 ? K : 2 * K, kSteps = kU8 ? K / 4 : K / 2;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i tot = _mm256_setzero_si256();
  for (int rep = 0; rep < reps; ++rep) {
    __m256i a0[6], a1[6];
    for (int r = 0; r < 6; ++r) a0[r] = a1[r] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int64_t s = 0; s < kSteps; ++s) {
      const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + s * 64));
      const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + s * 64 + 32));
#pragma GCC unroll 6
      for (int r = 0; r < 6; ++r) {
        int32_t av;
        std::memcpy(&av, a + r * kRowBytes + 4 * s, 4);
        const __m256i va = _mm256_set1_epi32(av);
        if constexpr (kU8) {
          a0[r] = _mm256_add_epi32(a0[r], _mm256_madd_epi16(_mm256_maddubs_epi16(va, w0), ones));
          a1[r] = _mm256_add_epi32(a1[r], _mm256_madd_epi16(_mm256_maddubs_epi16(va, w1), ones));
        } else {
          a0[r] = _mm256_add_epi32(a0[r], _mm256_madd_epi16(va, w0));
          a1[r] = _mm256_add_epi32(a1[r], _mm256_madd_epi16(va, w1));
        }
        asm("" : "+x"(a0[r]), "+x"(a1[r]));  // keep the add chains (see cpu_int8_gemm.cpp)
      }
    }
    for (int r = 0; r < 6; ++r) tot = _mm256_add_epi32(tot, _mm256_add_epi32(a0[r], a1[r]));
  }
  return tot;
}
__attribute__((noinline, target("avx2,fma"))) __m256 fp(int reps, const float* A, const float* W) {
  __m256 tot = _mm256_setzero_ps();
  for (int rep = 0; rep < reps; ++rep) {
    __m256 a0[6], a1[6];
    for (int r = 0; r < 6; ++r) a0[r] = a1[r] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int s = 0; s < K; ++s) {
      const __m256 w0 = _mm256_load_ps(W + s * 16), w1 = _mm256_load_ps(W + s * 16 + 8);
#pragma GCC unroll 6
      for (int r = 0; r < 6; ++r) {
        const __m256 va = _mm256_broadcast_ss(A + r * K + s);
        a0[r] = _mm256_fmadd_ps(va, w0, a0[r]);
        a1[r] = _mm256_fmadd_ps(va, w1, a1[r]);
      }
    }
    for (int r = 0; r < 6; ++r) tot = _mm256_add_ps(tot, _mm256_add_ps(a0[r], a1[r]));
  }
  return tot;
}
alignas(64) float AF[6 * K], WF[K * 16];
__attribute__((target("avx2,fma"))) void run(int reps) {
  using C = std::chrono::steady_clock;
  for (int t = 0; t < 3; ++t) {
    auto t0 = C::now();
    volatile __m256 f = fp(reps, AF, WF);
    auto t1 = C::now();
    volatile __m256i x = int_tile<false>(reps);
    auto t2 = C::now();
    volatile __m256i y = int_tile<true>(reps);
    auto t3 = C::now();
    (void)f, (void)x, (void)y;
    const double macs = double(reps) * K * 6 * 16;
    std::printf(
        "round %d: fp32 fma %.1f GMAC/s | s16 vpmaddwd %.1f GMAC/s | u8s8 vpmaddubsw %.1f GMAC/s\n",
        t, macs / std::chrono::duration<double>(t1 - t0).count() / 1e9,
        macs / std::chrono::duration<double>(t2 - t1).count() / 1e9,
        macs / std::chrono::duration<double>(t3 - t2).count() / 1e9);
  }
}
int main(int argc, char** argv) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::fprintf(stderr, "int8_tile_bench: this CPU lacks AVX2/FMA\n");
    return 2;
  }
  const int reps = argc > 1 ? std::atoi(argv[1]) : 200000;
  for (int i = 0; i < K * 16; ++i) {
    W16[i] = i % 7 - 3;
    W8[i] = i % 9 - 4;
    WF[i] = 0.001f * (i % 5);
  }
  for (int r = 0; r < 6; ++r)
    for (int i = 0; i < K; ++i) {
      A16[r][i] = i % 11;
      A8[r][i] = i % 13;
      AF[r * K + i] = 0.5f;
    }
  run(reps);
}
