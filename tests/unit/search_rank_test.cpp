#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "index/rank.hpp"
#include "ripvec/index.hpp"

using namespace ripvec::index;

TEST(SearchRank, MinMaxNormalisesAndClamps) {
  const std::vector<float> list = {0.8f, 0.4f, 0.6f};
  const MinMax m = MinMax::of(list);
  EXPECT_FALSE(m.empty);
  EXPECT_FLOAT_EQ(m(0.8f), 1.0f);
  EXPECT_FLOAT_EQ(m(0.4f), 0.0f);
  EXPECT_NEAR(m(0.6f), 0.5f, 1e-6);
  EXPECT_FLOAT_EQ(m(0.9f), 1.0f);  // a candidate of the other list scoring above this one's best
  EXPECT_FLOAT_EQ(m(0.1f), 0.0f);  // or below its last
  // One candidate (or all equal): at or above it is 1, below is 0.
  const std::vector<float> one = {2.5f};
  EXPECT_FLOAT_EQ(MinMax::of(one)(2.5f), 1.0f);
  EXPECT_FLOAT_EQ(MinMax::of(one)(0.0f), 0.0f);
  // No candidates (no query term in the index): that side adds nothing.
  const MinMax none = MinMax::of({});
  EXPECT_TRUE(none.empty);
  EXPECT_FLOAT_EQ(none(0.0f), 0.0f);
  EXPECT_FLOAT_EQ(none(5.0f), 0.0f);
}

TEST(SearchRank, ConvexFusionHandComputed) {
  const std::vector<float> sem = {0.70f, 0.50f, 0.30f}, kw = {12.0f, 4.0f, 2.0f};
  const MinMax sn = MinMax::of(sem), kn = MinMax::of(kw);
  // sem 0.5 -> 0.5, kw 12 -> 1: 0.7 * 0.5 + 0.3 * 1
  EXPECT_NEAR(convex_fuse(0.50f, 12.0f, sn, kn, 0.7f), 0.35f + 0.3f, 1e-6);
  // First on both sides: 1, the top of the scale.
  EXPECT_FLOAT_EQ(convex_fuse(0.70f, 12.0f, sn, kn, 0.7f), 1.0f);
  // Last on both: 0.
  EXPECT_FLOAT_EQ(convex_fuse(0.30f, 2.0f, sn, kn, 0.7f), 0.0f);
  // alpha moves the weight: a keyword-only match wins at alpha 0.2, loses at 0.7 to a
  // semantic-only one of the same normalised strength.
  EXPECT_GT(convex_fuse(0.30f, 12.0f, sn, kn, 0.2f), convex_fuse(0.70f, 2.0f, sn, kn, 0.2f));
  EXPECT_LT(convex_fuse(0.30f, 12.0f, sn, kn, 0.7f), convex_fuse(0.70f, 2.0f, sn, kn, 0.7f));
  // Always within [0, 1], whatever the raw scores.
  for (float s : {-1.0f, 0.0f, 0.5f, 1.0f})
    for (float k : {0.0f, 3.0f, 100.0f}) {
      const float f = convex_fuse(s, k, sn, kn, 0.7f);
      EXPECT_GE(f, 0.0f);
      EXPECT_LE(f, 1.0f);
    }
}

TEST(SearchRank, IdentifierQueriesAreRecognised) {
  for (const char* q : {"parseConfig", "foo_bar", "Client.get", "std::move", "src/app.py",
                        "handle_close_bracket", "ShouldBindBodyWith", "utf8", "`toFlatObject`",
                        "  read_chunk_size ", "obj->field", "run()", "lib\\util.c", "__foo_bar"})
    EXPECT_TRUE(looks_like_identifier(q)) << q;
  for (const char* q : {"session", "retry with backoff", "HTTP", "", "   ", "__init__", "_private",
                        "parse config", "3.14", "e.g.", "what is foo_bar", "a-b", "x.", ".x"})
    EXPECT_FALSE(looks_like_identifier(q)) << q;
  EXPECT_EQ(semantic_weight("parseConfig"), kIdentifierSemanticWeight);
  EXPECT_EQ(semantic_weight("where are timeouts enforced"), kSemanticWeight);
  EXPECT_LT(kIdentifierSemanticWeight, 0.5f);  // keyword-heavy
}

TEST(SearchRank, ProseLanguages) {
  EXPECT_TRUE(is_prose_language("text"));
  EXPECT_TRUE(is_prose_language("markdown"));
  EXPECT_FALSE(is_prose_language("python"));
  EXPECT_FALSE(is_prose_language("yaml"));
}

TEST(SearchRank, TestPaths) {
  for (const char* p :
       {"tests/test_config.py", "src/test/redirect.rs", "gin_test.go", "pkg/render/render_test.go",
        "lib/__tests__/a.js", "spec/helper.rb", "src/parser.test.ts", "web/app.spec.jsx",
        "test_cli.py", "conftest.py", "a/testing/util.py", "src/blocks_test.c"})
    EXPECT_TRUE(is_test_path(p)) << p;
  for (const char* p : {"src/flask/testing.py", "src/unit.rs", "gin.go", "lib/contest/a.py",
                        "latest/x.py", "src/attest.c", "tests.py", "src/testutils.py", "x.test",
                        "src/app.spec.rb", "testdata_loader.go", "protest/main.go", ""})
    EXPECT_FALSE(is_test_path(p)) << p;
}

TEST(SearchRank, QueriesThatAskForTests) {
  for (const char* q : {"test for redirects", "which Tests cover timeouts", "testing helpers",
                        "spec of the parser", "test_parse_url", "unit-test fixtures"})
    EXPECT_TRUE(mentions_tests(q)) << q;
  for (const char* q : {"where are request timeouts enforced", "TestParse", "attest the latest",
                        "contest", "", "retests"})
    EXPECT_FALSE(mentions_tests(q)) << q;
}

namespace {

// A hit of lines [start, end] of file "f" whose content is those lines ("L<n>").
ripvec::Hit lines_hit(int start, int end, std::string symbol = {}) {
  ripvec::Hit h;
  h.path = "f";
  h.start_line = start;
  h.end_line = end;
  h.symbol = std::move(symbol);
  for (int l = start; l <= end; ++l)
    h.content += (l > start ? "\n" : "") + ("L" + std::to_string(l));
  return h;
}

// What merging promises: no two hits overlap, none spans more than 200 lines, each holds the
// file's exact lines of its range.
void expect_settled(const std::vector<ripvec::Hit>& hits, const std::string& why) {
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_LE(hits[i].end_line - hits[i].start_line + 1, 200) << why;
    EXPECT_EQ(hits[i].content, lines_hit(hits[i].start_line, hits[i].end_line).content) << why;
    for (size_t j = i + 1; j < hits.size(); ++j)
      EXPECT_TRUE(hits[i].end_line < hits[j].start_line || hits[j].end_line < hits[i].start_line)
          << why << ": " << hits[i].start_line << "-" << hits[i].end_line << " and "
          << hits[j].start_line << "-" << hits[j].end_line;
  }
}

}  // namespace

// Hits arrive in rank order, each merged as it comes (rank()). A hit that grows by a merge can
// meet a third hit: the first version of the 200-line cap trimmed one neighbour and never looked
// at the other, leaving [100-250] and [240-330] overlapping (review 2026-12-08).
TEST(SearchRank, MergedHitsNeverOverlapWhateverTheOrder) {
  std::vector<ripvec::Hit> hits;
  for (auto [s, e] : {std::pair{150, 200}, {40, 110}, {240, 330}, {100, 250}}) {
    hits.push_back(lines_hit(s, e));
    merge_hit(&hits, hits.size() - 1);
  }
  expect_settled(hits, "review case");
  // merge_adjacent_hits over a list in any state.
  hits = {lines_hit(150, 200), lines_hit(40, 110), lines_hit(240, 330), lines_hit(100, 250)};
  merge_adjacent_hits(&hits);
  expect_settled(hits, "all at once");
  // The same property over random windows pushed in random order.
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    hits.clear();
    const int n = 2 + static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) {
      const int s = 1 + static_cast<int>(rng() % 600), len = 1 + static_cast<int>(rng() % 150);
      hits.push_back(lines_hit(s, s + len - 1, rng() % 3 == 0 ? "f" : ""));
      merge_hit(&hits, hits.size() - 1);
    }
    expect_settled(hits, "round " + std::to_string(round));
    if (HasFailure()) break;
  }
}
