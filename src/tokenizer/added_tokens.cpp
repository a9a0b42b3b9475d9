#include "tokenizer/added_tokens.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <utility>

#include "ripvec/error.hpp"
#include "tokenizer/normalizer.hpp"
#include "tokenizer/unicode.hpp"
#include "tokenizer/utf8.hpp"

namespace ripvec::tok {
namespace {

using nlohmann::json;

[[noreturn]] void bad(std::string_view origin, const std::string& msg) {
  throw ModelFormatError(std::string(origin) + ": added_tokens: " + msg);
}

bool flag(const json& t, const char* key, bool dflt, std::string_view origin) {
  auto it = t.find(key);
  if (it == t.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) bad(origin, std::string("field '") + key + "' must be a boolean");
  return it->get<bool>();
}

// True when the character just before `pos` in s is a regex \w character.
bool ends_with_word(std::string_view s, size_t pos) {
  if (pos == 0) return false;
  size_t i = pos;
  return unicode::is_word_char(utf8_prev(s, i));
}

bool starts_with_word(std::string_view s, size_t pos) {
  if (pos >= s.size()) return false;
  size_t i = pos;
  return unicode::is_word_char(utf8_next(s, i));
}

}  // namespace

void throw_added_id_overflow(std::string_view content, int64_t id, std::string_view origin) {
  bad(origin, "token '" + std::string(content) + "' would get id " + std::to_string(id) +
                  ", past the largest supported id " + std::to_string(INT32_MAX));
}

std::vector<AddedToken> parse_added_tokens(const nlohmann::json& added_tokens,
                                           std::string_view origin) {
  std::vector<AddedToken> out;
  if (added_tokens.is_null()) return out;
  if (!added_tokens.is_array()) bad(origin, "expected an array");
  for (const auto& t : added_tokens) {
    if (!t.is_object()) bad(origin, "entries must be objects");
    AddedToken a;
    auto c = t.find("content");
    if (c == t.end() || !c->is_string()) bad(origin, "entry without string 'content'");
    a.content = c->get<std::string>();
    if (utf8_invalid_offset(a.content) != a.content.size())
      bad(origin, "content is not valid UTF-8");
    auto id = t.find("id");
    if (id == t.end() || !id->is_number_integer() || id->get<int64_t>() < 0 ||
        id->get<int64_t>() > INT32_MAX)
      bad(origin, "entry '" + a.content + "' without a valid non-negative 'id'");
    a.id = static_cast<int32_t>(id->get<int64_t>());
    a.single_word = flag(t, "single_word", false, origin);
    a.lstrip = flag(t, "lstrip", false, origin);
    a.rstrip = flag(t, "rstrip", false, origin);
    a.special = flag(t, "special", false, origin);
    a.normalized = flag(t, "normalized", !a.special, origin);
    out.push_back(std::move(a));
  }
  return out;
}

void AddedTokenSplitter::Trie::insert(std::string_view pattern, int32_t token_index) {
  if (pattern.empty()) return;
  empty = false;
  first_byte[static_cast<unsigned char>(pattern[0])] = true;
  int32_t node = 0;
  for (unsigned char b : pattern) {
    int32_t child = nodes[node].first_child;
    while (child >= 0 && nodes[child].byte != b) child = nodes[child].next_sibling;
    if (child < 0) {
      Node n;
      n.byte = b;
      n.next_sibling = nodes[node].first_child;
      nodes.push_back(n);
      child = static_cast<int32_t>(nodes.size() - 1);
      nodes[node].first_child = child;
    }
    node = child;
  }
  // Equal patterns: the first one inserted wins, like the lowest pattern id in Aho-Corasick.
  if (nodes[node].token < 0) nodes[node].token = token_index;
}

size_t AddedTokenSplitter::Trie::longest_at(std::string_view s, size_t pos, int32_t* token) const {
  size_t best = 0;
  int32_t node = 0;
  for (size_t i = pos; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    int32_t child = nodes[node].first_child;
    while (child >= 0 && nodes[child].byte != b) child = nodes[child].next_sibling;
    if (child < 0) break;
    node = child;
    if (nodes[node].token >= 0) {
      best = i + 1 - pos;
      *token = nodes[node].token;
    }
  }
  return best;
}

AddedTokenSplitter::AddedTokenSplitter(std::vector<AddedToken> tokens, const Normalizer* normalizer)
    : normalizer_(normalizer) {
  // HF keeps one token per id (its added_tokens_map_r; a later token with the same id replaces
  // the earlier one, flags included) and builds its match patterns from those, while every
  // content keeps its id for token_to_id (added_tokens_map).
  std::unordered_map<int32_t, size_t> last;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].content.empty()) continue;
    by_content_.emplace(tokens[i].content, tokens[i].id);
    last[tokens[i].id] = i;
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].content.empty() || last[tokens[i].id] != i) continue;
    by_id_.emplace(tokens[i].id, tokens_.size());
    tokens_.push_back(std::move(tokens[i]));
  }
  // HF orders the patterns special tokens first, then the others (order matters only for
  // duplicate patterns).
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < tokens_.size(); ++i) {
      const AddedToken& t = tokens_[i];
      if (t.special != (pass == 0)) continue;
      if (!t.normalized) {
        raw_trie_.insert(t.content, static_cast<int32_t>(i));
      } else if (normalizer_ != nullptr) {
        normalized_trie_.insert(normalizer_->normalize(t.content), static_cast<int32_t>(i));
      } else {
        normalized_trie_.insert(t.content, static_cast<int32_t>(i));
      }
    }
  }
}

std::optional<int32_t> AddedTokenSplitter::token_to_id(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

const AddedToken* AddedTokenSplitter::find_id(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

void AddedTokenSplitter::split_pass(const Trie& trie, std::string_view s, size_t base,
                                    std::vector<Segment>& out) const {
  auto push = [&](size_t b, size_t e, int32_t id) {
    if (e > b) out.push_back(Segment{base + b, base + e, id});
  };
  if (trie.empty) {
    push(0, s.size(), -1);
    return;
  }
  // Mirrors HF AddedVocabulary::find_matches over an Aho-Corasick LeftmostLongest iterator: the
  // scan resumes at the end of the raw match even when the match is discarded or widened.
  size_t start_offset = 0;
  size_t pos = 0;
  const size_t n = s.size();
  while (pos < n) {
    if (!trie.first_byte[static_cast<unsigned char>(s[pos])]) {
      ++pos;
      continue;
    }
    int32_t ti = -1;
    const size_t len = trie.longest_at(s, pos, &ti);
    if (len == 0) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + len;
    pos = stop;
    const AddedToken& t = tokens_[ti];
    if (t.single_word) {
      const bool start_space = start == 0 || !ends_with_word(s, start);
      const bool stop_space = stop == n || !starts_with_word(s, stop);
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip) {
      size_t ns = start;
      while (ns > 0) {
        size_t j = ns;
        if (!unicode::is_whitespace(utf8_prev(s, j))) break;
        ns = j;
      }
      start = std::max(ns, start_offset);
    }
    if (t.rstrip) {
      while (stop < n) {
        size_t j = stop;
        if (!unicode::is_whitespace(utf8_next(s, j))) break;
        stop = j;
      }
    }
    if (start_offset < start) push(start_offset, start, -1);
    push(start, stop, t.id);
    start_offset = stop;
  }
  if (start_offset < n) push(start_offset, n, -1);
}

void AddedTokenSplitter::extract_and_normalize(std::string_view text, std::string& normalized,
                                               std::vector<Segment>& segments) const {
  normalized.clear();
  segments.clear();
  // Pass 1 on the raw text; raw segments index `text` for now.
  std::vector<Segment> raw;
  if (raw_trie_.empty) {
    if (!text.empty()) raw.push_back(Segment{0, text.size(), -1});
  } else {
    split_pass(raw_trie_, text, 0, raw);
  }
  for (const Segment& r : raw) {
    const std::string_view piece = text.substr(r.begin, r.end - r.begin);
    const size_t base = normalized.size();
    if (r.id >= 0) {
      normalized.append(piece);
      segments.push_back(Segment{base, normalized.size(), r.id});
      continue;
    }
    // Pass 2: normalize the piece on its own, then find the normalized tokens in it.
    if (normalizer_ != nullptr)
      normalizer_->normalize(piece, normalized);
    else
      normalized.append(piece);
    const std::string_view norm = std::string_view(normalized).substr(base);
    split_pass(normalized_trie_, norm, base, segments);
  }
}

}  // namespace ripvec::tok
