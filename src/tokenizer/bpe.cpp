// Byte-level BPE tokenizer: the HF tokenizers pipeline for a tokenizer.json whose model is BPE.
//   1. added tokens with normalized=false are cut out of the raw text;
//   2. each remaining piece is normalized, then added tokens with normalized=true are cut out;
//   3. each remaining piece gets the ByteLevel pre-tokenizer (optional prefix space, GPT-2 regex
//      split, byte -> unicode mapping) and the BPE model;
//   4. the post-processor adds the specials ([CLS] A [SEP] for ModernBERT), after truncation.
#include "tokenizer/bpe.hpp"

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ripvec/error.hpp"
#include "tokenizer/bpe_added.hpp"
#include "tokenizer/bpe_model.hpp"
#include "tokenizer/bpe_pretokenizer.hpp"
#include "tokenizer/bpe_text.hpp"

namespace ripvec {

namespace {

using bpe_detail::AddedMatcher;
using bpe_detail::AddedToken;
using bpe_detail::BpeModel;
using bpe_detail::Normalizer;
using bpe_detail::Segment;

// One element of the post-processor's template for a single sequence.
struct TemplateItem {
  bool is_sequence = false;  // the encoded text ("$A")
  std::vector<int32_t> ids;  // special token ids otherwise
  int32_t type_id = 0;
};

int32_t json_type_id(const nlohmann::json& v, const std::string& where) {
  if (!v.contains("type_id")) return 0;
  if (!v["type_id"].is_number_integer())
    throw ModelFormatError(where + ".type_id must be an integer");
  return v["type_id"].get<int32_t>();
}

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(const nlohmann::json& root, std::string_view origin)
      : model_(root.at("model"), origin) {
    const std::string where(origin);
    if (root.contains("normalizer")) normalizer_ = Normalizer(root["normalizer"], origin);
    parse_pre_tokenizer(root.value("pre_tokenizer", nlohmann::json()), where);
    parse_added_tokens(root.value("added_tokens", nlohmann::json::array()), where);
    build_id_table();
    std::vector<TemplateItem> tmpl{TemplateItem{true, {}, 0}};
    if (root.contains("post_processor")) parse_post_processor(root["post_processor"], where, &tmpl);
    template_ = std::move(tmpl);
    for (const auto& item : template_) num_special_ += item.ids.size();
    parse_pad(root, where);
  }

  Encoding encode(std::string_view text, bool add_special, size_t max_length) const override {
    Encoding enc;
    std::vector<int32_t> body;
    encode_body(text, &body);
    finish(body, add_special, max_length, &enc.ids, &enc.type_ids);
    enc.tokens.reserve(enc.ids.size());
    for (int32_t id : enc.ids) enc.tokens.push_back(id_to_token_[static_cast<size_t>(id)]);
    return enc;
  }

  size_t count_tokens(std::string_view text, bool add_special) const override {
    std::vector<int32_t> body;
    encode_body(text, &body);
    return body.size() + (add_special ? num_special_ : 0);
  }

  size_t vocab_size() const override { return vocab_size_; }

  std::optional<int32_t> token_to_id(std::string_view token) const override {
    if (auto it = added_by_content_.find(token); it != added_by_content_.end()) return it->second;
    if (auto it = model_.vocab().find(token); it != model_.vocab().end()) return it->second;
    return std::nullopt;
  }

  std::string id_to_token(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !has_id_[id]) {
      throw InvalidArgument("token id " + std::to_string(id) + " is not in the vocabulary");
    }
    return id_to_token_[static_cast<size_t>(id)];
  }

  int32_t pad_id() const override { return pad_id_; }
  size_t num_special_tokens() const override { return num_special_; }

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
      throw ModelFormatError(where + ": pre_tokenizer " +
                             (pt.is_null() ? "null" : pt.dump().substr(0, 80)) +
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

  void parse_added_tokens(const nlohmann::json& list, const std::string& where) {
    if (!list.is_array()) throw ModelFormatError(where + ": added_tokens must be an array");
    std::vector<AddedToken> special, plain;
    for (size_t i = 0; i < list.size(); ++i) {
      const auto& t = list[i];
      const std::string at = where + ": added_tokens[" + std::to_string(i) + "]";
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
          !t.contains("content") || !t["content"].is_string() || t["id"].get<int64_t>() < 0 ||
          t["id"].get<int64_t>() > INT32_MAX) {
        throw ModelFormatError(at +
                               " needs a string \"content\" and a non-negative integer \"id\"");
      }
      AddedToken tok;
      tok.content = t["content"].get<std::string>();
      tok.id = t["id"].get<int32_t>();
      auto flag = [&](const char* key, bool dflt) {
        if (!t.contains(key)) return dflt;
        if (!t[key].is_boolean()) throw ModelFormatError(at + "." + key + " must be a boolean");
        return t[key].get<bool>();
      };
      tok.special = flag("special", false);
      tok.single_word = flag("single_word", false);
      tok.lstrip = flag("lstrip", false);
      tok.rstrip = flag("rstrip", false);
      tok.normalized = flag("normalized", !tok.special);
      if (bpe_detail::find_invalid_utf8(tok.content) != std::string_view::npos) {
        throw ModelFormatError(at + ".content is not valid UTF-8");
      }
      added_by_content_[tok.content] = tok.id;
      added_tokens_.push_back(tok);
      (tok.special ? special : plain).push_back(tok);
    }
    // HF matches specials first, then the others, each in file order; it partitions them by
    // the normalized flag into the raw-text and normalized-text matchers.
    for (const auto* group : {&special, &plain}) {
      for (const AddedToken& tok : *group) {
        if (tok.normalized) {
          normalized_matcher_.add(normalizer_.apply(tok.content), tok);
        } else {
          raw_matcher_.add(tok.content, tok);
        }
      }
    }
  }

  void build_id_table() {
    size_t max_id = 0;
    for (const auto& [tok, id] : model_.vocab()) max_id = std::max(max_id, static_cast<size_t>(id));
    for (const auto& t : added_tokens_) max_id = std::max(max_id, static_cast<size_t>(t.id));
    const bool any = !model_.vocab().empty() || !added_tokens_.empty();
    id_to_token_.assign(any ? max_id + 1 : 0, std::string());
    has_id_.assign(id_to_token_.size(), false);
    for (const auto& [tok, id] : model_.vocab()) {
      id_to_token_[id] = tok;
      has_id_[id] = true;
    }
    for (const auto& t : added_tokens_) {
      id_to_token_[t.id] = t.content;
      has_id_[t.id] = true;
    }
    // Like HF get_vocab_size(with_added_tokens=true): distinct token strings.
    vocab_size_ = model_.vocab().size();
    for (const auto& [content, id] : added_by_content_) {
      if (model_.vocab().find(content) == model_.vocab().end()) ++vocab_size_;
    }
  }

  // Ids of special token `name` for the post-processor: the template's own table when given,
  // else the vocabulary.
  int32_t special_id(const std::string& name, const std::string& where) const {
    if (auto id = token_to_id(name)) return *id;
    throw ModelFormatError(where + ": special token \"" + name + "\" is not in the vocabulary");
  }

  // Applies one post-processor to `tmpl` (what previous processors produced).
  void parse_post_processor(const nlohmann::json& pp, const std::string& where,
                            std::vector<TemplateItem>* tmpl) const {
    if (pp.is_null()) return;
    const std::string at = where + ": post_processor";
    if (!pp.is_object() || !pp.contains("type") || !pp["type"].is_string()) {
      throw ModelFormatError(at + " must be an object with a string \"type\"");
    }
    const std::string type = pp["type"].get<std::string>();
    std::vector<TemplateItem> outer;
    if (type == "ByteLevel") {
      return;  // only trims offsets
    } else if (type == "Sequence") {
      if (!pp.contains("processors") || !pp["processors"].is_array()) {
        throw ModelFormatError(at + " Sequence needs a \"processors\" array");
      }
      for (const auto& sub : pp["processors"]) parse_post_processor(sub, where, tmpl);
      return;
    } else if (type == "TemplateProcessing") {
      if (!pp.contains("single") || !pp["single"].is_array()) {
        throw ModelFormatError(at + ".single must be an array");
      }
      const nlohmann::json specials = pp.value("special_tokens", nlohmann::json::object());
      for (const auto& piece : pp["single"]) {
        if (piece.is_object() && piece.contains("Sequence")) {
          const auto& s = piece["Sequence"];
          outer.push_back(TemplateItem{true, {}, json_type_id(s, at + ".single.Sequence")});
        } else if (piece.is_object() && piece.contains("SpecialToken")) {
          const auto& s = piece["SpecialToken"];
          if (!s.contains("id") || !s["id"].is_string()) {
            throw ModelFormatError(at + ".single.SpecialToken needs a string \"id\"");
          }
          const std::string name = s["id"].get<std::string>();
          TemplateItem item{false, {}, json_type_id(s, at + ".single.SpecialToken")};
          if (specials.is_object() && specials.contains(name)) {
            const auto& entry = specials[name];
            if (!entry.contains("ids") || !entry["ids"].is_array()) {
              throw ModelFormatError(at + ".special_tokens[\"" + name + "\"].ids must be an array");
            }
            for (const auto& id : entry["ids"]) {
              if (!id.is_number_integer() || id.get<int64_t>() < 0) {
                throw ModelFormatError(at + ".special_tokens[\"" + name + "\"].ids must be ids");
              }
              item.ids.push_back(id.get<int32_t>());
            }
          } else {
            throw ModelFormatError(at + ": template names special token \"" + name +
                                   "\" missing from special_tokens");
          }
          outer.push_back(std::move(item));
        } else {
          throw ModelFormatError(at +
                                 ".single entries must be {\"Sequence\"} or {\"SpecialToken\"}");
        }
      }
    } else if (type == "RobertaProcessing" || type == "BertProcessing") {
      auto pair_id = [&](const char* key) {
        if (!pp.contains(key) || !pp[key].is_array() || pp[key].size() != 2 ||
            !pp[key][1].is_number_integer()) {
          throw ModelFormatError(at + "." + key + " must be a [token, id] pair");
        }
        return pp[key][1].get<int32_t>();
      };
      outer.push_back(TemplateItem{false, {pair_id("cls")}, 0});
      outer.push_back(TemplateItem{true, {}, 0});
      outer.push_back(TemplateItem{false, {pair_id("sep")}, 0});
    } else {
      throw ModelFormatError(at + " type \"" + type + "\" is not supported");
    }
    // Substitute what we had so far for the sequence placeholder of this processor.
    std::vector<TemplateItem> merged;
    for (auto& item : outer) {
      if (item.is_sequence) {
        for (const auto& inner : *tmpl) merged.push_back(inner);
      } else {
        merged.push_back(std::move(item));
      }
    }
    *tmpl = std::move(merged);
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
    thread_local std::vector<std::pair<size_t, size_t>> words;
    words.clear();
    bpe_detail::split_gpt2(piece, &words);
    for (const auto& [b, e] : words) model_.tokenize_bytes(piece.substr(b, e - b), ids);
  }

  void encode_body(std::string_view text, std::vector<int32_t>* ids) const {
    if (size_t bad = bpe_detail::find_invalid_utf8(text); bad != std::string_view::npos) {
      throw InvalidArgument("text is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
    }
    std::vector<Segment> raw;
    if (raw_matcher_.empty()) {
      if (!text.empty()) raw.push_back(Segment{0, text.size(), -1});
    } else {
      raw_matcher_.split(text, &raw);
    }
    std::vector<Segment> inner;
    for (const Segment& seg : raw) {
      if (seg.id >= 0) {
        ids->push_back(seg.id);
        continue;
      }
      const std::string_view piece = text.substr(seg.begin, seg.end - seg.begin);
      std::string normalized_storage;
      std::string_view normalized = piece;
      if (!normalizer_.empty()) {
        normalized_storage = normalizer_.apply(piece);
        normalized = normalized_storage;
      }
      inner.clear();
      if (normalized_matcher_.empty()) {
        if (!normalized.empty()) inner.push_back(Segment{0, normalized.size(), -1});
      } else {
        normalized_matcher_.split(normalized, &inner);
      }
      for (const Segment& s : inner) {
        if (s.id >= 0) {
          ids->push_back(s.id);
        } else {
          encode_plain(normalized.substr(s.begin, s.end - s.begin), ids);
        }
      }
    }
  }

  // Truncation (before the specials, so that they survive) and the post-processor template.
  void finish(const std::vector<int32_t>& body, bool add_special, size_t max_length,
              std::vector<int32_t>* ids, std::vector<int32_t>* type_ids) const {
    size_t keep = body.size();
    const size_t specials = add_special ? num_special_ : 0;
    if (max_length > 0) {
      if (max_length < specials) {
        throw InvalidArgument("max_length " + std::to_string(max_length) + " is smaller than the " +
                              std::to_string(specials) + " special tokens the post-processor adds");
      }
      keep = std::min(keep, max_length - specials);
    }
    ids->reserve(keep + specials);
    type_ids->reserve(keep + specials);
    if (!add_special) {
      ids->assign(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(keep));
      type_ids->assign(keep, 0);
      return;
    }
    for (const TemplateItem& item : template_) {
      if (item.is_sequence) {
        ids->insert(ids->end(), body.begin(), body.begin() + static_cast<std::ptrdiff_t>(keep));
        type_ids->insert(type_ids->end(), keep, item.type_id);
      } else {
        ids->insert(ids->end(), item.ids.begin(), item.ids.end());
        type_ids->insert(type_ids->end(), item.ids.size(), item.type_id);
      }
    }
  }

  BpeModel model_;
  Normalizer normalizer_;
  bool add_prefix_space_ = true;
  bool use_regex_ = true;
  std::vector<AddedToken> added_tokens_;
  std::unordered_map<std::string, int32_t, bpe_detail::StringHash, std::equal_to<>>
      added_by_content_;
  AddedMatcher raw_matcher_;
  AddedMatcher normalized_matcher_;
  std::vector<TemplateItem> template_;
  size_t num_special_ = 0;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  size_t vocab_size_ = 0;
  int32_t pad_id_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_tokenizer(const nlohmann::json& root, std::string_view origin) {
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
    return std::make_unique<BpeTokenizer>(root, origin);
  } catch (const nlohmann::json::exception& e) {
    throw ModelFormatError(std::string(origin) + ": malformed BPE tokenizer: " + e.what());
  }
}

}  // namespace ripvec
