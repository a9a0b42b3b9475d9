// Text helpers for the LSP server (internal to src/server): file URIs, UTF-16 positions (LSP's
// default encoding) against UTF-8 lines, and the identifier under a cursor.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ripvec::server {

// "file:///a%20b/c.py" -> "/a b/c.py" (scheme and host "localhost" in any case); "" when not
// a local file URI. A query or fragment is not part of the path.
std::string uri_to_path(std::string_view uri);
// "/a b/c.py" -> "file:///a%20b/c.py"
std::string path_to_uri(std::string_view path);

// Lines of text without their terminators ("\n" or "\r\n").
std::vector<std::string_view> text_lines(std::string_view text);
// UTF-16 code units of line[0, byte_col).
int utf16_column(std::string_view line, size_t byte_col);
// Byte offset in line of UTF-16 column `col` (clamped to the line).
size_t byte_column(std::string_view line, int col);
// True for a byte that can be part of an identifier: an ASCII letter or digit, '_', '$', or any
// byte of a non-ASCII character.
bool is_identifier_byte(char c);
// The identifier (letters, digits, '_', '$', non-ASCII) around byte column `col` of `line`, or "".
std::string identifier_at(std::string_view line, size_t col, size_t* start = nullptr);
// Byte offset of the first whole-word occurrence of `word` in `line` at or after `from` (no
// identifier byte right before or after it), or npos; npos for an empty word.
size_t find_word(std::string_view line, std::string_view word, size_t from = 0);

}  // namespace ripvec::server
