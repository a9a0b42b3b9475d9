// The tools of `ripvec mcp`. Each declares its JSON Schema (additionalProperties: false, bounds on
// every number and string) and checks its arguments against the same bounds before running, so
// that a wrong type or a huge value is a readable tool error, never a crash.
#include "server/mcp_tools.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string_view>

#include "ripvec/corpus.hpp"
#include "ripvec/error.hpp"
#include "server/duplicates.hpp"
#include "server/hit_format.hpp"

namespace ripvec::server {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxQueryBytes = 16 * 1024;
constexpr size_t kMaxPathBytes = 4096;
constexpr int kMaxTopK = 200;
constexpr int kMaxTokenBudget = 100000;
constexpr int kMaxPairs = 1000;

// Prose and documentation, as file types of the index (`ripvec --type-list`).
const std::vector<std::string> kProseTypes = {"md", "rst", "txt"};

// ---- argument checking --------------------------------------------------------------------

class Args {
 public:
  // Reads `args` in place (kept by reference: it outlives the Args; a copy of a large request
  // was one of three copies per call).
  Args(const json& args, const json& schema) : args_(args.is_null() ? empty() : args) {
    if (!args_.is_object()) throw InvalidArgument("arguments must be an object");
    for (const auto& [k, v] : args_.items())
      if (!schema["properties"].contains(k)) throw InvalidArgument("unknown argument '" + k + "'");
  }
  std::string str(const std::string& k, bool required, size_t max_bytes,
                  const std::string& def = {}) const {
    if (!args_.contains(k) || args_[k].is_null()) {
      if (required) throw InvalidArgument("missing required argument '" + k + "'");
      return def;
    }
    if (!args_[k].is_string()) throw InvalidArgument("argument '" + k + "' must be a string");
    const std::string& s = args_[k].get_ref<const std::string&>();
    if (s.size() > max_bytes)
      throw InvalidArgument("argument '" + k + "' is longer than " + std::to_string(max_bytes) +
                            " bytes");
    if (required && s.find_first_not_of(" \t\r\n") == std::string::npos)
      throw InvalidArgument("argument '" + k + "' must not be empty");
    // No path, glob or query holds one, and messages naming the value ended at it.
    if (s.find('\0') != std::string::npos)
      throw InvalidArgument("argument '" + k + "' must not contain a NUL character");
    return s;
  }
  int integer(const std::string& k, int def, int lo, int hi) const {
    if (!args_.contains(k) || args_[k].is_null()) return def;
    const json& v = args_[k];
    double d;
    if (v.is_number_integer())
      d = static_cast<double>(v.get<int64_t>());
    else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>())
      d = v.get<double>();
    else
      throw InvalidArgument("argument '" + k + "' must be an integer");
    if (!(d >= lo && d <= hi))
      throw InvalidArgument("argument '" + k + "' must be between " + std::to_string(lo) + " and " +
                            std::to_string(hi));
    return static_cast<int>(d);
  }
  double number(const std::string& k, double def, double lo, double hi) const {
    if (!args_.contains(k) || args_[k].is_null()) return def;
    if (!args_[k].is_number()) throw InvalidArgument("argument '" + k + "' must be a number");
    double d = args_[k].get<double>();
    if (!std::isfinite(d) || d < lo || d > hi) {
      char buf[160];
      std::snprintf(buf, sizeof(buf), "argument '%s' must be between %g and %g", k.c_str(), lo, hi);
      throw InvalidArgument(buf);
    }
    return d;
  }
  bool boolean(const std::string& k, bool def) const {
    if (!args_.contains(k) || args_[k].is_null()) return def;
    if (!args_[k].is_boolean()) throw InvalidArgument("argument '" + k + "' must be a boolean");
    return args_[k].get<bool>();
  }

 private:
  static const json& empty() {
    static const json kEmpty = json::object();
    return kEmpty;
  }
  const json& args_;
};

json object_schema(json properties, std::vector<std::string> required = {}) {
  json s = {
      {"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = required;
  return s;
}

json root_prop() {
  return {{"type", "string"},
          {"maxLength", kMaxPathBytes},
          {"description",
           "Project root (or a path below it) to use; default: the first served root. A "
           "directory outside the served roots is opened as a new root."}};
}

json search_input_schema(bool prose) {
  json props = {
      {"query",
       {{"type", "string"},
        {"minLength", 1},
        {"maxLength", kMaxQueryBytes},
        {"description", prose ? "What to look for in the documentation, in natural language"
                              : "What the code does, in natural language or identifiers"}}},
      {"top_k",
       {{"type", "integer"},
        {"minimum", 1},
        {"maximum", kMaxTopK},
        {"default", 10},
        {"description", "How many results"}}},
      {"mode",
       {{"type", "string"},
        {"enum", {"hybrid", "semantic", "keyword"}},
        {"default", "hybrid"},
        {"description", "hybrid (semantic + BM25 fused), semantic, or keyword (BM25)"}}},
      {"path_glob",
       {{"type", "string"},
        {"maxLength", kMaxPathBytes},
        {"description",
         "Only files matching this glob, relative to the root (e.g. 'src/**', '*.{c,h}')"}}},
      {"root", root_prop()}};
  if (!prose)
    props["language"] = {{"type", "string"},
                         {"maxLength", 64},
                         {"description",
                          "Only this language or file type: python, javascript, typescript, go, "
                          "rust, java, c, cpp, ruby, ... or a type of `ripvec --type-list`"}};
  return object_schema(std::move(props), {"query"});
}

json results_output_schema() {
  return object_schema({{"results", {{"type", "array"}, {"items", hit_schema()}}},
                        {"root", {{"type", "string"}}},
                        {"query", {{"type", "string"}}}},
                       {"results"});
}

std::string type_for_language(const std::string& lang) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"python", "py"}, {"javascript", "js"}, {"typescript", "ts"}, {"tsx", "ts"},
      {"golang", "go"}, {"c++", "cpp"},       {"markdown", "md"},   {"shell", "sh"},
      {"bash", "sh"},   {"text", "txt"},      {"csharp", "cs"},     {"c#", "cs"}};
  std::string l;
  for (char c : lang) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  for (const auto& [k, v] : kMap)
    if (l == k) return v;
  return l;
}

ProgressFn progress_of(ToolCall& call) {
  return call.progress;
}

// Results as Markdown + structured JSON.
ToolResult hits_result(const std::vector<Hit>& hits, const std::string& root,
                       const std::string& what) {
  ToolResult r;
  json results = json::array();
  for (const Hit& h : hits) results.push_back(hit_json(h, root));
  r.structured = {{"results", std::move(results)}, {"root", root}, {"query", what}};
  if (hits.empty()) {
    r.text = "No results for " + what + " in " + escape_name(root) + ".\n";
    return r;
  }
  r.text =
      std::to_string(hits.size()) + " results for " + what + " in " + escape_name(root) + "\n\n";
  for (size_t i = 0; i < hits.size(); ++i) r.text += hit_markdown(hits[i], i + 1);
  return r;
}

// Hits of a served root. After a failed update (a full disk; the file watcher tries again on
// its own) the text says the index may be out of date: results from it were given with no word
// of it, only index_status told (hostile probe 2026-12-07).
ToolResult hits_result(const std::vector<Hit>& hits, const Root& served, const std::string& root,
                       const std::string& what) {
  ToolResult r = hits_result(hits, root, what);
  if (const std::string why = served.last_error(); !why.empty())
    r.text = "Note: the index may be out of date: its last update failed (" + why +
             "); it is tried again automatically.\n\n" + r.text;
  return r;
}

ToolResult run_search(const json& a, ToolCall& call, bool prose, const json& schema) {
  Args args(a, schema);
  const std::string query = args.str("query", true, kMaxQueryBytes);
  SearchOptions so;
  so.top_k = static_cast<size_t>(args.integer("top_k", 10, 1, kMaxTopK));
  so.mode = parse_search_mode(args.str("mode", false, 16, "hybrid"));
  std::string glob = args.str("path_glob", false, kMaxPathBytes);
  // As the CLI's -g: "" and "!" (an exclude of nothing) searched every file, silently.
  if (a.is_object() && a.contains("path_glob") && !a["path_glob"].is_null() &&
      (glob.empty() || glob == "!"))
    throw InvalidArgument(
        "argument 'path_glob' must not be empty (leave it out to search every file)");
  if (!glob.empty()) so.filter.globs.push_back(glob);
  if (prose) {
    so.filter.types = kProseTypes;
  } else {
    std::string lang = args.str("language", false, 64);
    // As path_glob: "" is refused, not read as "every language" (hostile probe 2026-12-05).
    if (a.is_object() && a.contains("language") && !a["language"].is_null() && lang.empty())
      throw InvalidArgument(
          "argument 'language' must not be empty (leave it out to search every language)");
    if (!lang.empty())
      so.filter.types.push_back(type_for_language(lang));
    else
      so.filter.type_not = kProseTypes;
  }
  fs::path named;
  Root& root = call.ws.root(args.str("root", false, kMaxPathBytes), &named);
  root.ensure_indexed(progress_of(call), call.cancelled);
  so.cancelled = call.cancelled;
  auto index = root.index();
  so.filter.paths = search_scope(named, root, *index);
  std::vector<Hit> hits = index->search(query, so);
  return hits_result(hits, root, index->root().string(), "'" + query + "'");
}

ToolResult run_find_similar(const json& a, ToolCall& call, const json& schema) {
  Args args(a, schema);
  const std::string file = args.str("file_path", true, kMaxPathBytes);
  const int line = args.integer("line", 0, 1, 100000000);
  if (line == 0) throw InvalidArgument("missing required argument 'line'");
  SearchOptions so;
  so.top_k = static_cast<size_t>(args.integer("top_k", 10, 1, kMaxTopK));
  so.mode = SearchMode::Semantic;
  std::string root_hint = args.str("root", false, kMaxPathBytes);
  const bool root_named = !root_hint.empty();
  if (!root_named && fs::path(file).is_absolute()) root_hint = file;
  fs::path named;
  Root& root = call.ws.root(root_hint, &named);
  root.ensure_indexed(progress_of(call), call.cancelled);
  so.cancelled = call.cancelled;
  auto index = root.index();
  // A root the client named restricts the similar chunks to it; the file's own path does not.
  if (root_named) so.filter.paths = search_scope(named, root, *index);
  // A relative file_path is relative to the root, as the schema says and get_repo_map's
  // focus_file is: the root named, else the served root. It was taken relative to the index's
  // root (a served root below its git root shares that root's index), so "a.cpp" of
  // --root repo/sub was "not indexed" and only "sub/a.cpp" worked (hostile probe 2026-12-06);
  // that spelling is still accepted when the first names no file.
  fs::path target = file;
  std::error_code ec;
  if (target.is_relative()) {
    const fs::path base = root_named && fs::is_directory(named, ec) ? named : root.path();
    if (fs::exists(base / target, ec)) target = base / target;
  }
  std::vector<Hit> hits = index->find_similar(target, line, so);
  return hits_result(hits, root, index->root().string(),
                     "code similar to " + file + ":" + std::to_string(line));
}

ToolResult run_find_duplicates(const json& a, ToolCall& call, const json& schema) {
  Args args(a, schema);
  const double threshold = args.number("threshold", 0.85, -1.0, 1.0);
  const int max_pairs = args.integer("max_pairs", 20, 1, kMaxPairs);
  fs::path named;
  Root& root = call.ws.root(args.str("root", false, kMaxPathBytes), &named);
  root.ensure_indexed(progress_of(call), call.cancelled);
  auto index = root.index();
  auto snap = index->snapshot();
  // Restricted as a search is: to a root named below the served one, else to the index's own
  // scope (a served root below its git root shares that root's index). Both covered the whole
  // index (hostile probe 2026-12-06: pairs from outside --root tree/sub).
  std::vector<std::string> scope = search_scope(named, root, *index);
  if (scope.empty() && !index->scope().empty()) scope = {index->scope()};
  // Hidden files are indexed but not searched by default; duplicates follow the search's rule
  // (SearchFilter::paths): a component starting with '.' below the scope hides a file, the
  // scope's own components were named and do not (a hidden folder named as root had 0 pairs).
  auto keep = [&scope](const Hit& h) {
    auto hidden_below = [&h](size_t from) {
      const std::string_view rest = std::string_view(h.path).substr(from);
      return rest.starts_with(".") || rest.find("/.") != std::string_view::npos;
    };
    if (scope.empty()) return !hidden_below(0);
    for (const std::string& s : scope) {
      if (s.empty()) return !hidden_below(0);
      if (h.path == s) return true;
      if (h.path.size() > s.size() && h.path.starts_with(s) && h.path[s.size()] == '/')
        return !hidden_below(s.size() + 1);
    }
    return false;
  };
  size_t compared = 0;
  auto pairs = find_duplicates(*snap, static_cast<float>(threshold), static_cast<size_t>(max_pairs),
                               keep, call.cancelled, &compared);
  ToolResult r;
  json out = json::array();
  const std::string root_s = index->root().string();
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f", threshold);
  r.text = std::to_string(pairs.size()) + " pairs of chunks with similarity >= " + buf + " in " +
           escape_name(root_s) + " (" + std::to_string(compared) + " chunks compared)\n\n";
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& p = pairs[i];
    out.push_back(
        {{"similarity", p.similarity}, {"a", hit_json(p.a, root_s)}, {"b", hit_json(p.b, root_s)}});
    std::snprintf(buf, sizeof(buf), "%.3f", p.similarity);
    r.text += "## Pair " + std::to_string(i + 1) + " · similarity " + buf + "\n" +
              hit_markdown(p.a, 1) + hit_markdown(p.b, 2);
  }
  r.structured = {{"pairs", std::move(out)}, {"root", root_s}, {"chunks", compared}};
  return r;
}

ToolResult run_repo_map(const json& a, ToolCall& call, const json& schema) {
  Args args(a, schema);
  std::string focus = args.str("focus_file", false, kMaxPathBytes);
  const int budget = args.integer("token_budget", 1500, 64, kMaxTokenBudget);
  std::string root = args.str("root", false, kMaxPathBytes);
  if (root.empty() && !focus.empty() && fs::path(focus).is_absolute()) root = focus;
  ToolResult r;
  r.text = repo_map_markdown(call.ws, root, focus, static_cast<size_t>(budget), call.cancelled);
  return r;
}

ToolResult run_index_status(const json& a, ToolCall& call, const json& schema) {
  Args args(a, schema);
  std::string root = args.str("root", false, kMaxPathBytes);
  ToolResult r;
  r.structured = status_json(call.ws, root);
  r.text = status_markdown(r.structured);
  return r;
}

ToolResult run_reindex(const json& a, ToolCall& call, const json& schema) {
  Args args(a, schema);
  const bool full = args.boolean("full", false);
  Root& root = call.ws.root(args.str("root", false, kMaxPathBytes));
  UpdateStats st = root.update(progress_of(call), full, call.cancelled);
  ToolResult r;
  char buf[512];  // the counts; the root (escaped: up to 4 times its bytes) goes in as a string
  std::snprintf(buf, sizeof(buf),
                ": %zu files seen, %zu added, %zu modified, %zu removed, %zu unchanged; "
                "%zu chunks embedded, %zu total; %.2f s\n",
                st.files_seen, st.files_added, st.files_modified, st.files_removed,
                st.files_unchanged, st.chunks_embedded, st.chunks_total, st.total_s);
  r.text = std::string(full ? "Rebuilt " : "Updated ") + escape_name(root.path().string()) + buf;
  for (const auto& w : st.warnings) r.text += "warning: " + escape_name(w) + "\n";
  r.structured = {{"root", root.path().string()},
                  {"files_seen", st.files_seen},
                  {"added", st.added},
                  {"modified", st.modified},
                  {"removed", st.removed},
                  {"chunks_embedded", st.chunks_embedded},
                  {"chunks_total", st.chunks_total},
                  {"seconds", st.total_s},
                  {"warnings", st.warnings}};
  return r;
}

std::vector<Tool> make_tools() {
  std::vector<Tool> t;
  {
    json schema = search_input_schema(false);
    t.push_back({"search_code", "Search code by meaning",
                 "Semantic + keyword search over the source code of the project (functions, "
                 "classes, methods...). Returns the best matching definitions with their file, "
                 "lines, symbol and code. Use it to find where something is implemented when "
                 "you do not know the exact identifiers.",
                 schema, results_output_schema(),
                 [schema](const json& a, ToolCall& c) { return run_search(a, c, false, schema); }});
  }
  {
    json schema = search_input_schema(true);
    t.push_back({"search_text", "Search documentation by meaning",
                 "Semantic + keyword search over the project's prose: Markdown, reStructuredText "
                 "and text files (READMEs, docs, changelogs).",
                 schema, results_output_schema(),
                 [schema](const json& a, ToolCall& c) { return run_search(a, c, true, schema); }});
  }
  {
    json schema = object_schema(
        {{"file_path",
          {{"type", "string"},
           {"minLength", 1},
           {"maxLength", kMaxPathBytes},
           {"description", "File, relative to the root or absolute"}}},
         {"line", {{"type", "integer"}, {"minimum", 1}, {"description", "1-based line"}}},
         {"top_k", {{"type", "integer"}, {"minimum", 1}, {"maximum", kMaxTopK}, {"default", 10}}},
         {"root", root_prop()}},
        {"file_path", "line"});
    t.push_back({"find_similar", "Find code similar to a location",
                 "Uses the chunk (function, class...) at file_path:line as the query and returns "
                 "the most similar chunks elsewhere (the chunk itself excluded).",
                 schema, results_output_schema(),
                 [schema](const json& a, ToolCall& c) { return run_find_similar(a, c, schema); }});
  }
  {
    json schema = object_schema(
        {{"threshold",
          {{"type", "number"},
           {"minimum", -1},
           {"maximum", 1},
           {"default", 0.85},
           {"description", "Minimum cosine similarity of a pair"}}},
         {"max_pairs",
          {{"type", "integer"}, {"minimum", 1}, {"maximum", kMaxPairs}, {"default", 20}}},
         {"root", root_prop()}});
    json pair = object_schema(
        {{"similarity", {{"type", "number"}}}, {"a", hit_schema()}, {"b", hit_schema()}},
        {"similarity", "a", "b"});
    json out = object_schema({{"pairs", {{"type", "array"}, {"items", pair}}},
                              {"root", {{"type", "string"}}},
                              {"chunks", {{"type", "integer"}}}},
                             {"pairs"});
    t.push_back({"find_duplicates", "Find near-duplicate code",
                 "Pairs of chunks whose embeddings are at least `threshold` similar: copy-pasted "
                 "or near-identical code worth merging.",
                 schema, out, [schema](const json& a, ToolCall& c) {
                   return run_find_duplicates(a, c, schema);
                 }});
  }
  {
    json schema = object_schema(
        {{"focus_file",
          {{"type", "string"},
           {"maxLength", kMaxPathBytes},
           {"description", "Rank around this file (relative to the root or absolute)"}}},
         {"token_budget",
          {{"type", "integer"}, {"minimum", 64}, {"maximum", kMaxTokenBudget}, {"default", 1500}}},
         {"root", root_prop()}});
    t.push_back({"get_repo_map", "Repository map",
                 "A Markdown overview of the repository: files ranked by PageRank over the "
                 "definition/reference graph (personalised to focus_file), with the signatures "
                 "of their main definitions and their main callers and callees, within "
                 "token_budget tokens.",
                 schema, nullptr,
                 [schema](const json& a, ToolCall& c) { return run_repo_map(a, c, schema); }});
  }
  {
    json schema = object_schema({{"root", root_prop()}});
    t.push_back({"index_status", "Index status",
                 "For each served root (or the given one): where its index lives, the model, "
                 "files and chunks indexed, when it was last updated, files changed since, and "
                 "whether an update is running.",
                 schema, nullptr,
                 [schema](const json& a, ToolCall& c) { return run_index_status(a, c, schema); }});
  }
  {
    json schema =
        object_schema({{"root", root_prop()},
                       {"full",
                        {{"type", "boolean"},
                         {"default", false},
                         {"description", "Drop the stored index and rebuild it from scratch"}}}});
    t.push_back({"reindex", "Update the index",
                 "Brings the index up to date with the files on disk (incremental; full=true "
                 "rebuilds). Sends progress notifications when the request has a progressToken.",
                 schema, nullptr,
                 [schema](const json& a, ToolCall& c) { return run_reindex(a, c, schema); }});
  }
  return t;
}

}  // namespace

const std::vector<Tool>& mcp_tools() {
  static const std::vector<Tool> tools = make_tools();
  return tools;
}

const Tool* find_tool(const std::string& name) {
  for (const Tool& t : mcp_tools())
    if (t.name == name) return &t;
  return nullptr;
}

std::string repo_map_markdown(Workspace& ws, const std::string& root_hint, const std::string& focus,
                              size_t token_budget, const CancelFn& cancelled) {
  fs::path named;
  Root& root = ws.root(root_hint, &named);
  const std::vector<std::string> focus_list =
      focus.empty() ? std::vector<std::string>{} : std::vector<std::string>{focus};
  // A directory named below the served root is mapped on its own (built for this call, not
  // kept): the served root's map covered the whole tree (hostile probe 2026-12-06).
  std::error_code ec;
  if (!named.empty() && named != root.path() && fs::is_directory(named, ec)) {
    RepoMapOptions ro;
    ro.cancelled = cancelled;
    RepoGraph graph = RepoGraph::build(named, ro);
    if (!graph.rank(focus_list).empty())
      throw InvalidArgument("focus_file " + focus + " is not a source file of " + named.string());
    return graph.render(token_budget, &escape_name);
  }
  auto graph = root.graph(cancelled);
  std::lock_guard<std::mutex> lock(root.graph_mutex());
  // rank() takes the path as spelled, relative to the root or absolute below it.
  if (!graph->rank(focus_list).empty())
    throw InvalidArgument("focus_file " + focus + " is not a source file of " +
                          root.path().string());
  return graph->render(token_budget, &escape_name);
}

json status_json(Workspace& ws, const std::string& root_hint) {
  std::vector<Root*> roots;
  if (root_hint.empty())
    roots = ws.roots();
  else
    roots.push_back(&ws.root(root_hint));
  json out = json::array();
  for (Root* r : roots) {
    json j = {{"root", r->path().string()},
              {"updating", r->updating()},
              {"model_loaded", ws.embedder_ready()}};
    if (!r->last_error().empty()) j["last_error"] = r->last_error();
    try {
      IndexStatus st = r->index()->status();
      j["index_root"] = st.root.string();
      j["location"] = st.location.string();
      j["model"] = st.model_id;
      j["dim"] = st.dim;
      j["files"] = st.files;
      j["chunks"] = st.chunks;
      j["bytes"] = st.bytes;
      j["exists"] = st.exists;
      j["read_only"] = st.read_only;
      j["last_update_unix"] = st.last_update_unix;
      j["stale_files"] = st.stale.size();
      std::vector<std::string> sample(st.stale.begin(),
                                      st.stale.begin() + std::min<size_t>(st.stale.size(), 20));
      j["stale_sample"] = sample;
    } catch (const std::exception& e) {
      j["error"] = e.what();
    }
    out.push_back(std::move(j));
  }
  return json{{"roots", std::move(out)}};
}

std::string status_markdown(const json& status) {
  std::string s;
  for (const auto& r : status["roots"]) {
    s += "## " + escape_name(r["root"].get<std::string>()) + "\n";
    if (r.contains("error")) {
      s += "- error: " + escape_name(r["error"].get<std::string>()) + "\n";
      continue;
    }
    s += "- index: " + escape_name(r.value("location", std::string())) + "\n";
    s += "- model: " + r.value("model", std::string()) + " (dim " +
         std::to_string(r.value("dim", 0)) + ")\n";
    if (!r.value("exists", false)) {
      s += "- not indexed yet (the first search indexes it)\n";
    } else {
      std::time_t t = r.value("last_update_unix", int64_t{0});
      char when[64] = "";
      std::tm tm{};
      if (gmtime_r(&t, &tm)) std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
      s += "- " + std::to_string(r.value("files", 0)) + " files, " +
           std::to_string(r.value("chunks", 0)) + " chunks, " +
           std::to_string(r.value("bytes", uint64_t{0}) / 1024) + " KiB; updated " + when + "\n";
      s += "- files changed since: " + std::to_string(r.value("stale_files", 0)) + "\n";
    }
    if (r.value("updating", false)) s += "- an update is running\n";
    if (r.contains("last_error"))
      s += "- last update failed: " + escape_name(r["last_error"].get<std::string>()) + "\n";
  }
  return s;
}

}  // namespace ripvec::server
