#include "server/lsp_text.hpp"

#include <cctype>

namespace ripvec::server {

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ident_char(unsigned char c) {
  return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

// Length of the UTF-8 sequence starting with byte c (1 for invalid lead bytes).
size_t seq_len(unsigned char c) {
  if (c >= 0xF0) return 4;
  if (c >= 0xE0) return 3;
  if (c >= 0xC0) return 2;
  return 1;
}

}  // namespace

std::string uri_to_path(std::string_view uri) {
  // Scheme and host are case-insensitive (RFC 3986 3.1, 3.2.2): "FILE:///x" is a local file
  // (it was refused as not one: hostile probe 2026-12-06).
  const auto starts_nocase = [&uri](std::string_view p) {
    if (uri.size() < p.size()) return false;
    for (size_t i = 0; i < p.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(uri[i])) != p[i]) return false;
    return true;
  };
  constexpr std::string_view kScheme = "file://";
  if (!starts_nocase(kScheme)) return {};
  uri.remove_prefix(kScheme.size());
  // "file://host/path": only an empty host or localhost is local.
  if (!uri.starts_with("/")) {
    if (!starts_nocase("localhost/")) return {};
    uri.remove_prefix(9);
  }
  std::string out;
  for (size_t i = 0; i < uri.size(); ++i) {
    if (uri[i] == '%' && i + 2 < uri.size() + 0 && hex(uri[i + 1]) >= 0 && hex(uri[i + 2]) >= 0) {
      const char c = static_cast<char>(hex(uri[i + 1]) * 16 + hex(uri[i + 2]));
      // No file name holds NUL: "util.py%00.txt" was cut at it and answered as util.py (hostile
      // probe 2026-12-05, fifth round). Not a local file.
      if (c == '\0') return {};
      out.push_back(c);
      i += 2;
    } else if (uri[i] == '?' || uri[i] == '#') {
      break;
    } else {
      out.push_back(uri[i]);
    }
  }
  return out;
}

std::string path_to_uri(std::string_view path) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out = "file://";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::vector<std::string_view> text_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t b = 0;
  for (;;) {
    size_t e = text.find('\n', b);
    std::string_view l =
        text.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    lines.push_back(l);
    if (e == std::string_view::npos) break;
    b = e + 1;
  }
  return lines;
}

int utf16_column(std::string_view line, size_t byte_col) {
  int units = 0;
  for (size_t i = 0; i < line.size() && i < byte_col;) {
    size_t n = seq_len(static_cast<unsigned char>(line[i]));
    units += n == 4 ? 2 : 1;
    i += n;
  }
  return units;
}

size_t byte_column(std::string_view line, int col) {
  int units = 0;
  size_t i = 0;
  while (i < line.size() && units < col) {
    size_t n = seq_len(static_cast<unsigned char>(line[i]));
    units += n == 4 ? 2 : 1;
    i += n;
  }
  return std::min(i, line.size());
}

bool is_identifier_byte(char c) {
  return ident_char(static_cast<unsigned char>(c));
}

size_t find_word(std::string_view line, std::string_view word, size_t from) {
  if (word.empty()) return std::string_view::npos;
  for (size_t p = line.find(word, from); p != std::string_view::npos; p = line.find(word, p + 1)) {
    const size_t end = p + word.size();
    if ((p == 0 || !is_identifier_byte(line[p - 1])) &&
        (end == line.size() || !is_identifier_byte(line[end])))
      return p;
  }
  return std::string_view::npos;
}

std::string identifier_at(std::string_view line, size_t col, size_t* start) {
  if (col > line.size()) col = line.size();
  size_t b = col, e = col;
  while (b > 0 && ident_char(static_cast<unsigned char>(line[b - 1]))) --b;
  while (e < line.size() && ident_char(static_cast<unsigned char>(line[e]))) ++e;
  if (b == e || std::isdigit(static_cast<unsigned char>(line[b]))) return {};
  if (start) *start = b;
  return std::string(line.substr(b, e - b));
}

}  // namespace ripvec::server
