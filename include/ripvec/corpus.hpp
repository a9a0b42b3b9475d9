// What a search can be restricted to: the file types that -t/--type names (ripgrep's names and
// globs for the common ones, plus a few aliases). Used by SearchFilter::types (ripvec/index.hpp)
// and `ripvec --type-list`.
#pragma once

#include <string>
#include <vector>

namespace ripvec {

struct FileType {
  std::string name;                // "py", "rust", "cpp"...
  std::vector<std::string> globs;  // matched against the file name: "*.py", "Makefile"
};

// Every known type, sorted by name. Thread-safe (built once).
const std::vector<FileType>& file_types();

}  // namespace ripvec
