// The BPE model of HF tokenizers (models/bpe): vocabulary, ranked merges, and the word -> ids
// algorithm (a rank-ordered priority queue over a linked list of symbols, O(n log n) per word),
// with a bounded, thread-safe cache of word -> ids.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/string_map.hpp"
#include "tokenizer/vocab_scan.hpp"

namespace ripvec::bpe_detail {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using Vocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // model: tokenizer.json's "model" object (type "BPE"). Throws ModelFormatError on a malformed
  // vocab or merges (either "a b" strings or ["a", "b"] pairs), merges naming tokens outside the
  // vocabulary, or unsupported options (dropout).
  // `scanned`: model.vocab as read by tok::split_vocab() (then model["vocab"] is {}), or null.
  BpeModel(const nlohmann::json& model, std::string_view origin,
           const tok::VocabEntries* scanned = nullptr);

  // Appends the ids of one pre-tokenized word, given as its raw bytes (before the byte-level
  // mapping, which is applied here).
  void tokenize_bytes(std::string_view word, std::vector<int32_t>* ids) const;

  const Vocab& vocab() const { return vocab_; }

  // Non-empty when unk_token is set but not in the vocabulary while some byte has no symbol
  // (nor a byte-fallback <0xNN> token): encoding a text holding that byte would fail.
  std::string unk_problem() const;
  std::optional<int32_t> unk_id() const { return unk_id_; }

 private:
  struct MergeValue {
    uint32_t rank;
    int32_t new_id;
  };
  // Open-addressing map (id_a, id_b) -> (rank, merged id); the merge loop's hot lookup.
  class MergeMap {
   public:
    void reserve(size_t n);
    // Later insertions of the same pair replace earlier ones, like HF's HashMap collect.
    void insert(int32_t a, int32_t b, MergeValue v);
    const MergeValue* find(int32_t a, int32_t b) const;

   private:
    static uint64_t key(int32_t a, int32_t b) {
      return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    }
    static size_t hash(uint64_t k) {
      k ^= k >> 33;
      k *= 0xff51afd7ed558ccdULL;
      k ^= k >> 33;
      return static_cast<size_t>(k);
    }
    std::vector<uint64_t> keys_;
    std::vector<MergeValue> values_;
    std::vector<uint8_t> used_;
    size_t mask_ = 0;
    size_t size_ = 0;
  };

  // The initial symbols of a word, before merging: one per mapped byte-level character (with
  // the continuing-subword prefix / end-of-word suffix when configured), then unk / byte
  // fallback handling as in HF's BPE::merge_word.
  void initial_symbols(std::string_view word, std::vector<int32_t>* syms) const;
  void merge(std::vector<int32_t>* syms) const;
  void word_ids(std::string_view word, std::vector<int32_t>* ids) const;

  Vocab vocab_;
  MergeMap merges_;
  std::string unk_token_;
  std::optional<int32_t> unk_id_;  // unset when unk_token_ is not in the vocabulary
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::string prefix_;  // continuing_subword_prefix
  std::string suffix_;  // end_of_word_suffix
  // Id of the mapped character of each byte when it is in the vocabulary, else -1.
  std::array<int32_t, 256> byte_id_{};
  bool simple_ = true;  // no prefix/suffix: initial symbols are byte_id_ lookups

  // Word cache, sharded to keep lock contention low when many threads encode at once. Each
  // shard maps a word to a span of its ids in one arena; like HF, it stops growing when full.
  static constexpr size_t kShards = 16;
  static constexpr size_t kShardCapacity = 4096;
  static constexpr size_t kMaxCachedWordBytes = 256;
  struct Shard {
    std::mutex mu;
    tok::StringIdMap index;                            // word -> index into spans
    std::vector<std::pair<uint32_t, uint32_t>> spans;  // (offset, count) in arena
    std::vector<int32_t> arena;
  };
  mutable std::array<Shard, kShards> cache_;
};

}  // namespace ripvec::bpe_detail
