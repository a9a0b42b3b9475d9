// gitignore-style pattern matching (internal to src/corpus).
//
// Implements the pattern language of gitignore(5): '*', '?', '[...]' classes (ranges, '!'/'^'
// negation, [:alpha:]-style names), '**' in its three positions, backslash escapes, leading '!'
// negation, a trailing '/' for directories only, and anchoring (a '/' at the start or in the
// middle makes a pattern relative to the ignore file's folder; otherwise it matches at any depth).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ripvec::ignore {

// Matches text against a wildmatch pattern. With pathname = true, '*', '?' and classes never match
// '/', and '**' between slashes matches any number of whole path components (git's WM_PATHNAME).
// case_fold compares ASCII letters case-insensitively.
bool wildmatch(std::string_view pattern, std::string_view text, bool pathname = true,
               bool case_fold = false);

enum class Match : uint8_t { None, Ignore, Whitelist };

struct Rule {
  std::string pattern;    // unescaped structure kept; leading '/' and trailing '/' removed
  bool negated = false;   // "!pat": re-includes
  bool dir_only = false;  // "pat/": matches directories only
  bool anchored = false;  // contains a '/' (other than a trailing one): match the whole rel path
  int line = 0;           // 1-based line in its source, for diagnostics
};

// The rules of one ignore file (or one list of globs). Paths given to match() are relative to
// the folder the rules apply to, '/'-separated, without a leading "./".
class RuleSet {
 public:
  RuleSet() = default;
  // Parses gitignore text (one pattern a line; '#' comments; trailing unescaped spaces dropped;
  // CRLF tolerated). origin names the file for diagnostics.
  static RuleSet parse(std::string_view text, std::string origin = {}, bool case_fold = false);
  void add(std::string_view line, int line_no = 0);

  // The last matching rule decides (git semantics); None if no rule matches.
  Match match(std::string_view rel_path, bool is_dir) const;
  bool empty() const { return rules_.empty(); }
  size_t size() const { return rules_.size(); }
  bool has_whitelist() const { return has_whitelist_; }
  const std::string& origin() const { return origin_; }

 private:
  std::vector<Rule> rules_;
  std::string origin_;
  bool case_fold_ = false;
  bool has_whitelist_ = false;
};

}  // namespace ripvec::ignore
