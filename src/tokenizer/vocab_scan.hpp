// Internal to the tokenizer module: reads tokenizer.json's "model" → "vocab" object without
// building a JSON DOM for it. The vocabulary is most of the file (30,522 entries for BERT,
// 50,280 for ModernBERT); a std::map node per entry made loading the default model's tokenizer
// ~25 ms of a CLI query's ~100 ms budget.
//
// Contract: split_vocab() either returns the vocabulary as nlohmann::json would give it, with
// every key decoded as JSON (escapes, surrogate pairs), together with the document text with
// that object replaced by `{}`, or returns nullopt. "As the DOM gives it": inserting the entries
// in order into a map with overwrite gives the DOM's key → id map (a key given twice keeps its
// last value); when two keys share an id the entries are exactly the DOM's, in its iteration
// order (keys sorted bytewise, unique), since loaders resolve shared ids by order; otherwise
// they are in file order (sorting 30,000 keys was most of what the scanner saved). nullopt means
// "parse the whole document the ordinary way": the text is malformed, the vocabulary holds
// something else than plain non-negative integers up to INT32_MAX, a key is not valid UTF-8,
// "model" or "vocab" appears twice, or anything the scanner does not handle; the DOM path then
// accepts or rejects the file with its own messages. tests/unit/tokenizer_vocab_scan_test.cpp
// compares both paths. Pure function, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ripvec::tok {

using VocabEntries = std::vector<std::pair<std::string, int32_t>>;

struct SplitVocab {
  std::string rest;      // the document with model.vocab replaced by {}
  VocabEntries entries;  // see the contract above for the order
};

std::optional<SplitVocab> split_vocab(std::string_view json_text);

}  // namespace ripvec::tok
