// Flags of `ripvec map`, `ripvec mcp` and `ripvec lsp`.
#include "protocol_commands.hpp"

#include "flags.hpp"

namespace ripvec::cli {

namespace {

void add_server_flags(CLI::App& c, ProtocolOptions& o, const char* root_help) {
  c.add_option("--root", o.roots, root_help)->type_name("DIR")->check(kNonEmpty);
  c.add_option("--model", o.model,
               "Model: a Hugging Face id or a local directory "
               "(default sentence-transformers/all-MiniLM-L6-v2)")
      ->type_name("M")
      ->check(kNonEmpty);
  c.add_option("--device", o.device, "Where to run the model")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  c.add_option("--precision", o.precision, kPrecisionHelp)
      ->check(CLI::IsMember({"auto", "f32", "f16", "bf16", "int8"}))
      ->capture_default_str();
  c.add_option("--cache-dir", o.cache_dir, kCacheDirHelp)->type_name("DIR")->check(kNonEmpty);
  c.add_flag("--repo-local", o.repo_local, "Keep the index in <root>/.ripvec/");
  c.add_flag("--no-watch", o.no_watch, "Do not watch the tree for changes");
  c.add_flag("--debug", o.debug, "Log every request on stderr");
}

}  // namespace

ProtocolCommands add_protocol_commands(CLI::App& app, ProtocolOptions& o) {
  ProtocolCommands cmds;
  cmds.map = app.add_subcommand(
      "map", "Print a ranked map of the repository's definitions (PageRank over references)");
  cmds.map->add_option("path", o.map_path, "Directory to map (default .)")->type_name("PATH");
  // One FILE per --focus: taking every value that follows swallowed PATH (`--focus a.py src`
  // mapped the current directory).
  cmds.map
      ->add_option("--focus", o.focus,
                   "Personalise the ranking to FILE, relative to PATH (repeatable; a FILE "
                   "that is not in the map is an error)")
      ->type_name("FILE")
      ->check(kNonEmpty)
      ->allow_extra_args(false)
      ->type_size(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmds.map
      ->add_option("--tokens", o.tokens,
                   "Token budget of the map (1 token ~ 4 bytes); given with --json, the JSON "
                   "holds the top-ranked files that fit it (\"truncated\": true when some do "
                   "not), else every file")
      ->check(CLI::Range(size_t{16}, size_t{1} << 24))
      ->capture_default_str();
  cmds.map->add_flag("--json", o.json, "Print the ranked files and definitions as JSON");

  cmds.mcp = app.add_subcommand(
      "mcp", "Serve the Model Context Protocol on stdin/stdout (tools: search_code, ...)");
  add_server_flags(*cmds.mcp, o,
                   "Project root to serve (repeatable; default: the current directory); a tool's "
                   "\"root\" argument opens others");
  cmds.lsp = app.add_subcommand("lsp", "Serve the Language Server Protocol on stdin/stdout");
  add_server_flags(*cmds.lsp, o,
                   "Project root to serve (repeatable; default: the client's workspace folders, "
                   "else its rootUri or rootPath, else the current directory)");
  return cmds;
}

int run_protocol_command(const ProtocolCommands& cmds, const ProtocolOptions& o) {
  if (cmds.map && cmds.map->parsed()) {
    ProtocolOptions m = o;
    m.tokens_given = cmds.map->count("--tokens") > 0;
    return run_map(m);
  }
  if (cmds.mcp && cmds.mcp->parsed()) return run_mcp(o);
  if (cmds.lsp && cmds.lsp->parsed()) return run_lsp(o);
  return -1;
}

}  // namespace ripvec::cli
