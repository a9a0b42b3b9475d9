// Batching policy of the embedding pipeline: sort by length, cut under a token budget, run,
// put the results back in the caller's order. Independent of any model or driver.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "arch/arch_common.hpp"
#include "driver/batch.hpp"

namespace ripvec {

struct BatchLimits {
  // Bound on B * S, the padded token count of a batch (never below the sum of lengths, and
  // close to it because batches hold sequences of similar length). 0: no bound.
  size_t max_tokens = 16384;
  size_t max_batch = 0;  // bound on B; 0: none
  // Bound on B * S * S, the attention scores per head of the padded attention form; 0: none.
  size_t max_scores = 0;
};

// Groups the indices of `lengths` into batches. Inputs are ordered by length, longest first
// (ties keep the caller's order), and cut greedily so that each batch respects `limits`.
// A sequence that alone exceeds a bound still gets a batch of its own. Lengths must be > 0.
std::vector<std::vector<size_t>> plan_batches(std::span<const size_t> lengths,
                                              const BatchLimits& limits);

// The largest batch shape plan_batches() can produce for sequences of at most `max_seq`
// tokens: what an architecture reserves scratch for.
BatchShape worst_case_shape(const BatchLimits& limits, size_t max_seq);

// Runs `fn` over the batches of `sequences` (token ids, each non-empty; `token_types` empty or
// one per sequence). fn(batch, out) writes `dim` floats per sequence of the batch, in the
// batch's order, to out — at once, or later: each batch gets its own `out`, valid until
// `finish` (when given) has returned, so a device may still be computing one batch while the
// host prepares the next (Encoder::embed_async). `batch` itself is only valid during the call.
// Returns [sequences.size(), dim] in the caller's order.
using BatchFn = std::function<void(const BatchInputs& batch, float* out)>;
std::vector<float> run_batches(std::span<const std::vector<int32_t>> sequences,
                               std::span<const std::vector<int32_t>> token_types,
                               const BatchLimits& limits, size_t dim, const BatchFn& fn,
                               const std::function<void()>& finish = {});

// Groups of sequences run one after another through one device that is kept busy across them
// (an index's windows): group k+1's first batches are submitted before group k's rows are
// handed out, so the device does not wait for the host between groups while `next` has one
// ready. Each group is batched on its own (plan_batches over its sequences), exactly as
// run_batches would batch it, so its rows do not depend on its neighbours.
//   next(seqs, wait): fills `seqs` (cleared by the caller's run; each sequence non-empty) with
//     the next group and returns true. With wait = false it may return false when none is ready
//     yet: the groups in flight are then finished and handed out, and next is called again with
//     wait = true, where false ends the run.
//   fn(batch, out): as in run_batches. The rows of a call are complete once `depth` later calls
//     of fn have returned, or once finish() has returned (depth 0: when fn returns;
//     Encoder::async_depth()).
//   done(rows): [group size, dim] in the group's order; once per group, in group order, on the
//     calling thread, never before every row of the group is complete.
// Errors: whatever next, fn, finish or done throws ends the run after finish() and is rethrown;
// groups not yet handed out are dropped, except on an error of `next`, which comes before its
// group is submitted: the groups in flight are handed out first.
using GroupSource = std::function<bool(std::vector<std::vector<int32_t>>& seqs, bool wait)>;
using GroupSink = std::function<void(std::vector<float>&& rows)>;
void run_batch_groups(const GroupSource& next, const BatchLimits& limits, size_t dim, size_t depth,
                      const BatchFn& fn, const std::function<void()>& finish,
                      const GroupSink& done);

}  // namespace ripvec
