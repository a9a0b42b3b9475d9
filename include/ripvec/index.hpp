// The search library: one persistent, incremental index per project root, and the searches over
// it. The CLI, the MCP server, the LSP server and any C++ program use it the same way:
//
//   auto embedder = std::shared_ptr<ripvec::Embedder>(ripvec::Embedder::load({}));
//   auto index = ripvec::Index::open("src/app/handlers.py", embedder);   // finds the root
//   index->update();                                                       // incremental
//   for (const ripvec::Hit& h : index->search("retry with backoff", {})) ...
//
// What the index holds is decided once per root: every file below it that the ignore rules
// (.gitignore, .ignore, .git/info/exclude, the global excludes) and the built-in defaults (no
// lock files, no .git/.ripvec, size cap IndexOptions::max_file_size, text only) admit, hidden
// files included (they are flagged and left out of searches unless SearchFilter::hidden).
// Filters (types, globs, sub-paths, hidden, file size) select among the indexed chunks at
// query time; they never change what is stored. Files the index does not hold (ignored files
// under SearchFilter::no_ignore, files larger than the index's cap but within
// SearchFilter::max_file_size) are chunked and embedded in memory for that one search and
// ranked together with the indexed ones; nothing of them is written.
//
// Thread safety: every member of Index may be called from several threads at once. Searches
// read the last committed snapshot (an immutable, memory-mapped file) and never wait for an
// update except to share the Embedder: an Embedder runs one call at a time, so a query
// embedding waits for the batch in flight (a fraction of a second). One update() runs at a
// time per index and per process group (flock on the index directory); a second caller
// blocks until the first commits, then finds nothing to do.
//
// Errors: IoError (cannot read the tree or write the index), IndexError (the index is corrupt
// in a way a rebuild cannot fix, e.g. a format from a newer ripvec), InvalidArgument (bad
// filter values: unknown type, malformed glob, top_k 0, non-finite threshold), and whatever
// the Embedder throws. Corrupt index files are rebuilt with a warning, never served.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ripvec/embedder.hpp"
#include "ripvec/error.hpp"

namespace ripvec {

// ---------------------------------------------------------------- search values

enum class SearchMode { Hybrid, Semantic, Keyword };

// Parses "hybrid" | "semantic" | "keyword"; throws InvalidArgument otherwise.
SearchMode parse_search_mode(std::string_view name);
const char* search_mode_name(SearchMode mode);

// Which indexed chunks a search may return. Empty vectors mean "no restriction".
struct SearchFilter {
  // File types by name, as `ripvec --type-list` prints them ("py", "rust", "cpp"...).
  std::vector<std::string> types, type_not;
  // ripgrep glob semantics, matched against the path relative to the root: "*.rs",
  // "src/**", "!tests/**" (a "!" glob excludes; when any positive glob is given, one must match).
  std::vector<std::string> globs;
  // Sub-paths relative to the root ('/' separators): a file, or a directory whose files are
  // all included; "" is the whole root. Empty: Index::scope() (the PATH given to open()).
  // Hidden components of a named sub-path do not count as hidden (it was named explicitly).
  std::vector<std::string> paths;
  bool hidden = false;     // also hidden files and files under hidden directories
  bool no_ignore = false;  // also files the ignore rules exclude (embedded in memory, not stored)
  // Only files of at most this many bytes. Above the index's cap: those files are embedded in
  // memory for this search. 0 is invalid (InvalidArgument).
  std::optional<uint64_t> max_file_size;
};

struct SearchOptions {
  SearchMode mode = SearchMode::Hybrid;
  size_t top_k = 10;  // at least 1
  // Hits with Hit::score < threshold are dropped (scale: see Hit::score). Must be finite.
  std::optional<float> threshold;
  SearchFilter filter;
  // Overlapping or adjacent hits in one file that belong to the same definition merge into one
  // hit (the union of their lines, the best score).
  bool merge_adjacent = true;
  // Polled between the steps of the search (before and after the query embedding, before
  // ranking, between the batches of files embedded for this search); when it returns true the
  // search throws CancelledError. Called on the searching thread; may be empty.
  std::function<bool()> cancelled;
};

// One result. Owns its strings (nothing points into the index).
struct Hit {
  std::string path;  // relative to Index::root(), '/' separators, the file name's bytes as-is
  int start_line = 0, end_line = 0;  // 1-based, inclusive
  std::string symbol;                // "Client.get"; empty for windows of lines
  std::string kind;                  // "function", "method", "class", ..., "window"
  std::string language;              // "python", "rust", ..., "text"
  std::string content;               // the exact source lines start_line..end_line
  // The score of the mode, always in [0, 1] for Hybrid and Keyword:
  //  Semantic: cosine similarity of query and chunk, in [-1, 1].
  //  Keyword:  BM25F of the chunk divided by the best BM25F of this query (the top hit is 1).
  //  Hybrid:   alpha * s + (1 - alpha) * k in [0, 1], where s and k are the cosine and the
  //            BM25F min-max scaled to [0, 1] over the query's best 100 chunks of each side
  //            (clamped), alpha = 0.6, or 0.2 when the query looks like an identifier or a
  //            path (1 = best on both sides). The scale does not depend on top_k.
  float score = 0;
  float semantic_score = 0;  // cosine; 0 when the mode did not compute it
  // BM25F (halved for prose: plain text, Markdown; halved for test files unless the query has
  // the word test(s)/testing/spec(s)); 0 when the mode did not compute it or no term matched.
  float keyword_score = 0;
  int semantic_rank = -1, keyword_rank = -1;  // 0-based; -1 when absent from that ranking
};

// ---------------------------------------------------------------- index values

// Progress of an update, reported once at each phase change and at least every 200 ms while
// work is under way. Counts never decrease within a phase.
//   Scanning   walking the tree and comparing it with the index (files_total = files seen)
//   Chunking   reading, chunking and tokenizing changed files, before the first batch is embedded
//   Embedding  ingest threads keep reading and chunking while batches are embedded
//   Writing    snapshot and manifest
//   Done       once, at the end (also when nothing changed)
struct IndexProgress {
  enum class Phase { Scanning, Chunking, Embedding, Writing, Done };
  Phase phase = Phase::Scanning;
  // From Chunking on, files_total counts the files to read (changed files only), files_chunked
  // those read and chunked so far, files_done those whose chunks are all embedded.
  size_t files_done = 0, files_chunked = 0, files_total = 0;
  size_t chunks_done = 0, chunks_total = 0;  // chunks embedded / found by the chunker so far
  double elapsed_s = 0;                      // since update() began
  double chunks_per_s = 0;                   // embedding rate over the last ~3 seconds
  // Embedding rate since the phase's first Embedding report: chunks_done / (elapsed_s - that
  // report's elapsed_s); 0 before. Batches are sorted by length, so the recent rate swings with
  // the chunks' length (2x on a real tree); an estimate of the time left should use this one.
  double chunks_per_s_mean = 0;
};
const char* index_phase_name(IndexProgress::Phase phase);

struct IndexOptions {
  // Where indexes live: empty = $RIPVEC_CACHE_DIR, else $XDG_CACHE_HOME/ripvec, else
  // ~/.cache/ripvec. An index directory <root>/.ripvec/ is always preferred when it exists.
  std::filesystem::path cache_dir;
  bool repo_local = false;       // create the index in <root>/.ripvec/ instead of the cache
  bool reindex = false;          // drop what is stored and rebuild on the next update()
  bool follow_symlinks = false;  // never into /proc, /sys, /dev or other pseudo file systems
  // Stay on the root's file system: neither mount points nor followed links lead to another
  // one (ripgrep's --one-file-system). Like follow_symlinks, it changes what the index holds.
  bool one_file_system = false;
  uint64_t max_file_size = 2 * 1024 * 1024;  // index cap per file, bytes (> 0)
  // Memory bound of a walk: it stops after this many folders or files. update() then fails
  // (IoError) and leaves the committed index as it was (the files not reached are not
  // "deleted"); search_without_index() searches what was reached, with a warning.
  size_t max_walk_dirs = 1'000'000;
  size_t max_walk_files = 5'000'000;
  unsigned threads = 0;  // ingest threads; 0 = all cores (one fewer when embedding on the CPU)
  // Called from the thread running update(), its embedding thread (phase changes) or its
  // progress ticker thread, never two calls at once (a 200 ms tick must not wait for an embedding
  // batch). Must not call back into the Index. An exception it throws ends update() (or
  // search_without_index()) with that exception — thrown on the ticker thread, at the next
  // cancellation poll (below) — and leaves the index as a cancellation there would; one thrown at
  // Phase::Done comes after the commit (the update is in the index).
  std::function<void(const IndexProgress&)> progress;
  // Polled by update() while it waits for another process's lock (when_busy), after the walk,
  // before each embedding batch and before the commit; when
  // it returns true, update() throws CancelledError and the committed index stays as it was
  // (objects already written are reused by the next update, as after a kill). Once the commit
  // has begun it is not polled. Called on the thread running update(); may be empty.
  std::function<bool()> cancelled;
  // Another process holds the index's lock (it is updating the index: `ripvec index` in another
  // terminal, a stopped one, an editor's server). Called once by update(), before it would wait,
  // with the index's location and whether an update of it has committed a snapshot that
  // searches can serve meanwhile (has_snapshot()); true: wait for that process (the default
  // when empty: a second writer must not race the first; the lock is tried every 50 ms and
  // `cancelled` ends the wait with CancelledError); false: do not wait: update() throws
  // IndexBusyError and changes nothing (a search can serve the last committed snapshot instead
  // of hanging as long as the other process runs: hostile probe 2026-12-07). Called on the
  // thread running update().
  std::function<bool(const std::filesystem::path& location, bool committed)> when_busy;
};

struct UpdateStats {
  size_t files_seen = 0, files_added = 0, files_modified = 0, files_removed = 0,
         files_unchanged = 0;
  // skipped_unreadable also counts FIFOs, sockets and devices (each named in `warnings`).
  size_t skipped_binary = 0, skipped_invalid_utf8 = 0, skipped_too_large = 0,
         skipped_unreadable = 0;
  size_t chunks_embedded = 0, chunks_total = 0, objects_collected = 0, corrupt_rebuilt = 0;
  // Chunks of modified files whose text did not change: their vectors were kept from the
  // file's previous version instead of embedded again (not counted in chunks_embedded).
  size_t chunks_reused = 0;
  // A read-only index (it cannot be written): the files changed since its last update, which
  // it could not take in (it serves searches as it is, with a warning).
  size_t files_left_stale = 0;
  double walk_s = 0, chunk_s = 0, embed_s = 0, write_s = 0, total_s = 0;
  // Seconds the thread that gathers windows waited for the chunk stage (files are embedded in
  // walk order, so a slow file holds the next window back), and seconds the embedding thread
  // waited for the next group with nothing to compute (the device idle between groups): with
  // embed_s (the embedding thread's time running groups), where the pipeline's wall time went.
  double chunk_wait_s = 0, embed_gap_s = 0;
  std::vector<std::string> added, modified, removed;  // paths relative to the root
  std::vector<std::string> warnings;                  // each names the file it is about
  // The subset of `warnings` about one entry skipped again (an unreadable file or folder, too
  // large, a broken symlink, a special file, a binary file, skipped for that reason by the
  // index's last update too, in this process or another: the index remembers them): an update
  // of an unchanged tree repeats them, so a front end may show them only when the index
  // changed. The others (an entry skipped for the first time or for a new reason, an error
  // listing a folder, a read-only or damaged index) are news every time.
  std::vector<std::string> entry_warnings;
};

// What `ripvec index --status` / `--list` print.
struct IndexStatus {
  std::filesystem::path root;      // canonical project root
  std::filesystem::path location;  // the index directory
  std::string model_id;
  size_t dim = 0;
  // What else shapes the vectors (Embedder::vector_config(): pooling, normalisation, INT8 linear
  // layers), as text; list_indexes() leaves it empty for indexes written before it was stored.
  std::string vectors;
  size_t files = 0, chunks = 0;  // as of the last committed update
  uint64_t bytes = 0;            // disk use of the index directory
  int64_t last_update_unix = 0;  // seconds since the epoch; 0 when never updated
  bool exists = false;           // false: nothing committed yet
  bool read_only = false;        // the index directory cannot be written
  // Empty when the index is sound as far as its manifest tells; else what is wrong, for people
  // ("the manifest is damaged: ...", "the snapshot ... is missing or has another size"): the
  // counts above are then those of what searches can use (0 when nothing), and the next
  // update rebuilds what is damaged.
  std::string problem;
  // list_indexes(): a folder of the cache that could not be read (another user's, mode 0700), so
  // whether it holds an index is unknown; `location` names it, `problem` says why, root and
  // model are empty. It was left out silently (hostile probe 2026-12-07).
  bool unreadable = false;
  // Filled by Index::status() (a stat() walk of the tree, nothing read): files added, modified
  // or removed since the last update, each as "A path", "M path" or "D path" (git's letters),
  // sorted by path. list_indexes() leaves them empty.
  std::vector<std::string> stale;
};

// ---------------------------------------------------------------- whole-index access

// A read-only view of one committed snapshot: every stored chunk and its vector, for analyses
// over the whole index (near-duplicate detection). It keeps that snapshot mapped while alive;
// later updates do not change it. Thread safety: all members are const and safe to share.
class IndexSnapshot {
 public:
  virtual ~IndexSnapshot() = default;
  virtual size_t size() const = 0;  // chunks
  virtual size_t dim() const = 0;
  // Copies chunk i's vector (dim() floats, as stored: L2-normalised when the model says so)
  // into out. i < size().
  virtual void vector(size_t i, float* out) const = 0;
  // Chunk i as a Hit: path, lines, symbol, kind, language, content; the scores are 0.
  virtual Hit chunk(size_t i) const = 0;
};

// ---------------------------------------------------------------- the index

class Index {
 public:
  // Opens the index that answers for `path` (a file or a directory) with `embedder`'s model.
  // The root is the nearest directory at or above `path` that holds a .ripvec/ index, else
  // that already has an index of this model in the cache, else the enclosing git work tree's
  // top, else `path` itself (its directory for a file). A `path` below the root becomes the
  // scope: searches are restricted to it unless SearchOptions::filter.paths says otherwise.
  // The index key covers everything that changes vectors or chunks (model id, dim, pooling,
  // prompts, max tokens, chunker version), so indexes of two models live side by side.
  // open() finds the root (file metadata and ignore files) and fingerprints the model's files
  // for the key: the first time a full read of the weights, whose result is kept in
  // <cache>/fingerprints/. The tree is not walked and nothing is embedded until update() or
  // search(). Throws IoError when `path` does not exist or a model file cannot be read.
  static std::unique_ptr<Index> open(const std::filesystem::path& path,
                                     std::shared_ptr<Embedder> embedder, IndexOptions opts = {});
  virtual ~Index() = default;

  virtual const std::filesystem::path& root() const = 0;      // canonical
  virtual const std::filesystem::path& location() const = 0;  // the index directory
  // `path` of open() relative to root() ("" when it is the root).
  virtual const std::string& scope() const = 0;
  // Which of open()'s rules chose root(): a .ripvec/ folder, an index of this model in the
  // cache, the git work tree's top, or none (Path: `path` itself, its directory for a file).
  // A front end that must not index a whole folder for one file of no project asks this.
  // Path also names a folder the enclosing root's ignore rules leave out (a root of its own).
  enum class RootSource { RepoLocal, Cached, GitWorkTree, Path };
  virtual RootSource root_source() const = 0;
  virtual Embedder& embedder() const = 0;

  // Brings the index up to date with the tree (walk, then read/chunk/embed what changed) and
  // commits it atomically. Searches running meanwhile see the previous snapshot. A read-only
  // index is used as it is, with a warning that it cannot be updated (saying how many files
  // changed since, if any); one without a usable index is an IoError naming --no-index. A
  // damaged snapshot is rebuilt from the stored objects (a warning says so). A walk cut short
  // by max_walk_dirs/max_walk_files throws IoError and leaves the committed index as it was.
  virtual UpdateStats update() = 0;

  // Best first. Semantic and Hybrid embed the query (InputKind::Query). Without a committed
  // index (update() never run) searches run on an empty index. A committed snapshot that fails
  // its checks (checksums, bounds) is never served: IndexError saying to run `ripvec index
  // <root>` (update() rebuilds it).
  virtual std::vector<Hit> search(std::string_view query, const SearchOptions& opts) const = 0;

  // The chunk covering `line` (1-based) of `file` (absolute or relative to root()) is the
  // query; that chunk itself is not returned. Throws InvalidArgument when the file is not
  // indexed or has no chunk at that line.
  virtual std::vector<Hit> find_similar(const std::filesystem::path& file, int line,
                                        const SearchOptions& opts) const = 0;

  virtual IndexStatus status() const = 0;

  // The last committed snapshot (empty before the first update()). Hidden files are included;
  // callers filter. Throws UnsupportedError from implementations that cannot expose vectors.
  virtual std::shared_ptr<const IndexSnapshot> snapshot() const {
    throw UnsupportedError("this index does not expose its vectors");
  }
  // Whether an update() of this model's index has committed a snapshot here (its manifest is
  // read; nothing is walked, nothing is loaded). A keyword search of a tree without one can run
  // without the model (search_without_index) instead of embedding the whole tree first.
  // Thread-safe.
  virtual bool has_snapshot() const { return true; }
};

// Which of Index::open's rules would choose the root for `path` (a file or a directory), told
// without a model: a .ripvec/ folder at or above it, an index of any model in the cache (of
// resolve_cache_dir(cache_dir)) for a folder at or above it, a git work tree, or none (Path).
// Front ends ask it before opening a file's folder as a root (a file of no project is not a
// reason to index its folder). Reads nothing but file metadata. Throws IoError when `path`
// does not exist. Thread-safe.
Index::RootSource project_root_source(const std::filesystem::path& path,
                                      const std::filesystem::path& cache_dir = {});

// The mode a search of `query` in `mode` runs in. When the query gives the model nothing to
// embed (text the tokenizer drops whole: white space, control or zero-width characters; or only
// unknown tokens: emoji, a script the vocabulary lacks), which would rank every chunk against
// nothing: Semantic throws InvalidArgument; Hybrid throws too, except that a query of unknown
// tokens with keyword terms (an emoji in a docstring is one) runs as Keyword; Keyword is
// returned as it is.
// Index::search and search_without_index apply it; a front end may call it before a long
// update so that a bad query fails at once. Reads only the tokenizer (the weights need not be
// loaded). Thread-safe.
SearchMode check_query(const Embedder& e, std::string_view query, SearchMode mode);

// Searches `path` (file or directory) without any index: walk, chunk, embed in memory.
// Hit::path is relative to `path` (the file's name for a file). The filter's types, globs,
// hidden, no_ignore and max_file_size choose the files walked; its paths are relative to
// `path`. SearchMode::Keyword embeds nothing: the chunks' keyword terms alone rank them, and
// `embedder` gives only its chunking (tokenizer, token budget; the weights are never loaded).
std::vector<Hit> search_without_index(const std::filesystem::path& path, Embedder& embedder,
                                      std::string_view query, const SearchOptions& opts,
                                      const IndexOptions& iopts, UpdateStats* stats = nullptr);

// ---------------------------------------------------------------- management

// Throws IoError when `path` (which must exist: IoError otherwise) lies on a pseudo file
// system (/proc, /sys, /dev...), which is never walked, searched or indexed (Index::open and
// search_without_index refuse it the same way). For servers that check a root before keeping it.
void refuse_pseudo_file_system(const std::filesystem::path& path);

// The cache directory IndexOptions::cache_dir names: `cache_dir` when not empty, else
// $RIPVEC_CACHE_DIR, else $XDG_CACHE_HOME/ripvec (an absolute one: a relative one is ignored,
// as the XDG spec says), else ~/.cache/ripvec, else (no $HOME)
// <temp dir>/ripvec-cache-<uid>, which must then be a folder of this user's that others cannot
// write, when it exists (IoError otherwise: another user could have made it first). The only
// place that reads those variables.
std::filesystem::path resolve_cache_dir(const std::filesystem::path& cache_dir = {});

// Every index under the cache directory, newest first, then the folders that could not be read
// (IndexStatus::unreadable).
std::vector<IndexStatus> list_indexes(const std::filesystem::path& cache_dir = {});

// Removes the index directories (every model) of the project that answers for `path`: the
// nearest directory at or above it with a .ripvec/ folder or with indexes in the cache, else
// `path` itself (its directory for a file); both its cache indexes and its .ripvec/ ones. With
// `path` empty, every index in the cache. A `path` that no longer exists is taken as the root
// of a deleted project, as list_indexes() names it: its cache indexes are removed (IoError when
// the cache has none). Returns the bytes freed. Never touches anything but index directories
// (each is checked for a ripvec manifest or lock before removal) and, in them, only the files
// an index writes: any other file found in one stays, with its folder, and is named in `kept`
// (when given; cleared first), for the caller to tell the user. Indexes another process is
// updating are kept, and folders that cannot be read are left; either ends in IoError naming
// them, after the others were removed.
uint64_t clean_indexes(const std::filesystem::path& path,
                       const std::filesystem::path& cache_dir = {},
                       std::vector<std::filesystem::path>* kept = nullptr);

}  // namespace ripvec
