#include "index/ingest.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <unordered_map>

#include "corpus/path_filter.hpp"
#include "index/hash.hpp"
#include "ripvec/error.hpp"
#include "util/thread_pool.hpp"

namespace ripvec::index {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
}  // namespace

std::mutex& embedder_mutex() {
  static std::mutex mu;
  return mu;
}

std::atomic<int>& embedder_waiters() {
  static std::atomic<int> n{0};
  return n;
}

std::unique_lock<std::mutex> lock_embedder() {
  struct Counted {  // counted until the lock is held, or lock() threw
    Counted() { embedder_waiters()++; }
    ~Counted() { embedder_waiters()--; }
  } counted;
  return std::unique_lock(embedder_mutex());
}

std::vector<float> embed_serialized(Embedder& e, std::span<const std::string> texts,
                                    InputKind kind) {
  const auto lk = lock_embedder();
  return e.embed(texts, kind);
}

ChunkOptions chunk_options_for(Embedder& e) {
  ChunkOptions co;
  co.encode = [&e](std::string_view text) { return e.tokenize(text, InputKind::Document); };
  // The document prompt is prepended by embed(); leave room for it.
  size_t prompt_tokens = 0;
  const std::string& prompt = e.prompt(InputKind::Document);
  if (!prompt.empty()) prompt_tokens = e.tokenizer().count_tokens(prompt, false);
  const size_t max_seq = e.max_seq_length();
  co.tokenizer = &e.tokenizer();
  co.max_tokens = max_seq > prompt_tokens + 8 ? max_seq - prompt_tokens : max_seq;
  co.encode_is_plain = prompt.empty() && co.max_tokens <= max_seq;
  return co;
}

std::string object_id(std::string_view rel_path, std::string_view content) {
  Sha256 h;
  h.update("ripvec-file\0", 12);
  const uint64_t n = rel_path.size();
  h.update(&n, sizeof(n));
  h.update(rel_path);
  h.update(content);
  return to_hex(h.finish());
}

bool object_matches_content(const ObjectData& obj, std::string_view content) {
  // Chunks are stored by start line, so each is searched from where the previous one began
  // (they may overlap): one pass over the file instead of one per chunk (a 1 MB file of 1,000
  // chunks would otherwise scan a gigabyte). Out of order, the whole file is searched.
  size_t from = 0;
  for (const StoredChunk& c : obj.chunks) {
    size_t at = content.find(c.content, from);
    if (at == std::string_view::npos && from > 0) at = content.find(c.content);
    if (at == std::string_view::npos) return false;
    from = at;
  }
  return true;
}

bool object_terms_match(const ObjectData& obj, std::string_view path) {
  if (!obj.prep) return true;
  const SnapshotPrep& p = *obj.prep;
  if (p.path != path) return false;
  return p.terms == snapshot_terms(path, std::span<const StoredChunk>(obj.chunks));
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

void count_skip(std::string_view status, const std::filesystem::path& abs_path, UpdateStats* st,
                bool repeat) {
  std::string why;
  if (status == "binary") {
    st->skipped_binary++;
    why = "binary file";
  } else if (status == "invalid-utf8") {
    st->skipped_invalid_utf8++;
    why = "not valid UTF-8";
  } else if (status == "too-large") {
    st->skipped_too_large++;  // (grew past the cap after the walk, which warns for the rest)
    why = "larger than the size cap";
  } else {
    st->skipped_unreadable++;
    why = "unreadable";
  }
  std::string msg = "skipping " + abs_path.string() + ": " + why;
  if (repeat) st->entry_warnings.push_back(msg);
  st->warnings.push_back(std::move(msg));
}

uint32_t file_flags(std::string_view rel_path) {
  return corpus::has_hidden_component(rel_path) ? kFileHidden : 0;
}

// ---------------- progress ----------------

ProgressReporter::ProgressReporter(std::function<void(const IndexProgress&)> cb)
    : cb_(std::move(cb)), t0_(Clock::now()) {
  if (!cb_) return;
  ticker_ = std::thread([this] {
    std::unique_lock lk(stop_mu_);
    while (!stop_cv_.wait_for(lk, std::chrono::milliseconds(200), [this] { return stop_; })) {
      lk.unlock();
      try {
        emit(/*ticker=*/true);
      } catch (...) {
        return;  // kept by emit() for the update's thread
      }
      lk.lock();
    }
  });
}

void ProgressReporter::rethrow_if_failed() const {
  if (failed_.load(std::memory_order_acquire)) std::rethrow_exception(ticker_error_);
}

std::function<bool()> cancel_poll(const ProgressReporter* progress, std::function<bool()> user) {
  if (progress == nullptr) return user;
  return [progress, user = std::move(user)] {
    progress->rethrow_if_failed();
    return user && user();
  };
}

ProgressReporter::~ProgressReporter() {
  if (!ticker_.joinable()) return;
  {
    std::lock_guard lk(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  ticker_.join();
}

void ProgressReporter::start_phase(IndexProgress::Phase p, size_t total) {
  {
    std::lock_guard lk(emit_mu_);
    phase_ = p;
    files_done = 0;
    files_chunked = 0;
    files_total = total;
    chunks_done = 0;
    chunks_total = 0;
    rate_window_.clear();
    embed_t0_ = -1;
  }
  emit();
}

void ProgressReporter::phase(IndexProgress::Phase p) {
  if (phase_.exchange(p) == p && p != IndexProgress::Phase::Done) return;
  emit();
}

void ProgressReporter::emit(bool ticker) {
  if (!cb_) return;
  std::lock_guard lk(emit_mu_);
  // The ticker's callback threw: no more reports, the work ends with its exception. Checked
  // under the lock, so a report waiting for it while the ticker's call ran does not call again.
  rethrow_if_failed();
  IndexProgress p;
  p.phase = phase_.load();
  // Read "done" counters before "total" ones so that done <= total holds in what we report.
  p.files_done = files_done.load();
  p.chunks_done = chunks_done.load();
  p.files_chunked = std::max(files_chunked.load(), p.files_done);
  p.files_total = std::max(files_total.load(), p.files_chunked);
  p.chunks_total = std::max(chunks_total.load(), p.chunks_done);
  p.elapsed_s = seconds_since(t0_);
  rate_window_.emplace_back(p.elapsed_s, p.chunks_done);
  while (rate_window_.size() > 2 && rate_window_.front().first < p.elapsed_s - 3.0)
    rate_window_.pop_front();
  const auto& [t_old, c_old] = rate_window_.front();
  if (p.elapsed_s - t_old > 0.05 && p.chunks_done >= c_old)
    p.chunks_per_s = static_cast<double>(p.chunks_done - c_old) / (p.elapsed_s - t_old);
  if (p.phase == IndexProgress::Phase::Embedding && embed_t0_ < 0) embed_t0_ = p.elapsed_s;
  if (embed_t0_ >= 0 && p.chunks_done > 0 && p.elapsed_s > embed_t0_)
    p.chunks_per_s_mean = static_cast<double>(p.chunks_done) / (p.elapsed_s - embed_t0_);
  try {
    cb_(p);
  } catch (...) {
    if (ticker) {
      ticker_error_ = std::current_exception();
      failed_.store(true, std::memory_order_release);
    }
    throw;
  }
}

// ---------------- the pipeline ----------------

namespace {

// What the object (and the snapshot) keep of a file's chunks, moved out of them.
std::vector<StoredChunk> stored_chunks(std::vector<Chunk>& chunks) {
  std::vector<StoredChunk> out;
  out.reserve(chunks.size());
  for (Chunk& c : chunks) {
    StoredChunk sc;
    sc.start_line = c.start_line;
    sc.end_line = c.end_line;
    sc.symbol = std::move(c.symbol);
    sc.kind = std::move(c.kind);
    sc.language = std::move(c.language);
    sc.content = std::move(c.content);
    out.push_back(std::move(sc));
  }
  return out;
}

unsigned ingest_threads(const PipelineConfig& cfg) {
  unsigned n = cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  // On the CPU the embedder's forward pass runs on the pool over every core while the next
  // files are chunked; leaving it one core is the faster split on 2 cores (docs/benchmarks.md,
  // "Ingest (issue 9)"). An explicit thread count is taken as given.
  if (cfg.threads == 0 && n > 1 && !cfg.embedder->device_name().starts_with("cuda")) n -= 1;
  return n;
}

// Files started before their turn (run_pipeline): those of at least kEarlyBytes, the
// kEarlyFiles largest. $RIPVEC_INGEST_EARLY=0 turns it off (for A/B measurements).
constexpr uint64_t kEarlyBytes = 64 * 1024;
constexpr size_t kEarlyFiles = 64;
bool early_files_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("RIPVEC_INGEST_EARLY");
    return v == nullptr || std::string_view(v) != "0";
  }();
  return on;
}

// A positive size from the environment, or 0 (for A/B measurements of the defaults below).
size_t env_size(const char* name) {
  const char* v = std::getenv(name);
  return v ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : size_t{0};
}

size_t group_tokens_for(const PipelineConfig& cfg) {
  if (cfg.group_tokens) return cfg.group_tokens;
  static const size_t env = env_size("RIPVEC_GROUP_TOKENS");
  if (env > 0) return env;
  // One embed call holds the embedder lock (searches wait behind it): about one forward pass
  // of the default budget on the CPU; on a GPU 64 pipelined batches (~0.2 s for bge-small,
  // ~0.8 s for a ModernBERT-base on the H200), since the device drains between calls: a cold
  // index of Django with bge-small took 3.89-3.90 s with groups of 1,048,576 tokens against
  // 4.01-4.13 s with 262,144 and 3.24 s of pure embedding (65536 tokens cost 15% more).
  return cfg.embedder->device_name().starts_with("cuda") ? 1048576 : 16384;
}

}  // namespace

PipelineTimes run_pipeline(const std::vector<FileTask>& tasks, const PipelineConfig& cfg) {
  struct Item {
    FileOutcome outcome;  // final unless chunks is non-empty
    std::vector<Chunk> chunks;
    std::shared_ptr<SnapshotPrep> prep;  // set for files to embed
    bool embed = false;
    // For files to embed: each chunk's text key, and the vectors kept from the file's previous
    // version ([chunks, dim], rows where kept[c]; empty when none was kept).
    std::vector<ChunkTextKey> keys;
    std::vector<float> vectors;
    std::vector<uint8_t> kept;
    size_t n_kept = 0;
  };
  ProgressReporter* prog = cfg.progress;  // the caller counted the tasks into files_total
  const size_t n = tasks.size();
  const bool cuda = cfg.embedder->device_name().starts_with("cuda");
  static const size_t env_window = env_size("RIPVEC_WINDOW_CHUNKS");
  const size_t window = std::max<size_t>(cfg.window_chunks ? cfg.window_chunks
                                         : env_window      ? env_window
                                         : cuda            ? 4096
                                                           : 1024,
                                         1);
  // The first window is a sixteenth of the full one so that the embedder starts early, and
  // each next one doubles until the full size: chunking overlaps the embedding from the start
  // (a jump from the first window to the full one left a GPU waiting for the chunk stage).
  // The last one is embedded in parts of that first size, so that the finisher hands back the
  // earlier parts' files while the later parts embed: after the last vector only the files of
  // the last part remain to be written.
  const size_t first_cut = std::max<size_t>(window / 16, 1);
  size_t cut = first_cut;
  const unsigned nthreads = static_cast<unsigned>(std::min<size_t>(ingest_threads(cfg), n));
  // Files are embedded in task order, so one file that takes a thread long to chunk (a 500 KB
  // SVG: half a second) stops the embedder until it is done, however far the other threads are
  // ahead (0.7-0.8 s of a 4.8 s cold index of Django on the H200). The largest files (size is
  // the proxy) are therefore started out of order, largest first, by the threads the run-ahead
  // bound holds back; the embedding still takes every file in task order, so the windows and
  // batches are the same. They do not count against the bound (there are at most kEarlyFiles).
  std::vector<size_t> early;
  std::vector<uint8_t> is_early(n, 0);
  if (nthreads > 1 && early_files_enabled()) {
    for (size_t t = 0; t < n; ++t)
      if (tasks[t].file.size >= kEarlyBytes) early.push_back(t);
    std::stable_sort(early.begin(), early.end(),
                     [&](size_t a, size_t b) { return tasks[a].file.size > tasks[b].file.size; });
    if (early.size() > kEarlyFiles) early.resize(kEarlyFiles);
    for (size_t t : early) is_early[t] = 1;
  }
  size_t next_early = 0;  // under mu
  std::vector<Item> items(n);
  std::vector<uint8_t> ready(n, 0);
  std::mutex mu;
  std::condition_variable cv_ready, cv_space;
  size_t next_task = 0, consumed = 0, ahead_chunks = 0;  // under mu
  bool abort = false;
  std::exception_ptr worker_error;
  std::atomic<int64_t> chunk_ns{0};
  PipelineTimes times;
  Embedder& emb = *cfg.embedder;

  const size_t dim = emb.dim();
  // The chunks' text keys, and the vectors of the previous version's chunks with the same key
  // (their ids are dropped: nothing to embed).
  auto keep_previous_vectors = [&](const FileTask& task, Item& it) {
    it.keys.reserve(it.chunks.size());
    for (const Chunk& c : it.chunks) it.keys.push_back(chunk_text_key(c.ids));
    const std::shared_ptr<const ObjectData> prev =
        cfg.previous ? cfg.previous(task, it.outcome.id) : nullptr;
    if (!prev || prev->keys.size() != prev->chunks.size() ||
        prev->vectors.size() != prev->chunks.size() * dim)
      return;
    std::map<ChunkTextKey, size_t> row;
    for (size_t r = 0; r < prev->keys.size(); ++r) row.emplace(prev->keys[r], r);
    it.kept.assign(it.chunks.size(), 0);
    for (size_t c = 0; c < it.chunks.size(); ++c) {
      const auto found = row.find(it.keys[c]);
      if (found == row.end()) continue;
      if (it.vectors.empty()) it.vectors.resize(it.chunks.size() * dim);
      std::copy_n(prev->vectors.begin() + static_cast<std::ptrdiff_t>(found->second * dim), dim,
                  it.vectors.begin() + static_cast<std::ptrdiff_t>(c * dim));
      it.kept[c] = 1;
      it.chunks[c].ids = {};
      ++it.n_kept;
    }
    if (it.n_kept == 0) it.kept.clear();
  };

  // Workers: read, hash, reuse or chunk + tokenize one file at a time, in any order; each
  // file's result depends on that file alone, so timing never changes what is produced. They
  // run at most one window of chunks (and 4096 files) ahead of the embedding.
  auto work = [&] {
    try {
      for (;;) {
        size_t t;
        {
          std::unique_lock lk(mu);
          // In order while the run-ahead bound allows (the first window comes first); a thread
          // the bound holds back starts the next large file instead.
          auto in_order = [&] {
            while (next_task < n && is_early[next_task]) ++next_task;  // taken out of order
            return next_task < n && ahead_chunks < window && next_task < consumed + 4096;
          };
          cv_space.wait(lk, [&] {
            return abort || in_order() || next_early < early.size() || next_task >= n;
          });
          if (abort) return;
          if (in_order())
            t = next_task++;
          else if (next_early < early.size())
            t = early[next_early++];
          else
            return;  // nothing left to start
        }
        const auto tc = Clock::now();
        Item it;
        std::string content;
        ContentStatus st = read_text_file(tasks[t].file.abs_path, cfg.max_file_size, &content);
        it.outcome.status = st;
        if (st == ContentStatus::Ok) {
          it.outcome.id = object_id(tasks[t].file.rel_path, content);
          std::shared_ptr<ObjectData> obj =
              cfg.reuse ? cfg.reuse(tasks[t], it.outcome.id) : nullptr;
          // An object is named by the hash of its file's content, but its chunk texts are not
          // covered by that name: a repository can ship a .ripvec/ whose object for the right
          // id holds other text. Every chunk must be a piece of the file, or it is re-made.
          if (obj && !object_matches_content(*obj, content)) obj = nullptr;
          // Its stored keyword terms must be those of the chunks just checked: they are used
          // as they are whenever the file is unchanged later (a shipped object holding other
          // terms would make its chunks match words they do not hold, for good). An object
          // whose terms differ is made again, terms included.
          if (obj && !object_terms_match(*obj, tasks[t].file.rel_path)) obj = nullptr;
          if (obj) {
            it.outcome.kind = FileOutcome::Reused;
            it.outcome.obj = std::move(obj);
          } else {
            it.outcome.kind = FileOutcome::Embedded;
            it.chunks = chunk_file(tasks[t].file.rel_path, content, cfg.chunk);
            for (Chunk& c : it.chunks)
              if (c.ids.empty())  // no encode in the options, or it failed: report it here
                c.ids = emb.tokenize(c.embed_text.empty() ? c.content : c.embed_text,
                                     InputKind::Document);
            keep_previous_vectors(tasks[t], it);
            it.embed = true;
            // The file's keyword terms, for the snapshot, made here while the embedder runs.
            it.prep = std::make_shared<SnapshotPrep>();
            it.prep->path = tasks[t].file.rel_path;
            it.prep->terms = snapshot_terms(it.prep->path, std::span<const Chunk>(it.chunks));
            if (prog) prog->chunks_total += it.chunks.size() - it.n_kept;
          }
        }
        if (prog) prog->files_chunked++;
        chunk_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - tc).count();
        std::lock_guard lk(mu);
        if (!is_early[t]) ahead_chunks += it.chunks.size();
        items[t] = std::move(it);
        ready[t] = 1;
        cv_ready.notify_all();
      }
    } catch (...) {
      std::lock_guard lk(mu);
      if (!worker_error) worker_error = std::current_exception();
      abort = true;
      cv_ready.notify_all();
      cv_space.notify_all();
    }
  };
  std::vector<std::thread> workers;
  auto stop_workers = [&] {
    {
      std::lock_guard lk(mu);
      abort = true;
    }
    cv_space.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
  };

  // The window: files in task order whose chunks are being embedded. Its chunks are sorted by
  // length and cut into groups of about group_tokens padded tokens, so the embedder's batch
  // planner sees runs of similar lengths from the whole window. Window cuts depend only on the
  // tasks and their chunk counts: the same input gives the same groups and batches.
  struct Pending {
    size_t task;
    FileOutcome outcome;
    std::vector<Chunk> chunks;
    std::shared_ptr<SnapshotPrep> prep;
    std::vector<ChunkTextKey> keys;
    std::vector<float> vectors;
    std::vector<uint8_t> kept;  // rows of vectors kept from the previous version (or empty)
    size_t filled = 0;          // rows of vectors set (kept or embedded)
  };
  struct Window {
    std::vector<Pending> files;
    size_t handed = 0;  // files handed back so far (in order)
  };
  // One embed group: chunks (file, chunk) of one window, their ids moved out of the chunks.
  // The last group of a window (or the one empty group of a window with nothing to embed)
  // hands its remaining files back.
  struct Group {
    std::shared_ptr<Window> window;
    std::vector<std::pair<uint32_t, uint32_t>> refs;
    std::vector<std::vector<int32_t>> ids;
    bool last = false;
  };
  std::deque<Pending> pending;
  size_t pending_chunks = 0;
  const size_t group_tokens = group_tokens_for(cfg);
  const bool normalize = !emb.normalizes();

  // Hands one file back (its chunks all embedded, or none to embed): builds its object and
  // calls cfg.done. This runs on the finisher thread, in task order, so that encoding and
  // writing objects (the index's done) never keep the embedding thread from the device.
  auto finish_file = [&](Pending& p) {
    if (p.outcome.kind == FileOutcome::Embedded) {
      auto obj = std::make_shared<ObjectData>();
      obj->vectors = std::move(p.vectors);
      obj->chunks = stored_chunks(p.chunks);
      obj->keys = std::move(p.keys);
      // The rest of what the file adds to the snapshot: its int8 codes, and its terms merged
      // into the build's dictionary (one thread: this one).
      if (p.prep) {
        prepare_codes(*obj, static_cast<uint32_t>(dim), p.prep.get());
        if (cfg.bm25_dict) {
          p.prep->term_ids = cfg.bm25_dict->add(p.prep->terms);
          p.prep->dict_id = cfg.bm25_dict->id();
        }
        obj->prep = std::move(p.prep);
      }
      p.outcome.obj = std::move(obj);
    }
    std::shared_ptr<SnapshotPrep> merged;
    if (p.outcome.obj && p.outcome.obj->prep && p.outcome.obj->prep->dict_id != 0)
      merged = p.outcome.obj->prep;
    cfg.done(tasks[p.task], std::move(p.outcome));  // writes the object, terms included
    if (merged) merged->terms.terms = {};           // the dictionary holds them now
    if (prog) prog->files_done++;
  };
  std::mutex fin_mu;
  std::condition_variable fin_cv;
  std::deque<Pending> fin_queue;  // under fin_mu
  bool fin_closing = false;       // under fin_mu
  std::exception_ptr fin_error;   // under fin_mu
  std::thread finisher([&] {
    for (;;) {
      Pending p;
      {
        std::unique_lock lk(fin_mu);
        fin_cv.wait(lk, [&] { return fin_closing || !fin_queue.empty(); });
        if (fin_queue.empty() || fin_error) return;
        p = std::move(fin_queue.front());
        fin_queue.pop_front();
      }
      try {
        finish_file(p);
      } catch (...) {
        std::lock_guard lk(fin_mu);
        fin_error = std::current_exception();
        return;
      }
    }
  });
  auto hand_back = [&](Pending&& p) {
    std::lock_guard lk(fin_mu);
    if (fin_error) std::rethrow_exception(fin_error);
    fin_queue.push_back(std::move(p));
    fin_cv.notify_one();
  };
  // Waits until the finisher has handed back every queued file (or stopped at its own first
  // error). Files already embedded are handed back on every path, so a cancelled or failed
  // update still writes their objects for the next update to reuse.
  auto close_finisher = [&] {
    {
      std::lock_guard lk(fin_mu);
      fin_closing = true;
    }
    fin_cv.notify_one();
    if (finisher.joinable()) finisher.join();
  };

  // The embedding thread runs the groups through Embedder::embed_token_groups, so that a GPU
  // computes the next group while the rows of the last one are stored (one drain per run, not
  // per group: 40 drains cost a cold GPU index of Django 0.15-0.3 s). This thread cuts the
  // windows into groups and queues them, at most about one window ahead of the device.
  std::mutex q_mu;
  std::condition_variable q_cv;     // a group queued, the queue closed, or an abort
  std::condition_variable q_space;  // a group's rows handed out, or the embedding thread ended
  std::deque<Group> queue;          // under q_mu
  std::deque<Group> in_flight;      // the embedding thread's: groups given to the embedder
  size_t queued_chunks = 0;         // under q_mu: chunks queued or in flight
  bool q_closed = false, q_abort = false;  // under q_mu
  std::exception_ptr embed_error;          // under q_mu
  double embed_wait_s = 0;                 // the embedding thread waiting for a group
  double run_wait_s = 0;                   // all its waits inside runs (embed_s excludes them)
  bool any_group = false;                  // the embedding thread's: a group was taken
  size_t run_groups = 0;                   // the embedding thread's: taken in the current run
  bool embed_done = false;                 // under q_mu: the embedding thread has ended
  bool enqueued_any = false;               // this thread's
  auto take_group = [&](std::vector<std::vector<int32_t>>& ids, bool wait) {
    std::unique_lock lk(q_mu);
    double waited = 0;
    for (;;) {
      if (q_abort) return false;  // the groups in flight are still stored
      // Another caller waiting for the embedder (a search, another update's run) gets it
      // between groups; a run takes at least one group when one is queued, so that two runs
      // that wait for each other still both move on.
      if (embedder_waiters().load() > 0 && (run_groups > 0 || queue.empty())) return false;
      if (!queue.empty()) break;
      if (q_closed || !wait) return false;
      const auto tw = Clock::now();
      q_cv.wait_for(lk, std::chrono::milliseconds(10));
      const double w = seconds_since(tw);
      run_wait_s += w;
      waited += w;
    }
    if (wait && any_group) embed_wait_s += waited;
    Group g = std::move(queue.front());
    queue.pop_front();
    lk.unlock();
    q_space.notify_all();  // the window thread may queue the next group
    any_group = true;
    ++run_groups;
    if (prog && !g.ids.empty()) prog->phase(IndexProgress::Phase::Embedding);
    ids = std::move(g.ids);
    in_flight.push_back(std::move(g));
    return true;
  };
  auto store_rows = [&](std::vector<float>&& v) {
    Group g = std::move(in_flight.front());
    in_flight.pop_front();
    const size_t count = g.refs.size();
    if (v.size() != count * dim)
      throw IndexError("embedder returned " + std::to_string(v.size()) + " floats for " +
                       std::to_string(count) + " texts of dim " + std::to_string(dim));
    if (normalize) normalize_rows(v.data(), count, dim);
    Window& w = *g.window;
    for (size_t k = 0; k < count; ++k) {
      Pending& p = w.files[g.refs[k].first];
      if (p.vectors.empty()) p.vectors.resize(p.chunks.size() * dim);
      std::copy(v.begin() + k * dim, v.begin() + (k + 1) * dim,
                p.vectors.begin() + size_t{g.refs[k].second} * dim);
      p.filled++;
    }
    times.chunks_embedded += count;
    if (prog) prog->chunks_done += count;
    // Files are handed back in task order as soon as they are complete (progress counts of
    // files and chunks move together); the window's last group hands back the rest.
    while (w.handed < w.files.size() &&
           (g.last || w.files[w.handed].filled == w.files[w.handed].chunks.size()))
      hand_back(std::move(w.files[w.handed++]));
    {
      std::lock_guard lk(q_mu);
      queued_chunks -= count;
    }
    q_space.notify_all();
  };
  auto embedding = [&] {
    try {
      for (;;) {
        {
          // The embedder is taken only for a group with chunks: an update that embeds
          // nothing (reused objects, skipped files) never waits for the weights or holds the
          // lock; windows with nothing to embed go back here, in order, when none is in flight.
          std::unique_lock lk(q_mu);
          q_cv.wait(lk, [&] { return q_abort || q_closed || !queue.empty(); });
          while (!q_abort && !queue.empty() && queue.front().ids.empty()) {
            in_flight.push_back(std::move(queue.front()));
            queue.pop_front();
            lk.unlock();
            q_space.notify_all();
            store_rows({});
            lk.lock();
          }
          if (q_abort || (q_closed && queue.empty())) break;
          if (queue.empty()) continue;
        }
        // Let a waiting caller (a search, another update) take the embedder first: it counts
        // itself until it holds the lock (a bounded wait: steady searches must not stall the
        // update). Then run groups until the queue closes or another caller waits.
        for (int spins = 0; spins < 20 && embedder_waiters().load() > 0; ++spins) {
          {
            std::lock_guard lk(q_mu);
            if (q_abort) break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        const auto lk = lock_embedder();  // counted: another update waiting gets a turn too
        const auto te = Clock::now();
        const double wait0 = run_wait_s;
        run_groups = 0;
        emb.embed_token_groups(take_group, store_rows);
        times.embed_s += seconds_since(te) - (run_wait_s - wait0);
      }
    } catch (...) {
      std::lock_guard lk(q_mu);
      embed_error = std::current_exception();
      q_abort = true;
    }
    {
      std::lock_guard lk(q_mu);
      embed_done = true;
    }
    q_space.notify_all();
  };
  std::thread embedder_thread;
  try {
    embedder_thread = std::thread(embedding);
  } catch (...) {
    close_finisher();
    throw;
  }
  // Stops the embedding thread: after the queued groups (closing; the cancel callback is
  // polled meanwhile) or at once (abort). The groups in flight are stored either way and their
  // files handed back.
  auto stop_embedder = [&](bool abort) {
    std::unique_lock lk(q_mu);
    q_closed = true;
    if (abort) q_abort = true;
    q_cv.notify_all();
    bool cancel = false;
    while (!embed_done && !q_abort) {
      q_space.wait_for(lk, std::chrono::milliseconds(50));
      if (!embed_done && cfg.cancelled && cfg.cancelled()) {
        q_abort = cancel = true;
        q_cv.notify_all();
      }
    }
    lk.unlock();
    if (embedder_thread.joinable()) embedder_thread.join();
    if (cancel) throw CancelledError("indexing cancelled");
  };
  // Queues the chunks of the first `nfiles` pending files as groups, longest first.
  auto enqueue = [&](size_t nfiles) {
    auto w = std::make_shared<Window>();
    w->files.reserve(nfiles);
    for (size_t f = 0; f < nfiles; ++f) w->files.push_back(std::move(pending[f]));
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(nfiles));
    std::vector<std::pair<uint32_t, uint32_t>> refs;  // (file in window, chunk) to embed
    for (size_t f = 0; f < w->files.size(); ++f) {
      const std::vector<uint8_t>& kept = w->files[f].kept;
      for (size_t c = 0; c < w->files[f].chunks.size(); ++c)
        if (kept.empty() || !kept[c])
          refs.emplace_back(static_cast<uint32_t>(f), static_cast<uint32_t>(c));
    }
    pending_chunks -= refs.size();
    auto len = [&](const std::pair<uint32_t, uint32_t>& r) {
      return w->files[r.first].chunks[r.second].ids.size();
    };
    std::stable_sort(refs.begin(), refs.end(),
                     [&](const auto& a, const auto& b) { return len(a) > len(b); });
    std::vector<Group> groups;
    size_t i = 0;
    do {  // a window with nothing to embed still gets one (empty) group to hand it back
      Group g;
      g.window = w;
      if (i < refs.size()) {
        // Longest first: the group's padded size is its first length times its count.
        const size_t first = std::max<size_t>(len(refs[i]), 1);
        const size_t count = std::clamp<size_t>(group_tokens / first, 1, refs.size() - i);
        g.refs.assign(refs.begin() + static_cast<std::ptrdiff_t>(i),
                      refs.begin() + static_cast<std::ptrdiff_t>(i + count));
        for (auto [f, c] : g.refs) g.ids.push_back(std::move(w->files[f].chunks[c].ids));
        i += count;
      }
      g.last = i >= refs.size();
      groups.push_back(std::move(g));
    } while (i < refs.size());
    for (Group& g : groups) {
      if (cfg.cancelled && cfg.cancelled()) throw CancelledError("indexing cancelled");
      std::unique_lock lk(q_mu);
      // At most about one window queued ahead of the device (the ingest threads run another
      // window ahead of this thread); the cancel callback is polled meanwhile.
      while (!q_abort && !queue.empty() && queued_chunks >= window) {
        q_space.wait_for(lk, std::chrono::milliseconds(50));
        if (cfg.cancelled && cfg.cancelled()) throw CancelledError("indexing cancelled");
      }
      if (q_abort)
        std::rethrow_exception(embed_error
                                   ? embed_error
                                   : std::make_exception_ptr(CancelledError("indexing stopped")));
      queued_chunks += g.refs.size();
      queue.push_back(std::move(g));
      enqueued_any = true;
      lk.unlock();
      q_cv.notify_one();
    }
  };

  try {
    workers.reserve(nthreads);
    for (unsigned w = 0; w < nthreads; ++w) workers.emplace_back(work);
    for (size_t t = 0; t < n; ++t) {
      Item it;
      {
        std::unique_lock lk(mu);
        if (!ready[t] && !worker_error) {
          const auto tw = Clock::now();
          // Polls the cancel callback: the embedding thread may be idle meanwhile.
          while (!cv_ready.wait_for(lk, std::chrono::milliseconds(50),
                                    [&] { return ready[t] || worker_error; }))
            if (cfg.cancelled && cfg.cancelled()) throw CancelledError("indexing cancelled");
          if (enqueued_any) times.chunk_wait_s += seconds_since(tw);
        }
        if (!ready[t]) std::rethrow_exception(worker_error);
        it = std::move(items[t]);
        ready[t] = 0;
        if (!is_early[t]) ahead_chunks -= it.chunks.size();
        ++consumed;
      }
      cv_space.notify_all();
      if (it.embed && it.chunks.empty())
        it.outcome.obj = std::make_shared<ObjectData>();  // a file without chunks
      const size_t nc = it.embed ? it.chunks.size() - it.n_kept : 0;
      times.chunks_reused += it.n_kept;
      pending.push_back(Pending{t, std::move(it.outcome), std::move(it.chunks), std::move(it.prep),
                                std::move(it.keys), std::move(it.vectors), std::move(it.kept),
                                it.n_kept});
      pending_chunks += nc;
      if (pending_chunks == 0) {
        enqueue(pending.size());  // nothing to embed: handed back after the groups before it
      } else if (pending_chunks >= cut) {
        enqueue(pending.size());
        cut = std::min(window, cut * 2);
      }
    }
    while (!pending.empty()) {  // the last window, in parts of first_cut chunks to embed
      size_t files = 0, chunks = 0;
      while (files < pending.size() && chunks < first_cut) {
        chunks += pending[files].chunks.size() - pending[files].filled;
        ++files;
      }
      enqueue(files);
    }
    stop_workers();
    stop_embedder(/*abort=*/false);
  } catch (...) {
    stop_workers();
    stop_embedder(/*abort=*/true);
    close_finisher();
    throw;
  }
  close_finisher();
  if (embed_error) std::rethrow_exception(embed_error);
  if (fin_error) std::rethrow_exception(fin_error);
  times.chunk_s = static_cast<double>(chunk_ns.load()) * 1e-9;
  times.embed_gap_s = embed_wait_s;
  return times;
}

MemoryCorpus ingest_in_memory(const std::vector<WalkedFile>& files, Embedder& embedder,
                              uint64_t max_file_size, ProgressReporter* progress, UpdateStats* st,
                              std::function<bool()> cancelled, bool embed) {
  MemoryCorpus c;
  c.paths.resize(files.size());
  c.sizes.resize(files.size());
  c.objects.resize(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    c.paths[i] = files[i].rel_path;
    c.sizes[i] = files[i].size;
  }
  // One file's outcome, in file order: its object, or a skip counted and named.
  auto take = [&](size_t i, ContentStatus status, std::shared_ptr<ObjectData> obj) {
    if (status != ContentStatus::Ok) {
      count_skip(status_key(status), files[i].abs_path, st);
      return;
    }
    st->files_added++;
    st->added.push_back(files[i].rel_path);
    c.objects[i] = std::move(obj);
  };
  cancelled = cancel_poll(progress, std::move(cancelled));
  if (progress) progress->start_phase(IndexProgress::Phase::Chunking, files.size());
  if (!embed) {
    ChunkOptions co = chunk_options_for(embedder);
    co.encode = {};  // cut by the tokenizer's count, keep no ids
    const size_t dim = embedder.dim();
    std::vector<ContentStatus> status(files.size(), ContentStatus::Ok);
    std::vector<std::shared_ptr<ObjectData>> objects(files.size());
    const auto t0 = std::chrono::steady_clock::now();
    parallel_for(0, static_cast<int64_t>(files.size()), 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        if (cancelled && cancelled()) return;
        std::string content;
        status[i] = read_text_file(files[i].abs_path, max_file_size, &content);
        if (status[i] != ContentStatus::Ok) continue;
        auto obj = std::make_shared<ObjectData>();
        std::vector<Chunk> chunks = chunk_file(files[i].rel_path, content, co);
        obj->chunks = stored_chunks(chunks);
        obj->vectors.assign(obj->chunks.size() * dim, 0.0f);
        objects[i] = std::move(obj);
      }
    });
    if (cancelled && cancelled()) throw CancelledError("search cancelled");
    for (size_t i = 0; i < files.size(); ++i) take(i, status[i], std::move(objects[i]));
    st->chunk_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return c;
  }
  std::vector<FileTask> tasks;
  tasks.reserve(files.size());
  for (size_t i = 0; i < files.size(); ++i) tasks.push_back({i, files[i]});
  PipelineConfig cfg;
  cfg.embedder = &embedder;
  cfg.chunk = chunk_options_for(embedder);
  cfg.max_file_size = max_file_size;
  cfg.progress = progress;
  cfg.cancelled = cancelled;
  cfg.bm25_dict = c.dict.get();
  cfg.done = [&](const FileTask& t, FileOutcome&& out) {
    take(t.slot, out.status, std::move(out.obj));
  };
  PipelineTimes times = run_pipeline(tasks, cfg);
  st->chunk_s += times.chunk_s;
  st->embed_s += times.embed_s;
  st->chunk_wait_s += times.chunk_wait_s;
  st->embed_gap_s += times.embed_gap_s;
  st->chunks_embedded += times.chunks_embedded;
  return c;
}

std::shared_ptr<Snapshot> memory_snapshot(const MemoryCorpus& c, uint32_t dim) {
  std::vector<SnapshotFileInput> inputs;
  for (size_t i = 0; i < c.objects.size(); ++i)
    if (c.objects[i])
      inputs.push_back({c.paths[i], c.objects[i].get(), c.sizes[i], file_flags(c.paths[i])});
  return Snapshot::from_bytes(build_snapshot_bytes(inputs, dim, "in-memory", c.dict.get()),
                              "in-memory");
}

}  // namespace ripvec::index
