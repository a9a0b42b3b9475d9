// `ripvec map [PATH] [--focus FILE] [--tokens N] [--json]`: the ranked repo map on stdout.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "output.hpp"
#include "protocol_commands.hpp"
#include "ripvec/bytes.hpp"
#include "ripvec/error.hpp"
#include "ripvec/repo_map.hpp"

namespace ripvec::cli {

int run_map(const ProtocolOptions& o) {
  // The exit statuses of a search (0 results, 1 none, 2 error): PATH is checked as a search
  // checks it, so that a missing, special or unreadable PATH is an error, not an empty map (1).
  const std::string& p = o.map_path;
  check_path_argument(p);
  RepoGraph g = RepoGraph::build(p);
  // Focus paths are taken as the user spells them: "sub/../a.py" and "sub//b.py" are the map's
  // "a.py" and "sub/b.py"; one that climbs out of PATH ("../r/a.py") is taken from the current
  // folder, as a shell would.
  std::vector<std::string> focus;
  for (const std::string& f : o.focus) {
    const std::filesystem::path fp(f);
    const std::filesystem::path n = fp.lexically_normal();
    const bool climbs = !n.empty() && *n.begin() == "..";
    focus.push_back(fp.is_absolute() || !climbs
                        ? n.string()
                        : std::filesystem::absolute(fp).lexically_normal().string());
  }
  // A --focus that names no file of the map would rank it as if no focus were given.
  if (const auto unknown = g.rank(focus); !unknown.empty()) {
    // Named as the user spelled it (focus[i] is o.focus[i] normalised).
    const std::string& given =
        o.focus[std::find(focus.begin(), focus.end(), unknown.front()) - focus.begin()];
    throw InvalidArgument("--focus " + escape_name(given) +
                          ": not a file of the map (a path relative to " + escape_name(p) +
                          ", or absolute, of a file in a language with a grammar that the "
                          "ignore rules admit)");
  }
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
      nlohmann::json file = {{"path", f.path},
                             {"language", f.language},
                             {"rank", f.rank},
                             {"definitions", std::move(defs)}};
      // A name that is not UTF-8 shows U+FFFD in "path" (below): its exact bytes, as search's.
      if (!is_valid_utf8(f.path)) file["path_b64"] = base64_encode(f.path);
      files.push_back(std::move(file));
    }
    std::stable_sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
      return a["rank"].template get<double>() > b["rank"].template get<double>();
    });
    auto dump = [](const nlohmann::json& j) {
      return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    nlohmann::json doc = {{"root", g.root().string()}, {"files", nlohmann::json::array()}};
    if (!is_valid_utf8(g.root().string())) doc["root_b64"] = base64_encode(g.root().string());
    if (o.tokens_given) doc["truncated"] = false;
    // Each file is serialized once and the list spliced into the document at its "files":[]
    // (keys are sorted, and a string value cannot hold that text: its quotes are escaped).
    std::string head = dump(doc), list;
    if (o.tokens_given) {
      // An explicit --tokens bounds the JSON too (it was ignored: an agent asking for 500
      // tokens got the whole graph; hostile probe 2026-12-07): the top-ranked files, whole, in
      // rank order while the document stays within the budget (the text map's estimate,
      // bytes / 4), and "truncated" when a file was left out.
      const size_t fixed = head.size() + 1;  // + the newline
      for (const auto& f : files) {
        const std::string one = dump(f);
        const size_t add = one.size() + (list.empty() ? 0 : 1);  // + a comma
        if ((fixed + list.size() + add + 3) / 4 > o.tokens) {    // estimate_tokens() of the bytes
          doc["truncated"] = true;
          head = dump(doc);
          break;
        }
        (list += list.empty() ? "" : ",") += one;
      }
    } else {
      for (const auto& f : files) (list += list.empty() ? "" : ",") += dump(f);
    }
    constexpr std::string_view kFiles = "\"files\":[";
    head.insert(head.find(kFiles) + kFiles.size(), list);
    out = head + "\n";
  } else {
    // File names escaped as in every text output (a name can hold an escape sequence).
    out = g.render(o.tokens, [](std::string_view n) { return escape_name(n); });
  }
  for (const auto& w : g.warnings())
    std::fprintf(stderr, "ripvec: warning: %s\n", escape_name(w).c_str());
  write_stdout(out);  // checked: "error writing to stdout: <reason>"; a closed pipe ends quietly
  return g.files().empty() ? 1 : 0;
}

}  // namespace ripvec::cli
