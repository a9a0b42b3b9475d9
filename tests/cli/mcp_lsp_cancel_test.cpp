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
  expect_python_client_passes("cancel_client.py", "mcp",
                              "the MCP Python SDK is not installed (pip install mcp)");
}

}  // namespace
}  // namespace ripvec::test
