// Reciprocal rank fusion of the semantic and keyword rankings (Cormack et al., SIGIR 2009):
//   rrf(d) = sum over lists containing d of 1 / (k + rank(d) + 1),   rank 0-based, k = 60.
// Only ranks matter, so cosine and BM25 need no common scale. Hybrid search reports this fused
// value as its score (at most 2 / 61 ~= 0.0328 with two lists); a --threshold in hybrid mode
// therefore compares against the RRF value, not a cosine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace ripvec::index {

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

}  // namespace ripvec::index
