// Added-token extraction as in HF tokenizers' AddedVocabulary::find_matches: leftmost-longest,
// non-overlapping matches of the added tokens' contents, then the single_word / lstrip / rstrip
// rules. One matcher holds either the non-normalized tokens (matched on the raw text) or the
// normalized ones (matched, by their normalized content, on normalized text).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ripvec::bpe_detail {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

// A piece of the input: [begin, end) bytes, and the added token's id, or -1 for plain text.
struct Segment {
  size_t begin;
  size_t end;
  int32_t id;
};

class AddedMatcher {
 public:
  // pattern: the string to find (the content, or its normalized form); earlier patterns win
  // over identical later ones. Empty patterns are ignored.
  void add(std::string pattern, const AddedToken& token);
  bool empty() const { return tokens_.empty(); }

  // Appends the segments of `text` (valid UTF-8); they cover it in order. Plain segments are
  // never empty; a token segment can overlap the previous one when an rstrip token ran into
  // the next match, exactly as in HF.
  void split(std::string_view text, std::vector<Segment>* out) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
    int32_t token = -1;                                       // index into tokens_
  };
  int32_t child(int32_t node, unsigned char byte) const;
  std::vector<Node> nodes_{Node{}};
  std::vector<AddedToken> tokens_;
  bool first_byte_[256] = {};
};

}  // namespace ripvec::bpe_detail
