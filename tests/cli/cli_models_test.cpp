// `ripvec models`: lists the complete models of a Hugging Face cache (refs/main first) and the
// model directories the indexes were built with, describes each from its own files (dim, max
// tokens, pooling), and recommends one. The cache is built in a temp dir from the tiny BGE-style
// fixture (tests/data/bert/tiny_bge_cls: CLS pooling, max_seq_length 128).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli_runner.hpp"
#include "common/test_util.hpp"

namespace ripvec::test {
namespace {

namespace fs = std::filesystem;

// Puts the fixture into CACHE/models--ORG--NAME/snapshots/REV (refs/main -> REV).
void install(const fs::path& cache, const std::string& id, const std::string& rev,
             bool with_ref = true) {
  std::string folder = "models--" + id;
  folder.replace(folder.find('/'), 1, "--");
  const fs::path snap = cache / folder / "snapshots" / rev;
  fs::create_directories(snap);
  fs::copy(test_data("bert/tiny_bge_cls"), snap, fs::copy_options::recursive);
  if (with_ref) {
    fs::create_directories(cache / folder / "refs");
    std::ofstream(cache / folder / "refs" / "main") << rev;
  }
}

CliResult models(const TempDir& t, std::vector<std::string> extra = {}) {
  CliRun r;
  r.args = {"models", "--cache-dir", (t / "idx").string()};
  r.args.insert(r.args.end(), extra.begin(), extra.end());
  r.env["HF_HUB_CACHE"] = (t / "hub").string();
  return run_cli(r);
}

// The text row of model `id` ("" and a failure when absent).
std::string row_of(const CliResult& r, const std::string& id) {
  const size_t at = r.out.find(id + " ");
  if (at == std::string::npos) {
    ADD_FAILURE() << "no row for " << id << " in:\n" << r.out;
    return {};
  }
  return r.out.substr(at, r.out.find('\n', at) - at);
}

TEST(CliModels, ListsCompleteModelsAndRecommendsByPreference) {
  TempDir t;
  install(t / "hub", "BAAI/bge-small-en-v1.5", "aaaa");
  install(t / "hub", "sentence-transformers/all-MiniLM-L6-v2", "bbbb", /*with_ref=*/false);
  // Incomplete: no weights. Not listed.
  fs::create_directories(t / "hub/models--x--partial/snapshots/cccc");
  std::ofstream(t / "hub/models--x--partial/snapshots/cccc/config.json") << "{}";
  // Complete but not a model ripvec can run: listed with the reason, never recommended.
  install(t / "hub", "a/broken", "dddd");
  std::ofstream(t / "hub/models--a--broken/snapshots/dddd/config.json")
      << R"({"model_type":"gpt2"})";

  const CliResult r = models(t);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("BAAI/bge-small-en-v1.5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sentence-transformers/all-MiniLM-L6-v2"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("x/partial"), std::string::npos) << r.out;
  const size_t broken = r.out.find("a/broken ");
  ASSERT_NE(broken, std::string::npos) << r.out;
  const std::string line = r.out.substr(broken, r.out.find('\n', broken) - broken);
  EXPECT_NE(line.find("cannot load:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("recommended: BAAI/bge-small-en-v1.5\n"), std::string::npos) << r.out;

  const CliResult j = models(t, {"--json"});
  ASSERT_EQ(j.status, 0) << j.err;
  std::istringstream lines(j.out);
  int n = 0, recommended = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    const auto o = nlohmann::json::parse(line);
    if (o["id"] == "a/broken") {
      EXPECT_TRUE(o.contains("error"));
      continue;
    }
    EXPECT_EQ(o["dim"], 128);         // config.json hidden_size
    EXPECT_EQ(o["max_tokens"], 128);  // sentence_bert_config.json max_seq_length
    EXPECT_EQ(o["pooling"], "cls");   // 1_Pooling/config.json
    EXPECT_EQ(o["source"], "hf-cache");
    EXPECT_EQ(o["bytes"], fs::file_size(test_data("bert/tiny_bge_cls/model.safetensors")));
    if (o["recommended"] == true) {
      ++recommended;
      EXPECT_EQ(o["id"], "BAAI/bge-small-en-v1.5");
      EXPECT_FALSE(o["why"].get<std::string>().empty());
    }
  }
  EXPECT_EQ(n, 3);
  EXPECT_EQ(recommended, 1);
}

// Known since the 2026-12-05 probe: a model whose config.json is another size's than its
// weights (copied over, edited) was listed as fine and recommended; it failed only when
// loaded. The weights' header must hold the config's [vocab_size, hidden_size] table; a
// truncated weights file is named too.
TEST(CliModels, ConfigThatDoesNotMatchTheWeightsIsNotRecommended) {
  TempDir t;
  install(t / "hub", "BAAI/bge-small-en-v1.5", "aaaa");
  auto cfg = nlohmann::json::parse(slurp(test_data("bert/tiny_bge_cls/config.json")));
  cfg["hidden_size"] = cfg["hidden_size"].get<int>() * 2;
  std::ofstream(t / "hub/models--BAAI--bge-small-en-v1.5/snapshots/aaaa/config.json") << cfg.dump();
  install(t / "hub", "thenlper/gte-small", "bbbb");
  fs::resize_file(t / "hub/models--thenlper--gte-small/snapshots/bbbb/model.safetensors", 100);
  install(t / "hub", "intfloat/e5-small-v2", "cccc");  // intact: the one recommended

  const CliResult r = models(t);
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* id : {"BAAI/bge-small-en-v1.5", "thenlper/gte-small"})
    EXPECT_NE(row_of(r, id).find("cannot load:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("does not match config.json"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("recommended: intfloat/e5-small-v2\n"), std::string::npos) << r.out;
}

// Hostile probe 2026-12-07: a model whose tokenizer cannot load (a WordPiece vocabulary without
// its [UNK]) was listed as usable and recommended; `ripvec embed` with it then failed.
TEST(CliModels, TokenizerThatCannotLoadIsNotRecommended) {
  TempDir t;
  install(t / "hub", "BAAI/bge-small-en-v1.5", "aaaa");
  const fs::path tok = t / "hub/models--BAAI--bge-small-en-v1.5/snapshots/aaaa/tokenizer.json";
  auto j = nlohmann::json::parse(slurp(tok));
  j["model"]["vocab"] = nlohmann::json::object({{"a", 0}, {"b", 1}});
  std::ofstream(tok, std::ios::trunc) << j.dump();
  install(t / "hub", "intfloat/e5-small-v2", "cccc");  // intact: the one recommended
  const CliResult r = models(t);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(row_of(r, "BAAI/bge-small-en-v1.5").find("cannot load:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("recommended: intfloat/e5-small-v2\n"), std::string::npos) << r.out;
}

// Hostile probe 2026-12-07: listing a model read its whole weights file (mapped with
// MAP_POPULATE): a 4 GiB model.safetensors made `ripvec models` take 4.2 GB of memory and
// seconds. Its header alone is read now: the child's peak resident size stays far below.
TEST(CliModels, ListingReadsNoWeightData) {
  TempDir t;
  install(t / "hub", "x/big", "aaaa");
  fs::resize_file(t / "hub/models--x--big/snapshots/aaaa/model.safetensors", 4ull << 30);
  const CliResult r = models(t);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("recommended: x/big"), std::string::npos) << r.out;
  struct rusage ru {};
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &ru), 0);
  EXPECT_LT(ru.ru_maxrss, 1L << 20) << "peak resident KiB of a child";  // 1 GiB
}

// Hostile probe 2026-12-06: a config.json whose num_hidden_layers disagrees with the weights
// (more layers than they hold, or fewer) was listed as a usable model; `ripvec embed` with it
// failed on a missing tensor (or on an extra layer). The header's layers are counted too.
TEST(CliModels, LayerCountThatDoesNotMatchTheWeightsIsNotRecommended) {
  TempDir t;
  const auto cfg = nlohmann::json::parse(slurp(test_data("bert/tiny_bge_cls/config.json")));
  const int layers = cfg["num_hidden_layers"].get<int>();
  for (const auto& [id, n] : {std::pair<std::string, int>{"a/more-layers", layers + 1},
                              std::pair<std::string, int>{"b/fewer-layers", layers - 1}}) {
    install(t / "hub", id, "aaaa");
    auto c = cfg;
    c["num_hidden_layers"] = n;
    std::string folder = "models--" + id;
    folder.replace(folder.find('/'), 1, "--");
    std::ofstream(t / "hub" / folder / "snapshots/aaaa/config.json") << c.dump();
  }
  install(t / "hub", "intfloat/e5-small-v2", "cccc");  // intact: the one recommended

  const CliResult r = models(t);
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* id : {"a/more-layers", "b/fewer-layers"}) {
    const std::string line = row_of(r, id);
    EXPECT_NE(line.find("cannot load:"), std::string::npos) << line;
    EXPECT_NE(line.find("num_hidden_layers"), std::string::npos) << line;
  }
  EXPECT_NE(r.out.find("recommended: intfloat/e5-small-v2\n"), std::string::npos) << r.out;
}

// Hostile probe 2026-12-05, fifth round: a model folder named with an escape sequence or a
// newline reached the terminal raw (ESC[2J cleared the screen, a newline broke the table and the
// "recommended:" line). Ids are escaped as every name in text output; --json keeps the bytes.
TEST(CliModels, ModelIdsAreEscaped) {
  TempDir t;
  install(t / "hub", "org/evil\x1b[2Jx\nNEWLINE", "aaaa");
  const CliResult r = models(t);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("org/evil\\x1B[2Jx\\x0ANEWLINE "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("recommended: org/evil\\x1B[2Jx\\x0ANEWLINE\n"), std::string::npos) << r.out;
  const CliResult j = models(t, {"--json"});
  ASSERT_EQ(j.status, 0) << j.err;
  EXPECT_EQ(nlohmann::json::parse(j.out)["id"], "org/evil\x1b[2Jx\nNEWLINE");
}

// Probe 2026-12-05: a FIFO as a model's refs/main in the Hugging Face cache made `ripvec
// models` wait forever in open(). The ref is now read only from a regular file, without
// blocking; the model is still listed (its snapshot is found without the ref).
TEST(CliModels, FifoAsRefsMainDoesNotHang) {
  RIPVEC_REQUIRE_PATH("/usr/bin/timeout");
  TempDir t;
  install(t / "hub", "org/piped", "abc", /*with_ref=*/false);
  fs::create_directories(t / "hub" / "models--org--piped" / "refs");
  ASSERT_EQ(::mkfifo((t / "hub" / "models--org--piped" / "refs" / "main").c_str(), 0644), 0);
  CliRun r;
  r.prefix = {"/usr/bin/timeout", "-s", "KILL", "60"};
  r.args = {"models", "--cache-dir", (t / "idx").string()};
  r.env["HF_HUB_CACHE"] = (t / "hub").string();
  auto res = run_cli(r);
  EXPECT_EQ(res.status, 0) << res.err;
  EXPECT_NE(res.out.find("org/piped"), std::string::npos) << res.out;
}

TEST(CliModels, EmptyCacheSaysHowToInstallAndExitsOne) {
  TempDir t;
  const CliResult r = models(t);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.out.find("no models installed"), std::string::npos) << r.out;
}

TEST(CliModels, WriteErrorExitsTwo) {
  TempDir t;
  install(t / "hub", "BAAI/bge-small-en-v1.5", "aaaa");
  for (const char* json : {"", "--json"}) {
    CliRun r;
    r.args = {"models", "--cache-dir", (t / "idx").string()};
    if (*json) r.args.push_back(json);
    r.env["HF_HUB_CACHE"] = (t / "hub").string();
    r.stdout_path = "/dev/full";
    const CliResult res = run_cli(r);
    EXPECT_EQ(res.status, 2) << json << res.err;
  }
}

}  // namespace
}  // namespace ripvec::test
