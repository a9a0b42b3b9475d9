// Which files of an index a search may rank: the query-time counterpart of the walker's
// filters (-t/-T types, -g globs, sub-paths, hidden files), applied to stored relative paths
// without touching the file system. Same glob matcher and type table as the walker.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "corpus/gitignore.hpp"

namespace ripvec::corpus {

struct PathFilterSpec {
  std::vector<std::string> types, type_not;  // file type names (ripvec/corpus.hpp)
  std::vector<std::string> globs;            // ripgrep -g semantics, relative to the root
  std::vector<std::string> paths;            // sub-paths relative to the root ("" = all)
  bool hidden = false;                       // admit hidden files
};

// The globs of the named types. Throws InvalidArgument for an unknown name.
std::vector<std::string> type_globs(const std::vector<std::string>& names);

// Throws InvalidArgument naming a -g glob whose '[' is never closed: git's wildmatch gives up
// on such a pattern, so it matched nothing and the search found nothing, silently (ripgrep
// refuses it too). "\\[" is a literal bracket.
void check_glob(std::string_view glob);

// A -g glob as the patterns git's wildmatch reads: `{a,b}` alternation (ripgrep's and every
// shell's, which wildmatch lacks: `*.{rs,py}` matched a file named that literally) expanded,
// nested groups included, a leading "!" kept on each; "\\{" is a literal brace. Each result
// passes check_glob. Throws InvalidArgument for a '{' never closed, a '}' never opened, more
// than 64 groups or more than 1,024 patterns.
std::vector<std::string> expand_glob(std::string_view glob);

// Whether some component of `rel_path` starts with '.'.
bool has_hidden_component(std::string_view rel_path);

// Whether `name` (a file name, for -t/-T type globs) matches one of `globs` (wildmatch, case
// sensitive): the walk's type check and PathFilter's are this one test.
bool any_glob_matches(const std::vector<std::string>& globs, std::string_view name);

class PathFilter {
 public:
  PathFilter() = default;  // admits everything but hidden files
  // Throws InvalidArgument for an unknown type name or an empty/malformed path.
  explicit PathFilter(const PathFilterSpec& spec);

  // rel_path: relative to the root, '/' separators. Rules, as the walker applies them to a
  // walk rooted at the sub-path: the path must lie in one of `paths` (when any); below that
  // sub-path, each folder and the file are matched against the globs ("!glob" excludes; a
  // matching glob admits and skips the hidden check for that component); a component starting
  // with '.' is refused unless `hidden`; with any positive glob the file itself must match
  // one; then the types decide by the file name. The components of the sub-path itself were
  // named explicitly: they are never refused as hidden.
  bool allows(std::string_view rel_path) const;

  // Whether `rel_path` lies in one of `paths` (true when there are none).
  bool in_scope(std::string_view rel_path) const;

 private:
  // Length of the matching sub-path prefix (0 for the root), or npos when out of scope.
  size_t scope_prefix(std::string_view rel_path) const;

  std::vector<std::string> paths_;
  std::vector<std::string> type_globs_, type_not_globs_;
  ignore::RuleSet overrides_;
  bool override_whitelist_ = false;
  bool hidden_ = false;
};

}  // namespace ripvec::corpus
