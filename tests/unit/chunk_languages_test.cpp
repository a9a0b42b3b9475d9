// Structure-aware chunking of the languages added for issue 12 (Kotlin, Swift, Scala, C#, PHP,
// HCL; Markdown, JSON, YAML, TOML, XML), each on a real file from a pinned PyPI sdist or Debian
// package (tests/data/chunk/real/PROVENANCE.md). The expected definitions and line ranges were
// read off the files by hand; YAML's top-level keys come from PyYAML's composer
// (scripts/gen_yaml_keys_golden.py -> tests/data/chunk/yaml_keys_golden.json).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "chunk/chunker.hpp"
#include "common/test_util.hpp"
#include "ripvec/repo_map.hpp"

namespace ripvec {
namespace {

std::string read_data(const std::string& rel) {
  std::ifstream f(test::test_data(rel), std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// (symbol, kind, start_line, end_line)
using Row = std::tuple<std::string, std::string, int, int>;

// Chunks a file and checks that every chunk's content is exactly its source lines and carries
// the file's language; returns the rows.
std::vector<Row> chunk_rows(const std::string& rel, const std::string& language) {
  const std::string src = read_data(rel);
  EXPECT_FALSE(src.empty()) << rel;
  std::vector<std::string> lines;
  std::stringstream ss(src);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  std::vector<Row> out;
  for (const Chunk& c : chunk_file(rel, src, {})) {
    EXPECT_EQ(c.language, language) << rel;
    std::string want;
    for (int l = c.start_line; l <= c.end_line && l <= static_cast<int>(lines.size()); ++l)
      want += (l > c.start_line ? "\n" : "") + lines[l - 1];
    EXPECT_EQ(c.content, want) << rel << ":" << c.start_line;
    out.emplace_back(c.symbol, c.kind, c.start_line, c.end_line);
  }
  return out;
}

TEST(ChunkLanguages, GrammarsCompiledIn) {
  const auto langs = supported_languages();
  for (const char* l :
       {"kotlin", "swift", "scala", "csharp", "php", "hcl", "markdown", "json", "toml", "xml"})
    EXPECT_NE(std::find(langs.begin(), langs.end(), l), langs.end()) << l;
}

TEST(ChunkLanguages, DetectLanguage) {
  const std::pair<const char*, const char*> cases[] = {
      {"a/B.kt", "kotlin"},     {"build.gradle.kts", "kotlin"},
      {"App.swift", "swift"},   {"Main.scala", "scala"},
      {"build.sbt", "scala"},   {"Foo.cs", "csharp"},
      {"index.php", "php"},     {"main.tf", "hcl"},
      {"x.tfvars", "hcl"},      {"README.md", "markdown"},
      {"package.json", "json"}, {"ci.yml", "yaml"},
      {"a.yaml", "yaml"},       {"pyproject.toml", "toml"},
      {"Cargo.lock", "toml"},   {"pom.xml", "xml"},
      {"A.csproj", "xml"},      {"notes.txt", ""},
  };
  for (const auto& [path, lang] : cases) EXPECT_EQ(detect_language(path), lang) << path;
}

TEST(ChunkLanguages, KotlinRealFile) {
  // Line 22 ("assert {...}" in a class body) is old syntax the grammar rejects: PostalAddress
  // ends there, and its closing brace (no letters) belongs to no chunk.
  const std::vector<Row> want = {
      {"Contact", "class", 3, 8},
      {"EmailAddress", "class", 10, 13},
      {"PostalAddress", "class", 15, 22},
      {"PhoneNumber", "class", 25, 29},
      {"Countries", "object", 31, 31},
      {"Countries.get", "method", 32, 32},
      {"", "window", 34, 45},
      {"Country", "class", 47, 47},
  };
  EXPECT_EQ(chunk_rows("chunk/real/example.kt", "kotlin"), want);
}

TEST(ChunkLanguages, SwiftRealFile) {
  const std::vector<Row> want = {
      {"", "window", 1, 10},  // header comment and imports
      {"SKNode", "extension", 12, 12},
      {"SKNode.unarchiveFromFile", "method", 13, 24},
      {"GameViewController", "class", 27, 27},
      {"GameViewController.viewDidLoad", "method", 29, 46},
      {"GameViewController.shouldAutorotate", "method", 48, 50},
      {"GameViewController.supportedInterfaceOrientations", "method", 52, 58},
      {"GameViewController.didReceiveMemoryWarning", "method", 60, 63},
  };
  EXPECT_EQ(chunk_rows("chunk/real/test.swift", "swift"), want);
}

TEST(ChunkLanguages, ScalaRealFile) {
  // Comments directly above a definition stay with it ("// Extends", "// Derives").
  const std::vector<Row> want = {
      {"A", "trait", 1, 2},    {"A", "trait", 3, 3},    {"Color", "trait", 4, 4},
      {"Red", "object", 5, 5}, {"Tree", "enum", 7, 11},
  };
  EXPECT_EQ(chunk_rows("chunk/real/inheritance.scala", "scala"), want);
}

TEST(ChunkLanguages, CSharpRealFile) {
  const std::string c = "Python.Runtime.PyInt";
  std::vector<Row> want = {
      {"", "window", 1, 4},  // usings
      {"Python.Runtime", "namespace", 6, 7},
      {c, "class", 8, 13},  // /// <summary> doc comment, declaration, brace
  };
  for (auto [s, e] : {std::pair{14, 16}, {18, 21}, {24, 34}})
    want.emplace_back(c + ".PyInt", "constructor", s, e);
  want.emplace_back(c + ".FromObject", "method", 36, 44);
  for (auto [s, e] : {std::pair{46, 54},
                      {57, 65},
                      {68, 76},
                      {78, 83},
                      {85, 93},
                      {96, 104},
                      {107, 115},
                      {118, 126},
                      {128, 136},
                      {138, 138},
                      {140, 141}})
    want.emplace_back(c + ".PyInt", "constructor", s, e);
  for (auto [n, s, e] : {std::tuple{"IsIntType", 144, 154},
                         {"AsInt", 157, 168},
                         {"ToInt16", 171, 180},
                         {"ToInt32", 183, 186},
                         {"ToInt64", 188, 202},
                         {"ToBigInteger", 204, 226},
                         {"ToString", 228, 232},
                         {"GetTypeCode", 234, 234},
                         {"GetHashCode", 236, 236}})
    want.emplace_back(c + "." + n, "method", s, e);
  EXPECT_EQ(chunk_rows("chunk/real/PyInt.cs", "csharp"), want);
}

TEST(ChunkLanguages, PhpRealFile) {
  std::vector<Row> want = {{"LoggerTrait", "trait", 5, 14}};  // docblock, "trait", "{"
  for (auto [n, s, e] : {std::tuple{"emergency", 15, 26},
                         {"alert", 28, 42},
                         {"critical", 44, 57},
                         {"error", 59, 71},
                         {"warning", 73, 87},
                         {"notice", 89, 100},
                         {"info", 102, 115},
                         {"debug", 117, 128}})
    want.emplace_back(std::string("LoggerTrait.") + n, "method", s, e);
  want.emplace_back("", "window", 130, 142);  // the abstract log(): part of the trait, no body
  EXPECT_EQ(chunk_rows("chunk/real/LoggerTrait.php", "php"), want);
}

TEST(ChunkLanguages, HclRealFile) {
  const std::vector<Row> want = {
      {"resource.null_resource.foo", "block", 1, 9},
      {"resource.null_resource.bar", "block", 11, 15},
      {"data.null_data_source.baz", "block", 17, 22},
      {"resource.null_resource.baz", "block", 24, 30},
  };
  EXPECT_EQ(chunk_rows("chunk/real/resources.tf", "hcl"), want);
}

TEST(ChunkLanguages, MarkdownRealFileSectionsByHeading) {
  const std::vector<Row> want = {
      {"", "window", 1, 2},  // the text before the first heading
      {"Embedding Python in .NET", "section", 4, 25},
      {"Example", "section", 27, 60},  // fenced code blocks stay in their section
      {"Resources", "section", 64, 74},
      {"Resources..NET Foundation", "section", 76, 78},  // "### .NET Foundation" nested
  };
  const std::string rel = "chunk/real/pythonnet_README.md";
  EXPECT_EQ(chunk_rows(rel, "markdown"), want);
  // The parent section's text names its subsections.
  for (const Chunk& c : chunk_file(rel, read_data(rel), {}))
    if (c.symbol == "Resources")
      EXPECT_NE(c.embed_text.find("// members: .NET Foundation\n"), std::string::npos);
}

// Hostile probe 2026-12-07: tree-sitter-markdown's scanner overflows its 1,024-byte state buffer
// at 255 open container blocks: one line of 255 '>' (or 300 list markers, or 400 list levels by
// indentation) crashed every index, search and server holding the file (SIGSEGV / SIGBUS). Such a
// text is chunked by lines, every line kept; ordinary nesting keeps its sections.
TEST(ChunkLanguages, MarkdownNestedDeeperThanItsGrammarHoldsIsChunkedByLines) {
  std::string indented;
  for (int i = 0; i < 400; ++i)
    indented += std::string(2 * i, ' ') + "- item " + std::to_string(i) + "\n";
  std::string mixed;
  for (int i = 0; i < 130; ++i) mixed += "> - ";
  const std::pair<std::string, std::string> cases[] = {
      {"quotes", "# Title\n\n" + std::string(255, '>') + " quote\n"},
      {"quotes-spaced", "# Title\n\n" + std::string(600, ' ') + std::string(300, '>') + " q\n"},
      {"markers",
       [] {
         std::string t;
         for (int i = 0; i < 300; ++i) t += "- ";
         return t + "x\n";
       }()},
      {"mixed", mixed + "deep\n"},
      {"indented", indented},
  };
  for (const auto& [name, src] : cases) {
    SCOPED_TRACE(name);
    std::vector<Chunk> chunks;
    ASSERT_NO_THROW(chunks = chunk_file(name + ".md", src, {}));
    std::stringstream ss(src);
    int row = 0;
    for (std::string l; std::getline(ss, l);) {
      ++row;
      if (std::none_of(l.begin(), l.end(), [](char ch) { return std::isalnum(uint8_t(ch)); }))
        continue;
      bool covered = false;
      for (const Chunk& c : chunks) covered = covered || (c.start_line <= row && row <= c.end_line);
      EXPECT_TRUE(covered) << "line " << row << " in no chunk";
    }
    EXPECT_NO_THROW(file_definitions(name + ".md", src));  // the repo map parses it too
  }
  std::string shallow = "# Top\n\n";  // 20 levels: still parsed, sections kept
  shallow += std::string(20, '>') + " quoted\n\n## Sub\n\ntext\n";
  std::vector<std::string> symbols;
  for (const Chunk& c : chunk_file("s.md", shallow, {})) symbols.push_back(c.symbol);
  EXPECT_NE(std::find(symbols.begin(), symbols.end(), "Top.Sub"), symbols.end())
      << ::testing::PrintToString(symbols);
}

TEST(ChunkLanguages, JsonRealFileTopLevelKeys) {
  const std::vector<Row> want = {
      {"version", "key", 2, 2},          {"cmakeMinimumRequired", "key", 3, 7},
      {"include", "key", 8, 11},         {"configurePresets", "key", 12, 54},
      {"buildPresets", "key", 55, 60},   {"testPresets", "key", 61, 68},
      {"packagePresets", "key", 69, 77}, {"workflowPresets", "key", 78, 100},
      {"vendor", "key", 101, 105},
  };
  EXPECT_EQ(chunk_rows("chunk/real/CMakePresets.json", "json"), want);
}

TEST(ChunkLanguages, TomlRealFileTables) {
  const std::vector<Row> want = {
      {"build-system", "table", 1, 3},
      {"project", "table", 5, 33},
      {"dependency-groups", "table", 35, 47},
      {"project.authors", "table", 49, 51},  // [[project.authors]]
      {"project.urls", "table", 53, 55},
      {"project.entry-points.pyinstaller40", "table", 57, 58},
      {"tool.setuptools", "table", 60, 62},
      {"tool.setuptools.dynamic.version", "table", 64, 65},
      {"tool.setuptools.packages.find", "table", 67, 69},
      {"tool.pytest.ini_options", "table", 71, 75},
  };
  EXPECT_EQ(chunk_rows("chunk/real/pyproject.toml", "toml"), want);
}

TEST(ChunkLanguages, XmlRealFileElements) {
  // The root's opening tag, then each child element; "</Project>" alone is no chunk.
  const std::vector<Row> want = {
      {"Project", "element", 1, 1},
      {"Project.PropertyGroup", "element", 2, 35},
      {"Project.PropertyGroup", "element", 37, 39},
      {"Project.PropertyGroup", "element", 41, 44},
      {"Project.ItemGroup", "element", 46, 49},
      {"Project.ItemGroup", "element", 51, 59},
      {"Project.ItemGroup", "element", 61, 65},
  };
  EXPECT_EQ(chunk_rows("chunk/real/Python.Runtime.csproj", "xml"), want);
}

// YAML has no grammar: the key scanner must agree with PyYAML on a real file and on edge cases
// (multi-line quoted and flow values, block scalars, sequences at the key's column, documents).
TEST(ChunkLanguages, YamlKeysMatchPyYaml) {
  const auto golden = nlohmann::json::parse(read_data("chunk/yaml_keys_golden.json"));
  ASSERT_EQ(golden["files"].size(), 2u);
  for (const auto& [path, keys] : golden["files"].items()) {
    const std::string rel = path.substr(std::string("tests/data/").size());
    std::vector<Row> want;
    for (const auto& k : keys)
      want.emplace_back(k[0].get<std::string>(), "key", k[1].get<int>(), k[3].get<int>());
    std::vector<Row> got;
    for (const Row& r : chunk_rows(rel, "yaml"))
      if (std::get<1>(r) == "key") got.push_back(r);
    EXPECT_EQ(got, want) << rel;
  }
}

TEST(ChunkLanguages, YamlCrlfKeys) {
  std::vector<Row> got;
  for (const Chunk& c : chunk_file("a.yml", "a: 1\r\nb:\r\n  - x\r\n", {}))
    got.emplace_back(c.symbol, c.kind, c.start_line, c.end_line);
  EXPECT_EQ(got, (std::vector<Row>{{"a", "key", 1, 1}, {"b", "key", 2, 3}}));
}

// Odd input never throws; in configuration and documents (YAML, TOML, Markdown, HCL) every line
// with a letter or digit stays in some chunk, whatever the parse made of it.
TEST(ChunkLanguages, OddInputStillCoversEveryLine) {
  const std::pair<const char*, std::string> cases[] = {
      {"a.yaml", "key: \"never closed\nnext: 1\n"},                 // quote runs to the end
      {"b.yaml", "[a,\nb: c\n"},                                    // flow never closed
      {"c.yaml", "- just\n- a list\n"},                             // no keys at all
      {"d.json", std::string(5000, '[') + std::string(5000, ']')},  // deep nesting
      {"e.json", "{\"a\": 1,, \"b\": }\n"},                         // syntax errors
      {"f.toml", "[unterminated\nx = \n"},
      {"g.md", "#\n##\n```\nnever closed\n"},
      {"h.xml", "<a><b></a>\n<c/>\ntext\n"},
      {"i.tf", "resource \"x\" {\n"},
      {"j.kt", "class {\nfun (\n"},
      {"k.cs", "namespace ;\nclass C { void M( }\n"},
      {"l.php", "<?php function ( { class\n"},
      {"m.swift", "extension { func }\n"},
      {"n.scala", "object { def = }\n"},
  };
  for (const auto& [name, src] : cases) {
    std::vector<Chunk> chunks;
    ASSERT_NO_THROW(chunks = chunk_file(name, src, {})) << name;
    std::vector<std::string> lines;
    std::stringstream ss(src);
    for (std::string l; std::getline(ss, l);) lines.push_back(l);
    for (const Chunk& c : chunks) {  // content is exactly its lines (at most 16 KiB each here)
      ASSERT_TRUE(c.start_line >= 1 && c.start_line <= c.end_line &&
                  c.end_line <= static_cast<int>(lines.size()))
          << name;
      std::string want;
      for (int l = c.start_line; l <= c.end_line; ++l)
        want += (l > c.start_line ? "\n" : "") + lines[l - 1];
      if (want.size() <= 16 * 1024) EXPECT_EQ(c.content, want) << name;
    }
    const std::string lang = detect_language(name);
    if (lang != "yaml" && lang != "toml" && lang != "markdown" && lang != "hcl") continue;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (std::none_of(lines[i].begin(), lines[i].end(),
                       [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)); }))
        continue;
      bool covered = false;
      for (const Chunk& c : chunks)
        covered = covered || (c.start_line <= static_cast<int>(i) + 1 &&
                              static_cast<int>(i) + 1 <= c.end_line);
      EXPECT_TRUE(covered) << name << ": line " << i + 1 << " in no chunk";
    }
  }
}

}  // namespace
}  // namespace ripvec
