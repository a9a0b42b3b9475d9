#include "tokenizer/bpe_pretokenizer.hpp"

#include "tokenizer/bpe_text.hpp"
#include "tokenizer/utf8.hpp"

namespace ripvec::bpe_detail {

namespace {

// Length in bytes of the contraction ('s 't 're 've 'm 'll 'd) at text[i] == '\'', or 0.
size_t contraction_len(std::string_view text, size_t i) {
  if (i + 1 >= text.size()) return 0;
  const char a = text[i + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= text.size()) return 0;
  const char b = text[i + 2];
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

struct Cursor {
  std::string_view text;
  // Class and byte length of the code point at byte offset i (i < text.size()).
  CharClass at(size_t i, size_t* len) const {
    size_t j = i;
    const CharClass cls = char_class(tok::utf8_next(text, j));
    *len = j - i;
    return cls;
  }
  // End of the maximal run of class `cls` starting at i.
  size_t run_end(size_t i, CharClass cls) const {
    while (i < text.size()) {
      size_t len;
      if (at(i, &len) != cls) break;
      i += len;
    }
    return i;
  }
};

}  // namespace

void split_gpt2(std::string_view text, std::vector<std::pair<size_t, size_t>>* out) {
  const Cursor cur{text};
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const char c0 = text[i];
    // 's|'t|'re|'ve|'m|'ll|'d
    if (c0 == '\'') {
      if (size_t k = contraction_len(text, i)) {
        out->emplace_back(i, i + k);
        i += k;
        continue;
      }
    }
    size_t len0;
    const CharClass cls0 = cur.at(i, &len0);
    // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional ASCII space, then a run of one
    // class. A space not followed by such a run falls through to the whitespace rules.
    size_t body = i;
    CharClass cls = cls0;
    if (c0 == ' ') {
      body = i + 1;
      if (body < n) {
        size_t len1;
        cls = cur.at(body, &len1);
      } else {
        cls = CharClass::kSpace;
      }
    }
    if (cls != CharClass::kSpace) {
      const size_t end = cur.run_end(body, cls);
      out->emplace_back(i, end);
      i = end;
      continue;
    }
    // \s+(?!\S) | \s+ : a whitespace run that reaches the end, or that is followed by a
    // non-space, is matched without its last character (which then prefixes the next piece),
    // unless the run is a single character.
    size_t last = i;  // start of the last code point of the run
    size_t j = i;
    while (j < n) {
      size_t len;
      if (cur.at(j, &len) != CharClass::kSpace) break;
      last = j;
      j += len;
    }
    size_t end = j;
    if (j < n && last > i) end = last;
    out->emplace_back(i, end);
    i = end;
  }
}

namespace {

std::array<std::string, 256> build_byte_to_unicode() {
  std::array<std::string, 256> table;
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
    tok::utf8_append(table[b], cp);
  }
  return table;
}

}  // namespace

const std::array<std::string, 256>& byte_to_unicode() {
  static const std::array<std::string, 256> table = build_byte_to_unicode();
  return table;
}

}  // namespace ripvec::bpe_detail
