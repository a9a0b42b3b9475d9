#include "corpus/path_filter.hpp"

#include <algorithm>

#include "ripvec/corpus.hpp"
#include "ripvec/error.hpp"

namespace ripvec::corpus {

std::vector<std::string> type_globs(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  const auto& types = file_types();
  for (const auto& n : names) {
    auto it =
        std::find_if(types.begin(), types.end(), [&](const FileType& t) { return t.name == n; });
    if (it == types.end())
      throw InvalidArgument("unknown file type '" + n + "' (see --type-list for the known ones)");
    out.insert(out.end(), it->globs.begin(), it->globs.end());
  }
  return out;
}

bool has_hidden_component(std::string_view p) {
  size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '.') return true;
    const size_t slash = p.find('/', i);
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  return false;
}

namespace {

std::string normalize_sub_path(std::string p) {
  while (p.size() >= 2 && p.compare(0, 2, "./") == 0) p.erase(0, 2);
  while (!p.empty() && p.back() == '/') p.pop_back();
  if (p == ".") p.clear();
  if (!p.empty() && p.front() == '/')
    throw InvalidArgument("search path '" + p + "' must be relative to the index root");
  for (size_t i = 0; i <= p.size();) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    const std::string_view c(p.data() + i, j - i);
    if (!p.empty() && (c.empty() || c == "." || c == ".."))
      throw InvalidArgument("search path '" + p + "' must not contain empty, '.' or '..' parts");
    i = j + 1;
  }
  return p;
}

// End (its ']') of the bracket class opening at glob[i] ('['), or npos when it is never
// closed; a ']' first is a member of the class.
size_t class_end(std::string_view glob, size_t i) {
  size_t j = i + 1;
  if (j < glob.size() && (glob[j] == '!' || glob[j] == '^')) ++j;
  if (j < glob.size() && glob[j] == ']') ++j;
  while (j < glob.size() && glob[j] != ']') j += glob[j] == '\\' ? 2 : 1;
  return j < glob.size() ? j : std::string_view::npos;
}

}  // namespace

bool any_glob_matches(const std::vector<std::string>& globs, std::string_view name) {
  for (const auto& g : globs)
    if (ignore::wildmatch(g, name, true)) return true;
  return false;
}

void check_glob(std::string_view glob) {
  for (size_t i = 0; i < glob.size(); ++i) {
    if (glob[i] == '\\') {
      // An escaped character; a lone '\\' at the end escapes nothing, and wildmatch then
      // matched nothing, silently (ripgrep: "dangling '\\'").
      if (i + 1 == glob.size())
        throw InvalidArgument("glob '" + std::string(glob) +
                              "' ends with a lone '\\' (write \\\\ for a backslash)");
      ++i;
      continue;
    }
    if (glob[i] != '[') continue;
    i = class_end(glob, i);
    if (i == std::string_view::npos)
      throw InvalidArgument("glob '" + std::string(glob) +
                            "': '[' is never closed (write \\[ for a literal bracket)");
  }
}

namespace {

constexpr size_t kMaxGlobExpansion = 1024;  // patterns one -g glob may expand to

[[noreturn]] void bad_braces(std::string_view whole, const char* why) {
  throw InvalidArgument("glob '" + std::string(whole) + "': " + why +
                        " (write \\{ or \\} for a literal brace)");
}

// Appends the expansions of `g` (no leading '!') to out.
void expand_into(std::string_view whole, std::string_view g, std::vector<std::string>& out) {
  // The first '{' outside a bracket class, and its '}' at the same depth.
  size_t open = std::string_view::npos, close = std::string_view::npos;
  std::vector<size_t> commas;  // top-level commas of that group
  int depth = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const char ch = g[i];
    if (ch == '\\') {
      ++i;
    } else if (ch == '[') {
      const size_t e = class_end(g, i);
      if (e == std::string_view::npos) break;  // check_glob names it below
      i = e;
    } else if (ch == '{') {
      if (depth++ == 0 && open == std::string_view::npos) open = i;
    } else if (ch == '}') {
      if (depth == 0) bad_braces(whole, "'}' without a '{'");
      if (--depth == 0 && close == std::string_view::npos) close = i;
    } else if (ch == ',' && depth == 1 && close == std::string_view::npos) {
      commas.push_back(i);
    }
  }
  if (depth > 0) bad_braces(whole, "'{' is never closed");
  if (open == std::string_view::npos) {
    try {
      check_glob(g);
    } catch (const InvalidArgument& e) {  // named as the user wrote it, not as expanded
      std::string msg = e.what();
      const std::string was = "glob '" + std::string(g) + "'";
      if (msg.starts_with(was)) msg = "glob '" + std::string(whole) + "'" + msg.substr(was.size());
      throw InvalidArgument(msg);
    }
    if (g.empty())  // `{}`, `{,}`: a pattern of nothing would restrict nothing, silently
      throw InvalidArgument("glob '" + std::string(whole) + "' has an empty alternative");
    if (out.size() >= kMaxGlobExpansion)
      throw InvalidArgument("glob '" + std::string(whole) + "' expands to more than " +
                            std::to_string(kMaxGlobExpansion) + " patterns");
    out.emplace_back(g);
    return;
  }
  const std::string_view head = g.substr(0, open), tail = g.substr(close + 1);
  size_t from = open + 1;
  commas.push_back(close);
  for (size_t c : commas) {
    std::string alt;
    alt.reserve(head.size() + (c - from) + tail.size());
    alt.append(head).append(g.substr(from, c - from)).append(tail);
    expand_into(whole, alt, out);
    from = c + 1;
  }
}

}  // namespace

std::vector<std::string> expand_glob(std::string_view glob) {
  const bool negated = !glob.empty() && glob[0] == '!';
  // Each group is a level of recursion: a hostile glob (an MCP argument) of thousands of groups
  // would otherwise run the stack out before the expansion bound is reached.
  if (std::count(glob.begin(), glob.end(), '{') > 64)
    throw InvalidArgument("glob '" + std::string(glob.substr(0, 80)) +
                          "...' has more than 64 '{' groups");
  // wildmatch backtracks over each '*': thousands of them (`**/` repeated) took minutes.
  if (std::count(glob.begin(), glob.end(), '*') > 64)
    throw InvalidArgument("glob '" + std::string(glob.substr(0, 80)) + "...' has more than 64 '*'");
  std::vector<std::string> out;
  expand_into(glob, negated ? glob.substr(1) : glob, out);
  if (negated)
    for (auto& p : out) p.insert(p.begin(), '!');
  return out;
}

PathFilter::PathFilter(const PathFilterSpec& spec) : hidden_(spec.hidden) {
  type_globs_ = type_globs(spec.types);
  type_not_globs_ = type_globs(spec.type_not);
  for (const auto& glob : spec.globs)
    for (const auto& g : expand_glob(glob)) {
      overrides_.add(g);
      if (!g.empty() && g[0] != '!') override_whitelist_ = true;
    }
  for (const auto& p : spec.paths) {
    std::string n = normalize_sub_path(p);
    if (n.empty()) {  // the root: no restriction at all
      paths_.clear();
      break;
    }
    paths_.push_back(std::move(n));
  }
}

size_t PathFilter::scope_prefix(std::string_view rel) const {
  if (paths_.empty()) return 0;
  size_t best = std::string_view::npos;
  for (const auto& p : paths_) {
    if (rel.size() < p.size() || rel.compare(0, p.size(), p) != 0) continue;
    if (rel.size() == p.size() || rel[p.size()] == '/') {
      const size_t len = rel.size() == p.size() ? p.size() : p.size() + 1;
      if (best == std::string_view::npos || len > best) best = len;
    }
  }
  return best;
}

bool PathFilter::in_scope(std::string_view rel) const {
  return scope_prefix(rel) != std::string_view::npos;
}

bool PathFilter::allows(std::string_view rel) const {
  const size_t from = scope_prefix(rel);
  if (from == std::string_view::npos) return false;
  // The file itself was named explicitly (PATH is the file): only types decide.
  const bool named_file = from == rel.size() && !paths_.empty();
  bool forced = false;
  if (!named_file) {
    size_t i = from;
    while (i < rel.size()) {
      size_t slash = rel.find('/', i);
      const bool is_dir = slash != std::string_view::npos;
      if (!is_dir) slash = rel.size();
      const std::string_view comp = rel.substr(i, slash - i);
      bool comp_forced = false;
      if (!overrides_.empty()) {
        const ignore::Match m = overrides_.match(rel.substr(0, slash), is_dir);
        if (m == ignore::Match::Whitelist) return false;  // a "!glob" matched: excluded
        comp_forced = m == ignore::Match::Ignore;         // a plain glob matched: admitted
      }
      if (!comp_forced && !hidden_ && !comp.empty() && comp[0] == '.') return false;
      if (!is_dir) forced = comp_forced;
      i = slash + 1;
    }
    if (!forced && override_whitelist_) return false;
  }
  const size_t slash = rel.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? rel : rel.substr(slash + 1);
  if (!type_globs_.empty() && !any_glob_matches(type_globs_, name)) return false;
  if (!type_not_globs_.empty() && any_glob_matches(type_not_globs_, name)) return false;
  return true;
}

}  // namespace ripvec::corpus
