// config.json and sentence-transformers files. Expected values come from transformers /
// sentence-transformers themselves (tests/data/model/configs/expected.json and st6_minilm/,
// written by scripts/gen_model_fixtures.py), plus the real configs in tests/data/assets and the
// installed all-MiniLM-L6-v2.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/child_process.hpp"
#include "common/test_util.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/tokenizer.hpp"

namespace ripvec {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("ripvec_model_cfg_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& rel, const std::string& text) const {
    fs::path p = path_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  fs::path path_;
};

json expected_configs() {
  std::ifstream f(test::test_data("model/configs/expected.json"));
  return json::parse(f);
}

TEST(ModelConfig, MatchesTransformersOnEveryReferenceConfig) {
  json all = expected_configs();
  int checked = 0;
  for (auto it = all["configs"].begin(); it != all["configs"].end(); ++it) {
    const json& e = it.value();
    SCOPED_TRACE(it.key());
    fs::path file = fs::path(RIPVEC_SOURCE_DIR) / e["file"].get<std::string>();
    if (!fs::exists(file)) {  // committed under tests/data: absent means a broken checkout
      ADD_FAILURE() << "missing test input: " << file;
      continue;
    }
    ModelConfig c = load_model_config(file);
    EXPECT_EQ(c.model_type, e["model_type"].get<std::string>());
    if (c.model_type == "bert") {
      ASSERT_EQ(c.arch, Architecture::ClassicBert);
      const BertConfig& b = c.bert;
      EXPECT_EQ(b.vocab_size, e["vocab_size"].get<int>());
      EXPECT_EQ(b.hidden_size, e["hidden_size"].get<int>());
      EXPECT_EQ(b.num_hidden_layers, e["num_hidden_layers"].get<int>());
      EXPECT_EQ(b.num_attention_heads, e["num_attention_heads"].get<int>());
      EXPECT_EQ(b.intermediate_size, e["intermediate_size"].get<int>());
      EXPECT_EQ(b.hidden_act, e["hidden_act"].get<std::string>());
      EXPECT_EQ(b.max_position_embeddings, e["max_position_embeddings"].get<int>());
      EXPECT_EQ(b.type_vocab_size, e["type_vocab_size"].get<int>());
      EXPECT_FLOAT_EQ(b.layer_norm_eps, e["layer_norm_eps"].get<float>());
      EXPECT_EQ(b.pad_token_id, e["pad_token_id"].get<int>());
      EXPECT_EQ(b.position_embedding_type, e["position_embedding_type"].get<std::string>());
      EXPECT_EQ(c.hidden_size(), b.hidden_size);
      EXPECT_EQ(c.max_position_embeddings(), b.max_position_embeddings);
    } else {
      ASSERT_EQ(c.arch, Architecture::ModernBert);
      const ModernBertConfig& m = c.modernbert;
      EXPECT_EQ(m.vocab_size, e["vocab_size"].get<int>());
      EXPECT_EQ(m.hidden_size, e["hidden_size"].get<int>());
      EXPECT_EQ(m.num_hidden_layers, e["num_hidden_layers"].get<int>());
      EXPECT_EQ(m.num_attention_heads, e["num_attention_heads"].get<int>());
      EXPECT_EQ(m.intermediate_size, e["intermediate_size"].get<int>());
      EXPECT_EQ(m.hidden_activation, e["hidden_activation"].get<std::string>());
      EXPECT_EQ(m.max_position_embeddings, e["max_position_embeddings"].get<int>());
      EXPECT_FLOAT_EQ(m.norm_eps, e["norm_eps"].get<float>());
      EXPECT_EQ(m.norm_bias, e["norm_bias"].get<bool>());
      EXPECT_EQ(m.attention_bias, e["attention_bias"].get<bool>());
      EXPECT_EQ(m.mlp_bias, e["mlp_bias"].get<bool>());
      EXPECT_FLOAT_EQ(m.global_rope_theta, e["global_rope_theta"].get<float>());
      EXPECT_FLOAT_EQ(m.local_rope_theta, e["local_rope_theta"].get<float>());
      EXPECT_EQ(m.local_attention, e["local_attention"].get<int>());
      EXPECT_EQ(m.pad_token_id, e["pad_token_id"].get<int>());
      std::vector<int> global;
      for (int i = 0; i < m.num_hidden_layers; ++i)
        if (i % m.global_attn_every_n_layers == 0) global.push_back(i);
      EXPECT_EQ(global, e["global_layers"].get<std::vector<int>>());
      EXPECT_EQ(c.hidden_size(), m.hidden_size);
      EXPECT_EQ(c.max_position_embeddings(), m.max_position_embeddings);
    }
    ++checked;
  }
  EXPECT_GE(checked, 5);
}

TEST(ModelConfig, RealMiniLMConfig) {
  auto file = test::default_model_dir() / "config.json";
  RIPVEC_REQUIRE_PATH(file);
  ModelConfig c = load_model_config(file);
  EXPECT_EQ(c.arch, Architecture::ClassicBert);
  EXPECT_EQ(c.bert.vocab_size, 30522);
  EXPECT_EQ(c.bert.hidden_size, 384);
  EXPECT_EQ(c.bert.num_hidden_layers, 6);
  EXPECT_EQ(c.bert.num_attention_heads, 12);
  EXPECT_EQ(c.bert.intermediate_size, 1536);
  EXPECT_EQ(c.bert.hidden_act, "gelu");
  EXPECT_FLOAT_EQ(c.bert.layer_norm_eps, 1e-12f);
}

std::string bert_json(const std::string& drop = "", const std::string& extra = "") {
  json j = {{"model_type", "bert"},   {"vocab_size", 100},        {"hidden_size", 64},
            {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"intermediate_size", 128}};
  if (!drop.empty()) j.erase(drop);
  if (!extra.empty()) j.update(json::parse(extra));
  return j.dump();
}

std::string expect_format_error(const fs::path& file) {
  try {
    load_model_config(file);
  } catch (const ModelFormatError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "accepted " << file;
  return {};
}

TEST(ModelConfig, MissingOrMistypedRequiredFieldsNameFileAndField) {
  TempDir tmp;
  for (const char* field : {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                            "intermediate_size", "model_type"}) {
    SCOPED_TRACE(field);
    std::string msg =
        expect_format_error(tmp.write(std::string("missing_") + field + ".json", bert_json(field)));
    EXPECT_NE(msg.find(std::string("\"") + field + "\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  }
  std::string msg =
      expect_format_error(tmp.write("str.json", bert_json("", R"({"hidden_size": "64"})")));
  EXPECT_NE(msg.find("\"hidden_size\" must be an integer, got string"), std::string::npos) << msg;
  msg = expect_format_error(tmp.write("float.json", bert_json("", R"({"vocab_size": 100.5})")));
  EXPECT_NE(msg.find("\"vocab_size\""), std::string::npos) << msg;
  msg =
      expect_format_error(tmp.write("bool.json", bert_json("", R"({"num_hidden_layers": true})")));
  EXPECT_NE(msg.find("\"num_hidden_layers\""), std::string::npos) << msg;
  msg = expect_format_error(tmp.write("neg.json", bert_json("", R"({"vocab_size": -5})")));
  EXPECT_NE(msg.find("\"vocab_size\""), std::string::npos) << msg;
  msg = expect_format_error(tmp.write("big.json", bert_json("", R"({"vocab_size": 99999999999})")));
  EXPECT_NE(msg.find("\"vocab_size\""), std::string::npos) << msg;
  msg = expect_format_error(tmp.write("eps.json", bert_json("", R"({"layer_norm_eps": "x"})")));
  EXPECT_NE(msg.find("\"layer_norm_eps\""), std::string::npos) << msg;
  msg = expect_format_error(tmp.write("act.json", bert_json("", R"({"hidden_act": 3})")));
  EXPECT_NE(msg.find("\"hidden_act\""), std::string::npos) << msg;
  msg =
      expect_format_error(tmp.write("heads.json", bert_json("", R"({"num_attention_heads": 5})")));
  EXPECT_NE(msg.find("not a multiple of num_attention_heads"), std::string::npos) << msg;
  msg = expect_format_error(tmp.write("mt.json", bert_json("", R"({"model_type": 7})")));
  EXPECT_NE(msg.find("\"model_type\""), std::string::npos) << msg;
}

TEST(ModelConfig, NullOptionalFieldsTakeDefaults) {
  TempDir tmp;
  ModelConfig c = load_model_config(tmp.write(
      "null.json", bert_json("", R"({"pad_token_id": null, "hidden_act": null, "foo": [1]})")));
  EXPECT_EQ(c.bert.pad_token_id, 0);
  EXPECT_EQ(c.bert.hidden_act, "gelu");
}

TEST(ModelConfig, UnsupportedModelTypeAndMalformedFiles) {
  TempDir tmp;
  auto file = tmp.write("xlmr.json", bert_json("", R"({"model_type": "xlm-roberta"})"));
  std::string msg = expect_format_error(file);
  EXPECT_NE(msg.find("unsupported model_type \"xlm-roberta\" in " + file.string() +
                     "; supported: bert, modernbert"),
            std::string::npos)
      << msg;
  msg = expect_format_error(tmp.write("bad.json", "{\"model_type\": \"bert\", "));
  EXPECT_NE(msg.find("malformed JSON"), std::string::npos) << msg;
  expect_format_error(tmp.write("array.json", "[1, 2]"));
  expect_format_error(tmp.write("empty.json", ""));
  EXPECT_THROW(load_model_config(tmp.path() / "absent.json"), IoError);
}

std::string modernbert_json(const std::string& extra) {
  json j = {{"model_type", "modernbert"}, {"vocab_size", 100},        {"hidden_size", 64},
            {"num_hidden_layers", 4},     {"num_attention_heads", 4}, {"intermediate_size", 96}};
  j.update(json::parse(extra));
  return j.dump();
}

TEST(ModelConfig, ModernBertUnsupportedVariantsAreRejected) {
  TempDir tmp;
  std::string msg = expect_format_error(tmp.write(
      "yarn.json",
      modernbert_json(
          R"({"rope_parameters": {"full_attention": {"rope_type": "yarn", "rope_theta": 1e4}}})")));
  EXPECT_NE(msg.find("rope_parameters.full_attention.rope_type"), std::string::npos) << msg;
  msg = expect_format_error(tmp.write(
      "scaling.json", modernbert_json(R"({"rope_scaling": {"type": "linear", "factor": 2}})")));
  EXPECT_NE(msg.find("rope_scaling"), std::string::npos) << msg;
  msg = expect_format_error(tmp.write(
      "layers.json",
      modernbert_json(
          R"({"layer_types": ["sliding_attention", "full_attention", "full_attention", "sliding_attention"]})")));
  EXPECT_NE(msg.find("layer_types"), std::string::npos) << msg;
  msg = expect_format_error(
      tmp.write("layers_len.json", modernbert_json(R"({"layer_types": ["full_attention"]})")));
  EXPECT_NE(msg.find("layer_types"), std::string::npos) << msg;
  msg = expect_format_error(tmp.write(
      "layers_conflict.json",
      modernbert_json(R"({"global_attn_every_n_layers": 3, "layer_types": ["full_attention",
        "sliding_attention", "full_attention", "sliding_attention"]})")));
  EXPECT_NE(msg.find("layer_types"), std::string::npos) << msg;
  msg = expect_format_error(tmp.write("window.json", modernbert_json(R"({"local_attention": 0})")));
  EXPECT_NE(msg.find("\"local_attention\""), std::string::npos) << msg;
  msg = expect_format_error(tmp.write("bias.json", modernbert_json(R"({"norm_bias": "no"})")));
  EXPECT_NE(msg.find("\"norm_bias\" must be a boolean"), std::string::npos) << msg;
  msg = expect_format_error(
      tmp.write("every.json", modernbert_json(R"({"global_attn_every_n_layers": 0})")));
  EXPECT_NE(msg.find("\"global_attn_every_n_layers\""), std::string::npos) << msg;
}

// ---- sentence-transformers files ----

TEST(SentenceTransformersConfig, AbsentFilesGiveSentenceTransformersDefaults) {
  TempDir tmp;
  SentenceTransformersConfig c = load_sentence_transformers_config(tmp.path());
  EXPECT_FALSE(c.present);
  EXPECT_EQ(c.pooling, Pooling::Mean);
  EXPECT_FALSE(c.normalize);
  EXPECT_TRUE(c.include_prompt);
  EXPECT_TRUE(c.query_prompt.empty());
  EXPECT_TRUE(c.document_prompt.empty());
  EXPECT_FALSE(c.max_seq_length.has_value());
  // A tokenizer_config.json alone (plain HF model) does not set max_seq_length.
  tmp.write("tokenizer_config.json", R"({"model_max_length": 512})");
  EXPECT_FALSE(load_sentence_transformers_config(tmp.path()).max_seq_length.has_value());
}

TEST(SentenceTransformersConfig, RealMiniLMLegacyLayout) {
  auto dir = test::default_model_dir();
  RIPVEC_REQUIRE_PATH(dir / "modules.json");
  SentenceTransformersConfig c = load_sentence_transformers_config(dir);
  EXPECT_TRUE(c.present);
  EXPECT_EQ(c.pooling, Pooling::Mean);
  EXPECT_TRUE(c.normalize);
  EXPECT_TRUE(c.include_prompt);
  EXPECT_EQ(c.query_prompt, "");
  EXPECT_EQ(c.document_prompt, "");
  ASSERT_TRUE(c.max_seq_length.has_value());
  EXPECT_EQ(*c.max_seq_length, 256);
}

// Files as sentence-transformers 6 writes them (new class paths, "pooling_mode", prompts,
// max_seq_length carried by tokenizer_config.json).
TEST(SentenceTransformersConfig, SentenceTransformers6Layout) {
  auto dir = test::test_data("model/st6_minilm");
  RIPVEC_REQUIRE_PATH(dir / "modules.json");
  SentenceTransformersConfig c = load_sentence_transformers_config(dir);
  EXPECT_TRUE(c.present);
  EXPECT_EQ(c.pooling, Pooling::Mean);
  EXPECT_TRUE(c.normalize);
  EXPECT_EQ(c.query_prompt, "search_query: ");
  EXPECT_EQ(c.document_prompt, "search_document: ");
  ASSERT_TRUE(c.max_seq_length.has_value());
  EXPECT_EQ(*c.max_seq_length, 256);
}

const char* kModulesPoolOnly = R"([
  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
])";

TEST(SentenceTransformersConfig, PoolingModes) {
  {
    TempDir tmp;
    tmp.write("modules.json", kModulesPoolOnly);
    tmp.write("1_Pooling/config.json",
              R"({"word_embedding_dimension": 8, "pooling_mode_cls_token": true,
                  "pooling_mode_mean_tokens": false})");
    tmp.write("config_sentence_transformers.json",
              R"({"prompts": {"query": "q: ", "passage": "p: "}, "default_prompt_name": null})");
    tmp.write("sentence_bert_config.json", R"({"max_seq_length": 512, "do_lower_case": false})");
    tmp.write("tokenizer_config.json", R"({"model_max_length": 128})");
    SentenceTransformersConfig c = load_sentence_transformers_config(tmp.path());
    EXPECT_TRUE(c.present);
    EXPECT_EQ(c.pooling, Pooling::Cls);
    EXPECT_FALSE(c.normalize);
    EXPECT_EQ(c.query_prompt, "q: ");
    EXPECT_EQ(c.document_prompt, "p: ");
    EXPECT_EQ(c.max_seq_length, 512);  // sentence_bert_config.json wins over the tokenizer
  }
  {
    TempDir tmp;  // no mode set at all: sentence-transformers falls back to mean
    tmp.write("modules.json", kModulesPoolOnly);
    tmp.write("1_Pooling/config.json", R"({"word_embedding_dimension": 8})");
    EXPECT_EQ(load_sentence_transformers_config(tmp.path()).pooling, Pooling::Mean);
  }
  {
    TempDir tmp;
    tmp.write("modules.json", kModulesPoolOnly);
    tmp.write("1_Pooling/config.json",
              R"({"embedding_dimension": 8, "pooling_mode": ["cls"], "include_prompt": false})");
    auto c = load_sentence_transformers_config(tmp.path());
    EXPECT_EQ(c.pooling, Pooling::Cls);
    EXPECT_FALSE(c.include_prompt);
  }
  for (const char* cfg :
       {R"({"pooling_mode_max_tokens": true})", R"({"pooling_mode_mean_sqrt_len_tokens": true})",
        R"({"pooling_mode_lasttoken": true})", R"({"pooling_mode": "weightedmean"})",
        R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true})",
        R"({"pooling_mode": ["mean", "max"]})"}) {
    SCOPED_TRACE(cfg);
    TempDir tmp;
    tmp.write("modules.json", kModulesPoolOnly);
    auto file = tmp.write("1_Pooling/config.json", cfg);
    try {
      load_sentence_transformers_config(tmp.path());
      ADD_FAILURE() << "accepted";
    } catch (const ModelFormatError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("unsupported pooling mode"), std::string::npos) << msg;
      EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
    }
  }
}

// Known since the 2026-12-05 probe: a Pooling config whose pooling_mode_* keys are all false
// was read as mean pooling, which sentence-transformers cannot run (it concatenates no output):
// vectors from a model its own library refuses. Now a ModelFormatError naming the file.
TEST(SentenceTransformersConfig, PoolingConfigThatSelectsNoModeIsAnError) {
  TempDir tmp;
  tmp.write("modules.json", kModulesPoolOnly);
  auto file = tmp.write("1_Pooling/config.json",
                        R"({"word_embedding_dimension": 8, "pooling_mode_cls_token": false,
                            "pooling_mode_mean_tokens": false, "pooling_mode_max_tokens": false})");
  try {
    load_sentence_transformers_config(tmp.path());
    ADD_FAILURE() << "accepted";
  } catch (const ModelFormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("selects no pooling mode"), std::string::npos) << msg;
    EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  }
}

// Probe 2026-12-05: a FIFO in place of modules.json, sentence_bert_config.json or
// config_sentence_transformers.json blocked the load forever, and a symlink to /dev/zero was read
// until memory ran out (4.6 GB in 20 s); the same for tokenizer.json through Tokenizer::from_file.
// Each case runs in a forked child under a 10-second alarm and a 1 GiB address-space limit, so a
// hang or a runaway read is a failure, not a stuck or swapping machine.
TEST(SentenceTransformersConfig, FifoOrDevZeroInPlaceOfAFileIsAnErrorNotAHang) {
  for (const std::string file :
       {"modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
        "config.json", "tokenizer.json"})
    for (const bool fifo : {true, false}) {
      SCOPED_TRACE(file + (fifo ? " as a FIFO" : " as a symlink to /dev/zero"));
      TempDir tmp;
      tmp.write("config.json", R"({"model_type": "bert"})");
      const fs::path p = tmp.path() / file;
      fs::remove(p);
      test::plant_fifo_or_dev_zero(p, fifo);
      int code = -1;
      const std::string what = test::in_bounded_child(
          [&]() -> std::string {
            try {
              if (file == "tokenizer.json")
                Tokenizer::from_file(p);
              else if (file == "config.json")
                load_model_config(tmp.path() / "config.json");
              else
                load_sentence_transformers_config(tmp.path());
              return "accepted";
            } catch (const Error& e) {
              return e.what();
            }
          },
          &code);
      EXPECT_EQ(code, 0) << "the child hung, ran out of memory or threw: " << what;
      EXPECT_NE(what.find(p.string() + " is not a regular file"), std::string::npos) << what;
    }
}

TEST(SentenceTransformersConfig, MalformedAndUnsupportedFiles) {
  auto expect_error = [](const fs::path& dir, const std::string& must_mention) {
    try {
      load_sentence_transformers_config(dir);
      ADD_FAILURE() << "accepted";
    } catch (const ModelFormatError& e) {
      EXPECT_NE(std::string(e.what()).find(must_mention), std::string::npos) << e.what();
    }
  };
  {
    TempDir tmp;
    auto f = tmp.write("modules.json", "[{\"type\": ");
    expect_error(tmp.path(), f.string());
  }
  {
    TempDir tmp;
    auto f = tmp.write("modules.json", R"({"type": "x"})");
    expect_error(tmp.path(), f.string());
  }
  {
    TempDir tmp;
    auto f = tmp.write("config_sentence_transformers.json", "{\"prompts\": {\"query\": 1}}");
    expect_error(tmp.path(), f.string());
  }
  {
    TempDir tmp;
    auto f = tmp.write("sentence_bert_config.json", "{\"max_seq_length\": \"256\"}");
    expect_error(tmp.path(), f.string());
  }
  {
    TempDir tmp;
    auto f = tmp.write("sentence_bert_config.json", "not json");
    expect_error(tmp.path(), f.string());
  }
  {
    TempDir tmp;  // Dense would change the vectors; refusing beats silently ignoring it
    tmp.write("modules.json",
              R"([{"path": "2_Dense", "type": "sentence_transformers.models.Dense"}])");
    expect_error(tmp.path(), "sentence_transformers.models.Dense");
  }
  {
    TempDir tmp;
    tmp.write("modules.json", kModulesPoolOnly);
    expect_error(tmp.path(), "1_Pooling/config.json");  // listed but absent
  }
  {
    TempDir tmp;
    tmp.write("modules.json",
              R"([{"path": "", "type": "sentence_transformers.models.Transformer"},
                  {"path": "../x", "type": "sentence_transformers.models.Pooling"}])");
    expect_error(tmp.path(), "relative path");
  }
}

// Hostile probe 2026-12-06: a modules.json listing no Pooling module ([] or the Transformer
// alone) was read as mean pooling, unnormalized, and one with Normalize before Pooling as
// normalized mean pooling: sentence-transformers itself cannot encode with either (it runs the
// modules in order; Normalize needs the pooled embedding). Both are refused, naming the file.
TEST(SentenceTransformersConfig, ModulesWithoutPoolingOrOutOfOrderAreRefused) {
  const std::string t = R"({"path": "", "type": "sentence_transformers.models.Transformer"})";
  const std::string p = R"({"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"})";
  const std::string n =
      R"({"path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})";
  const std::pair<std::string, std::string> cases[] = {
      {"[]", "no Pooling module"},
      {"[" + t + "]", "no Pooling module"},
      {"[" + t + "," + n + "," + p + "]", "Normalize is not right after Pooling"},
      {"[" + p + "," + t + "]", "Pooling is not right after the Transformer"},
      {"[" + t + "," + p + "," + t + "]", "Transformer is not the first module"},
      {"[" + t + "," + p + "," + n + "," + n + "]", "Normalize is not right after Pooling"}};
  for (const auto& [modules, why] : cases) {
    TempDir tmp;
    const fs::path f = tmp.write("modules.json", modules);
    tmp.write("1_Pooling/config.json", R"({"pooling_mode_mean_tokens": true})");
    try {
      load_sentence_transformers_config(tmp.path());
      ADD_FAILURE() << "accepted " << modules;
    } catch (const ModelFormatError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(f.string()), std::string::npos) << msg;
      EXPECT_NE(msg.find(why), std::string::npos) << msg;
    }
  }
  // The supported orders still load.
  for (const std::string& ok : {"[" + t + "," + p + "]", "[" + t + "," + p + "," + n + "]"}) {
    TempDir tmp;
    tmp.write("modules.json", ok);
    tmp.write("1_Pooling/config.json", R"({"pooling_mode_cls_token": true})");
    const SentenceTransformersConfig c = load_sentence_transformers_config(tmp.path());
    EXPECT_EQ(c.pooling, Pooling::Cls);
    EXPECT_EQ(c.normalize, ok.find("Normalize") != std::string::npos);
  }
}

}  // namespace
}  // namespace ripvec
