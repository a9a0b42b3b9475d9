// Cold and incremental indexing time with the real embedder.
//
//   index_bench [--model SPEC] [--threads N] [--max-files N] [--storage-only] SOURCE_DIR
//   index_bench --storage-only --in-place CACHE_DIR SOURCE_DIR
//
// --threads N sets the ingest threads (IndexOptions::threads; default 0 = all cores, one
// less on the CPU device). --storage-only replaces the neural forward pass by a cheap hashed
// embedding (same dim, same tokenizer and chunking) to time the index's own work (walk, chunk,
// objects, snapshot, BM25, GC) at scales the CPU model cannot reach in a benchmark run. Its vectors
// are not meaningful; the table says so.
//
// Copies SOURCE_DIR's walkable files (ripgrep rules) into a temp directory, indexes the copy
// into a fresh cache (cold), re-runs update() with nothing changed, then edits one file and
// updates again. Prints the stage times of each run.
//
// --in-place CACHE_DIR indexes SOURCE_DIR itself into CACHE_DIR once and keeps it (no copy, no
// timing table): with --storage-only it gives the exact chunks and keyword postings of a tree
// in seconds, for ranking studies that bring their own vectors (bench/quality/rank_study.py).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "corpus/walker.hpp"
#include "index/bm25.hpp"
#include "ripvec/index.hpp"
#include "util/thread_pool.hpp"

using namespace ripvec;
namespace fs = std::filesystem;

namespace {

// Wraps a real embedder's tokenizer, prompts and dims but replaces the forward pass by a
// hashed bag of code terms (cost ~ tokenizing), for --storage-only.
class StorageOnlyEmbedder final : public Embedder {
 public:
  explicit StorageOnlyEmbedder(std::unique_ptr<Embedder> real) : real_(std::move(real)) {
    id_ = real_->model_id() + " [storage-only hashed vectors]";
  }
  size_t dim() const override { return real_->dim(); }
  size_t max_seq_length() const override { return real_->max_seq_length(); }
  const std::string& model_id() const override { return id_; }
  std::string device_name() const override { return "none (storage-only)"; }
  const Tokenizer& tokenizer() const override { return real_->tokenizer(); }
  const std::string& prompt(InputKind k) const override { return real_->prompt(k); }
  std::vector<float> embed(std::span<const std::string> texts, InputKind) override {
    const size_t d = dim();
    std::vector<float> out(texts.size() * d, 0.0f);
    for (size_t i = 0; i < texts.size(); ++i) {
      for (const auto& t : index::tokenize_code(texts[i])) {
        const size_t h = std::hash<std::string>{}(t);
        out[i * d + h % d] += (h >> 40) & 1 ? 1.0f : -1.0f;
      }
      out[i * d] += 1e-3f;  // never the zero vector
    }
    return out;
  }
  // The index pipeline embeds ids: the same hashed bag, over token ids.
  std::vector<float> embed_tokens(std::span<const std::vector<int32_t>> ids) override {
    const size_t d = dim();
    std::vector<float> out(ids.size() * d, 0.0f);
    for (size_t i = 0; i < ids.size(); ++i) {
      for (int32_t t : ids[i]) {
        const size_t h = std::hash<int32_t>{}(t)*0x9E3779B97F4A7C15ull;
        out[i * d + (h >> 20) % d] += (h >> 40) & 1 ? 1.0f : -1.0f;
      }
      out[i * d] += 1e-3f;  // never the zero vector
    }
    return out;
  }

 private:
  std::unique_ptr<Embedder> real_;
  std::string id_;
};

}  // namespace

int main(int argc, char** argv) {
  EmbedderOptions eo;
  eo.resolve.allow_download = false;
  eo.resolve.progress = false;
  size_t max_files = 0;
  unsigned threads = 0;
  bool storage_only = false;
  fs::path src, in_place;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--model" && i + 1 < argc)
      eo.model = argv[++i];
    else if (a == "--threads" && i + 1 < argc)
      threads = static_cast<unsigned>(std::stoul(argv[++i]));
    else if (a == "--max-files" && i + 1 < argc)
      max_files = std::stoul(argv[++i]);
    else if (a == "--storage-only")
      storage_only = true;
    else if (a == "--in-place" && i + 1 < argc)
      in_place = argv[++i];
    else if (!a.empty() && a[0] != '-')
      src = a;
    else {
      std::fprintf(
          stderr,
          "usage: index_bench [--model SPEC] [--threads N] [--max-files N] [--storage-only] DIR\n");
      return 2;
    }
  }
  if (src.empty()) {
    std::fprintf(
        stderr,
        "usage: index_bench [--model SPEC] [--threads N] [--max-files N] [--storage-only] DIR\n");
    return 2;
  }
  try {
    if (!in_place.empty()) {
      std::unique_ptr<Embedder> emb = Embedder::load(eo);
      if (storage_only) emb = std::make_unique<StorageOnlyEmbedder>(std::move(emb));
      IndexOptions io;
      io.cache_dir = in_place;
      io.threads = threads;
      auto idx = Index::open(src, std::shared_ptr<Embedder>(std::move(emb)), io);
      const UpdateStats st = idx->update();
      std::printf("%s: %zu chunks in %s\n", src.c_str(), st.chunks_total, idx->location().c_str());
      return 0;
    }
    const fs::path work =
        fs::temp_directory_path() / ("ripvec_index_bench_" + std::to_string(::getpid()));
    fs::remove_all(work);
    const fs::path root = work / "repo";
    WalkStats ws;
    auto files = walk({src}, WalkOptions{}, &ws);
    if (max_files > 0 && files.size() > max_files) files.resize(max_files);
    uint64_t bytes = 0;
    for (auto& f : files) {
      fs::create_directories((root / f.rel_path).parent_path());
      fs::copy_file(f.abs_path, root / f.rel_path);
      bytes += f.size;
    }
    std::printf("corpus: %zu files, %.1f MB from %s\n", files.size(), bytes / 1e6, src.c_str());

    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Embedder> emb = Embedder::load(eo);
    if (storage_only) emb = std::make_unique<StorageOnlyEmbedder>(std::move(emb));
    std::printf("model %s on %s, dim %zu, %u threads, load %.2f s\n", emb->model_id().c_str(),
                emb->device_name().c_str(), emb->dim(), ThreadPool::global().size(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    IndexOptions io;
    io.cache_dir = work / "cache";
    io.threads = threads;
    auto idx = Index::open(root, std::shared_ptr<Embedder>(std::move(emb)), io);

    std::printf(
        "\n| run          | files | chunks embedded | walk s | read+chunk s | embed s | write s | "
        "total s | chunks/s |\n");
    std::printf(
        "|--------------|-------|-----------------|--------|--------------|---------|---------|----"
        "-----|----------|\n");
    auto row = [](const char* name, const UpdateStats& s) {
      std::printf("| %-12s | %5zu | %15zu | %6.2f | %12.2f | %7.2f | %7.2f | %7.2f | %8.1f |\n",
                  name, s.files_seen, s.chunks_embedded, s.walk_s, s.chunk_s, s.embed_s, s.write_s,
                  s.total_s, s.total_s > 0 ? s.chunks_embedded / s.total_s : 0.0);
    };
    UpdateStats cold = idx->update();
    row("cold", cold);
    row("no change", idx->update());
    if (!files.empty()) {
      const fs::path victim = root / files[files.size() / 2].rel_path;
      { std::ofstream(victim, std::ios::app) << "\n// edited by index_bench\n"; }
      fs::last_write_time(victim, fs::last_write_time(victim) + std::chrono::seconds(2));
      row("1 file edit", idx->update());
    }
    std::printf(
        "\nchunks in index: %zu; read+chunk s is summed over the ingest threads (%u; 0 = "
        "auto) and overlaps embedding\n",
        idx->status().chunks, threads);
    fs::remove_all(work);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "index_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
