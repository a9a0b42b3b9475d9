// Throughput of the CPU driver's non-GEMM kernels per ISA build, and of the fused attention
// against the padded / banded fallbacks of driver/ops.hpp; then one whole encoder layer
// (MiniLM-L6 geometry, the op sequence of arch/classic_bert.hpp: QKV linear, fused attention,
// output linear + residual layer norm, linear + GELU, linear + residual layer norm) timed op by
// op with the widest ISA, and the share of the layer's time spent in the four GEMMs.
//
// Usage: cpu_ops_bench [batch] [seq] [--layer] [--int8 | --bf16] [--split-ffn] [--reps N]
//   batch x seq: the token count (defaults 8 x 384; MiniLM-L6: H=384, 12 heads, FFN 1536)
//   --layer: only the layer breakdown; --int8: its linear layers in INT8 (CpuDriver::set_int8,
//   the kernel Auto picks; activation quantization included in each GEMM's time); --bf16: in
//   BF16 (CpuDriver::set_bf16: the emulated kernel, AMX with $RIPVEC_CPU_BF16=amx);
//   --int8 and --bf16 take the BF16 attention where cpu::attention_bf16_pays();
//   --split-ffn: each sub-layer's products and its residual layer norm timed apart (linear,
//   fused_residual_layernorm; linear_gelu, linear, fused_residual_layernorm) instead of the
//   linear_residual_layernorm and ffn_gelu_layernorm the model calls (under BF16 on AMX they
//   norm each row block while it is in cache, and the FFN keeps its intermediate per block);
//   --reps: layer repetitions (default 9). Each op's time is
//   the median over the repetitions, which run op after op (interleaved), so that load on a
//   shared machine slows every op alike.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
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

// Each op of every ISA build, best of a few repetitions.
void op_table(const ripvec::BatchInputs& bi, std::mt19937& rng, int H, int nh, int hd, int I) {
  using namespace ripvec;
  const int64_t T = bi.total_tokens;
  const int S = static_cast<int>(bi.max_seq);
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
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// One encoder layer op by op (widest ISA, the driver's default GEMM path), median per op.
void layer_breakdown(const ripvec::BatchInputs& bi, std::mt19937& rng, int H, int nh, int hd, int I,
                     int reps, bool int8, bool bf16, bool split_ffn) {
  using namespace ripvec;
  using Clock = std::chrono::steady_clock;
  const int64_t T = bi.total_tokens;
  CpuDriver d;
  d.reserve_scratch(size_t{1} << 30);
  if (int8) d.set_int8(true);
  if (bf16) d.set_bf16(true);
  // As Embedder::load: attention's products in BF16 under reduced precision where that pays
  // ($RIPVEC_CPU_ATTN=f32|bf16 to compare).
  if (int8 || bf16) d.set_attention_bf16(ripvec::cpu::attention_bf16_pays());
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<std::vector<float>> host;
  auto weight = [&](int64_t n, int64_t k) {
    host.emplace_back(static_cast<size_t>(n * k));
    for (float& v : host.back()) v = dist(rng);
    HostTensorRef h;
    h.data = host.back().data();
    h.dtype = DType::F32;
    h.shape = {n, k, 0, 0};
    h.rank = 2;
    return d.load_weight(h, DType::F32);
  };
  auto rand_t = [&](std::initializer_list<int64_t> dims) {
    auto t = d.alloc(DType::F32, dims);
    for (int64_t i = 0; i < t.numel(); ++i) t.as<float>()[i] = dist(rng);
    return t;
  };
  host.reserve(4);
  auto wqkv = weight(3 * H, H), wo = weight(H, H), wi = weight(I, H), wo2 = weight(H, I);
  auto bqkv = rand_t({3 * H}), bo = rand_t({H}), bi1 = rand_t({I}), bo2 = rand_t({H});
  auto g1 = rand_t({H}), b1 = rand_t({H}), g2 = rand_t({H}), b2 = rand_t({H});
  auto x = rand_t({T, H}), qkv = rand_t({T, 3 * H}), ctx = rand_t({T, H});
  auto proj = rand_t({T, H}), inter = rand_t({T, I}), out = rand_t({T, H});
  const std::vector<float> x0(x.as<float>(), x.as<float>() + x.numel());
  auto db = d.upload_batch(bi);
  const AttentionDesc ad{nh, hd, 1.0f / std::sqrt(float(hd)), -1};
  struct Op {
    const char* name;
    bool gemm;
    double gflop;
    std::function<void()> run;
  };
  const double t = static_cast<double>(T);
  double attn_flops = 0;  // QKᵀ and PV: 4 · len² · H per sequence
  for (int32_t len : bi.seq_lengths) attn_flops += 4.0 * double(len) * double(len) * H;
  std::vector<Op> ops = {
      {"linear qkv [T,H]x[H,3H]", true, 2 * t * H * 3 * H * 1e-9,
       [&] { d.linear(qkv, x, wqkv, bqkv); }},
      {"attention (fused)", false, attn_flops * 1e-9, [&] { d.attention(ctx, qkv, ad, db); }},
      {"linear out [T,H]x[H,H]", true, 2 * t * H * H * 1e-9,
       [&] { d.linear(proj, ctx, wo, CpuDriver::Tensor{}); }},
      {"residual + layer norm", false, 0,
       [&] { d.fused_residual_layernorm(x, proj, bo, x, g1, b1, 1e-12f); }},
      {"linear + GELU [T,H]x[H,I]", true, 2 * t * H * I * 1e-9,
       [&] { d.linear_gelu(inter, x, wi, bi1); }},
      {"linear down [T,I]x[I,H]", true, 2 * t * I * H * 1e-9,
       [&] { d.linear(out, inter, wo2, CpuDriver::Tensor{}); }},
      {"residual + layer norm", false, 0,
       [&] { d.fused_residual_layernorm(x, out, bo2, x, g2, b2, 1e-12f); }},
  };
  if (!split_ffn) {  // the model's calls: each sub-layer's products and its norm in one op
    ops[4] = {"FFN + residual LN [T,H]x[H,I]x[I,H]", true, 4 * t * H * I * 1e-9, [&] {
                const size_t mark = d.save();
                ripvec::ops::ffn_gelu_layernorm(d, x, wi, bi1, wo2, bo2, g2, b2, 1e-12f);
                d.restore(mark);
              }};
    ops.erase(ops.begin() + 5, ops.begin() + 7);
    ops[2] = {"linear out + residual LN [T,H]x[H,H]", true, 2 * t * H * H * 1e-9, [&] {
                const size_t mark = d.save();
                ripvec::ops::linear_residual_layernorm(d, x, ctx, wo, bo, g1, b1, 1e-12f);
                d.restore(mark);
              }};
    ops.erase(ops.begin() + 3);
  }
  std::vector<std::vector<double>> ms(ops.size());
  for (int r = -1; r < reps; ++r) {                  // r = -1: warm-up (packs the weights)
    std::copy(x0.begin(), x0.end(), x.as<float>());  // the same activations every repetition
    for (size_t i = 0; i < ops.size(); ++i) {
      const auto t0 = Clock::now();
      ops[i].run();
      const double dt = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (r >= 0) ms[i].push_back(dt);
    }
  }
  std::printf("\nlayer breakdown (isa %s, GEMM %s, median of %d interleaved repetitions)\n",
              d.isa_name(),
              bf16   ? d.bf16_isa_name()
              : int8 ? d.int8_isa_name()
                     : d.gemm_path_name(),
              reps);
  std::printf("%-30s %10s %10s %8s\n", "op", "ms", "GFLOP/s", "share");
  double total = 0, gemm = 0, flops = 0;
  std::vector<double> med(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    med[i] = median(ms[i]);
    total += med[i];
    if (ops[i].gemm) gemm += med[i];
    flops += ops[i].gflop;
  }
  for (size_t i = 0; i < ops.size(); ++i)
    std::printf("%-30s %10.3f %10.1f %7.1f%%\n", ops[i].name, med[i],
                ops[i].gflop > 0 ? ops[i].gflop / med[i] * 1e3 : 0.0, 100.0 * med[i] / total);
  std::printf("layer: %.3f ms, %.1f GFLOP/s; GEMM share %.1f%% (attention %.1f%%)\n", total,
              flops / total * 1e3, 100.0 * gemm / total, 100.0 * med[1] / total);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ripvec;
  int B = 8, S = 384, reps = 9, positional = 0;
  bool layer_only = false, int8 = false, bf16 = false, split_ffn = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--layer") {
      layer_only = true;
    } else if (a == "--int8") {
      int8 = true;
    } else if (a == "--bf16") {
      bf16 = true;
    } else if (a == "--split-ffn") {
      split_ffn = true;
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (positional < 2 && std::atoi(a.c_str()) > 0) {
      (positional++ == 0 ? B : S) = std::atoi(a.c_str());
    } else {
      std::fprintf(stderr,
                   "usage: cpu_ops_bench [batch] [seq] [--layer] [--int8 | --bf16] [--split-ffn] "
                   "[--reps N]\n");
      return 2;
    }
  }
  const int H = 384, nh = 12, hd = 32, I = 1536;
  std::mt19937 rng(7);
  std::vector<std::vector<int32_t>> seqs(B, std::vector<int32_t>(S, 1));
  const BatchInputs bi = build_batch_inputs(seqs);
  const int64_t T = bi.total_tokens;
  std::printf("cpu_ops_bench: B=%d S=%d T=%lld, H=%d nh=%d hd=%d, %u threads\n", B, S,
              static_cast<long long>(T), H, nh, hd, ThreadPool::global().size());
  if (!layer_only) op_table(bi, rng, H, nh, hd, I);
  layer_breakdown(bi, rng, H, nh, hd, I, reps, int8, bf16, split_ffn);
  return 0;
}
