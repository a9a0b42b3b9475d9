#include "jsonrpc/message.hpp"

#include <cstdint>

namespace ripvec::jsonrpc {

namespace {

// One pass over the text outside strings: the deepest array/object nesting, and the number of
// values (1 + containers + commas: at least the elements and members there are). Stops as soon
// as either exceeds its bound.
struct Shape {
  bool too_deep = false, too_many = false;
};
Shape scan(std::string_view text, size_t max_depth, size_t max_values) {
  size_t depth = 0, values = 1;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return {true, false};
        [[fallthrough]];
      case ',':
        if (++values > max_values) return {false, true};
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return {};
}

}  // namespace

bool nesting_exceeds(std::string_view text, size_t max_depth) {
  return scan(text, max_depth, SIZE_MAX).too_deep;
}

namespace {

bool valid_id(const json& id) {
  // JSON-RPC allows strings, numbers and null; fractional numbers SHOULD NOT be used and no
  // client of ours sends them, so only integers are accepted.
  return id.is_string() || id.is_number_integer() || id.is_null();
}

Parsed reject(const json& id, int code_value, const std::string& msg) {
  Parsed p;
  p.error_response = make_error(id, code_value, msg);
  return p;
}

}  // namespace

Parsed parse_message(std::string_view text, size_t max_depth, size_t max_values) {
  const Shape shape = scan(text, max_depth, max_values);
  if (shape.too_deep)
    return reject(nullptr, code::kParseError,
                  "Parse error: nesting deeper than " + std::to_string(max_depth) + " levels");
  // A parsed value costs tens of bytes against the one to three it takes in the text: a 60 MB
  // line of 20 million empty arrays took the MCP server to 3.4 GB (hostile probe 2026-12-06).
  if (shape.too_many)
    return reject(nullptr, code::kParseError,
                  "Parse error: more than " + std::to_string(max_values) + " values in a message");
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    return reject(nullptr, code::kParseError, std::string("Parse error: ") + e.what());
  }
  if (j.is_array())
    return reject(nullptr, code::kInvalidRequest,
                  j.empty() ? "Invalid Request: empty batch"
                            : "Invalid Request: JSON-RPC batches are not supported");
  if (!j.is_object())
    return reject(nullptr, code::kInvalidRequest, "Invalid Request: not an object");

  json id = nullptr;
  bool has_id = j.contains("id");
  if (has_id) {
    if (!valid_id(j["id"]))
      return reject(nullptr, code::kInvalidRequest,
                    "Invalid Request: id must be a string, an integer or null");
    id = j["id"];
  }
  auto jv = j.find("jsonrpc");
  if (jv == j.end() || !jv->is_string() || jv->get_ref<const std::string&>() != "2.0")
    return reject(id, code::kInvalidRequest, "Invalid Request: \"jsonrpc\" must be \"2.0\"");

  Message m;
  auto method = j.find("method");
  if (method != j.end()) {
    if (!method->is_string())
      return reject(id, code::kInvalidRequest, "Invalid Request: method must be a string");
    if (j.contains("result") || j.contains("error"))
      return reject(id, code::kInvalidRequest,
                    "Invalid Request: a request cannot carry result or error");
    // MCP and LSP both say a request's id is a string or an integer, never null (JSON-RPC only
    // discourages it): a null id was answered as a request (hostile probe 2026-12-05).
    if (has_id && id.is_null())
      return reject(nullptr, code::kInvalidRequest,
                    "Invalid Request: a request id must not be null");
    m.method = method->get<std::string>();
    auto params = j.find("params");
    // "params": null is taken as no params: JSON-RPC wants them left out, but clients send null
    // for shutdown and exit, and refusing the exit left the server running (hostile probe
    // 2026-12-05, fifth round).
    if (params != j.end() && !params->is_null()) {
      if (!params->is_object() && !params->is_array())
        return reject(id, code::kInvalidRequest,
                      "Invalid Request: params must be an object or an array");
      m.params = std::move(*params);
    }
    m.kind = has_id ? Message::Kind::Request : Message::Kind::Notification;
    m.id = std::move(id);
    Parsed p;
    p.message = std::move(m);
    return p;
  }
  // A response (to a request the server sent).
  bool has_result = j.contains("result"), has_error = j.contains("error");
  if (!has_id || has_result == has_error)
    return reject(id, code::kInvalidRequest,
                  "Invalid Request: no method, and not a response with exactly one of "
                  "result/error and an id");
  if (has_error) {
    const json& e = j["error"];
    if (!e.is_object() || !e.contains("code") || !e["code"].is_number_integer() ||
        !e.contains("message") || !e["message"].is_string())
      return reject(id, code::kInvalidRequest,
                    "Invalid Request: error must be an object with an integer code and a message");
    m.error = e;
  } else {
    m.result = j["result"];
  }
  m.kind = Message::Kind::Response;
  m.id = std::move(id);
  Parsed p;
  p.message = std::move(m);
  return p;
}

json make_result(const json& id, json result) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json make_error(const json& id, int code_value, const std::string& message, const json& data) {
  json err{{"code", code_value}, {"message", message}};
  if (!data.is_null()) err["data"] = data;
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
}

json make_notification(const std::string& method, json params) {
  json n{{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) n["params"] = std::move(params);
  return n;
}

json make_request(const json& id, const std::string& method, json params) {
  json r{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) r["params"] = std::move(params);
  return r;
}

std::string serialize(const json& message) {
  return message.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace ripvec::jsonrpc
