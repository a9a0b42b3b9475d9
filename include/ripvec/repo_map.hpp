// The repo map: a definition-level graph of a source tree and a ranked, token-budgeted Markdown
// summary of it (what `ripvec map`, the MCP tool get_repo_map and the LSP call hierarchy use).
//
//   auto graph = ripvec::RepoGraph::build("path/to/repo", {});
//   graph.rank({"src/app.py"});              // personalised PageRank (focus optional)
//   std::string md = graph.render(1500);      // fits 1500 tokens (1 token ~ 4 bytes)
//
// Nodes are definitions found with tree-sitter (the same definitions the chunker cuts:
// functions, methods, classes, structs...) plus one "module" node per file for its top-level
// code. An edge u -> v means that code inside u mentions v's name (a call, a type use, an
// attribute access) and the name resolves to v: to a definition in the same file first, else in
// a file that u's file imports (imports are resolved to files for Python, JavaScript/TypeScript,
// Go, Rust, Java, C, C++ and Ruby), else to every definition of that name in the repository
// with the weight split between them. Names defined in many files, private names ("_x") and
// short names weigh less; a file's import of another file adds a module -> module edge.
// PageRank runs with damping 0.85 over the weighted edges. The teleport vector gives every file
// the same mass, split over its nodes (so a file does not rank high merely for holding many
// definitions); personalised to focus files, 90% of it goes to their nodes. Files are ranked by
// the same PageRank over the file graph that the cross-file edges induce (edges inside a file
// would otherwise keep the mass of self-referential files), with the same teleport rule.
//
// Thread safety: a built RepoGraph is immutable except for rank(); concurrent const calls are
// safe, rank() must not run concurrently with anything else on the same graph.
// Errors: IoError when the root cannot be read or lies on a pseudo file system (/proc, /sys,
// /dev...: never walked, as for an index); unreadable or unparsable files are skipped (named in
// warnings()), never fatal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ripvec {

class RepoGraph;

struct RepoMapOptions {
  size_t max_files = 20000;              // the walk stops after this many source files
  uint64_t max_file_size = 1024 * 1024;  // larger files are left out of the graph
  bool hidden = false;                   // include hidden files and directories
  unsigned threads = 0;                  // parsing threads; 0 = the shared pool
  // Polled by build() while it reads and parses files, also inside each file's parse (every
  // few hundred parse steps: it must be cheap); true makes build() throw CancelledError. May
  // be called from the parsing threads at once: must be thread-safe. One that throws inside a
  // parse counts as true there.
  std::function<bool()> cancelled;
  // A graph built before by build() from the same root (else ignored), e.g. before an edit: a
  // file whose size, modification and change times and inode are those it recorded is neither
  // read nor parsed again; its definitions, mentions and imports are taken from that graph
  // (parsing is most of a build: a 1,600-file C tree, 2 s of 2 s). Only read during the call;
  // the new graph shares the reused facts, not the old graph. Null: every file is parsed.
  const RepoGraph* previous = nullptr;
};

// One file's text, e.g. an unsaved editor buffer, for RepoGraph::build_from_files and
// file_definitions.
struct SourceText {
  std::string path;  // relative to the root, '/' separators
  std::string text;  // UTF-8
};

struct RepoDefinition {
  std::string path;      // file, relative to the root
  std::string name;      // the last component of symbol ("get"), the file's path for modules
  std::string symbol;    // scope chain joined by '.' ("Client.get")
  std::string kind;      // "function", "method", "class", ..., "module" for a file's top level
  std::string language;  // "python", ...
  int start_line = 0, end_line = 0;    // 1-based, inclusive; a container spans its members
  int name_line = 0, name_column = 0;  // 1-based line, 0-based byte column of the name
  std::string signature;               // the declaration line(s), whitespace squashed
  std::string doc;                     // docstring / leading comment, first paragraph
  double rank = 0;                     // PageRank after rank(); 0 before
};

struct RepoEdge {
  size_t from = 0, to = 0;  // indices into definitions()
  double weight = 0;
  int line = 0, column = 0;  // first mention: 1-based line, 0-based byte column in from's file
  int count = 0;             // mentions of to's name inside from
};

struct RepoFile {
  std::string path;
  std::string language;
  size_t module_node = 0;                       // the index of its "module" definition
  std::vector<size_t> definitions;              // indices, in source order (module node excluded)
  std::vector<size_t> imports;                  // files (indices into files()) it imports
  std::vector<std::string> unresolved_imports;  // imports that name no file of the tree
  double rank = 0;
};

class RepoGraph {
 public:
  // Walks root (ignore rules as the index: .gitignore etc.), parses every file in a language
  // with a grammar, builds the graph. rank() is run once without focus.
  static RepoGraph build(const std::filesystem::path& root, const RepoMapOptions& opts = {});
  // Same from texts already in memory (paths are only names here).
  static RepoGraph build_from_files(const std::vector<SourceText>& files,
                                    const RepoMapOptions& opts = {});

  // Personalised PageRank (damping in (0, 1)); focus paths are relative to the root (or absolute
  // below it), taken as spelled ("./a.py", "sub/../a.py", "a.py/" are "a.py"); unknown focus
  // paths are ignored (an empty focus is uniform) and returned, as given, so that a caller can
  // report them (`ripvec map --focus`, MCP `get_repo_map` refuse them).
  std::vector<std::string> rank(const std::vector<std::string>& focus = {}, double damping = 0.85);

  // Markdown within token_budget tokens (estimated as bytes / 4, rounded up): the top-ranked
  // files with the signatures of their main definitions and their main callers and callees,
  // then files with only their main names, then paths only, as the budget allows. `name`, when
  // given, formats every file name and the root's (a terminal front end escapes control
  // characters; the default shows the bytes as they are).
  using NameFormat = std::string (*)(std::string_view);
  std::string render(size_t token_budget = 1500, NameFormat name = nullptr) const;

  const std::filesystem::path& root() const { return root_; }
  const std::vector<RepoFile>& files() const { return files_; }
  const std::vector<RepoDefinition>& definitions() const { return defs_; }
  const std::vector<RepoEdge>& edges() const { return edges_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Files the build that made this graph read and parsed; the others' facts came from
  // RepoMapOptions::previous.
  size_t parsed_files() const { return parsed_files_; }

  // Index into files() or -1.
  long file_index(std::string_view path) const;
  // Definitions (not modules) whose name or symbol equals `name`, best ranked first.
  std::vector<size_t> find(std::string_view name) const;
  // The innermost definition (module node as the fallback) of `path` covering `line` (1-based);
  // -1 when the file is not in the graph.
  long definition_at(std::string_view path, int line) const;
  // Edge indices into / out of a node, heaviest first.
  std::vector<size_t> incoming(size_t def) const;
  std::vector<size_t> outgoing(size_t def) const;

 private:
  std::filesystem::path root_;
  std::vector<RepoFile> files_;
  std::vector<RepoDefinition> defs_;
  std::vector<RepoEdge> edges_;
  std::vector<std::vector<size_t>> in_, out_;  // edge indices per node
  std::vector<std::string> warnings_;
  std::vector<std::string> focus_;
  // Per file of a build() from a root: its stat and its parsed facts, for a later build's
  // RepoMapOptions::previous (immutable once built; shared by the graphs that reuse them).
  struct FactsCache;
  std::shared_ptr<const FactsCache> facts_;
  size_t parsed_files_ = 0;
  friend struct RepoGraphBuilder;
};

// The definitions of one file, in source order (no module node, no ranks): what an editor's
// outline shows. Empty for languages without a grammar, and when tree-sitter gives up on the
// text (its 5 s parse timeout). `cancelled`, when set, is polled from the calling thread every
// few hundred parse steps while the text is parsed (an outline of a 20 MB buffer runs
// seconds), so it must be cheap; true (or an exception from it) stops the parse within
// milliseconds and makes this throw CancelledError. A parse that completed is not undone: the
// rest (a few ms per MB) runs to the end and returns the definitions. Thread-safe: each thread
// parses with its own parsers.
std::vector<RepoDefinition> file_definitions(std::string_view path, std::string_view text,
                                             const std::function<bool()>& cancelled = {});

// The approximate token count used by render(): bytes / 4, rounded up.
size_t estimate_tokens(std::string_view text);

}  // namespace ripvec
