// Regression tests for deeply nested JSON (found with the libFuzzer targets in fuzz/): a
// config.json, sentence-transformers file or tokenizer.json nested 200,000 levels deep
// overflowed the stack (nlohmann::json's dump() recursing in the error message that quotes the
// offending value) instead of failing with ModelFormatError. Readers now refuse JSON nested
// deeper than kMaxJsonNesting before parsing it; real files nest under 10 levels.
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/test_util.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/tokenizer.hpp"
#include "util/json_depth.hpp"

namespace ripvec {
namespace {

namespace fs = std::filesystem;

std::string nested(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("ripvec_json_nesting_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path write(const std::string& rel, const std::string& text) const {
    fs::path p = path_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string modernbert_config(const std::string& rope_type) {
  return R"({"model_type": "modernbert", "vocab_size": 10, "hidden_size": 8,
             "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 4,
             "rope_parameters": {"full_attention": {"rope_type": )" +
         rope_type + "}}}";
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(JsonNesting, DepthIgnoresBracketsInStringsAndStopsPastTheLimit) {
  EXPECT_EQ(json_nesting_depth(R"({"a": [1, {"b": "[[[{"}]})", 10), 3);
  EXPECT_EQ(json_nesting_depth(R"(["\"[[", "\\", [[]]])", 10), 3);
  EXPECT_EQ(json_nesting_depth("", 10), 0);
  EXPECT_EQ(json_nesting_depth(nested(1'000'000), 64), 65);
}

TEST(JsonNesting, DeeplyNestedConfigJsonFailsWithModelFormatErrorNotStackOverflow) {
  TempDir dir;
  const fs::path cfg = dir.write("config.json", modernbert_config(nested(200'000)));
  try {
    load_model_config(cfg);
    FAIL() << "a config.json nested 200,000 levels deep was accepted";
  } catch (const ModelFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("nested deeper than 64 levels"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(cfg.string()), std::string::npos) << e.what();
  }
}

TEST(JsonNesting, ConfigNestedWithinTheLimitStillGetsItsOwnError) {
  TempDir dir;
  const fs::path cfg = dir.write("config.json", modernbert_config(nested(60)));
  try {
    load_model_config(cfg);
    FAIL() << "a nested rope_type was accepted";
  } catch (const ModelFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("rope_type"), std::string::npos) << e.what();
  }
}

TEST(JsonNesting, DeeplyNestedSentenceTransformersFileFailsWithModelFormatError) {
  TempDir dir;
  dir.write("modules.json", R"([{"type": "sentence_transformers.models.Pooling", "path": )" +
                                nested(200'000) + "}]");
  EXPECT_THROW(load_sentence_transformers_config(dir.path()), ModelFormatError);
}

TEST(JsonNesting, DeeplyNestedTokenizerJsonFailsWithModelFormatErrorNotStackOverflow) {
  const std::string deep = R"({"model": {"type": )" + nested(200'000) + "}}";
  try {
    Tokenizer::from_json(deep, "deep.json");
    FAIL() << "a tokenizer.json nested 200,000 levels deep was accepted";
  } catch (const ModelFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("deep.json"), std::string::npos) << e.what();
  }
}

TEST(JsonNesting, RealTokenizerWithAnExtraNestedFieldStillLoads) {
  std::string text = read(test::test_data("bert/tiny_bge_cls/tokenizer.json"));
  ASSERT_FALSE(text.empty());
  const size_t brace = text.rfind('}');
  ASSERT_NE(brace, std::string::npos);
  text.insert(brace, ", \"x_extra\": " + nested(60));
  const auto tok = Tokenizer::from_json(text, "extra.json");
  EXPECT_EQ(tok->encode("hello").ids.size(), tok->encode("hello", false).ids.size() + 2);
}

}  // namespace
}  // namespace ripvec
