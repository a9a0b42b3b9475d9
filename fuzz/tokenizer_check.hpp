// Invariants of a Tokenizer's output on one text, shared by the tokenizer_json and tokenize
// targets.
#pragma once

#include "fuzz_util.hpp"
#include "ripvec/tokenizer.hpp"

namespace ripvec::fuzz {

// Encodes `text` with and without specials and with truncation. Returns false when the text
// was refused with InvalidArgument (invalid UTF-8, a token that needs a missing unk token).
// fixture: a consistent tokenizer file (the committed fixtures): ids are below vocab_size() and
// name their tokens, and the post-processor ends every sequence with a special token ([SEP])
// that truncation keeps. A fuzzed tokenizer.json need not be consistent: like HF tokenizers,
// the post-processor emits the ids its config names, in the vocabulary or not (checking them
// against the model is the model loader's job).
inline bool check_encode(const Tokenizer& tok, std::string_view text, bool fixture) {
  Encoding e;
  try {
    e = tok.encode(text, true);
  } catch (const InvalidArgument&) {
    return false;
  } catch (const ModelFormatError&) {
    // A fuzzed tokenizer.json can be inconsistent in ways only encoding meets (an unk_token
    // missing from a WordPiece vocabulary): a typed error naming it, which Tokenizer::check_fits
    // reports when a model loads. The committed fixtures must never do this.
    FUZZ_CHECK(!fixture);
    return false;
  }
  FUZZ_CHECK(e.ids.size() == e.tokens.size());
  FUZZ_CHECK(e.ids.size() == e.type_ids.size());
  FUZZ_CHECK(e.ids.size() >= tok.num_special_tokens());
  FUZZ_CHECK(tok.count_tokens(text, true) == e.ids.size());
  for (size_t i = 0; fixture && i < e.ids.size(); ++i) {
    FUZZ_CHECK(e.ids[i] >= 0);
    FUZZ_CHECK(static_cast<size_t>(e.ids[i]) < tok.vocab_size());
    FUZZ_CHECK(tok.id_to_token(e.ids[i]) == e.tokens[i]);
  }
  const Encoding plain = tok.encode(text, false);
  // Ids for text (vocabulary and added tokens, no specials) are below vocab_size(), the id space,
  // for any tokenizer file.
  for (int32_t id : plain.ids) FUZZ_CHECK(id >= 0 && static_cast<size_t>(id) < tok.vocab_size());
  FUZZ_CHECK(plain.ids.size() + tok.num_special_tokens() == e.ids.size());
  FUZZ_CHECK(tok.count_tokens(text, false) == plain.ids.size());
  for (size_t max_len : {tok.num_special_tokens() + 1, tok.num_special_tokens() + 7}) {
    const Encoding cut = tok.encode(text, true, max_len);
    FUZZ_CHECK(cut.ids.size() == std::min(max_len, e.ids.size()));
    FUZZ_CHECK(cut.ids.size() == cut.tokens.size() && cut.ids.size() == cut.type_ids.size());
    // Truncation keeps a prefix of the sequence and the closing specials.
    if (fixture) FUZZ_CHECK(cut.ids.back() == e.ids.back());
  }
  return true;
}

}  // namespace ripvec::fuzz
