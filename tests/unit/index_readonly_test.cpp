// Issue 10, item 9: a read-only cache holding a complete, current index failed with "cannot open
// lock file ... Permission denied". It must be searched as it is, with a warning that it cannot
// be updated. Permission bits do not bind root, so as root each step runs in a forked child
// and the read-only steps drop to uid/gid 65534 ("nobody") first; the parent itself never
// starts the thread pool (a forked child would have none), which is why this test has its own
// binary. Not root: the same steps run with the permission bits in force directly.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/child_process.hpp"
#include "ripvec/index.hpp"
#include "unit/index_test_util.hpp"

using namespace ripvec;
namespace fs = std::filesystem;

namespace {

void chmod_tree(const fs::path& root, bool writable) {
  for (auto& e : fs::recursive_directory_iterator(root))
    ::chmod(e.path().c_str(),
            e.is_directory() ? (writable ? 0755 : 0555) : (writable ? 0644 : 0444));
  ::chmod(root.c_str(), writable ? 0755 : 0555);
}

class IndexReadOnly : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("ripvec_ro_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
    ::chmod(base_.c_str(), 0755);  // "nobody" must reach the tree and the cache
    root_ = base_ / "repo";
    cache_ = base_ / "cache";
    // Written just now: every manifest entry is "racily clean" (mtime -1), so the read-only
    // index has to compare contents rather than trust a stat match.
    write("src/alpha.py", "def alpha_retry(x):\n    return backoff(x) + 1\n");
    write("README.md", "# Demo\n\nThe zanzibar widget frobnicates configuration.\n");
    write("config.js", "export const timeout = 30; // quux handling\n");
    chmod_tree(root_, true);
  }
  void TearDown() override {
    std::error_code ec;
    if (fs::exists(cache_)) chmod_tree(cache_, true);
    fs::remove_all(base_, ec);
  }
  void write(const std::string& rel, const std::string& s) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel, std::ios::binary | std::ios::trunc) << s;
  }
  // One process's use of the index: update, then the three searches, then the warnings.
  std::string use_index() {
    TestHashEmbedder emb;
    IndexOptions o;
    o.cache_dir = cache_;
    auto idx = Index::open(root_, borrow(emb), o);
    auto st = idx->update();
    std::string r = test::search_summary(*idx);
    for (const auto& w : st.warnings) r += "warning: " + w + "\n";
    if (st.files_left_stale > 0) r += "left stale: " + std::to_string(st.files_left_stale) + "\n";
    return r;
  }
  // The index directory (<cache>/<root key>/<model>-<key>/): the one folder holding a lock file.
  fs::path location() const {
    for (auto& e : fs::recursive_directory_iterator(cache_))
      if (e.path().filename() == "lock") return e.path().parent_path();
    ADD_FAILURE() << "no index directory under " << cache_;
    return cache_;
  }
  std::string as_reader(int* code) {
    return test::in_child(
        ::geteuid() == 0 ? 65534 : -1, [&] { return use_index(); }, code);
  }

  fs::path base_, root_, cache_;
};

TEST_F(IndexReadOnly, ReadOnlyCacheIsSearchedAsItIs) {
  int code = 0;
  const std::string built = test::in_child(
      -1, [&] { return use_index(); }, &code);
  ASSERT_EQ(code, 0) << built;
  ASSERT_EQ(built.find("warning"), std::string::npos) << built;
  const std::string want = built;  // the searches, no warnings
  const fs::path loc = location();
  chmod_tree(cache_, false);  // chmod -R a-w

  // Lock file present: a shared lock on a read-only descriptor.
  std::string got = as_reader(&code);
  if (code == test::kChildCannotDrop) GTEST_SKIP() << "cannot drop privileges to uid 65534";
  ASSERT_EQ(code, 0) << got;
  EXPECT_EQ(got.substr(0, want.size()), want);
  EXPECT_NE(got.find("is read-only: searching it as it is (it cannot be updated)"),
            std::string::npos)
      << got;
  // Nothing was written.
  EXPECT_FALSE(fs::exists(loc / "gc-pending"));

  // The tree changed since: still searched as it is, and the warning says it is out of date.
  write("src/alpha.py", "def alpha_retry(x):\n    return backoff(x) + 2\n");
  got = as_reader(&code);
  ASSERT_EQ(code, 0) << got;
  EXPECT_EQ(got.substr(0, want.size()), want);
  EXPECT_NE(got.find("read-only and out of date (1 files changed"), std::string::npos) << got;
  // ... and says how many files it left out, so that `ripvec index` fails on it instead of
  // reporting "0 added, 0 modified" with exit 0 (hostile probe 2026-12-06).
  EXPECT_NE(got.find("left stale: 1\n"), std::string::npos) << got;

  // No lock file at all (and none can be created): a lock-free read of the committed state.
  write("src/alpha.py", "def alpha_retry(x):\n    return backoff(x) + 1\n");
  chmod_tree(cache_, true);
  fs::remove(loc / "lock");
  chmod_tree(cache_, false);
  got = as_reader(&code);
  ASSERT_EQ(code, 0) << got;
  EXPECT_EQ(got.substr(0, want.size()), want);
  EXPECT_FALSE(fs::exists(loc / "lock"));
}

// Review 2026-12-05: entries of a manifest written before ctime and inode were recorded are
// read again once by a writer; in a read-only cache nothing can be recorded, so they are
// compared by size and mtime as before (else every search re-read every file, and a skipped
// file counted as changed forever: "read-only and out of date").
TEST_F(IndexReadOnly, OlderManifestInAReadOnlyCacheIsNotOutOfDate) {
  write("blob.py", std::string("x = 1\0y", 7));  // skipped: binary
  for (auto& e : fs::recursive_directory_iterator(root_))
    if (e.is_regular_file())
      fs::last_write_time(e.path(), fs::file_time_type::clock::now() - std::chrono::hours(2));
  int code = 0;
  const std::string built = test::in_child(
      -1, [&] { return use_index(); }, &code);
  ASSERT_EQ(code, 0) << built;
  const fs::path loc = location();
  {
    nlohmann::json m = nlohmann::json::parse(std::ifstream(loc / "manifest.json"));
    for (auto& [path, e] : m["files"].items()) {
      e.erase("ctime_ns");
      e.erase("ino");
    }
    std::ofstream(loc / "manifest.json", std::ios::trunc) << m.dump(1);
  }
  chmod_tree(cache_, false);
  std::string got = as_reader(&code);
  if (code == test::kChildCannotDrop) GTEST_SKIP() << "cannot drop privileges to uid 65534";
  ASSERT_EQ(code, 0) << got;
  EXPECT_EQ(got.find("out of date"), std::string::npos) << got;
  EXPECT_NE(got.find("is read-only: searching it as it is"), std::string::npos) << got;
}

// Review 2026-12-05: a root the walk cannot read (`chmod 000`) made the update walk nothing and
// commit an empty index, as a missing root did. It fails, and the index keeps its chunks.
TEST_F(IndexReadOnly, UnreadableRootLeavesTheIndexAlone) {
  int code = 0;
  const std::string built = test::in_child(
      -1, [&] { return use_index(); }, &code);
  ASSERT_EQ(code, 0) << built;
  // The cache writable by the reader, the root not readable by it.
  for (auto& e : fs::recursive_directory_iterator(cache_))
    ::chmod(e.path().c_str(), e.is_directory() ? 0777 : 0666);
  ::chmod(cache_.c_str(), 0777);
  ::chmod(root_.c_str(), 0000);
  std::string got = as_reader(&code);
  ::chmod(root_.c_str(), 0755);
  if (code == test::kChildCannotDrop) GTEST_SKIP() << "cannot drop privileges to uid 65534";
  EXPECT_NE(code, 0) << got;  // the update threw
  const std::string again = test::in_child(
      -1, [&] { return use_index(); }, &code);
  ASSERT_EQ(code, 0) << again;
  EXPECT_EQ(again, built);  // the same searches: nothing was removed
}

// A read-only cache without a usable index is an error that says what to do instead.
TEST_F(IndexReadOnly, ReadOnlyCacheWithoutIndexIsAClearError) {
  int code = 0;
  const std::string built = test::in_child(
      -1, [&] { return use_index(); }, &code);
  ASSERT_EQ(code, 0) << built;
  const fs::path loc = location();
  ASSERT_TRUE(fs::exists(loc / "manifest.json"));
  fs::remove(loc / "manifest.json");
  chmod_tree(cache_, false);
  const std::string got = as_reader(&code);
  if (code == test::kChildCannotDrop) GTEST_SKIP() << "cannot drop privileges to uid 65534";
  EXPECT_EQ(code, 3) << got;
  EXPECT_NE(got.find("--no-index"), std::string::npos) << got;
}

// Hostile probe 2026-12-05: a read-only cache folder with no index in it said only "cannot
// create index directory ...: Permission denied", without the way out the promise names.
TEST_F(IndexReadOnly, ReadOnlyEmptyCacheSaysWhatToDo) {
  fs::create_directories(cache_);
  chmod_tree(cache_, false);
  int code = 0;
  const std::string got = as_reader(&code);
  if (code == test::kChildCannotDrop) GTEST_SKIP() << "cannot drop privileges to uid 65534";
  EXPECT_EQ(code, 3) << got;
  EXPECT_NE(got.find("cannot create index directory"), std::string::npos) << got;
  EXPECT_NE(got.find("--no-index"), std::string::npos) << got;
}

}  // namespace
