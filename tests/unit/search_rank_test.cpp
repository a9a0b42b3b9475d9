#include <gtest/gtest.h>

#include <vector>

#include "index/rank.hpp"

using namespace ripvec::index;

TEST(SearchRank, RrfHandComputed) {
  std::vector<uint32_t> sem = {10, 20, 30};
  std::vector<uint32_t> kw = {30, 40};
  auto f = rrf_fuse(sem, kw);
  ASSERT_EQ(f.size(), 4u);
  // 30: 1/63 + 1/61 ; 10: 1/61 ; 40: 1/62 ; 20: 1/62
  EXPECT_EQ(f[0].id, 30u);
  EXPECT_NEAR(f[0].score, 1.0f / 63 + 1.0f / 61, 1e-7);
  EXPECT_EQ(f[0].rank_a, 2);
  EXPECT_EQ(f[0].rank_b, 0);
  EXPECT_EQ(f[1].id, 10u);
  EXPECT_NEAR(f[1].score, 1.0f / 61, 1e-7);
  EXPECT_EQ(f[1].rank_b, -1);
  // 20 and 40 tie at 1/62 with the same best rank (1 vs 1): lower id first.
  EXPECT_EQ(f[2].id, 20u);
  EXPECT_EQ(f[3].id, 40u);
  EXPECT_EQ(f[3].rank_a, -1);
  EXPECT_EQ(f[3].rank_b, 1);
}

TEST(SearchRank, EmptyAndOneSided) {
  EXPECT_TRUE(rrf_fuse({}, {}).empty());
  std::vector<uint32_t> a = {5, 6, 7};
  auto f = rrf_fuse(a, {});
  ASSERT_EQ(f.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(f[i].id, a[i]);
    EXPECT_EQ(f[i].rank_a, static_cast<int>(i));
  }
}

TEST(SearchRank, AgreementBeatsOneTopRank) {
  // Ranked 2nd by both beats 1st by one side only: 2/62 > 1/61.
  std::vector<uint32_t> a = {1, 2}, b = {3, 2};
  auto f = rrf_fuse(a, b);
  EXPECT_EQ(f[0].id, 2u);
  EXPECT_NEAR(f[0].score, 2.0f / 62, 1e-7);
  EXPECT_LE(f[0].score, 2.0f / 61);  // the documented maximum
}

TEST(SearchRank, DuplicateInOneListCountsOnce) {
  std::vector<uint32_t> a = {1, 1, 2};
  auto f = rrf_fuse(a, {});
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].rank_a, 0);
  EXPECT_NEAR(f[0].score, 1.0f / 61, 1e-7);
  EXPECT_EQ(f[1].rank_a, 2);
}
