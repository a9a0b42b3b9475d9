// `ripvec QUERY PATH` and `ripvec index` end to end on a small temporary repository with the real
// default model: exit codes, JSON schema, display paths, colors, index bookkeeping.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"
#include "cli/fixture_sources.hpp"
#include "common/test_util.hpp"

namespace ripvec::test {
namespace {

namespace fs = std::filesystem;

const char* kDownload = R"(import urllib.request


def download_file(url, destination):
    """Fetch a URL over HTTP and save the body to a local file."""
    with urllib.request.urlopen(url) as response, open(destination, "wb") as out:
        out.write(response.read())
)";

class CliSearch : public ::testing::Test {
 protected:
  void SetUp() override {
    RIPVEC_REQUIRE_PATH(default_model_dir());
    repo_.write("math_utils.py", kPrimes);
    repo_.write("net/fetch.py", kDownload);
    repo_.write("src/settings.rs", kRust);
  }

  // ripvec with the test model, CPU, an isolated cache, no progress output.
  CliRun run(std::vector<std::string> args) const {
    return model_run(std::move(args), cache_.path(), default_model_dir());
  }
  static std::vector<nlohmann::json> parse_lines(const std::string& out) { return json_lines(out); }

  TempDir repo_, cache_;
};

TEST_F(CliSearch, JsonLinesHaveTheSchemaAndRankTheAnswerFirst) {
  auto r = run_cli(run({"--json", "-n", "3", "check whether a number is prime", repo_.path()}));
  ASSERT_EQ(r.status, 0) << r.err;
  auto hits = parse_lines(r.out);
  ASSERT_FALSE(hits.empty());
  ASSERT_LE(hits.size(), 3u);
  for (const auto& h : hits) {
    ASSERT_TRUE(h.is_object());
    EXPECT_EQ(h.size(), 9u) << h.dump();
    EXPECT_TRUE(h.at("path").is_string());
    EXPECT_TRUE(h.at("start_line").is_number_integer());
    EXPECT_EQ(h.at("start_column"), 0) << "whole lines";
    EXPECT_TRUE(h.at("end_line").is_number_integer());
    EXPECT_LE(h.at("start_line").get<int>(), h.at("end_line").get<int>());
    EXPECT_GE(h.at("start_line").get<int>(), 1);
    EXPECT_TRUE(h.at("symbol").is_string());
    EXPECT_TRUE(h.at("kind").is_string());
    EXPECT_TRUE(h.at("language").is_string());
    EXPECT_TRUE(h.at("score").is_number());
    EXPECT_TRUE(h.at("content").is_string());
  }
  for (size_t i = 1; i < hits.size(); ++i)
    EXPECT_GE(hits[i - 1]["score"].get<double>(), hits[i]["score"].get<double>());
  EXPECT_EQ(hits[0]["path"], (repo_.path() / "math_utils.py").string());
  EXPECT_NE(hits[0]["content"].get<std::string>().find("def is_prime"), std::string::npos);
  EXPECT_EQ(hits[0]["language"], "python");
}

TEST_F(CliSearch, PathsAreRelativeWithoutPathArgument) {
  CliRun c = run({"--json", "-n", "1", "--mode", "semantic", "download a web page to disk"});
  c.cwd = repo_.path();
  auto r = run_cli(c);
  ASSERT_EQ(r.status, 0) << r.err;
  auto hits = parse_lines(r.out);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]["path"], "net/fetch.py");
  EXPECT_EQ(hits[0]["symbol"], "download_file");
}

TEST_F(CliSearch, NothingFoundExitsOne) {
  auto r = run_cli(run({"--mode", "keyword", "zqxjvwk", repo_.path()}));
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(r.out.empty());
  // Cosine similarity never exceeds 1.
  r = run_cli(run({"--mode", "semantic", "--threshold", "1.5", "prime numbers", repo_.path()}));
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST_F(CliSearch, EveryModeFindsTheKeywordAnswer) {
  for (const char* mode : {"semantic", "keyword", "hybrid"}) {
    auto r = run_cli(run({"--json", "--mode", mode, "parse settings", repo_.path()}));
    ASSERT_EQ(r.status, 0) << mode << ": " << r.err;
    auto hits = parse_lines(r.out);
    ASSERT_FALSE(hits.empty()) << mode;
    EXPECT_EQ(hits[0]["path"], (repo_.path() / "src/settings.rs").string()) << mode;
  }
}

TEST_F(CliSearch, NoColorsUnlessAskedOrATerminal) {
  // Not a terminal: plain text, ripgrep-like "path:start-end" heading and numbered lines.
  auto plain = run_cli(run({"-n", "1", "fibonacci sequence", repo_.path()}));
  ASSERT_EQ(plain.status, 0) << plain.err;
  EXPECT_FALSE(has_escape(plain.out));
  EXPECT_NE(plain.out.find((repo_.path() / "math_utils.py").string() + ":"), std::string::npos)
      << plain.out;
  EXPECT_NE(plain.out.find("def fibonacci(count):"), std::string::npos) << plain.out;

  auto always = run_cli(run({"-n", "1", "--color", "always", "fibonacci sequence", repo_.path()}));
  ASSERT_EQ(always.status, 0);
  EXPECT_NE(always.out.find("\x1b[35m"), std::string::npos) << "magenta path";
  EXPECT_NE(always.out.find("\x1b[32m"), std::string::npos) << "green line numbers";

  // A terminal: colors by default, none with NO_COLOR or --color never.
  CliRun tty = run({"-n", "1", "fibonacci sequence", repo_.path()});
  tty.tty = true;
  auto on_tty = run_cli(tty);
  ASSERT_EQ(on_tty.status, 0) << on_tty.out;
  EXPECT_NE(on_tty.out.find("\x1b[35m"), std::string::npos) << on_tty.out;
  tty.env["NO_COLOR"] = "1";
  auto no_color = run_cli(tty);
  ASSERT_EQ(no_color.status, 0) << no_color.out;
  EXPECT_FALSE(has_escape(no_color.out)) << no_color.out;
  tty.env["NO_COLOR"] = kUnset;
  tty.args.insert(tty.args.begin(), {"--color", "never"});
  auto never = run_cli(tty);
  EXPECT_FALSE(has_escape(never.out)) << never.out;
}

TEST_F(CliSearch, IndexCommandReportsChanges) {
  auto first = run_cli(run({"index", repo_.path()}));
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_NE(first.out.find("A math_utils.py\n"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("A net/fetch.py\n"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("A src/settings.rs\n"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("3 added"), std::string::npos) << first.out;

  auto again = run_cli(run({"index", repo_.path()}));
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out.find("\nA "), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("0 added, 0 modified, 0 removed, 3 unchanged"), std::string::npos)
      << again.out;
  EXPECT_NE(again.out.find("chunks: 0 embedded"), std::string::npos) << again.out;

  repo_.write("math_utils.py", std::string(kPrimes) + "\n\ndef square(x):\n    return x * x\n");
  fs::remove(repo_ / "net/fetch.py");
  repo_.write("new.py", "def greet(name):\n    return 'hello ' + name\n");
  auto changed = run_cli(run({"index", repo_.path()}));
  ASSERT_EQ(changed.status, 0) << changed.err;
  EXPECT_NE(changed.out.find("M math_utils.py\n"), std::string::npos) << changed.out;
  EXPECT_NE(changed.out.find("D net/fetch.py\n"), std::string::npos) << changed.out;
  EXPECT_NE(changed.out.find("A new.py\n"), std::string::npos) << changed.out;

  // The search sees the refreshed index.
  auto r = run_cli(run({"--json", "-n", "1", "--mode", "keyword", "greet", repo_.path()}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(parse_lines(r.out)[0]["path"], (repo_.path() / "new.py").string());
}

TEST_F(CliSearch, NoIndexLeavesNothingOnDisk) {
  auto r = run_cli(run({"--no-index", "-n", "1", "prime", repo_.path()}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_empty(cache_.path()));
  EXPECT_FALSE(fs::exists(repo_ / ".ripvec"));
}

// `ripvec --no-index` printed "writing the index" on a non-TTY stderr though nothing is stored.
TEST_F(CliSearch, NoIndexProgressNeverSaysItWritesTheIndex) {
  CliRun c = run({"--no-index", "-n", "1", "prime", repo_.path()});
  std::erase(c.args, std::string("-q"));  // progress on: stderr is not a TTY, one line a phase
  auto r = run_cli(c);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("embedding"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("writing"), std::string::npos) << r.err;
}

TEST_F(CliSearch, RepoLocalStoresUnderDotRipvec) {
  auto r = run_cli(run({"--repo-local", "-n", "1", "prime", repo_.path()}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_directory(repo_ / ".ripvec"));
  EXPECT_TRUE(fs::is_empty(cache_.path()));
  // The index does not index itself, and is found again without the flag.
  auto again = run_cli(run({"index", repo_.path()}));
  EXPECT_EQ(again.out.find("A .ripvec"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("chunks: 0 embedded"), std::string::npos) << again.out;
  EXPECT_TRUE(fs::is_empty(cache_.path()));
}

TEST_F(CliSearch, TypeFilterAndFileRoot) {
  auto r = run_cli(run({"--json", "-t", "rust", "numbers", repo_.path()}));
  ASSERT_EQ(r.status, 0) << r.err;
  for (const auto& h : parse_lines(r.out)) EXPECT_EQ(h["language"], "rust") << h.dump();

  const std::string file = (repo_ / "math_utils.py").string();
  r = run_cli(run({"--json", "prime", file}));
  ASSERT_EQ(r.status, 0) << r.err;
  for (const auto& h : parse_lines(r.out)) EXPECT_EQ(h["path"], file);

  r = run_cli(run({"-t", "no-such-type", "prime", repo_.path()}));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("ripvec: ", 0), 0u) << r.err;
}

// A file the walk skips (here: over the index's 2 MiB size limit) is warned about when the index
// changes and by `ripvec index`, not again on every search of an unchanged tree (the README's own
// repository has two such files: each query printed the same two lines).
TEST_F(CliSearch, SkippedFileWarningsAreNotRepeatedOnEverySearch) {
  repo_.write("big.py", "x = 1\n" + std::string(3 << 20, '#') + "\n");
  // Without -q (model_run passes it): warnings are what this test is about.
  auto run_loud = [&](std::vector<std::string> a) {
    CliRun r = run(std::move(a));
    r.args.erase(std::find(r.args.begin(), r.args.end(), "-q"));
    return r;
  };
  // Hybrid: a keyword search of a tree never indexed searches it without the index.
  const std::vector<std::string> args = {"--mode", "hybrid", "prime", repo_.path()};
  auto first = run_cli(run_loud(args));
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_NE(first.err.find("big.py"), std::string::npos) << first.err;
  auto again = run_cli(run_loud(args));
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.err.find("big.py"), std::string::npos) << again.err;
  auto idx = run_cli(run_loud({"index", repo_.path()}));
  ASSERT_EQ(idx.status, 0) << idx.err;
  EXPECT_NE(idx.err.find("big.py"), std::string::npos) << idx.err;
  repo_.write("net/more.py", "def more():\n    return 1\n");
  auto changed = run_cli(run_loud(args));
  ASSERT_EQ(changed.status, 0) << changed.err;
  EXPECT_NE(changed.err.find("big.py"), std::string::npos) << changed.err;
  // An edit of an indexed file (the usual cycle: edit, search) does not list the skipped files
  // again (2026-12-07: the README's repository printed its 123 after every edit); --stats does.
  repo_.write("net/more.py", "def more():\n    return 2\n");
  auto edited = run_cli(run_loud(args));
  ASSERT_EQ(edited.status, 0) << edited.err;
  EXPECT_EQ(edited.err.find("big.py"), std::string::npos) << edited.err;
  repo_.write("net/more.py", "def more():\n    return 3\n");
  std::vector<std::string> with_stats = args;
  with_stats.insert(with_stats.begin(), "--stats");
  auto stats = run_cli(run_loud(with_stats));
  ASSERT_EQ(stats.status, 0) << stats.err;
  EXPECT_NE(stats.err.find("big.py"), std::string::npos) << stats.err;
  // A file that became binary leaves the index: named again.
  repo_.write("net/more.py", std::string("x = 1\0y", 7));
  auto binary = run_cli(run_loud(args));
  ASSERT_EQ(binary.status, 0) << binary.err;
  EXPECT_NE(binary.err.find("more.py: binary file"), std::string::npos) << binary.err;
  // A new file the index skips is named by the next search, though the index gained and lost
  // no file (it was silent), and not by the one after; the others stay quiet.
  repo_.write("net/blob.py", std::string("a\0b", 3));
  auto fresh = run_cli(run_loud(args));
  ASSERT_EQ(fresh.status, 0) << fresh.err;
  EXPECT_NE(fresh.err.find("blob.py: binary file"), std::string::npos) << fresh.err;
  EXPECT_EQ(fresh.err.find("big.py"), std::string::npos) << fresh.err;
  EXPECT_EQ(fresh.err.find("more.py"), std::string::npos) << fresh.err;
  auto after = run_cli(run_loud(args));
  ASSERT_EQ(after.status, 0) << after.err;
  EXPECT_EQ(after.err.find("blob.py"), std::string::npos) << after.err;
  // So is a new file that the walk leaves out (over the size limit: it never reaches the
  // index's list of files), which was silent until a file was added or removed.
  repo_.write("net/huge.py", "y = 1\n" + std::string(3 << 20, '#') + "\n");
  auto large = run_cli(run_loud(args));
  ASSERT_EQ(large.status, 0) << large.err;
  EXPECT_NE(large.err.find("huge.py"), std::string::npos) << large.err;
  EXPECT_EQ(large.err.find("big.py"), std::string::npos) << large.err;
  auto quiet = run_cli(run_loud(args));
  ASSERT_EQ(quiet.status, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("huge.py"), std::string::npos) << quiet.err;
}

// Probe 2026-12-05: with --max-filesize above the index's 2 MiB cap, a larger file was found
// (embedded for that search) while the same run warned "skipping big.js: ... exceeds the
// 2097152-byte size limit". The warning now says what was skipped: the index, not the search.
TEST_F(CliSearch, FileOverTheIndexCapFoundWithMaxFilesizeIsNotCalledSkipped) {
  repo_.write("big.py", "x = 1\n" + std::string(3 << 20, '#') + "\ndef zztailword():\n    pass\n");
  // The search uses the index (a keyword search of a tree never indexed does without); --stats
  // prints the warnings of an unchanged index.
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  CliRun r = run({"--mode", "keyword", "--stats", "--max-filesize", "4M", "-n", "1", "zztailword",
                  repo_.path()});
  r.args.erase(std::find(r.args.begin(), r.args.end(), "-q"));
  auto res = run_cli(r);
  ASSERT_EQ(res.status, 0) << res.err;
  EXPECT_NE(res.out.find("big.py"), std::string::npos) << res.out;
  EXPECT_NE(res.err.find("not indexed; --max-filesize above it embeds the file for one search"),
            std::string::npos)
      << res.err;
}

// Probe 2026-12-05 (second round): binary and not-UTF-8 files were only counted ("skipped: 1
// binary, 1 invalid UTF-8"); like the entries the walk skips, each is a warning naming it.
TEST_F(CliSearch, BinaryAndInvalidUtf8FilesAreNamedInWarnings) {
  repo_.write("blob.py", std::string("x = 1\0y", 7));
  repo_.write("latin1.py", "s = 'caf\xe9'\n");
  auto run_loud = [&](std::vector<std::string> a) {
    CliRun r = run(std::move(a));
    r.args.erase(std::find(r.args.begin(), r.args.end(), "-q"));
    return r;
  };
  auto idx = run_cli(run_loud({"index", repo_.path()}));
  ASSERT_EQ(idx.status, 0) << idx.err;
  EXPECT_NE(idx.err.find("blob.py: binary file"), std::string::npos) << idx.err;
  EXPECT_NE(idx.err.find("latin1.py: not valid UTF-8"), std::string::npos) << idx.err;
  auto again = run_cli(run_loud({"index", repo_.path()}));  // unchanged: still named by index
  EXPECT_NE(again.err.find("blob.py: binary file"), std::string::npos) << again.err;
  auto fresh = run_cli(run_loud({"--no-index", "--mode", "keyword", "prime", repo_.path()}));
  EXPECT_NE(fresh.err.find("latin1.py: not valid UTF-8"), std::string::npos) << fresh.err;
}

TEST_F(CliSearch, StatsGoToStderr) {
  auto r = run_cli(run({"--json", "--stats", "-n", "1", "prime", repo_.path()}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("ripvec stats:"), std::string::npos) << r.err;
  EXPECT_EQ(parse_lines(r.out).size(), 1u);
}

TEST_F(CliSearch, CudaWithoutGpuIsError2) {
#ifdef RIPVEC_HAVE_CUDA
  GTEST_SKIP() << "built with CUDA; a GPU may be present";
#endif
  CliRun c = run({"prime", repo_.path()});
  c.args.push_back("--device");
  c.args.push_back("cuda");  // the last --device wins over the fixture's cpu
  auto r = run_cli(c);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("ripvec: ", 0), 0u) << r.err;
  EXPECT_TRUE(r.out.empty());
}

// A file of one line (a note, a .env setting, a minified bundle) was a chunk "without content"
// (fewer than 2 substantive lines), ranked after everything else: the only exact answer was
// left out of the default 10 results, and came back on top with a larger -n, because the
// results were re-sorted by score after the ranking had put such chunks last (hostile probe
// 2026-12-07). Now a long line is content, and chunks that really have none (imports) stay
// after the others whatever -n is.
TEST_F(CliSearch, OneLineFileIsAnAnswerAndImportsStayLast) {
  repo_.write("NOTES.txt", "retry the request with exponential backoff when the server is busy\n");
  repo_.write("settings.env", "DATABASE_URL=postgres://zzdbhost.internal:5432/app\n");
  repo_.write("birds/imports.py", "import zzkookaburra\nimport os\n");
  repo_.write("birds/count.py",
              "def count_birds(flock, zzkookaburra):\n"
              "    \"\"\"How many birds of the flock are of this kind.\"\"\"\n"
              "    total = 0\n"
              "    for bird in flock:\n"
              "        if bird.kind == zzkookaburra.kind:\n"
              "            total += 1\n"
              "    return total\n");
  auto r = run_cli(run({"--json", "retry with exponential backoff", repo_.path()}));
  ASSERT_EQ(r.status, 0) << r.err;
  auto hits = parse_lines(r.out);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0]["path"], (repo_.path() / "NOTES.txt").string()) << r.out;
  r = run_cli(run({"--json", "--mode", "keyword", "zzdbhost", repo_.path()}));
  ASSERT_EQ(r.status, 0) << r.err;
  hits = parse_lines(r.out);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0]["path"], (repo_.path() / "settings.env").string()) << r.out;
  for (const char* n : {"2", "10", "50"}) {
    r = run_cli(run({"--json", "--mode", "keyword", "-n", n, "zzkookaburra", repo_.path()}));
    ASSERT_EQ(r.status, 0) << r.err;
    hits = parse_lines(r.out);
    ASSERT_FALSE(hits.empty()) << n;
    EXPECT_EQ(hits[0]["path"], (repo_.path() / "birds/count.py").string()) << "-n " << n << "\n"
                                                                           << r.out;
  }
}

// Probe 2026-12-07: a file named as PATH with no project around it (no index of a folder above
// it, no git work tree) made its folder a root and indexed it whole: `ripvec Q ~/notes.txt` in
// a home folder that is no repository indexed all of $HOME. Such a file is searched alone,
// without an index; once its folder is indexed, the index answers for it.
TEST_F(CliSearch, FileOfNoProjectIsSearchedAloneWithoutIndexingItsFolder) {
  ASSERT_FALSE(fs::exists(repo_.path() / ".git"));
  repo_.write("notes.txt", "retry the request with exponential backoff when the server is busy\n");
  const std::string file = (repo_.path() / "notes.txt").string();
  auto r = run_cli(run({"--json", "exponential backoff", file}));
  ASSERT_EQ(r.status, 0) << r.err;
  auto hits = parse_lines(r.out);
  ASSERT_EQ(hits.size(), 1u) << r.out;
  EXPECT_EQ(hits[0]["path"], file);
  EXPECT_TRUE(!fs::exists(cache_.path()) || fs::is_empty(cache_.path()))
      << "the file's folder was indexed";
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  r = run_cli(run({"--json", "--stats", "exponential backoff", file}));
  ASSERT_EQ(r.status, 0) << r.err;
  hits = parse_lines(r.out);
  ASSERT_EQ(hits.size(), 1u) << r.out;
  EXPECT_EQ(hits[0]["path"], file);
  EXPECT_EQ(r.err.find("in memory"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ripvec::test
