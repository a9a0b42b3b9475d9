// Runs a Python protocol client of tests/cli/ (the MCP SDK client, the cancellation and kill
// clients) against the built `ripvec`: `python3 SCRIPT RIPVEC MODEL_DIR CACHE_DIR TREE`, its
// output echoed as it comes (these tests take tens of seconds) and returned.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "common/test_util.hpp"

namespace ripvec::test {

// `cmd` through sh with stderr merged; *status = its exit status (-1 when it did not exit).
inline std::string run_capture(const std::string& cmd, int* status, bool echo = false) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    out.append(buf, n);
    if (echo) {
      std::fwrite(buf, 1, n, stdout);
      std::fflush(stdout);
    }
  }
  int st = ::pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

// Exit status 0: every check passed; 77: a Python module is missing (callers skip).
inline std::string run_python_client(const std::string& script, const std::string& cache,
                                     const std::string& tree, int* status) {
  const std::string path = std::string(RIPVEC_SOURCE_DIR) + "/tests/cli/" + script;
  return run_capture("python3 '" + path + "' '" + RIPVEC_CLI + "' '" +
                         default_model_dir().string() + "' '" + cache + "' '" + tree + "'",
                     status, /*echo=*/true);
}

// Runs `script` (tests/cli/) on a fresh work tree and cache with the default model and expects
// every check to pass. Skips (the calling test ends skipped) when the model is missing, when
// `python3 -c "import <modules>"` fails (saying `why`), or when the client exits 77.
inline void expect_python_client_passes(const std::string& script, const std::string& modules,
                                        const std::string& why) {
  RIPVEC_REQUIRE_PATH(default_model_dir());
  int st = 0;
  run_capture("python3 -c 'import " + modules + "'", &st);
  if (st != 0) GTEST_SKIP() << why;
  TempDir work, cache;
  const std::string out =
      run_python_client(script, cache.path().string(), work.path().string(), &st);
  if (st == 77) GTEST_SKIP() << out;
  EXPECT_EQ(st, 0) << out;
  EXPECT_NE(out.find("all checks passed"), std::string::npos);
}

}  // namespace ripvec::test
