// Every code point through every normalizer / pre-tokenizer building block, compared with HF
// `tokenizers` (CRC-32 of the per-code-point dumps recorded by scripts/gen_tokenizer_goldens.py
// in tests/data/tokenizer/goldens/unicode_props.json). Catches Unicode-version drift: HF's
// tables are a mix of Unicode 8.0, 9.0, 11.0 and Rust's current Unicode.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>

#include "common/test_util.hpp"
#include "ripvec/error.hpp"
#include "tokenizer/normalizer.hpp"
#include "tokenizer/unicode.hpp"
#include "tokenizer/utf8.hpp"
#include "unit/tokenizer_golden.hpp"

namespace ripvec::tok {
namespace {

uint32_t crc32(const std::string& s) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%x", v);
  return buf;
}

// Same dump format as gen_tokenizer_goldens.py: "<cp>:<result cps>\n" for changed code points.
std::string dump(const std::function<std::string(const std::string&)>& fn, size_t* entries) {
  std::string body;
  *entries = 0;
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string in;
    utf8_append(in, cp);
    const std::string r = fn(in);
    if (r == in) continue;
    ++*entries;
    body += hex(cp) + ":";
    size_t i = 0;
    bool first = true;
    while (i < r.size()) {
      if (!first) body += ",";
      first = false;
      body += hex(utf8_next(r, i));
    }
    body += "\n";
  }
  return body;
}

std::function<std::string(const std::string&)> normalizer_fn(const std::string& json) {
  std::shared_ptr<Normalizer> n = make_normalizer(nlohmann::json::parse(json), "test");
  return [n](const std::string& s) { return n->normalize(s); };
}

std::function<std::string(const std::string&)> bert(bool clean, bool cjk, bool strip, bool lower) {
  auto n = std::make_shared<BertNormalizer>(clean, cjk, strip, lower);
  return [n](const std::string& s) { return n->normalize(s); };
}

std::string bert_pretok(const std::string& s) {
  size_t i = 0;
  const char32_t c = utf8_next(s, i);
  if (unicode::is_whitespace(c)) return "W";
  if (unicode::is_bert_punctuation(c)) return "P";
  return s;
}

class UnicodeProps : public ::testing::TestWithParam<std::string> {};

TEST_P(UnicodeProps, EveryCodePointMatchesHf) {
  const auto props = nlohmann::json::parse(
      test::read_file_bytes(test::test_data("tokenizer/goldens/unicode_props.json")));
  const std::string name = GetParam();
  const auto& want = props.at("blocks").at(name);
  std::function<std::string(const std::string&)> fn;
  if (name == "bert_clean_text") fn = bert(true, false, false, false);
  if (name == "bert_chinese_chars") fn = bert(false, true, false, false);
  if (name == "bert_strip_accents") fn = bert(false, false, true, false);
  if (name == "bert_lowercase") fn = bert(false, false, false, true);
  if (name == "lowercase") fn = normalizer_fn(R"({"type": "Lowercase"})");
  if (name == "strip_accents") fn = normalizer_fn(R"({"type": "StripAccents"})");
  if (name == "nfc") fn = normalizer_fn(R"({"type": "NFC"})");
  if (name == "nfd") fn = normalizer_fn(R"({"type": "NFD"})");
  if (name == "nfkc") fn = normalizer_fn(R"({"type": "NFKC"})");
  if (name == "nfkd") fn = normalizer_fn(R"({"type": "NFKD"})");
  if (name == "bert_pre_tokenizer")
    fn = [](const std::string& s) {
      const std::string r = bert_pretok(s);
      return r == s ? s : r;
    };
  ASSERT_TRUE(fn) << name;
  size_t entries = 0;
  std::string body;
  if (name == "bert_pre_tokenizer") {
    // Results are the markers P / W, not code points.
    for (char32_t cp = 0; cp < 0x110000; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      std::string in;
      utf8_append(in, cp);
      const std::string r = bert_pretok(in);
      if (r == in) continue;
      ++entries;
      body += hex(cp) + ":" + r + "\n";
    }
  } else {
    body = dump(fn, &entries);
  }
  if (const char* dir = std::getenv("RIPVEC_DUMP_PROPS")) {
    std::ofstream(std::string(dir) + "/" + name + ".cpp.txt", std::ios::binary) << body;
  }
  EXPECT_EQ(entries, want.at("entries").get<size_t>()) << name;
  EXPECT_EQ(body.size(), want.at("bytes").get<size_t>()) << name;
  EXPECT_EQ(crc32(body), want.at("crc32").get<uint32_t>())
      << name << ": set RIPVEC_DUMP_PROPS=DIR and diff with scripts/gen_tokenizer_goldens.py "
      << "--dump-props";
}

INSTANTIATE_TEST_SUITE_P(Blocks, UnicodeProps,
                         ::testing::Values("bert_clean_text", "bert_chinese_chars",
                                           "bert_strip_accents", "bert_lowercase", "lowercase",
                                           "strip_accents", "nfc", "nfd", "nfkc", "nfkd",
                                           "bert_pre_tokenizer"));

TEST(TokenizerUtf8, ValidationMatchesRustRules) {
  EXPECT_EQ(utf8_invalid_offset(""), 0u);
  EXPECT_EQ(utf8_invalid_offset("plain ascii text, long enough for the 8-byte path"), 49u);
  EXPECT_EQ(utf8_invalid_offset("h\xC3\xA9llo"), 6u);
  EXPECT_EQ(utf8_invalid_offset("\xF0\x9F\x98\x80"), 4u);
  EXPECT_EQ(utf8_invalid_offset("\xF4\x8F\xBF\xBF"), 4u);  // U+10FFFF
  EXPECT_EQ(utf8_invalid_offset("\xEF\xBF\xBF"), 3u);      // U+FFFF (noncharacter, valid)
  EXPECT_EQ(utf8_invalid_offset("abcdefgh\xFF"), 8u);
  EXPECT_EQ(utf8_invalid_offset("ab\xC3"), 2u);
  EXPECT_EQ(utf8_invalid_offset("ab\xC3(x"), 2u);
  EXPECT_EQ(utf8_invalid_offset("\xC1\xBF"), 0u);          // overlong
  EXPECT_EQ(utf8_invalid_offset("\xE0\x9F\xBF"), 0u);      // overlong
  EXPECT_EQ(utf8_invalid_offset("\xF0\x8F\xBF\xBF"), 0u);  // overlong
  EXPECT_EQ(utf8_invalid_offset("\xED\xBF\xBF"), 0u);      // surrogate
  EXPECT_EQ(utf8_invalid_offset("\xF4\x90\x80\x80"), 0u);  // > U+10FFFF
  EXPECT_EQ(utf8_invalid_offset("\xF5\x80\x80\x80"), 0u);
  EXPECT_EQ(utf8_invalid_offset("x\x80"), 1u);
  EXPECT_THROW(require_valid_utf8("a\xFF"), InvalidArgument);
  // Round trip of every scalar value.
  for (char32_t cp = 0; cp < 0x110000; cp += (cp < 0x30000 ? 1 : 97)) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s;
    utf8_append(s, cp);
    ASSERT_EQ(s.size(), utf8_len(cp));
    ASSERT_EQ(utf8_invalid_offset(s), s.size()) << hex(cp);
    size_t i = 0;
    ASSERT_EQ(uint32_t(utf8_next(s, i)), uint32_t(cp));
    ASSERT_EQ(i, s.size());
    size_t j = s.size();
    ASSERT_EQ(uint32_t(utf8_prev(s, j)), uint32_t(cp));
    ASSERT_EQ(j, 0u);
  }
}

}  // namespace
}  // namespace ripvec::tok
