// How search hits look to protocol clients (internal to src/server): JSON with 1-based lines and
// LSP-style 0-based ranges, and Markdown with the content in a fenced block of its language.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ripvec/index.hpp"

namespace ripvec::server {

// {path, root, start_line, end_line, range:{start:{line,character},end:{line,character}},
//  symbol, kind, language, score, semantic_score, keyword_score, content}
nlohmann::json hit_json(const Hit& h, const std::string& root);
// "### 1. path:12-30 · `symbol` (kind, language) · score 0.812\n```python\n...\n```\n"
std::string hit_markdown(const Hit& h, size_t rank);
// A code fence longer than any backtick run in content (so content cannot close it).
std::string fence_for(std::string_view content);
// The JSON Schema of one hit object (for outputSchema).
nlohmann::json hit_schema();

}  // namespace ripvec::server
