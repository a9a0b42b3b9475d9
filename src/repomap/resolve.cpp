#include "repomap/resolve.hpp"

#include <algorithm>

namespace ripvec::repomap {
namespace {

constexpr size_t kMaxSuffixHits = 8;  // an import matching more files than this is ambiguous

std::string dir_of(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? std::string() : p.substr(0, s);
}

std::string join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t b = 0;
  for (;;) {
    size_t e = s.find(sep, b);
    out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + sep.size();
  }
  return out;
}

std::string join_all(const std::vector<std::string>& parts, size_t n, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < n && i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

}  // namespace

std::string normalize_path(const std::string& p) {
  std::vector<std::string> out;
  for (const std::string& part : split(p, "/")) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (out.empty()) return {};
      out.pop_back();
      continue;
    }
    out.push_back(part);
  }
  return join_all(out, out.size(), "/");
}

ImportResolver::ImportResolver(const std::vector<std::string>& paths) : paths_(paths) {
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& p = paths[i];
    exact_[p] = i;
    for (size_t s = 0;;) {
      suffix_[p.substr(s)].push_back(i);
      size_t n = p.find('/', s);
      if (n == std::string::npos) break;
      s = n + 1;
    }
    std::string d = dir_of(p);
    for (size_t s = 0;;) {
      dir_suffix_[d.substr(s)].push_back(i);
      size_t n = d.find('/', s);
      if (n == std::string::npos) break;
      s = n + 1;
    }
  }
}

long ImportResolver::exact(const std::string& path) const {
  auto it = exact_.find(path);
  return it == exact_.end() ? -1 : static_cast<long>(it->second);
}

std::vector<size_t> ImportResolver::by_suffix(const std::string& suffix) const {
  auto it = suffix_.find(suffix);
  if (it == suffix_.end() || it->second.size() > kMaxSuffixHits) return {};
  return it->second;
}

std::vector<size_t> ImportResolver::dir_files(const std::string& dir_suffix,
                                              const std::string& ext) const {
  std::vector<size_t> out;
  auto it = dir_suffix_.find(dir_suffix);
  if (it == dir_suffix_.end()) return out;
  for (size_t i : it->second)
    if (paths_[i].ends_with(ext) && !paths_[i].ends_with("_test" + ext)) out.push_back(i);
  return out;
}

std::vector<size_t> ImportResolver::resolve(const std::string& from, const std::string& lang,
                                            const ImportSpec& imp) const {
  const std::string& spec = imp.spec;
  const std::string dir = dir_of(from);
  auto first_exact = [&](const std::vector<std::string>& cands) -> std::vector<size_t> {
    for (const auto& c : cands) {
      std::string n = normalize_path(c);
      if (n.empty()) continue;
      long e = exact(n);
      if (e >= 0) return {static_cast<size_t>(e)};
    }
    return {};
  };
  auto first_suffix = [&](const std::vector<std::string>& cands) -> std::vector<size_t> {
    for (const auto& c : cands) {
      auto hits = by_suffix(c);
      if (!hits.empty()) return hits;
    }
    return {};
  };

  if (lang == "python") {
    size_t dots = 0;
    while (dots < spec.size() && spec[dots] == '.') ++dots;
    std::string rest = spec.substr(dots);
    std::string rel = join_all(split(rest, "."), 1000, "/");
    if (dots > 0) {
      std::string base = dir;
      for (size_t i = 1; i < dots; ++i) base = dir_of(base);
      std::string p = join(base, rel);
      return first_exact({p + ".py", p + "/__init__.py", p + ".pyi"});
    }
    if (rel.empty()) return {};
    return first_suffix({rel + ".py", rel + "/__init__.py", rel + ".pyi"});
  }
  if (lang == "javascript" || lang == "typescript" || lang == "tsx") {
    if (!spec.starts_with(".")) return {};  // a package
    std::string p = join(dir, spec);
    std::vector<std::string> cands{p};
    for (const char* ext : {".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".d.ts"})
      cands.push_back(p + ext);
    for (const char* idx : {"/index.ts", "/index.tsx", "/index.js", "/index.jsx"})
      cands.push_back(p + idx);
    // "./x.js" in TypeScript sources names ./x.ts.
    if (spec.ends_with(".js")) cands.push_back(p.substr(0, p.size() - 3) + ".ts");
    return first_exact(cands);
  }
  if (lang == "go") {
    auto parts = split(spec, "/");
    // The longest suffix of the import path that is a directory of the tree.
    for (size_t k = 0; k < parts.size(); ++k) {
      std::string suffix =
          join_all(std::vector<std::string>(parts.begin() + k, parts.end()), parts.size(), "/");
      auto files = dir_files(suffix, ".go");
      if (!files.empty() && files.size() <= 64) return files;
    }
    return {};
  }
  if (lang == "rust") {
    if (spec.starts_with("mod:")) {
      std::string name = spec.substr(4);
      std::string file = from.substr(dir.empty() ? 0 : dir.size() + 1);
      std::string base = dir;
      if (file != "mod.rs" && file != "lib.rs" && file != "main.rs")
        base = join(dir, file.substr(0, file.size() - 3));
      return first_exact({join(base, name + ".rs"), join(base, name + "/mod.rs")});
    }
    std::string s = spec;
    size_t brace = s.find('{');
    if (brace != std::string::npos) s = s.substr(0, brace);
    auto parts = split(s, "::");
    while (!parts.empty() && (parts.back().empty() || parts.back() == "*")) parts.pop_back();
    std::vector<std::string> clean;
    bool relative = false;
    for (const auto& p : parts) {
      if (p == "crate" || p == "self") continue;
      if (p == "super") {
        relative = true;
        continue;
      }
      clean.push_back(p);
    }
    (void)relative;
    for (size_t n = clean.size(); n >= 1; --n) {
      std::string rel = join_all(clean, n, "/");
      auto hits = first_suffix({rel + ".rs", rel + "/mod.rs"});
      if (!hits.empty()) return hits;
    }
    return {};
  }
  if (lang == "java") {
    auto parts = split(spec, ".");
    if (!parts.empty() && parts.back() == "*") {
      parts.pop_back();
      auto files = dir_files(join_all(parts, parts.size(), "/"), ".java");
      return files.size() <= 64 ? files : std::vector<size_t>{};
    }
    for (size_t n = parts.size(); n >= 1 && n + 2 > parts.size(); --n) {
      auto hits = by_suffix(join_all(parts, n, "/") + ".java");
      if (!hits.empty()) return hits;
    }
    return {};
  }
  if (lang == "c" || lang == "cpp") {
    if (imp.relative_hint) {
      auto e = first_exact({join(dir, spec)});
      if (!e.empty()) return e;
    }
    return by_suffix(normalize_path(spec));
  }
  if (lang == "ruby") {
    std::string s = spec.ends_with(".rb") ? spec : spec + ".rb";
    if (imp.relative_hint) return first_exact({join(dir, s)});
    return by_suffix(s);
  }
  return {};
}

}  // namespace ripvec::repomap
