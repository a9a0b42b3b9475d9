// The MCP tools of `ripvec mcp` (internal to src/server): their JSON Schemas and what they do.
// Argument errors and failures inside a tool become tool results with isError (the model can
// read them and retry); only an unknown tool is a protocol error.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/workspace.hpp"

namespace ripvec::server {

using json = nlohmann::json;

struct ToolCall {
  Workspace& ws;
  ProgressFn progress;              // forwards indexing progress to the client (may be empty)
  std::function<bool()> cancelled;  // the client cancelled the request
};

struct ToolResult {
  std::string text;  // Markdown for the model
  json structured;   // null or an object matching the tool's outputSchema
  bool is_error = false;
};

struct Tool {
  std::string name, title, description;
  json input_schema, output_schema;  // output_schema null: none declared
  std::function<ToolResult(const json& args, ToolCall& call)> run;
};

const std::vector<Tool>& mcp_tools();
const Tool* find_tool(const std::string& name);

// The Markdown and JSON of `get_repo_map` / resource ripvec://repo-map and of `index_status` /
// resource ripvec://status (shared by tools and resources).
std::string repo_map_markdown(Workspace& ws, const std::string& root, const std::string& focus,
                              size_t token_budget, const CancelFn& cancelled = {});
json status_json(Workspace& ws, const std::string& root);
std::string status_markdown(const json& status);

}  // namespace ripvec::server
