// Code-aware chunking: splits a source file into embeddable pieces along definitions
// (functions, classes, methods...) found with tree-sitter, with line windows as the fallback.
#pragma once

#include <cstddef>
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
  std::string embed_text;  // header (path, scope chain, signature) + content, fits max_tokens
};

struct ChunkOptions {
  const Tokenizer* tokenizer = nullptr;          // when set, embed_text is cut to max_tokens tokens
  size_t max_tokens = 256;                       // model limit incl. specials and prompt
  size_t window_lines = 60, overlap_lines = 10;  // fallback sliding windows
  size_t max_chunk_lines = 150;                  // longer definitions are split into windows
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
