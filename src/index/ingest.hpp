// Ingestion: read → chunk → tokenize → embed, for the persistent index (index.cpp) and for
// in-memory searches alike. Ingest threads read, hash, chunk and tokenize files (tokenized
// once: the ids the chunker counted travel with the chunk); the calling thread gathers a
// window of chunks across files, sorts it by length, embeds it in token-budget groups and
// hands each file back, complete, in task order. The output depends only on the input, never
// on the number of threads or their timing.
// Progress (phases, counts, rate) is published through ProgressReporter.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chunk/chunker.hpp"
#include "corpus/walker.hpp"
#include "index/store.hpp"
#include "ripvec/embedder.hpp"
#include "ripvec/index.hpp"

namespace ripvec::index {

// An Embedder runs one call at a time (ripvec/embedder.hpp) and, on the CPU, every embedder
// shares the process-wide thread pool: all embedding done by the index library (updates,
// queries, in-memory searches, any Index object) goes through this one lock, held for one
// call at a time (an ingest's run of groups gives it up between groups when a search waits).
std::mutex& embedder_mutex();
// Threads waiting for embedder_mutex() in lock_embedder() (a run of groups that holds it,
// run_pipeline's, yields between groups while this is non-zero), and the way to take it.
std::atomic<int>& embedder_waiters();
std::unique_lock<std::mutex> lock_embedder();
std::vector<float> embed_serialized(Embedder& e, std::span<const std::string> texts,
                                    InputKind kind);

// Chunk options for an embedder: its tokenizer, max_tokens = its max length minus the
// document prompt, and encode = Embedder::tokenize(·, Document), so chunks carry the ids the
// embedder runs (the Embedder must outlive the options).
ChunkOptions chunk_options_for(Embedder& e);

// Object id: SHA-256 over the relative path and the content (the chunker puts the path into
// every chunk's embedded header, so the same bytes at another path embed differently).
std::string object_id(std::string_view rel_path, std::string_view content);

// Whether every chunk text of `obj` occurs in `content` (the file it claims to hold). Cheap: a
// search per chunk in a file of at most the size cap. Vectors are not checked (that would mean
// embedding again): a hostile object can still rank its file oddly, not show other text.
bool object_matches_content(const ObjectData& obj, std::string_view content);
// Whether obj's stored keyword terms (its prep, read from an object of version 4) are what the
// snapshot build makes from its chunks for `path`; true when it has none.
bool object_terms_match(const ObjectData& obj, std::string_view path);

void normalize_rows(float* v, size_t n, size_t dim);
const char* status_key(ContentStatus s);  // manifest spelling: "ok", "binary", ...
// Counts a file skipped for its content (status_key spelling) and adds a warning naming it to
// st->warnings ("skipping PATH: binary file", ...), as the walk does for the entries it skips:
// the user sees which files are not searched, not only how many. A repeat (the index skipped
// the file for the same reason before) also goes to st->entry_warnings, which a front end may
// leave out while the index is unchanged; news (a file new to the index, or skipped for another
// reason than before) is printed by every front end.
void count_skip(std::string_view status, const std::filesystem::path& abs_path, UpdateStats* st,
                bool repeat = true);
uint32_t file_flags(std::string_view rel_path);  // kFileHidden...

// Publishes IndexProgress: immediately at each phase change, and from a ticker thread every
// 200 ms in between (calls never overlap). Counters are atomics the pipeline bumps.
class ProgressReporter {
 public:
  explicit ProgressReporter(std::function<void(const IndexProgress&)> cb);
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  // A new phase with every counter reset (files_total set), reported at once.
  void start_phase(IndexProgress::Phase p, size_t files_total = 0);
  // The same counters, a new phase name (Chunking -> Embedding), reported at once.
  void phase(IndexProgress::Phase p);
  IndexProgress::Phase current_phase() const { return phase_.load(); }
  // The callback may throw. On a thread that reports a phase, its exception propagates from
  // start_phase() / phase(); on the ticker thread it is kept (the ticker stops) and thrown by
  // the next start_phase(), phase() or rethrow_if_failed(): a polling point of the caller's
  // (cancel_poll) ends the work with it, as a throwing `cancelled` does. Before, it reached
  // std::terminate (API probe 2026-12-08).
  void rethrow_if_failed() const;
  std::atomic<size_t> files_done{0}, files_chunked{0}, files_total{0}, chunks_done{0},
      chunks_total{0};

 private:
  void emit(bool ticker = false);  // ticker: called by the ticker thread
  std::function<void(const IndexProgress&)> cb_;
  std::atomic<IndexProgress::Phase> phase_{IndexProgress::Phase::Scanning};
  std::chrono::steady_clock::time_point t0_;
  std::mutex emit_mu_;
  std::deque<std::pair<double, size_t>> rate_window_;  // (elapsed, chunks_done), under emit_mu_
  double embed_t0_ = -1;  // elapsed_s of the first Embedding report of the phase (-1: none yet)
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::atomic<bool> failed_{false};
  std::exception_ptr ticker_error_;  // set once, before failed_ (release)
  std::thread ticker_;
};

// The cancellation poll of a pipeline whose progress is `progress` (may be null): throws the
// progress callback's exception kept from the ticker thread, else asks `user` (may be empty).
std::function<bool()> cancel_poll(const ProgressReporter* progress, std::function<bool()> user);

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
  // Ingest threads (read, hash, chunk, tokenize); 0: all cores, less one on the CPU device,
  // whose forward pass uses the pool meanwhile.
  unsigned threads = 0;
  // Chunks gathered (whole files, in task order) before they are sorted by length and
  // embedded (the first window is a sixteenth of it, to start the embedder early, and the next
  // ones double up to it; the last one is embedded in parts of a sixteenth, so that few files
  // are left to hand back after the last vector); also how far the ingest threads may run
  // ahead. 0: 1024 on the CPU, 4096 on CUDA.
  size_t window_chunks = 0;
  // Padded tokens per embed call (one lock hold); 0: 16384 on the CPU, 65536 on CUDA.
  size_t group_tokens = 0;
  uint64_t max_file_size = 0;
  // Ingest threads, concurrently: given the task and its object id, returns an existing
  // object to reuse. Must be thread-safe.
  // A returned object is used only if object_matches_content() holds for the file's content.
  std::function<std::shared_ptr<ObjectData>(const FileTask&, const std::string& id)> reuse;
  // Ingest threads, concurrently, for a file that is chunked (not reused whole), given its new
  // object id: the object of the file's previous version at this path, or null. Each new chunk
  // whose text key (chunk_text_key of its ids) is one of that object's keeps its vector instead
  // of being embedded again: an edit re-embeds the chunks it changed, not the whole file. Null
  // when the previous version has this very id (its object was just refused, or is missing).
  // Must be thread-safe; may be empty.
  std::function<std::shared_ptr<const ObjectData>(const FileTask&, const std::string& id)> previous;
  // Calling thread: one call per task, in task order.
  std::function<void(const FileTask&, FileOutcome&&)> done;
  ProgressReporter* progress = nullptr;  // may be null
  // The dictionary the snapshot of these files will be built with (write_snapshot's dict):
  // each embedded file's terms are merged into it on the finisher thread, before `done`.
  // May be null; used by that one thread, so the caller must not touch it until run_pipeline
  // returns.
  Bm25Dictionary* bm25_dict = nullptr;
  // Calling thread, before each embed call: true stops the pipeline with CancelledError (the
  // ingest threads are joined first; files already handed to `done` stay handed).
  std::function<bool()> cancelled;
};

struct PipelineTimes {
  double chunk_s = 0;  // summed over the ingest threads (read, hash, chunk, tokenize)
  double embed_s = 0;
  double chunk_wait_s = 0;  // the embedding thread waiting for the next file in order
  double embed_gap_s = 0;   // the embedding thread's own work between embed calls
  size_t chunks_embedded = 0;
  size_t chunks_reused = 0;  // vectors kept from the files' previous versions (`previous`)
};

PipelineTimes run_pipeline(const std::vector<FileTask>& tasks, const PipelineConfig& cfg);

// Walk results → chunked, embedded objects in memory (no store), for searches without an
// index and for the files a filtered search embeds for itself. Files are labelled with
// rel_path; `st` receives counts, timings and warnings.
struct MemoryCorpus {
  std::vector<std::string> paths;
  std::vector<uint64_t> sizes;
  std::vector<std::shared_ptr<ObjectData>> objects;  // null for skipped files
  std::unique_ptr<Bm25Dictionary> dict = std::make_unique<Bm25Dictionary>();  // their terms
};
// embed = false: the files are read and chunked on the pool, nothing is tokenized or embedded
// (the vectors are zeros; for keyword ranking only), and the embedder's weights stay unloaded.
MemoryCorpus ingest_in_memory(const std::vector<WalkedFile>& files, Embedder& embedder,
                              uint64_t max_file_size, ProgressReporter* progress, UpdateStats* st,
                              std::function<bool()> cancelled = {}, bool embed = true);
// A snapshot of those objects (an in-memory image; nothing written). It merges into c.dict:
// one call per corpus at a time.
std::shared_ptr<Snapshot> memory_snapshot(const MemoryCorpus& c, uint32_t dim);

}  // namespace ripvec::index
