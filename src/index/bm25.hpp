// Keyword side of search: a code-aware tokenizer and BM25F scoring over three fields
// (symbol name, path, body) with per-field length normalization. Queries drop English stop
// words (when other terms remain) and match every indexed form of a word that has the same
// light stem (stem_light): "handling" finds handle, handled, handlers. The index stores the
// terms as written; stems are resolved at query time over the sorted term dictionary, which
// scores exactly as if the index had stored stems (a document's BM25F pseudo term frequency is
// linear in its per-field counts), so a change of stemmer needs no rebuild.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ripvec::index {

// The longest term the tokenizer gives; longer runs are blobs (hashes, base64), not words.
inline constexpr size_t kMaxTermBytes = 64;

// Splits text into lowercase terms the way code is written. Each identifier-like run
// ([A-Za-z0-9_], bytes >= 0x80, and '-' between two such characters) yields the whole run
// lowercased plus its parts split at '_' and '-', camelCase / PascalCase humps
// ("HTTPServer" -> http, server) and letter/digit boundaries ("utf8" -> utf, 8). Parts equal
// to the whole are not repeated. Non-ASCII bytes are kept as-is (no case folding).
// "parseHTTPResponse_v2" -> parsehttpresponse_v2, parse, http, response, v, 2
std::vector<std::string> tokenize_code(std::string_view text);
// Appends to `out` instead of returning (hot loop of index building).
void tokenize_code(std::string_view text, std::vector<std::string>* out);

// Light English stemmer for the words of prose and split identifiers (lowercase ASCII letters
// only; anything else, and words of 3 letters or fewer, is returned as is): plurals
// ("entries" -> entri, "classes" -> class, "handlers" -> handler), then -ing / -ed when a vowel
// remains in 3+ letters before it ("parsing" -> pars, "stopped" -> stop, but "string" and
// "need" stay), then a final 'e' ("handle" -> handl) and 'y' -> 'i' ("retry" -> retri). Not a
// linguistic stemmer: it only has to map the forms of one word to one key; measured on
// bench/quality (docs/benchmarks.md).
std::string stem_light(std::string_view word);

// The 48-word English stop list of the quality harness's BM25 baseline ("the", "of", "how",
// "when", ...). Query terms only: the index keeps every word.
bool is_stop_word(std::string_view term);

struct Bm25Params {
  float k1 = 1.2f;
  float b = 0.75f;
  float w_symbol = 3.0f;  // a query term naming the definition weighs most
  float w_path = 1.5f;
  float w_body = 1.0f;
  // Query side (index unaffected): match all indexed forms with the query word's stem_light,
  // and drop stop words from a query that has other terms.
  bool stem = true;
  bool drop_stop_words = true;
};

enum Bm25Field : int { kFieldSymbol = 0, kFieldPath = 1, kFieldBody = 2, kNumFields = 3 };

// idf = ln(1 + (N - df + 0.5) / (df + 0.5)) (the non-negative Lucene form).
float bm25_idf(size_t num_docs, size_t df);

// BM25F pseudo term frequency of one term in one document:
//   sum_f w_f * tf_f / (1 - b + b * len_f / avglen_f)
// It is what the index stores per posting, so that a query only needs
//   score += idf * tfw * (k1 + 1) / (k1 + tfw).
float bm25_weighted_tf(const uint32_t tf[kNumFields], const uint32_t len[kNumFields],
                       const float avglen[kNumFields], const Bm25Params& p);
inline float bm25_term_score(float idf, float tfw, const Bm25Params& p) {
  return idf * tfw * (p.k1 + 1.0f) / (p.k1 + tfw);
}

struct Posting {
  uint32_t doc;
  float tfw;  // bm25_weighted_tf
};

struct Bm25Doc {
  std::string_view symbol, path, body;
};

// Term dictionary with postings, built in memory (sorted by term, postings by doc).
// Serialized as-is into the index snapshot by store.cpp.
struct Bm25Postings {
  std::vector<std::string> terms;  // sorted, unique
  std::vector<uint64_t> offsets;   // terms.size() + 1 offsets into postings
  std::vector<Posting> postings;
  size_t num_docs = 0;
};

// The terms of a run of documents (one file's chunks, or a slice of a larger build) under a
// dictionary of its own: what tokenizing costs, done once per document wherever it is cheapest
// (the index does it on its ingest threads while the embedder runs), merged into postings later
// (build_bm25). Depends only on the documents, never on other blocks.
struct Bm25Block {
  std::vector<std::string> terms;    // local id -> term, in first-seen order
  std::vector<uint32_t> entry_term;  // per (document, distinct term), documents in order
  std::vector<std::array<uint32_t, kNumFields>> entry_tf;  // that term's count per field
  std::vector<uint32_t> doc_end;                           // per document: end of its entries
  std::vector<std::array<uint32_t, kNumFields>> doc_len;   // per document: terms per field
  size_t num_docs() const { return doc_len.size(); }
  bool operator==(const Bm25Block&) const = default;  // every field, in order
};
// Tokenizes `docs` (on the calling thread) into one block. A document whose path equals the
// previous one's reuses its path terms (the chunks of one file share it).
Bm25Block bm25_block(std::span<const Bm25Doc> docs);

// Global term ids over the blocks added to it, so that the merge of a block's dictionary can
// run when the block is made (the index does it on its finisher thread, file by file) rather
// than when the postings are built. Not thread-safe: one thread at a time. Each dictionary has
// a process-unique id(), so merged ids are never used with another dictionary.
class Bm25Dictionary {
 public:
  Bm25Dictionary();
  // The block's local ids as ids of this dictionary (new terms are added).
  // Every add() that leaves more than a quarter (at least 4096) of the terms unsorted sorts
  // those and merges them into the sorted order, so that sorting is spread over the adds
  // (the index's finisher thread, while embedding runs) instead of waiting for the build.
  std::vector<uint32_t> add(const Bm25Block& b);
  size_t size() const { return off_.size(); }
  uint64_t id() const { return id_; }
  // Valid until the next add().
  std::string_view term(uint32_t i) const {
    return {bytes_.data() + off_[i], static_cast<size_t>(off_end(i) - off_[i])};
  }
  // Every id, in term order (sorts what is left to sort).
  const std::vector<uint32_t>& sorted();

 private:
  void presort();
  uint64_t off_end(uint32_t i) const { return i + 1 < off_.size() ? off_[i + 1] : bytes_.size(); }
  void grow();
  // Terms by id, their bytes back to back (an update merges every file's block, hundreds of
  // thousands of lookups: a node per term made them cache misses); the id table is open
  // addressing over (hash tag, id).
  std::string bytes_;
  std::vector<uint64_t> off_;  // id -> first byte in bytes_
  struct Slot {
    uint32_t tag = 0, id = UINT32_MAX;
  };
  std::vector<Slot> slots_;
  std::vector<uint32_t> sorted_;  // ids 0 .. sorted_.size()-1, in term order
  uint64_t id_;
};

// One block of a build, in document order: `ids` are its terms in the dictionary passed to
// build_bm25 (from Bm25Dictionary::add), or null to merge the block now.
struct Bm25BlockRef {
  const Bm25Block* block = nullptr;
  const std::vector<uint32_t>* ids = nullptr;
};
// The postings of the blocks' documents, numbered in block order. What is left once every
// document is tokenized and merged: a count, a sort of the dictionary and a fill. The result
// does not depend on how the documents were cut into blocks.
Bm25Postings build_bm25(std::span<const Bm25BlockRef> blocks, Bm25Dictionary& dict,
                        const Bm25Params& p = {});
// build_bm25 in two steps, for a caller that lays the postings out before they are filled
// (the snapshot writer): the constructor merges what is left to merge and counts (the sizes
// are known then), finish() sorts the terms and fills the postings. `blocks`, their ids and
// `dict` must outlive it; finish() once.
class Bm25Build {
 public:
  Bm25Build(std::span<const Bm25BlockRef> blocks, Bm25Dictionary& dict, const Bm25Params& p = {});
  size_t num_terms() const { return order_.size(); }
  uint64_t num_postings() const { return num_postings_; }
  uint64_t term_bytes() const { return term_bytes_; }  // the terms' lengths, summed
  Bm25Postings finish();

 private:
  std::span<const Bm25BlockRef> blocks_;
  Bm25Dictionary& dict_;
  Bm25Params p_;
  std::vector<std::vector<uint32_t>> merged_now_;
  std::vector<const std::vector<uint32_t>*> ids_;
  size_t n_ = 0;
  float avglen_[kNumFields] = {0, 0, 0};
  std::vector<size_t> run_begin_;
  std::vector<uint32_t> run_doc_;
  std::vector<std::vector<uint64_t>> run_count_;
  std::vector<uint64_t> count_;
  std::vector<uint32_t> order_;  // dictionary ids of the terms present (unsorted until finish)
  uint64_t term_bytes_ = 0, num_postings_ = 0;
};
// Tokenizes every document (blocks in parallel on the global pool) and builds the postings.
Bm25Postings build_bm25(std::span<const Bm25Doc> docs, const Bm25Params& p = {});

// Read-only view over postings (in memory or in a mapped snapshot).
class Bm25View {
 public:
  // term_at(i) returns the i-th term (sorted); postings_of(i) its postings.
  struct Source {
    size_t num_terms = 0, num_docs = 0;
    std::string_view (*term_at)(const void* ctx, size_t i) = nullptr;
    std::span<const Posting> (*postings_of)(const void* ctx, size_t i) = nullptr;
    const void* ctx = nullptr;
  };
  explicit Bm25View(Source s, Bm25Params p = {}) : s_(s), p_(p) {}
  static Bm25View of(const Bm25Postings& bp, Bm25Params p = {});

  // Adds each document's BM25F score for `query` into scores[doc] (scores sized num_docs,
  // zero-initialized by the caller) and appends newly touched docs to `touched`.
  // Repeated query terms (and terms with the same stem) count once. With stemming, the indexed
  // terms that share a query term's stem act as one term: per document their pseudo term
  // frequencies add up, and its idf counts the documents holding any of them.
  void score(std::string_view query, std::vector<float>* scores,
             std::vector<uint32_t>* touched) const;

  size_t num_docs() const { return s_.num_docs; }

 private:
  Source s_;
  Bm25Params p_;
};

}  // namespace ripvec::index
