// Byte-level BPE encoding speed on the tokenizer parity corpus, single-threaded.
//   tokenizer_bpe_bench [tokenizer.json] [corpus.jsonl] [repeats]
// Prints ids/s and MB/s for the first pass (cold word cache) and for the best later pass.
// scripts/bench_bpe.py measures HF `tokenizers` on the same inputs.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ripvec/tokenizer.hpp"

int main(int argc, char** argv) {
  // Defaults: the repo's test corpus and the ModernBERT tokenizer (tests/data/assets).
  const std::filesystem::path root = RIPVEC_SOURCE_DIR;
  const std::string tok_path =
      argc > 1 ? argv[1]
               : (root / "tests/data/assets/tokenizers/modernbert-base/tokenizer.json").string();
  const std::string corpus_path =
      argc > 2 ? argv[2] : (root / "tests/data/tokenizer/corpus.jsonl").string();
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 5;

  std::vector<std::string> texts;
  size_t bytes = 0;
  {
    std::ifstream in(corpus_path);
    if (!in) {
      std::fprintf(stderr, "cannot open %s\n", corpus_path.c_str());
      return 1;
    }
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
      bytes += texts.back().size();
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  auto tok = ripvec::Tokenizer::from_file(tok_path);
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  auto pass = [&](size_t* ids) {
    const auto start = std::chrono::steady_clock::now();
    size_t n = 0;
    for (const auto& t : texts) n += tok->encode(t).ids.size();
    *ids = n;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  size_t ids = 0;
  const double cold = pass(&ids);
  double best = cold;
  for (int r = 1; r < repeats; ++r) best = std::min(best, pass(&ids));
  std::printf("load %.3f s; %zu texts, %.2f MB, %zu ids (specials included)\n", load_s,
              texts.size(), bytes / 1e6, ids);
  std::printf("ripvec encode, 1 thread, cold cache: %.3f s  %.0f ids/s  %.2f MB/s\n", cold,
              ids / cold, bytes / 1e6 / cold);
  std::printf("ripvec encode, 1 thread, warm (best of %d): %.3f s  %.0f ids/s  %.2f MB/s\n",
              repeats - 1, best, ids / best, bytes / 1e6 / best);
  return 0;
}
