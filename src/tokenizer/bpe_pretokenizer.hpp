// The ByteLevel pre-tokenizer of HF tokenizers: the GPT-2 split regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// implemented as a hand-written scanner (same leftmost-first alternation and backtracking
// results as Oniguruma), and the GPT-2 byte -> printable code point table.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ripvec::bpe_detail {

// Appends to *out the [begin, end) byte ranges of the pieces of `text` (valid UTF-8) under the
// GPT-2 regex. The pieces cover `text` exactly, in order, and none is empty.
void split_gpt2(std::string_view text, std::vector<std::pair<size_t, size_t>>* out);

// GPT-2's bytes_to_unicode(): printable bytes map to themselves, the other 68 bytes to
// U+0100.. in byte order. Entry b is the UTF-8 encoding of the code point for byte b.
const std::array<std::string, 256>& byte_to_unicode();

}  // namespace ripvec::bpe_detail
