// The SGEMM ceiling of this machine: GFLOP/s of large OpenBLAS cblas_sgemm calls with as many
// threads as ripvec's pool (what CpuDriver::gemm / linear run on), for square reference shapes
// and the transformer shapes the engine issues (x[T, in] · W[out, in]ᵀ). The engine's share of
// this ceiling is reported by the end-to-end benchmarks.
//
// Usage: gemm_bench [reps]   (RIPVEC_THREADS sets the pool size, hence the BLAS threads)
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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
  std::printf("%-22s %6s %6s %6s %10s %10s\n", "shape", "m", "n", "k", "ms", "GFLOP/s");
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
    run();  // warm-up: thread start, page faults
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
      const double t0 = now_s();
      run();
      best = std::min(best, now_s() - t0);
    }
    const double gflop = 2.0 * s.m * s.n * s.k * 1e-9;
    std::printf("%-22s %6d %6d %6d %10.2f %10.1f\n", s.what, s.m, s.n, s.k, best * 1e3,
                gflop / best);
  }
  return 0;
}
