// escape_name: file names (and other text from the file system) as text outputs show them.
#include <cstdio>
#include <string>
#include <string_view>

#include "ripvec/corpus.hpp"

namespace ripvec {

std::string escape_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  const auto* p = reinterpret_cast<const unsigned char*>(name.data());
  const size_t n = name.size();
  auto hex = [&out](unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02X", c);
    out += buf;
  };
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x20 || c == 0x7f) {
      hex(c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    // Length of a well-formed UTF-8 sequence at i (RFC 3629), or 0.
    size_t len = 0;
    if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4;
    bool ok = len != 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    if (ok && len == 3) {
      const unsigned cp = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6);
      ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (ok && len == 4) {
      const unsigned cp = ((c & 0x07) << 18) | ((p[i + 1] & 0x3F) << 12);
      ok = cp >= 0x10000 && cp <= 0x10FFFF;
    }
    if (!ok) {
      hex(c);
      ++i;
      continue;
    }
    if (len == 2 && c == 0xC2 && p[i + 1] < 0xA0) {  // C1 control U+0080..U+009F (CSI...)
      hex(c);
      hex(p[i + 1]);
    } else {
      out.append(name.substr(i, len));
    }
    i += len;
  }
  return out;
}

}  // namespace ripvec
