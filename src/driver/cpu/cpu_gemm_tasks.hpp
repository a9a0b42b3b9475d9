// How a packed GEMM (FP32 cpu_packed_gemm, INT8 cpu_int8_gemm) is cut into pool tasks: row
// blocks of `mc` rows times groups of column panels. All panels go to one task while there are
// enough row blocks to go around; otherwise the columns are split so that there are about three
// tasks per thread (small m still spreads over the pool). Task t covers row block t / groups and
// panels [panel0(t), panel1(t)). Pure arithmetic; no allocation. run_tasks() hands tasks (or
// rows) to the pool, or keeps them on the calling thread when they are too small to share.
#pragma once

#include <algorithm>
#include <cstdint>

#include "util/thread_pool.hpp"

namespace ripvec::cpu {

struct GemmTasks {
  int64_t row_blocks = 0, panels = 0, groups = 1, per_group = 0, count = 0;

  GemmTasks(int64_t m, int64_t mc, int64_t panel_count, int64_t threads)
      : row_blocks((m + mc - 1) / mc), panels(panel_count) {
    while (row_blocks * groups < 3 * threads && groups < panels) ++groups;
    per_group = (panels + groups - 1) / groups;
    groups = (panels + per_group - 1) / per_group;
    count = row_blocks * groups;
  }
  int64_t row_block(int64_t t) const { return t / groups; }
  int64_t panel0(int64_t t) const { return (t % groups) * per_group; }
  int64_t panel1(int64_t t) const { return std::min(panels, panel0(t) + per_group); }
};

// fn(lo, hi) over [0, count): on the pool in pieces of at least `grain`, or all on the calling
// thread when `small` (handing the work out would cost more than it saves), count <= 1, or the
// pool has one thread. fn reaches the pool through a one-reference wrapper, which std::function
// holds without allocating (the hot path allocates nothing: CpuDriverHotPath.NoHeapAllocation).
template <class F>
void run_tasks(int64_t count, int64_t grain, bool small, F& fn) {
  if (small || count <= 1 || ThreadPool::global().size() == 1)
    fn(int64_t{0}, count);
  else
    parallel_for(0, count, grain, [&fn](int64_t lo, int64_t hi) { fn(lo, hi); });
}

}  // namespace ripvec::cpu
