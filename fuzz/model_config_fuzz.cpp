// libFuzzer target: a model directory's JSON files. The input is up to six NUL-separated parts:
//   config.json \0 modules.json \0 1_Pooling/config.json \0 config_sentence_transformers.json
//   \0 sentence_bert_config.json \0 tokenizer_config.json
// (a file is absent when the input has fewer parts). Accepts load_model_config and
// load_sentence_transformers_config succeeding with sane values, or ModelFormatError /
// IoError / UnsupportedError.
#include <filesystem>

#include "fuzz_util.hpp"
#include "ripvec/model_config.hpp"

using namespace ripvec;
namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::TempDir dir;
  static const char* kFiles[] = {"config.json",
                                 "modules.json",
                                 "1_Pooling/config.json",
                                 "config_sentence_transformers.json",
                                 "sentence_bert_config.json",
                                 "tokenizer_config.json"};
  static const bool made = fs::create_directory(dir.path() / "1_Pooling");
  (void)made;
  const auto parts = fuzz::split_nul(fuzz::as_text(data, size), std::size(kFiles));
  for (size_t i = 0; i < std::size(kFiles); ++i) {
    const fs::path p = dir.path() / kFiles[i];
    if (i < parts.size()) {
      fuzz::write_file(p, parts[i]);
    } else {
      std::error_code ec;
      fs::remove(p, ec);
    }
  }
  try {
    ModelConfig c = load_model_config(dir.path() / "config.json");
    FUZZ_CHECK(c.hidden_size() > 0);
    FUZZ_CHECK(c.max_position_embeddings() > 0);
    if (c.arch == Architecture::ClassicBert) {
      const BertConfig& b = c.bert;
      FUZZ_CHECK(b.vocab_size > 0 && b.num_hidden_layers > 0 && b.num_attention_heads > 0);
      FUZZ_CHECK(b.hidden_size % b.num_attention_heads == 0);
      FUZZ_CHECK(b.intermediate_size > 0 && b.type_vocab_size >= 0 && b.layer_norm_eps > 0);
    } else {
      const ModernBertConfig& m = c.modernbert;
      FUZZ_CHECK(m.vocab_size > 0 && m.num_hidden_layers > 0 && m.num_attention_heads > 0);
      FUZZ_CHECK(m.hidden_size % m.num_attention_heads == 0);
      FUZZ_CHECK(m.intermediate_size > 0);
    }
  } catch (const ModelFormatError&) {
  } catch (const IoError&) {
  } catch (const UnsupportedError&) {
  }
  try {
    SentenceTransformersConfig st = load_sentence_transformers_config(dir.path());
    FUZZ_CHECK(st.present == (parts.size() > 1));
    if (st.max_seq_length) FUZZ_CHECK(*st.max_seq_length > 0);
  } catch (const ModelFormatError&) {
  } catch (const IoError&) {
  } catch (const UnsupportedError&) {
  }
  return 0;
}
