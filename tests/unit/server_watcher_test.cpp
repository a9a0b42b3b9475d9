// The file watcher of the protocol servers (src/server/watcher.cpp) with the real default
// model: a root whose folder goes away and comes back keeps its index and is watched again.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
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

// Waits up to 30 s for `pred`.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 150; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return pred();
}

struct Served {
  test::TempDir base;  // (cli_runner.hpp)
  fs::path root = base.path() / "w";
  std::unique_ptr<server::Workspace> ws;
  server::Root* r = nullptr;
  std::unique_ptr<server::Watcher> watcher;

  Served() {
    write(root / "a.py", "def alpha_quokka():\n    return 1\n");
    ServerOptions so;
    so.roots = {root};
    so.embedder.model = test::default_model_dir().string();
    so.embedder.device = Device::Cpu;
    so.embedder.resolve.allow_download = false;
    so.embedder.resolve.progress = false;
    so.index.cache_dir = base.path() / "cache";
    so.index.threads = 1;
    ws = std::make_unique<server::Workspace>(so, [](const std::string&, const std::string&) {});
    r = &ws->root("");
    r->ensure_indexed(nullptr);
    watcher = std::make_unique<server::Watcher>(*ws, 0.3);
    watcher->start();
  }
  ~Served() { watcher->stop(); }
  // The watcher updates each root once after setting its watches: then they are in place.
  bool watching() {
    return eventually([&] { return watcher->updates() >= 1; });
  }
};

// Probe 2026-12-05: `rm -rf ROOT; mkdir ROOT` under `ripvec mcp`: the watcher's update walked
// nothing and committed an empty index, the root's own watch was gone for good, and searches
// answered "no results" until a full reindex. Now the update fails (the index is kept) and the
// root is watched again once its folder exists.
TEST(ServerWatcher, RootDeletedAndMadeAgainIsWatchedAgain) {
  RIPVEC_REQUIRE_PATH(test::default_model_dir() / "model.safetensors");
  Served s;
  ASSERT_EQ(keyword_hits(*s.r, "alpha_quokka"), 1u);
  ASSERT_TRUE(s.watching());
  fs::remove_all(s.root);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the debounce
  EXPECT_EQ(keyword_hits(*s.r, "alpha_quokka"), 1u) << "the index was emptied";
  write(s.root / "a.py", "def alpha_quokka():\n    return 1\n");
  write(s.root / "b.py", "def beta_wombat():\n    return 2\n");
  EXPECT_TRUE(eventually([&] { return keyword_hits(*s.r, "beta_wombat") == 1; }))
      << "the new root folder was not watched again";
  EXPECT_EQ(keyword_hits(*s.r, "alpha_quokka"), 1u);
}

// Review 2026-12-05: a root renamed away (its watches follow the folder) with a fresh folder
// moved in at its path was never watched again.
TEST(ServerWatcher, RootRenamedAwayAndReplacedIsWatchedAgain) {
  RIPVEC_REQUIRE_PATH(test::default_model_dir() / "model.safetensors");
  Served s;
  ASSERT_TRUE(s.watching());
  const fs::path fresh = s.base.path() / "fresh";
  write(fresh / "c.py", "def gamma_okapi():\n    return 3\n");
  fs::rename(s.root, s.base.path() / "old");
  fs::rename(fresh, s.root);
  EXPECT_TRUE(eventually([&] { return keyword_hits(*s.r, "gamma_okapi") == 1; }))
      << "the folder moved in was not watched";
  write(s.root / "d.py", "def delta_tapir():\n    return 4\n");
  EXPECT_TRUE(eventually([&] { return keyword_hits(*s.r, "delta_tapir") == 1; }));
}

}  // namespace
}  // namespace ripvec
