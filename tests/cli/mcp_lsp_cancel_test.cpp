// Cancellation that stops the work (tests/cli/cancel_client.py): an MCP reindex cancelled
// through the official MCP Python SDK stops mid-way and commits nothing; a raw MCP
// notifications/cancelled gets no response; an LSP $/cancelRequest of a workspace/symbol that
// builds the repo graph answers -32800 long before the build would have finished.
// Skips with a message when the MCP Python SDK or the default model is missing.
#include <gtest/gtest.h>

#include <string>

#include "cli/cli_runner.hpp"
#include "cli/python_client.hpp"

namespace ripvec::test {
namespace {

TEST(ProtocolCancel, CancelledRequestsStopTheirWork) {
  RIPVEC_REQUIRE_PATH(default_model_dir());
  int st = 0;
  run_capture("python3 -c 'import mcp'", &st);
  if (st != 0) GTEST_SKIP() << "the MCP Python SDK is not installed (pip install mcp)";
  TempDir work, cache;
  std::string out =
      run_python_client("cancel_client.py", cache.path().string(), work.path().string(), &st);
  ASSERT_NE(st, 77) << out;
  EXPECT_EQ(st, 0) << out;
  EXPECT_NE(out.find("all checks passed"), std::string::npos);
}

}  // namespace
}  // namespace ripvec::test
