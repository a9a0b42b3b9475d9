// WordPiece tokenizer parity with HF `tokenizers` (goldens from scripts/gen_tokenizer_goldens.py
// and the llama.cpp bert-bge vectors), truncation, and typed errors on bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "ripvec/error.hpp"
#include "ripvec/tokenizer.hpp"
#include "unit/tokenizer_golden.hpp"

namespace ripvec {
namespace {

using test::ids_to_string;

std::filesystem::path bge_path() {
  return test::asset("tokenizers/bge-small-en-v1.5/tokenizer.json");
}

std::string escape(const std::string& s, size_t max = 120) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

// (a) llama.cpp's test-tokenizer-0 vectors for bert-bge: encode without specials.
TEST(TokenizerWordPiece, LlamaCppVectors) {
  const auto inp = test::asset("tokenizer-vectors/bge-small-en-v1.5.llamacpp.inp");
  const auto out = test::asset("tokenizer-vectors/bge-small-en-v1.5.llamacpp.out");
  RIPVEC_REQUIRE_PATH(inp);
  RIPVEC_REQUIRE_PATH(out);
  RIPVEC_REQUIRE_PATH(bge_path());
  const std::string text = test::read_file_bytes(inp);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  size_t pos = 0;
  for (size_t hit; (hit = text.find(sep, pos)) != std::string::npos; pos = hit + sep.size())
    inputs.push_back(text.substr(pos, hit - pos));
  ASSERT_EQ(pos, text.size()) << "the file ends with a separator";
  const auto expected = test::load_ids(out);
  ASSERT_EQ(inputs.size(), 46u);
  ASSERT_GE(expected.size(), inputs.size());

  auto tok = Tokenizer::from_file(bge_path());
  size_t equal = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto enc = tok->encode(inputs[i], /*add_special=*/false);
    EXPECT_EQ(enc.ids, expected[i]) << "vector " << i << ": '" << escape(inputs[i]) << "'";
    EXPECT_EQ(tok->count_tokens(inputs[i], false), expected[i].size());
    equal += enc.ids == expected[i];
  }
  EXPECT_EQ(equal, 46u);
  std::printf("llama.cpp bert-bge vectors: %zu/%zu equal\n", equal, inputs.size());
}

// (b) the parity corpus, for every WordPiece tokenizer file in the golden manifest.
class WordPieceCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(WordPieceCorpus, MatchesHfTokenizers) {
  const auto manifest = test::load_golden_manifest();
  const auto& entry = manifest.at("tokenizers").at(GetParam());
  ASSERT_EQ(entry.at("model").get<std::string>(), "WordPiece");
  const auto path = test::resolve_tokenizer_locator(entry.at("file").get<std::string>());
  RIPVEC_REQUIRE_PATH(path);
  const auto corpus = test::load_corpus(test::test_data("tokenizer/corpus.jsonl"));
  const auto golden =
      test::load_ids(test::test_data("tokenizer/goldens/" + entry.at("ids").get<std::string>()));
  ASSERT_EQ(corpus.size(), manifest.at("corpus_size").get<size_t>());
  ASSERT_EQ(golden.size(), corpus.size());
  ASSERT_GE(corpus.size(), 2000u);

  auto tok = Tokenizer::from_file(path);
  size_t equal = 0, total_ids = 0, reported = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const auto enc = tok->encode(corpus[i].text);
    const bool same = enc.ids == golden[i];
    equal += same;
    total_ids += enc.ids.size();
    if (!same && reported++ < 10) {
      ADD_FAILURE() << GetParam() << " corpus[" << i << "] (" << corpus[i].kind << ", "
                    << corpus[i].src << ") '" << escape(corpus[i].text)
                    << "'\n  ours: " << ids_to_string(enc.ids)
                    << "\n  HF:   " << ids_to_string(golden[i]);
    }
    ASSERT_EQ(enc.type_ids.size(), enc.ids.size());
    ASSERT_EQ(enc.tokens.size(), enc.ids.size());
    EXPECT_EQ(tok->count_tokens(corpus[i].text), golden[i].size()) << "corpus[" << i << "]";
  }
  EXPECT_EQ(equal, corpus.size());
  EXPECT_EQ(total_ids, entry.at("total_ids").get<size_t>());
  std::printf("%s: %zu/%zu corpus strings equal to HF tokenizers %s (%zu ids)\n",
              GetParam().c_str(), equal, corpus.size(),
              manifest.at("tokenizers_version").get<std::string>().c_str(), total_ids);
}

INSTANTIATE_TEST_SUITE_P(Files, WordPieceCorpus,
                         ::testing::Values("bge-small-en-v1.5", "bert-base-uncased",
                                           "all-MiniLM-L6-v2"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

// Variants of the bge file (added-token flags, other normalizers / pre-tokenizers /
// post-processors) against HF goldens: exercises the shared added-token splitter, normalizers and
// post-processors beyond what the real files use.
TEST(TokenizerWordPiece, VariantsMatchHfTokenizers) {
  RIPVEC_REQUIRE_PATH(bge_path());
  const auto spec =
      nlohmann::json::parse(test::read_file_bytes(test::test_data("tokenizer/variants.json")));
  const auto base = nlohmann::json::parse(test::read_file_bytes(bge_path()));
  const auto corpus = test::load_corpus(test::test_data("tokenizer/corpus.jsonl"));
  std::ifstream in(test::test_data("tokenizer/goldens/variants.ids.txt"));
  ASSERT_TRUE(in);
  std::map<std::string, std::unique_ptr<Tokenizer>> toks;
  for (const auto& [name, patch] : spec.at("variants").items()) {
    auto root = base;
    for (const auto& [k, v] : patch.items()) root[k] = v;
    toks[name] = Tokenizer::from_json(root.dump(), "variant " + name);
  }
  std::map<std::string, std::pair<size_t, size_t>> score;  // name -> (equal, total)
  std::string line;
  size_t reported = 0;
  while (std::getline(in, line)) {
    const size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    ASSERT_NE(t2, std::string::npos);
    const std::string name = line.substr(0, t1), key = line.substr(t1 + 1, t2 - t1 - 1);
    // ids, then type ids when the generator saw non-zero ones.
    const size_t t3 = line.find('\t', t2 + 1);
    auto parse = [](const std::string& field) {
      std::vector<int32_t> v;
      std::istringstream ss(field);
      for (int64_t x; ss >> x;) v.push_back(static_cast<int32_t>(x));
      return v;
    };
    const auto expected = parse(line.substr(t2 + 1, t3 == std::string::npos ? t3 : t3 - t2 - 1));
    const auto expected_types = t3 == std::string::npos ? std::vector<int32_t>(expected.size(), 0)
                                                        : parse(line.substr(t3 + 1));
    const std::string text =
        key[0] == 'x' ? spec.at("extra_texts").at(std::stoul(key.substr(1))).get<std::string>()
                      : corpus.at(std::stoul(key)).text;
    ASSERT_TRUE(toks.count(name)) << name;
    const auto enc = toks[name]->encode(text);
    const auto& ids = enc.ids;
    const bool same = ids == expected && enc.type_ids == expected_types;
    auto& [eq, total] = score[name];
    ++total;
    eq += same;
    if (!same && reported++ < 10) {
      ADD_FAILURE() << name << " text " << key << " '" << escape(text)
                    << "'\n  ours: " << ids_to_string(ids) << " types "
                    << ids_to_string(enc.type_ids) << "\n  HF:   " << ids_to_string(expected)
                    << " types " << ids_to_string(expected_types);
    }
    EXPECT_EQ(toks[name]->count_tokens(text), expected.size()) << name << " " << key;
  }
  ASSERT_EQ(score.size(), spec.at("variants").size());
  for (const auto& [name, s] : score) {
    EXPECT_EQ(s.first, s.second) << name;
    std::printf("variant %-24s %zu/%zu equal\n", name.c_str(), s.first, s.second);
  }
}

// (c) truncation keeps [CLS] ... [SEP] and the requested length.
TEST(TokenizerWordPiece, TruncationKeepsFinalSep) {
  RIPVEC_REQUIRE_PATH(bge_path());
  auto tok = Tokenizer::from_file(bge_path());
  const std::string text =
      "Semantic code search finds functions by meaning rather than by exact identifiers, "
      "so a query like 'parse the config file' matches load_settings() too.";
  const auto full = tok->encode(text);
  ASSERT_GT(full.ids.size(), 20u);
  ASSERT_EQ(full.ids.front(), 101);
  ASSERT_EQ(full.ids.back(), 102);
  EXPECT_EQ(tok->num_special_tokens(), 2u);
  for (size_t max_len : {2u, 3u, 5u, 16u, 20u}) {
    const auto t = tok->encode(text, true, max_len);
    ASSERT_EQ(t.ids.size(), max_len);
    EXPECT_EQ(t.ids.front(), 101);
    EXPECT_EQ(t.ids.back(), 102) << "max_length " << max_len;
    EXPECT_EQ(t.tokens.back(), "[SEP]");
    EXPECT_EQ(t.type_ids, std::vector<int32_t>(max_len, 0));
    // The content is the prefix of the untruncated content.
    for (size_t k = 1; k + 1 < max_len; ++k) EXPECT_EQ(t.ids[k], full.ids[k]);
  }
  // Long enough: unchanged.
  EXPECT_EQ(tok->encode(text, true, full.ids.size()).ids, full.ids);
  EXPECT_EQ(tok->encode(text, true, full.ids.size() + 50).ids, full.ids);
  // Without specials the cut is plain.
  const auto bare = tok->encode(text, false);
  const auto cut = tok->encode(text, false, 7);
  ASSERT_EQ(cut.ids.size(), 7u);
  EXPECT_TRUE(std::equal(cut.ids.begin(), cut.ids.end(), bare.ids.begin()));
  // Cannot hold the two specials.
  EXPECT_THROW(tok->encode(text, true, 1), InvalidArgument);
  // A word split into several pieces is cut between its pieces, like HF.
  const auto w = tok->encode("unbelievably", true);
  ASSERT_GT(w.ids.size(), 3u);
  const auto wc = tok->encode("unbelievably", true, 3);
  EXPECT_EQ(wc.ids, (std::vector<int32_t>{101, w.ids[1], 102}));
}

TEST(TokenizerWordPiece, VocabularyAccessors) {
  RIPVEC_REQUIRE_PATH(bge_path());
  auto tok = Tokenizer::from_file(bge_path());
  EXPECT_EQ(tok->vocab_size(), 30522u);
  EXPECT_EQ(tok->pad_id(), 0);
  EXPECT_EQ(tok->token_to_id("[CLS]"), 101);
  EXPECT_EQ(tok->token_to_id("[SEP]"), 102);
  EXPECT_EQ(tok->token_to_id("##ing"), 2075);
  EXPECT_EQ(tok->token_to_id("definitely-not-a-token"), std::nullopt);
  EXPECT_EQ(tok->id_to_token(101), "[CLS]");
  EXPECT_EQ(tok->id_to_token(7592), "hello");
  EXPECT_THROW(tok->id_to_token(30522), InvalidArgument);
  EXPECT_THROW(tok->id_to_token(-1), InvalidArgument);
  const auto enc = tok->encode("Hello, [MASK] world!");
  EXPECT_EQ(enc.tokens,
            (std::vector<std::string>{"[CLS]", "hello", ",", "[MASK]", "world", "!", "[SEP]"}));
  EXPECT_EQ(tok->encode("").ids, (std::vector<int32_t>{101, 102}));
  EXPECT_TRUE(tok->encode("", false).ids.empty());
  EXPECT_EQ(tok->count_tokens(""), 2u);
  // The unknown token (check_query refuses a query of nothing else): an emoji encodes to it.
  EXPECT_EQ(tok->unk_id(), tok->token_to_id("[UNK]"));
  EXPECT_EQ(tok->encode("\xF0\x9F\x98\x80", false).ids, std::vector<int32_t>{*tok->unk_id()});
}

// Fuzz finding (tokenizer_json, input fuzz/regressions/tokenizer_json/
// token_to_id_beyond_vocab_size): a vocabulary with holes (ids naming no token) and the empty
// string as a token. vocab_size() counted token strings (HF get_vocab_size's rule), so
// token_to_id(id_to_token(100)) gave 393 >= vocab_size() (the hole at 100 read as ""). Now
// vocab_size() is the id space, holes are refused by id_to_token, and an added token with empty
// content is ignored. Ids, tokens and encodings checked with HF tokenizers 0.23.3 on this JSON
// (Tokenizer.from_str); HF's get_vocab_size(True) is 10 here (distinct strings), not an id bound.
TEST(TokenizerWordPiece, TokenToIdNeverBeyondVocabSize) {
  const char* json = R"({"added_tokens": [
    {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true},
    {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true},
    {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true},
    {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true},
    {"id": 4, "content": "[MASK]", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true},
    {"id": 9, "content": "", "single_word": false, "lstrip": false, "rstrip": false,
     "normalized": false, "special": true}],
   "normalizer": null,
   "pre_tokenizer": {"type": "BertPreTokenizer"},
   "post_processor": {"type": "RobertaProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101],
                      "trim_offsets": true, "add_prefix_space": false},
   "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
             "max_input_chars_per_word": 100,
             "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 5, "b": 6, "": 393,
                       "[unused451]": 451, "[unused511]": 511}}})";
  auto tok = Tokenizer::from_json(json, "holes.json");
  EXPECT_EQ(tok->vocab_size(), 512u);
  // HF id_to_token: None at 4, 8, 10, 100, 512; [MASK] (not in the vocabulary) gets 9, the
  // model vocabulary's size; the empty added token (file id 9) is ignored.
  for (int32_t hole : {4, 8, 10, 100, 392, 512, -1})
    EXPECT_THROW(tok->id_to_token(hole), InvalidArgument) << hole;
  EXPECT_EQ(tok->id_to_token(9), "[MASK]");
  EXPECT_EQ(tok->id_to_token(393), "");
  EXPECT_EQ(tok->id_to_token(511), "[unused511]");
  EXPECT_EQ(tok->token_to_id(""), 393);
  EXPECT_EQ(tok->token_to_id("[MASK]"), 9);
  // HF's get_vocab(True) has 10 entries; "" and [MASK] are among them.
  EXPECT_EQ(test::count_round_trip_ids(*tok), 10u);
  const auto enc = tok->encode("a [MASK] b c");
  EXPECT_EQ(enc.ids, (std::vector<int32_t>{101, 5, 9, 6, 1, 102}));
  EXPECT_EQ(enc.tokens, (std::vector<std::string>{"[CLS]", "a", "[MASK]", "b", "[UNK]", "[SEP]"}));
  // The post-processor's specials (101, 102) are holes of this vocabulary, as HF allows; a model
  // load checks them (Tokenizer::check_fits through max_token_id).
  EXPECT_EQ(tok->max_token_id(), 511);
}

// Ids are what the file says (HF accepts any u32): a vocabulary of three tokens whose largest id
// is 2,000,000,000 loads without allocating that id space (the fuzzer's 2 GB malloc limit would
// report it). Ids, tokens and encodings checked with HF tokenizers 0.23.3 on the same JSON.
TEST(TokenizerWordPiece, SparseHugeIdsLoadWithoutAllocatingTheIdSpace) {
  auto tok = Tokenizer::from_json(
      R"({"pre_tokenizer": {"type": "WhitespaceSplit"}, "model": {"type": "WordPiece",
          "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1, "c": 2000000000}}})",
      "sparse.json");
  EXPECT_EQ(tok->vocab_size(), 2000000001u);
  EXPECT_EQ(tok->id_to_token(2000000000), "c");
  EXPECT_THROW(tok->id_to_token(2), InvalidArgument);
  EXPECT_THROW(tok->id_to_token(1999999999), InvalidArgument);
  EXPECT_EQ(tok->encode("a c x").ids, (std::vector<int32_t>{1, 2000000000, 0}));
  // HF (0.23) numbers fresh added tokens from the model vocabulary's entry count in file order,
  // whatever ids the vocabulary holds: "<x>" gets 2 although "a" is 2147483647, and "x", "y" get
  // 3 and 4 although "b" (7) is added in between. Checked with HF on the same JSON.
  auto added = Tokenizer::from_json(
      R"({"model": {"type": "WordPiece", "unk_token": "[UNK]",
          "vocab": {"[UNK]": 0, "a": 2147483647}},
          "added_tokens": [{"id": 2147483647, "content": "a", "special": true},
                           {"id": 5, "content": "<x>", "special": true}]})",
      "max.json");
  EXPECT_EQ(added->token_to_id("<x>"), 2);
  EXPECT_EQ(added->vocab_size(), 2147483648u);
  auto order = Tokenizer::from_json(
      R"({"model": {"type": "WordPiece", "unk_token": "[UNK]",
          "vocab": {"[UNK]": 0, "a": 1, "b": 7}},
          "added_tokens": [{"id": 3, "content": "x", "special": true},
                           {"id": 2, "content": "b", "special": true},
                           {"id": 3, "content": "y", "special": true}]})",
      "order.json");
  EXPECT_EQ(order->token_to_id("x"), 3);
  EXPECT_EQ(order->token_to_id("b"), 7);
  EXPECT_EQ(order->token_to_id("y"), 4);
  EXPECT_EQ(order->vocab_size(), 8u);
}

// (d) typed errors, never a crash.
TEST(TokenizerWordPiece, MalformedJsonIsModelFormatError) {
  EXPECT_THROW(Tokenizer::from_json("{", "bad.json"), ModelFormatError);
  EXPECT_THROW(Tokenizer::from_json("", "bad.json"), ModelFormatError);
  EXPECT_THROW(Tokenizer::from_json("[1,2]", "bad.json"), ModelFormatError);
  EXPECT_THROW(Tokenizer::from_json("{\"model\": 3}", "bad.json"), ModelFormatError);
  EXPECT_THROW(Tokenizer::from_json(R"({"model": {"type": "WordPiece"}})", "bad.json"),
               ModelFormatError);
  EXPECT_THROW(
      Tokenizer::from_json(R"({"model": {"type": "WordPiece", "vocab": {"a": "x"}}})", "bad.json"),
      ModelFormatError);
  EXPECT_THROW(
      Tokenizer::from_json(
          R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}, "added_tokens": 5})", "bad.json"),
      ModelFormatError);
  try {
    Tokenizer::from_json("{\"model\": ", "/some/dir/tokenizer.json");
    FAIL() << "no throw";
  } catch (const ModelFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("/some/dir/tokenizer.json"), std::string::npos);
  }
}

TEST(TokenizerWordPiece, UnknownModelTypeIsModelFormatError) {
  try {
    Tokenizer::from_json(R"({"model": {"type": "Foo", "vocab": {}}})", "odd/tokenizer.json");
    FAIL() << "no throw";
  } catch (const ModelFormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("Foo"), std::string::npos) << msg;
    EXPECT_NE(msg.find("odd/tokenizer.json"), std::string::npos) << msg;
  }
  EXPECT_THROW(Tokenizer::from_json(R"({"model": {"type": "Unigram", "vocab": []}})"),
               UnsupportedError);
  EXPECT_THROW(Tokenizer::from_json(R"({"model": {"unk_token": "[UNK]"}})"), ModelFormatError);
  EXPECT_THROW(Tokenizer::from_file("/nonexistent/dir/tokenizer.json"), IoError);
}

TEST(TokenizerWordPiece, UnsupportedPipelinePiecesAreTyped) {
  const std::string base =
      R"({"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1}})";
  EXPECT_THROW(Tokenizer::from_json(base + R"(, "normalizer": {"type": "Precompiled"}})"),
               UnsupportedError);
  EXPECT_THROW(Tokenizer::from_json(base + R"(, "pre_tokenizer": {"type": "Metaspace"}})"),
               UnsupportedError);
  EXPECT_THROW(Tokenizer::from_json(base + R"(, "post_processor": {"type": "Nope"}})"),
               UnsupportedError);
  EXPECT_THROW(Tokenizer::from_json(base + R"(, "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "[X]", "type_id": 0}}, {"Sequence": {"id": "A",
      "type_id": 0}}], "special_tokens": {}}})"),
               ModelFormatError);
  // Minimal valid file: no normalizer, no pre-tokenizer, no post-processor.
  auto tok = Tokenizer::from_json(base + "}");
  EXPECT_EQ(tok->encode("a").ids, (std::vector<int32_t>{1}));
  EXPECT_EQ(tok->encode("aaa").ids, (std::vector<int32_t>{0}));  // no "##a": the word is [UNK]
  EXPECT_EQ(tok->encode("b").ids, (std::vector<int32_t>{0}));
  EXPECT_EQ(tok->num_special_tokens(), 0u);
}

TEST(TokenizerWordPiece, InvalidUtf8IsInvalidArgument) {
  RIPVEC_REQUIRE_PATH(bge_path());
  auto tok = Tokenizer::from_file(bge_path());
  const std::vector<std::string> bad = {
      "\xFF",                  // never valid
      "abc\xC3",               // truncated 2-byte sequence
      "\xC0\xAF",              // overlong '/'
      "\xE0\x80\xAF",          // overlong
      "\xED\xA0\x80",          // UTF-16 surrogate
      "\xF4\x90\x80\x80",      // above U+10FFFF
      "ok \x80 continuation",  // stray continuation byte
      "\xF8\x88\x80\x80\x80",  // 5-byte form
      std::string("[CLS]\xFE[SEP]"),
  };
  for (const auto& s : bad) {
    EXPECT_THROW(tok->encode(s), InvalidArgument) << escape(s);
    EXPECT_THROW(tok->encode(s, true, 4), InvalidArgument) << escape(s);
    EXPECT_THROW(tok->count_tokens(s), InvalidArgument) << escape(s);
  }
  // Valid edge cases do not throw.
  EXPECT_NO_THROW(tok->encode(std::string("\0", 1)));
  EXPECT_NO_THROW(tok->encode("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_NO_THROW(tok->encode("\xEF\xBF\xBD"));      // U+FFFD
}

// Random bytes and random Unicode soup: encode either succeeds or throws InvalidArgument; on
// success count_tokens agrees and every truncation keeps its invariants.
TEST(TokenizerWordPiece, RandomInputsKeepInvariants) {
  RIPVEC_REQUIRE_PATH(bge_path());
  auto tok = Tokenizer::from_file(bge_path());
  std::mt19937 rng(1234);
  const std::vector<std::string> pieces = {"a",
                                           "Z",
                                           "9",
                                           " ",
                                           "\t",
                                           "\n",
                                           "\r\n",
                                           ".",
                                           "##",
                                           "[CLS]",
                                           "[SEP]",
                                           "[MASK]",
                                           "[",
                                           "]",
                                           "\xC3\xA9",
                                           "e\xCC\x81",
                                           "\xE4\xB8\xAD",
                                           "\xF0\x9F\x98\x80",
                                           "\xE2\x80\x8B",
                                           "\xEF\xBF\xBD",
                                           std::string("\0", 1),
                                           "\x7F",
                                           "\xC2\xA0",
                                           "\xE3\x80\x80",
                                           "\xC4\xB0",
                                           "unbelievable",
                                           "_",
                                           "-",
                                           "\xD9\x85",
                                           "\xF0\xA0\x80\x80"};
  size_t ok = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s;
    const int n = static_cast<int>(rng() % 40);
    const bool raw_bytes = iter % 3 == 0;
    for (int k = 0; k < n; ++k) {
      if (raw_bytes)
        s.push_back(static_cast<char>(rng() & 0xFF));
      else
        s += pieces[rng() % pieces.size()];
    }
    Encoding enc;
    try {
      enc = tok->encode(s);
    } catch (const InvalidArgument&) {
      ++rejected;
      EXPECT_TRUE(raw_bytes) << "valid UTF-8 rejected: " << escape(s);
      EXPECT_THROW(tok->count_tokens(s), InvalidArgument);
      continue;
    }
    ++ok;
    ASSERT_GE(enc.ids.size(), 2u);
    EXPECT_EQ(tok->count_tokens(s), enc.ids.size());
    EXPECT_EQ(tok->count_tokens(s, false) + 2, enc.ids.size());
    for (int32_t id : enc.ids) ASSERT_TRUE(id >= 0 && static_cast<size_t>(id) < 30522u);
    const size_t max_len = 2 + rng() % 12;
    const auto cut = tok->encode(s, true, max_len);
    ASSERT_EQ(cut.ids.size(), std::min(max_len, enc.ids.size()));
    EXPECT_EQ(cut.ids.back(), 102);
    EXPECT_TRUE(std::equal(cut.ids.begin(), cut.ids.end() - 1, enc.ids.begin()));
  }
  EXPECT_GT(ok, 2000u);
  EXPECT_GT(rejected, 500u);
}

}  // namespace
}  // namespace ripvec
