// Normalizers of tokenizer.json ("normalizer" field), matching HF `tokenizers`.
//
// Supported types: BertNormalizer, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip,
// Prepend, Replace (String pattern), Sequence. A null normalizer is represented by nullptr.
// Anything else throws UnsupportedError naming the type and the file.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ripvec::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Appends the normalized form of `in` (valid UTF-8) to `out`. `in` must not alias `out`.
  virtual void normalize(std::string_view in, std::string& out) const = 0;
  // Convenience: returns the normalized string.
  std::string normalize(std::string_view in) const {
    std::string out;
    normalize(in, out);
    return out;
  }
};

// HF BertNormalizer. strip_accents: null in JSON means "same as lowercase".
class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool handle_chinese_chars, bool strip_accents, bool lowercase)
      : clean_text_(clean_text),
        handle_chinese_chars_(handle_chinese_chars),
        strip_accents_(strip_accents),
        lowercase_(lowercase) {}
  void normalize(std::string_view in, std::string& out) const override;
  using Normalizer::normalize;

 private:
  bool clean_text_, handle_chinese_chars_, strip_accents_, lowercase_;
};

// Builds the normalizer described by `j` (the "normalizer" value of tokenizer.json); nullptr when
// j is null. Throws ModelFormatError (malformed) / UnsupportedError (unknown type).
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, std::string_view origin);

}  // namespace ripvec::tok
