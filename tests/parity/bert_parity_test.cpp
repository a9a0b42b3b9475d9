// ClassicBert + pipeline against references we did not write:
//  * sentence-transformers goldens of the real all-MiniLM-L6-v2 (scripts/gen_bert_goldens.py),
//  * text-embeddings-inference's insta snapshots of the same model (tests/data/assets),
//  * sentence-transformers goldens of two small random BERTs (CLS pooling + query prompt, F16
//    weights; gelu_new, "bert." names, BF16 weights, mean pooling without normalization),
// plus batch invariance and bad-model inputs.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "arch/classic_bert.hpp"
#include "common/test_util.hpp"
#include "driver/cpu/cpu_driver.hpp"
#include "pipeline/batching.hpp"
#include "pipeline/encoder.hpp"
#include "ripvec/embedder.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"
#include "ripvec/tokenizer.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace ripvec {
namespace {

// ---- helpers ----------------------------------------------------------------------------

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<float> read_f32(const fs::path& p) {
  const std::string bytes = read_text(p);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

struct RowStats {
  double min_cos = 1.0;
  double max_diff = 0.0;
  double mean_cos = 1.0;
  size_t worst_row = 0;
};

double cosine(const float* a, const float* b, size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  if (aa == 0 && bb == 0) return 1.0;
  return ab / std::sqrt(aa * bb);
}

RowStats compare_rows(const std::vector<float>& got, const std::vector<float>& want, size_t dim) {
  RowStats s;
  EXPECT_EQ(got.size(), want.size());
  const size_t rows = std::min(got.size(), want.size()) / dim;
  double sum = 0;
  for (size_t r = 0; r < rows; ++r) {
    const double c = cosine(&got[r * dim], &want[r * dim], dim);
    sum += c;
    if (c < s.min_cos) {
      s.min_cos = c;
      s.worst_row = r;
    }
    for (size_t i = 0; i < dim; ++i)
      s.max_diff = std::max(s.max_diff, double(std::fabs(got[r * dim + i] - want[r * dim + i])));
  }
  if (rows > 0) s.mean_cos = sum / double(rows);
  return s;
}

std::vector<std::vector<int32_t>> ids_of(const json& j) {
  std::vector<std::vector<int32_t>> out;
  for (const auto& row : j) out.push_back(row.get<std::vector<int32_t>>());
  return out;
}

// One file of goldens: texts, and per input kind the HF token ids and the embeddings.
struct Goldens {
  std::vector<std::string> texts;
  size_t dim = 0;
  size_t max_seq = 0;
  struct Kind {
    std::string name, prompt;
    std::vector<std::vector<int32_t>> ids;
    std::vector<float> emb;  // [texts, dim]
  };
  std::vector<Kind> kinds;

  static Goldens load(const std::string& stem) {
    Goldens g;
    const json j = json::parse(read_text(test::test_data("bert/" + stem + ".json")));
    g.texts = j.at("texts").get<std::vector<std::string>>();
    g.dim = j.at("dim").get<size_t>();
    g.max_seq = j.at("max_seq_length").get<size_t>();
    const std::vector<float> all = read_f32(test::test_data("bert/" + stem + ".f32"));
    for (const auto& k : j.at("kinds")) {
      Kind kind;
      kind.name = k.at("kind").get<std::string>();
      kind.prompt = k.at("prompt").get<std::string>();
      kind.ids = ids_of(k.at("ids"));
      const size_t off = k.at("row_offset").get<size_t>() * g.dim;
      kind.emb.assign(all.begin() + off, all.begin() + off + g.texts.size() * g.dim);
      g.kinds.push_back(std::move(kind));
    }
    return g;
  }
};

EmbedderOptions local_options(const fs::path& dir) {
  EmbedderOptions o;
  o.model = dir.string();
  o.device = Device::Cpu;
  // Exact FP32: Auto is INT8 on AVX-512 VNNI CPUs, and these bounds are FP32's.
  o.precision = Precision::F32;
  o.resolve.allow_download = false;
  o.resolve.progress = false;
  return o;
}

InputKind kind_of(const std::string& name) {
  if (name == "query") return InputKind::Query;
  if (name == "document") return InputKind::Document;
  return InputKind::Raw;
}

// Compares ids first (a tokenizer difference is reported as such), then the embeddings of the
// texts through the whole Embedder, then the embeddings of the golden ids (model alone).
void check_goldens(Embedder& e, const Goldens& g, double min_cos, double max_diff) {
  ASSERT_EQ(e.dim(), g.dim);
  EXPECT_EQ(e.max_seq_length(), g.max_seq);
  for (const auto& k : g.kinds) {
    SCOPED_TRACE("kind " + k.name);
    EXPECT_EQ(e.prompt(kind_of(k.name)), k.prompt);
    size_t id_mismatch = 0;
    for (size_t i = 0; i < g.texts.size(); ++i) {
      const Encoding enc = e.tokenizer().encode(k.prompt + g.texts[i], true, e.max_seq_length());
      if (enc.ids != k.ids[i]) {
        if (id_mismatch++ < 3) ADD_FAILURE() << "token ids differ for text " << i;
      }
    }
    EXPECT_EQ(id_mismatch, 0u);

    const auto got = e.embed(g.texts, kind_of(k.name));
    const RowStats s = compare_rows(got, k.emb, g.dim);
    std::printf(
        "[%s] %zu texts end-to-end: min cosine %.9f (1 - cos = %.2g, text %zu), mean %.9f, "
        "max |diff| %.3g\n",
        k.name.c_str(), g.texts.size(), s.min_cos, 1.0 - s.min_cos, s.worst_row, s.mean_cos,
        s.max_diff);
    EXPECT_GE(s.min_cos, min_cos) << "worst text " << s.worst_row << ": "
                                  << g.texts[s.worst_row].substr(0, 80);
    EXPECT_LE(s.max_diff, max_diff);

    if (id_mismatch != 0) {
      // Tells a model bug from a tokenizer bug.
      const auto from_ids = e.embed_tokens(k.ids);
      const RowStats m = compare_rows(from_ids, k.emb, g.dim);
      std::printf("[%s] from golden ids: min cosine %.9f, max |diff| %.3g\n", k.name.c_str(),
                  m.min_cos, m.max_diff);
      EXPECT_GE(m.min_cos, min_cos);
      EXPECT_LE(m.max_diff, max_diff);
    }
  }
}

fs::path minilm_dir() {
  return test::default_model_dir();
}

// ---- the real default model -------------------------------------------------------------

TEST(BertParity, MiniLmMatchesSentenceTransformers) {
  const fs::path dir = minilm_dir();
  RIPVEC_REQUIRE_PATH(dir / "model.safetensors");
  auto e = Embedder::load(local_options(dir));
  EXPECT_EQ(e->device_name(), "cpu");
  check_goldens(*e, Goldens::load("minilm_goldens"), 0.99999, 1e-4);
}

// Precision::Int8 (dynamically quantized linear layers, the CPU's widest INT8 kernels, scheme
// g32r4 of cpu_int8_gemm.hpp) and Precision::BF16 (linear layers on BF16-rounded operands with
// FP32 sums: the emulated kernel here, AMX where the CPU has it, the same products summed in
// another order) against the FP32 sentence-transformers goldens: issue 13's bar, cosine >=
// 0.999 for every text (all INT8 ISAs compute the same bits, so the AVX2 or scalar run here
// stands for the VNNI one). Measured: INT8 min 0.99954, BF16 min 0.99995.
void minilm_cosine_floor(Precision precision, const char* device) {
  const fs::path dir = minilm_dir();
  RIPVEC_REQUIRE_PATH(dir / "model.safetensors");
  EmbedderOptions o = local_options(dir);
  o.precision = precision;
  auto e = Embedder::load(o);
  EXPECT_EQ(e->device_name(), device);
  check_goldens(*e, Goldens::load("minilm_goldens"), 0.999, 0.01);
}

TEST(BertParity, MiniLmInt8CosineFloor) {
  minilm_cosine_floor(Precision::Int8, "cpu (int8)");
}

TEST(BertParity, MiniLmBf16CosineFloor) {
  minilm_cosine_floor(Precision::BF16, "cpu (bf16)");
}

// A text's vector does not depend on its neighbours in a batch (FP32, and INT8, whose
// activation scales and outliers are per row).
void same_text_alone_or_in_mixed_batch(Precision precision) {
  const fs::path dir = minilm_dir();
  RIPVEC_REQUIRE_PATH(dir / "model.safetensors");
  EmbedderOptions opts = local_options(dir);
  opts.precision = precision;
  auto e = Embedder::load(opts);
  const Goldens g = Goldens::load("minilm_goldens");
  // A mixed batch: short and long texts together, so each runs beside padding-sized
  // neighbours; three probes of different lengths.
  std::vector<std::string> mixed(g.texts.begin(), g.texts.begin() + 60);
  const size_t probes[] = {2, 30, 55};
  const auto all = e->embed(mixed, InputKind::Raw);
  for (size_t p : probes) {
    const auto alone = e->embed(std::span(&mixed[p], 1), InputKind::Raw);
    const double c = cosine(alone.data(), &all[p * e->dim()], e->dim());
    EXPECT_GE(c, 0.999999) << "text " << p;
  }
  // A budget so small that every text is its own batch gives the same vectors too.
  opts.max_batch_tokens = 1;
  auto single = Embedder::load(opts);
  const auto one_by_one = single->embed(mixed, InputKind::Raw);
  const RowStats s = compare_rows(one_by_one, all, e->dim());
  EXPECT_GE(s.min_cos, 0.999999);
}

TEST(BertParity, SameTextAloneOrInMixedBatch) {
  same_text_alone_or_in_mixed_batch(Precision::F32);
}

TEST(BertParity, SameTextAloneOrInMixedBatchInt8) {
  same_text_alone_or_in_mixed_batch(Precision::Int8);
}

TEST(BertParity, SameTextAloneOrInMixedBatchBf16) {
  same_text_alone_or_in_mixed_batch(Precision::BF16);
}

TEST(BertParity, EmptyAndWhitespaceTexts) {
  const fs::path dir = minilm_dir();
  RIPVEC_REQUIRE_PATH(dir / "model.safetensors");
  auto e = Embedder::load(local_options(dir));
  std::vector<std::string> texts{"", " ", "\n\t"};
  const auto v = e->embed(texts, InputKind::Raw);
  ASSERT_EQ(v.size(), 3 * e->dim());
  for (size_t r = 0; r < 3; ++r) {
    double n = 0;
    for (size_t i = 0; i < e->dim(); ++i) n += double(v[r * e->dim() + i]) * v[r * e->dim() + i];
    EXPECT_NEAR(std::sqrt(n), 1.0, 1e-5);
  }
  EXPECT_TRUE(e->embed({}, InputKind::Raw).empty());
}

// ---- text-embeddings-inference snapshots --------------------------------------------------

// insta YAML of a list of float lists: "- - v" opens a row, "  - v" continues it.
std::vector<std::vector<float>> parse_snap(const fs::path& p) {
  std::istringstream in(read_text(p));
  std::string line;
  int dashes = 0;
  std::vector<std::vector<float>> rows;
  while (std::getline(in, line)) {
    if (line == "---") {
      ++dashes;
      continue;
    }
    if (dashes < 2) continue;
    if (line.rfind("- - ", 0) == 0) {
      rows.emplace_back();
      rows.back().push_back(std::stof(line.substr(4)));
    } else if (line.rfind("  - ", 0) == 0) {
      rows.back().push_back(std::stof(line.substr(4)));
    }
  }
  return rows;
}

class TeiSnapshots : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = minilm_dir();
    RIPVEC_REQUIRE_PATH(dir_ / "model.safetensors");
    snaps_ = test::asset("reference-embeddings/all-minilm-l6-v2");
    RIPVEC_REQUIRE_PATH(snaps_ / "test_bert__bert_single.snap");
    tok_ = Tokenizer::from_file(dir_ / "tokenizer.json");
    cfg_ = load_model_config(dir_ / "config.json");
  }

  // Runs a batch of texts through ClassicBert<CpuDriver> with the given pooling.
  std::unique_ptr<Encoder> encoder(Pooling pooling) {
    ArchOptions opts;
    opts.limits = worst_case_shape(BatchLimits{}, 64);
    return std::make_unique<ArchEncoder<CpuDriver, ClassicBert<CpuDriver>>>(
        std::make_unique<CpuDriver>(), SafeTensors::open(dir_ / "model.safetensors"), cfg_.bert,
        opts, PoolingSpec{pooling, false});
  }
  BatchInputs batch(const std::vector<std::string>& texts) {
    std::vector<std::vector<int32_t>> ids;
    for (const auto& t : texts) ids.push_back(tok_->encode(t).ids);
    return build_batch_inputs(ids);
  }
  void expect_match(const std::string& snap, const std::vector<float>& got, size_t dim) {
    const auto want = parse_snap(snaps_ / snap);
    ASSERT_EQ(want.size() * dim, got.size()) << snap;
    std::vector<float> flat;
    for (const auto& r : want) {
      ASSERT_EQ(r.size(), dim);
      flat.insert(flat.end(), r.begin(), r.end());
    }
    const RowStats s = compare_rows(got, flat, dim);
    std::printf("%s: %zu rows, min cosine %.7f, max |diff| %.3g\n", snap.c_str(), want.size(),
                s.min_cos, s.max_diff);
    EXPECT_GT(s.min_cos, 0.999) << snap << " row " << s.worst_row;
  }

  fs::path dir_, snaps_;
  std::unique_ptr<Tokenizer> tok_;
  ModelConfig cfg_;
  const std::string what_ = "What is Deep Learning?";
  const std::string deep_ = "Deep Learning is...";
};

TEST_F(TeiSnapshots, MeanPooled) {
  auto enc = encoder(Pooling::Mean);
  const size_t H = enc->dim();
  std::vector<float> out(3 * H);
  enc->embed(batch({what_}), out.data());
  expect_match("test_bert__bert_single.snap", std::vector<float>(out.begin(), out.begin() + H), H);
  enc->embed(batch({what_, deep_, what_}), out.data());
  expect_match("test_bert__bert_batch.snap", out, H);
}

TEST_F(TeiSnapshots, ClsPooled) {
  auto enc = encoder(Pooling::Cls);
  const size_t H = enc->dim();
  std::vector<float> out(3 * H);
  enc->embed(batch({what_}), out.data());
  expect_match("test_bert__bert_single_pooled.snap",
               std::vector<float>(out.begin(), out.begin() + H), H);
  enc->embed(batch({what_, deep_, what_}), out.data());
  expect_match("test_bert__bert_batch_pooled.snap", out, H);
}

TEST_F(TeiSnapshots, RawHiddenStates) {
  auto enc = encoder(Pooling::Mean);
  const size_t H = enc->dim();
  const BatchInputs one = batch({what_});
  std::vector<float> out(one.total_tokens * H);
  enc->hidden_states(one, out.data());
  expect_match("test_bert__bert_single_raw.snap", out, H);
  const BatchInputs three = batch({what_, deep_, what_});
  EXPECT_EQ(three.total_tokens, 22);
  out.assign(three.total_tokens * H, 0.0f);
  enc->hidden_states(three, out.data());
  expect_match("test_bert__bert_batch_raw.snap", out, H);
}

// The arena is reserved once at load for the worst-case batch and never grows while batches
// that respect the limits run; the estimate is an upper bound of what forward() takes.
TEST_F(TeiSnapshots, ScratchReservedOnceAndSufficient) {
  BatchLimits lim;
  lim.max_tokens = 1024;
  ArchOptions opts;
  opts.limits = worst_case_shape(lim, 256);
  ArchEncoder<CpuDriver, ClassicBert<CpuDriver>> enc(
      std::make_unique<CpuDriver>(), SafeTensors::open(dir_ / "model.safetensors"), cfg_.bert, opts,
      PoolingSpec{Pooling::Mean, true});
  const size_t reserved = enc.driver().scratch_capacity();
  EXPECT_GE(reserved, enc.model().scratch_bytes(opts.limits));
  const Goldens g = Goldens::load("minilm_goldens");
  std::vector<std::vector<int32_t>> ids;
  for (size_t i = 0; i < 40; ++i) ids.push_back(tok_->encode(g.texts[i], true, 256).ids);
  ids.push_back(tok_->encode(g.texts.back(), true, 256).ids);  // a full 256-token sequence
  run_batches(ids, {}, lim, enc.dim(),
              [&](const BatchInputs& b, float* out) { enc.embed(b, out); });
  EXPECT_EQ(enc.driver().scratch_capacity(), reserved);
  EXPECT_LE(enc.driver().scratch_high_water(), reserved);
  std::printf("scratch: reserved %zu bytes, high water %zu bytes\n", reserved,
              enc.driver().scratch_high_water());
}

// ---- small random models (sentence-transformers goldens) ----------------------------------

TEST(BertParity, TinyBgeLayoutClsPoolingWithQueryPrompt) {
  auto e = Embedder::load(local_options(test::test_data("bert/tiny_bge_cls")));
  check_goldens(*e, Goldens::load("tiny_bge_cls_goldens"), 0.99999, 1e-4);
}

TEST(BertParity, TinyGeluNewBertPrefixMeanNoNormalize) {
  auto e = Embedder::load(local_options(test::test_data("bert/tiny_gelu_new")));
  check_goldens(*e, Goldens::load("tiny_gelu_new_goldens"), 0.99999, 1e-4);
}

// INT8 (and BF16) on the small random BERTs (F16 and BF16 weights, converted at load, then
// quantized or rounded): against the sentence-transformers FP32 goldens. Measured INT8: min
// cosine 0.99989 (CLS, query prompt, max |diff| 0.005) and 0.99992 (mean pooling without
// normalization: max |diff| 0.046 on vectors of norm ~9); BF16: 0.999985 and 0.999992.
void tiny_berts_against_f32_goldens(Precision precision) {
  const struct {
    const char* name;
    double max_diff;
  } models[] = {{"tiny_bge_cls", 0.01}, {"tiny_gelu_new", 0.1}};
  for (const auto& m : models) {
    SCOPED_TRACE(m.name);
    EmbedderOptions o = local_options(test::test_data(std::string("bert/") + m.name));
    o.precision = precision;
    auto e = Embedder::load(o);
    check_goldens(*e, Goldens::load(std::string(m.name) + "_goldens"), 0.9995, m.max_diff);
  }
}

TEST(BertParity, TinyBertsInt8) {
  tiny_berts_against_f32_goldens(Precision::Int8);
}

TEST(BertParity, TinyBertsBf16) {
  tiny_berts_against_f32_goldens(Precision::BF16);
}

// Precision::Auto on the CPU: BF16 documents where the CPU runs AMX-BF16, else INT8 documents
// exactly where the CPU's INT8 kernel beats its FP32 one (AVX2 without AVX-512, AVX-512 VNNI),
// FP32 elsewhere; F32 always exact FP32. The choice shows in device_name() and, for INT8 and
// BF16, in vector_config() (the index identity). Under Auto, queries are FP32 even where
// documents are not (a one-query process never converts the weights).
TEST(BertParity, AutoPrecisionPicksReducedOnlyWhereFaster) {
  const fs::path dir = test::test_data("bert/tiny_bge_cls");
  EmbedderOptions o = local_options(dir);
  o.precision = Precision::Auto;
  auto a = Embedder::load(o);
  o.precision = Precision::F32;
  auto f = Embedder::load(o);
  const bool amx = cpu::bf16_faster_than_f32();
  const bool fast = amx || cpu::int8_faster_than_f32();
  o.precision = amx ? Precision::BF16 : Precision::Int8;
  auto q = Embedder::load(o);
  const std::string reduced = amx ? "cpu (bf16)" : "cpu (int8)";
  EXPECT_EQ(a->vector_config(), fast ? q->vector_config() : f->vector_config());
  EXPECT_EQ(a->device_name(), fast ? reduced : "cpu");
  EXPECT_EQ(f->device_name(), "cpu");
  EXPECT_EQ(q->device_name(), reduced);
  EXPECT_NE(f->vector_config(), q->vector_config());
  // Reduced precision takes the BF16 attention exactly where it pays, and says so in the
  // identity; FP32 never does.
  EXPECT_EQ(q->vector_config().find(";attention=bf16") != std::string::npos,
            cpu::attention_bf16_pays());
  EXPECT_EQ(f->vector_config().find("attention"), std::string::npos);
  const std::vector<std::string> t{"int8 or not"};
  const auto va = a->embed(t, InputKind::Raw), vf = f->embed(t, InputKind::Raw),
             vq = q->embed(t, InputKind::Raw);
  EXPECT_EQ(va, fast ? vq : vf);
  EXPECT_NE(vf, vq);
  // Queries (tiny_bge_cls has a query prompt): Auto's are FP32's, an explicit Int8's or BF16's
  // are not.
  // FP32 against FP32 may differ in the last bits (a weight is packed on its second product).
  const std::vector<std::string> queries{"where is the cache flushed", "int8 or not"};
  const auto qa = a->embed(queries, InputKind::Query), qf = f->embed(queries, InputKind::Query),
             qq = q->embed(queries, InputKind::Query);
  const size_t dim = a->dim();
  for (size_t i = 0; i < queries.size(); ++i) {
    SCOPED_TRACE("query " + std::to_string(i));
    const double auto_vs_f32 = cosine(&qa[i * dim], &qf[i * dim], dim);
    const double int8_vs_f32 = cosine(&qq[i * dim], &qf[i * dim], dim);
    EXPECT_GE(auto_vs_f32, 0.9999999);
    EXPECT_NE(std::vector<float>(qq.begin() + i * dim, qq.begin() + (i + 1) * dim),
              std::vector<float>(qf.begin() + i * dim, qf.begin() + (i + 1) * dim));
    EXPECT_LT(1.0 - auto_vs_f32, (1.0 - int8_vs_f32) / 10)
        << "Auto's query is as far from FP32 as a reduced-precision one";
  }
}

// ---- bad models and inputs ---------------------------------------------------------------

class BadModel : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = test::test_data("bert/tiny_bge_cls");
    dir_ = fs::temp_directory_path() /
           ("ripvec_bert_bad_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::copy(src_, dir_, fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void edit_config(const std::function<void(json&)>& fn) {
    json j = json::parse(read_text(dir_ / "config.json"));
    fn(j);
    std::ofstream(dir_ / "config.json") << j.dump(2);
  }
  // Rewrites model.safetensors keeping the tensors `keep` accepts.
  void rewrite_weights(const std::function<bool(const std::string&)>& keep) {
    std::vector<std::pair<std::string, std::string>> tensors;  // name, bytes
    json header = json::object();
    {
      const SafeTensors st = SafeTensors::open(src_ / "model.safetensors");
      size_t off = 0;
      for (const auto& name : st.names()) {
        if (!keep(name)) continue;
        const TensorInfo& t = st.get(name);
        header[name] = {{"dtype", t.dtype == DType::F16 ? "F16" : "F32"},
                        {"shape", t.shape},
                        {"data_offsets", {off, off + t.nbytes}}};
        off += t.nbytes;
        tensors.emplace_back(name, std::string(reinterpret_cast<const char*>(t.data), t.nbytes));
      }
    }
    const std::string h = header.dump();
    std::ofstream f(dir_ / "model.safetensors", std::ios::binary | std::ios::trunc);
    const uint64_t n = h.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << h;
    for (const auto& [name, bytes] : tensors) f << bytes;
  }
  // Loads and returns the error message of the expected exception type ("" if none thrown).
  template <class E>
  std::string load_error() {
    try {
      Embedder::load(local_options(dir_));
    } catch (const E& e) {
      return e.what();
    }
    ADD_FAILURE() << "no exception of the expected type";
    return "";
  }

  fs::path src_, dir_;
};

TEST_F(BadModel, ConfigSizeDisagreesWithWeights) {
  edit_config([](json& j) { j["intermediate_size"] = 384; });
  const std::string msg = load_error<ModelFormatError>();
  EXPECT_NE(msg.find("encoder.layer.0.intermediate.dense.weight"), std::string::npos) << msg;
}

TEST_F(BadModel, VocabSizeDisagreesWithWeights) {
  edit_config([](json& j) { j["vocab_size"] = 1000; });
  const std::string msg = load_error<ModelFormatError>();
  EXPECT_NE(msg.find("embeddings.word_embeddings.weight"), std::string::npos) << msg;
}

TEST_F(BadModel, MissingTensorIsNamed) {
  rewrite_weights([](const std::string& n) { return n != "encoder.layer.1.output.dense.bias"; });
  const std::string msg = load_error<ModelFormatError>();
  EXPECT_NE(msg.find("encoder.layer.1.output.dense.bias"), std::string::npos) << msg;
}

TEST_F(BadModel, MissingQkvPartIsNamed) {
  rewrite_weights(
      [](const std::string& n) { return n != "encoder.layer.0.attention.self.value.weight"; });
  const std::string msg = load_error<ModelFormatError>();
  EXPECT_NE(msg.find("encoder.layer.0.attention.self.value.weight"), std::string::npos) << msg;
}

TEST_F(BadModel, NoEmbeddingsUnderAnyPrefix) {
  rewrite_weights(
      [](const std::string& n) { return n.find("word_embeddings") == std::string::npos; });
  const std::string msg = load_error<ModelFormatError>();
  EXPECT_NE(msg.find("bert.embeddings.word_embeddings.weight"), std::string::npos) << msg;
}

TEST_F(BadModel, MoreLayersThanConfig) {
  edit_config([](json& j) { j["num_hidden_layers"] = 1; });
  const std::string msg = load_error<ModelFormatError>();
  EXPECT_NE(msg.find("encoder.layer.1."), std::string::npos) << msg;
}

TEST_F(BadModel, UnknownActivation) {
  edit_config([](json& j) { j["hidden_act"] = "swishy"; });
  const std::string msg = load_error<ModelFormatError>();
  EXPECT_NE(msg.find("swishy"), std::string::npos) << msg;
}

TEST_F(BadModel, HeadsDoNotDivideHidden) {
  edit_config([](json& j) { j["num_attention_heads"] = 3; });
  const std::string msg = load_error<ModelFormatError>();
  EXPECT_NE(msg.find("num_attention_heads"), std::string::npos) << msg;
}

TEST_F(BadModel, ReluNeedsADriverKernel) {
  edit_config([](json& j) { j["hidden_act"] = "relu"; });
  if constexpr (has_relu<CpuDriver>) {
    EXPECT_NO_THROW(Embedder::load(local_options(dir_)));
  } else {
    const std::string msg = load_error<UnsupportedError>();
    EXPECT_NE(msg.find("relu"), std::string::npos) << msg;
  }
}

TEST_F(BadModel, PrecisionTheDriverLacks) {
  auto opts = local_options(dir_);
  opts.precision = Precision::F16;
  if (CpuDriver().supports_dtype(DType::F16))
    EXPECT_NO_THROW(Embedder::load(opts));
  else
    EXPECT_THROW(Embedder::load(opts), UnsupportedError);
}

TEST(BertInputs, BadTokenSequences) {
  auto e = Embedder::load(local_options(test::test_data("bert/tiny_bge_cls")));
  std::vector<std::vector<int32_t>> out_of_vocab{{2, 600, 3}};
  EXPECT_THROW(e->embed_tokens(out_of_vocab), InvalidArgument);
  std::vector<std::vector<int32_t>> negative{{2, -1, 3}};
  EXPECT_THROW(e->embed_tokens(negative), InvalidArgument);
  std::vector<std::vector<int32_t>> empty{{2, 5, 3}, {}};
  EXPECT_THROW(e->embed_tokens(empty), InvalidArgument);
  std::vector<std::vector<int32_t>> too_long{std::vector<int32_t>(e->max_seq_length() + 1, 7)};
  EXPECT_THROW(e->embed_tokens(too_long), InvalidArgument);
  // The engine stays usable after refusing input.
  std::vector<std::vector<int32_t>> ok{{2, 5, 3}};
  EXPECT_EQ(e->embed_tokens(ok).size(), e->dim());
}

TEST(BertInputs, CudaRequestWithoutCudaBuild) {
#ifndef RIPVEC_HAVE_CUDA
  auto opts = local_options(test::test_data("bert/tiny_bge_cls"));
  opts.device = Device::Cuda;
  EXPECT_THROW(Embedder::load(opts), DeviceError);
#else
  GTEST_SKIP() << "built with CUDA";
#endif
}

TEST(BertInputs, MaxSeqLengthOptionClampsToPositions) {
  auto opts = local_options(test::test_data("bert/tiny_gelu_new"));
  EXPECT_EQ(Embedder::load(opts)->max_seq_length(), 48u);  // sentence_bert_config.json
  opts.max_seq_length = 16;
  EXPECT_EQ(Embedder::load(opts)->max_seq_length(), 16u);
  opts.max_seq_length = 100000;
  EXPECT_EQ(Embedder::load(opts)->max_seq_length(), 64u);  // max_position_embeddings
}

}  // namespace
}  // namespace ripvec
