// UTF-8 and Unicode helpers for the byte-level BPE tokenizer: strict UTF-8 decoding, the
// character classes that HF tokenizers' regexes use, and the normalizers a BPE tokenizer.json
// may name. Everything works on byte offsets into UTF-8 strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ripvec::bpe_detail {

// Decodes the code point starting at s[i] (which must be valid UTF-8, see validate_utf8) and
// returns it; *len receives its byte length (1..4).
inline char32_t decode_at(std::string_view s, size_t i, size_t* len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  if (b0 < 0xE0) {
    *len = 2;
    return (char32_t(b0 & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
  }
  if (b0 < 0xF0) {
    *len = 3;
    return (char32_t(b0 & 0x0F) << 12) |
           (char32_t(static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
           (static_cast<unsigned char>(s[i + 2]) & 0x3F);
  }
  *len = 4;
  return (char32_t(b0 & 0x07) << 18) |
         (char32_t(static_cast<unsigned char>(s[i + 1]) & 0x3F) << 12) |
         (char32_t(static_cast<unsigned char>(s[i + 2]) & 0x3F) << 6) |
         (static_cast<unsigned char>(s[i + 3]) & 0x3F);
}

// Byte offset of the first invalid UTF-8 sequence (overlong forms, surrogates and code points
// above U+10FFFF are invalid), or npos when the whole string is valid.
size_t find_invalid_utf8(std::string_view s);

void append_utf8(std::string& out, char32_t cp);

// Unicode White_Space (what Rust's char::is_whitespace, Oniguruma's and Rust regex's \s match).
bool is_white_space(char32_t cp);

// Coarse classes of the GPT-2 pre-tokenizer regex: \p{L}, \p{N}, \s, and everything else.
enum class CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };
CharClass char_class(char32_t cp);

// Rust regex's Unicode \w (Alphabetic, marks, Nd, Pc, Join_Control), approximated from general
// categories: L*, M*, Nd, Nl, Pc, ZWNJ/ZWJ. Used only by added tokens with single_word=true.
bool is_word_char(char32_t cp);

// A normalizer chain parsed from tokenizer.json's "normalizer" (null, NFC, NFD, NFKC, NFKD,
// Lowercase, Strip, Prepend, Sequence of those). Unsupported types throw ModelFormatError.
class Normalizer {
 public:
  Normalizer() = default;
  Normalizer(const nlohmann::json& spec, std::string_view origin);
  bool empty() const { return steps_.empty(); }
  // Normalizes valid UTF-8 text; returns it unchanged when the chain is empty.
  std::string apply(std::string_view text) const;

 private:
  enum class Kind : uint8_t { kNfc, kNfd, kNfkc, kNfkd, kLowercase, kStrip, kPrepend };
  struct Step {
    Kind kind;
    bool left = false, right = false;  // Strip
    std::string text;                  // Prepend
  };
  void add(const nlohmann::json& spec, std::string_view origin);
  std::vector<Step> steps_;
};

}  // namespace ripvec::bpe_detail
