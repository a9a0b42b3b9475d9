// Embedding throughput of the engine on the CPU: tokens per second over a fixed corpus of
// ~256-token texts in batches of 32, the FLOP rate of the forward pass, and that rate as a
// share of the sgemm ceiling measured on the same machine with the driver's own GEMM on the
// model's layer shapes.
//
//   embed_bench [--model DIR|ID] [--corpus FILE.json] [--texts N] [--batch B] [--seq S]
//               [--iters K] [--json]
//
// --corpus: a JSON array of strings (scripts/bench_peer_cpu.py writes one so that every engine
// embeds the same texts); without it a deterministic corpus is generated. Threads: the
// process-wide pool ($RIPVEC_THREADS, default all cores).
// Timed: embed_tokens() on pre-tokenized ids (the model), and embed() (tokenization included).
//
// --serve: after loading and one warm-up pass, reads commands from stdin, one per line, and
// answers each with one JSON line: "model" (one timed embed_tokens pass), "e2e" (one timed
// embed pass), "ceiling" (sgemm ceiling), "quit". scripts/bench_peer_cpu.py uses it to
// interleave engines round by round, so that a busy machine slows every engine alike.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "driver/cpu/cpu_driver.hpp"
#include "ripvec/embedder.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/model_files.hpp"
#include "util/thread_pool.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Deterministic prose+code word salad; long enough that every text truncates at --seq.
std::vector<std::string> generate_corpus(size_t n) {
  static const char* kWords[] = {"the",        "function",
                                 "returns",    "a",
                                 "vector",     "of",
                                 "tokens",     "when",
                                 "parsing",    "config",
                                 "file",       "error",
                                 "handling",   "thread",
                                 "pool",       "queue",
                                 "request",    "server",
                                 "client",     "cache",
                                 "index",      "search",
                                 "embedding",  "model",
                                 "layer",      "hidden",
                                 "size",       "batch",
                                 "def",        "return",
                                 "self.value", "std::vector<int>",
                                 "for",        "(i = 0; i < n; ++i)",
                                 "{",          "}",
                                 "if",         "else",
                                 "nullptr",    "async",
                                 "await",      "=>",
                                 "import",     "numpy",
                                 "as",         "np",
                                 "class",      "struct",
                                 "impl",       "fn",
                                 "main()",     "println!",
                                 "SELECT",     "FROM",
                                 "WHERE",      "user_id",
                                 "=",          "42;",
                                 "memory",     "allocation",
                                 "is",         "slow",
                                 "because",    "the",
                                 "allocator",  "locks"};
  const size_t nw = sizeof(kWords) / sizeof(kWords[0]);
  uint64_t s = 0x9E3779B97F4A7C15ull;
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::string t;
    for (int w = 0; w < 400; ++w) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      if (!t.empty()) t += ' ';
      t += kWords[(s >> 33) % nw];
    }
    out.push_back(std::move(t));
  }
  return out;
}

// Forward FLOPs of a post-norm BERT over sequences of the given lengths: the four projections
// and the FFN (2 per multiply-add) plus QKᵀ and PV (2·2·S²·H per layer and sequence).
double bert_flops(const ripvec::BertConfig& c, const std::vector<size_t>& lens) {
  const double H = c.hidden_size, I = c.intermediate_size, L = c.num_hidden_layers;
  double f = 0;
  for (size_t s : lens) {
    const double S = static_cast<double>(s);
    f += L * (2.0 * S * (4.0 * H * H + 2.0 * H * I) + 4.0 * S * S * H);
  }
  return f;
}

// Best sgemm rate (GFLOP/s) of the driver's GEMM on the model's linear shapes with m = rows:
// CpuDriver::linear on loaded weights, i.e. the path the forward pass takes (the packed
// kernel, or cpu::sgemm with RIPVEC_CPU_GEMM=unpacked). The hardware's ceiling is
// bench/fma_peak_bench's.
double sgemm_ceiling(const ripvec::BertConfig& c, int64_t rows) {
  using namespace ripvec;
  CpuDriver d;
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  const int64_t shapes[][2] = {{3 * H, H}, {I, H}, {H, I}};  // (n, k)
  size_t bytes = 0;
  for (auto& sh : shapes) bytes += 4 * (rows * sh[1] + rows * sh[0]) + 1024;
  d.reserve_scratch(bytes);
  double best = 0;
  for (auto& sh : shapes) {
    const size_t mark = d.save();
    const int64_t n = sh[0], k = sh[1];
    std::vector<float> wv(static_cast<size_t>(n * k), 0.02f);
    HostTensorRef h;
    h.data = wv.data();
    h.dtype = DType::F32;
    h.shape = {n, k, 0, 0};
    h.rank = 2;
    auto w = d.load_weight(h, DType::F32);
    auto a = d.alloc(DType::F32, {rows, k});
    auto y = d.alloc(DType::F32, {rows, n});
    std::fill_n(a.as<float>(), a.numel(), 0.01f);
    d.linear(y, a, w, CpuDriver::Tensor{});  // warm-up (packs the weight)
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = Clock::now();
      d.linear(y, a, w, CpuDriver::Tensor{});
      best = std::max(best, 2.0 * rows * n * k / seconds_since(t0) / 1e9);
    }
    d.restore(mark);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ripvec;
  std::string model = std::string(kDefaultModelId), corpus_file;
  size_t n_texts = 64, batch = 32, seq = 256;
  int iters = 3;
  bool json_out = false, serve = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "embed_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model")
      model = next();
    else if (a == "--corpus")
      corpus_file = next();
    else if (a == "--texts")
      n_texts = std::stoul(next());
    else if (a == "--batch")
      batch = std::stoul(next());
    else if (a == "--seq")
      seq = std::stoul(next());
    else if (a == "--iters")
      iters = std::stoi(next());
    else if (a == "--json")
      json_out = true;
    else if (a == "--serve")
      serve = true;
    else {
      std::fprintf(stderr,
                   "usage: embed_bench [--model M] [--corpus F] [--texts N] [--batch B] "
                   "[--seq S] [--iters K] [--json] [--serve]\n");
      return 2;
    }
  }
  try {
    std::vector<std::string> texts;
    if (!corpus_file.empty()) {
      std::ifstream f(corpus_file);
      if (!f) throw IoError("cannot open corpus " + corpus_file);
      texts = nlohmann::json::parse(f).get<std::vector<std::string>>();
    } else {
      texts = generate_corpus(n_texts);
    }
    EmbedderOptions opts;
    opts.model = model;
    opts.device = Device::Cpu;
    opts.max_seq_length = seq;
    opts.max_batch_tokens = batch * seq;  // B sequences of S tokens per forward pass
    opts.resolve.progress = false;
    // $RIPVEC_BENCH_PRECISION=f32 (default: exact FP32 even where Auto would pick INT8), int8,
    // bf16 or auto (bench_peer_ort.py --ripvec-env).
    opts.precision = Precision::F32;
    if (const char* p = std::getenv("RIPVEC_BENCH_PRECISION"); p && *p) {
      const std::string v = p;
      const std::optional<Precision> named = precision_from_name(v);
      if (!named || *named == Precision::F16)  // (the CPU forward has no F16)
        throw InvalidArgument("RIPVEC_BENCH_PRECISION: expected f32, int8, bf16 or auto, got '" +
                              v + "'");
      opts.precision = *named;
    }
    const auto t_load = Clock::now();
    auto e = Embedder::load(opts);
    const double load_s = seconds_since(t_load);
    const ModelConfig cfg = load_model_config(resolve_model(model, opts.resolve).config);

    std::vector<std::vector<int32_t>> ids;
    std::vector<size_t> lens;
    size_t tokens = 0;
    for (const auto& t : texts) {
      ids.push_back(e->tokenizer().encode(t, true, e->max_seq_length()).ids);
      lens.push_back(ids.back().size());
      tokens += ids.back().size();
    }
    const double flops = bert_flops(cfg.bert, lens);

    e->embed_tokens(ids);  // warm-up: page in weights, touch the arena, spin up threads
    const unsigned threads = ThreadPool::global().size();
    CpuDriver probe;
    if (serve) {
      nlohmann::json hello = {
          {"engine", "ripvec"},         {"isa", probe.isa_name()}, {"gemm", probe.gemm_path_name()},
          {"device", e->device_name()}, {"threads", threads},      {"texts", texts.size()},
          {"tokens", tokens},           {"gflop", flops / 1e9},    {"load_s", load_s}};
      std::printf("%s\n", hello.dump().c_str());
      std::fflush(stdout);
      std::string cmd;
      while (std::getline(std::cin, cmd)) {
        nlohmann::json r;
        if (cmd == "model") {
          const auto t0 = Clock::now();
          e->embed_tokens(ids);
          r["model_s"] = seconds_since(t0);
        } else if (cmd == "e2e") {
          const auto t0 = Clock::now();
          e->embed(texts, InputKind::Raw);
          r["e2e_s"] = seconds_since(t0);
        } else if (cmd == "ceiling") {
          r["sgemm_ceiling_gflops"] = sgemm_ceiling(cfg.bert, static_cast<int64_t>(batch * seq));
        } else if (cmd == "quit") {
          break;
        } else {
          r["error"] = "unknown command " + cmd;
        }
        std::printf("%s\n", r.dump().c_str());
        std::fflush(stdout);
      }
      return 0;
    }
    double best_model = 1e30, best_e2e = 1e30;
    for (int it = 0; it < iters; ++it) {
      auto t0 = Clock::now();
      auto v = e->embed_tokens(ids);
      best_model = std::min(best_model, seconds_since(t0));
      t0 = Clock::now();
      auto w = e->embed(texts, InputKind::Raw);
      best_e2e = std::min(best_e2e, seconds_since(t0));
    }
    const double ceiling = sgemm_ceiling(cfg.bert, static_cast<int64_t>(batch * seq));
    const double gflops = flops / best_model / 1e9;
    if (json_out) {
      nlohmann::json j = {{"engine", "ripvec"},
                          {"isa", probe.isa_name()},
                          {"gemm", probe.gemm_path_name()},
                          {"device", e->device_name()},
                          {"threads", threads},
                          {"texts", texts.size()},
                          {"tokens", tokens},
                          {"batch", batch},
                          {"model_s", best_model},
                          {"e2e_s", best_e2e},
                          {"tokens_per_s", tokens / best_model},
                          {"e2e_tokens_per_s", tokens / best_e2e},
                          {"gflop", flops / 1e9},
                          {"gflops", gflops},
                          {"sgemm_ceiling_gflops", ceiling},
                          {"load_s", load_s}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf(
          "model %s on %s, %zu texts, %zu tokens, batch %zu, %u threads, isa %s, load %.2f s\n",
          e->model_id().c_str(), e->device_name().c_str(), texts.size(), tokens, batch, threads,
          probe.isa_name(), load_s);
      std::printf("forward (embed_tokens): %.3f s  %.0f tokens/s  %.1f GFLOP/s\n", best_model,
                  tokens / best_model, gflops);
      std::printf("end-to-end (embed):     %.3f s  %.0f tokens/s\n", best_e2e, tokens / best_e2e);
      std::printf(
          "sgemm ceiling (driver gemm, m=%zu, model shapes): %.1f GFLOP/s -> forward at "
          "%.0f%% of it\n",
          batch * seq, ceiling, 100.0 * gflops / ceiling);
    }
  } catch (const Error& err) {
    std::fprintf(stderr, "embed_bench: %s\n", err.describe().c_str());
    return 1;
  }
  return 0;
}
