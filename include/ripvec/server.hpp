// Long-running front ends over stdio: the Model Context Protocol server (`ripvec mcp`) and the
// Language Server Protocol server (`ripvec lsp`). Both load the model once, open one Index per
// project root through the library API (include/ripvec/index.hpp) and keep it open, and answer
// until the client closes the stream.
//
// Errors: serve_mcp returns 0 when the input ends and 1 when the peer breaks the framing for good
// (a truncated stream, a write failure); serve_lsp's codes are below. Malformed messages, unknown
// methods and bad arguments are answered with JSON-RPC errors (or MCP tool errors) and never end
// the session. A model that cannot be loaded is reported by each request that needs it, so the
// protocol stays usable.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "ripvec/embedder.hpp"
#include "ripvec/index.hpp"

namespace ripvec {

struct ServerOptions {
  // Empty: MCP serves the current directory; LSP the client's workspace folders, else its
  // rootUri or rootPath, else the current directory (indexed only if it belongs to a project).
  std::vector<std::filesystem::path> roots;
  EmbedderOptions embedder;
  IndexOptions index;  // progress, cancelled and when_busy are set by the server
  bool watch = true;   // keep indexes current with a file watcher while serving
  double watch_debounce_s = 2.0;
  size_t max_roots = 16;  // roots opened on demand (tool argument "root") beyond this are refused
  bool debug = false;     // log every request on stderr
};

// Serves MCP (newline-delimited JSON-RPC, protocol revisions 2024-11-05 to 2025-11-25) on the
// given file descriptors. Logs go to the client (notifications/message) and to stderr.
int serve_mcp(const ServerOptions& opts, int in_fd = 0, int out_fd = 1);

// Serves LSP 3.17 (Content-Length framed JSON-RPC) on the given file descriptors. Returns 0 at a
// clean end ("exit" after "shutdown", or the end of input), 1 for "exit" without "shutdown" (the
// code LSP prescribes), 2 when the stream broke (inside a frame, a read or write error).
int serve_lsp(const ServerOptions& opts, int in_fd = 0, int out_fd = 1);

}  // namespace ripvec
