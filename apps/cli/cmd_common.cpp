#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>

#include "commands.hpp"
#include "output.hpp"
#include "ripvec/corpus.hpp"
#include "ripvec/error.hpp"

namespace ripvec::cli {

std::string model_spec(const CliOptions& opts) {
  if (!opts.model.empty()) return opts.model;
  if (const char* env = std::getenv("RIPVEC_MODEL"); env != nullptr && env[0] != '\0') return env;
  return std::string(kDefaultModelId);
}

bool progress_enabled(const CliOptions& opts) {
  return !opts.quiet && isatty(STDERR_FILENO) == 1;
}

ProgressPrinter::Mode progress_mode(const CliOptions& opts) {
  if (opts.quiet) return ProgressPrinter::Mode::Off;
  return isatty(STDERR_FILENO) == 1 ? ProgressPrinter::Mode::Tty : ProgressPrinter::Mode::Lines;
}

EmbedderOptions embedder_options(const CliOptions& opts) {
  EmbedderOptions eo;
  eo.model = model_spec(opts);
  if (opts.device == "cpu") {
    eo.device = Device::Cpu;
  } else if (opts.device == "cuda") {
    eo.device = Device::Cuda;
  } else if (opts.device == "auto") {
    eo.device = Device::Auto;
  } else {
    throw InvalidArgument("--device: expected auto, cpu or cuda, got '" + opts.device + "'");
  }
  const std::optional<Precision> precision = precision_from_name(opts.precision);
  if (!precision)
    throw InvalidArgument("--precision: expected auto, f32, f16, bf16 or int8, got '" +
                          opts.precision + "'");
  eo.precision = *precision;
  eo.resolve.progress = progress_enabled(opts);
  return eo;
}

SearchFilter search_filter(const CliOptions& opts) {
  SearchFilter f;
  f.types = opts.types;
  f.type_not = opts.type_not;
  f.globs = opts.globs;
  f.hidden = opts.hidden;
  f.no_ignore = opts.no_ignore;
  if (!opts.max_filesize.empty()) {
    f.max_file_size = parse_size(opts.max_filesize, "--max-filesize");
    if (*f.max_file_size == 0) throw InvalidArgument("--max-filesize must be at least 1 byte");
  }
  // Unknown type names are refused before the model is loaded.
  for (const auto* names : {&f.types, &f.type_not})
    for (const auto& n : *names) {
      bool known = false;
      for (const auto& t : file_types()) known = known || t.name == n;
      if (!known)
        throw InvalidArgument("unknown file type '" + n + "' (see --type-list for the known ones)");
    }
  return f;
}

IndexOptions index_options(const CliOptions& opts, ProgressPrinter* progress, bool serve_last) {
  IndexOptions io;
  io.cache_dir = opts.cache_dir;  // empty: the library's default (RIPVEC_CACHE_DIR, XDG...)
  io.repo_local = opts.repo_local;
  io.reindex = opts.reindex;
  io.follow_symlinks = opts.follow;
  io.one_file_system = opts.one_file_system;
  io.threads = opts.threads;
  if (progress != nullptr && progress->mode() != ProgressPrinter::Mode::Off)
    io.progress = [progress](const IndexProgress& p) { progress->update(p); };
  // Another process is updating the index: wait for it, saying so (a second `ripvec index` sat
  // on "scanning" with no word of what it waited for; hostile probe 2026-12-07).
  const bool quiet = opts.quiet;
  const bool tty = progress != nullptr && progress->mode() == ProgressPrinter::Mode::Tty;
  io.when_busy = [quiet, tty, serve_last](const std::filesystem::path& location, bool committed) {
    if (serve_last && committed) return false;
    // On a terminal the progress line is cleared first; its next tick draws it again.
    if (!quiet)
      std::fprintf(stderr,
                   "%sripvec: waiting for another process that is updating the index at %s "
                   "(Ctrl-C stops waiting)\n",
                   tty ? "\r\x1b[K" : "", escape_name(location.string()).c_str());
    return true;
  };
  return io;
}

void report_update_warnings(const UpdateStats& st, bool quiet, bool entries) {
  if (quiet) return;
  // Warnings name files: escaped like file names on stdout, so that a name cannot move the
  // cursor, recolor the terminal or fake a line.
  const std::set<std::string> skip =
      entries ? std::set<std::string>{}
              : std::set<std::string>(st.entry_warnings.begin(), st.entry_warnings.end());
  for (const auto& w : st.warnings)
    if (!skip.contains(w)) std::fprintf(stderr, "ripvec: warning: %s\n", escape_name(w).c_str());
}

std::unique_ptr<Embedder> load_embedder(const CliOptions& opts, double* seconds,
                                        WeightLoading weights) {
  const auto t0 = std::chrono::steady_clock::now();
  EmbedderOptions eo = embedder_options(opts);
  eo.weights = weights;
  auto e = Embedder::load(eo);
  if (seconds != nullptr)
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return e;
}

void check_readable(const std::string& path) {
  // O_NONBLOCK: opening is only a permission probe and must not wait on anything.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw IoError(path + ": " + std::strerror(errno));
  ::close(fd);
}

bool check_path_argument(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  // The OS's reason: a symbolic-link loop or a folder that may not be entered was reported as
  // "No such file or directory" (hostile probe 2026-12-07).
  if (ec && ec != std::errc::no_such_file_or_directory) throw IoError(path + ": " + ec.message());
  if (ec || !std::filesystem::exists(st)) throw IoError(path + ": No such file or directory");
  if (!std::filesystem::is_directory(st) && !std::filesystem::is_regular_file(st))
    throw InvalidArgument(path + ": not a file or directory");
  check_readable(path);
  return std::filesystem::is_regular_file(st);
}

void check_utf8(std::string_view s, const std::string& what) {
  // Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      throw InvalidArgument(what + ": invalid UTF-8 at byte " + std::to_string(i + 1));
    }
    if (i + len > n)
      throw InvalidArgument(what + ": invalid UTF-8 (truncated sequence) at byte " +
                            std::to_string(i + 1));
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80)
        throw InvalidArgument(what + ": invalid UTF-8 at byte " + std::to_string(i + 1));
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      throw InvalidArgument(what + ": invalid UTF-8 at byte " + std::to_string(i + 1));
    i += len;
  }
}

}  // namespace ripvec::cli
