// Token ids of hand-edited-looking tokenizer.json files (vocabulary holes, the empty string as a
// token, ids far past the entry count, added tokens whose "id" fields disagree with HF's) match
// HF `tokenizers`: goldens in tests/data/tokenizer/hostile_ids.json from
// scripts/gen_tokenizer_id_goldens.py. Also checks vocab_size() is the id space there.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "ripvec/error.hpp"
#include "ripvec/tokenizer.hpp"
#include "unit/tokenizer_golden.hpp"

namespace ripvec {
namespace {

using nlohmann::json;

TEST(TokenizerIds, HostileIdsMatchHfTokenizers) {
  const json doc =
      json::parse(test::read_file_bytes(test::test_data("tokenizer/hostile_ids.json")));
  const json& cases = doc.at("cases");
  ASSERT_GE(cases.size(), 40u);
  size_t with_holes = 0;
  for (size_t c = 0; c < cases.size(); ++c) {
    const json& k = cases[c];
    SCOPED_TRACE("case " + std::to_string(c) + " (" + k.at("kind").get<std::string>() + ")");
    auto tok = Tokenizer::from_json(k.at("tokenizer").dump(), "case.json");
    int64_t top = -1;
    for (const auto& p : k.at("token_to_id")) {
      const auto name = p[0].get<std::string>();
      const auto got = tok->token_to_id(name);
      if (p[1].is_null()) {
        EXPECT_FALSE(got.has_value()) << "token_to_id(\"" << name << "\")";
      } else {
        EXPECT_EQ(got, p[1].get<int32_t>()) << "token_to_id(\"" << name << "\")";
        top = std::max<int64_t>(top, p[1].get<int64_t>());
      }
    }
    // The id space: the largest id any token has, + 1 (HF's get_vocab_size counts strings).
    EXPECT_EQ(tok->vocab_size(), static_cast<size_t>(top + 1));
    if (static_cast<int64_t>(k.at("hf_vocab_size").get<size_t>()) < top + 1) ++with_holes;
    for (const auto& p : k.at("id_to_token")) {
      const auto id = p[0].get<int32_t>();
      if (p[1].is_null()) {
        EXPECT_THROW(tok->id_to_token(id), InvalidArgument) << "id_to_token(" << id << ")";
      } else {
        EXPECT_EQ(tok->id_to_token(id), p[1].get<std::string>()) << "id_to_token(" << id << ")";
      }
    }
    for (const auto& e : k.at("encode")) {
      const auto text = e[0].get<std::string>();
      const Encoding enc = tok->encode(text, false);
      EXPECT_EQ(enc.ids, e[1].get<std::vector<int32_t>>()) << "encode(\"" << text << "\")";
      // A model id's string is the vocabulary's even where an added token shares the id.
      EXPECT_EQ(enc.tokens, e[2].get<std::vector<std::string>>()) << "encode(\"" << text << "\")";
    }
  }
  // The goldens must exercise what they are for.
  EXPECT_GE(with_holes, 10u);
}

}  // namespace
}  // namespace ripvec
