// libFuzzer target: .gitignore text and paths. The input is NUL-separated parts:
//   <ignore file text> \0 <path> \0 <path> ...   (a trailing '/' marks a directory)
// Parses the rules (plain and case-folding), matches every path, and matches every line of the
// text as a raw wildmatch pattern against every path. Must never crash or hang (git's
// abort-early rules keep '*' / '**' backtracking polynomial); a pattern without wildcards or
// escapes matches exactly the equal text.
#include "corpus/gitignore.hpp"
#include "fuzz_util.hpp"

using namespace ripvec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = fuzz::split_nul(fuzz::as_text(data, size), 17);
  const std::string_view text = parts[0];
  const ignore::RuleSet rules = ignore::RuleSet::parse(text, ".gitignore");
  const ignore::RuleSet folded = ignore::RuleSet::parse(text, ".gitignore", true);
  FUZZ_CHECK(rules.size() == folded.size());
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view path = parts[i];
    const bool is_dir = !path.empty() && path.back() == '/';
    if (is_dir) path.remove_suffix(1);
    (void)rules.match(path, is_dir);
    (void)folded.match(path, is_dir);
    if (rules.empty()) FUZZ_CHECK(rules.match(path, is_dir) == ignore::Match::None);
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      const std::string_view pat = text.substr(pos, nl - pos);
      const bool hit = ignore::wildmatch(pat, path, true, false);
      (void)ignore::wildmatch(pat, path, false, false);
      (void)ignore::wildmatch(pat, path, true, true);
      if (pat.find_first_of("*?[\\") == std::string_view::npos) FUZZ_CHECK(hit == (pat == path));
      pos = nl + 1;
    }
  }
  return 0;
}
