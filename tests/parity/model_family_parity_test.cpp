// The pooling layouts of the code-search models the README recommends, through the whole
// pipeline (Embedder::load on a model directory: config.json as transformers writes it,
// safetensors, tokenizer.json, sentence-transformers files), against transformers' forward pass
// of random-initialised models (scripts/gen_model_family_fixtures.py):
//   bert_mean_norm       BERT + mean pooling + Normalize (E5 v2, GTE)
//   modernbert_cls_norm  ModernBERT + CLS pooling + Normalize (Granite Embedding R2)
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/test_util.hpp"
#include "ripvec/embedder.hpp"
#include "ripvec/tokenizer.hpp"

namespace ripvec {
namespace {

void check_family(const std::string& name) {
  const auto dir = test::test_data("model/families/" + name);
  std::ifstream f(dir / "goldens.json");
  const auto g = nlohmann::json::parse(f);
  EmbedderOptions o;
  o.model = dir.string();
  o.device = Device::Cpu;
  o.precision = Precision::F32;  // Auto is INT8 on AVX-512 VNNI CPUs; these bounds are FP32's
  o.resolve.allow_download = false;
  o.resolve.progress = false;
  auto e = Embedder::load(o);
  ASSERT_EQ(e->dim(), 64u);
  std::vector<std::string> texts;
  for (const auto& r : g["rows"]) texts.push_back(r["text"].get<std::string>());
  const std::vector<float> got = e->embed(texts, InputKind::Document);
  ASSERT_EQ(got.size(), texts.size() * 64);
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto& r = g["rows"][i];
    // The ids the model ran are HF tokenizers' (truncated to max_seq_length, specials kept).
    Encoding enc = e->tokenizer().encode(texts[i], true);
    if (enc.ids.size() > e->max_seq_length()) {
      const int32_t sep = enc.ids.back();
      enc.ids.resize(e->max_seq_length());
      enc.ids.back() = sep;
    }
    EXPECT_EQ(enc.ids, r["ids"].get<std::vector<int32_t>>()) << name << " row " << i;
    const auto want = r["embedding"].get<std::vector<float>>();
    double dot = 0, nw = 0, ng = 0;
    for (size_t k = 0; k < 64; ++k) {
      dot += double(got[i * 64 + k]) * want[k];
      nw += double(want[k]) * want[k];
      ng += double(got[i * 64 + k]) * got[i * 64 + k];
    }
    EXPECT_GE(dot / std::sqrt(nw * ng), 0.9999) << name << " row " << i;
    EXPECT_NEAR(ng, 1.0, 1e-4) << name << " row " << i;  // Normalize
  }
}

TEST(ModelFamilyParity, BertMeanPoolingNormalized) {
  check_family("bert_mean_norm");
}

TEST(ModelFamilyParity, ModernBertClsPoolingNormalized) {
  check_family("modernbert_cls_norm");
}

}  // namespace
}  // namespace ripvec
