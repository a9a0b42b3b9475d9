// The tree-sitter grammars compiled into this build, and per-thread parsers for them
// (internal to src/chunk). Without RIPVEC_HAVE_TREESITTER every lookup returns nothing.
#pragma once

#include <cstdint>
#include <functional>
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
// The caller owns the tree (ts_tree_delete). Also null when the calling thread's CancelScope
// says so.
TSTree* parse(std::string_view lang, std::string_view text, uint32_t timeout_ms);

// While alive, parse() on this thread also gives up (returns null, as past its timeout) once
// `cancelled` returns true or throws; `cancelled` is polled from tree-sitter's progress
// callback, every few hundred parse steps, so it must be cheap (and thread-safe where several
// threads share it). For callers several calls above the parse (an editor's outline:
// file_definitions -> extract_file -> chunk_file -> parse), which otherwise learnt of a
// cancellation only after the parse's 5 s timeout. stopped() tells whether a parse gave up
// because of it (a parse that completed before the check turned true did not). A scope with no
// check leaves the enclosing scope in force; `cancelled` must outlive the scope. Not copyable;
// one thread's object.
class CancelScope {
 public:
  explicit CancelScope(const std::function<bool()>* cancelled);  // null or empty: no check
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;
  bool stopped() const { return stopped_; }

 private:
  friend struct CancelAccess;
  const std::function<bool()>* check_ = nullptr;
  CancelScope* outer_ = nullptr;
  bool stopped_ = false;
};

}  // namespace ripvec::ts
