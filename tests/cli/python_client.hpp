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

}  // namespace ripvec::test
