// ModernBERT parity against Hugging Face transformers: random-initialized ModernBertModel
// fixtures written by scripts/gen_modernbert_goldens.py (versions in goldens.json). The
// reference ran each sequence alone; we run them alone and in mixed batches, so windows cross
// sequence boundaries in the packed layout and must still never leak between sequences.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <vector>

#include "arch/modern_bert.hpp"
#include "common/test_util.hpp"
#include "driver/cpu/cpu_driver.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"

namespace ripvec {
namespace {

struct Golden {
  std::vector<std::vector<int32_t>> ids;
  std::vector<float> hidden;  // [sum len, H]
  std::vector<float> pooled;  // [n, H]
  std::vector<size_t> offsets;
  int hidden_size = 0;
};

std::vector<float> read_f32(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

Golden load_golden(const std::filesystem::path& dir) {
  Golden g;
  std::ifstream f(dir / "goldens.json");
  auto j = nlohmann::json::parse(f);
  g.hidden_size = j.at("hidden_size").get<int>();
  size_t off = 0;
  for (const auto& s : j.at("input_ids")) {
    g.ids.push_back(s.get<std::vector<int32_t>>());
    g.offsets.push_back(off);
    off += g.ids.back().size();
  }
  g.hidden = read_f32(dir / "hidden.f32");
  g.pooled = read_f32(dir / "pooled.f32");
  return g;
}

struct Compare {
  double min_cos = 1.0, max_diff = 0.0;
  void add(const float* a, const float* b, size_t n) {
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < n; ++i) {
      dot += double(a[i]) * b[i];
      na += double(a[i]) * a[i];
      nb += double(b[i]) * b[i];
      max_diff = std::max(max_diff, std::abs(double(a[i]) - b[i]));
    }
    min_cos = std::min(min_cos, dot / std::sqrt(na * nb + 1e-300));
  }
};

// INT8 and BF16 bounds (per token hidden state and pooled vector). Measured on both fixtures:
// INT8 min cosine 0.999997 (hidden and pooled), max |diff| 7.6e-3 (hidden), 1.2e-3 (pooled).
constexpr double kInt8Cos = 0.9999, kInt8Diff = 0.02;

// The driver's linear layers: FP32, INT8 (Precision::Int8) or BF16 (Precision::BF16).
enum class Linear { kF32, kInt8, kBf16 };

class ModernBertParity : public ::testing::TestWithParam<const char*> {};

// Runs `groups` of sequence indices as batches and compares every token's hidden state and
// every pooled vector with the goldens.
void run_groups(const std::filesystem::path& dir, const std::vector<std::vector<int>>& groups,
                double cos_bound, double diff_bound, Linear linear = Linear::kF32) {
  Golden g = load_golden(dir);
  ModelConfig mc = load_model_config(dir / "config.json");
  ASSERT_EQ(mc.arch, Architecture::ModernBert);
  SafeTensors st = SafeTensors::open(dir / "model.safetensors");
  CpuDriver d;
  if (linear == Linear::kInt8) d.set_int8(true);
  if (linear == Linear::kBf16) d.set_bf16(true);
  ModernBert<CpuDriver> model(d, st, mc.modernbert, ArchOptions{});
  const int H = g.hidden_size;
  Compare hid, pool;
  for (const auto& group : groups) {
    std::vector<std::vector<int32_t>> seqs;
    for (int i : group) seqs.push_back(g.ids[i]);
    BatchInputs b = build_batch_inputs(seqs);
    model.ensure_scratch(BatchShape::of(b));
    const size_t mark = d.save();
    auto db = d.upload_batch(b);
    auto hidden = model.forward(db);
    std::vector<float> h(static_cast<size_t>(b.total_tokens) * H);
    d.to_host(hidden, h.data());
    auto pooled = model.pooled(db, hidden, Pooling::Mean, true);
    std::vector<float> p(static_cast<size_t>(b.batch) * H);
    d.to_host(pooled, p.data());
    d.restore(mark);
    for (size_t k = 0; k < group.size(); ++k) {
      const int i = group[k];
      for (size_t t = 0; t < g.ids[i].size(); ++t)
        hid.add(h.data() + (b.cu_seqlens[k] + t) * H, g.hidden.data() + (g.offsets[i] + t) * H, H);
      pool.add(p.data() + k * H, g.pooled.data() + static_cast<size_t>(i) * H, H);
    }
  }
  EXPECT_GE(hid.min_cos, cos_bound) << "hidden-state cosine";
  if (linear != Linear::kF32) {
    EXPECT_GT(hid.max_diff, 1e-5) << "INT8/BF16 did not change the result: did it run?";
  }
  EXPECT_LE(hid.max_diff, diff_bound) << "hidden-state max |diff|";
  EXPECT_GE(pool.min_cos, cos_bound) << "pooled cosine";
  EXPECT_LE(pool.max_diff, diff_bound) << "pooled max |diff|";
  std::printf("  %s%s: hidden min cos %.8f max diff %.2e; pooled min cos %.8f max diff %.2e\n",
              dir.filename().c_str(),
              linear == Linear::kInt8   ? " (int8)"
              : linear == Linear::kBf16 ? " (bf16)"
                                        : "",
              hid.min_cos, hid.max_diff, pool.min_cos, pool.max_diff);
}

TEST_P(ModernBertParity, EachSequenceAlone) {
  const auto dir = test::test_data(std::string("modernbert/") + GetParam());
  RIPVEC_REQUIRE_PATH(dir / "model.safetensors");
  const size_t n = load_golden(dir).ids.size();
  std::vector<std::vector<int>> groups;
  for (size_t i = 0; i < n; ++i) groups.push_back({static_cast<int>(i)});
  run_groups(dir, groups, 0.99999, 1e-4);
}

TEST_P(ModernBertParity, MixedBatches) {
  const auto dir = test::test_data(std::string("modernbert/") + GetParam());
  RIPVEC_REQUIRE_PATH(dir / "model.safetensors");
  const int n = static_cast<int>(load_golden(dir).ids.size());
  std::vector<int> all(n);
  std::iota(all.begin(), all.end(), 0);
  std::vector<int> reversed(all.rbegin(), all.rend());
  std::vector<int> odd, even;
  for (int i = 0; i < n; ++i) (i % 2 ? odd : even).push_back(i);
  run_groups(dir, {all, reversed, odd, even}, 0.99999, 1e-4);
}

// INT8 (cpu_int8_gemm.hpp) or BF16 (cpu_bf16_gemm.hpp) linear layers against the same
// transformers FP32 goldens, alone and in mixed batches (both are batch-independent, so both
// give the same bits).
void reduced_alone_and_mixed(const char* fixture, Linear linear) {
  const auto dir = test::test_data(std::string("modernbert/") + fixture);
  RIPVEC_REQUIRE_PATH(dir / "model.safetensors");
  const int n = static_cast<int>(load_golden(dir).ids.size());
  std::vector<std::vector<int>> alone;
  for (int i = 0; i < n; ++i) alone.push_back({i});
  std::vector<int> all(n);
  std::iota(all.begin(), all.end(), 0);
  run_groups(dir, alone, kInt8Cos, kInt8Diff, linear);
  run_groups(dir, {all, std::vector<int>(all.rbegin(), all.rend())}, kInt8Cos, kInt8Diff, linear);
}

TEST_P(ModernBertParity, Int8AloneAndMixed) {
  reduced_alone_and_mixed(GetParam(), Linear::kInt8);
}

TEST_P(ModernBertParity, Bf16AloneAndMixed) {
  reduced_alone_and_mixed(GetParam(), Linear::kBf16);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModernBertParity, ::testing::Values("tiny", "tiny_bias"));

// The same sequence alone and inside a mixed batch: identical to 1e-6 in cosine.
TEST(ModernBertBatching, AloneEqualsInBatch) {
  const auto dir = test::test_data("modernbert/tiny");
  RIPVEC_REQUIRE_PATH(dir / "model.safetensors");
  Golden g = load_golden(dir);
  ModelConfig mc = load_model_config(dir / "config.json");
  SafeTensors st = SafeTensors::open(dir / "model.safetensors");
  CpuDriver d;
  ModernBert<CpuDriver> model(d, st, mc.modernbert, ArchOptions{});
  const int H = g.hidden_size;
  auto embed = [&](const std::vector<std::vector<int32_t>>& seqs) {
    BatchInputs b = build_batch_inputs(seqs);
    model.ensure_scratch(BatchShape::of(b));
    const size_t mark = d.save();
    auto db = d.upload_batch(b);
    auto pooled = model.pooled(db, model.forward(db), Pooling::Mean, true);
    std::vector<float> p(static_cast<size_t>(b.batch) * H);
    d.to_host(pooled, p.data());
    d.restore(mark);
    return p;
  };
  const auto alone = embed({g.ids[7]});
  const auto batch = embed({g.ids[1], g.ids[7], g.ids[8], g.ids[0]});
  Compare c;
  c.add(alone.data(), batch.data() + H, H);
  EXPECT_GE(c.min_cos, 0.999999);
}

// A config whose sizes disagree with the weights names the tensor.
TEST(ModernBertErrors, ConfigWeightMismatchNamesTensor) {
  const auto dir = test::test_data("modernbert/tiny");
  RIPVEC_REQUIRE_PATH(dir / "model.safetensors");
  ModelConfig mc = load_model_config(dir / "config.json");
  SafeTensors st = SafeTensors::open(dir / "model.safetensors");
  CpuDriver d;
  ModernBertConfig bad = mc.modernbert;
  bad.intermediate_size += 1;
  try {
    ModernBert<CpuDriver> model(d, st, bad, ArchOptions{});
    FAIL() << "expected ModelFormatError";
  } catch (const ModelFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("mlp.Wi.weight"), std::string::npos) << e.what();
  }
  ModernBertConfig more = mc.modernbert;
  more.num_hidden_layers += 1;
  EXPECT_THROW((ModernBert<CpuDriver>(d, st, more, ArchOptions{})), ModelFormatError);
  ModernBertConfig act = mc.modernbert;
  act.hidden_activation = "swish";
  EXPECT_THROW((ModernBert<CpuDriver>(d, st, act, ArchOptions{})), ModelFormatError);
}

}  // namespace
}  // namespace ripvec
