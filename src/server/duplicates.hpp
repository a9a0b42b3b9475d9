// Near-duplicate chunks over a whole index without an N x N matrix (internal to src/server):
// the vectors are compared in row blocks against the rows after them, each block's similarities
// live only while the block is scanned, and the best max_pairs pairs at or above the threshold
// are kept in a bounded heap. Memory: the vectors (N x dim floats) plus one block (B x N floats).
#pragma once

#include <functional>
#include <vector>

#include "ripvec/index.hpp"

namespace ripvec::server {

struct DuplicatePair {
  Hit a, b;
  float similarity = 0;  // cosine (dot product of the stored, normalised vectors)
};

// Pairs of chunks with similarity >= threshold, most similar first, at most max_pairs. Chunks of
// one file whose lines overlap (windows of one definition) are not pairs. `keep` (may be empty)
// filters chunks (e.g. hidden files, a sub-path); `cancelled` is polled between blocks (an
// empty result is returned when it says so). `compared` (may be null) receives the number of
// chunks kept.
std::vector<DuplicatePair> find_duplicates(const IndexSnapshot& snap, float threshold,
                                           size_t max_pairs,
                                           const std::function<bool(const Hit&)>& keep,
                                           const std::function<bool()>& cancelled,
                                           size_t* compared = nullptr);

}  // namespace ripvec::server
