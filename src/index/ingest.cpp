#include "index/ingest.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "corpus/path_filter.hpp"
#include "index/hash.hpp"
#include "ripvec/error.hpp"

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

std::vector<float> embed_serialized(Embedder& e, std::span<const std::string> texts,
                                    InputKind kind) {
  std::lock_guard lk(embedder_mutex());
  return e.embed(texts, kind);
}

ChunkOptions chunk_options_for(Embedder& e) {
  ChunkOptions co;
  // The document prompt is prepended by embed(); leave room for it.
  size_t prompt_tokens = 0;
  const std::string& prompt = e.prompt(InputKind::Document);
  if (!prompt.empty()) prompt_tokens = e.tokenizer().count_tokens(prompt, false);
  const size_t max_seq = e.max_seq_length();
  co.tokenizer = &e.tokenizer();
  co.max_tokens = max_seq > prompt_tokens + 8 ? max_seq - prompt_tokens : max_seq;
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

void count_skip(std::string_view status, UpdateStats* st) {
  if (status == "binary")
    st->skipped_binary++;
  else if (status == "invalid-utf8")
    st->skipped_invalid_utf8++;
  else if (status == "too-large")
    st->skipped_too_large++;
  else
    st->skipped_unreadable++;
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
      emit();
      lk.lock();
    }
  });
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
  }
  emit();
}

void ProgressReporter::phase(IndexProgress::Phase p) {
  if (phase_.exchange(p) == p && p != IndexProgress::Phase::Done) return;
  emit();
}

void ProgressReporter::emit() {
  if (!cb_) return;
  std::lock_guard lk(emit_mu_);
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
  cb_(p);
}

// ---------------- the pipeline ----------------

PipelineTimes run_pipeline(const std::vector<FileTask>& tasks, const PipelineConfig& cfg) {
  struct Item {
    size_t task = 0;
    FileOutcome outcome;  // final unless chunks is non-empty
    std::vector<Chunk> chunks;
    bool embed = false;
  };
  ProgressReporter* prog = cfg.progress;  // the caller counted the tasks into files_total
  std::mutex mu;
  std::condition_variable cv_push, cv_pop;
  std::deque<Item> queue;
  size_t queued_chunks = 0;
  bool producer_done = false, abort = false;
  std::exception_ptr producer_error;
  const size_t cap_chunks = std::max<size_t>(cfg.batch * 4, 256);
  PipelineTimes times;

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
            if (prog) prog->chunks_total += it.chunks.size();
          }
        }
        if (prog) prog->files_chunked++;
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
  std::vector<std::pair<size_t, size_t>> batch_refs;  // (pending id, chunk)
  size_t pending_base = 0;  // number of Pending popped from the front so far
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
    if (prog) prog->phase(IndexProgress::Phase::Embedding);
    const auto te = Clock::now();
    std::vector<float> v = embed_serialized(*cfg.embedder, texts, InputKind::Document);
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
    if (prog) prog->chunks_done += count;
  };
  auto complete_front = [&] {
    while (!pending.empty() && pending.front().filled == pending.front().chunks.size()) {
      Pending& p = pending.front();
      const size_t pid = pending_base;
      if (p.outcome.kind == FileOutcome::Embedded) {
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
      }
      cfg.done(tasks[p.task], std::move(p.outcome));
      pending.pop_front();
      ++pending_base;
      if (prog) prog->files_done++;
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
          pending.push_back(Pending{it.task, std::move(it.outcome), {}, 0});
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

MemoryCorpus ingest_in_memory(const std::vector<WalkedFile>& files, Embedder& embedder,
                              uint64_t max_file_size, ProgressReporter* progress, UpdateStats* st) {
  MemoryCorpus c;
  c.paths.resize(files.size());
  c.sizes.resize(files.size());
  c.objects.resize(files.size());
  std::vector<FileTask> tasks;
  tasks.reserve(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    tasks.push_back({i, files[i]});
    c.paths[i] = files[i].rel_path;
    c.sizes[i] = files[i].size;
  }
  PipelineConfig cfg;
  cfg.embedder = &embedder;
  cfg.chunk = chunk_options_for(embedder);
  cfg.max_file_size = max_file_size;
  cfg.progress = progress;
  cfg.done = [&](const FileTask& t, FileOutcome&& out) {
    if (out.status != ContentStatus::Ok) {
      count_skip(status_key(out.status), st);
      return;
    }
    st->files_added++;
    st->added.push_back(t.file.rel_path);
    c.objects[t.slot] = std::move(out.obj);
  };
  if (progress) progress->start_phase(IndexProgress::Phase::Chunking, tasks.size());
  PipelineTimes times = run_pipeline(tasks, cfg);
  st->chunk_s += times.chunk_s;
  st->embed_s += times.embed_s;
  st->chunks_embedded += times.chunks_embedded;
  return c;
}

std::shared_ptr<Snapshot> memory_snapshot(const MemoryCorpus& c, uint32_t dim) {
  std::vector<SnapshotFileInput> inputs;
  for (size_t i = 0; i < c.objects.size(); ++i)
    if (c.objects[i])
      inputs.push_back({c.paths[i], c.objects[i].get(), c.sizes[i], file_flags(c.paths[i])});
  return Snapshot::from_bytes(build_snapshot_bytes(inputs, dim, "in-memory"), "in-memory");
}

}  // namespace ripvec::index
