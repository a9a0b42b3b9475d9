#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "index/bm25.hpp"

using namespace ripvec::index;
using V = std::vector<std::string>;

static bool has(const V& v, const std::string& t) {
  return std::find(v.begin(), v.end(), t) != v.end();
}

TEST(SearchBm25Tokenizer, CamelPascalSnakeKebabDigits) {
  EXPECT_EQ(tokenize_code("parseHTTPResponse_v2"),
            (V{"parsehttpresponse_v2", "parse", "http", "response", "v", "2"}));
  EXPECT_EQ(tokenize_code("HTTPServer"), (V{"httpserver", "http", "server"}));
  EXPECT_EQ(tokenize_code("getUserById"), (V{"getuserbyid", "get", "user", "by", "id"}));
  EXPECT_EQ(tokenize_code("snake_case_name"), (V{"snake_case_name", "snake", "case", "name"}));
  EXPECT_EQ(tokenize_code("kebab-case-name"), (V{"kebab-case-name", "kebab", "case", "name"}));
  EXPECT_EQ(tokenize_code("utf8"), (V{"utf8", "utf", "8"}));
  EXPECT_EQ(tokenize_code("simple"), (V{"simple"}));  // whole == only part: once
  EXPECT_EQ(tokenize_code("XMLHttpRequest"), (V{"xmlhttprequest", "xml", "http", "request"}));
}

TEST(SearchBm25Tokenizer, PunctuationAndOperators) {
  V t = tokenize_code("fn main() { let x = a - b; foo::bar->baz(); }");
  EXPECT_TRUE(has(t, "fn"));
  EXPECT_TRUE(has(t, "main"));
  EXPECT_TRUE(has(t, "foo"));
  EXPECT_TRUE(has(t, "baz"));
  EXPECT_FALSE(has(t, "a-b"));   // spaced minus is not kebab-case
  EXPECT_FALSE(has(t, "bar-"));  // "->" does not join
  EXPECT_TRUE(tokenize_code("  -- ;; !!").empty());
  EXPECT_TRUE(tokenize_code("").empty());
}

TEST(SearchBm25Tokenizer, LongBlobsAndUnicode) {
  std::string blob(200, 'a');
  EXPECT_TRUE(tokenize_code(blob).empty());  // over the term cap: not a word
  V u = tokenize_code("größe Größe");
  EXPECT_TRUE(has(u, "größe"));  // non-ASCII bytes stay inside the word, ASCII part folded
}

TEST(SearchBm25, IdfAndTermScore) {
  EXPECT_NEAR(bm25_idf(10, 1), std::log(1 + (10 - 1 + 0.5) / 1.5), 1e-6);
  EXPECT_GT(bm25_idf(1000, 1), bm25_idf(1000, 100));
  EXPECT_GT(bm25_idf(10, 10), 0.0f);  // never negative
  Bm25Params p;
  // Saturation: doubling tf less than doubles the score.
  EXPECT_LT(bm25_term_score(1, 2, p), 2 * bm25_term_score(1, 1, p));
  // Hand computation of BM25F pseudo-tf: body only, doc length = avg -> tf / 1.
  uint32_t tf[3] = {0, 0, 3}, len[3] = {0, 2, 10};
  float avg[3] = {1, 2, 10};
  EXPECT_NEAR(bm25_weighted_tf(tf, len, avg, p), 3.0f, 1e-6);
  uint32_t tf2[3] = {1, 0, 0}, len2[3] = {2, 0, 0};  // symbol 2x average length
  EXPECT_NEAR(bm25_weighted_tf(tf2, len2, avg, p), 3.0f / (1 - 0.75f + 0.75f * 2), 1e-6);
}

TEST(SearchBm25, RanksBySymbolPathAndBody) {
  std::vector<Bm25Doc> docs = {
      {"", "src/util/strings.py", "def helper(): return text.strip()"},
      {"parse_config", "src/config.py", "def parse_config(path): return load(path)"},
      {"", "docs/notes.md", "we parse the config once at startup; config config config"},
      {"render", "src/view.py", "def render(): pass"},
  };
  Bm25Postings bp = build_bm25(docs);
  EXPECT_EQ(bp.num_docs, 4u);
  EXPECT_TRUE(std::is_sorted(bp.terms.begin(), bp.terms.end()));
  Bm25View v = Bm25View::of(bp);
  std::vector<float> s(4, 0.0f);
  std::vector<uint32_t> touched;
  v.score("parseConfig", &s, &touched);
  // The definition named parse_config beats prose that repeats the words.
  EXPECT_GT(s[1], s[2]);
  EXPECT_GT(s[2], 0.0f);
  EXPECT_EQ(s[0], 0.0f);
  EXPECT_EQ(s[3], 0.0f);
  EXPECT_EQ(touched.size(), 2u);

  std::fill(s.begin(), s.end(), 0.0f);
  touched.clear();
  v.score("strings", &s, &touched);  // only in the path field
  EXPECT_GT(s[0], 0.0f);
  EXPECT_EQ(touched, std::vector<uint32_t>{0});

  std::fill(s.begin(), s.end(), 0.0f);
  touched.clear();
  v.score("nonexistentterm", &s, &touched);
  EXPECT_TRUE(touched.empty());
}

TEST(SearchBm25, ScoresMatchDirectFormula) {
  // Two docs, body only: check the postings against the formula computed by hand.
  std::vector<Bm25Doc> docs = {{"", "", "alpha beta alpha"}, {"", "", "beta gamma"}};
  Bm25Postings bp = build_bm25(docs);
  Bm25View v = Bm25View::of(bp);
  std::vector<float> s(2, 0.0f);
  std::vector<uint32_t> touched;
  v.score("alpha alpha", &s, &touched);  // repeated query terms count once
  Bm25Params p;
  const float avg_body = 2.5f;
  // path field: both empty; symbol: empty.
  const float tfw = 2.0f / (1 - p.b + p.b * 3.0f / avg_body);
  const float expect = bm25_idf(2, 1) * tfw * (p.k1 + 1) / (p.k1 + tfw);
  EXPECT_NEAR(s[0], expect, 1e-5);
  EXPECT_EQ(s[1], 0.0f);
}

TEST(SearchBm25Stem, FormsOfOneWordShareAStem) {
  auto same = [](std::vector<std::string> words) {
    for (const auto& w : words) EXPECT_EQ(stem_light(w), stem_light(words[0])) << w;
  };
  same({"handle", "handles", "handled", "handling"});
  same({"parse", "parses", "parsed", "parsing"});
  same({"entry", "entries"});
  same({"retry", "retries", "retried", "retrying"});
  same({"stop", "stops", "stopped", "stopping"});
  same({"class", "classes"});
  same({"match", "matches", "matched", "matching"});
  same({"cookie", "cookies"});
  same({"redirect", "redirects", "redirected", "redirecting"});
  EXPECT_EQ(stem_light("handlers"), "handler");
  // Left alone: short words, non-letters, and -ing / -ed without a vowel before them.
  EXPECT_EQ(stem_light("get"), "get");
  EXPECT_EQ(stem_light("string"), "string");
  EXPECT_EQ(stem_light("need"), "need");
  EXPECT_EQ(stem_light("utf8"), "utf8");
  EXPECT_EQ(stem_light("foo_bar"), "foo_bar");
  EXPECT_EQ(stem_light("status"), "status");
  EXPECT_EQ(stem_light("process"), "process");
  EXPECT_EQ(stem_light("called"), "call");
  EXPECT_NE(stem_light("string"), stem_light("str"));
}

TEST(SearchBm25Stem, StopWords) {
  EXPECT_TRUE(is_stop_word("the"));
  EXPECT_TRUE(is_stop_word("where"));
  EXPECT_FALSE(is_stop_word("session"));
  EXPECT_FALSE(is_stop_word("The"));  // terms are lowercase by then
}

TEST(SearchBm25Stem, QueryMatchesOtherFormsLikeAStemmedIndex) {
  // Query "handling timeouts" finds "handle"/"timeout" forms; the conflated forms score as one
  // term: the same as a body that holds the query's stem twice in one form.
  std::vector<Bm25Doc> docs = {{"", "", "handle timeout"},
                               {"", "", "handles handled"},
                               {"", "", "unrelated words"},
                               {"", "", "handle handle"}};
  Bm25Postings bp = build_bm25(docs);
  Bm25View v = Bm25View::of(bp);
  std::vector<float> s(4, 0.0f);
  std::vector<uint32_t> touched;
  v.score("handling timeouts", &s, &touched);
  EXPECT_GT(s[0], 0.0f);
  EXPECT_GT(s[1], 0.0f);
  EXPECT_EQ(s[2], 0.0f);
  EXPECT_NEAR(s[1], s[3], 1e-6);  // two forms of one stem == one form twice
  // idf over the union: 3 of 4 documents hold some form of "handle".
  Bm25Params p;
  const float tfw = 2.0f / (1 - p.b + p.b * 2.0f / 2.0f);
  EXPECT_NEAR(s[3], bm25_idf(4, 3) * tfw * (p.k1 + 1) / (p.k1 + tfw), 1e-5);
  // Without stemming, "handling" matches nothing.
  Bm25Params exact;
  exact.stem = false;
  std::fill(s.begin(), s.end(), 0.0f);
  touched.clear();
  Bm25View::of(bp, exact).score("handling", &s, &touched);
  EXPECT_TRUE(touched.empty());
}

TEST(SearchBm25Stem, StopWordsDroppedOnlyWhenOtherTermsRemain) {
  std::vector<Bm25Doc> docs = {{"", "", "where the session is"}, {"", "", "session store"}};
  Bm25Postings bp = build_bm25(docs);
  Bm25View v = Bm25View::of(bp);
  std::vector<float> s(2, 0.0f);
  std::vector<uint32_t> touched;
  v.score("where is the session", &s, &touched);
  // Only "session" counts: both documents hold it once; the shorter one scores higher.
  EXPECT_GT(s[1], s[0]);
  std::fill(s.begin(), s.end(), 0.0f);
  touched.clear();
  v.score("where is the", &s, &touched);  // nothing but stop words: they are kept
  EXPECT_GT(s[0], 0.0f);
  EXPECT_EQ(s[1], 0.0f);
}

// Postings do not depend on how documents are cut into blocks, in which order blocks join the
// dictionary, or on terms of the dictionary that no block of the build holds.
TEST(SearchBm25, BlocksMergedInAnyOrderGiveTheSamePostings) {
  std::vector<Bm25Doc> docs = {
      {"parseConfig", "src/config.py", "def parseConfig(path): return load(path)"},
      {"", "src/config.py", "retry-backoff HTTPServer utf8 größe"},
      {"render", "src/view.py", "def render(): pass  # render the config"},
      {"", "docs/notes.md", "we parse the config once; config config"},
      {"", "", ""},
      {"x", "a/b_c-d.txt", "alpha beta alpha"},
  };
  const Bm25Postings ref = build_bm25(docs);
  auto same = [&](const Bm25Postings& b) {
    EXPECT_EQ(b.num_docs, ref.num_docs);
    EXPECT_EQ(b.terms, ref.terms);
    EXPECT_EQ(b.offsets, ref.offsets);
    ASSERT_EQ(b.postings.size(), ref.postings.size());
    for (size_t i = 0; i < b.postings.size(); ++i) {
      EXPECT_EQ(b.postings[i].doc, ref.postings[i].doc) << i;
      EXPECT_EQ(b.postings[i].tfw, ref.postings[i].tfw) << i;
    }
  };
  const std::vector<std::vector<size_t>> cuts = {{0, 6}, {0, 1, 2, 3, 4, 5, 6}, {0, 2, 5, 6}};
  for (const auto& cut : cuts) {
    std::vector<Bm25Block> blocks;
    for (size_t i = 0; i + 1 < cut.size(); ++i)
      blocks.push_back(bm25_block(std::span(docs).subspan(cut[i], cut[i + 1] - cut[i])));
    // Merged up front in reverse order, after a block that is not part of the build.
    Bm25Dictionary dict;
    const std::vector<Bm25Doc> other = {{"zzz", "q.py", "zanzibar onlyhere"}};
    dict.add(bm25_block(other));
    std::vector<std::vector<uint32_t>> ids(blocks.size());
    for (size_t i = blocks.size(); i-- > 0;) ids[i] = dict.add(blocks[i]);
    std::vector<Bm25BlockRef> refs;
    for (size_t i = 0; i < blocks.size(); ++i) refs.push_back({&blocks[i], &ids[i]});
    same(build_bm25(refs, dict));
    // Half merged before, half during the build.
    Bm25Dictionary dict2;
    std::vector<Bm25BlockRef> refs2;
    std::vector<std::vector<uint32_t>> ids2(blocks.size());
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (i % 2 == 1) ids2[i] = dict2.add(blocks[i]);
      refs2.push_back({&blocks[i], i % 2 == 1 ? &ids2[i] : nullptr});
    }
    same(build_bm25(refs2, dict2));
  }
}

// A build large enough to be counted and filled in parallel runs equals the postings computed
// the obvious way (per document: tokenize_code per field, counts, lengths; per term: the
// documents in order with bm25_weighted_tf).
TEST(SearchBm25, LargeBuildEqualsDirectComputation) {
  std::mt19937 rng(3);
  std::vector<std::string> words;
  // Terms that share their first 8 bytes (sorted by more than a prefix) and non-ASCII ones.
  for (int i = 0; i < 4000; ++i) {
    const std::string n = std::to_string(rng() % 20000);
    words.push_back(i % 4 == 0   ? "longcommonprefix" + n + "x"
                    : i % 4 == 1 ? "w" + n + "x"
                    : i % 4 == 2 ? "gr\xc3\xb6\xc3\x9f" + n + "e"
                                 : "grz" + n + "e");
  }
  std::vector<std::string> bodies(4000), paths(4000), symbols(4000);
  std::vector<Bm25Doc> docs;
  for (size_t d = 0; d < bodies.size(); ++d) {
    for (int k = 0; k < 60; ++k) bodies[d] += words[rng() % words.size()] + " ";
    paths[d] = "src/mod" + std::to_string(d / 7) + "/file_" + std::to_string(d / 3) + ".py";
    symbols[d] = d % 3 ? "fnName" + std::to_string(d % 50) : "";
    docs.push_back({symbols[d], paths[d], bodies[d]});
  }
  const Bm25Postings got = build_bm25(docs);
  std::vector<std::array<uint32_t, kNumFields>> len(docs.size());
  std::vector<std::map<std::string, std::array<uint32_t, kNumFields>>> tf(docs.size());
  float avg[kNumFields] = {0, 0, 0};
  for (size_t d = 0; d < docs.size(); ++d) {
    const std::string_view f[kNumFields] = {docs[d].symbol, docs[d].path, docs[d].body};
    for (int k = 0; k < kNumFields; ++k) {
      for (const auto& t : tokenize_code(f[k])) {
        tf[d][t][k]++;
        len[d][k]++;
      }
    }
    for (int k = 0; k < kNumFields; ++k) avg[k] += static_cast<float>(len[d][k]);
  }
  for (float& a : avg) a /= static_cast<float>(docs.size());
  std::map<std::string, std::vector<Posting>> want;
  for (size_t d = 0; d < docs.size(); ++d)
    for (const auto& [t, c] : tf[d])
      want[t].push_back(
          {static_cast<uint32_t>(d), bm25_weighted_tf(c.data(), len[d].data(), avg, {})});
  ASSERT_EQ(got.terms.size(), want.size());
  size_t i = 0, total = 0;
  for (const auto& [t, ps] : want) {
    ASSERT_EQ(got.terms[i], t);
    ASSERT_EQ(got.offsets[i + 1] - got.offsets[i], ps.size()) << t;
    for (size_t k = 0; k < ps.size(); ++k) {
      const Posting& g = got.postings[got.offsets[i] + k];
      ASSERT_EQ(g.doc, ps[k].doc) << t;
      ASSERT_EQ(g.tfw, ps[k].tfw) << t;
    }
    total += ps.size();
    ++i;
  }
  EXPECT_GT(total, 200000u);  // enough entries for several runs
}

// The dictionary's order, sorted piecewise as it grows (merges of sorted batches), is the
// order of its terms as strings (shared 8-byte prefixes, non-ASCII bytes, one-letter terms).
TEST(SearchBm25, DictionarySortedWhileGrowingEqualsOneSort) {
  std::mt19937 rng(9);
  Bm25Dictionary dict;
  std::vector<std::string> all;
  for (int b = 0; b < 40; ++b) {
    std::string body;
    for (int k = 0; k < 700; ++k) {
      const std::string n = std::to_string(rng() % 100000);
      body += (k % 3 == 0 ? "prefixsh" + n : k % 3 == 1 ? "\xc3\xa9t\xc3\xa9" + n : "t" + n) + "q ";
    }
    dict.add(bm25_block(std::vector<Bm25Doc>{{"", "", body}}));
    if (b == 20) dict.sorted();  // a full sort in the middle, then more merges
  }
  for (uint32_t i = 0; i < dict.size(); ++i) all.emplace_back(dict.term(i));
  std::sort(all.begin(), all.end());
  const auto& order = dict.sorted();
  ASSERT_EQ(order.size(), all.size());
  ASSERT_GT(all.size(), 20000u);  // several merges of 4096+ new terms
  for (size_t i = 0; i < order.size(); ++i) ASSERT_EQ(dict.term(order[i]), all[i]) << i;
}

// One id per distinct term across every block merged, whatever the table's growth and
// collisions (50,000 terms, many sharing 8-byte prefixes; one- to 64-byte terms), and the term
// an id names is the term that was merged.
TEST(SearchBm25, DictionaryGivesEachTermOneIdAcrossBlocks) {
  std::mt19937 rng(11);
  Bm25Dictionary dict;
  std::map<std::string, uint32_t> seen;
  for (int b = 0; b < 60; ++b) {
    std::string body;
    for (int k = 0; k < 1500; ++k) {
      const uint32_t r = rng() % 50000;
      const std::string n = std::to_string(r);
      body += (r % 4 == 0   ? "prefixsh" + n
               : r % 4 == 1 ? "x" + n
               : r % 4 == 2 ? std::string(1 + r % 56, 'z') + n
                            : "\xc3\xa9" + n) +
              " ";
    }
    const Bm25Block bl = bm25_block(std::vector<Bm25Doc>{{"", "", body}});
    const std::vector<uint32_t> ids = dict.add(bl);
    ASSERT_EQ(ids.size(), bl.terms.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto [it, fresh] = seen.emplace(bl.terms[i], ids[i]);
      ASSERT_EQ(it->second, ids[i]) << bl.terms[i];
    }
  }
  ASSERT_EQ(dict.size(), seen.size());
  ASSERT_GT(seen.size(), 40000u);
  std::vector<bool> used(dict.size());
  for (const auto& [t, id] : seen) {
    ASSERT_LT(id, dict.size());
    ASSERT_FALSE(used[id]) << "two terms share id " << id;
    used[id] = true;
    ASSERT_EQ(dict.term(id), t);
  }
}
