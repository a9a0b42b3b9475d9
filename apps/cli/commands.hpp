// The subcommands of `ripvec`. Each returns the process exit status (0 found / 1 nothing found)
// and throws ripvec::Error subclasses on failure; main() maps those to status 2.
// The CLI includes only the public headers (include/ripvec/*).
#pragma once

#include <memory>
#include <string>

#include "flags.hpp"
#include "output.hpp"
#include "ripvec/embedder.hpp"
#include "ripvec/index.hpp"

namespace ripvec::cli {

int run_search(const CliOptions& opts);
int run_index(const CliOptions& opts);
int run_embed(const CliOptions& opts);
int run_tokenize(const CliOptions& opts);
int run_models(const CliOptions& opts);

// Shared between commands.
EmbedderOptions embedder_options(const CliOptions& opts);
std::string model_spec(const CliOptions& opts);
// Loads the model, timing it into *seconds when non-null. `weights`: when the weights load
// (EmbedderOptions::weights); other than AtLoad, errors come from the first embed.
std::unique_ptr<Embedder> load_embedder(const CliOptions& opts, double* seconds = nullptr,
                                        WeightLoading weights = WeightLoading::AtLoad);
// Throws InvalidArgument naming `what` (e.g. "stdin line 3") if `s` is not valid UTF-8.
void check_utf8(std::string_view s, const std::string& what);
// Off with -q; Tty when stderr is a terminal; Lines otherwise.
ProgressPrinter::Mode progress_mode(const CliOptions& opts);
// Throws IoError "PATH: <reason>" unless `path` (a file or directory the user named) can be
// opened for reading, so that an unreadable PATH is an error (exit 2), not "no results".
void check_readable(const std::string& path);
// Checks a file or directory the user named as PATH (search, `ripvec map`): it exists (else
// IoError "PATH: No such file or directory"), is a regular file or a directory (else
// InvalidArgument), and can be read (check_readable). Returns whether it is a regular file.
bool check_path_argument(const std::string& path);
// Whether the model download may draw a progress bar (not -q and stderr is a terminal).
bool progress_enabled(const CliOptions& opts);

// Index options from the flags; `progress` (may be null) receives the update's progress. An
// update whose index another process is updating waits for it, saying so on stderr (when_busy),
// unless `serve_last` and the index has a committed update: then it gives way (IndexBusyError)
// and the search serves that update.
IndexOptions index_options(const CliOptions& opts, ProgressPrinter* progress,
                           bool serve_last = false);
// The query-time filter of the flags (-t/-T/-g/--hidden/--no-ignore/--max-filesize).
SearchFilter search_filter(const CliOptions& opts);
// Prints st's warnings on stderr (nothing with quiet). entries = false leaves out the warnings
// about single skipped entries (UpdateStats::entry_warnings), which every search of an
// unchanged tree would repeat.
void report_update_warnings(const UpdateStats& st, bool quiet, bool entries = true);

}  // namespace ripvec::cli
