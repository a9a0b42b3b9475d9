// Tokenizers loaded from a Hugging Face tokenizer.json (WordPiece and byte-level BPE).
// Token ids equal those of HF `tokenizers` for the same file and text.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ripvec {

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  std::vector<std::string> tokens;  // vocabulary strings of ids (same length)
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Throws IoError (cannot read), ModelFormatError (malformed JSON, a malformed model) or
  // UnsupportedError (a tokenizer model type, normalizer, pre-tokenizer or post-processor this
  // library does not implement).
  static std::unique_ptr<Tokenizer> from_file(const std::filesystem::path& tokenizer_json);
  static std::unique_ptr<Tokenizer> from_json(std::string_view json_text,
                                              std::string_view origin = "tokenizer.json");

  // Encodes one text. add_special applies the post-processor ([CLS] A [SEP]). max_length > 0
  // truncates to at most that many ids, specials included (the final [SEP] is kept).
  // Throws InvalidArgument on invalid UTF-8.
  virtual Encoding encode(std::string_view text, bool add_special = true,
                          size_t max_length = 0) const = 0;
  // Number of ids encode() would return (no truncation), without building token strings.
  virtual size_t count_tokens(std::string_view text, bool add_special = true) const;

  // The id space of the vocabulary and the added tokens: their largest id + 1, so every id that
  // token_to_id returns, id_to_token accepts or encode emits for text is below it (the
  // post-processor's specials can lie beyond it: see max_token_id). For a file whose ids are
  // contiguous (every real one) this equals HF `get_vocab_size(with_added_tokens=True)`; for one
  // with holes HF counts distinct token strings instead, which is not a bound on the ids.
  virtual size_t vocab_size() const = 0;
  // The id of a vocabulary or added token (added tokens first, as HF), or nullopt.
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  // The token of an id below vocab_size(); throws InvalidArgument for any other id and for a
  // hole in the id space (an id naming no token; HF returns None there).
  virtual std::string id_to_token(int32_t id) const = 0;
  virtual int32_t pad_id() const = 0;
  // Specials the post-processor adds around one sequence (2 for [CLS] A [SEP]).
  virtual size_t num_special_tokens() const = 0;

  // Largest id encode() can return: vocabulary, added tokens and post-processor specials.
  virtual int32_t max_token_id() const {
    return static_cast<int32_t>(static_cast<int64_t>(vocab_size()) - 1);
  }
  // The id encode() emits for a piece of text the vocabulary cannot spell (WordPiece's [UNK]:
  // an emoji, a script the vocabulary lacks), or nullopt when the model has none in its
  // vocabulary (byte-level BPE spells every text).
  virtual std::optional<int32_t> unk_id() const { return std::nullopt; }
  // Why some text could fail to encode: the unknown token is needed (WordPiece: always; BPE:
  // when some byte has no symbol) but is not in the vocabulary. Empty when every text encodes.
  virtual std::string unk_problem() const { return {}; }
  // Checks this tokenizer against the model it feeds: every id it can produce is below the
  // model's `model_vocab_size` (the embedding table's rows) and unk_problem() is empty. Throws
  // ModelFormatError naming `origin` (the tokenizer file) and `model_origin` (config.json), so a
  // mismatch fails at load rather than on the first text that hits it.
  void check_fits(int64_t model_vocab_size, std::string_view origin,
                  std::string_view model_origin) const;
};

}  // namespace ripvec
