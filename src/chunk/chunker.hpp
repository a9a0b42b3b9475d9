// Code-aware chunking: splits a source file into embeddable pieces along definitions
// (functions, classes, methods...) found with tree-sitter, with line windows as the fallback.
//
// What chunk_file returns (sorted by start_line):
//  * one chunk per definition: functions, methods, constructors, structs, enums, unions,
//    interfaces, type aliases, traits, impls, macros, classes, modules/namespaces. Its lines
//    include the doc comments, attributes and decorators directly above it. symbol is the scope
//    chain joined with '.' ("Client.get", "geo.Polygon.area", Go "Store.Get" from the receiver,
//    C++ "ns::f" becomes "ns.f"); kind is one of "function", "method", "constructor", "class",
//    "struct", "enum", "union", "interface", "type", "trait", "impl", "module", "namespace",
//    "record", "annotation", "macro", "object" (Kotlin/Scala), "extension" (Swift/Scala).
//  * configuration, data and documents, by structure: Markdown sections by heading (kind
//    "section", nested like classes, symbol "Install.From source"); the root object's keys in
//    JSON and the top-level keys of each YAML document ("key"); TOML tables ("table") and the
//    keys before the first one ("key"); HCL top-level blocks ("block", "resource.aws_s3.logs")
//    and attributes ("key"); XML: the root element ("element", a container) and each of its
//    child elements.
//  * a container (class, impl, trait, module, namespace...) whose body holds definitions gets a
//    chunk of only its lines before the first of them (declaration, docstring, leading fields);
//    the members then have their own chunks, and the container's embed_text lists their names
//    ("// members: a, b"). Functions nested inside functions stay in their parent's chunk.
//  * lines covered by no definition (imports, top-level statements, fields between methods) give
//    kind "window" chunks (symbol empty) when they hold >= 3 lines with letters or digits, or any
//    at all in a file without definitions.
//  * definitions longer than max_chunk_lines become windows of window_lines / overlap_lines; and
//    with a tokenizer, anything whose embed_text exceeds max_tokens is split into line windows
//    that fit (one line still too long is cut in embed_text only). Split windows keep the
//    definition's symbol and kind, and their header carries its signature.
//  * text files, unknown languages and files tree-sitter cannot parse in 5 s: windows of
//    window_lines with overlap_lines, language "text" (or the language name on parse failure).
// content is the exact source lines (no trailing newline), at most 16 KiB: a longer stretch is
// split into groups of whole lines, and one line longer than that (minified code) into byte
// windows cut on code-point boundaries (after a non-word byte where one is near), each a chunk
// of that line; together the chunks cover every byte, so keyword search finds a word anywhere.
// Invalid UTF-8 is replaced by U+FFFD first.
// embed_text = "// path: <rel_path>\n" ["// scope: <chain>\n"] ["// signature: <sig>\n"]
// ["// members: <names>\n"] + content. A rel_path that is not UTF-8 appears in the header with
// U+FFFD for its invalid bytes; Chunk::path keeps the raw bytes.
// chunk_file is thread-safe (one tree-sitter parser per thread and language).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ripvec {

class Tokenizer;

struct Chunk {
  std::string path;                  // rel_path
  int start_line = 0, end_line = 0;  // 1-based, inclusive
  std::string symbol;                // e.g. "Client.get"; empty for windows
  std::string kind;      // "function", "method", "class", "struct", "impl", "module", "window", ...
  std::string language;  // "python", "rust", ..., "text"
  std::string content;   // the exact source lines of the chunk
  // A later piece of the definition the chunk before it began (a definition cut into windows,
  // or at 16 KiB): same symbol and kind, not a definition of its own. Not part of the index.
  bool continued = false;
  // The last line (1-based) of the whole definition the chunk belongs to: past end_line for a
  // container's header chunk (a class, a long function cut around its nested functions) and the
  // first pieces of a cut definition; 0 for windows. Not part of the index.
  int def_end_line = 0;
  // Where the definition's syntax node starts: its line (1-based; past start_line when doc
  // comments were taken in above it) and byte column on that line, so that several definitions
  // on one line (minified code) are told apart; 0 and 0 for windows and for definitions found
  // without a syntax tree. Not part of the index.
  int sig_line = 0, sig_col = 0;
  std::string embed_text;  // header (path, scope chain, signature) + content, fits max_tokens
  // ChunkOptions::encode(embed_text) when encode is set (the ids the embedder runs); empty
  // when it is not set or failed on this text.
  std::vector<int32_t> ids;
};

// Bump whenever chunk_file() cuts or labels chunks differently for the same input: it is part
// of an index's identity (src/index/locate.cpp), so stale chunks are never mixed with new ones.
// 2: stretches over 16 KiB split into whole lines / byte windows (nothing dropped); a path that
// is not UTF-8 shown with U+FFFD in the header.
// 3: Kotlin, Swift, Scala, C#, PHP, HCL definitions; Markdown sections, JSON/YAML/TOML top-level
// keys and tables, XML elements (these files were line windows before).
// 4: a function of 40+ lines gives the functions defined in it (5+ lines) chunks of their own;
// JavaScript/TypeScript assignments and object keys whose value is a function are definitions.
inline constexpr int kChunkerVersion = 4;

struct ChunkOptions {
  const Tokenizer* tokenizer = nullptr;          // when set, embed_text is cut to max_tokens tokens
  size_t max_tokens = 256;                       // model limit incl. specials and prompt
  size_t window_lines = 60, overlap_lines = 10;  // fallback sliding windows
  size_t max_chunk_lines = 150;                  // longer definitions are split into windows
  // When set, every chunk carries encode(embed_text) in Chunk::ids (Embedder::tokenize with the
  // document prompt), so the text is tokenized once for cutting and embedding. Called from the
  // thread running chunk_file; must be thread-safe. It never changes where chunks are cut.
  std::function<std::vector<int32_t>(std::string_view)> encode;
  // encode(t) == tokenizer->encode(t, true).ids whenever that has at most max_tokens ids (no
  // prompt, no truncation): the ids counted to fit the budget are then reused as they are.
  bool encode_is_plain = false;
  // A container (class, module, impl, ...) whose first member starts on its header line
  // (`class Box { v = 0; get() {...} }`, Ruby one-liners) gets a piece of that one line too, so
  // that every definition has a chunk of its own (the repo map lists definitions from chunks).
  // Off for the index: the members' chunks carry the container's scope and the header's text,
  // and the line would be embedded twice. It never changes where the other chunks are cut.
  bool every_definition = false;
};

// Language from the file name/extension ("" if not code we know; still chunked as text).
std::string detect_language(std::string_view rel_path);

// Chunks one file's UTF-8 content. Never throws on odd content; falls back to windows.
std::vector<Chunk> chunk_file(std::string_view rel_path, std::string_view content,
                              const ChunkOptions& opts);

// --- additions beyond the agreed seam ---

// Languages that have a compiled tree-sitter grammar in this build ("python", "rust", ...).
std::vector<std::string> supported_languages();

}  // namespace ripvec
