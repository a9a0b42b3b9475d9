#include "tokenizer/bpe_text.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <memory>

#include "ripvec/error.hpp"

namespace ripvec::bpe_detail {

size_t find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char b0 = p[i];
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    char32_t cp;
    char32_t min_cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2, cp = b0 & 0x1F, min_cp = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3, cp = b0 & 0x0F, min_cp = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4, cp = b0 & 0x07, min_cp = 0x10000;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_white_space(char32_t cp) {
  // The Unicode White_Space property (PropList.txt); stable since Unicode 6.3.
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

namespace {

struct ClassRange {
  char32_t first;
  char32_t last;
  CharClass cls;
};
struct CpRange {
  char32_t first;
  char32_t last;
};
#include "tokenizer/bpe_unicode_tables.inc"

// Dense table for the BMP (where nearly all text lives), binary search above it.
struct BmpClasses {
  CharClass cls[0x10000];
  BmpClasses() {
    for (auto& c : cls) c = CharClass::kOther;
    for (const auto& r : kBpeClassRanges) {
      for (char32_t c = r.first; c <= r.last && c < 0x10000; ++c) cls[c] = r.cls;
    }
  }
};
const BmpClasses kBmp;

template <class Range>
const Range* find_range(const Range* begin, const Range* end, char32_t cp) {
  const Range* it =
      std::upper_bound(begin, end, cp, [](char32_t c, const Range& r) { return c < r.first; });
  if (it == begin) return nullptr;
  --it;
  return cp <= it->last ? it : nullptr;
}

bool nfc_inert(char32_t cp) {
  return find_range(std::begin(kNfcInertRanges), std::end(kNfcInertRanges), cp) != nullptr;
}

}  // namespace

CharClass char_class(char32_t cp) {
  if (cp < 0x10000) return kBmp.cls[cp];
  const ClassRange* r = find_range(std::begin(kBpeClassRanges), std::end(kBpeClassRanges), cp);
  return r != nullptr ? r->cls : CharClass::kOther;
}

bool is_word_char(char32_t cp) {
  if (cp < 128) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           cp == '_';
  }
  if (cp == 0x200C || cp == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

// ---- normalizers ----

Normalizer::Normalizer(const nlohmann::json& spec, std::string_view origin) {
  if (!spec.is_null()) add(spec, origin);
}

void Normalizer::add(const nlohmann::json& spec, std::string_view origin) {
  const std::string where = std::string(origin) + ": normalizer";
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string()) {
    throw ModelFormatError(where + " must be an object with a string \"type\"");
  }
  const std::string type = spec["type"].get<std::string>();
  if (type == "Sequence") {
    if (!spec.contains("normalizers") || !spec["normalizers"].is_array()) {
      throw ModelFormatError(where + " Sequence needs a \"normalizers\" array");
    }
    for (const auto& sub : spec["normalizers"]) add(sub, origin);
  } else if (type == "NFC") {
    steps_.push_back(Step{Kind::kNfc, false, false, {}});
  } else if (type == "NFD") {
    steps_.push_back(Step{Kind::kNfd, false, false, {}});
  } else if (type == "NFKC") {
    steps_.push_back(Step{Kind::kNfkc, false, false, {}});
  } else if (type == "NFKD") {
    steps_.push_back(Step{Kind::kNfkd, false, false, {}});
  } else if (type == "Lowercase") {
    steps_.push_back(Step{Kind::kLowercase, false, false, {}});
  } else if (type == "Strip") {
    Step s{Kind::kStrip, false, false, {}};
    s.left = spec.value("strip_left", true);
    s.right = spec.value("strip_right", true);
    steps_.push_back(std::move(s));
  } else if (type == "Prepend") {
    if (!spec.contains("prepend") || !spec["prepend"].is_string()) {
      throw ModelFormatError(where + " Prepend needs a string \"prepend\"");
    }
    Step s{Kind::kPrepend, false, false, {}};
    s.text = spec["prepend"].get<std::string>();
    steps_.push_back(std::move(s));
  } else {
    throw ModelFormatError(where + " type \"" + type + "\" is not supported for BPE tokenizers");
  }
}

namespace {

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string utf8proc_run(std::string_view s, int options) {
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
      &out, static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
  if (n < 0) {
    throw InvalidArgument(std::string("Unicode normalization failed: ") + utf8proc_errmsg(n));
  }
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> guard(out, &std::free);
  return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

// HF's normalization tables are older than utf8proc's: characters they do not know are inert
// (starters with no decomposition), so they split the text into independently normalized runs.
std::string utf8proc_normalize(std::string_view s, int options) {
  std::string out;
  size_t run = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const char32_t cp = decode_at(s, i, &len);
    if (cp >= kNfcInertRanges[0].first && nfc_inert(cp)) {
      if (i > run) out += utf8proc_run(s.substr(run, i - run), options);
      out.append(s.substr(i, len));
      run = i + len;
    }
    i += len;
  }
  if (run == 0) return utf8proc_run(s, options);
  if (run < s.size()) out += utf8proc_run(s.substr(run), options);
  return out;
}

std::string lowercase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
      ++i;
      continue;
    }
    size_t len;
    const char32_t cp = decode_at(s, i, &len);
    i += len;
    if (cp == 0x130) {
      // The one unconditional multi-character lowercase mapping (SpecialCasing.txt) that
      // Rust's char::to_lowercase applies and utf8proc's simple mapping does not.
      out += "i\xCC\x87";
      continue;
    }
    append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
  }
  return out;
}

std::string strip(std::string_view s, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e) {
      size_t len;
      if (!is_white_space(decode_at(s, b, &len))) break;
      b += len;
    }
  }
  if (right) {
    while (e > b) {
      size_t k = e - 1;
      while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
      size_t len;
      if (!is_white_space(decode_at(s, k, &len))) break;
      e = k;
    }
  }
  return std::string(s.substr(b, e - b));
}

}  // namespace

std::string Normalizer::apply(std::string_view text) const {
  std::string cur(text);
  for (const Step& s : steps_) {
    switch (s.kind) {
      case Kind::kNfc:
        if (!is_ascii(cur)) cur = utf8proc_normalize(cur, UTF8PROC_COMPOSE);
        break;
      case Kind::kNfd:
        if (!is_ascii(cur)) cur = utf8proc_normalize(cur, UTF8PROC_DECOMPOSE);
        break;
      case Kind::kNfkc:
        if (!is_ascii(cur)) cur = utf8proc_normalize(cur, UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
        break;
      case Kind::kNfkd:
        if (!is_ascii(cur)) cur = utf8proc_normalize(cur, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
        break;
      case Kind::kLowercase:
        cur = lowercase(cur);
        break;
      case Kind::kStrip:
        cur = strip(cur, s.left, s.right);
        break;
      case Kind::kPrepend:
        // HF prepends only to non-empty strings.
        if (!cur.empty()) cur = s.text + cur;
        break;
    }
  }
  return cur;
}

}  // namespace ripvec::bpe_detail
