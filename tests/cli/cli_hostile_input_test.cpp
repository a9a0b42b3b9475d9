// Hostile trees and index directories found by a probe of the release binary (issue 10), each
// reproduced as the issue states it, end to end through `ripvec` with the real default model.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"
#include "common/test_util.hpp"
#include "ripvec/bytes.hpp"

namespace ripvec::test {
namespace {

namespace fs = std::filesystem;

class CliHostile : public ::testing::Test {
 protected:
  void SetUp() override { RIPVEC_REQUIRE_PATH(default_model_dir()); }

  // ripvec with the test model, CPU, an isolated cache, no progress output.
  CliRun run(std::vector<std::string> args) const {
    return model_run(std::move(args), cache_.path(), default_model_dir());
  }

  TempDir repo_, cache_;
};

// Issue 10, item 1: `mkdir t; printf 'def ok():\n return "needle"\n' > t/ok.py;
// printf 'x=1\n' > "$(printf 't/bad\xffname.py')"; ripvec index t` exited 2 with "input text is
// not valid UTF-8 (byte 12: 0xFF)" and every search of t failed, --no-index included.
TEST_F(CliHostile, NonUtf8FileNameDoesNotBreakTheTree) {
  const fs::path t = repo_ / "t";
  repo_.write("t/ok.py", "def ok():\n return \"needle\"\n");
  repo_.write("t/bad\xffname.py", "x=1\n");

  auto idx = run_cli(run({"index", t.string()}));
  ASSERT_EQ(idx.status, 0) << idx.err;
  EXPECT_NE(idx.out.find("A ok.py"), std::string::npos) << idx.out;
  // Text output escapes the byte that is not UTF-8 (docs/reliability.md, "Outputs").
  EXPECT_NE(idx.out.find("A bad\\xFFname.py"), std::string::npos) << idx.out;
  // The manifest keeps the name's bytes: a second run finds nothing new.
  auto again = run_cli(run({"index", t.string()}));
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("0 added, 0 modified, 0 removed, 2 unchanged"), std::string::npos)
      << again.out;

  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, {"--mode", "keyword"}, {"--no-index"}}) {
    std::vector<std::string> args = {"--json", "needle", t.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_cli(run(args));
    ASSERT_EQ(r.status, 0) << r.err;
    auto hits = json_lines(r.out);
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(hits[0]["path"], t.string() + "/ok.py");
    EXPECT_FALSE(hits[0].contains("path_b64"));  // only for names that are not UTF-8
  }

  // The odd name itself is found, shown with U+FFFD, and its exact bytes are in path_b64.
  for (const char* index_flag : {"--index", "--no-index"}) {
    auto r =
        run_cli(run({"--json", "--mode", "keyword", "-n", "5", "x=1", t.string(), index_flag}));
    ASSERT_EQ(r.status, 0) << r.err;
    bool found = false;
    for (const auto& h : json_lines(r.out)) {
      if (!h.contains("path_b64")) continue;
      found = true;
      EXPECT_EQ(h["path"], t.string() + "/bad\xEF\xBF\xBDname.py");
      // Decoded with the RFC 4648 decoder that util_base64_test checks against the RFC's
      // vectors; the bytes must be the name's, exactly.
      auto bytes = base64_decode(h["path_b64"].get<std::string>());
      ASSERT_TRUE(bytes.has_value());
      EXPECT_EQ(*bytes, t.string() + "/bad\xffname.py");
      EXPECT_EQ(h["content"], "x=1");
    }
    EXPECT_TRUE(found) << index_flag << ": " << r.out;
  }
}

// A process that cannot start a thread (a container's or cgroup's cap on tasks) ends with an
// error (exit 2), never an abort: the streamed ingest made its embedding thread outside its
// error handling while another thread was running, and std::terminate ended 4 of 12 runs under
// pids.max 3-6 with exit 134 (hostile probe 2026-12-06). Needs a writable cgroup-v1 pids
// hierarchy (root); skipped elsewhere.
TEST_F(CliHostile, ThreadThatCannotStartIsAnErrorNotAnAbort) {
  const fs::path pids = "/sys/fs/cgroup/pids";
  const fs::path cg = pids / ("ripvec_test_" + std::to_string(::getpid()));
  std::error_code ec;
  if (!fs::exists(pids / "cgroup.procs") || !fs::create_directory(cg, ec) || ec)
    GTEST_SKIP() << "no writable cgroup-v1 pids hierarchy";
  struct RemoveCgroup {
    fs::path p;
    ~RemoveCgroup() { ::rmdir(p.c_str()); }
  } remove_cgroup{cg};
  for (int f = 0; f < 12; ++f)
    repo_.write("t/m" + std::to_string(f) + ".py",
                "def f" + std::to_string(f) + "(x):\n    return x + " + std::to_string(f) + "\n");
  int runs = 0;
  for (int max : {3, 4, 5, 6})
    for (int rep = 0; rep < 3; ++rep) {
      { std::ofstream(cg / "pids.max") << max << "\n"; }
      TempDir cache;  // every run has files to embed
      CliRun r =
          model_run({"index", "-q", (repo_ / "t").string()}, cache.path(), default_model_dir());
      r.prefix = {"/bin/sh", "-c",
                  "echo $$ > " + (cg / "cgroup.procs").string() + " && exec \"$@\"", "sh"};
      const CliResult res = run_cli(r);
      ++runs;
      EXPECT_TRUE(res.status == 0 || res.status == 2)
          << "pids.max " << max << ": status " << res.status << "\n"
          << res.err;
      if (res.status == 2) EXPECT_NE(res.err.find("ripvec: "), std::string::npos) << res.err;
      EXPECT_EQ(res.err.find("internal error"), std::string::npos) << res.err;
    }
  EXPECT_EQ(runs, 12);
}

// Hostile probe 2026-12-07: threads take RLIMIT_STACK as their stack size, so under
// `ulimit -s 256` the chunker's recursive walk of a syntax tree overflowed a pool thread's 256 KiB
// at ~180 levels: 300 nested parentheses in a .py file crashed index, search and map (SIGSEGV),
// and under `ulimit -s 64` map and mcp crashed on any input. Every thread of ripvec, the one
// running the command included, gets at least 8 MiB.
TEST(CliStack, SmallStackLimitDoesNotCrashOnDeepNesting) {
  RIPVEC_REQUIRE_PATH("/usr/bin/prlimit");
  TempDir repo, cache;
  repo.write("a.py", "x = " + std::string(300, '(') + "1" + std::string(300, ')') + "\n");
  repo.write("b.js", "const y = " + std::string(3000, '[') + std::string(3000, ']') + ";\n");
  const fs::path tiny = test_data("bert/tiny_bge_cls");
  for (const std::string& stack : {"262144", "65536"}) {
    SCOPED_TRACE("stack " + stack);
    for (auto args : {std::vector<std::string>{"-q", "--no-index", "nested", repo.path()},
                      std::vector<std::string>{"index", "-q", repo.path()}}) {
      CliRun r = model_run(args, cache.path(), tiny);
      r.prefix = {"/usr/bin/prlimit", "--stack=" + stack};
      const CliResult res = run_cli(r);
      EXPECT_TRUE(res.status == 0 || res.status == 1) << res.status << " " << res.err;
    }
    CliRun m;
    m.args = {"map", repo.path().string()};
    m.prefix = {"/usr/bin/prlimit", "--stack=" + stack};
    const CliResult res = run_cli(m);
    EXPECT_TRUE(res.status == 0 || res.status == 1) << res.status << " " << res.err;
  }
}

// Hostile probe 2026-12-07: the OpenBLAS the CPU driver linked started a worker thread when the
// library loaded, before main. Under RLIMIT_NPROC too low for it (`prlimit --nproc=1` as an
// unprivileged user) it printed "blas_thread_init: pthread_create failed" and raised SIGINT:
// every command, --version included, exited 130. ripvec links no BLAS now; a command that needs
// a thread it cannot have says so.
TEST(CliLimits, ProcessLimitBeforeMainDoesNotKillEveryCommand) {
  RIPVEC_REQUIRE_PATH("/usr/bin/prlimit");
  RIPVEC_REQUIRE_PATH("/usr/bin/setpriv");
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run as another user (nobody)";
  CliRun r;
  // As nobody (RLIMIT_NPROC counts that user's processes; root is exempt), with no room for a
  // second thread.
  r.prefix = {"/usr/bin/prlimit", "--nproc=1",     "/usr/bin/setpriv",
              "--reuid=65534",    "--regid=65534", "--clear-groups"};
  r.args = {"--version"};
  const CliResult version = run_cli(r);
  EXPECT_EQ(version.status, 0) << version.err;  // 130: SIGINT before main
  EXPECT_EQ(version.out.rfind("ripvec ", 0), 0u) << version.out;
  r.args = {"tokenize", "--model", test_data("bert/tiny_bge_cls").string(), "hello"};
  const CliResult tok = run_cli(r);
  EXPECT_TRUE(tok.status == 0 || tok.status == 2) << tok.status << " " << tok.err;
  if (tok.status == 2)
    EXPECT_NE(tok.err.find("cannot start a thread"), std::string::npos) << tok.err;
  EXPECT_EQ(tok.err.find("blas"), std::string::npos) << tok.err;
}

// Hostile probe 2026-12-07: under an address-space limit OpenBLAS's buffer allocation (128 MB,
// on the first product it ran) retried forever, so a search, whose query's first product with
// each weight ran there, hung for good (`prlimit --as=200000000`: killed by the timeout). The
// products run on ripvec's own kernels now: the search ends, with results or naming the limit.
TEST(CliLimits, SearchUnderAnAddressSpaceLimitEnds) {
  RIPVEC_REQUIRE_PATH("/usr/bin/prlimit");
  RIPVEC_REQUIRE_PATH("/usr/bin/timeout");
  TempDir repo, cache;
  repo.write("src/retry.py",
             "def retry(f):\n    for i in range(3):\n        try:\n            return f()\n"
             "        except Exception:\n            pass\n");
  const fs::path tiny = test_data("bert/tiny_bge_cls");
  const CliResult built =
      run_cli(model_run({"index", "-q", repo.path() / "src"}, cache.path(), tiny));
  ASSERT_EQ(built.status, 0) << built.err;
  for (const std::string& as : {"200000000", "300000000", "450000000"}) {
    SCOPED_TRACE("--as=" + as);
    CliRun r = model_run({"-q", "retry", repo.path() / "src"}, cache.path(), tiny);
    r.prefix = {"/usr/bin/timeout", "-s", "KILL", "60", "/usr/bin/prlimit", "--as=" + as};
    const CliResult res = run_cli(r);
    ASSERT_NE(res.status, 128 + SIGKILL) << "killed by the timeout: the search hangs";
    if (res.status == 2) {
      EXPECT_TRUE(res.err.find("out of memory") != std::string::npos ||
                  res.err.find("cannot start a thread") != std::string::npos)
          << res.err;
      continue;
    }
    EXPECT_EQ(res.status, 0) << res.err;
    EXPECT_NE(res.out.find("retry.py"), std::string::npos) << res.out;
  }
}

// Issue 10, item 5: a 100 KB one-line min.js ending in `zzuniqueword` kept only its first
// 16 KB, so keyword search and --no-index found nothing.
TEST_F(CliHostile, MinifiedFileTailIsSearchable) {
  std::string src;
  for (int i = 0; src.size() < 100 * 1024; ++i)
    src += "function f" + std::to_string(i) + "(a,b){return a+b*" + std::to_string(i) + "};";
  src += "var zzuniqueword=1;\n";
  repo_.write("min.js", src);
  for (const char* index_flag : {"--index", "--no-index"}) {
    auto r = run_cli(
        run({"--json", "--mode", "keyword", "zzuniqueword", repo_.path().string(), index_flag}));
    ASSERT_EQ(r.status, 0) << index_flag << ": " << r.err;
    auto hits = json_lines(r.out);
    ASSERT_FALSE(hits.empty());
    EXPECT_NE(hits[0]["content"].get<std::string>().find("zzuniqueword"), std::string::npos);
    EXPECT_EQ(hits[0]["start_line"], 1);
  }
}

// Known since 2026-12-05 (hostile probe, third round): a line longer than 16 KiB is cut into
// byte windows, and --vimgrep counted the column from the window's start (8233 for a word at
// byte 41000 of the line). It counts from the line's start now.
TEST_F(CliHostile, VimgrepColumnOfALongLineCountsFromTheLineStart) {
  std::string src;
  for (int i = 0; src.size() < 40 * 1024; ++i)
    src += "function f" + std::to_string(i) + "(a,b){return a+b*" + std::to_string(i) + "};";
  const size_t at = src.size() + 4;  // "var " then the word
  src += "var zzuniqueword=1;";
  for (int i = 0; src.size() < 60 * 1024; ++i)
    src += "function g" + std::to_string(i) + "(a,b){return a-b*" + std::to_string(i) + "};";
  repo_.write("min.js", src + "\n");
  auto r = run_cli(run({"--vimgrep", "--mode", "keyword", "zzuniqueword", repo_.path().string()}));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string want = ":1:" + std::to_string(at + 1) + ":";
  EXPECT_NE(r.out.find(want), std::string::npos) << r.out.substr(0, 200);
  // --json says where the window starts in its line (fifth round): content is the line's bytes
  // from start_column on.
  auto j = run_cli(run({"--json", "--mode", "keyword", "zzuniqueword", repo_.path().string()}));
  ASSERT_EQ(j.status, 0) << j.err;
  auto hits = json_lines(j.out);
  ASSERT_FALSE(hits.empty());
  const size_t col = hits[0]["start_column"].get<size_t>();
  const std::string content = hits[0]["content"].get<std::string>();
  EXPECT_GT(col, 0u);
  EXPECT_EQ(src.substr(col, content.size()), content);
}

}  // namespace
}  // namespace ripvec::test
