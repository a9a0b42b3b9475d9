// `ripvec mcp` driven by the official MCP Python SDK (tests/cli/mcp_sdk_client.py): initialize,
// tools/list with every schema validated by jsonschema, every tool called on a real tree,
// resources, ping, logging, argument errors, and the file watcher. Skips with a message when the
// SDK (pip install mcp jsonschema) or the default model is missing.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "cli/cli_runner.hpp"
#include "cli/fixture_sources.hpp"
#include "cli/python_client.hpp"
#include "common/test_util.hpp"

namespace ripvec::test {
namespace {

const char* kDownload = R"(import urllib.request

from math_utils import is_prime


def download_file(url, destination):
    """Fetch a URL over HTTP and save the body to a local file."""
    with urllib.request.urlopen(url) as response, open(destination, "wb") as out:
        out.write(response.read())
)";

const char* kReadme = R"(# mathkit

A small collection of number utilities.

## Installation

Install the package with pip: `pip install mathkit`, then import `math_utils`.

## License

MIT.
)";

TEST(McpSdk, OfficialPythonClientCallsEveryTool) {
  RIPVEC_REQUIRE_PATH(default_model_dir());
  int st = 0;
  run_capture("python3 -c 'import mcp, jsonschema'", &st);
  if (st != 0) GTEST_SKIP() << "the MCP Python SDK is not installed (pip install mcp jsonschema)";
  TempDir repo, cache;
  repo.write("math_utils.py", kPrimes);
  // A copy of is_prime kept in another file (what find_duplicates is for).
  const std::string primes = kPrimes;
  repo.write("legacy/primes_copy.py", primes.substr(0, primes.find("\n\n\ndef fibonacci") + 1));
  repo.write("net/fetch.py", kDownload);
  repo.write("src/settings.rs", kRust);
  repo.write("README.md", kReadme);
  std::string out =
      run_python_client("mcp_sdk_client.py", cache.path().string(), repo.path().string(), &st);
  ASSERT_NE(st, 77) << out;
  EXPECT_EQ(st, 0) << out;
  EXPECT_NE(out.find("all checks passed"), std::string::npos);
}

}  // namespace
}  // namespace ripvec::test
