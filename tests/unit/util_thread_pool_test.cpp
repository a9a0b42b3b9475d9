// The shared pool's bound on its threads.
#include <gtest/gtest.h>

#include <atomic>

#include "util/thread_pool.hpp"

namespace ripvec {
namespace {

// Probe 2026-12-05: `ripvec -j 100000` (or RIPVEC_THREADS=100000) started threads until the
// user's process limit was spent: every fork on the machine failed and the run never ended.
// The pool holds at most kMaxThreads (the CLI refuses more); 5,000 asked for stays safe to run
// even where the bound is missing.
TEST(UtilThreadPool, ThreadsBeyondTheBoundAreCapped) {
  ThreadPool pool(5000);
  EXPECT_EQ(pool.size(), 1024u);  // ThreadPool::kMaxThreads
  std::atomic<int64_t> sum{0};
  pool.parallel_for(0, 100000, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) sum += i;
  });
  EXPECT_EQ(sum.load(), int64_t(100000) * 99999 / 2);
  EXPECT_EQ(ThreadPool(3).size(), 3u);
}

}  // namespace
}  // namespace ripvec
