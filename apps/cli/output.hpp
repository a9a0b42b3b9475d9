// Rendering of results (ripgrep-like text, --vimgrep, JSON lines), embeddings, and the stderr
// progress of index updates.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ripvec/index.hpp"

#include "ripvec/corpus.hpp"

namespace ripvec::cli {

// An error's text for stderr: each line escaped as a file name is (escape_name: controls, bidi
// controls and bytes that are not UTF-8 become \xNN), the line breaks the message has kept, and
// a continuation line that does not start with white space indented by two spaces. A
// name given by the user (a PATH, --model, --npy, -g) reached the terminal raw in error messages:
// `ripvec map $'/x\e[2J'` cleared it (hostile probe 2026-12-07).
std::string escape_message(std::string_view text);

// One search result as shown to the user; `path` is already the display path.
struct ResultView {
  std::string path;
  int start_line = 0, end_line = 0;  // 1-based, inclusive
  std::string symbol, kind, language;
  double score = 0.0;
  std::string content;  // the chunk's exact source lines
  // Byte offset in its file line where the content's first line starts: 0 but for a window of a
  // line longer than 16 KiB (minified code), which begins inside the line (line_start_column).
  size_t first_column = 0;
};

// {"path":..,"start_line":..,"end_line":..,"start_column":..,"symbol":..,"kind":..,"language":..,
//  "score":..,"content":..} on one line, no trailing newline (start_column: first_column, a byte
// offset). Invalid UTF-8 is replaced by U+FFFD.
std::string result_json(const ResultView& r);

// How result_text prints a result.
struct TextOptions {
  bool color = false;
  bool no_content = false;  // heading only
  // With either set: only the best-matching lines (best_lines) with this many lines of
  // context before / after each, groups separated by "--" like ripgrep; else every line.
  std::optional<size_t> before, after;
};

// ripgrep-style block: a heading line "path:start-end  symbol (kind)  score", then content
// lines prefixed by their line number. Lines that contain a query word use ':' after the
// number and show the word highlighted; the other lines use '-' (ripgrep's context separator).
// Colors (ANSI SGR): path magenta, line numbers green, matched words bold red.
std::string result_text(const ResultView& r, const std::vector<std::string>& query_words,
                        const TextOptions& opts);

// 0-based offsets of the lines of r.content that contain a query word; when none does, the
// first non-blank line (the "best-matching" lines of -C/-A/-B and --vimgrep).
std::vector<size_t> best_lines(const ResultView& r, const std::vector<std::string>& query_words);

// Where `first` (a chunk's first content line) starts in line `line` (1-based) of the file at
// `path`: 0 when it is the whole line, when the file cannot be read, or when the line no longer
// holds it (the file changed, or invalid UTF-8 the index shows as U+FFFD). Only single-line
// chunks can start inside a line (the byte windows of one long line); they alone are looked up.
size_t line_start_column(const std::filesystem::path& path, int line, std::string_view first);

// "path:line:column:text" (1-based line and byte column) of the first best line, with the
// column of its first query word (else of its first non-blank character). No newline. With
// color, as ripgrep's --vimgrep: the path as in result_text, the line number green, the query
// words bold red; the column plain.
std::string vimgrep_line(const ResultView& r, const std::vector<std::string>& query_words,
                         bool color = false);

// A path as every text output shows it (result heading, -l, --vimgrep): escaped (escape_name),
// with color in the path color of result_text (magenta).
std::string path_text(std::string_view path, bool color);

// Lower-cased words of the query (letters/digits/_ runs of >= 3 bytes, common English words
// left out) used for highlighting.
std::vector<std::string> highlight_words(std::string_view query);

// escape_name (ripvec/corpus.hpp): file names in text output.
using ripvec::escape_name;

// Float formatting shared by `embed` outputs: shortest text that parses back to the same float.
std::string format_float(float v);

// Writes a NumPy v1.0 .npy file of little-endian float32 [rows, cols], C order, as rows arrive
// (`ripvec embed` of an endless stdin). The header is always 128 bytes: every shape pads to it.
// A regular (or new) file: the rows go to a temporary file in the same directory, after a
// header of that size; finish() writes the header with the final row count over it (pwrite at
// 0), syncs, closes and renames the file over `path` only after every write succeeded, so a full
// disk leaves `path` as it was (absent or the previous file), never partial. A symlink's target
// is replaced (the link stays, even when the target does not exist yet), and a replaced file's
// mode is kept. A special file (a FIFO, /dev/full), "-" and /dev/stdout (standard output,
// through write_stdout: its offset kept, EPIPE a quiet StdoutClosed) and other named
// descriptors (/dev/fd/N, /proc/self/fd/N: through a duplicate of N) are written in place, at
// finish(): such a file may not seek back to the header, so the rows are kept in memory until
// then (4 x cols bytes a row; the texts are not kept). A regular file named through /dev or
// /proc otherwise is refused (it cannot be replaced safely). Every write is checked; errors
// are IoError naming the path. Destroyed without finish() (an error), or ended by SIGINT,
// SIGTERM or SIGHUP, the temporary file goes.
class NpyWriter {
 public:
  NpyWriter(const std::string& path, size_t cols);
  ~NpyWriter();
  NpyWriter(const NpyWriter&) = delete;
  NpyWriter& operator=(const NpyWriter&) = delete;
  void append(const float* rows, size_t n);
  void finish();

 private:
  void check(int err) const;
  std::string path_, tmp_path_;
  size_t cols_, rows_ = 0;
  int fd_ = -1;
  bool in_place_ = false;
  bool to_stdout_ = false;  // "-" or /dev/stdout: through write_stdout
  bool done_ = false;
  std::vector<float> kept_;  // in place: the rows until finish()
};

// Checked standard output. Every byte of results goes through write_stdout and the run ends
// with close_stdout, so a write error (a full disk, /dev/full, EIO) is an error (exit 2), never
// silently cut output. A reader that went away (EPIPE; SIGPIPE is ignored by main) throws
// StdoutClosed, which main turns into a quiet exit 0, as ripgrep does for `rg x | head -1`.
class StdoutClosed : public std::exception {
 public:
  const char* what() const noexcept override { return "stdout closed by its reader (EPIPE)"; }
};
// Writes all of `s` to stdout (buffered). Throws IoError("error writing to stdout: ...") or
// StdoutClosed.
void write_stdout(std::string_view s);

// "1.5 MiB": sizes for people (binary units).
std::string human_bytes(uint64_t b);
// Opens /dev/null on each of the descriptors 0, 1 and 2 that is closed (`ripvec ... 2>&-`),
// the wrong way round (stdin write-only, stdout and stderr read-only), so that using one still
// fails with EBADF as if it were closed ("error writing to stdout: Bad file descriptor"), while
// the files ripvec opens can no longer take those numbers: progress lines written by one
// thread landed in the object, manifest or snapshot another thread had just opened as fd 2,
// and a server's replies could go into whatever file became fd 1. Called first thing in main.
void guard_standard_descriptors();
// SIGXCPU (the soft CPU-time limit, `prlimit --cpu=SOFT:HARD`; `ulimit -t` sets both and the
// kernel sends SIGKILL instead) ends the run as before, but says so on stderr and removes the
// run's temporary --npy file first: it ended runs without a word (hostile probe 2026-12-07).
// Installed by main when the signal's disposition is the default (an ignored one stays ignored).
void report_cpu_time_limit();
// Flushes stdout now (results before --stats lines on stderr); throws like write_stdout.
void flush_stdout();
// Flushes stdout, checks its error flag and closes file descriptor 1 (close can report a
// deferred write error, e.g. on NFS). Called once, by main, after the command; later writes to
// stdout are lost. Throws like write_stdout.
void close_stdout();

// Progress of an index update on stderr.
//  Tty:   one line redrawn in place: phase, counts, chunks/s, ETA (at most 10 redraws/s).
//  Lines: for logs: one plain line when embedding starts, when scanning has taken 2 s or
//         chunking 1 s, when writing starts after any of those; one every 10 s in a long
//         phase; and one at the end when anything was printed (a no-op update prints nothing).
//  Off:   nothing (-q).
// update() may be called from the library's progress thread; calls never overlap.
class ProgressPrinter {
 public:
  enum class Mode { Off, Tty, Lines };
  explicit ProgressPrinter(Mode mode) : mode_(mode) {}
  ~ProgressPrinter() { finish(); }
  // A one-off step outside an update ("loading model ..."): Tty only.
  void note(std::string_view text);
  void update(const IndexProgress& p);
  // Clears the Tty line.
  void finish();
  Mode mode() const { return mode_; }

 private:
  void draw(const std::string& line);
  Mode mode_;
  bool drawn_ = false;
  bool printed_ = false;  // Lines: something was printed for this update
  int phase_ = -1;
  bool phase_printed_ = false;
  double phase_start_s_ = 0, last_line_s_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

// Formats seconds as "1m05s" / "12s".
std::string format_duration(double s);

}  // namespace ripvec::cli
