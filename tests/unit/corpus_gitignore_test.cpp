// gitignore matching: git's own wildmatch vectors (t3070), rule-line parsing, and a
// differential test of the walker against `git ls-files --others --exclude-standard` on random
// trees with random nested .gitignore files.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "common/test_util.hpp"
#include "corpus/gitignore.hpp"
#include "corpus/walker.hpp"
#include "unit/chunk_test_util.hpp"

namespace ripvec {
namespace {

using ignore::Match;
using ignore::RuleSet;
using ignore::wildmatch;

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      ++i;
      out.push_back(s[i] == 't' ? '\t' : s[i]);
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> f;
  size_t pos = 0;
  while (true) {
    size_t t = line.find('\t', pos);
    f.push_back(line.substr(pos, t == std::string::npos ? std::string::npos : t - pos));
    if (t == std::string::npos) break;
    pos = t + 1;
  }
  return f;
}

TEST(ChunkWildmatch, GitT3070Vectors) {
  const auto path = test::test_data("chunk/wildmatch_t3070.tsv");
  RIPVEC_REQUIRE_PATH(path);
  std::ifstream in(path);
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto f = split_tabs(line);
    ASSERT_EQ(f.size(), 6u) << line;
    const std::string text = unescape(f[4]), pat = unescape(f[5]);
    EXPECT_EQ(wildmatch(pat, text, true, false), f[0] == "1")
        << "wildmatch '" << text << "' '" << pat << "'";
    EXPECT_EQ(wildmatch(pat, text, true, true), f[1] == "1")
        << "iwildmatch '" << text << "' '" << pat << "'";
    EXPECT_EQ(wildmatch(pat, text, false, false), f[2] == "1")
        << "pathmatch '" << text << "' '" << pat << "'";
    EXPECT_EQ(wildmatch(pat, text, false, true), f[3] == "1")
        << "ipathmatch '" << text << "' '" << pat << "'";
    ++cases;
  }
  EXPECT_GT(cases, 180);
}

TEST(ChunkWildmatch, PathologicalStarsStayFast) {
  // git's abort rules keep this polynomial; naive backtracking would take ages.
  std::string text(200, 'a');
  std::string pat;
  for (int i = 0; i < 30; ++i) pat += "*a";
  pat += "b";
  EXPECT_FALSE(wildmatch(pat, text));
  EXPECT_FALSE(wildmatch("**/" + pat, "x/y/" + text));
}

TEST(ChunkRuleSet, ParsesGitignoreLines) {
  RuleSet rs = RuleSet::parse(
      "# comment\n"
      "\n"
      "*.log\n"
      "!keep.log\n"
      "build/\n"
      "/root_only.txt\n"
      "docs/*.md\n"
      "\\#literal\n"
      "\\!bang\n"
      "trailing   \n"
      "escaped\\ \n"
      "**/deep/x\n"
      "crlf.txt\r\n");
  EXPECT_EQ(rs.match("a.log", false), Match::Ignore);
  EXPECT_EQ(rs.match("sub/a.log", false), Match::Ignore);
  EXPECT_EQ(rs.match("keep.log", false), Match::Whitelist);
  EXPECT_EQ(rs.match("sub/keep.log", false), Match::Whitelist);
  EXPECT_EQ(rs.match("build", true), Match::Ignore);
  EXPECT_EQ(rs.match("x/build", true), Match::Ignore);
  EXPECT_EQ(rs.match("build", false), Match::None);  // dir-only pattern, a file named build
  EXPECT_EQ(rs.match("root_only.txt", false), Match::Ignore);
  EXPECT_EQ(rs.match("sub/root_only.txt", false), Match::None);
  EXPECT_EQ(rs.match("docs/a.md", false), Match::Ignore);
  EXPECT_EQ(rs.match("x/docs/a.md", false), Match::None);  // anchored: has a middle slash
  EXPECT_EQ(rs.match("docs/sub/a.md", false), Match::None);
  EXPECT_EQ(rs.match("#literal", false), Match::Ignore);
  EXPECT_EQ(rs.match("!bang", false), Match::Ignore);
  EXPECT_EQ(rs.match("trailing", false), Match::Ignore);
  EXPECT_EQ(rs.match("escaped ", false), Match::Ignore);
  EXPECT_EQ(rs.match("escaped", false), Match::None);
  EXPECT_EQ(rs.match("deep/x", false), Match::Ignore);
  EXPECT_EQ(rs.match("a/b/deep/x", false), Match::Ignore);
  EXPECT_EQ(rs.match("crlf.txt", false), Match::Ignore);
  EXPECT_EQ(rs.match("comment", false), Match::None);
}

TEST(ChunkRuleSet, LastMatchWins) {
  RuleSet rs = RuleSet::parse("*.txt\n!a*.txt\nab.txt\n");
  EXPECT_EQ(rs.match("x.txt", false), Match::Ignore);
  EXPECT_EQ(rs.match("a.txt", false), Match::Whitelist);
  EXPECT_EQ(rs.match("ab.txt", false), Match::Ignore);
  EXPECT_EQ(rs.match("x.py", false), Match::None);
}

// ---- differential test against git ----------------------------------------------------------

struct Env {
  std::string name, old;
  bool had;
  Env(const char* n, const std::string& v) : name(n) {
    const char* o = std::getenv(n);
    had = o != nullptr;
    if (had) old = o;
    ::setenv(n, v.c_str(), 1);
  }
  ~Env() {
    if (had)
      ::setenv(name.c_str(), old.c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
};

std::set<std::string> git_untracked(const std::filesystem::path& repo) {
  bool ok = false;
  std::string out = test::run_capture(
      "cd " + test::shell_quote(repo.string()) + " && git ls-files -z --others --exclude-standard",
      &ok);
  EXPECT_TRUE(ok);
  std::set<std::string> files;
  std::string cur;
  for (char c : out) {
    if (c == '\0') {
      files.insert(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  return files;
}

std::set<std::string> walked(const std::filesystem::path& root) {
  WalkOptions o;
  o.hidden = true;  // git does not treat dot files specially
  o.threads = 2;
  WalkStats st;
  std::set<std::string> out;
  for (auto& f : walk({root}, o, &st)) out.insert(f.rel_path);
  return out;
}

TEST(ChunkWalkerVsGit, RandomNestedGitignores) {
  if (!test::have_git()) {
    if (test::in_ci()) FAIL() << "git is required";
    GTEST_SKIP() << "git not installed";
  }
  test::ScratchDir home;
  // Isolate both git and the walker from the user's configuration.
  Env e1("HOME", home.path().string());
  Env e2("XDG_CONFIG_HOME", (home.path() / "xdg").string());
  Env e3("GIT_CONFIG_NOSYSTEM", "1");

  const std::vector<std::string> names = {"a", "b", "ab", "x.py", "y.txt", "z.md", "b.log", "dir"};
  const std::vector<std::string> patterns = {
      "a",      "b/",      "*.py",    "!x.py", "a*",     "?b",    "[ab]",
      "**/b",   "a/**",    "/a",      "dir/",  "!dir/",  "*.log", "!b.log",
      "a/b",    "**/x.py", "b/*.txt", "*",     "!*/",    "!*.md", "dir/**/y.txt",
      "a/**/b", "*.t[x]t", "!ab",     "ab/",   "/dir",   "z.md",  "**/dir/*",
      "b/**/",  "[!a]*",   "!/a",     "x.*",   "*/*.py", "**",    "!**/y.txt"};
  std::mt19937 rng(12345);
  int scenarios = 0, compared = 0;
  for (int scenario = 0; scenario < 40; ++scenario) {
    test::ScratchDir repo;
    bool ok = false;
    test::run_capture(
        "cd " + test::shell_quote(repo.path().string()) + " && git init -q --template= .", &ok);
    ASSERT_TRUE(ok);
    // Random files, depth 1..3.
    std::set<std::string> dirs = {""};
    const int nfiles = 25 + static_cast<int>(rng() % 20);
    for (int i = 0; i < nfiles; ++i) {
      std::string p;
      const int depth = 1 + static_cast<int>(rng() % 3);
      for (int d = 0; d < depth; ++d) {
        if (!p.empty()) p += "/";
        p += names[rng() % names.size()];
        if (d + 1 < depth) dirs.insert(p);
      }
      std::error_code ec;
      if (std::filesystem::is_directory(repo.path() / p, ec)) continue;
      // A path component may already exist as a file: skip such collisions.
      bool clash = false;
      for (auto q = std::filesystem::path(p).parent_path(); !q.empty(); q = q.parent_path())
        if (std::filesystem::is_regular_file(repo.path() / q, ec)) clash = true;
      if (clash) continue;
      repo.write(p, "content\n");
    }
    // Random .gitignore files in random existing folders (root always), plus info/exclude.
    for (const auto& d : dirs) {
      if (!d.empty() && rng() % 3 != 0) continue;
      std::error_code ec;
      if (!std::filesystem::is_directory(repo.path() / d, ec)) continue;
      std::string gi;
      const int nrules = 1 + static_cast<int>(rng() % 4);
      for (int r = 0; r < nrules; ++r) gi += patterns[rng() % patterns.size()] + "\n";
      repo.write(d.empty() ? ".gitignore" : d + "/.gitignore", gi);
    }
    if (rng() % 2) {
      repo.write(".git/info/exclude", patterns[rng() % patterns.size()] + "\n");
    }
    const auto expect = git_untracked(repo.path());
    const auto got = walked(repo.path());
    std::ostringstream rules;
    for (const auto& d : dirs) {
      std::ifstream f(repo.path() / d / ".gitignore");
      if (f) rules << "[" << d << "/.gitignore]\n" << f.rdbuf();
    }
    std::ifstream ex(repo.path() / ".git/info/exclude");
    if (ex) rules << "[info/exclude]\n" << ex.rdbuf();
    EXPECT_EQ(got, expect) << "scenario " << scenario << " rules:\n" << rules.str();
    ++scenarios;
    compared += static_cast<int>(expect.size());
  }
  EXPECT_EQ(scenarios, 40);
  EXPECT_GT(compared, 100);  // the scenarios must not all ignore everything
}

TEST(ChunkWalkerVsGit, GlobalExcludesFile) {
  if (!test::have_git()) {
    if (test::in_ci()) FAIL() << "git is required";
    GTEST_SKIP() << "git not installed";
  }
  test::ScratchDir home;
  Env e1("HOME", home.path().string());
  Env e2("XDG_CONFIG_HOME", (home.path() / "xdg").string());
  Env e3("GIT_CONFIG_NOSYSTEM", "1");
  test::ScratchDir repo;
  bool ok = false;
  test::run_capture(
      "cd " + test::shell_quote(repo.path().string()) + " && git init -q --template= .", &ok);
  ASSERT_TRUE(ok);
  repo.write("keep.py");
  repo.write("drop.tmp");
  repo.write("sub/drop2.tmp");
  repo.write("sub/other.bak");

  // 1) The XDG default location.
  home.write("xdg/git/ignore", "*.tmp\n");
  EXPECT_EQ(walked(repo.path()), git_untracked(repo.path()));
  EXPECT_EQ(walked(repo.path()), (std::set<std::string>{"keep.py", "sub/other.bak"}));

  // 2) core.excludesFile in ~/.gitconfig overrides it.
  home.write("my_excludes", "*.bak\n");
  home.write(".gitconfig", "[core]\n\texcludesFile = ~/my_excludes\n");
  EXPECT_EQ(walked(repo.path()), git_untracked(repo.path()));
  EXPECT_EQ(walked(repo.path()), (std::set<std::string>{"drop.tmp", "keep.py", "sub/drop2.tmp"}));
}

}  // namespace
}  // namespace ripvec
