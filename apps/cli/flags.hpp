// The command-line surface of `ripvec`: every flag of every subcommand is declared in
// flags.cpp (one table per flag group), and CLI11 generates -h/--help from it.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ripvec::cli {

enum class ColorChoice { Auto, Never, Always };

// Values of every flag, filled by CLI11 while parsing. Defaults here are the documented ones.
struct CliOptions {
  // --- search (the default command) ---
  std::string query;
  std::vector<std::string> paths;  // PATH...; empty means "."
  size_t top_k = 10;
  std::string mode = "hybrid";  // hybrid | semantic | keyword
  std::optional<float> threshold;
  bool json = false;
  std::string color = "auto";  // auto | never | always
  bool use_index = true;       // --index (default) / --no-index
  bool reindex = false;
  bool stats = false;
  bool quiet = false;
  bool debug = false;

  // --- presentation ---
  bool files_with_matches = false;  // -l
  bool vimgrep = false;
  bool no_content = false;
  std::optional<size_t> context, after_context, before_context;  // -C, -A, -B

  // --- index management (`ripvec index`) ---
  bool index_status = false, index_list = false, index_clean = false, clean_all = false;

  // --- index storage ---
  std::string cache_dir;  // empty: the index module's default
  bool repo_local = false;

  // --- model ---
  std::string model;               // empty: the default model
  std::string device = "auto";     // auto | cpu | cuda
  std::string precision = "auto";  // auto | f32 | f16 | bf16 (activations; accumulation is F32)

  // --- walking ---
  std::vector<std::string> types, type_not, globs;
  bool hidden = false, no_ignore = false, follow = false, one_file_system = false;
  bool type_list = false;
  std::string max_filesize;  // "2M", "500K", "123" (bytes)
  unsigned threads = 0;

  // --- embed ---
  std::vector<std::string> embed_texts;
  bool embed_query = false, embed_document = false;
  bool embed_json = false;
  std::string npy_path;

  // --- tokenize ---
  std::string tokenize_text;
  bool tokenize_no_special = false;

  // --- models ---
  bool models_json = false;
};

struct Commands {
  CLI::App* index = nullptr;
  CLI::App* embed = nullptr;
  CLI::App* tokenize = nullptr;
  CLI::App* models = nullptr;
};

// Refuses an empty value ("must not be empty"; CLI11 names the flag): for flags that name a
// model, a folder or a file, where "" would otherwise silently mean the default.
extern const CLI::Validator kNonEmpty;

// Help of the flags that the search and the servers (`ripvec mcp`, `ripvec lsp`) share, in one
// place so that their defaults are told alike.
inline constexpr const char* kCacheDirHelp =
    "Directory holding indexes (default: $RIPVEC_CACHE_DIR, else $XDG_CACHE_HOME/ripvec or "
    "~/.cache/ripvec)";
inline constexpr const char* kPrecisionHelp =
    "Activation dtype: auto (f16 on cuda; on the cpu f32 queries and bf16 documents where the "
    "cpu has amx, else int8 documents where int8 is faster: avx2 without avx-512, or avx-512 "
    "vnni; else f32), f32 (exact), f16, bf16 (cuda: bf16 activations; cpu: linear layers on bf16 "
    "operands with f32 sums, amx tiles where present, else an exact emulation slower than f32) "
    "or int8 (cpu: dynamically quantized linear layers, cosine >= 0.999); int8 and cpu bf16 "
    "indexes are separate from f32 ones";

// The arguments after argv[0], in CLI11's order for App::parse (last first), with every
// "--name=" of an option of `app` or its subcommands that takes a value split into "--name" and
// "" (before a "--"). CLI11 reads "--name=" as "--name" and takes the NEXT argument as the value:
// `--cache-dir="$DIR"` with DIR unset made the query the cache folder (and the current folder
// the search path). Split, the option gets its empty value and its check refuses it.
std::vector<std::string> parse_order_args(const CLI::App& app, int argc, const char* const* argv);

// Declares all flags and subcommands on `app`, binding them to `opts`.
Commands build_cli(CLI::App& app, CliOptions& opts);

// "2M" -> 2097152. Throws InvalidArgument on a malformed size, naming `flag` (null: the
// message does not name it, for a CLI11 validator, which prefixes the flag itself).
uint64_t parse_size(const std::string& text, const char* flag);

// Resolves --color against the environment: NO_COLOR set (non-empty) or a non-TTY `fd` turns
// "auto" off; "always" wins over both.
bool want_color(const std::string& choice, int fd);

}  // namespace ripvec::cli
