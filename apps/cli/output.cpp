#include "output.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ripvec/bytes.hpp"
#include "ripvec/error.hpp"

namespace ripvec::cli {

namespace {

constexpr const char* kMagenta = "\x1b[35m";
constexpr const char* kGreen = "\x1b[32m";
constexpr const char* kBoldRed = "\x1b[1;31m";
constexpr const char* kDim = "\x1b[2m";
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kReset = "\x1b[0m";

std::string paint(std::string_view s, const char* sgr, bool color) {
  if (!color) return std::string(s);
  return std::string(sgr) + std::string(s) + kReset;
}

bool is_word_byte(unsigned char c) {
  return std::isalnum(c) || c == '_' || c >= 0x80;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Byte ranges [begin, end) of `line` that contain one of `words` (case-insensitive), merged.
std::vector<std::pair<size_t, size_t>> find_matches(std::string_view line,
                                                    const std::vector<std::string>& words) {
  std::vector<std::pair<size_t, size_t>> spans;
  if (words.empty()) return spans;
  const std::string low = lower(line);
  for (const auto& w : words) {
    for (size_t pos = low.find(w); pos != std::string::npos; pos = low.find(w, pos + w.size()))
      spans.emplace_back(pos, pos + w.size());
  }
  std::sort(spans.begin(), spans.end());
  std::vector<std::pair<size_t, size_t>> merged;
  for (const auto& s : spans) {
    if (!merged.empty() && s.first <= merged.back().second)
      merged.back().second = std::max(merged.back().second, s.second);
    else
      merged.push_back(s);
  }
  return merged;
}

// English words too common to be worth highlighting in code.
bool is_stopword(std::string_view w) {
  static constexpr std::string_view kStop[] = {
      "and",   "are",  "but",   "can",  "does", "for",   "from",  "has",   "have",  "how",
      "into",  "its",  "like",  "not",  "off",  "one",   "only",  "our",   "out",   "should",
      "that",  "the",  "their", "them", "then", "there", "these", "this",  "those", "use",
      "using", "was",  "were",  "what", "when", "where", "which", "while", "who",   "why",
      "will",  "with", "would", "you",  "your", "all",   "any",   "some"};
  for (auto s : kStop)
    if (s == w) return true;
  return false;
}

}  // namespace

namespace {

// JSON has no NaN/Inf (nlohmann would print null) and a NaN score is not a ranking: refuse.
void check_score(const ResultView& r) {
  if (!std::isfinite(r.score))
    throw Error("result " + r.path + ":" + std::to_string(r.start_line) +
                " has a non-finite score; refusing to print it");
}

}  // namespace

std::string result_json(const ResultView& r) {
  check_score(r);
  nlohmann::ordered_json j;
  j["path"] = r.path;  // a name that is not UTF-8: U+FFFD for its bad bytes (dump below)...
  if (!is_valid_utf8(r.path)) j["path_b64"] = base64_encode(r.path);  // ...and its bytes
  j["start_line"] = r.start_line;
  j["end_line"] = r.end_line;
  // A byte window of a line over 16 KiB starts inside its line: where (0 otherwise), so that
  // `content` can be placed in the file (hostile probe 2026-12-05, fifth round).
  j["start_column"] = r.first_column;
  j["symbol"] = r.symbol;
  j["kind"] = r.kind;
  j["language"] = r.language;
  j["score"] = r.score;
  j["content"] = r.content;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> highlight_words(std::string_view query) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < query.size()) {
    while (i < query.size() && !is_word_byte(static_cast<unsigned char>(query[i]))) ++i;
    size_t j = i;
    while (j < query.size() && is_word_byte(static_cast<unsigned char>(query[j]))) ++j;
    if (j - i >= 3) {
      std::string w = lower(query.substr(i, j - i));
      if (!is_stopword(w) && std::find(words.begin(), words.end(), w) == words.end())
        words.push_back(std::move(w));
    }
    i = j;
  }
  return words;
}

namespace {

std::vector<std::string_view> content_lines(std::string_view content) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos <= content.size()) {
    size_t nl = content.find('\n', pos);
    size_t end = nl == std::string_view::npos ? content.size() : nl;
    std::string_view line = content.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return lines;
}

// `line` with the byte ranges `spans` (sorted, disjoint) in the match color.
std::string highlight(std::string_view line, const std::vector<std::pair<size_t, size_t>>& spans,
                      bool color) {
  std::string out;
  size_t at = 0;
  for (const auto& [b, e] : spans) {
    out += line.substr(at, b - at);
    out += paint(line.substr(b, e - b), kBoldRed, color);
    at = e;
  }
  out += line.substr(at);
  return out;
}

}  // namespace

std::vector<size_t> best_lines(const ResultView& r, const std::vector<std::string>& query_words) {
  const auto lines = content_lines(r.content);
  std::vector<size_t> out;
  for (size_t i = 0; i < lines.size(); ++i)
    if (!find_matches(lines[i], query_words).empty()) out.push_back(i);
  if (out.empty()) {
    size_t i = 0;
    while (i + 1 < lines.size() && lines[i].find_first_not_of(" \t") == std::string_view::npos) ++i;
    out.push_back(i);
  }
  return out;
}

std::string path_text(std::string_view path, bool color) {
  return paint(escape_name(path), kMagenta, color);
}

size_t line_start_column(const std::filesystem::path& path, int line, std::string_view first) {
  if (line < 1 || first.empty()) return 0;
  // A window is at most 16 KiB of a line over 16 KiB; the file is read up to that line only.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return 0;
  }
  std::string text;
  int at = 1;
  char buf[1 << 16];
  bool done = false;
  while (!done) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n && !done; ++i) {
      if (buf[i] == '\n') {
        if (at == line) done = true;
        ++at;
      } else if (at == line) {
        text.push_back(buf[i]);
      }
    }
    if (text.size() > (size_t{64} << 20)) break;  // not a line a chunk was cut from
  }
  ::close(fd);
  if (at < line) return 0;
  if (!text.empty() && text.back() == '\r') text.pop_back();
  const size_t pos = text.find(first);
  return pos == std::string::npos ? 0 : pos;
}

std::string vimgrep_line(const ResultView& r, const std::vector<std::string>& query_words,
                         bool color) {
  const auto lines = content_lines(r.content);
  const size_t best = best_lines(r, query_words).front();
  const std::string_view line = best < lines.size() ? lines[best] : std::string_view();
  const auto spans = find_matches(line, query_words);
  size_t col = 0;
  if (!spans.empty()) {
    col = spans.front().first;
  } else {
    const size_t nb = line.find_first_not_of(" \t");
    col = nb == std::string_view::npos ? 0 : nb;
  }
  if (best == 0) col += r.first_column;  // a window starting inside its line
  std::string out = path_text(r.path, color) + ":" +
                    paint(std::to_string(r.start_line + static_cast<int>(best)), kGreen, color) +
                    ":" + std::to_string(col + 1) + ":";
  out += highlight(line, spans, color);
  return out;
}

std::string result_text(const ResultView& r, const std::vector<std::string>& query_words,
                        const TextOptions& opts) {
  check_score(r);
  const bool color = opts.color;
  std::string out;
  out += path_text(r.path, color);
  out += ':';
  out += paint(std::to_string(r.start_line), kGreen, color);
  out += '-';
  out += paint(std::to_string(r.end_line), kGreen, color);
  if (!r.symbol.empty()) {
    out += "  ";
    out += paint(r.symbol, kBold, color);
  }
  if (!r.kind.empty()) out += " (" + r.kind + ")";
  char score[32];
  std::snprintf(score, sizeof(score), "  score %.4f", r.score);
  out += paint(score, kDim, color);
  out += '\n';
  if (opts.no_content) return out;

  const auto lines = content_lines(r.content);
  std::vector<bool> show(lines.size(), true);
  if (opts.before || opts.after) {
    const size_t before = opts.before.value_or(0), after = opts.after.value_or(0);
    std::fill(show.begin(), show.end(), false);
    for (size_t b : best_lines(r, query_words)) {
      const size_t lo = b >= before ? b - before : 0;
      const size_t hi = std::min(lines.size() - 1, b + after);
      for (size_t i = lo; i <= hi; ++i) show[i] = true;
    }
  }
  bool gap = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!show[i]) {
      gap = true;
      continue;
    }
    if (gap && i > 0) out += paint("--", kDim, color) + "\n";
    gap = false;
    const std::string_view line = lines[i];
    auto spans = find_matches(line, query_words);
    out += paint(std::to_string(r.start_line + static_cast<int>(i)), kGreen, color);
    out += spans.empty() ? '-' : ':';
    out += highlight(line, spans, color);
    out += '\n';
  }
  return out;
}

std::string format_float(float v) {
  // Embedder::embed already fails on NaN/Inf; this keeps `embed` output valid JSON regardless.
  if (!std::isfinite(v)) throw Error("refusing to print a non-finite embedding value (NaN/Inf)");
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

namespace {

// errno of the first failed write to stdout seen here: stdio keeps only an error flag, and a
// write made by a library (CLI11's help through std::cout) leaves errno as its only trace.
int g_stdout_errno = 0;

// A pipe whose reader has gone reports POLLERR on its write end: tells EPIPE apart when the
// errno of the failed write is lost.
bool stdout_reader_gone() {
  struct pollfd p {};
  p.fd = STDOUT_FILENO;
  p.events = POLLOUT;
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLERR) != 0;
}

[[noreturn]] void throw_stdout_error(int err) {
  if (err == 0) err = g_stdout_errno;
  if (g_stdout_errno == 0) g_stdout_errno = err;
  if (err == EPIPE || (err == 0 && stdout_reader_gone())) throw StdoutClosed();
  throw IoError(std::string("error writing to stdout: ") +
                (err != 0 ? std::strerror(err) : "unknown error"));
}

// write(2) — pwrite(2) at offset `at` when at >= 0 — until everything is written (short writes
// and EINTR are normal). Returns 0 or errno.
int write_all(int fd, const char* p, size_t n, off_t at = -1) {
  while (n > 0) {
    const ssize_t w = at >= 0 ? ::pwrite(fd, p, n, at) : ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= static_cast<size_t>(w);
    if (at >= 0) at += w;
  }
  return 0;
}

}  // namespace

void write_stdout(std::string_view s) {
  if (s.empty()) return;
  errno = 0;
  if (std::fwrite(s.data(), 1, s.size(), stdout) != s.size() || std::ferror(stdout))
    throw_stdout_error(errno);
}

void flush_stdout() {
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) throw_stdout_error(errno);
}

void guard_standard_descriptors() {
  // In order: open() takes the lowest free number, so each lands on the one that is missing.
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int got = ::open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
    if (got != fd && got >= 0) {  // cannot happen (lower ones are open); never keep a stray fd
      ::dup2(got, fd);
      ::close(got);
    }
  }
}

void close_stdout() {
  const int earlier = errno;  // a failed write just before (e.g. CLI11 printing --help)
  errno = 0;
  if (std::fflush(stdout) != 0) throw_stdout_error(errno);
  if (std::ferror(stdout)) throw_stdout_error(earlier);
  if (::close(STDOUT_FILENO) != 0 && errno != EINTR && errno != EBADF) throw_stdout_error(errno);
}

namespace {

// Format v1.0: magic, version, u16 header length, then an ASCII dict padded with spaces and
// ended by '\n' so that magic + len + header is a multiple of 64 bytes. Every shape a size_t
// can hold (at most 20 digits a side) pads to the same 128 bytes, so the header of a file
// written while rows still arrive can be replaced in place by the one with the final count.
constexpr size_t kNpyHeadSize = 128;

std::string npy_head(size_t rows, size_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) + "), }";
  const size_t prefix = 6 + 2 + 2;
  const size_t total = prefix + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  const uint16_t hlen = static_cast<uint16_t>(header.size());
  std::string head = std::string("\x93NUMPY\x01\x00", 8);
  head += static_cast<char>(hlen & 0xff);
  head += static_cast<char>(hlen >> 8);
  head += header;
  if (head.size() != kNpyHeadSize)
    throw Error("npy header of " + std::to_string(head.size()) + " bytes");
  return head;
}

}  // namespace

namespace {

// The temporary .npy of the run, removed if SIGINT, SIGTERM or SIGHUP ends it (a killed `yes |
// ripvec embed --npy F` left a file that grew to gigabytes). One writer at a time per process.
char g_npy_tmp[4096];
volatile std::sig_atomic_t g_npy_tmp_set = 0;

extern "C" void npy_tmp_on_signal(int sig) {
  if (g_npy_tmp_set) ::unlink(g_npy_tmp);  // async-signal-safe
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

extern "C" void cpu_limit_on_signal(int sig) {
  static constexpr char kMsg[] =
      "ripvec: stopped: the CPU time limit of this process was reached (ulimit -t, prlimit "
      "--cpu); an index is as its last update left it\n";
  [[maybe_unused]] const ssize_t w = ::write(2, kMsg, sizeof kMsg - 1);  // async-signal-safe
  npy_tmp_on_signal(sig);
}

constexpr int kNpyCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};
bool g_npy_handled[3] = {false, false, false};  // whose disposition we replaced

// Installs the handler for the signals whose disposition is the default (an ignored one, as
// under nohup, stays ignored), or, with an empty path, puts those back to the default.
void npy_tmp_guard(const std::string& path) {
  if (path.empty()) {
    g_npy_tmp_set = 0;
    for (int i = 0; i < 3; ++i)
      if (std::exchange(g_npy_handled[i], false)) std::signal(kNpyCleanupSignals[i], SIG_DFL);
    return;
  }
  if (path.size() >= sizeof g_npy_tmp) return;  // (not reachable: PATH_MAX)
  std::memcpy(g_npy_tmp, path.c_str(), path.size() + 1);
  g_npy_tmp_set = 1;
  for (int i = 0; i < 3; ++i) {
    struct sigaction old {};
    if (::sigaction(kNpyCleanupSignals[i], nullptr, &old) != 0 || old.sa_handler != SIG_DFL)
      continue;
    std::signal(kNpyCleanupSignals[i], npy_tmp_on_signal);
    g_npy_handled[i] = true;
  }
}

// The descriptor that /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N or
// /proc/thread-self/fd/N names, or -1.
int named_descriptor(const std::string& p) {
  if (p == "/dev/stdout") return 1;
  if (p == "/dev/stderr") return 2;
  for (const char* prefix : {"/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/"}) {
    const std::string_view pre(prefix);
    if (p.size() > pre.size() && p.compare(0, pre.size(), pre) == 0) {
      int fd = -1;
      const char* b = p.data() + pre.size();
      const auto [end, ec] = std::from_chars(b, p.data() + p.size(), fd);
      if (ec == std::errc() && end == p.data() + p.size() && fd >= 0) return fd;
    }
  }
  return -1;
}

// A symlink's final target, even when it does not exist yet (realpath fails then): the link
// stays and its target is written. At most 40 links, as the kernel. Resolving stops at /dev/
// and /proc/: their links are the kernel's (/dev/stdout -> /proc/self/fd/1 -> the file stdout
// was redirected to), and following them turned a link to /dev/stdout, or
// /proc/thread-self/fd/1, into that file's own path, which was then replaced with what it held
// (hostile probe 2026-12-05, third round).
std::string resolve_links(std::string p) {
  for (int i = 0; i < 40; ++i) {
    if (p.rfind("/dev/", 0) == 0 || p.rfind("/proc/", 0) == 0) return p;
    std::error_code ec;
    if (!std::filesystem::is_symlink(std::filesystem::symlink_status(p, ec))) return p;
    const std::filesystem::path t = std::filesystem::read_symlink(p, ec);
    if (ec) return p;
    p = t.is_absolute() ? t.string() : (std::filesystem::path(p).parent_path() / t).string();
  }
  throw IoError("cannot write '" + p + "': too many levels of symbolic links");
}

}  // namespace

void report_cpu_time_limit() {
  struct sigaction old {};
  if (::sigaction(SIGXCPU, nullptr, &old) == 0 && old.sa_handler == SIG_DFL)
    std::signal(SIGXCPU, cpu_limit_on_signal);
}

NpyWriter::NpyWriter(const std::string& path_arg, size_t cols) : cols_(cols) {
  static_assert(std::endian::native == std::endian::little, "npy writer assumes little endian");
  // "-" and /dev/stdout (/dev/fd/1, /proc/self/fd/1) are standard output, written through the
  // checked stdout of every other output (its offset kept: `>> file` appends; a closed stdout
  // or a full disk is an error, a reader that left a quiet end). Reopening /dev/stdout
  // truncated the file it was redirected to, with what was in it. Other named descriptors are
  // written through a duplicate of that descriptor.
  path_ = resolve_links(path_arg == "-" ? std::string("/dev/stdout") : path_arg);
  const int named = named_descriptor(path_);
  if (named == 1) {
    to_stdout_ = true;
    in_place_ = true;
    return;
  }
  if (named >= 0) {
    fd_ = ::fcntl(named, F_DUPFD_CLOEXEC, 3);
    if (fd_ < 0) throw IoError("cannot write '" + path_ + "': " + std::strerror(errno));
    in_place_ = true;
    return;
  }
  const bool pseudo = path_.rfind("/dev/", 0) == 0 || path_.rfind("/proc/", 0) == 0;

  // Special files (a terminal, /dev/full, a FIFO) cannot be replaced by a rename, and may not
  // seek: they are written in place at finish(), every write checked, from rows kept until then.
  struct stat st {};
  const bool exists = ::stat(path_.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode))
    throw IoError("cannot write '" + path_ + "': it is a directory");
  if (exists && pseudo && S_ISREG(st.st_mode))
    throw IoError("cannot write '" + path_ +
                  "': it names a regular file through a pseudo file system; give its path");
  // A file we may not write is not ours to replace: a shell's `> FILE` fails on it, and the
  // rename below would have replaced a read-only file in a folder we may write (hostile probe
  // 2026-12-05, third round: a root-owned 0444 file became nobody's).
  if (exists && S_ISREG(st.st_mode) && ::access(path_.c_str(), W_OK) != 0)
    throw IoError("cannot write '" + path_ + "': " + std::strerror(errno));
  if (exists && !S_ISREG(st.st_mode)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) throw IoError("cannot open '" + path_ + "' for writing: " + std::strerror(errno));
    in_place_ = true;
    return;
  }

  // Regular file: temporary file beside it (same filesystem, so rename is atomic), mode
  // 0666 & ~umask like the file a plain open would create, or the mode of the file it replaces
  // (a private file stays private). Rows go to it as they come, after a header of the final
  // size; finish() writes the real header over it.
  const std::filesystem::path dest(path_);
  const std::filesystem::path dir = dest.has_parent_path() ? dest.parent_path() : ".";
  std::random_device rd;
  for (int attempt = 0; fd_ < 0; ++attempt) {
    std::string name = ".";  // (built in steps: gcc 12 -Wrestrict misfires on "." + string)
    name += dest.filename().string();
    name += ".ripvec-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
    tmp_path_ = (dir / name).string();
    fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                 exists ? (st.st_mode & 0777) : 0666);
    if (fd_ < 0) {
      const int err = errno;
      tmp_path_.clear();
      if (err == EEXIST && attempt < 100) continue;
      throw IoError("cannot create a temporary file in '" + dir.string() + "' for '" + path_ +
                    "': " + std::strerror(err));
    }
  }
  npy_tmp_guard(tmp_path_);
  // open() applied the umask: give the replaced file's mode exactly (set-id bits dropped).
  if (exists && ::fchmod(fd_, st.st_mode & 0777) != 0) check(errno);
  const std::string head = npy_head(0, cols_);
  check(write_all(fd_, head.data(), head.size()));
}

NpyWriter::~NpyWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_path_.empty()) {
    ::unlink(tmp_path_.c_str());
    npy_tmp_guard({});
  }
}

void NpyWriter::check(int err) const {
  if (err == 0) return;
  if (in_place_) throw IoError("failed writing '" + path_ + "': " + std::strerror(err));
  throw IoError("failed writing '" + path_ + "': " + std::strerror(err) + " (" + path_ +
                " left unchanged)");
}

void NpyWriter::append(const float* rows, size_t n) {
  if (done_) throw Error("NpyWriter::append after finish()");
  if (in_place_)
    kept_.insert(kept_.end(), rows, rows + n * cols_);
  else {
    check(write_all(fd_, reinterpret_cast<const char*>(rows), n * cols_ * sizeof(float)));
    // The rows' write-back starts now, so that finish()'s fsync waits only for the last ones.
    static const bool early_wb = [] {
      const char* v = std::getenv("RIPVEC_NPY_WRITEBACK");
      return v == nullptr || *v != '0';
    }();
    if (early_wb)  // these rows lie after the header and the rows_ before them
      ::sync_file_range(fd_, static_cast<off_t>(kNpyHeadSize + rows_ * cols_ * sizeof(float)),
                        static_cast<off_t>(n * cols_ * sizeof(float)), SYNC_FILE_RANGE_WRITE);
  }
  rows_ += n;
}

void NpyWriter::finish() {
  if (done_) throw Error("NpyWriter::finish called twice");
  done_ = true;
  const std::string head = npy_head(rows_, cols_);
  if (to_stdout_) {
    write_stdout(head);
    write_stdout(std::string_view(reinterpret_cast<const char*>(kept_.data()),
                                  kept_.size() * sizeof(float)));
    std::vector<float>().swap(kept_);
    return;
  }
  if (in_place_) {
    int err = write_all(fd_, head.data(), head.size());
    if (err == 0)
      err =
          write_all(fd_, reinterpret_cast<const char*>(kept_.data()), kept_.size() * sizeof(float));
    check(err);
    std::vector<float>().swap(kept_);
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0 && errno != EINTR) check(errno);
    return;
  }
  int err = write_all(fd_, head.data(), head.size(), 0);
  if (err == 0 && ::fsync(fd_) != 0) err = errno;
  if (err == 0) {
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0 && errno != EINTR) err = errno;
  }
  check(err);
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    throw IoError("cannot rename the temporary file to '" + path_ + "': " + std::strerror(errno));
  tmp_path_.clear();  // renamed: nothing to unlink
  npy_tmp_guard({});
}

std::string format_duration(double s) {
  if (!(s >= 0) || s > 359999) return "?";
  const int t = static_cast<int>(s + 0.5);
  char buf[32];
  if (t >= 60)
    std::snprintf(buf, sizeof(buf), "%dm%02ds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof(buf), "%ds", t);
  return buf;
}

void ProgressPrinter::draw(const std::string& text) {
  std::string line = text;
  if (line.size() > 120) line.resize(120);
  std::fprintf(stderr, "\r\x1b[2K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressPrinter::note(std::string_view text) {
  if (mode_ != Mode::Tty) return;
  draw(std::string(text));
}

void ProgressPrinter::update(const IndexProgress& p) {
  if (mode_ == Mode::Off) return;
  using Phase = IndexProgress::Phase;
  const int ph = static_cast<int>(p.phase);
  const bool new_phase = ph != phase_;
  if (new_phase) {
    phase_ = ph;
    phase_start_s_ = p.elapsed_s;
    phase_printed_ = false;
  }
  // Estimated chunks in all: while files are still being chunked, extrapolate by files.
  double est_total = static_cast<double>(p.chunks_total);
  if (p.files_chunked > 0 && p.files_chunked < p.files_total)
    est_total =
        est_total * static_cast<double>(p.files_total) / static_cast<double>(p.files_chunked);
  // The mean rate since embedding began: the recent one swings with the chunks' length (each
  // window is embedded longest first), and an ETA taken from it jumped 1m48s <-> 4m33s.
  const double per_s = p.chunks_per_s_mean > 0 ? p.chunks_per_s_mean : p.chunks_per_s;
  std::string eta;
  if (per_s > 0 && est_total > static_cast<double>(p.chunks_done))
    eta = "ETA " + format_duration((est_total - static_cast<double>(p.chunks_done)) / per_s);
  char rate[48] = "";
  if (per_s > 0) std::snprintf(rate, sizeof(rate), "%.0f chunks/s", per_s);

  std::string text;
  switch (p.phase) {
    case Phase::Scanning:
      text = "scanning";
      if (p.files_total > 0) text += " " + std::to_string(p.files_total) + " files";
      break;
    case Phase::Chunking:
      if (p.chunks_done == 0 && p.chunks_total == 0) {
        text = "chunking " + std::to_string(p.files_total) + " files";
        break;
      }
      [[fallthrough]];
    case Phase::Embedding:
      // While files are still being chunked the chunk total is what was found so far: "+"
      // says so (a non-TTY line read "embedding 0/280 chunks" and the run embedded 320;
      // hostile probe 2026-12-06).
      text = std::string(index_phase_name(p.phase)) + " " + std::to_string(p.chunks_done) + "/" +
             std::to_string(p.chunks_total) + (p.files_chunked < p.files_total ? "+" : "") +
             " chunks, files " + std::to_string(p.files_done) + "/" + std::to_string(p.files_total);
      if (rate[0]) text += std::string(", ") + rate;
      if (!eta.empty()) text += ", " + eta;
      break;
    case Phase::Writing:
      text = "writing the index";
      break;
    case Phase::Done:
      text = "done";
      break;
  }

  if (mode_ == Mode::Tty) {
    if (p.phase == Phase::Done) {
      finish();
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!new_phase && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    draw(text);
    return;
  }
  // Lines.
  const double in_phase = p.elapsed_s - phase_start_s_;
  bool print = false;
  if (p.phase == Phase::Done) {
    phase_ = -1;  // a next update (another root) starts afresh
    if (printed_) {
      printed_ = false;
      char buf[96];
      std::snprintf(buf, sizeof(buf), "done in %s", format_duration(p.elapsed_s).c_str());
      text = buf;
      print = true;
    }
  } else if (!phase_printed_) {
    // Embedding is real work: said at once. Scanning and chunking are said only when they
    // take a while (a re-check of touched files is not worth a line), writing only after
    // something else was said.
    switch (p.phase) {
      case Phase::Scanning:
        print = in_phase >= 2.0;
        break;
      case Phase::Chunking:
        print = in_phase >= 1.0;
        break;
      case Phase::Writing:
        print = printed_ || in_phase >= 1.0;
        break;
      default:
        print = true;
    }
  } else {
    print = p.elapsed_s - last_line_s_ >= 10.0;
  }
  if (!print) return;
  phase_printed_ = true;
  printed_ = p.phase != Phase::Done;
  last_line_s_ = p.elapsed_s;
  std::fprintf(stderr, "ripvec: %s\n", text.c_str());
  std::fflush(stderr);
}

std::string escape_message(std::string_view text) {
  std::string out;
  for (size_t b = 0;;) {
    const size_t e = text.find('\n', b);
    const std::string_view line =
        text.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
    // A continuation line that does not start with white space is indented, so that a newline
    // in a name cannot forge a line of ripvec's own ("ripvec: ..."; review 2026-12-07).
    if (b > 0 && (line.empty() || (line[0] != ' ' && line[0] != '\t'))) out += "  ";
    out += escape_name(line);
    if (e == std::string_view::npos) return out;
    out += '\n';
    b = e + 1;
  }
}

void ProgressPrinter::finish() {
  if (mode_ != Mode::Tty || !drawn_) return;
  std::fputs("\r\x1b[2K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof(buf), "%.1f GiB", static_cast<double>(b) / (1ull << 30));
  else if (b >= (1ull << 20))
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(b) / (1ull << 20));
  else if (b >= 1024)
    std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(b) / 1024);
  else
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

}  // namespace ripvec::cli
