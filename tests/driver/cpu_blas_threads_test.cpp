// The CPU driver's process-wide BLAS threading (src/driver/cpu/cpu_driver.cpp, init_blas_threads):
// in pool mode (the default) ripvec's ThreadPool owns the cores and OpenBLAS runs single-threaded,
// so nothing of OpenBLAS may keep running beside it.
//
// Regression (2026-12-05): OpenBLAS's pthread build starts its workers when the library is loaded
// and they busy-wait (sched_yield) for ~0.1 s before sleeping; a one-shot `ripvec QUERY` on 2
// cores lost one core to them for most of its ~80 ms. This must be the first test of its process
// (the workers spin only in the first ~0.1 s after load), hence a file of its own.
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

TEST(CpuBlasThreads, OpenBlasWorkersDoNotSpinBesideThePool) {
  CpuDriver driver;  // pool mode unless $RIPVEC_BLAS_THREADING=openblas
  if (const char* env = std::getenv("RIPVEC_BLAS_THREADING"); env && std::string(env) == "openblas")
    GTEST_SKIP() << "RIPVEC_BLAS_THREADING=openblas gives OpenBLAS its own threads on purpose";
  // The main thread sleeps and the pool's workers wait on a condition variable: the process
  // should use almost no CPU. A spinning OpenBLAS worker would add about the whole interval.
  const double before = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  const double used = process_cpu_seconds() - before;
  EXPECT_LT(used, 0.015) << "the process used " << used * 1e3
                         << " ms of CPU during a 60 ms sleep after the driver started";
}

}  // namespace
}  // namespace ripvec
