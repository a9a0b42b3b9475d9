#include "chunk/ts_registry.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#ifdef RIPVEC_HAVE_TREESITTER
#include <tree_sitter/api.h>

extern "C" {
#ifdef RIPVEC_TS_BASH
const TSLanguage* tree_sitter_bash(void);
#endif
#ifdef RIPVEC_TS_C
const TSLanguage* tree_sitter_c(void);
#endif
#ifdef RIPVEC_TS_CPP
const TSLanguage* tree_sitter_cpp(void);
#endif
#ifdef RIPVEC_TS_CSHARP
const TSLanguage* tree_sitter_c_sharp(void);
#endif
#ifdef RIPVEC_TS_GO
const TSLanguage* tree_sitter_go(void);
#endif
#ifdef RIPVEC_TS_HCL
const TSLanguage* tree_sitter_hcl(void);
#endif
#ifdef RIPVEC_TS_JAVA
const TSLanguage* tree_sitter_java(void);
#endif
#ifdef RIPVEC_TS_JAVASCRIPT
const TSLanguage* tree_sitter_javascript(void);
#endif
#ifdef RIPVEC_TS_JSON
const TSLanguage* tree_sitter_json(void);
#endif
#ifdef RIPVEC_TS_KOTLIN
const TSLanguage* tree_sitter_kotlin(void);
#endif
#ifdef RIPVEC_TS_MARKDOWN
const TSLanguage* tree_sitter_markdown(void);
#endif
#ifdef RIPVEC_TS_PHP
const TSLanguage* tree_sitter_php(void);
#endif
#ifdef RIPVEC_TS_PYTHON
const TSLanguage* tree_sitter_python(void);
#endif
#ifdef RIPVEC_TS_RUBY
const TSLanguage* tree_sitter_ruby(void);
#endif
#ifdef RIPVEC_TS_RUST
const TSLanguage* tree_sitter_rust(void);
#endif
#ifdef RIPVEC_TS_SCALA
const TSLanguage* tree_sitter_scala(void);
#endif
#ifdef RIPVEC_TS_SWIFT
const TSLanguage* tree_sitter_swift(void);
#endif
#ifdef RIPVEC_TS_TOML
const TSLanguage* tree_sitter_toml(void);
#endif
#ifdef RIPVEC_TS_TSX
const TSLanguage* tree_sitter_tsx(void);
#endif
#ifdef RIPVEC_TS_TYPESCRIPT
const TSLanguage* tree_sitter_typescript(void);
#endif
#ifdef RIPVEC_TS_XML
const TSLanguage* tree_sitter_xml(void);
#endif
}
#endif

namespace ripvec::ts {

namespace {
thread_local CancelScope* tls_scope = nullptr;  // the innermost CancelScope with a check
}  // namespace

// The progress callback's side of a CancelScope.
struct CancelAccess {
  // True when the scope's check says stop (or throws: an exception must not unwind through
  // tree-sitter's C parse loop, which would skip the parser's reset); remembered in stopped().
  static bool ask(CancelScope* s) noexcept {
    bool stop = true;
    try {
      stop = (*s->check_)();
    } catch (...) {
    }
    if (stop) s->stopped_ = true;
    return stop;
  }
};

CancelScope::CancelScope(const std::function<bool()>* cancelled) : outer_(tls_scope) {
  if (cancelled != nullptr && *cancelled) {
    check_ = cancelled;
    tls_scope = this;
  }
}

CancelScope::~CancelScope() {
  if (check_ != nullptr) tls_scope = outer_;
}

#ifdef RIPVEC_HAVE_TREESITTER
namespace {

struct Entry {
  const char* name;
  const TSLanguage* (*fn)(void);
};

constexpr Entry kGrammars[] = {
#ifdef RIPVEC_TS_BASH
    {"bash", tree_sitter_bash},
#endif
#ifdef RIPVEC_TS_C
    {"c", tree_sitter_c},
#endif
#ifdef RIPVEC_TS_CPP
    {"cpp", tree_sitter_cpp},
#endif
#ifdef RIPVEC_TS_CSHARP
    {"csharp", tree_sitter_c_sharp},
#endif
#ifdef RIPVEC_TS_GO
    {"go", tree_sitter_go},
#endif
#ifdef RIPVEC_TS_HCL
    {"hcl", tree_sitter_hcl},
#endif
#ifdef RIPVEC_TS_JAVA
    {"java", tree_sitter_java},
#endif
#ifdef RIPVEC_TS_JAVASCRIPT
    {"javascript", tree_sitter_javascript},
#endif
#ifdef RIPVEC_TS_JSON
    {"json", tree_sitter_json},
#endif
#ifdef RIPVEC_TS_KOTLIN
    {"kotlin", tree_sitter_kotlin},
#endif
#ifdef RIPVEC_TS_MARKDOWN
    {"markdown", tree_sitter_markdown},
#endif
#ifdef RIPVEC_TS_PHP
    {"php", tree_sitter_php},
#endif
#ifdef RIPVEC_TS_PYTHON
    {"python", tree_sitter_python},
#endif
#ifdef RIPVEC_TS_RUBY
    {"ruby", tree_sitter_ruby},
#endif
#ifdef RIPVEC_TS_RUST
    {"rust", tree_sitter_rust},
#endif
#ifdef RIPVEC_TS_SCALA
    {"scala", tree_sitter_scala},
#endif
#ifdef RIPVEC_TS_SWIFT
    {"swift", tree_sitter_swift},
#endif
#ifdef RIPVEC_TS_TOML
    {"toml", tree_sitter_toml},
#endif
#ifdef RIPVEC_TS_TSX
    {"tsx", tree_sitter_tsx},
#endif
#ifdef RIPVEC_TS_TYPESCRIPT
    {"typescript", tree_sitter_typescript},
#endif
#ifdef RIPVEC_TS_XML
    {"xml", tree_sitter_xml},
#endif
};
constexpr size_t kCount = sizeof(kGrammars) / sizeof(kGrammars[0]);

bool abi_ok(const TSLanguage* l) {
  const uint32_t v = ts_language_abi_version(l);
  return v >= TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION && v <= TREE_SITTER_LANGUAGE_VERSION;
}

int index_of(std::string_view name) {
  for (size_t i = 0; i < kCount; ++i)
    if (name == kGrammars[i].name) return static_cast<int>(i);
  return -1;
}

// TSParser is not thread-safe: one per thread and language, created on first use.
struct ParserCache {
  TSParser* parsers[kCount > 0 ? kCount : 1] = {};
  ~ParserCache() {
    for (TSParser* p : parsers)
      if (p) ts_parser_delete(p);
  }
};

struct Deadline {
  std::chrono::steady_clock::time_point until;  // max(): none
  CancelScope* scope;                           // the thread's CancelScope, or null
};

bool past_deadline(TSParseState* state) {
  const auto* d = static_cast<const Deadline*>(state->payload);
  // true stops the parse
  return std::chrono::steady_clock::now() > d->until ||
         (d->scope != nullptr && CancelAccess::ask(d->scope));
}

}  // namespace

const TSLanguage* language(std::string_view name) {
  const int i = index_of(name);
  if (i < 0) return nullptr;
  const TSLanguage* l = kGrammars[i].fn();
  return abi_ok(l) ? l : nullptr;
}

std::vector<std::string> languages() {
  std::vector<std::string> out;
  for (const auto& g : kGrammars)
    if (abi_ok(g.fn())) out.emplace_back(g.name);
  return out;
}

namespace {

// An upper bound on the container blocks (block quotes, list items) open at any line of a
// Markdown text: per line, its leading '>' and list markers plus its leading columns / 2 (a list
// level kept open by indentation takes at least 2 columns; a tab up to 4). Blocks stay open
// only through such prefixes (a lazy continuation line opens none).
size_t markdown_container_bound(std::string_view text) {
  size_t worst = 0;
  for (size_t i = 0; i < text.size();) {
    size_t markers = 0, columns = 0;
    bool in_number = false;
    for (; i < text.size() && text[i] != '\n'; ++i) {
      const char ch = text[i];
      if (ch == ' ') {
        ++columns;
      } else if (ch == '\t') {
        columns += 4;
      } else if (ch == '>' || ch == '-' || ch == '*' || ch == '+') {
        ++markers;
      } else if (ch >= '0' && ch <= '9') {
        markers += in_number ? 0 : 1;
        in_number = true;
        continue;
      } else if (ch != '.' && ch != ')') {
        break;  // the line's content starts: its prefix ends
      }
      in_number = false;
    }
    worst = std::max(worst, markers + columns / 2);
    while (i < text.size() && text[i] != '\n') ++i;
    ++i;
  }
  return worst;
}

// tree-sitter-markdown's external scanner serializes its open blocks (4 bytes each) into the
// runtime's 1,024-byte buffer without a bound: 255 nested block quotes or list items overflow it
// (`>` × 255 on one line, or 400 list levels by indentation, crashed every index, search and
// server holding such a file with SIGSEGV or SIGBUS; hostile probe 2026-12-07). Such a text gets
// no tree (its chunks are line windows; the repo map has no definitions of it).
constexpr size_t kMaxMarkdownContainers = 128;

}  // namespace

TSTree* parse(std::string_view lang, std::string_view text, uint32_t timeout_ms) {
  const int i = index_of(lang);
  if (i < 0 || text.size() > std::numeric_limits<uint32_t>::max()) return nullptr;
  if (lang == "markdown" && markdown_container_bound(text) >= kMaxMarkdownContainers)
    return nullptr;
  thread_local ParserCache cache;
  TSParser*& p = cache.parsers[i];
  if (!p) {
    p = ts_parser_new();
    if (!ts_parser_set_language(p, kGrammars[i].fn())) {  // ABI outside the runtime's window
      ts_parser_delete(p);
      p = nullptr;
      return nullptr;
    }
  }
  if (timeout_ms == 0 && tls_scope == nullptr)
    return ts_parser_parse_string(p, nullptr, text.data(), static_cast<uint32_t>(text.size()));
  struct Src {
    std::string_view text;
  } src{text};
  TSInput input{};
  input.payload = &src;
  input.read = [](void* payload, uint32_t byte, TSPoint, uint32_t* bytes_read) -> const char* {
    const auto* s = static_cast<const Src*>(payload);
    if (byte >= s->text.size()) {
      *bytes_read = 0;
      return "";
    }
    *bytes_read = static_cast<uint32_t>(s->text.size() - byte);
    return s->text.data() + byte;
  };
  input.encoding = TSInputEncodingUTF8;
  Deadline dl{timeout_ms == 0
                  ? std::chrono::steady_clock::time_point::max()
                  : std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms),
              tls_scope};
  TSParseOptions opts{};
  opts.payload = &dl;
  opts.progress_callback = past_deadline;
  TSTree* tree = ts_parser_parse_with_options(p, nullptr, input, opts);
  if (!tree) ts_parser_reset(p);  // a cancelled parse would otherwise resume next time
  return tree;
}

#else  // !RIPVEC_HAVE_TREESITTER

const TSLanguage* language(std::string_view) {
  return nullptr;
}
std::vector<std::string> languages() {
  return {};
}
TSTree* parse(std::string_view, std::string_view, uint32_t) {
  return nullptr;
}

#endif

}  // namespace ripvec::ts
