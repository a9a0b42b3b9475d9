#include "index/index.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "index/hash.hpp"
#include "index/rank.hpp"
#include "index/store.hpp"
#include "index/vector_search.hpp"
#include "ripvec/error.hpp"
#include "util/thread_pool.hpp"

namespace ripvec {
namespace fs = std::filesystem;
using namespace ripvec::index;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

fs::path default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "ripvec";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "ripvec";
  return fs::temp_directory_path() / "ripvec-cache";
}

fs::path canonical_root(const fs::path& root) {
  std::error_code ec;
  fs::path c = fs::canonical(root, ec);
  if (ec) throw IoError("cannot open project root " + root.string() + ": " + ec.message());
  if (!fs::is_directory(c, ec))
    throw InvalidArgument("project root " + root.string() + " is not a directory");
  return c;
}

// Identifies everything that changes the stored vectors or chunks: a different key means a
// different index (objects of other keys are never read).
std::string compute_model_key(Embedder& e, const ChunkOptions& co) {
  Sha256 h;
  auto add = [&](std::string_view s) {
    h.update(s);
    h.update("\0", 1);
  };
  add("ripvec-index");
  add(std::to_string(kFormatVersion));
  add(e.model_id());
  add(std::to_string(e.dim()));
  add(std::to_string(e.max_seq_length()));
  add(e.prompt(InputKind::Document));
  add(std::to_string(co.max_tokens));
  add(std::to_string(co.window_lines));
  add(std::to_string(co.overlap_lines));
  add(std::to_string(co.max_chunk_lines));
  add(co.tokenizer ? "tok" : "notok");
  return to_hex(h.finish()).substr(0, 32);
}

// Object id: SHA-256 over the relative path and the content, because the chunker puts the path
// into every chunk's embedded header (and picks the language from it): the same bytes at
// another path embed differently.
std::string object_id(std::string_view rel_path, std::string_view content) {
  Sha256 h;
  h.update("ripvec-file\0", 12);
  const uint64_t n = rel_path.size();
  h.update(&n, sizeof(n));
  h.update(rel_path);
  h.update(content);
  return to_hex(h.finish());
}

void fill_chunk_options(Embedder& e, ChunkOptions* co) {
  // The document prompt is prepended by embed(); leave room for it.
  size_t prompt_tokens = 0;
  const std::string& prompt = e.prompt(InputKind::Document);
  if (!prompt.empty()) prompt_tokens = e.tokenizer().count_tokens(prompt, false);
  const size_t max_seq = e.max_seq_length();
  const size_t limit = max_seq > prompt_tokens + 8 ? max_seq - prompt_tokens : max_seq;
  if (co->tokenizer == nullptr) {
    co->tokenizer = &e.tokenizer();
    co->max_tokens = limit;
  } else {
    co->max_tokens = std::min(co->max_tokens, limit);  // a caller's tokenizer, never past the model
  }
}

void normalize_rows(float* v, size_t n, size_t dim) {
  for (size_t i = 0; i < n; ++i) {
    float* r = v + i * dim;
    double s = 0;
    for (size_t j = 0; j < dim; ++j) s += double(r[j]) * r[j];
    if (s <= 0 || !std::isfinite(s)) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (size_t j = 0; j < dim; ++j) r[j] *= inv;
  }
}

const char* status_key(ContentStatus s) {
  switch (s) {
    case ContentStatus::Ok:
      return "ok";
    case ContentStatus::Binary:
      return "binary";
    case ContentStatus::InvalidUtf8:
      return "invalid-utf8";
    case ContentStatus::TooLarge:
      return "too-large";
    case ContentStatus::Unreadable:
      return "unreadable";
  }
  return "unreadable";
}

void count_skip(std::string_view status, IndexUpdateStats* st) {
  if (status == "binary")
    st->skipped_binary++;
  else if (status == "invalid-utf8")
    st->skipped_invalid_utf8++;
  else if (status == "too-large")
    st->skipped_too_large++;
  else
    st->skipped_unreadable++;
}

// ---------------- the embedding pipeline ----------------

struct FileTask {
  size_t slot = 0;  // index into the caller's result array
  WalkedFile file;
};

struct FileOutcome {
  enum Kind { Skipped, Reused, Embedded } kind = Skipped;
  ContentStatus status = ContentStatus::Ok;
  std::string id;
  std::shared_ptr<ObjectData> obj;
};

struct PipelineConfig {
  Embedder* embedder = nullptr;
  ChunkOptions chunk;
  size_t batch = 64;
  uint64_t max_file_size = 0;
  // Producer thread: given path + content + id, returns an existing object to reuse (or null).
  std::function<std::shared_ptr<ObjectData>(const FileTask&, const std::string& id)> reuse;
  // Consumer thread: one call per task, in completion order.
  std::function<void(const FileTask&, FileOutcome&&)> done;
  std::function<void(const IndexProgress&)> progress;
};

struct PipelineTimes {
  double chunk_s = 0, embed_s = 0;
  size_t chunks_embedded = 0;
};

// A producer thread reads, hashes and chunks files; the calling thread embeds them in batches
// of `batch` chunks (spanning files) through the global thread pool. The queue between them is
// bounded so that chunk text never piles up far ahead of the embedder.
PipelineTimes run_pipeline(const std::vector<FileTask>& tasks, const PipelineConfig& cfg) {
  struct Item {
    size_t task = 0;
    FileOutcome outcome;  // final unless chunks is non-empty
    std::vector<Chunk> chunks;
    bool embed = false;
  };
  std::mutex mu;
  std::condition_variable cv_push, cv_pop;
  std::deque<Item> queue;
  size_t queued_chunks = 0;
  bool producer_done = false, abort = false;
  std::exception_ptr producer_error;
  std::atomic<size_t> chunks_seen{0};
  const size_t cap_chunks = std::max<size_t>(cfg.batch * 4, 256);
  PipelineTimes times;
  const auto t0 = Clock::now();

  std::thread producer([&] {
    double chunk_s = 0;
    try {
      for (size_t t = 0; t < tasks.size(); ++t) {
        Item it;
        it.task = t;
        std::string content;
        const auto tc = Clock::now();
        ContentStatus st = read_text_file(tasks[t].file.abs_path, cfg.max_file_size, &content);
        it.outcome.status = st;
        if (st == ContentStatus::Ok) {
          it.outcome.id = object_id(tasks[t].file.rel_path, content);
          std::shared_ptr<ObjectData> obj =
              cfg.reuse ? cfg.reuse(tasks[t], it.outcome.id) : nullptr;
          if (obj) {
            it.outcome.kind = FileOutcome::Reused;
            it.outcome.obj = std::move(obj);
          } else {
            it.outcome.kind = FileOutcome::Embedded;
            it.chunks = chunk_file(tasks[t].file.rel_path, content, cfg.chunk);
            it.embed = true;
            chunks_seen += it.chunks.size();
          }
        }
        chunk_s += seconds_since(tc);
        std::unique_lock lk(mu);
        cv_push.wait(lk, [&] { return abort || queued_chunks < cap_chunks; });
        if (abort) break;
        queued_chunks += it.chunks.size();
        queue.push_back(std::move(it));
        cv_pop.notify_one();
      }
    } catch (...) {
      std::lock_guard lk(mu);
      producer_error = std::current_exception();
    }
    std::lock_guard lk(mu);
    producer_done = true;
    times.chunk_s = chunk_s;
    cv_pop.notify_one();
  });

  // Files whose chunks are being embedded, oldest first.
  struct Pending {
    size_t task;
    FileOutcome outcome;
    std::vector<Chunk> chunks;
    size_t filled = 0;
  };
  std::deque<Pending> pending;
  std::vector<std::pair<size_t, size_t>> batch_refs;  // (pending position from front, chunk)
  size_t files_done = 0, chunks_done = 0;
  size_t pending_base = 0;  // number of Pending popped from the front so far

  auto report = [&] {
    if (!cfg.progress) return;
    IndexProgress p;
    p.files_done = files_done;
    p.files_total = tasks.size();
    p.chunks_done = chunks_done;
    p.chunks_total = chunks_seen.load();
    p.elapsed_s = seconds_since(t0);
    cfg.progress(p);
  };
  // Vectors land in per-file buffers as batches complete.
  const size_t dim = cfg.embedder->dim();
  std::unordered_map<size_t, std::vector<float>> vec_of;  // pending id -> vectors

  auto embed_batch = [&](size_t count) {
    std::vector<std::string> texts;
    texts.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      auto [pid, ci] = batch_refs[i];
      const Chunk& c = pending[pid - pending_base].chunks[ci];
      texts.push_back(c.embed_text.empty() ? c.content : c.embed_text);
    }
    const auto te = Clock::now();
    std::vector<float> v = cfg.embedder->embed(texts, InputKind::Document);
    times.embed_s += seconds_since(te);
    if (v.size() != count * dim)
      throw IndexError("embedder returned " + std::to_string(v.size()) + " floats for " +
                       std::to_string(count) + " texts of dim " + std::to_string(dim));
    normalize_rows(v.data(), count, dim);
    for (size_t i = 0; i < count; ++i) {
      auto [pid, ci] = batch_refs[i];
      Pending& p = pending[pid - pending_base];
      auto& dst = vec_of[pid];
      if (dst.empty()) dst.resize(p.chunks.size() * dim);
      std::copy(v.begin() + i * dim, v.begin() + (i + 1) * dim, dst.begin() + ci * dim);
      p.filled++;
    }
    batch_refs.erase(batch_refs.begin(), batch_refs.begin() + count);
    times.chunks_embedded += count;
    chunks_done += count;
  };
  auto complete_front = [&] {
    while (!pending.empty() && pending.front().filled == pending.front().chunks.size()) {
      Pending& p = pending.front();
      const size_t pid = pending_base;
      if (p.outcome.kind != FileOutcome::Embedded) {  // skipped or reused: nothing to assemble
        cfg.done(tasks[p.task], std::move(p.outcome));
        pending.pop_front();
        ++pending_base;
        ++files_done;
        report();
        continue;
      }
      auto obj = std::make_shared<ObjectData>();
      obj->vectors = std::move(vec_of[pid]);
      vec_of.erase(pid);
      obj->chunks.reserve(p.chunks.size());
      for (auto& c : p.chunks) {
        StoredChunk sc;
        sc.start_line = c.start_line;
        sc.end_line = c.end_line;
        sc.symbol = std::move(c.symbol);
        sc.kind = std::move(c.kind);
        sc.language = std::move(c.language);
        sc.content = std::move(c.content);
        obj->chunks.push_back(std::move(sc));
      }
      p.outcome.obj = std::move(obj);
      cfg.done(tasks[p.task], std::move(p.outcome));
      pending.pop_front();
      ++pending_base;
      ++files_done;
      report();
    }
  };

  try {
    for (;;) {
      Item it;
      bool have = false, done = false;
      {
        std::unique_lock lk(mu);
        cv_pop.wait(lk, [&] { return !queue.empty() || producer_done; });
        if (!queue.empty()) {
          it = std::move(queue.front());
          queue.pop_front();
          queued_chunks -= it.chunks.size();
          have = true;
          cv_push.notify_one();
        } else {
          done = true;
          if (producer_error) std::rethrow_exception(producer_error);
        }
      }
      if (have) {
        if (!it.embed || it.chunks.empty()) {
          if (it.embed) it.outcome.obj = std::make_shared<ObjectData>();  // file without chunks
          // Keep completion order simple: files ahead still embedding finish first.
          Pending p{it.task, std::move(it.outcome), {}, 0};
          pending.push_back(std::move(p));
        } else {
          const size_t pid = pending_base + pending.size();
          for (size_t c = 0; c < it.chunks.size(); ++c) batch_refs.emplace_back(pid, c);
          pending.push_back(Pending{it.task, std::move(it.outcome), std::move(it.chunks), 0});
        }
        while (batch_refs.size() >= cfg.batch) {
          embed_batch(cfg.batch);
          complete_front();
        }
        complete_front();
      }
      if (done) {
        while (!batch_refs.empty()) {
          embed_batch(std::min(cfg.batch, batch_refs.size()));
          complete_front();
        }
        complete_front();
        break;
      }
    }
  } catch (...) {
    {
      std::lock_guard lk(mu);
      abort = true;
    }
    cv_push.notify_all();
    producer.join();
    throw;
  }
  producer.join();
  return times;
}

// ---------------- search over a snapshot ----------------

std::vector<uint32_t> ids_of(const std::vector<ScoredId>& v) {
  std::vector<uint32_t> out;
  out.reserve(v.size());
  for (auto& s : v) out.push_back(s.id);
  return out;
}

std::vector<SearchHit> search_snapshot(const Snapshot& snap, Embedder& embedder,
                                       std::string_view query, const SearchOptions& opts) {
  const size_t n = snap.num_chunks();
  if (n == 0 || opts.top_k == 0) return {};
  const size_t dim = snap.dim();
  const bool want_sem = opts.mode != SearchMode::Keyword;
  const bool want_kw = opts.mode != SearchMode::Semantic;
  // Hybrid fuses deeper lists than it returns so that an item ranked moderately by both
  // sides can surface.
  const size_t depth = opts.mode == SearchMode::Hybrid
                           ? std::min(n, std::max<size_t>(opts.top_k * 4, 100))
                           : std::min(n, opts.top_k);

  std::vector<float> q;
  std::vector<ScoredId> sem;
  if (want_sem) {
    std::string qs(query);
    q = embedder.embed(std::span<const std::string>(&qs, 1), InputKind::Query);
    if (q.size() != dim)
      throw IndexError("query vector has dim " + std::to_string(q.size()) + ", index has " +
                       std::to_string(dim));
    normalize_rows(q.data(), 1, dim);
    sem = top_k_dot_quantized(q, snap.quantized(), depth);
  }
  std::vector<float> kw_scores;
  std::vector<ScoredId> kw;
  if (want_kw) {
    kw_scores.assign(n, 0.0f);
    std::vector<uint32_t> touched;
    snap.bm25().score(query, &kw_scores, &touched);
    kw.reserve(touched.size());
    for (uint32_t d : touched) kw.push_back({d, kw_scores[d]});
    const size_t k = std::min(depth, kw.size());
    std::partial_sort(kw.begin(), kw.begin() + k, kw.end(), better);
    kw.resize(k);
  }

  std::vector<SearchHit> hits;
  auto make_hit = [&](uint32_t id) {
    SearchHit h;
    h.chunk = snap.chunk(id);
    return h;
  };
  if (opts.mode == SearchMode::Semantic) {
    for (size_t r = 0; r < sem.size(); ++r) {
      if (opts.threshold && sem[r].score < *opts.threshold) break;
      SearchHit h = make_hit(sem[r].id);
      h.score = h.semantic_score = sem[r].score;
      h.semantic_rank = static_cast<int>(r);
      hits.push_back(std::move(h));
    }
  } else if (opts.mode == SearchMode::Keyword) {
    for (size_t r = 0; r < kw.size(); ++r) {
      if (opts.threshold && kw[r].score < *opts.threshold) break;
      SearchHit h = make_hit(kw[r].id);
      h.score = h.keyword_score = kw[r].score;
      h.keyword_rank = static_cast<int>(r);
      hits.push_back(std::move(h));
    }
  } else {
    const auto a = ids_of(sem), b = ids_of(kw);
    auto fused = rrf_fuse(a, b);
    for (const FusedItem& f : fused) {
      if (hits.size() >= opts.top_k) break;
      if (opts.threshold && f.score < *opts.threshold) break;
      SearchHit h = make_hit(f.id);
      h.score = f.score;
      h.semantic_rank = f.rank_a;
      h.keyword_rank = f.rank_b;
      // Both component scores are reported even where the item missed that side's list.
      h.semantic_score =
          f.rank_a >= 0 ? sem[f.rank_a].score : dot_f32(q.data(), snap.vector(f.id), dim);
      h.keyword_score = kw_scores[f.id];
      hits.push_back(std::move(h));
    }
  }
  return hits;
}

// ---------------- the persistent index ----------------

class ProjectIndexImpl final : public ProjectIndex {
 public:
  ProjectIndexImpl(fs::path root, fs::path location, Embedder& embedder, IndexOptions opts)
      : root_(std::move(root)),
        location_(std::move(location)),
        embedder_(embedder),
        opts_(std::move(opts)) {
    fill_chunk_options(embedder_, &opts_.chunk);
    model_key_ = compute_model_key(embedder_, opts_.chunk);
    dim_ = static_cast<uint32_t>(embedder_.dim());
    reindex_pending_ = opts_.reindex;
    std::error_code ec;
    fs::create_directories(location_ / "objects", ec);
    if (ec)
      throw IoError("cannot create index directory " + location_.string() + ": " + ec.message());
    if (!reindex_pending_) load_current();
  }

  IndexUpdateStats update() override;
  std::vector<SearchHit> search(std::string_view query, const SearchOptions& opts) const override {
    if (!snapshot_ && !load_error_.empty()) throw IndexError(load_error_);
    if (!snapshot_) return {};
    return search_snapshot(*snapshot_, embedder_, query, opts);
  }
  size_t num_chunks() const override { return snapshot_ ? snapshot_->num_chunks() : 0; }
  const fs::path& location() const override { return location_; }
  const fs::path& root() const override { return root_; }

 private:
  fs::path manifest_path() const { return location_ / "manifest.json"; }
  fs::path gc_marker_path() const { return location_ / "gc-pending"; }
  fs::path object_path(const std::string& id) const {
    return location_ / "objects" / id.substr(0, 2) / (id + "-" + model_key_ + ".obj");
  }
  bool manifest_matches(const Manifest& m) const {
    return m.format == kFormatVersion && m.model_key == model_key_ && m.dim == dim_ &&
           m.model_id == embedder_.model_id();
  }
  std::shared_ptr<ObjectData> load_object(const std::string& id) const {
    const fs::path p = object_path(id);
    std::string bytes = read_file(p);
    return std::make_shared<ObjectData>(decode_object(bytes, dim_, id, model_key_, p.string()));
  }
  // Whether `f` still has the content of object `id` (read and hashed).
  bool same_content(const WalkedFile& f, const std::string& id) const {
    std::string content;
    return read_text_file(f.abs_path, opts_.walk.max_file_size, &content) == ContentStatus::Ok &&
           object_id(f.rel_path, content) == id;
  }
  // Best-effort load of the committed state, without the lock (writers publish by rename).
  void load_current();
  void collect_garbage(const Manifest& m, IndexUpdateStats* st);

  fs::path root_, location_;
  Embedder& embedder_;
  IndexOptions opts_;
  std::string model_key_;
  uint32_t dim_ = 0;
  bool reindex_pending_ = false;
  std::shared_ptr<Snapshot> snapshot_;
  std::string load_error_;  // why the committed snapshot cannot be served (damaged)
};

void ProjectIndexImpl::load_current() {
  snapshot_.reset();
  for (int attempt = 0; attempt < 3; ++attempt) {
    Manifest m;
    try {
      m = decode_manifest(read_file(manifest_path(), kMaxManifestBytes), manifest_path().string());
    } catch (const Error&) {
      return;  // no index yet, or a broken one that update() will report and rebuild
    }
    if (!manifest_matches(m) || !m.snapshot) return;
    try {
      auto s = Snapshot::open_file(location_ / m.snapshot->name);
      if (s->model_key() != model_key_ || s->dim() != dim_) return;
      snapshot_ = std::move(s);
      load_error_.clear();
      return;
    } catch (const IoError&) {
      continue;  // a writer replaced the snapshot between our two reads: read the manifest again
    } catch (const IndexError& e) {
      // Never served; update() rebuilds it. A search before that says so.
      load_error_ = std::string(e.what()) + "; run `ripvec index " + root_.string() +
                    "` to rebuild the index from its stored objects";
      return;
    }
  }
}

void ProjectIndexImpl::collect_garbage(const Manifest& m, IndexUpdateStats* st) {
  std::unordered_set<std::string> keep;
  for (const auto& [path, e] : m.files)
    if (e.status == "ok") keep.insert(object_path(e.id).filename().string());
  std::error_code ec;
  for (auto dir = fs::directory_iterator(location_ / "objects", ec);
       !ec && dir != fs::directory_iterator(); dir.increment(ec)) {
    if (!dir->is_directory()) continue;
    std::error_code ec2;
    bool empty = true;
    for (auto f = fs::directory_iterator(dir->path(), ec2); !ec2 && f != fs::directory_iterator();
         f.increment(ec2)) {
      const std::string name = f->path().filename().string();
      if (keep.count(name)) {
        empty = false;
        continue;
      }
      std::error_code ec3;
      if (fs::remove(f->path(), ec3) && !is_temp_file_name(name)) st->objects_collected++;
    }
    if (empty) fs::remove(dir->path(), ec2);  // only succeeds when really empty
  }
  for (auto f = fs::directory_iterator(location_, ec); !ec && f != fs::directory_iterator();
       f.increment(ec)) {
    const std::string name = f->path().filename().string();
    const bool old_snapshot =
        name.rfind("snapshot-", 0) == 0 && (!m.snapshot || name != m.snapshot->name);
    if (old_snapshot || is_temp_file_name(name)) {
      std::error_code ec3;
      fs::remove(f->path(), ec3);
    }
  }
}

IndexUpdateStats ProjectIndexImpl::update() {
  const auto t_total = Clock::now();
  // "Racily clean" (as git calls it): a file written again within the file system's timestamp
  // granularity after we read it would keep size and mtime. Entries whose mtime is this close
  // to the start of the update are recorded with mtime -1, so the next update re-hashes them.
  const int64_t racy_from = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count() -
                            2'000'000'000;
  auto racy = [&](int64_t mtime_ns) { return mtime_ns >= racy_from; };
  IndexUpdateStats st;
  std::error_code ec;
  fs::create_directories(location_ / "objects", ec);
  if (ec)
    throw IoError("cannot create index directory " + location_.string() + ": " + ec.message());
  // A cache we cannot write (read-only file system, another user's files) is used as it is.
  FileLock lock(location_ / "lock", /*allow_read_only=*/true);
  const bool read_only =
      !lock.exclusive() || ::faccessat(AT_FDCWD, location_.c_str(), W_OK, AT_EACCESS) != 0;
  // Temp files of writers that were killed (we hold the lock: no writer is active). Objects'
  // temp files are removed by collect_garbage().
  for (auto f = fs::directory_iterator(location_, ec);
       !read_only && !ec && f != fs::directory_iterator(); f.increment(ec)) {
    if (is_temp_file_name(f->path().filename().string())) {
      std::error_code e2;
      fs::remove(f->path(), e2);
    }
  }
  ec.clear();

  // ---- the committed state ----
  Manifest old;
  bool have_old = false;
  if (!reindex_pending_ && fs::exists(manifest_path(), ec)) {
    try {
      old =
          decode_manifest(read_file(manifest_path(), kMaxManifestBytes), manifest_path().string());
      if (manifest_matches(old)) {
        have_old = true;
      } else {
        st.warnings.push_back("index was built with model " + old.model_id + " (dim " +
                              std::to_string(old.dim) + ", format " + std::to_string(old.format) +
                              "); building a fresh index for " + embedder_.model_id());
      }
    } catch (const Error& e) {
      st.warnings.push_back(std::string("index manifest unreadable, rebuilding: ") + e.what());
      st.corrupt_rebuilt++;
    }
  }
  const bool reuse_objects = !reindex_pending_;

  // ---- walk ----
  const auto t_walk = Clock::now();
  WalkStats ws;
  std::vector<WalkedFile> walked = walk({root_}, opts_.walk, &ws);
  st.walk_s = seconds_since(t_walk);
  // A cut walk would make every file it did not reach look deleted: leave the index as it is.
  if (ws.truncated)
    throw IoError(
        "the walk of " + root_.string() + " stopped at its limits (" +
        (ws.warnings.empty() ? std::string("too many folders or files") : ws.warnings.back()) +
        "); the index was not changed");
  st.skipped_too_large += ws.skipped_too_large;
  st.skipped_unreadable += ws.skipped_unreadable;
  for (auto& w : ws.warnings) st.warnings.push_back(w);
  {
    // Never index the index (repo-local or a cache dir placed inside the project).
    const fs::path rel = location_.lexically_relative(root_);
    if (!rel.empty() && *rel.begin() != "..") {
      const std::string prefix = rel.generic_string() + "/";
      std::erase_if(walked, [&](const WalkedFile& f) { return f.rel_path.rfind(prefix, 0) == 0; });
    }
  }
  st.files_seen = walked.size();

  // ---- classify ----
  Manifest next;
  next.model_id = embedder_.model_id();
  next.dim = dim_;
  next.model_key = model_key_;
  next.root = root_.string();
  next.generation = have_old ? old.generation + 1 : 1;

  struct Slot {
    const WalkedFile* file;
    std::shared_ptr<ObjectData> obj;  // set for indexed files once known
    std::string id;
  };
  std::vector<Slot> slots(walked.size());
  std::vector<size_t> unchanged;  // slots whose stat matches an indexed manifest entry
  std::vector<FileTask> tasks;
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < walked.size(); ++i) {
    const WalkedFile& f = walked[i];
    slots[i].file = &f;
    seen.insert(f.rel_path);
    const ManifestEntry* e = nullptr;
    if (have_old) {
      auto it = old.files.find(f.rel_path);
      if (it != old.files.end()) e = &it->second;
    }
    // Read-only, an entry whose mtime was not trusted ("racily clean", -1) or changed is
    // compared by content: it cannot be re-embedded anyway.
    const bool same =
        e && e->size == f.size &&
        (e->mtime_ns == f.mtime_ns || (read_only && e->status == "ok" && same_content(f, e->id)));
    if (same) {
      if (e->status != "ok") {
        next.files[f.rel_path] = *e;  // skipped before, unchanged since: do not re-read
        count_skip(e->status, &st);
        continue;
      }
      if (fs::exists(object_path(e->id), ec)) {
        slots[i].id = e->id;
        unchanged.push_back(i);
        continue;
      }
      st.warnings.push_back("index object for " + f.rel_path + " is missing; re-embedding it");
      st.corrupt_rebuilt++;
    }
    tasks.push_back({i, f});
  }
  std::vector<std::string> removed;
  if (have_old)
    for (const auto& [path, e] : old.files)
      if (!seen.count(path) && e.status == "ok") removed.push_back(path);

  // ---- fast path: nothing changed and the snapshot is intact ----
  std::shared_ptr<Snapshot> current;
  if (have_old && old.snapshot) {
    const fs::path sp = location_ / old.snapshot->name;
    try {
      // Opening verifies every section's checksum; the snapshot load_current() opened (and so
      // verified) is reused when it is still the committed file.
      auto s = snapshot_ && snapshot_->is_current(sp) ? snapshot_ : Snapshot::open_file(sp);
      const bool ok = s->model_key() == model_key_ && s->dim() == dim_ &&
                      s->num_chunks() == old.snapshot->n_chunks &&
                      s->file_size() == old.snapshot->size &&
                      s->payload_crc() == old.snapshot->crc32c;
      if (ok)
        current = std::move(s);
      else {
        st.warnings.push_back("index snapshot " + sp.string() + " is corrupt; rebuilding it");
        st.corrupt_rebuilt++;
      }
    } catch (const Error& e) {
      st.warnings.push_back(std::string("index snapshot unusable, rebuilding it: ") + e.what());
      st.corrupt_rebuilt++;
    }
  }
  if (read_only) {
    if (!current)
      throw IoError("index " + location_.string() + " cannot be written and holds no usable " +
                    "index (" + (st.warnings.empty() ? "nothing committed" : st.warnings.back()) +
                    "); search with --no-index, or give a writable --cache-dir");
    st.warnings.clear();  // the "rebuilding" ones cannot happen
    const size_t stale = tasks.size() + removed.size();
    if (stale == 0)
      st.warnings.push_back("index " + location_.string() +
                            " is read-only: searching it as it is (it cannot be updated)");
    else
      st.warnings.push_back("index " + location_.string() + " is read-only and out of date (" +
                            std::to_string(stale) +
                            " files changed since its last update): searching it as it is, "
                            "without those changes (--no-index searches the files as they are)");
    st.files_unchanged = unchanged.size();
    st.chunks_total = current->num_chunks();
    snapshot_ = std::move(current);
    load_error_.clear();
    st.total_s = seconds_since(t_total);
    return st;
  }
  if (current && tasks.empty() && removed.empty()) {
    // A writer killed after its commit (or before it, having written objects) leaves the
    // marker: finish its garbage collection now.
    if (fs::exists(gc_marker_path(), ec)) {
      collect_garbage(old, &st);
      fs::remove(gc_marker_path(), ec);
    }
    st.files_unchanged = unchanged.size();
    st.chunks_total = current->num_chunks();
    snapshot_ = std::move(current);
    load_error_.clear();
    reindex_pending_ = false;
    st.total_s = seconds_since(t_total);
    return st;
  }
  st.files_unchanged = unchanged.size();

  // From here on objects may be written that only a completed commit + GC accounts for.
  atomic_write_file(gc_marker_path(), "", /*sync=*/false);

  // ---- chunk + embed what changed ----
  double write_s = 0;
  size_t objects_written = 0;
  std::unordered_set<std::string> made_dirs;
  PipelineConfig cfg;
  cfg.embedder = &embedder_;
  cfg.chunk = opts_.chunk;
  cfg.batch = std::max<size_t>(1, opts_.embed_batch);
  cfg.max_file_size = opts_.walk.max_file_size;
  cfg.progress = opts_.progress;
  cfg.reuse = [&](const FileTask&, const std::string& id) -> std::shared_ptr<ObjectData> {
    if (!reuse_objects) return nullptr;
    std::error_code e2;
    if (!fs::exists(object_path(id), e2)) return nullptr;
    try {
      return load_object(id);
    } catch (const Error&) {
      return nullptr;  // a bad object is simply rewritten
    }
  };
  cfg.done = [&](const FileTask& t, FileOutcome&& out) {
    const WalkedFile& f = *slots[t.slot].file;
    const ManifestEntry* e = nullptr;
    if (have_old) {
      auto it = old.files.find(f.rel_path);
      if (it != old.files.end()) e = &it->second;
    }
    ManifestEntry me;
    me.size = f.size;
    me.mtime_ns = racy(f.mtime_ns) ? -1 : f.mtime_ns;
    me.status = status_key(out.status);
    if (out.status != ContentStatus::Ok) {
      count_skip(me.status, &st);
      if (e && e->status == "ok") removed.push_back(f.rel_path);
      next.files[f.rel_path] = me;
      return;
    }
    me.id = out.id;
    me.chunks = static_cast<uint32_t>(out.obj->chunks.size());
    if (out.kind == FileOutcome::Embedded) {
      const auto tw = Clock::now();
      const std::string sub = out.id.substr(0, 2);
      if (made_dirs.insert(sub).second) fs::create_directories(location_ / "objects" / sub);
      atomic_write_file(object_path(out.id), encode_object(*out.obj, dim_, out.id, model_key_),
                        /*sync=*/false);
      write_s += seconds_since(tw);
      ++objects_written;
    }
    const bool was_indexed = e && e->status == "ok";
    if (!was_indexed) {
      st.files_added++;
      st.added.push_back(f.rel_path);
    } else if (e->id != out.id) {
      st.files_modified++;
      st.modified.push_back(f.rel_path);
    } else {
      st.files_unchanged++;  // touched, or its object had to be re-created: same content
    }
    slots[t.slot].obj = std::move(out.obj);
    slots[t.slot].id = out.id;
    next.files[f.rel_path] = me;
  };
  auto run = [&](std::vector<FileTask>& work) {
    std::sort(work.begin(), work.end(),
              [](const FileTask& a, const FileTask& b) { return a.slot < b.slot; });
    PipelineTimes times = run_pipeline(work, cfg);
    st.chunk_s += times.chunk_s;
    st.embed_s += times.embed_s;
    st.chunks_embedded += times.chunks_embedded;
  };
  run(tasks);
  for (size_t i : unchanged)
    next.files[slots[i].file->rel_path] = old.files.at(slots[i].file->rel_path);

  const bool content_changed =
      !current || !st.added.empty() || !st.modified.empty() || !removed.empty();
  if (!content_changed) {
    // Only stat data moved (touched files, racy entries re-checked, re-created objects): the
    // snapshot stays, the manifest records the new sizes and times.
    const auto tw = Clock::now();
    if (objects_written > 0) sync_filesystem(location_);
    next.generation = old.generation;
    next.snapshot = old.snapshot;
    atomic_write_file(manifest_path(), encode_manifest(next), /*sync=*/true);
    st.write_s = write_s + seconds_since(tw);
    collect_garbage(next, &st);
    fs::remove(gc_marker_path(), ec);
    st.chunks_total = current->num_chunks();
    snapshot_ = std::move(current);
    load_error_.clear();
    reindex_pending_ = false;
    st.total_s = seconds_since(t_total);
    return st;
  }
  current.reset();

  // ---- load (and verify) the objects of unchanged files for the new snapshot ----
  {
    std::mutex mu;
    std::vector<size_t> bad;
    parallel_for(0, static_cast<int64_t>(unchanged.size()), 8, [&](int64_t lo, int64_t hi) {
      for (int64_t u = lo; u < hi; ++u) {
        Slot& s = slots[unchanged[u]];
        try {
          s.obj = load_object(s.id);
        } catch (const Error& e) {
          std::lock_guard lk(mu);
          bad.push_back(unchanged[u]);
          st.warnings.push_back(std::string("corrupt index object for ") + s.file->rel_path +
                                ", re-embedding it: " + e.what());
        }
      }
    });
    std::sort(bad.begin(), bad.end());
    std::vector<FileTask> redo;
    for (size_t i : bad) {
      fs::remove(object_path(slots[i].id), ec);
      next.files.erase(slots[i].file->rel_path);
      slots[i].id.clear();
      st.corrupt_rebuilt++;
      st.files_unchanged--;  // counted again by the pipeline
      redo.push_back({i, *slots[i].file});
    }
    if (!redo.empty()) run(redo);
  }
  st.removed = removed;
  st.files_removed = removed.size();

  // ---- snapshot + manifest (the commit point) ----
  const auto tw = Clock::now();
  if (objects_written > 0) sync_filesystem(location_);
  std::vector<SnapshotFileInput> inputs;
  for (auto& s : slots)
    if (s.obj) inputs.push_back({s.file->rel_path, s.obj.get()});
  const std::string snap_name = "snapshot-" + std::to_string(next.generation) + ".bin";
  const fs::path snap_path = location_ / snap_name;
  SnapshotWriteResult wr;
  {
    AtomicFile out(snap_path);
    wr = write_snapshot(out, inputs, dim_, model_key_);
    out.commit(true);
  }
  SnapshotRecord rec;
  rec.name = snap_name;
  rec.size = wr.size;
  rec.mtime_ns = file_mtime_ns(snap_path);
  rec.crc32c = wr.payload_crc;
  rec.n_chunks = wr.n_chunks;
  next.snapshot = rec;
  atomic_write_file(manifest_path(), encode_manifest(next), /*sync=*/true);
  write_s += seconds_since(tw);
  st.write_s = write_s;
  st.chunks_total = wr.n_chunks;

  collect_garbage(next, &st);
  fs::remove(gc_marker_path(), ec);
  reindex_pending_ = false;
  snapshot_ = Snapshot::open_file(snap_path);
  load_error_.clear();
  st.total_s = seconds_since(t_total);
  return st;
}

}  // namespace

fs::path index_location(const fs::path& root, const IndexOptions& opts) {
  const fs::path c = canonical_root(root);
  if (opts.repo_local) return c / ".ripvec";
  const fs::path base = opts.cache_dir.empty() ? default_cache_dir() : opts.cache_dir;
  return base / sha256_hex(c.string()).substr(0, 32);
}

std::unique_ptr<ProjectIndex> ProjectIndex::open(const fs::path& root, Embedder& embedder,
                                                 IndexOptions opts) {
  fs::path c = canonical_root(root);
  fs::path loc = index_location(c, opts);
  return std::make_unique<ProjectIndexImpl>(std::move(c), std::move(loc), embedder,
                                            std::move(opts));
}

std::vector<SearchHit> search_in_memory(const fs::path& root, Embedder& embedder,
                                        std::string_view query, const SearchOptions& sopts,
                                        IndexOptions iopts, IndexUpdateStats* stats) {
  const auto t_total = Clock::now();
  IndexUpdateStats st;
  const fs::path c = canonical_root(root);
  fill_chunk_options(embedder, &iopts.chunk);
  const auto t_walk = Clock::now();
  WalkStats ws;
  std::vector<WalkedFile> walked = walk({c}, iopts.walk, &ws);
  st.walk_s = seconds_since(t_walk);
  st.files_seen = walked.size();
  st.skipped_too_large = ws.skipped_too_large;
  st.skipped_unreadable = ws.skipped_unreadable;
  st.warnings = ws.warnings;

  std::vector<FileTask> tasks;
  for (size_t i = 0; i < walked.size(); ++i) tasks.push_back({i, walked[i]});
  std::vector<std::shared_ptr<ObjectData>> objs(walked.size());
  PipelineConfig cfg;
  cfg.embedder = &embedder;
  cfg.chunk = iopts.chunk;
  cfg.batch = std::max<size_t>(1, iopts.embed_batch);
  cfg.max_file_size = iopts.walk.max_file_size;
  cfg.progress = iopts.progress;
  cfg.done = [&](const FileTask& t, FileOutcome&& out) {
    if (out.status != ContentStatus::Ok) {
      count_skip(status_key(out.status), &st);
      return;
    }
    st.files_added++;
    st.added.push_back(t.file.rel_path);
    objs[t.slot] = std::move(out.obj);
  };
  PipelineTimes times = run_pipeline(tasks, cfg);
  st.chunk_s = times.chunk_s;
  st.embed_s = times.embed_s;
  st.chunks_embedded = times.chunks_embedded;

  std::vector<SnapshotFileInput> inputs;
  for (size_t i = 0; i < walked.size(); ++i)
    if (objs[i]) inputs.push_back({walked[i].rel_path, objs[i].get()});
  const uint32_t dim = static_cast<uint32_t>(embedder.dim());
  auto snap = Snapshot::from_bytes(build_snapshot_bytes(inputs, dim, "in-memory"), "in-memory");
  st.chunks_total = snap->num_chunks();
  auto hits = search_snapshot(*snap, embedder, query, sopts);
  st.total_s = seconds_since(t_total);
  if (stats) *stats = std::move(st);
  return hits;
}

}  // namespace ripvec
