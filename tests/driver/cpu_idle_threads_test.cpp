// ripvec's ThreadPool owns the cores: once a CPU driver exists, nothing else may keep running
// beside the pool's workers, which wait on a condition variable between calls.
//
// Regression (2026-12-05): the OpenBLAS that the driver then linked started its workers when the
// library was loaded, and they busy-waited (sched_yield) for ~0.1 s before sleeping; a one-shot
// `ripvec QUERY` on 2 cores lost one core to them for most of its ~80 ms. No BLAS is linked since
// 2026-12-07 (src/driver/cpu/cpu_sgemm.hpp); the test stays so that no library brings such
// threads back. It must be the first test of its process (such workers spin only in the first
// ~0.1 s after load), hence a file of its own.
#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "driver/cpu/cpu_driver.hpp"

namespace ripvec {
namespace {

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

TEST(CpuIdleThreads, NothingSpinsBesideThePool) {
  CpuDriver driver;
  // The main thread sleeps and the pool's workers wait on a condition variable: the process
  // should use almost no CPU. A spinning worker (OpenBLAS's did) would add about the whole
  // interval.
  const double before = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  const double used = process_cpu_seconds() - before;
  EXPECT_LT(used, 0.015) << "the process used " << used * 1e3
                         << " ms of CPU during a 60 ms sleep after the driver started";
}

}  // namespace
}  // namespace ripvec
