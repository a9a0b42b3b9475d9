// The tree-sitter grammars compiled into this build, and per-thread parsers for them
// (internal to src/chunk). Without RIPVEC_HAVE_TREESITTER every lookup returns nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct TSLanguage;
struct TSTree;

namespace ripvec::ts {

// The grammar for a language name ("python", "typescript", "tsx", "cpp"...), or null when it
// is not compiled in or its ABI is outside the runtime's supported window.
const TSLanguage* language(std::string_view name);

// Names of the usable grammars, sorted.
std::vector<std::string> languages();

// Parses text with the calling thread's parser for that language. Returns null if the language
// is unknown, the text is larger than 4 GiB, or parsing ran past timeout_ms (0 = no limit).
// The caller owns the tree (ts_tree_delete).
TSTree* parse(std::string_view lang, std::string_view text, uint32_t timeout_ms);

}  // namespace ripvec::ts
