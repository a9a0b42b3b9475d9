// libFuzzer target: arbitrary bytes as text for the two tokenizer families, built from fixture
// files: WordPiece (tests/data/bert/tiny_bge_cls/tokenizer.json, BERT uncased pipeline) and
// byte-level BPE (fuzz/data/bpe_tokenizer.json, ModernBERT's pipeline cut to 2,000 merges).
// Invalid UTF-8 must be refused with InvalidArgument; anything else must encode consistently.
#include "tokenizer/utf8.hpp"
#include "tokenizer_check.hpp"

using namespace ripvec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto wordpiece =
      Tokenizer::from_file(fuzz::source_path("tests/data/bert/tiny_bge_cls/tokenizer.json"));
  static const auto bpe = Tokenizer::from_file(fuzz::source_path("fuzz/data/bpe_tokenizer.json"));
  const std::string_view text = fuzz::as_text(data, size);
  // Both fixtures can represent any valid text ([UNK] / byte-level alphabet), so exactly the
  // invalid UTF-8 inputs are refused.
  const bool valid = tok::utf8_invalid_offset(text) == text.size();
  FUZZ_CHECK(fuzz::check_encode(*wordpiece, text, true) == valid);
  FUZZ_CHECK(fuzz::check_encode(*bpe, text, true) == valid);
  return 0;
}
