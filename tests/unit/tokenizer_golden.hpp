// Readers for the tokenizer parity corpus and the HF `tokenizers` goldens under
// tests/data/tokenizer/ (written by scripts/tokenizer_corpus.py and
// scripts/gen_tokenizer_goldens.py), and the id round-trip check. Shared by the WordPiece and BPE
// tests.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "ripvec/error.hpp"
#include "ripvec/tokenizer.hpp"

namespace ripvec::test {

struct CorpusEntry {
  int index = 0;
  std::string kind;
  std::string src;
  std::string text;
};

inline std::string read_file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// corpus.jsonl: one JSON object per line with "i", "kind", "src", "text".
inline std::vector<CorpusEntry> load_corpus(const std::filesystem::path& p) {
  std::vector<CorpusEntry> out;
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    out.push_back({j.at("i").get<int>(), j.at("kind").get<std::string>(),
                   j.at("src").get<std::string>(), j.at("text").get<std::string>()});
  }
  return out;
}

// <name>.ids.txt: one line of space-separated ids per corpus entry.
inline std::vector<std::vector<int32_t>> load_ids(const std::filesystem::path& p) {
  std::vector<std::vector<int32_t>> out;
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  std::string line;
  while (std::getline(in, line)) {
    std::vector<int32_t> ids;
    std::istringstream ss(line);
    int64_t v;
    while (ss >> v) ids.push_back(static_cast<int32_t>(v));
    out.push_back(std::move(ids));
  }
  return out;
}

inline nlohmann::json load_golden_manifest() {
  return nlohmann::json::parse(read_file_bytes(test_data("tokenizer/goldens/manifest.json")));
}

// Resolves a manifest "file" locator: "assets:<rel>" under tests/data/assets, or
// "hf:sentence-transformers/all-MiniLM-L6-v2" in the HF cache (empty path when not installed).
inline std::filesystem::path resolve_tokenizer_locator(const std::string& loc) {
  if (loc.rfind("assets:", 0) == 0) return asset(loc.substr(7));
  if (loc == "hf:sentence-transformers/all-MiniLM-L6-v2") {
    const auto dir = default_model_dir();
    return dir.empty() ? std::filesystem::path("<all-MiniLM-L6-v2 not installed>/tokenizer.json")
                       : dir / "tokenizer.json";
  }
  return loc;
}

inline std::string ids_to_string(const std::vector<int32_t>& ids, size_t max = 40) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < max; ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  if (ids.size() > max) s += " ... (" + std::to_string(ids.size()) + " ids)";
  return s;
}

// Every id below vocab_size() is a hole (id_to_token throws InvalidArgument) or names a token
// that token_to_id maps back to that id. Returns how many ids name a token.
inline size_t count_round_trip_ids(const Tokenizer& tok) {
  size_t named = 0;
  for (int64_t id = 0; id < static_cast<int64_t>(tok.vocab_size()); ++id) {
    std::string t;
    try {
      t = tok.id_to_token(static_cast<int32_t>(id));
    } catch (const InvalidArgument&) {
      continue;
    }
    const auto back = tok.token_to_id(t);
    if (!back || *back != id)
      throw std::runtime_error("id " + std::to_string(id) + " -> \"" + t + "\" -> " +
                               (back ? std::to_string(*back) : std::string("none")));
    ++named;
  }
  return named;
}

}  // namespace ripvec::test
