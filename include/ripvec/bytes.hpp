// Byte strings that are not UTF-8 (file names on Linux are bytes), carried losslessly through
// JSON. Hit::path holds a file name's exact bytes; a front end writing JSON shows it with
// U+FFFD where it is not UTF-8 and adds the exact bytes in base64 (`ripvec --json`'s
// "path_b64"); the index manifest stores such names the same way. All functions are pure and
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ripvec {

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view s);

// Standard base64 (RFC 4648 §4, with '=' padding).
std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not canonical padded base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ripvec
