// `ripvec map [PATH] [--focus FILE] [--tokens N] [--json]`: the ranked repo map on stdout.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "output.hpp"
#include "protocol_commands.hpp"
#include "ripvec/error.hpp"
#include "ripvec/repo_map.hpp"

namespace ripvec::cli {

int run_map(const ProtocolOptions& o) {
  // The exit statuses of a search (0 results, 1 none, 2 error): PATH is checked as a search
  // checks it, so that a missing, special or unreadable PATH is an error, not an empty map (1).
  const std::string& p = o.map_path;
  check_path_argument(p);
  RepoGraph g = RepoGraph::build(p);
  // A --focus that names no file of the map would rank it as if no focus were given.
  if (const auto unknown = g.rank(o.focus); !unknown.empty())
    throw InvalidArgument("--focus " + escape_name(unknown.front()) +
                          ": not a file of the map (a path relative to " + escape_name(p) +
                          ", or absolute, of a file in a language with a grammar that the "
                          "ignore rules admit)");
  std::string out;
  if (o.json) {
    nlohmann::json files = nlohmann::json::array();
    for (const RepoFile& f : g.files()) {
      nlohmann::json defs = nlohmann::json::array();
      for (size_t d : f.definitions) {
        const RepoDefinition& def = g.definitions()[d];
        defs.push_back({{"symbol", def.symbol},
                        {"kind", def.kind},
                        {"line", def.name_line},
                        {"end_line", def.end_line},
                        {"signature", def.signature},
                        {"rank", def.rank}});
      }
      files.push_back({{"path", f.path},
                       {"language", f.language},
                       {"rank", f.rank},
                       {"definitions", std::move(defs)}});
    }
    std::stable_sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
      return a["rank"].template get<double>() > b["rank"].template get<double>();
    });
    out = nlohmann::json{{"root", g.root().string()}, {"files", std::move(files)}}.dump(
              -1, ' ', false, nlohmann::json::error_handler_t::replace) +
          "\n";
  } else {
    out = g.render(o.tokens);
  }
  for (const auto& w : g.warnings())
    std::fprintf(stderr, "ripvec: warning: %s\n", escape_name(w).c_str());
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
    throw IoError("cannot write to stdout");
  return g.files().empty() ? 1 : 0;
}

}  // namespace ripvec::cli
