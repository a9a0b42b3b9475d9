// `ripvec lsp`: the Language Server Protocol 3.17 over stdio (Content-Length framing).
// Full text sync; open buffers override the files on disk for outlines, symbols, definitions,
// references and hover. documentSymbol comes from the tree-sitter definitions; workspace/symbol
// combines names (keyword) with a semantic search of the index when it is ready; definition,
// references, hover and the call hierarchy resolve the identifier under the cursor through the
// repo graph (best effort: by name, preferring the same file, then imported files, then rank).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>

#include "corpus/walker.hpp"
#include "jsonrpc/endpoint.hpp"
#include "ripvec/corpus.hpp"
#include "ripvec/error.hpp"
#include "ripvec/repo_map.hpp"
#include "ripvec/server.hpp"
#include "server/closed_documents.hpp"
#include "server/lsp_text.hpp"
#include "server/watcher.hpp"
#include "server/workspace.hpp"
#include "util/text_util.hpp"

#ifndef RIPVEC_VERSION_STRING
#define RIPVEC_VERSION_STRING "0.1.0"
#endif

namespace ripvec {

namespace {

namespace fs = std::filesystem;
using jsonrpc::json;
using jsonrpc::RpcError;
namespace code = jsonrpc::code;

constexpr size_t kMaxResults = 200;
// textDocument/references answers at most this many locations.
constexpr size_t kMaxReferences = 1000;
// The most of a file on disk a request reads (an open buffer is bounded by the 64 MiB message).
constexpr uint64_t kMaxDocumentBytes = uint64_t(64) << 20;

int symbol_kind(const std::string& k) {
  static const std::map<std::string, int> kKinds = {
      {"module", 2},      {"namespace", 3}, {"class", 5},      {"method", 6},
      {"constructor", 9}, {"enum", 10},     {"interface", 11}, {"trait", 11},
      {"function", 12},   {"macro", 12},    {"struct", 23},    {"union", 23},
      {"record", 23},     {"impl", 5},      {"type", 26},      {"annotation", 11}};
  auto it = kKinds.find(k);
  return it == kKinds.end() ? 13 : it->second;
}

struct Buffer {
  std::string text;
  int version = 0;
  std::string uri;  // as the client spelled it (answers about the document use it)
  // Every URI the client has this file open under (a symlink and its target are one file):
  // the buffer goes when the last of them is closed.
  std::set<std::string> uris;
  uint64_t changed = 0;  // LspServer::doc_epoch_ at the last didOpen/didChange
};

// The request the calling thread serves (LspServer::on_request), or null.
thread_local jsonrpc::Context* tls_request = nullptr;
// The versions of documents its answer was computed from (path -> LspServer::doc_epoch_ of
// the text read: its last change, or its closing for a text read from disk), or null.
thread_local std::map<std::string, uint64_t>* tls_read = nullptr;
// The served root the calling thread's request is about (the workspace folder holding its
// document), or null for the first root. Every relative path the server handles (graph,
// outlines' definitions, locations) is relative to it.
thread_local server::Root* tls_root = nullptr;

// Sets tls_root for a scope (null: the first root) and restores the one before.
class RootScope {
 public:
  explicit RootScope(server::Root* r) : before_(tls_root) { tls_root = r; }
  ~RootScope() { tls_root = before_; }
  RootScope(const RootScope&) = delete;
  RootScope& operator=(const RootScope&) = delete;

 private:
  server::Root* before_;
};

class LspServer {
 public:
  LspServer(const ServerOptions& opts, int in_fd, int out_fd)
      : opts_(opts), in_(in_fd), out_(out_fd), endpoint_(in_, out_, endpoint_options()) {
    register_methods();
  }

  // 0: a clean end ("exit" after "shutdown", or end of input); 1: "exit" without "shutdown"
  // (LSP: "the server should exit with error code 1"); 2: the stream broke (inside a frame, a
  // read or write error).
  int run() {
    int rc = endpoint_.run();
    // A stream that broke says how, on stderr (the client cannot be told any more).
    if (rc != 0 && !endpoint_.end_error().empty())
      std::fprintf(stderr, "ripvec lsp: error: %s\n", endpoint_.end_error().c_str());
    stopping_ = true;  // the first index in the background stops at its next embedding call
    if (indexer_.joinable()) indexer_.join();
    if (watcher_) watcher_->stop();
    if (exit_requested_ && !shutdown_) return 1;
    return rc == 0 ? 0 : 2;
  }

 private:
  using OutlineDefs = std::shared_ptr<const std::vector<RepoDefinition>>;

  static jsonrpc::Endpoint::Options endpoint_options() {
    jsonrpc::Endpoint::Options o;
    o.framing = jsonrpc::Framing::ContentLength;
    o.workers = 2;
    o.on_cancel = jsonrpc::Endpoint::OnCancel::ErrorResponse;
    return o;
  }

  void log(const std::string& level, const std::string& msg) {
    if (opts_.debug || level == "warning" || level == "error")
      std::fprintf(stderr, "ripvec lsp: %s: %s\n", level.c_str(), msg.c_str());
    int type = level == "error" ? 1 : level == "warning" ? 2 : level == "info" ? 3 : 4;
    if (initialized_ && type <= 2)
      endpoint_.notify("window/logMessage", json{{"type", type}, {"message", msg}});
  }

  // ---- documents ----------------------------------------------------------------------------

  // The root of the request being served (tls_root), else the first workspace folder.
  server::Root& root() { return tls_root != nullptr ? *tls_root : ws_->root(); }

  // The served root (workspace folder) holding the canonical path `abs`: the innermost one,
  // for nested folders; null when none does (the first root then answers, as for one folder).
  // A second workspace folder was ignored: definitions, symbols and calls of its files came
  // from the first folder's graph, and found nothing (hostile probe 2026-12-06).
  server::Root* served_root_of(const std::string& abs) {
    return ws_ && !abs.empty() ? ws_->holding(abs) : nullptr;
  }

  // The root a request's params are about: its textDocument's, or its call hierarchy item's.
  server::Root* root_of_params(const json& p) {
    if (!p.is_object()) return nullptr;
    const json* uri = nullptr;
    if (auto td = p.find("textDocument"); td != p.end() && td->is_object())
      if (auto u = td->find("uri"); u != td->end() && u->is_string()) uri = &*u;
    if (uri == nullptr)
      if (auto it = p.find("item"); it != p.end() && it->is_object()) {
        // The folder that made the item: its data.path is relative to it (a nested folder's
        // file is in two folders; the item's URI picked the inner one, and "B/lib.py" was
        // looked up there; hostile probe 2026-12-06).
        if (auto d = it->find("data"); d != it->end() && d->is_object())
          if (auto r = d->find("root"); r != d->end() && r->is_string())
            for (server::Root* cand : ws_->roots())
              if (cand->path().string() == r->get<std::string>()) return cand;
        if (auto u = it->find("uri"); u != it->end() && u->is_string()) uri = &*u;
      }
    if (uri == nullptr) return nullptr;
    return served_root_of(path_of(uri->get<std::string>()));
  }

  std::string rel_path(const std::string& abs) {
    return server::relative_to(fs::path(abs), root().path());
  }

  // A document's path as the server knows files: decoded, `..` resolved, symlinks followed (the
  // root is canonical). Buffers are kept under it, not under the URI as the client spelled it:
  // a client that opened the workspace through a symlink (macOS's /tmp), or encoded a path
  // otherwise than path_to_uri (`+`, `@` left as they are, lowercase %xx), had its unsaved
  // buffers missed, so definitions pointed at the file on disk and references found nothing
  // (hostile probe 2026-12-05, fifth round).
  static std::string path_of(const std::string& uri) {
    const std::string raw = server::uri_to_path(uri);
    if (raw.empty()) return raw;
    std::error_code ec;
    const fs::path canon = fs::weakly_canonical(fs::path(raw), ec);
    return ec ? fs::path(raw).lexically_normal().string() : canon.string();
  }

  // The text of a document: the open buffer, else the file on disk ("" when unreadable).
  std::string text_of(const std::string& uri) {
    {
      const std::string path = path_of(uri);
      std::lock_guard<std::mutex> lock(buffers_mu_);
      auto it = buffers_.find(path);
      if (tls_read != nullptr) note_read(path, it);
      if (it != buffers_.end()) return it->second.text;
    }
    // A regular file only, bounded, opened without blocking: a URI naming /dev/zero or a FIFO
    // hung the request forever, and with it the server's exit after `shutdown`.
    std::string text;
    if (read_text_file(server::uri_to_path(uri), kMaxDocumentBytes, &text) != ContentStatus::Ok)
      return {};
    // LSP ends lines at a lone "\r" too, the parsers at "\n" only: every buffer goes through
    // text::lone_cr_to_lf (offsets kept; old Mac files had all their definitions on line 0).
    return text::lone_cr_to_lf(std::move(text));
  }

  // A buffer's new text from `uri` (didOpen, didChange; buffers_mu_ held). The URIs it is open
  // under are kept: a didChange that rebuilt the buffer emptied them, so closing one of two
  // URIs after an edit dropped the buffer the other still had open.
  void set_buffer(const std::string& path, const std::string& uri, const std::string& text,
                  int version) {
    Buffer& b = buffers_[path];
    b.text = text::lone_cr_to_lf(text);
    b.version = version;
    b.uri = uri;
    b.uris.insert(uri);
    b.changed = ++doc_epoch_;
  }

  // An answer computed from a version of a document newer than the request (opened, edited or
  // closed after the request was read) is about another text than the one the client asked
  // about: the client sent the request against what it had then. LSP's ContentModified
  // (-32801) says so, and the client asks again. An answer made from the versions current when
  // the request was read stands, whatever changed since. A definition request followed at once
  // by an edit that moved the code answered null (the cursor's line in the new text) or mixed
  // the two versions (hostile probe 2026-12-06: 17 of 20 answers wrong).
  void check_versions(const std::map<std::string, uint64_t>& read, uint64_t stamp) {
    for (const auto& [path, at] : read)
      if (at > stamp)
        throw RpcError(code::kContentModified, "content modified: " + rel_path(path) +
                                                   " changed after the request was sent");
  }

  // The definitions of a document (file_definitions), kept per path while its text stays the
  // same: workspace/symbol and definition lookups ask for every open buffer's, and a document
  // tree-sitter gives up on costs the chunker's whole parse timeout (5 s) each time (a 50 MB
  // buffer: ~10 s per request, an empty outline each time; hostile probe 2026-12-05, fifth
  // round). Each text is outlined once: a request that asks while another makes it waits for
  // that one. An outline that took over a second is reported once, naming the file.
  // Cancellation ends a request within milliseconds whether it waits or makes the outline: the
  // maker's parse stops (file_definitions' check), and the requests that waited for it, not
  // cancelled themselves, make it again (a cancelled maker held its answer for the 5 s parse,
  // and so did the cancellation of a request that lost the race to be the maker; CI
  // 2026-12-06).
  OutlineDefs outline(const std::string& rel, const std::string& text) {
    // Keyed by the folder and the path in it: the definitions carry paths relative to the
    // folder that made them (a nested folder's file is "B/lib.py" to the outer folder and
    // "lib.py" to its own), and two folders may each have a "src/main.rs".
    const std::string key = root().path().string() + '\n' + rel;
    const std::string abs = (root().path() / rel).string();
    for (;;) {
      std::shared_future<OutlineDefs> kept;
      std::promise<OutlineDefs> made;
      uint64_t entry = 0;
      {
        std::lock_guard<std::mutex> lock(outlines_mu_);
        auto it = outlines_.find(key);
        if (it != outlines_.end() && it->second.text == text) {
          it->second.used = ++outline_clock_;
          kept = it->second.defs;
        } else {
          if (it == outlines_.end() && outlines_.size() >= kMaxOutlines) evict_one_outline();
          entry = ++outline_clock_;
          outlines_[key] = Outline{text, made.get_future().share(), entry, entry, abs};
        }
      }
      if (!kept.valid()) return make_outline(key, rel, text, made, entry);
      // Made, or being made by another request: once per text.
      while (kept.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready)
        if (tls_request != nullptr) tls_request->check_cancelled();
      try {
        return kept.get();
      } catch (const CancelledError&) {
        // Its maker was cancelled and dropped the entry: this request makes it (or waits for
        // whoever entered it first).
        if (tls_request != nullptr) tls_request->check_cancelled();
      }
    }
  }

  // outline()'s making of the outline it entered in outlines_ as `entry`, with `made`'s future.
  OutlineDefs make_outline(const std::string& key, const std::string& rel, const std::string& text,
                           std::promise<OutlineDefs>& made, uint64_t entry) {
    try {
      const jsonrpc::Context* req = tls_request;
      std::function<bool()> cancelled;
      if (req != nullptr) cancelled = [req] { return req->cancelled(); };
      const auto t0 = std::chrono::steady_clock::now();
      auto defs = std::make_shared<const std::vector<RepoDefinition>>(
          file_definitions(rel, text, cancelled));
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (s >= 1.0) {
        char buf[96];
        std::snprintf(buf, sizeof(buf), " took %.1f s (%.1f MB, %zu definitions)", s,
                      static_cast<double>(text.size()) / 1e6, defs->size());
        log("warning", "outline of " + rel + buf +
                           (defs->empty() ? ": no definitions (none in the file, or the parse "
                                            "reached its time limit)"
                                          : "") +
                           "; it is kept until the document changes");
      }
      made.set_value(defs);
      return defs;
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(outlines_mu_);
        // Its own entry only: a didClose, or an edit and its undo, may have put another one
        // for the same text there meanwhile.
        auto it = outlines_.find(key);
        if (it != outlines_.end() && it->second.entry == entry) outlines_.erase(it);
      }
      made.set_exception(std::current_exception());  // after the erase: a waiter retries anew
      throw;
    }
  }

  // Makes room in outlines_ (outlines_mu_ held): drops the least recently used outline that is
  // made and not of an open buffer. Open buffers' outlines stay (as many as the client has
  // open): clearing the whole cache when full made a client with 65 buffers open outline every
  // one of them again in every workspace/symbol and definition request, a 20 MB one for ~6 s
  // each time (hostile probe 2026-12-06).
  void evict_one_outline() {
    std::set<std::string> open;
    {
      std::lock_guard<std::mutex> lock(buffers_mu_);
      for (const auto& [path, b] : buffers_) open.insert(path);
    }
    auto victim = outlines_.end();
    for (auto it = outlines_.begin(); it != outlines_.end(); ++it) {
      if (open.count(it->second.path) ||
          it->second.defs.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
        continue;
      if (victim == outlines_.end() || it->second.used < victim->second.used) victim = it;
    }
    if (victim != outlines_.end()) outlines_.erase(victim);
  }

  // The open buffers below root()'s folder (rel path -> text; a nested folder's are below the
  // outer one too), and, for the first folder, those in no folder: another folder's unsaved
  // files answered this folder's definitions and references, first (hostile probe 2026-12-06).
  std::map<std::string, std::string> open_buffers() {
    std::map<std::string, std::string> out;
    server::Root* here = &root();
    const bool first = ws_ && here == &ws_->root();
    for (auto& [path, text] : open_buffers_by_path()) {
      std::string rel = rel_path(path);
      const bool below = !rel.empty() && rel.front() != '/';
      if (below || (first && served_root_of(path) == nullptr))
        out[std::move(rel)] = std::move(text);
    }
    return out;
  }

  // The open buffers by absolute path. What is not open is read from the disk: a buffer
  // closed after the request was sent is missing from this set too (noted in tls_read).
  std::map<std::string, std::string> open_buffers_by_path() {
    std::lock_guard<std::mutex> lock(buffers_mu_);
    std::map<std::string, std::string> out;
    for (auto it = buffers_.begin(); it != buffers_.end(); ++it) {
      if (tls_read != nullptr) note_read(it->first, it);
      out[it->first] = it->second.text;
    }
    if (tls_read != nullptr)
      for (const auto& [path, at] : closed_.entries())
        if (!buffers_.count(path)) note_read(path, buffers_.end());
    return out;
  }

  // Records in tls_read which version of `path` the request read (buffers_mu_ held; `it` its
  // buffer or buffers_.end()).
  void note_read(const std::string& path, std::map<std::string, Buffer>::const_iterator it) {
    uint64_t at = 0;
    if (it != buffers_.end()) {
      at = it->second.changed;
    } else {
      at = closed_.closed_at(path);
    }
    uint64_t& seen = (*tls_read)[path];
    seen = std::max(seen, at);
  }

  static const json& params_object(jsonrpc::Context& c) {
    if (!c.params().is_object()) throw RpcError(code::kInvalidParams, "params must be an object");
    return c.params();
  }

  static std::string doc_uri(const json& p) {
    if (!p.contains("textDocument") || !p["textDocument"].is_object() ||
        !p["textDocument"].contains("uri") || !p["textDocument"]["uri"].is_string())
      throw RpcError(code::kInvalidParams, "textDocument.uri (string) is required");
    std::string uri = p["textDocument"]["uri"];
    if (server::uri_to_path(uri).empty())
      throw RpcError(code::kInvalidParams, "only file:// URIs are supported: " + uri);
    return uri;
  }

  static std::pair<int, int> position(const json& p) {
    if (!p.contains("position") || !p["position"].is_object() ||
        !p["position"].value("line", json()).is_number_integer() ||
        !p["position"].value("character", json()).is_number_integer())
      throw RpcError(code::kInvalidParams, "position {line, character} (integers) is required");
    int64_t line = p["position"]["line"], ch = p["position"]["character"];
    if (line < 0 || ch < 0 || line > (1 << 30) || ch > (1 << 30))
      throw RpcError(code::kInvalidParams, "position out of range");
    return {static_cast<int>(line), static_cast<int>(ch)};
  }

  // ---- definitions: the graph, with open buffers overriding their files -------------------

  struct Def {
    RepoDefinition d;
    long graph_index = -1;  // into the graph's definitions; -1 for buffer definitions
  };

  std::vector<Def> candidates(const std::string& name, const std::string& from_rel,
                              const RepoGraph& g) {
    auto buffers = open_buffers();
    std::vector<Def> local, imported, other;
    std::set<size_t> imports;
    long fi = g.file_index(from_rel);
    if (fi >= 0)
      for (size_t i : g.files()[fi].imports) imports.insert(i);
    for (size_t d : g.find(name)) {
      const RepoDefinition& def = g.definitions()[d];
      if (buffers.count(def.path)) continue;  // the buffer's definitions replace the file's
      Def x{def, static_cast<long>(d)};
      long df = g.file_index(def.path);
      if (def.path == from_rel)
        local.push_back(x);
      else if (df >= 0 && imports.count(static_cast<size_t>(df)))
        imported.push_back(x);
      else
        other.push_back(x);
    }
    for (const auto& [path, text] : buffers) {
      // Held here: `for (x : *outline(...))` let the shared_ptr die before the loop (C++20
      // extends the life of the reference's object, not of the temporary it came from), and a
      // didClose that dropped the cache entry freed the definitions under the loop (hostile
      // probe 2026-12-06: std::length_error copying a freed RepoDefinition).
      const auto defs = outline(path, text);
      const long df = g.file_index(path);
      const bool imported_file = df >= 0 && imports.count(static_cast<size_t>(df)) > 0;
      for (const auto& def : *defs) {
        if (def.name != name && def.symbol != name) continue;
        // An open file ranks as its file would (an imported one before the others: opening
        // util.py put other.py's `helper` first; hostile probe 2026-12-06).
        (path == from_rel ? local : imported_file ? imported : other).push_back({def, -1});
      }
    }
    std::vector<Def> out = local;
    out.insert(out.end(), imported.begin(), imported.end());
    out.insert(out.end(), other.begin(), other.end());
    return out;
  }

  // The graph's node of a definition taken from an open buffer (candidates() gives those with
  // graph_index -1): the same file and symbol, else -1 (a definition the saved file lacks).
  // prepareCallHierarchy on an open document took the first candidate that had a node, which
  // was another file's function of that name or, with none, the function around the cursor
  // (hostile probe 2026-12-06: `main` for the `helper(` it calls).
  static long graph_node_of(const RepoGraph& g, const RepoDefinition& d) {
    for (size_t i : g.find(d.name))
      if (g.definitions()[i].path == d.path && g.definitions()[i].symbol == d.symbol)
        return static_cast<long>(i);
    return -1;
  }

  json range_of(const RepoDefinition& d, const std::vector<std::string_view>& lines) {
    int last = std::max(0, d.end_line - 1);
    int end_char = last < static_cast<int>(lines.size())
                       ? server::utf16_column(lines[last], lines[last].size())
                       : 0;
    return {{"start", {{"line", std::max(0, d.start_line - 1)}, {"character", 0}}},
            {"end", {{"line", last}, {"character", end_char}}}};
  }

  json selection_of(const RepoDefinition& d, const std::vector<std::string_view>& lines) {
    int l = std::max(0, d.name_line - 1);
    int c0 = 0, c1 = 0;
    if (l < static_cast<int>(lines.size())) {
      c0 = server::utf16_column(lines[l], static_cast<size_t>(d.name_column));
      c1 = server::utf16_column(lines[l], static_cast<size_t>(d.name_column) + d.name.size());
    }
    return {{"start", {{"line", l}, {"character", c0}}}, {"end", {{"line", l}, {"character", c1}}}};
  }

  // The URI of a file of the root: the one the client opened it with, when it did.
  std::string abs_uri(const std::string& rel) {
    const std::string path = (root().path() / rel).string();
    {
      std::lock_guard<std::mutex> lock(buffers_mu_);
      auto it = buffers_.find(path);
      if (it != buffers_.end()) return it->second.uri;
    }
    // Spelt under the folder as the client named it: a folder opened through a symlink (macOS's
    // /tmp) got URIs of the link's target, and the editor a second buffer of the same file
    // (hostile probe 2026-12-06).
    if (auto c = client_root_.find(root().path().string()); c != client_root_.end())
      return server::path_to_uri((c->second / rel).string());
    return server::path_to_uri(path);
  }

  json location(const RepoDefinition& d) {
    std::string uri = abs_uri(d.path);
    std::string text = text_of(uri);
    auto lines = server::text_lines(text);
    return {{"uri", uri}, {"range", selection_of(d, lines)}};
  }

  // The identifier at the cursor and the document's relative path.
  struct Cursor {
    std::string uri, rel, text, word;
    int line = 0;
    size_t byte_col = 0;
  };
  Cursor cursor(const json& p) {
    Cursor c;
    c.uri = doc_uri(p);
    auto [line, ch] = position(p);
    c.rel = rel_path(path_of(c.uri));
    c.text = text_of(c.uri);
    auto lines = server::text_lines(c.text);
    c.line = line;
    if (line < static_cast<int>(lines.size())) {
      c.byte_col = server::byte_column(lines[line], ch);
      c.word = server::identifier_at(lines[line], c.byte_col);
    }
    return c;
  }

  // The innermost definition of the document covering 0-based `line` (from its current text).
  std::optional<RepoDefinition> enclosing(const Cursor& c) {
    std::optional<RepoDefinition> best;
    const auto defs = outline(c.rel, c.text);  // held: see candidates()
    for (const auto& d : *defs)
      if (c.line + 1 >= d.start_line && c.line + 1 <= d.end_line &&
          (!best || d.end_line - d.start_line <= best->end_line - best->start_line))
        best = d;
    return best;
  }

  // ---- call hierarchy items ------------------------------------------------------------------

  json item(const RepoGraph& g, size_t d) {
    const RepoDefinition& def = g.definitions()[d];
    std::string uri = abs_uri(def.path);
    auto text = text_of(uri);
    auto lines = server::text_lines(text);
    bool module = def.kind == "module";
    json it = {{"name", module ? def.path : def.symbol},
               {"kind", module ? 1 : symbol_kind(def.kind)},
               {"uri", uri},
               {"range", range_of(def, lines)},
               {"selectionRange", module ? range_of(def, lines) : selection_of(def, lines)},
               {"data",
                {{"path", def.path},
                 {"symbol", def.symbol},
                 {"line", def.start_line},
                 {"root", root().path().string()}}}};
    if (!def.signature.empty()) it["detail"] = def.signature;
    return it;
  }

  long item_node(const RepoGraph& g, const json& p) {
    if (!p.contains("item") || !p["item"].is_object())
      throw RpcError(code::kInvalidParams, "item (CallHierarchyItem) is required");
    const json& it = p["item"];
    std::string path, symbol;
    int line = 0;
    auto str = [](const json& o, const char* key) {
      if (!o.contains(key)) return std::string();
      if (!o[key].is_string())
        throw RpcError(code::kInvalidParams, std::string("item: ") + key + " must be a string");
      return o[key].get<std::string>();
    };
    if (it.contains("data") && it["data"].is_object()) {
      const json& d = it["data"];
      path = str(d, "path");
      symbol = str(d, "symbol");
      if (d.contains("line")) {
        if (!d["line"].is_number_integer())
          throw RpcError(code::kInvalidParams, "item: data.line must be an integer");
        line = static_cast<int>(std::clamp<int64_t>(d["line"].get<int64_t>(), 0, 1 << 30));
      }
    } else if (it.contains("uri") && it["uri"].is_string()) {
      path = rel_path(path_of(it["uri"].get<std::string>()));
      symbol = str(it, "name");
    }
    long fi = g.file_index(path);
    if (fi < 0) return -1;
    const RepoFile& f = g.files()[fi];
    if (symbol == path) return static_cast<long>(f.module_node);
    long best = -1;
    for (size_t d : f.definitions)
      if (g.definitions()[d].symbol == symbol &&
          (best < 0 || std::abs(g.definitions()[d].start_line - line) <
                           std::abs(g.definitions()[best].start_line - line)))
        best = static_cast<long>(d);
    return best;
  }

  // Every call site of e.to's name inside e.from (the call hierarchy's fromRanges), as many as
  // the graph counted (at most kMaxCallSites): whole-word mentions within the caller's lines,
  // the callee's own name left out (recursion). The graph keeps one site per edge, its first:
  // a caller with two calls showed one (hostile probe 2026-12-06). That first site alone when
  // the text no longer has the mentions where the graph saw them.
  json mention_ranges(const RepoGraph& g, const RepoEdge& e) {
    static constexpr size_t kMaxCallSites = 100;
    const RepoDefinition& from = g.definitions()[e.from];
    const RepoDefinition& to = g.definitions()[e.to];
    auto text = text_of(abs_uri(from.path));
    auto lines = server::text_lines(text);
    const std::string& name = to.name;
    auto range = [&](int l, size_t byte) {
      const int c0 = server::utf16_column(lines[l], byte);
      const int c1 = server::utf16_column(lines[l], byte + name.size());
      return json{{"start", {{"line", l}, {"character", c0}}},
                  {"end", {{"line", l}, {"character", c1}}}};
    };
    json out = json::array();
    const size_t want = std::min<size_t>(std::max(e.count, 1), kMaxCallSites);
    const int first = std::max(1, from.start_line), last = from.end_line;
    for (int l = first - 1; l < last && l < static_cast<int>(lines.size()) && out.size() < want;
         ++l) {
      std::string_view line = lines[l];
      for (size_t pos = server::find_word(line, name);
           pos != std::string_view::npos && out.size() < want;
           pos = server::find_word(line, name, pos + name.size())) {
        if (from.path == to.path && l + 1 == to.name_line &&
            pos == static_cast<size_t>(to.name_column))
          continue;  // the callee's own name, not a call
        out.push_back(range(l, pos));
      }
    }
    const bool has_first = std::any_of(
        out.begin(), out.end(), [&](const json& r) { return r["start"]["line"] == e.line - 1; });
    if (!has_first) {
      const int l = std::max(0, e.line - 1);
      out = json::array({l < static_cast<int>(lines.size())
                             ? range(l, static_cast<size_t>(e.column))
                             : json{{"start", {{"line", l}, {"character", 0}}},
                                    {"end", {{"line", l}, {"character", 0}}}}});
    }
    return out;
  }

  // ---- methods -------------------------------------------------------------------------------

  // Every request runs with its context in tls_request, so that a wait deep inside (outline())
  // can end when the request is cancelled.
  void on_request(const std::string& method, jsonrpc::Endpoint::RequestHandler h,
                  bool inline_ = false) {
    endpoint_.on_request(
        method,
        [this, h = std::move(h)](jsonrpc::Context& c) {
          std::map<std::string, uint64_t> read;
          RootScope root_scope(root_of_params(c.params()));
          struct Scope {
            Scope(jsonrpc::Context* c, std::map<std::string, uint64_t>* read) {
              tls_request = c;
              tls_read = read;
            }
            ~Scope() {
              tls_request = nullptr;
              tls_read = nullptr;
            }
          } scope(&c, &read);
          json answer;
          try {
            answer = h(c);
          } catch (const RpcError&) {
            throw;  // about the request itself (invalid params, cancelled), not a version
          } catch (...) {
            // An error that came of reading a newer version (a position past the end of the
            // new text) is that version's: ContentModified, as for an answer.
            check_versions(read, c.stamp());
            throw;
          }
          check_versions(read, c.stamp());
          return answer;
        },
        inline_);
  }

  // Every notification but "exit" is dropped until "initialize" has succeeded (LSP 3.17:
  // "Notifications should be dropped, except for the exit notification"): "initialized" first
  // crashed the server on the missing workspace.
  void on_notification(const std::string& method, jsonrpc::Endpoint::NotificationHandler h) {
    endpoint_.on_notification(method, [this, h = std::move(h)](const json& p) {
      if (ws_) h(p);
    });
  }

  // A document version: an integer, else 0 (a wrong type must not drop the text).
  static int version_of(const json& td) {
    auto it = td.find("version");
    return it != td.end() && it->is_number_integer() ? it->get<int>() : 0;
  }

  void register_methods() {
    endpoint_.set_stamper([this] { return doc_epoch_.load(); });
    endpoint_.set_gate([this](const std::string& method) -> std::optional<RpcError> {
      if (opts_.debug) std::fprintf(stderr, "ripvec lsp: <- %s\n", method.c_str());
      if (shutdown_ && method != "exit")
        return RpcError(code::kInvalidRequest, "server is shutting down");
      if (!ws_ && method != "initialize")
        return RpcError(code::kServerNotInitialized, "server not initialized");
      return std::nullopt;
    });

    on_request(
        "initialize",
        [this](jsonrpc::Context& c) {
          if (ws_) throw RpcError(code::kInvalidRequest, "initialize was already received");
          const json& p = params_object(c);
          ServerOptions so = opts_;
          std::vector<std::string> skipped;  // workspace folders that cannot be served
          if (so.roots.empty()) {
            // A folder that is not a local directory (gone, `vscode-vfs://`) is skipped with a
            // warning: it failed initialize, and the whole session with it (hostile probe
            // 2026-12-06).
            if (p.contains("workspaceFolders") && p["workspaceFolders"].is_array())
              for (const auto& f : p["workspaceFolders"])
                if (f.is_object() && f.contains("uri") && f["uri"].is_string()) {
                  const std::string uri = f["uri"].get<std::string>();
                  const std::string path = server::uri_to_path(uri);
                  std::error_code ec;
                  if (!path.empty() && fs::is_directory(path, ec))
                    so.roots.emplace_back(path);
                  else
                    skipped.push_back(uri);
                }
            if (so.roots.empty() && p.contains("rootUri") && p["rootUri"].is_string()) {
              // Named in the error when it is no local file URI (`vscode-vfs://`, `untitled:`):
              // the message named an empty path ("initialize: : not a directory"; hostile
              // probe 2026-12-07).
              const std::string uri = p["rootUri"].get<std::string>();
              const std::string path = server::uri_to_path(uri);
              if (path.empty())
                throw RpcError(code::kInvalidParams,
                               "initialize: rootUri " + uri + " is not a local file URI");
              so.roots.emplace_back(path);
            }
            if (so.roots.empty() && p.contains("rootPath") && p["rootPath"].is_string())
              so.roots.emplace_back(p["rootPath"].get<std::string>());
            if (so.roots.empty() && !skipped.empty())  // not the current directory instead
              throw RpcError(code::kInvalidParams,
                             "initialize: no workspace folder is a local directory (" +
                                 skipped.front() + ", ...)");
            // No folder from the client (LSP's "no folder open") and none on the command line:
            // the current folder is served (Workspace), but indexed only if it is a project.
            implicit_root_ = so.roots.empty();
          }
          skipped_folders_ = std::move(skipped);
          try {
            ws_ = std::make_unique<server::Workspace>(
                so, [this](const std::string& l, const std::string& m) { log(l, m); });
          } catch (const std::exception& e) {
            throw RpcError(code::kInvalidParams, std::string("initialize: ") + e.what());
          }
          for (const auto& given : so.roots) {
            std::error_code ec;
            const fs::path abs = fs::absolute(given, ec).lexically_normal();
            const fs::path canon = fs::canonical(given, ec);
            if (!ec && abs != canon && !abs.empty())
              client_root_.emplace(canon.string(), abs.string().ends_with('/') && abs != "/"
                                                       ? abs.parent_path()
                                                       : abs);
          }
          return json{{"capabilities",
                       {{"positionEncoding", "utf-16"},
                        {"textDocumentSync", {{"openClose", true}, {"change", 1}}},
                        {"documentSymbolProvider", true},
                        {"workspaceSymbolProvider", true},
                        {"definitionProvider", true},
                        {"referencesProvider", true},
                        {"hoverProvider", true},
                        {"callHierarchyProvider", true}}},
                      {"serverInfo", {{"name", "ripvec"}, {"version", RIPVEC_VERSION_STRING}}}};
        },
        true);
    on_notification("initialized", [this](const json&) {
      initialized_ = true;
      for (const auto& uri : skipped_folders_)
        log("warning", "workspace folder " + uri + " is not a local directory: not served");
      ws_->preload();
      // Index in the background so that semantic workspace symbols become available.
      if (indexer_.joinable()) return;
      indexer_ = std::thread([this] {
        // Each workspace folder in turn (its semantic symbols; the watcher follows it).
        for (server::Root* r : ws_->roots()) {
          try {
            // An editor started in a home folder that is no repository, with no folder open,
            // indexed all of it in the background, dotfiles included (hostile probe
            // 2026-12-07): the current folder served for want of a folder is indexed only when
            // it belongs to a project (git work tree, .ripvec/, an index above it).
            if (implicit_root_ &&
                project_root_source(r->path(), opts_.index.cache_dir) == Index::RootSource::Path) {
              r->serve_without_index();  // watched: its graph follows the disk
              log("warning", "no workspace folder was given: serving " + r->path().string() +
                                 " without indexing it (it is in no project: no git work tree, "
                                 ".ripvec/ or index at or above it); open a folder, or pass "
                                 "--root, for semantic workspace symbols");
              continue;
            }
            r->ensure_indexed(nullptr, [this] { return stopping_.load(); });
          } catch (const CancelledError&) {
            return;  // the server is ending: the update is left for the next session
          } catch (const std::exception& e) {
            log("warning", "indexing failed (" + r->path().string() + "): " + e.what());
          }
        }
        // Watched even when the first index failed (no model): the repo graph of symbols,
        // definitions and calls follows the files on disk without an index. It stayed as it
        // was at the start for the whole session (hostile probe 2026-12-06).
        if (opts_.watch && !watcher_ && !stopping_) {
          try {
            watcher_ = std::make_unique<server::Watcher>(*ws_, opts_.watch_debounce_s);
            watcher_->start();
          } catch (const std::exception& e) {
            log("warning", std::string("file watcher: ") + e.what());
          }
        }
      });
    });
    on_request(
        "shutdown",
        [this](jsonrpc::Context& ctx) {
          shutdown_ = true;
          // Answered after the requests before it (the reader goes on: their cancellations
          // and "exit" are still read).
          ctx.answer_after_others();
          return json(nullptr);
        },
        true);
    endpoint_.on_notification("exit", [this](const json&) {
      exit_requested_ = true;
      // Without a shutdown still waiting to answer, nothing the client sent is worth
      // finishing: what runs is cancelled. With one (a client that sent shutdown and exit
      // together), the requests before it answer, then the shutdown, then the process ends.
      endpoint_.stop(/*cancel_running=*/!endpoint_.answers_waiting());
    });
    on_notification("$/cancelRequest", [this](const json& p) {
      if (p.is_object() && p.contains("id")) endpoint_.cancel(p["id"]);
    });
    on_notification("$/setTrace", [](const json&) {});

    on_notification("textDocument/didOpen", [this](const json& p) {
      if (!p.is_object() || !p.contains("textDocument")) return;
      const json& td = p["textDocument"];
      if (!td.is_object() || !td.value("uri", json()).is_string() ||
          !td.value("text", json()).is_string())
        return;
      const std::string path = path_of(td["uri"]);
      if (path.empty()) return;
      std::lock_guard<std::mutex> lock(buffers_mu_);
      set_buffer(path, td["uri"], td["text"], version_of(td));
    });
    on_notification("textDocument/didChange", [this](const json& p) {
      if (!p.is_object() || !p.contains("textDocument") || !p.contains("contentChanges")) return;
      const json& td = p["textDocument"];
      const json& changes = p["contentChanges"];
      if (!td.is_object() || !td.value("uri", json()).is_string() || !changes.is_array()) return;
      const std::string path = path_of(td["uri"]);
      if (path.empty()) return;
      bool partial = false, open = false;
      {
        std::lock_guard<std::mutex> lock(buffers_mu_);
        // A document never opened (a client error in LSP) gets no buffer: one made here stood
        // in for the file on disk for the rest of the session, and no didClose would drop it.
        open = buffers_.contains(path);
        // Full sync: each change carries the whole text; the last one wins.
        if (open)
          for (const auto& ch : changes) {
            if (ch.is_object() && ch.contains("range")) partial = true;
            if (ch.is_object() && ch.value("text", json()).is_string() && !ch.contains("range"))
              set_buffer(path, td["uri"], ch["text"], version_of(td));
          }
      }
      if (!open) {
        log("warning",
            "textDocument/didChange for a document that is not open ignored: " + rel_path(path));
        return;
      }
      // The server asks for full sync (change: 1); a range edit is ignored, and the client is
      // told so instead of answers silently drifting from its buffer (hostile probe 2026-12-05).
      if (partial)
        log("warning",
            "textDocument/didChange with a range ignored (this server takes whole "
            "documents: textDocumentSync.change = 1)");
    });
    on_notification("textDocument/didClose", [this](const json& p) {
      if (!p.is_object() || !p.contains("textDocument") || !p["textDocument"].is_object()) return;
      const json& td = p["textDocument"];
      if (!td.contains("uri") || !td["uri"].is_string()) return;
      const std::string uri = td["uri"];
      const std::string path = path_of(uri);
      {
        std::lock_guard<std::mutex> lock(buffers_mu_);
        auto it = buffers_.find(path);
        if (it == buffers_.end()) return;
        // Closing one of two URIs of a file kept the other's unsaved text away from every
        // answer (hostile probe 2026-12-06).
        it->second.uris.erase(uri);
        if (!it->second.uris.empty()) {
          if (it->second.uri == uri) it->second.uri = *it->second.uris.begin();
          return;
        }
        buffers_.erase(it);
        closed_.closed(path, ++doc_epoch_);
        // Notifications run on the reader thread, which also stamps requests: every request
        // stamped so far is pending or answered.
        closed_.prune(endpoint_.oldest_pending_stamp().value_or(doc_epoch_.load()));
      }
      std::lock_guard<std::mutex> lock(outlines_mu_);
      std::erase_if(outlines_, [&](const auto& kv) { return kv.second.path == path; });
    });
    on_notification("textDocument/didSave", [](const json&) {});

    on_request("textDocument/documentSymbol", [this](jsonrpc::Context& c) {
      const json& p = params_object(c);
      std::string uri = doc_uri(p);
      std::string text = text_of(uri);
      std::string rel = rel_path(path_of(uri));
      auto lines = server::text_lines(text);
      const auto defs_kept = outline(rel, text);
      const std::vector<RepoDefinition>& defs = *defs_kept;
      // Nest by scope: a definition goes under the closest earlier one whose symbol prefixes it.
      json out = json::array();
      auto make = [&](const RepoDefinition& d) {
        json s = {{"name", d.name},
                  {"kind", symbol_kind(d.kind)},
                  {"range", range_of(d, lines)},
                  {"selectionRange", selection_of(d, lines)},
                  {"children", json::array()}};
        if (!d.signature.empty()) s["detail"] = d.signature;
        return s;
      };
      // Build a tree of indices first.
      // Definitions come in source order, so the earlier ones that still enclose definition i
      // form a stack (one that ends before i starts encloses nothing after it either); the
      // parent is the innermost of them whose symbol prefixes i's. Scanning every earlier
      // definition took 3.2 s for 20,000 top-level ones.
      auto is_parent = [&](size_t j, size_t i) {
        const std::string& a = defs[j].symbol;
        const std::string& b = defs[i].symbol;
        return b.size() > a.size() && b[a.size()] == '.' && b.compare(0, a.size(), a) == 0 &&
               defs[i].start_line >= defs[j].start_line && defs[i].end_line <= defs[j].end_line;
      };
      std::vector<int> parent(defs.size(), -1);
      std::vector<size_t> open;
      for (size_t i = 0; i < defs.size(); ++i) {
        c.check_cancelled();
        while (!open.empty() && defs[open.back()].end_line < defs[i].start_line) open.pop_back();
        for (size_t s = open.size(); s-- > 0;)
          if (is_parent(open[s], i)) {
            parent[i] = static_cast<int>(open[s]);
            break;
          }
        open.push_back(i);
      }
      std::vector<json> nodes;
      for (const auto& d : defs) nodes.push_back(make(d));
      for (int i = static_cast<int>(defs.size()) - 1; i >= 0; --i) {
        if (parent[i] < 0) continue;
        auto& ch = nodes[parent[i]]["children"];
        ch.insert(ch.begin(), std::move(nodes[i]));
      }
      for (size_t i = 0; i < defs.size(); ++i)
        if (parent[i] < 0) out.push_back(std::move(nodes[i]));
      return out;
    });

    on_request("workspace/symbol", [this](jsonrpc::Context& c) {
      const json& p = params_object(c);
      if (p.contains("query") && !p["query"].is_string())
        throw RpcError(code::kInvalidParams, "query must be a string");
      std::string query = p.value("query", "");
      if (query.size() > 1024) throw RpcError(code::kInvalidParams, "query longer than 1024 bytes");
      std::string q = lower(query);
      // Every workspace folder's symbols: each folder's graph, the open buffers in place of
      // their files, each definition with the root its path is relative to.
      struct Sym {
        RepoDefinition d;
        double score;
        server::Root* root;
      };
      std::vector<Sym> syms;
      auto consider = [&](const RepoDefinition& d, server::Root* r) {
        if (d.kind == "module") return;
        std::string name = lower(d.name), symbol = lower(d.symbol);
        double s = -1;
        if (q.empty())
          s = 1;
        else if (name == q)
          s = 4;
        else if (name.starts_with(q))
          s = 3;
        else if (symbol.find(q) != std::string::npos)
          s = 2;
        else if (subsequence(q, symbol))
          s = 1;
        if (s > 0) syms.push_back({d, s + d.rank, r});
      };
      std::set<std::string> open_paths;  // absolute
      for (const auto& [path, text] : open_buffers_by_path()) {
        open_paths.insert(path);
        server::Root* r = served_root_of(path);
        RootScope in(r);
        const auto defs = outline(rel_path(path), text);  // held: see candidates()
        for (const auto& d : *defs) consider(d, r);
      }
      std::vector<server::Root*> roots = ws_->roots();
      std::map<server::Root*, std::shared_ptr<RepoGraph>> graphs;
      for (server::Root* r : roots) {
        RootScope in(r);
        std::shared_ptr<RepoGraph> g;
        // One folder that cannot be mapped (deleted, or a pseudo file system) is skipped with a
        // warning: it failed the request for every folder (hostile probe 2026-12-06).
        try {
          g = root().graph([&c] { return c.cancelled(); });
        } catch (const CancelledError&) {
          throw;
        } catch (const Error& e) {
          log("warning",
              "workspace/symbol: skipping folder " + r->path().string() + ": " + e.what());
          continue;
        }
        graphs[r] = g;
        std::lock_guard<std::mutex> lock(root().graph_mutex());
        for (const auto& d : g->definitions())
          if (!open_paths.count((r->path() / d.path).string())) consider(d, r);
      }
      std::stable_sort(syms.begin(), syms.end(),
                       [](const Sym& a, const Sym& b) { return a.score > b.score; });
      json out = json::array();
      std::set<std::string> seen;
      auto add = [&](const RepoDefinition& d, server::Root* r) {
        RootScope in(r);
        std::string key =
            (root().path() / d.path).string() + ":" + std::to_string(d.start_line) + ":" + d.symbol;
        if (!seen.insert(key).second || out.size() >= kMaxResults) return;
        json s = {{"name", d.symbol}, {"kind", symbol_kind(d.kind)}, {"location", location(d)}};
        size_t dot = d.symbol.rfind('.');
        if (dot != std::string::npos) s["containerName"] = d.symbol.substr(0, dot);
        out.push_back(std::move(s));
      };
      for (size_t i = 0; i < syms.size() && i < 100; ++i) add(syms[i].d, syms[i].root);
      // Semantic matches from each folder's index, once it is built (never block the editor on
      // indexing). A query the model reads nothing of (white space, emoji only) has none, quietly
      // (checked at the first built index, whose model is loaded): an editor sends one per
      // keystroke, and each logged a warning.
      std::optional<bool> semantic;
      for (server::Root* r : roots) {
        RootScope in(r);
        if (query.empty() || !root().indexed() || !graphs.count(r)) continue;  // skipped above
        if (!semantic) {
          try {
            check_query(*ws_->embedder(), query, SearchMode::Hybrid);
            semantic = true;
          } catch (const InvalidArgument&) {
            semantic = false;
          }
        }
        if (!*semantic) break;
        try {
          SearchOptions so;
          so.top_k = 20;
          so.filter.type_not = {"md", "rst", "txt"};
          so.cancelled = [&c] { return c.cancelled(); };
          const auto& g = graphs[r];
          const std::shared_ptr<Index> index = root().index();  // held through the loop
          std::lock_guard<std::mutex> lock(root().graph_mutex());
          for (const Hit& h : index->search(query, so)) {
            // Hit paths are relative to the index's root, the graph's to the folder, which may
            // lie below it (a folder inside a git work tree, or under an indexed folder): every
            // semantic match was dropped there (hostile probe 2026-12-07).
            const fs::path abs = index->root() / h.path;
            const fs::path rel = abs.lexically_relative(r->path());
            if (h.symbol.empty() || rel.empty() || *rel.begin() == ".." ||
                open_paths.count(abs.string()))
              continue;
            long di = g->definition_at(rel.generic_string(), h.start_line);
            if (di < 0 || g->definitions()[di].kind == "module") continue;
            add(g->definitions()[di], r);
          }
        } catch (const CancelledError&) {
          throw;  // answered -32800 by the endpoint
        } catch (const std::exception& e) {
          log("warning", std::string("workspace/symbol: semantic search failed: ") + e.what());
        }
      }
      return out;
    });

    on_request("textDocument/definition", [this](jsonrpc::Context& c) {
      Cursor cur = cursor(params_object(c));
      if (cur.word.empty()) return json(nullptr);
      auto g = root().graph([&c] { return c.cancelled(); });
      std::lock_guard<std::mutex> lock(root().graph_mutex());
      json out = json::array();
      for (const Def& d : candidates(cur.word, cur.rel, *g)) {
        out.push_back(location(d.d));
        if (out.size() >= 20) break;
      }
      return out.empty() ? json(nullptr) : out;
    });

    on_request("textDocument/references", [this](jsonrpc::Context& c) {
      const json& p = params_object(c);
      Cursor cur = cursor(p);
      if (cur.word.empty()) return json(nullptr);
      bool include_decl = false;
      if (p.contains("context") && p["context"].is_object() &&
          p["context"].contains("includeDeclaration")) {
        const json& d = p["context"]["includeDeclaration"];
        if (!d.is_boolean())
          throw RpcError(code::kInvalidParams, "context.includeDeclaration must be a boolean");
        include_decl = d.get<bool>();
      }
      auto g = root().graph([&c] { return c.cancelled(); });
      std::lock_guard<std::mutex> lock(root().graph_mutex());
      auto targets = candidates(cur.word, cur.rel, *g);
      // Files that mention the name: graph edges into the targets, plus this document.
      std::set<std::string> files{cur.rel};
      // The declarations' names: (path, line, byte column). Only the name itself is left out
      // without includeDeclaration; a whole line was (a recursive call on the declaration's
      // line, `fn fact(n) { ... fact(n - 1) }`, was missing; hostile probe 2026-12-06).
      std::set<std::tuple<std::string, int, size_t>> decls;
      for (const Def& t : targets) {
        decls.insert({t.d.path, t.d.name_line, static_cast<size_t>(t.d.name_column)});
        // A definition from an open buffer has the callers of its file's node: opening a file
        // without editing it made its references [] (hostile probe 2026-12-06).
        const long node = t.graph_index >= 0 ? t.graph_index : graph_node_of(*g, t.d);
        if (node >= 0)
          for (size_t e : g->incoming(static_cast<size_t>(node)))
            files.insert(g->definitions()[g->edges()[e].from].path);
        files.insert(t.d.path);
      }
      // At most kMaxReferences, in time linear in the files' length (a minified line with
      // 40,000 mentions took 14 s: every mention rescanned the line for its UTF-16 column), and
      // cancellable between lines.
      json out = json::array();
      for (const auto& f : files) {
        std::string uri = abs_uri(f);
        std::string text = text_of(uri);
        auto lines = server::text_lines(text);
        for (size_t l = 0; l < lines.size() && out.size() < kMaxReferences; ++l) {
          c.check_cancelled();
          std::string_view line = lines[l];
          size_t at = 0;  // byte offset whose UTF-16 column is col
          int col = 0;
          for (size_t pos = server::find_word(line, cur.word);
               pos != std::string_view::npos && out.size() < kMaxReferences;
               pos = server::find_word(line, cur.word, pos + cur.word.size())) {
            const size_t end = pos + cur.word.size();
            if (!include_decl && decls.count({f, static_cast<int>(l) + 1, pos})) continue;
            col += server::utf16_column(line.substr(at), pos - at);
            const int c0 = col;
            col += server::utf16_column(line.substr(pos), cur.word.size());
            at = end;
            out.push_back({{"uri", uri},
                           {"range",
                            {{"start", {{"line", l}, {"character", c0}}},
                             {"end", {{"line", l}, {"character", col}}}}}});
          }
        }
      }
      return out;
    });

    on_request("textDocument/hover", [this](jsonrpc::Context& c) {
      Cursor cur = cursor(params_object(c));
      std::optional<RepoDefinition> def;
      if (!cur.word.empty()) {
        auto g = root().graph([&c] { return c.cancelled(); });
        std::lock_guard<std::mutex> lock(root().graph_mutex());
        auto cands = candidates(cur.word, cur.rel, *g);
        if (!cands.empty()) def = cands.front().d;
      }
      if (!def) def = enclosing(cur);
      if (!def) return json(nullptr);
      std::string lang = def->language;
      std::string md =
          "```" + lang + "\n" + (def->signature.empty() ? def->symbol : def->signature) + "\n```\n";
      md += "*" + def->kind + "* `" + escape_name(def->symbol) + "` — " + escape_name(def->path) +
            ":" + std::to_string(def->name_line) + "\n";
      if (!def->doc.empty()) md += "\n" + def->doc + "\n";
      return json{{"contents", {{"kind", "markdown"}, {"value", md}}}};
    });

    on_request("textDocument/prepareCallHierarchy", [this](jsonrpc::Context& c) {
      Cursor cur = cursor(params_object(c));
      auto g = root().graph([&c] { return c.cancelled(); });
      std::lock_guard<std::mutex> lock(root().graph_mutex());
      long node = -1;
      if (!cur.word.empty())
        for (const Def& d : candidates(cur.word, cur.rel, *g))
          if ((node = d.graph_index >= 0 ? d.graph_index : graph_node_of(*g, d.d)) >= 0) break;
      if (node < 0) node = g->definition_at(cur.rel, cur.line + 1);
      if (node < 0) return json(nullptr);
      return json::array({item(*g, static_cast<size_t>(node))});
    });
    on_request("callHierarchy/incomingCalls", [this](jsonrpc::Context& c) {
      auto g = root().graph([&c] { return c.cancelled(); });
      std::lock_guard<std::mutex> lock(root().graph_mutex());
      long node = item_node(*g, params_object(c));
      if (node < 0) return json(nullptr);
      json out = json::array();
      for (size_t e : g->incoming(static_cast<size_t>(node))) {
        const RepoEdge& edge = g->edges()[e];
        if (edge.line == 0) continue;  // an import, not a call
        out.push_back({{"from", item(*g, edge.from)}, {"fromRanges", mention_ranges(*g, edge)}});
        if (out.size() >= kMaxResults) break;
      }
      return out;
    });
    on_request("callHierarchy/outgoingCalls", [this](jsonrpc::Context& c) {
      auto g = root().graph([&c] { return c.cancelled(); });
      std::lock_guard<std::mutex> lock(root().graph_mutex());
      long node = item_node(*g, params_object(c));
      if (node < 0) return json(nullptr);
      json out = json::array();
      for (size_t e : g->outgoing(static_cast<size_t>(node))) {
        const RepoEdge& edge = g->edges()[e];
        if (edge.line == 0) continue;
        out.push_back({{"to", item(*g, edge.to)}, {"fromRanges", mention_ranges(*g, edge)}});
        if (out.size() >= kMaxResults) break;
      }
      return out;
    });
  }

  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  static bool subsequence(const std::string& q, const std::string& s) {
    size_t i = 0;
    for (char c : s)
      if (i < q.size() && c == q[i]) ++i;
    return i == q.size();
  }

  ServerOptions opts_;
  jsonrpc::FdSource in_;
  jsonrpc::FdSink out_;
  jsonrpc::Endpoint endpoint_;
  std::unique_ptr<server::Workspace> ws_;
  std::unique_ptr<server::Watcher> watcher_;
  std::thread indexer_;  // the first update, in the background after "initialized"
  std::mutex buffers_mu_;
  std::map<std::string, Buffer> buffers_;
  // Counts document changes (written on the reader thread under buffers_mu_, read by the
  // endpoint's stamper): each request is stamped with it as it is read.
  std::atomic<uint64_t> doc_epoch_{0};
  server::ClosedDocuments closed_;  // closing epochs a pending request may need
  struct Outline {
    std::string text;  // what defs were made from
    std::shared_future<OutlineDefs> defs;
    uint64_t used = 0;   // outline_clock_ at the last use
    uint64_t entry = 0;  // outline_clock_ when entered: which request's making it is
    std::string path;    // the document's absolute path
  };
  uint64_t outline_clock_ = 0;  // under outlines_mu_
  static constexpr size_t kMaxOutlines = 64;
  std::mutex outlines_mu_;
  std::map<std::string, Outline> outlines_;  // by folder + '\n' + path relative to it
  std::atomic<bool> initialized_{false}, shutdown_{false}, exit_requested_{false}, stopping_{false};
  std::vector<std::string> skipped_folders_;  // initialize's folders not served (logged once)
  bool implicit_root_ = false;  // the current folder is served because no folder was given
  // Served root (canonical) -> the path the client named it by, where they differ (a link);
  // written by initialize only, before any other request.
  std::map<std::string, fs::path> client_root_;
};

}  // namespace

int serve_lsp(const ServerOptions& opts, int in_fd, int out_fd) {
  std::signal(SIGPIPE, SIG_IGN);
  LspServer server(opts, in_fd, out_fd);
  return server.run();
}

}  // namespace ripvec
