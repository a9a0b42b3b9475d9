// Semantic top-k latency over a synthetic index in the real on-disk snapshot format.
//
//   query_bench [--chunks N] [--dim D] [--queries Q] [--k K] [--dir PATH] [--clustered]
//
// Writes (once; reused while its header matches) a snapshot of N chunks with random unit
// vectors under --dir (default $TMPDIR/ripvec_query_bench), maps it like a query does, and
// times Q queries: the int8-prefiltered exact search the CLI uses, and the plain float32 scan
// for comparison. The first pass over the file is reported separately (page cache warm-up).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "index/store.hpp"
#include "index/vector_search.hpp"
#include "util/thread_pool.hpp"

using namespace ripvec::index;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  size_t chunks = 1000000, dim = 384, queries = 200, k = 10;
  fs::path dir = fs::temp_directory_path() / "ripvec_query_bench";
  bool clustered = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", s.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (s == "--chunks")
      a.chunks = std::stoull(next());
    else if (s == "--dim")
      a.dim = std::stoull(next());
    else if (s == "--queries")
      a.queries = std::stoull(next());
    else if (s == "--k")
      a.k = std::stoull(next());
    else if (s == "--dir")
      a.dir = next();
    else if (s == "--clustered")
      a.clustered = true;
    else {
      std::fprintf(stderr,
                   "usage: query_bench [--chunks N] [--dim D] [--queries Q] [--k K] "
                   "[--dir PATH] [--clustered]\n");
      std::exit(2);
    }
  }
  return a;
}

void normalize(float* v, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; ++j) s += double(v[j]) * v[j];
  const float inv = static_cast<float>(1.0 / std::sqrt(s));
  for (size_t j = 0; j < d; ++j) v[j] *= inv;
}

// Approximately Gaussian components (sum of uniforms) are plenty for random directions and
// much faster than std::normal_distribution at 384M draws.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  float gauss() {
    float a = 0;
    for (int i = 0; i < 4; ++i) a += static_cast<float>(next() >> 40) * (1.0f / 16777216.0f);
    return (a - 2.0f) * 1.7320508f;
  }
};

// Process CPU time (all threads), to tell kernel cost from waiting on a busy machine.
double cpu_ms() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

struct Summary {
  double p50, p95, mean;
};
Summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  auto pct = [&](double p) { return v[std::min(v.size() - 1, size_t(p * (v.size() - 1) + 0.5))]; };
  return {pct(0.50), pct(0.95), sum / v.size()};
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  fs::create_directories(a.dir);
  const std::string tag = std::to_string(a.chunks) + "x" + std::to_string(a.dim) +
                          (a.clustered ? "-clustered" : "-random");
  const fs::path path = a.dir / ("snapshot-" + tag + ".bin");
  const std::string key = "query-bench-" + tag;
  const std::string model_key = key.substr(0, 32);
  const size_t d = a.dim;

  std::shared_ptr<Snapshot> snap;
  try {
    snap = Snapshot::open_file(path);
    if (snap->num_chunks() != a.chunks || snap->dim() != d) snap.reset();
  } catch (const std::exception&) {
    snap.reset();
  }
  if (!snap) {
    std::printf("writing synthetic snapshot %s ...\n", path.c_str());
    const auto t0 = Clock::now();
    // One object per 100 chunks, like files of a large repository.
    const size_t per_file = 100;
    std::vector<ObjectData> objs((a.chunks + per_file - 1) / per_file);
    std::vector<float> centroids;
    const size_t n_centroids = 256;
    if (a.clustered) {
      Rng r{12345};
      centroids.resize(n_centroids * d);
      for (size_t c = 0; c < n_centroids; ++c) {
        for (size_t j = 0; j < d; ++j) centroids[c * d + j] = r.gauss();
        normalize(&centroids[c * d], d);
      }
    }
    ripvec::parallel_for(0, static_cast<int64_t>(objs.size()), 16, [&](int64_t lo, int64_t hi) {
      for (int64_t f = lo; f < hi; ++f) {
        Rng r{0x9E3779B97F4A7C15ull * (f + 1)};
        const size_t first = f * per_file, n = std::min(per_file, a.chunks - first);
        ObjectData& o = objs[f];
        o.chunks.resize(n);
        o.vectors.resize(n * d);
        for (size_t i = 0; i < n; ++i) {
          StoredChunk& c = o.chunks[i];
          c.start_line = static_cast<int>(i * 20 + 1);
          c.end_line = static_cast<int>(i * 20 + 20);
          c.symbol = "fn_" + std::to_string(first + i);
          c.kind = "function";
          c.language = "rust";
          c.content = "fn fn_" + std::to_string(first + i) + "() { work(" +
                      std::to_string((first + i) % 977) + ") }";
          float* v = &o.vectors[i * d];
          const float* cen = a.clustered ? &centroids[(r.next() % n_centroids) * d] : nullptr;
          for (size_t j = 0; j < d; ++j)
            v[j] = r.gauss() * (a.clustered ? 0.05f : 1.0f) + (cen ? cen[j] : 0.0f);
          normalize(v, d);
        }
      }
    });
    std::vector<std::string> paths(objs.size());
    std::vector<SnapshotFileInput> in(objs.size());
    for (size_t f = 0; f < objs.size(); ++f) {
      paths[f] = "src/module_" + std::to_string(f / 100) + "/file_" + std::to_string(f) + ".rs";
      in[f] = {paths[f], &objs[f]};
    }
    const auto t1 = Clock::now();
    {
      AtomicFile out(path);
      write_snapshot(out, in, static_cast<uint32_t>(d), model_key);
      out.commit(false);
    }
    std::printf("  generated in %.1f s, written in %.1f s (%.2f GB)\n", ms(t1 - t0) / 1e3,
                ms(Clock::now() - t1) / 1e3, fs::file_size(path) / 1e9);
    snap = Snapshot::open_file(path);
  }

  // Queries: half near a stored vector (a real query resembles some chunk), half random.
  std::vector<std::vector<float>> queries(a.queries, std::vector<float>(d));
  Rng r{777};
  for (size_t q = 0; q < a.queries; ++q) {
    if (q % 2 == 0) {
      const float* base = snap->vector(r.next() % snap->num_chunks());
      for (size_t j = 0; j < d; ++j) queries[q][j] = base[j] + 0.03f * r.gauss();
    } else {
      for (size_t j = 0; j < d; ++j) queries[q][j] = r.gauss();
    }
    normalize(queries[q].data(), d);
  }

  const auto tw = Clock::now();
  (void)top_k_dot_quantized(queries[0], snap->quantized(), a.k);
  const double first_ms = ms(Clock::now() - tw);
  (void)top_k_dot(queries[0], snap->vectors(), snap->num_chunks(), d, a.k);  // warm f32 pages

  std::vector<double> tq, tf, cq, cf;
  size_t rescored_sum = 0, mismatches = 0;
  for (size_t q = 0; q < a.queries; ++q) {
    QuantizedSearchStats st;
    const double c0 = cpu_ms();
    auto t0 = Clock::now();
    auto r1 = top_k_dot_quantized(queries[q], snap->quantized(), a.k, &st);
    auto t1 = Clock::now();
    const double c1 = cpu_ms();
    auto r2 = top_k_dot(queries[q], snap->vectors(), snap->num_chunks(), d, a.k);
    auto t2 = Clock::now();
    const double c2 = cpu_ms();
    tq.push_back(ms(t1 - t0));
    tf.push_back(ms(t2 - t1));
    cq.push_back(c1 - c0);
    cf.push_back(c2 - c1);
    rescored_sum += st.rescored;
    for (size_t i = 0; i < r1.size(); ++i) mismatches += r1[i].id != r2[i].id;
  }
  Summary sq = summarize(tq), sf = summarize(tf), scq = summarize(cq), scf = summarize(cf);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf(
      "\nsemantic top-%zu over %zu chunks x dim %zu (%s vectors), %zu queries, "
      "%u threads, %s kernels\n",
      a.k, snap->num_chunks(), d, a.clustered ? "clustered" : "random", a.queries,
      ripvec::ThreadPool::global().size(), simd_level_name(simd_level()));
  std::printf("machine load average (1 min): %.1f on %u cores\n", load[0],
              std::thread::hardware_concurrency());
  std::printf(
      "| method                          | p50 ms | p95 ms | mean ms | CPU ms/query p50 |\n");
  std::printf(
      "|---------------------------------|--------|--------|---------|------------------|\n");
  std::printf("| int8 prefilter + exact rescore  | %6.1f | %6.1f | %7.1f | %16.1f |\n", sq.p50,
              sq.p95, sq.mean, scq.p50);
  std::printf("| float32 full scan               | %6.1f | %6.1f | %7.1f | %16.1f |\n", sf.p50,
              sf.p95, sf.mean, scf.p50);
  std::printf(
      "first query (cold mapping): %.1f ms; rows rescored per query: %.1f; "
      "top-%zu id mismatches vs float32 scan: %zu\n",
      first_ms, double(rescored_sum) / a.queries, a.k, mismatches);
  return mismatches == 0 ? 0 : 1;
}
