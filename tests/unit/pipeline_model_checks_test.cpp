// Model/tokenizer consistency checked at load (issue 10, items 6 and 7): fixtures are copies of
// the tiny test model (tests/data/bert/tiny_bge_cls) modified in a temporary directory, so a
// mismatch that used to surface only on the first unlucky text now fails Embedder::load.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "arch/modern_bert.hpp"
#include "common/test_util.hpp"
#include "driver/cpu/cpu_driver.hpp"
#include "ripvec/embedder.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"
#include "ripvec/tokenizer.hpp"
#include "tokenizer/bpe_pretokenizer.hpp"

namespace ripvec {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_all(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

// A copy of the tiny BERT model, removed at scope exit.
class ModelCopy {
 public:
  ModelCopy() {
    static int counter = 0;
    dir_ = fs::temp_directory_path() /
           ("ripvec_model_checks_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::copy(test::test_data("bert/tiny_bge_cls"), dir_, fs::copy_options::recursive);
  }
  ~ModelCopy() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }
  json tokenizer() const { return json::parse(read_all(dir_ / "tokenizer.json")); }
  void set_tokenizer(const json& j) const { write_all(dir_ / "tokenizer.json", j.dump()); }

 private:
  fs::path dir_;
};

std::unique_ptr<Embedder> load(const fs::path& dir, WeightLoading weights = WeightLoading::AtLoad) {
  EmbedderOptions o;
  o.model = dir.string();
  o.device = Device::Cpu;
  o.resolve.allow_download = false;
  o.weights = weights;
  return Embedder::load(o);
}

// Runs `fn` and returns the ModelFormatError's message ("" and a failure when nothing throws).
template <class F>
std::string format_error(F&& fn) {
  try {
    fn();
  } catch (const ModelFormatError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no ModelFormatError";
  return {};
}

TEST(ModelChecks, UnmodifiedTinyModelLoadsAndEmbeds) {
  ModelCopy m;
  auto e = load(m.dir());
  const std::string texts[] = {"hello world", "\xF0\x9F\x98\x80 emoji"};
  auto v = e->embed(texts, InputKind::Raw);
  EXPECT_EQ(v.size(), 2 * e->dim());
}

// Issue: an unk_token missing from the vocabulary loaded fine, then indexing a tree holding one
// emoji failed entirely.
TEST(ModelChecks, UnkTokenMissingFromVocabFailsAtLoad) {
  ModelCopy m;
  json t = m.tokenizer();
  t["model"]["vocab"].erase("[UNK]");
  json added = json::array();
  for (const auto& a : t["added_tokens"])
    if (a["content"] != "[UNK]") added.push_back(a);
  t["added_tokens"] = added;
  m.set_tokenizer(t);
  const std::string msg = format_error([&] { load(m.dir()); });
  EXPECT_NE(msg.find("unk_token '[UNK]' is not in the vocabulary"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tokenizer.json"), std::string::npos) << msg;
}

// Issue: a vocabulary id beyond the model's vocab_size was printed by `tokenize` and failed only
// in `embed`.
TEST(ModelChecks, TokenIdBeyondVocabSizeFailsAtLoad) {
  for (const char* where : {"vocab", "added_tokens"}) {
    SCOPED_TRACE(where);
    ModelCopy m;
    json t = m.tokenizer();
    if (std::string(where) == "vocab") {
      t["model"]["vocab"]["zzzfar"] = 4096;
    } else {
      // HF gives an added token outside the vocabulary the next id, 512 here.
      t["added_tokens"].push_back({{"id", 700},
                                   {"content", "<extra>"},
                                   {"single_word", false},
                                   {"lstrip", false},
                                   {"rstrip", false},
                                   {"normalized", false},
                                   {"special", true}});
    }
    m.set_tokenizer(t);
    const std::string msg = format_error([&] { load(m.dir()); });
    EXPECT_NE(msg.find(std::string("token id ") +
                       (std::string(where) == "vocab" ? "4096 (\"zzzfar\")" : "512 (\"<extra>\")")),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("vocab_size 512"), std::string::npos) << msg;
    EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
  }
}

TEST(ModelChecks, PostProcessorSpecialBeyondVocabSizeFailsAtLoad) {
  ModelCopy m;
  json t = m.tokenizer();
  t["post_processor"]["special_tokens"]["[SEP]"]["ids"] = {9999};
  m.set_tokenizer(t);
  const std::string msg = format_error([&] { load(m.dir()); });
  EXPECT_NE(msg.find("token id 9999"), std::string::npos) << msg;
}

// Writes NaN into element 37 of the model's FFN up projection; returns the tensor's name.
std::string put_nan_in_a_weight(const ModelCopy& m) {
  std::string st = read_all(m.dir() / "model.safetensors");
  uint64_t hlen = 0;
  std::memcpy(&hlen, st.data(), 8);
  const json hdr = json::parse(st.substr(8, hlen));
  std::string name;
  for (auto it = hdr.begin(); it != hdr.end(); ++it)
    if (it.key().find("intermediate.dense.weight") != std::string::npos) name = it.key();
  if (name.empty()) throw std::runtime_error("no FFN up projection in the tiny model");
  const std::string dtype = hdr[name]["dtype"];
  if (dtype != "F32" && dtype != "F16") throw std::runtime_error("unexpected dtype " + dtype);
  const size_t esize = dtype == "F32" ? 4 : 2;
  const size_t off = 8 + hlen + hdr[name]["data_offsets"][0].get<size_t>() + esize * 37;
  const uint32_t nan32 = 0x7fc00000u;
  const uint16_t nan16 = 0x7e00;
  if (esize == 4)
    std::memcpy(st.data() + off, &nan32, 4);
  else
    std::memcpy(st.data() + off, &nan16, 2);
  write_all(m.dir() / "model.safetensors", st);
  return name;
}

// NaN in one weight of a real (tiny) model: Embedder::load names the tensor.
TEST(ModelChecks, NanWeightFailsAtLoadNamingTensor) {
  ModelCopy m;
  const std::string name = put_nan_in_a_weight(m);
  const std::string msg = format_error([&] { load(m.dir()); });
  EXPECT_NE(msg.find("\"" + name + "\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("non-finite"), std::string::npos) << msg;
  EXPECT_NE(msg.find("element 37"), std::string::npos) << msg;
}

// Polls Embedder::weights_ready() for up to 60 s.
bool becomes_ready(const Embedder& e) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!e.weights_ready()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// With the weights loaded in the background or on first use (the CLI's modes), the same error
// comes from the first embed, and again from every later one: nothing is ever embedded with NaN
// weights.
TEST(ModelChecks, NanWeightLoadedInBackgroundFailsEveryEmbedNamingTensor) {
  ModelCopy m;
  const std::string name = put_nan_in_a_weight(m);
  for (WeightLoading when : {WeightLoading::Background, WeightLoading::OnFirstUse}) {
    std::unique_ptr<Embedder> e = load(m.dir(), when);
    ASSERT_TRUE(e);
    // A failed background load still ends the wait (a caller polling weights_ready() before
    // its first embed must not poll forever).
    if (when == WeightLoading::Background) {
      EXPECT_TRUE(becomes_ready(*e));
    }
    const std::vector<std::string> texts = {"hello world"};
    for (int round = 0; round < 2; ++round) {
      const std::string msg = format_error([&] { e->embed(texts, InputKind::Document); });
      EXPECT_NE(msg.find("\"" + name + "\""), std::string::npos) << msg;
      EXPECT_NE(msg.find("element 37"), std::string::npos) << msg;
    }
  }
}

// Loaded at load(), in the background or on first use, the vectors are the same bits; an embedder
// destroyed before its weights are used waits for its loader.
TEST(ModelChecks, BackgroundLoadGivesTheSameVectors) {
  ModelCopy m;
  const std::vector<std::string> texts = {"hello world", "retry with exponential backoff", ""};
  for (WeightLoading when : {WeightLoading::Background, WeightLoading::OnFirstUse}) {
    auto now = load(m.dir());  // fresh: a driver packs its weights on their second use
    auto later = load(m.dir(), when);
    EXPECT_TRUE(now->weights_ready());
    if (when == WeightLoading::OnFirstUse)
      EXPECT_FALSE(later->weights_ready());  // nothing loads until the first embed
    else
      EXPECT_TRUE(becomes_ready(*later));  // the loader thread finishes on its own
    EXPECT_EQ(later->dim(), now->dim());
    EXPECT_EQ(later->device_name(), now->device_name());
    EXPECT_EQ(later->embed(texts, InputKind::Query), now->embed(texts, InputKind::Query));
    EXPECT_TRUE(later->weights_ready());
    auto unused = load(m.dir(), when);
    unused.reset();
  }
}

// Byte-level BPE: the unknown token matters only when some byte has no symbol.
json bpe_tokenizer(bool full_alphabet, const char* unk) {
  const auto& b2u = bpe_detail::byte_to_unicode();
  json vocab = json::object();
  int id = 0;
  for (int b = 0; b < 256; ++b)
    if (full_alphabet || (b >= 'a' && b <= 'z')) vocab[b2u[b]] = id++;
  json model = {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}};
  if (unk != nullptr) model["unk_token"] = unk;
  return {{"model", model},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
          {"added_tokens", json::array()}};
}

TEST(ModelChecks, BpeUnkMissingMattersOnlyWithUncoveredBytes) {
  // Partial alphabet, unk_token named but absent: "A" cannot be encoded.
  auto partial = Tokenizer::from_json(bpe_tokenizer(false, "<unk>").dump(), "partial.json");
  EXPECT_NE(partial->unk_problem().find("unk_token '<unk>'"), std::string::npos);
  const std::string msg = format_error([&] { partial->check_fits(1000, "partial.json", "c"); });
  EXPECT_NE(msg.find("partial.json"), std::string::npos) << msg;
  EXPECT_THROW(partial->encode("A"), InvalidArgument);  // what the check prevents
  // Full byte alphabet: every text encodes, the absent unk_token is harmless.
  auto full = Tokenizer::from_json(bpe_tokenizer(true, "<unk>").dump(), "full.json");
  EXPECT_EQ(full->unk_problem(), "");
  EXPECT_NO_THROW(full->check_fits(256, "full.json", "c"));
  EXPECT_NO_THROW(full->encode("A \xF0\x9F\x98\x80"));
  // ...but 256 ids do not fit a 200-row embedding table.
  const std::string small = format_error([&] { full->check_fits(200, "full.json", "cfg.json"); });
  EXPECT_NE(small.find("token id 255"), std::string::npos) << small;
  EXPECT_NE(small.find("vocab_size 200 in cfg.json"), std::string::npos) << small;
}

// Hostile probe 2026-12-06: a config.json claiming 10^7 layers sized (and touched) 5.7 GB of
// layer records before failing on the first missing layer, 3 * 10^7 took 17 GB; at 2 * 10^9 the
// process ran out of memory. The layer count is now checked against the weights first.
TEST(ModelChecks, HugeLayerCountFailsAtLoadWithoutSizingIt) {
  ModelCopy m;
  json c = json::parse(read_all(m.dir() / "config.json"));
  c["num_hidden_layers"] = 2000000000;
  write_all(m.dir() / "config.json", c.dump());
  const std::string msg = format_error([&] { load(m.dir()); });
  EXPECT_NE(msg.find("num_hidden_layers is 2000000000"), std::string::npos) << msg;
  EXPECT_NE(msg.find("encoder.layer.1999999999.attention.self.query.weight"), std::string::npos)
      << msg;
}

// The same for ModernBERT, and its other layer counts: global_attn_every_n_layers = INT_MAX is
// a valid config (layer 0 global, every other layer local) whose scratch sizing added 1 to it
// in int (signed overflow: UBSan stops this test on the old code).
TEST(ModelChecks, ModernBertHugeLayerCountsFailOrLoad) {
  const auto dir = test::test_data("modernbert/tiny");
  RIPVEC_REQUIRE_PATH(dir / "model.safetensors");
  const ModelConfig mc = load_model_config(dir / "config.json");
  SafeTensors st = SafeTensors::open(dir / "model.safetensors");
  CpuDriver d;
  ModernBertConfig huge = mc.modernbert;
  huge.num_hidden_layers = 2000000000;
  const std::string msg = format_error([&] { ModernBert<CpuDriver>(d, st, huge, ArchOptions{}); });
  EXPECT_NE(msg.find("layers.1999999999.attn.Wqkv.weight"), std::string::npos) << msg;

  ModernBertConfig every = mc.modernbert;
  every.global_attn_every_n_layers = std::numeric_limits<int>::max();
  every.local_attention = std::numeric_limits<int>::max() - 1;  // even: a half window of 2^30-1
  ModernBert<CpuDriver> model(d, st, every, ArchOptions{});
  const std::vector<std::vector<int32_t>> seqs = {{1, 5, 9, 2}, {1, 7, 2}};
  BatchInputs b = build_batch_inputs(seqs);
  model.ensure_scratch(BatchShape::of(b));
  auto db = d.upload_batch(b);
  auto pooled = model.pooled(db, model.forward(db), Pooling::Mean, true);
  std::vector<float> p(static_cast<size_t>(b.batch) * every.hidden_size);
  d.to_host(pooled, p.data());
  for (float v : p) EXPECT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace ripvec
