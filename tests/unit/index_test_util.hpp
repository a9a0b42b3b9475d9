// Shared by the index tests that compare what a damaged or read-only index serves with what the
// intact one served: three queries (one per mode) over their small trees, with TestHashEmbedder.
#pragma once

#include <string>
#include <utility>

#include "ripvec/index.hpp"
#include "unit/test_hash_embedder.hpp"

namespace ripvec::test {

// What the three queries return, as comparable text: paths, lines, contents and scores.
inline std::string search_summary(const Index& idx) {
  std::string out;
  for (auto [mode, q] : {std::pair{SearchMode::Keyword, "quux handling"},
                         std::pair{SearchMode::Semantic, "zanzibar widget"},
                         std::pair{SearchMode::Hybrid, "retry backoff parse"}}) {
    SearchOptions so;
    so.mode = mode;
    so.top_k = 4;
    for (const auto& h : idx.search(q, so))
      out += h.path + ":" + std::to_string(h.start_line) + "-" + std::to_string(h.end_line) + " " +
             h.content + " " + std::to_string(h.score) + "\n";
    out += "--\n";
  }
  return out;
}

}  // namespace ripvec::test
