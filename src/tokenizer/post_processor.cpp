#include "tokenizer/post_processor.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "ripvec/error.hpp"

namespace ripvec::tok {
namespace {

using nlohmann::json;

[[noreturn]] void bad(std::string_view origin, const std::string& msg) {
  throw ModelFormatError(std::string(origin) + ": post_processor: " + msg);
}

int32_t get_id(const json& v, std::string_view origin, const char* what) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
    bad(origin, std::string(what) + " must be a non-negative integer id");
  return static_cast<int32_t>(v.get<int64_t>());
}

// ["[CLS]", 101] as used by BertProcessing / RobertaProcessing.
SpecialPiece token_pair(const json& j, const char* key, std::string_view origin) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->size() != 2 || !(*it)[0].is_string())
    bad(origin, std::string("field '") + key + "' must be [token, id]");
  return SpecialPiece{get_id((*it)[1], origin, key), 0, (*it)[0].get<std::string>()};
}

}  // namespace

PostProcessor PostProcessor::from_json(const nlohmann::json& j, std::string_view origin) {
  PostProcessor pp;
  if (j.is_null()) return pp;
  if (!j.is_object()) bad(origin, "expected an object or null");
  auto t = j.find("type");
  if (t == j.end() || !t->is_string()) bad(origin, "missing string field 'type'");
  const std::string type = t->get<std::string>();
  if (type == "ByteLevel") return pp;  // only adjusts offsets
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    pp.prefix_.push_back(token_pair(j, "cls", origin));
    pp.suffix_.push_back(token_pair(j, "sep", origin));
    return pp;
  }
  if (type == "TemplateProcessing") {
    auto single = j.find("single");
    if (single == j.end() || !single->is_array()) bad(origin, "missing array 'single'");
    auto specials = j.find("special_tokens");
    bool seen_sequence = false;
    for (const auto& piece : *single) {
      if (!piece.is_object() || piece.size() != 1) bad(origin, "malformed template piece");
      if (auto s = piece.find("Sequence"); s != piece.end()) {
        if (seen_sequence) bad(origin, "single template has two sequences");
        seen_sequence = true;
        pp.sequence_type_id_ = get_id(s->value("type_id", json(0)), origin, "type_id");
        continue;
      }
      auto st = piece.find("SpecialToken");
      if (st == piece.end()) bad(origin, "template piece is neither Sequence nor SpecialToken");
      auto name_it = st->find("id");
      if (name_it == st->end() || !name_it->is_string()) bad(origin, "SpecialToken without id");
      const std::string name = name_it->get<std::string>();
      const int32_t type_id = get_id(st->value("type_id", json(0)), origin, "type_id");
      if (specials == j.end() || !specials->is_object() || !specials->contains(name))
        bad(origin, "template uses special token '" + name + "' missing from special_tokens");
      const json& spec = (*specials)[name];
      auto ids = spec.find("ids");
      auto toks = spec.find("tokens");
      if (ids == spec.end() || !ids->is_array() || toks == spec.end() || !toks->is_array() ||
          ids->size() != toks->size())
        bad(origin, "special token '" + name + "' needs arrays 'ids' and 'tokens' of equal size");
      auto& dst = seen_sequence ? pp.suffix_ : pp.prefix_;
      for (size_t k = 0; k < ids->size(); ++k) {
        if (!(*toks)[k].is_string()) bad(origin, "special token '" + name + "': bad tokens");
        dst.push_back(
            SpecialPiece{get_id((*ids)[k], origin, "ids"), type_id, (*toks)[k].get<std::string>()});
      }
    }
    if (!seen_sequence) bad(origin, "single template has no $A sequence");
    return pp;
  }
  if (type == "Sequence") {
    auto procs = j.find("processors");
    if (procs == j.end() || !procs->is_array()) bad(origin, "Sequence: missing 'processors'");
    // Each processor wraps the output of the previous one and re-types what it wraps.
    for (const auto& sub : *procs) {
      PostProcessor inner = from_json(sub, origin);
      if (inner.num_special() == 0) continue;
      for (auto& p : pp.prefix_) p.type_id = inner.sequence_type_id_;
      for (auto& p : pp.suffix_) p.type_id = inner.sequence_type_id_;
      inner.prefix_.insert(inner.prefix_.end(), pp.prefix_.begin(), pp.prefix_.end());
      pp.suffix_.insert(pp.suffix_.end(), inner.suffix_.begin(), inner.suffix_.end());
      pp.prefix_ = std::move(inner.prefix_);
      pp.sequence_type_id_ = inner.sequence_type_id_;
    }
    return pp;
  }
  throw UnsupportedError(std::string(origin) + ": post_processor type '" + type +
                         "' is not supported");
}

size_t PostProcessor::content_budget(bool add_special, size_t max_length) const {
  if (max_length == 0) return std::numeric_limits<size_t>::max();
  if (!add_special) return max_length;
  if (max_length < num_special()) {
    throw InvalidArgument("max_length " + std::to_string(max_length) + " cannot hold the " +
                          std::to_string(num_special()) +
                          " special tokens the post-processor adds");
  }
  return max_length - num_special();
}

void PostProcessor::apply(Encoding& enc, bool add_special) const {
  const bool with_tokens = !enc.tokens.empty() || enc.ids.empty();
  if (!add_special || num_special() == 0) {
    // HF's TemplateProcessing types the sequence even when it adds no specials.
    enc.type_ids.assign(enc.ids.size(), sequence_type_id_);
    return;
  }
  const size_t n = enc.ids.size();
  std::vector<int32_t> ids, types;
  ids.reserve(n + num_special());
  types.reserve(n + num_special());
  for (const auto& p : prefix_) ids.push_back(p.id), types.push_back(p.type_id);
  ids.insert(ids.end(), enc.ids.begin(), enc.ids.end());
  types.insert(types.end(), n, sequence_type_id_);
  for (const auto& p : suffix_) ids.push_back(p.id), types.push_back(p.type_id);
  if (with_tokens) {
    std::vector<std::string> toks;
    toks.reserve(ids.size());
    for (const auto& p : prefix_) toks.push_back(p.token);
    for (auto& s : enc.tokens) toks.push_back(std::move(s));
    for (const auto& p : suffix_) toks.push_back(p.token);
    enc.tokens = std::move(toks);
  }
  enc.ids = std::move(ids);
  enc.type_ids = std::move(types);
}

}  // namespace ripvec::tok
