#include "tokenizer/vocab_scan.hpp"

#include <algorithm>
#include <climits>

#include "tokenizer/utf8.hpp"

namespace ripvec::tok {

namespace {

// A strict reader of the subset of JSON the fast path needs; any doubt returns false and the
// caller falls back to the DOM parser.
class Scanner {
 public:
  explicit Scanner(std::string_view t) : b_(t.data()), p_(t.data()), e_(t.data() + t.size()) {}

  size_t pos() const { return static_cast<size_t>(p_ - b_); }
  bool at_end() {
    ws();
    return p_ == e_;
  }
  bool eat(char c) {
    ws();
    if (p_ == e_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  bool peek(char c) {
    ws();
    return p_ != e_ && *p_ == c;
  }

  // An object: '{', then for each member its key (decoded) and ':', after which
  // member(key) must read the value; ',' between members, '}' at the end.
  template <class F>
  bool object(F&& member) {
    if (!eat('{')) return false;
    if (eat('}')) return true;
    std::string key;
    while (true) {
      if (!string(&key) || !eat(':') || !member(key)) return false;
      if (eat('}')) return true;
      if (!eat(',')) return false;
    }
  }

  // A string, decoded into *out (or only skipped when out is null).
  bool string(std::string* out) {
    ws();
    if (p_ == e_ || *p_ != '"') return false;
    ++p_;
    if (out) out->clear();
    while (true) {
      const char* run = p_;
      while (p_ != e_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) ++p_;
      if (out) out->append(run, p_);
      if (p_ == e_ || static_cast<unsigned char>(*p_) < 0x20) return false;
      if (*p_ == '"') {
        ++p_;
        return true;
      }
      ++p_;  // backslash
      if (p_ == e_) return false;
      const char c = *p_++;
      char lit = 0;
      switch (c) {
        case '"':
          lit = '"';
          break;
        case '\\':
          lit = '\\';
          break;
        case '/':
          lit = '/';
          break;
        case 'b':
          lit = '\b';
          break;
        case 'f':
          lit = '\f';
          break;
        case 'n':
          lit = '\n';
          break;
        case 'r':
          lit = '\r';
          break;
        case 't':
          lit = '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a lone low surrogate
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (e_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          if (out) append_utf8(out, cp);
          continue;
        }
        default:
          return false;
      }
      if (out) out->push_back(lit);
    }
  }

  // A non-negative integer without fraction or exponent, at most INT32_MAX.
  bool id(int32_t* out) {
    ws();
    if (p_ == e_ || *p_ < '0' || *p_ > '9') return false;
    if (*p_ == '0' && e_ - p_ > 1 && p_[1] >= '0' && p_[1] <= '9') return false;  // leading zero
    int64_t v = 0;
    while (p_ != e_ && *p_ >= '0' && *p_ <= '9') {
      v = v * 10 + (*p_++ - '0');
      if (v > INT32_MAX) return false;
    }
    if (p_ != e_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    *out = static_cast<int32_t>(v);
    return true;
  }

  // Skips any value; the DOM parse of the rest validates it.
  bool skip_value(int depth) {
    if (depth > 4096) return false;
    ws();
    if (p_ == e_) return false;
    const char c = *p_;
    if (c == '"') return string(nullptr);
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++p_;
      if (eat(close)) return true;
      while (true) {
        if (c == '{' && (!string(nullptr) || !eat(':'))) return false;
        if (!skip_value(depth + 1)) return false;
        if (eat(close)) return true;
        if (!eat(',')) return false;
      }
    }
    // number or literal: up to the next delimiter
    const char* s = p_;
    while (p_ != e_ && *p_ != ',' && *p_ != '}' && *p_ != ']' && *p_ != ' ' && *p_ != '\n' &&
           *p_ != '\r' && *p_ != '\t')
      ++p_;
    return p_ != s;
  }

 private:
  void ws() {
    while (p_ != e_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool hex4(uint32_t* out) {
    if (e_ - p_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = *p_++;
      v <<= 4;
      if (h >= '0' && h <= '9')
        v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f')
        v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        v |= static_cast<uint32_t>(h - 'A' + 10);
      else
        return false;
    }
    *out = v;
    return true;
  }
  static void append_utf8(std::string* s, uint32_t cp) {
    if (cp < 0x80) {
      s->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  const char* b_;
  const char* p_;
  const char* e_;
};

// Reads the vocabulary object at the scanner (just before its '{') into entries.
bool read_vocab(Scanner& s, VocabEntries& entries) {
  return s.object([&](const std::string& key) {
    int32_t id = 0;
    if (!s.id(&id) || utf8_invalid_offset(key) != key.size()) return false;
    entries.emplace_back(key, id);
    return true;
  });
}

}  // namespace

std::optional<SplitVocab> split_vocab(std::string_view text) {
  Scanner s(text);
  SplitVocab out;
  size_t vocab_begin = 0, vocab_end = 0;
  bool seen_model = false, seen_vocab = false;
  const bool ok = s.object([&](const std::string& key) {
    if (key != "model") return s.skip_value(1);
    if (seen_model) return false;
    seen_model = true;
    return s.object([&](const std::string& member) {
      if (member != "vocab") return s.skip_value(2);
      if (seen_vocab || !s.peek('{')) return false;
      seen_vocab = true;
      vocab_begin = s.pos();
      if (!read_vocab(s, out.entries)) return false;
      vocab_end = s.pos();
      return true;
    });
  });
  if (!ok || !s.at_end() || !seen_vocab) return std::nullopt;

  // Each key to its last id (the DOM's rule) is all a loader takes from the entries when no
  // id repeats: it inserts them into maps with overwrite, so the order cannot matter and file
  // order is kept. Repeated ids are resolved in the loaders' id tables by order, so then the
  // DOM's order is reproduced exactly: keys sorted bytewise, the last of equal keys kept.
  int32_t max_id = -1;
  for (const auto& e : out.entries) max_id = std::max(max_id, e.second);
  bool ids_repeat = static_cast<size_t>(max_id) > 8 * out.entries.size() + 1024;
  if (!ids_repeat) {
    std::vector<uint8_t> seen(static_cast<size_t>(max_id) + 1, 0);
    for (const auto& e : out.entries) {
      if (seen[static_cast<size_t>(e.second)]++) {
        ids_repeat = true;
        break;
      }
    }
  }
  if (ids_repeat) {
    // Sorting indices (ties by position) moves 4 bytes instead of a string per step.
    std::vector<uint32_t> order(out.entries.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      const int c = out.entries[a].first.compare(out.entries[b].first);
      return c < 0 || (c == 0 && a < b);
    });
    VocabEntries sorted;
    sorted.reserve(order.size());
    for (size_t r = 0; r < order.size(); ++r) {
      if (r + 1 < order.size() && out.entries[order[r + 1]].first == out.entries[order[r]].first)
        continue;
      sorted.push_back(std::move(out.entries[order[r]]));
    }
    out.entries = std::move(sorted);
  }

  out.rest.reserve(text.size() - (vocab_end - vocab_begin) + 2);
  out.rest.append(text.substr(0, vocab_begin)).append("{}").append(text.substr(vocab_end));
  return out;
}

}  // namespace ripvec::tok
