// The persistent, incremental per-project index and the three search modes over it.
//
// Layout on disk (byte formats documented in src/index/store.hpp):
//   <location>/manifest.json        rel path -> size, mtime_ns, object id, status; model id,
//                                    dim, model key, format version; the current snapshot
//   <location>/objects/ab/<id>-<model key>.obj   one per indexed file version: chunks + vectors
//   <location>/snapshot-<gen>.bin   all chunks, float32 + int8 vectors and BM25 postings of the
//                                    committed state, mmapped by queries
//   <location>/lock                 flock() guard serializing writers
// <location> is $XDG_CACHE_HOME/ripvec/<32 hex of SHA-256(canonical root)>/ (or
// ~/.cache/ripvec/...), or <root>/.ripvec/ with IndexOptions::repo_local.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chunk/chunker.hpp"
#include "corpus/walker.hpp"
#include "ripvec/embedder.hpp"

namespace ripvec {

// Hybrid (the default) fuses the semantic and keyword rankings with reciprocal rank fusion.
enum class SearchMode { Hybrid, Semantic, Keyword };

struct SearchOptions {
  SearchMode mode = SearchMode::Hybrid;
  size_t top_k = 10;
  // Applies to SearchHit::score, i.e. the score of the mode: cosine similarity in [-1, 1] for
  // Semantic, BM25 (unbounded, >= 0) for Keyword, RRF sum(1 / (60 + rank + 1)) for Hybrid
  // (at most 2/61 ~= 0.0328). Hits with score < threshold are dropped.
  std::optional<float> threshold;
};

struct SearchHit {
  Chunk chunk;      // embed_text is empty (not stored)
  float score = 0;  // what is reported: cosine for semantic, BM25 for keyword, RRF for hybrid
  // Component scores. Hybrid fills both for every hit (also for a hit missing from one list);
  // Semantic leaves keyword_score 0 and Keyword leaves semantic_score 0 (not computed).
  float semantic_score = 0, keyword_score = 0;
  int semantic_rank = -1, keyword_rank = -1;  // 0-based, -1 if absent from that list
};

struct IndexProgress {
  size_t files_done = 0, files_total = 0, chunks_done = 0, chunks_total = 0;
  double elapsed_s = 0;
};

struct IndexOptions {
  std::filesystem::path cache_dir;  // empty: $XDG_CACHE_HOME/ripvec or ~/.cache/ripvec
  bool repo_local = false;          // store under <root>/.ripvec/ instead
  bool reindex = false;             // drop the existing index and rebuild
  WalkOptions walk;
  // tokenizer/max_tokens are filled from the embedder by open() when tokenizer is null
  // (max_tokens = model max_seq_length minus the document prompt); a caller's max_tokens is
  // clamped to that limit.
  ChunkOptions chunk;
  std::function<void(const IndexProgress&)> progress;  // called from the indexing thread
  size_t embed_batch = 64;                             // chunks per Embedder::embed call
};

struct IndexUpdateStats {
  size_t files_seen = 0, files_added = 0, files_modified = 0, files_removed = 0,
         files_unchanged = 0;
  size_t skipped_binary = 0, skipped_invalid_utf8 = 0, skipped_too_large = 0,
         skipped_unreadable = 0;
  size_t chunks_embedded = 0, chunks_total = 0, objects_collected = 0, corrupt_rebuilt = 0;
  double walk_s = 0, chunk_s = 0, embed_s = 0, write_s = 0, total_s = 0;
  std::vector<std::string> added, modified, removed;  // rel paths
  std::vector<std::string> warnings;
};

class ProjectIndex {
 public:
  // Opens (creating if needed) the index for `root` and `embedder`'s model (model id + dim +
  // format version in the manifest; a mismatch means a fresh index, never mixed vectors).
  // `embedder` must outlive the returned index. Throws IoError / IndexError.
  static std::unique_ptr<ProjectIndex> open(const std::filesystem::path& root, Embedder& embedder,
                                            IndexOptions opts);
  virtual ~ProjectIndex() = default;

  // Incremental refresh under the index lock (blocks while another process holds it).
  virtual IndexUpdateStats update() = 0;
  // Embeds the query (InputKind::Query) for Semantic/Hybrid. Results best first.
  virtual std::vector<SearchHit> search(std::string_view query,
                                        const SearchOptions& opts) const = 0;
  virtual size_t num_chunks() const = 0;
  virtual const std::filesystem::path& location() const = 0;
  // The root as canonicalized by open().
  virtual const std::filesystem::path& root() const = 0;
};

// Where the index of `root` lives for these options (does not create anything).
std::filesystem::path index_location(const std::filesystem::path& root, const IndexOptions& opts);

// --no-index: walk, chunk, embed in memory, search, keep nothing. stats may be null.
std::vector<SearchHit> search_in_memory(const std::filesystem::path& root, Embedder& embedder,
                                        std::string_view query, const SearchOptions& sopts,
                                        IndexOptions iopts, IndexUpdateStats* stats);

}  // namespace ripvec
