// `ripvec lsp`: the LSP server on stdin/stdout (see include/ripvec/server.hpp).
#include "protocol_commands.hpp"
#include "ripvec/server.hpp"

namespace ripvec::cli {

// In cmd_mcp.cpp.
ServerOptions server_options(const ProtocolOptions& o);

int run_lsp(const ProtocolOptions& o) {
  return serve_lsp(server_options(o));  // 0, 1 (exit without shutdown, as LSP says) or 2
}

}  // namespace ripvec::cli
