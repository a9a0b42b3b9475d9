// Rendering of results (ripgrep-like text, --vimgrep, JSON lines), embeddings, and the stderr
// progress of index updates.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ripvec/index.hpp"

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

// "path:line:column:text" (1-based line and byte column) of the first best line, with the
// column of its first query word (else of its first non-blank character). No newline.
std::string vimgrep_line(const ResultView& r, const std::vector<std::string>& query_words);

// Lower-cased words of the query (letters/digits/_ runs of >= 3 bytes, common English words
// left out) used for highlighting.
std::vector<std::string> highlight_words(std::string_view query);

// Float formatting shared by `embed` outputs: shortest text that parses back to the same float.
std::string format_float(float v);

// Writes a NumPy v1.0 .npy file holding little-endian float32 [rows, cols], C order.
// Throws IoError naming the path.
void write_npy(const std::string& path, const std::vector<float>& data, size_t rows, size_t cols);

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
