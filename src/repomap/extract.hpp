// What the repo map needs from one source file (internal to src/repomap): its definitions
// (from the chunker's tree-sitter rules), the names it mentions (identifier leaves, with
// positions) and its raw import specifications ("a.b", "./x", "fmt", "crate::a::B", "x.h"...).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ripvec/repo_map.hpp"

namespace ripvec::repomap {

struct NameRef {
  std::string name;
  int line = 0, column = 0;  // 1-based line, 0-based byte column
};

struct ImportSpec {
  std::string spec;
  bool relative_hint = false;  // C/C++ "x.h" (vs <x.h>); Ruby require_relative
};

struct FileFacts {
  std::string path, language;
  int line_count = 0;
  std::vector<RepoDefinition> defs;  // source order, no module node
  std::vector<NameRef> refs;
  std::vector<ImportSpec> imports;
  bool parsed = false;  // false: no grammar, or tree-sitter failed (defs/refs empty)
};

// The language the repo map parses `path` as ("" when none); C headers that look like C++ are
// "cpp".
std::string map_language(std::string_view path, std::string_view text);

// with_refs false: definitions only (an editor's outline); refs stay empty and the file is
// not parsed a second time for them (a file tree-sitter gives up on cost the chunker's parse
// timeout and then this one's).
FileFacts extract_file(std::string_view path, std::string_view text, bool with_refs = true);

}  // namespace ripvec::repomap
