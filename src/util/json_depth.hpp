// Nesting limit for the JSON files ripvec reads (config.json, sentence-transformers files,
// tokenizer.json, safetensors headers).
//
// nlohmann::json parses iteratively, but dump(), copies and comparisons recurse once per
// nesting level: a small hostile file of 200,000 '[' overflows the stack in the first error
// message that quotes a value. Real files nest a handful of levels, so readers refuse deeper
// text before parsing it.
#pragma once

#include <string_view>

namespace ripvec {

// Deepest nesting of '{' / '[' in `text`, ignoring brackets inside strings. Stops scanning as
// soon as the depth exceeds `limit` (returns limit + 1 then), so the cost is one pass at most.
int json_nesting_depth(std::string_view text, int limit);

// Deeper than any JSON file ripvec reads (tokenizer.json, the deepest, nests 6 levels).
inline constexpr int kMaxJsonNesting = 64;

}  // namespace ripvec
