// `ripvec embed`: texts from arguments, or one per line on stdin, to vectors, block by block.
// A reader thread reads a block of texts (kBlockTexts lines or about kBlockBytes of text),
// checks it and tokenizes it on every core (Embedder::tokenize is thread-safe) while the
// caller embeds the blocks before it and writes their rows, so that an endless stdin
// (`yes | ripvec embed`) is embedded in bounded memory and its first vectors come out at once.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "output.hpp"
#include "ripvec/error.hpp"

namespace ripvec::cli {

namespace {

// A block: as many texts as the GPU path tokenized ahead before, and a byte bound for long lines.
constexpr size_t kBlockTexts = 8192;
constexpr size_t kBlockBytes = size_t{8} << 20;
// Blocks tokenized ahead of the embedder; one embedding call takes all of them (on a GPU, one
// call over many texts is faster than several calls).
constexpr size_t kMaxQueued = 8;
// Texts per embedding call on the CPU (embed_stream).
constexpr size_t kCpuCallTexts = 1024;

// Thrown inside the reader when the caller stops it (an error downstream).
struct ReadStopped {};

// Where texts come from, one block at a time.
class TextSource {
 public:
  virtual ~TextSource() = default;
  // Replaces `texts` by the next block; false when there is none (then `texts` is empty).
  virtual bool next(std::vector<std::string>& texts) = 0;
  // Makes a next() that waits for input throw ReadStopped (from another thread).
  virtual void stop() {}
};

class ArgumentSource final : public TextSource {
 public:
  explicit ArgumentSource(const std::vector<std::string>& args) : args_(args) {
    for (size_t i = 0; i < args_.size(); ++i)
      check_utf8(args_[i], "argument " + std::to_string(i + 1));
  }
  bool next(std::vector<std::string>& texts) override {
    texts.clear();
    const size_t hi = std::min(args_.size(), pos_ + kBlockTexts);
    texts.assign(args_.begin() + static_cast<ptrdiff_t>(pos_),
                 args_.begin() + static_cast<ptrdiff_t>(hi));
    pos_ = hi;
    return !texts.empty();
  }

 private:
  const std::vector<std::string>& args_;
  size_t pos_ = 0;
};

// Lines of stdin ('\n', a CRLF's '\r' dropped; a last line without '\n' counts, an empty end
// does not), read with read(2) in 1 MiB pieces: std::getline on std::cin (synchronised with
// stdio) costs about 0.1 s per MB, as long as embedding the texts on a GPU (docs/benchmarks.md,
// issue 9), and fread would wait for a whole buffer of a slow pipe. poll() also watches a
// pipe of our own, so that stop() ends a read that waits for input.
class StdinSource final : public TextSource {
 public:
  explicit StdinSource(bool quiet) : quiet_(quiet) {
    if (::pipe2(wake_, O_CLOEXEC) != 0) throw IoError(std::string("pipe: ") + std::strerror(errno));
  }
  ~StdinSource() override {
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  void stop() override {
    const char c = 0;
    [[maybe_unused]] const ssize_t w = ::write(wake_[1], &c, 1);  // one byte; the pipe is empty
  }
  bool next(std::vector<std::string>& texts) override {
    texts.clear();
    if (pending_error_) std::rethrow_exception(std::exchange(pending_error_, nullptr));
    size_t bytes = 0;
    while (texts.size() < kBlockTexts && bytes < kBlockBytes) {
      size_t nl = buf_.find('\n', pos_);
      // A producer that pauses (`tail -f log | ripvec embed`) gets the lines it has sent: a
      // block goes out when stdin has nothing more for 50 ms, instead of after 8,192 lines.
      if (nl == std::string::npos && !eof_ && !texts.empty() && !readable_within(50)) break;
      while (nl == std::string::npos && !eof_) {
        const size_t seen = buf_.size() - pos_;  // of this line, searched already
        // One text is truncated to the model's few hundred tokens anyway: a line this long is
        // not a text but a stream without newlines, which would otherwise grow without bound.
        if (seen > kMaxLineBytes)
          throw InvalidArgument("stdin line " + std::to_string(lineno_ + 1) +
                                " is longer than 64 MiB (one text per line)");
        fill();  // (moves the line to the front)
        nl = buf_.find('\n', seen);
      }
      if (nl == std::string::npos) {  // end of input
        if (pos_ == buf_.size()) break;
        nl = buf_.size();
      }
      std::string line = buf_.substr(pos_, nl - pos_);
      pos_ = std::min(nl + 1, buf_.size());
      ++lineno_;
      if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF input
      // Only '\n' ends a text, so that row i is always line i; input whose lines end in a bare
      // '\r' (classic Mac files, some exports) was embedded as one truncated text without a word
      // (hostile probe 2026-12-07). Said once, naming the first such line.
      if (!warned_cr_ && !quiet_ && line.find('\r') != std::string::npos) {
        warned_cr_ = true;
        std::fprintf(stderr,
                     "ripvec: warning: stdin line %zu has a carriage return inside it: only "
                     "'\\n' ends a text (for input with bare '\\r' line ends, convert it first: "
                     "tr '\\r' '\\n')\n",
                     lineno_);
      }
      // A line that is not UTF-8 ends the input; the lines before it in this block are still
      // embedded and written first (they were dropped with the block; hostile probe 2026-12-06).
      try {
        check_utf8(line, "stdin line " + std::to_string(lineno_));
      } catch (...) {
        if (texts.empty()) throw;
        pending_error_ = std::current_exception();
        break;
      }
      bytes += line.size();
      texts.push_back(std::move(line));
    }
    return !texts.empty();
  }

 private:
  // Whether stdin has input (or its end) within ms milliseconds (-1: waits until it has);
  // stop() ends the wait with ReadStopped.
  bool readable_within(int ms) {
    for (;;) {
      pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      const int n = ::poll(p, 2, ms);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw IoError(std::string("error reading stdin: ") + std::strerror(errno));
      if (p[1].revents != 0) throw ReadStopped{};
      return n > 0;
    }
  }

  // Appends what stdin has (at least a byte, or sets eof_), dropping the lines already taken.
  void fill() {
    if (pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    for (;;) {
      if (!readable_within(-1)) continue;
      const size_t old = buf_.size();
      buf_.resize(old + kPiece);
      const ssize_t got = ::read(STDIN_FILENO, buf_.data() + old, kPiece);
      const int err = errno;
      buf_.resize(old + static_cast<size_t>(std::max<ssize_t>(got, 0)));
      if (got > 0) return;
      if (got == 0) {
        eof_ = true;
        return;
      }
      if (err == EINTR || err == EAGAIN) continue;
      throw IoError(std::string("error reading stdin: ") + std::strerror(err));
    }
  }

  bool quiet_;
  bool warned_cr_ = false;
  static constexpr size_t kPiece = size_t{1} << 20;
  static constexpr size_t kMaxLineBytes = size_t{64} << 20;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  size_t lineno_ = 0;
  std::exception_ptr pending_error_;  // thrown by the next call to next()
  int wake_[2] = {-1, -1};
};

void print_row(std::string& out, const float* row, size_t dim) {
  out += '[';
  for (size_t d = 0; d < dim; ++d) {
    if (d != 0) out += ',';
    out += format_float(row[d]);
  }
  out += ']';
}

// Where the rows go: lines of JSON arrays, one JSON array of arrays, or a .npy file.
class RowSink {
 public:
  RowSink(const CliOptions& opts, size_t dim) : json_(opts.embed_json), dim_(dim) {
    if (!opts.npy_path.empty()) npy_.emplace(opts.npy_path, dim);
  }
  void write(const float* rows, size_t n) {
    if (npy_) {
      npy_->append(rows, n);
      return;
    }
    // Formatted a slice at a time: a call's rows as text are ~12 bytes a value.
    constexpr size_t kSlice = 1024;
    std::string out;
    for (size_t lo = 0; lo < n; lo += kSlice) {
      out.clear();
      for (size_t i = lo; i < std::min(n, lo + kSlice); ++i) {
        if (json_) out += rows_ == 0 && i == 0 ? '[' : ',';
        print_row(out, rows + i * dim_, dim_);
        if (!json_) out += '\n';
      }
      write_stdout(out);
    }
    rows_ += n;
    flush_stdout();  // each call's rows as soon as they are embedded
  }
  void finish() {
    if (npy_)
      npy_->finish();
    else if (json_)
      write_stdout(rows_ == 0 ? "[]\n" : "]\n");
  }
  // A run that fails after some rows (a line that is not UTF-8, a read error): the --json array
  // of the rows written so far is closed, so that stdout stays one JSON document (it ended
  // without its ']'; hostile probe 2026-12-06). Lines and .npy need nothing (the .npy file is
  // not made). Never throws: the run's own error is the one to report.
  void close_after_error() noexcept {
    if (!json_ || npy_ || rows_ == 0) return;
    try {
      write_stdout("]\n");
    } catch (...) {
    }
  }

 private:
  bool json_;
  size_t dim_;
  size_t rows_ = 0;
  std::optional<NpyWriter> npy_;
};

// ids[i] = e.tokenize(texts[i], kind) for every text, on `threads` threads; errors name the
// text by its number in the whole input (first + i + 1).
void tokenize_block(const Embedder& e, const std::vector<std::string>& texts, InputKind kind,
                    size_t first, unsigned threads, std::vector<std::vector<int32_t>>& ids) {
  constexpr size_t kGrain = 64;
  const size_t n = texts.size();
  ids.resize(n);
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  auto work = [&] {
    for (;;) {
      const size_t a = next.fetch_add(kGrain);
      if (a >= n) return;
      for (size_t i = a; i < std::min(n, a + kGrain); ++i) {
        try {
          ids[i] = e.tokenize(texts[i], kind);
        } catch (const std::exception& ex) {
          std::lock_guard lk(error_mu);
          if (!error)
            error = std::make_exception_ptr(
                InvalidArgument("text " + std::to_string(first + i + 1) + ": " + ex.what()));
          next = n;
          return;
        }
      }
    }
  };
  threads = static_cast<unsigned>(
      std::clamp<size_t>((n + kGrain - 1) / kGrain, 1, std::max(threads, 1u)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

// Embeds every text of `source` (starting with `first`, already read) and hands the rows to
// `sink` in input order, as embed() would (the same ids). A reader thread reads, checks and
// tokenizes the blocks, at most kMaxQueued ahead (bounded memory); on a GPU each embedding call
// takes every block tokenized so far, on the CPU at most kCpuCallTexts texts (so that a stream's
// first rows come out within seconds). The weights load in the background
// (WeightLoading::Background): until they are ready the first call waits and the reader keeps
// adding blocks to it, so that on a GPU where tokenizing outpaces the start-up an input of up
// to kMaxQueued blocks is one call. On a GPU the reader leaves a core to the host side of the
// device's work. Calls never overlap on the device. A failure in block k (a read error, a text
// without tokens) ends the run after the rows of the blocks before it; a line that is not UTF-8
// ends its block, so the run ends after the rows of every line before it.
void embed_stream(Embedder& e, TextSource& source, std::vector<std::string> first, InputKind kind,
                  RowSink& sink) {
  const size_t dim = e.dim();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const bool on_gpu = e.device_name().starts_with("cuda");
  const unsigned threads = on_gpu ? std::max(1u, cores - 1) : cores;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::vector<std::vector<int32_t>>> queue;  // tokenized blocks (guarded by mu)
  bool done = false, stop = false;
  std::exception_ptr error;
  std::thread reader([&, texts = std::move(first)]() mutable {
    size_t count = 0;  // texts tokenized before this block
    try {
      for (;;) {
        std::vector<std::vector<int32_t>> ids;
        tokenize_block(e, texts, kind, count, threads, ids);
        count += texts.size();
        {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return stop || queue.size() < kMaxQueued; });
          if (stop) return;
          queue.push_back(std::move(ids));
          cv.notify_all();
        }
        if (!source.next(texts)) break;  // without the lock: this may wait for input
      }
    } catch (const ReadStopped&) {
    } catch (...) {
      std::lock_guard lk(mu);
      error = std::current_exception();
    }
    std::lock_guard lk(mu);
    done = true;
    cv.notify_all();
  });
  auto finish = [&] {
    {
      std::lock_guard lk(mu);
      stop = true;
      cv.notify_all();
    }
    source.stop();
    reader.join();
  };
  // The rows go out on a writer thread of their own, in call order, so that the next call
  // starts while the previous one's rows are written (a GPU otherwise idles while ~100 MB of
  // .npy are written and synced). At most kMaxWriting calls' rows wait for it.
  constexpr size_t kMaxWriting = 2;
  std::mutex wmu;
  std::condition_variable wcv;
  std::deque<std::pair<std::vector<float>, size_t>> writing;  // under wmu
  bool wclosed = false;                                       // under wmu
  std::exception_ptr werror;                                  // under wmu
  std::thread writer([&] {
    for (;;) {
      std::pair<std::vector<float>, size_t> rows;
      {
        std::unique_lock lk(wmu);
        wcv.wait(lk, [&] { return wclosed || !writing.empty(); });
        if (writing.empty()) return;
        rows = std::move(writing.front());
      }
      try {
        sink.write(rows.first.data(), rows.second);
      } catch (...) {
        std::lock_guard lk(wmu);
        werror = std::current_exception();
        writing.clear();
        wcv.notify_all();
        return;
      }
      std::lock_guard lk(wmu);
      writing.pop_front();
      wcv.notify_all();
    }
  });
  // Lets the writer write what was handed over and waits for it.
  auto stop_writer = [&] {
    {
      std::lock_guard lk(wmu);
      wclosed = true;
      wcv.notify_all();
    }
    if (writer.joinable()) writer.join();
  };
  // The same, then rethrows the writer's error, if any.
  auto close_writer = [&] {
    stop_writer();
    if (werror) std::rethrow_exception(werror);
  };
  try {
    for (bool first_call = true;; first_call = false) {
      {  // a writer that failed (a reader that left) ends the run before another call
        std::lock_guard lk(wmu);
        if (werror) std::rethrow_exception(werror);
      }
      std::vector<std::vector<int32_t>> ids;
      {
        std::unique_lock lk(mu);
        // Before the first call the loaded weights (polled: the loader does not signal).
        for (;;) {
          const bool loading = first_call && !e.weights_ready();
          if (done || (!queue.empty() && (!loading || queue.size() == kMaxQueued))) break;
          if (loading)
            cv.wait_for(lk, std::chrono::milliseconds(2));
          else
            cv.wait(lk);
        }
        if (queue.empty()) {
          if (error) {
            lk.unlock();
            close_writer();  // the rows of the blocks before the failed one
            std::rethrow_exception(error);
          }
          break;  // done
        }
        if (on_gpu) {
          for (auto& block : queue)
            for (auto& v : block) ids.push_back(std::move(v));
          queue.clear();
        } else {
          // On the CPU a call takes at most kCpuCallTexts texts: a call is seconds to minutes
          // there, and one over every queued block (up to 65,536 texts) held back the first
          // rows of a stream for minutes. More texts per call gain nothing on the CPU once its
          // token-budget batches are full and length-sorted.
          while (!queue.empty() && ids.size() < kCpuCallTexts) {
            auto& block = queue.front();
            const size_t take = std::min(block.size(), kCpuCallTexts - ids.size());
            for (size_t i = 0; i < take; ++i) ids.push_back(std::move(block[i]));
            if (take == block.size())
              queue.pop_front();
            else
              block.erase(block.begin(), block.begin() + static_cast<ptrdiff_t>(take));
          }
        }
        cv.notify_all();
      }
      std::vector<float> v = e.embed_tokens(ids, kind);
      if (v.size() != ids.size() * dim)
        throw Error("embedder returned " + std::to_string(v.size()) + " floats for " +
                    std::to_string(ids.size()) + " texts of dim " + std::to_string(dim));
      std::unique_lock lk(wmu);
      wcv.wait(lk, [&] { return werror || writing.size() < kMaxWriting; });
      if (werror) std::rethrow_exception(werror);
      writing.emplace_back(std::move(v), ids.size());
      wcv.notify_all();
    }
    close_writer();
  } catch (...) {
    stop_writer();
    finish();
    throw;
  }
  finish();
}

// --query / --document on a model without that prompt embed the texts as they are, and a prompt
// as long as the model reads leaves no room for any text (every text embeds to the same vector):
// both were silent (hostile probe 2026-12-07); a note on stderr says so.
void warn_about_prompt(const Embedder& e, InputKind kind, bool quiet) {
  if (quiet || kind == InputKind::Raw) return;
  const char* flag = kind == InputKind::Query ? "--query" : "--document";
  const std::string& prompt = e.prompt(kind);
  if (prompt.empty()) {
    std::fprintf(
        stderr, "ripvec: note: model %s has no %s prompt: %s embeds the texts as they are\n",
        escape_name(e.model_id()).c_str(), kind == InputKind::Query ? "query" : "document", flag);
    return;
  }
  const size_t n = e.tokenizer().count_tokens(prompt, /*add_special=*/true);
  if (n >= e.max_seq_length())
    std::fprintf(stderr,
                 "ripvec: warning: the %s prompt of %s is %zu tokens, as many as the model reads "
                 "(%zu): no text after it is read\n",
                 flag + 2, escape_name(e.model_id()).c_str(), n, e.max_seq_length());
}

}  // namespace

int run_embed(const CliOptions& opts) {
  std::unique_ptr<TextSource> source;
  if (!opts.embed_texts.empty())
    source = std::make_unique<ArgumentSource>(opts.embed_texts);
  else
    source = std::make_unique<StdinSource>(opts.quiet);
  // The first block is read and checked before the model loads: no input, or a first line
  // that is not UTF-8, fails without loading anything.
  std::vector<std::string> first;
  if (!source->next(first))
    throw InvalidArgument("no input texts (give TEXT arguments or lines on stdin)");

  // The weights load while the first blocks are tokenized (embed_stream).
  auto embedder = load_embedder(opts, nullptr, WeightLoading::Background);
  const InputKind kind = opts.embed_query      ? InputKind::Query
                         : opts.embed_document ? InputKind::Document
                                               : InputKind::Raw;
  warn_about_prompt(*embedder, kind, opts.quiet);
  RowSink sink(opts, embedder->dim());
  try {
    embed_stream(*embedder, *source, std::move(first), kind, sink);
  } catch (...) {
    sink.close_after_error();
    throw;
  }
  sink.finish();
  embedder.reset();
  return 0;
}

}  // namespace ripvec::cli
