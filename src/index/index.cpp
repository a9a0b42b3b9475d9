// The index service: ripvec::Index (ripvec/index.hpp) over the store (store.hpp), fed by the
// ingest pipeline (ingest.hpp) and searched through rank.hpp.
//
// Concurrency: the committed state (mapped snapshot + the manifest's identity) is an immutable
// State behind a shared_ptr, swapped under state_mu_; a search copies the pointer and works
// without locks. update() runs under update_mu_ (one per Index) and the index directory's
// flock (one per process group). The Embedder is shared: every embed call goes through
// index::embedder_mutex(); an update's run of groups yields it between two groups to a query
// that waits, so a query waits for at most one group.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "corpus/path_filter.hpp"
#include "corpus/walker.hpp"
#include "index/bm25.hpp"
#include "index/ingest.hpp"
#include "index/locate.hpp"
#include "index/rank.hpp"
#include "index/store.hpp"
#include "ripvec/error.hpp"
#include "ripvec/index.hpp"
#include "util/thread_pool.hpp"

namespace ripvec {
namespace fs = std::filesystem;
using namespace ripvec::index;

SearchMode parse_search_mode(std::string_view name) {
  if (name == "hybrid") return SearchMode::Hybrid;
  if (name == "semantic") return SearchMode::Semantic;
  if (name == "keyword") return SearchMode::Keyword;
  throw InvalidArgument("search mode: expected hybrid, semantic or keyword, got '" +
                        std::string(name) + "'");
}

const char* search_mode_name(SearchMode mode) {
  switch (mode) {
    case SearchMode::Hybrid:
      return "hybrid";
    case SearchMode::Semantic:
      return "semantic";
    case SearchMode::Keyword:
      return "keyword";
  }
  return "unknown";
}

const char* index_phase_name(IndexProgress::Phase phase) {
  switch (phase) {
    case IndexProgress::Phase::Scanning:
      return "scanning";
    case IndexProgress::Phase::Chunking:
      return "chunking";
    case IndexProgress::Phase::Embedding:
      return "embedding";
    case IndexProgress::Phase::Writing:
      return "writing";
    case IndexProgress::Phase::Done:
      return "done";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void validate(const SearchOptions& o) {
  if (o.mode != SearchMode::Hybrid && o.mode != SearchMode::Semantic &&
      o.mode != SearchMode::Keyword)  // a cast integer ran as hybrid (API probe 2026-12-08)
    throw InvalidArgument("unknown search mode " + std::to_string(static_cast<int>(o.mode)));
  if (o.top_k == 0) throw InvalidArgument("top_k must be at least 1");
  if (o.threshold && !std::isfinite(*o.threshold))
    throw InvalidArgument("threshold must be a finite number");
  if (o.filter.max_file_size && *o.filter.max_file_size == 0)
    throw InvalidArgument("max_file_size must be at least 1 byte");
}

// The query's unit vector. Its callers have passed check_query (which refuses a query the model
// reads nothing of) before anything costly: not checked (tokenized) once more here.
std::vector<float> embed_query(Embedder& e, std::string_view query) {
  const std::string q(query);
  std::vector<float> v = embed_serialized(e, std::span<const std::string>(&q, 1), InputKind::Query);
  if (v.size() != e.dim())
    throw IndexError("query vector has dim " + std::to_string(v.size()) + ", expected " +
                     std::to_string(e.dim()));
  if (!e.normalizes()) normalize_rows(v.data(), 1, v.size());  // one pass: the model's or ours
  return v;
}

// The chunks of `snap` whose files pass the filter and the size limit.
std::vector<uint8_t> allow_mask(const Snapshot& snap, const corpus::PathFilter& pf,
                                std::optional<uint64_t> max_size) {
  std::vector<uint8_t> allow(snap.num_chunks(), 0);
  for (size_t f = 0; f < snap.num_files(); ++f) {
    const auto fr = snap.file_ref(f);
    if (fr.n_chunks == 0) continue;
    if (max_size && fr.size > *max_size) continue;
    if (!pf.allows(fr.path)) continue;
    std::fill_n(allow.begin() + fr.first_chunk, fr.n_chunks, uint8_t{1});
  }
  return allow;
}

corpus::PathFilter path_filter_of(const SearchFilter& f, const std::vector<std::string>& paths) {
  corpus::PathFilterSpec spec;
  spec.types = f.types;
  spec.type_not = f.type_not;
  spec.globs = f.globs;
  spec.paths = paths;
  spec.hidden = f.hidden;
  return corpus::PathFilter(spec);
}

// A file whose size, mtime, inode change time and inode number are those its entry recorded is
// not read again (git's stat check). The mtime alone let an extracted archive (or `cp -p`,
// `rsync -a`) put new content under an old size and mtime, and the index served the old text.
// An entry from before ctime and inode were recorded has them 0: its file is read again once
// by a writer, which records them; where nothing can be recorded (a read-only cache, status)
// size and mtime decide, as they did (else every search of a read-only cache re-read every
// file, and its skipped files counted as changed forever).
bool stat_unchanged(const ManifestEntry& e, const WalkedFile& f, bool trust_unrecorded) {
  if (e.size != f.size || e.mtime_ns != f.mtime_ns) return false;
  if (e.ino == 0 && e.ctime_ns == 0) return trust_unrecorded;
  return e.ctime_ns == f.ctime_ns && e.ino == f.ino;
}

struct FileId {
  uint64_t ino = 0;
  int64_t mtime_ns = -1;
  bool operator==(const FileId&) const = default;
};
FileId file_id(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return {};
  return {static_cast<uint64_t>(st.st_ino),
          int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

// The committed state a search reads: immutable once published.
struct State {
  std::shared_ptr<Snapshot> snap;  // null: nothing committed (an empty index), or damaged
  FileId manifest;                 // which manifest it came from
  std::string error;  // why the committed snapshot cannot be served (damaged); empty if none
  // The manifest decoded, is this index's, and names a snapshot (which may still be damaged:
  // then snap is null and update() rebuilds it).
  bool committed = false;
};

class IndexImpl final : public Index {
 public:
  // model_key: model_key(*embedder, chunk_options_for(*embedder), cache), as Index::open made it
  // to find the location (it reads or fingerprints the model's files: made once).
  IndexImpl(Located loc, std::shared_ptr<Embedder> embedder, IndexOptions opts,
            std::string model_key)
      : root_(std::move(loc.root)),
        location_(std::move(loc.location)),
        scope_(std::move(loc.scope)),
        root_source_(loc.source),
        embedder_(std::move(embedder)),
        opts_(std::move(opts)) {
    chunk_ = chunk_options_for(*embedder_);
    model_key_ = std::move(model_key);
    dim_ = static_cast<uint32_t>(embedder_->dim());
    reindex_pending_ = opts_.reindex;
  }

  const fs::path& root() const override { return root_; }
  const fs::path& location() const override { return location_; }
  const std::string& scope() const override { return scope_; }
  RootSource root_source() const override { return root_source_; }
  Embedder& embedder() const override { return *embedder_; }

  UpdateStats update() override;
  std::vector<Hit> search(std::string_view query, const SearchOptions& opts) const override;
  std::vector<Hit> find_similar(const fs::path& file, int line,
                                const SearchOptions& opts) const override;
  IndexStatus status() const override;
  std::shared_ptr<const IndexSnapshot> snapshot() const override;
  // From the state searches load (current(): the manifest decoded once per version of it, the
  // snapshot opened once, and update() reuses it), not a decode of its own: a keyword search
  // of an indexed tree read a large manifest once more. The state current() keeps after a
  // `--clean` from another process is not committed here.
  bool has_snapshot() const override {
    const auto s = current();
    return s->committed && s->manifest == file_id(manifest_path());
  }

 private:
  fs::path manifest_path() const { return location_ / "manifest.json"; }
  fs::path gc_marker_path() const { return location_ / "gc-pending"; }
  fs::path skip_memory_path() const { return location_ / "skipped"; }
  fs::path object_path(const std::string& id) const {
    return location_ / "objects" / id.substr(0, 2) / (id + "-" + model_key_ + ".obj");
  }
  bool manifest_matches(const Manifest& m) const {
    return m.format == kFormatVersion && m.model_key == model_key_ && m.dim == dim_ &&
           m.model_id == embedder_->model_id();
  }
  std::shared_ptr<ObjectData> load_object(const std::string& id) const {
    const fs::path p = object_path(id);
    std::string bytes = read_file(p, kMaxObjectBytes);
    return std::make_shared<ObjectData>(decode_object(bytes, dim_, id, model_key_, p.string()));
  }
  // Whether `f` still has the content of object `id` (read and hashed).
  bool same_content(const WalkedFile& f, const std::string& id) const {
    std::string content;
    return read_text_file(f.abs_path, opts_.max_file_size, &content) == ContentStatus::Ok &&
           object_id(f.rel_path, content) == id;
  }
  WalkOptions index_walk_options() const {
    WalkOptions w;
    w.hidden = true;  // stored, flagged, left out of searches unless asked for
    w.no_ignore = false;
    w.follow_symlinks = opts_.follow_symlinks;
    w.one_file_system = opts_.one_file_system;
    w.max_dirs = opts_.max_walk_dirs;
    w.max_files = opts_.max_walk_files;
    w.max_file_size = opts_.max_file_size;
    // A search whose --max-filesize is larger embeds such a file for itself: "skipping" alone
    // read as if that search had left it out too.
    w.size_limit_name =
        "size limit of the index (not indexed; --max-filesize above it embeds "
        "the file for one search)";
    w.threads = opts_.threads;
    // Never entered: the cache's own files were walked and warned about ("skipping
    // cache/.../snapshot-1.bin: ... exceeds the size limit", counted as skipped) before
    // drop_own_files left them out (hostile probe 2026-12-07).
    for (std::string p : own_folders()) {
      p.pop_back();
      w.prune.push_back(std::move(p));
    }
    return w;
  }
  // The index's own folders inside the tree, relative to the root with a trailing '/': a
  // repo-local .ripvec/, or the whole cache when it was placed inside the tree (<cache>/<root
  // key>/<model>/ is the location); a cache that is the root itself gives this root's folder
  // and fingerprints/. Empty when the index lies outside the tree.
  std::vector<std::string> own_folders() const {
    const fs::path rel = location_.lexically_relative(root_);
    if (rel.empty() || *rel.begin() == "..") return {};
    if (rel.begin()->generic_string() == ".ripvec") return {".ripvec/"};
    const fs::path cache = location_.parent_path().parent_path().lexically_relative(root_);
    if (cache.empty() || cache == ".")
      return {location_.parent_path().lexically_relative(root_).generic_string() + "/",
              "fingerprints/"};
    return {cache.generic_string() + "/"};
  }
  // Drops files under the index's own folders (own_folders()). Only the location was dropped,
  // so the cache's fingerprints/ and other models' or roots' indexes were indexed as text
  // (hostile probe 2026-12-05).
  void drop_own_files(std::vector<WalkedFile>* files) const {
    const std::vector<std::string> prefixes = own_folders();
    if (prefixes.empty()) return;
    std::erase_if(*files, [&](const WalkedFile& f) {
      for (const auto& p : prefixes)
        if (f.rel_path.rfind(p, 0) == 0) return true;
      return false;
    });
  }

  // The committed state, (re)loaded when the manifest changed since (another process
  // committed). Never throws for a missing or broken index: that is an empty one.
  std::shared_ptr<const State> current() const;
  std::shared_ptr<const State> load_state() const;
  void publish(std::shared_ptr<const State> s) const {
    std::lock_guard lk(state_mu_);
    state_ = std::move(s);
  }
  // Removes objects `m` does not name (unless `objects` is false: the caller knows every
  // object there is one it named), older snapshots and temp files.
  void collect_garbage(const Manifest& m, UpdateStats* st, bool objects = true);
  // Throws IoError naming the first symlink among the folders the index writes and deletes
  // in: its directory, objects/ and objects' subfolders. A repository can ship its own
  // .ripvec/; with objects/ linked to a home folder, garbage collection emptied every
  // subfolder of it. The index never follows a link there and never removes one (not ours).
  void refuse_symlinks() const;
  // What is wrong when the index's folder or the folder above it (<root>/.ripvec, <cache>/<root
  // key>) is something other than a folder or a symlink (a file there made every search fail
  // with "cannot create index directory ...: Not a directory; give a writable --cache-dir" and
  // --status report an empty index; hostile probe 2026-12-07); empty otherwise.
  std::string blocked_location() const;
  UpdateStats use_read_only(const std::string& why, UpdateStats st);

  // Search over the committed snapshot plus what the filter adds; `exclude` = a chunk of the
  // snapshot never returned (find_similar's own chunk).
  std::vector<Hit> search_impl(std::string_view text, std::vector<float> qvec,
                               std::optional<uint32_t> exclude, const SearchOptions& opts,
                               const State& st) const;
  std::shared_ptr<Snapshot> extra_snapshot(const SearchFilter& f,
                                           const std::vector<std::string>& paths,
                                           const corpus::PathFilter& pf, const Snapshot* snap,
                                           const std::function<bool()>& cancelled,
                                           bool embed) const;

  fs::path root_, location_;
  std::string scope_;
  RootSource root_source_;
  std::shared_ptr<Embedder> embedder_;
  IndexOptions opts_;
  ChunkOptions chunk_;
  std::string model_key_;
  uint32_t dim_ = 0;
  bool reindex_pending_ = false;  // under update_mu_
  std::mutex update_mu_;
  mutable std::mutex state_mu_;
  mutable std::shared_ptr<const State> state_;
};

// The public view of a committed snapshot (Index::snapshot): keeps the mapping alive.
class SnapshotView final : public IndexSnapshot {
 public:
  SnapshotView(std::shared_ptr<Snapshot> s, uint32_t dim) : s_(std::move(s)), dim_(dim) {}
  size_t size() const override { return s_ ? s_->num_chunks() : 0; }
  size_t dim() const override { return dim_; }
  void vector(size_t i, float* out) const override { std::copy_n(s_->vector(i), dim_, out); }
  Hit chunk(size_t i) const override {
    Chunk c = s_->chunk(i);
    Hit h;
    h.path = std::move(c.path);
    h.start_line = c.start_line;
    h.end_line = c.end_line;
    h.symbol = std::move(c.symbol);
    h.kind = std::move(c.kind);
    h.language = std::move(c.language);
    h.content = std::move(c.content);
    return h;
  }

 private:
  std::shared_ptr<Snapshot> s_;
  uint32_t dim_;
};

std::shared_ptr<const IndexSnapshot> IndexImpl::snapshot() const {
  return std::make_shared<SnapshotView>(current()->snap, dim_);
}

std::shared_ptr<const State> IndexImpl::load_state() const {
  auto s = std::make_shared<State>();
  for (int attempt = 0; attempt < 3; ++attempt) {
    s->manifest = file_id(manifest_path());
    Manifest m;
    try {
      m = decode_manifest(read_file(manifest_path(), kMaxManifestBytes), manifest_path().string());
    } catch (const Error&) {
      return s;  // no index yet, or a broken one that update() reports and rebuilds
    }
    if (!manifest_matches(m) || !m.snapshot) return s;
    s->committed = true;
    try {
      auto snap = Snapshot::open_file(location_ / m.snapshot->name);
      if (snap->model_key() != model_key_ || snap->dim() != dim_) return s;
      s->snap = std::move(snap);
      return s;
    } catch (const IoError&) {
      continue;  // a writer replaced the snapshot between our two reads: read the manifest again
    } catch (const IndexError& e) {
      // Never served; update() rebuilds it. A search before that says so.
      s->error = std::string(e.what()) + "; run `ripvec index " + root_.string() +
                 "` to rebuild the index from its stored objects";
      return s;
    }
  }
  return s;
}

std::shared_ptr<const State> IndexImpl::current() const {
  {
    std::lock_guard lk(state_mu_);
    const FileId now = file_id(manifest_path());
    if (state_ && state_->manifest == now) return state_;
    // The manifest is gone (`ripvec index --clean` from another process): the snapshot this
    // process last saw committed stays readable (mapped) and is served until an update makes a
    // new one. Loading "no index" here answered "no results" for an index just built.
    if (state_ && state_->snap && now == FileId{}) return state_;
  }
  auto s = load_state();
  std::lock_guard lk(state_mu_);
  // Another thread may have published a newer state meanwhile (an update): keep the one that
  // matches the manifest on disk now.
  if (!state_ || !(state_->manifest == file_id(manifest_path()))) state_ = s;
  return state_;
}

// ---------------- search ----------------

std::shared_ptr<Snapshot> IndexImpl::extra_snapshot(
    const SearchFilter& f, const std::vector<std::string>& paths, const corpus::PathFilter& pf,
    const Snapshot* snap, const std::function<bool()>& cancelled, bool embed) const {
  const bool larger = f.max_file_size && *f.max_file_size > opts_.max_file_size;
  std::vector<fs::path> roots;
  std::vector<std::pair<std::string, fs::path>> files;  // explicitly named files
  for (const auto& p : paths) {
    const fs::path abs = p.empty() ? root_ : root_ / p;
    std::error_code ec;
    if (fs::is_regular_file(abs, ec))
      files.emplace_back(p, abs);
    else
      roots.push_back(abs);
  }
  if (!f.no_ignore && !larger && files.empty()) return nullptr;  // the common case: no work
  std::unordered_set<std::string_view> indexed;
  if (snap)
    for (size_t i = 0; i < snap->num_files(); ++i) indexed.insert(snap->file_ref(i).path);
  std::vector<fs::path> named_files;  // explicitly named files the index does not hold
  for (const auto& [rel, abs] : files)
    if (!indexed.count(rel)) named_files.push_back(abs);
  if (paths.empty()) roots.push_back(root_);
  if (!f.no_ignore && !larger) roots.clear();
  roots.insert(roots.end(), named_files.begin(), named_files.end());
  if (roots.empty()) return nullptr;

  WalkOptions w;
  w.hidden = f.hidden;
  w.no_ignore = f.no_ignore;
  w.follow_symlinks = opts_.follow_symlinks;
  w.one_file_system = opts_.one_file_system;
  w.max_dirs = opts_.max_walk_dirs;
  w.max_files = opts_.max_walk_files;
  w.max_file_size = f.max_file_size.value_or(opts_.max_file_size);
  w.threads = opts_.threads;
  std::vector<WalkedFile> walked = walk(roots, w, nullptr);
  std::vector<WalkedFile> extra;
  for (auto& wf : walked) {
    wf.rel_path = wf.abs_path.lexically_relative(root_).generic_string();
    if (wf.rel_path.empty() || wf.rel_path.rfind("..", 0) == 0) continue;
    if (indexed.count(wf.rel_path) || !pf.allows(wf.rel_path)) continue;
    extra.push_back(std::move(wf));
  }
  drop_own_files(&extra);
  if (extra.empty()) return nullptr;
  UpdateStats ignored;
  MemoryCorpus c =
      ingest_in_memory(extra, *embedder_, w.max_file_size, nullptr, &ignored, cancelled, embed);
  return memory_snapshot(c, dim_);
}

std::vector<Hit> IndexImpl::search_impl(std::string_view text, std::vector<float> qvec,
                                        std::optional<uint32_t> exclude, const SearchOptions& opts,
                                        const State& st) const {
  const SearchFilter& f = opts.filter;
  std::vector<std::string> paths = f.paths;
  if (paths.empty() && !scope_.empty()) paths.push_back(scope_);
  const corpus::PathFilter pf = path_filter_of(f, paths);

  std::vector<uint8_t> allow;
  if (st.snap) {
    allow = allow_mask(*st.snap, pf, f.max_file_size);
    if (exclude && *exclude < allow.size()) allow[*exclude] = 0;
  }
  auto check_cancel = [&] {
    if (opts.cancelled && opts.cancelled()) throw CancelledError("search cancelled");
  };
  check_cancel();
  RankRequest req;
  // A query vector given (find_similar) needs no check; a text the model reads nothing of is
  // refused, or in Hybrid ranked by its keyword side alone (check_query).
  req.mode = qvec.empty() ? check_query(*embedder_, text, opts.mode) : opts.mode;
  // Files the filter adds (over the index's size cap, ignored ones) are embedded only for a
  // ranking that reads vectors: a keyword search embedded every chunk of them first (14 s for a
  // 300 KB file it then ranked by words alone; API probe 2026-12-08).
  std::shared_ptr<Snapshot> extra =
      extra_snapshot(f, paths, pf, st.snap.get(), opts.cancelled, req.mode != SearchMode::Keyword);

  req.top_k = opts.top_k;
  req.threshold = opts.threshold;
  req.merge_adjacent = opts.merge_adjacent;
  req.query_text = text;
  if (req.mode != SearchMode::Keyword && qvec.empty()) {
    check_cancel();  // the embedding may wait for an update's batch
    qvec = embed_query(*embedder_, text);
  }
  check_cancel();
  req.query_vec = qvec;
  std::vector<RankSource> sources;
  if (st.snap) sources.push_back({st.snap.get(), &allow});
  if (extra) sources.push_back({extra.get(), nullptr});
  return rank(sources, req);
}

std::vector<Hit> IndexImpl::search(std::string_view query, const SearchOptions& opts) const {
  validate(opts);
  const auto st = current();
  if (!st->snap && !st->error.empty()) throw IndexError(st->error);
  return search_impl(query, {}, std::nullopt, opts, *st);
}

std::vector<Hit> IndexImpl::find_similar(const fs::path& file, int line,
                                         const SearchOptions& opts) const {
  validate(opts);
  const auto st = current();
  std::string rel;
  if (file.is_absolute()) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(file, ec);
    rel = (ec ? file : c).lexically_relative(root_).generic_string();
  } else {
    rel = file.lexically_normal().generic_string();
  }
  if (!st->snap && !st->error.empty()) throw IndexError(st->error);
  if (!st->snap) throw InvalidArgument(rel + " is not indexed (the index is empty)");
  const Snapshot& snap = *st->snap;
  std::optional<uint32_t> best;
  for (size_t fi = 0; fi < snap.num_files(); ++fi) {
    const auto fr = snap.file_ref(fi);
    if (fr.path != rel) continue;
    int best_len = 0;
    for (uint32_t c = fr.first_chunk; c < fr.first_chunk + fr.n_chunks; ++c) {
      const auto cr = snap.chunk_ref(c);
      if (cr.start_line <= line && line <= cr.end_line) {
        const int len = cr.end_line - cr.start_line;
        if (!best || len < best_len) {
          best = c;
          best_len = len;
        }
      }
    }
    if (!best) throw InvalidArgument(rel + " has no indexed chunk at line " + std::to_string(line));
    break;
  }
  if (!best) throw InvalidArgument(rel + " is not indexed");
  const float* v = snap.vector(*best);
  std::vector<float> qvec(v, v + snap.dim());
  const std::string text(snap.chunk_ref(*best).content);
  return search_impl(text, std::move(qvec), best, opts, *st);
}

// ---------------- status ----------------

IndexStatus IndexImpl::status() const {
  IndexStatus s;
  std::error_code ec;
  if (fs::exists(location_, ec)) s = status_of_location(location_);
  s.root = root_;
  s.location = location_;
  s.model_id = embedder_->model_id();
  s.dim = dim_;
  s.vectors = embedder_->vector_config();
  Manifest m;
  bool have = false;
  try {
    m = decode_manifest(read_file(manifest_path(), kMaxManifestBytes), manifest_path().string());
    have = manifest_matches(m);
  } catch (const Error&) {
  }
  // What searches see: the snapshot loaded now (0 chunks when it is missing or damaged).
  const auto cur = current();
  s.exists = cur->snap != nullptr;
  s.chunks = cur->snap ? cur->snap->num_chunks() : 0;
  if (s.problem.empty()) s.problem = blocked_location();
  if (s.problem.empty() && have && m.snapshot && !cur->snap)
    s.problem = "the snapshot " + m.snapshot->name + " could not be opened (damaged or missing)";
  if (!have) s.files = 0;
  WalkStats ws;
  std::vector<WalkedFile> walked = walk({root_}, index_walk_options(), &ws);
  drop_own_files(&walked);
  std::unordered_set<std::string> seen;
  std::vector<std::pair<std::string, char>> stale;
  // Entries read within 2 s of their last write are stored with mtime -1 ("racily clean",
  // re-hashed by the next update); without reading them, one counts as modified only when it
  // was written after that update committed.
  const int64_t committed_ns = file_mtime_ns(manifest_path());
  for (const auto& f : walked) {
    seen.insert(f.rel_path);
    auto it = have ? m.files.find(f.rel_path) : m.files.end();
    if (it == m.files.end()) {
      stale.emplace_back(f.rel_path, 'A');
      continue;
    }
    const ManifestEntry& e = it->second;
    // (An entry without ctime and inode, from an older manifest, is read again by the next
    // update but not called stale here: it most likely did not change.)
    const bool changed = e.mtime_ns == -1 ? e.size != f.size || f.mtime_ns > committed_ns
                                          : !stat_unchanged(e, f, /*trust_unrecorded=*/true);
    if (changed) stale.emplace_back(f.rel_path, 'M');
  }
  if (have)
    for (const auto& [path, e] : m.files)
      if (!seen.count(path) && e.status == "ok") stale.emplace_back(path, 'D');
  std::sort(stale.begin(), stale.end());
  for (auto& [p, c] : stale) s.stale.push_back(std::string(1, c) + " " + p);
  return s;
}

// ---------------- update ----------------

std::string IndexImpl::blocked_location() const {
  // Outer first: with a file as <cache>/<root key>, the model's folder below it cannot exist.
  for (const fs::path& p : {location_.parent_path(), location_}) {
    std::error_code ec;
    const auto st = fs::symlink_status(p, ec);
    if (!fs::exists(st) || fs::is_directory(st) || fs::is_symlink(st)) continue;
    return p.string() + " is not a folder (the index of " + root_.string() +
           " goes there): remove it";
  }
  return {};
}

void IndexImpl::refuse_symlinks() const {
  auto refuse = [](const fs::path& p) {
    std::error_code ec;
    if (fs::is_symlink(fs::symlink_status(p, ec)))
      throw IoError(p.string() +
                    " is a symbolic link: an index never writes or deletes through one; remove it");
  };
  refuse(location_.parent_path());  // <root>/.ripvec (refused at open too) or <cache>/<root key>
  refuse(location_);
  refuse(location_ / "objects");
  std::error_code ec;
  for (auto it = fs::directory_iterator(location_ / "objects", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code ec2;
    if (it->is_symlink(ec2)) refuse(it->path());
  }
}

void IndexImpl::collect_garbage(const Manifest& m, UpdateStats* st, bool objects) {
  std::unordered_set<std::string> keep;
  if (objects)
    for (const auto& [path, e] : m.files)
      if (e.status == "ok") keep.insert(object_path(e.id).filename().string());
  std::error_code ec;
  for (auto dir = objects ? fs::directory_iterator(location_ / "objects", ec)
                          : fs::directory_iterator();
       !ec && dir != fs::directory_iterator(); dir.increment(ec)) {
    if (dir->is_symlink() || !dir->is_directory()) continue;  // refuse_symlinks() said so
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

UpdateStats IndexImpl::use_read_only(const std::string& why, UpdateStats st) {
  auto s = current();
  if (!s->snap) throw IoError(why + "; search with --no-index, or give a writable --cache-dir");
  st.warnings.push_back(why + "; searching the index as it is (it cannot be updated)");
  st.chunks_total = s->snap->num_chunks();
  return st;
}

UpdateStats IndexImpl::update() {
  std::lock_guard update_lock(update_mu_);
  const auto t_total = Clock::now();
  ProgressReporter rep(opts_.progress);
  // Every cancellation point also ends the update with the progress callback's exception when
  // it threw on the ticker thread.
  const std::function<bool()> cancelled = cancel_poll(&rep, opts_.cancelled);
  rep.start_phase(IndexProgress::Phase::Scanning);
  // Racily clean entries (RacyWindow) are recorded with mtime -1, so the next update re-hashes
  // them (a far-future mtime, called stale by every status, is not racy).
  RacyWindow racy;
  UpdateStats st;
  std::error_code ec;
  refuse_symlinks();
  if (const std::string why = blocked_location(); !why.empty()) throw IoError(why);
  const fs::path objects_dir = location_ / "objects";
  create_private_directories(objects_dir, ec);
  if (std::error_code dec; ec == std::errc::not_a_directory && fs::is_directory(location_, dec)) {
    // `objects` that is a regular file is damage to our own folder: removed, and the update
    // re-creates the objects it needs, as when they are deleted. It was taken for a read-only
    // cache: `ripvec index` reported success, updated nothing and searches served the stale
    // index (hostile probe 2026-12-07). Anything else there is not ours to remove.
    std::error_code e2;
    if (fs::symlink_status(objects_dir, e2).type() != fs::file_type::regular ||
        !fs::remove(objects_dir, e2))
      throw IoError(objects_dir.string() +
                    " is not a folder (the index's objects): remove it, or remove the index "
                    "with `ripvec index --clean`");
    create_private_directories(objects_dir, ec);
  }
  if (ec)
    return use_read_only(
        "cannot create index directory " + objects_dir.string() + ": " + ec.message(),
        std::move(st));
  // A cache we cannot write (read-only file system, another user's files) is used as it is,
  // under a shared lock or none (FileLock). A lock file that is a FIFO, a symlink... is an
  // error naming it: not ours to delete.
  std::optional<FileLock> lock;
  lock.emplace(location_ / "lock", /*allow_read_only=*/true, /*wait=*/false);
  if (lock->contended()) {
    if (opts_.when_busy && !opts_.when_busy(location_, has_snapshot()))
      throw IndexBusyError("another process is updating the index at " + location_.string());
    // Polled rather than a blocking flock, so that the wait ends when the caller cancels (an
    // editor's or agent's request for a root another process is indexing could not be stopped).
    while (lock->contended()) {
      if (cancelled && cancelled())
        throw CancelledError("index update cancelled while waiting for another process");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      lock.emplace(location_ / "lock", /*allow_read_only=*/true, /*wait=*/false);
    }
  }
  const bool read_only =
      !lock->exclusive() || ::faccessat(AT_FDCWD, location_.c_str(), W_OK, AT_EACCESS) != 0;
  // A clean that ran while we waited for the lock removed the folders (the lock is a new one).
  if (!read_only) create_private_directories(location_ / "objects", ec);
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
                              "); building a fresh index for " + embedder_->model_id());
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
  std::vector<WalkedFile> walked = walk({root_}, index_walk_options(), &ws);
  st.walk_s = seconds_since(t_walk);
  racy.walk_ended();
  // A root that is gone (renamed, deleted, unmounted: the walk could not open it) would make
  // every file look deleted: an empty index was committed, and the file watcher of a server
  // then served nothing until a full rebuild (hostile probe 2026-12-05). Fail instead.
  {
    std::error_code rec;
    if (!fs::is_directory(root_, rec))
      throw IoError(root_.string() + ": " +
                    (rec ? rec.message() : std::string("not a directory any more")) +
                    "; the index was not changed");
    // ... and so would a root the walk could not read (`chmod 000`).
    if (::access(root_.c_str(), R_OK | X_OK) != 0)
      throw IoError(root_.string() + ": " + std::strerror(errno) + "; the index was not changed");
  }
  // So would a walk that missed entries or ignore rules because the process ran out of file
  // descriptors or memory: its files are not unreadable, the process is.
  if (!ws.resource_error.empty()) throw IoError(ws.resource_error + "; the index was not changed");
  // A cut walk would make every file it did not reach look deleted: leave the index as it is.
  if (ws.truncated)
    throw IoError(
        "the walk of " + root_.string() + " stopped at its limits (" +
        (ws.warnings.empty() ? std::string("too many folders or files") : ws.warnings.back()) +
        "); the index was not changed");
  st.skipped_too_large += ws.skipped_too_large;
  st.skipped_unreadable += ws.skipped_unreadable;
  for (auto& w : ws.warnings) st.warnings.push_back(w);
  // An entry the last update's walk skipped too (for the same reason) is a repeat; one skipped
  // for the first time is news, which a one-shot search names (a new file over the size limit
  // was named only when the index next gained or lost a file).
  std::vector<uint64_t> skips;
  for (const auto& w : ws.entry_warnings) skips.push_back(skip_key(w.about));
  const std::vector<uint64_t> known_skips = read_skip_memory(skip_memory_path());
  for (size_t i = 0; i < skips.size(); ++i)
    if (std::binary_search(known_skips.begin(), known_skips.end(), skips[i]))
      st.entry_warnings.push_back(ws.entry_warnings[i].text);
  std::sort(skips.begin(), skips.end());
  skips.erase(std::unique(skips.begin(), skips.end()), skips.end());
  // Each update that leaves the index current (not a read-only one) remembers what it skipped.
  const auto remember_skips = [&] {
    rep.rethrow_if_failed();  // the update ends with it: its skips stay news for the next one
    if (skips == known_skips) return;
    try {
      write_skip_memory(skip_memory_path(), skips);
    } catch (const Error& e) {
      st.warnings.push_back(std::string("cannot record the skipped files: ") + e.what());
    }
  };
  drop_own_files(&walked);
  if (cancelled && cancelled()) throw CancelledError("index update cancelled");
  st.files_seen = walked.size();
  rep.files_total = walked.size();
  rep.files_done = walked.size();

  // ---- classify ----
  Manifest next;
  next.model_id = embedder_->model_id();
  next.dim = dim_;
  next.model_key = model_key_;
  next.vectors = embedder_->vector_config();
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
    const bool same = e && e->size == f.size &&
                      (stat_unchanged(*e, f, /*trust_unrecorded=*/read_only) ||
                       (read_only && e->status == "ok" && same_content(f, e->id)));
    if (same) {
      if (e->status != "ok") {
        next.files[f.rel_path] = *e;  // skipped before, unchanged since: do not re-read
        count_skip(e->status, f.abs_path, &st);
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
  std::shared_ptr<Snapshot> current_snap;
  if (have_old && old.snapshot) {
    const fs::path sp = location_ / old.snapshot->name;
    try {
      // Opening verifies every section's checksum; the snapshot searches already opened (and
      // so verified) is reused when it is still the committed file.
      std::shared_ptr<Snapshot> loaded;
      {
        std::lock_guard lk(state_mu_);
        if (state_) loaded = state_->snap;
      }
      auto s = loaded && loaded->is_current(sp) ? loaded : Snapshot::open_file(sp);
      const bool ok = s->model_key() == model_key_ && s->dim() == dim_ &&
                      s->num_chunks() == old.snapshot->n_chunks &&
                      s->file_size() == old.snapshot->size &&
                      s->payload_crc() == old.snapshot->crc32c;
      if (ok)
        current_snap = std::move(s);
      else {
        st.warnings.push_back("index snapshot " + sp.string() + " is corrupt; rebuilding it");
        st.corrupt_rebuilt++;
      }
    } catch (const Error& e) {
      st.warnings.push_back(std::string("index snapshot unusable, rebuilding it: ") + e.what());
      st.corrupt_rebuilt++;
    }
  }
  auto publish_snap = [&](std::shared_ptr<Snapshot> snap) {
    auto s = std::make_shared<State>();
    s->committed = snap != nullptr;
    s->snap = std::move(snap);
    s->manifest = file_id(manifest_path());
    publish(std::move(s));
  };
  if (read_only) {
    if (!current_snap)
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
    st.files_left_stale = stale;
    st.chunks_total = current_snap->num_chunks();
    publish_snap(std::move(current_snap));
    st.total_s = seconds_since(t_total);
    rep.phase(IndexProgress::Phase::Done);
    return st;
  }
  if (current_snap && tasks.empty() && removed.empty()) {
    // A writer killed after its commit (or before it, having written objects) leaves the
    // marker: finish its garbage collection now.
    if (fs::exists(gc_marker_path(), ec)) {
      collect_garbage(old, &st);
      fs::remove(gc_marker_path(), ec);
    }
    st.files_unchanged = unchanged.size();
    st.chunks_total = current_snap->num_chunks();
    publish_snap(std::move(current_snap));
    reindex_pending_ = false;
    remember_skips();
    st.total_s = seconds_since(t_total);
    rep.phase(IndexProgress::Phase::Done);
    return st;
  }
  st.files_unchanged = unchanged.size();

  // From here on objects may be written that only a completed commit + GC accounts for.
  // With no object stored now (a first index: the folder made above is empty), every object
  // there at the commit is one this update wrote and named: the commit's garbage collection
  // need not list them. (It tested whether the folder existed, which it always does by now, so
  // every first index listed the objects it had just written: 17-28 ms of a Django index.)
  std::error_code empty_ec;  // unreadable: is_empty gives false, so it is listed, as before
  const bool had_objects = !fs::is_empty(location_ / "objects", empty_ec);
  atomic_write_file(gc_marker_path(), "", /*sync=*/false);

  // ---- chunk + embed what changed ----
  double write_s = 0;
  size_t objects_written = 0;
  std::unordered_set<std::string> made_dirs;
  PipelineConfig cfg;
  cfg.embedder = embedder_.get();
  cfg.chunk = chunk_;
  cfg.max_file_size = opts_.max_file_size;
  cfg.threads = opts_.threads;
  cfg.progress = &rep;
  cfg.cancelled = cancelled;
  Bm25Dictionary dict;  // the new snapshot's terms, merged file by file while embedding runs
  cfg.bm25_dict = &dict;
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
  // The object of a modified file's previous version: its chunks that did not change keep
  // their vectors (an edit re-embeds what it changed). Named by the committed manifest, so it
  // is there unless damaged (then everything is embedded, as before). A file whose content is
  // what the manifest names gets none: its object was just refused (its text is not the
  // file's: a damaged or planted object), so none of its vectors is trusted either.
  cfg.previous = [&](const FileTask& t,
                     const std::string& id) -> std::shared_ptr<const ObjectData> {
    if (!have_old) return nullptr;
    const auto it = old.files.find(t.file.rel_path);
    if (it == old.files.end() || it->second.status != "ok" || it->second.id.empty() ||
        it->second.id == id)
      return nullptr;
    try {
      return load_object(it->second.id);
    } catch (const Error&) {
      return nullptr;
    }
  };
  std::vector<size_t> touched;  // slots read again whose content is what the manifest says
  cfg.done = [&](const FileTask& t, FileOutcome&& out) {
    const WalkedFile& f = *slots[t.slot].file;
    const ManifestEntry* e = nullptr;
    if (have_old) {
      auto it = old.files.find(f.rel_path);
      if (it != old.files.end()) e = &it->second;
    }
    ManifestEntry me;
    me.size = f.size;
    me.mtime_ns = racy.racy(f) ? -1 : f.mtime_ns;
    me.ctime_ns = f.ctime_ns;
    me.ino = f.ino;
    me.status = status_key(out.status);
    if (out.status != ContentStatus::Ok) {
      // A file new to the index, or skipped for another reason than before, is news: named by
      // the next search even when nothing else changed (a new binary file was silent).
      count_skip(me.status, f.abs_path, &st, /*repeat=*/e != nullptr && e->status == me.status);
      if (e && e->status == "ok") removed.push_back(f.rel_path);
      next.files[f.rel_path] = me;
      return;
    }
    me.id = out.id;
    me.chunks = static_cast<uint32_t>(out.obj->chunks.size());
    if (out.kind == FileOutcome::Embedded) {
      const auto tw = Clock::now();
      const std::string sub = out.id.substr(0, 2);
      if (made_dirs.insert(sub).second) {
        std::error_code dir_ec;
        create_private_directories(location_ / "objects" / sub, dir_ec);
        if (dir_ec)
          throw IoError("cannot create " + (location_ / "objects" / sub).string() + ": " +
                        dir_ec.message());
      }
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
      touched.push_back(t.slot);
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
    st.chunk_wait_s += times.chunk_wait_s;
    st.embed_gap_s += times.embed_gap_s;
    st.chunks_embedded += times.chunks_embedded;
    st.chunks_reused += times.chunks_reused;
  };
  rep.start_phase(IndexProgress::Phase::Chunking, tasks.size());
  run(tasks);
  for (size_t i : unchanged)
    next.files[slots[i].file->rel_path] = old.files.at(slots[i].file->rel_path);

  // Files read again whose content is what the manifest names ("touched", or re-created
  // objects): the snapshot is kept only if it holds exactly their objects' chunks and vectors.
  // A repository can ship its own .ripvec/ whose snapshot shows text that is in neither the
  // objects nor the files (an instruction planted in a docstring); it was served until
  // --reindex. The objects themselves were checked against the files (ingest.cpp).
  auto snapshot_holds = [&](const Snapshot& snap) {
    if (touched.empty()) return true;
    std::unordered_map<std::string_view, size_t> file_of;
    for (size_t f = 0; f < snap.num_files(); ++f) file_of.emplace(snap.file_ref(f).path, f);
    for (size_t slot : touched) {
      const ObjectData& obj = *slots[slot].obj;
      const auto it = file_of.find(slots[slot].file->rel_path);
      if (it == file_of.end()) return false;
      const Snapshot::FileRef fr = snap.file_ref(it->second);
      if (fr.n_chunks != obj.chunks.size() || obj.vectors.size() != obj.chunks.size() * dim_)
        return false;
      for (size_t k = 0; k < obj.chunks.size(); ++k) {
        const Snapshot::ChunkRef c = snap.chunk_ref(fr.first_chunk + k);
        const StoredChunk& o = obj.chunks[k];
        if (c.content != o.content || c.symbol != o.symbol || c.start_line != o.start_line ||
            c.end_line != o.end_line ||
            std::memcmp(snap.vector(fr.first_chunk + k), obj.vectors.data() + k * dim_,
                        dim_ * sizeof(float)) != 0)
          return false;
      }
    }
    return true;
  };
  const bool content_changed = !current_snap || !st.added.empty() || !st.modified.empty() ||
                               !removed.empty() || !snapshot_holds(*current_snap);
  if (!content_changed) {
    // Only stat data moved (touched files, racy entries re-checked, re-created objects): the
    // snapshot stays, the manifest records the new sizes and times.
    rep.phase(IndexProgress::Phase::Writing);
    const auto tw = Clock::now();
    if (objects_written > 0) sync_filesystem(location_);
    next.generation = old.generation;
    next.snapshot = old.snapshot;
    atomic_write_file(manifest_path(), encode_manifest(next), /*sync=*/true);
    st.write_s = write_s + seconds_since(tw);
    collect_garbage(next, &st);
    fs::remove(gc_marker_path(), ec);
    st.chunks_total = current_snap->num_chunks();
    publish_snap(std::move(current_snap));
    reindex_pending_ = false;
    remember_skips();
    st.total_s = seconds_since(t_total);
    rep.phase(IndexProgress::Phase::Done);
    return st;
  }
  current_snap.reset();

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
    if (!redo.empty()) {
      rep.files_total += redo.size();
      run(redo);
    }
  }
  st.removed = removed;
  st.files_removed = removed.size();
  // The last point to stop: past it the snapshot and manifest are written.
  if (cancelled && cancelled()) throw CancelledError("index update cancelled");

  // ---- snapshot + manifest (the commit point) ----
  rep.phase(IndexProgress::Phase::Writing);
  const auto tw = Clock::now();
  // The new objects must be durable before the manifest names them; flushing them runs beside
  // building and writing the snapshot (which syncs its own file), joined before the commit.
  std::thread object_sync;
  if (objects_written > 0) object_sync = std::thread([this] { sync_filesystem(location_); });
  struct JoinSync {
    std::thread& t;
    ~JoinSync() {
      if (t.joinable()) t.join();
    }
  } join_sync{object_sync};
  std::vector<SnapshotFileInput> inputs;
  for (auto& s : slots)
    if (s.obj)
      inputs.push_back({s.file->rel_path, s.obj.get(), s.file->size, file_flags(s.file->rel_path)});
  const std::string snap_name = "snapshot-" + std::to_string(next.generation) + ".bin";
  const fs::path snap_path = location_ / snap_name;
  SnapshotWriteResult wr;
  {
    AtomicFile out(snap_path);
    wr = write_snapshot(out, inputs, dim_, model_key_, &dict);
    out.commit(true);
  }
  SnapshotRecord rec;
  rec.name = snap_name;
  rec.size = wr.size;
  rec.mtime_ns = file_mtime_ns(snap_path);
  rec.crc32c = wr.payload_crc;
  rec.n_chunks = wr.n_chunks;
  next.snapshot = rec;
  if (object_sync.joinable()) object_sync.join();
  // A folder named manifest.json (damage: no writer of ours makes one) failed every commit's
  // rename, forever, while status promised a rebuild (hostile probe 2026-12-07). It is in our
  // own folder, whose links refuse_symlinks() refused: removed, without following links.
  if (std::error_code mec;
      fs::symlink_status(manifest_path(), mec).type() == fs::file_type::directory)
    fs::remove_all(manifest_path(), mec);
  try {
    atomic_write_file(manifest_path(), encode_manifest(next), /*sync=*/true);
  } catch (...) {
    // Not committed: the new snapshot goes too. Left beside the committed one (a full disk at
    // the manifest), it held the space the next update needed for its own copy: every search
    // failed on "No space left" after the disk had room again (hostile probe 2026-12-07).
    std::error_code rm;
    fs::remove(snap_path, rm);
    throw;
  }
  write_s += seconds_since(tw);
  st.write_s = write_s;
  st.chunks_total = wr.n_chunks;

  // Searches see the new snapshot from here on (the old mapping stays valid for those that
  // hold it, even after GC unlinks its file).
  publish_snap(Snapshot::open_file(snap_path));
  collect_garbage(next, &st, /*objects=*/had_objects);
  fs::remove(gc_marker_path(), ec);
  reindex_pending_ = false;
  remember_skips();
  st.total_s = seconds_since(t_total);
  rep.phase(IndexProgress::Phase::Done);
  return st;
}

}  // namespace

std::unique_ptr<Index> Index::open(const fs::path& path, std::shared_ptr<Embedder> embedder,
                                   IndexOptions opts) {
  if (!embedder) throw InvalidArgument("Index::open: no embedder");
  if (opts.max_file_size == 0) throw InvalidArgument("IndexOptions::max_file_size must be > 0");
  const std::string mkey =
      model_key(*embedder, chunk_options_for(*embedder), resolve_cache_dir(opts.cache_dir));
  Located loc = locate_index(path, opts.cache_dir, model_dir_name(embedder->model_id(), mkey),
                             opts.repo_local);
  return std::make_unique<IndexImpl>(std::move(loc), std::move(embedder), std::move(opts), mkey);
}

SearchMode check_query(const Embedder& e, std::string_view query, SearchMode mode) {
  if (mode == SearchMode::Keyword) return mode;
  constexpr const char* kNothingRead =
      "the query has nothing the model reads (only white space, control or zero-width "
      "characters): nothing to look for";
  std::string why;
  bool unk_only = false;
  // Text the tokenizer drops whole (Unicode spaces, zero-width and control characters, a lone
  // combining mark) embeds to the bare [CLS] [SEP]: every chunk ranked against nothing, served
  // as results (hostile probe 2026-12-07; the CLI refused only ASCII white space).
  const Tokenizer& tok = e.tokenizer();
  const std::optional<int32_t> unk = tok.unk_id();
  if (!unk) {
    if (tok.count_tokens(query, /*add_special=*/false) == 0) why = kNothingRead;
  } else {
    // ... and so does text that is only [UNK]s (emoji, a script the vocabulary lacks): every
    // chunk was ranked against the unknown token (hostile probe 2026-12-07). Its ids, as many as
    // the model reads after the specials and the query prompt (a short query encoded once more
    // here, its vector not built).
    const std::string& prompt = e.prompt(InputKind::Query);
    const size_t room_used = tok.num_special_tokens() +
                             (prompt.empty() ? 0 : tok.count_tokens(prompt, /*add_special=*/false));
    const size_t room = e.max_seq_length() > room_used ? e.max_seq_length() - room_used : 1;
    const Encoding enc = tok.encode(query, /*add_special=*/false, room);
    if (enc.ids.empty())
      why = kNothingRead;
    else if ((unk_only = std::all_of(enc.ids.begin(), enc.ids.end(),
                                     [&](int32_t id) { return id == *unk; })))
      why =
          "the model knows no word of the query (every piece of it is an unknown token: emoji, "
          "a script its vocabulary lacks, or a word longer than its tokenizer reads): nothing "
          "to look for";
  }
  if (why.empty()) return mode;
  // Hybrid keeps its keyword side for a query of unknown tokens that has keyword terms (an emoji
  // in a docstring is one; review 2026-12-07): ranked by it alone. Text the tokenizer drops whole
  // (spaces, zero-width and control characters) is refused in Hybrid too.
  if (mode == SearchMode::Hybrid && unk_only && !index::tokenize_code(query).empty())
    return SearchMode::Keyword;
  throw InvalidArgument(why);
}

std::vector<Hit> search_without_index(const fs::path& path, Embedder& embedder,
                                      std::string_view query, const SearchOptions& opts,
                                      const IndexOptions& iopts, UpdateStats* stats) {
  validate(opts);
  // Before the tree is read and embedded for it.
  const SearchMode mode = check_query(embedder, query, opts.mode);
  const auto t_total = Clock::now();
  UpdateStats st;
  std::error_code ec;
  const fs::path c = fs::canonical(path, ec);
  if (ec) throw IoError(path.string() + ": " + ec.message());
  refuse_pseudo_fs(path, c);
  const bool is_file = !fs::is_directory(c, ec);
  const SearchFilter& f = opts.filter;
  WalkOptions w;
  w.types = f.types;
  w.type_not = f.type_not;
  w.globs = f.globs;
  w.hidden = f.hidden;
  w.no_ignore = f.no_ignore;
  w.follow_symlinks = iopts.follow_symlinks;
  w.one_file_system = iopts.one_file_system;
  w.max_dirs = iopts.max_walk_dirs;
  w.max_files = iopts.max_walk_files;
  w.max_file_size = f.max_file_size.value_or(iopts.max_file_size);
  w.threads = iopts.threads;
  ProgressReporter rep(iopts.progress);
  rep.start_phase(IndexProgress::Phase::Scanning);
  const auto t_walk = Clock::now();
  WalkStats ws;
  std::vector<WalkedFile> walked = walk({c}, w, &ws);
  st.walk_s = seconds_since(t_walk);
  if (!ws.resource_error.empty())  // results from part of the tree would be served as all of it
    throw IoError(ws.resource_error);
  st.files_seen = walked.size();
  st.skipped_too_large = ws.skipped_too_large;
  st.skipped_unreadable = ws.skipped_unreadable;
  st.warnings = ws.warnings;
  for (const auto& w : ws.entry_warnings) st.entry_warnings.push_back(w.text);
  if (!is_file && !f.paths.empty()) {
    corpus::PathFilterSpec spec;
    spec.paths = f.paths;
    spec.hidden = true;  // the walk already applied the hidden rule
    const corpus::PathFilter scope(spec);
    std::erase_if(walked, [&](const WalkedFile& wf) { return !scope.in_scope(wf.rel_path); });
  }
  const bool embed = mode != SearchMode::Keyword;
  MemoryCorpus corpus = ingest_in_memory(walked, embedder, w.max_file_size, &rep, &st, {}, embed);
  // No Writing phase: nothing is stored (the progress line would say "writing the index").
  auto snap = memory_snapshot(corpus, static_cast<uint32_t>(embedder.dim()));
  st.chunks_total = snap->num_chunks();
  rep.phase(IndexProgress::Phase::Done);

  RankRequest req;
  req.mode = mode;
  req.top_k = opts.top_k;
  req.threshold = opts.threshold;
  req.merge_adjacent = opts.merge_adjacent;
  req.query_text = query;
  std::vector<float> qvec;
  if (mode != SearchMode::Keyword) qvec = embed_query(embedder, query);
  req.query_vec = qvec;
  const RankSource src{snap.get(), nullptr};
  auto hits = rank(std::span<const RankSource>(&src, 1), req);
  st.total_s = seconds_since(t_total);
  if (stats) *stats = std::move(st);
  return hits;
}

}  // namespace ripvec
