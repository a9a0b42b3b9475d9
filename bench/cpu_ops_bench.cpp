// Throughput of the CPU driver's non-GEMM kernels per ISA build, and of the fused attention
// against the padded / banded fallbacks of driver/ops.hpp.
//
// Usage: cpu_ops_bench [batch] [seq] (defaults 8 x 384, MiniLM-L6 geometry: H=384, 12 heads)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

#include "driver/cpu/cpu_driver.hpp"
#include "driver/cpu/cpu_kernels.hpp"
#include "driver/ops.hpp"
#include "util/thread_pool.hpp"

namespace {

double time_best(int reps, const std::function<void()>& f) {
  f();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ripvec;
  const int B = argc > 1 ? std::atoi(argv[1]) : 8;
  const int S = argc > 2 ? std::atoi(argv[2]) : 384;
  const int H = 384, nh = 12, hd = 32, I = 1536;
  std::mt19937 rng(7);
  std::vector<std::vector<int32_t>> seqs(B, std::vector<int32_t>(S, 1));
  const BatchInputs bi = build_batch_inputs(seqs);
  const int64_t T = bi.total_tokens;
  std::printf("cpu_ops_bench: B=%d S=%d T=%lld, H=%d nh=%d hd=%d, %u threads\n", B, S,
              static_cast<long long>(T), H, nh, hd, ThreadPool::global().size());
  std::printf("%-8s %-34s %10s %12s\n", "isa", "op", "ms", "GB/s|GFLOP/s");
  for (cpu::Isa isa : {cpu::Isa::kScalar, cpu::Isa::kAvx2, cpu::Isa::kAvx512}) {
    if (!cpu::isa_available(isa)) continue;
    CpuDriver d(isa);
    d.reserve_scratch(size_t{1} << 30);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    auto rand_t = [&](std::initializer_list<int64_t> dims) {
      auto t = d.alloc(DType::F32, dims);
      for (int64_t i = 0; i < t.numel(); ++i) t.as<float>()[i] = dist(rng);
      return t;
    };
    auto x = rand_t({T, H}), res = rand_t({T, H}), g = rand_t({H}), b = rand_t({H});
    auto up = rand_t({T, I}), bi1 = rand_t({I});
    auto qkv = rand_t({T, 3 * H}), out = rand_t({T, H});
    auto db = d.upload_batch(bi);
    auto report = [&](const char* op, double s, double units, const char* unit) {
      std::printf("%-8s %-34s %10.3f %9.1f %s\n", d.isa_name(), op, s * 1e3, units / s * 1e-9,
                  unit);
    };
    const double xb = double(T) * H * 4;
    report("layer_norm [T,H]", time_best(10, [&] { d.layer_norm(out, x, g, b, 1e-12f); }), 2 * xb,
           "GB/s");
    report("fused_residual_layernorm [T,H]",
           time_best(10, [&] { d.fused_residual_layernorm(out, x, b, res, g, b, 1e-12f); }), 4 * xb,
           "GB/s");
    report("fused_bias_gelu [T,I]", time_best(10, [&] { d.fused_bias_gelu(up, bi1); }),
           2.0 * T * I * 4, "GB/s");
    for (int w : {-1, 64}) {
      AttentionDesc ad{nh, hd, 1.0f / std::sqrt(float(hd)), w};
      const double keys = w < 0 ? S : std::min(S, 2 * w + 1);
      const double flops = 4.0 * T * keys * hd * nh;
      report(w < 0 ? "attention fused (global)" : "attention fused (w=64)",
             time_best(5, [&] { d.attention(out, qkv, ad, db); }), flops, "GFLOP/s");
      // The ops.hpp fallback composed from the basic operations (padded / banded), spelled
      // out here as ops.hpp does it.
      report(w < 0 ? "attention padded fallback" : "attention banded fallback",
             time_best(3,
                       [&] {
                         const size_t mark = d.save();
                         if (w < 0) {
                           const int64_t Bn = bi.batch, Sn = bi.max_seq;
                           auto q = d.alloc(DType::F32, {Bn, nh, Sn, hd});
                           auto k = d.alloc(DType::F32, {Bn, nh, Sn, hd});
                           auto v = d.alloc(DType::F32, {Bn, nh, Sn, hd});
                           d.qkv_split(q, k, v, qkv, db, nh);
                           auto sc = d.alloc(DType::F32, {Bn, nh, Sn, Sn});
                           GemmDesc g1{Sn, Sn, hd, false, true, hd, hd, Sn, 1.0f, 0.0f};
                           d.gemm_strided_batched(g1, Bn * nh, Sn * hd, Sn * hd, Sn * Sn, q, k, sc);
                           d.scale_mask_softmax(sc, db.float_mask, ad.scale);
                           auto ctx = d.alloc(DType::F32, {Bn, nh, Sn, hd});
                           GemmDesc g2{Sn, hd, Sn, false, false, Sn, hd, hd, 1.0f, 0.0f};
                           d.gemm_strided_batched(g2, Bn * nh, Sn * Sn, Sn * hd, Sn * hd, sc, v,
                                                  ctx);
                           d.attn_reshape(out, ctx, db);
                         } else {
                           const int64_t band = 2 * w + 1;
                           for (int bb = 0; bb < bi.batch; ++bb) {
                             const int64_t len = bi.seq_lengths[bb];
                             auto sc = d.alloc(DType::F32, {nh, len, band});
                             d.banded_qk(sc, qkv, bi.cu_seqlens[bb], len, ad);
                             d.banded_softmax(sc, ad);
                             d.banded_sv(out, sc, qkv, bi.cu_seqlens[bb], len, ad);
                           }
                         }
                         d.restore(mark);
                       }),
             flops, "GFLOP/s");
    }
  }
  return 0;
}
