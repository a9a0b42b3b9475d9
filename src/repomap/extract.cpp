// Per-file facts for the repo map. Definitions come from chunk_file (one set of tree-sitter
// rules for what a definition is, shared with the index); mentions and imports come from one
// more walk over the syntax tree, iterative (a cursor, no recursion) so that deep trees are safe.
#include "repomap/extract.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <set>

#include "chunk/chunker.hpp"
#include "chunk/ts_registry.hpp"
#include "util/text_util.hpp"

#ifdef RIPVEC_HAVE_TREESITTER
#include <tree_sitter/api.h>
#endif

namespace ripvec::repomap {
namespace {

constexpr uint32_t kParseTimeoutMs = 3000;
constexpr size_t kMaxSignature = 200;
constexpr size_t kMaxDoc = 300;
constexpr size_t kMaxRefsPerFile = 200000;

bool looks_like_cpp(std::string_view s) {
  for (const char* marker : {"class ", "namespace ", "template<", "template <",
                             "public:", "private:", "std::", "virtual "})
    if (s.find(marker) != std::string_view::npos) return true;
  return false;
}

using text::trim;

// A signature (or doc) squashed to `max` bytes, marked "…" when cut. Control characters (C0
// other than white space, DEL, C1) become U+FFFD: a signature is read from the source and shown
// as text by `ripvec map`, the MCP repo map and LSP hovers, where an ESC from the file moved
// the cursor or recoloured the terminal (hostile probe 2026-12-06). So do the characters that
// reorder or break the text shown around them: bidirectional controls (U+061C, U+200E/F,
// U+202A-E, U+2066-9; "Trojan Source") and the line and paragraph separators U+2028/9.
std::string squash(std::string_view s, size_t max) {
  bool cut = false;
  std::string raw = text::squash(s, max, &cut);
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const auto b = static_cast<unsigned char>(raw[i]);
    auto at = [&](size_t k) { return k < raw.size() ? static_cast<unsigned char>(raw[k]) : 0; };
    size_t skip = 0;  // further bytes of a character replaced
    if (b == 0xC2 && at(i + 1) >= 0x80 && at(i + 1) <= 0x9F) skip = 1;  // C1
    if (const size_t n = text::reordering_control_length(raw, i); n > 0) skip = n - 1;
    if (b < 0x20 || b == 0x7F || skip > 0) {
      out += "\xEF\xBF\xBD";
      i += skip;
    } else {
      out.push_back(raw[i]);
    }
  }
  if (cut) out += "…";
  return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t b = 0;
  while (b < text.size()) {
    size_t e = text.find('\n', b);
    if (e == std::string_view::npos) e = text.size();
    std::string_view l = text.substr(b, e - b);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    lines.push_back(l);
    b = e + 1;
  }
  return lines;
}

bool is_word(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         (static_cast<unsigned char>(c) & 0x80);
}

// Byte column of `name` as a whole word in `line`, or npos.
size_t find_word(std::string_view line, std::string_view name) {
  if (name.empty()) return std::string_view::npos;
  for (size_t p = line.find(name); p != std::string_view::npos; p = line.find(name, p + 1)) {
    bool left = p == 0 || !is_word(line[p - 1]);
    bool right = p + name.size() >= line.size() || !is_word(line[p + name.size()]);
    if (left && right) return p;
  }
  return std::string_view::npos;
}

bool is_comment_line(std::string_view l, bool hash) {
  l = trim(l);
  if (l.empty()) return false;
  if (hash) return l[0] == '#';
  return l.starts_with("//") || l.starts_with("/*") || l.starts_with("*") || l.starts_with("*/");
}

std::string strip_comment_marker(std::string_view l) {
  l = trim(l);
  for (const char* m : {"///", "//!", "//", "/**", "/*", "*/", "*", "##", "#"}) {
    if (l.starts_with(m)) {
      l.remove_prefix(std::strlen(m));
      break;
    }
  }
  if (l.ends_with("*/")) l.remove_suffix(2);
  return std::string(trim(l));
}

// Where the first byte of `stops` lies outside string quotes (and, with `nested`, outside (),
// [] and {}), or npos.
size_t find_unquoted(std::string_view l, std::string_view stops, bool nested) {
  char quote = 0;
  int nest = 0;
  for (size_t i = 0; i < l.size(); ++i) {
    const char c = l[i];
    if (quote) {
      if (c == '\\')
        ++i;
      else if (c == quote)
        quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (nested && (c == '(' || c == '[' || c == '{')) {
      ++nest;
    } else if (nested && (c == ')' || c == ']' || c == '}')) {
      --nest;
    } else if (nest <= 0 && stops.find(c) != std::string_view::npos) {
      return i;
    }
  }
  return std::string_view::npos;
}

// The line without a trailing "# comment" (a '#' outside string quotes).
std::string_view strip_hash_comment(std::string_view l) {
  return l.substr(0, find_unquoted(l, "#", false));
}

// Where a definition's syntax node starts (Chunk::sig_line, sig_col), given only for one that
// shares its line with an earlier definition (minified code): the name and the signature are
// read from there, not from the line's start, which belongs to the definitions before it.
struct OwnStart {
  int line = 0, col = 0;
};

// Fills name_line/column, signature and doc of a definition from its lines.
void describe(RepoDefinition& d, const std::vector<std::string_view>& lines, OwnStart own) {
  const bool hash = d.language == "python" || d.language == "ruby" || d.language == "bash";
  const int first = std::max(1, d.start_line), last = std::min<int>(d.end_line, lines.size());
  d.name_line = first;
  d.name_column = 0;
  size_t from = 0;  // byte of the name line where the signature starts
  if (own.col > 0 && own.line >= 1 && own.line <= static_cast<int>(lines.size()) &&
      static_cast<size_t>(own.col) < lines[own.line - 1].size()) {
    const size_t col = find_word(lines[own.line - 1].substr(static_cast<size_t>(own.col)), d.name);
    if (col != std::string_view::npos) {
      d.name_line = own.line;
      d.name_column = own.col + static_cast<int>(col);
      from = static_cast<size_t>(own.col);
    }
  }
  for (int l = first; l <= last && from == 0; ++l) {
    std::string_view t = trim(lines[l - 1]);
    if (t.starts_with("@") || t.starts_with("#[") || is_comment_line(t, hash)) continue;
    size_t col = find_word(lines[l - 1], d.name);
    if (col != std::string_view::npos) {
      d.name_line = l;
      d.name_column = static_cast<int>(col);
      break;
    }
  }
  // Signature: from the name line until the body opens.
  std::string sig;
  int sig_end = d.name_line;
  int depth = 0;
  for (int l = d.name_line; l <= last && l < d.name_line + 6; ++l) {
    std::string_view t = lines[l - 1].substr(l == d.name_line ? from : 0);
    sig_end = l;
    if (d.language == "python") {
      // Up to the ':' that closes the header: brackets balanced, comments dropped.
      std::string_view s = trim(strip_hash_comment(t));
      sig += std::string(s) + " ";
      for (char ch : s) depth += ch == '(' || ch == '[' ? 1 : ch == ')' || ch == ']' ? -1 : 0;
      if (depth <= 0) {
        size_t colon = sig.rfind(':');
        if (colon != std::string::npos) sig.resize(colon);
        break;
      }
      continue;
    }
    size_t brace = t.find('{');
    if (brace != std::string_view::npos) {
      sig += std::string(t.substr(0, brace)) + " ";
      break;
    }
    sig += std::string(t) + " ";
    std::string_view s = trim(t);
    if (s.ends_with(";") || s.ends_with(")") || d.language == "ruby" || s.ends_with("=>") ||
        s.ends_with("=") || d.kind == "type")
      break;
  }
  // A C/C++ typedef names its type after the body (`typedef struct { ... } TD;`): the name
  // line alone read "} TD;". The header line and the name line, the body elided.
  if ((d.language == "c" || d.language == "cpp") && d.name_line > first) {
    const std::string_view name_line = trim(lines[d.name_line - 1]);
    const std::string_view head = trim(lines[first - 1]);
    if (name_line.starts_with("}") && head.starts_with("typedef")) {
      std::string_view h = head.substr(0, head.find('{'));
      std::string_view tail = trim(name_line.substr(1));
      while (!tail.empty() && (tail.back() == ';' || tail.back() == ' ')) tail.remove_suffix(1);
      sig = std::string(trim(h)) + " { … } " + std::string(tail);
    }
  }
  // Ruby one-liners (`class K; def a; end; end`, `def c = 1; end`): the header ends at the
  // first ';' outside brackets and quotes, not with the line.
  if (d.language == "ruby")
    if (const size_t k = find_unquoted(sig, ";#", true); k != std::string::npos) sig.resize(k);
  std::string_view sv = trim(sig);
  d.signature = squash(sv, kMaxSignature);

  // Doc: a Python docstring after the signature, else the comment lines directly above.
  std::string doc;
  if (d.language == "python") {
    for (int l = sig_end + 1; l <= last && l <= sig_end + 2; ++l) {
      std::string_view t = trim(lines[l - 1]);
      if (t.empty()) continue;
      for (const char* q : {"\"\"\"", "'''", "r\"\"\"", "r'''"}) {
        if (!t.starts_with(q)) continue;
        const std::string_view quote = std::string_view(q).substr(q[0] == 'r' ? 1 : 0);
        std::string body(t.substr(std::strlen(q)));
        for (int k = l + 1; k <= last && body.find(quote) == std::string::npos; ++k) {
          std::string_view next = trim(lines[k - 1]);
          if (next.empty() && !trim(body).empty()) break;  // first paragraph only
          body += " ";
          body += next;
        }
        size_t end = body.find(quote);
        if (end != std::string::npos) body.resize(end);
        doc = body;
        break;
      }
      break;
    }
  } else {
    int l = d.name_line - 1;
    std::vector<std::string> above;
    while (l >= 1 && l >= d.name_line - 30) {
      std::string_view t = trim(lines[l - 1]);
      if (t.starts_with("@") || t.starts_with("#[") || t.starts_with("template")) {
        --l;
        continue;
      }
      if (!is_comment_line(t, hash)) break;
      above.push_back(strip_comment_marker(t));
      --l;
    }
    std::reverse(above.begin(), above.end());
    for (const auto& a : above) {
      if (a.empty()) {
        if (!doc.empty()) break;
        continue;
      }
      if (!doc.empty()) doc += " ";
      doc += a;
    }
  }
  d.doc = squash(doc, kMaxDoc);
}

#ifdef RIPVEC_HAVE_TREESITTER

std::string_view node_text(TSNode n, std::string_view src) {
  uint32_t b = ts_node_start_byte(n), e = ts_node_end_byte(n);
  if (b >= src.size() || e <= b) return {};
  return src.substr(b, std::min<size_t>(e, src.size()) - b);
}

TSNode field(TSNode n, const char* name) {
  return ts_node_child_by_field_name(n, name, static_cast<uint32_t>(std::strlen(name)));
}

std::string unquote(std::string_view s) {
  s = trim(s);
  while (!s.empty() && std::strchr("\"'`<", s.front())) s.remove_prefix(1);
  while (!s.empty() && std::strchr("\"'`>", s.back())) s.remove_suffix(1);
  return std::string(s);
}

bool is_identifier_type(std::string_view t) {
  return t == "identifier" || t == "type_identifier" || t == "field_identifier" ||
         t == "property_identifier" || t == "shorthand_property_identifier" || t == "constant" ||
         t == "namespace_identifier" || t == "simple_identifier" || t == "name";
}

// Imports declared by node `n` (any language), appended to out.
void collect_import(TSNode n, std::string_view type, const std::string& lang, std::string_view src,
                    std::vector<ImportSpec>& out) {
  if (lang == "python") {
    if (type == "import_statement") {
      for (uint32_t i = 0; i < ts_node_named_child_count(n); ++i) {
        TSNode c = ts_node_named_child(n, i);
        std::string_view ct = ts_node_type(c);
        if (ct == "dotted_name") out.push_back({std::string(node_text(c, src))});
        if (ct == "aliased_import") {
          TSNode nm = field(c, "name");
          if (!ts_node_is_null(nm)) out.push_back({std::string(node_text(nm, src))});
        }
      }
    } else if (type == "import_from_statement") {
      TSNode mod = field(n, "module_name");
      if (ts_node_is_null(mod)) return;
      std::string base(node_text(mod, src));
      out.push_back({base});
      // "from . import views": the names may be modules themselves.
      for (uint32_t i = 0; i < ts_node_named_child_count(n); ++i) {
        TSNode c = ts_node_named_child(n, i);
        if (ts_node_eq(c, mod)) continue;
        std::string_view ct = ts_node_type(c);
        TSNode nm = ct == "aliased_import" ? field(c, "name") : c;
        if (ts_node_is_null(nm) || std::string_view(ts_node_type(nm)) != "dotted_name") continue;
        std::string sep = base.ends_with(".") ? "" : ".";
        out.push_back({base + sep + std::string(node_text(nm, src))});
      }
    }
  } else if (lang == "javascript" || lang == "typescript" || lang == "tsx") {
    if (type == "import_statement" || type == "export_statement") {
      TSNode s = field(n, "source");
      if (!ts_node_is_null(s)) out.push_back({unquote(node_text(s, src))});
    } else if (type == "call_expression") {
      TSNode f = field(n, "function");
      TSNode a = field(n, "arguments");
      if (!ts_node_is_null(f) && !ts_node_is_null(a) && node_text(f, src) == "require" &&
          ts_node_named_child_count(a) > 0) {
        TSNode s = ts_node_named_child(a, 0);
        if (std::string_view(ts_node_type(s)) == "string")
          out.push_back({unquote(node_text(s, src))});
      }
    }
  } else if (lang == "go") {
    if (type == "import_spec") {
      TSNode p = field(n, "path");
      if (!ts_node_is_null(p)) out.push_back({unquote(node_text(p, src))});
    }
  } else if (lang == "rust") {
    if (type == "use_declaration") {
      TSNode a = field(n, "argument");
      if (!ts_node_is_null(a)) out.push_back({std::string(node_text(a, src))});
    } else if (type == "mod_item" && ts_node_is_null(field(n, "body"))) {
      TSNode nm = field(n, "name");
      if (!ts_node_is_null(nm)) out.push_back({"mod:" + std::string(node_text(nm, src))});
    }
  } else if (lang == "java") {
    if (type == "import_declaration") {
      std::string s(node_text(n, src));
      // "import static a.b.C.m;" / "import a.b.*;"
      for (const char* kw : {"import", "static"}) {
        std::string_view v = trim(s);
        if (v.starts_with(kw)) s = std::string(trim(v.substr(std::strlen(kw))));
      }
      while (!s.empty() && (s.back() == ';' || std::isspace(static_cast<unsigned char>(s.back()))))
        s.pop_back();
      out.push_back({s});
    }
  } else if (lang == "c" || lang == "cpp") {
    if (type == "preproc_include") {
      TSNode p = field(n, "path");
      if (ts_node_is_null(p)) return;
      std::string_view t = node_text(p, src);
      out.push_back({unquote(t), !t.empty() && t.front() == '"'});
    }
  } else if (lang == "ruby") {
    if (type == "call") {
      TSNode m = field(n, "method");
      TSNode a = field(n, "arguments");
      if (ts_node_is_null(m) || ts_node_is_null(a) || ts_node_named_child_count(a) == 0) return;
      std::string_view mn = node_text(m, src);
      if (mn != "require" && mn != "require_relative" && mn != "load") return;
      TSNode s = ts_node_named_child(a, 0);
      if (std::string_view(ts_node_type(s)) != "string") return;
      out.push_back({unquote(node_text(s, src)), mn == "require_relative"});
    }
  }
}

void walk_tree(TSNode root, const std::string& lang, std::string_view src, FileFacts& f) {
  TSTreeCursor cur = ts_tree_cursor_new(root);
  for (;;) {
    TSNode n = ts_tree_cursor_current_node(&cur);
    std::string_view type = ts_node_type(n);
    if (ts_node_child_count(n) == 0) {
      if (ts_node_is_named(n) && is_identifier_type(type) && f.refs.size() < kMaxRefsPerFile) {
        std::string_view t = node_text(n, src);
        if (!t.empty() && t.size() <= 128) {
          TSPoint p = ts_node_start_point(n);
          f.refs.push_back(
              {std::string(t), static_cast<int>(p.row) + 1, static_cast<int>(p.column)});
        }
      }
    } else {
      collect_import(n, type, lang, src, f.imports);
      if (ts_tree_cursor_goto_first_child(&cur)) continue;
    }
    // Next sibling, or climb until one exists.
    bool moved = false;
    while (!moved) {
      if (ts_tree_cursor_goto_next_sibling(&cur)) {
        moved = true;
      } else if (!ts_tree_cursor_goto_parent(&cur)) {
        ts_tree_cursor_delete(&cur);
        return;
      }
    }
  }
}

#endif  // RIPVEC_HAVE_TREESITTER

// The chunker's code languages (issue 12 item 7 added the last five): their definitions come
// from the chunker and their references from the identifier leaves (walk_tree), so an editor's
// outline, definitions and calls work for them too; before, a Kotlin document had an empty
// outline (hostile probe 2026-12-06). PHP's identifiers are `name` nodes (is_identifier_type).
const char* const kMapLanguages[] = {"python", "javascript", "typescript", "tsx",  "go",   "rust",
                                     "java",   "c",          "cpp",        "ruby", "bash", "kotlin",
                                     "swift",  "scala",      "csharp",     "php"};

bool is_container_kind(std::string_view k) {
  return k == "class" || k == "struct" || k == "interface" || k == "trait" || k == "impl" ||
         k == "module" || k == "namespace" || k == "enum" || k == "record" || k == "union";
}

}  // namespace

std::string map_language(std::string_view path, std::string_view text) {
  std::string lang = detect_language(path);
  if (lang == "c" && looks_like_cpp(text)) lang = "cpp";
  for (const char* l : kMapLanguages)
    if (lang == l) return ts::language(lang) ? lang : std::string();
  return {};
}

FileFacts extract_file(std::string_view path, std::string_view text, bool with_refs) {
  // A lone "\r" ends a line, as in LSP and editors (text::lone_cr_to_lf): files with old Mac
  // line ends had every definition on line 1, with the first line's text as each signature, and
  // lost their references (hostile probe 2026-12-05, third round). Copied only when there is a
  // "\r" at all.
  std::string normalized;
  if (text.find('\r') != std::string_view::npos) {
    normalized = text::lone_cr_to_lf(std::string(text));
    text = normalized;
  }
  FileFacts f;
  f.path = std::string(path);
  f.language = map_language(path, text);
  const auto lines = split_lines(text);
  f.line_count = static_cast<int>(lines.size());
  if (f.language.empty() || lines.empty()) return f;

  ChunkOptions copts;
  copts.max_chunk_lines = 1u << 30;  // whole definitions, never split into windows
  copts.window_lines = 1u << 30;
  copts.every_definition = true;
  std::vector<Chunk> chunks = chunk_file(path, text, copts);
  std::vector<OwnStart> own;                // per definition, for describe()
  int prev_line = 0;                        // sig_line of the definition before
  std::set<std::string, std::less<>> seen;  // symbols of the definitions before
  for (const Chunk& c : chunks) {
    if (c.kind == "window" || c.symbol.empty()) continue;
    // A definition over 16 KiB comes in several chunks: one definition (they were listed as
    // several, the later ones with a line of the body as signature).
    if (c.continued && !f.defs.empty() && f.defs.back().symbol == c.symbol) {
      f.defs.back().end_line = std::max(f.defs.back().end_line, c.end_line);
      continue;
    }
    // Where the definition's own text starts, when something else's precedes it on its line:
    // the definition before it (minified code, or its container's one-line header piece:
    // `class K { m(a){...} }` read "class K" as K.m's signature; hostile probe 2026-12-05),
    // or a container that has no definition here.
    const size_t dot = c.symbol.rfind('.');
    const bool parent_unseen =
        dot != std::string::npos && !seen.count(std::string_view(c.symbol).substr(0, dot));
    own.push_back((c.sig_line == prev_line || parent_unseen) && c.sig_col > 0
                      ? OwnStart{c.sig_line, c.sig_col}
                      : OwnStart{});
    prev_line = c.sig_line;
    seen.insert(c.symbol);
    RepoDefinition d;
    d.path = f.path;
    d.symbol = c.symbol;
    d.name = dot == std::string::npos ? c.symbol : c.symbol.substr(dot + 1);
    d.kind = c.kind;
    d.language = f.language;
    d.start_line = c.start_line;
    d.end_line = std::max(c.end_line, c.def_end_line);
    f.defs.push_back(std::move(d));
  }
  // Container header chunks stop at the first member; the definition spans its members.
  // Members follow their container's header contiguously; Go methods name their receiver type
  // but live outside it, so Go types keep their own lines.
  for (size_t i = 0; i < f.defs.size() && f.language != "go"; ++i) {
    RepoDefinition& d = f.defs[i];
    if (!is_container_kind(d.kind)) continue;
    const std::string prefix = d.symbol + ".";
    for (size_t j = i + 1; j < f.defs.size() && f.defs[j].symbol.starts_with(prefix); ++j)
      d.end_line = std::max(d.end_line, f.defs[j].end_line);
  }
  for (size_t i = 0; i < f.defs.size(); ++i) describe(f.defs[i], lines, own[i]);

#ifdef RIPVEC_HAVE_TREESITTER
  if (!with_refs) return f;
  TSTree* tree = ts::parse(f.language, text, kParseTimeoutMs);
  if (!tree) return f;
  std::unique_ptr<TSTree, void (*)(TSTree*)> guard(tree, ts_tree_delete);
  walk_tree(ts_tree_root_node(tree), f.language, text, f);
  f.parsed = true;
#endif
  return f;
}

}  // namespace ripvec::repomap
