// `ripvec mcp`: the Model Context Protocol over stdio (newline-delimited JSON-RPC 2.0).
// Lifecycle: initialize (version negotiation) -> notifications/initialized -> requests.
// Capabilities: tools, resources (ripvec://repo-map, ripvec://status), logging. Requests run on
// worker threads, so ping and notifications/cancelled are answered while a tool runs; a
// cancelled request gets no response (MCP). Indexing sends notifications/progress to requests
// that carry _meta.progressToken.
#include <chrono>
#include <csignal>
#include <cstdio>

#include "jsonrpc/endpoint.hpp"
#include "ripvec/error.hpp"
#include "ripvec/server.hpp"
#include "server/mcp_tools.hpp"
#include "server/watcher.hpp"
#include "server/workspace.hpp"

#ifndef RIPVEC_VERSION_STRING
#define RIPVEC_VERSION_STRING "0.1.0"
#endif

namespace ripvec {

namespace {

using jsonrpc::json;
using jsonrpc::RpcError;
namespace code = jsonrpc::code;

const char* const kVersions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
const char* const kLevels[] = {"debug", "info",     "notice", "warning",
                               "error", "critical", "alert",  "emergency"};

int level_rank(const std::string& l) {
  for (int i = 0; i < 8; ++i)
    if (l == kLevels[i]) return i;
  return -1;
}

const char* phase_word(IndexProgress::Phase p) {
  switch (p) {
    case IndexProgress::Phase::Scanning:
      return "Scanning";
    case IndexProgress::Phase::Chunking:
      return "Chunking";
    case IndexProgress::Phase::Embedding:
      return "Embedding";
    case IndexProgress::Phase::Writing:
      return "Writing";
    case IndexProgress::Phase::Done:
      return "Done";
  }
  return "";
}

class McpServer {
 public:
  McpServer(const ServerOptions& opts, int in_fd, int out_fd)
      : in_(in_fd),
        out_(out_fd),
        endpoint_(in_, out_, endpoint_options()),
        ws_(opts, [this](const std::string& level, const std::string& msg) { log(level, msg); }),
        debug_(opts.debug) {
    register_methods();
  }

  int run() {
    ws_.preload();
    if (ws_.options().watch) {
      watcher_ = std::make_unique<server::Watcher>(ws_, ws_.options().watch_debounce_s);
      watcher_->start();
    }
    int rc = endpoint_.run();
    if (rc != 0 && !endpoint_.end_error().empty())
      std::fprintf(stderr, "ripvec mcp: error: %s\n", endpoint_.end_error().c_str());
    if (watcher_) watcher_->stop();
    return rc;
  }

 private:
  static jsonrpc::Endpoint::Options endpoint_options() {
    jsonrpc::Endpoint::Options o;
    o.framing = jsonrpc::Framing::Newline;
    o.workers = 4;
    o.on_cancel = jsonrpc::Endpoint::OnCancel::Silent;
    return o;
  }

  void log(const std::string& level, const std::string& msg) {
    if (debug_ || level_rank(level) >= level_rank("warning"))
      std::fprintf(stderr, "ripvec mcp: %s: %s\n", level.c_str(), msg.c_str());
    if (!initialized_ || level_rank(level) < min_level_) return;
    endpoint_.notify("notifications/message",
                     json{{"level", level}, {"logger", "ripvec"}, {"data", msg}});
  }

  static const json& params_object(jsonrpc::Context& c) {
    static const json empty = json::object();
    if (c.params().is_null()) return empty;
    if (!c.params().is_object()) throw RpcError(code::kInvalidParams, "params must be an object");
    return c.params();
  }

  server::ProgressFn progress_for(jsonrpc::Context& c) {
    const json& p = c.params();
    if (!p.is_object() || !p.contains("_meta") || !p["_meta"].is_object() ||
        !p["_meta"].contains("progressToken"))
      return nullptr;
    json token = p["_meta"]["progressToken"];
    if (!token.is_string() && !token.is_number_integer()) return nullptr;
    auto counter = std::make_shared<int64_t>(0);
    return [this, token, counter](const IndexProgress& ip) {
      // MCP wants progress to increase with each notification; the phases restart their own
      // counts, so the value is a running count and the message carries the detail.
      json params = {{"progressToken", token}, {"progress", ++*counter}};
      std::string msg = std::string(phase_word(ip.phase));
      if (ip.phase == IndexProgress::Phase::Embedding && ip.chunks_total)
        msg += " " + std::to_string(ip.chunks_done) + "/" + std::to_string(ip.chunks_total) +
               " chunks";
      else if (ip.files_total)
        msg +=
            " " + std::to_string(ip.files_done) + "/" + std::to_string(ip.files_total) + " files";
      params["message"] = msg;
      endpoint_.notify("notifications/progress", std::move(params));
    };
  }

  void register_methods() {
    endpoint_.set_gate([this](const std::string& method) -> std::optional<RpcError> {
      if (debug_) std::fprintf(stderr, "ripvec mcp: <- %s\n", method.c_str());
      if (initialize_answered_ || method == "initialize" || method == "ping") return std::nullopt;
      static const char* const kKnown[] = {"tools/list",
                                           "tools/call",
                                           "resources/list",
                                           "resources/read",
                                           "resources/templates/list",
                                           "logging/setLevel"};
      for (const char* k : kKnown)
        if (method == k)
          return RpcError(code::kInvalidRequest, "server not initialized: send initialize first");
      return std::nullopt;
    });

    endpoint_.on_request(
        "initialize",
        [this](jsonrpc::Context& c) {
          // The lifecycle has one initialization: a second one mid-session was answered as the
          // first (hostile probe 2026-12-05).
          if (initialize_answered_)
            throw RpcError(code::kInvalidRequest, "initialize: the session is already initialized");
          const json& p = params_object(c);
          if (!p.contains("protocolVersion") || !p["protocolVersion"].is_string())
            throw RpcError(code::kInvalidParams,
                           "initialize: protocolVersion (string) is required");
          std::string wanted = p["protocolVersion"];
          std::string version = kVersions[0];
          for (const char* v : kVersions)
            if (wanted == v) version = v;
          initialize_answered_ = true;
          return json{
              {"protocolVersion", version},
              {"capabilities",
               {{"tools", {{"listChanged", false}}},
                {"resources", {{"subscribe", false}, {"listChanged", false}}},
                {"logging", json::object()}}},
              {"serverInfo",
               {{"name", "ripvec"},
                {"title", "ripvec semantic code search"},
                {"version", RIPVEC_VERSION_STRING}}},
              {"instructions",
               "ripvec searches this project's code by meaning. Use search_code to find where "
               "something is implemented (describe it in words), search_text for docs, "
               "find_similar for code like a given location, get_repo_map for an overview of "
               "the important files and definitions. The index stays current while the server "
               "runs."}};
        },
        /*inline_=*/true);
    endpoint_.on_notification("notifications/initialized",
                              [this](const json&) { initialized_ = true; });
    endpoint_.on_request(
        "ping", [](jsonrpc::Context&) { return json::object(); }, true);
    endpoint_.on_notification("notifications/cancelled", [this](const json& p) {
      if (p.is_object() && p.contains("requestId")) endpoint_.cancel(p["requestId"]);
    });
    endpoint_.on_request(
        "logging/setLevel",
        [this](jsonrpc::Context& c) {
          const json& p = params_object(c);
          if (!p.contains("level") || !p["level"].is_string() ||
              level_rank(p["level"].get<std::string>()) < 0)
            throw RpcError(code::kInvalidParams,
                           "logging/setLevel: level must be one of debug, info, notice, warning, "
                           "error, critical, alert, emergency");
          min_level_ = level_rank(p["level"].get<std::string>());
          return json::object();
        },
        true);

    endpoint_.on_request(
        "tools/list",
        [](jsonrpc::Context&) {
          json tools = json::array();
          for (const auto& t : server::mcp_tools()) {
            json j = {
                {"name", t.name},
                {"title", t.title},
                {"description", t.description},
                {"inputSchema", t.input_schema},
                {"annotations", {{"readOnlyHint", t.name != "reindex"}, {"openWorldHint", false}}}};
            if (!t.output_schema.is_null()) j["outputSchema"] = t.output_schema;
            tools.push_back(std::move(j));
          }
          return json{{"tools", std::move(tools)}};
        },
        true);
    endpoint_.on_request("tools/call", [this](jsonrpc::Context& c) { return call_tool(c); });

    endpoint_.on_request(
        "resources/list",
        [](jsonrpc::Context&) {
          return json{{"resources",
                       {{{"uri", "ripvec://repo-map"},
                         {"name", "repo-map"},
                         {"title", "Repository map"},
                         {"description",
                          "Files ranked by PageRank with their main definitions "
                          "(first served root, 1500 tokens)"},
                         {"mimeType", "text/markdown"}},
                        {{"uri", "ripvec://status"},
                         {"name", "status"},
                         {"title", "Index status"},
                         {"description", "The index of every served root"},
                         {"mimeType", "application/json"}}}}};
        },
        true);
    endpoint_.on_request(
        "resources/templates/list",
        [](jsonrpc::Context&) {
          return json{{"resourceTemplates", json::array()}};
        },
        true);
    endpoint_.on_request("resources/read", [this](jsonrpc::Context& c) {
      const json& p = params_object(c);
      if (!p.contains("uri") || !p["uri"].is_string())
        throw RpcError(code::kInvalidParams, "resources/read: uri (string) is required");
      const std::string uri = p["uri"];
      try {
        if (uri == "ripvec://repo-map") {
          return json{{"contents",
                       {{{"uri", uri},
                         {"mimeType", "text/markdown"},
                         {"text", server::repo_map_markdown(ws_, "", "", 1500)}}}}};
        }
        if (uri == "ripvec://status") {
          return json{{"contents",
                       {{{"uri", uri},
                         {"mimeType", "application/json"},
                         {"text", server::status_json(ws_, "").dump(
                                      2, ' ', false, json::error_handler_t::replace)}}}}};
        }
      } catch (const RpcError&) {
        throw;
      } catch (const std::exception& e) {
        throw RpcError(code::kInternalError, std::string("resources/read: ") + e.what());
      }
      throw RpcError(code::kResourceNotFound, "Resource not found", json{{"uri", uri}});
    });
  }

  json call_tool(jsonrpc::Context& c) {
    const json& p = params_object(c);
    if (!p.contains("name") || !p["name"].is_string())
      throw RpcError(code::kInvalidParams, "tools/call: name (string) is required");
    const std::string name = p["name"];
    const server::Tool* tool = server::find_tool(name);
    if (!tool) throw RpcError(code::kInvalidParams, "Unknown tool: " + name);
    static const json kNoArguments = json::object();
    const json& args = p.contains("arguments") ? p["arguments"] : kNoArguments;  // not copied
    server::ToolCall call{ws_, progress_for(c), [&c] { return c.cancelled(); }};
    server::ToolResult r;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      r = tool->run(args, call);
    } catch (const CancelledError&) {
      throw;  // the endpoint sends nothing for a cancelled request
    } catch (const std::bad_alloc&) {
      r.is_error = true;
      r.text = name + " failed: out of memory";
    } catch (const std::system_error& e) {
      r.is_error = true;
      r.text = name + " failed: " + describe_system_error(e);
    } catch (const std::exception& e) {
      r.is_error = true;
      r.text = name + " failed: " + e.what();
    }
    json result = {{"content", {{{"type", "text"}, {"text", r.text}}}}, {"isError", r.is_error}};
    if (!r.is_error && !r.structured.is_null()) result["structuredContent"] = r.structured;
    if (debug_)  // where a request's time goes: the tool itself vs transport and client
      std::fprintf(
          stderr, "ripvec mcp: %s ran %.2f ms\n", name.c_str(),
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (r.is_error) log("warning", r.text);
    return result;
  }

  jsonrpc::FdSource in_;
  jsonrpc::FdSink out_;
  jsonrpc::Endpoint endpoint_;
  server::Workspace ws_;
  std::unique_ptr<server::Watcher> watcher_;
  bool debug_ = false;
  std::atomic<bool> initialized_{false}, initialize_answered_{false};
  std::atomic<int> min_level_{1};  // info
};

}  // namespace

int serve_mcp(const ServerOptions& opts, int in_fd, int out_fd) {
  // A client that goes away must end the session through a failed write, not SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  McpServer server(opts, in_fd, out_fd);
  return server.run();
}

}  // namespace ripvec
