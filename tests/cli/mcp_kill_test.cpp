// kill -9 of `ripvec mcp` while it updates the index (the reindex tool, then the file
// watcher) leaves an index that the CLI updates and searches correctly
// (tests/cli/mcp_kill_client.py). Skips with a message when python3 or the default model is
// missing.
#include <gtest/gtest.h>

#include <string>

#include "cli/cli_runner.hpp"
#include "cli/python_client.hpp"

namespace ripvec::test {
namespace {

TEST(McpKill, SigkillDuringUpdateLeavesAUsableIndex) {
  RIPVEC_REQUIRE_PATH(default_model_dir());
  int st = 0;
  run_capture("python3 -c 'import json'", &st);
  if (st != 0) GTEST_SKIP() << "python3 is not available";
  TempDir work, cache;
  std::string out =
      run_python_client("mcp_kill_client.py", cache.path().string(), work.path().string(), &st);
  ASSERT_NE(st, 77) << out;
  EXPECT_EQ(st, 0) << out;
  EXPECT_NE(out.find("all checks passed"), std::string::npos);
}

}  // namespace
}  // namespace ripvec::test
