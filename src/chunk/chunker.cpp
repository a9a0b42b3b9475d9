// Code-aware chunking.
//
// Design (see also chunker.hpp):
//  * tree-sitter parses the file; a per-language table says which nodes are definitions and
//    which of those are containers (classes, impls, traits, modules, namespaces...).
//  * Every leaf definition (function, method, struct, enum, type alias...) becomes one chunk of
//    its exact lines, extended upwards over the doc comments / attributes / decorators directly
//    above it. Nested definitions of a container get their own chunks with the scope chain
//    ("Client.get"). Functions nested in a function stay inside their parent's chunk, unless
//    the parent is long (kNestedSplitLines): then those of kNestedMinLines or more get chunks
//    of their own and the parent is treated as a container (header chunk + windows).
//  * A container with nested definitions yields a "header" chunk covering only its lines before
//    the first nested definition (declaration, docstring, leading fields); its embed_text also
//    lists the member names, so the class is findable without duplicating the method bodies.
//    A container without nested definitions is a leaf.
//  * Lines not covered by any chunk (top-level statements, fields between methods, imports...)
//    become "window" chunks when they hold at least kMinGapLines meaningful lines (any amount
//    when the file has no definitions at all); their scope is the innermost enclosing container.
//  * Chunks longer than max_chunk_lines become overlapping line windows; with a tokenizer, any
//    chunk whose header + content exceeds max_tokens is split into line windows that fit, and a
//    single line that still does not fit is cut (in embed_text only).
//  * Unknown languages, text files, failed or timed-out parses: line windows.
#include "chunk/chunker.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <optional>

#include "chunk/ts_registry.hpp"
#include "chunk/yaml_keys.hpp"
#include "ripvec/tokenizer.hpp"
#include "util/text_util.hpp"

#ifdef RIPVEC_HAVE_TREESITTER
#include <tree_sitter/api.h>
#endif

namespace ripvec {
namespace {

// Longest chunk content. Longer stretches are split (whole lines first, then byte windows of a
// single longer line, e.g. minified code) so that the chunks still cover every byte.
constexpr size_t kMaxChunkBytes = 16 * 1024;
constexpr size_t kWordCutSearch = 256;  // how far back a line window looks for a non-word byte
constexpr int kMinGapLines = 3;         // meaningful lines for a gap to become a chunk
// A function of at least kNestedSplitLines lines (more than a 256-token chunk holds) gives the
// functions defined inside it of at least kNestedMinLines lines chunks of their own.
constexpr int kNestedSplitLines = 40;
constexpr int kNestedMinLines = 5;
constexpr uint32_t kParseTimeoutMs = 5000;
constexpr int kMaxDepth = 200;  // recursion guard for absurdly nested trees
constexpr size_t kMaxSignatureChars = 200;
constexpr size_t kMaxMembersChars = 300;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

using text::squash;
using text::trim;

// ---- lines ---------------------------------------------------------------------------------

class Lines {
 public:
  explicit Lines(std::string_view t) : text_(t) {
    if (t.empty()) return;
    starts_.push_back(0);
    for (size_t i = 0; i < t.size(); ++i)
      if (t[i] == '\n' && i + 1 < t.size()) starts_.push_back(i + 1);
  }
  int count() const { return static_cast<int>(starts_.size()); }
  // Row i (0-based) without its '\n'.
  std::string_view line(int i) const {
    const size_t b = starts_[i];
    size_t e = i + 1 < count() ? starts_[i + 1] - 1 : text_.size();
    if (i + 1 >= count() && e > b && text_[e - 1] == '\n') --e;
    return text_.substr(b, e - b);
  }
  // Rows [s, e] (0-based, inclusive) without the final '\n'.
  std::string_view range(int s, int e) const {
    const size_t b = starts_[s];
    size_t end = e + 1 < count() ? starts_[e + 1] - 1 : text_.size();
    if (e + 1 >= count() && end > b && text_[end - 1] == '\n') --end;
    return text_.substr(b, end - b);
  }

 private:
  std::string_view text_;
  std::vector<size_t> starts_;
};

bool blank(std::string_view l) {
  return trim(l).empty();
}

// A line with some letter or digit that is not just a closing keyword. Any non-ASCII character
// counts as a letter: code and prose written in other scripts (identifiers like 変数) must not
// leave a file without chunks.
bool meaningful(std::string_view l) {
  l = trim(l);
  if (l == "end" || l == "fi" || l == "done" || l == "esac") return false;
  for (char c : l)
    if (std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80)
      return true;
  return false;
}

// ---- languages ------------------------------------------------------------------------------

enum class Lang {
  Unknown,
  Python,
  JavaScript,
  TypeScript,
  Tsx,
  Go,
  Rust,
  Java,
  C,
  Cpp,
  Ruby,
  Bash,
  Kotlin,
  Swift,
  Scala,
  CSharp,
  Php,
  Hcl,
  // Documents and data: sections, top-level keys, tables, elements.
  Markdown,
  Json,
  Yaml,  // no grammar: yaml_keys.cpp scans the top-level keys
  Toml,
  Xml
};

Lang lang_of(std::string_view name) {
  static const std::pair<const char*, Lang> kNames[] = {
      {"python", Lang::Python},
      {"javascript", Lang::JavaScript},
      {"typescript", Lang::TypeScript},
      {"tsx", Lang::Tsx},
      {"go", Lang::Go},
      {"rust", Lang::Rust},
      {"java", Lang::Java},
      {"c", Lang::C},
      {"cpp", Lang::Cpp},
      {"ruby", Lang::Ruby},
      {"bash", Lang::Bash},
      {"kotlin", Lang::Kotlin},
      {"swift", Lang::Swift},
      {"scala", Lang::Scala},
      {"csharp", Lang::CSharp},
      {"php", Lang::Php},
      {"hcl", Lang::Hcl},
      {"markdown", Lang::Markdown},
      {"json", Lang::Json},
      {"yaml", Lang::Yaml},
      {"toml", Lang::Toml},
      {"xml", Lang::Xml},
  };
  for (const auto& [n, l] : kNames)
    if (name == n) return l;
  return Lang::Unknown;
}

bool hash_comments(Lang l) {
  return l == Lang::Python || l == Lang::Ruby || l == Lang::Bash || l == Lang::Toml ||
         l == Lang::Yaml;
}

// Markup and data: no doc comments climbed in the C family's way ("* item" is a list bullet).
bool is_document(Lang l) {
  return l == Lang::Markdown || l == Lang::Json || l == Lang::Xml;
}

// Does a C header look like C++? (.h is shared by both; the C grammar chokes on classes.)
bool looks_like_cpp(std::string_view s) {
  for (const char* marker : {"class ", "namespace ", "template<", "template <",
                             "public:", "private:", "protected:", "std::", "virtual ", "operator"})
    if (s.find(marker) != std::string_view::npos) return true;
  return false;
}

// ---- pieces: what becomes a chunk before token fitting ---------------------------------------

struct Piece {
  int start = 0, end = 0;  // rows, 0-based inclusive
  std::string symbol, kind, scope;
  std::string signature;  // shown in the header of windows that do not start at sig_row
  int sig_row = -1;
  int sig_col = 0;          // byte column of the definition's node on sig_row (Chunk::sig_col)
  std::string members;      // container header chunks: names of nested definitions
  mutable int emitted = 0;  // chunks emitted for it so far (Chunk::continued)
  int def_end = -1;         // last row of the whole definition (Chunk::def_end_line)
};

struct Ctx {
  std::string_view path;
  std::string language;
  const Lines* lines;
  const ChunkOptions* opts;
  std::vector<Chunk>* out;
  // Rows longer than kMaxChunkBytes already emitted as byte windows: several definitions on
  // one minified line would otherwise each repeat all of its windows.
  std::vector<char>* long_rows_done = nullptr;
};

std::string make_header(const Ctx& c, const std::string& scope, const std::string& signature,
                        const std::string& members) {
  std::string h = "// path: ";
  // File names are bytes: the header (tokenized, embedded) shows a name that is not UTF-8
  // with U+FFFD in place of the bad bytes; Chunk::path keeps the bytes.
  if (text::valid_utf8(c.path))
    h.append(c.path);
  else
    h += text::sanitize_utf8(c.path);
  h.push_back('\n');
  if (!scope.empty()) h += "// scope: " + scope + "\n";
  if (!signature.empty()) h += "// signature: " + signature + "\n";
  if (!members.empty()) h += "// members: " + members + "\n";
  return h;
}

size_t token_budget(const ChunkOptions& o) {
  return std::max<size_t>(o.max_tokens, 8);
}

size_t count_tokens(const Tokenizer& tok, std::string_view s, bool specials) {
  return tok.count_tokens(s, specials);
}

// Pushes one chunk. may_overflow: the caller could not make it fit by choosing lines (a single
// line longer than the budget), so embed_text is cut to the longest prefix that fits.
void push_chunk(const Ctx& c, const Piece& p, int s, int e, std::string header, std::string content,
                bool may_overflow, std::vector<int32_t> ids = {}) {
  Chunk ch;
  ch.path = std::string(c.path);
  ch.start_line = s + 1;
  ch.end_line = e + 1;
  ch.symbol = p.symbol;
  ch.kind = p.kind;
  ch.continued = p.kind != "window" && p.emitted++ > 0;
  ch.def_end_line = p.def_end >= 0 ? p.def_end + 1 : 0;
  if (p.sig_row >= 0) {  // a definition's piece (windows have none)
    ch.sig_line = p.sig_row + 1;
    ch.sig_col = p.sig_col;
  }
  ch.language = c.language;
  ch.embed_text = std::move(header);
  ch.embed_text += content;
  ch.content = std::move(content);
  const Tokenizer* tok = c.opts->tokenizer;
  const size_t budget = token_budget(*c.opts);
  if (tok && may_overflow && count_tokens(*tok, ch.embed_text, true) > budget) {
    // Binary search over code-point boundaries for the longest prefix within the budget.
    const std::string& full = ch.embed_text;
    std::vector<size_t> cuts;
    for (size_t i = 1; i <= full.size(); ++i)
      if (i == full.size() || (static_cast<unsigned char>(full[i]) & 0xC0) != 0x80)
        cuts.push_back(i);
    size_t lo = 0, hi = cuts.size();  // answer: number of leading code points kept
    while (lo < hi) {
      const size_t mid = lo + (hi - lo + 1) / 2;
      if (count_tokens(*tok, std::string_view(full).substr(0, cuts[mid - 1]), true) <= budget)
        lo = mid;
      else
        hi = mid - 1;
    }
    ch.embed_text.resize(lo == 0 ? 0 : cuts[lo - 1]);
  }
  if (!ids.empty()) {
    ch.ids = std::move(ids);
  } else if (c.opts->encode) {
    // A failure here must not change the cut (chunk_file falls back to windows on tokenizer
    // errors): leave ids empty, and the caller's own tokenization reports the problem.
    try {
      ch.ids = c.opts->encode(ch.embed_text.empty() ? ch.content : ch.embed_text);
    } catch (const std::exception&) {
      ch.ids.clear();
    }
  }
  c.out->push_back(std::move(ch));
}

std::string header_for(const Ctx& c, const Piece& p, int window_start) {
  const bool sig = !p.signature.empty() && window_start != p.sig_row;
  return make_header(c, p.scope, sig ? p.signature : std::string(), p.members);
}

// Splits [s, e] into windows whose embed_text fits the token budget.
void emit_token_windows(const Ctx& c, const Piece& p, int s, int e) {
  const Tokenizer& tok = *c.opts->tokenizer;
  const size_t budget = token_budget(*c.opts);
  const Lines& L = *c.lines;
  std::vector<size_t> per_line(static_cast<size_t>(e - s + 1));
  for (int r = s; r <= e; ++r) {
    std::string l(L.line(r));
    l.push_back('\n');
    per_line[r - s] = count_tokens(tok, l, false);
  }
  int start = s;
  while (start <= e) {
    const std::string hdr = header_for(c, p, start);
    const size_t base = count_tokens(tok, hdr, true);
    int end = start;
    size_t used = base + per_line[0 + start - s];
    while (end < e && used + per_line[end + 1 - s] <= budget) {
      ++end;
      used += per_line[end - s];
    }
    // Per-line sums are exact for WordPiece; verify (BPE merges can differ) and shrink.
    std::string content(L.range(start, end));
    while (end > start && count_tokens(tok, hdr + content, true) > budget) {
      --end;
      content = std::string(L.range(start, end));
    }
    push_chunk(c, p, start, end, hdr, std::move(content), end == start);
    if (end >= e) break;
    const int len = end - start + 1;
    const int overlap = std::min<int>(static_cast<int>(c.opts->overlap_lines), len / 4);
    start = std::max(start + 1, end + 1 - overlap);
  }
}

bool word_byte(char ch) {
  const auto u = static_cast<unsigned char>(ch);
  return std::isalnum(u) || u == '_' || u >= 0x80;
}

// One line longer than kMaxChunkBytes (minified code, data on one line): consecutive byte
// windows of at most kMaxChunkBytes that cover it, each cut after a non-word byte when one lies
// within kWordCutSearch bytes of the cap (so keyword search sees whole words), else on a code
// point boundary. Each window is a chunk of that one line; embed_text is cut to the budget.
void emit_line_windows(const Ctx& c, const Piece& p, int row) {
  if (c.long_rows_done != nullptr) {
    if ((*c.long_rows_done)[row]) return;
    (*c.long_rows_done)[row] = 1;
  }
  const std::string_view line = c.lines->line(row);
  const std::string hdr = header_for(c, p, row);
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.size();
    if (end - pos > kMaxChunkBytes) {
      end = pos + text::utf8_floor(line.substr(pos), kMaxChunkBytes);
      for (size_t k = end; k > pos + 1 && k + kWordCutSearch > end; --k) {
        if (!word_byte(line[k - 1])) {
          end = k;
          break;
        }
      }
    }
    push_chunk(c, p, row, row, hdr, std::string(line.substr(pos, end - pos)), true);
    pos = end;
  }
}

void emit_fitted(const Ctx& c, const Piece& p, int s, int e);

// Rows [s, e] longer than kMaxChunkBytes: groups of whole lines within the cap; a line longer
// than the cap on its own becomes byte windows. Groups of blank lines only are dropped.
void emit_byte_bounded(const Ctx& c, const Piece& p, int s, int e) {
  if (s == e) {
    emit_line_windows(c, p, s);
    return;
  }
  int gs = s;
  size_t bytes = 0;
  bool any = false;
  auto flush = [&](int ge) {
    if (any) emit_fitted(c, p, gs, ge);
  };
  for (int r = s; r <= e; ++r) {
    const std::string_view l = c.lines->line(r);
    const size_t len = l.size() + (r > gs ? 1 : 0);  // '\n' joins lines within a group
    if (r > gs && bytes + len > kMaxChunkBytes) {
      flush(r - 1);
      gs = r;
      bytes = l.size();
      any = !blank(l);
      continue;
    }
    bytes += len;
    any = any || !blank(l);
  }
  flush(e);
}

// Emits rows [s, e] of a piece as one chunk if it fits, else as token-sized windows; more than
// kMaxChunkBytes go through emit_byte_bounded first.
void emit_fitted(const Ctx& c, const Piece& p, int s, int e) {
  if (c.lines->range(s, e).size() > kMaxChunkBytes) {
    emit_byte_bounded(c, p, s, e);
    return;
  }
  std::string hdr = header_for(c, p, s);
  std::string content(c.lines->range(s, e));
  const Tokenizer* tok = c.opts->tokenizer;
  if (tok && c.opts->encode_is_plain && !hdr.empty()) {
    // The ids counted here are the ids the embedder runs (no prompt, within max_seq): keep them.
    Encoding enc = tok->encode(hdr + content, /*add_special=*/true);
    if (enc.ids.size() <= token_budget(*c.opts)) {
      bool plain = enc.ids.size() <= c.opts->max_tokens;
      for (int32_t t : enc.type_ids) plain = plain && t == 0;
      push_chunk(c, p, s, e, std::move(hdr), std::move(content), false,
                 plain ? std::move(enc.ids) : std::vector<int32_t>{});
      return;
    }
  } else if (!tok || count_tokens(*tok, hdr + content, true) <= token_budget(*c.opts)) {
    push_chunk(c, p, s, e, std::move(hdr), std::move(content), false);
    return;
  }
  if (s == e) {
    push_chunk(c, p, s, e, std::move(hdr), std::move(content), true);
    return;
  }
  emit_token_windows(c, p, s, e);
}

// Line windows of window_lines with overlap_lines over [s, e]; all-blank windows are dropped.
void emit_piece(const Ctx& c, const Piece& p) {
  const int len = p.end - p.start + 1;
  if (len <= 0) return;
  const int max_lines = static_cast<int>(std::max<size_t>(c.opts->max_chunk_lines, 1));
  if (len <= max_lines) {
    emit_fitted(c, p, p.start, p.end);
    return;
  }
  const int win = static_cast<int>(std::max<size_t>(c.opts->window_lines, 1));
  const int ov = std::min<int>(static_cast<int>(c.opts->overlap_lines), win - 1);
  for (int s = p.start;; s += win - ov) {
    const int e = std::min(s + win - 1, p.end);
    bool any = false;
    for (int r = s; r <= e && !any; ++r) any = !blank(c.lines->line(r));
    if (any) emit_fitted(c, p, s, e);
    if (e >= p.end) break;
  }
}

void emit_text_windows(const Ctx& c, int s, int e, const std::string& scope) {
  Piece p;
  p.start = s;
  p.end = e;
  p.kind = "window";
  p.scope = scope;
  const int win = static_cast<int>(std::max<size_t>(c.opts->window_lines, 1));
  const int ov = std::min<int>(static_cast<int>(c.opts->overlap_lines), win - 1);
  for (int st = s;; st += win - ov) {
    const int en = std::min(st + win - 1, e);
    bool any = false;
    for (int r = st; r <= en && !any; ++r) any = !blank(c.lines->line(r));
    if (any) emit_fitted(c, p, st, en);
    if (en >= e) break;
  }
}

// ---- definitions -> chunks ---------------------------------------------------------------

struct Def {
  int start = 0, end = 0;  // rows
  int sig_row = 0, sig_col = 0;
  std::string kind, name, scope, signature;
  bool container = false;
  int parent = -1;
  std::vector<int> children;
};

// Turns the definitions into pieces (plus gap windows) and emits them.
// small_gaps: keep uncovered stretches of any size (prose before a document's first heading,
// comments between configuration keys), not only those of kMinGapLines meaningful lines.
void emit_from_defs(const Ctx& c, std::vector<Def>& defs, bool small_gaps) {
  const Lines& L = *c.lines;
  const int n = L.count();
  std::vector<Piece> pieces;
  std::vector<char> covered(static_cast<size_t>(n), 0);
  auto cover = [&](int s, int e) {
    for (int r = std::max(s, 0); r <= e && r < n; ++r) covered[r] = 1;
  };
  for (const Def& d : defs) {
    Piece p;
    p.symbol = d.scope;
    p.scope = d.scope;
    p.kind = d.kind;
    p.signature = d.signature;
    p.sig_row = d.sig_row;
    p.sig_col = d.sig_col;
    p.start = d.start;
    p.def_end = d.end;
    if (d.container && !d.children.empty()) {
      int first = d.end + 1;
      std::string members;
      for (int ci : d.children) {
        first = std::min(first, defs[ci].start);
        const std::string& nm = defs[ci].name;
        if (members.size() + nm.size() + 2 > kMaxMembersChars) {
          members += ", ...";
          break;
        }
        if (!members.empty()) members += ", ";
        members += nm;
      }
      if (first <= d.start && !c.opts->every_definition)
        continue;  // a child starts on the header line: its chunk has the header's text
      p.end = std::max(first - 1, d.start);
      // Trailing blank lines belong to nobody.
      while (p.end > p.start && blank(L.line(p.end))) --p.end;
      p.members = std::move(members);
    } else {
      p.end = d.end;
    }
    if (p.end >= n) p.end = n - 1;
    while (p.end > p.start && blank(L.line(p.end))) --p.end;
    p.def_end = std::max(p.end, std::min(p.def_end, n - 1));
    while (p.def_end > p.end && blank(L.line(p.def_end))) --p.def_end;
    if (p.start > p.end) continue;
    cover(p.start, p.end);
    pieces.push_back(std::move(p));
  }

  // Owner of each row: innermost container (defs are in pre-order, so children overwrite).
  std::vector<int> owner(static_cast<size_t>(n), -1);
  for (size_t i = 0; i < defs.size(); ++i) {
    if (!defs[i].container) continue;
    for (int r = std::max(defs[i].start, 0); r <= defs[i].end && r < n; ++r)
      owner[r] = static_cast<int>(i);
  }
  const int min_gap = defs.empty() || small_gaps ? 1 : kMinGapLines;
  for (int r = 0; r < n;) {
    if (covered[r]) {
      ++r;
      continue;
    }
    int e = r;
    while (e + 1 < n && !covered[e + 1] && owner[e + 1] == owner[r]) ++e;
    int s = r;
    r = e + 1;
    while (s <= e && blank(L.line(s))) ++s;
    while (e >= s && blank(L.line(e))) --e;
    if (s > e) continue;
    int m = 0;
    for (int k = s; k <= e && m < min_gap; ++k) m += meaningful(L.line(k)) ? 1 : 0;
    if (m < min_gap) continue;
    Piece p;
    p.start = s;
    p.end = e;
    p.kind = "window";
    p.scope = owner[s] >= 0 ? defs[owner[s]].scope : std::string();
    pieces.push_back(std::move(p));
  }

  std::stable_sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    return a.start != b.start ? a.start < b.start : a.end < b.end;
  });
  for (const Piece& p : pieces) {
    if (p.kind == "window")
      emit_text_windows(c, p.start, p.end, p.scope);
    else
      emit_piece(c, p);
  }
}

// YAML: the top-level keys (yaml_keys.cpp) are the definitions; everything else is windows.
void chunk_yaml(const Ctx& c) {
  std::vector<std::string_view> rows;
  rows.reserve(static_cast<size_t>(c.lines->count()));
  for (int r = 0; r < c.lines->count(); ++r) rows.push_back(c.lines->line(r));
  std::vector<Def> defs;
  for (yaml::TopKey& k : yaml::top_level_keys(rows)) {
    Def d;
    d.start = k.start;
    d.end = k.end;
    d.sig_row = k.key_row;
    d.kind = "key";
    d.name = k.name.empty() ? "(anonymous)" : std::move(k.name);
    d.scope = d.name;
    d.signature = squash(rows[static_cast<size_t>(k.key_row)], kMaxSignatureChars);
    defs.push_back(std::move(d));
  }
  emit_from_defs(c, defs, /*small_gaps=*/true);
}

#ifdef RIPVEC_HAVE_TREESITTER

// ---- tree-sitter helpers --------------------------------------------------------------------

std::string_view type_of(TSNode n) {
  return ts_node_type(n);
}

TSNode field(TSNode n, const char* name) {
  return ts_node_child_by_field_name(n, name, static_cast<uint32_t>(std::strlen(name)));
}

bool null(TSNode n) {
  return ts_node_is_null(n);
}

// Last row a node occupies (a node ending at column 0 ends on the row before).
int last_row(TSNode n) {
  const TSPoint s = ts_node_start_point(n), e = ts_node_end_point(n);
  if (e.column == 0 && e.row > s.row) return static_cast<int>(e.row) - 1;
  return static_cast<int>(e.row);
}

int first_row(TSNode n) {
  return static_cast<int>(ts_node_start_point(n).row);
}

template <typename F>
void for_each_named_child(TSNode n, F&& fn) {
  TSTreeCursor cur = ts_tree_cursor_new(n);
  if (ts_tree_cursor_goto_first_child(&cur)) {
    do {
      TSNode ch = ts_tree_cursor_current_node(&cur);
      if (ts_node_is_named(ch)) fn(ch);
    } while (ts_tree_cursor_goto_next_sibling(&cur));
  }
  ts_tree_cursor_delete(&cur);
}

// First named child whose type is one of types (grammars without field names: Kotlin).
TSNode child_of_type(TSNode n, std::initializer_list<std::string_view> types) {
  TSNode found{};
  bool have = false;
  for_each_named_child(n, [&](TSNode ch) {
    if (have) return;
    const std::string_view t = type_of(ch);
    for (std::string_view want : types)
      if (t == want) {
        found = ch;
        have = true;
        return;
      }
  });
  return found;
}

// Does n have an anonymous child token of this type ("interface" in "interface Foo {...}")?
bool has_token(TSNode n, std::string_view tok) {
  const uint32_t k = ts_node_child_count(n);
  for (uint32_t i = 0; i < k; ++i) {
    TSNode ch = ts_node_child(n, i);
    if (!ts_node_is_named(ch) && type_of(ch) == tok) return true;
  }
  return false;
}

bool parent_is(TSNode n, std::string_view type) {
  TSNode p = ts_node_parent(n);
  return !null(p) && type_of(p) == type;
}

struct DefInfo {
  std::string kind, name;
  bool container = false;
  TSNode range{};  // the node whose rows the chunk spans (export/template/decorator wrapper)
  TSNode inner{};  // the definition itself (signature is taken from it)
  TSNode body{};   // where nested definitions are searched (containers)
};

class TreeChunker {
 public:
  TreeChunker(Lang lang, std::string_view src, const Lines& lines)
      : lang_(lang), src_(src), lines_(lines) {}

  void collect(TSNode root) { visit(root, -1, 0); }
  std::vector<Def>& defs() { return defs_; }

 private:
  std::string_view text(TSNode n) const {
    const uint32_t b = ts_node_start_byte(n), e = ts_node_end_byte(n);
    if (b >= src_.size() || e <= b) return {};
    return src_.substr(b, std::min<size_t>(e, src_.size()) - b);
  }

  // "ns::Foo::bar" -> "ns.Foo.bar"; generic arguments dropped ("Foo<T>" -> "Foo").
  static std::string clean_name(std::string_view s) {
    std::string out;
    int angle = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const char ch = s[i];
      if (ch == '<') {
        ++angle;
        continue;
      }
      if (ch == '>' && angle > 0) {
        --angle;
        continue;
      }
      if (angle > 0) continue;
      if (ch == ':' && i + 1 < s.size() && s[i + 1] == ':') {
        if (!out.empty()) out.push_back('.');
        ++i;
        continue;
      }
      if (std::isspace(static_cast<unsigned char>(ch))) continue;
      out.push_back(ch);
    }
    return out.size() > 120 ? out.substr(0, text::utf8_floor(out, 120)) : out;
  }

  std::string name_field(TSNode n, const char* f = "name") const {
    TSNode x = field(n, f);
    return null(x) ? std::string() : clean_name(text(x));
  }

  // C/C++: the declared name inside a (possibly nested) declarator.
  std::string declarator_name(TSNode n) const {
    for (int guard = 0; guard < 16 && !null(n); ++guard) {
      const std::string_view t = type_of(n);
      if (t == "identifier" || t == "field_identifier" || t == "qualified_identifier" ||
          t == "destructor_name" || t == "operator_name" || t == "type_identifier" ||
          t == "template_function" || t == "operator_cast")
        return clean_name(text(n));
      TSNode d = field(n, "declarator");
      if (null(d)) {
        // reference_declarator and friends: the declarator is the last named child.
        const uint32_t k = ts_node_named_child_count(n);
        if (k == 0) break;
        d = ts_node_named_child(n, k - 1);
      }
      n = d;
    }
    return {};
  }

  static bool is_type_container(const Def* enc) {
    return enc && enc->container && enc->kind != "namespace" && enc->kind != "module" &&
           !is_function_kind(enc->kind);
  }
  static bool is_function_kind(std::string_view kind) {
    return kind == "function" || kind == "method";
  }
  // JS/TS node types of a function value (`x = () => ...`, `{ k: function () {...} }`).
  static bool is_js_function_value(std::string_view t) {
    return t == "arrow_function" || t == "function_expression" || t == "function" ||
           t == "generator_function";
  }

  std::optional<DefInfo> classify(TSNode n, const Def* enc) const {
    const std::string_view t = type_of(n);
    DefInfo d;
    d.range = n;
    d.inner = n;
    switch (lang_) {
      case Lang::Python:
        if (t == "decorated_definition") {
          TSNode inner = field(n, "definition");
          if (null(inner)) return std::nullopt;
          auto r = classify(inner, enc);
          if (r) r->range = n;
          return r;
        }
        if (t == "function_definition") {
          d.kind = is_type_container(enc) ? "method" : "function";
          d.name = name_field(n);
          return d;
        }
        if (t == "class_definition") {
          d.kind = "class";
          d.container = true;
          d.name = name_field(n);
          d.body = field(n, "body");
          return d;
        }
        return std::nullopt;

      case Lang::JavaScript:
      case Lang::TypeScript:
      case Lang::Tsx:
        if (t == "export_statement") {
          TSNode decl = field(n, "declaration");
          if (null(decl)) {
            TSNode v = field(n, "value");  // export default <expression>
            if (null(v)) return std::nullopt;
            const std::string_view vt = type_of(v);
            if (is_js_function_value(vt)) {
              d.kind = "function";
              d.name = "default";
              d.inner = v;
              return d;
            }
            if (vt == "class") {
              d.kind = "class";
              d.container = true;
              d.name = "default";
              d.inner = v;
              d.body = field(v, "body");
              return d;
            }
            return std::nullopt;
          }
          auto r = classify(decl, enc);
          if (r) r->range = n;
          return r;
        }
        if (t == "function_declaration" || t == "generator_function_declaration") {
          d.kind = "function";
          d.name = name_field(n);
          return d;
        }
        if (t == "class_declaration" || t == "abstract_class_declaration") {
          d.kind = "class";
          d.container = true;
          d.name = name_field(n);
          d.body = field(n, "body");
          return d;
        }
        if (t == "method_definition") {
          d.kind = "method";
          d.name = name_field(n);
          return d;
        }
        if (t == "field_definition" || t == "public_field_definition") {
          TSNode v = field(n, "value");
          if (null(v)) return std::nullopt;
          const std::string_view vt = type_of(v);
          if (vt != "arrow_function" && vt != "function_expression" && vt != "function")
            return std::nullopt;
          d.kind = "method";
          d.name = name_field(n, t == "field_definition" ? "property" : "name");
          return d;
        }
        // `request.onerror = function handleError() {...}`, `{ toJSON: function () {...} }`:
        // named by the assigned target / the key.
        if (t == "assignment_expression" || t == "pair") {
          TSNode v = field(n, "right");
          TSNode k = field(n, "left");
          if (t == "pair") {
            v = field(n, "value");
            k = field(n, "key");
          }
          if (null(v) || null(k)) return std::nullopt;
          if (!is_js_function_value(type_of(v))) return std::nullopt;
          d.kind = "function";
          d.name = squash(text(k), kMaxSignatureChars);
          return d;
        }
        if (t == "lexical_declaration" || t == "variable_declaration") {
          std::optional<DefInfo> found;
          for_each_named_child(n, [&](TSNode decl) {
            if (found || type_of(decl) != "variable_declarator") return;
            TSNode v = field(decl, "value");
            if (null(v)) return;
            const std::string_view vt = type_of(v);
            DefInfo r;
            r.range = n;
            r.inner = n;
            r.name = name_field(decl);
            if (is_js_function_value(vt)) {
              r.kind = "function";
              found = r;
            } else if (vt == "class") {
              r.kind = "class";
              r.container = true;
              r.body = field(v, "body");
              found = r;
            }
          });
          return found;
        }
        if (t == "interface_declaration") {
          d.kind = "interface";
          d.name = name_field(n);
          return d;
        }
        if (t == "type_alias_declaration") {
          d.kind = "type";
          d.name = name_field(n);
          return d;
        }
        if (t == "enum_declaration") {
          d.kind = "enum";
          d.name = name_field(n);
          return d;
        }
        if (t == "internal_module" || t == "module") {
          d.kind = "namespace";
          d.container = true;
          d.name = name_field(n);
          d.body = field(n, "body");
          if (null(d.body)) return std::nullopt;
          return d;
        }
        return std::nullopt;

      case Lang::Go:
        if (t == "function_declaration") {
          d.kind = "function";
          d.name = name_field(n);
          return d;
        }
        if (t == "method_declaration") {
          d.kind = "method";
          std::string recv;
          TSNode rl = field(n, "receiver");
          if (!null(rl)) {
            for_each_named_child(rl, [&](TSNode param) {
              if (!recv.empty() || type_of(param) != "parameter_declaration") return;
              TSNode ty = field(param, "type");
              for (int g = 0; g < 4 && !null(ty); ++g) {
                const std::string_view tt = type_of(ty);
                if (tt == "pointer_type" || tt == "parenthesized_type") {
                  ty = ts_node_named_child(ty, 0);
                } else if (tt == "generic_type") {
                  ty = field(ty, "type");
                } else {
                  break;
                }
              }
              if (!null(ty)) recv = clean_name(text(ty));
            });
          }
          d.name = recv.empty() ? name_field(n) : recv + "." + name_field(n);
          return d;
        }
        if (t == "type_declaration") {
          std::optional<DefInfo> found;
          for_each_named_child(n, [&](TSNode spec) {
            const std::string_view st = type_of(spec);
            if (found || (st != "type_spec" && st != "type_alias")) return;
            DefInfo r = d;
            r.name = name_field(spec);
            TSNode ty = field(spec, "type");
            const std::string_view tt = null(ty) ? std::string_view() : type_of(ty);
            r.kind = tt == "struct_type" ? "struct" : tt == "interface_type" ? "interface" : "type";
            found = r;
          });
          return found;
        }
        return std::nullopt;

      case Lang::Rust:
        if (t == "function_item") {
          d.kind = enc && (enc->kind == "impl" || enc->kind == "trait") ? "method" : "function";
          d.name = name_field(n);
          return d;
        }
        if (t == "struct_item" || t == "enum_item" || t == "union_item" || t == "type_item" ||
            t == "macro_definition") {
          d.kind = t == "struct_item"  ? "struct"
                   : t == "enum_item"  ? "enum"
                   : t == "union_item" ? "union"
                   : t == "type_item"  ? "type"
                                       : "macro";
          d.name = name_field(n);
          return d;
        }
        if (t == "trait_item" || t == "impl_item" || t == "mod_item") {
          d.body = field(n, "body");
          if (null(d.body)) return std::nullopt;  // "mod foo;"
          d.container = true;
          d.kind = t == "trait_item" ? "trait" : t == "impl_item" ? "impl" : "module";
          d.name = t == "impl_item" ? name_field(n, "type") : name_field(n);
          return d;
        }
        return std::nullopt;

      case Lang::Java:
        if (t == "class_declaration" || t == "interface_declaration" || t == "enum_declaration" ||
            t == "record_declaration" || t == "annotation_type_declaration") {
          d.kind = t == "class_declaration"       ? "class"
                   : t == "interface_declaration" ? "interface"
                   : t == "enum_declaration"      ? "enum"
                   : t == "record_declaration"    ? "record"
                                                  : "annotation";
          d.container = true;
          d.name = name_field(n);
          d.body = field(n, "body");
          return d;
        }
        if (t == "method_declaration") {
          if (null(field(n, "body"))) return std::nullopt;  // abstract: part of its type
          d.kind = "method";
          d.name = name_field(n);
          return d;
        }
        if (t == "constructor_declaration" || t == "compact_constructor_declaration") {
          d.kind = "constructor";
          d.name = name_field(n);
          return d;
        }
        return std::nullopt;

      case Lang::C:
      case Lang::Cpp: {
        if (t == "function_definition") {
          d.kind = is_type_container(enc) ? "method" : "function";
          d.name = declarator_name(field(n, "declarator"));
          if (d.name.empty()) return std::nullopt;  // e.g. a macro-confused parse
          return d;
        }
        if (lang_ == Lang::Cpp && t == "template_declaration") {
          std::optional<DefInfo> found;
          for_each_named_child(n, [&](TSNode ch) {
            if (found || type_of(ch) == "template_parameter_list") return;
            auto r = classify(ch, enc);
            if (r) {
              r->range = n;
              found = r;
            }
          });
          return found;
        }
        if (t == "type_definition" || t == "declaration" || t == "field_declaration") {
          TSNode ty = field(n, "type");
          if (null(ty)) return std::nullopt;
          auto r = classify(ty, enc);
          if (!r) return std::nullopt;
          if (t == "type_definition" || r->name.empty()) {
            const std::string alias = declarator_name(field(n, "declarator"));
            if (!alias.empty()) r->name = alias;
          }
          r->range = n;
          return r;
        }
        if (t == "struct_specifier" || t == "union_specifier" || t == "enum_specifier" ||
            t == "class_specifier") {
          d.body = field(n, "body");
          if (null(d.body)) return std::nullopt;  // a use, not a definition
          d.kind = t == "struct_specifier"  ? "struct"
                   : t == "union_specifier" ? "union"
                   : t == "enum_specifier"  ? "enum"
                                            : "class";
          d.container = lang_ == Lang::Cpp && (d.kind == "struct" || d.kind == "class");
          d.name = name_field(n);
          return d;
        }
        if (lang_ == Lang::Cpp && t == "namespace_definition") {
          d.body = field(n, "body");
          if (null(d.body)) return std::nullopt;
          d.kind = "namespace";
          d.container = true;
          d.name = name_field(n);
          return d;
        }
        return std::nullopt;
      }

      case Lang::Ruby:
        if (t == "method" || t == "singleton_method") {
          d.kind = enc ? "method" : "function";
          d.name = name_field(n);
          return d;
        }
        if (t == "class" || t == "module") {
          d.kind = std::string(t);
          d.container = true;
          d.name = name_field(n);
          d.body = field(n, "body");
          if (null(d.body)) d.body = n;
          return d;
        }
        return std::nullopt;

      case Lang::Bash:
        if (t == "function_definition") {
          d.kind = "function";
          d.name = name_field(n);
          return d;
        }
        return std::nullopt;

      case Lang::Kotlin:
        return classify_kotlin(n, t, enc, d);
      case Lang::Swift:
        return classify_swift(n, t, enc, d);
      case Lang::Scala:
        return classify_scala(n, t, enc, d);
      case Lang::CSharp:
        return classify_csharp(n, t, enc, d);
      case Lang::Php:
        return classify_php(n, t, enc, d);
      case Lang::Hcl:
      case Lang::Markdown:
      case Lang::Json:
      case Lang::Toml:
      case Lang::Xml:
        return classify_document(n, t, d);

      case Lang::Yaml:  // no grammar (yaml_keys.cpp)
      case Lang::Unknown:
        return std::nullopt;
    }
    return std::nullopt;
  }

  // Kotlin (fwcd grammar: no field names; the name is the first identifier child).
  std::optional<DefInfo> classify_kotlin(TSNode n, std::string_view t, const Def* enc,
                                         DefInfo d) const {
    if (t == "class_declaration" || t == "object_declaration" || t == "companion_object") {
      d.body = child_of_type(n, {"class_body", "enum_class_body"});
      d.kind = t != "class_declaration"                        ? "object"
               : has_token(n, "interface")                     ? "interface"
               : type_of_or_empty(d.body) == "enum_class_body" ? "enum"
                                                               : "class";
      TSNode name = child_of_type(n, {"type_identifier", "simple_identifier"});
      d.name = null(name) ? (t == "companion_object" ? "Companion" : "") : clean_name(text(name));
      d.container = !null(d.body);
      return d;
    }
    if (t == "function_declaration") {
      if (null(child_of_type(n, {"function_body"}))) return std::nullopt;  // abstract
      d.kind = is_type_container(enc) ? "method" : "function";
      TSNode name = child_of_type(n, {"simple_identifier"});
      d.name = null(name) ? "" : clean_name(text(name));
      return d;
    }
    if (t == "secondary_constructor") {
      d.kind = "constructor";
      d.name = "constructor";
      return d;
    }
    if (t == "type_alias") {
      d.kind = "type";
      TSNode name = child_of_type(n, {"type_identifier"});
      d.name = null(name) ? "" : clean_name(text(name));
      return d;
    }
    return std::nullopt;
  }

  // Grammars with "name" and "body" fields: one row per definition node.
  struct NodeRule {
    const char* type;
    const char* kind;  // nullptr: "method" inside a type, else "function"
    unsigned flags;
    const char* name = nullptr;  // fixed name ("init"); "~" prefixes the name field
  };
  static constexpr unsigned kContainer = 1;  // members get their own chunks
  static constexpr unsigned kNeedsBody = 2;  // without a body: a declaration, not a definition

  std::optional<DefInfo> classify_by_rules(TSNode n, std::string_view t, const Def* enc, DefInfo d,
                                           std::initializer_list<NodeRule> rules) const {
    for (const NodeRule& r : rules) {
      if (t != r.type) continue;
      d.body = field(n, "body");
      if ((r.flags & kNeedsBody) && null(d.body) &&
          null(child_of_type(n, {"arrow_expression_clause"})))
        return std::nullopt;  // abstract / interface member / "namespace Foo;": part of what holds
                              // it
      d.kind = r.kind ? r.kind : is_type_container(enc) ? "method" : "function";
      d.name = r.name == nullptr  ? name_field(n)
               : r.name[0] == '~' ? "~" + name_field(n)
                                  : std::string(r.name);
      d.container = (r.flags & kContainer) && !null(d.body);
      return d;
    }
    return std::nullopt;
  }

  std::optional<DefInfo> classify_swift(TSNode n, std::string_view t, const Def* enc,
                                        DefInfo d) const {
    if (t == "class_declaration") {  // class, struct, enum, extension, actor
      TSNode dk = field(n, "declaration_kind");
      const std::string_view k = null(dk) ? std::string_view() : text(dk);
      auto r = classify_by_rules(n, t, enc, d, {{"class_declaration", "class", kContainer}});
      if (r && (k == "struct" || k == "enum" || k == "extension")) r->kind = std::string(k);
      return r;
    }
    return classify_by_rules(n, t, enc, d,
                             {{"protocol_declaration", "interface", kContainer},
                              {"function_declaration", nullptr, 0},
                              {"init_declaration", "constructor", 0, "init"},
                              {"deinit_declaration", "method", 0, "deinit"},
                              {"subscript_declaration", "method", 0, "subscript"},
                              {"typealias_declaration", "type", 0}});
  }

  std::optional<DefInfo> classify_scala(TSNode n, std::string_view t, const Def* enc,
                                        DefInfo d) const {
    return classify_by_rules(n, t, enc, d,
                             {{"class_definition", "class", kContainer},
                              {"object_definition", "object", kContainer},
                              {"trait_definition", "trait", kContainer},
                              {"enum_definition", "enum", 0},
                              {"extension_definition", "extension", kContainer, "extension"},
                              {"function_definition", nullptr, 0},
                              {"type_definition", "type", 0}});
  }

  std::optional<DefInfo> classify_csharp(TSNode n, std::string_view t, const Def* enc,
                                         DefInfo d) const {
    return classify_by_rules(n, t, enc, d,
                             {{"namespace_declaration", "namespace", kContainer | kNeedsBody},
                              {"class_declaration", "class", kContainer},
                              {"struct_declaration", "struct", kContainer},
                              {"interface_declaration", "interface", kContainer},
                              {"record_declaration", "record", kContainer},
                              {"record_struct_declaration", "record", kContainer},
                              {"enum_declaration", "enum", 0},
                              {"method_declaration", nullptr, kNeedsBody},
                              {"operator_declaration", nullptr, kNeedsBody, "operator"},
                              {"conversion_operator_declaration", nullptr, kNeedsBody, "operator"},
                              {"destructor_declaration", nullptr, kNeedsBody, "~"},
                              {"constructor_declaration", "constructor", kNeedsBody},
                              {"delegate_declaration", "type", 0}});
  }

  std::optional<DefInfo> classify_php(TSNode n, std::string_view t, const Def* enc,
                                      DefInfo d) const {
    return classify_by_rules(n, t, enc, d,
                             {{"namespace_definition", "namespace", kContainer | kNeedsBody},
                              {"class_declaration", "class", kContainer},
                              {"interface_declaration", "interface", kContainer},
                              {"trait_declaration", "trait", kContainer},
                              {"enum_declaration", "enum", kContainer},
                              {"function_definition", "function", 0},
                              {"method_declaration", nullptr, kNeedsBody}});
  }

  // Configuration, data and documents: what a reader looks up by name.
  //  HCL: top-level blocks ("resource.aws_instance.web") and attributes;
  //  Markdown: sections by heading, nested by level; JSON: the root object's keys;
  //  TOML: tables and the top-level keys before them; XML: the root element and its children.
  std::optional<DefInfo> classify_document(TSNode n, std::string_view t, DefInfo d) const {
    switch (lang_) {
      case Lang::Hcl:
        if (t == "block" && parent_is(n, "body") && parent_is(ts_node_parent(n), "config_file")) {
          d.kind = "block";
          for_each_named_child(n, [&](TSNode ch) {
            const std::string_view ct = type_of(ch);
            if (ct != "identifier" && ct != "string_lit") return;
            std::string part(text(ch));
            if (ct == "string_lit" && part.size() >= 2) part = part.substr(1, part.size() - 2);
            if (!d.name.empty()) d.name += ".";
            d.name += clean_name(part);
          });
          return d;
        }
        if (t == "attribute" && parent_is(n, "body") &&
            parent_is(ts_node_parent(n), "config_file")) {
          d.kind = "key";
          TSNode name = child_of_type(n, {"identifier"});
          d.name = null(name) ? "" : clean_name(text(name));
          return d;
        }
        return std::nullopt;
      case Lang::Markdown: {
        if (t != "section") return std::nullopt;
        TSNode h = child_of_type(n, {"atx_heading", "setext_heading"});
        if (null(h)) return std::nullopt;  // text before the first heading
        TSNode content = field(h, "heading_content");
        d.kind = "section";
        d.name = null(content) ? "" : squash(text(content), kMaxSignatureChars);
        d.inner = h;
        d.range = n;
        d.body = n;
        d.container = true;
        return d;
      }
      case Lang::Json: {
        if (t != "pair" || !parent_is(n, "object") || !parent_is(ts_node_parent(n), "document"))
          return std::nullopt;
        d.kind = "key";
        d.name = unquote(field(n, "key"));
        return d;
      }
      case Lang::Toml:
        if (t == "table" || t == "table_array_element") {
          d.kind = "table";
          TSNode key = child_of_type(n, {"bare_key", "dotted_key", "quoted_key"});
          d.name = null(key) ? "" : std::string(text(key));
          return d;
        }
        if (t == "pair" && parent_is(n, "document")) {
          d.kind = "key";
          TSNode key = child_of_type(n, {"bare_key", "dotted_key", "quoted_key"});
          d.name = null(key) ? "" : std::string(text(key));
          return d;
        }
        return std::nullopt;
      case Lang::Xml: {
        if (t != "element") return std::nullopt;
        TSNode tag = child_of_type(n, {"STag", "EmptyElemTag"});
        TSNode name = null(tag) ? tag : child_of_type(tag, {"Name"});
        d.kind = "element";
        d.name = null(name) ? "" : std::string(text(name));
        d.inner = null(tag) ? n : tag;
        if (parent_is(n, "document")) {  // the root: its children get their own chunks
          d.container = true;
          d.body = child_of_type(n, {"content"});
        }
        return d;
      }
      default:
        return std::nullopt;
    }
  }

  static std::string_view type_of_or_empty(TSNode n) {
    return null(n) ? std::string_view() : type_of(n);
  }

  // A JSON string's text without its quotes (escapes kept as written).
  std::string unquote(TSNode n) const {
    if (null(n)) return {};
    std::string_view s = text(n);
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    return std::string(s.substr(0, text::utf8_floor(s, 120)));
  }

  // Signature: the definition's text up to its body, whitespace squashed.
  std::string signature_of(TSNode inner) const {
    TSNode body = field(inner, "body");
    const uint32_t b = ts_node_start_byte(inner);
    uint32_t e = ts_node_end_byte(inner);
    if (!null(body) && ts_node_start_byte(body) > b) {
      e = ts_node_start_byte(body);
    } else {
      const size_t nl = src_.find('\n', b);
      if (nl != std::string_view::npos && nl < e) e = static_cast<uint32_t>(nl);
    }
    std::string s = squash(src_.substr(b, e - b), kMaxSignatureChars);
    while (!s.empty() && (s.back() == '{' || s.back() == ':' || s.back() == ' ')) s.pop_back();
    return s;
  }

  // Is row r a comment / attribute / decorator line that documents the definition below it?
  bool is_doc_line(int r) const {
    const std::string_view l = trim(lines_.line(r));
    if (l.empty()) return false;
    if (hash_comments(lang_)) {
      if (lang_ == Lang::Python && l[0] == '@') return true;
      return l[0] == '#' && l.substr(0, 2) != "#!";
    }
    if (l.substr(0, 2) == "//" || l.substr(0, 2) == "/*" || l[0] == '*') return true;
    if (lang_ == Lang::Rust && l.substr(0, 2) == "#[") return true;
    if ((lang_ == Lang::Php || lang_ == Lang::Hcl) && l[0] == '#') return true;
    if ((lang_ == Lang::Java || lang_ == Lang::TypeScript || lang_ == Lang::Tsx ||
         lang_ == Lang::JavaScript || lang_ == Lang::Kotlin || lang_ == Lang::Swift ||
         lang_ == Lang::Scala) &&
        l[0] == '@')
      return true;
    if (lang_ == Lang::CSharp && l[0] == '[') return true;  // [Attribute]
    return false;
  }

  // Extends a definition's first row over the doc comments / attributes right above it, never
  // past floor (the last row owned by something before it).
  int extend_up(int start, int floor) const {
    if (is_document(lang_)) return start;
    int r = start;
    while (r - 1 > floor) {
      const std::string_view l = trim(lines_.line(r - 1));
      if (!hash_comments(lang_) && l.size() >= 2 && l.substr(l.size() - 2) == "*/" &&
          l.find("/*") == std::string_view::npos) {
        // A block comment: climb to its opening line.
        int k = r - 2;
        while (k > floor && lines_.line(k).find("/*") == std::string_view::npos) --k;
        if (k <= floor) break;
        r = k;
        continue;
      }
      if (!is_doc_line(r - 1)) break;
      --r;
    }
    return r;
  }

  void visit(TSNode node, int parent, int depth) {
    if (depth > kMaxDepth) return;
    const Def* enc = parent >= 0 ? &defs_[parent] : nullptr;
    // The last row used by an earlier sibling definition (doc-comment climbing stops there).
    int floor = parent >= 0 ? defs_[parent].sig_row : -1;
    for_each_named_child(node, [&](TSNode ch) {
      const std::string_view t = type_of(ch);
      // Comments, attributes and decorators attach to the definition below (extend_up).
      if (t == "comment" || t == "line_comment" || t == "block_comment" || t == "attribute_item" ||
          t == "decorator")
        return;
      std::optional<DefInfo> info = classify(ch, parent >= 0 ? &defs_[parent] : enc);
      if (!info) {
        visit(ch, parent, depth + 1);
        floor = std::max(floor, last_row(ch));
        return;
      }
      Def d;
      const int own_start = first_row(info->range);
      d.start = extend_up(own_start, floor);
      d.end = std::max(own_start, last_row(info->range));
      if (parent >= 0 && is_function_kind(defs_[parent].kind) &&
          d.end - d.start + 1 < kNestedMinLines) {
        floor = std::max(floor, d.end);  // a one-liner callback stays in its function's lines
        return;
      }
      // A leaf's node can swallow trailing blank lines (a Markdown section, a TOML table) and,
      // in TOML, the comments that introduce the next table: leave those to what follows.
      if (!info->container)
        while (d.end > own_start &&
               (blank(lines_.line(d.end)) ||
                (lang_ == Lang::Toml && trim(lines_.line(d.end)).starts_with("#"))))
          --d.end;
      d.sig_row = first_row(info->inner);
      d.sig_col = static_cast<int>(ts_node_start_point(info->inner).column);
      d.kind = info->kind;
      d.name = info->name.empty() ? "(anonymous)" : info->name;
      d.container = info->container;
      d.parent = parent;
      d.scope = parent >= 0 ? defs_[parent].scope + "." + d.name : d.name;
      d.signature = signature_of(info->inner);
      const int idx = static_cast<int>(defs_.size());
      defs_.push_back(std::move(d));
      if (parent >= 0) defs_[parent].children.push_back(idx);
      if (info->container) {
        TSNode body = null(info->body) ? info->inner : info->body;
        visit(body, idx, depth + 1);
      } else if (is_function_kind(defs_[idx].kind) &&
                 defs_[idx].end - defs_[idx].start + 1 >= kNestedSplitLines) {
        // A function too long for one chunk is cut anyway: cut it where its structure allows,
        // giving the functions defined inside it (handlers, callbacks, helpers) chunks of their
        // own; the rest of its lines become its header and windows, as for a class.
        visit(info->inner, idx, depth + 1);
        if (!defs_[idx].children.empty()) defs_[idx].container = true;
      }
      floor = std::max(floor, defs_[idx].end);
    });
  }

  Lang lang_;
  std::string_view src_;
  const Lines& lines_;
  std::vector<Def> defs_;
};

// Returns false when there is no usable tree (no grammar, timeout): the caller uses windows.
bool chunk_with_tree(const Ctx& c, Lang lang, std::string_view content) {
  TSTree* tree = ts::parse(c.language, content, kParseTimeoutMs);
  if (!tree) return false;
  std::unique_ptr<TSTree, void (*)(TSTree*)> guard(tree, ts_tree_delete);
  TreeChunker tc(lang, content, *c.lines);
  tc.collect(ts_tree_root_node(tree));
  emit_from_defs(c, tc.defs(), lang == Lang::Markdown || lang == Lang::Toml || lang == Lang::Hcl);
  return true;
}

#else

bool chunk_with_tree(const Ctx&, Lang, std::string_view) {
  return false;
}

#endif  // RIPVEC_HAVE_TREESITTER

}  // namespace

std::string detect_language(std::string_view rel_path) {
  const size_t slash = rel_path.rfind('/');
  const std::string_view name =
      slash == std::string_view::npos ? rel_path : rel_path.substr(slash + 1);
  if (name == "Rakefile" || name == "Gemfile" || name == "Guardfile" || name == "Vagrantfile" ||
      name == "Podfile" || name == "config.ru")
    return "ruby";
  if (name == "Cargo.lock" || name == "Pipfile" || name == "poetry.lock") return "toml";
  if (name == ".bashrc" || name == ".bash_profile" || name == ".profile" || name == ".zshrc" ||
      name == ".bash_aliases" || name == "PKGBUILD")
    return "bash";
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  const std::string ext = lower(name.substr(dot + 1));
  // Case matters for C++'s ".C"/".H" only.
  if (name.substr(dot + 1) == "C" || name.substr(dot + 1) == "H") return "cpp";
  static const std::pair<const char*, const char*> kExt[] = {
      {"py", "python"},
      {"pyi", "python"},
      {"pyw", "python"},
      {"js", "javascript"},
      {"mjs", "javascript"},
      {"cjs", "javascript"},
      {"jsx", "javascript"},
      {"ts", "typescript"},
      {"mts", "typescript"},
      {"cts", "typescript"},
      {"tsx", "tsx"},
      {"go", "go"},
      {"rs", "rust"},
      {"java", "java"},
      {"c", "c"},
      {"h", "c"},
      {"cc", "cpp"},
      {"cpp", "cpp"},
      {"cxx", "cpp"},
      {"c++", "cpp"},
      {"hpp", "cpp"},
      {"hh", "cpp"},
      {"hxx", "cpp"},
      {"h++", "cpp"},
      {"ipp", "cpp"},
      {"inl", "cpp"},
      {"tpp", "cpp"},
      {"ixx", "cpp"},
      {"cppm", "cpp"},
      {"cu", "cpp"},
      {"cuh", "cpp"},
      {"rb", "ruby"},
      {"rake", "ruby"},
      {"gemspec", "ruby"},
      {"ru", "ruby"},
      {"sh", "bash"},
      {"bash", "bash"},
      {"zsh", "bash"},
      {"ksh", "bash"},
      {"bats", "bash"},
      {"kt", "kotlin"},
      {"kts", "kotlin"},
      {"swift", "swift"},
      {"scala", "scala"},
      {"sc", "scala"},
      {"sbt", "scala"},
      {"cs", "csharp"},
      {"php", "php"},
      {"phtml", "php"},
      {"php3", "php"},
      {"php4", "php"},
      {"php5", "php"},
      {"tf", "hcl"},
      {"tfvars", "hcl"},
      {"hcl", "hcl"},
      {"nomad", "hcl"},
      {"md", "markdown"},
      {"markdown", "markdown"},
      {"mdown", "markdown"},
      {"mkd", "markdown"},
      {"mkdn", "markdown"},
      {"json", "json"},
      {"geojson", "json"},
      {"yaml", "yaml"},
      {"yml", "yaml"},
      {"toml", "toml"},
      {"xml", "xml"},
      {"xsd", "xml"},
      {"xsl", "xml"},
      {"xslt", "xml"},
      {"pom", "xml"},
      {"csproj", "xml"},
      {"vbproj", "xml"},
      {"fsproj", "xml"},
      {"props", "xml"},
      {"targets", "xml"},
      {"plist", "xml"},
      {"svg", "xml"},
      {"xaml", "xml"},
      {"wsdl", "xml"},
  };
  for (const auto& [e, lang] : kExt)
    if (ext == e) return lang;
  return "";
}

std::vector<std::string> supported_languages() {
  return ts::languages();
}

std::vector<Chunk> chunk_file(std::string_view rel_path, std::string_view content,
                              const ChunkOptions& opts) {
  std::vector<Chunk> out;
  // Invalid UTF-8 would make the tokenizer throw; chunk a repaired copy instead.
  std::string repaired;
  if (!text::valid_utf8(content)) {
    repaired = text::sanitize_utf8(content);
    content = repaired;
  }
  const Lines lines(content);
  if (lines.count() == 0) return out;

  std::string language = detect_language(rel_path);
  if (language == "c" && looks_like_cpp(content)) language = "cpp";
  std::vector<char> long_rows_done(static_cast<size_t>(lines.count()), 0);
  Ctx c{rel_path, language.empty() ? "text" : language, &lines, &opts, &out, &long_rows_done};
  auto restart = [&] {  // drop what a failed attempt emitted
    out.clear();
    std::fill(long_rows_done.begin(), long_rows_done.end(), 0);
  };
  const Lang lang = lang_of(language);
  bool done = false;
  if (lang != Lang::Unknown) {
    try {
      if (lang == Lang::Yaml) {
        chunk_yaml(c);
        done = true;
      } else {
        done = chunk_with_tree(c, lang, content);
      }
    } catch (const std::exception&) {
      restart();  // fall back to windows below; odd content must never abort indexing
      done = false;
    }
  }
  if (!done) {
    restart();
    try {
      emit_text_windows(c, 0, lines.count() - 1, std::string());
    } catch (const std::exception&) {
      // A tokenizer failure: keep windows without token fitting.
      restart();
      ChunkOptions plain = opts;
      plain.tokenizer = nullptr;
      Ctx c2{rel_path, c.language, &lines, &plain, &out, &long_rows_done};
      emit_text_windows(c2, 0, lines.count() - 1, std::string());
    }
  }
  // Token fitting splits a window into smaller ones that can start after the next overlapping
  // window does: restore the promised order.
  std::stable_sort(out.begin(), out.end(),
                   [](const Chunk& a, const Chunk& b) { return a.start_line < b.start_line; });
  return out;
}

}  // namespace ripvec
