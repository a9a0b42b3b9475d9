// The default command: `ripvec [OPTIONS] QUERY [PATH...]`.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "commands.hpp"
#include "index/index.hpp"
#include "output.hpp"
#include "ripvec/error.hpp"

namespace ripvec::cli {

namespace fs = std::filesystem;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

SearchMode parse_mode(const std::string& m) {
  if (m == "hybrid") return SearchMode::Hybrid;
  if (m == "semantic") return SearchMode::Semantic;
  if (m == "keyword") return SearchMode::Keyword;
  throw InvalidArgument("--mode: expected hybrid, semantic or keyword, got '" + m + "'");
}

// ripgrep's convention: with no PATH the paths are shown relative to the current directory;
// with an explicit PATH they are shown under that PATH as typed.
std::string display_path(const std::string& arg, bool arg_given, bool arg_is_file,
                         const std::string& rel) {
  if (arg_is_file) return arg;
  if (!arg_given) return rel;
  if (!arg.empty() && arg.back() == '/') return arg + rel;
  return arg + "/" + rel;
}

// A file name as a literal gitignore-syntax pattern.
std::string glob_escape(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\' || c == '!' || c == '#' ||
        c == ' ')
      out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

void report_update_warnings(const IndexUpdateStats& st, bool quiet) {
  if (quiet) return;
  for (const auto& w : st.warnings) std::fprintf(stderr, "ripvec: warning: %s\n", w.c_str());
}

IndexOptions index_options(const CliOptions& opts, Progress* progress) {
  IndexOptions io;
  if (!opts.cache_dir.empty()) {
    io.cache_dir = opts.cache_dir;
  } else if (const char* env = std::getenv("RIPVEC_CACHE_DIR"); env != nullptr && env[0] != 0) {
    io.cache_dir = env;
  }
  io.repo_local = opts.repo_local;
  io.reindex = opts.reindex;
  io.walk = walk_options(opts);
  if (progress != nullptr && progress->enabled()) {
    io.progress = [progress](const IndexProgress& p) {
      std::string files =
          "files " + std::to_string(p.files_done) + "/" + std::to_string(p.files_total);
      if (p.chunks_total > 0)
        progress->update("embedding", p.chunks_done, p.chunks_total, "chunks", files);
      else
        progress->update("scanning", p.files_done, p.files_total, "files");
    };
  }
  return io;
}

int run_search(const CliOptions& opts) {
  const auto t_start = std::chrono::steady_clock::now();
  if (opts.query.empty())
    throw InvalidArgument("no query given (usage: ripvec [OPTIONS] QUERY [PATH...]; see --help)");
  check_utf8(opts.query, "QUERY");
  if (opts.top_k == 0) throw InvalidArgument("--top-k must be at least 1");

  const bool paths_given = !opts.paths.empty();
  const std::vector<std::string> paths = paths_given ? opts.paths : std::vector<std::string>{"."};
  struct Root {
    std::string arg;
    bool is_file;
  };
  std::vector<Root> roots;
  for (const auto& p : paths) {
    std::error_code ec;
    const auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) throw IoError(p + ": No such file or directory");
    if (!fs::is_directory(st) && !fs::is_regular_file(st))
      throw InvalidArgument(p + ": not a file or directory");
    check_readable(p);
    roots.push_back({p, fs::is_regular_file(st)});
  }

  SearchOptions so;
  so.mode = parse_mode(opts.mode);
  (void)walk_options(opts);  // reject bad flag values before the model load

  double load_s = 0;
  auto embedder = load_embedder(opts, &load_s);

  so.top_k = opts.top_k;
  so.threshold = opts.threshold;

  Progress progress(progress_enabled(opts));
  std::vector<ResultView> results;
  std::vector<std::string> stat_lines;
  double search_s = 0;
  for (const auto& root : roots) {
    IndexOptions io = index_options(opts, &progress);
    IndexUpdateStats st;
    std::vector<SearchHit> hits;
    std::string where;
    if (root.is_file) {
      // The index and search_in_memory take directory roots: search the file's directory with
      // a walk narrowed to that one file (explicitly named, so hidden/ignore rules do not apply).
      const fs::path file = fs::absolute(root.arg);
      io.walk.globs = {"/" + glob_escape(file.filename().string())};
      io.walk.hidden = true;
      io.walk.no_ignore = true;
      const auto t0 = std::chrono::steady_clock::now();
      hits = search_in_memory(file.parent_path(), *embedder, opts.query, so, std::move(io), &st);
      search_s += since(t0);
      where = "in memory";
    } else if (!opts.use_index && !opts.reindex) {
      const auto t0 = std::chrono::steady_clock::now();
      hits = search_in_memory(root.arg, *embedder, opts.query, so, std::move(io), &st);
      search_s += since(t0);
      where = "in memory";
    } else {
      auto index = ProjectIndex::open(root.arg, *embedder, std::move(io));
      st = index->update();
      const auto t0 = std::chrono::steady_clock::now();
      hits = index->search(opts.query, so);
      search_s += since(t0);
      where = index->location().string();
    }
    progress.finish();
    report_update_warnings(st, opts.quiet);
    for (auto& h : hits) {
      ResultView r;
      r.path = display_path(root.arg, paths_given, root.is_file, h.chunk.path);
      r.start_line = h.chunk.start_line;
      r.end_line = h.chunk.end_line;
      r.symbol = std::move(h.chunk.symbol);
      r.kind = std::move(h.chunk.kind);
      r.language = std::move(h.chunk.language);
      r.score = h.score;
      r.content = std::move(h.chunk.content);
      results.push_back(std::move(r));
    }
    if (opts.stats) {
      char buf[512];
      std::snprintf(buf, sizeof(buf),
                    "%s (%s): %zu files seen, %zu added, %zu modified, %zu removed, "
                    "%zu chunks embedded, %zu chunks total; walk %.3fs chunk %.3fs embed %.3fs "
                    "write %.3fs update total %.3fs",
                    root.arg.c_str(), where.c_str(), st.files_seen, st.files_added,
                    st.files_modified, st.files_removed, st.chunks_embedded, st.chunks_total,
                    st.walk_s, st.chunk_s, st.embed_s, st.write_s, st.total_s);
      stat_lines.emplace_back(buf);
    }
  }

  // Several roots: merge by score. Scores of one mode are comparable across roots for semantic
  // (cosine) and hybrid (RRF of ranks); BM25 statistics differ per root, so keyword merging
  // across roots is approximate.
  if (roots.size() > 1) {
    std::stable_sort(results.begin(), results.end(),
                     [](const ResultView& a, const ResultView& b) { return a.score > b.score; });
    if (results.size() > opts.top_k) results.resize(opts.top_k);
  }

  std::string out;
  if (opts.json) {
    for (const auto& r : results) out += result_json(r) + "\n";
  } else {
    const bool color = want_color(opts.color, STDOUT_FILENO);
    const auto words = highlight_words(opts.query);
    for (size_t i = 0; i < results.size(); ++i) {
      if (i != 0) out += '\n';
      out += result_text(results[i], words, color);
    }
  }
  write_stdout(out);
  flush_stdout();  // results before the --stats lines

  if (opts.stats) {
    std::fprintf(stderr, "ripvec stats: model %s on %s, dim %zu, loaded in %.3fs\n",
                 embedder->model_id().c_str(), embedder->device_name().c_str(), embedder->dim(),
                 load_s);
    for (const auto& l : stat_lines) std::fprintf(stderr, "ripvec stats: %s\n", l.c_str());
    std::fprintf(stderr, "ripvec stats: mode %s, %zu results, search %.3fs, total %.3fs\n",
                 opts.mode.c_str(), results.size(), search_s, since(t_start));
  }
  return results.empty() ? 1 : 0;
}

}  // namespace ripvec::cli
