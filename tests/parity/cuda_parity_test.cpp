// CUDA driver parity: the flash attention kernel against the CPU driver's attention, and whole
// models (ClassicBert, ModernBert) on the CUDA driver against the same models on the CPU driver,
// which the other parity tests prove equal to Hugging Face. Bounds (issue: CUDA driver):
// cosine >= 0.99999 in F32 mode, >= 0.9995 with F16/BF16 activations. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "common/test_util.hpp"
#include "driver/cpu/cpu_driver.hpp"
#include "driver/ops.hpp"

#ifdef RIPVEC_HAVE_CUDA
#include "arch/classic_bert.hpp"
#include "arch/modern_bert.hpp"
#include "driver/cuda/cuda_driver.hpp"
#include "pipeline/batching.hpp"
#include "pipeline/encoder.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"
#endif

namespace ripvec {
namespace {

#ifdef RIPVEC_HAVE_CUDA

#define REQUIRE_GPU() \
  if (!CudaDriver::device_available()) GTEST_SKIP() << "no CUDA device"

struct Stats {
  double min_cos = 1, max_diff = 0;
};
// Row-wise cosine and max |diff| of [rows, cols] matrices.
Stats compare_rows(const std::vector<float>& a, const std::vector<float>& b, int64_t cols) {
  Stats s;
  for (size_t r = 0; r * cols < a.size(); ++r) {
    double dot = 0, na = 0, nb = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const double x = a[r * cols + c], y = b[r * cols + c];
      dot += x * y;
      na += x * x;
      nb += y * y;
      s.max_diff = std::max(s.max_diff, std::abs(x - y));
    }
    if (na + nb > 0) s.min_cos = std::min(s.min_cos, dot / std::sqrt(na * nb + 1e-300));
  }
  return s;
}

BatchInputs random_batch(const std::vector<int>& lens, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<int32_t>> seqs;
  for (int n : lens) {
    std::vector<int32_t> s(n);
    for (auto& v : s) v = 1 + static_cast<int32_t>(rng() % (vocab - 1));
    seqs.push_back(std::move(s));
  }
  return build_batch_inputs(seqs);
}

// ---------------------------------------------------------------- flash attention

struct AttnCase {
  int heads, head_dim, half_window;
  std::vector<int> lens;
};

std::vector<float> cpu_attention(const std::vector<float>& qkv, const BatchInputs& b,
                                 const AttentionDesc& ad) {
  CpuDriver d;
  const int64_t T = b.total_tokens, H = int64_t(ad.num_heads) * ad.head_dim;
  d.reserve_scratch(size_t(T) * H * 4 * 8 + (64u << 20));
  auto db = d.upload_batch(b);
  auto x = d.upload(qkv.data(), DType::F32, {T, 3 * H});
  auto out = d.alloc(DType::F32, {T, H});
  ops::attention(d, out, x, ad, db);
  std::vector<float> r(size_t(T) * H);
  d.to_host(out, r.data());
  return r;
}

std::vector<float> cuda_attention(const std::vector<float>& qkv, const BatchInputs& b,
                                  const AttentionDesc& ad, DType dt) {
  CudaDriver d;
  const int64_t T = b.total_tokens, H = int64_t(ad.num_heads) * ad.head_dim;
  d.reserve_scratch(size_t(T) * H * 4 * 8 + (64u << 20));
  auto db = d.upload_batch(b);
  auto x32 = d.upload(qkv.data(), DType::F32, {T, 3 * H});
  auto x = d.alloc(dt, {T, 3 * H});
  d.convert(x, x32);
  auto out = d.alloc(dt, {T, H});
  // Poison: every element must be written by the kernel.
  std::vector<float> nan(size_t(T) * H, std::nanf(""));
  auto poison = d.upload(nan.data(), DType::F32, {T, H});
  d.convert(out, poison);
  d.attention(out, x, ad, db);
  std::vector<float> r(size_t(T) * H);
  d.to_host(out, r.data());
  return r;
}

TEST(CudaFlash, MatchesCpuAttention) {
  REQUIRE_GPU();
  const std::vector<AttnCase> cases = {
      {2, 32, -1, {1, 7, 33, 17}},
      {12, 32, -1, {384, 129, 64, 65}},
      {4, 64, -1, {1, 63, 64, 65, 300}},
      {12, 64, 64, {1, 127, 128, 129, 1000}},
      {3, 128, -1, {100, 5}},
      {2, 128, 8, {77, 31}},
      {12, 64, 64, {8192}},
      {12, 64, -1, {4096}},
      {5, 8, -1, {9, 40}},
      {2, 48, 4, {3, 70}},  // generic (untiled) head sizes
  };
  uint32_t seed = 1;
  for (const auto& c : cases) {
    AttentionDesc ad{c.heads, c.head_dim, 1.0f / std::sqrt(float(c.head_dim)), c.half_window};
    BatchInputs b = random_batch(c.lens, 1000, seed++);
    std::mt19937 rng(seed++);
    std::normal_distribution<float> nd(0.f, 1.5f);
    std::vector<float> qkv(size_t(b.total_tokens) * 3 * c.heads * c.head_dim);
    for (auto& v : qkv) v = nd(rng);
    const auto want = cpu_attention(qkv, b, ad);
    for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
      const auto got = cuda_attention(qkv, b, ad, dt);
      Stats s = compare_rows(got, want, c.head_dim);  // per (token, head)
      const double bound = dt == DType::F32 ? 0.99999 : dt == DType::F16 ? 0.999 : 0.995;
      EXPECT_GE(s.min_cos, bound) << "heads " << c.heads << " d " << c.head_dim << " window "
                                  << c.half_window << " dtype " << dtype_name(dt);
      bool finite = true;
      for (float v : got) finite = finite && std::isfinite(v);
      EXPECT_TRUE(finite) << "unwritten or non-finite output, dtype " << dtype_name(dt);
    }
  }
}

// ---------------------------------------------------------------- whole models

template <template <class> class Arch, class Config>
std::pair<std::vector<float>, std::vector<float>> run_model(const std::filesystem::path& dir,
                                                            const Config& cfg, const BatchInputs& b,
                                                            bool cuda, DType dt) {
  SafeTensors st = SafeTensors::open(dir / "model.safetensors");
  auto go = [&](auto& d) {
    ArchOptions ao;
    ao.dtype = dt;
    Arch<std::remove_reference_t<decltype(d)>> m(d, st, cfg, ao);
    m.ensure_scratch(BatchShape::of(b));
    auto db = d.upload_batch(b);
    auto h = m.forward(db);
    std::vector<float> hidden(size_t(h.numel()));
    d.to_host(h, hidden.data());
    auto p = m.pooled(db, h, Pooling::Mean, true);
    std::vector<float> pooled(size_t(p.numel()));
    d.to_host(p, pooled.data());
    return std::make_pair(hidden, pooled);
  };
  if (cuda) {
    CudaDriver::Options o;
    o.activation = dt;
    CudaDriver d(o);
    return go(d);
  }
  CpuDriver d;
  return go(d);
}

template <template <class> class Arch, class Config>
void model_parity(const std::filesystem::path& dir, const Config& cfg, int vocab, int hidden,
                  const std::vector<int>& lens) {
  BatchInputs b = random_batch(lens, vocab, 42);
  const auto [h_cpu, p_cpu] = run_model<Arch>(dir, cfg, b, false, DType::F32);
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    const auto [h, p] = run_model<Arch>(dir, cfg, b, true, dt);
    const Stats sh = compare_rows(h, h_cpu, hidden), sp = compare_rows(p, p_cpu, hidden);
    const double bound = dt == DType::F32 ? 0.99999 : 0.9995;
    EXPECT_GE(sp.min_cos, bound) << dir << " pooled, " << dtype_name(dt);
    if (dt == DType::F32) EXPECT_GE(sh.min_cos, bound) << dir << " hidden, f32";
    std::printf("  %s %s: hidden min cos %.7f (max diff %.2e), pooled min cos %.7f\n",
                dir.filename().c_str(), dtype_name(dt), sh.min_cos, sh.max_diff, sp.min_cos);
  }
}

TEST(CudaModels, ModernBertTinyMatchesCpu) {
  REQUIRE_GPU();
  for (const char* name : {"tiny", "tiny_bias"}) {
    const auto dir = test::test_data(std::string("modernbert/") + name);
    ModelConfig mc = load_model_config(dir / "config.json");
    model_parity<ModernBert>(dir, mc.modernbert, mc.modernbert.vocab_size,
                             mc.modernbert.hidden_size, {1, 63, 64, 65, 129, 300, 17, 2});
  }
}

TEST(CudaModels, ClassicBertTinyMatchesCpu) {
  REQUIRE_GPU();
  for (const char* name : {"tiny_bge_cls", "tiny_gelu_new"}) {
    const auto dir = test::test_data(std::string("bert/") + name);
    ModelConfig mc = load_model_config(dir / "config.json");
    model_parity<ClassicBert>(dir, mc.bert, mc.bert.vocab_size, mc.bert.hidden_size,
                              {1, 5, 64, 33, 17, 2});
  }
}

// Pipelined batches (embed_async: double-buffered uploads and result copies, no wait between
// batches) give bitwise the same embeddings as one batch at a time, also when a later batch
// is larger and grows the scratch arena mid-run.
TEST(CudaPipeline, EmbedAsyncMatchesEmbed) {
  REQUIRE_GPU();
  const auto dir = test::test_data("bert/tiny_bge_cls");
  ModelConfig mc = load_model_config(dir / "config.json");
  std::mt19937 rng(3);
  std::vector<std::vector<int32_t>> seqs;
  for (int i = 0; i < 300; ++i) {
    std::vector<int32_t> s(1 + rng() % 120);
    for (auto& v : s) v = 1 + static_cast<int32_t>(rng() % 500);
    seqs.push_back(std::move(s));
  }
  BatchLimits limits;
  limits.max_tokens = 700;
  for (DType dt : {DType::F32, DType::F16}) {
    CudaDriver::Options o;
    o.activation = dt;
    ArchOptions ao;
    ao.dtype = dt;
    ao.limits = worst_case_shape(limits, 8);  // small on purpose: later batches grow it
    ArchEncoder<CudaDriver, ClassicBert<CudaDriver>> enc(
        std::make_unique<CudaDriver>(o), SafeTensors::open(dir / "model.safetensors"), mc.bert, ao,
        PoolingSpec{Pooling::Mean, true});
    const auto sync = run_batches(seqs, {}, limits, enc.dim(),
                                  [&](const BatchInputs& b, float* out) { enc.embed(b, out); });
    const auto async = run_batches(
        seqs, {}, limits, enc.dim(),
        [&](const BatchInputs& b, float* out) { enc.embed_async(b, out); }, [&] { enc.finish(); });
    ASSERT_EQ(sync.size(), async.size());
    EXPECT_EQ(0, std::memcmp(sync.data(), async.data(), sync.size() * sizeof(float)))
        << dtype_name(dt);
    // A bad id in a later batch: the error surfaces, and the encoder works afterwards.
    auto bad = seqs;
    bad[250][0] = 100000;
    EXPECT_THROW(run_batches(
                     bad, {}, limits, enc.dim(),
                     [&](const BatchInputs& b, float* out) { enc.embed_async(b, out); },
                     [&] { enc.finish(); }),
                 Error);
    const auto again = run_batches(
        seqs, {}, limits, enc.dim(),
        [&](const BatchInputs& b, float* out) { enc.embed_async(b, out); }, [&] { enc.finish(); });
    EXPECT_EQ(0, std::memcmp(sync.data(), again.data(), sync.size() * sizeof(float)));
  }
}

// load_weight() from pageable host memory, read back at once: every element must have
// arrived before the on-device conversion read it (F32 exact; F16/BF16 within one rounding).
// Many weights in a row, some large, as a model load does.
TEST(CudaMemory, LoadWeightArrivesBeforeUse) {
  REQUIRE_GPU();
  const std::vector<std::vector<int64_t>> shapes = {
      {1}, {7}, {384}, {1536}, {384, 384}, {1536, 384}, {384, 1536}, {1152, 384}, {30522, 384}};
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    CudaDriver::Options o;
    o.activation = dt;
    CudaDriver d(o);
    std::vector<std::vector<float>> host;
    std::vector<CudaDriver::Tensor> dev;
    uint32_t seed = 100;
    for (int rep = 0; rep < 3; ++rep) {
      for (const auto& sh : shapes) {
        int64_t n = 1;
        for (int64_t v : sh) n *= v;
        std::mt19937 rng(seed++);
        std::uniform_real_distribution<float> u(0.5f, 2.0f);  // no zeros, one binade-ish
        std::vector<float> v(static_cast<size_t>(n));
        for (auto& x : v) x = u(rng);
        HostTensorRef h;
        h.data = v.data();
        h.dtype = DType::F32;
        h.rank = static_cast<int>(sh.size());
        for (size_t i = 0; i < sh.size(); ++i) h.shape[i] = sh[i];
        dev.push_back(d.load_weight(h, dt));
        host.push_back(std::move(v));
      }
    }
    d.reserve_scratch(64u << 20);
    const double tol = dt == DType::F32 ? 0.0 : dt == DType::F16 ? 1e-3 : 8e-3;
    for (size_t i = 0; i < dev.size(); ++i) {
      std::vector<float> back(host[i].size());
      d.to_host(dev[i], back.data());
      size_t bad = 0, first = 0;
      for (size_t k = 0; k < back.size(); ++k) {
        if (!(std::abs(back[k] - host[i][k]) <= tol * std::abs(host[i][k]))) {
          if (bad++ == 0) first = k;
        }
      }
      EXPECT_EQ(bad, 0u) << dtype_name(dt) << " weight " << i << " (" << back.size()
                         << " elements): first bad at " << first << ": " << back[first] << " vs "
                         << host[i][first];
    }
  }
}

// A BERT with Hugging Face's default initialization (N(0, 0.02) weights, zero biases, unit
// LayerNorm) in the MiniLM shape, written here; CUDA F16/BF16/F32 against the CPU driver, with
// 0, 1 and 6 layers and with zero or random biases, printing where they part.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, std::vector<int64_t>>>& specs,
                       const std::vector<std::vector<float>>& data) {
  std::string header = "{";
  size_t off = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    header +=
        (i ? "," : "") + std::string("\"") + specs[i].first + "\":{\"dtype\":\"F32\",\"shape\":[";
    for (size_t k = 0; k < specs[i].second.size(); ++k)
      header += (k ? "," : "") + std::to_string(specs[i].second[k]);
    header += "],\"data_offsets\":[" + std::to_string(off) + "," +
              std::to_string(off + data[i].size() * 4) + "]}";
    off += data[i].size() * 4;
  }
  header += "}";
  while (header.size() % 8) header += ' ';
  std::ofstream f(path, std::ios::binary);
  uint64_t n = header.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(header.data(), header.size());
  for (const auto& v : data) f.write(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

std::filesystem::path make_hf_init_bert(int layers, bool random_bias, uint32_t seed) {
  const int64_t V = 30522, H = 384, I = 1536, P = 512;
  auto dir = std::filesystem::temp_directory_path() /
             ("ripvec_hfbert_" + std::to_string(layers) + (random_bias ? "b" : "z"));
  std::filesystem::create_directories(dir);
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.02f);
  std::vector<std::pair<std::string, std::vector<int64_t>>> specs;
  std::vector<std::vector<float>> data;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, int kind) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> v(n);
    for (auto& x : v)
      x = kind == 0   ? nd(rng)
          : kind == 1 ? (random_bias ? nd(rng) : 0.f)
                      : 1.f + (random_bias ? nd(rng) : 0.f);
    specs.push_back({name, shape});
    data.push_back(std::move(v));
  };
  add("embeddings.word_embeddings.weight", {V, H}, 0);
  add("embeddings.position_embeddings.weight", {P, H}, 0);
  add("embeddings.token_type_embeddings.weight", {2, H}, 0);
  add("embeddings.LayerNorm.weight", {H}, 2);
  add("embeddings.LayerNorm.bias", {H}, 1);
  for (int l = 0; l < layers; ++l) {
    const std::string n = "encoder.layer." + std::to_string(l) + ".";
    for (const char* w : {"query", "key", "value"}) {
      add(n + "attention.self." + w + ".weight", {H, H}, 0);
      add(n + "attention.self." + w + ".bias", {H}, 1);
    }
    add(n + "attention.output.dense.weight", {H, H}, 0);
    add(n + "attention.output.dense.bias", {H}, 1);
    add(n + "attention.output.LayerNorm.weight", {H}, 2);
    add(n + "attention.output.LayerNorm.bias", {H}, 1);
    add(n + "intermediate.dense.weight", {I, H}, 0);
    add(n + "intermediate.dense.bias", {I}, 1);
    add(n + "output.dense.weight", {H, I}, 0);
    add(n + "output.dense.bias", {H}, 1);
    add(n + "output.LayerNorm.weight", {H}, 2);
    add(n + "output.LayerNorm.bias", {H}, 1);
  }
  write_safetensors(dir / "model.safetensors", specs, data);
  std::ofstream(dir / "config.json")
      << "{\"model_type\":\"bert\",\"vocab_size\":30522,\"hidden_size\":384,"
         "\"num_hidden_layers\":"
      << layers
      << ",\"num_attention_heads\":12,\"intermediate_size\":1536,"
         "\"max_position_embeddings\":512,\"hidden_act\":\"gelu\"}";
  return dir;
}

TEST(CudaModels, HfInitBertF16) {
  REQUIRE_GPU();
  for (int layers : {1, 2, 6}) {
    for (bool rb : {false, true}) {
      const auto dir = make_hf_init_bert(layers, rb, 5);
      ModelConfig mc = load_model_config(dir / "config.json");
      BatchInputs b = random_batch({8, 40, 200}, 30000, 9);
      const auto [h_cpu, p_cpu] = run_model<ClassicBert>(dir, mc.bert, b, false, DType::F32);
      for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
        const auto [h, p] = run_model<ClassicBert>(dir, mc.bert, b, true, dt);
        const Stats sh = compare_rows(h, h_cpu, 384), sp = compare_rows(p, p_cpu, 384);
        std::printf(
            "  hf-init bert layers %d %s bias %s: hidden min cos %.7f (max diff %.2e), "
            "pooled min cos %.7f\n",
            layers, rb ? "random" : "zero", dtype_name(dt), sh.min_cos, sh.max_diff, sp.min_cos);
        EXPECT_GE(sp.min_cos, dt == DType::F32 ? 0.99999 : 0.9995);
      }
      std::filesystem::remove_all(dir);
    }
  }
}

// Each op the ClassicBert forward uses, on the CUDA driver in F16 and BF16 against the same
// driver in F32 on the same (rounded) inputs at the MiniLM shapes: the per-op reduced-precision
// check of the conformance suite, and the locator for HfInitBertF16.
TEST(CudaOpsReducedPrecision, BertOpsAgreeWithF32) {
  REQUIRE_GPU();
  const int64_t T = 248, H = 384, I = 1536, V = 1000;
  std::mt19937 rng(17);
  std::normal_distribution<float> n1(0.f, 1.f), n02(0.f, 0.02f);
  auto vec = [&](int64_t n, std::normal_distribution<float>& d) {
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
  };
  const auto x = vec(T * H, n1), w = vec(3 * H * H, n02), b = vec(3 * H, n02), wi = vec(I * H, n02),
             xi = vec(T * I, n1), res = vec(T * H, n1), g = vec(H, n02), table = vec(V * H, n02),
             bi = vec(I, n02), xs = vec(T * H, n02), bh = vec(H, n02), beta = vec(H, n02);
  std::vector<int32_t> ids(T);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % V);
  for (DType dt : {DType::F16, DType::BF16}) {
    CudaDriver::Options o32, o16;
    o32.activation = DType::F32;
    o16.activation = dt;
    CudaDriver d32(o32), d16(o16);
    d32.reserve_scratch(256u << 20);
    d16.reserve_scratch(256u << 20);
    // Inputs rounded to dt first, so both runs see identical values.
    auto up = [&](CudaDriver& d, const std::vector<float>& v, std::initializer_list<int64_t> dims,
                  DType want) {
      auto f = d.upload(v.data(), DType::F32, dims);
      auto r = d.alloc(dt, dims);
      d.convert(r, f);
      if (want == dt) return r;
      auto back = d.alloc(DType::F32, dims);
      d.convert(back, r);
      return back;
    };
    auto down = [&](CudaDriver& d, const CudaDriver::Tensor& t) {
      std::vector<float> v(size_t(t.numel()));
      d.to_host(t, v.data());
      return v;
    };
    auto report = [&](const char* op, const std::vector<float>& a, const std::vector<float>& ref,
                      int64_t cols) {
      Stats s = compare_rows(a, ref, cols);
      double maxref = 0;
      for (float r : ref) maxref = std::max(maxref, double(std::abs(r)));
      std::printf("  %-6s %-22s min row cos %.7f  max|diff| %.3e (max|ref| %.3e)\n", dtype_name(dt),
                  op, s.min_cos, s.max_diff, maxref);
      EXPECT_GE(s.min_cos, dt == DType::F16 ? 0.9999 : 0.999) << op;
    };
    for (int pass = 0; pass < 1; ++pass) {
      // linear with bias: [T, H] x [3H, H]^T + b
      {
        std::vector<float> out[2];
        int k = 0;
        for (CudaDriver* d : {&d32, &d16}) {
          const DType t = d == &d32 ? DType::F32 : dt;
          auto X = up(*d, x, {T, H}, t), W = up(*d, w, {3 * H, H}, t), B = up(*d, b, {3 * H}, t);
          auto Y = d->alloc(t, {T, 3 * H});
          d->linear(Y, X, W, B);
          out[k++] = down(*d, Y);
        }
        report("linear+bias", out[1], out[0], 3 * H);
      }
      // intermediate: linear + bias + gelu
      {
        std::vector<float> out[2];
        int k = 0;
        for (CudaDriver* d : {&d32, &d16}) {
          const DType t = d == &d32 ? DType::F32 : dt;
          // The same bias for both drivers (bi; an earlier version drew a fresh one per
          // driver here, which made this check report a difference that was not there).
          auto X = up(*d, x, {T, H}, t), W = up(*d, wi, {I, H}, t), B = up(*d, bi, {I}, t);
          auto Y = d->alloc(t, {T, I});
          d->linear(Y, X, W, CudaDriver::Tensor{});
          d->fused_bias_gelu(Y, B);
          out[k++] = down(*d, Y);
        }
        report("linear,bias_gelu", out[1], out[0], I);
        // Where do they part? (index, F32 value, reduced-precision value)
        size_t worst = 0;
        for (size_t q = 0; q < out[0].size(); ++q)
          if (std::abs(out[0][q] - out[1][q]) > std::abs(out[0][worst] - out[1][worst])) worst = q;
        int bad = 0;
        for (size_t q = 0; q < out[0].size(); ++q) bad += std::abs(out[0][q] - out[1][q]) > 0.02f;
        std::printf("    worst at row %zu col %zu: f32 %.5f vs %.5f; %d elements off by > 0.02\n",
                    worst / I, worst % I, out[0][worst], out[1][worst], bad);
      }
      // intermediate without the activation, and the activation alone on identical input
      {
        std::vector<float> out[2], act[2];
        int k = 0;
        for (CudaDriver* d : {&d32, &d16}) {
          const DType t = d == &d32 ? DType::F32 : dt;
          auto X = up(*d, x, {T, H}, t), W = up(*d, wi, {I, H}, t);
          auto Y = d->alloc(t, {T, I});
          d->linear(Y, X, W, CudaDriver::Tensor{});
          out[k] = down(*d, Y);
          auto Z = up(*d, xi, {T, I}, t), B = up(*d, bi, {I}, t);
          d->fused_bias_gelu(Z, B);
          act[k++] = down(*d, Z);
        }
        report("linear N=1536", out[1], out[0], I);
        report("bias_gelu alone", act[1], act[0], I);
      }
      // output: [T, I] x [H, I]^T
      {
        std::vector<float> out[2];
        int k = 0;
        for (CudaDriver* d : {&d32, &d16}) {
          const DType t = d == &d32 ? DType::F32 : dt;
          auto X = up(*d, xi, {T, I}, t), W = up(*d, wi, {H, I}, t);
          auto Y = d->alloc(t, {T, H});
          d->linear(Y, X, W, CudaDriver::Tensor{});
          out[k++] = down(*d, Y);
        }
        report("linear K=1536", out[1], out[0], H);
      }
      // fused residual layer norm with bias, out aliasing the residual
      {
        std::vector<float> out[2];
        int k = 0;
        for (CudaDriver* d : {&d32, &d16}) {
          const DType t = d == &d32 ? DType::F32 : dt;
          auto X = up(*d, xs, {T, H}, t), R = up(*d, res, {T, H}, t);
          auto B = up(*d, bh, {H}, t), G = up(*d, g, {H}, t), Be = up(*d, beta, {H}, t);
          d->fused_residual_layernorm(R, X, B, R, G, Be, 1e-12f);
          out[k++] = down(*d, R);
        }
        report("residual_layernorm", out[1], out[0], H);
      }
      // embeddings: lookup + 2 adds + layer norm
      {
        std::vector<float> out[2];
        int k = 0;
        for (CudaDriver* d : {&d32, &d16}) {
          const DType t = d == &d32 ? DType::F32 : dt;
          auto Tb = up(*d, table, {V, H}, t);
          auto Id = d->upload(ids.data(), DType::I32, {T});
          auto Y = d->alloc(t, {T, H});
          d->embedding_lookup(Y, Tb, Id);
          d->add_embeddings(Y, Tb, Id);
          d->add_embeddings(Y, Tb, Id);
          auto G = up(*d, g, {H}, t);
          d->layer_norm(Y, Y, G, CudaDriver::Tensor{}, 1e-12f);
          out[k++] = down(*d, Y);
        }
        report("embeddings+layernorm", out[1], out[0], H);
      }
    }
  }
}

#else
TEST(CudaParity, NotBuilt) {
  GTEST_SKIP() << "built without RIPVEC_CUDA";
}
#endif

}  // namespace
}  // namespace ripvec
