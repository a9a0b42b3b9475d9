// Typed views of a Hugging Face model directory's JSON files.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace ripvec {

enum class Architecture { ClassicBert, ModernBert };

// config.json of model_type "bert" (BERT, BGE, MiniLM, E5...).
struct BertConfig {
  int vocab_size = 0;
  int hidden_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int intermediate_size = 0;
  std::string hidden_act = "gelu";  // "gelu" (exact erf), "gelu_new"/"gelu_pytorch_tanh", "relu"
  int max_position_embeddings = 512;
  int type_vocab_size = 2;
  float layer_norm_eps = 1e-12f;
  int pad_token_id = 0;
  std::string position_embedding_type = "absolute";
};

// config.json of model_type "modernbert".
struct ModernBertConfig {
  int vocab_size = 0;
  int hidden_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int intermediate_size = 0;
  std::string hidden_activation = "gelu";
  int max_position_embeddings = 8192;
  float norm_eps = 1e-5f;
  bool norm_bias = false;
  bool attention_bias = false;
  bool mlp_bias = false;
  float global_rope_theta = 160000.0f;
  float local_rope_theta = 10000.0f;
  int global_attn_every_n_layers = 3;
  int local_attention = 128;  // window size in tokens; each query sees +- local_attention/2
  int pad_token_id = 50283;
};

struct ModelConfig {
  Architecture arch = Architecture::ClassicBert;
  std::string model_type;       // as written in config.json
  BertConfig bert;              // valid when arch == ClassicBert
  ModernBertConfig modernbert;  // valid when arch == ModernBert
  int hidden_size() const;
  int max_position_embeddings() const;
  int vocab_size() const;  // rows of the word embedding table
};

// Parses config.json. Throws ModelFormatError naming the file and the field when a required
// field is missing or has the wrong type, or model_type is not supported.
ModelConfig load_model_config(const std::filesystem::path& config_json);

class SafeTensors;
// Whether `weights` is the model `c` describes, from its header alone (names and shapes; no
// tensor data is read): a [vocab_size, hidden_size] word embedding table, and exactly
// num_hidden_layers layers (the last one's first weight present, none after it). For listing
// models without loading them (`ripvec models`); loading checks every tensor anyway. Throws
// ModelFormatError beginning with `origin` and saying what disagrees. Thread-safe (reads only).
void check_weights_header(const ModelConfig& c, const SafeTensors& weights,
                          const std::string& origin);

enum class Pooling { Cls, Mean };

// What the sentence-transformers files of a model say (modules.json, 1_Pooling/config.json,
// config_sentence_transformers.json, sentence_bert_config.json). Absent files give the
// defaults sentence-transformers itself uses for a plain HF model: mean pooling, no
// normalization, no prompts, max_seq_length unset.
struct SentenceTransformersConfig {
  bool present = false;  // modules.json existed
  Pooling pooling = Pooling::Mean;
  // 1_Pooling/config.json "include_prompt": false means the prompt's tokens are left out of
  // the pooled mean (INSTRUCTOR-style models). Added by the model loader; default true.
  bool include_prompt = true;
  bool normalize = false;             // a sentence_transformers.models.Normalize module is listed
  std::string query_prompt;           // prepended to queries, e.g. "search_query: "
  std::string document_prompt;        // prepended to documents
  std::optional<int> max_seq_length;  // sentence_bert_config.json
};

SentenceTransformersConfig load_sentence_transformers_config(const std::filesystem::path& dir);

}  // namespace ripvec
