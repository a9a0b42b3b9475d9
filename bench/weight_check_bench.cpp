// Cost of the load-time NaN/Inf check (check_finite) on real and full-size models.
// Generates random-initialised safetensors files with the tensor shapes of bge-base-en-v1.5
// (BERT-base, F32) and ModernBERT-base (F32 and BF16) in a scratch directory, and times on each:
//   touch   reading one byte per 4 KiB page (the floor: page faults of a fresh mapping)
//   scalar  a std::isfinite loop over the converted floats, one thread (the obvious check)
//   check   check_finite (vectorised, on the global thread pool)
// each on a fresh SafeTensors::open with the file in the page cache, median of 5. With a model
// directory (default: all-MiniLM-L6-v2 in the HF cache) it also times Embedder::load, to show
// the check's share of a real load.
//
// usage: weight_check_bench [--scratch DIR] [--model DIR] [--keep]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ripvec/embedder.hpp"
#include "ripvec/safetensors.hpp"
#include "util/thread_pool.hpp"

namespace fs = std::filesystem;
using ripvec::SafeTensors;

namespace {

struct Spec {
  std::string name;
  std::vector<int64_t> shape;
};

// BERT-base (bge-base-en-v1.5): 109M parameters.
std::vector<Spec> bert_base() {
  std::vector<Spec> t = {{"embeddings.word_embeddings.weight", {30522, 768}},
                         {"embeddings.position_embeddings.weight", {512, 768}},
                         {"embeddings.token_type_embeddings.weight", {2, 768}},
                         {"embeddings.LayerNorm.weight", {768}},
                         {"embeddings.LayerNorm.bias", {768}}};
  for (int l = 0; l < 12; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* m : {"attention.self.query", "attention.self.key", "attention.self.value",
                          "attention.output.dense"}) {
      t.push_back({p + m + ".weight", {768, 768}});
      t.push_back({p + m + ".bias", {768}});
    }
    t.push_back({p + "intermediate.dense.weight", {3072, 768}});
    t.push_back({p + "intermediate.dense.bias", {3072}});
    t.push_back({p + "output.dense.weight", {768, 3072}});
    t.push_back({p + "output.dense.bias", {768}});
    for (const char* n : {"attention.output.LayerNorm", "output.LayerNorm"}) {
      t.push_back({p + n + ".weight", {768}});
      t.push_back({p + n + ".bias", {768}});
    }
  }
  t.push_back({"pooler.dense.weight", {768, 768}});
  t.push_back({"pooler.dense.bias", {768}});
  return t;
}

// ModernBERT-base: 149M parameters.
std::vector<Spec> modernbert_base() {
  std::vector<Spec> t = {{"embeddings.tok_embeddings.weight", {50368, 768}},
                         {"embeddings.norm.weight", {768}},
                         {"final_norm.weight", {768}}};
  for (int l = 0; l < 22; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    if (l != 0) t.push_back({p + "attn_norm.weight", {768}});
    t.push_back({p + "attn.Wqkv.weight", {2304, 768}});
    t.push_back({p + "attn.Wo.weight", {768, 768}});
    t.push_back({p + "mlp_norm.weight", {768}});
    t.push_back({p + "mlp.Wi.weight", {2304, 768}});
    t.push_back({p + "mlp.Wo.weight", {768, 1152}});
  }
  return t;
}

// Writes `specs` with uniform random values in [-0.05, 0.05) (xorshift; finite by design).
void generate(const fs::path& path, const std::vector<Spec>& specs, bool bf16) {
  nlohmann::ordered_json hdr;
  uint64_t off = 0;
  const size_t esize = bf16 ? 2 : 4;
  for (const auto& s : specs) {
    uint64_t n = 1;
    for (auto d : s.shape) n *= static_cast<uint64_t>(d);
    hdr[s.name] = {{"dtype", bf16 ? "BF16" : "F32"},
                   {"shape", s.shape},
                   {"data_offsets", {off, off + n * esize}}};
    off += n * esize;
  }
  std::string h = hdr.dump();
  while (h.size() % 8) h += ' ';
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  const uint64_t hl = h.size();
  f.write(reinterpret_cast<const char*>(&hl), 8);
  f.write(h.data(), static_cast<std::streamsize>(h.size()));
  uint64_t x = 0x9E3779B97F4A7C15ull;
  std::vector<char> buf(size_t{1} << 22);
  uint64_t left = off;
  while (left > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    for (size_t i = 0; i < chunk; i += esize) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      const float v = (static_cast<float>(x >> 40) / 16777216.0f - 0.5f) * 0.1f;
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      if (bf16) {
        const uint16_t b = static_cast<uint16_t>(bits >> 16);
        std::memcpy(&buf[i], &b, 2);
      } else {
        std::memcpy(&buf[i], &bits, 4);
      }
    }
    f.write(buf.data(), static_cast<std::streamsize>(chunk));
    left -= chunk;
  }
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class F>
double median_s(F&& fn, int reps = 5) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now_s();
    fn();
    t.push_back(now_s() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

volatile uint64_t g_sink = 0;

void bench_file(const std::string& label, const fs::path& path) {
  // Warm the page cache once.
  {
    SafeTensors st = SafeTensors::open(path);
    ripvec::check_finite(st);
  }
  size_t bytes = 0;
  {
    SafeTensors st = SafeTensors::open(path);
    for (const auto& n : st.names())
      if (auto* t = st.find(n)) bytes += t->nbytes;
  }
  const double touch = median_s([&] {
    SafeTensors st = SafeTensors::open(path);
    uint64_t s = 0;
    for (const auto& n : st.names())
      if (auto* t = st.find(n))
        for (size_t i = 0; i < t->nbytes; i += 4096) s += static_cast<uint8_t>(t->data[i]);
    g_sink = g_sink + s;
  });
  const double scalar = median_s([&] {
    SafeTensors st = SafeTensors::open(path);
    uint64_t bad = 0;
    std::vector<float> tmp;
    for (const auto& n : st.names())
      if (auto* t = st.find(n)) {
        tmp.resize(static_cast<size_t>(t->numel()));
        ripvec::convert_to_f32(*t, tmp.data());
        for (float v : tmp) bad += !std::isfinite(v);
      }
    g_sink = g_sink + bad;
  });
  const double check = median_s([&] {
    SafeTensors st = SafeTensors::open(path);
    ripvec::check_finite(st);
  });
  std::printf("%-28s %8.1f MB  touch %7.1f ms  scalar %7.1f ms  check %7.1f ms  (%.1f GB/s)\n",
              label.c_str(), bytes / 1e6, touch * 1e3, scalar * 1e3, check * 1e3,
              bytes / check / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  fs::path scratch = fs::temp_directory_path() / "ripvec_weight_check_bench";
  fs::path model;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--scratch" && i + 1 < argc)
      scratch = argv[++i];
    else if (a == "--model" && i + 1 < argc)
      model = argv[++i];
    else if (a == "--keep")
      keep = true;
    else {
      std::fprintf(stderr, "usage: weight_check_bench [--scratch DIR] [--model DIR] [--keep]\n");
      return 2;
    }
  }
  if (model.empty()) {
    const char* home = std::getenv("HOME");
    const fs::path repo = fs::path(home ? home : ".") /
                          ".cache/huggingface/hub/models--sentence-transformers--all-MiniLM-L6-v2";
    std::ifstream ref(repo / "refs/main");
    std::string rev;
    if (std::getline(ref, rev)) model = repo / "snapshots" / rev;
  }
  std::printf("threads in pool: %u\n", ripvec::ThreadPool::global().size());
  fs::create_directories(scratch);
  if (!model.empty() && fs::exists(model / "model.safetensors")) {
    bench_file("all-MiniLM-L6-v2 (real, F32)", model / "model.safetensors");
    ripvec::EmbedderOptions o;
    o.model = model.string();
    o.device = ripvec::Device::Cpu;
    o.resolve.allow_download = false;
    const double load = median_s([&] { auto e = ripvec::Embedder::load(o); });
    std::printf("%-28s Embedder::load (check included) %7.1f ms\n", "all-MiniLM-L6-v2", load * 1e3);
  }
  struct Gen {
    const char* label;
    const char* file;
    std::vector<Spec> specs;
    bool bf16;
  };
  const std::vector<Gen> gens = {
      {"bge-base shape (rand, F32)", "bge_base_f32.safetensors", bert_base(), false},
      {"ModernBERT-base (rand, F32)", "modernbert_base_f32.safetensors", modernbert_base(), false},
      {"ModernBERT-base (rand,BF16)", "modernbert_base_bf16.safetensors", modernbert_base(), true}};
  for (const auto& g : gens) {
    const fs::path p = scratch / g.file;
    if (!fs::exists(p)) generate(p, g.specs, g.bf16);
    bench_file(g.label, p);
    if (!keep) fs::remove(p);
  }
  return 0;
}
