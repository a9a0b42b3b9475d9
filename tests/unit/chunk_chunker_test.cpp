// The chunker: definitions found with the real tree-sitter grammars in 11 languages (symbols,
// kinds, 1-based line ranges checked against the fixture files in tests/data/chunk), window
// fallback, long-definition splitting, token limits with the real MiniLM tokenizer, odd input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

#include "chunk/chunker.hpp"
#include "common/test_util.hpp"
#include "corpus/walker.hpp"
#include "ripvec/tokenizer.hpp"

namespace ripvec {
namespace {

std::string read_fixture(const std::string& name) {
  std::ifstream f(test::test_data("chunk/" + name), std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// (symbol, kind, start_line, end_line)
using Row = std::tuple<std::string, std::string, int, int>;

std::vector<Row> rows(const std::vector<Chunk>& chunks) {
  std::vector<Row> out;
  for (const auto& c : chunks) out.emplace_back(c.symbol, c.kind, c.start_line, c.end_line);
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == '\n') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string strip_header(const std::string& embed) {
  size_t pos = 0;
  for (const char* key : {"// path: ", "// scope: ", "// signature: ", "// members: "}) {
    if (embed.compare(pos, std::strlen(key), key) != 0) continue;
    const size_t nl = embed.find('\n', pos);
    if (nl == std::string::npos) return {};
    pos = nl + 1;
  }
  return embed.substr(pos);
}

// Every chunk's content is exactly its source lines, and its fields are consistent.
void check_invariants(const std::string& path, const std::string& src,
                      const std::vector<Chunk>& chunks) {
  const auto lines = split_lines(src);
  for (const auto& c : chunks) {
    ASSERT_GE(c.start_line, 1) << path;
    ASSERT_LE(c.start_line, c.end_line) << path;
    ASSERT_LE(c.end_line, static_cast<int>(lines.size())) << path;
    std::string expect;
    for (int l = c.start_line; l <= c.end_line; ++l) {
      if (l > c.start_line) expect += "\n";
      expect += lines[l - 1];
    }
    // Content is at most 16 KiB: a longer line (minified files) comes as byte windows of it;
    // otherwise exactly the source lines.
    if (expect.size() > 16 * 1024) {
      EXPECT_TRUE(c.start_line == c.end_line && c.content.size() <= 16 * 1024 &&
                  expect.find(c.content) != std::string::npos)
          << path << ":" << c.start_line << "-" << c.end_line;
    } else {
      EXPECT_TRUE(c.content == expect)
          << path << ":" << c.start_line << "-" << c.end_line
          << "\n got: " << c.content.substr(0, 200) << "\n want: " << expect.substr(0, 200);
    }
    EXPECT_EQ(c.path, path);
    EXPECT_FALSE(c.kind.empty());
    EXPECT_FALSE(c.language.empty());
    EXPECT_EQ(c.embed_text.rfind("// path: " + path + "\n", 0), 0u) << c.embed_text;
    // embed_text = header lines + content; only a single line too long for the token limit
    // is cut (then the body is a prefix of the content).
    const std::string body = strip_header(c.embed_text);
    if (body != c.content) {
      EXPECT_EQ(c.start_line, c.end_line) << path;
      EXPECT_TRUE(c.content.rfind(body, 0) == 0) << path;
    }
    if (c.kind == "window")
      EXPECT_TRUE(c.symbol.empty());
    else
      EXPECT_FALSE(c.symbol.empty());
  }
}

std::vector<Chunk> chunk_fixture(const std::string& name, const ChunkOptions& o = {}) {
  const std::string src = read_fixture(name);
  EXPECT_FALSE(src.empty()) << name;
  auto chunks = chunk_file(name, src, o);
  check_invariants(name, src, chunks);
  return chunks;
}

TEST(ChunkChunker, GrammarsCompiledIn) {
  const auto langs = supported_languages();
  for (const char* l : {"bash", "c", "cpp", "go", "java", "javascript", "python", "ruby", "rust",
                        "tsx", "typescript"})
    EXPECT_NE(std::find(langs.begin(), langs.end(), l), langs.end()) << l;
}

TEST(ChunkChunker, DetectLanguage) {
  EXPECT_EQ(detect_language("src/a.py"), "python");
  EXPECT_EQ(detect_language("a.pyi"), "python");
  EXPECT_EQ(detect_language("web/x.mjs"), "javascript");
  EXPECT_EQ(detect_language("x.jsx"), "javascript");
  EXPECT_EQ(detect_language("x.ts"), "typescript");
  EXPECT_EQ(detect_language("x.tsx"), "tsx");
  EXPECT_EQ(detect_language("main.go"), "go");
  EXPECT_EQ(detect_language("lib.rs"), "rust");
  EXPECT_EQ(detect_language("A.java"), "java");
  EXPECT_EQ(detect_language("x.c"), "c");
  EXPECT_EQ(detect_language("x.h"), "c");
  EXPECT_EQ(detect_language("x.cc"), "cpp");
  EXPECT_EQ(detect_language("x.HPP"), "cpp");
  EXPECT_EQ(detect_language("x.C"), "cpp");
  EXPECT_EQ(detect_language("x.rb"), "ruby");
  EXPECT_EQ(detect_language("Rakefile"), "ruby");
  EXPECT_EQ(detect_language("deploy.sh"), "bash");
  EXPECT_EQ(detect_language("home/.bashrc"), "bash");
  EXPECT_EQ(detect_language("README.md"), "markdown");  // sections by heading
  EXPECT_EQ(detect_language("notes.txt"), "");
  EXPECT_EQ(detect_language("Makefile"), "");
  EXPECT_EQ(detect_language(".hidden"), "");
}

TEST(ChunkChunker, Python) {
  auto c = chunk_fixture("sample.py");
  EXPECT_EQ(rows(c), (std::vector<Row>{
                         {"", "window", 1, 6},          // docstring, imports, constant
                         {"fetch", "function", 9, 13},  // with its comment and decorator
                         {"Client", "class", 16, 19},   // header, docstring, field
                         {"Client.__init__", "method", 21, 22},
                         {"Client.headers", "method", 24, 26},
                         {"Client.get", "method", 28, 31},  // nested def stays inside
                         {"Client.Error", "class", 33, 34},
                         {"Client.Error.describe", "method", 36, 37},
                         {"", "window", 40, 43},  // the __main__ block
                     }));
  for (const auto& ch : c) EXPECT_EQ(ch.language, "python");
  EXPECT_EQ(c[3].embed_text.rfind("// path: sample.py\n// scope: Client.__init__\n", 0), 0u);
  EXPECT_NE(c[2].embed_text.find("// members: __init__, headers, get, Error\n"), std::string::npos);
}

TEST(ChunkChunker, JavaScript) {
  auto c = chunk_fixture("sample.js");
  EXPECT_EQ(rows(c), (std::vector<Row>{
                         {"add", "function", 3, 8},  // JSDoc + export
                         {"Cache", "class", 10, 10},
                         {"Cache.constructor", "method", 11, 13},
                         {"Cache.get", "method", 15, 17},
                         {"Cache.onEvict", "method", 19, 21},
                         {"double", "function", 24, 24},
                         {"ids", "function", 26, 28},
                     }));
}

TEST(ChunkChunker, TypeScriptAndTsx) {
  auto c = chunk_fixture("sample.ts");
  EXPECT_EQ(rows(c), (std::vector<Row>{
                         {"User", "interface", 1, 4},
                         {"Id", "type", 6, 6},
                         {"Color", "enum", 8, 11},
                         {"Util", "namespace", 13, 13},
                         {"Util.clamp", "function", 14, 16},
                         {"Repo", "class", 19, 19},
                         {"Repo.find", "method", 20, 23},  // with its decorator
                     }));
  auto t = chunk_fixture("sample.tsx");
  EXPECT_EQ(rows(t), (std::vector<Row>{{"Button", "function", 3, 5}, {"App", "function", 7, 9}}));
  EXPECT_EQ(t[0].language, "tsx");
}

TEST(ChunkChunker, Go) {
  auto c = chunk_fixture("sample.go");
  EXPECT_EQ(rows(c), (std::vector<Row>{
                         {"Store", "struct", 5, 9},
                         {"Getter", "interface", 11, 13},
                         {"Store.Get", "method", 15, 20},  // receiver type as scope
                         {"New", "function", 22, 24},
                     }));
}

TEST(ChunkChunker, Rust) {
  auto c = chunk_fixture("sample.rs");
  EXPECT_EQ(rows(c), (std::vector<Row>{
                         {"Point", "struct", 3, 8},  // doc comment + attribute
                         {"Shape", "enum", 10, 13},
                         {"Point", "impl", 15, 15},
                         {"Point.fmt", "method", 16, 18},
                         {"Area", "trait", 21, 22},  // header incl. the required fn
                         {"Area.describe", "method", 23, 25},
                         {"geometry", "module", 28, 28},
                         {"geometry.distance", "function", 29, 31},
                         {"square", "macro", 34, 38},
                     }));
}

TEST(ChunkChunker, Java) {
  auto c = chunk_fixture("Sample.java");
  EXPECT_EQ(rows(c), (std::vector<Row>{
                         {"Account", "class", 5, 7},
                         {"Account.Account", "constructor", 9, 11},
                         {"Account.toString", "method", 13, 16},  // with @Override
                         {"Account.Listener", "interface", 18, 20},
                         {"Account.Kind", "enum", 22, 23},
                         {"Account.Kind.isSavings", "method", 25, 27},
                     }));
}

TEST(ChunkChunker, C) {
  auto c = chunk_fixture("sample.c");
  EXPECT_EQ(rows(c), (std::vector<Row>{
                         {"node", "struct", 3, 6},
                         {"point_t", "struct", 8, 10},  // typedef name
                         {"sum", "function", 12, 17},   // with its block comment
                         {"find", "function", 19, 23},
                     }));
  for (const auto& ch : c) EXPECT_EQ(ch.language, "c");
}

TEST(ChunkChunker, Cpp) {
  auto c = chunk_fixture("sample.cpp");
  EXPECT_EQ(rows(c), (std::vector<Row>{
                         {"geo", "namespace", 4, 4},
                         {"geo.Polygon", "class", 6, 9},  // comment + template line
                         {"geo.Polygon.Polygon", "method", 10, 10},
                         {"geo.Polygon.area", "method", 12, 14},
                         {"geo.Box", "struct", 20, 22},
                         {"geo.perimeter", "function", 28, 30},  // out-of-line definition
                     }));
  // The same code in a .h is recognised as C++.
  auto h = chunk_file("sample.h", read_fixture("sample.cpp"), {});
  ASSERT_FALSE(h.empty());
  EXPECT_EQ(h[0].language, "cpp");
  EXPECT_EQ(rows(h), rows(c));
}

TEST(ChunkChunker, Ruby) {
  auto c = chunk_fixture("sample.rb");
  EXPECT_EQ(rows(c), (std::vector<Row>{
                         {"Billing", "module", 3, 3},
                         {"Billing.Invoice", "class", 4, 6},
                         {"Billing.Invoice.initialize", "method", 8, 10},
                         {"Billing.Invoice.parse", "method", 12, 14},
                         {"Billing.version", "method", 17, 19},
                     }));
}

TEST(ChunkChunker, Bash) {
  auto c = chunk_fixture("sample.sh");
  EXPECT_EQ(rows(c),
            (std::vector<Row>{{"usage", "function", 4, 8}, {"build", "function", 10, 12}}));
  EXPECT_EQ(c[0].language, "bash");
}

TEST(ChunkChunker, TextFilesUseWindows) {
  // Markdown is cut by heading (chunk_languages_test); "## Setup" nests in "# Notes".
  auto md = chunk_fixture("notes.md");
  EXPECT_EQ(rows(md),
            (std::vector<Row>{{"Notes", "section", 1, 3}, {"Notes.Setup", "section", 5, 7}}));
  EXPECT_EQ(md[0].language, "markdown");

  std::string txt;
  for (int i = 1; i <= 200; ++i) txt += "line " + std::to_string(i) + "\n";
  ChunkOptions o;  // 60-line windows, 10 lines of overlap
  auto w = chunk_file("doc/long.txt", txt, o);
  check_invariants("doc/long.txt", txt, w);
  EXPECT_EQ(rows(w), (std::vector<Row>{{"", "window", 1, 60},
                                       {"", "window", 51, 110},
                                       {"", "window", 101, 160},
                                       {"", "window", 151, 200}}));
  o.window_lines = 30;
  o.overlap_lines = 0;
  EXPECT_EQ(chunk_file("doc/long.txt", txt, o).size(), 7u);
}

std::string long_python_function(int body_lines) {
  std::string s = "import os\n\n\ndef big(x):\n";
  for (int i = 0; i < body_lines; ++i) s += "    x = x + " + std::to_string(i) + "\n";
  s += "    return x\n";
  return s;
}

TEST(ChunkChunker, LongDefinitionsAreSplitIntoWindows) {
  const std::string src = long_python_function(400);  // def on line 4, ends on line 405
  ChunkOptions o;
  auto c = chunk_file("big.py", src, o);
  check_invariants("big.py", src, c);
  ASSERT_GE(c.size(), 7u);
  int covered_to = 3;
  for (size_t i = 0; i < c.size(); ++i) {
    EXPECT_EQ(c[i].symbol, "big");
    EXPECT_EQ(c[i].kind, "function");
    EXPECT_LE(c[i].end_line - c[i].start_line + 1, static_cast<int>(o.window_lines));
    EXPECT_LE(c[i].start_line, covered_to + 1);  // no gaps between windows
    covered_to = c[i].end_line;
    // Continuation windows carry the signature in their header.
    const bool has_sig = c[i].embed_text.find("// signature: def big(x)\n") != std::string::npos;
    EXPECT_EQ(has_sig, i > 0) << i;
  }
  EXPECT_EQ(c.front().start_line, 4);
  EXPECT_EQ(covered_to, 405);
}

// A function too long for one chunk gives the functions defined inside it chunks of their own
// (chunker version 4): the quality harness's XHR handlers (`request.onerror = function ...`)
// sat inside windows of the adapter that answered no question about them.
TEST(ChunkChunker, LongFunctionsGiveNestedFunctionsTheirOwnChunks) {
  std::string js =
      "function xhrAdapter(config) {\n"                              // 1
      "  return new Promise(function dispatch(resolve, reject) {\n"  // 2
      "    let request = new XMLHttpRequest();\n";                   // 3
  for (int i = 4; i <= 30; ++i)
    js += "    request.setRequestHeader('h" + std::to_string(i) + "', 1);\n";
  js +=
      "    request.onerror = function handleError() {\n"  // 31
      "      reject(new Error('Network Error'));\n"
      "      request = null;\n"
      "      cleanup();\n"
      "    };\n"                                          // 35
      "    request.ontimeout = () => reject(config);\n";  // 36: a one-liner stays inside
  for (int i = 37; i <= 48; ++i) js += "    send(request, " + std::to_string(i) + ");\n";
  js +=
      "  });\n"  // 49
      "}\n"      // 50
      "\n"
      "inherits(AxiosError, Error, {\n"  // 52
      "  toJSON: function toJSON() {\n"  // 53
      "    return {\n"
      "      message: this.message,\n"
      "    };\n"
      "  }\n"  // 57
      "});\n";
  auto c = chunk_file("xhr.js", js, {});
  check_invariants("xhr.js", js, c);
  EXPECT_EQ(rows(c), (std::vector<Row>{
                         {"xhrAdapter", "function", 1, 30},  // header: up to the handler
                         {"xhrAdapter.request.onerror", "function", 31, 35},
                         {"", "window", 36, 50},  // the rest of the adapter (scope xhrAdapter)
                         {"toJSON", "function", 53, 57},  // an object key's function
                     }))
      << "got " << c.size() << " chunks";

  // Python: the same for a nested def; a short function keeps its nested def inside.
  std::string py =
      "def outer(x):\n"      // 1
      "    def inner(y):\n"  // 2
      "        y = y + 1\n"
      "        y = y * 2\n"
      "        y = y - 3\n"
      "        return y\n";  // 6
  for (int i = 7; i <= 45; ++i) py += "    x = inner(x) + " + std::to_string(i) + "\n";
  py +=
      "\n\ndef small(x):\n"  // 48
      "    def helper(y):\n"
      "        y = y + 1\n"
      "        y = y * 2\n"
      "        return y\n"
      "    return helper(x)\n";  // 53
  auto p = chunk_file("nest.py", py, {});
  check_invariants("nest.py", py, p);
  EXPECT_EQ(rows(p), (std::vector<Row>{
                         {"outer", "function", 1, 1},
                         {"outer.inner", "function", 2, 6},
                         {"", "window", 7, 45},
                         {"small", "function", 48, 53},
                     }));
}

// One 60 KB line of many short tokens.
std::string minified() {
  std::string s = "var a=[";
  for (int i = 0; i < 12000; ++i) s += std::to_string(i % 10) + ",";
  return s + "0];\n";
}

std::filesystem::path tokenizer_path() {
  auto dir = test::default_model_dir();
  return dir.empty() ? std::filesystem::path("/nonexistent/tokenizer.json")
                     : dir / "tokenizer.json";
}

TEST(ChunkChunker, EmbedTextFitsTheTokenLimitWithMiniLM) {
  const auto tp = tokenizer_path();
  RIPVEC_REQUIRE_PATH(tp);
  auto tok = Tokenizer::from_file(tp);
  std::vector<std::pair<std::string, std::string>> files;
  for (const char* f :
       {"sample.py", "sample.js", "sample.ts", "sample.tsx", "sample.go", "sample.rs",
        "Sample.java", "sample.c", "sample.cpp", "sample.rb", "sample.sh", "notes.md"})
    files.emplace_back(f, read_fixture(f));
  files.emplace_back("big.py", long_python_function(400));
  std::string wide;  // lines of ~60 tokens each
  for (int i = 0; i < 50; ++i) {
    for (int w = 0; w < 40; ++w) wide += "word" + std::to_string(i * 40 + w) + " ";
    wide += "\n";
  }
  files.emplace_back("wide.txt", wide);
  files.emplace_back("minified.js", minified());

  for (size_t max_tokens : {64u, 128u, 256u}) {
    ChunkOptions o;
    o.tokenizer = tok.get();
    o.max_tokens = max_tokens;
    for (const auto& [name, src] : files) {
      auto chunks = chunk_file(name, src, o);
      ASSERT_FALSE(chunks.empty()) << name;
      check_invariants(name, src, chunks);
      const auto lines = split_lines(src);
      std::vector<char> seen(lines.size() + 1, 0);
      for (const auto& c : chunks) {
        EXPECT_LE(tok->count_tokens(c.embed_text), max_tokens)
            << name << ":" << c.start_line << "-" << c.end_line;
        for (int l = c.start_line; l <= c.end_line; ++l) seen[l] = 1;
      }
      // Token-driven splitting must not lose lines of definitions or text windows.
      if (name == "big.py" || name == "wide.txt") {
        for (size_t l = 4; l <= lines.size(); ++l) EXPECT_TRUE(seen[l]) << name << ":" << l;
      }
    }
  }
  // With 256 tokens a 400-line function needs many windows, each a real line range.
  ChunkOptions o;
  o.tokenizer = tok.get();
  auto big = chunk_file("big.py", long_python_function(400), o);
  EXPECT_GT(big.size(), 10u);
  // The 24 KB minified line is byte windows of at most 16 KiB that together are the line;
  // each window's embed_text was cut to the token budget.
  auto mini = chunk_file("minified.js", minified(), o);
  ASSERT_EQ(mini.size(), 2u);
  std::string joined;
  for (const auto& c : mini) {
    EXPECT_LE(c.content.size(), 16u * 1024);
    EXPECT_LT(c.embed_text.size(), c.content.size());
    joined += c.content;
  }
  EXPECT_TRUE(joined + "\n" == minified());  // (not EXPECT_EQ: no 24 KB diff in the log)
}

// Issue 10, item 5: a 100 KB one-line min.js ending in "zzuniqueword" lost everything after its
// first 16 KB. The windows must cover the whole line, in order, with no word cut in two.
TEST(ChunkChunker, MinifiedFileTailIsNotLost) {
  std::string src;
  for (int i = 0; src.size() < 100 * 1024; ++i)
    src += "function f" + std::to_string(i) + "(a,b){return a+b*" + std::to_string(i) + "};";
  src += "var zzuniqueword=1;";
  ChunkOptions o;  // no tokenizer: keyword search and --no-index see the same chunks
  for (const std::string& text : {src, src + "\n"}) {
    auto chunks = chunk_file("min.js", text, o);
    ASSERT_GE(chunks.size(), 7u);
    ASSERT_LE(chunks.size(), 8u);  // one set of windows, not one per function on the line
    std::string joined;
    for (const auto& c : chunks) {
      EXPECT_EQ(c.start_line, 1);
      EXPECT_EQ(c.end_line, 1);
      EXPECT_LE(c.content.size(), 16u * 1024);
      joined += c.content;
    }
    EXPECT_TRUE(joined == src) << "windows do not add up to the line: " << joined.size() << " of "
                               << src.size() << " bytes";
    EXPECT_NE(chunks.back().content.find("zzuniqueword"), std::string::npos);
    // Cuts fall after a non-word byte, so no identifier is split across two chunks.
    for (size_t i = 0; i + 1 < chunks.size(); ++i) {
      const char last = chunks[i].content.back();
      EXPECT_FALSE(std::isalnum(static_cast<unsigned char>(last)) || last == '_')
          << "chunk " << i << " ends inside a word";
    }
  }
}

// Lines of 1 KB: a 60-line window is 60 KB. It used to be cut to its first 16 lines, and the
// next window started at line 51, so lines 17-50 were in no chunk at all.
TEST(ChunkChunker, WindowsOfLongLinesKeepEveryLine) {
  std::string src;
  for (int l = 1; l <= 200; ++l)
    src += "line" + std::to_string(l) + " " + std::string(1000, 'x') + "\n";
  ChunkOptions o;
  auto chunks = chunk_file("long_lines.txt", src, o);
  check_invariants("long_lines.txt", src, chunks);
  std::vector<char> seen(201, 0);
  for (const auto& c : chunks) {
    EXPECT_LE(c.content.size(), 16u * 1024);
    for (int l = c.start_line; l <= c.end_line; ++l) seen[l] = 1;
  }
  for (int l = 1; l <= 200; ++l) EXPECT_TRUE(seen[l]) << "line " << l << " is in no chunk";
}

TEST(ChunkChunker, OddInputNeverThrows) {
  ChunkOptions o;
  EXPECT_TRUE(chunk_file("empty.py", "", o).empty());
  EXPECT_TRUE(chunk_file("blank.py", "\n\n\n", o).empty());
  // Invalid UTF-8 is repaired (U+FFFD), not fatal.
  auto bad = chunk_file("bad.py", "def f():\n    return '\xFF\xFE'\n", o);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].symbol, "f");
  EXPECT_NE(bad[0].content.find("\xEF\xBF\xBD"), std::string::npos);
  // NUL bytes, CRLF, syntax errors, absurd nesting.
  EXPECT_NO_THROW(chunk_file("nul.c", std::string("int f() {\0}\n", 12), o));
  auto crlf = chunk_file("w.py", "def a():\r\n    pass\r\n\r\ndef b():\r\n    pass\r\n", o);
  EXPECT_EQ(rows(crlf), (std::vector<Row>{{"a", "function", 1, 2}, {"b", "function", 4, 5}}));
  auto broken = chunk_file("x.rs", "fn ok() {}\nfn broken( {\nstruct S { a: i32 }\n", o);
  EXPECT_FALSE(broken.empty());
  std::string deep = "const x = " + std::string(20000, '[') + std::string(20000, ']') + ";\n";
  EXPECT_NO_THROW(chunk_file("deep.js", deep, o));
  std::string no_newline = "def f():\n    return 1";
  auto nn = chunk_file("nn.py", no_newline, o);
  ASSERT_EQ(nn.size(), 1u);
  EXPECT_EQ(nn[0].content, no_newline);
  // A file with no definitions still yields its code.
  auto script = chunk_file("s.py", "import sys\nprint(sys.argv)\n", o);
  EXPECT_EQ(rows(script), (std::vector<Row>{{"", "window", 1, 2}}));
}

}  // namespace
}  // namespace ripvec
