#include "driver/cpu/cpu_packed_gemm.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "driver/cpu/cpu_gemm_tasks.hpp"
#include "util/aligned_vector.hpp"
#include "util/thread_pool.hpp"

namespace ripvec::cpu {

void FreeFloats::operator()(float* p) const {
  CacheAlignedAllocator<float>().deallocate(p, 0);
}

void pack_panels(const float* b, int64_t ldb, bool nk, int64_t n, int64_t k, int nr, float alpha,
                 float* dst) {
  const int64_t panels = (n + nr - 1) / nr;
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t j0 = p * nr, cols = std::min<int64_t>(nr, n - j0);
    float* panel = dst + p * k * nr;
    if (nk) {
      // Rows of W read in order, strided writes into the panel.
      for (int64_t j = 0; j < nr; ++j) {
        if (j < cols) {
          const float* src = b + (j0 + j) * ldb;
          if (alpha == 1.0f)
            for (int64_t kk = 0; kk < k; ++kk) panel[kk * nr + j] = src[kk];
          else
            for (int64_t kk = 0; kk < k; ++kk) panel[kk * nr + j] = alpha * src[kk];
        } else {
          for (int64_t kk = 0; kk < k; ++kk) panel[kk * nr + j] = 0.0f;
        }
      }
    } else {
      // b is [k, n]: each k step's panel row is `cols` contiguous floats of one row of b.
      for (int64_t kk = 0; kk < k; ++kk) {
        const float* src = b + kk * ldb + j0;
        float* row = panel + kk * nr;
        for (int64_t j = 0; j < cols; ++j) row[j] = alpha * src[j];
        for (int64_t j = cols; j < nr; ++j) row[j] = 0.0f;
      }
    }
  }
}

PackedFloats pack_weight(const float* w, int64_t n, int64_t k, int nr) {
  const int64_t panels = (n + nr - 1) / nr;
  const size_t floats = static_cast<size_t>(std::max<int64_t>(panels * k * nr, 16));
  PackedFloats out(CacheAlignedAllocator<float>().allocate(floats));
  pack_panels(w, k, true, n, k, nr, 1.0f, out.get());  // once per weight, at first use
  return out;
}

namespace {
// Blocking overrides for tuning runs (bench/gemm_bench on a new CPU): $RIPVEC_CPU_GEMM_KC
// (largest k block, floats) and $RIPVEC_CPU_GEMM_MC (register tiles per row block). Read once;
// 0 or unset keeps the kernel build's defaults.
int64_t env_int(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::max<int64_t>(0, std::atoll(v)) : 0;
}
const int64_t kEnvKc = env_int("RIPVEC_CPU_GEMM_KC");
const int64_t kEnvMcTiles = env_int("RIPVEC_CPU_GEMM_MC");

int64_t packed_kc(const CpuKernels& kern, int64_t k) {
  // k blocks of at most gemm_kc, as even as possible (k = 1536 -> 4 x 384 on AVX-512).
  const int64_t kc_max = kEnvKc > 0 ? kEnvKc : kern.gemm_kc;
  const int64_t kblocks = std::max<int64_t>(1, (k + kc_max - 1) / kc_max);
  return std::max<int64_t>(1, (k + kblocks - 1) / kblocks);
}

int64_t packed_mc(const CpuKernels& kern) {
  // Row blocks of gemm_mc_tiles register tiles (48 rows on AVX-512, 72 on AVX2): the block's A
  // rows for one k block stay in L2 while the panels stream past.
  return (kEnvMcTiles > 0 ? kEnvMcTiles : kern.gemm_mc_tiles) * int64_t{kern.gemm_mr};
}

}  // namespace

void packed_gemm(const CpuKernels& kern, const float* packed, int64_t n, int64_t k, const float* a,
                 int64_t lda, float* c, int64_t ldc, int64_t m, const float* bias, bool accumulate,
                 bool gelu) {
  if (m <= 0 || n <= 0) return;
  const int64_t nr = kern.gemm_nr, kc = packed_kc(kern, k), mc = packed_mc(kern);
  const int64_t threads = ThreadPool::global().size();
  const GemmTasks split(m, mc, (n + nr - 1) / nr, threads);
  const int64_t tasks = split.count;
  auto run = [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t rb = split.row_block(t);
      GemmBlock g;
      g.a = a + rb * mc * lda;
      g.lda = lda;
      g.b = packed;
      g.n = n;
      g.k = k;
      g.kc = kc;
      g.c = c + rb * mc * ldc;
      g.ldc = ldc;
      g.rows = std::min(mc, m - rb * mc);
      g.panel0 = split.panel0(t);
      g.panel1 = split.panel1(t);
      g.bias = bias;
      g.accumulate = accumulate;
      g.gelu = gelu;
      kern.gemm_block(g);
    }
  };
  const double flops = 2.0 * double(m) * double(n) * double(k);
  run_tasks(tasks, 1, flops < 2e6, run);
}

}  // namespace ripvec::cpu
