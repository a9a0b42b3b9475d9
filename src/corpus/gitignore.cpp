// gitignore pattern matching: a port of git's wildmatch.c semantics (including its
// abort-early rules, which keep '*'/'**' backtracking polynomial) plus the rule-line parser of
// git's dir.c (negation, dir-only, anchoring, escapes, trailing spaces).
#include "corpus/gitignore.hpp"

#include <cctype>

namespace ripvec::ignore {
namespace {

constexpr int kMatch = 0;
constexpr int kNoMatch = 1;
constexpr int kAbortAll = -1;
constexpr int kAbortToStarStar = -2;

unsigned char fold(unsigned char c, bool case_fold) {
  return case_fold && c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c - 'A' + 'a') : c;
}

bool class_matches(std::string_view name, unsigned char c, bool case_fold, bool* known) {
  *known = true;
  if (name == "alnum") return std::isalnum(c);
  if (name == "alpha") return std::isalpha(c);
  if (name == "blank") return c == ' ' || c == '\t';
  if (name == "cntrl") return std::iscntrl(c);
  if (name == "digit") return std::isdigit(c);
  if (name == "graph") return std::isgraph(c);
  // Case folding makes [:upper:] and [:lower:] accept both cases, as in git.
  if (name == "lower") return std::islower(c) || (case_fold && std::isupper(c));
  if (name == "print") return std::isprint(c);
  if (name == "punct") return std::ispunct(c);
  if (name == "space") return std::isspace(c);
  if (name == "upper") return std::isupper(c) || (case_fold && std::islower(c));
  if (name == "xdigit") return std::isxdigit(c);
  *known = false;
  return false;
}

struct Wild {
  std::string_view pat, text;
  bool pathname, case_fold;

  unsigned char pc(size_t i) const { return i < pat.size() ? pat[i] : 0; }
  unsigned char tc(size_t i) const { return i < text.size() ? text[i] : 0; }

  int run(size_t p, size_t t) const {
    for (; p < pat.size(); ++t, ++p) {
      unsigned char p_ch = pc(p);
      unsigned char t_ch = tc(t);
      if (t >= text.size() && p_ch != '*') return kAbortAll;
      switch (p_ch) {
        case '\\':
          // An escaped char is literal; a trailing backslash matches nothing.
          ++p;
          if (p >= pat.size()) return kAbortAll;
          p_ch = pc(p);
          [[fallthrough]];
        default:
          if (fold(t_ch, case_fold) != fold(p_ch, case_fold)) return kNoMatch;
          continue;
        case '?':
          if (pathname && t_ch == '/') return kNoMatch;
          continue;
        case '*': {
          bool match_slash;
          if (pc(++p) == '*') {
            const size_t star_start = p - 1;
            while (pc(++p) == '*') {
            }
            const bool at_start = star_start == 0 || pat[star_start - 1] == '/';
            if (!pathname) {
              match_slash = true;
            } else if (at_start &&
                       (p >= pat.size() || pc(p) == '/' || (pc(p) == '\\' && pc(p + 1) == '/'))) {
              // "**/" may also match zero folders.
              if (pc(p) == '/' && run(p + 1, t) == kMatch) return kMatch;
              match_slash = true;
            } else {
              match_slash = false;  // "**" glued to other chars acts like "*"
            }
          } else {
            match_slash = !pathname;
          }
          if (p >= pat.size()) {
            // Trailing "**" matches everything; trailing "*" only the rest of this component.
            if (!match_slash && text.substr(t).find('/') != std::string_view::npos) return kNoMatch;
            return kMatch;
          }
          if (!match_slash && pc(p) == '/') {
            // One star followed by '/' matches exactly the rest of the current component.
            const size_t slash = text.find('/', t);
            if (slash == std::string_view::npos) return kNoMatch;
            t = slash;
            break;  // the loop increment consumes the '/' in both
          }
          while (true) {
            if (t >= text.size()) break;
            const int m = run(p, t);
            if (m != kNoMatch) {
              if (!match_slash || m != kAbortToStarStar) return m;
            } else if (!match_slash && text[t] == '/') {
              return kAbortToStarStar;
            }
            ++t;
          }
          return kAbortAll;
        }
        case '[': {
          p_ch = pc(++p);
          if (p_ch == '^') p_ch = '!';
          const bool negated = p_ch == '!';
          if (negated) p_ch = pc(++p);
          unsigned char prev_ch = 0;
          bool matched = false;
          const unsigned char t_f = fold(t_ch, case_fold);
          do {
            if (p >= pat.size()) return kAbortAll;
            if (p_ch == '\\') {
              p_ch = pc(++p);
              if (p >= pat.size()) return kAbortAll;
              if (t_f == fold(p_ch, case_fold)) matched = true;
            } else if (p_ch == '-' && prev_ch && p + 1 < pat.size() && pc(p + 1) != ']') {
              p_ch = pc(++p);
              if (p_ch == '\\') {
                p_ch = pc(++p);
                if (p >= pat.size()) return kAbortAll;
              }
              if (t_ch <= p_ch && t_ch >= prev_ch) {
                matched = true;
              } else if (case_fold) {
                const unsigned char lo = fold(t_ch, true);
                const unsigned char up = static_cast<unsigned char>(std::toupper(t_ch));
                if ((lo <= p_ch && lo >= prev_ch) || (up <= p_ch && up >= prev_ch)) matched = true;
              }
              p_ch = 0;  // a range cannot start another range
            } else if (p_ch == '[' && pc(p + 1) == ':') {
              const size_t s = p + 2;
              size_t e = s;
              while (e < pat.size() && pat[e] != ']') ++e;
              if (e >= pat.size()) return kAbortAll;
              if (e == s || pat[e - 1] != ':') {
                // No ":]": a plain '[' in the set.
                p_ch = '[';
                if (t_ch == '[') matched = true;
              } else {
                bool known = false;
                if (class_matches(pat.substr(s, e - 1 - s), t_ch, case_fold, &known))
                  matched = true;
                if (!known) return kAbortAll;
                p = e;
                p_ch = 0;
              }
            } else if (t_f == fold(p_ch, case_fold)) {
              matched = true;
            }
            prev_ch = p_ch;
            p_ch = pc(++p);
          } while (p < pat.size() && p_ch != ']');
          if (p >= pat.size()) return kAbortAll;  // unterminated class
          if (matched == negated || (pathname && t_ch == '/')) return kNoMatch;
          continue;
        }
      }
    }
    return t < text.size() ? kNoMatch : kMatch;
  }
};

}  // namespace

bool wildmatch(std::string_view pattern, std::string_view text, bool pathname, bool case_fold) {
  Wild w{pattern, text, pathname, case_fold};
  return w.run(0, 0) == kMatch;
}

RuleSet RuleSet::parse(std::string_view text, std::string origin, bool case_fold) {
  RuleSet rs;
  rs.origin_ = std::move(origin);
  rs.case_fold_ = case_fold;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    ++line_no;
    rs.add(text.substr(pos, nl - pos), line_no);
    pos = nl + 1;
  }
  return rs;
}

void RuleSet::add(std::string_view line, int line_no) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line_no == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
  if (line.empty() || line[0] == '#') return;
  // Trailing spaces are dropped unless escaped ("foo\ " keeps one space).
  size_t end = line.size();
  while (end > 0 && line[end - 1] == ' ') {
    size_t bs = 0;
    for (size_t i = end - 1; i > 0 && line[i - 1] == '\\'; --i) ++bs;
    if (bs % 2 == 1) break;
    --end;
  }
  line = line.substr(0, end);
  if (line.empty()) return;

  Rule r;
  r.line = line_no;
  if (line[0] == '!') {
    r.negated = true;
    line.remove_prefix(1);
  }
  if (!line.empty() && line.back() == '/') {
    r.dir_only = true;
    line.remove_suffix(1);
  }
  if (line.empty()) return;
  r.anchored = line.find('/') != std::string_view::npos;
  if (line[0] == '/') line.remove_prefix(1);
  if (line.empty()) return;
  r.pattern = std::string(line);
  if (r.negated) has_whitelist_ = true;
  rules_.push_back(std::move(r));
}

Match RuleSet::match(std::string_view rel_path, bool is_dir) const {
  if (rules_.empty()) return Match::None;
  const size_t slash = rel_path.rfind('/');
  const std::string_view base =
      slash == std::string_view::npos ? rel_path : rel_path.substr(slash + 1);
  for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
    if (it->dir_only && !is_dir) continue;
    const bool hit = it->anchored ? wildmatch(it->pattern, rel_path, true, case_fold_)
                                  : wildmatch(it->pattern, base, true, case_fold_);
    if (hit) return it->negated ? Match::Whitelist : Match::Ignore;
  }
  return Match::None;
}

}  // namespace ripvec::ignore
