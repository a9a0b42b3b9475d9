// Tokenizer throughput on the parity corpus (tests/data/tokenizer/corpus.jsonl), one thread.
// Prints one JSON object per (tokenizer, mode) line; scripts/bench_tokenizer.py runs this binary
// and HF `tokenizers` on the same corpus and prints them side by side.
//
// usage: tokenizer_bench [--corpus PATH] [--seconds S] NAME=TOKENIZER_JSON...
// (defaults: bge-small-en-v1.5 and modernbert-base from tests/data/assets)
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "ripvec/error.hpp"
#include "ripvec/tokenizer.hpp"

namespace {

std::vector<std::string> load_corpus(const std::string& path) {
  std::vector<std::string> texts;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open corpus " + path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
  return texts;
}

template <class F>
std::pair<double, size_t> time_passes(double min_seconds, F&& pass) {
  pass();  // warm-up
  size_t passes = 0, ids = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    ids += pass();
    ++passes;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < min_seconds);
  return {elapsed / passes, ids / passes};
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path root = RIPVEC_SOURCE_DIR;
  std::string corpus_path = (root / "tests/data/tokenizer/corpus.jsonl").string();
  double seconds = 2.0;
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--corpus" && i + 1 < argc) {
      corpus_path = argv[++i];
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::stod(argv[++i]);
    } else if (auto eq = a.find('='); eq != std::string::npos) {
      files.emplace_back(a.substr(0, eq), a.substr(eq + 1));
    } else {
      std::fprintf(stderr, "usage: %s [--corpus PATH] [--seconds S] NAME=TOKENIZER_JSON...\n",
                   argv[0]);
      return 2;
    }
  }
  if (files.empty()) {
    const auto assets = root / "tests/data/assets/tokenizers";
    files = {{"bge-small-en-v1.5", (assets / "bge-small-en-v1.5/tokenizer.json").string()},
             {"modernbert-base", (assets / "modernbert-base/tokenizer.json").string()}};
  }
  try {
    const auto texts = load_corpus(corpus_path);
    size_t bytes = 0;
    for (const auto& t : texts) bytes += t.size();
    for (const auto& [name, path] : files) {
      const auto l0 = std::chrono::steady_clock::now();
      auto tok = ripvec::Tokenizer::from_file(path);
      const double load_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - l0).count();
      const auto [enc_s, enc_ids] = time_passes(seconds, [&] {
        size_t n = 0;
        for (const auto& t : texts) n += tok->encode(t).ids.size();
        return n;
      });
      const auto [cnt_s, cnt_ids] = time_passes(seconds, [&] {
        size_t n = 0;
        for (const auto& t : texts) n += tok->count_tokens(t);
        return n;
      });
      for (const auto& [mode, s, ids] :
           {std::tuple{"encode", enc_s, enc_ids}, std::tuple{"count_tokens", cnt_s, cnt_ids}}) {
        std::printf(
            "{\"impl\": \"ripvec\", \"tokenizer\": \"%s\", \"mode\": \"%s\", \"strings\": %zu, "
            "\"bytes\": %zu, \"ids\": %zu, \"seconds_per_pass\": %.6f, \"ids_per_s\": %.0f, "
            "\"mb_per_s\": %.2f, \"load_s\": %.3f}\n",
            name.c_str(), mode, texts.size(), bytes, ids, s, ids / s, bytes / s / 1e6, load_s);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
