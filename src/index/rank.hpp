// Ranking: semantic top-k, BM25F, fusion, thresholds, demotion of chunks without content of
// their own, and merging of adjacent hits — over one or more snapshots (the committed index
// and, for a filtered search, an in-memory snapshot of files the index does not hold), each
// with a per-chunk allow mask so that filters act before top-k, never after.
//
// Fusion: reciprocal rank fusion (Cormack et al., SIGIR 2009),
//   rrf(d) = sum over lists containing d of 1 / (k + rank(d) + 1),   rank 0-based, k = 60,
// reported normalised to [0, 1] by its maximum 2 / (k + 1) (first in both lists = 1).
// Only ranks matter, so cosine and BM25 need no common scale.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "ripvec/index.hpp"

namespace ripvec::index {

class Snapshot;

inline constexpr float kRrfK = 60.0f;

struct FusedItem {
  uint32_t id = 0;
  float score = 0;
  int rank_a = -1, rank_b = -1;  // 0-based position in each input list, -1 if absent
};

// a, b: ids best first (duplicates inside one list: the first occurrence counts).
// Returns the union, best first: higher RRF, then the better single rank, then lower id.
std::vector<FusedItem> rrf_fuse(std::span<const uint32_t> a, std::span<const uint32_t> b,
                                float k = kRrfK);

inline float rrf_term(int rank, float k = kRrfK) {
  return rank < 0 ? 0.0f : 1.0f / (k + static_cast<float>(rank) + 1.0f);
}
// The largest fused value (first in both lists): hybrid scores are divided by it.
inline float rrf_max(float k = kRrfK) {
  return 2.0f / (k + 1.0f);
}

// A chunk "without content of its own": fewer than 2 lines that are not blank, not imports /
// includes / package or namespace lines, and not only brackets and punctuation. A definition
// (function, class, struct...) needs just 1 such line. Such chunks are ranked after every
// other candidate of the same list, so they never outrank real code.
bool is_contentless(std::string_view kind, std::string_view content);

// One searchable source: a snapshot and which of its chunks may be returned.
struct RankSource {
  const Snapshot* snap = nullptr;
  const std::vector<uint8_t>* allow = nullptr;  // [num_chunks]; null: every chunk
};

struct RankRequest {
  SearchMode mode = SearchMode::Hybrid;
  size_t top_k = 10;
  std::optional<float> threshold;
  bool merge_adjacent = true;
  std::span<const float> query_vec;  // L2-normalised; required unless mode is Keyword
  std::string_view query_text;       // for BM25; required unless mode is Semantic
};

// Best first. Hit::path is the snapshot's stored path.
std::vector<Hit> rank(std::span<const RankSource> sources, const RankRequest& req);

// Merges hits of one file whose lines overlap, or touch (end + 1 == start) while naming the
// same symbol, into one hit: the union of their lines and content, the better hit's score,
// symbol and ranks. The order is kept (a merged hit takes the better position).
void merge_adjacent_hits(std::vector<Hit>* hits);

}  // namespace ripvec::index
