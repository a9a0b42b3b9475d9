// Import resolution for the repo map (internal to src/repomap): maps a file's import
// specification to the files of the tree it names, per language, by relative path where the
// language says so and otherwise by matching path suffixes (so "flask.helpers" finds
// src/flask/helpers.py whatever the source root is).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "repomap/extract.hpp"

namespace ripvec::repomap {

class ImportResolver {
 public:
  explicit ImportResolver(const std::vector<std::string>& paths);
  // Indices into `paths` (empty when the import names no file of the tree).
  std::vector<size_t> resolve(const std::string& from_path, const std::string& language,
                              const ImportSpec& spec) const;

 private:
  std::vector<size_t> by_suffix(const std::string& suffix) const;
  long exact(const std::string& path) const;
  std::vector<size_t> dir_files(const std::string& dir_suffix, const std::string& ext) const;

  const std::vector<std::string>& paths_;
  std::unordered_map<std::string, size_t> exact_;
  std::unordered_map<std::string, std::vector<size_t>> suffix_;      // "a/b.py" -> files
  std::unordered_map<std::string, std::vector<size_t>> dir_suffix_;  // "a/b" -> files in it
};

// "a/b/../c/./d" -> "a/c/d"; empty when it climbs above the root.
std::string normalize_path(const std::string& p);

}  // namespace ripvec::repomap
