// Building the definition graph and ranking it (see include/ripvec/repo_map.hpp for the rules).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "chunk/ts_registry.hpp"
#include "corpus/walker.hpp"
#include "repomap/extract.hpp"
#include "repomap/resolve.hpp"
#include "ripvec/error.hpp"
#include "ripvec/repo_map.hpp"
#include "util/thread_pool.hpp"

namespace ripvec {

// What a build() from a root parsed, per file (path relative to the root), with the walker's
// stat of the file when it was read: the same change test as the index's (size, modification
// and change times, inode; as git's stat check).
struct RepoGraph::FactsCache {
  struct Stamp {
    uint64_t size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    uint64_t ino = 0;
    bool operator==(const Stamp&) const = default;
  };
  struct Entry {
    Stamp stamp;
    std::shared_ptr<const repomap::FileFacts> facts;
  };
  std::filesystem::path root;
  std::unordered_map<std::string, Entry> files;
};

struct RepoGraphBuilder {
  static constexpr size_t kMaxTargets = 12;  // a name defined in more places is too generic
  static constexpr double kImportWeight = 0.5;

  static double name_weight(const std::string& name, size_t defining_files) {
    double w = 1.0;
    bool structured = name.find('_') != std::string::npos ||
                      std::any_of(name.begin() + 1, name.end(), [](char c) {
                        return std::isupper(static_cast<unsigned char>(c));
                      });
    if (name.size() >= 8 || (structured && name.size() >= 4)) w = 2.0;
    if (name.size() <= 2) w = 0.2;
    if (name.starts_with("_")) w *= 0.1;
    if (defining_files > 5) w *= 0.1;
    return w;
  }

  // Facts are shared with the graphs' caches (FactsCache): read, never moved from.
  static RepoGraph assemble(std::filesystem::path root,
                            std::vector<std::shared_ptr<const repomap::FileFacts>> shared,
                            std::vector<std::string> warnings) {
    RepoGraph g;
    g.root_ = std::move(root);
    g.warnings_ = std::move(warnings);
    std::sort(shared.begin(), shared.end(),
              [](const auto& a, const auto& b) { return a->path < b->path; });
    std::vector<std::reference_wrapper<const repomap::FileFacts>> facts;
    for (const auto& f : shared) facts.emplace_back(*f);
    std::vector<std::string> paths;
    for (const repomap::FileFacts& f : facts) paths.push_back(f.path);

    // Nodes: per file, its module node then its definitions.
    std::vector<std::vector<int>> owner(facts.size());  // per file, per line: innermost node
    for (size_t fi = 0; fi < facts.size(); ++fi) {
      const repomap::FileFacts& f = facts[fi];
      RepoFile rf;
      rf.path = f.path;
      rf.language = f.language;
      rf.module_node = g.defs_.size();
      RepoDefinition mod;
      mod.path = f.path;
      mod.name = f.path;
      mod.symbol = f.path;
      mod.kind = "module";
      mod.language = f.language;
      mod.start_line = 1;
      mod.end_line = std::max(1, f.line_count);
      mod.name_line = 1;
      g.defs_.push_back(std::move(mod));
      for (const auto& d : f.defs) {
        rf.definitions.push_back(g.defs_.size());
        g.defs_.push_back(d);
      }
      // Innermost owner per line: wider definitions first, narrower ones overwrite.
      std::vector<size_t> order = rf.definitions;
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return g.defs_[a].end_line - g.defs_[a].start_line >
               g.defs_[b].end_line - g.defs_[b].start_line;
      });
      auto& own = owner[fi];
      own.assign(static_cast<size_t>(std::max(1, f.line_count)) + 2,
                 static_cast<int>(rf.module_node));
      for (size_t d : order)
        for (int l = std::max(1, g.defs_[d].start_line);
             l <= g.defs_[d].end_line && l < static_cast<int>(own.size()); ++l)
          own[l] = static_cast<int>(d);
      g.files_.push_back(std::move(rf));
    }

    // Imports.
    repomap::ImportResolver resolver(paths);
    for (size_t fi = 0; fi < facts.size(); ++fi) {
      std::unordered_set<size_t> seen;
      const repomap::FileFacts& f = facts[fi];
      for (const auto& imp : f.imports) {
        auto hits = resolver.resolve(f.path, f.language, imp);
        if (hits.empty()) {
          g.files_[fi].unresolved_imports.push_back(imp.spec);
          continue;
        }
        for (size_t h : hits)
          if (h != fi && seen.insert(h).second) g.files_[fi].imports.push_back(h);
      }
    }

    // Names -> definitions that can be targets.
    std::unordered_map<std::string, std::vector<size_t>> by_name;
    for (size_t d = 0; d < g.defs_.size(); ++d) {
      const auto& def = g.defs_[d];
      if (def.kind == "module" || def.kind == "impl" || def.name.empty()) continue;
      by_name[def.name].push_back(d);
    }
    std::unordered_map<std::string, size_t> defining_files;
    for (const auto& [name, ds] : by_name) {
      std::unordered_set<std::string_view> fs;
      for (size_t d : ds) fs.insert(g.defs_[d].path);
      defining_files[name] = fs.size();
    }
    std::vector<long> file_of_def(g.defs_.size());
    for (size_t fi = 0; fi < g.files_.size(); ++fi) {
      file_of_def[g.files_[fi].module_node] = static_cast<long>(fi);
      for (size_t d : g.files_[fi].definitions) file_of_def[d] = static_cast<long>(fi);
    }

    // Mentions -> edges, within a language family only: a Go method's `g` was an edge to a
    // Java and a C++ definition named g (hostile probe 2026-12-06). C and C++ call each other,
    // so do the JavaScript dialects and the JVM languages.
    auto family = [](std::string_view lang) -> std::string_view {
      if (lang == "c" || lang == "cpp") return "c";
      if (lang == "javascript" || lang == "typescript" || lang == "tsx") return "js";
      if (lang == "java" || lang == "kotlin" || lang == "scala") return "jvm";
      return lang;
    };
    std::vector<std::string_view> family_of_def(g.defs_.size());
    for (size_t d = 0; d < g.defs_.size(); ++d) family_of_def[d] = family(g.defs_[d].language);
    struct Acc {
      double unit = 0;
      int count = 0, line = 0, column = 0;
    };
    std::map<std::pair<size_t, size_t>, Acc> acc;
    // A name's definitions by language family, and by family and file: a mention looks up its
    // own file's and its imports' instead of scanning every definition of the name. Scanning
    // made a name defined N times and mentioned N times N^2 steps: 32,000 `def a(): pass` in one
    // file took 11 s, 100,000 more than a minute (hostile probe 2026-12-07).
    struct NameDefs {
      std::unordered_map<std::string_view, std::vector<size_t>> by_family;
      std::map<std::pair<std::string_view, long>, std::vector<size_t>> by_family_file;
    };
    std::unordered_map<std::string_view, NameDefs> defs_of;
    for (const auto& [name, ds] : by_name) {
      NameDefs& nd = defs_of[name];
      for (size_t d : ds) {
        nd.by_family[family_of_def[d]].push_back(d);
        nd.by_family_file[{family_of_def[d], file_of_def[d]}].push_back(d);
      }
    }
    std::vector<size_t> via_import;
    for (size_t fi = 0; fi < facts.size(); ++fi) {
      const repomap::FileFacts& f = facts[fi];
      const std::string_view here = family(f.language);
      for (const auto& r : f.refs) {
        if (r.name.size() > 4 && r.name.starts_with("__") && r.name.ends_with("__")) continue;
        auto it = defs_of.find(r.name);
        if (it == defs_of.end()) continue;
        auto fam = it->second.by_family.find(here);
        if (fam == it->second.by_family.end()) continue;
        const auto& own = owner[fi];
        size_t from = static_cast<size_t>(
            own[std::clamp<size_t>(static_cast<size_t>(r.line), 1, own.size() - 1)]);
        const auto& per_file = it->second.by_family_file;
        const auto local = per_file.find({here, static_cast<long>(fi)});
        via_import.clear();
        // (Past kMaxTargets the mention is skipped whatever else the imports hold: stop there,
        // or a name defined N times in imported files costs N per mention; review 2026-12-07.)
        if (local == per_file.end())
          for (size_t h : g.files_[fi].imports) {
            if (auto v = per_file.find({here, static_cast<long>(h)}); v != per_file.end())
              via_import.insert(via_import.end(), v->second.begin(), v->second.end());
            if (via_import.size() > kMaxTargets) break;
          }
        const std::vector<size_t>& targets = local != per_file.end() ? local->second
                                             : !via_import.empty()   ? via_import
                                                                     : fam->second;
        if (targets.empty()) continue;
        if (targets.size() > kMaxTargets) continue;
        // The mention of a definition's own name (its declaration, a recursive call) is no edge.
        size_t n_targets = 0;
        for (size_t t : targets) n_targets += t != from;
        if (n_targets == 0) continue;
        double unit = name_weight(r.name, defining_files[r.name]) / static_cast<double>(n_targets);
        for (size_t t : targets) {
          if (t == from) continue;
          Acc& a = acc[{from, t}];
          if (a.count == 0) {
            a.line = r.line;
            a.column = r.column;
          }
          a.unit = unit;
          ++a.count;
        }
      }
      for (size_t h : g.files_[fi].imports) {
        Acc& a = acc[{g.files_[fi].module_node, g.files_[h].module_node}];
        a.unit = std::max(a.unit, kImportWeight);
        if (a.count == 0) a.count = 1;
      }
    }
    for (const auto& [key, a] : acc) {
      RepoEdge e;
      e.from = key.first;
      e.to = key.second;
      e.count = a.count;
      e.line = a.line;
      e.column = a.column;
      e.weight = a.unit * std::sqrt(static_cast<double>(a.count));
      g.edges_.push_back(e);
    }
    g.in_.assign(g.defs_.size(), {});
    g.out_.assign(g.defs_.size(), {});
    for (size_t i = 0; i < g.edges_.size(); ++i) {
      g.out_[g.edges_[i].from].push_back(i);
      g.in_[g.edges_[i].to].push_back(i);
    }
    auto heavier = [&](size_t a, size_t b) { return g.edges_[a].weight > g.edges_[b].weight; };
    for (auto& v : g.in_) std::sort(v.begin(), v.end(), heavier);
    for (auto& v : g.out_) std::sort(v.begin(), v.end(), heavier);
    g.rank({});
    return g;
  }
};

namespace {

std::vector<repomap::FileFacts> extract_all(const std::vector<SourceText>& files,
                                            const std::function<bool()>& cancelled) {
  std::vector<repomap::FileFacts> facts(files.size());
  std::atomic<bool> stop{false};
  ThreadPool::global().parallel_for(
      0, static_cast<int64_t>(files.size()), 1, [&](int64_t lo, int64_t hi) {
        ts::CancelScope scope(&cancelled);  // a large file's parse stops too, not only between
        for (int64_t i = lo; i < hi && !stop.load(std::memory_order_relaxed); ++i) {
          if (cancelled && cancelled()) {
            stop = true;  // not thrown here: the pool's other tasks finish their file first
            break;
          }
          facts[i] = repomap::extract_file(files[i].path, files[i].text);
          if (scope.stopped()) {
            stop = true;  // this file's facts are those of a parse cut short
            break;
          }
        }
      });
  if (stop) throw CancelledError("repo map cancelled");
  return facts;
}

// Weighted PageRank with teleport vector p (sums to 1); dangling mass follows p.
std::vector<double> pagerank(size_t n, const std::vector<std::tuple<size_t, size_t, double>>& edges,
                             const std::vector<double>& p, double damping) {
  std::vector<double> out_w(n, 0.0);
  for (const auto& [from, to, w] : edges) out_w[from] += w;
  std::vector<double> r = p, next(n);
  for (int iter = 0; iter < 100; ++iter) {
    double dangling = 0;
    for (size_t i = 0; i < n; ++i)
      if (out_w[i] <= 0) dangling += r[i];
    for (size_t i = 0; i < n; ++i) next[i] = (1 - damping) * p[i] + damping * dangling * p[i];
    for (const auto& [from, to, w] : edges) next[to] += damping * r[from] * w / out_w[from];
    double delta = 0;
    for (size_t i = 0; i < n; ++i) delta += std::fabs(next[i] - r[i]);
    r.swap(next);
    if (delta < 1e-10) break;
  }
  return r;
}

}  // namespace

RepoGraph RepoGraph::build(const std::filesystem::path& root, const RepoMapOptions& opts) {
  std::error_code ec;
  if (!std::filesystem::exists(root, ec))
    throw IoError("repo map: " + root.string() + " does not exist");
  std::filesystem::path canon = std::filesystem::canonical(root, ec);
  if (ec) throw IoError("repo map: cannot resolve " + root.string() + ": " + ec.message());
  // As a named index PATH (locate_index): the walker would skip it with a warning, leaving an
  // empty map that looks like a tree without code.
  if (const char* fs_name = pseudo_fs_name(canon.string()))
    throw IoError(root.string() + ": on the " + fs_name +
                  " pseudo file system, which is never indexed or searched");
  WalkOptions wo;
  wo.hidden = opts.hidden;
  wo.max_file_size = opts.max_file_size;
  wo.threads = opts.threads;
  WalkStats ws;
  RacyWindow racy;
  std::vector<WalkedFile> walked = walk({canon}, wo, &ws);
  racy.walk_ended();
  std::vector<std::string> warnings = ws.warnings;
  // A single file given as the root: its rel_path is its name, the root is its directory.
  std::filesystem::path graph_root =
      std::filesystem::is_directory(canon) ? canon : canon.parent_path();
  const FactsCache* prev = opts.previous != nullptr && opts.previous->facts_ != nullptr &&
                                   opts.previous->facts_->root == graph_root
                               ? opts.previous->facts_.get()
                               : nullptr;
  auto cache = std::make_shared<FactsCache>();
  cache->root = graph_root;
  std::vector<std::shared_ptr<const repomap::FileFacts>> facts;
  std::vector<SourceText> texts;  // files to parse, with their stamps
  std::vector<FactsCache::Stamp> stamps;
  for (const WalkedFile& w : walked) {
    if (facts.size() + texts.size() >= opts.max_files) {
      warnings.push_back("repo map: stopped at " + std::to_string(opts.max_files) + " files");
      break;
    }
    if (repomap::map_language(w.rel_path, "").empty()) continue;  // no grammar for it
    if (opts.cancelled && opts.cancelled()) throw CancelledError("repo map cancelled");
    const FactsCache::Stamp stamp{w.size, w.mtime_ns, w.ctime_ns, w.ino};
    if (prev != nullptr) {
      auto it = prev->files.find(w.rel_path);
      if (it != prev->files.end() && it->second.stamp == stamp) {
        facts.push_back(it->second.facts);
        cache->files.emplace(w.rel_path, it->second);
        continue;
      }
    }
    std::string text;
    ContentStatus st = read_text_file(w.abs_path, opts.max_file_size, &text);
    if (st != ContentStatus::Ok) {
      warnings.push_back(w.rel_path + ": skipped (" + content_status_name(st) + ")");
      continue;
    }
    texts.push_back({w.rel_path, std::move(text)});
    // Racily clean (RacyWindow): kept with a stamp no stat matches, parsed again next time.
    stamps.push_back(racy.racy(w) ? FactsCache::Stamp{stamp.size, -1, stamp.ctime_ns, stamp.ino}
                                  : stamp);
  }
  std::vector<repomap::FileFacts> parsed = extract_all(texts, opts.cancelled);
  for (size_t i = 0; i < parsed.size(); ++i) {
    auto f = std::make_shared<const repomap::FileFacts>(std::move(parsed[i]));
    cache->files.emplace(texts[i].path, FactsCache::Entry{stamps[i], f});
    facts.push_back(std::move(f));
  }
  RepoGraph g = RepoGraphBuilder::assemble(graph_root, std::move(facts), std::move(warnings));
  g.facts_ = std::move(cache);
  g.parsed_files_ = texts.size();
  return g;
}

RepoGraph RepoGraph::build_from_files(const std::vector<SourceText>& files,
                                      const RepoMapOptions& opts) {
  std::vector<SourceText> capped(files.begin(),
                                 files.begin() + std::min(files.size(), opts.max_files));
  std::vector<std::shared_ptr<const repomap::FileFacts>> facts;
  for (auto& f : extract_all(capped, opts.cancelled))
    facts.push_back(std::make_shared<const repomap::FileFacts>(std::move(f)));
  RepoGraph g = RepoGraphBuilder::assemble({}, std::move(facts), {});
  g.parsed_files_ = capped.size();
  return g;
}

std::vector<std::string> RepoGraph::rank(const std::vector<std::string>& focus, double damping) {
  if (!(damping > 0 && damping < 1)) throw InvalidArgument("repo map: damping must be in (0, 1)");
  const size_t n = defs_.size();
  focus_.clear();
  for (auto& d : defs_) d.rank = 0;
  for (auto& f : files_) f.rank = 0;
  std::vector<std::string> unknown;
  if (n == 0) return focus;  // no file: every focus path is unknown
  // Teleport mass per file, split over its nodes: a file does not rank higher merely for
  // holding many definitions.
  std::vector<double> p(n, 0.0);
  for (const auto& f : files_) {
    const double share =
        1.0 / static_cast<double>(files_.size()) / static_cast<double>(f.definitions.size() + 1);
    p[f.module_node] = share;
    for (size_t d : f.definitions) p[d] = share;
  }
  std::vector<size_t> focus_nodes;
  for (const std::string& raw : focus) {
    std::string rel = raw;
    std::filesystem::path fp(raw);
    if (fp.is_absolute() && !root_.empty()) {
      std::error_code ec;
      auto canon = std::filesystem::weakly_canonical(fp, ec);
      rel = std::filesystem::relative(ec ? fp : canon, root_, ec).generic_string();
    }
    // As spelled: "./a.py", "src//a.py", "sub/../a.py", "a.py/" name the map's "a.py".
    rel = std::filesystem::path(rel).lexically_normal().generic_string();
    while (rel.size() > 1 && rel.back() == '/') rel.pop_back();
    long fi = file_index(rel);
    if (fi < 0) {
      unknown.push_back(raw);
      continue;
    }
    // A file named twice ("./a.py" and "a.py") is one focus: listed once, weighted once.
    if (std::find(focus_.begin(), focus_.end(), rel) != focus_.end()) continue;
    focus_.push_back(rel);
    focus_nodes.push_back(files_[fi].module_node);
    for (size_t d : files_[fi].definitions) focus_nodes.push_back(d);
  }
  if (!focus_nodes.empty()) {
    for (auto& x : p) x *= 0.1;
    for (size_t d : focus_nodes) p[d] += 0.9 / static_cast<double>(focus_nodes.size());
  }
  std::vector<std::tuple<size_t, size_t, double>> node_edges;
  for (const auto& e : edges_) node_edges.emplace_back(e.from, e.to, e.weight);
  std::vector<double> r = pagerank(n, node_edges, p, damping);
  for (size_t i = 0; i < n; ++i) defs_[i].rank = r[i];

  // Files rank on their own graph of cross-file references: a file whose code mostly refers to
  // itself must not keep the mass its internal edges recirculate.
  const size_t nf = files_.size();
  std::vector<size_t> file_of(n);
  for (size_t fi = 0; fi < nf; ++fi) {
    file_of[files_[fi].module_node] = fi;
    for (size_t d : files_[fi].definitions) file_of[d] = fi;
  }
  std::map<std::pair<size_t, size_t>, double> agg;
  for (const auto& e : edges_)
    if (file_of[e.from] != file_of[e.to]) agg[{file_of[e.from], file_of[e.to]}] += e.weight;
  std::vector<std::tuple<size_t, size_t, double>> file_edges;
  for (const auto& [k, w] : agg) file_edges.emplace_back(k.first, k.second, w);
  std::vector<double> pf(nf, 1.0 / static_cast<double>(nf));
  std::vector<size_t> focus_files;
  for (const auto& fpath : focus_) focus_files.push_back(static_cast<size_t>(file_index(fpath)));
  if (!focus_files.empty()) {
    for (auto& x : pf) x *= 0.1;
    for (size_t fi : focus_files) pf[fi] += 0.9 / static_cast<double>(focus_files.size());
  }
  std::vector<double> rf = pagerank(nf, file_edges, pf, damping);
  for (size_t fi = 0; fi < nf; ++fi) files_[fi].rank = rf[fi];
  return unknown;
}

long RepoGraph::file_index(std::string_view path) const {
  auto it = std::lower_bound(files_.begin(), files_.end(), path,
                             [](const RepoFile& f, std::string_view p) { return f.path < p; });
  if (it == files_.end() || it->path != path) return -1;
  return static_cast<long>(it - files_.begin());
}

std::vector<size_t> RepoGraph::find(std::string_view name) const {
  std::vector<size_t> out;
  for (size_t d = 0; d < defs_.size(); ++d)
    if (defs_[d].kind != "module" && (defs_[d].name == name || defs_[d].symbol == name))
      out.push_back(d);
  std::stable_sort(out.begin(), out.end(),
                   [&](size_t a, size_t b) { return defs_[a].rank > defs_[b].rank; });
  return out;
}

long RepoGraph::definition_at(std::string_view path, int line) const {
  long fi = file_index(path);
  if (fi < 0) return -1;
  const RepoFile& f = files_[fi];
  long best = static_cast<long>(f.module_node);
  int best_span = 1 << 30;
  for (size_t d : f.definitions) {
    const auto& def = defs_[d];
    if (line < def.start_line || line > def.end_line) continue;
    int span = def.end_line - def.start_line;
    if (span < best_span) {
      best_span = span;
      best = static_cast<long>(d);
    }
  }
  return best;
}

std::vector<size_t> RepoGraph::incoming(size_t def) const {
  return def < in_.size() ? in_[def] : std::vector<size_t>{};
}
std::vector<size_t> RepoGraph::outgoing(size_t def) const {
  return def < out_.size() ? out_[def] : std::vector<size_t>{};
}

std::vector<RepoDefinition> file_definitions(std::string_view path, std::string_view text,
                                             const std::function<bool()>& cancelled) {
  ts::CancelScope scope(&cancelled);
  std::vector<RepoDefinition> defs = repomap::extract_file(path, text, /*with_refs=*/false).defs;
  // A parse the check stopped looks like one tree-sitter gave up on; one that completed before
  // the check turned true is kept (an outline others may wait for).
  if (scope.stopped()) throw CancelledError("outline cancelled");
  return defs;
}

size_t estimate_tokens(std::string_view text) {
  return (text.size() + 3) / 4;
}

}  // namespace ripvec
