// UTF-8 validation, decoding and encoding shared by the tokenizers.
//
// Validation follows Rust's `str` rules (what HF `tokenizers` accepts): no overlong forms, no
// surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequences. The decode helpers
// assume input that already passed validation, so hot loops pay no checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ripvec::tok {

// Byte offset of the first invalid sequence in `s`, or s.size() when `s` is valid UTF-8.
size_t utf8_invalid_offset(std::string_view s) noexcept;

// Throws InvalidArgument ("<what> is not valid UTF-8 (byte N: 0xXX)") when `s` is invalid.
void require_valid_utf8(std::string_view s, std::string_view what = "input text");

// Number of bytes of the sequence that starts with lead byte `b` (1 for continuation bytes, so
// that a scan always advances).
inline size_t utf8_seq_len(unsigned char b) noexcept {
  if (b < 0x80) return 1;
  if (b >= 0xF0) return 4;
  if (b >= 0xE0) return 3;
  if (b >= 0xC0) return 2;
  return 1;
}

// Decodes the code point at s[i] (valid UTF-8 required) and advances i past it.
inline char32_t utf8_next(std::string_view s, size_t& i) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    i += 1;
    return b0;
  }
  if (b0 < 0xE0) {
    i += 2;
    return (char32_t(b0 & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (b0 < 0xF0) {
    i += 3;
    return (char32_t(b0 & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  i += 4;
  return (char32_t(b0 & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) |
         (char32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

// Decodes the code point that ends just before s[i] (valid UTF-8 required); moves i to its start.
inline char32_t utf8_prev(std::string_view s, size_t& i) noexcept {
  size_t j = i - 1;
  while (j > 0 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
  i = j;
  size_t k = j;
  return utf8_next(s, k);
}

// Bytes needed to encode `cp`.
inline size_t utf8_len(char32_t cp) noexcept {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

// Writes `cp` to out (room for 4 bytes required); returns the number of bytes written.
inline size_t utf8_encode(char32_t cp, char* out) noexcept {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

inline void utf8_append(std::string& out, char32_t cp) {
  char buf[4];
  out.append(buf, utf8_encode(cp, buf));
}

// Number of code points in valid UTF-8 `s`.
inline size_t utf8_count(std::string_view s) noexcept {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

inline bool is_ascii(std::string_view s) noexcept {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

}  // namespace ripvec::tok
