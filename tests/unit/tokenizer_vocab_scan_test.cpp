// tok::split_vocab (the DOM-free reader of tokenizer.json's model.vocab) against nlohmann::json,
// the reader it replaces: on real tokenizer files and on generated and hostile vocabularies it
// must either give exactly the DOM's entries and a rest that parses to the same document, or
// decline (nullopt) so that the DOM path decides.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "tokenizer/vocab_scan.hpp"
#include "unit/tokenizer_golden.hpp"

namespace {

using nlohmann::json;
using ripvec::tok::split_vocab;
using ripvec::tok::VocabEntries;

// What the loaders read through the DOM: model.vocab in iteration order.
VocabEntries dom_entries(const json& doc) {
  VocabEntries out;
  const json& v = doc.at("model").at("vocab");
  for (auto it = v.begin(); it != v.end(); ++it)
    out.emplace_back(it.key(), static_cast<int32_t>(it.value().get<int64_t>()));
  return out;
}

// What a loader makes of entries: each key to its last id.
std::map<std::string, int32_t> as_map(const VocabEntries& entries) {
  std::map<std::string, int32_t> m;
  for (const auto& [k, v] : entries) m[k] = v;
  return m;
}

bool ids_repeat(const VocabEntries& entries) {
  std::set<int32_t> ids;
  for (const auto& e : entries)
    if (!ids.insert(e.second).second) return true;
  return false;
}

// split_vocab agrees with the DOM: the same map (and, when ids repeat, the same entries in the
// same order), and the rest is the document minus the vocabulary.
void expect_same_as_dom(const std::string& text) {
  auto split = split_vocab(text);
  ASSERT_TRUE(split.has_value()) << text.substr(0, 200);
  json doc = json::parse(text);
  const VocabEntries dom = dom_entries(doc);
  EXPECT_EQ(as_map(split->entries), as_map(dom));
  if (ids_repeat(split->entries)) EXPECT_EQ(split->entries, dom);
  doc["model"]["vocab"] = json::object();
  EXPECT_EQ(json::parse(split->rest), doc);
}

TEST(VocabScan, RealTokenizerFilesMatchTheDom) {
  for (const char* name : {"bert-base-uncased", "bge-small-en-v1.5", "modernbert-base"}) {
    SCOPED_TRACE(name);
    const std::string text = ripvec::test::read_file_bytes(
        ripvec::test::asset(std::string("tokenizers/") + name + "/tokenizer.json"));
    expect_same_as_dom(text);
    EXPECT_GT(split_vocab(text)->entries.size(), 30000u);
  }
}

TEST(VocabScan, EscapesSurrogatesAndWhitespaceDecodeLikeTheDom) {
  expect_same_as_dom(
      " \n{ \"version\" : \"1.0\", \"model\" :\t{\"type\":\"WordPiece\", \"vocab\" : "
      "{ \"a\\\"b\" : 0 , \"\\u00e9\\n\\t\\\\\\/\":1,\"\\ud83d\\ude00\":2,\"\\u0000x\":3,"
      "\"\xc3\xa9t\xc3\xa9\":4, \"\":5, \"\\b\\f\\r\":2147483647 } , \"unk_token\":\"[UNK]\"},"
      "\"after\": [1, {\"vocab\": {\"x\": \"y\"}}, null, true, -1.5e3] }\r\n");
}

TEST(VocabScan, DuplicateKeysKeepTheLastLikeTheDom) {
  expect_same_as_dom(R"({"model":{"vocab":{"b":1,"a":2,"b":3,"a":4,"c":5}}})");
  auto s = split_vocab(R"({"model":{"vocab":{"b":1,"a":2,"b":3}}})");
  ASSERT_TRUE(s);
  EXPECT_EQ(as_map(s->entries), (std::map<std::string, int32_t>{{"a", 2}, {"b", 3}}));
}

TEST(VocabScan, SharedIdsGiveTheDomsOrderExactly) {
  // Two keys with id 1: the loaders' id tables keep the last in order, so order matters here.
  expect_same_as_dom(R"({"model":{"vocab":{"z":1,"b":0,"a":1,"b":2}}})");
  auto s = split_vocab(R"({"model":{"vocab":{"z":1,"b":0,"a":1,"b":2}}})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->entries, (VocabEntries{{"a", 1}, {"b", 2}, {"z", 1}}));
}

TEST(VocabScan, EmptyVocabularyAndOtherKeyOrder) {
  expect_same_as_dom(R"({"model":{"vocab":{}},"added_tokens":[]})");
  expect_same_as_dom(R"({"added_tokens":[{"id":0,"content":"{\"vocab\":1}"}],)"
                     R"("model":{"unk_token":"}","vocab":{"[":0,"]":1,"}":2}}})");
}

TEST(VocabScan, DeclinesWhatTheDomMustJudge) {
  const char* cases[] = {
      R"({"model":{"vocab":{"a":-1}}})",                      // negative id
      R"({"model":{"vocab":{"a":1.0}}})",                     // float id
      R"({"model":{"vocab":{"a":1e3}}})",                     // exponent
      R"({"model":{"vocab":{"a":01}}})",                      // leading zero (invalid JSON)
      R"({"model":{"vocab":{"a":2147483648}}})",              // beyond INT32_MAX
      R"({"model":{"vocab":{"a":"1"}}})",                     // string id
      R"({"model":{"vocab":{"a":1,}}})",                      // trailing comma
      R"({"model":{"vocab":{"\ud800":1}}})",                  // lone high surrogate
      R"({"model":{"vocab":{"\udc00":1}}})",                  // lone low surrogate
      R"({"model":{"vocab":{"\ud800\u0041":1}}})",            // high surrogate + non-low
      R"({"model":{"vocab":{"\x":1}}})",                      // bad escape
      R"({"model":{"vocab":{"\u12G4":1}}})",                  // bad hex
      "{\"model\":{\"vocab\":{\"a\x01\":1}}}",                // raw control character
      "{\"model\":{\"vocab\":{\"\xff\":1}}}",                 // invalid UTF-8
      "{\"model\":{\"vocab\":{\"\xc3\":1}}}",                 // truncated UTF-8
      R"({"model":{"vocab":{"a":1}},"model":{"vocab":{}}})",  // model twice
      R"({"model":{"vocab":{"a":1},"vocab":{"b":2}}})",       // vocab twice
      R"({"model":{"vocab":[["a",1]]}})",                     // not an object
      R"({"model":[]})",                                      // model not an object
      R"({"model":{"type":"BPE"}})",                          // no vocab
      R"({"model":{"vocab":{"a":1}}} x)",                     // trailing garbage
      R"({"model":{"vocab":{"a":1}})",                        // truncated
      R"({"model":{"vocab":{"a":1)",                          // truncated inside
      "\xef\xbb\xbf{\"model\":{\"vocab\":{\"a\":1}}}",        // BOM: left to the DOM
      "[]",
      "",
  };
  for (const char* c : cases) EXPECT_FALSE(split_vocab(c).has_value()) << c;
}

// Random vocabularies with every kind of escape, compared with the DOM; and random byte flips
// of a valid document: split_vocab either declines or agrees with the DOM (when it parses).
TEST(VocabScan, RandomVocabulariesAndMutationsAgreeWithTheDom) {
  std::mt19937 rng(12345);
  const std::vector<std::string> pieces = {"a",        "Z",
                                           "##",       "\\\"",
                                           "\\\\",     "\\/",
                                           "\\n",      "\\u00e9",
                                           "\\u4e2d",  "\\ud83d\\ude00",
                                           "\xc3\xa9", "\xe4\xb8\xad",
                                           " ",        "{",
                                           "}",        ":",
                                           ",",        "[",
                                           "]",        "\\t"};
  for (int round = 0; round < 300; ++round) {
    std::string text = R"({"version":"1.0","model":{"type":"WordPiece","vocab":{)";
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      if (i) text += rng() % 3 ? "," : " ,\n ";
      text += '"';
      const int len = static_cast<int>(rng() % 5);
      for (int j = 0; j < len; ++j) text += pieces[rng() % pieces.size()];
      text += "\":" + std::to_string(rng() % 1000);
    }
    text += R"(},"unk_token":"[UNK]"},"added_tokens":[]})";
    SCOPED_TRACE(text);
    expect_same_as_dom(text);

    for (int m = 0; m < 5; ++m) {
      std::string bad = text;
      bad[rng() % bad.size()] = static_cast<char>(rng() % 256);
      auto split = split_vocab(bad);
      json doc = json::parse(bad, nullptr, /*allow_exceptions=*/false);
      if (!split) continue;      // declined: the DOM path decides
      if (doc.is_discarded()) {  // the document must still be rejected, through its rest
        EXPECT_TRUE(json::parse(split->rest, nullptr, false).is_discarded())
            << "split_vocab accepted a vocabulary the DOM rejects: " << bad;
        continue;
      }
      ASSERT_TRUE(doc.contains("model") && doc["model"].contains("vocab"));
      EXPECT_EQ(as_map(split->entries), as_map(dom_entries(doc))) << bad;
      if (ids_repeat(split->entries)) EXPECT_EQ(split->entries, dom_entries(doc)) << bad;
      doc["model"]["vocab"] = json::object();
      EXPECT_EQ(json::parse(split->rest), doc) << bad;
    }
  }
}

}  // namespace
