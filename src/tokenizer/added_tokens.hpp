// Added tokens ("added_tokens" of tokenizer.json) and the splitter that extracts them from text
// before the model runs, exactly like HF `tokenizers` AddedVocabulary::extract_and_normalize:
//
//  1. tokens with normalized=false are matched on the raw text (leftmost-longest, like HF's
//     Aho-Corasick with MatchKind::LeftmostLongest);
//  2. every remaining piece is normalized on its own, then tokens with normalized=true are matched
//     in the normalized piece against their normalized content.
//  single_word: a match is dropped when a word character (regex \w) touches it on either side.
//  lstrip / rstrip: the match swallows the White_Space run on that side.
//  Special tokens are recognized in the text too (HF's encode_special_tokens=false default).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ripvec::tok {

class Normalizer;

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

[[noreturn]] void throw_added_id_overflow(std::string_view content, int64_t id,
                                          std::string_view origin);

// Parses the "added_tokens" array (null/absent -> empty). Throws ModelFormatError naming origin.
std::vector<AddedToken> parse_added_tokens(const nlohmann::json& added_tokens,
                                           std::string_view origin);

// Gives each added token the id HF `tokenizers` (0.23) uses, which ignores the "id" written in the
// file: the id of an earlier added token with the same content, else the model vocabulary's id
// (model_lookup returns >= 0), else the next fresh id: model_vocab_size (the number of vocabulary
// entries), then +1 per fresh token in file order (HF AddedVocabulary::add_tokens, one call for
// the whole list at load). Real files agree with their "id" fields; this matters only for
// hand-edited ones. Tokens with empty content are left alone (HF ignores them;
// AddedTokenSplitter drops them). Throws ModelFormatError naming origin when a fresh id would
// pass INT32_MAX (HF's ids are u32, ripvec's int32).
template <class ModelLookup>
void assign_hf_added_token_ids(std::vector<AddedToken>& tokens, size_t model_vocab_size,
                               ModelLookup&& model_lookup, std::string_view origin) {
  std::unordered_map<std::string_view, int32_t> seen;
  auto next_fresh = static_cast<int64_t>(model_vocab_size);
  for (AddedToken& t : tokens) {
    if (t.content.empty()) continue;
    int64_t id = -1;
    if (auto it = seen.find(t.content); it != seen.end()) id = it->second;
    if (id < 0) id = model_lookup(std::string_view(t.content));
    if (id < 0) {
      if (next_fresh > INT32_MAX) throw_added_id_overflow(t.content, next_fresh, origin);
      id = next_fresh++;
    }
    t.id = static_cast<int32_t>(id);
    seen.emplace(t.content, t.id);
  }
}

class AddedTokenSplitter {
 public:
  // One piece of the input: an added token (id >= 0) or normalized text to pre-tokenize (id < 0).
  // [begin, end) indexes the `normalized` buffer given to extract_and_normalize; for a token it
  // holds the matched text (with any stripped spaces), for text the normalized piece.
  struct Segment {
    size_t begin = 0;
    size_t end = 0;
    int32_t id = -1;
  };

  AddedTokenSplitter() = default;
  // `normalizer` (may be null) normalizes the normalized=true patterns here and the text pieces in
  // extract_and_normalize; it must outlive this object. Tokens with empty content are ignored;
  // of tokens sharing an id (after assign_hf_added_token_ids) the last one is kept, as in HF.
  AddedTokenSplitter(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  // Splits `text` (valid UTF-8) into segments in text order; empty pieces are dropped (as HF
  // does). `normalized` and `segments` are cleared first. Allocation-free when buffers are warm.
  void extract_and_normalize(std::string_view text, std::string& normalized,
                             std::vector<Segment>& segments) const;

  // One token per id (see the constructor).
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  bool empty() const { return tokens_.empty(); }
  std::optional<int32_t> token_to_id(std::string_view content) const;
  // The token with this id, or nullptr.
  const AddedToken* find_id(int32_t id) const;

 private:
  // Byte trie over the patterns of one pass; leftmost-longest search.
  struct Trie {
    struct Node {
      int32_t first_child = -1;  // index into nodes_
      int32_t next_sibling = -1;
      int32_t token = -1;  // index into tokens_ when a pattern ends here
      unsigned char byte = 0;
    };
    std::vector<Node> nodes = std::vector<Node>(1);
    bool first_byte[256] = {};
    bool empty = true;
    void insert(std::string_view pattern, int32_t token_index);
    // Longest pattern starting at s[pos]: returns its length, or 0 (and *token untouched).
    size_t longest_at(std::string_view s, size_t pos, int32_t* token) const;
  };

  // Appends the segments of `s` (stored in `normalized` from offset base) using `trie`.
  void split_pass(const Trie& trie, std::string_view s, size_t base,
                  std::vector<Segment>& out) const;

  std::vector<AddedToken> tokens_;
  const Normalizer* normalizer_ = nullptr;
  Trie raw_trie_;         // normalized == false
  Trie normalized_trie_;  // normalized == true, normalized patterns
  std::unordered_map<std::string, int32_t> by_content_;
  std::unordered_map<int32_t, size_t> by_id_;
};

}  // namespace ripvec::tok
