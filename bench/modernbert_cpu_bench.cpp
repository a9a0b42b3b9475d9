// ModernBERT on the CPU: embedding throughput (tokens/s) of the engine for a model directory
// of the modernbert-embed-base shape, on pre-tokenized random ids (the weights are random too:
// real weights cannot be fetched here, and the speed does not depend on the values).
//
//   modernbert_cpu_bench --model DIR [--texts 64] [--mean 256] [--std 64] [--min 16]
//                        [--max 512] [--long 4096] [--iters 3] [--layer-reps 3] [--json]
//   modernbert_cpu_bench --model DIR --serve        (commands on stdin, one JSON line each)
//   modernbert_cpu_bench --model DIR --rss LEN      (peak RSS of one LEN-token input)
//
// DIR holds config.json, model.safetensors and tokenizer.json (Embedder::load needs one; the
// ids are not produced by it). Cases:
//   short:  --texts sequences with lengths ~ N(mean, std) clipped to [min, max], embedded by
//           Embedder::embed_tokens (the pipeline's own batching: 16384-token budget)
//   long:   one --long-token sequence, the same way
//   layers: ModernBert::forward_timed on the long sequence, wall time of every layer (the CPU
//           driver is synchronous, so a timestamp after each layer is exact); global layers
//           attend to the whole sequence, local ones to a 128-token window
// Inputs come from a splitmix64 stream (seed --seed): length = clamp(round(mean + std * z))
// with z the sum of 12 uniforms minus 6; ids uniform in [0, vocab). scripts/bench_modernbert_cpu.py
// draws the same inputs for PyTorch and checks the checksum printed here.
//
// --serve: after loading, answers "warm" (the first 8 short texts), "short", "long", "layers"
// and "quit" with one JSON line
// each, so that the Python script can interleave engines round by round on a busy machine.
// Threads: the process-wide pool ($RIPVEC_THREADS, default all cores).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch/modern_bert.hpp"
#include "driver/cpu/cpu_driver.hpp"
#include "ripvec/embedder.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"
#include "util/thread_pool.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace ripvec;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct SplitMix {
  uint64_t s;
  uint64_t next() {
    s += 0x9E3779B97F4A7C15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() {  // Irwin-Hall: exact same arithmetic in the Python script
    double z = 0;
    for (int i = 0; i < 12; ++i) z += uniform();
    return z - 6.0;
  }
};

struct Inputs {
  std::vector<std::vector<int32_t>> shorts;
  std::vector<int32_t> long_ids;
  int64_t short_tokens = 0;
  uint64_t short_sum = 0, long_sum = 0;
};

struct Options {
  std::string model;
  int texts = 64;
  double mean = 256, std = 64;
  int min_len = 16, max_len = 512, long_len = 4096;
  int iters = 3, layer_reps = 3;
  uint64_t seed = 42;
  bool serve = false, as_json = false;
  int rss = 0;
};

Inputs make_inputs(const Options& o, int vocab) {
  Inputs in;
  SplitMix rng{o.seed};
  for (int i = 0; i < o.texts; ++i) {
    double len = std::floor(o.mean + o.std * rng.normal() + 0.5);
    len = std::clamp(len, static_cast<double>(o.min_len), static_cast<double>(o.max_len));
    std::vector<int32_t> ids(static_cast<size_t>(len));
    for (auto& id : ids) {
      id = static_cast<int32_t>(rng.next() % static_cast<uint64_t>(vocab));
      in.short_sum += static_cast<uint64_t>(id);
    }
    in.short_tokens += static_cast<int64_t>(ids.size());
    in.shorts.push_back(std::move(ids));
  }
  in.long_ids.resize(static_cast<size_t>(o.long_len));
  for (auto& id : in.long_ids) {
    id = static_cast<int32_t>(rng.next() % static_cast<uint64_t>(vocab));
    in.long_sum += static_cast<uint64_t>(id);
  }
  return in;
}

// ru_maxrss survives exec on Linux (a child forked from a big process starts with the
// parent's peak), so VmHWM, which belongs to this process's own address space, is the number
// to trust when a script launches us.
long max_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // KiB on Linux
}

long vm_kib(const char* key) {  // a line of /proc/self/status ("VmRSS", "VmHWM", ...)
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key) + 1);
  return -1;
}

// Times the layers of one long sequence on a model instance of its own.
class LayerTimer {
 public:
  explicit LayerTimer(const fs::path& dir)
      : cfg_(load_model_config(dir / "config.json")),
        st_(SafeTensors::open(dir / "model.safetensors")),
        model_(d_, st_, cfg_.modernbert, ArchOptions{}) {}

  // Per-layer wall ms of one forward pass over `ids`; layer 0 includes the embedding lookup.
  std::vector<double> run(const std::vector<int32_t>& ids) {
    BatchInputs b = build_batch_inputs(std::vector<std::vector<int32_t>>{ids});
    model_.ensure_scratch(BatchShape::of(b));
    const size_t mark = d_.save();
    auto db = d_.upload_batch(b);
    std::vector<double> ms;
    auto last = Clock::now();
    auto on_layer = [&](int) {
      const auto now = Clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
      last = now;
    };
    model_.forward_timed(db, &on_layer);
    d_.restore(mark);
    return ms;
  }
  bool is_global(int l) const { return model_.is_global_layer(l); }
  const char* isa() const { return d_.isa_name(); }

 private:
  ModelConfig cfg_;
  SafeTensors st_;
  CpuDriver d_;
  ModernBert<CpuDriver> model_;
};

json layer_summary(LayerTimer& lt, const std::vector<int32_t>& ids, int reps) {
  std::vector<std::vector<double>> runs;
  for (int r = 0; r < reps; ++r) runs.push_back(lt.run(ids));
  const size_t L = runs[0].size();
  std::vector<double> med(L);
  for (size_t l = 0; l < L; ++l) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(r[l]);
    std::sort(v.begin(), v.end());
    med[l] = v[v.size() / 2];
  }
  double g = 0, lo = 0;
  int ng = 0, nl = 0;
  std::vector<int> global;
  for (size_t l = 0; l < L; ++l) {
    if (lt.is_global(static_cast<int>(l))) global.push_back(static_cast<int>(l));
    if (l == 0) continue;  // holds the embedding lookup as well
    if (lt.is_global(static_cast<int>(l))) {
      g += med[l];
      ++ng;
    } else {
      lo += med[l];
      ++nl;
    }
  }
  return {{"cmd", "layers"},
          {"tokens", ids.size()},
          {"reps", reps},
          {"median_ms", med},
          {"global_layers", global},
          {"global_mean_ms", ng ? g / ng : 0.0},
          {"local_mean_ms", nl ? lo / nl : 0.0},
          {"total_ms", [&] {
             double t = 0;
             for (double m : med) t += m;
             return t;
           }()}};
}

// CPU seconds (user + system, all threads) this process has used: on a shared machine the
// wall time depends on the other tenants, the CPU time much less.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

json time_embed(Embedder& e, const std::vector<std::vector<int32_t>>& seqs, const char* name) {
  int64_t tokens = 0;
  for (const auto& s : seqs) tokens += static_cast<int64_t>(s.size());
  const double c0 = cpu_seconds();
  const auto t0 = Clock::now();
  const auto out = e.embed_tokens(seqs);
  const double s = seconds_since(t0);
  const double cpu = cpu_seconds() - c0;
  if (out.size() != seqs.size() * e.dim()) throw std::runtime_error("embedding size mismatch");
  return {{"cmd", name},
          {"seconds", s},
          {"cpu_s", cpu},
          {"tokens", tokens},
          {"tokens_per_s", tokens / s}};
}

void usage() {
  std::fprintf(stderr,
               "usage: modernbert_cpu_bench --model DIR [--texts N] [--mean M] [--std S] "
               "[--min A] [--max B] [--long L] [--iters K] [--layer-reps R] [--seed X] "
               "[--json] [--serve] [--rss LEN]\n");
}

int run_main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw InvalidArgument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--model")
      o.model = val();
    else if (a == "--texts")
      o.texts = std::stoi(val());
    else if (a == "--mean")
      o.mean = std::stod(val());
    else if (a == "--std")
      o.std = std::stod(val());
    else if (a == "--min")
      o.min_len = std::stoi(val());
    else if (a == "--max")
      o.max_len = std::stoi(val());
    else if (a == "--long")
      o.long_len = std::stoi(val());
    else if (a == "--iters")
      o.iters = std::stoi(val());
    else if (a == "--layer-reps")
      o.layer_reps = std::stoi(val());
    else if (a == "--seed")
      o.seed = std::stoull(val());
    else if (a == "--rss")
      o.rss = std::stoi(val());
    else if (a == "--serve")
      o.serve = true;
    else if (a == "--json")
      o.as_json = true;
    else {
      usage();
      return 2;
    }
  }
  if (o.model.empty()) {
    usage();
    return 2;
  }
  const fs::path dir = o.model;
  const ModelConfig mc = load_model_config(dir / "config.json");
  if (mc.arch != Architecture::ModernBert)
    throw InvalidArgument(dir.string() + " is not a ModernBERT model");
  const int vocab = mc.modernbert.vocab_size;

  EmbedderOptions eo;
  eo.model = dir.string();
  eo.device = Device::Cpu;
  eo.resolve.allow_download = false;

  if (o.rss > 0) {
    // One o.rss-token input through the full pipeline; what it costs beyond the load.
    const long before = max_rss_kib();
    const auto t0 = Clock::now();
    auto e = Embedder::load(eo);
    const double load_s = seconds_since(t0);
    const long after_load = max_rss_kib(), hwm_after_load = vm_kib("VmHWM");
    Options lo = o;
    lo.texts = 0;
    lo.long_len = o.rss;
    const Inputs in = make_inputs(lo, vocab);
    const json r = time_embed(*e, {in.long_ids}, "rss");
    json out = {{"cmd", "rss"},
                {"tokens", o.rss},
                {"threads", ThreadPool::global().size()},
                {"max_seq_length", e->max_seq_length()},
                {"load_s", load_s},
                {"embed_s", r["seconds"]},
                {"maxrss_start_kib", before},
                {"maxrss_after_load_kib", after_load},
                {"maxrss_after_embed_kib", max_rss_kib()},
                {"vm_hwm_after_load_kib", hwm_after_load},
                {"vm_hwm_kib", vm_kib("VmHWM")},
                {"vm_peak_kib", vm_kib("VmPeak")},
                {"weights_bytes", fs::file_size(dir / "model.safetensors")}};
    std::cout << out.dump() << std::endl;
    return 0;
  }

  const auto t0 = Clock::now();
  auto e = Embedder::load(eo);
  const double load_s = seconds_since(t0);
  const Inputs in = make_inputs(o, vocab);
  std::unique_ptr<LayerTimer> lt;
  auto layers = [&]() {
    if (!lt) lt = std::make_unique<LayerTimer>(dir);
    return layer_summary(*lt, in.long_ids, o.layer_reps);
  };
  const json hello = {{"ready", true},
                      {"threads", ThreadPool::global().size()},
                      {"load_s", load_s},
                      {"short_n", in.shorts.size()},
                      {"short_tokens", in.short_tokens},
                      {"short_sum", in.short_sum},
                      {"long_tokens", in.long_ids.size()},
                      {"long_sum", in.long_sum}};

  if (o.serve) {
    std::cout << hello.dump() << std::endl;
    std::string cmd;
    while (std::getline(std::cin, cmd)) {
      json r;
      if (cmd == "warm") {
        // A few short texts: first-touch of the arena and the weights, cheaply.
        const size_t n = std::min<size_t>(8, in.shorts.size());
        const std::vector<std::vector<int32_t>> few(in.shorts.begin(), in.shorts.begin() + n);
        r = time_embed(*e, few, "warm");
      } else if (cmd == "short")
        r = time_embed(*e, in.shorts, "short");
      else if (cmd == "long")
        r = time_embed(*e, {in.long_ids}, "long");
      else if (cmd == "layers")
        r = layers();
      else if (cmd == "quit")
        break;
      else
        r = {{"error", "unknown command " + cmd}};
      std::cout << r.dump() << std::endl;
    }
    return 0;
  }

  // Standalone: one warm-up, then the best of --iters for each case.
  time_embed(*e, in.shorts, "short");
  json best_short, best_long;
  for (int it = 0; it < o.iters; ++it) {
    json s = time_embed(*e, in.shorts, "short");
    json l = time_embed(*e, {in.long_ids}, "long");
    if (best_short.is_null() || s["seconds"] < best_short["seconds"]) best_short = s;
    if (best_long.is_null() || l["seconds"] < best_long["seconds"]) best_long = l;
  }
  const json lay = layers();
  const json all = {{"inputs", hello},
                    {"short", best_short},
                    {"long", best_long},
                    {"layers", lay},
                    {"isa", lt->isa()}};
  if (o.as_json) {
    std::cout << all.dump(2) << std::endl;
    return 0;
  }
  std::printf("threads %u, isa %s, model %s (load %.2f s)\n", ThreadPool::global().size(),
              lt->isa(), dir.c_str(), load_s);
  std::printf("short: %zu texts, %lld tokens: %.3f s, %.0f tokens/s (best of %d)\n",
              in.shorts.size(), static_cast<long long>(in.short_tokens),
              best_short["seconds"].get<double>(), best_short["tokens_per_s"].get<double>(),
              o.iters);
  std::printf("long:  1 x %zu tokens: %.3f s, %.0f tokens/s (best of %d)\n", in.long_ids.size(),
              best_long["seconds"].get<double>(), best_long["tokens_per_s"].get<double>(), o.iters);
  std::printf("layers at %zu tokens (median of %d): global %.1f ms, local %.1f ms, total %.1f ms\n",
              in.long_ids.size(), o.layer_reps, lay["global_mean_ms"].get<double>(),
              lay["local_mean_ms"].get<double>(), lay["total_ms"].get<double>());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "modernbert_cpu_bench: %s\n", e.what());
    return 1;
  }
}
