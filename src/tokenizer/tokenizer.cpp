// Tokenizer::from_file / from_json: parse tokenizer.json and dispatch on the model type.
#include "ripvec/tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <new>
#include <optional>
#include <string>

#include "ripvec/error.hpp"
#include "tokenizer/bpe.hpp"
#include "tokenizer/vocab_scan.hpp"
#include "tokenizer/wordpiece.hpp"
#include "util/file_read.hpp"
#include "util/json_depth.hpp"

namespace ripvec {
namespace {

using nlohmann::json;

// HF accepts a model without "type" (older files such as bert-base-uncased's) and infers it from
// the fields present, trying BPE, WordPiece, WordLevel, Unigram in that order.
std::string model_type(const json& model, std::string_view origin) {
  if (auto t = model.find("type"); t != model.end()) {
    if (!t->is_string())
      throw ModelFormatError(std::string(origin) + ": model.type is not a string");
    return t->get<std::string>();
  }
  const auto vocab = model.find("vocab");
  if (vocab != model.end() && vocab->is_object()) {
    if (model.contains("merges")) return "BPE";
    if (model.contains("continuing_subword_prefix") || model.contains("max_input_chars_per_word"))
      return "WordPiece";
    return "WordLevel";
  }
  if (vocab != model.end() && vocab->is_array()) return "Unigram";
  throw ModelFormatError(std::string(origin) +
                         ": model has no 'type' and its fields match no known model");
}

}  // namespace

void Tokenizer::check_fits(int64_t model_vocab_size, std::string_view origin,
                           std::string_view model_origin) const {
  if (const std::string why = unk_problem(); !why.empty())
    throw ModelFormatError(std::string(origin) + ": " + why);
  const int64_t max_id = max_token_id();
  if (max_id >= model_vocab_size) {
    std::string token;
    try {
      token = " (\"" + id_to_token(static_cast<int32_t>(max_id)) + "\")";
    } catch (const Error&) {
    }
    throw ModelFormatError(std::string(origin) + ": token id " + std::to_string(max_id) + token +
                           " is outside the model's vocabulary (vocab_size " +
                           std::to_string(model_vocab_size) + " in " + std::string(model_origin) +
                           "); the tokenizer does not belong to this model");
  }
}

size_t Tokenizer::count_tokens(std::string_view text, bool add_special) const {
  return encode(text, add_special).ids.size();
}

std::unique_ptr<Tokenizer> Tokenizer::from_file(const std::filesystem::path& tokenizer_json) {
  // Real ones are at most a few tens of MB (XLM-R's: 17 MB).
  constexpr uint64_t kMaxTokenizerBytes = uint64_t(1) << 30;
  try {
    return from_json(read_small_file(tokenizer_json, kMaxTokenizerBytes), tokenizer_json.string());
  } catch (const std::bad_alloc&) {
    // Parsing takes several times the file's size: a large one under a memory limit failed
    // with a bare "out of memory" that named no file (hostile probe 2026-12-07).
    std::error_code ec;
    const auto size = std::filesystem::file_size(tokenizer_json, ec);
    throw IoError("cannot load " + tokenizer_json.string() + ": out of memory" +
                  (ec ? std::string() : " (the file is " + std::to_string(size >> 20) + " MiB)"));
  }
}

std::unique_ptr<Tokenizer> Tokenizer::from_json(std::string_view json_text,
                                                std::string_view origin) {
  if (json_nesting_depth(json_text, kMaxJsonNesting) > kMaxJsonNesting)
    throw ModelFormatError(std::string(origin) + ": malformed JSON: nested deeper than " +
                           std::to_string(kMaxJsonNesting) + " levels");
  // The vocabulary (most of the file) is read by a scanner instead of the DOM when it can be
  // (tokenizer/vocab_scan.hpp); otherwise the whole document goes through nlohmann::json.
  std::optional<tok::SplitVocab> split = tok::split_vocab(json_text);
  const std::string_view dom_text = split ? std::string_view(split->rest) : json_text;
  const tok::VocabEntries* scanned = split ? &split->entries : nullptr;
  json root;
  try {
    root = json::parse(dom_text.begin(), dom_text.end());
  } catch (const json::exception& e) {
    throw ModelFormatError(std::string(origin) + ": malformed JSON: " + e.what());
  }
  if (!root.is_object()) throw ModelFormatError(std::string(origin) + ": expected a JSON object");
  auto model = root.find("model");
  if (model == root.end() || !model->is_object())
    throw ModelFormatError(std::string(origin) + ": missing object 'model'");
  const std::string type = model_type(*model, origin);
  try {
    if (type == "WordPiece") return tok::WordPieceTokenizer::from_json(root, origin, scanned);
    if (type == "BPE") {
      // BPE dispatch
      return make_bpe_tokenizer(root, origin, scanned);
    }
  } catch (const json::exception& e) {
    // Wrong-typed fields that the loaders read with .at()/.get<>() surface here.
    throw ModelFormatError(std::string(origin) + ": " + e.what());
  }
  if (type == "WordLevel" || type == "Unigram")
    throw UnsupportedError(std::string(origin) + ": model type '" + type + "' is not supported");
  throw ModelFormatError(std::string(origin) + ": unknown model type '" + type + "'");
}

}  // namespace ripvec
