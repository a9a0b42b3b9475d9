// `ripvec embed` and `ripvec tokenize` with the real default model (all-MiniLM-L6-v2).
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"
#include "common/test_util.hpp"

namespace ripvec::test {
namespace {

namespace fs = std::filesystem;

CliRun model_run(std::vector<std::string> args) {
  CliRun r;
  r.args = std::move(args);
  r.args.push_back("--model");
  r.args.push_back(default_model_dir().string());
  r.args.push_back("--device");
  r.args.push_back("cpu");
  r.env["HF_HUB_OFFLINE"] = "1";
  return r;
}

std::vector<std::vector<float>> parse_rows(const std::string& out) {
  std::vector<std::vector<float>> rows;
  for (const auto& line : split_lines(out)) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

double norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s);
}

TEST(CliEmbed, ArgumentsGiveOneUnitVectorPerLine) {
  RIPVEC_REQUIRE_PATH(default_model_dir());
  auto r = run_cli(model_run({"embed", "open a file for reading", "retry with backoff"}));
  ASSERT_EQ(r.status, 0) << r.err;
  auto rows = parse_rows(r.out);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.size(), 384u);
    EXPECT_NEAR(norm(row), 1.0, 1e-4);
  }
  EXPECT_NE(rows[0], rows[1]);
}

TEST(CliEmbed, StdinEqualsArguments) {
  RIPVEC_REQUIRE_PATH(default_model_dir());
  auto from_args = run_cli(model_run({"embed", "alpha beta", "", "gamma"}));
  ASSERT_EQ(from_args.status, 0) << from_args.err;
  CliRun run = model_run({"embed"});
  run.stdin_from_data = true;
  run.stdin_data = "alpha beta\r\n\ngamma";  // CRLF, an empty line, no final newline
  auto from_stdin = run_cli(run);
  ASSERT_EQ(from_stdin.status, 0) << from_stdin.err;
  EXPECT_EQ(split_lines(from_stdin.out).size(), 3u);
  EXPECT_EQ(from_args.out, from_stdin.out);
}

TEST(CliEmbed, JsonIsOneArrayOfArrays) {
  RIPVEC_REQUIRE_PATH(default_model_dir());
  auto lines = run_cli(model_run({"embed", "one", "two"}));
  auto json = run_cli(model_run({"embed", "--json", "one", "two"}));
  ASSERT_EQ(json.status, 0) << json.err;
  auto j = nlohmann::json::parse(json.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0].get<std::vector<float>>(), parse_rows(lines.out)[0]);
  EXPECT_EQ(j[1].get<std::vector<float>>(), parse_rows(lines.out)[1]);
}

TEST(CliEmbed, NpyHasValidHeaderAndTheSameValues) {
  RIPVEC_REQUIRE_PATH(default_model_dir());
  TempDir tmp;
  const auto npy = tmp / "v.npy";
  auto r = run_cli(model_run({"embed", "--npy", npy.string(), "first text", "second", "third"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  const std::string bytes = slurp(npy);
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t hlen = static_cast<unsigned char>(bytes[8]) |
                      (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u) << "header not 64-byte aligned";
  const std::string header = bytes.substr(10, hlen);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
  EXPECT_NE(header.find("'fortran_order': False"), std::string::npos) << header;
  EXPECT_NE(header.find("'shape': (3, 384)"), std::string::npos) << header;
  EXPECT_EQ(header.back(), '\n');
  ASSERT_EQ(bytes.size(), 10 + hlen + 3 * 384 * sizeof(float));

  auto text = run_cli(model_run({"embed", "first text", "second", "third"}));
  auto rows = parse_rows(text.out);
  ASSERT_EQ(rows.size(), 3u);
  std::vector<float> data(3 * 384);
  std::memcpy(data.data(), bytes.data() + 10 + hlen, data.size() * sizeof(float));
  for (size_t i = 0; i < 3; ++i)
    for (size_t d = 0; d < 384; ++d) ASSERT_EQ(data[i * 384 + d], rows[i][d]) << i << "," << d;
}

// Reference: huggingface/text-embeddings-inference candle snapshot (mean-pooled, not normalized)
// of all-MiniLM-L6-v2 for "What is Deep Learning?" (tests/data/assets/README.md gives provenance).
TEST(CliEmbed, MatchesTeiReferenceVector) {
  RIPVEC_REQUIRE_PATH(default_model_dir());
  const auto snap = asset("reference-embeddings/all-minilm-l6-v2/test_bert__bert_single.snap");
  RIPVEC_REQUIRE_PATH(snap);
  std::vector<double> ref;
  for (const auto& line : split_lines(slurp(snap))) {
    auto pos = line.find_last_of(' ');
    if (line.find("- ") == std::string::npos || pos == std::string::npos) continue;
    ref.push_back(std::stod(line.substr(pos + 1)));
  }
  ASSERT_EQ(ref.size(), 384u);
  auto r = run_cli(model_run({"embed", "What is Deep Learning?"}));
  ASSERT_EQ(r.status, 0) << r.err;
  auto rows = parse_rows(r.out);
  ASSERT_EQ(rows.size(), 1u);
  double dot = 0, nr = 0, nv = 0;
  for (size_t i = 0; i < 384; ++i) {
    dot += ref[i] * rows[0][i];
    nr += ref[i] * ref[i];
    nv += double(rows[0][i]) * rows[0][i];
  }
  EXPECT_GT(dot / std::sqrt(nr * nv), 0.999);
}

// --precision f32, int8 and bf16 all work on the CPU, and the reduced ones' vectors agree with
// f32's to their bar (cosine >= 0.999 for int8, 0.9999 for bf16) without being the same vectors.
void reduced_agrees_with_f32(const char* precision, double min_cos) {
  RIPVEC_REQUIRE_PATH(default_model_dir());
  const std::vector<std::string> texts{"What is Deep Learning?", "int main() { return 0; }",
                                       "retry an http request with exponential backoff"};
  std::vector<std::vector<std::vector<float>>> out;
  for (const char* p : {"f32", precision}) {
    std::vector<std::string> args{"embed", "--precision", p};
    args.insert(args.end(), texts.begin(), texts.end());
    auto r = run_cli(model_run(args));
    ASSERT_EQ(r.status, 0) << p << ": " << r.err;
    out.push_back(parse_rows(r.out));
    ASSERT_EQ(out.back().size(), texts.size()) << p;
  }
  EXPECT_NE(out[0], out[1]);
  for (size_t t = 0; t < texts.size(); ++t) {
    double dot = 0;
    for (size_t i = 0; i < 384; ++i) dot += double(out[0][t][i]) * out[1][t][i];
    EXPECT_GT(dot / (norm(out[0][t]) * norm(out[1][t])), min_cos) << texts[t];
  }
}

TEST(CliEmbed, PrecisionInt8AgreesWithF32) {
  reduced_agrees_with_f32("int8", 0.999);
}

TEST(CliEmbed, PrecisionBf16AgreesWithF32) {
  reduced_agrees_with_f32("bf16", 0.9999);
}

// Expected ids from HF `tokenizers` 0.23.3 on the same tokenizer.json (padding disabled):
//   t = tokenizers.Tokenizer.from_file(".../all-MiniLM-L6-v2/.../tokenizer.json"); t.no_padding()
//   t.encode(text).ids  /  t.encode(text, add_special_tokens=False).ids
// Hostile probe 2026-12-07: --query / --document on a model without that prompt, and a prompt
// as long as the model reads (every text then embeds to the same vector), were silent. A note
// says the first; a warning the second; -q silences both; the vectors are unchanged.
TEST(CliEmbed, PromptThatIsMissingOrFillsTheModelIsSaid) {
  TempDir m;
  fs::copy(test_data("bert/tiny_bge_cls"), m.path(), fs::copy_options::recursive);
  auto embed = [&](std::vector<std::string> args) {
    CliRun r;
    r.args = {"embed", "--model", m.path().string(), "--device", "cpu"};
    r.args.insert(r.args.end(), args.begin(), args.end());
    return run_cli(r);
  };
  auto r = embed({"--document", "hello"});  // its document prompt is ""
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("has no document prompt: --document embeds the texts as they are"),
            std::string::npos)
      << r.err;
  r = embed({"--query", "hello"});  // a real query prompt: nothing to say
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("prompt"), std::string::npos) << r.err;
  std::string long_prompt;
  for (int i = 0; i < 2000; ++i) long_prompt += "word ";
  nlohmann::json st = {{"prompts", {{"query", long_prompt}, {"document", ""}}}};
  std::ofstream(m / "config_sentence_transformers.json", std::ios::trunc) << st.dump();
  r = embed({"--query", "hello", "bye"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("as many as the model reads"), std::string::npos) << r.err;
  r = embed({"-q", "--document", "hello"});
  EXPECT_EQ(r.status, 0) << r.err;  // (embed had no -q: this passed on a usage error)
  EXPECT_EQ(r.err.find("prompt"), std::string::npos) << r.err;
}

// Hostile probe 2026-12-07: lines that end in a bare '\r' (classic Mac files) were embedded as one
// text, silently. Only '\n' ends a text (row i stays line i); a '\r' inside a line is warned
// about once, naming the line; -q keeps it quiet; CRLF input says nothing.
TEST(CliEmbed, CarriageReturnInsideALineIsWarnedAbout) {
  CliRun r;
  r.args = {"embed", "--model", test_data("bert/tiny_bge_cls").string(), "--device", "cpu"};
  r.stdin_from_data = true;
  r.stdin_data = "first\nalpha\rbeta\rgamma\nlast\rx\n";
  auto res = run_cli(r);
  ASSERT_EQ(res.status, 0) << res.err;
  EXPECT_EQ(split_lines(res.out).size(), 3u);
  EXPECT_NE(res.err.find("stdin line 2 has a carriage return inside it"), std::string::npos)
      << res.err;
  EXPECT_EQ(res.err.find("line 3"), std::string::npos) << res.err;  // once
  r.stdin_data = "alpha\r\nbeta\r\n";
  res = run_cli(r);
  ASSERT_EQ(res.status, 0) << res.err;
  EXPECT_EQ(res.err.find("carriage"), std::string::npos) << res.err;
  r.stdin_data = "alpha\rbeta\n";
  r.args.push_back("-q");
  res = run_cli(r);
  ASSERT_EQ(res.status, 0) << res.err;
  EXPECT_EQ(res.err.find("carriage"), std::string::npos) << res.err;
}

// Hostile probe 2026-12-07: config.json's values (hidden_act, type_vocab_size) were blamed on the
// weights file ("…/model.safetensors config: …"). The error names config.json.
TEST(CliEmbed, ConfigErrorsNameConfigJson) {
  TempDir m;
  fs::copy(test_data("bert/tiny_bge_cls"), m.path(), fs::copy_options::recursive);
  auto cfg = nlohmann::json::parse(slurp(m / "config.json"));
  cfg["hidden_act"] = "swishy";
  std::ofstream(m / "config.json", std::ios::trunc) << cfg.dump();
  CliRun r;
  r.args = {"embed", "--model", m.path().string(), "--device", "cpu", "hello"};
  const auto res = run_cli(r);
  EXPECT_EQ(res.status, 2);
  EXPECT_NE(res.err.find((m / "config.json").string() + ": unsupported hidden_act \"swishy\""),
            std::string::npos)
      << res.err;
  EXPECT_EQ(res.err.find("safetensors"), std::string::npos) << res.err;
}

// Hostile probe 2026-12-07: a word-embedding table stored in an integer dtype was reported as a
// "missing tensor"; the error names its dtype and the ones the engine takes.
TEST(CliEmbed, WeightOfAnIntegerDtypeIsNamedNotMissing) {
  TempDir m;
  fs::copy(test_data("bert/tiny_bge_cls"), m.path(), fs::copy_options::recursive);
  std::string bytes = slurp(m / "model.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  auto& t = header.at("embeddings.word_embeddings.weight");
  ASSERT_EQ(t.at("dtype"), "F16");
  t["dtype"] = "I16";  // same element size: the file stays valid
  std::string h = header.dump();
  ASSERT_LE(h.size(), n);
  h.resize(n, ' ');  // the format pads its header with spaces
  bytes.replace(8, n, h);
  std::ofstream(m / "model.safetensors", std::ios::binary | std::ios::trunc) << bytes;
  CliRun r;
  r.args = {"embed", "--model", m.path().string(), "--device", "cpu", "hello"};
  const auto res = run_cli(r);
  EXPECT_EQ(res.status, 2);
  EXPECT_NE(res.err.find("\"embeddings.word_embeddings.weight\" in " +
                         (m / "model.safetensors").string() + " has dtype I16"),
            std::string::npos)
      << res.err;
  EXPECT_EQ(res.err.find("missing"), std::string::npos) << res.err;
}

// Hostile probe 2026-12-07: a large tokenizer.json under an address-space limit (`ulimit -v`)
// failed with a bare "out of memory", then the process never ended: OpenBLAS's exit handler
// joins its worker thread, which retries its failed buffer allocation forever (so under that
// limit every command hung at its end, whatever it did). The error names the file, and the
// process ends (main leaves with _Exit once its outputs are flushed; no BLAS is linked since).
TEST(CliTokenize, LargeTokenizerUnderAMemoryLimitIsNamedAndEnds) {
  RIPVEC_REQUIRE_PATH("/usr/bin/prlimit");
  RIPVEC_REQUIRE_PATH("/usr/bin/timeout");
  TempDir m;
  auto tok = nlohmann::json::parse(slurp(test_data("bert/tiny_bge_cls") / "tokenizer.json"));
  tok["padding_junk"] = std::string(size_t{48} << 20, 'a');
  std::ofstream(m / "tokenizer.json", std::ios::binary) << tok.dump();
  CliRun r;
  r.prefix = {"/usr/bin/timeout", "-s", "KILL", "60", "/usr/bin/prlimit", "--as=200000000"};
  r.args = {"tokenize", "--model", test_data("bert/tiny_bge_cls").string(), "hello"};
  const auto small = run_cli(r);  // the committed tokenizer: under the limit every run hung
  ASSERT_NE(small.status, 128 + SIGKILL) << "killed by the timeout: the exit hangs";
  if (small.status != 0) GTEST_SKIP() << "this machine cannot run ripvec in 200 MB: " << small.err;
  r.args = {"tokenize", "--model", m.path().string(), "hello"};
  const auto big = run_cli(r);
  EXPECT_EQ(big.status, 2) << big.err;  // 137: killed by the timeout (the hang)
  EXPECT_NE(big.err.find("cannot load " + (m / "tokenizer.json").string() + ": out of memory"),
            std::string::npos)
      << big.err;
}

// Hostile probe 2026-12-07: under the same limit the CPU driver's start joined that stuck
// OpenBLAS worker (to stop its busy-wait beside the thread pool): every CPU embed and search hung
// before its first text. The join was then waited for 2 s at most; since no BLAS is linked there
// is nothing to join. The run completes or says which limit it met.
TEST(CliEmbed, CpuEmbedUnderAnAddressSpaceLimitCompletes) {
  RIPVEC_REQUIRE_PATH("/usr/bin/prlimit");
  RIPVEC_REQUIRE_PATH("/usr/bin/timeout");
  CliRun r;
  r.prefix = {"/usr/bin/timeout", "-s", "KILL", "60", "/usr/bin/prlimit", "--as=200000000"};
  r.args = {"embed", "--model",   test_data("bert/tiny_bge_cls").string(), "--device", "cpu", "-j",
            "2",     "alpha beta"};
  const auto res = run_cli(r);
  ASSERT_NE(res.status, 128 + SIGKILL) << "killed by the timeout: the run hangs";
  // Completes, or fails clearly on the limit (whether a thread's stack or a buffer is the
  // allocation that fails depends on what the process has mapped by then).
  if (res.status == 2) {
    EXPECT_TRUE(res.err.find("out of memory") != std::string::npos ||
                res.err.find("cannot start a thread") != std::string::npos)
        << res.err;
    return;
  }
  EXPECT_EQ(res.status, 0) << res.err;
  EXPECT_EQ(split_lines(res.out).size(), 1u);
}

// Hostile probe 2026-12-07: SIGXCPU (the soft CPU-time limit) ended a run without a word, and
// left an `--npy` run's temporary file behind. The run still ends by that signal, after saying
// so on stderr and removing the temporary file.
TEST(CliEmbed, CpuTimeLimitIsSaidAndTheTemporaryNpyRemoved) {
  RIPVEC_REQUIRE_PATH("/usr/bin/prlimit");
  TempDir tmp;
  CliRun r;
  // Soft 1 s (SIGXCPU), hard 60 s (SIGKILL): more texts than 1 s of CPU embeds.
  r.prefix = {"/usr/bin/prlimit", "--cpu=1:60"};
  r.args = {"embed",
            "--model",
            test_data("bert/tiny_bge_cls").string(),
            "--device",
            "cpu",
            "--npy",
            (tmp / "v.npy").string()};
  for (int i = 0; i < 400000; ++i) r.stdin_data += "text number " + std::to_string(i) + "\n";
  r.stdin_from_data = true;
  const CliResult res = run_cli(r);
  if (res.status == 0) GTEST_SKIP() << "the run finished within 1 s of CPU";
  EXPECT_EQ(res.status, 128 + SIGXCPU) << res.err;
  EXPECT_NE(res.err.find("CPU time limit"), std::string::npos) << res.err;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path()))
    ADD_FAILURE() << "left behind: " << e.path();
}

TEST(CliTokenize, IdsEqualHuggingFaceTokenizers) {
  RIPVEC_REQUIRE_PATH(default_model_dir());
  struct Case {
    std::string text;
    std::vector<int> ids;
    std::vector<std::string> tokens;
  };
  const std::vector<Case> cases = {
      {"Hello, world! Tokenizers are fun.",
       {101, 7592, 1010, 2088, 999, 19204, 17629, 2015, 2024, 4569, 1012, 102},
       {"[CLS]", "hello", ",", "world", "!", "token", "##izer", "##s", "are", "fun", ".", "[SEP]"}},
      {"parse_config() returns HashMap<String, Vec<u8>>",
       {101,  11968, 3366, 1035, 9530, 8873, 2290, 1006, 1007, 5651, 23325, 2863,
        2361, 1026,  5164, 1010, 2310, 2278, 1026, 1057, 2620, 1028, 1028,  102},
       {}},
      {"Caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9",
       {101, 7668, 15743, 13746, 102},
       {"[CLS]", "cafe", "naive", "resume", "[SEP]"}},
  };
  for (const auto& c : cases) {
    CliRun run;
    run.args = {"tokenize", "--model", default_model_dir().string(), c.text};
    run.env["HF_HUB_OFFLINE"] = "1";
    auto r = run_cli(run);
    ASSERT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("ids").get<std::vector<int>>(), c.ids) << c.text;
    EXPECT_EQ(j.at("tokens").size(), c.ids.size());
    if (!c.tokens.empty()) {
      EXPECT_EQ(j.at("tokens").get<std::vector<std::string>>(), c.tokens);
    }
  }
  // add_special_tokens=False: [7592, 1010, 2088, 999, 19204, 17629, 2015, 2024, 4569, 1012]
  CliRun run;
  run.args = {"tokenize", "--no-special", "--model", default_model_dir().string(),
              "Hello, world! Tokenizers are fun."};
  auto r = run_cli(run);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("ids").get<std::vector<int>>(),
            (std::vector<int>{7592, 1010, 2088, 999, 19204, 17629, 2015, 2024, 4569, 1012}));
}

}  // namespace
}  // namespace ripvec::test
