// `ripvec index [PATH...]`: refresh the index and report the changes, git-status style;
// `--status [PATH]`, `--list`, `--clean [PATH|--all]` inspect and remove indexes.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>

#include "commands.hpp"
#include "output.hpp"
#include "ripvec/error.hpp"

namespace ripvec::cli {

namespace fs = std::filesystem;

namespace {

std::string when(int64_t unix_s) {
  if (unix_s <= 0) return "never";
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// "int8" or "bf16" for an index of reduced-precision vectors (the manifest's vector_config holds
// "linear=int8-g32r4" or "linear=bf16"), else empty: --list tells such an index from the FP32
// one of the same root and model.
std::string reduced_vectors(const std::string& vectors) {
  const size_t at = vectors.find("linear=");
  if (at == std::string::npos) return {};
  const size_t from = at + 7, end = vectors.find_first_of("-;", from);
  return vectors.substr(from, end == std::string::npos ? std::string::npos : end - from);
}

int run_list(const CliOptions& opts) {
  const auto all = list_indexes(opts.cache_dir);
  std::string out;
  size_t unreadable = 0;
  for (const auto& s : all) {
    // A folder of the cache that cannot be read may hold an index: named, and the run ends
    // with status 2 (it was left out silently; hostile probe 2026-12-07).
    if (s.unreadable) {
      ++unreadable;
      out += "(not read: " + escape_name(s.problem) + ")\n  " + escape_name(s.location.string()) +
             "\n";
      continue;
    }
    // Names from the file system and the manifest: escaped as every text output (a root
    // folder named with an escape sequence must not reach the terminal raw).
    // A damaged manifest names no root: say so rather than print an empty line.
    // No manifest and no problem: no update committed yet, a first index that was stopped
    // (it was called damaged; hostile probe 2026-12-07); the next update goes on from its
    // objects.
    out += (!s.root.empty()     ? escape_name(s.root.string())
            : s.problem.empty() ? std::string("(root unknown: no update committed yet, a first "
                                              "index that was stopped)")
                                : std::string("(root unknown: the manifest is damaged)")) +
           "\n";
    const std::string reduced = reduced_vectors(s.vectors);
    out += "  model " + (s.model_id.empty() ? std::string("?") : escape_name(s.model_id)) + ", " +
           (reduced.empty() ? "" : escape_name(reduced) + " vectors, ") + std::to_string(s.files) +
           " files, " + std::to_string(s.chunks) + " chunks, " + human_bytes(s.bytes) +
           ", updated " + when(s.last_update_unix) +
           (s.problem.empty() ? "" : ", damaged: " + escape_name(s.problem)) + "\n";
    out += "  " + escape_name(s.location.string()) + "\n";
  }
  write_stdout(out);
  if (unreadable > 0) {
    std::fprintf(stderr, "ripvec: %zu folder(s) of the cache could not be read\n", unreadable);
    return 2;
  }
  return all.empty() ? 1 : 0;
}

int run_clean(const CliOptions& opts) {
  if (opts.clean_all && !opts.paths.empty()) throw InvalidArgument("--clean --all takes no PATH");
  if (opts.paths.size() > 1) throw InvalidArgument("--clean takes one PATH");
  const fs::path target =
      opts.clean_all ? fs::path() : fs::path(opts.paths.empty() ? "." : opts.paths[0]);
  std::vector<fs::path> kept;
  const uint64_t freed = clean_indexes(target, opts.cache_dir, &kept);
  write_stdout("removed " + human_bytes(freed) + "\n");
  // Files ripvec did not write, found in an index folder: never deleted, but named, so that
  // a folder left behind is explained.
  if (!opts.quiet)
    for (const auto& k : kept)
      std::fprintf(stderr, "ripvec: warning: kept %s (not written by ripvec)\n",
                   escape_name(k.string()).c_str());
  return 0;
}

int run_status(const CliOptions& opts) {
  if (opts.paths.size() > 1) throw InvalidArgument("--status takes one PATH");
  std::shared_ptr<Embedder> embedder = load_embedder(opts);
  auto index =
      Index::open(opts.paths.empty() ? "." : opts.paths[0], embedder, index_options(opts, nullptr));
  const IndexStatus s = index->status();
  std::string out;
  out += "root: " + escape_name(s.root.string()) + "\n";  // (escaped as in run_list)
  out += "index: " + escape_name(s.location.string()) + (s.read_only ? " (read-only)" : "") + "\n";
  out += "model: " + escape_name(s.model_id) + " (dim " + std::to_string(s.dim) + ")\n";
  if (!s.vectors.empty()) out += "vectors: " + escape_name(s.vectors) + "\n";
  out += "files: " + std::to_string(s.files) + "\n";
  out += "chunks: " + std::to_string(s.chunks) + "\n";
  out += "size: " + human_bytes(s.bytes) + "\n";
  // As --list: the time of the last commit, also when its snapshot is damaged now (the problem
  // line says so); "never" only when nothing was committed. --status said "never" and --list
  // the date for one index (hostile probe 2026-12-05).
  out +=
      "last update: " + (s.last_update_unix > 0 ? when(s.last_update_unix) : std::string("never")) +
      "\n";
  out += "stale files: " + std::to_string(s.stale.size()) + "\n";
  // A problem the user must clear first (a file where the index's folder goes) already says
  // "remove it"; the others the next update repairs by itself.
  if (!s.problem.empty())
    out += "problem: " + escape_name(s.problem) +
           (s.problem.ends_with("remove it") ? "\n" : " (the next update rebuilds it)\n");
  for (const auto& f : s.stale) out += escape_name(f) + "\n";
  write_stdout(out);
  return 0;
}

}  // namespace

int run_index(const CliOptions& opts) {
  if (opts.index_list) return run_list(opts);
  if (opts.index_clean) return run_clean(opts);
  if (opts.index_status) return run_status(opts);
  const std::vector<std::string> paths =
      opts.paths.empty() ? std::vector<std::string>{"."} : opts.paths;
  for (const auto& p : paths) {
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
      if (!fs::exists(p, ec)) throw IoError(p + ": No such file or directory");
      throw InvalidArgument(p + ": not a directory (only directories are indexed)");
    }
    check_readable(p);
  }
  ProgressPrinter progress(progress_mode(opts));
  progress.note("loading model " + model_spec(opts));
  double load_s = 0;
  // The weights load while the index is found, walked and checked (a warm query's start-up
  // is mostly those two): the first embed waits for them.
  std::shared_ptr<Embedder> embedder = load_embedder(opts, &load_s, WeightLoading::Background);
  progress.finish();
  std::string not_updated;  // read-only indexes left out of date
  for (const auto& p : paths) {
    auto index = Index::open(p, embedder, index_options(opts, &progress));
    const UpdateStats st = index->update();
    progress.finish();
    report_update_warnings(st, opts.quiet);

    std::string out;
    out += "index " + escape_name(index->location().string()) + " (root " +
           escape_name(index->root().string()) + ")\n";
    for (const auto& f : st.added) out += "A " + escape_name(f) + "\n";
    for (const auto& f : st.modified) out += "M " + escape_name(f) + "\n";
    for (const auto& f : st.removed) out += "D " + escape_name(f) + "\n";
    // Chunks of edited files whose text did not change keep their vectors.
    const std::string kept = st.chunks_reused == 0 ? std::string()
                                                   : " (" + std::to_string(st.chunks_reused) +
                                                         " kept from edited files)";
    char buf[640];
    std::snprintf(buf, sizeof(buf),
                  "files: %zu seen, %zu added, %zu modified, %zu removed, %zu unchanged\n"
                  "skipped: %zu binary, %zu invalid UTF-8, %zu too large, %zu unreadable\n"
                  "chunks: %zu embedded, %zu total%s\n"
                  "time: %.3fs (walk %.3fs, chunk %.3fs, embed %.3fs, write %.3fs; "
                  "model load %.3fs)\n",
                  st.files_seen, st.files_added, st.files_modified, st.files_removed,
                  st.files_unchanged, st.skipped_binary, st.skipped_invalid_utf8,
                  st.skipped_too_large, st.skipped_unreadable, st.chunks_embedded, st.chunks_total,
                  kept.c_str(), st.total_s, st.walk_s, st.chunk_s, st.embed_s, st.write_s, load_s);
    out += buf;
    write_stdout(out);
    if (opts.stats)
      std::fprintf(stderr, "ripvec stats: model %s on %s, %zu objects collected, %zu rebuilt\n",
                   embedder->model_id().c_str(), embedder->device_name().c_str(),
                   st.objects_collected, st.corrupt_rebuilt);
    if (st.files_left_stale > 0)
      not_updated += (not_updated.empty() ? "" : "; ") + escape_name(index->location().string()) +
                     " (" + std::to_string(st.files_left_stale) + " changed files)";
  }
  // `ripvec index` is asked to bring the index up to date: a read-only one that could not be
  // is a failure, not "0 added, 0 modified" and exit 0 (hostile probe 2026-12-06). A search
  // of such an index goes on with the warning.
  if (!not_updated.empty())
    throw IoError("cannot update read-only index " + not_updated +
                  ": give a writable --cache-dir, or ask its owner to update it");
  return 0;
}

}  // namespace ripvec::cli
