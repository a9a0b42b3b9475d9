#include "chunk/yaml_keys.hpp"

#include "util/text_util.hpp"

namespace ripvec::yaml {
namespace {

constexpr size_t kMaxName = 120;

// Multi-line state carried from one line to the next: inside a quoted scalar or a flow
// collection ([...] / {...}, which may hold quoted scalars of their own).
struct Scan {
  char quote = 0;  // '\'' or '"' while inside a quoted scalar
  int depth = 0;   // flow collection nesting
  bool open() const { return quote != 0 || depth > 0; }
};

// Scans s[i..] in the current state; returns when the line ends. A '#' after whitespace outside
// quotes starts a comment (flow content or nothing follows it on this line).
void scan(std::string_view s, size_t i, Scan& st) {
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (st.quote == '\'') {
      if (c == '\'') {
        if (i + 1 < s.size() && s[i + 1] == '\'')
          ++i;  // '' is an escaped quote
        else
          st.quote = 0;
      }
      continue;
    }
    if (st.quote == '"') {
      if (c == '\\')
        ++i;
      else if (c == '"')
        st.quote = 0;
      continue;
    }
    if (st.depth == 0) return;  // a plain scalar: nothing spans lines
    if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) return;
    if (c == '\'' || c == '"') {
      st.quote = c;
    } else if (c == '[' || c == '{') {
      ++st.depth;
    } else if (c == ']' || c == '}') {
      if (--st.depth <= 0) {
        st.depth = 0;
        return;
      }
    }
  }
}

// Starts scanning a value that begins at s[i]: skips anchors and tags ("&a !!map"), then opens a
// quote or flow collection if the value starts with one.
void scan_value(std::string_view s, size_t i, Scan& st) {
  for (;;) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i < s.size() && (s[i] == '&' || s[i] == '!')) {
      while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
      continue;
    }
    break;
  }
  if (i >= s.size()) return;
  if (s[i] == '\'' || s[i] == '"') {
    st.quote = s[i];
    scan(s, i + 1, st);
  } else if (s[i] == '[' || s[i] == '{') {
    st.depth = 1;
    scan(s, i + 1, st);
  }
}

bool marker(std::string_view l, std::string_view m) {  // "---" / "..." alone or before a space
  return l.starts_with(m) && (l.size() == m.size() || l[m.size()] == ' ' || l[m.size()] == '\t');
}

bool blank_or_comment(std::string_view l) {
  const std::string_view t = text::trim(l);
  return t.empty() || (l.starts_with("#"));
}

std::string clip(std::string_view s) {
  return std::string(s.substr(0, text::utf8_floor(s, kMaxName)));
}

// A column-0 key: its name and where its value starts, or false.
bool parse_key(std::string_view l, std::string* name, size_t* value_at) {
  if (l.empty()) return false;
  if (l[0] == '\'' || l[0] == '"') {
    const char q = l[0];
    size_t i = 1;
    std::string out;
    for (; i < l.size(); ++i) {
      if (q == '\'' && l[i] == '\'' && i + 1 < l.size() && l[i + 1] == '\'') {
        out.push_back('\'');
        ++i;
        continue;
      }
      if (q == '"' && l[i] == '\\' && i + 1 < l.size()) {
        out.push_back(l[++i]);
        continue;
      }
      if (l[i] == q) break;
      out.push_back(l[i]);
    }
    if (i >= l.size()) return false;  // a quoted scalar going on below: not a key
    ++i;
    while (i < l.size() && (l[i] == ' ' || l[i] == '\t')) ++i;
    if (i >= l.size() || l[i] != ':') return false;
    *name = clip(out);
    *value_at = i + 1;
    return true;
  }
  // A plain key ends at the first ':' followed by a space or the end of the line; " #" before
  // it starts a comment.
  for (size_t i = 0; i < l.size(); ++i) {
    if (l[i] == '#' && i > 0 && (l[i - 1] == ' ' || l[i - 1] == '\t')) return false;
    if (l[i] == ':' && (i + 1 == l.size() || l[i + 1] == ' ' || l[i + 1] == '\t')) {
      std::string_view k = text::trim(l.substr(0, i));
      if (k.empty()) return false;
      *name = clip(k);
      *value_at = i + 1;
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<TopKey> top_level_keys(const std::vector<std::string_view>& lines) {
  std::vector<TopKey> keys;
  const int n = static_cast<int>(lines.size());
  Scan st;
  int open = -1;                    // index in keys of the key whose value is running
  int floor = -1;                   // last row owned by something before the next key
  auto close = [&](int boundary) {  // boundary: first row not in the open key
    if (open < 0) return;
    TopKey& k = keys[open];
    int e = boundary - 1;
    while (e > k.key_row && blank_or_comment(lines[e])) --e;
    k.end = e;
    floor = e;
    open = -1;
  };
  for (int r = 0; r < n; ++r) {
    std::string_view l = lines[r];
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);  // CRLF files
    if (st.open()) {  // continuation of a quoted scalar or flow collection
      scan(l, 0, st);
      continue;
    }
    if (l.empty() || l[0] == ' ' || l[0] == '\t' || l[0] == '#') continue;  // value / comment
    const bool item = l[0] == '-' && (l.size() == 1 || l[1] == ' ' || l[1] == '\t');
    if (item && open >= 0) {  // "key:\n- a\n- b": a block sequence may sit at the key's column
      scan_value(l, 1, st);
      continue;
    }
    // Column 0: a key, or something that ends the running value.
    close(r);
    std::string name;
    size_t value_at = 0;
    if (marker(l, "---") || marker(l, "...") || l[0] == '%' || l[0] == '?' || item) {
      floor = r;
      if (l[0] == '-' || marker(l, "---")) scan_value(l, l[0] == '-' ? 1 : 3, st);
      continue;
    }
    if (l[0] == '[' || l[0] == '{' || !parse_key(l, &name, &value_at)) {
      floor = r;
      scan_value(l, 0, st);
      continue;
    }
    TopKey k;
    k.key_row = r;
    k.start = r;
    while (k.start - 1 > floor && lines[k.start - 1].starts_with("#")) --k.start;
    k.end = r;
    k.name = std::move(name);
    keys.push_back(std::move(k));
    open = static_cast<int>(keys.size()) - 1;
    scan_value(l, value_at, st);
  }
  close(n);
  return keys;
}

}  // namespace ripvec::yaml
