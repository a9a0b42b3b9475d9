// Unicode pieces of the byte-level BPE tokenizer that must see characters exactly as HF
// `tokenizers` does for BPE files: the GPT-2 regex classes (Oniguruma's Unicode 16 tables) and
// the normalizers (NFC with HF's older normalization tables). The tables come from
// scripts/gen_bpe_unicode_tables.py, which probes the HF package itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/normalizer.hpp"

namespace ripvec::bpe_detail {

// Classes of the GPT-2 pre-tokenizer regex: \p{L}, \p{N}, \s, and everything else.
enum class CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };
CharClass char_class(char32_t cp) noexcept;

// Unicode normalization form `options` (utf8proc flags) of valid UTF-8 `in`, appended to out,
// leaving alone the code points HF's normalization tables do not know.
void append_hf_normalized(std::string_view in, int utf8proc_options, std::string& out);

// A normalizer chain parsed from tokenizer.json's "normalizer": NFC, NFD, NFKC, NFKD, Lowercase,
// and Sequence of those; null gives an empty chain. Other types throw
// UnsupportedError, malformed specs ModelFormatError.
class BpeNormalizer final : public tok::Normalizer {
 public:
  BpeNormalizer(const nlohmann::json& spec, std::string_view origin);
  bool empty() const { return steps_.empty(); }
  void normalize(std::string_view in, std::string& out) const override;
  using tok::Normalizer::normalize;

 private:
  enum class Kind : uint8_t { kUnicode, kLowercase };
  struct Step {
    Kind kind = Kind::kUnicode;
    int options = 0;  // kUnicode: utf8proc flags
  };
  void add(const nlohmann::json& spec, std::string_view origin);
  std::vector<Step> steps_;
};

}  // namespace ripvec::bpe_detail
