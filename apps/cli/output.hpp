// Rendering of results (ripgrep-like text or JSON lines), embeddings, and the stderr progress bar.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace ripvec::cli {

// One search result as shown to the user; `path` is already the display path.
struct ResultView {
  std::string path;
  int start_line = 0, end_line = 0;  // 1-based, inclusive
  std::string symbol, kind, language;
  double score = 0.0;
  std::string content;  // the chunk's exact source lines
};

// {"path":..,"start_line":..,"end_line":..,"symbol":..,"kind":..,"language":..,"score":..,
//  "content":..} on one line, no trailing newline. Invalid UTF-8 is replaced by U+FFFD.
std::string result_json(const ResultView& r);

// ripgrep-style block: a heading line "path:start-end  symbol (kind)  score", then every content
// line prefixed by its line number. Lines that contain a query word use ':' after the number
// and show the word highlighted; the other lines use '-' (ripgrep's context separator).
// Colors (ANSI SGR): path magenta, line numbers green, matched words bold red.
std::string result_text(const ResultView& r, const std::vector<std::string>& query_words,
                        bool color);

// Lower-cased words of the query (letters/digits/_ runs of >= 3 bytes, common English words
// left out) used for highlighting.
std::vector<std::string> highlight_words(std::string_view query);

// A file name for text output: control characters (C0, DEL, C1), and bytes that are not
// UTF-8, become \xNN, so that a name cannot move the cursor, recolor the terminal or fake a
// result line. Everything else (a backslash too) is shown as is; --json has the exact name.
std::string escape_name(std::string_view name);

// Float formatting shared by `embed` outputs: shortest text that parses back to the same float.
std::string format_float(float v);

// Writes a NumPy v1.0 .npy file holding little-endian float32 [rows, cols], C order.
// A regular (or new) file is written to a temporary file in the same directory, synced and
// renamed over `path` only after every write succeeded: a full disk leaves `path` as it was
// (absent or the previous file), never partial. A symlink's target is replaced (the link stays).
// A special file (a FIFO, /dev/full) and any path under /dev or /proc (/dev/stdout names an open
// descriptor) are written in place, every write still checked. Throws IoError naming the path.
void write_npy(const std::string& path, const std::vector<float>& data, size_t rows, size_t cols);

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
// Flushes stdout now (results before --stats lines on stderr); throws like write_stdout.
void flush_stdout();
// Flushes stdout, checks its error flag and closes file descriptor 1 (close can report a
// deferred write error, e.g. on NFS). Called once, by main, after the command; later writes to
// stdout are lost. Throws like write_stdout.
void close_stdout();

// A one-line progress bar redrawn in place on stderr. Disabled (every call a no-op) unless
// `enabled` (the caller checks quiet and isatty(stderr)). Redraws at most ~10 times a second.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  ~Progress() { finish(); }
  // `stage` e.g. "embedding"; done/total in `unit` (e.g. "chunks"). extra: free text (files).
  void update(std::string_view stage, uint64_t done, uint64_t total, std::string_view unit,
              std::string_view extra = {});
  // Clears the line.
  void finish();
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  bool drawn_ = false;
  std::string stage_;
  std::chrono::steady_clock::time_point stage_start_{}, last_draw_{};
};

}  // namespace ripvec::cli
