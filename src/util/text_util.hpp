// Small UTF-8 helpers shared by the walker and the chunker.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ripvec::text {

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s);

// Copy of s with every invalid sequence replaced by U+FFFD (one per maximal invalid prefix).
std::string sanitize_utf8(std::string_view s);

// The largest n' <= n such that s[0, n') ends on a code-point boundary (s assumed valid).
size_t utf8_floor(std::string_view s, size_t n);

// s without leading and trailing ASCII whitespace.
std::string_view trim(std::string_view s);

// s trimmed, with every run of whitespace collapsed to one space, cut to at most `max` bytes on
// a code-point boundary (s assumed valid UTF-8). *cut (when given) says whether it was cut.
std::string squash(std::string_view s, size_t max, bool* cut = nullptr);

}  // namespace ripvec::text
