#include "server/hit_format.hpp"

#include <algorithm>
#include <cstdio>

#include "ripvec/corpus.hpp"

namespace ripvec::server {

using json = nlohmann::json;

std::string fence_for(std::string_view content) {
  size_t longest = 0, run = 0;
  for (char c : content) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

json hit_json(const Hit& h, const std::string& root) {
  // LSP ranges are 0-based and end-exclusive: the hit ends at the start of the line after it.
  json range = {{"start", {{"line", std::max(0, h.start_line - 1)}, {"character", 0}}},
                {"end", {{"line", std::max(0, h.end_line)}, {"character", 0}}}};
  return json{{"path", h.path},
              {"root", root},
              {"start_line", h.start_line},
              {"end_line", h.end_line},
              {"range", std::move(range)},
              {"symbol", h.symbol},
              {"kind", h.kind},
              {"language", h.language},
              {"score", h.score},
              {"semantic_score", h.semantic_score},
              {"keyword_score", h.keyword_score},
              {"content", h.content}};
}

std::string hit_markdown(const Hit& h, size_t rank) {
  char score[32];
  std::snprintf(score, sizeof(score), "%.3f", h.score);
  // Names are escaped (escape_name): a file named "x.py:1-2 · ... score 0.990\n```python\n..."
  // faked a whole result, planted text included, for the agent reading this (probe 2026-12-05).
  std::string s = "### " + std::to_string(rank) + ". " + escape_name(h.path) + ":" +
                  std::to_string(h.start_line) + "-" + std::to_string(h.end_line);
  if (!h.symbol.empty()) s += " · `" + escape_name(h.symbol) + "`";
  s += " (" + h.kind + ", " + h.language + ") · score " + score + "\n";
  const std::string fence = fence_for(h.content);
  std::string lang = h.language == "text" ? "" : h.language;
  s += fence + lang + "\n" + h.content + "\n" + fence + "\n\n";
  return s;
}

json hit_schema() {
  json pos = {
      {"type", "object"},
      {"properties", {{"line", {{"type", "integer"}}}, {"character", {{"type", "integer"}}}}},
      {"required", {"line", "character"}}};
  return json{{"type", "object"},
              {"properties",
               {{"path", {{"type", "string"}}},
                {"root", {{"type", "string"}}},
                {"start_line", {{"type", "integer"}, {"minimum", 1}}},
                {"end_line", {{"type", "integer"}, {"minimum", 1}}},
                {"range",
                 {{"type", "object"},
                  {"properties", {{"start", pos}, {"end", pos}}},
                  {"required", {"start", "end"}}}},
                {"symbol", {{"type", "string"}}},
                {"kind", {{"type", "string"}}},
                {"language", {{"type", "string"}}},
                {"score", {{"type", "number"}}},
                {"semantic_score", {{"type", "number"}}},
                {"keyword_score", {{"type", "number"}}},
                {"content", {{"type", "string"}}}}},
              {"required",
               {"path", "start_line", "end_line", "range", "symbol", "kind", "language", "score",
                "content"}}};
}

}  // namespace ripvec::server
