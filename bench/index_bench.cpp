// Cold and incremental indexing time with the real embedder.
//
//   index_bench [--model SPEC] [--device cpu|cuda|auto] [--threads N] [--max-files N]
//               [--storage-only] [--pure-embed] [--dump-texts FILE] [--dump-ids FILE] SOURCE_DIR
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
// --pure-embed: after the runs, chunks the same files again (untimed, all cores) and times one
// Embedder::embed_tokens call over every chunk's ids: the engine's own time for exactly the
// chunks of the cold run, with nothing else in the way (the whole set sorted by length and
// batched under the token budget). The cold run's wall time over this is the ingest overhead
// (issue 9: at most 1.2x on the GPU). --dump-texts / --dump-ids write those chunks' embed texts
// (one per line, newlines as spaces: the input of `ripvec embed`) and their ids (one sequence
// per line, the input of gpu_embed_bench --ids), for the CLI-vs-engine comparison.
//
// Pipeline overhead of the cold run (issue 9): "start" is the time from update() to the first
// embed call (walk, classification, chunking of the first window), "tail" the time from the
// return of the last embed call to the return of update() (the last files' objects, the
// snapshot build and write, fsyncs, manifest commit, reopening the snapshot, GC); both are
// taken by a wrapper around the embedder.
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

#include "chunk/chunker.hpp"
#include "corpus/walker.hpp"
#include "index/bm25.hpp"
#include "index/ingest.hpp"
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
  using Embedder::embed_tokens;
  std::vector<float> embed_tokens(std::span<const std::vector<int32_t>> ids, InputKind) override {
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

// Forwards everything to another embedder and records when the first embed_tokens call began
// and when the last one returned (the index's embedding calls, one lock hold each).
class TimedEmbedder final : public Embedder {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TimedEmbedder(std::unique_ptr<Embedder> inner) : in_(std::move(inner)) {}
  size_t dim() const override { return in_->dim(); }
  size_t max_seq_length() const override { return in_->max_seq_length(); }
  const std::string& model_id() const override { return in_->model_id(); }
  std::string device_name() const override { return in_->device_name(); }
  const Tokenizer& tokenizer() const override { return in_->tokenizer(); }
  const std::string& prompt(InputKind k) const override { return in_->prompt(k); }
  std::string vector_config() const override { return in_->vector_config(); }
  bool normalizes() const override { return in_->normalizes(); }
  std::vector<float> embed(std::span<const std::string> texts, InputKind k) override {
    return in_->embed(texts, k);
  }
  using Embedder::embed_tokens;
  std::vector<float> embed_tokens(std::span<const std::vector<int32_t>> ids,
                                  InputKind kind) override {
    const auto t = Clock::now();
    if (calls_++ == 0) first_call_ = t;
    auto v = in_->embed_tokens(ids, kind);
    last_return_ = Clock::now();
    return v;
  }
  // The index's ingest runs its groups here: a group taken counts as a call, its rows handed
  // out as its return.
  void embed_token_groups(const TokenGroupSource& next, const TokenGroupSink& done) override {
    in_->embed_token_groups(
        [&](std::vector<std::vector<int32_t>>& ids, bool wait) {
          if (!next(ids, wait)) return false;
          if (calls_++ == 0) first_call_ = Clock::now();
          return true;
        },
        [&](std::vector<float>&& rows) {
          done(std::move(rows));
          last_return_ = Clock::now();
        });
  }
  void reset() { calls_ = 0; }
  size_t calls() const { return calls_; }
  Clock::time_point first_call() const { return first_call_; }
  Clock::time_point last_return() const { return last_return_; }

 private:
  std::unique_ptr<Embedder> in_;
  size_t calls_ = 0;
  Clock::time_point first_call_, last_return_;
};

}  // namespace

constexpr const char* kUsage =
    "usage: index_bench [--model SPEC] [--device cpu|cuda|auto] [--precision P] [--threads N]\n"
    "                   [--max-files N] [--storage-only] [--pure-embed] [--warm]\n"
    "                   [--dump-texts F] [--dump-ids F] DIR\n"
    "       index_bench --storage-only --in-place CACHE_DIR DIR\n";

// Chunks every file under root the way the index does (same admission: text files within the
// index's size cap; ids carried) on the global pool.
std::vector<Chunk> chunk_tree(const std::vector<WalkedFile>& files, const fs::path& root,
                              Embedder& emb, uint64_t max_file_size) {
  const ChunkOptions co = index::chunk_options_for(emb);
  std::vector<std::vector<Chunk>> per(files.size());
  std::vector<double> secs(files.size());
  parallel_for(0, static_cast<int64_t>(files.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      std::string text;
      if (read_text_file(root / files[i].rel_path, max_file_size, &text) == ContentStatus::Ok)
        per[i] = chunk_file(files[i].rel_path, text, co);
      secs[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  });
  // The files that take one ingest thread longest (read + chunk + tokenize): the pipeline hands
  // files to the embedder in order, so one slow file can hold a window back.
  std::vector<size_t> order(files.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  const size_t show = std::min<size_t>(order.size(), 8);
  std::partial_sort(order.begin(), order.begin() + show, order.end(),
                    [&](size_t a, size_t b) { return secs[a] > secs[b]; });
  double total = 0;
  for (double x : secs) total += x;
  std::printf("chunking: %.2f s summed over %zu files; slowest:", total, files.size());
  for (size_t k = 0; k < show; ++k)
    std::printf(" %s %.3f s (%zu chunks);", files[order[k]].rel_path.c_str(), secs[order[k]],
                per[order[k]].size());
  std::printf("\n");
  std::vector<Chunk> all;
  for (auto& v : per)
    for (auto& c : v)
      if (!c.ids.empty()) all.push_back(std::move(c));
  return all;
}

int main(int argc, char** argv) {
  EmbedderOptions eo;
  eo.resolve.allow_download = false;
  eo.resolve.progress = false;
  size_t max_files = 0;
  unsigned threads = 0;
  bool storage_only = false, pure_embed = false, warm = false;
  std::string dump_texts, dump_ids;
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
    else if (a == "--pure-embed")
      pure_embed = true;
    else if (a == "--warm")
      warm = true;
    else if (a == "--dump-texts" && i + 1 < argc)
      dump_texts = argv[++i];
    else if (a == "--dump-ids" && i + 1 < argc)
      dump_ids = argv[++i];
    else if (a == "--precision" && i + 1 < argc) {
      const std::optional<Precision> named = precision_from_name(argv[++i]);
      if (!named) {
        std::fprintf(stderr, kUsage);
        return 2;
      }
      eo.precision = *named;
    } else if (a == "--device" && i + 1 < argc) {
      const std::string d = argv[++i];
      eo.device = d == "cuda" ? Device::Cuda : d == "cpu" ? Device::Cpu : Device::Auto;
    } else if (a == "--in-place" && i + 1 < argc)
      in_place = argv[++i];
    else if (!a.empty() && a[0] != '-')
      src = a;
    else {
      std::fprintf(stderr, kUsage);
      return 2;
    }
  }
  if (src.empty()) {
    std::fprintf(stderr, kUsage);
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
    auto timed_owner = std::make_unique<TimedEmbedder>(std::move(emb));
    TimedEmbedder* timed = timed_owner.get();
    std::shared_ptr<Embedder> shared(std::move(timed_owner));
    auto idx = Index::open(root, shared, io);

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
    // --warm: one short embedding first, as --pure-embed's baseline has (the device's first
    // kernels load lazily); without it the cold run pays that too.
    if (warm) {
      const std::string text = "def warm(): pass";
      shared->embed(std::span(&text, 1), InputKind::Document);
    }
    timed->reset();
    const auto c0 = std::chrono::steady_clock::now();
    UpdateStats cold = idx->update();
    const auto c1 = std::chrono::steady_clock::now();
    const size_t cold_calls = timed->calls();
    const auto first_call = timed->first_call(), last_return = timed->last_return();
    auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
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
    if (cold_calls > 0)
      std::printf(
          "cold pipeline: start (update() to the first embed call) %.3f s; tail (last embed "
          "call returned to update() returned) %.3f s; %zu embed calls in %.3f s between\n",
          secs(c0, first_call), secs(last_return, c1), cold_calls, secs(first_call, last_return));
    std::printf(
        "embedding thread (cold): running groups %.3f s, waiting for a group %.3f s; the "
        "window thread waiting for the next file in order %.3f s\n",
        cold.embed_s, cold.embed_gap_s, cold.chunk_wait_s);
    if (pure_embed || !dump_texts.empty() || !dump_ids.empty()) {
      std::vector<Chunk> chunks = chunk_tree(files, root, *shared, io.max_file_size);
      std::vector<std::vector<int32_t>> ids;
      ids.reserve(chunks.size());
      size_t tokens = 0;
      for (auto& c : chunks) {
        tokens += c.ids.size();
        ids.push_back(c.ids);
      }
      // The CLI comparison's input: each chunk's embed text on one line (newlines as spaces),
      // and the ids `ripvec embed --document` runs for that line.
      std::vector<std::string> lines(chunks.size());
      std::vector<std::vector<int32_t>> line_ids(chunks.size());
      parallel_for(0, static_cast<int64_t>(chunks.size()), 64, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
          lines[i] = chunks[i].embed_text;
          for (char& ch : lines[i])
            if (ch == '\n' || ch == '\r') ch = ' ';
          if (!dump_ids.empty()) line_ids[i] = shared->tokenize(lines[i], InputKind::Document);
        }
      });
      if (!dump_texts.empty()) {
        std::ofstream f(dump_texts, std::ios::binary);
        for (auto& t : lines) f << t << '\n';
        if (!f) throw std::runtime_error("cannot write " + dump_texts);
      }
      if (!dump_ids.empty()) {
        std::ofstream f(dump_ids, std::ios::binary);
        size_t n = 0;
        for (auto& s : line_ids) {
          for (size_t j = 0; j < s.size(); ++j) f << (j ? " " : "") << s[j];
          f << '\n';
          n += s.size();
        }
        if (!f) throw std::runtime_error("cannot write " + dump_ids);
        std::printf("dumped %zu texts, %zu tokens (as `ripvec embed --document` runs them)\n",
                    line_ids.size(), n);
      }
      if (pure_embed) {
        shared->embed_tokens(std::span(ids).first(std::min<size_t>(ids.size(), 64)));  // warm
        const auto p0 = std::chrono::steady_clock::now();
        const std::vector<float> v = shared->embed_tokens(ids);
        const double pe =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - p0).count();
        std::printf(
            "\npure embedding of the same %zu chunks (%zu tokens, one embed_tokens call): "
            "%.2f s, %.0f chunks/s, %.0f tok/s; cold index wall / pure embedding = %.2fx\n",
            ids.size(), tokens, pe, ids.size() / pe, tokens / pe, cold.total_s / pe);
        if (v.size() != ids.size() * shared->dim()) throw std::runtime_error("bad output size");
      }
    }
    fs::remove_all(work);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "index_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
