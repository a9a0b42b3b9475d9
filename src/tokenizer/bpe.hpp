// Byte-level BPE tokenizer (GPT-2 / RoBERTa / ModernBERT family) built from a parsed HF
// tokenizer.json. Token ids equal those of HF `tokenizers` for the same file and text.
#pragma once

#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/vocab_scan.hpp"

#include "ripvec/tokenizer.hpp"

namespace ripvec {

// root: the whole tokenizer.json document, whose model.type is "BPE" (or absent). origin names the
// file in error messages. Throws ModelFormatError when a field is missing or malformed (vocab,
// merges as "a b" strings or ["a", "b"] pairs, added_tokens, normalizer, post_processor), and
// UnsupportedError for components this implementation does not cover: pre-tokenizers other than
// ByteLevel, normalizers other than NFC/NFD/NFKC/NFKD/Lowercase/Sequence, BPE dropout.
// tokenizer.json's own "truncation" / "padding" sections are ignored (callers pass max_length).
std::unique_ptr<Tokenizer> make_bpe_tokenizer(const nlohmann::json& root, std::string_view origin,
                                              const tok::VocabEntries* scanned = nullptr);

}  // namespace ripvec
