// Ranking: semantic top-k, BM25F, fusion, thresholds, demotion of chunks without content of
// their own, and merging of adjacent hits — over one or more snapshots (the committed index
// and, for a filtered search, an in-memory snapshot of files the index does not hold), each
// with a per-chunk allow mask so that filters act before top-k, never after.
//
// Fusion (hybrid mode): a convex combination of the two scores, each min-max normalised over
// its own candidate list (the best kFusionDepth chunks of that side, whatever -n is):
//   hybrid(d) = alpha * clamp01((cos(d) - cos_min) / (cos_max - cos_min))
//             + (1 - alpha) * clamp01((bm25(d) - bm25_min) / (bm25_max - bm25_min))
// over the union of both lists; a candidate missing from one list still gets that side's real
// score (clamped at 0 below the list's minimum). So the hybrid score is in [0, 1], 1 = the best
// of both sides. alpha (the semantic weight) is kSemanticWeight for questions and
// kIdentifierSemanticWeight for queries that look like identifiers or paths
// (looks_like_identifier). Measured on bench/quality (docs/benchmarks.md, "Ranking"): it beats
// reciprocal rank fusion (k = 60, the previous rule) on every language of the harness.
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

// Candidates per side: max(kFusionDepth, 4 * top_k) (demotion and merging consume some). The
// min-max normalisation of fusion uses the first kFusionDepth of each side only, and a fused
// score depends only on the chunk's own two scores, so for top_k <= kFusionDepth / 4 the order
// does not depend on top_k (-n 10 is a prefix of -n 25).
inline constexpr size_t kFusionDepth = 100;
// Keyword scores of chunks in prose languages (plain text, Markdown, reStructuredText...) are
// multiplied by this: documentation repeats a question's words without being the code that
// answers it (measured on bench/quality: docs/benchmarks.md, "Ranking").
inline constexpr float kProseKeywordWeight = 0.5f;
bool is_prose_language(std::string_view language);
// Keyword scores of chunks in test files (is_test_path) are multiplied by this unless the query
// asks for tests (mentions_tests): tests repeat the words of the code they exercise, and on
// bench/quality they took places above the definition asked for (docs/benchmarks.md, "Test
// files"). Only the keyword side: a test that answers by meaning still ranks by its cosine.
inline constexpr float kTestKeywordWeight = 0.5f;
// True for a path (relative to the index root, '/' separators) of a test file: a directory
// named test, tests, testing, __tests__ or spec on the way; a file named test_*, conftest.py,
// *_test.<ext> (Go, C, Python...), or *.test.<ext> / *.spec.<ext> (JavaScript, TypeScript).
bool is_test_path(std::string_view path);
// True when the query has the word test, tests, testing, spec or specs (any case; words are
// split at every character that is not an ASCII letter or digit, so "test_parse" has it and
// "TestParse" does not).
bool mentions_tests(std::string_view query);
// Weight of the semantic side in hybrid fusion: natural-language queries, and queries that look
// like an identifier or a path (keyword-heavy). Tuned on the tune half of bench/quality.
inline constexpr float kSemanticWeight = 0.6f;
inline constexpr float kIdentifierSemanticWeight = 0.2f;

// True for a query that is one identifier or path rather than a question: no whitespace, and
// either a path (contains '/' or '\\'), or an identifier ([A-Za-z_$][A-Za-z0-9_$]*, optionally
// qualified by '::', '.', '->' or '#', optionally ending in "()") that is compound: it contains
// '_' inside, a lower-to-upper case change (camelCase), a letter next to a digit, a qualifier,
// or "()". "parseConfig", "foo_bar", "Client.get", "std::move", "src/app.py" are; "session",
// "retry with backoff", "HTTP" are not. Surrounding backquotes and blanks are ignored.
bool looks_like_identifier(std::string_view query);

// Such queries are also matched without stemming on the keyword side (an identifier is written
// exactly).
// The hybrid semantic weight alpha for this query (see the fusion rule above).
float semantic_weight(std::string_view query);

// One side's scores mapped to [0, 1] by the min and max of its candidate list (values outside
// are clamped). A list whose scores are all equal maps every score >= that value to 1; an
// empty list (e.g. no query term in the index) maps everything to 0.
struct MinMax {
  bool empty = true;
  float lo = 0, hi = 0;
  // Over the scores of a list (any order).
  static MinMax of(std::span<const float> list_scores);
  float operator()(float v) const {
    if (empty) return 0.0f;
    if (!(hi > lo)) return v >= hi ? 1.0f : 0.0f;
    const float x = (v - lo) / (hi - lo);
    return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
  }
};

// The hybrid score of a chunk with raw scores sem (cosine) and kw (BM25F):
// alpha * sem_norm(sem) + (1 - alpha) * kw_norm(kw), in [0, 1] for alpha in [0, 1].
inline float convex_fuse(float sem, float kw, const MinMax& sem_norm, const MinMax& kw_norm,
                         float alpha) {
  return alpha * sem_norm(sem) + (1.0f - alpha) * kw_norm(kw);
}

// A chunk "without content of its own": fewer than 2 lines that are not blank, not imports /
// includes / package or namespace lines, and not only brackets and punctuation, none of them
// kContentLineBytes long or longer (trimmed). A definition (function, class, struct...) needs
// just 1 such line. Such chunks are ranked after every other candidate of the same list, so
// they never outrank real code.
inline constexpr size_t kContentLineBytes = 32;
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
// symbol and ranks, unless the union would span more than 200 lines; then the worse hit keeps
// only its lines outside the better one (or goes). The order is kept (a merged hit takes the
// better position). No two hits overlap afterwards.
void merge_adjacent_hits(std::vector<Hit>* hits);
// The same for hits[i] alone, in a list that is merged apart from it: what rank() does with
// each hit it adds, best first.
void merge_hit(std::vector<Hit>* hits, size_t i);

}  // namespace ripvec::index
