// `ripvec embed`: texts from arguments, or one per line on stdin, to vectors. Texts are
// tokenized on every core (Embedder::tokenize is thread-safe) and the ids embedded; on a GPU
// the next block of texts is tokenized while the device runs the current one.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "output.hpp"
#include "ripvec/error.hpp"

namespace ripvec::cli {

namespace {

// Reads stdin in large blocks: std::getline on std::cin (synchronised with stdio) costs
// about 0.1 s per MB, as long as embedding the texts on a GPU (docs/benchmarks.md, issue 9).
std::vector<std::string> read_stdin_lines() {
  std::string all;
  std::vector<char> buf(1 << 20);
  for (;;) {
    const size_t got = std::fread(buf.data(), 1, buf.size(), stdin);
    all.append(buf.data(), got);
    if (got < buf.size()) break;
  }
  if (std::ferror(stdin)) throw IoError("error reading stdin");
  std::vector<std::string> lines;
  size_t lineno = 0;
  for (size_t pos = 0; pos < all.size();) {
    size_t end = all.find('\n', pos);
    if (end == std::string::npos) end = all.size();
    std::string line = all.substr(pos, end - pos);
    pos = end + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF input
    check_utf8(line, "stdin line " + std::to_string(lineno));
    lines.push_back(std::move(line));
  }
  return lines;
}

void print_row(std::string& out, const float* row, size_t dim) {
  out += '[';
  for (size_t d = 0; d < dim; ++d) {
    if (d != 0) out += ',';
    out += format_float(row[d]);
  }
  out += ']';
}

// ids[i] = e.tokenize(texts[i], kind) for i in [lo, hi), on `threads` threads.
void tokenize_range(const Embedder& e, const std::vector<std::string>& texts, InputKind kind,
                    size_t lo, size_t hi, unsigned threads,
                    std::vector<std::vector<int32_t>>& ids) {
  constexpr size_t kGrain = 64;
  std::atomic<size_t> next{lo};
  std::exception_ptr error;
  std::mutex error_mu;
  auto work = [&] {
    for (;;) {
      const size_t a = next.fetch_add(kGrain);
      if (a >= hi) return;
      for (size_t i = a; i < std::min(hi, a + kGrain); ++i) {
        try {
          ids[i] = e.tokenize(texts[i], kind);
        } catch (const std::exception& ex) {
          std::lock_guard lk(error_mu);
          if (!error)
            error = std::make_exception_ptr(
                InvalidArgument("text " + std::to_string(i + 1) + ": " + ex.what()));
          next = hi;
          return;
        }
      }
    }
  };
  threads = static_cast<unsigned>(
      std::clamp<size_t>((hi - lo + kGrain - 1) / kGrain, 1, std::max(threads, 1u)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

// Embeds texts as embed() would (the same ids). The weights load in the background
// (WeightLoading::Background) while the texts are tokenized. On the CPU one call: the forward
// pass uses every core, so tokenizing everything first is the faster order, and the vectors are
// those of embed(texts). On a GPU a producer thread tokenizes blocks of kBlock texts on the
// other cores while the device runs, and each call embeds everything tokenized so far (at
// least a block): where tokenizing outpaces the model's start-up, as on a many-core host, the
// first call takes all the texts, as the engine benchmark's one call does; elsewhere the calls
// follow the tokenizer block by block. Calls never overlap on the device.
std::vector<float> embed_texts(Embedder& e, const std::vector<std::string>& texts, InputKind kind) {
  constexpr size_t kBlock = 8192;
  const size_t n = texts.size(), dim = e.dim();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::vector<int32_t>> ids(n);
  if (!e.device_name().starts_with("cuda") || n <= kBlock) {
    tokenize_range(e, texts, kind, 0, n, cores, ids);
    return e.embed_tokens(ids, kind);
  }
  std::mutex mu;
  std::condition_variable cv;
  size_t ready = 0;  // ids[0, ready) are tokenized (guarded by mu)
  bool stop = false;
  std::exception_ptr error;
  std::thread producer([&] {
    try {
      for (size_t lo = 0; lo < n; lo += kBlock) {
        {
          std::lock_guard lk(mu);
          if (stop) return;
        }
        const size_t hi = std::min(n, lo + kBlock);
        tokenize_range(e, texts, kind, lo, hi, std::max(1u, cores - 1), ids);
        std::lock_guard lk(mu);
        ready = hi;
        cv.notify_one();
      }
    } catch (...) {
      std::lock_guard lk(mu);
      error = std::current_exception();
      cv.notify_one();
    }
  });
  auto finish = [&] {
    {
      std::lock_guard lk(mu);
      stop = true;
    }
    producer.join();
  };
  std::vector<float> out(n * dim);
  try {
    for (size_t done = 0; done < n;) {
      size_t hi = 0;
      {
        std::unique_lock lk(mu);
        // At least a block (or the rest), and before the first call the loaded weights (polled:
        // the loader does not signal): until then the tokenizer keeps adding texts to the call.
        const size_t want = std::min(n, done + kBlock);
        while (!error && (ready < want || (done == 0 && ready < n && !e.weights_ready())))
          cv.wait_for(lk, std::chrono::milliseconds(2));
        if (error) std::rethrow_exception(error);
        hi = ready;
      }
      const std::vector<float> v = e.embed_tokens(std::span(ids).subspan(done, hi - done), kind);
      if (v.size() != (hi - done) * dim)
        throw Error("embedder returned " + std::to_string(v.size()) + " floats for " +
                    std::to_string(hi - done) + " texts of dim " + std::to_string(dim));
      std::memcpy(out.data() + done * dim, v.data(), v.size() * sizeof(float));
      for (size_t i = done; i < hi; ++i) std::vector<int32_t>().swap(ids[i]);
      done = hi;
    }
  } catch (...) {
    finish();
    throw;
  }
  finish();
  return out;
}

}  // namespace

int run_embed(const CliOptions& opts) {
  std::vector<std::string> texts;
  if (!opts.embed_texts.empty()) {
    texts = opts.embed_texts;
    for (size_t i = 0; i < texts.size(); ++i)
      check_utf8(texts[i], "argument " + std::to_string(i + 1));
  } else {
    texts = read_stdin_lines();
  }
  if (texts.empty())
    throw InvalidArgument("no input texts (give TEXT arguments or lines on stdin)");

  // The weights load while the texts are tokenized (embed_texts).
  auto embedder = load_embedder(opts, nullptr, WeightLoading::Background);
  const InputKind kind = opts.embed_query      ? InputKind::Query
                         : opts.embed_document ? InputKind::Document
                                               : InputKind::Raw;
  const std::vector<float> vecs = embed_texts(*embedder, texts, kind);
  const size_t dim = embedder->dim();
  if (vecs.size() != texts.size() * dim)
    throw Error("embedder returned " + std::to_string(vecs.size()) + " floats for " +
                std::to_string(texts.size()) + " texts of dim " + std::to_string(dim));

  if (!opts.npy_path.empty()) {
    write_npy(opts.npy_path, vecs, texts.size(), dim);
    return 0;
  }
  std::string out;
  out.reserve(vecs.size() * 12);
  if (opts.embed_json) {
    out += '[';
    for (size_t i = 0; i < texts.size(); ++i) {
      if (i != 0) out += ',';
      print_row(out, vecs.data() + i * dim, dim);
    }
    out += "]\n";
  } else {
    for (size_t i = 0; i < texts.size(); ++i) {
      print_row(out, vecs.data() + i * dim, dim);
      out += '\n';
    }
  }
  write_stdout(out);
  return 0;
}

}  // namespace ripvec::cli
