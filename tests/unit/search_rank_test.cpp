#include <gtest/gtest.h>

#include <vector>

#include "index/rank.hpp"

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
