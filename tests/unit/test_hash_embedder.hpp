// A deterministic stand-in for the neural engine in index tests: TestHashEmbedder embeds a
// text as a hashed bag of its code terms (index::tokenize_code), so texts sharing terms have a
// high cosine and semantic search is meaningful without a model. It counts what it embedded.
#pragma once

#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "index/bm25.hpp"
#include "ripvec/embedder.hpp"
#include "ripvec/error.hpp"
#include "ripvec/tokenizer.hpp"

namespace ripvec {
namespace {

// Whitespace tokenizer: enough for the chunker's token budget, nothing more. Ids are interned
// words (3, 4, ... in order of first use), so decode() gives the words back for embed_tokens.
class TestWhitespaceTokenizer final : public Tokenizer {
 public:
  Encoding encode(std::string_view text, bool add_special, size_t max_length) const override {
    Encoding e;
    if (add_special) push(&e, 1, "[CLS]");
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
      size_t s = i;
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
      if (i > s) push(&e, intern(text.substr(s, i - s)), std::string(text.substr(s, i - s)));
    }
    if (add_special) push(&e, 2, "[SEP]");
    if (max_length > 0 && e.ids.size() > max_length) {
      e.ids.resize(max_length);
      e.type_ids.resize(max_length);
      e.tokens.resize(max_length);
      if (add_special) {
        e.ids.back() = 2;
        e.tokens.back() = "[SEP]";
      }
    }
    return e;
  }
  size_t vocab_size() const override { return 1003; }
  std::optional<int32_t> token_to_id(std::string_view) const override { return std::nullopt; }
  std::string id_to_token(int32_t id) const override { return std::to_string(id); }
  int32_t pad_id() const override { return 0; }
  size_t num_special_tokens() const override { return 2; }
  // The words of ids, joined by spaces (specials dropped).
  std::string decode(const std::vector<int32_t>& ids) const {
    std::lock_guard lk(mu_);
    std::string out;
    for (int32_t id : ids) {
      if (id < 3 || static_cast<size_t>(id - 3) >= words_.size()) continue;
      if (!out.empty()) out += ' ';
      out += words_[static_cast<size_t>(id - 3)];
    }
    return out;
  }

 private:
  int32_t intern(std::string_view w) const {
    std::lock_guard lk(mu_);
    auto [it, added] = ids_.try_emplace(std::string(w), static_cast<int32_t>(3 + words_.size()));
    if (added) words_.emplace_back(w);
    return it->second;
  }
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, int32_t> ids_;
  mutable std::vector<std::string> words_;
  static void push(Encoding* e, int32_t id, std::string tok) {
    e->ids.push_back(id);
    e->type_ids.push_back(0);
    e->tokens.push_back(std::move(tok));
  }
};

// Deterministic embedder: each code term adds +-1 to a hashed coordinate; rows L2-normalized.
// Texts sharing terms get high cosine, so semantic search is meaningful in tests.
class TestHashEmbedder final : public Embedder {
 public:
  explicit TestHashEmbedder(std::string id = "test/hash-embedder", size_t dim = 64)
      : id_(std::move(id)), dim_(dim) {}
  size_t dim() const override { return dim_; }
  size_t max_seq_length() const override { return 128; }
  const std::string& model_id() const override { return id_; }
  std::string device_name() const override { return "test"; }
  const Tokenizer& tokenizer() const override { return tok_; }
  const std::string& prompt(InputKind) const override { return empty_; }
  // Files standing for a model's weights (their content is part of the index key).
  std::vector<std::filesystem::path> identity_files() const override { return files_; }
  void set_identity_files(std::vector<std::filesystem::path> f) { files_ = std::move(f); }
  std::vector<float> embed(std::span<const std::string> texts, InputKind kind) override {
    std::vector<float> out(texts.size() * dim_, 0.0f);
    for (size_t i = 0; i < texts.size(); ++i) {
      float* v = &out[i * dim_];
      for (const auto& t : index::tokenize_code(texts[i])) {
        size_t h = std::hash<std::string>{}(t);
        v[h % dim_] += (h >> 32) & 1 ? 1.0f : -1.0f;
      }
      double s = 0;
      for (size_t j = 0; j < dim_; ++j) s += double(v[j]) * v[j];
      if (s > 0)
        for (size_t j = 0; j < dim_; ++j) v[j] = static_cast<float>(v[j] / std::sqrt(s));
    }
    if (delay_per_call.count() > 0) std::this_thread::sleep_for(delay_per_call);
    std::lock_guard lk(mu_);
    if (kind == InputKind::Document)
      documents_embedded += texts.size();
    else
      queries_embedded += texts.size();
    return out;
  }
  // Documents arrive tokenized from the index pipeline: embeds the words the ids stand for.
  using Embedder::embed_tokens;
  std::vector<float> embed_tokens(std::span<const std::vector<int32_t>> ids,
                                  InputKind kind) override {
    std::vector<std::string> texts;
    texts.reserve(ids.size());
    for (const auto& s : ids) texts.push_back(tok_.decode(s));
    return embed(texts, kind);
  }
  size_t documents_embedded = 0, queries_embedded = 0;
  std::chrono::milliseconds delay_per_call{0};  // a slow model: each embed call takes this long

 private:
  std::vector<std::filesystem::path> files_;
  std::string id_;
  size_t dim_;
  TestWhitespaceTokenizer tok_;
  std::string empty_;
  std::mutex mu_;
};

// An Embedder the test owns, lent to Index::open (which takes shared ownership).
std::shared_ptr<Embedder> borrow(Embedder& e) {
  return std::shared_ptr<Embedder>(&e, [](Embedder*) {});
}

}  // namespace
}  // namespace ripvec
