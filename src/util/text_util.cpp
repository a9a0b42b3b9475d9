#include "util/text_util.hpp"

#include "ripvec/bytes.hpp"

#include <cctype>
#include <cstdint>
#include <cstring>

namespace ripvec::text {
namespace {

// Length of the valid UTF-8 sequence at p (1..4), or 0 if the bytes there are not one.
size_t seq_len(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = *p;
  if (c < 0x80) return 1;
  int n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 1;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 2;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 3;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (end - p <= n) return 0;
  for (int i = 1; i <= n; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return static_cast<size_t>(n) + 1;
}

}  // namespace

size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  return seq_len(p + i, p + s.size());
}

size_t reordering_control_length(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0; };
  const unsigned char b = at(i);
  if (b == 0xD8 && at(i + 1) == 0x9C) return 2;  // U+061C
  if (b == 0xE2 && at(i + 1) == 0x80 &&
      ((at(i + 2) >= 0x8E && at(i + 2) <= 0x8F) || (at(i + 2) >= 0xA8 && at(i + 2) <= 0xAE)))
    return 3;  // U+200E/F, U+2028/9, U+202A-E
  if (b == 0xE2 && at(i + 1) == 0x81 && at(i + 2) >= 0xA6 && at(i + 2) <= 0xA9)
    return 3;  // U+2066-9
  return 0;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    while (end - p >= 8) {  // ASCII fast path, 8 bytes at a time
      uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ull) break;
      p += 8;
    }
    if (p >= end) break;
    const size_t n = seq_len(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const size_t n = seq_len(p, end);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++p;
      while (p < end && (*p & 0xC0) == 0x80) ++p;  // swallow stray continuation bytes
      continue;
    }
    out.append(reinterpret_cast<const char*>(p), n);
    p += n;
  }
  return out;
}

size_t utf8_floor(std::string_view s, size_t n) {
  if (n >= s.size()) return s.size();
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string squash(std::string_view s, size_t max, bool* cut) {
  std::string out;
  bool space = false;
  for (char c : trim(s)) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  if (cut) *cut = out.size() > max;
  if (out.size() > max) out.resize(utf8_floor(out, max));
  return out;
}

std::string lone_cr_to_lf(std::string s) {
  for (size_t i = s.find('\r'); i != std::string::npos; i = s.find('\r', i + 1))
    if (i + 1 == s.size() || s[i + 1] != '\n') s[i] = '\n';
  return s;
}

}  // namespace ripvec::text

namespace ripvec {
bool is_valid_utf8(std::string_view s) {
  return text::valid_utf8(s);
}
}  // namespace ripvec
