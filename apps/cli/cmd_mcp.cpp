// `ripvec mcp`: the MCP server on stdin/stdout (see include/ripvec/server.hpp).
#include "protocol_commands.hpp"
#include "ripvec/error.hpp"
#include "ripvec/server.hpp"

namespace ripvec::cli {

ServerOptions server_options(const ProtocolOptions& o) {
  ServerOptions s;
  for (const auto& r : o.roots) s.roots.emplace_back(r);
  if (!o.model.empty()) s.embedder.model = o.model;
  s.embedder.device = o.device == "cpu"    ? Device::Cpu
                      : o.device == "cuda" ? Device::Cuda
                                           : Device::Auto;
  s.embedder.precision = precision_from_name(o.precision).value_or(Precision::Auto);
  s.index.cache_dir = o.cache_dir;
  s.index.repo_local = o.repo_local;
  s.watch = !o.no_watch;
  s.debug = o.debug;
  return s;
}

int run_mcp(const ProtocolOptions& o) {
  return serve_mcp(server_options(o)) == 0 ? 0 : 2;
}

}  // namespace ripvec::cli
