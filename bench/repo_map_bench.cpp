// The repo graph's build from scratch against its rebuild from the previous graph (what an LSP /
// MCP session does after an edit: RepoMapOptions::previous), on a copy of a real tree.
//
// Usage: repo_map_bench DIR [--reps N]
//   DIR is copied to a temporary directory (never modified); then, best of N (default 3):
//   cold (no previous graph), unchanged (previous graph, no file changed: the session's second
//   build after its first index) and one edit (previous graph, one source file appended to).
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "ripvec/repo_map.hpp"

namespace fs = std::filesystem;
using ripvec::RepoGraph;
using ripvec::RepoMapOptions;

namespace {

double seconds(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: repo_map_bench DIR [--reps N]\n");
    return 2;
  }
  int reps = 3;
  for (int i = 2; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--reps") reps = std::max(1, std::atoi(argv[i + 1]));
  const fs::path tmp = fs::temp_directory_path() / ("repo_map_bench_" + std::to_string(getpid()));
  fs::remove_all(tmp);
  fs::copy(argv[1], tmp, fs::copy_options::recursive | fs::copy_options::skip_symlinks);
  // Written an hour ago, as a checkout is: a file written in the last 2 s is parsed again by
  // the next build whatever its stat says (RepoGraph's "racily clean" rule).
  for (const auto& e : fs::recursive_directory_iterator(tmp))
    if (e.is_regular_file())
      fs::last_write_time(e.path(), fs::file_time_type::clock::now() - std::chrono::hours(1));

  double cold = 1e30, same = 1e30, edit = 1e30;
  size_t files = 0, parsed_edit = 0;
  for (int r = 0; r < reps; ++r) {
    RepoGraph g;
    cold = std::min(cold, seconds([&] { g = RepoGraph::build(tmp); }));
    files = g.files().size();
    RepoMapOptions ro;
    ro.previous = &g;
    RepoGraph g2;
    same = std::min(same, seconds([&] { g2 = RepoGraph::build(tmp, ro); }));
    // Append to the first file of the graph (a comment line in any of its languages is not
    // needed: any text changes its stat, and the parse takes whatever it is).
    std::ofstream(tmp / g.files().front().path, std::ios::app) << "\n";
    fs::last_write_time(tmp / g.files().front().path,
                        fs::file_time_type::clock::now() - std::chrono::minutes(r + 1));
    ro.previous = &g2;
    RepoGraph g3;
    edit = std::min(edit, seconds([&] { g3 = RepoGraph::build(tmp, ro); }));
    parsed_edit = g3.parsed_files();
  }
  fs::remove_all(tmp);
  std::printf("repo_map_bench: %s, %zu source files in the graph, best of %d\n", argv[1], files,
              reps);
  std::printf("| build | s | files parsed |\n|---|---:|---:|\n");
  std::printf("| cold | %.3f | %zu |\n", cold, files);
  std::printf("| from previous, nothing changed | %.3f | 0 |\n", same);
  std::printf("| from previous, one file edited | %.3f | %zu |\n", edit, parsed_edit);
  return 0;
}
