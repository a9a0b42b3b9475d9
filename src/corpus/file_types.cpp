// The -t/--type table: a subset of ripgrep's default file types (same names and globs for the
// common ones) plus a few aliases ("python", "rs", "javascript"...).
#include <algorithm>
#include <string>
#include <vector>

#include "ripvec/corpus.hpp"

namespace ripvec {
namespace {

std::vector<FileType> build_types() {
  std::vector<FileType> t = {
      {"asm", {"*.asm", "*.s", "*.S"}},
      {"c", {"*.[chH]", "*.[chH].in", "*.cats"}},
      {"cmake", {"*.cmake", "CMakeLists.txt"}},
      {"cpp",
       {"*.[ChH]", "*.cc", "*.[ch]pp", "*.[ch]xx", "*.hh", "*.inl", "*.[ChH].in", "*.cc.in",
        "*.[ch]pp.in", "*.[ch]xx.in", "*.hh.in", "*.c++", "*.h++", "*.ixx", "*.cppm", "*.ipp",
        "*.tpp"}},
      {"cs", {"*.cs"}},
      {"css", {"*.css", "*.scss", "*.sass", "*.less"}},
      {"cuda", {"*.cu", "*.cuh"}},
      {"dart", {"*.dart"}},
      {"docker", {"*Dockerfile*", "*.dockerfile"}},
      {"elixir", {"*.ex", "*.eex", "*.exs", "*.heex", "*.leex"}},
      {"erlang", {"*.erl", "*.hrl"}},
      {"go", {"*.go"}},
      {"gradle", {"*.gradle", "*.gradle.kts"}},
      {"hcl", {"*.hcl", "*.nomad", "*.tf", "*.tfvars"}},
      {"haskell", {"*.hs", "*.lhs", "*.cpphs", "*.c2hs", "*.hsc"}},
      {"html", {"*.htm", "*.html", "*.ejs"}},
      {"java", {"*.java", "*.jsp", "*.jspx", "*.properties"}},
      {"js", {"*.js", "*.jsx", "*.vue", "*.cjs", "*.mjs"}},
      {"json", {"*.json", "*.jsonl", "*.json5", "composer.lock", "*.sarif"}},
      {"julia", {"*.jl"}},
      {"kotlin", {"*.kt", "*.kts"}},
      {"lua", {"*.lua"}},
      {"make",
       {"[Gg][Nn][Uu]makefile", "[Mm]akefile", "[Gg][Nn][Uu]makefile.am", "[Mm]akefile.am",
        "[Gg][Nn][Uu]makefile.in", "[Mm]akefile.in", "*.mk", "*.mak"}},
      {"md", {"*.markdown", "*.md", "*.mdown", "*.mdwn", "*.mkd", "*.mkdn", "*.mdx"}},
      {"nix", {"*.nix"}},
      {"ocaml", {"*.ml", "*.mli", "*.mll", "*.mly"}},
      {"perl", {"*.perl", "*.pl", "*.PL", "*.plh", "*.plx", "*.pm", "*.t"}},
      {"php", {"*.php", "*.php3", "*.php4", "*.php5", "*.phtml"}},
      {"proto", {"*.proto"}},
      {"py", {"*.py", "*.pyi"}},
      {"r", {"*.R", "*.r", "*.Rmd", "*.Rnw"}},
      {"rst", {"*.rst"}},
      {"ruby",
       {"config.ru", "Gemfile", ".irbrc", "Rakefile", "*.gemspec", "*.rb", "*.rbw", "*.rake"}},
      {"rust", {"*.rs"}},
      {"scala", {"*.scala", "*.sbt"}},
      {"sh", {"*.bash",  "*.bashrc", ".bash_login", ".bash_logout", ".bash_profile", ".bashrc",
              "*.csh",   "*.cshrc",  ".cshrc",      "*.ksh",        "*.kshrc",       ".kshrc",
              ".login",  ".logout",  ".profile",    "*.sh",         "*.tcsh",        "*.zsh",
              ".zlogin", ".zlogout", ".zprofile",   ".zshenv",      ".zshrc",        "*.zshrc"}},
      {"sql", {"*.sql", "*.psql"}},
      {"swift", {"*.swift"}},
      {"terraform", {"*.tf", "*.tf.json", "*.tfvars"}},
      {"tex", {"*.tex", "*.ltx", "*.cls", "*.sty", "*.bib", "*.dtx", "*.ins"}},
      {"toml", {"*.toml", "Cargo.lock"}},
      {"ts", {"*.ts", "*.tsx", "*.cts", "*.mts"}},
      {"txt", {"*.txt"}},
      {"vim", {"*.vim", ".vimrc", ".gvimrc", "vimrc", "gvimrc", "_vimrc", "_gvimrc"}},
      {"xml",
       {"*.xml", "*.xml.dist", "*.dtd", "*.xsl", "*.xslt", "*.xsd", "*.xjb", "*.rng", "*.sch",
        "*.xhtml"}},
      {"yaml", {"*.yaml", "*.yml"}},
      {"zig", {"*.zig"}},
  };
  // Aliases people type: same globs under another name.
  const std::pair<const char*, const char*> aliases[] = {
      {"python", "py"},     {"rs", "rust"},     {"golang", "go"}, {"javascript", "js"},
      {"typescript", "ts"}, {"rb", "ruby"},     {"bash", "sh"},   {"shell", "sh"},
      {"c++", "cpp"},       {"markdown", "md"}, {"text", "txt"},  {"yml", "yaml"},
      {"csharp", "cs"},     {"kt", "kotlin"},
  };
  for (const auto& [alias, target] : aliases) {
    auto it = std::find_if(t.begin(), t.end(), [&](const FileType& f) { return f.name == target; });
    t.push_back({alias, it->globs});
  }
  std::sort(t.begin(), t.end(),
            [](const FileType& a, const FileType& b) { return a.name < b.name; });
  return t;
}

}  // namespace

const std::vector<FileType>& file_types() {
  static const std::vector<FileType> types = build_types();
  return types;
}

}  // namespace ripvec
