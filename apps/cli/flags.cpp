#include "flags.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <limits>

#include "ripvec/error.hpp"

namespace ripvec::cli {

namespace {

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
      ->type_name("M");
  app.add_option("--device", o.device, "Where to run the model")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--precision", o.precision,
                 "Activation dtype: auto (f16 on cuda, f32 on cpu), f32, f16 or bf16")
      ->check(CLI::IsMember({"auto", "f32", "f16", "bf16"}))
      ->capture_default_str();
  app.add_option("-j,--threads", o.threads, "Worker threads (0: all cores)")->capture_default_str();
  app.add_flag("--debug", o.debug, "Show where errors were raised (source file:line)");
}

// Flags that choose which files are indexed (ripgrep's names and meanings).
void add_walk_flags(CLI::App& app, CliOptions& o) {
  add_repeatable(app, "-t,--type", o.types, "Only search files of TYPE (repeatable; --type-list)")
      ->type_name("TYPE");
  add_repeatable(app, "-T,--type-not", o.type_not, "Do not search files of TYPE (repeatable)")
      ->type_name("TYPE");
  add_repeatable(app, "-g,--glob", o.globs,
                 "Include/exclude files matching GLOB ('!GLOB' excludes; repeatable)")
      ->type_name("GLOB");
  app.add_flag("--type-list", o.type_list, "Show the known file types and exit");
  app.add_flag("--hidden", o.hidden, "Search hidden files and directories");
  app.add_flag("--no-ignore", o.no_ignore, "Do not respect .gitignore/.ignore files");
  app.add_flag("-L,--follow", o.follow,
               "Follow symbolic links (never into /proc, /sys, /dev or other pseudo file "
               "systems)");
  app.add_flag("--one-file-system", o.one_file_system,
               "Do not cross file system boundaries (mount points, or links with -L)");
  app.add_option("--max-filesize", o.max_filesize,
                 "Skip files larger than NUM (suffixes K, M, G; default 2M)")
      ->type_name("NUM");
}

// Flags that choose where the index lives and whether it is used.
void add_index_flags(CLI::App& app, CliOptions& o) {
  app.add_option("--cache-dir", o.cache_dir,
                 "Directory holding indexes (default: $RIPVEC_CACHE_DIR, else "
                 "$XDG_CACHE_HOME/ripvec or ~/.cache/ripvec)")
      ->type_name("DIR");
  app.add_flag("--repo-local", o.repo_local, "Store the index under PATH/.ripvec");
  app.add_flag("-q,--quiet", o.quiet, "No progress output");
  app.add_flag("--stats", o.stats, "Print timings and counts on stderr");
}

}  // namespace

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
      "A query equal to a command name needs `--` first: ripvec -- index src/\n"
      "Exit status: 0 results found, 1 none found, 2 error.");

  // ---- search (the default command) ----
  app.add_option("QUERY", o.query, "What to look for, in natural language");
  app.add_option("PATH", o.paths, "Files or directories to search (default .)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("-n,--top-k", o.top_k, "Number of results")->capture_default_str();
  app.add_option("--mode", o.mode, "Ranking: dense vectors, BM25 keywords, or both fused")
      ->check(CLI::IsMember({"hybrid", "semantic", "keyword"}))
      ->capture_default_str();
  app.add_option_function<float>(
         "--threshold", [&o](const float& v) { o.threshold = v; }, "Drop results scoring below F")
      ->type_name("F");
  app.add_flag("--json", o.json,
               "One JSON object per result per line. A path that is not UTF-8 is shown with "
               "U+FFFD for its bad bytes, and \"path_b64\" holds its exact bytes (base64)");
  app.add_option("--color", o.color, "When to use colors")
      ->check(CLI::IsMember({"auto", "never", "always"}))
      ->capture_default_str();
  app.add_flag_callback(
      "--index", [&o] { o.use_index = true; },
      "Use the persistent index, updated incrementally (default)");
  app.add_flag_callback(
      "--no-index", [&o] { o.use_index = false; }, "Embed in memory and keep nothing on disk");
  app.add_flag("--reindex", o.reindex,
               "Rebuild the index from scratch before searching (implies --index)");
  add_index_flags(app, o);
  add_model_flags(app, o);
  add_walk_flags(app, o);

  // ---- ripvec index ----
  cmds.index = app.add_subcommand("index", "Build or refresh the index and report what changed");
  cmds.index->add_option("PATH", o.paths, "Directories to index (default .)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmds.index->add_flag("--reindex", o.reindex, "Rebuild from scratch");
  add_index_flags(*cmds.index, o);
  add_model_flags(*cmds.index, o);
  add_walk_flags(*cmds.index, o);

  // ---- ripvec embed ----
  cmds.embed = app.add_subcommand("embed",
                                  "Print embeddings of texts (one per line on stdin "
                                  "when no TEXT is given)");
  cmds.embed->add_option("TEXT", o.embed_texts, "Texts to embed")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* q = cmds.embed->add_flag("--query", o.embed_query, "Prepend the model's query prompt");
  auto* d =
      cmds.embed->add_flag("--document", o.embed_document, "Prepend the model's document prompt");
  q->excludes(d);
  auto* j = cmds.embed->add_flag("--json", o.embed_json, "Print one JSON array of arrays");
  cmds.embed->add_option("--npy", o.npy_path, "Write float32 [N, dim] .npy to FILE")
      ->type_name("FILE")
      ->excludes(j);
  add_model_flags(*cmds.embed, o);

  // ---- ripvec tokenize ----
  cmds.tokenize = app.add_subcommand("tokenize", "Print {\"ids\":[...],\"tokens\":[...]}");
  cmds.tokenize->add_option("TEXT", o.tokenize_text, "Text to tokenize")->required();
  cmds.tokenize->add_flag("--no-special", o.tokenize_no_special,
                          "Do not add [CLS]/[SEP] (the post-processor)");
  cmds.tokenize->add_option("--model", o.model, "Model id or directory")->type_name("M");
  cmds.tokenize->add_flag("--debug", o.debug, "Show where errors were raised");
  return cmds;
}

uint64_t parse_size(const std::string& text, const char* flag) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) throw InvalidArgument(std::string(flag) + ": not a size: '" + text + "'");
  uint64_t mult = 1;
  if (i < text.size()) {
    if (i + 1 != text.size())
      throw InvalidArgument(std::string(flag) + ": not a size: '" + text + "'");
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
        throw InvalidArgument(std::string(flag) + ": unknown size suffix in '" + text + "'");
    }
  }
  const std::string digits = text.substr(0, i);
  errno = 0;
  unsigned long long n = std::strtoull(digits.c_str(), nullptr, 10);
  if (errno == ERANGE || n > std::numeric_limits<uint64_t>::max() / mult)
    throw InvalidArgument(std::string(flag) + ": size too large: '" + text + "'");
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
