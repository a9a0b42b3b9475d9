#include "flags.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <set>

#include "ripvec/error.hpp"

namespace ripvec::cli {

namespace {

// Flag values are checked as text, before CLI11 converts them: its integer conversion accepts
// "-1" for an unsigned option (wrapping to "all") and strtof accepts "nan" and "inf".

// A count: decimal digits only, no sign, no overflow, at most 2^32-1, at least `min`.
std::string check_count(const std::string& s, unsigned min, const char* expected) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
    return std::string("expected ") + expected + ", got '" + s + "'";
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno == ERANGE || v > std::numeric_limits<uint32_t>::max())
    return "'" + s + "' is too large";
  if (v < min) return "must be at least " + std::to_string(min);
  return {};
}

const CLI::Validator kPositiveCount(
    [](std::string& s) { return check_count(s, 1, "a positive whole number"); }, "");

// A number of context lines, 0 allowed (CLI11 alone took "-1" as 2^64-1, the whole result,
// and 99999999999999999999 as well).
const CLI::Validator kLineCount(
    [](std::string& s) { return check_count(s, 0, "a whole number of lines (0 or more)"); }, "");

// Worker threads: 0 (all cores) to 1024, the thread pool's bound (ThreadPool::kMaxThreads);
// `-j 100000` spent the user's process limit (no fork succeeded on the machine) and hung.
const CLI::Validator kThreadCount(
    [](std::string& s) {
      std::string e = check_count(s, 0, "a whole number of threads (0: all cores)");
      if (e.empty() && std::strtoull(s.c_str(), nullptr, 10) > 1024)
        e = "'" + s + "' is too many threads (at most 1024)";
      return e;
    },
    "");

// A finite number (no nan, inf, hex floats or trailing text) that a float holds: the option is
// a float, and 1e39 became inf after this check, failing only after the index update with
// "threshold must be a finite number".
const CLI::Validator kFiniteNumber(
    [](std::string& s) -> std::string {
      if (s.empty() || s.find_first_not_of("0123456789+-.eE") != std::string::npos)
        return "expected a finite number, got '" + s + "'";
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(s.c_str(), &end);
      // 1e-400 underflows to (about) 0 and 1e400 overflows: both are finite numbers, and said
      // "expected a finite number" (hostile probe 2026-12-05). The tiny one is a threshold like
      // 0; the huge one is out of range like 1e39.
      const bool overflow = errno == ERANGE && std::fabs(v) > 1.0;
      if (end != s.c_str() + s.size() || (!overflow && !std::isfinite(v)))
        return "expected a finite number, got '" + s + "'";
      if (overflow || std::fabs(v) > std::numeric_limits<float>::max())
        return "'" + s + "' is out of range (scores lie between -1 and 1)";
      return {};
    },
    "");

// A size for --max-filesize: parse_size's syntax, more than 0 bytes.
const CLI::Validator kPositiveSize(
    [](std::string& s) -> std::string {
      try {
        if (parse_size(s, nullptr) == 0)  // CLI11 names the flag
          return "0 would skip every file; give a positive size";
      } catch (const Error& e) {
        return e.what();
      }
      return {};
    },
    "");

// A repeatable option that takes exactly one value per occurrence (so `-t py QUERY` does not
// swallow QUERY as a second type).
CLI::Option* add_repeatable(CLI::App& app, const std::string& names, std::vector<std::string>& v,
                            const std::string& help) {
  return app.add_option(names, v, help)
      ->allow_extra_args(false)
      ->type_size(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

// Flags shared by every command that loads a model.
void add_model_flags(CLI::App& app, CliOptions& o) {
  app.add_option("--model", o.model,
                 "Model: a Hugging Face id or a local directory "
                 "(default sentence-transformers/all-MiniLM-L6-v2)")
      ->type_name("M")
      ->check(kNonEmpty);
  app.add_option("--device", o.device, "Where to run the model")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--precision", o.precision, kPrecisionHelp)
      ->check(CLI::IsMember({"auto", "f32", "f16", "bf16", "int8"}))
      ->capture_default_str();
  app.add_option("-j,--threads", o.threads, "Worker threads (0: all cores; at most 1024)")
      ->check(kThreadCount)
      ->capture_default_str();
  app.add_flag("--debug", o.debug, "Show where errors were raised (source file:line)");
}

// '' (an unset variable in a script) and '!' (an exclude of nothing) were ignored: every file
// was searched, as if no -g had been given.
const CLI::Validator kNonEmptyGlob(
    [](std::string& s) -> std::string {
      return s.empty() || s == "!" ? std::string(
                                         "must not be empty (leave the flag out to "
                                         "search every file)")
                                   : std::string();
    },
    "");

// Flags that choose which files a search ranks (ripgrep's names and meanings). They filter at
// query time: the index itself always holds every file the ignore rules admit.
void add_walk_flags(CLI::App& app, CliOptions& o) {
  add_repeatable(app, "-t,--type", o.types, "Only search files of TYPE (repeatable; --type-list)")
      ->type_name("TYPE");
  add_repeatable(app, "-T,--type-not", o.type_not, "Do not search files of TYPE (repeatable)")
      ->type_name("TYPE");
  add_repeatable(app, "-g,--glob", o.globs,
                 "Include/exclude files matching GLOB, relative to the index root ('!GLOB' "
                 "excludes; '{a,b}' alternates; repeatable)")
      ->type_name("GLOB")
      ->check(kNonEmptyGlob);
  app.add_flag("--type-list", o.type_list, "Show the known file types and exit");
  app.add_flag("--hidden", o.hidden, "Search hidden files and directories too");
  app.add_flag("--no-ignore", o.no_ignore,
               "Also search files .gitignore/.ignore exclude (embedded for this search only)");
  app.add_option("--max-filesize", o.max_filesize,
                 "Only search files of at most NUM bytes (suffixes K, M, G; 0 is an error); "
                 "above the index's 2M cap, larger files are embedded for this search only")
      ->type_name("NUM")
      ->check(kPositiveSize);
}

// Flags that choose where the index lives and whether it is used.
void add_index_flags(CLI::App& app, CliOptions& o) {
  app.add_option("--cache-dir", o.cache_dir, kCacheDirHelp)->type_name("DIR")->check(kNonEmpty);
  app.add_flag("--repo-local", o.repo_local,
               "Store a new index under ROOT/.ripvec (an existing .ripvec/ is always used)");
  app.add_flag("-L,--follow", o.follow,
               "Follow symbolic links (changes what the index holds; never into /proc, /sys, "
               "/dev or other pseudo file systems)");
  app.add_flag("--one-file-system", o.one_file_system,
               "Do not cross file system boundaries (mount points, or links with -L; changes "
               "what the index holds)");
  app.add_flag("-q,--quiet", o.quiet, "No progress output");
  app.add_flag("--stats", o.stats, "Print timings and counts on stderr");
}

}  // namespace

// An empty value of a flag that names a model, a folder or a file: "--cache-dir ''" (an unset
// variable in a script) silently meant the default cache, "--npy ''" printed text instead.
const CLI::Validator kNonEmpty(
    [](std::string& s) -> std::string {
      return s.empty() ? std::string("must not be empty (leave the flag out for the default)")
                       : std::string();
    },
    "");

Commands build_cli(CLI::App& app, CliOptions& o) {
  Commands cmds;
  // As in ripgrep, a flag given twice takes its last value (aliases and scripts can override).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.footer(
      "Commands:\n"
      "  ripvec [OPTIONS] QUERY [PATH...]   search by meaning (default command)\n"
      "  ripvec index [OPTIONS] [PATH...]   build or refresh the index\n"
      "  ripvec embed [OPTIONS] [TEXT...]   print embeddings (texts from stdin if none)\n"
      "  ripvec tokenize [OPTIONS] TEXT     print token ids and tokens as JSON\n"
      "  ripvec models [OPTIONS]            list installed models and recommend one\n"
      "  ripvec map [OPTIONS] [PATH]        repo map: files ranked by PageRank, signatures\n"
      "  ripvec mcp [OPTIONS]               Model Context Protocol server on stdio (agents)\n"
      "  ripvec lsp [OPTIONS]               Language Server Protocol server on stdio (editors)\n"
      "`ripvec COMMAND --help` lists a command's own flags.\n"
      "A query equal to a command name needs `--` first: ripvec -- index src/\n"
      "Exit status: 0 results found, 1 none found, 2 error.");

  // ---- search (the default command) ----
  app.add_option("QUERY", o.query, "What to look for, in natural language");
  app.add_option("PATH", o.paths, "Files or directories to search (default .)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("-n,--top-k", o.top_k, "Number of results (at least 1)")
      ->type_name("N")
      ->check(kPositiveCount)
      ->capture_default_str();
  app.add_option("--mode", o.mode,
                 "Ranking: semantic (score = cosine similarity, -1..1), keyword (score = BM25F "
                 "divided by the query's best, 0..1) or hybrid (score 0..1: 0.6 x the cosine "
                 "and 0.4 x the BM25F, each scaled to 0..1 between the worst and best of the "
                 "query's top 100 on that side; 0.2 / 0.8 for a query that looks like an "
                 "identifier or a path; 1 = best on both sides)")
      ->check(CLI::IsMember({"hybrid", "semantic", "keyword"}))
      ->capture_default_str();
  app.add_option_function<float>(
         "--threshold", [&o](const float& v) { o.threshold = v; },
         "Drop results whose score (on the --mode's scale above) is below F (finite)")
      ->type_name("F")
      ->check(kFiniteNumber);
  auto* json =
      app.add_flag("--json", o.json,
                   "One JSON object per result per line. A path that is not UTF-8 is shown with "
                   "U+FFFD for its bad bytes, and \"path_b64\" holds its exact bytes (base64)");
  auto* files = app.add_flag("-l,--files-with-matches", o.files_with_matches,
                             "Print only the paths of files with results, best first");
  auto* vimgrep =
      app.add_flag("--vimgrep", o.vimgrep,
                   "One line per result: path:line:column:text of its best-matching line");
  // One output format: `--json -l` printed plain paths to a reader expecting JSON (ripgrep
  // refuses --json with -l too).
  json->excludes(files)->excludes(vimgrep);
  files->excludes(vimgrep);
  app.add_option_function<size_t>(
         "-C,--context", [&o](const size_t& v) { o.context = v; },
         "Show NUM lines around the best-matching lines of each result instead of all of it")
      ->type_name("NUM")
      ->check(kLineCount);
  app.add_option_function<size_t>(
         "-A,--after-context", [&o](const size_t& v) { o.after_context = v; },
         "Show NUM lines after the best-matching lines")
      ->type_name("NUM")
      ->check(kLineCount);
  app.add_option_function<size_t>(
         "-B,--before-context", [&o](const size_t& v) { o.before_context = v; },
         "Show NUM lines before the best-matching lines")
      ->type_name("NUM")
      ->check(kLineCount);
  app.add_flag("--no-content", o.no_content, "Print only the heading line of each result");
  app.add_option("--color", o.color, "When to use colors")
      ->check(CLI::IsMember({"auto", "never", "always"}))
      ->capture_default_str();
  app.add_flag_callback(
      "--index", [&o] { o.use_index = true; },
      "Use the persistent index, updated incrementally (default)");
  auto* no_index = app.add_flag_callback(
      "--no-index", [&o] { o.use_index = false; }, "Embed in memory and keep nothing on disk");
  // Rebuilding the index keeps it on disk: the two together rebuilt the whole persistent index
  // against --no-index's word (hostile probe 2026-12-07); a usage error, as ripgrep's.
  app.add_flag("--reindex", o.reindex,
               "Rebuild the index from scratch before searching (implies --index)")
      ->excludes(no_index);
  add_index_flags(app, o);
  add_model_flags(app, o);
  add_walk_flags(app, o);

  // ---- ripvec index ----
  cmds.index = app.add_subcommand("index", "Build or refresh the index and report what changed");
  cmds.index
      ->add_option("PATH", o.paths,
                   "Directories whose index to refresh (default .; the enclosing index "
                   "root is found as for a search)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmds.index->add_flag("--reindex", o.reindex, "Rebuild from scratch");
  auto* st = cmds.index->add_flag(
      "--status", o.index_status,
      "Show the index of PATH for this model: root, files, chunks, size, last update, stale files");
  auto* ls = cmds.index->add_flag("--list", o.index_list,
                                  "List every index in the cache (root, model, size)");
  auto* cl = cmds.index->add_flag("--clean", o.index_clean,
                                  "Remove the indexes (every model) of the project of PATH");
  auto* all = cmds.index->add_flag("--all", o.clean_all, "With --clean: every index in the cache");
  all->needs(cl);
  st->excludes(ls)->excludes(cl);
  ls->excludes(cl);
  add_index_flags(*cmds.index, o);
  add_model_flags(*cmds.index, o);

  // ---- ripvec embed ----
  cmds.embed = app.add_subcommand("embed",
                                  "Print embeddings of texts (one per line on stdin "
                                  "when no TEXT is given; stdin is read in blocks of 8192 "
                                  "lines, embedded in calls of at most 1024 texts on the cpu, "
                                  "and each call's rows are printed as soon as it is done)");
  cmds.embed->add_option("TEXT", o.embed_texts, "Texts to embed")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* q = cmds.embed->add_flag("--query", o.embed_query, "Prepend the model's query prompt");
  auto* d =
      cmds.embed->add_flag("--document", o.embed_document, "Prepend the model's document prompt");
  q->excludes(d);
  auto* j = cmds.embed->add_flag("--json", o.embed_json, "Print one JSON array of arrays");
  cmds.embed
      ->add_option("--npy", o.npy_path,
                   "Write float32 [N, dim] .npy to FILE (- for standard output). A regular "
                   "FILE gets the rows as they come and its header last; standard output, "
                   "a FIFO or a device cannot seek back to the header, so there the vectors "
                   "(not the texts) are kept in memory until the input ends")
      ->type_name("FILE")
      ->check(kNonEmpty)
      ->excludes(j);
  cmds.embed->add_flag("-q,--quiet", o.quiet,
                       "No notes or warnings on stderr (errors are still printed)");
  add_model_flags(*cmds.embed, o);

  // ---- ripvec tokenize ----
  cmds.tokenize = app.add_subcommand("tokenize", "Print {\"ids\":[...],\"tokens\":[...]}");
  cmds.tokenize->add_option("TEXT", o.tokenize_text, "Text to tokenize")->required();
  cmds.tokenize->add_flag("--no-special", o.tokenize_no_special,
                          "Do not add [CLS]/[SEP] (the post-processor)");
  cmds.tokenize
      ->add_option("--model", o.model, "Model id or directory (only tokenizer.json is needed)")
      ->type_name("M")
      ->check(kNonEmpty);
  cmds.tokenize->add_flag("--debug", o.debug, "Show where errors were raised");

  // ---- ripvec models ----
  cmds.models = app.add_subcommand(
      "models",
      "List the models installed here (Hugging Face cache, model directories the "
      "indexes were built with) with dim, max tokens, pooling, size; recommend one");
  cmds.models->add_flag("--json", o.models_json, "One JSON object per model per line");
  cmds.models
      ->add_option("--cache-dir", o.cache_dir, "Index directory whose model directories to list")
      ->type_name("DIR")
      ->check(kNonEmpty);
  cmds.models->add_flag("--debug", o.debug, "Show where errors were raised");
  return cmds;
}

std::vector<std::string> parse_order_args(const CLI::App& app, int argc, const char* const* argv) {
  std::set<std::string> takes_value;  // "--name=" of the options that take a value
  std::vector<const CLI::App*> apps{&app};
  for (size_t i = 0; i < apps.size(); ++i) {
    for (const CLI::Option* op : apps[i]->get_options())
      if (!op->get_positional() && op->get_items_expected_max() > 0)
        for (const std::string& name : op->get_lnames()) takes_value.insert("--" + name + "=");
    for (const CLI::App* sub : apps[i]->get_subcommands(std::function<bool(const CLI::App*)>()))
      apps.push_back(sub);
  }
  std::vector<std::string> args;
  bool options_end = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    options_end = options_end || a == "--";
    if (!options_end && takes_value.count(a) != 0) {
      a.pop_back();
      args.push_back(std::move(a));
      args.emplace_back();
    } else {
      args.push_back(std::move(a));
    }
  }
  std::reverse(args.begin(), args.end());
  return args;
}

uint64_t parse_size(const std::string& text, const char* flag_name) {
  const std::string flag = flag_name ? std::string(flag_name) + ": " : std::string();
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) throw InvalidArgument(flag + "not a size: '" + text + "'");
  uint64_t mult = 1;
  if (i < text.size()) {
    if (i + 1 != text.size()) throw InvalidArgument(flag + "not a size: '" + text + "'");
    switch (std::toupper(static_cast<unsigned char>(text[i]))) {
      case 'K':
        mult = 1ull << 10;
        break;
      case 'M':
        mult = 1ull << 20;
        break;
      case 'G':
        mult = 1ull << 30;
        break;
      default:
        throw InvalidArgument(flag + "unknown size suffix in '" + text + "'");
    }
  }
  const std::string digits = text.substr(0, i);
  errno = 0;
  unsigned long long n = std::strtoull(digits.c_str(), nullptr, 10);
  if (errno == ERANGE || n > std::numeric_limits<uint64_t>::max() / mult)
    throw InvalidArgument(flag + "size too large: '" + text + "'");
  return n * mult;
}

bool want_color(const std::string& choice, int fd) {
  if (choice == "always") return true;
  if (choice == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  return isatty(fd) == 1;
}

}  // namespace ripvec::cli
