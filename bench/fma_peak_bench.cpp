// The hardware's FP32 ceiling: peak fused multiply-add throughput of the cores, measured with
// independent register-only FMA chains (no memory traffic), for AVX2 (8 lanes) and, where the
// CPU has it, AVX-512 (16 lanes), at each thread count asked for. This is the denominator of
// "forward pass at X% of peak" in docs/benchmarks.md: it is what the silicon can do, not what
// any GEMM of ours reaches. Where the CPU has them, the reduced-precision dot products are
// measured the same way: AVX-512 VNNI `vpdpbusd` (64 u8 x s8 multiply-adds per instruction,
// counted as 2 ops each: the INT8 ceiling) and AVX512_BF16 `vdpbf16ps` (32 bf16 pairs: the
// BF16 ceiling), so that the precision a kernel uses is chosen on the silicon's numbers.
//
//   fma_peak_bench [--threads 1,2,8] [--seconds 0.5] [--reps 3] [--json]
//
// Each thread runs its own chains for a fixed number of iterations after all threads have
// started (a barrier); the rate is total FLOPs (2 per lane per FMA) over the wall time of the
// slowest thread, best of --reps. Threads are not pinned: the OS places them, as it places
// ripvec's pool. Thread counts above the core count are still measured (they show sharing).
// GCC 12's avx512fintrin.h trips -W(maybe-)uninitialized on its own _mm512_undefined_ps().
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Independent accumulators: 12 for AVX2 (16 ymm registers, two hold the constants; 8 cover a
// 4-cycle FMA latency on two ports), 24 for AVX-512 (32 zmm registers).
__attribute__((target("avx2,fma"), noinline)) float fma_avx2(int64_t iters) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(1.0f + i * 1e-3f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  }
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

__attribute__((target("avx512f"), noinline)) float fma_avx512(int64_t iters) {
  __m512 a[24];
  for (int i = 0; i < 24; ++i) a[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
  }
  __m512 s = a[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, a[i]);
  return _mm512_reduce_add_ps(s);
}

// vpdpbusd through inline assembly: GCC 12 keeps an array of 24 __m512i accumulators of
// _mm512_dpbusd_epi32 in registers only in part and copies the rest through the stack on every
// iteration, which had halved this figure (1 instead of 2 instructions per cycle on the Intel
// development VM, where oneDNN's INT8 matmul then ran above the "peak"). 12 accumulators (an
// asm takes at most 30 operands) cover a 5-cycle latency on two ports.
__attribute__((target("avx512f,avx512vnni"), noinline)) float vnni_avx512(int64_t iters) {
  __m512i a0 = _mm512_set1_epi32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
          a8 = a0, a9 = a0, a10 = a0, a11 = a0;
  const __m512i u = _mm512_set1_epi8(3), w = _mm512_set1_epi8(-2);
#define RIPVEC_DP(i) "vpdpbusd %[w], %[u], %[a" #i "]\n\t"
  for (int64_t it = 0; it < iters; ++it)
    asm volatile(RIPVEC_DP(0) RIPVEC_DP(1) RIPVEC_DP(2) RIPVEC_DP(3) RIPVEC_DP(4) RIPVEC_DP(5)
                     RIPVEC_DP(6) RIPVEC_DP(7) RIPVEC_DP(8) RIPVEC_DP(9) RIPVEC_DP(10) RIPVEC_DP(11)
                 : [a0] "+v"(a0), [a1] "+v"(a1), [a2] "+v"(a2), [a3] "+v"(a3), [a4] "+v"(a4),
                   [a5] "+v"(a5), [a6] "+v"(a6), [a7] "+v"(a7), [a8] "+v"(a8), [a9] "+v"(a9),
                   [a10] "+v"(a10), [a11] "+v"(a11)
                 : [u] "v"(u), [w] "v"(w));
#undef RIPVEC_DP
  const __m512i all[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};
  __m512i s = all[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_epi32(s, all[i]);
  return static_cast<float>(_mm512_reduce_add_epi32(s));
}

__attribute__((target("avx512f,avx512bf16"), noinline)) float bf16_avx512(int64_t iters) {
  __m512 a[24];
  for (int i = 0; i < 24; ++i) a[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  // bf16 1.0 and 1e-7 (0x33d7): the sums stay finite for any run length.
  const __m512bh m = (__m512bh)_mm512_set1_epi16(0x3f80), c = (__m512bh)_mm512_set1_epi16(0x33d7);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) a[i] = _mm512_dpbf16_ps(a[i], m, c);
  }
  __m512 s = a[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, a[i]);
  return _mm512_reduce_add_ps(s);
}

struct Kernel {
  const char* name;
  double flops_per_iter;  // 2 * lanes * accumulators
  float (*fn)(int64_t);
};

// Runs fn(iters) on `threads` threads started together; returns the wall time of the slowest.
double timed_run(const Kernel& k, int threads, int64_t iters) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<double> secs(threads);
  std::vector<float> sink(threads);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      const auto t0 = Clock::now();
      sink[t] = k.fn(iters);
      secs[t] = std::chrono::duration<double>(Clock::now() - t0).count();
    });
  while (ready.load() < threads) {
  }
  go.store(true, std::memory_order_release);
  for (auto& th : ts) th.join();
  volatile float keep = sink[0];
  (void)keep;
  return *std::max_element(secs.begin(), secs.end());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts = {1, 2, 8};
  double seconds = 0.5;
  int reps = 3;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      thread_counts.clear();
      std::string s = argv[++i];
      size_t pos = 0;
      while (pos < s.size()) {
        const size_t e = s.find(',', pos);
        thread_counts.push_back(std::atoi(s.substr(pos, e - pos).c_str()));
        if (e == std::string::npos) break;
        pos = e + 1;
      }
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (a == "--json") {
      json = true;
    } else {
      std::fprintf(stderr,
                   "usage: fma_peak_bench [--threads 1,2,8] [--seconds S] [--reps R] [--json]\n");
      return 2;
    }
  }
  std::vector<Kernel> kernels;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    kernels.push_back({"avx2", 2.0 * 8 * 12, fma_avx2});
  if (__builtin_cpu_supports("avx512f")) kernels.push_back({"avx512", 2.0 * 16 * 24, fma_avx512});
  if (__builtin_cpu_supports("avx512vnni"))
    kernels.push_back({"vnni-i8", 2.0 * 64 * 12, vnni_avx512});
  if (__builtin_cpu_supports("avx512bf16")) kernels.push_back({"bf16", 2.0 * 32 * 24, bf16_avx512});
  if (!json)
    std::printf(
        "peak multiply-add rate (FP32 FMA; vnni-i8/bf16: INT8/BF16 dot products, 2 ops "
        "per product), %u hardware threads, best of %d\n",
        std::thread::hardware_concurrency(), reps);
  for (const Kernel& k : kernels) {
    // Calibrate the iteration count on one thread so that each run lasts about `seconds`.
    int64_t iters = 1 << 16;
    for (;;) {
      const double t = timed_run(k, 1, iters);
      if (t > 0.05) {
        iters = static_cast<int64_t>(iters * seconds / t);
        break;
      }
      iters *= 4;
    }
    for (int threads : thread_counts) {
      if (threads <= 0) continue;
      double best = 1e30;
      for (int r = 0; r < reps; ++r) best = std::min(best, timed_run(k, threads, iters));
      const double gflops = k.flops_per_iter * double(iters) * threads / best / 1e9;
      if (json)
        std::printf("{\"isa\": \"%s\", \"threads\": %d, \"gflops\": %.1f, \"per_thread\": %.1f}\n",
                    k.name, threads, gflops, gflops / threads);
      else
        std::printf("%-7s %3d threads: %8.1f GFLOP/s  (%6.1f per thread)\n", k.name, threads,
                    gflops, gflops / threads);
    }
  }
  return 0;
}
