// ModernBERT through the whole pipeline: Embedder::load on a model directory shaped like
// nomic-ai/modernbert-embed-base (config.json, model.safetensors, the real ModernBERT
// tokenizer.json, sentence-transformers files with mean pooling + Normalize and the
// "search_query: " / "search_document: " prompts), then embed() against the direct ModernBert
// forward of the same token ids on the same weights.
//
// This is a pipeline test (loading, tokenization, prompts, truncation, batching, pooling); the
// numerics of the forward pass are proven against transformers by modernbert_parity_test. The
// weights are the tiny committed fixture's, except that its 512-row embedding table is widened
// at test time to the real tokenizer's 50,368 ids (rows repeated, each repetition scaled
// differently so that distinct ids still get distinct vectors). Nothing here is committed: the
// directory lives in a temp dir and the tokenizer is copied from tests/data/assets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch/modern_bert.hpp"
#include "common/test_util.hpp"
#include "driver/cpu/cpu_driver.hpp"
#include "ripvec/embedder.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"
#include "ripvec/tokenizer.hpp"

namespace ripvec {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int kVocab = 50368;  // ModernBERT's tokenizer: ids 0 .. 50367

fs::path tiny_dir() {
  return test::test_data("modernbert/tiny");
}
fs::path tokenizer_src() {
  return test::asset("tokenizers/modernbert-base/tokenizer.json");
}

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("ripvec_mbert_e2e_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  void write(const std::string& rel, const std::string& text) const {
    fs::path p = path_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }

 private:
  fs::path path_;
};

// Writes a safetensors file (F32 tensors only): 8-byte little-endian header length, JSON
// header with data_offsets, then the data. Tensors are written in name order.
void write_safetensors(
    const fs::path& path,
    const std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>& tensors) {
  json header = json::object();
  size_t off = 0;
  for (const auto& [name, t] : tensors) {
    const size_t bytes = t.second.size() * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t.first}, {"data_offsets", {off, off + bytes}}};
    off += bytes;
  }
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');
  std::ofstream f(path, std::ios::binary);
  const uint64_t n = h.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  f.write(reinterpret_cast<const char*>(len), 8);
  f.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const auto& [name, t] : tensors)
    f.write(reinterpret_cast<const char*>(t.second.data()),
            static_cast<std::streamsize>(t.second.size() * sizeof(float)));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

// The tiny fixture's weights with the embedding table widened to kVocab rows.
void write_widened_weights(const fs::path& out, int vocab) {
  SafeTensors st = SafeTensors::open(tiny_dir() / "model.safetensors");
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> tensors;
  for (const auto& name : st.names()) {
    const TensorInfo& t = st.get(name);
    std::vector<float> data(static_cast<size_t>(t.numel()));
    convert_to_f32(t, data.data());
    std::vector<int64_t> shape = t.shape;
    if (name == "embeddings.tok_embeddings.weight") {
      const int64_t rows = shape[0], cols = shape[1];
      std::vector<float> wide(static_cast<size_t>(vocab) * cols);
      for (int64_t r = 0; r < vocab; ++r) {
        const float scale = 1.0f + 0.05f * static_cast<float>(r / rows);
        for (int64_t c = 0; c < cols; ++c) wide[r * cols + c] = scale * data[(r % rows) * cols + c];
      }
      data = std::move(wide);
      shape[0] = vocab;
    }
    tensors[name] = {shape, std::move(data)};
  }
  write_safetensors(out, tensors);
}

json tiny_config() {
  std::ifstream f(tiny_dir() / "config.json");
  return json::parse(f);
}

// A modernbert-embed-base-like directory: widened tiny weights, real tokenizer, ST files.
void make_model_dir(const TempDir& dir) {
  json cfg = tiny_config();
  cfg["vocab_size"] = kVocab;
  cfg["pad_token_id"] = 50283;
  cfg["bos_token_id"] = 50281;
  cfg["eos_token_id"] = 50282;
  dir.write("config.json", cfg.dump(2));
  write_widened_weights(dir.path() / "model.safetensors", kVocab);
  fs::copy_file(tokenizer_src(), dir.path() / "tokenizer.json");
  dir.write("modules.json", R"([
  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
  {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
])");
  dir.write("1_Pooling/config.json", R"({"word_embedding_dimension": 64,
  "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
  "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false,
  "include_prompt": true})");
  dir.write("config_sentence_transformers.json", R"({"prompts": {
  "query": "search_query: ", "document": "search_document: "},
  "default_prompt_name": null, "similarity_fn_name": "cosine"})");
}

// Mean-pooled, L2-normalized embedding of each id sequence, by the model directly (one
// sequence per forward pass: no batching, no pipeline).
std::vector<float> direct_embed(const fs::path& model_dir,
                                const std::vector<std::vector<int32_t>>& seqs) {
  ModelConfig mc = load_model_config(model_dir / "config.json");
  SafeTensors st = SafeTensors::open(model_dir / "model.safetensors");
  CpuDriver d;
  ModernBert<CpuDriver> model(d, st, mc.modernbert, ArchOptions{});
  const int H = model.hidden_size();
  std::vector<float> out;
  for (const auto& s : seqs) {
    BatchInputs b = build_batch_inputs(std::vector<std::vector<int32_t>>{s});
    model.ensure_scratch(BatchShape::of(b));
    const size_t mark = d.save();
    auto db = d.upload_batch(b);
    auto pooled = model.pooled(db, model.forward(db), Pooling::Mean, true);
    std::vector<float> p(H);
    d.to_host(pooled, p.data());
    d.restore(mark);
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

double dot(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double(a[i]) * b[i];
  return s;
}

std::string long_text() {
  std::string s;
  for (int i = 0; i < 700; ++i)
    s += "fn parse_config_" + std::to_string(i) + "(path: &Path) -> Result<Config> { todo!() }\n";
  return s;
}

class ModernBertE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    RIPVEC_REQUIRE_PATH(tiny_dir() / "model.safetensors");
    RIPVEC_REQUIRE_PATH(tokenizer_src());
    make_model_dir(dir_);
  }
  std::unique_ptr<Embedder> load(size_t max_seq = 0) {
    EmbedderOptions o;
    o.model = dir_.path().string();
    o.device = Device::Cpu;
    o.precision = Precision::F32;  // Auto is INT8 on AVX-512 VNNI CPUs; bounds are FP32's
    o.resolve.allow_download = false;
    o.max_seq_length = max_seq;
    return Embedder::load(o);
  }
  TempDir dir_;
};

TEST_F(ModernBertE2E, LoadsWithPromptsAndSpecials) {
  auto e = load();
  EXPECT_EQ(e->dim(), 64u);
  EXPECT_EQ(e->device_name(), "cpu");
  EXPECT_EQ(e->max_seq_length(), 1024u);  // the fixture's max_position_embeddings
  EXPECT_EQ(e->prompt(InputKind::Query), "search_query: ");
  EXPECT_EQ(e->prompt(InputKind::Document), "search_document: ");
  EXPECT_EQ(e->prompt(InputKind::Raw), "");
  const Encoding enc = e->tokenizer().encode("hello world", true);
  ASSERT_GE(enc.ids.size(), 3u);
  EXPECT_EQ(enc.ids.front(), 50281);  // [CLS]
  EXPECT_EQ(enc.ids.back(), 50282);   // [SEP]
}

TEST_F(ModernBertE2E, EmbedEqualsDirectForwardOfPromptedIds) {
  auto e = load();
  const std::vector<std::string> texts = {
      "How do I parse a TOML file in Rust?",
      "",
      "a",
      "def read_config(path):\n    with open(path) as f:\n        return toml.load(f)\n",
      "Ünïcödé — naïve café 日本語 🦀 emoji",
      long_text()};
  const size_t H = e->dim();
  for (InputKind kind : {InputKind::Query, InputKind::Document, InputKind::Raw}) {
    SCOPED_TRACE(static_cast<int>(kind));
    const std::vector<float> got = e->embed(texts, kind);
    ASSERT_EQ(got.size(), texts.size() * H);
    std::vector<std::vector<int32_t>> ids;
    for (const auto& t : texts)
      ids.push_back(e->tokenizer().encode(e->prompt(kind) + t, true, e->max_seq_length()).ids);
    for (const auto& s : ids) {
      for (int32_t id : s) ASSERT_TRUE(id >= 0 && id < kVocab) << id;
    }
    // Real tokenizer ids beyond the tiny fixture's 512 rows, so the widened table is used.
    EXPECT_GT(*std::max_element(ids[0].begin(), ids[0].end()), 512);
    const std::vector<float> want = direct_embed(dir_.path(), ids);
    for (size_t i = 0; i < texts.size(); ++i) {
      SCOPED_TRACE(i);
      EXPECT_NEAR(dot(got.data() + i * H, got.data() + i * H, H), 1.0, 1e-5);  // normalized
      EXPECT_GE(dot(got.data() + i * H, want.data() + i * H, H), 0.999999);
      EXPECT_LE(max_abs_diff(got.data() + i * H, want.data() + i * H, H), 2e-5);
    }
    // embed_tokens() of the same ids is the same pipeline minus the tokenizer.
    const std::vector<float> by_ids = e->embed_tokens(ids);
    EXPECT_LE(max_abs_diff(by_ids.data(), got.data(), got.size()), 1e-6);
  }
}

TEST_F(ModernBertE2E, QueryAndDocumentPromptsDiffer) {
  auto e = load();
  const std::vector<std::string> text = {"binary search over a sorted vector"};
  const auto q = e->embed(text, InputKind::Query);
  const auto d = e->embed(text, InputKind::Document);
  const auto r = e->embed(text, InputKind::Raw);
  const size_t H = e->dim();
  EXPECT_GT(max_abs_diff(q.data(), d.data(), H), 1e-3);
  EXPECT_GT(max_abs_diff(q.data(), r.data(), H), 1e-3);
  EXPECT_GT(max_abs_diff(d.data(), r.data(), H), 1e-3);
  // Prompting is a plain string prefix: the query equals the raw text with the prefix typed in.
  const auto typed = e->embed(std::vector<std::string>{"search_query: " + text[0]}, InputKind::Raw);
  EXPECT_LE(max_abs_diff(q.data(), typed.data(), H), 1e-6);
}

TEST_F(ModernBertE2E, TruncatesAtTheModelLimit) {
  auto e = load();
  const std::string text = long_text();
  ASSERT_GT(e->tokenizer().count_tokens("search_document: " + text), 1024u);
  const Encoding full = e->tokenizer().encode("search_document: " + text, true);
  // Truncated ids: the first 1023 ids of the full encoding then [SEP].
  std::vector<int32_t> cut(full.ids.begin(), full.ids.begin() + 1023);
  cut.push_back(50282);
  const auto got = e->embed(std::vector<std::string>{text}, InputKind::Document);
  const auto want = direct_embed(dir_.path(), {cut});
  EXPECT_LE(max_abs_diff(got.data(), want.data(), e->dim()), 2e-5);

  // A caller's smaller limit wins, and is honoured the same way.
  auto small = load(100);
  EXPECT_EQ(small->max_seq_length(), 100u);
  std::vector<int32_t> cut100(full.ids.begin(), full.ids.begin() + 99);
  cut100.push_back(50282);
  const auto got100 = small->embed(std::vector<std::string>{text}, InputKind::Document);
  const auto want100 = direct_embed(dir_.path(), {cut100});
  EXPECT_LE(max_abs_diff(got100.data(), want100.data(), e->dim()), 2e-5);
  // A limit beyond the position table is clamped to it.
  EXPECT_EQ(load(5000)->max_seq_length(), 1024u);
  // Pre-tokenized input is not truncated silently.
  EXPECT_THROW(e->embed_tokens(std::vector<std::vector<int32_t>>{full.ids}), InvalidArgument);
}

// Bad model directories fail at load with typed errors that name the culprit.
TEST_F(ModernBertE2E, BadModelDirectoriesAreTypedErrors) {
  // A required ModernBERT config field missing.
  for (const char* field : {"hidden_size", "num_hidden_layers", "vocab_size"}) {
    SCOPED_TRACE(field);
    json cfg = tiny_config();
    cfg["vocab_size"] = kVocab;
    cfg.erase(field);
    dir_.write("config.json", cfg.dump());
    try {
      load();
      ADD_FAILURE() << "loaded a config without " << field;
    } catch (const ModelFormatError& ex) {
      const std::string msg = ex.what();
      EXPECT_NE(msg.find(std::string("\"") + field + "\""), std::string::npos) << msg;
      EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
    }
  }
  // Config and weights disagree (the fixture's own 512-row table under the real vocab size).
  json cfg = tiny_config();
  cfg["vocab_size"] = kVocab;
  dir_.write("config.json", cfg.dump());
  fs::copy_file(tiny_dir() / "model.safetensors", dir_.path() / "model.safetensors",
                fs::copy_options::overwrite_existing);
  try {
    load();
    ADD_FAILURE() << "loaded weights whose embedding table disagrees with vocab_size";
  } catch (const ModelFormatError& ex) {
    EXPECT_NE(std::string(ex.what()).find("embeddings.tok_embeddings.weight"), std::string::npos)
        << ex.what();
  }
  // A tokenizer.json with an unknown model type.
  write_widened_weights(dir_.path() / "model.safetensors", kVocab);
  std::ifstream tf(tokenizer_src());
  json tok = json::parse(tf);
  tok["model"]["type"] = "Frobnicate";
  dir_.write("tokenizer.json", tok.dump());
  try {
    load();
    ADD_FAILURE() << "loaded a tokenizer of unknown model type";
  } catch (const ModelFormatError& ex) {
    EXPECT_NE(std::string(ex.what()).find("Frobnicate"), std::string::npos) << ex.what();
  }
}

}  // namespace
}  // namespace ripvec
