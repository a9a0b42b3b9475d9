// escape_name: file names (and other text from the file system) as text outputs show them.
#include <cstdio>
#include <string>
#include <string_view>

#include "ripvec/corpus.hpp"
#include "util/text_util.hpp"

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
    const size_t len = text::utf8_sequence_length(name, i);  // 1 for ASCII
    if (len == 0) {
      hex(c);
      ++i;
      continue;
    }
    if ((len == 2 && c == 0xC2 && p[i + 1] < 0xA0) ||       // C1 control U+0080..U+009F (CSI...)
        text::reordering_control_length(name, i) == len) {  // bidi controls (hostile probe)
      for (size_t k = 0; k < len; ++k) hex(p[i + k]);
    } else {
      out.append(name.substr(i, len));
    }
    i += len;
  }
  return out;
}

}  // namespace ripvec
