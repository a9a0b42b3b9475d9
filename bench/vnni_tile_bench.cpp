// The AVX-512 VNNI register tile of cpu_int8_gemm (12 rows x 16 channels, 12 `vpdpbusd` chains,
// a row's 4 u8 activations broadcast from memory per step), in L1, one thread: the rate without
// any dequantization (the tile's ceiling), and with each way of dequantizing the int32 group sums
// into float accumulators that an INT8 scheme could choose (docs/benchmarks.md, "INT8 GEMM:
// where the VNNI kernel's time goes"):
//   g32 cvt+mul+fma  the shipped g32r4: per group of 32 k and row, y += float(acc) * (sa * sw),
//                    the row-and-group activation scale times the channels' weight scales;
//   g32 cvt+fma      a per-row activation scale (applied once at the end): y += float(acc) * sw;
//   g64 ...          the same with groups of 64 k (half the dequantizations).
// Written in assembly as the kernel's group is (GCC rotates intrinsic accumulators through
// register moves). Needs AVX512-VNNI; prints nothing else without it.
//
//   vnni_tile_bench [reps]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

#if defined(__x86_64__)
alignas(64) uint8_t g_act[64 * 1024];
alignas(64) int8_t g_wt[64 * 1024];
alignas(64) float g_sa[4096];
alignas(64) float g_sw[4096];
constexpr int kGroups32 = 12;  // k = 384, MiniLM's hidden size: 12 groups of 32, 6 of 64

// One step (4 k): the panel's 64 bytes, then per row a broadcast of its quad and a vpdpbusd.
#define RV_DP(r, t)                       \
  "vpbroadcastd " #r "*4(%[a]), %%zmm" #t \
  "\n\t"                                  \
  "vpdpbusd %%zmm31, %%zmm" #t ", %%zmm" #r "\n\t"
#define RV_STEP \
  "vmovdqu64 (%[w]), %%zmm31\n\t" RV_DP(0, 30) RV_DP(1, 29) RV_DP(2, 30) RV_DP(3, 29)       \
      RV_DP(4, 30) RV_DP(5, 29) RV_DP(6, 30) RV_DP(7, 29) RV_DP(8, 30) RV_DP(9, 29)         \
          RV_DP(10, 30) RV_DP(11, 29) "add $64, %[w]\n\t"                                   \
                                      "add $48, %[a]\n\t"
#define RV_G32 RV_STEP RV_STEP RV_STEP RV_STEP RV_STEP RV_STEP RV_STEP RV_STEP
// Dequantization of row r's sums (zmm r) into its float accumulator (zmm f); the sums restart
// from zmm28 (the kernel's minus-column-sums start).
#define RV_CVT_MUL_FMA(r, f)                   \
  "vcvtdq2ps %%zmm" #r ", %%zmm" #r            \
  "\n\t"                                       \
  "vmulps " #r                                 \
  "*4(%[sa])%{1to16%}, %%zmm27, %%zmm26\n\t"   \
  "vfmadd231ps %%zmm26, %%zmm" #r ", %%zmm" #f \
  "\n\t"                                       \
  "vmovdqa64 %%zmm28, %%zmm" #r "\n\t"
#define RV_CVT_FMA(r, f)                       \
  "vcvtdq2ps %%zmm" #r ", %%zmm" #r            \
  "\n\t"                                       \
  "vfmadd231ps %%zmm27, %%zmm" #r ", %%zmm" #f \
  "\n\t"                                       \
  "vmovdqa64 %%zmm28, %%zmm" #r "\n\t"
#define RV_DEQUANT(M) \
  "vmovups (%[sw]), %%zmm27\n\t" M(0, 12) M(1, 13) M(2, 14) M(3, 15) M(4, 16) M(5, 17)     \
      M(6, 18) M(7, 19) M(8, 20) M(9, 21) M(10, 22) M(11, 23) "add $64, %[sw]\n\t"          \
                                                              "add $48, %[sa]\n\t"
#define RV_CLOBBERS                                                                             \
  "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",     \
      "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", \
      "xmm20", "xmm21", "xmm22", "xmm23", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"
#define RV_TILE(name, body, groups)                                                       \
  __attribute__((noinline, target("avx512f,avx512bw,avx512vnni"))) void name(long reps) { \
    for (long i = 0; i < reps; ++i) {                                                     \
      const uint8_t* a = g_act;                                                           \
      const int8_t* w = g_wt;                                                             \
      const float* sa = g_sa;                                                             \
      const float* sw = g_sw;                                                             \
      long n = groups;                                                                    \
      asm volatile("1:\n\t" body                                                          \
                   "sub $1, %[n]\n\t"                                                     \
                   "jnz 1b\n\t"                                                           \
                   : [a] "+r"(a), [w] "+r"(w), [n] "+r"(n), [sa] "+r"(sa), [sw] "+r"(sw)  \
                   :                                                                      \
                   : RV_CLOBBERS);                                                        \
    }                                                                                     \
  }
RV_TILE(tile_plain, RV_G32, kGroups32)
RV_TILE(tile_g32_cvt_mul_fma, RV_G32 RV_DEQUANT(RV_CVT_MUL_FMA), kGroups32)
RV_TILE(tile_g32_cvt_fma, RV_G32 RV_DEQUANT(RV_CVT_FMA), kGroups32)
RV_TILE(tile_g64_cvt_mul_fma, RV_G32 RV_G32 RV_DEQUANT(RV_CVT_MUL_FMA), kGroups32 / 2)
RV_TILE(tile_g64_cvt_fma, RV_G32 RV_G32 RV_DEQUANT(RV_CVT_FMA), kGroups32 / 2)
#endif

}  // namespace

int main(int argc, char** argv) {
#if defined(__x86_64__)
  const long reps = argc > 1 ? std::atol(argv[1]) : 20000;
  if (reps <= 0 || !__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512bw")) {
    std::fprintf(stderr, "vnni_tile_bench: needs AVX512-VNNI and reps > 0\n");
    return reps <= 0 ? 2 : 0;
  }
  struct Variant {
    const char* name;
    void (*fn)(long);
  };
  const Variant variants[] = {{"no dequantization (ceiling)", tile_plain},
                              {"g32 cvt+mul+fma (g32r4, shipped)", tile_g32_cvt_mul_fma},
                              {"g32 cvt+fma (per-row activation scale)", tile_g32_cvt_fma},
                              {"g64 cvt+mul+fma", tile_g64_cvt_mul_fma},
                              {"g64 cvt+fma (per-row activation scale)", tile_g64_cvt_fma}};
  // Per call: 12 rows x 16 channels x 384 k multiply-adds = 2 ops each.
  const double ops = double(reps) * 12 * 16 * (kGroups32 * 32) * 2;
  std::printf("VNNI 12 x 16 tile in L1, k = 384, one thread, %ld reps (GOPS; share of the first)\n",
              reps);
  for (int round = 0; round < 3; ++round) {
    double ceiling = 0;
    for (const Variant& v : variants) {
      const auto t0 = std::chrono::steady_clock::now();
      v.fn(reps);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double gops = ops / s / 1e9;
      if (ceiling == 0) ceiling = gops;
      std::printf("round %d  %-42s %7.1f  %5.1f%%\n", round + 1, v.name, gops,
                  100.0 * gops / ceiling);
    }
  }
#else
  (void)argc;
  (void)argv;
  std::fprintf(stderr, "vnni_tile_bench: x86-64 only\n");
#endif
  return 0;
}
