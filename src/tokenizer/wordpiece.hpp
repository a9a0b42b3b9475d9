// WordPiece tokenizer (BERT family) matching HF `tokenizers` token for token:
// added-token extraction -> normalizer (BertNormalizer, ...) -> pre-tokenizer (BertPreTokenizer,
// WhitespaceSplit, or none) -> greedy longest-match-first WordPiece -> post-processor.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ripvec/tokenizer.hpp"
#include "tokenizer/added_tokens.hpp"
#include "tokenizer/id_table.hpp"
#include "tokenizer/normalizer.hpp"
#include "tokenizer/post_processor.hpp"
#include "tokenizer/string_map.hpp"
#include "tokenizer/vocab_scan.hpp"

namespace ripvec::tok {

class WordPieceTokenizer final : public Tokenizer {
 public:
  // `root` is the whole tokenizer.json document; its "model" must be WordPiece. `scanned`, when
  // not null, is model.vocab as read by split_vocab() (root's own model.vocab is then {}).
  // Throws ModelFormatError / UnsupportedError naming `origin`.
  static std::unique_ptr<WordPieceTokenizer> from_json(const nlohmann::json& root,
                                                       std::string_view origin,
                                                       const VocabEntries* scanned = nullptr);

  Encoding encode(std::string_view text, bool add_special = true,
                  size_t max_length = 0) const override;
  size_t count_tokens(std::string_view text, bool add_special = true) const override;

  size_t vocab_size() const override { return id_to_token_.id_space(); }
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int32_t id) const override;
  int32_t pad_id() const override { return pad_id_; }
  size_t num_special_tokens() const override { return post_.num_special(); }
  int32_t max_token_id() const override;
  std::string unk_problem() const override;
  std::optional<int32_t> unk_id() const override {
    return unk_id_ >= 0 ? std::optional<int32_t>(unk_id_) : std::nullopt;
  }

 private:
  enum class PreTok { kNone, kBert, kWhitespaceSplit };

  WordPieceTokenizer() = default;
  // Runs the pipeline, calling emit(id) for each content id in order; stops early once `limit`
  // ids were emitted.
  template <class Emit>
  void run(std::string_view text, size_t limit, Emit&& emit) const;
  // WordPiece on one pre-token; returns false when `limit` was reached.
  template <class Emit>
  void wordpiece(std::string_view word, Emit& emit) const;

  StringIdMap vocab_;         // full vocabulary strings
  StringIdMap continuation_;  // tokens that start with the prefix, prefix removed
  size_t max_word_bytes_ = 0;
  size_t max_cont_bytes_ = 0;
  IdTokenTable id_to_token_;   // vocabulary and added tokens (id_to_token)
  IdTokenTable model_tokens_;  // vocabulary only (token strings of model ids in encode)
  int32_t unk_id_ = -1;
  std::string unk_token_;
  std::string prefix_;
  size_t max_input_chars_per_word_ = 100;
  int32_t pad_id_ = 0;

  std::string origin_;
  std::unique_ptr<Normalizer> normalizer_;
  PreTok pretok_ = PreTok::kBert;
  AddedTokenSplitter added_;
  PostProcessor post_;
};

}  // namespace ripvec::tok
