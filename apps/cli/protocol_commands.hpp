// `ripvec map`, `ripvec mcp` and `ripvec lsp`: their flags (declared in cmd_protocol.cpp, next to
// the main table in flags.cpp) and entry points. They use only the public API (include/ripvec/).
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace ripvec::cli {

struct ProtocolOptions {
  // map
  std::string map_path = ".";
  std::vector<std::string> focus;
  size_t tokens = 1500;
  bool tokens_given = false;  // --tokens on the command line (it then also cuts --json)
  bool json = false;
  // mcp / lsp
  std::vector<std::string> roots;  // empty: the current directory
  std::string model, device = "auto", precision = "auto", cache_dir;
  bool repo_local = false;
  bool no_watch = false;
  bool debug = false;
};

struct ProtocolCommands {
  CLI::App* map = nullptr;
  CLI::App* mcp = nullptr;
  CLI::App* lsp = nullptr;
};

ProtocolCommands add_protocol_commands(CLI::App& app, ProtocolOptions& o);
// The exit status of the parsed protocol command, or -1 when none of them was given.
int run_protocol_command(const ProtocolCommands& cmds, const ProtocolOptions& o);

int run_map(const ProtocolOptions& o);
int run_mcp(const ProtocolOptions& o);
int run_lsp(const ProtocolOptions& o);

}  // namespace ripvec::cli
