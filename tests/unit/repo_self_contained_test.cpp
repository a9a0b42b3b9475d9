// A clone of the repository alone builds and passes its tests (issue 9): nothing in the build,
// the tests, the benchmarks, the scripts or the docs points outside the repository (a sibling
// folder beside the clone, a machine's /work tree), and the third-party reference files the tests
// compare against are the ones tests/data/assets/README.md lists, byte for byte (their sha256
// is what makes them references).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "index/hash.hpp"

namespace ripvec {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(RepoSelfContained, TestDataLivesInTheRepository) {
  const auto src = fs::weakly_canonical(RIPVEC_SOURCE_DIR);
  const auto data = fs::weakly_canonical(RIPVEC_TEST_DATA);
  const auto rel = data.lexically_relative(src);
  EXPECT_FALSE(rel.empty() || *rel.begin() == "..") << data << " is outside " << src;
}

// Reproduces the case: tests/CMakeLists.txt pointed RIPVEC_SHARED_ASSETS at a folder beside the
// clone and model_config_test, tokenizer_bpe_test, cli_embed_test... failed in a plain clone.
TEST(RepoSelfContained, NoFileReferencesOutsideTheRepository) {
  const fs::path root = RIPVEC_SOURCE_DIR;
  // Built from pieces so that this file does not match itself.
  const std::vector<std::string> needles = {
      std::string("../") + "shared", std::string("/work") + "/", std::string("shared") + "/assets"};
  // Third-party data (tests/data/assets) and fetched sources are not ours to scan.
  const std::set<fs::path> skip_dirs = {root / "tests" / "data" / "assets",
                                        root / "third_party" / "_src"};
  size_t scanned = 0;
  // Every top-level entry but hidden ones (.git, .venv, .cache...) and build trees.
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string top = entry.path().filename().string();
    if (top.starts_with(".") || top.starts_with("build") || top == "compile_commands.json") {
      continue;
    }
    const fs::path start = entry.path();
    std::vector<fs::path> files;
    if (fs::is_regular_file(start)) {
      files.push_back(start);
    } else {
      for (auto it = fs::recursive_directory_iterator(start); it != fs::end(it); ++it) {
        if (it->is_directory() && skip_dirs.count(it->path())) {
          it.disable_recursion_pending();
        } else if (it->is_regular_file() && it->file_size() < (4u << 20)) {
          files.push_back(it->path());
        }
      }
    }
    for (const auto& f : files) {
      const std::string text = slurp(f);
      ++scanned;
      for (const auto& n : needles) {
        const auto pos = text.find(n);
        if (pos == std::string::npos) continue;
        const auto line = std::count(text.begin(), text.begin() + pos, '\n') + 1;
        ADD_FAILURE() << fs::relative(f, root).string() << ":" << line << " refers to \"" << n
                      << "\", outside the repository; commit the input under tests/data instead";
      }
    }
  }
  EXPECT_GT(scanned, 100u);
}

TEST(RepoSelfContained, AssetsMatchTheirListedSha256) {
  const auto readme = test::asset("README.md");
  ASSERT_TRUE(fs::exists(readme)) << readme;
  // Table rows: | `path` | bytes | `sha256` | licence | read by |
  const std::regex row(R"(^\| `([^`]+)` \| ([0-9]+) \| `([0-9a-f]{64})` \|)");
  std::istringstream lines(slurp(readme));
  std::set<std::string> listed;
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    const std::string rel = m[1];
    listed.insert(rel);
    const auto path = test::asset(rel);
    ASSERT_TRUE(fs::exists(path)) << "listed but missing: " << path;
    const std::string bytes = slurp(path);
    EXPECT_EQ(std::to_string(bytes.size()), m[2].str()) << rel;
    EXPECT_EQ(index::sha256_hex(bytes), m[3].str()) << rel << " differs from its reference";
  }
  // Every file in the folder is listed (provenance and licence for each).
  for (const auto& e : fs::recursive_directory_iterator(test::asset(""))) {
    if (!e.is_regular_file() || e.path().filename() == "README.md") continue;
    const auto rel = fs::relative(e.path(), test::asset("")).generic_string();
    EXPECT_TRUE(listed.count(rel)) << rel << " is not listed in tests/data/assets/README.md";
  }
  EXPECT_GE(listed.size(), 10u);
}

}  // namespace
}  // namespace ripvec
