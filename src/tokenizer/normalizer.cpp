#include "tokenizer/normalizer.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "ripvec/error.hpp"
#include "tokenizer/unicode.hpp"
#include "tokenizer/utf8.hpp"

namespace ripvec::tok {
namespace {

using nlohmann::json;

// clean_text + handle_chinese_chars on ASCII-free-or-not input; strip/lowercase come later.
void bert_clean_and_cjk(std::string_view in, bool clean, bool cjk, std::string& out) {
  size_t i = 0;
  while (i < in.size()) {
    const auto b = static_cast<unsigned char>(in[i]);
    if (b < 0x80) {
      ++i;
      if (clean) {
        if (b == '\t' || b == '\n' || b == '\r' || b == ' ') {
          out.push_back(' ');
          continue;
        }
        if (b < 0x20 || b == 0x7F) continue;
      }
      out.push_back(static_cast<char>(b));
      continue;
    }
    const char32_t c = utf8_next(in, i);
    if (clean) {
      if (c == 0 || c == 0xFFFD || unicode::is_bert_control(c)) continue;
      if (unicode::is_bert_whitespace(c)) {
        out.push_back(' ');
        continue;
      }
    }
    if (cjk && unicode::is_chinese_char(c)) {
      out.push_back(' ');
      utf8_append(out, c);
      out.push_back(' ');
      continue;
    }
    utf8_append(out, c);
  }
}

class FormNormalizer final : public Normalizer {
 public:
  explicit FormNormalizer(unicode::NormForm f) : form_(f) {}
  void normalize(std::string_view in, std::string& out) const override {
    unicode::append_normalized(in, form_, out);
  }

 private:
  unicode::NormForm form_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  void normalize(std::string_view in, std::string& out) const override {
    size_t i = 0;
    while (i < in.size()) unicode::append_lowercase(utf8_next(in, i), out);
  }
};

// HF StripAccents: drops every combining mark (M*), without decomposing first.
class StripAccentsNormalizer final : public Normalizer {
 public:
  void normalize(std::string_view in, std::string& out) const override {
    size_t i = 0;
    while (i < in.size()) {
      const size_t start = i;
      const char32_t c = utf8_next(in, i);
      if (!unicode::is_combining_mark(c)) out.append(in.substr(start, i - start));
    }
  }
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string_view in, std::string& out) const override {
    size_t b = 0, e = in.size();
    if (left_) {
      while (b < e) {
        size_t j = b;
        if (!unicode::is_whitespace(utf8_next(in, j))) break;
        b = j;
      }
    }
    if (right_) {
      while (e > b) {
        size_t j = e;
        if (!unicode::is_whitespace(utf8_prev(in, j))) break;
        e = j;
      }
    }
    out.append(in.substr(b, e - b));
  }

 private:
  bool left_, right_;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string p) : prepend_(std::move(p)) {}
  void normalize(std::string_view in, std::string& out) const override {
    if (in.empty()) return;
    out.append(prepend_);
    out.append(in);
  }

 private:
  std::string prepend_;
};

// Replace with a literal pattern: every non-overlapping occurrence, left to right.
class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(std::string pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string_view in, std::string& out) const override {
    if (pattern_.empty()) {
      out.append(in);
      return;
    }
    size_t pos = 0;
    for (;;) {
      const size_t hit = in.find(pattern_, pos);
      if (hit == std::string_view::npos) break;
      out.append(in.substr(pos, hit - pos));
      out.append(content_);
      pos = hit + pattern_.size();
    }
    out.append(in.substr(pos));
  }

 private:
  std::string pattern_, content_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
      : parts_(std::move(parts)) {}
  void normalize(std::string_view in, std::string& out) const override {
    std::string cur(in), next;
    for (const auto& p : parts_) {
      next.clear();
      p->normalize(cur, next);
      cur.swap(next);
    }
    out.append(cur);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

[[noreturn]] void bad(std::string_view origin, const std::string& msg) {
  throw ModelFormatError(std::string(origin) + ": normalizer: " + msg);
}

bool get_bool(const json& j, const char* key, bool dflt, std::string_view origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) bad(origin, std::string("field '") + key + "' must be a boolean");
  return it->get<bool>();
}

std::string get_string(const json& j, const char* key, std::string_view origin) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string())
    bad(origin, std::string("field '") + key + "' must be a string");
  return it->get<std::string>();
}

}  // namespace

void BertNormalizer::normalize(std::string_view in, std::string& out) const {
  if (is_ascii(in)) {
    // Fast path: no CJK, no accents, no multi-byte whitespace or controls.
    const size_t base = out.size();
    out.resize(base + in.size());
    char* dst = out.data() + base;
    for (unsigned char c : in) {
      if (clean_text_) {
        if (c == '\t' || c == '\n' || c == '\r' || c == ' ') {
          *dst++ = ' ';
          continue;
        }
        if (c < 0x20 || c == 0x7F) continue;
      }
      *dst++ = static_cast<char>(lowercase_ && c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out.resize(static_cast<size_t>(dst - out.data()));
    return;
  }
  std::string stage;
  stage.reserve(in.size() + 16);
  bert_clean_and_cjk(in, clean_text_, handle_chinese_chars_, stage);
  out.reserve(out.size() + stage.size());
  // After cleaning, every ASCII character is a starter without decomposition, so NFD of the
  // whole string equals NFD applied to each maximal non-ASCII run: only those runs go through
  // utf8proc, and ASCII stays on the byte path.
  std::string decomposed;
  size_t i = 0;
  while (i < stage.size()) {
    const auto b = static_cast<unsigned char>(stage[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(lowercase_ && b >= 'A' && b <= 'Z' ? b + 32 : b));
      ++i;
      continue;
    }
    size_t run_end = i;
    while (run_end < stage.size() && static_cast<unsigned char>(stage[run_end]) >= 0x80) ++run_end;
    std::string_view run = std::string_view(stage).substr(i, run_end - i);
    i = run_end;
    if (strip_accents_) {
      decomposed.clear();
      unicode::append_normalized(run, unicode::NormForm::kNFD, decomposed);
      run = decomposed;
    }
    size_t k = 0;
    while (k < run.size()) {
      const size_t start = k;
      const char32_t c = utf8_next(run, k);
      if (strip_accents_ && unicode::is_mark_nonspacing_v8(c)) continue;
      if (lowercase_)
        unicode::append_lowercase(c, out);
      else
        out.append(run.substr(start, k - start));
    }
  }
}

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, std::string_view origin) {
  if (j.is_null()) return nullptr;
  if (!j.is_object()) bad(origin, "expected an object or null");
  auto t = j.find("type");
  if (t == j.end() || !t->is_string()) bad(origin, "missing string field 'type'");
  const std::string type = t->get<std::string>();
  if (type == "BertNormalizer") {
    const bool lowercase = get_bool(j, "lowercase", true, origin);
    return std::make_unique<BertNormalizer>(
        get_bool(j, "clean_text", true, origin), get_bool(j, "handle_chinese_chars", true, origin),
        get_bool(j, "strip_accents", lowercase, origin), lowercase);
  }
  if (type == "NFC") return std::make_unique<FormNormalizer>(unicode::NormForm::kNFC);
  if (type == "NFD") return std::make_unique<FormNormalizer>(unicode::NormForm::kNFD);
  if (type == "NFKC") return std::make_unique<FormNormalizer>(unicode::NormForm::kNFKC);
  if (type == "NFKD") return std::make_unique<FormNormalizer>(unicode::NormForm::kNFKD);
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(get_bool(j, "strip_left", true, origin),
                                             get_bool(j, "strip_right", true, origin));
  }
  if (type == "Prepend")
    return std::make_unique<PrependNormalizer>(get_string(j, "prepend", origin));
  if (type == "Replace") {
    auto p = j.find("pattern");
    if (p == j.end() || !p->is_object()) bad(origin, "Replace: missing object field 'pattern'");
    if (p->contains("Regex")) {
      throw UnsupportedError(std::string(origin) +
                             ": normalizer Replace with a Regex pattern is not supported");
    }
    return std::make_unique<ReplaceNormalizer>(get_string(*p, "String", origin),
                                               get_string(j, "content", origin));
  }
  if (type == "Sequence") {
    auto n = j.find("normalizers");
    if (n == j.end() || !n->is_array()) bad(origin, "Sequence: missing array 'normalizers'");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (const auto& sub : *n) {
      auto p = make_normalizer(sub, origin);
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  throw UnsupportedError(std::string(origin) + ": normalizer type '" + type + "' is not supported");
}

}  // namespace ripvec::tok
