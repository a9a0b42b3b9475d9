// Flag values and paths the probe of issue 10 (item 10) found mishandled: each is now a precise
// error (exit 2) or documented behaviour. Most cases fail at parse time and load no model.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"
#include "common/test_util.hpp"
#include "ripvec/bytes.hpp"

namespace ripvec::test {
namespace {

namespace fs = std::filesystem;

std::string tiny_model() {
  return test_data("bert/tiny_bge_cls").string();
}

CliResult run_args(std::vector<std::string> args) {
  CliRun r;
  r.args = std::move(args);
  r.env["HF_HUB_OFFLINE"] = "1";
  return run_cli(r);
}

void expect_error(const CliResult& r, const std::string& mention) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(mention), std::string::npos) << r.err;
}

TEST(CliFlags, TopKNegativeOrHugeIsError2) {
  TempDir d;
  for (const char* n :
       {"-1", "18446744073709551616", "18446744073709551615", "0", "1.5", "", "x"}) {
    SCOPED_TRACE(n);
    auto r = run_args({"-n", n, "query", d.path().string(), "--model", tiny_model()});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("top-k"), std::string::npos) << r.err;
    auto r2 = run_args({std::string("--top-k=") + n, "query", d.path().string()});
    EXPECT_EQ(r2.status, 2) << r2.err;
  }
}

// Hostile probe 2026-12-06: a search flag before `map`, `mcp` or `lsp` (`ripvec --json map .`,
// `ripvec -g '{' map .`, `ripvec --model M mcp`) was parsed for the search, which does not run,
// and the command ran without it, silently. It is an error naming the flag; -j/--threads and
// --debug apply to every command.
TEST(CliFlags, SearchFlagBeforeAProtocolCommandIsError2) {
  TempDir d;
  d.write("a.py", "def f():\n    return 1\n");
  const std::string p = d.path().string();
  expect_error(run_args({"--json", "map", p}), "--json before `map`");
  expect_error(run_args({"-g", "{", "map", p}), "--glob before `map`");
  expect_error(run_args({"-t", "py", "map", p}), "--type before `map`");
  CliRun r;
  r.args = {"--model", "/nonexistent", "mcp"};
  r.env["HF_HUB_OFFLINE"] = "1";
  expect_error(run_cli(r), "--model before `mcp`");
  auto ok = run_args({"-j", "1", "map", "--json", p});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(ok.out.front(), '{') << ok.out;
}

TEST(CliFlags, ThresholdNanOrInfIsError2) {
  TempDir d;
  for (const char* t : {"nan", "NaN", "inf", "-inf", "infinity", "0x1p3", "0.5x"}) {
    SCOPED_TRACE(t);
    auto r = run_args({std::string("--threshold=") + t, "query", d.path().string()});
    expect_error(r, "finite number");
  }
}

// Probe 2026-12-05: 1e39 passed the finite check, became inf as a float and failed only after
// the index update ("threshold must be a finite number", about a finite number). Now a
// parse-time error: nothing is indexed.
TEST(CliFlags, ThresholdBeyondFloatRangeIsError2BeforeIndexing) {
  TempDir d;
  d.write("a.py", "def f():\n    return 1\n");
  for (const char* t : {"1e39", "-3.5e38", "1e300", "1e400", "-1e400", "1e999"}) {
    SCOPED_TRACE(t);
    auto r = run_args({std::string("--threshold=") + t, "query", d.path().string(), "--model",
                       tiny_model(), "--cache-dir", (d / "cache").string()});
    expect_error(r, "out of range");
    EXPECT_FALSE(fs::exists(d / "cache"));
  }
  // Values a float holds are thresholds like any other (nothing scores above 1e38).
  auto r = run_args({"--threshold=1e38", "-q", "query", d.path().string(), "--model", tiny_model(),
                     "--cache-dir", (d / "cache").string()});
  EXPECT_EQ(r.status, 1) << r.err;
  // Hostile probe 2026-12-05: 1e-400 (it underflows to 0) said "expected a finite number".
  for (const char* t : {"1e-400", "-1e-400"}) {
    SCOPED_TRACE(t);
    auto z = run_args({std::string("--threshold=") + t, "-q", "query", d.path().string(), "--model",
                       tiny_model(), "--cache-dir", (d / "cache").string()});
    EXPECT_NE(z.status, 2) << z.err;
  }
}

// Probe 2026-12-05: -C/-A/-B took "-1" as 2^64-1 (the whole result, silently) and any
// number of digits; ripgrep refuses both.
TEST(CliFlags, ContextNegativeOrHugeIsError2) {
  TempDir d;
  for (const char* flag : {"-C", "-A", "-B", "--context", "--after-context"})
    for (const char* v : {"-1", "99999999999999999999", "4294967296", "1.5", "nan", ""}) {
      SCOPED_TRACE(std::string(flag) + " " + v);
      expect_error(run_args({flag, v, "query", d.path().string()}), "context");
    }
  // 0 is a count like any other (only the best-matching lines).
  d.write("a.py", "def alpha():\n    return 1\n");
  auto r = run_args(
      {"-C", "0", "alpha", d.path().string(), "--no-index", "--model", tiny_model(), "-q"});
  EXPECT_EQ(r.status, 0) << r.err;
}

// Probe 2026-12-05: `--json -l` printed plain paths to a reader expecting JSON lines, and
// `--json --vimgrep` / `-l --vimgrep` silently ignored one of the two. One output format.
TEST(CliFlags, JsonWithFilesWithMatchesOrVimgrepIsError2) {
  TempDir d;
  for (const auto& [a, b] :
       std::vector<std::pair<std::string, std::string>>{{"--json", "-l"},
                                                        {"--json", "--files-with-matches"},
                                                        {"--json", "--vimgrep"},
                                                        {"-l", "--vimgrep"}}) {
    SCOPED_TRACE(a + " " + b);
    expect_error(run_args({a, b, "query", d.path().string()}), "excludes");
    expect_error(run_args({b, a, "query", d.path().string()}), "excludes");
  }
}

// Probe 2026-12-05: "--max-filesize: --max-filesize: not a size: '1.5M'".
// Hostile probe 2026-12-07: `--reindex --no-index` (either order) rebuilt the whole persistent
// index against --no-index's "keep nothing on disk". A usage error, nothing run.
TEST(CliFlags, ReindexWithNoIndexIsError2) {
  TempDir d;
  d.write("a.py", "def f():\n    return 1\n");
  expect_error(run_args({"--reindex", "--no-index", "query", d.path().string()}), "excludes");
  expect_error(run_args({"--no-index", "--reindex", "query", d.path().string()}), "excludes");
}

TEST(CliFlags, MaxFilesizeErrorNamesTheFlagOnce) {
  TempDir d;
  for (const char* v : {"1.5M", "99999999999999999999G", "5T", "-5"}) {
    SCOPED_TRACE(v);
    auto r = run_args({"--max-filesize", v, "query", d.path().string()});
    expect_error(r, "--max-filesize");
    EXPECT_EQ(r.err.find("--max-filesize", r.err.find("--max-filesize") + 1), std::string::npos)
        << r.err;
  }
}

// Probe 2026-12-05: "" was an error but "   " ranked every chunk against the bare [CLS] [SEP]
// (top score 0.6 on the hybrid scale for a query with no word in it).
TEST(CliFlags, WhitespaceOnlyQueryIsError2) {
  TempDir d;
  d.write("a.py", "def f():\n    return 1\n");
  for (const char* q : {" ", "   ", "\t\n", " \r\n "}) {
    SCOPED_TRACE(q);
    expect_error(run_args({"--no-index", "--model", tiny_model(), q, d.path().string()}),
                 "white space");
  }
}

// Probe 2026-12-07: Unicode spaces, zero-width and control characters, a lone combining mark
// tokenize to nothing too, and were ranked like "   " was.
TEST(CliFlags, QueryTheTokenizerDropsWholeIsError2) {
  TempDir d;
  d.write("a.py", "def f():\n    return 1\n");
  for (const char* q : {"\u00a0\u3000", "\u200b", "\x01\x02\x7f", "\u0301"}) {
    SCOPED_TRACE(q);
    expect_error(run_args({"--no-index", "--model", tiny_model(), q, d.path().string()}),
                 "nothing the model reads");
  }
}

// Hostile probe 2026-12-07: a query of emoji only ("\U0001F600", two snowmen) encodes to [UNK]s
// and ranked every chunk against the unknown token, exit 0. Semantic search refuses it before
// an index is built for it (no cache folder made); hybrid (the default) ranks it by its keyword
// side alone, which finds a file holding the emoji (review 2026-12-07: refusing it lost those);
// with one known word it runs as usual.
TEST(CliFlags, QueryOfUnknownTokensOnlyIsError2BeforeIndexing) {
  TempDir d, cache;
  d.write("a.py", "def retry_request():\n    return 1\n");
  d.write("b.py", "def launch():\n    \"\"\"\U0001F680 rocket launch\"\"\"\n    return 2\n");
  for (const char* q : {"\U0001F600", "\u2603\u2603"}) {
    SCOPED_TRACE(q);
    expect_error(run_args({"--mode", "semantic", "--cache-dir", cache.path().string(), "--model",
                           tiny_model(), q, d.path().string()}),
                 "the model knows no word of the query");
  }
  EXPECT_TRUE(fs::is_empty(cache.path()));
  const auto hybrid =
      run_args({"--no-index", "-l", "--model", tiny_model(), "\U0001F680", d.path().string()});
  EXPECT_EQ(hybrid.status, 0) << hybrid.err;
  EXPECT_EQ(split_lines(hybrid.out), std::vector<std::string>{(d / "b.py").string()});
  EXPECT_EQ(run_args({"--no-index", "--model", tiny_model(), "\U0001F600 retry", d.path().string()})
                .status,
            0);
}

TEST(CliFlags, MaxFilesizeZeroIsError2) {
  TempDir d;
  for (const char* v : {"0", "0K", "0M"}) {
    SCOPED_TRACE(v);
    expect_error(run_args({"--max-filesize", v, "query", d.path().string()}), "max-filesize");
    expect_error(run_args({"index", "--max-filesize", v, d.path().string()}), "max-filesize");
  }
  expect_error(run_args({"--max-filesize", "12Q", "query", d.path().string()}), "max-filesize");
  // The help says what 0 means.
  auto help = run_args({"--help"});
  EXPECT_NE(help.out.find("0 is an error"), std::string::npos);
}

TEST(CliFlags, EmptyModelIsError2) {
  TempDir d;
  expect_error(run_args({"--model", "", "query", d.path().string()}), "--model");
  expect_error(run_args({"embed", "--model", "", "hi"}), "must not be empty");
  expect_error(run_args({"tokenize", "--model", "", "hi"}), "must not be empty");
  expect_error(run_args({"index", "--model", "", d.path().string()}), "must not be empty");
}

TEST(CliFlags, RegularFileAsModelIsNotADirectory) {
  TempDir d;
  d.write("model.bin", "not a model");
  const std::string file = (d / "model.bin").string();
  auto r = run_args({"embed", "--model", file, "hi"});
  expect_error(r, "model path " + file + " is not a directory");
  EXPECT_EQ(r.err.find("does not exist"), std::string::npos) << r.err;
  expect_error(run_args({"tokenize", "--model", file, "hi"}), "is not a directory");
}

// An explicit PATH that cannot be read is an error (exit 2), not "no results" (exit 1).
TEST(CliFlags, UnreadablePathExits2) {
  TempDir d;
  d.write("secret.py", "def secret():\n    return 1\n");
  fs::create_directories(d / "closed");
  d.write("closed/inner.py", "x = 1\n");
  ::chmod((d / "secret.py").c_str(), 0);
  ::chmod((d / "closed").c_str(), 0);
  CliRun base;
  base.env["HF_HUB_OFFLINE"] = "1";
  if (::geteuid() == 0) {
    // root reads anything: drop to nobody for the run (the binary and model must be readable
    // by others, which a normal checkout is).
    RIPVEC_REQUIRE_PATH("/usr/bin/setpriv");
    base.prefix = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    ::chmod(d.path().c_str(), 0755);
  }
  for (const std::string& p : {(d / "secret.py").string(), (d / "closed").string()}) {
    SCOPED_TRACE(p);
    CliRun r = base;
    r.args = {"secret", p, "--no-index", "--model", tiny_model(), "--device", "cpu"};
    auto res = run_cli(r);
    EXPECT_EQ(res.status, 2) << res.err;
    EXPECT_NE(res.err.find(p + ": Permission denied"), std::string::npos) << res.err;
  }
  CliRun idx = base;
  idx.args = {"index",      (d / "closed").string(), "--model",
              tiny_model(), "--cache-dir",           (d / "cache").string()};
  auto res = run_cli(idx);
  EXPECT_EQ(res.status, 2) << res.err;
  EXPECT_NE(res.err.find("Permission denied"), std::string::npos) << res.err;
  ::chmod((d / "closed").c_str(), 0755);  // so TempDir can remove it
}

// Probe 2026-12-05: a PATH on a pseudo file system was walked and indexed when named (only
// reaching one from another root was refused): `ripvec QUERY /proc/self` kept the process's
// files in the cache and embedded 2,000 chunks of kernel tables. Now an error, for search (with
// and without the index) and `ripvec index`, and nothing is written to the cache.
TEST(CliFlags, PseudoFileSystemPathIsError2) {
  TempDir d;
  for (const std::string p : {"/proc/self/status", "/proc/self/fdinfo", "/dev", "/sys/kernel/mm"}) {
    if (!fs::exists(p)) continue;
    SCOPED_TRACE(p);
    const std::string cache = (d / "cache").string();
    expect_error(run_args({"-q", "query", p, "--model", tiny_model(), "--device", "cpu",
                           "--cache-dir", cache}),
                 "pseudo file system");
    expect_error(
        run_args({"-q", "--no-index", "query", p, "--model", tiny_model(), "--device", "cpu"}),
        "pseudo file system");
    // (`ripvec index FILE` is refused earlier: only directories are indexed.)
    if (fs::is_directory(p))
      expect_error(run_args({"index", "-q", p, "--model", tiny_model(), "--device", "cpu",
                             "--cache-dir", cache}),
                   "pseudo file system");
    EXPECT_FALSE(fs::exists(cache)) << "something was indexed";
  }
}

// Probe 2026-12-05: `-j 100000` started threads until the user's process limit was spent
// (every fork on the machine failed) and never finished. At most 1024, checked at parse time.
TEST(CliFlags, ThreadsBeyondTheBoundIsError2) {
  TempDir d;
  // First a count whose run would stay harmless if the check were missing.
  expect_error(run_args({"-j", "5000", "query", d.path().string(), "--model", "/nonexistent/m"}),
               "too many threads");
  for (const char* v : {"100000", "4294967295", "4294967296", "-1", "1.5", ""}) {
    SCOPED_TRACE(v);
    expect_error(run_args({"-j", v, "query", d.path().string(), "--model", "/nonexistent/m"}),
                 "threads");
    expect_error(run_args({"embed", "-j", v, "hi", "--model", "/nonexistent/m"}), "threads");
  }
  d.write("a.py", "def alpha():\n    return 1\n");
  auto r = run_args({"-j", "64", "-q", "--no-index", "alpha", d.path().string(), "--model",
                     tiny_model(), "--device", "cpu"});
  EXPECT_EQ(r.status, 0) << r.err;
}

// Probe 2026-12-05: `-g '[[['` (a '[' never closed) matched nothing, since git's wildmatch
// gives up on such a pattern, and the search said "no results" (exit 1). ripgrep refuses it;
// so do we, with and without the index. Closed classes and escaped brackets still work.
TEST(CliFlags, UnclosedBracketGlobIsError2) {
  TempDir d;
  d.write("a.py", "def alpha():\n    return 1\n");
  const std::string cache = (d / "cache").string();
  for (const char* g : {"[[[", "*.[py", "src/[!", "[]"}) {
    SCOPED_TRACE(g);
    expect_error(run_args({"-q", "-g", g, "alpha", d.path().string(), "--model", tiny_model(),
                           "--device", "cpu", "--cache-dir", cache}),
                 "never closed");
    expect_error(run_args({"-q", "--no-index", "-g", g, "alpha", d.path().string(), "--model",
                           tiny_model(), "--device", "cpu"}),
                 "never closed");
  }
  for (const char* g : {"*.[p]y", "[]a].py", "[!b].py", "\\[x", "a.py", "!*.md"}) {
    SCOPED_TRACE(g);
    auto r = run_args({"-q", "--mode", "keyword", "-g", g, "alpha", d.path().string(), "--model",
                       tiny_model(), "--device", "cpu", "--cache-dir", cache});
    EXPECT_NE(r.status, 2) << r.err;
  }
}

// Tokenizing needs only tokenizer.json; with a config.json present, ids must fit vocab_size.
TEST(CliFlags, TokenizeWithOnlyTokenizerFiles) {
  TempDir d;
  fs::copy_file(fs::path(tiny_model()) / "tokenizer.json", d / "tokenizer.json");
  auto r = run_args({"tokenize", "--model", d.path().string(), "hello world"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  auto full = run_args({"tokenize", "--model", tiny_model(), "hello world"});
  ASSERT_EQ(full.status, 0) << full.err;
  EXPECT_EQ(j, nlohmann::json::parse(full.out));
  // Still an error without tokenizer.json, naming it.
  TempDir empty;
  expect_error(run_args({"tokenize", "--model", empty.path().string(), "hi"}), "tokenizer.json");
}

TEST(CliFlags, TokenizeIdBeyondVocabSizeIsError2) {
  TempDir d;
  fs::copy_file(fs::path(tiny_model()) / "tokenizer.json", d / "tokenizer.json");
  auto cfg = nlohmann::json::parse(slurp(fs::path(tiny_model()) / "config.json"));
  cfg["vocab_size"] = 300;  // the tokenizer has 512 ids
  d.write("config.json", cfg.dump());
  expect_error(run_args({"tokenize", "--model", d.path().string(), "hello"}),
               "outside the model's vocabulary (vocab_size 300");
}

// Text output escapes control characters in file names (they could move the cursor, recolor
// the terminal or fake a result line); --json carries the exact name. Content is shown as is.
// A keyword search of d for the probe function of the escaping tests, plus `extra`.
std::vector<std::string> escaped_name_probe_args(const TempDir& d,
                                                 std::initializer_list<std::string> extra) {
  std::vector<std::string> a = {"zebra escaped_name_probe",
                                d.path().string(),
                                "--no-index",
                                "--mode",
                                "keyword",
                                "--model",
                                tiny_model(),
                                "--device",
                                "cpu"};
  a.insert(a.end(), extra);
  return a;
}

TEST(CliFlags, ControlCharactersInFileNamesAreEscaped) {
  TempDir d;
  const std::string evil = "a\x1b[31mred\nfake.py:1-2\r.py";
  d.write(evil, "def escaped_name_probe():\n    return 'zebra'\n");
  CliRun r;
  r.args = escaped_name_probe_args(d, {"--color", "never"});
  auto text = run_cli(r);
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find('\r'), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("a\\x1B[31mred\\x0Afake.py:1-2\\x0D.py:1-2"), std::string::npos)
      << text.out;
  r.args.push_back("--json");
  auto json = run_cli(r);
  ASSERT_EQ(json.status, 0) << json.err;
  auto j = nlohmann::json::parse(split_lines(json.out).at(0));
  EXPECT_EQ(j.at("path").get<std::string>(), (d.path() / evil).string());
}

// -l and --vimgrep print the path too: the same escaping as the result heading, with and without
// color.
TEST(CliFlags, ControlCharactersInFileNamesAreEscapedInListAndVimgrep) {
  TempDir d;
  const std::string evil = "a\x1b[31mred\nfake.py:1-2\r.py";
  d.write(evil, "def escaped_name_probe():\n    return 'zebra'\n");
  for (const char* flag : {"-l", "--vimgrep"})
    for (const char* color : {"never", "always"}) {
      CliRun r;
      r.args = escaped_name_probe_args(d, {flag, "--color", color});
      auto res = run_cli(r);
      ASSERT_EQ(res.status, 0) << flag << " " << res.err;
      EXPECT_EQ(res.out.find("\x1b[31mred"), std::string::npos) << flag << " " << res.out;
      EXPECT_EQ(res.out.find('\r'), std::string::npos) << flag << " " << res.out;
      EXPECT_NE(res.out.find("a\\x1B[31mred\\x0Afake.py:1-2\\x0D.py"), std::string::npos)
          << flag << " " << res.out;
      EXPECT_EQ(split_lines(res.out).size(), 1u) << flag << " " << res.out;
    }
}

// Hostile probe 2026-12-07: bidirectional controls in a file name were printed raw, so
// "invoice\u202Eyp.txt" showed as "invoicetxt.py" in results, -l and --vimgrep (the repo map
// already replaced them). Each of their bytes is escaped as a control's is.
TEST(CliFlags, BidiControlsInFileNamesAreEscaped) {
  TempDir d;
  const std::string evil = "invoice\u202Eyp.txt\u2066x\u2029.md";
  d.write(evil, "def escaped_name_probe():\n    return 'zebra'\n");
  for (const char* flag : {"--no-content", "-l", "--vimgrep"}) {
    CliRun r;
    r.args = escaped_name_probe_args(d, {flag, "--color", "never"});
    const auto res = run_cli(r);
    ASSERT_EQ(res.status, 0) << flag << " " << res.err;
    for (const char* raw : {"\u202E", "\u2066", "\u2029"})
      EXPECT_EQ(res.out.find(raw), std::string::npos) << flag << " " << res.out;
    EXPECT_NE(res.out.find("invoice\\xE2\\x80\\xAEyp.txt\\xE2\\x81\\xA6x\\xE2\\x80\\xA9.md"),
              std::string::npos)
        << flag << " " << res.out;
  }
}

// Hostile probe 2026-12-07: error messages printed the names the user gave raw (`ripvec map
// $'/x\e[2J'` cleared the terminal; --model, --npy, -g values too), and a PATH that is a
// symbolic-link loop was "No such file or directory". Errors are escaped line by line now, and
// give the OS's reason.
TEST(CliFlags, ErrorMessagesEscapeNamesAndGiveTheOsReason) {
  TempDir d;
  const std::string evil = (d / "gone\x1b[2J").string();
  for (std::vector<std::string> args : {std::vector<std::string>{"--no-index", "q", evil},
                                        {"map", evil},
                                        {"--model", evil, "q", d.path().string()}}) {
    const auto r = run_args(args);
    EXPECT_EQ(r.status, 2) << args[0];
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("gone\\x1B[2J"), std::string::npos) << r.err;
  }
  // A newline in a name cannot forge a line of ripvec's own (review 2026-12-07).
  const auto forged = run_args({"map", (d / "gone\nripvec: index updated, 0 problems").string()});
  EXPECT_EQ(forged.status, 2);
  EXPECT_EQ(forged.err.find("\nripvec: index updated"), std::string::npos) << forged.err;
  EXPECT_NE(forged.err.find("\n  ripvec: index updated"), std::string::npos) << forged.err;
  ASSERT_EQ(::symlink("loop_b", (d / "loop_a").c_str()), 0);
  ASSERT_EQ(::symlink("loop_a", (d / "loop_b").c_str()), 0);
  for (const char* cmd : {"search", "map"}) {
    std::vector<std::string> args = {"--no-index", "q", (d / "loop_a").string()};
    if (std::string(cmd) == "map") args = {"map", (d / "loop_a").string()};
    expect_error(run_args(args), "Too many levels of symbolic links");
  }
}

// Warnings on stderr name files too: a broken symlink whose name holds an escape sequence and a
// newline must not reach the terminal raw.
TEST(CliFlags, ControlCharactersInWarningsAreEscaped) {
  TempDir d;
  d.write("ok.py", "def warning_probe():\n    return 'zebra'\n");
  const std::string evil = "b\x1b[31mroken\nlink";
  ASSERT_EQ(::symlink("does-not-exist", (d.path() / evil).c_str()), 0);
  CliRun r;
  r.args = {
      "zebra warning_probe", d.path().string(), "--no-index", "--mode",  "keyword", "-L", "--model",
      tiny_model(),          "--device",        "cpu",        "--color", "never"};
  auto res = run_cli(r);
  ASSERT_EQ(res.status, 0) << res.err;
  EXPECT_NE(res.err.find("warning"), std::string::npos) << res.err;
  EXPECT_EQ(res.err.find('\x1b'), std::string::npos) << res.err;
  EXPECT_NE(res.err.find("b\\x1B[31mroken\\x0Alink"), std::string::npos) << res.err;
}

// Probe 2026-12-05: `--cache-dir ""` silently used the default cache (`--npy ""` printed text
// to stdout, `mcp --model ""` served the default model). A flag naming a folder, a file or a
// model refuses an empty value: exit 2 naming the flag, nothing run.
TEST(CliFlags, EmptyCacheDirIsError2) {
  TempDir d;
  const std::string p = d.path().string();
  // The default cache of these runs is a folder of the test's (a run that took "" for the
  // default, as before, writes, lists or cleans there, never in the user's cache).
  const fs::path default_cache = d / "default-cache";
  fs::create_directories(default_cache);
  auto run = [&](std::vector<std::string> args) {
    CliRun r;
    r.args = std::move(args);
    r.env["HF_HUB_OFFLINE"] = "1";
    r.env["RIPVEC_CACHE_DIR"] = default_cache.string();
    return run_cli(r);
  };
  const std::vector<std::vector<std::string>> cases = {
      {"-q", "--cache-dir", "", "query", p, "--model", tiny_model()},
      {"index", "--cache-dir", "", p, "--model", tiny_model()},
      {"index", "--status", "--cache-dir", "", p, "--model", tiny_model()},
      {"index", "--list", "--cache-dir", ""},
      {"index", "--clean", "--all", "--cache-dir", ""},
      {"models", "--cache-dir", ""},
      {"mcp", "--cache-dir", ""},
      {"lsp", "--cache-dir", ""}};
  for (const auto& args : cases) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    expect_error(run(args), "--cache-dir: must not be empty");
  }
  expect_error(run({"embed", "--npy", "", "hi", "--model", tiny_model()}),
               "--npy: must not be empty");
  for (const char* cmd : {"mcp", "lsp"}) {
    expect_error(run({cmd, "--root", ""}), "--root: must not be empty");
    expect_error(run({cmd, "--model", ""}), "--model: must not be empty");
  }
  expect_error(run({"map", "--focus", "", p}), "--focus: must not be empty");
  for (const char* glob : {"", "!"})
    expect_error(run({"-g", glob, "query", p, "--no-index", "--model", tiny_model()}),
                 "--glob: must not be empty");
  EXPECT_TRUE(fs::is_empty(default_cache)) << "something was indexed";
}

// Hostile probe 2026-12-05: a regular file as --cache-dir was an empty index under it for
// `index --status` (exit 0), nothing for `--list` (exit 1) and "removed 0 B" for `--clean --all`
// (exit 0); only a search failed. Each now exits 2 naming the file.
TEST(CliFlags, RegularFileAsCacheDirIsError2) {
  TempDir d;
  const std::string p = d.path().string();
  const std::string file = (d / "cachefile").string();
  d.write("cachefile", "x\n");
  d.write("a.py", "def f():\n    return 1\n");
  auto run = [&](std::vector<std::string> args) {
    CliRun r;
    r.args = std::move(args);
    r.env["HF_HUB_OFFLINE"] = "1";
    return run_cli(r);
  };
  const std::vector<std::vector<std::string>> cases = {
      {"index", "--status", "--cache-dir", file, p, "--model", tiny_model()},
      {"index", "--list", "--cache-dir", file},
      {"index", "--clean", "--all", "--cache-dir", file},
      {"index", "--cache-dir", file, p, "--model", tiny_model()},
      {"-q", "--cache-dir", file, "query", p, "--model", tiny_model()}};
  for (const auto& args : cases) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    expect_error(run(args), file + " (the index cache) is not a directory");
  }
}

// CLI11 read `--cache-dir=` (nothing after '=', as `--cache-dir="$DIR"` with DIR unset gives)
// as `--cache-dir` and took the next argument as its value: the query became the cache folder
// and the search ran on the current folder. The empty value is now the flag's own, and refused.
TEST(CliFlags, EmptyValueAfterEqualsIsNotTheNextArgument) {
  TempDir d;
  d.write("a.py", "def alpha():\n    return 1\n");
  CliRun r;
  r.args = {"-q", "--cache-dir=", "alpha", d.path().string(), "--model", tiny_model()};
  r.cwd = d.path();
  r.env["HF_HUB_OFFLINE"] = "1";
  r.env["RIPVEC_CACHE_DIR"] = (d / "default-cache").string();
  expect_error(run_cli(r), "--cache-dir: must not be empty");
  EXPECT_FALSE(fs::exists(d / "alpha")) << "the query was taken as the cache folder";
  expect_error(run_args({"--model=", "-q", "--no-index", "alpha", d.path().string()}),
               "--model: must not be empty");
  expect_error(run_args({"embed", "--npy=", "hi", "--model", tiny_model()}),
               "--npy: must not be empty");
  // A flag without a value keeps its meaning, and after `--` nothing is split.
  auto ok = run_args({"-q", "--no-index", "--json=", "--top-k=1", "alpha", d.path().string(),
                      "--model=" + tiny_model(), "--device", "cpu"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(json_lines(ok.out).size(), 1u) << ok.out;
  auto after = run_args(
      {"-q", "--no-index", "--model", tiny_model(), "--", "--cache-dir=", d.path().string()});
  EXPECT_NE(after.status, 2) << after.err;  // a query "--cache-dir=": no hit or a hit
}

// `ripvec map` follows the exit statuses of a search (probe 2026-12-05): 0 a map with files,
// 1 none (nothing in a language with a grammar), 2 an error. It exited 1 with an empty map for
// an unreadable PATH, a PATH on a pseudo file system and a device, and 0 for a --focus that
// named no file (the ranking silently ignored it).
class CliMap : public ::testing::Test {
 protected:
  void SetUp() override {
    d_.write("src/a.py", "def alpha():\n    return beta()\n\n\ndef beta():\n    return 1\n");
    d_.write("notes/readme.txt", "no grammar for this\n");
  }
  std::string path(const std::string& rel = "") const {
    return rel.empty() ? d_.path().string() : (d_ / rel).string();
  }
  TempDir d_;
};

TEST_F(CliMap, FilesExit0AndATreeWithoutCodeExits1) {
  auto r = run_args({"map", path()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("alpha"), std::string::npos) << r.out;
  r = run_args({"map", "--json", path()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["files"].size(), 1u) << r.out;
  fs::create_directories(d_ / "empty");
  for (const std::string& p : {path("empty"), path("notes")}) {
    r = run_args({"map", p});
    EXPECT_EQ(r.status, 1) << p << ": " << r.err;
    EXPECT_EQ(r.err, "") << p;
  }
}

TEST_F(CliMap, MissingSpecialOrPseudoFileSystemPathIsError2) {
  expect_error(run_args({"map", path("nosuch")}), path("nosuch") + ": No such file or directory");
  expect_error(run_args({"map", "/dev/null"}), "/dev/null: not a file or directory");
  for (const char* p : {"/proc/self", "/sys/kernel/mm"}) {
    if (!fs::exists(p)) continue;
    expect_error(run_args({"map", p}), std::string(p) + ": on the");
  }
}

TEST_F(CliMap, UnreadablePathIsError2) {
  fs::create_directories(d_ / "closed");
  d_.write("closed/b.py", "def b():\n    return 2\n");
  d_.write("secret.py", "def secret():\n    return 3\n");
  ::chmod(path("closed").c_str(), 0);
  ::chmod(path("secret.py").c_str(), 0);
  CliRun base;
  if (::geteuid() == 0) {  // root reads anything: run as nobody (see UnreadablePathExits2)
    RIPVEC_REQUIRE_PATH("/usr/bin/setpriv");
    base.prefix = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    ::chmod(d_.path().c_str(), 0755);
  }
  for (const std::string& p : {path("closed"), path("secret.py")}) {
    CliRun r = base;
    r.args = {"map", p};
    expect_error(run_cli(r), p + ": Permission denied");
  }
  ::chmod(path("closed").c_str(), 0755);  // so TempDir can remove it
}

TEST_F(CliMap, FocusOnNoFileOfTheMapIsError2) {
  for (const std::string& f : {std::string("src/nosuch.py"), std::string("notes/readme.txt"),
                               std::string("a.py"), path("src/../../elsewhere.py")}) {
    SCOPED_TRACE(f);
    expect_error(run_args({"map", "--focus", f, path()}),
                 "--focus " + f + ": not a file of the map");
  }
  // Relative to PATH, or absolute; repeated.
  auto r = run_args({"map", "--focus", "src/a.py", "--focus", path("src/a.py"), path()});
  EXPECT_EQ(r.status, 0) << r.err;
}

// `--focus` took every value after it: `--focus src/a.py PATH` mapped the current directory
// with PATH as a second focus.
TEST_F(CliMap, FocusTakesOneFilePerFlag) {
  TempDir cwd;  // nothing to map here
  CliRun r;
  r.args = {"map", "--json", "--focus", "src/a.py", path()};
  r.cwd = cwd.path();
  auto res = run_cli(r);
  EXPECT_EQ(res.status, 0) << res.err;
  const auto j = nlohmann::json::parse(res.out);
  EXPECT_EQ(j["root"], fs::canonical(d_.path()).string());
  ASSERT_EQ(j["files"].size(), 1u);
  EXPECT_EQ(j["files"][0]["path"], "src/a.py");
}

// Probe 2026-12-05 (second round): focus paths spelled with "..", "//" or from the current
// folder were refused although they name a file of the map.
TEST_F(CliMap, FocusPathsAreNormalised) {
  for (const std::string& f :
       {std::string("src/../src/a.py"), std::string("src//a.py"), std::string("./src/./a.py")}) {
    auto r = run_args({"map", "--focus", f, path()});
    EXPECT_EQ(r.status, 0) << f << ": " << r.err;
  }
  CliRun r;  // from inside PATH, climbing out and back in
  r.args = {"map", "--focus", "../" + d_.path().filename().string() + "/src/a.py", "."};
  r.cwd = d_.path();
  auto res = run_cli(r);
  EXPECT_EQ(res.status, 0) << res.err;
}

// Hostile probe 2026-12-07: `map --json --tokens N` ignored the budget (an agent asking for 500
// tokens got the whole graph). An explicit --tokens cuts the JSON to the top-ranked files that
// fit, whole, with "truncated"; without it --json holds every file.
TEST_F(CliMap, JsonKeepsWithinAnExplicitTokenBudget) {
  for (int i = 0; i < 40; ++i)
    d_.write("src/m" + std::to_string(i) + ".py",
             "def helper_" + std::to_string(i) + "(x):\n    return alpha() + x\n");
  auto r = run_args({"map", "--json", path()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto all = nlohmann::json::parse(r.out);
  EXPECT_EQ(all["files"].size(), 41u);
  EXPECT_FALSE(all.contains("truncated"));
  r = run_args({"map", "--json", "--tokens", "300", path()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LE(r.out.size(), 300u * 4) << r.out;
  const auto cut = nlohmann::json::parse(r.out);
  EXPECT_TRUE(cut["truncated"].get<bool>());
  ASSERT_GE(cut["files"].size(), 1u);
  ASSERT_LT(cut["files"].size(), 41u);
  for (size_t i = 0; i < cut["files"].size(); ++i)  // the top of the whole ranking, in order
    EXPECT_EQ(cut["files"][i]["path"], all["files"][i]["path"]) << i;
  r = run_args({"map", "--json", "--tokens", "100000", path()});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto big = nlohmann::json::parse(r.out);
  EXPECT_FALSE(big["truncated"].get<bool>());
  EXPECT_EQ(big["files"].size(), 41u);
}

// The map printed file and folder names raw (an escape sequence reached the terminal, a newline
// split a heading); text output escapes them as search does, --json keeps the exact bytes of a
// name that is not UTF-8 in "path_b64". A budget smaller than the header ends with a newline.
TEST_F(CliMap, NamesAreEscapedAndJsonKeepsTheirBytes) {
  d_.write("e\x1b[31mX.py", "def gamma():\n    return alpha()\n");
  d_.write("bad\xff.py", "def delta():\n    return 4\n");
  auto r = run_args({"map", path()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("e\\x1B[31mX.py"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bad\\xFF.py"), std::string::npos) << r.out;
  r = run_args({"map", "--json", path()});
  ASSERT_EQ(r.status, 0) << r.err;
  bool found = false;
  const auto j = nlohmann::json::parse(r.out);
  for (const auto& f : j["files"])
    if (f.contains("path_b64")) {
      found = true;
      EXPECT_EQ(f["path_b64"], base64_encode("bad\xff.py"));
    }
  EXPECT_TRUE(found) << r.out;
  r = run_args({"map", "--tokens", "16", path()});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.back(), '\n');
}

}  // namespace
}  // namespace ripvec::test
