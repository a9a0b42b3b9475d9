#include "tokenizer/bpe_added.hpp"

#include <algorithm>

#include "tokenizer/bpe_text.hpp"

namespace ripvec::bpe_detail {

int32_t AddedMatcher::child(int32_t node, unsigned char byte) const {
  const auto& ch = nodes_[node].children;
  auto it = std::lower_bound(ch.begin(), ch.end(), byte,
                             [](const auto& p, unsigned char b) { return p.first < b; });
  return it != ch.end() && it->first == byte ? it->second : -1;
}

void AddedMatcher::add(std::string pattern, const AddedToken& token) {
  if (pattern.empty()) return;
  int32_t node = 0;
  for (char c : pattern) {
    const auto byte = static_cast<unsigned char>(c);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      auto& ch = nodes_[node].children;
      auto it = std::lower_bound(ch.begin(), ch.end(), byte,
                                 [](const auto& p, unsigned char b) { return p.first < b; });
      ch.insert(it, {byte, next});
    }
    node = next;
  }
  if (nodes_[node].token < 0) {
    nodes_[node].token = static_cast<int32_t>(tokens_.size());
    tokens_.push_back(token);
  }
  first_byte_[static_cast<unsigned char>(pattern[0])] = true;
}

namespace {

// Start of the code point that ends at byte `end` (exclusive).
size_t prev_cp(std::string_view s, size_t end) {
  size_t k = end - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  return k;
}

bool ends_with_word(std::string_view s, size_t end) {
  if (end == 0) return false;
  size_t len;
  return is_word_char(decode_at(s, prev_cp(s, end), &len));
}

bool starts_with_word(std::string_view s, size_t begin) {
  if (begin >= s.size()) return false;
  size_t len;
  return is_word_char(decode_at(s, begin, &len));
}

}  // namespace

void AddedMatcher::split(std::string_view text, std::vector<Segment>* out) const {
  const size_t n = text.size();
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < n) {
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    // Longest pattern starting at pos.
    int32_t node = 0;
    int32_t best = -1;
    size_t best_end = 0;
    for (size_t k = pos; k < n; ++k) {
      node = child(node, static_cast<unsigned char>(text[k]));
      if (node < 0) break;
      if (nodes_[node].token >= 0) {
        best = nodes_[node].token;
        best_end = k + 1;
      }
    }
    if (best < 0) {
      ++pos;
      continue;
    }
    // Matches are found non-overlapping whether or not the rules below keep them.
    size_t start = pos;
    size_t stop = best_end;
    pos = best_end;
    const AddedToken& tok = tokens_[best];
    if (tok.single_word) {
      const bool start_space = start == 0 || !ends_with_word(text, start);
      const bool stop_space = stop == n || !starts_with_word(text, stop);
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) {
      size_t new_start = start;
      while (new_start > 0) {
        const size_t k = prev_cp(text, new_start);
        size_t len;
        if (!is_white_space(decode_at(text, k, &len))) break;
        new_start = k;
      }
      start = std::max(new_start, start_offset);
    }
    if (tok.rstrip) {
      while (stop < n) {
        size_t len;
        if (!is_white_space(decode_at(text, stop, &len))) break;
        stop += len;
      }
    }
    if (start_offset < start) out->push_back(Segment{start_offset, start, -1});
    out->push_back(Segment{start, stop, tok.id});
    start_offset = stop;
  }
  if (start_offset < n) out->push_back(Segment{start_offset, n, -1});
}

}  // namespace ripvec::bpe_detail
