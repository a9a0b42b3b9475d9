// Markdown rendering of a ranked repo graph within a token budget. Three levels of detail, each
// used while the budget allows: (1) a section per file with the signatures of its top
// definitions and, for the first of them, their main callers and callees in other files;
// (2) one line per file with its main names; (3) the path alone. Files come in rank order.
#include <algorithm>
#include <numeric>
#include <set>

#include "ripvec/repo_map.hpp"

namespace ripvec {
namespace {

std::string base_name(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

// A file name as render() shows it: through the caller's NameFormat, or as it is.
struct Names {
  RepoGraph::NameFormat fmt;
  std::string operator()(const std::string& p) const { return fmt ? fmt(p) : p; }
};

// "symbol (file)" for a node seen from `here` (the file is omitted when it is the same).
std::string node_label(const RepoGraph& g, size_t d, const std::string& here, Names names) {
  const RepoDefinition& def = g.definitions()[d];
  std::string label = def.kind == "module" ? "top level" : def.symbol;
  if (def.path != here) label += " (" + names(base_name(def.path)) + ")";
  return label;
}

// Up to `max` distinct labels of the other ends of `edges`, skipping same-file nodes.
std::string neighbours(const RepoGraph& g, const std::vector<size_t>& edges, bool callers,
                       const std::string& here, size_t max, Names names) {
  std::string out;
  std::set<std::string> seen;
  for (size_t e : edges) {
    const RepoEdge& edge = g.edges()[e];
    size_t other = callers ? edge.from : edge.to;
    if (g.definitions()[other].path == here) continue;
    if (g.definitions()[other].kind == "module" && !callers) continue;
    std::string label = node_label(g, other, here, names);
    if (!seen.insert(label).second) continue;
    if (!out.empty()) out += ", ";
    out += label;
    if (seen.size() >= max) break;
  }
  return out;
}

std::vector<size_t> ranked_defs(const RepoGraph& g, const RepoFile& f) {
  std::vector<size_t> ds = f.definitions;
  std::stable_sort(ds.begin(), ds.end(), [&](size_t a, size_t b) {
    return g.definitions()[a].rank > g.definitions()[b].rank;
  });
  return ds;
}

std::string detailed_block(const RepoGraph& g, const RepoFile& f, size_t max_defs,
                           size_t with_neighbours, Names names) {
  std::string s = "## " + names(f.path) + "\n";
  std::vector<size_t> ds = ranked_defs(g, f);
  if (ds.size() > max_defs) ds.resize(max_defs);
  // Source order reads better once chosen.
  std::vector<size_t> shown = ds;
  std::sort(shown.begin(), shown.end());
  for (size_t d : shown) {
    const RepoDefinition& def = g.definitions()[d];
    std::string sig = def.signature.empty() ? def.kind + " " + def.symbol : def.signature;
    s += "- `" + sig + "` L" + std::to_string(def.name_line);
    size_t pos = static_cast<size_t>(std::find(ds.begin(), ds.end(), d) - ds.begin());
    if (pos < with_neighbours) {
      std::string in = neighbours(g, g.incoming(d), true, f.path, 3, names);
      std::string out = neighbours(g, g.outgoing(d), false, f.path, 3, names);
      if (!in.empty()) s += " — used by: " + in;
      if (!out.empty()) s += (in.empty() ? " — uses: " : "; uses: ") + out;
    }
    s += "\n";
  }
  if (f.definitions.size() > ds.size()) {
    const size_t more = f.definitions.size() - ds.size();
    s += "- … " + std::to_string(more) + (more == 1 ? " more definition\n" : " more definitions\n");
  }
  return s + "\n";
}

std::string compact_line(const RepoGraph& g, const RepoFile& f, Names names) {
  std::string s = "- " + names(f.path);
  std::vector<size_t> ds = ranked_defs(g, f);
  if (!ds.empty()) s += ":";
  for (size_t i = 0; i < ds.size() && i < 6; ++i)
    s += (i ? ", " : " ") + g.definitions()[ds[i]].symbol;
  if (ds.size() > 6) s += ", …";
  return s + "\n";
}

}  // namespace

std::string RepoGraph::render(size_t token_budget, NameFormat name) const {
  const Names names{name};
  std::vector<size_t> order(files_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return files_[a].rank > files_[b].rank; });
  size_t n_defs = defs_.size() - files_.size();
  std::string root_name =
      root_.empty() ? std::string("(in memory)") : names(root_.filename().string());
  auto count = [](size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  std::string out = "# Repo map: " + root_name + " (" + count(files_.size(), "file", "files") +
                    ", " + count(n_defs, "definition", "definitions") + ")\n";
  out += "Files ranked by PageRank over the definition graph";
  if (!focus_.empty()) {
    out += ", focused on ";
    for (size_t i = 0; i < focus_.size(); ++i) out += (i ? ", " : "") + names(focus_[i]);
  }
  out += ". L = 1-based line.\n\n";
  const size_t budget_bytes = token_budget * 4;
  if (out.size() > budget_bytes) {  // the header alone is over: cut it, ending the line
    size_t cut = budget_bytes > 0 ? budget_bytes - 1 : 0;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    // At a word's end where one is in the last 24 bytes (it ended mid-word: "PageRan").
    if (const size_t sp = out.rfind(' ', cut);
        sp != std::string::npos && sp + 24 >= cut && sp > 0 && out[cut] != ' ')
      cut = sp;
    out.resize(cut);
    out += '\n';
    return out;
  }
  constexpr size_t kTrailerReserve = 48;  // "(N more files not shown)"
  auto fits = [&](const std::string& piece) {
    return out.size() + piece.size() + kTrailerReserve <= budget_bytes;
  };
  int level = 0;  // 0 detailed, 1 compact, 2 paths
  size_t shown = 0;
  bool compact_header = false;
  for (size_t rank_pos = 0; rank_pos < order.size(); ++rank_pos) {
    const RepoFile& f = files_[order[rank_pos]];
    bool placed = false;
    while (!placed && level <= 2) {
      std::string piece;
      if (level == 0) {
        // Detail scales with the budget so that small maps still cover several files.
        size_t max_defs = rank_pos < 5    ? std::clamp<size_t>(token_budget / 200, 2, 8)
                          : rank_pos < 15 ? std::clamp<size_t>(token_budget / 400, 1, 5)
                                          : std::clamp<size_t>(token_budget / 800, 1, 3);
        size_t neigh = token_budget < 600 ? (rank_pos < 3 ? 1 : 0)
                       : rank_pos < 5     ? 2
                       : rank_pos < 15    ? 1
                                          : 0;
        piece = detailed_block(*this, f, max_defs, neigh, names);
      } else {
        if (!compact_header) piece = "## Other files\n";
        piece += level == 1 ? compact_line(*this, f, names) : "- " + names(f.path) + "\n";
      }
      if (fits(piece)) {
        out += piece;
        if (level > 0) compact_header = true;
        placed = true;
      } else {
        ++level;
      }
    }
    if (!placed) break;
    ++shown;
  }
  if (shown < order.size())
    out += "\n(" + std::to_string(order.size() - shown) + " more files not shown)\n";
  return out;
}

}  // namespace ripvec
