// kill -9 of `ripvec mcp` while it updates the index (the reindex tool, then the file
// watcher) leaves an index that the CLI updates and searches correctly
// (tests/cli/mcp_kill_client.py). Skips with a message when python3 or the default model is
// missing. Also `ripvec mcp` on a root whose index another process is updating
// (tests/cli/mcp_busy_client.py).
#include <gtest/gtest.h>

#include <string>

#include "cli/cli_runner.hpp"
#include "cli/python_client.hpp"

namespace ripvec::test {
namespace {

TEST(McpKill, SigkillDuringUpdateLeavesAUsableIndex) {
  expect_python_client_passes("mcp_kill_client.py", "json", "python3 is not available");
}

// `ripvec mcp` on a root whose index another process is updating (tests/cli/mcp_busy_client.py
// holds the index's lock): a search answers from the last committed update at once, and a wait
// for a root with none ends when the request is cancelled. Hostile probe 2026-12-07: the search
// waited on the lock without limit, and cancelling it did not end the wait.
TEST(McpBusy, SearchWhileAnotherProcessUpdatesServesOrWaitsCancellably) {
  expect_python_client_passes("mcp_busy_client.py", "json", "python3 is not available");
}

}  // namespace
}  // namespace ripvec::test
