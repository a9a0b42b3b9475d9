// GPU embedding benchmark driven by scripts/gpu_bench.py: embeds pre-tokenized sequences of a
// model directory (config.json + model.safetensors) on the CUDA driver, writes the pooled,
// normalized embeddings (F32, caller order) and prints one JSON line:
//   {"seconds": best wall time of the whole run incl. uploads/downloads, "peak_bytes": device
//    bytes held by the driver, "layer_ms": [per-layer ms of one batch] (ModernBERT only)}
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "arch/classic_bert.hpp"
#include "arch/modern_bert.hpp"
#include "driver/cuda/cuda_driver.hpp"
#include "pipeline/batching.hpp"
#include "pipeline/encoder.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"

using namespace ripvec;

namespace {
std::string arg(int argc, char** argv, const std::string& name, const std::string& def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return def;
}

template <class Arch, class Config>
int run(const Config& cfg, const std::filesystem::path& dir,
        const std::vector<std::vector<int32_t>>& seqs, DType dt, Pooling pooling, size_t budget,
        int reps, const std::string& out_path, bool layer_times, bool overlap) {
  CudaDriver::Options o;
  o.activation = dt;
  auto driver = std::make_unique<CudaDriver>(o);
  BatchLimits limits;
  limits.max_tokens = budget;
  size_t max_seq = 0;
  for (const auto& s : seqs) max_seq = std::max(max_seq, s.size());
  ArchOptions ao;
  ao.dtype = dt;
  ao.limits = worst_case_shape(limits, max_seq);
  ArchEncoder<CudaDriver, Arch> enc(std::move(driver), SafeTensors::open(dir / "model.safetensors"),
                                    cfg, ao, PoolingSpec{pooling, true});
  const size_t dim = enc.dim();
  std::vector<float> out;
  double best = 1e30;
  for (int r = 0; r < reps + 1; ++r) {  // first pass is a warm-up
    auto t0 = std::chrono::steady_clock::now();
    out = run_batches(
        seqs, {}, limits, dim,
        [&](const BatchInputs& b, float* o) {
          if (overlap)
            enc.embed_async(b, o);
          else
            enc.embed(b, o);
        },
        [&] { enc.finish(); });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0 || reps == 0) best = std::min(best, s);
  }
  std::vector<double> layer_ms;
  if constexpr (requires(Arch & a) { a.config().global_attn_every_n_layers; }) {
    if (layer_times) {
      // One batch (the first plan_batches() batch), each layer synchronized and timed.
      std::vector<std::vector<int32_t>> one(seqs.begin(),
                                            seqs.begin() + std::min<size_t>(seqs.size(), 8));
      BatchInputs b = build_batch_inputs(one);
      auto& d = enc.driver();
      auto& m = enc.model();
      m.ensure_scratch(BatchShape::of(b));
      for (int pass = 0; pass < 2; ++pass) {
        layer_ms.clear();
        const size_t mark = d.save();
        auto db = d.upload_batch(b);
        d.end_batch();
        auto t = std::chrono::steady_clock::now();
        auto cb = [&](int) {
          d.end_batch();
          auto now = std::chrono::steady_clock::now();
          layer_ms.push_back(std::chrono::duration<double, std::milli>(now - t).count());
          t = now;
        };
        m.forward_timed(db, &cb);
        d.end_batch();
        d.restore(mark);
      }
    }
  }
  std::ofstream f(out_path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(out.data()), out.size() * sizeof(float));
  std::printf("{\"seconds\": %.6f, \"peak_bytes\": %zu, \"layer_ms\": [", best,
              enc.driver().device_bytes());
  for (size_t i = 0; i < layer_ms.size(); ++i) std::printf("%s%.4f", i ? ", " : "", layer_ms[i]);
  std::printf("]}\n");
  return 0;
}
}  // namespace

int main(int argc, char** argv) try {
  const std::filesystem::path dir = arg(argc, argv, "--model-dir", "");
  const std::string ids_path = arg(argc, argv, "--ids", "");
  const std::string out_path = arg(argc, argv, "--out", "emb.f32");
  const std::string prec = arg(argc, argv, "--precision", "f16");
  const Pooling pooling =
      arg(argc, argv, "--pooling", "mean") == "cls" ? Pooling::Cls : Pooling::Mean;
  const size_t budget = std::stoul(arg(argc, argv, "--max-batch-tokens", "16384"));
  const int reps = std::stoi(arg(argc, argv, "--reps", "3"));
  // --overlap 0: one batch at a time (embed), for comparison with the default embed_async.
  const bool overlap = arg(argc, argv, "--overlap", "1") != "0";
  const DType dt = prec == "f32" ? DType::F32 : prec == "bf16" ? DType::BF16 : DType::F16;
  std::vector<std::vector<int32_t>> seqs;
  std::ifstream in(ids_path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    std::vector<int32_t> s;
    for (int32_t v; ss >> v;) s.push_back(v);
    if (!s.empty()) seqs.push_back(std::move(s));
  }
  if (seqs.empty()) throw InvalidArgument("no sequences in " + ids_path);
  ModelConfig mc = load_model_config(dir / "config.json");
  if (mc.arch == Architecture::ModernBert)
    return run<ModernBert<CudaDriver>>(mc.modernbert, dir, seqs, dt, pooling, budget, reps,
                                       out_path, true, overlap);
  return run<ClassicBert<CudaDriver>>(mc.bert, dir, seqs, dt, pooling, budget, reps, out_path,
                                      false, overlap);
} catch (const ripvec::Error& e) {
  std::fprintf(stderr, "gpu_embed_bench: %s\n", e.describe().c_str());
  return 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "gpu_embed_bench: %s\n", e.what());
  return 2;
}
