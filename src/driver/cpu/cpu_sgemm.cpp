#include "driver/cpu/cpu_sgemm.hpp"

#include <algorithm>

#include "driver/cpu/cpu_gemm_tasks.hpp"
#include "driver/cpu/cpu_packed_gemm.hpp"
#include "util/aligned_vector.hpp"
#include "util/thread_pool.hpp"

namespace ripvec::cpu {
namespace {

// C = beta · C over m rows of n (beta == 0 writes zeros).
void scale_c(float* c, int64_t ldc, int64_t m, int64_t n, float beta) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

// One product through the packed kernel: op(B) · alpha packed into `panels`, op(A) copied into
// `at` when transposed, then packed_gemm. Each step spreads over the pool unless `small`; inside
// a pool task (one product per task) ThreadPool runs them serially on that task's thread.
void packed_product(const CpuKernels& kern, const GemmDesc& g, const float* a, const float* b,
                    float* c, bool accumulate, bool small, AlignedVector<float>& panels,
                    AlignedVector<float>& at) {
  const int64_t nr = kern.gemm_nr, np = (g.n + nr - 1) / nr;
  panels.resize(static_cast<size_t>(np * g.k * nr));
  auto pack = [&](int64_t lo, int64_t hi) {
    // Panels [lo, hi): columns [lo·nr, hi·nr) of op(B), at their place in the buffer.
    const int64_t j0 = lo * nr, cols = std::min(g.n, hi * nr) - j0;
    pack_panels(g.trans_b ? b + j0 * g.ldb : b + j0, g.ldb, g.trans_b, cols, g.k, kern.gemm_nr,
                g.alpha, panels.data() + lo * g.k * nr);
  };
  run_tasks(np, 1, small, pack);
  const float* ap = a;
  int64_t lda = g.lda;
  if (g.trans_a) {
    at.resize(static_cast<size_t>(g.m * g.k));
    auto transpose = [&](int64_t lo, int64_t hi) {
      for (int64_t kk = 0; kk < g.k; ++kk)
        for (int64_t r = lo; r < hi; ++r) at[r * g.k + kk] = a[kk * g.lda + r];
    };
    run_tasks(g.m, 32, small, transpose);
    ap = at.data();
    lda = g.k;
  }
  packed_gemm(kern, panels.data(), g.n, g.k, ap, lda, c, g.ldc, g.m, nullptr, accumulate, false);
}

}  // namespace

void sgemm(const CpuKernels& kern, const GemmDesc& g, int64_t batch, int64_t sa, int64_t sb,
           int64_t sc, const float* a, const float* b, float* c) {
  if (batch <= 0 || g.m <= 0 || g.n <= 0) return;
  const int64_t threads = ThreadPool::global().size();
  const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k) * double(batch);
  const bool small = flops < 2e6;
  if (g.k <= 0 || g.alpha == 0.0f) {
    // BLAS leaves beta · C and reads neither A nor B.
    if (g.beta != 1.0f)
      for (int64_t i = 0; i < batch; ++i) scale_c(c + i * sc, g.ldc, g.m, g.n, g.beta);
    return;
  }
  if (g.beta != 0.0f && g.beta != 1.0f)
    for (int64_t i = 0; i < batch; ++i) scale_c(c + i * sc, g.ldc, g.m, g.n, g.beta);
  const bool accumulate = g.beta != 0.0f;

  if (!g.trans_a && g.trans_b && g.m < kGemmNtMaxRows) {
    // Few rows against Bᵀ as stored: column groups of every product, about three per thread.
    const int64_t per = std::max<int64_t>(16, (g.n * batch + 3 * threads - 1) / (3 * threads));
    const int64_t cols = (per + 3) / 4 * 4, groups = (g.n + cols - 1) / cols;
    auto run = [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t i = t / groups, j0 = (t % groups) * cols;
        GemmNt nt;
        nt.a = a + i * sa;
        nt.lda = g.lda;
        nt.b = b + i * sb + j0 * g.ldb;
        nt.ldb = g.ldb;
        nt.c = c + i * sc + j0;
        nt.ldc = g.ldc;
        nt.rows = g.m;
        nt.cols = std::min(cols, g.n - j0);
        nt.k = g.k;
        nt.alpha = g.alpha;
        nt.accumulate = accumulate;
        kern.gemm_nt(nt);
      }
    };
    run_tasks(batch * groups, 1, small, run);
    return;
  }

  // Many products (attention-shaped): one per pool task. Few large ones: each over the pool.
  auto run = [&](int64_t lo, int64_t hi) {
    AlignedVector<float> panels, at;
    for (int64_t i = lo; i < hi; ++i)
      packed_product(kern, g, a + i * sa, b + i * sb, c + i * sc, accumulate, small, panels, at);
  };
  if (batch >= threads || small)
    run_tasks(batch, 1, small, run);
  else
    run(0, batch);
}

}  // namespace ripvec::cpu
