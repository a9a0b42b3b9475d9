// libFuzzer target: arbitrary bytes as a source file of one of the languages with a grammar
// (or plain text). Byte 0 picks the file name (so the language), byte 1 the options (window
// sizes, a tokenizer-limited embed_text); the rest is the content. chunk_file never throws, and
// its chunks obey the contract in src/chunk/chunker.hpp.
#include <algorithm>
#include <cctype>

#include "chunk/chunker.hpp"
#include "fuzz_util.hpp"
#include "ripvec/tokenizer.hpp"
#include "tokenizer/utf8.hpp"

using namespace ripvec;

namespace {
constexpr const char* kNames[] = {
    "a.py", "a.js",  "a.ts", "a.tsx",    "a.go",   "a.rs",     "A.java", "a.c",     "a.cpp",
    "a.rb", "a.sh",  "a.h",  "notes.md", "a.txt",  "Makefile", "a.kt",   "a.swift", "a.scala",
    "A.cs", "a.php", "a.tf", "a.json",   "a.yaml", "a.toml",   "pom.xml"};

// Mirrors the chunker's rule (src/chunk/chunker.cpp, meaningful()): a line counts when it has a
// letter, digit or non-ASCII character and is not just a closing keyword of sh/ruby.
bool has_meaningful_line(std::string_view content) {
  size_t pos = 0;
  while (pos <= content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) nl = content.size();
    std::string_view l = content.substr(pos, nl - pos);
    pos = nl + 1;
    const size_t b = l.find_first_not_of(" \t\r\f\v");
    if (b == std::string_view::npos) continue;
    l = l.substr(b, l.find_last_not_of(" \t\r\f\v") - b + 1);
    if (l == "end" || l == "fi" || l == "done" || l == "esac") continue;
    for (char c : l)
      if (std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80)
        return true;
  }
  return false;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tok =
      Tokenizer::from_file(fuzz::source_path("tests/data/bert/tiny_bge_cls/tokenizer.json"));
  if (size < 2) return 0;
  const std::string name = std::string("src/") + kNames[data[0] % std::size(kNames)];
  const uint8_t flags = data[1];
  const std::string_view content = fuzz::as_text(data + 2, size - 2);

  ChunkOptions opts;
  if (flags & 1) {
    opts.tokenizer = tok.get();
    opts.max_tokens = (flags & 2) ? 32 : 256;
  }
  if (flags & 4) {
    opts.window_lines = 1 + (flags >> 4);  // 1..16
    opts.overlap_lines = (flags >> 3 & 1) ? opts.window_lines - 1 : 0;
    opts.max_chunk_lines = 2 + (flags >> 5);
  }
  const std::vector<Chunk> chunks = chunk_file(name, content, opts);

  const size_t lines = static_cast<size_t>(std::count(content.begin(), content.end(), '\n')) + 1;
  int prev_start = 0;
  for (const Chunk& c : chunks) {
    FUZZ_CHECK(c.path == name);
    FUZZ_CHECK(c.start_line >= 1 && c.start_line <= c.end_line);
    FUZZ_CHECK(static_cast<size_t>(c.end_line) <= lines);
    FUZZ_CHECK(c.start_line >= prev_start);  // sorted by start_line
    prev_start = c.start_line;
    FUZZ_CHECK(!c.kind.empty() && !c.language.empty());
    FUZZ_CHECK(c.content.size() <= 16 * 1024);
    FUZZ_CHECK(tok::utf8_invalid_offset(c.content) == c.content.size());
    FUZZ_CHECK(tok::utf8_invalid_offset(c.embed_text) == c.embed_text.size());
    FUZZ_CHECK(c.embed_text.rfind("// path: " + name + "\n", 0) == 0);
    if (!opts.tokenizer) {
      FUZZ_CHECK(c.embed_text.size() >= c.content.size());
      FUZZ_CHECK(c.embed_text.compare(c.embed_text.size() - c.content.size(), c.content.size(),
                                      c.content) == 0);
    } else {
      FUZZ_CHECK(tok->count_tokens(c.embed_text, true) <= opts.max_tokens);
    }
  }
  // A file with a line holding a letter or digit (any non-ASCII character counts) gets a chunk:
  // otherwise search could never find it.
  if (has_meaningful_line(content)) FUZZ_CHECK(!chunks.empty());
  return 0;
}
