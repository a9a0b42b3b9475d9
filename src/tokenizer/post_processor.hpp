// Post-processors of tokenizer.json ("post_processor" field) for single sequences, matching HF
// `tokenizers`: TemplateProcessing (the "single" template), BertProcessing, RobertaProcessing,
// ByteLevel (no effect on ids), Sequence of those, and null (adds nothing).
//
// Truncation follows HF: with add_special, the content is cut to max_length - num_special() ids
// (right side) before the specials are added, so the final [SEP] always survives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ripvec/tokenizer.hpp"

namespace ripvec::tok {

struct SpecialPiece {
  int32_t id = 0;
  int32_t type_id = 0;
  std::string token;
};

class PostProcessor {
 public:
  PostProcessor() = default;
  // Builds from the "post_processor" JSON value (null -> no specials). Throws ModelFormatError
  // (malformed, template names an unknown special token) / UnsupportedError (unknown type).
  static PostProcessor from_json(const nlohmann::json& j, std::string_view origin);

  // Specials placed before / after the sequence, and the type id of the sequence itself.
  const std::vector<SpecialPiece>& prefix() const { return prefix_; }
  const std::vector<SpecialPiece>& suffix() const { return suffix_; }
  int32_t sequence_type_id() const { return sequence_type_id_; }
  size_t num_special() const { return prefix_.size() + suffix_.size(); }

  // Content length kept for a requested max_length (0 = unlimited -> SIZE_MAX). Throws
  // InvalidArgument when max_length cannot even hold the specials.
  size_t content_budget(bool add_special, size_t max_length) const;

  // `enc` holds the content (already cut to content_budget): ids, and tokens when the caller
  // builds them (tokens.size() == ids.size()) or none (tokens empty). Adds the specials around it
  // when add_special and fills type_ids (same length as ids; the sequence gets
  // sequence_type_id() with or without specials, as HF's TemplateProcessing does).
  void apply(Encoding& enc, bool add_special) const;

 private:
  std::vector<SpecialPiece> prefix_;
  std::vector<SpecialPiece> suffix_;
  int32_t sequence_type_id_ = 0;
};

}  // namespace ripvec::tok
