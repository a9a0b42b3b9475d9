#include "tokenizer/bpe_text.hpp"

#include <utf8proc.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <memory>

#include "ripvec/error.hpp"
#include "tokenizer/unicode.hpp"
#include "tokenizer/utf8.hpp"

namespace ripvec::bpe_detail {

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
    std::fill(std::begin(cls), std::end(cls), CharClass::kOther);
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
  return cp >= kNfcInertRanges[0].first &&
         find_range(std::begin(kNfcInertRanges), std::end(kNfcInertRanges), cp) != nullptr;
}

void utf8proc_run(std::string_view s, int options, std::string& out) {
  if (s.empty()) return;
  utf8proc_uint8_t* dst = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
      &dst, static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> guard(dst, &std::free);
  if (n < 0) {
    throw InvalidArgument(std::string("Unicode normalization failed: ") + utf8proc_errmsg(n));
  }
  out.append(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
}

}  // namespace

CharClass char_class(char32_t cp) noexcept {
  if (cp < 0x10000) return kBmp.cls[cp];
  const ClassRange* r = find_range(std::begin(kBpeClassRanges), std::end(kBpeClassRanges), cp);
  return r != nullptr ? r->cls : CharClass::kOther;
}

void append_hf_normalized(std::string_view in, int options, std::string& out) {
  if (tok::is_ascii(in)) {  // every normalization form is the identity on ASCII
    out.append(in);
    return;
  }
  // Characters HF's tables do not know are inert starters (no decomposition, ccc 0, no
  // composition): they cut the text into runs that normalize independently.
  size_t run = 0;
  for (size_t i = 0; i < in.size();) {
    const size_t at = i;
    if (nfc_inert(tok::utf8_next(in, i))) {
      utf8proc_run(in.substr(run, at - run), options, out);
      out.append(in.substr(at, i - at));
      run = i;
    }
  }
  utf8proc_run(in.substr(run), options, out);
}

// ---- BpeNormalizer ----

BpeNormalizer::BpeNormalizer(const nlohmann::json& spec, std::string_view origin) {
  if (!spec.is_null()) add(spec, origin);
}

void BpeNormalizer::add(const nlohmann::json& spec, std::string_view origin) {
  const std::string where = std::string(origin) + ": normalizer";
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string()) {
    throw ModelFormatError(where + " must be an object with a string \"type\"");
  }
  const std::string type = spec["type"].get<std::string>();
  Step step;
  if (type == "Sequence") {
    if (!spec.contains("normalizers") || !spec["normalizers"].is_array()) {
      throw ModelFormatError(where + " Sequence needs a \"normalizers\" array");
    }
    for (const auto& sub : spec["normalizers"]) add(sub, origin);
    return;
  } else if (type == "NFC") {
    step.options = UTF8PROC_COMPOSE;
  } else if (type == "NFD") {
    step.options = UTF8PROC_DECOMPOSE;
  } else if (type == "NFKC") {
    step.options = UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  } else if (type == "NFKD") {
    step.options = UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  } else if (type == "Lowercase") {
    step.kind = Kind::kLowercase;
  } else {
    // Strip / Prepend / Replace are left out on purpose: HF tokenizers 0.23 panics or drops
    // characters with them on byte-level files (offset alignment bugs), so parity is undefined.
    throw UnsupportedError(where + " type \"" + type + "\" is not supported for BPE tokenizers");
  }
  steps_.push_back(std::move(step));
}

void BpeNormalizer::normalize(std::string_view in, std::string& out) const {
  if (steps_.empty()) {
    out.append(in);
    return;
  }
  std::string cur(in), next;
  for (const Step& s : steps_) {
    next.clear();
    switch (s.kind) {
      case Kind::kUnicode:
        append_hf_normalized(cur, s.options, next);
        break;
      case Kind::kLowercase:
        for (size_t i = 0; i < cur.size();)
          tok::unicode::append_lowercase(tok::utf8_next(cur, i), next);
        break;
    }
    cur.swap(next);
  }
  out += cur;
}

}  // namespace ripvec::bpe_detail
