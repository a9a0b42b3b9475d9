// Unicode character properties exactly as HF `tokenizers` sees them.
//
// HF mixes several Unicode tables of different ages, and token ids depend on them:
//  - BertNormalizer / BertPreTokenizer / strip_accents use the `unicode_categories` 0.1.1 crate,
//    whose tables are Unicode 8.0 (characters assigned later are not "control" / "punctuation" /
//    "Mn" for HF). unicode_tables.inc is generated from that crate's source by
//    scripts/gen_unicode_tables.py.
//  - whitespace splitting and `lstrip`/`rstrip` use Rust's White_Space property (stable list).
//  - lowercasing is Rust's char::to_lowercase (full mapping; here via utf8proc + SpecialCasing).
//  - NFC/NFD/NFKC/NFKD come from utf8proc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ripvec::tok::unicode {

// Rust char::is_whitespace: the Unicode White_Space property.
bool is_whitespace_slow(char32_t c) noexcept;
inline bool is_whitespace(char32_t c) noexcept {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return is_whitespace_slow(c);
}

// HF BertNormalizer "control": Cc, Cf or Co (Unicode 8.0 tables), except \t \n \r.
bool is_bert_control(char32_t c) noexcept;
// HF BertNormalizer whitespace: \t \n \r or White_Space.
inline bool is_bert_whitespace(char32_t c) noexcept {
  return is_whitespace(c);
}

// HF BertPreTokenizer punctuation: ASCII punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~) or a
// Unicode P* category (Unicode 8.0 tables).
bool is_bert_punctuation_slow(char32_t c) noexcept;
inline bool is_bert_punctuation(char32_t c) noexcept {
  if (c < 0x80) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126);
  }
  return is_bert_punctuation_slow(c);
}

// General category Mn in the Unicode 8.0 tables (what BertNormalizer's strip_accents removes).
bool is_mark_nonspacing_v8(char32_t c) noexcept;

// General category M* as of Unicode 9.0: what HF's StripAccents normalizer removes.
bool is_combining_mark(char32_t c) noexcept;

// CJK ideograph blocks HF BertNormalizer surrounds with spaces (handle_chinese_chars).
inline bool is_chinese_char(char32_t c) noexcept {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Rust regex `\w` (Unicode): Alphabetic, M*, Nd, Pc, Join_Control. Used by single_word tokens.
bool is_word_char(char32_t c) noexcept;

// Appends Rust's char::to_lowercase(c) (one or more code points) to out as UTF-8.
void append_lowercase(char32_t c, std::string& out);

// Whole-string Unicode normalization forms (valid UTF-8 in, UTF-8 out, appended to out).
enum class NormForm { kNFC, kNFD, kNFKC, kNFKD };
void append_normalized(std::string_view in, NormForm form, std::string& out);

}  // namespace ripvec::tok::unicode
