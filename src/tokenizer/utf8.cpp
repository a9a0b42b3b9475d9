#include "tokenizer/utf8.hpp"

#include <cstdio>
#include <cstring>
#include <string>

#include "ripvec/error.hpp"

namespace ripvec::tok {

size_t utf8_invalid_offset(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // ASCII run, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char b0 = p[i];
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    auto cont = [&](size_t k) { return i + k < n && (p[i + k] & 0xC0) == 0x80; };
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      if (!cont(1)) return i;
      i += 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      if (!cont(1) || !cont(2)) return i;
      const unsigned char b1 = p[i + 1];
      if (b0 == 0xE0 && b1 < 0xA0) return i;   // overlong
      if (b0 == 0xED && b1 >= 0xA0) return i;  // surrogate
      i += 3;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      if (!cont(1) || !cont(2) || !cont(3)) return i;
      const unsigned char b1 = p[i + 1];
      if (b0 == 0xF0 && b1 < 0x90) return i;   // overlong
      if (b0 == 0xF4 && b1 >= 0x90) return i;  // > U+10FFFF
      i += 4;
    } else {
      return i;  // continuation byte as lead, C0/C1 overlong leads, F5..FF
    }
  }
  return n;
}

void require_valid_utf8(std::string_view s, std::string_view what) {
  const size_t bad = utf8_invalid_offset(s);
  if (bad == s.size()) return;
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(s[bad]));
  throw InvalidArgument(std::string(what) + " is not valid UTF-8 (byte " + std::to_string(bad) +
                        ": " + hex + ")");
}

}  // namespace ripvec::tok
