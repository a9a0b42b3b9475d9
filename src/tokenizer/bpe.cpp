// Byte-level BPE tokenizer: the HF tokenizers pipeline for a tokenizer.json whose model is BPE.
//   1. added tokens with normalized=false are cut out of the raw text;
//   2. each remaining piece is normalized, then added tokens with normalized=true are cut out
//      (both steps: tok::AddedTokenSplitter);
//   3. each remaining piece gets the ByteLevel pre-tokenizer (optional prefix space, GPT-2 regex
//      split, byte -> unicode mapping) and the BPE model;
//   4. truncation, then the post-processor adds the specials ([CLS] A [SEP] for ModernBERT).
#include "tokenizer/bpe.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ripvec/error.hpp"
#include "tokenizer/added_tokens.hpp"
#include "tokenizer/bpe_model.hpp"
#include "tokenizer/bpe_pretokenizer.hpp"
#include "tokenizer/bpe_text.hpp"
#include "tokenizer/id_table.hpp"
#include "tokenizer/post_processor.hpp"
#include "tokenizer/utf8.hpp"

namespace ripvec {

namespace {

using bpe_detail::BpeModel;
using bpe_detail::BpeNormalizer;

// The added tokens with the ids HF gives them (the model's id for a string in its vocabulary,
// else a fresh one past it), as for WordPiece.
std::vector<tok::AddedToken> hf_added_tokens(const nlohmann::json& root, const BpeModel& model,
                                             std::string_view origin) {
  auto added = tok::parse_added_tokens(root.value("added_tokens", nlohmann::json()), origin);
  tok::assign_hf_added_token_ids(
      added, model.vocab().size(),
      [&](std::string_view s) {
        auto it = model.vocab().find(s);
        return it == model.vocab().end() ? -1 : it->second;
      },
      origin);
  return added;
}

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(const nlohmann::json& root, std::string_view origin,
               const tok::VocabEntries* scanned)
      : model_(root.at("model"), origin, scanned),
        normalizer_(root.contains("normalizer") ? root["normalizer"] : nlohmann::json(), origin),
        added_(hf_added_tokens(root, model_, origin), normalizer_.empty() ? nullptr : &normalizer_),
        post_(tok::PostProcessor::from_json(
            root.contains("post_processor") ? root["post_processor"] : nlohmann::json(), origin)) {
    parse_pre_tokenizer(root.contains("pre_tokenizer") ? root["pre_tokenizer"] : nlohmann::json(),
                        std::string(origin));
    build_id_table();
    parse_pad(root, std::string(origin));
  }

  Encoding encode(std::string_view text, bool add_special, size_t max_length) const override {
    Encoding enc;
    std::vector<uint8_t> added;
    encode_body(text, &enc.ids, &added);
    const size_t keep = post_.content_budget(add_special, max_length);
    if (enc.ids.size() > keep) enc.ids.resize(keep);
    enc.tokens.reserve(enc.ids.size() + post_.num_special());
    // Token strings as HF gives them: the vocabulary's string for a model id, the content for an
    // added token (they differ only where a file gives an added token a vocabulary id).
    for (size_t i = 0; i < enc.ids.size(); ++i)
      enc.tokens.push_back(*(added[i] ? id_to_token_ : model_tokens_).find(enc.ids[i]));
    post_.apply(enc, add_special);
    // HF's TemplateProcessing gives the sequence its template type id even when the specials are
    // not added (tok::PostProcessor::apply leaves zeros there).
    if (!add_special) enc.type_ids.assign(enc.ids.size(), post_.sequence_type_id());
    return enc;
  }

  size_t count_tokens(std::string_view text, bool add_special) const override {
    std::vector<int32_t> ids;
    encode_body(text, &ids);
    return ids.size() + (add_special ? post_.num_special() : 0);
  }

  // The id space (see Tokenizer::vocab_size).
  size_t vocab_size() const override { return id_to_token_.id_space(); }

  std::optional<int32_t> token_to_id(std::string_view token) const override {
    if (auto id = added_.token_to_id(token)) return id;
    if (auto it = model_.vocab().find(token); it != model_.vocab().end()) return it->second;
    return std::nullopt;
  }

  std::string id_to_token(int32_t id) const override {
    const std::string* t = id_to_token_.find(id);
    if (t == nullptr) {
      throw InvalidArgument("token id " + std::to_string(id) + " is not in the vocabulary");
    }
    return *t;
  }

  int32_t pad_id() const override { return pad_id_; }
  size_t num_special_tokens() const override { return post_.num_special(); }

  int32_t max_token_id() const override {
    int32_t m = id_to_token_.max_id();
    for (const auto& p : post_.prefix()) m = std::max(m, p.id);
    for (const auto& p : post_.suffix()) m = std::max(m, p.id);
    return m;
  }

  std::string unk_problem() const override { return model_.unk_problem(); }
  std::optional<int32_t> unk_id() const override { return model_.unk_id(); }

 private:
  void parse_pre_tokenizer(const nlohmann::json& pt, const std::string& where) {
    const nlohmann::json* byte_level = nullptr;
    if (pt.is_object() && pt.value("type", "") == "ByteLevel") {
      byte_level = &pt;
    } else if (pt.is_object() && pt.value("type", "") == "Sequence" &&
               pt.contains("pretokenizers") && pt["pretokenizers"].is_array() &&
               pt["pretokenizers"].size() == 1 && pt["pretokenizers"][0].is_object() &&
               pt["pretokenizers"][0].value("type", "") == "ByteLevel") {
      byte_level = &pt["pretokenizers"][0];
    }
    if (byte_level == nullptr) {
      throw UnsupportedError(where + ": pre_tokenizer " +
                             (pt.is_null() ? std::string("null") : pt.dump().substr(0, 80)) +
                             " is not supported: only byte-level BPE (ByteLevel pre-tokenizer) is");
    }
    auto flag = [&](const char* key, bool dflt) {
      if (!byte_level->contains(key) || (*byte_level)[key].is_null()) return dflt;
      if (!(*byte_level)[key].is_boolean()) {
        throw ModelFormatError(where + ": pre_tokenizer." + key + " must be a boolean");
      }
      return (*byte_level)[key].get<bool>();
    };
    add_prefix_space_ = flag("add_prefix_space", true);
    use_regex_ = flag("use_regex", true);
  }

  void build_id_table() {
    std::vector<std::pair<int32_t, std::string_view>> entries;
    entries.reserve(model_.vocab().size() + added_.tokens().size());
    for (const auto& [tok, id] : model_.vocab()) entries.emplace_back(id, tok);
    model_tokens_ = tok::IdTokenTable(entries);
    for (const auto& t : added_.tokens()) entries.emplace_back(t.id, t.content);
    id_to_token_ = tok::IdTokenTable(std::move(entries));
  }

  void parse_pad(const nlohmann::json& root, const std::string& where) {
    if (root.contains("padding") && root["padding"].is_object() &&
        root["padding"].contains("pad_id")) {
      if (!root["padding"]["pad_id"].is_number_integer()) {
        throw ModelFormatError(where + ": padding.pad_id must be an integer");
      }
      pad_id_ = root["padding"]["pad_id"].get<int32_t>();
      return;
    }
    // No padding section (ModernBERT): the conventional pad tokens, [PAD] first.
    for (const char* name : {"[PAD]", "<pad>", "<|padding|>", "<|endoftext|>"}) {
      if (auto id = token_to_id(name)) {
        pad_id_ = *id;
        return;
      }
    }
    pad_id_ = 0;
  }

  // Pre-tokenizes and tokenizes one piece of normalized text that holds no added token.
  void encode_plain(std::string_view piece, std::vector<int32_t>* ids) const {
    std::string prefixed;
    if (add_prefix_space_ && piece.front() != ' ') {
      prefixed.reserve(piece.size() + 1);
      prefixed.push_back(' ');
      prefixed.append(piece);
      piece = prefixed;
    }
    if (!use_regex_) {
      model_.tokenize_bytes(piece, ids);
      return;
    }
    std::vector<std::pair<size_t, size_t>> words;
    bpe_detail::split_gpt2(piece, &words);
    for (const auto& [b, e] : words) model_.tokenize_bytes(piece.substr(b, e - b), ids);
  }

  // Appends the ids of `text` (no specials); `added`, when given, gets 1 for each added-token id
  // and 0 for each model id, in step with `ids`.
  void encode_body(std::string_view text, std::vector<int32_t>* ids,
                   std::vector<uint8_t>* added = nullptr) const {
    tok::require_valid_utf8(text);
    thread_local std::string normalized;
    thread_local std::vector<tok::AddedTokenSplitter::Segment> segments;
    added_.extract_and_normalize(text, normalized, segments);
    // `normalized` and `segments` are thread-local scratch: copy the view before recursing into
    // anything that could reuse them (nothing below does).
    const std::string_view norm = normalized;
    for (const auto& seg : segments) {
      if (seg.id >= 0) {
        ids->push_back(seg.id);
      } else {
        encode_plain(norm.substr(seg.begin, seg.end - seg.begin), ids);
      }
      if (added != nullptr) added->resize(ids->size(), seg.id >= 0 ? 1 : 0);
    }
  }

  BpeModel model_;
  BpeNormalizer normalizer_;
  tok::AddedTokenSplitter added_;
  tok::PostProcessor post_;
  bool add_prefix_space_ = true;
  bool use_regex_ = true;
  tok::IdTokenTable id_to_token_;   // vocabulary and added tokens (id_to_token)
  tok::IdTokenTable model_tokens_;  // vocabulary only (token strings of model ids in encode)
  int32_t pad_id_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_tokenizer(const nlohmann::json& root, std::string_view origin,
                                              const tok::VocabEntries* scanned) {
  if (!root.is_object() || !root.contains("model") || !root["model"].is_object()) {
    throw ModelFormatError(std::string(origin) + ": missing \"model\" object");
  }
  const auto& model = root["model"];
  if (model.contains("type") &&
      (!model["type"].is_string() || model["type"].get<std::string>() != "BPE")) {
    throw ModelFormatError(std::string(origin) + ": model.type is " + model["type"].dump() +
                           ", expected \"BPE\"");
  }
  try {
    return std::make_unique<BpeTokenizer>(root, origin, scanned);
  } catch (const nlohmann::json::exception& e) {
    throw ModelFormatError(std::string(origin) + ": malformed BPE tokenizer: " + e.what());
  }
}

}  // namespace ripvec
