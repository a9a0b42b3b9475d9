// The file watcher of the protocol servers (src/server/watcher.cpp) with the real default
// model: a root whose folder goes away and comes back keeps its index and is watched again.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli/cli_runner.hpp"
#include "common/test_util.hpp"
#include "ripvec/server.hpp"
#include "server/watcher.hpp"
#include "server/workspace.hpp"

namespace ripvec {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
}

size_t keyword_hits(server::Root& r, const std::string& q) {
  SearchOptions so;
  so.mode = SearchMode::Keyword;
  return r.index()->search(q, so).size();
}

// Probe 2026-12-05: `rm -rf ROOT; mkdir ROOT` (or a rename away and back) under `ripvec mcp`:
// the watcher's update walked nothing and committed an empty index, the root's own watch was
// gone for good, and searches answered "no results" until a full reindex. Now the update fails
// (the index is kept) and the root is watched again once its folder exists.
TEST(ServerWatcher, RootDeletedAndMadeAgainIsWatchedAgain) {
  RIPVEC_REQUIRE_PATH(test::default_model_dir() / "model.safetensors");
  test::TempDir base;  // (cli_runner.hpp)
  const fs::path root = base.path() / "w";
  write(root / "a.py", "def alpha_quokka():\n    return 1\n");
  ServerOptions so;
  so.roots = {root};
  so.embedder.model = test::default_model_dir().string();
  so.embedder.device = Device::Cpu;
  so.embedder.resolve.allow_download = false;
  so.embedder.resolve.progress = false;
  so.index.cache_dir = base.path() / "cache";
  so.index.threads = 1;
  server::Workspace ws(so, [](const std::string&, const std::string&) {});
  server::Root& r = ws.root("");
  r.ensure_indexed(nullptr);
  ASSERT_EQ(keyword_hits(r, "alpha_quokka"), 1u);
  server::Watcher watcher(ws, 0.3);
  watcher.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // the root's watches are set

  fs::remove_all(root);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // an update of the empty root
  EXPECT_EQ(keyword_hits(r, "alpha_quokka"), 1u) << "the index was emptied";
  write(root / "a.py", "def alpha_quokka():\n    return 1\n");
  write(root / "b.py", "def beta_wombat():\n    return 2\n");
  bool found = false;
  for (int i = 0; i < 150 && !found; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    found = keyword_hits(r, "beta_wombat") == 1;
  }
  watcher.stop();
  EXPECT_TRUE(found) << "the new root folder was not watched again";
  EXPECT_EQ(keyword_hits(r, "alpha_quokka"), 1u);
}

}  // namespace
}  // namespace ripvec
