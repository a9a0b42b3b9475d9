// The default command: `ripvec [OPTIONS] QUERY [PATH...]`.
//
// Each PATH is answered by the index that Index::open finds for it (its enclosing project
// root); PATHs under one root share one index and one search (their sub-paths become the
// filter's paths). Results of different roots are merged in one place: merge_roots().
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "commands.hpp"
#include "output.hpp"
#include "ripvec/error.hpp"

namespace ripvec::cli {

namespace fs = std::filesystem;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct PathArg {
  std::string arg;  // as typed
  fs::path canon;   // canonical
  bool is_file = false;
};

// A hit with the absolute path of its file.
struct RootHit {
  Hit hit;
  fs::path abs;
};

// Several roots: one list, best first. Scores of one mode are on one scale for every root
// (cosine; hybrid fused ranks normalised to [0, 1]; keyword BM25F divided by each root's best),
// so the lists are merged by score, each root's list taken in its own order: a root ranks
// chunks without content of their own after the others whatever their score, and a sort by
// score put such a chunk back on top (hostile probe 2026-12-07). Ties keep the order of the
// PATHs.
std::vector<RootHit> merge_roots(std::vector<std::vector<RootHit>> per_root, size_t top_k) {
  std::vector<RootHit> all;
  std::vector<size_t> next(per_root.size(), 0);
  while (all.size() < top_k) {
    size_t best = per_root.size();
    for (size_t r = 0; r < per_root.size(); ++r)
      if (next[r] < per_root[r].size() &&
          (best == per_root.size() ||
           per_root[r][next[r]].hit.score > per_root[best][next[best]].hit.score))
        best = r;
    if (best == per_root.size()) break;
    all.push_back(std::move(per_root[best][next[best]++]));
  }
  return all;
}

// ripgrep's convention: with no PATH the paths are shown relative to the current directory;
// with explicit PATHs they are shown under the PATH (as typed) that holds them.
std::string display_path(const fs::path& abs, const std::vector<PathArg>& args, bool given,
                         const fs::path& cwd) {
  if (given) {
    const PathArg* best = nullptr;
    size_t best_len = 0;
    for (const auto& a : args) {
      const std::string c = a.canon.string(), s = abs.string();
      const bool under = s == c || (s.size() > c.size() && s.compare(0, c.size(), c) == 0 &&
                                    (s[c.size()] == '/' || c == "/"));
      if (under && c.size() >= best_len) {
        best = &a;
        best_len = c.size();
      }
    }
    if (best) {
      if (best->is_file) return best->arg;
      const std::string rel = abs.lexically_relative(best->canon).generic_string();
      if (rel == "." || rel.empty()) return best->arg;
      return best->arg.back() == '/' ? best->arg + rel : best->arg + "/" + rel;
    }
  }
  const fs::path rel = abs.lexically_relative(cwd);
  return rel.empty() ? abs.string() : rel.generic_string();
}

std::string stats_line(const std::string& what, const std::string& where, const UpdateStats& st) {
  char buf[512];
  std::snprintf(
      buf, sizeof(buf),
      "%s (%s): %zu files seen, %zu added, %zu modified, %zu removed, "
      "%zu chunks embedded, %zu kept, %zu chunks total; walk %.3fs chunk %.3fs embed %.3fs "
      "write %.3fs update total %.3fs",
      what.c_str(), where.c_str(), st.files_seen, st.files_added, st.files_modified,
      st.files_removed, st.chunks_embedded, st.chunks_reused, st.chunks_total, st.walk_s,
      st.chunk_s, st.embed_s, st.write_s, st.total_s);
  return buf;
}

// A query longer than the model reads is cut to its first max_seq_length() tokens for the
// semantic side: said on stderr (a 100 KB query was cut silently; hostile probe 2026-12-07).
// Counted only when its bytes could exceed the limit (a token covers at least one byte), so a
// usual query is not tokenized an extra time.
void warn_if_query_is_cut(const Embedder& e, const std::string& query, SearchMode mode,
                          bool quiet) {
  if (quiet || mode == SearchMode::Keyword) return;
  const size_t max = e.max_seq_length();
  const std::string& prompt = e.prompt(InputKind::Query);
  if (query.size() + prompt.size() + e.tokenizer().num_special_tokens() <= max) return;
  const size_t n = e.tokenizer().count_tokens(prompt + query);
  if (n <= max) return;
  std::fprintf(stderr,
               "ripvec: warning: the query is %zu tokens long; the model reads its first %zu%s\n",
               n, max, mode == SearchMode::Hybrid ? " (keyword ranking uses all of it)" : "");
}

}  // namespace

int run_search(const CliOptions& opts) {
  const auto t_start = std::chrono::steady_clock::now();
  if (opts.query.empty())
    throw InvalidArgument("no query given (usage: ripvec [OPTIONS] QUERY [PATH...]; see --help)");
  // Only white space embeds to the bare [CLS] [SEP] and matches no word: ranked noise.
  if (opts.query.find_first_not_of(" \t\n\r\f\v") == std::string::npos)
    throw InvalidArgument("the query is only white space: nothing to look for");
  check_utf8(opts.query, "QUERY");
  if (opts.top_k == 0) throw InvalidArgument("--top-k must be at least 1");

  const bool paths_given = !opts.paths.empty();
  std::vector<PathArg> args;
  for (const auto& p : paths_given ? opts.paths : std::vector<std::string>{"."}) {
    const bool is_file = check_path_argument(p);
    // A current directory that was deleted still has a status, but no path.
    std::error_code ec;
    fs::path canon = fs::canonical(p, ec);
    if (ec) throw IoError(p + ": " + ec.message());
    args.push_back({p, std::move(canon), is_file});
  }
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);

  SearchOptions so;
  so.mode = parse_search_mode(opts.mode);
  so.top_k = opts.top_k;
  so.threshold = opts.threshold;
  so.filter = search_filter(opts);  // rejects bad values before the model load

  ProgressPrinter progress(progress_mode(opts));
  progress.note("loading model " + model_spec(opts));
  double load_s = 0;
  // The weights load while the index is found, walked and checked (a warm query's start-up
  // is mostly those two): the first embed waits for them. A keyword search loads them only if
  // the update has files to embed.
  std::shared_ptr<Embedder> embedder = load_embedder(
      opts, &load_s,
      so.mode == SearchMode::Keyword ? WeightLoading::OnFirstUse : WeightLoading::Background);
  progress.finish();
  // A query the model reads nothing of fails before an index is built or updated for it.
  check_query(*embedder, opts.query, so.mode);
  warn_if_query_is_cut(*embedder, opts.query, so.mode, opts.quiet);

  std::vector<std::vector<RootHit>> per_root;
  bool update_failed = false;  // an index was searched as last written (its update failed)
  std::vector<std::string> stat_lines;
  double search_s = 0;
  // A search whose index another process is updating serves that index's last update rather
  // than wait as long as the other process runs (a stopped `ripvec index` hung every search of
  // its tree; hostile probe 2026-12-07); an index with no update to serve yet is waited for, and
  // so is the other process by --reindex, which asks for a rebuild (review 2026-12-07).
  IndexOptions io = index_options(opts, &progress, /*serve_last=*/!opts.reindex);
  // Searches without an index: `a` itself, or (root given) the tree of `root` restricted to
  // `scope`, so that -g globs are anchored at the root as with the index.
  auto search_in_memory = [&](const PathArg& a, const fs::path& root = {},
                              const std::string& scope = {}) {
    UpdateStats st;
    const auto t0 = std::chrono::steady_clock::now();
    SearchOptions mso = so;
    if (!root.empty() && !scope.empty()) mso.filter.paths = {scope};
    auto hits =
        search_without_index(root.empty() ? a.canon : root, *embedder, opts.query, mso, io, &st);
    search_s += since(t0);
    progress.finish();
    report_update_warnings(st, opts.quiet);
    const fs::path base = !root.empty() ? root : a.is_file ? a.canon.parent_path() : a.canon;
    std::vector<RootHit> v;
    for (auto& h : hits) {
      const fs::path abs = base / h.path;
      v.push_back({std::move(h), abs});
    }
    per_root.push_back(std::move(v));
    if (opts.stats) stat_lines.push_back(stats_line(a.arg, "in memory", st));
  };
  if (!opts.use_index && !opts.reindex) {
    for (const auto& a : args) search_in_memory(a);
  } else {
    // One index per root; the PATHs under it become its scopes.
    struct Group {
      std::unique_ptr<Index> index;
      std::vector<std::string> scopes;
      bool whole = false;
      std::string label;
    };
    std::vector<Group> groups;
    for (const auto& a : args) {
      auto idx = Index::open(a.canon, embedder, io);
      // A file of no project (no index of a folder above it, no git work tree, no .ripvec/):
      // its folder would become a root and be indexed whole — a note in a home folder that is
      // no repository indexed all of $HOME (hostile probe 2026-12-07). It is searched alone,
      // without an index, as ripgrep searches a file it is named.
      if (a.is_file && !opts.reindex && idx->root_source() == Index::RootSource::Path) {
        search_in_memory(a);
        continue;
      }
      // A keyword search needs no vectors: a tree never indexed is searched without the model
      // (it embedded the whole tree first: minutes on a CPU; hostile probe 2026-12-06).
      if (so.mode == SearchMode::Keyword && !opts.reindex && !idx->has_snapshot()) {
        if (!opts.quiet)
          std::fprintf(stderr,
                       "ripvec: no index of %s yet: keyword search without one (`ripvec index` "
                       "builds it)\n",
                       escape_name(idx->root().string()).c_str());
        search_in_memory(a, idx->root(), idx->scope());
        continue;
      }
      const std::string scope = idx->scope();
      auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
        return g.index->location() == idx->location();
      });
      if (it == groups.end()) {
        groups.push_back({std::move(idx), {}, false, a.arg});
        it = groups.end() - 1;
      } else {
        it->label += " " + a.arg;
      }
      if (scope.empty())
        it->whole = true;
      else
        it->scopes.push_back(scope);
    }
    for (auto& g : groups) {
      UpdateStats st;
      try {
        st = g.index->update();
      } catch (const IndexBusyError&) {
        progress.finish();
        if (!opts.quiet)
          std::fprintf(stderr,
                       "ripvec: another process is updating the index of %s: results are from "
                       "its last update\n",
                       escape_name(g.index->root().string()).c_str());
      } catch (const IoError& e) {
        // A full disk, a cache that cannot be written, a walk cut short: update() commits
        // atomically, so the index is as it was last written. Its snapshot is searched and the
        // run ends with status 2, as ripgrep's does after an error whatever it found (a search
        // of a full disk's valid index printed nothing; hostile probe 2026-12-07).
        // An index with no committed update has nothing to serve: its error alone, and the
        // other PATHs' roots are still searched (their results were dropped; review
        // 2026-12-07).
        progress.finish();
        const std::string msg = escape_message(opts.debug ? e.describe() : std::string(e.what()));
        update_failed = true;
        if (!g.index->has_snapshot()) {
          std::fprintf(stderr, "ripvec: %s\n", msg.c_str());
          continue;
        }
        std::fprintf(stderr,
                     "ripvec: %s\nripvec: the index of %s could not be updated: results are "
                     "from its last update and may be out of date\n",
                     msg.c_str(), escape_name(g.index->root().string()).c_str());
      }
      progress.finish();
      // The walk meets the same skipped entries (too large, unreadable...) on every search:
      // their warnings are printed when the index gains or loses files (its first build, a file
      // added, removed or now skipped), by every `ripvec index` and with --stats, not again on
      // each query of an unchanged tree nor after an edit of an indexed file (this repository
      // printed its 123 skipped files after every edit). The other warnings (a read-only or
      // damaged index, a folder the walk could not read) are printed every time.
      const bool changed = st.files_added + st.files_removed + st.corrupt_rebuilt > 0;
      report_update_warnings(st, opts.quiet, changed || opts.stats);
      SearchOptions gso = so;
      // The whole root, or the PATHs' sub-paths (whatever scope the index was opened with).
      gso.filter.paths = g.whole ? std::vector<std::string>{""} : g.scopes;
      const auto t0 = std::chrono::steady_clock::now();
      auto hits = g.index->search(opts.query, gso);
      search_s += since(t0);
      std::vector<RootHit> v;
      for (auto& h : hits) {
        const fs::path abs = g.index->root() / h.path;
        v.push_back({std::move(h), abs});
      }
      per_root.push_back(std::move(v));
      if (opts.stats) stat_lines.push_back(stats_line(g.label, g.index->location().string(), st));
    }
  }
  const std::vector<RootHit> results = merge_roots(std::move(per_root), opts.top_k);

  std::string out;
  const auto words = highlight_words(opts.query);
  const bool color = want_color(opts.color, STDOUT_FILENO);
  if (opts.files_with_matches) {
    std::vector<std::string> seen;
    for (const auto& r : results) {
      std::string p = display_path(r.abs, args, paths_given, cwd);
      if (std::find(seen.begin(), seen.end(), p) != seen.end()) continue;
      out += path_text(p, color) + "\n";
      seen.push_back(std::move(p));
    }
  } else {
    TextOptions to;
    to.color = color;
    to.no_content = opts.no_content;
    to.before = opts.before_context ? opts.before_context : opts.context;
    to.after = opts.after_context ? opts.after_context : opts.context;
    for (size_t i = 0; i < results.size(); ++i) {
      const Hit& h = results[i].hit;
      ResultView r;
      r.path = display_path(results[i].abs, args, paths_given, cwd);
      r.start_line = h.start_line;
      r.end_line = h.end_line;
      r.symbol = h.symbol;
      r.kind = h.kind;
      r.language = h.language;
      r.score = h.score;
      r.content = h.content;
      // A window of a long line: its place in the line, for --json's start_column and the
      // --vimgrep column (the chunk does not record it; known defect until 2026-12-05).
      if ((opts.json || opts.vimgrep) && h.start_line == h.end_line &&
          h.content.find('\n') == std::string::npos)
        r.first_column = line_start_column(results[i].abs, h.start_line, h.content);
      if (opts.json) {
        out += result_json(r) + "\n";
      } else if (opts.vimgrep) {
        out += vimgrep_line(r, words, color) + "\n";
      } else {
        if (i != 0 && !opts.no_content) out += '\n';
        out += result_text(r, words, to);
      }
    }
  }
  write_stdout(out);
  flush_stdout();  // results before the --stats lines

  if (opts.stats) {
    // On the CPU the weights load behind the update (EmbedderOptions::weights): this is the
    // configs and tokenizer; a search waits for the weights inside "search".
    std::fprintf(
        stderr, "ripvec stats: model %s on %s, dim %zu, configs and tokenizer loaded in %.3fs\n",
        embedder->model_id().c_str(), embedder->device_name().c_str(), embedder->dim(), load_s);
    for (const auto& l : stat_lines) std::fprintf(stderr, "ripvec stats: %s\n", l.c_str());
    std::fprintf(stderr, "ripvec stats: mode %s, %zu results, search %.3fs, total %.3fs\n",
                 opts.mode.c_str(), results.size(), search_s, since(t_start));
  }
  if (update_failed) return 2;  // the message is above, the results (if any) on stdout
  return results.empty() ? 1 : 0;
}

}  // namespace ripvec::cli
