// JSON-RPC 2.0 messages (internal to the protocol servers): strict parsing and validation of
// one frame's bytes into a request, notification or response, and the error objects the
// specification prescribes for everything else. Never throws on bad input.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ripvec::jsonrpc {

using json = nlohmann::json;

// Error codes of JSON-RPC 2.0 and the ones MCP / LSP add.
namespace code {
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kServerNotInitialized = -32002;  // LSP
inline constexpr int kResourceNotFound = -32002;      // MCP resources/read
inline constexpr int kRequestCancelled = -32800;      // LSP
inline constexpr int kContentModified = -32801;       // LSP
}  // namespace code

// Thrown by method handlers; becomes the error response of that request.
class RpcError : public std::runtime_error {
 public:
  RpcError(int code, const std::string& message, json data = nullptr)
      : std::runtime_error(message), code_(code), data_(std::move(data)) {}
  int code() const { return code_; }
  const json& data() const { return data_; }

 private:
  int code_;
  json data_;
};

struct Message {
  enum class Kind { Request, Notification, Response };
  Kind kind = Kind::Notification;
  json id;  // Request / Response: a string, an integer or null
  std::string method;
  json params;  // absent params are null; otherwise an object or an array
  json result;  // Response: result or error (exactly one is set)
  json error;
  bool is_error() const { return kind == Kind::Response && !error.is_null(); }
};

// The outcome of parsing one frame: either a message, or the error response to send back
// (id null unless a valid id could be read from the invalid request).
struct Parsed {
  std::optional<Message> message;
  std::optional<json> error_response;
};

// Parses one frame's bytes. Rejects with -32700 text that is not JSON (including invalid UTF-8,
// numbers out of range, nesting deeper than max_depth and more than max_values values — array
// elements, members and containers — both checked before parsing, so that no recursive code
// sees the one and no parse allocates for the other), with -32600 anything that is JSON but
// not a JSON-RPC 2.0 message (batches included: MCP 2025-06-18 and LSP do not use them).
Parsed parse_message(std::string_view text, size_t max_depth = 128,
                     size_t max_values = size_t(1) << 20);

// True when the array/object nesting of `text` (outside strings) exceeds max_depth.
bool nesting_exceeds(std::string_view text, size_t max_depth);

json make_result(const json& id, json result);
json make_error(const json& id, int code, const std::string& message, const json& data = nullptr);
json make_notification(const std::string& method, json params);
json make_request(const json& id, const std::string& method, json params);

// Serialises a message for the wire: compact, invalid UTF-8 in strings replaced by U+FFFD
// (never throws), no raw newlines.
std::string serialize(const json& message);

}  // namespace ripvec::jsonrpc
