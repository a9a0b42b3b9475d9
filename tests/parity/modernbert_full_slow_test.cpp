// ModernBERT parity at the full modernbert-embed-base shape (22 layers, H 768, 12 heads,
// window 128, 8192 positions) against Hugging Face transformers, on random weights written by
// `scripts/gen_modernbert_goldens.py full DIR` (~600 MB, never committed). Run it with
// scripts/modernbert_full_parity.sh, which generates DIR and sets $RIPVEC_MODERNBERT_FULL_DIR;
// without that variable the test skips (also in CI: the fixture is built on demand only).
//
// The reference ran each sequence alone; we check every sequence alone (lengths 1 .. 2048,
// around the window and block edges) and all of them packed into one mixed batch, in both
// orders, so windows that cross sequence boundaries in the packed layout are exercised.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "arch/modern_bert.hpp"
#include "common/test_util.hpp"
#include "driver/cpu/cpu_driver.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"

namespace ripvec {
namespace {

namespace fs = std::filesystem;

constexpr double kMinCos = 0.99999;
constexpr double kMaxDiff = 1e-4;

std::vector<float> read_f32(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + p.string());
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

struct Stats {
  double min_cos = 1.0, max_diff = 0.0;
  // Per-token cosine (the closeness of each hidden state) and the largest element difference.
  void add_rows(const float* a, const float* b, size_t rows, size_t n) {
    for (size_t r = 0; r < rows; ++r) {
      const float* x = a + r * n;
      const float* y = b + r * n;
      double dot = 0, nx = 0, ny = 0;
      for (size_t i = 0; i < n; ++i) {
        dot += double(x[i]) * y[i];
        nx += double(x[i]) * x[i];
        ny += double(y[i]) * y[i];
        max_diff = std::max(max_diff, std::abs(double(x[i]) - y[i]));
      }
      min_cos = std::min(min_cos, dot / std::sqrt(nx * ny + 1e-300));
    }
  }
};

class ModernBertFull : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("RIPVEC_MODERNBERT_FULL_DIR");
    if (env == nullptr || *env == '\0')
      GTEST_SKIP() << "RIPVEC_MODERNBERT_FULL_DIR is unset (run scripts/modernbert_full_parity.sh)";
    dir_ = env;
    ASSERT_TRUE(fs::exists(dir_ / "model.safetensors")) << dir_;
    std::ifstream f(dir_ / "goldens.json");
    auto j = nlohmann::json::parse(f);
    ASSERT_EQ(j.at("kind").get<std::string>(), "full");
    H_ = j.at("hidden_size").get<int>();
    size_t off = 0;
    for (const auto& s : j.at("input_ids")) {
      ids_.push_back(s.get<std::vector<int32_t>>());
      offsets_.push_back(off);
      off += ids_.back().size();
    }
    hidden_ = read_f32(dir_ / "hidden.f32");
    pooled_ = read_f32(dir_ / "pooled.f32");
    ASSERT_EQ(hidden_.size(), off * H_);
    ASSERT_EQ(pooled_.size(), ids_.size() * H_);
    std::printf("  goldens: %zu sequences, versions %s\n", ids_.size(),
                j.at("versions").dump().c_str());
  }

  // Runs `group` (indices into ids_) as one batch; per-sequence hidden and pooled stats.
  void run(ModernBert<CpuDriver>& model, CpuDriver& d, const std::vector<int>& group,
           std::vector<Stats>& hid, std::vector<Stats>& pool) {
    std::vector<std::vector<int32_t>> seqs;
    for (int i : group) seqs.push_back(ids_[i]);
    BatchInputs b = build_batch_inputs(seqs);
    model.ensure_scratch(BatchShape::of(b));
    const size_t mark = d.save();
    auto db = d.upload_batch(b);
    auto hidden = model.forward(db);
    std::vector<float> h(static_cast<size_t>(b.total_tokens) * H_);
    d.to_host(hidden, h.data());
    auto pooled = model.pooled(db, hidden, Pooling::Mean, true);
    std::vector<float> p(static_cast<size_t>(b.batch) * H_);
    d.to_host(pooled, p.data());
    d.restore(mark);
    hid.assign(group.size(), {});
    pool.assign(group.size(), {});
    for (size_t k = 0; k < group.size(); ++k) {
      const int i = group[k];
      hid[k].add_rows(h.data() + static_cast<size_t>(b.cu_seqlens[k]) * H_,
                      hidden_.data() + offsets_[i] * H_, ids_[i].size(), H_);
      pool[k].add_rows(p.data() + k * H_, pooled_.data() + static_cast<size_t>(i) * H_, 1, H_);
    }
  }

  fs::path dir_;
  int H_ = 0;
  std::vector<std::vector<int32_t>> ids_;
  std::vector<size_t> offsets_;
  std::vector<float> hidden_, pooled_;
};

TEST_F(ModernBertFull, EachSequenceAloneAndMixedBatches) {
  ModelConfig mc = load_model_config(dir_ / "config.json");
  ASSERT_EQ(mc.arch, Architecture::ModernBert);
  ASSERT_EQ(mc.modernbert.hidden_size, H_);
  SafeTensors st = SafeTensors::open(dir_ / "model.safetensors");
  CpuDriver d;
  ModernBert<CpuDriver> model(d, st, mc.modernbert, ArchOptions{});

  using Clock = std::chrono::steady_clock;
  std::vector<Stats> hid, pool;
  for (size_t i = 0; i < ids_.size(); ++i) {
    const auto t0 = Clock::now();
    run(model, d, {static_cast<int>(i)}, hid, pool);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::printf(
        "  alone len %5zu: hidden 1-min cos %.1e max diff %.2e | pooled 1-cos %.1e diff %.2e"
        " (%.0f ms)\n",
        ids_[i].size(), 1.0 - hid[0].min_cos, hid[0].max_diff, 1.0 - pool[0].min_cos,
        pool[0].max_diff, ms);
    EXPECT_GE(hid[0].min_cos, kMinCos) << "len " << ids_[i].size();
    EXPECT_LE(hid[0].max_diff, kMaxDiff) << "len " << ids_[i].size();
    EXPECT_GE(pool[0].min_cos, kMinCos) << "len " << ids_[i].size();
    EXPECT_LE(pool[0].max_diff, kMaxDiff) << "len " << ids_[i].size();
  }

  std::vector<int> all(ids_.size());
  std::iota(all.begin(), all.end(), 0);
  std::vector<int> reversed(all.rbegin(), all.rend());
  for (const auto* group : {&all, &reversed}) {
    run(model, d, *group, hid, pool);
    Stats h, p;
    for (size_t k = 0; k < group->size(); ++k) {
      h.min_cos = std::min(h.min_cos, hid[k].min_cos);
      h.max_diff = std::max(h.max_diff, hid[k].max_diff);
      p.min_cos = std::min(p.min_cos, pool[k].min_cos);
      p.max_diff = std::max(p.max_diff, pool[k].max_diff);
      EXPECT_GE(hid[k].min_cos, kMinCos) << "mixed batch, len " << ids_[(*group)[k]].size();
      EXPECT_LE(hid[k].max_diff, kMaxDiff) << "mixed batch, len " << ids_[(*group)[k]].size();
    }
    EXPECT_GE(p.min_cos, kMinCos);
    EXPECT_LE(p.max_diff, kMaxDiff);
    std::printf(
        "  mixed batch (%s, %zu seqs): hidden 1-min cos %.1e max diff %.2e | pooled 1-cos "
        "%.1e diff %.2e\n",
        group == &all ? "ascending" : "descending", group->size(), 1.0 - h.min_cos, h.max_diff,
        1.0 - p.min_cos, p.max_diff);
  }
}

}  // namespace
}  // namespace ripvec
