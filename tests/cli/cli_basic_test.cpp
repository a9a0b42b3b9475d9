// The ripvec binary without a model: help, version, flag errors and input validation, all of
// which must be answered before any model is loaded.
#include <gtest/gtest.h>
#include <algorithm>

#include "cli/cli_runner.hpp"

namespace ripvec::test {
namespace {

bool starts_with(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}

TEST(CliBasic, HelpListsFlagsAndCommands) {
  auto r = run_cli({"--help"});
  EXPECT_EQ(r.status, 0) << r.err;
  for (const char* s :
       {"Usage: ripvec", "--top-k",    "--mode",      "--threshold",    "--json",
        "--color",       "--no-index", "--reindex",   "--cache-dir",    "--repo-local",
        "--model",       "--device",   "--stats",     "--type",         "--type-not",
        "--glob",        "--hidden",   "--no-ignore", "--max-filesize", "--threads",
        "--quiet",       "index",      "embed",       "tokenize",       "Exit status"})
    EXPECT_NE(r.out.find(s), std::string::npos) << "help lacks " << s;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(CliBasic, SubcommandHelp) {
  auto r = run_cli({"index", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--reindex"), std::string::npos);
  r = run_cli({"embed", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--npy"), std::string::npos);
  EXPECT_NE(r.out.find("--document"), std::string::npos);
  r = run_cli({"tokenize", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("TEXT"), std::string::npos);
}

TEST(CliBasic, Version) {
  auto r = run_cli({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(starts_with(r.out, "ripvec ")) << r.out;
}

TEST(CliBasic, UnknownFlagIsError2) {
  auto r = run_cli({"--bogus-flag", "query"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(starts_with(r.err, "ripvec: ")) << r.err;
  EXPECT_NE(r.err.find("--bogus-flag"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(CliBasic, BadFlagValuesAreError2) {
  for (std::vector<std::string> args : {std::vector<std::string>{"--mode", "fuzzy", "q"},
                                        {"--color", "sometimes", "q"},
                                        {"--device", "tpu", "q"},
                                        {"-n", "many", "q"},
                                        {"-n", "0", "q", "."},
                                        {"--max-filesize", "12Q", "q", "."},
                                        {"--threshold", "high", "q"}}) {
    auto r = run_cli(args);
    EXPECT_EQ(r.status, 2) << args[0] << " " << args[1] << ": " << r.err;
    EXPECT_TRUE(starts_with(r.err, "ripvec: ")) << r.err;
  }
}

TEST(CliBasic, NoQueryIsError2) {
  auto r = run_cli(std::vector<std::string>{});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no query"), std::string::npos) << r.err;
}

TEST(CliBasic, MissingPathIsError2) {
  auto r = run_cli({"anything", "/nonexistent/ripvec/path"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "ripvec: /nonexistent/ripvec/path: No such file or directory\n");
  r = run_cli({"index", "/nonexistent/ripvec/path"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("/nonexistent/ripvec/path"), std::string::npos) << r.err;
}

// Probe 2026-12-05: run from a current directory that was deleted, a search said "ripvec:
// internal error: filesystem error: cannot make canonical path" and `ripvec mcp` "internal
// error: ... cannot get current path". Both are now the plain error for a missing PATH.
TEST(CliBasic, DeletedCurrentDirectoryIsAClearError) {
  TempDir d;
  const std::string gone = (d / "gone").string();
  for (std::vector<std::string> args :
       {std::vector<std::string>{"query", "--cache-dir", (d / "cache").string()},
        {"--no-index", "query"},
        {"mcp", "--no-watch", "--cache-dir", (d / "cache").string()}}) {
    SCOPED_TRACE(args[0]);
    CliRun r;
    // mkdir, enter, remove it, then run ripvec there.
    r.prefix = {"/bin/sh", "-c", "mkdir \"$0\" && cd \"$0\" && rmdir \"$0\" && exec \"$@\"", gone};
    r.args = std::move(args);
    r.args.insert(r.args.end(), {"--model", "/nonexistent/model"});
    auto res = run_cli(r);
    EXPECT_EQ(res.status, 2) << res.err;
    EXPECT_EQ(res.err.find("internal error"), std::string::npos) << res.err;
    EXPECT_NE(res.err.find("No such file or directory"), std::string::npos) << res.err;
  }
}

TEST(CliBasic, DebugAddsRaiseSite) {
  auto r = run_cli({"--debug", "anything", "/nonexistent/ripvec/path"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("(at apps/cli/"), std::string::npos) << r.err;
}

TEST(CliBasic, EmbedWithoutInputIsError2) {
  auto r = run_cli({"embed"});  // stdin is /dev/null
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no input texts"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

// The lines before the bad one are embedded and written, then the run ends with status 2 naming
// the line. They were dropped when they shared its block of 8,192 lines, and written when they
// came in an earlier block (hostile probe 2026-12-06): the rows are now always exactly those of
// the lines before it. A first line that is not UTF-8 fails before the model loads.
TEST(CliBasic, EmbedInvalidUtf8OnStdinNamesTheLine) {
  CliRun run;
  run.args = {"embed"};
  run.stdin_from_data = true;
  run.stdin_data = "fine text\nbad \xff\xfe bytes\nmore\n";
  auto r = run_cli(run);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("stdin line 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("invalid UTF-8"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "the row of line 1: " << r.out;
  run.stdin_data = "bad \xff first\nfine\n";
  run.args = {"embed", "--model", "/nonexistent/model"};
  r = run_cli(run);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("stdin line 1"), std::string::npos) << "no model is loaded: " << r.err;
  EXPECT_TRUE(r.out.empty());
  run.args = {"embed"};

  // Overlong encoding of '/' and a lone surrogate are invalid too.
  for (const char* bad : {"ok\n\xc0\xaf\n", "\xed\xa0\x80\n"}) {
    run.stdin_data = bad;
    r = run_cli(run);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("invalid UTF-8"), std::string::npos) << r.err;
  }
}

TEST(CliBasic, EmbedInvalidUtf8ArgumentIsError2) {
  auto r = run_cli({"embed", "good", "bad\xff"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("argument 2"), std::string::npos) << r.err;
}

TEST(CliBasic, EmbedJsonAndNpyExclude) {
  auto r = run_cli({"embed", "--json", "--npy", "/tmp/x.npy", "text"});
  EXPECT_EQ(r.status, 2);
  r = run_cli({"embed", "--query", "--document", "text"});
  EXPECT_EQ(r.status, 2);
}

TEST(CliBasic, MissingModelIsError2) {
  TempDir tmp;
  CliRun run;
  run.args = {"tokenize", "--model", (tmp / "no-model-here").string(), "hello"};
  run.env["HF_HUB_OFFLINE"] = "1";
  run.env["HF_HUB_CACHE"] = (tmp / "hub").string();
  auto r = run_cli(run);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(starts_with(r.err, "ripvec: ")) << r.err;
}

}  // namespace
}  // namespace ripvec::test
