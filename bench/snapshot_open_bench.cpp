// What opening (and so verifying) a snapshot costs: Snapshot::open_file checks the header, the
// bounds and a CRC-32C of every section before a query may read it (docs/reliability.md).
//
//   snapshot_open_bench [--chunks N] [--dim D] [--content-bytes B] [--runs R] [--dir PATH]
//
// Writes a snapshot of N chunks (B bytes of code-like content each, random unit vectors of dim
// D) under --dir (default $TMPDIR/ripvec_open_bench), then times R opens with the file in the
// page cache (a warm query's situation), and one plain CRC-32C pass over the whole file.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "index/hash.hpp"
#include "index/store.hpp"
#include "util/thread_pool.hpp"

using namespace ripvec::index;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Process CPU time (all threads): the cost on an idle machine, whatever the load here.
double cpu_ms() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  size_t chunks = 20000, dim = 384, content_bytes = 1200, runs = 30;
  fs::path dir = fs::temp_directory_path() / "ripvec_open_bench";
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr,
                   "usage: snapshot_open_bench [--chunks N] [--dim D] [--content-bytes B] "
                   "[--runs R] [--dir PATH]\n");
      return 2;
    }
    const std::string v = argv[++i];
    if (s == "--chunks")
      chunks = std::stoull(v);
    else if (s == "--dim")
      dim = std::stoull(v);
    else if (s == "--content-bytes")
      content_bytes = std::stoull(v);
    else if (s == "--runs")
      runs = std::stoull(v);
    else if (s == "--dir")
      dir = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", s.c_str());
      return 2;
    }
  }
  fs::create_directories(dir);
  const fs::path path = dir / ("snapshot-" + std::to_string(chunks) + "x" + std::to_string(dim) +
                               "x" + std::to_string(content_bytes) + ".bin");
  {
    const size_t per_file = 20;
    std::vector<ObjectData> objs((chunks + per_file - 1) / per_file);
    uint64_t s = 88172645463325252ull;
    auto next = [&] {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      return s;
    };
    for (size_t f = 0; f < objs.size(); ++f) {
      const size_t n = std::min(per_file, chunks - f * per_file);
      objs[f].chunks.resize(n);
      objs[f].vectors.resize(n * dim);
      for (size_t i = 0; i < n; ++i) {
        StoredChunk& c = objs[f].chunks[i];
        c.start_line = static_cast<int>(i * 30 + 1);
        c.end_line = static_cast<int>(i * 30 + 30);
        c.symbol = "handler_" + std::to_string(f) + "_" + std::to_string(i);
        c.kind = "function";
        c.language = "python";
        while (c.content.size() < content_bytes)
          c.content += "    value_" + std::to_string(next() % 5000) + " = compute(item, " +
                       std::to_string(next() % 100) + ")\n";
        float* v = &objs[f].vectors[i * dim];
        double norm = 0;
        for (size_t j = 0; j < dim; ++j) {
          v[j] = static_cast<float>(next() >> 40) / 16777216.0f - 0.5f;
          norm += double(v[j]) * v[j];
        }
        for (size_t j = 0; j < dim; ++j) v[j] = static_cast<float>(v[j] / std::sqrt(norm));
      }
    }
    std::vector<std::string> paths(objs.size());
    std::vector<SnapshotFileInput> in(objs.size());
    for (size_t f = 0; f < objs.size(); ++f) {
      paths[f] = "pkg/module_" + std::to_string(f / 50) + "/file_" + std::to_string(f) + ".py";
      in[f] = {paths[f], &objs[f]};
    }
    AtomicFile out(path);
    write_snapshot(out, in, static_cast<uint32_t>(dim), "open-bench");
    out.commit(false);
  }
  const double mb = static_cast<double>(fs::file_size(path)) / 1e6;

  (void)Snapshot::open_file(path);  // page cache warm-up
  std::vector<double> t, cpu;
  for (size_t r = 0; r < runs; ++r) {
    const double c = cpu_ms();
    const auto t0 = Clock::now();
    auto snap = Snapshot::open_file(path);
    t.push_back(ms(Clock::now() - t0));
    cpu.push_back(cpu_ms() - c);
  }
  std::sort(t.begin(), t.end());
  std::sort(cpu.begin(), cpu.end());
  auto map = MappedFile::open(path);
  const double cc0 = cpu_ms();
  const auto c0 = Clock::now();
  volatile uint32_t crc = crc32c(map->data(), map->size());
  (void)crc;
  const double crc_ms = ms(Clock::now() - c0), crc_cpu = cpu_ms() - cc0;

  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("snapshot of %zu chunks x dim %zu, %zu B content each: %.1f MB\n", chunks, dim,
              content_bytes, mb);
  std::printf("pool threads %u, machine load (1 min) %.1f on %u cores\n",
              ripvec::ThreadPool::global().size(), load[0], std::thread::hardware_concurrency());
  std::printf("| measure                                  | ms    |\n|---|---|\n");
  std::printf("| open_file (verify all sections), p50     | %5.1f |\n", t[t.size() / 2]);
  std::printf("| open_file, min                           | %5.1f |\n", t.front());
  std::printf("| open_file, p95                           | %5.1f |\n",
              t[std::min(t.size() - 1, t.size() * 95 / 100)]);
  std::printf("| open_file, CPU ms (all threads), p50     | %5.1f |\n", cpu[cpu.size() / 2]);
  std::printf("| one CRC-32C pass over the file, 1 thread | %5.1f (CPU %.1f, %.1f GB/s) |\n",
              crc_ms, crc_cpu, mb / 1e3 / (crc_cpu / 1e3));
  fs::remove(path);
  return 0;
}
