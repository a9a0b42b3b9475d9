// The SGEMM ceiling of this machine: GFLOP/s of large OpenBLAS cblas_sgemm calls with as many
// OpenBLAS threads as ripvec's pool, for square reference shapes and the transformer shapes the
// engine issues (x[T, in] · W[out, in]ᵀ); next to it, the same product through
// CpuDriver::gemm (single-threaded OpenBLAS tiles on ripvec's pool, the engine's default) and
// single-threaded OpenBLAS (per-core ceiling). The engine's share of this ceiling is reported
// by the end-to-end benchmarks.
//
// Usage: gemm_bench [reps]   (RIPVEC_THREADS sets the pool size, hence the BLAS threads)
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
#include "util/thread_pool.hpp"

namespace {

struct Shape {
  const char* what;
  int m, n, k;
  bool trans_b;
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  // Constructing the driver sets OpenBLAS's thread count to the pool size, as in the engine.
  ripvec::CpuDriver driver;
  const int threads = static_cast<int>(ripvec::ThreadPool::global().size());
  const Shape shapes[] = {
      {"square 2048^3", 2048, 2048, 2048, false},     {"4096x1536x384", 4096, 1536, 384, false},
      {"MiniLM qkv  T=4096", 4096, 1152, 384, true},  {"MiniLM out  T=4096", 4096, 384, 384, true},
      {"MiniLM up   T=4096", 4096, 1536, 384, true},  {"MiniLM down T=4096", 4096, 384, 1536, true},
      {"BERT-base up T=4096", 4096, 3072, 768, true},
  };
  std::printf("sgemm ceiling: OpenBLAS %s, %d threads (pool size), kernels %s, best of %d\n",
              openblas_get_config(), threads, driver.isa_name(), reps);
  std::printf("%-22s %6s %6s %6s %10s %12s %12s %12s\n", "shape", "m", "n", "k", "ms(blas)",
              "GF/s blas-mt", "GF/s driver", "GF/s 1-thr");
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (const Shape& s : shapes) {
    std::vector<float> a(size_t(s.m) * s.k), b(size_t(s.k) * s.n), c(size_t(s.m) * s.n);
    for (auto& x : a) x = dist(rng);
    for (auto& x : b) x = dist(rng);
    const int ldb = s.trans_b ? s.k : s.n;
    auto run = [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans, s.m, s.n, s.k,
                  1.0f, a.data(), s.k, b.data(), ldb, 0.0f, c.data(), s.n);
    };
    auto best_of = [&](const std::function<void()>& f) {
      f();  // warm-up: thread start, page faults
      double best = 1e30;
      for (int r = 0; r < reps; ++r) {
        const double t0 = now_s();
        f();
        best = std::min(best, now_s() - t0);
      }
      return best;
    };
    openblas_set_num_threads(threads);
    const double t_blas = best_of(run);
    openblas_set_num_threads(1);
    const double t_one = best_of(run);
    ripvec::GemmDesc g;
    g.m = s.m;
    g.n = s.n;
    g.k = s.k;
    g.trans_b = s.trans_b;
    g.lda = s.k;
    g.ldb = ldb;
    g.ldc = s.n;
    auto ta = ripvec::make_view<ripvec::CpuTag>(a.data(), ripvec::DType::F32, {s.m, s.k});
    auto tb = ripvec::make_view<ripvec::CpuTag>(b.data(), ripvec::DType::F32,
                                                {s.trans_b ? s.n : s.k, ldb});
    auto tc = ripvec::make_view<ripvec::CpuTag>(c.data(), ripvec::DType::F32, {s.m, s.n});
    const double t_drv = best_of([&] { driver.gemm(g, ta, tb, tc); });
    const double gflop = 2.0 * s.m * s.n * s.k * 1e-9;
    std::printf("%-22s %6d %6d %6d %10.2f %12.1f %12.1f %12.1f\n", s.what, s.m, s.n, s.k,
                t_blas * 1e3, gflop / t_blas, gflop / t_drv, gflop / t_one);
  }
  return 0;
}
