// Standard base64 (RFC 4648 §4, with '=' padding): how byte strings that are not UTF-8 (file
// names on Linux) travel losslessly through JSON, in the manifest and in `--json` output.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ripvec {

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not canonical padded base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ripvec
