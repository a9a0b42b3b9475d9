#include "tokenizer/unicode.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <memory>

#include "ripvec/error.hpp"
#include "tokenizer/utf8.hpp"

namespace ripvec::tok::unicode {
namespace {

struct CodeRange {
  char32_t lo;
  char32_t hi;
};
struct CaseMapping {
  char32_t from;
  char32_t to;
};

#include "tokenizer/unicode_tables.inc"

template <size_t N>
bool in_ranges(const CodeRange (&table)[N], char32_t c) noexcept {
  // Last range whose lo <= c, then check hi.
  const CodeRange* end = table + N;
  const CodeRange* it =
      std::upper_bound(table, end, c, [](char32_t v, const CodeRange& r) { return v < r.lo; });
  if (it == table) return false;
  --it;
  return c <= it->hi;
}

bool is_ascii_punct(char32_t c) noexcept {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}

utf8proc_propval_t category(char32_t c) noexcept {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

}  // namespace

bool is_whitespace_slow(char32_t c) noexcept {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  switch (c) {
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
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_bert_control(char32_t c) noexcept {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  if (c < 0x80) return c < 0x20 || c == 0x7F;
  return in_ranges(kV8OtherControlFormatPrivate, c);
}

bool is_bert_punctuation_slow(char32_t c) noexcept {
  if (c < 0x80) return is_ascii_punct(c);
  return in_ranges(kV8Punctuation, c);
}

bool is_mark_nonspacing_v8(char32_t c) noexcept {
  if (c < 0x300) return false;
  return in_ranges(kV8MarkNonspacing, c);
}

bool is_combining_mark(char32_t c) noexcept {
  if (c < 0x300) return false;
  return in_ranges(kV9Marks, c);
}

bool is_word_char(char32_t c) noexcept {
  if (c < 0x80) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }
  if (c == 0x200C || c == 0x200D) return true;  // Join_Control
  // Other_Alphabetic symbols (circled / squared Latin letters) are Alphabetic but So.
  if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
      (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189))
    return true;
  switch (category(c)) {
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

void append_lowercase(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
    return;
  }
  // The one unconditional multi-character lowercase mapping of SpecialCasing.txt, which Rust's
  // char::to_lowercase applies and utf8proc's simple mapping does not.
  if (c == 0x130) {
    out.push_back('i');
    utf8_append(out, 0x307);
    return;
  }
  const CaseMapping* end = std::end(kRustLowercase);
  const CaseMapping* it =
      std::lower_bound(std::begin(kRustLowercase), end, c,
                       [](const CaseMapping& m, char32_t v) { return m.from < v; });
  utf8_append(out, it != end && it->from == c ? it->to : c);
}

namespace {
void map_utf8proc(std::string_view in, NormForm form, std::string& out);
}  // namespace

void append_normalized(std::string_view in, NormForm form, std::string& out) {
  if (is_ascii(in)) {  // every normalization form is the identity on ASCII
    out.append(in);
    return;
  }
  // Characters whose decomposition is newer than HF's normalization tables (Unicode 11.0) stay
  // as they are. HF sees them as unknown starters that never combine, so normalizing the text
  // on each side of them separately gives HF's result.
  size_t piece = 0;
  size_t i = 0;
  while (i < in.size()) {
    const size_t start = i;
    const char32_t c = utf8_next(in, i);
    if (c < kNoDecomposeInHf[0].lo || !in_ranges(kNoDecomposeInHf, c)) continue;
    map_utf8proc(in.substr(piece, start - piece), form, out);
    out.append(in.substr(start, i - start));
    piece = i;
  }
  if (piece > 0) {
    map_utf8proc(in.substr(piece), form, out);
    return;
  }
  map_utf8proc(in, form, out);
}

namespace {
void map_utf8proc(std::string_view in, NormForm form, std::string& out) {
  if (in.empty()) return;
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormForm::kNFC:
      options |= UTF8PROC_COMPOSE;
      break;
    case NormForm::kNFD:
      options |= UTF8PROC_DECOMPOSE;
      break;
    case NormForm::kNFKC:
      options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case NormForm::kNFKD:
      options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
  }
  utf8proc_uint8_t* dst = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(in.data()),
                                          static_cast<utf8proc_ssize_t>(in.size()), &dst,
                                          static_cast<utf8proc_option_t>(options));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> guard(dst, &std::free);
  if (n < 0) {
    throw InvalidArgument(std::string("Unicode normalization failed: ") + utf8proc_errmsg(n));
  }
  out.append(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
}
}  // namespace

}  // namespace ripvec::tok::unicode
