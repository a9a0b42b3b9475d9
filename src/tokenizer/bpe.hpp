// Byte-level BPE tokenizer (GPT-2 / RoBERTa / ModernBERT family) built from a parsed HF
// tokenizer.json. Token ids equal those of HF `tokenizers` for the same file and text.
#pragma once

#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ripvec/tokenizer.hpp"

namespace ripvec {

// root: the whole tokenizer.json document, whose model.type is "BPE". origin names the file in
// error messages. Throws ModelFormatError when a field is missing or malformed (vocab, merges,
// added_tokens, normalizer, pre_tokenizer, post_processor) or names an unsupported component.
std::unique_ptr<Tokenizer> make_bpe_tokenizer(const nlohmann::json& root, std::string_view origin);

}  // namespace ripvec
