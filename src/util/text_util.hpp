// Small text helpers shared by the walker, the chunker, the repo map and the LSP server.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ripvec::text {

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s);

// Length (1..4) of the strict UTF-8 sequence that starts at s[i] (i < s.size()), or 0 when the
// bytes there are not one.
size_t utf8_sequence_length(std::string_view s, size_t i);

// Length (2 or 3) of the character at s[i] when it reorders or breaks the text shown around it,
// else 0: the bidirectional controls U+061C, U+200E/F, U+202A-E, U+2066-9 ("Trojan Source") and
// the line and paragraph separators U+2028/9. Text from files or file names shown to a person
// must not carry them raw ("invoice\u202Eyp.txt" reads as "invoicetxt.py").
size_t reordering_control_length(std::string_view s, size_t i);

// Copy of s with every invalid sequence replaced by U+FFFD (one per maximal invalid prefix).
std::string sanitize_utf8(std::string_view s);

// The largest n' <= n such that s[0, n') ends on a code-point boundary (s assumed valid).
size_t utf8_floor(std::string_view s, size_t n);

// s without leading and trailing ASCII whitespace.
std::string_view trim(std::string_view s);

// s trimmed, with every run of whitespace collapsed to one space, cut to at most `max` bytes on
// a code-point boundary (s assumed valid UTF-8). *cut (when given) says whether it was cut.
std::string squash(std::string_view s, size_t max, bool* cut = nullptr);

// s with every lone '\r' (one not followed by '\n') made '\n': the same length, so every
// offset is kept. LSP and editors end a line there; tree-sitter and the line splitters count
// '\n' only (a file with old Mac line ends was one line to them).
std::string lone_cr_to_lf(std::string s);

}  // namespace ripvec::text
