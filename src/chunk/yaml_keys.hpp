// The top-level keys of a YAML stream, found by a line scanner (there is no pinned tree-sitter
// grammar for YAML: the PyPI sdists of tree-sitter-yaml lack scanner.c or its schema file).
// Internal to src/chunk; checked against PyYAML's composer in tests (chunk_languages_test).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ripvec::yaml {

struct TopKey {
  int start = 0, end = 0;  // rows, 0-based inclusive: comments directly above, key, its value
  int key_row = 0;         // the row of the key itself
  std::string name;        // the key as written, quotes removed, at most 120 bytes
};

// Keys at column 0 of block mappings, in every document of the stream ("---" separates them).
// A key's value runs to the next column-0 key, document marker or directive (or sequence item,
// unless the key has no inline value: "key:\n- a" is a sequence at the key's column);
// trailing blank lines and column-0 comments are not part of it, and the column-0 comment lines
// directly above a key (no blank line between) are. Multi-line quoted scalars and flow
// collections that continue at column 0 are followed, so their lines never start a key.
// Never throws; input that is not YAML gives whatever keys its lines look like (or none).
std::vector<TopKey> top_level_keys(const std::vector<std::string_view>& lines);

}  // namespace ripvec::yaml
