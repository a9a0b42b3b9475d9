// What a search can be restricted to: the file types that -t/--type names (ripgrep's names and
// globs for the common ones, plus a few aliases). Used by SearchFilter::types (ripvec/index.hpp)
// and `ripvec --type-list`.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ripvec {

struct FileType {
  std::string name;                // "py", "rust", "cpp"...
  std::vector<std::string> globs;  // matched against the file name: "*.py", "Makefile"
};

// Every known type, sorted by name. Thread-safe (built once).
const std::vector<FileType>& file_types();

// A file name for text output (the CLI's results and warnings, the MCP and LSP servers' text):
// control characters (C0, DEL, C1), the characters that reorder the text around them (bidi
// controls such as U+202E, U+2028/9: each byte), and bytes that are not UTF-8, become \xNN, so
// that a name cannot move the cursor, recolor the terminal, fake a result line or a Markdown
// section that a reader (a person, an agent) would take for ripvec's, or show "invoice\u202Eyp.txt"
// as "invoicetxt.py". Everything else (a backslash too)
// is shown as is; JSON outputs carry the exact name. Thread-safe.
std::string escape_name(std::string_view name);

// Whether `path` (a directory or file at or below `root`; absolute, lexically normal) is left
// out of a walk of `root` by the ignore files (.ignore, .gitignore, .git/info/exclude, the
// global excludes file, with ripgrep's precedence; those of root's ancestors included) or lies
// in a folder that is never entered (.git, .ripvec...). Hidden components do not count (a named
// path is searched, hidden or not). An index of `root` does not hold such a path: Index::open
// of it, and a server's `root` naming it, open an index of its own. Reads the ignore files
// between root and path; thread-safe; throws nothing (unreadable ignore files count as empty).
bool ignored_below(const std::filesystem::path& root, const std::filesystem::path& path);

}  // namespace ripvec
