// `ripvec index [PATH...]`: refresh the index and report the changes, git-status style.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "commands.hpp"
#include "index/index.hpp"
#include "output.hpp"
#include "ripvec/error.hpp"

namespace ripvec::cli {

namespace fs = std::filesystem;

int run_index(const CliOptions& opts) {
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
  (void)walk_options(opts);  // reject bad flag values before the model load
  double load_s = 0;
  auto embedder = load_embedder(opts, &load_s);
  for (const auto& p : paths) {
    Progress progress(progress_enabled(opts));
    auto index = ProjectIndex::open(p, *embedder, index_options(opts, &progress));
    const IndexUpdateStats st = index->update();
    progress.finish();
    report_update_warnings(st, opts.quiet);

    std::string out;
    out += "index " + escape_name(index->location().string()) + " (root " +
           escape_name(index->root().string()) + ")\n";
    for (const auto& f : st.added) out += "A " + escape_name(f) + "\n";
    for (const auto& f : st.modified) out += "M " + escape_name(f) + "\n";
    for (const auto& f : st.removed) out += "D " + escape_name(f) + "\n";
    char buf[512];
    std::snprintf(buf, sizeof(buf),
                  "files: %zu seen, %zu added, %zu modified, %zu removed, %zu unchanged\n"
                  "skipped: %zu binary, %zu invalid UTF-8, %zu too large, %zu unreadable\n"
                  "chunks: %zu embedded, %zu total\n"
                  "time: %.3fs (walk %.3fs, chunk %.3fs, embed %.3fs, write %.3fs; "
                  "model load %.3fs)\n",
                  st.files_seen, st.files_added, st.files_modified, st.files_removed,
                  st.files_unchanged, st.skipped_binary, st.skipped_invalid_utf8,
                  st.skipped_too_large, st.skipped_unreadable, st.chunks_embedded, st.chunks_total,
                  st.total_s, st.walk_s, st.chunk_s, st.embed_s, st.write_s, load_s);
    out += buf;
    write_stdout(out);
    if (opts.stats)
      std::fprintf(stderr, "ripvec stats: model %s on %s, %zu objects collected, %zu rebuilt\n",
                   embedder->model_id().c_str(), embedder->device_name().c_str(),
                   st.objects_collected, st.corrupt_rebuilt);
  }
  return 0;
}

}  // namespace ripvec::cli
