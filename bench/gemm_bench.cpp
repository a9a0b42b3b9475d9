// GEMM rates on this machine for the products the engine issues (y[m, out] = x[m, in] · W[out,
// in]ᵀ, the linear layers of MiniLM / bge-small (H 384, FFN 1536) and bge-base (768, 3072)),
// through each path the CPU driver has, at the thread count of ripvec's pool:
//   packed    CpuDriver::linear on a loaded weight: the driver's packed-weight kernel
//             (weights packed once, tasks on ripvec's pool) — the engine's default.
//   unpacked  CpuDriver::gemm on an unregistered B: cpu::sgemm, B packed per call (the path of
//             products of two activations).
//   blas-mt   cblas_sgemm with OpenBLAS's own threads (as many as the pool), called directly:
//             the peer library (ripvec itself links no BLAS; this benchmark is built only
//             where libopenblas-dev is installed).
//   blas-1    single-threaded OpenBLAS (per-core rate).
//   int8      CpuDriver::linear with INT8 on (cpu_int8_gemm: activation quantization, outlier
//             correction and dequantization included; "GFLOP/s" counts 2·m·n·k as for FP32).
// Compare with bench/fma_peak_bench (the cores' peak FMA rate).
//
// Usage: gemm_bench [--reps R] [--m 256,1024,4096,8192] [--packed-only] [--json]
//        (RIPVEC_THREADS sets the pool size, hence the BLAS threads)
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "driver/cpu/cpu_driver.hpp"
#include "gemm_shapes.hpp"
#include "util/thread_pool.hpp"

int main(int argc, char** argv) {
  int reps = 5;
  bool json = false, packed_only = false;
  std::vector<int> ms = {256, 1024, 4096, 8192};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--m" && i + 1 < argc)
      ms = ripvec::bench::parse_int_list(argv[++i]);
    else if (a == "--json")
      json = true;
    else if (a == "--packed-only")
      packed_only = true;
    else {
      std::fprintf(stderr, "usage: gemm_bench [--reps R] [--m 256,4096] [--json]\n");
      return 2;
    }
  }
  using namespace ripvec;
  CpuDriver packed(cpu::Isa::kAuto, cpu::GemmPath::kPacked);
  CpuDriver pool(cpu::Isa::kAuto, cpu::GemmPath::kUnpacked);
  CpuDriver int8(cpu::Isa::kAuto, cpu::GemmPath::kPacked);
  int8.set_int8(true);
  const int threads = static_cast<int>(ThreadPool::global().size());
  if (!json) {
    std::printf("OpenBLAS %s; %d threads; kernels %s (%s), int8 %s; best of %d\n",
                openblas_get_config(), threads, packed.isa_name(), packed.gemm_path_name(),
                int8.int8_isa_name(), reps);
    std::printf("%-10s %6s %6s %6s %10s %10s %10s %10s %10s   (GFLOP/s)\n", "shape", "m", "n", "k",
                "packed", "unpacked", "blas-mt", "blas-1", "int8");
  }
  std::mt19937 rng(1);
  for (const ripvec::bench::GemmShape& s : ripvec::bench::kGemmShapes)
    for (int m : ms) {
      ripvec::bench::GemmCase op(s, m, rng);
      auto best_of = [&](const std::function<void()>& f) {
        return ripvec::bench::best_of(reps, f);
      };
      auto blas = [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, s.n, s.k, 1.0f, op.x.data(), s.k,
                    op.w.data(), s.k, 0.0f, op.y.data(), s.n);
      };
      openblas_set_num_threads(threads);
      const double t_mt = packed_only ? 0 : best_of(blas);
      openblas_set_num_threads(1);
      const double t_one = packed_only ? 0 : threads == 1 ? t_mt : best_of(blas);
      auto ta = make_view<CpuTag>(op.x.data(), DType::F32, {m, s.k});
      auto tb = make_view<CpuTag>(op.w.data(), DType::F32, {s.n, s.k});
      auto tc = make_view<CpuTag>(op.y.data(), DType::F32, {m, s.n});
      GemmDesc g;
      g.m = m;
      g.n = s.n;
      g.k = s.k;
      g.trans_b = true;
      g.lda = s.k;
      g.ldb = s.k;
      g.ldc = s.n;
      const double t_pool = packed_only ? 0 : best_of([&] { pool.gemm(g, ta, tb, tc); });
      const HostTensorRef h = op.weight();
      auto tw = packed.load_weight(h, DType::F32);
      const double t_packed = best_of([&] { packed.linear(tc, ta, tw, CpuDriver::Tensor{}); });
      auto tq = int8.load_weight(h, DType::F32);
      const double t_int8 = best_of([&] { int8.linear(tc, ta, tq, CpuDriver::Tensor{}); });
      const double gflop = 2.0 * m * s.n * s.k * 1e-9;
      if (json)
        std::printf(
            "{\"shape\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"threads\": %d, \"isa\": "
            "\"%s\", \"packed\": %.1f, \"unpacked\": %.1f, \"blas_mt\": %.1f, \"blas_1\": "
            "%.1f, \"int8\": %.1f, \"int8_isa\": \"%s\"}\n",
            s.what, m, s.n, s.k, threads, packed.isa_name(), gflop / t_packed, gflop / t_pool,
            gflop / t_mt, gflop / t_one, gflop / t_int8, int8.int8_isa_name());
      else
        std::printf("%-10s %6d %6d %6d %10.1f %10.1f %10.1f %10.1f %10.1f\n", s.what, m, s.n, s.k,
                    gflop / t_packed, gflop / t_pool, gflop / t_mt, gflop / t_one, gflop / t_int8);
      std::fflush(stdout);
    }
  return 0;
}
