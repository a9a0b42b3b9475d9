// Query-time path filters (corpus/path_filter.hpp): the same decisions the walker makes for a
// walk rooted at a sub-path, applied to stored relative paths.
#include <gtest/gtest.h>

#include "corpus/path_filter.hpp"
#include "ripvec/error.hpp"

using namespace ripvec;
using corpus::PathFilter;
using corpus::PathFilterSpec;

TEST(CorpusPathFilter, DefaultAdmitsAllButHidden) {
  PathFilter f;
  EXPECT_TRUE(f.allows("src/a.py"));
  EXPECT_TRUE(f.allows("README.md"));
  EXPECT_FALSE(f.allows(".env"));
  EXPECT_FALSE(f.allows("src/.cache/x.py"));
  EXPECT_TRUE(corpus::has_hidden_component(".github/workflows/ci.yml"));
  EXPECT_TRUE(corpus::has_hidden_component("a/.b"));
  EXPECT_FALSE(corpus::has_hidden_component("a/b.c/d"));
  PathFilterSpec s;
  s.hidden = true;
  EXPECT_TRUE(PathFilter(s).allows("src/.cache/x.py"));
}

TEST(CorpusPathFilter, TypesAndTypeNot) {
  PathFilterSpec s;
  s.types = {"py"};
  PathFilter py(s);
  EXPECT_TRUE(py.allows("a/b.py"));
  EXPECT_TRUE(py.allows("stubs/x.pyi"));
  EXPECT_FALSE(py.allows("a/b.rs"));
  s = {};
  s.type_not = {"md", "rust"};
  PathFilter not_md(s);
  EXPECT_FALSE(not_md.allows("README.md"));
  EXPECT_FALSE(not_md.allows("src/lib.rs"));
  EXPECT_TRUE(not_md.allows("src/lib.py"));
  s = {};
  s.types = {"no-such-type"};
  EXPECT_THROW(PathFilter{s}, InvalidArgument);
}

TEST(CorpusPathFilter, GlobsWithRipgrepSemantics) {
  PathFilterSpec s;
  s.globs = {"*.py"};
  PathFilter f(s);
  EXPECT_TRUE(f.allows("deep/down/x.py"));
  EXPECT_FALSE(f.allows("x.rs"));  // a positive glob must match
  s.globs = {"!tests/**"};
  PathFilter g(s);
  EXPECT_FALSE(g.allows("tests/unit/a.py"));
  EXPECT_TRUE(g.allows("src/a.py"));
  s.globs = {"!build/"};  // a directory-only exclusion prunes everything below
  PathFilter h(s);
  EXPECT_FALSE(h.allows("build/gen/a.c"));
  EXPECT_TRUE(h.allows("src/build.c"));
  s.globs = {"src/**", "!src/vendor/**"};
  PathFilter k(s);
  EXPECT_TRUE(k.allows("src/a.c"));
  EXPECT_FALSE(k.allows("src/vendor/b.c"));
  EXPECT_FALSE(k.allows("lib/c.c"));
  // A matching glob admits a hidden file (the walker's "forced" entries).
  s.globs = {".env"};
  EXPECT_TRUE(PathFilter(s).allows(".env"));
}

TEST(CorpusPathFilter, SubPathsAndExplicitNames) {
  PathFilterSpec s;
  s.paths = {"src/", "./lib/one.py"};
  PathFilter f(s);
  EXPECT_TRUE(f.allows("src/a.py"));
  EXPECT_TRUE(f.allows("lib/one.py"));
  EXPECT_FALSE(f.allows("lib/two.py"));
  EXPECT_FALSE(f.allows("srcx/a.py"));
  EXPECT_FALSE(f.allows("src/.hidden/a.py"));  // hidden below the named path
  EXPECT_TRUE(f.in_scope("src/.hidden/a.py"));
  // Named explicitly, a hidden folder or file is searched.
  s.paths = {".github"};
  EXPECT_TRUE(PathFilter(s).allows(".github/ci.yml"));
  s.paths = {".env"};
  EXPECT_TRUE(PathFilter(s).allows(".env"));
  // The root ("" or ".") means no restriction.
  s.paths = {"src", "."};
  EXPECT_TRUE(PathFilter(s).allows("lib/x.py"));
  for (const char* bad : {"/abs", "a/../b", "a//b"}) {
    s.paths = {bad};
    EXPECT_THROW(PathFilter{s}, InvalidArgument) << bad;
  }
}

// Hostile probe 2026-12-06: `-g '*.{rs,py}'` (ripgrep's and every shell's alternation) was a
// literal brace to git's wildmatch, so it matched nothing and the search found nothing, with
// no warning. Braces expand (nested too, "!" kept); "\{" is a literal brace.
TEST(CorpusPathFilter, BraceAlternationInGlobs) {
  EXPECT_EQ(corpus::expand_glob("*.{rs,py}"), (std::vector<std::string>{"*.rs", "*.py"}));
  EXPECT_EQ(corpus::expand_glob("!{a,b{c,d}}/x"),
            (std::vector<std::string>{"!a/x", "!bc/x", "!bd/x"}));
  EXPECT_EQ(corpus::expand_glob("src/*.c"), (std::vector<std::string>{"src/*.c"}));
  EXPECT_EQ(corpus::expand_glob("a\\{b,c\\}"), (std::vector<std::string>{"a\\{b,c\\}"}));
  EXPECT_EQ(corpus::expand_glob("[{]x{1,}"), (std::vector<std::string>{"[{]x1", "[{]x"}));
  PathFilterSpec s;
  s.globs = {"*.{rs,py}"};
  PathFilter f(s);
  EXPECT_TRUE(f.allows("src/lib.rs"));
  EXPECT_TRUE(f.allows("a/b.py"));
  EXPECT_FALSE(f.allows("a/b.go"));
  s.globs = {"!*.{rs,py}"};
  PathFilter g(s);
  EXPECT_FALSE(g.allows("src/lib.rs"));
  EXPECT_TRUE(g.allows("a/b.go"));
  for (const char* bad : {"*.{rs,py", "*.rs}", "{a,b}[x"}) {
    s.globs = {bad};
    EXPECT_THROW(PathFilter{s}, InvalidArgument) << bad;
  }
  s.globs = {std::string(200, '{') + std::string(200, '}')};
  EXPECT_THROW(PathFilter{s}, InvalidArgument);
  std::string many;
  for (int i = 0; i < 11; ++i) many += "{a,b}";
  s.globs = {many};  // 2,048 patterns
  EXPECT_THROW(PathFilter{s}, InvalidArgument);
}

// Hostile probe 2026-12-06 (second round): `-g '{}'` / `'{,}'` restricted nothing (every file
// searched, exit 0) while `-g ''` is refused; a trailing '\' matched nothing, silently; an error
// named the expanded alternative ("glob 'a['") instead of the glob typed; 3,000 `**/` ran for
// minutes in wildmatch's backtracking.
TEST(CorpusPathFilter, EmptyAlternativeDanglingBackslashAndStarFloodAreErrors) {
  for (const char* bad : {"{}", "{,}", "!{}", "!{,}", "src\\", "\\"}) {
    PathFilterSpec s;
    s.globs = {bad};
    EXPECT_THROW(PathFilter{s}, InvalidArgument) << bad;
  }
  try {
    corpus::expand_glob("{a,b}[");
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("glob '{a,b}['"), std::string::npos) << e.what();
  }
  std::string flood;
  for (int i = 0; i < 3000; ++i) flood += "**/";
  PathFilterSpec s;
  s.globs = {flood + "*.c"};
  EXPECT_THROW(PathFilter{s}, InvalidArgument);
  EXPECT_EQ(corpus::expand_glob("*.{,c}"), (std::vector<std::string>{"*.", "*.c"}));
  EXPECT_EQ(corpus::expand_glob("a\\\\"), (std::vector<std::string>{"a\\\\"}));
}
