// Byte-level BPE tokenizer (ModernBERT's tokenizer.json) parity with HF `tokenizers`:
//  (a) the shared parity corpus (tests/data/tokenizer/, scripts/gen_tokenizer_goldens.py) with
//      both serializations of the ModernBERT file ("a b" merges and ["a", "b"] merges);
//  (b) targeted cases and patched variants of the file (tests/data/tokenizer_bpe/cases.json,
//      scripts/gen_bpe_goldens.py): contractions, numbers, emoji, CJK, whitespace runs, [MASK]'s
//      lstrip, <|endoftext|>, 10k-character words, truncation, add_prefix_space,
//      use_regex=false, ignore_merges, single_word/rstrip/normalized added tokens, NFKC/NFD/
//      Lowercase, RobertaProcessing and Sequence post-processors with type ids;
//  (c) error handling, accessors, speed on long words, concurrent use.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/test_util.hpp"
#include "ripvec/error.hpp"
#include "ripvec/tokenizer.hpp"
#include "tokenizer/bpe.hpp"
#include "unit/tokenizer_golden.hpp"

namespace ripvec {
namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string escape(std::string_view s, size_t max = 120) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string ids_str(const std::vector<int32_t>& ids, size_t max = 40) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < max; ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  if (ids.size() > max) s += " ... (" + std::to_string(ids.size()) + " ids)";
  return s;
}

std::filesystem::path modernbert(const char* file = "tokenizer.json") {
  return test::asset(std::string("tokenizers/modernbert-base/") + file);
}

// One tokenizer per file for the whole test binary: loading takes a few hundred ms.
const Tokenizer& cached(const std::filesystem::path& p) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[p.string()];
  if (!slot) slot = Tokenizer::from_file(p);
  return *slot;
}

// ---- (a) the shared parity corpus ----

class BpeCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(BpeCorpus, MatchesHfTokenizers) {
  const auto manifest_path = test::test_data("tokenizer/goldens/manifest.json");
  RIPVEC_REQUIRE_PATH(manifest_path);
  const auto manifest = nlohmann::json::parse(read_file(manifest_path));
  const auto& entry = manifest.at("tokenizers").at(GetParam());
  ASSERT_EQ(entry.at("model").get<std::string>(), "BPE");
  const std::string loc = entry.at("file").get<std::string>();
  ASSERT_EQ(loc.rfind("assets:", 0), 0u) << loc;
  const auto path = test::asset(loc.substr(7));
  RIPVEC_REQUIRE_PATH(path);

  std::vector<std::string> texts;
  {
    std::ifstream in(test::test_data("tokenizer/" + manifest.at("corpus").get<std::string>()));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) texts.push_back(nlohmann::json::parse(line).at("text"));
    }
  }
  std::vector<std::vector<int32_t>> golden;
  {
    std::ifstream in(test::test_data("tokenizer/goldens/" + entry.at("ids").get<std::string>()));
    for (std::string line; std::getline(in, line);) {
      std::istringstream ss(line);
      std::vector<int32_t> ids;
      for (int64_t v; ss >> v;) ids.push_back(static_cast<int32_t>(v));
      golden.push_back(std::move(ids));
    }
  }
  ASSERT_EQ(texts.size(), manifest.at("corpus_size").get<size_t>());
  ASSERT_EQ(golden.size(), texts.size());
  ASSERT_GE(texts.size(), 2000u);

  const Tokenizer& tok = cached(path);
  size_t equal = 0, total = 0, reported = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const Encoding enc = tok.encode(texts[i]);
    equal += enc.ids == golden[i];
    total += enc.ids.size();
    if (enc.ids != golden[i] && reported++ < 10) {
      ADD_FAILURE() << GetParam() << " corpus[" << i << "] '" << escape(texts[i])
                    << "'\n  ours: " << ids_str(enc.ids) << "\n  HF:   " << ids_str(golden[i]);
    }
    ASSERT_EQ(enc.tokens.size(), enc.ids.size());
    ASSERT_EQ(enc.type_ids.size(), enc.ids.size());
    EXPECT_EQ(tok.count_tokens(texts[i]), golden[i].size()) << "corpus[" << i << "]";
  }
  EXPECT_EQ(equal, texts.size());
  EXPECT_EQ(total, entry.at("total_ids").get<size_t>());
  std::printf("%s: %zu/%zu corpus strings equal to HF tokenizers %s (%zu ids)\n",
              GetParam().c_str(), equal, texts.size(),
              manifest.at("tokenizers_version").get<std::string>().c_str(), total);
}

INSTANTIATE_TEST_SUITE_P(Files, BpeCorpus,
                         ::testing::Values("modernbert-base", "modernbert-base.pairs-merges"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

// ---- (b) targeted cases and variants ----

nlohmann::json apply_patch(nlohmann::json root, const nlohmann::json& patch) {
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.key() == "model") {
      for (auto m = it.value().begin(); m != it.value().end(); ++m)
        root["model"][m.key()] = m.value();
    } else if (it.key() == "added_tokens_append") {
      for (const auto& t : it.value()) root["added_tokens"].push_back(t);
    } else {
      root[it.key()] = it.value();
    }
  }
  return root;
}

TEST(TokenizerBpe, TargetedCasesAndVariantsMatchHf) {
  const auto cases_path = test::test_data("tokenizer_bpe/cases.json");
  RIPVEC_REQUIRE_PATH(modernbert());
  const auto golden = nlohmann::json::parse(read_file(cases_path));
  const auto base = nlohmann::json::parse(read_file(modernbert()));
  std::map<std::string, std::unique_ptr<Tokenizer>> variants;
  for (auto it = golden.at("variants").begin(); it != golden.at("variants").end(); ++it) {
    variants[it.key()] = make_bpe_tokenizer(apply_patch(base, it.value()), it.key());
  }
  size_t equal = 0, n = 0;
  for (const auto& c : golden.at("cases")) {
    const std::string variant = c.at("variant");
    const std::string text = c.at("text");
    const bool add_special = c.at("add_special");
    const size_t max_length = c.at("max_length");
    const auto want = c.at("ids").get<std::vector<int32_t>>();
    const auto want_types = c.at("type_ids").get<std::vector<int32_t>>();
    const Tokenizer& tok = *variants.at(variant);
    const Encoding enc = tok.encode(text, add_special, max_length);
    const bool same = enc.ids == want && enc.type_ids == want_types;
    equal += same;
    ++n;
    EXPECT_TRUE(same) << variant << " '" << escape(text) << "' add_special=" << add_special
                      << " max_length=" << max_length << "\n  ours: " << ids_str(enc.ids)
                      << " types " << ids_str(enc.type_ids) << "\n  HF:   " << ids_str(want)
                      << " types " << ids_str(want_types);
    if (max_length == 0) {
      EXPECT_EQ(tok.count_tokens(text, add_special), want.size());
    }
  }
  EXPECT_GE(n, 700u);
  std::printf("targeted BPE cases: %zu/%zu equal to HF tokenizers %s\n", equal, n,
              golden.at("tokenizers_version").get<std::string>().c_str());
}

// Spot checks that read on their own (ids from the HF goldens above).
TEST(TokenizerBpe, ModernBertBasics) {
  RIPVEC_REQUIRE_PATH(modernbert());
  const Tokenizer& tok = cached(modernbert());
  EXPECT_EQ(tok.vocab_size(), 50368u);
  EXPECT_EQ(tok.num_special_tokens(), 2u);
  EXPECT_EQ(tok.pad_id(), 50283);
  EXPECT_EQ(tok.token_to_id("[CLS]"), 50281);
  EXPECT_EQ(tok.token_to_id("[MASK]"), 50284);
  EXPECT_EQ(tok.token_to_id("Ġthe"), 253);
  EXPECT_EQ(tok.token_to_id("no such token"), std::nullopt);
  EXPECT_EQ(tok.unk_id(), std::nullopt);  // byte-level: every text is spelt
  EXPECT_EQ(tok.id_to_token(50282), "[SEP]");
  EXPECT_EQ(tok.id_to_token(50367), "[unused82]");
  EXPECT_EQ(tok.id_to_token(50275), "   ");
  EXPECT_THROW(tok.id_to_token(50368), InvalidArgument);
  EXPECT_THROW(tok.id_to_token(-1), InvalidArgument);

  const Encoding empty = tok.encode("");
  EXPECT_EQ(empty.ids, (std::vector<int32_t>{50281, 50282}));
  EXPECT_EQ(empty.tokens, (std::vector<std::string>{"[CLS]", "[SEP]"}));
  EXPECT_TRUE(tok.encode("", false).ids.empty());

  // [MASK] has lstrip: it swallows the spaces before it; runs of 2+ spaces are added tokens.
  const Encoding m = tok.encode("hello   world [MASK]");
  EXPECT_EQ(m.tokens,
            (std::vector<std::string>{"[CLS]", "hello", "   ", "world", "[MASK]", "[SEP]"}));
  EXPECT_EQ(m.ids, (std::vector<int32_t>{50281, 25521, 50275, 10186, 50284, 50282}));
  EXPECT_EQ(m.type_ids, std::vector<int32_t>(6, 0));
}

TEST(TokenizerBpe, TruncationKeepsFinalSep) {
  RIPVEC_REQUIRE_PATH(modernbert());
  const Tokenizer& tok = cached(modernbert());
  const std::string text = "The quick brown fox jumps over the lazy dog again and again";
  const Encoding full = tok.encode(text);
  for (size_t max : {2u, 3u, 7u}) {
    const Encoding e = tok.encode(text, true, max);
    ASSERT_EQ(e.ids.size(), max);
    EXPECT_EQ(e.ids.front(), 50281);
    EXPECT_EQ(e.ids.back(), 50282);
    EXPECT_TRUE(std::equal(e.ids.begin() + 1, e.ids.end() - 1, full.ids.begin() + 1));
    EXPECT_EQ(e.tokens.size(), max);
  }
  EXPECT_EQ(tok.encode(text, true, 1000).ids, full.ids);
  EXPECT_EQ(tok.encode(text, false, 3).ids.size(), 3u);
  EXPECT_THROW(tok.encode(text, true, 1), InvalidArgument);
}

TEST(TokenizerBpe, LongWordsAreFast) {
  RIPVEC_REQUIRE_PATH(modernbert());
  const Tokenizer& tok = cached(modernbert());
  // A single 200k-byte pre-token: the merge loop must be O(n log n), not quadratic.
  std::string word;
  uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 1103515245u + 12345u;
    word.push_back(static_cast<char>('a' + (x >> 16) % 26));
  }
  const auto t0 = std::chrono::steady_clock::now();
  const size_t n = tok.count_tokens(word);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GT(n, 20000u);
  EXPECT_LT(s, 5.0) << "200k-character word took " << s << " s";
  std::printf("200k-char word: %zu ids in %.3f s\n", n, s);
  // Same for one 100k whitespace run and a 100k run of one emoji.
  std::string spaces(100000, ' '), emoji;
  for (int i = 0; i < 25000; ++i) emoji += "\xF0\x9F\x98\x80";
  EXPECT_GT(tok.count_tokens(spaces + "x"), 4000u);
  EXPECT_GT(tok.count_tokens(emoji), 1000u);
}

TEST(TokenizerBpe, ConcurrentEncodeIsConsistent) {
  RIPVEC_REQUIRE_PATH(modernbert());
  const Tokenizer& tok = cached(modernbert());
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) {
    texts.push_back("int f" + std::to_string(i) + "(int x) { return x * " + std::to_string(i * 7) +
                    "; }  // café " + std::string(i % 9, ' ') + "[MASK] naïve");
  }
  std::vector<std::vector<int32_t>> serial;
  for (const auto& t : texts) serial.push_back(tok.encode(t).ids);
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&, th] {
      for (int rep = 0; rep < 5; ++rep) {
        for (size_t i = 0; i < texts.size(); ++i) bad[th] += tok.encode(texts[i]).ids != serial[i];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int b : bad) EXPECT_EQ(b, 0);
}

// ---- (c) errors ----

// A tiny byte-level BPE file: vocabulary of the bytes of "ab " plus merges.
nlohmann::json tiny_bpe() {
  return nlohmann::json::parse(R"({
    "added_tokens": [{"id": 6, "content": "<s>", "single_word": false, "lstrip": false,
                      "rstrip": false, "normalized": false, "special": true}],
    "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "post_processor": null,
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "Ġ": 2, "ab": 3, "Ġa": 4, "Ġab": 5},
              "merges": ["a b", "Ġ a", "Ġa b"]}
  })");
}

// Expected ids checked with HF tokenizers 0.23.3 (Tokenizer.from_str of the same JSON): "a b" has
// the best rank, so " ab" becomes Ġ + ab and never reaches Ġab.
TEST(TokenizerBpe, TinyFileWorks) {
  auto tok = Tokenizer::from_json(tiny_bpe().dump(), "tiny.json");
  EXPECT_EQ(tok->encode("ab ab<s>ba").ids, (std::vector<int32_t>{3, 2, 3, 6, 1, 0}));
  auto pairs = tiny_bpe();
  pairs["model"]["merges"] = nlohmann::json::parse(R"([["a", "b"], ["Ġ", "a"], ["Ġa", "b"]])");
  EXPECT_EQ(Tokenizer::from_json(pairs.dump(), "pairs.json")->encode("ab ab").ids,
            (std::vector<int32_t>{3, 2, 3}));
}

void expect_model_format_error(const nlohmann::json& j, const char* what) {
  EXPECT_THROW(Tokenizer::from_json(j.dump(), what), ModelFormatError) << what;
  EXPECT_THROW(make_bpe_tokenizer(j, what), ModelFormatError) << what;
}

TEST(TokenizerBpe, MalformedFilesAreModelFormatErrors) {
  {
    auto j = tiny_bpe();
    j["model"]["merges"].push_back("ab");  // no space
    expect_model_format_error(j, "merge without separator");
  }
  {
    auto j = tiny_bpe();
    j["model"]["merges"].push_back("a z");  // token not in vocab
    expect_model_format_error(j, "merge with unknown token");
  }
  {
    auto j = tiny_bpe();
    j["model"]["merges"].push_back("b a");  // "ba" not in vocab
    expect_model_format_error(j, "merge result not in vocab");
  }
  {
    auto j = tiny_bpe();
    j["model"]["merges"].push_back(nlohmann::json::array({"a", "b", "c"}));
    expect_model_format_error(j, "merge triple");
  }
  {
    auto j = tiny_bpe();
    j["model"]["merges"].push_back(42);
    expect_model_format_error(j, "merge number");
  }
  {
    auto j = tiny_bpe();
    j["model"]["merges"] = "a b";
    expect_model_format_error(j, "merges not an array");
  }
  {
    auto j = tiny_bpe();
    j["model"]["vocab"]["c"] = "three";
    expect_model_format_error(j, "vocab id not an integer");
  }
  {
    auto j = tiny_bpe();
    j["model"]["vocab"] = nlohmann::json::array();
    expect_model_format_error(j, "vocab not an object");
  }
  {
    auto j = tiny_bpe();
    j["added_tokens"][0].erase("id");
    expect_model_format_error(j, "added token without id");
  }
  {
    auto j = tiny_bpe();
    j["model"]["type"] = "Frobnicate";
    expect_model_format_error(j, "unknown model type");
  }
  EXPECT_THROW(Tokenizer::from_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {", "trunc.json"),
               ModelFormatError);
}

TEST(TokenizerBpe, UnsupportedPiecesAreTyped) {
  {
    auto j = tiny_bpe();
    j["pre_tokenizer"] = {{"type", "Whitespace"}};
    EXPECT_THROW(make_bpe_tokenizer(j, "whitespace.json"), UnsupportedError);
  }
  {
    auto j = tiny_bpe();
    j["normalizer"] = {{"type", "Replace"}};
    EXPECT_THROW(make_bpe_tokenizer(j, "replace.json"), UnsupportedError);
  }
  {
    auto j = tiny_bpe();
    j["model"]["dropout"] = 0.1;
    EXPECT_THROW(make_bpe_tokenizer(j, "dropout.json"), UnsupportedError);
    j["model"]["dropout"] = 0.0;
    EXPECT_NO_THROW(make_bpe_tokenizer(j, "dropout0.json"));
  }
}

// Byte-level vocabularies normally hold all 256 byte characters; this one does not, which
// exercises the unknown-token path (HF BPE::merge_word): unknown characters are dropped without an
// unk token, become one unk each, or one per run with fuse_unk. A missing unk token fails only
// when needed. Expected ids checked with HF tokenizers 0.23.3 on the same JSON.
TEST(TokenizerBpe, UnknownBytes) {
  auto drop = make_bpe_tokenizer(tiny_bpe(), "tiny.json");
  EXPECT_EQ(drop->encode("axxb").ids, (std::vector<int32_t>{3}));  // dropped before merging
  auto j = tiny_bpe();
  j["model"]["vocab"]["<unk>"] = 7;
  j["model"]["unk_token"] = "<unk>";
  EXPECT_EQ(make_bpe_tokenizer(j, "unk.json")->encode("axxb").ids,
            (std::vector<int32_t>{0, 7, 7, 1}));
  j["model"]["fuse_unk"] = true;
  EXPECT_EQ(make_bpe_tokenizer(j, "fuse.json")->encode("axxb").ids,
            (std::vector<int32_t>{0, 7, 1}));
  auto missing = tiny_bpe();
  missing["model"]["unk_token"] = "<unk>";
  auto tok = make_bpe_tokenizer(missing, "missing-unk.json");
  EXPECT_EQ(tok->encode("ab").ids, (std::vector<int32_t>{3}));
  EXPECT_THROW(tok->encode("ax"), InvalidArgument);
}

// Fuzz finding (tokenizer_json, input fuzz/regressions/tokenizer_json/
// token_to_id_beyond_vocab_size), byte-level BPE side: holes in the vocabulary, the empty string
// as a token, added tokens whose file ids disagree with HF's. vocab_size() is the id space and
// holes are refused; added tokens get HF's ids (fresh ones numbered from the model vocabulary's
// entry count, 7 and 8 here, not the file's 6 and 2); an empty added token is ignored. Ids,
// tokens and encodings checked with HF tokenizers 0.23.3 on this JSON (Tokenizer.from_str, with
// the fields HF requires added); HF's get_vocab_size(True) is 9 (distinct strings).
TEST(TokenizerBpe, TokenToIdNeverBeyondVocabSize) {
  auto j = tiny_bpe();
  j["model"]["vocab"] =
      nlohmann::json::parse(R"({"a": 0, "b": 1, "Ġ": 2, "ab": 3, "Ġa": 4, "Ġab": 40, "": 300})");
  j["added_tokens"] = nlohmann::json::parse(R"([
    {"id": 6, "content": "<s>", "normalized": false, "special": true},
    {"id": 70, "content": "", "normalized": false, "special": true},
    {"id": 2, "content": "<pad>", "normalized": false, "special": true}])");
  auto tok = make_bpe_tokenizer(j, "holes.json");
  EXPECT_EQ(tok->vocab_size(), 301u);
  for (int32_t hole : {5, 6, 39, 70, 299, 301, -1})
    EXPECT_THROW(tok->id_to_token(hole), InvalidArgument) << hole;
  EXPECT_EQ(tok->id_to_token(7), "<s>");
  EXPECT_EQ(tok->id_to_token(8), "<pad>");
  EXPECT_EQ(tok->id_to_token(40), "Ġab");
  EXPECT_EQ(tok->id_to_token(300), "");
  EXPECT_EQ(tok->token_to_id(""), 300);
  EXPECT_EQ(tok->token_to_id("<s>"), 7);
  EXPECT_EQ(tok->token_to_id("<pad>"), 8);
  EXPECT_EQ(test::count_round_trip_ids(*tok), 9u);  // HF's get_vocab(True) entries
  const auto enc = tok->encode("ab ab<s>ba<pad>");
  EXPECT_EQ(enc.ids, (std::vector<int32_t>{3, 2, 3, 7, 1, 0, 8}));
  EXPECT_EQ(enc.tokens, (std::vector<std::string>{"ab", "Ġ", "ab", "<s>", "b", "a", "<pad>"}));
  EXPECT_EQ(tok->max_token_id(), 300);
}

TEST(TokenizerBpe, InvalidUtf8IsInvalidArgument) {
  auto tok = make_bpe_tokenizer(tiny_bpe(), "tiny.json");
  for (const char* bad : {"\xff", "a\xc0\xafz", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ab\xe2\x82"}) {
    EXPECT_THROW(tok->encode(bad), InvalidArgument) << escape(bad);
    EXPECT_THROW(tok->count_tokens(bad), InvalidArgument) << escape(bad);
  }
}

}  // namespace
}  // namespace ripvec
