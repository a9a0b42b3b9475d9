#include "pipeline/batching.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>
#include <numeric>
#include <string>

#include "ripvec/error.hpp"

namespace ripvec {

namespace {
constexpr size_t kNoBound = std::numeric_limits<size_t>::max();
size_t bound(size_t v) {
  return v == 0 ? kNoBound : v;
}
}  // namespace

std::vector<std::vector<size_t>> plan_batches(std::span<const size_t> lengths,
                                              const BatchLimits& limits) {
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  const size_t max_tokens = bound(limits.max_tokens), max_batch = bound(limits.max_batch),
               max_scores = bound(limits.max_scores);
  std::vector<std::vector<size_t>> batches;
  std::vector<size_t> cur;
  size_t seq = 0;  // S of the current batch: the length of its first (longest) member
  for (size_t i : order) {
    if (lengths[i] == 0)
      throw InvalidArgument("plan_batches: sequence " + std::to_string(i) + " is empty");
    if (!cur.empty()) {
      // Overflow-safe checks of (B+1)*S <= max_tokens and (B+1)*S*S <= max_scores.
      const size_t b = cur.size() + 1;
      const bool fits = b <= max_batch && b <= max_tokens / seq &&
                        (max_scores == kNoBound || b <= max_scores / seq / seq);
      if (!fits) {
        batches.push_back(std::move(cur));
        cur.clear();
      }
    }
    if (cur.empty()) seq = lengths[i];
    cur.push_back(i);
  }
  if (!cur.empty()) batches.push_back(std::move(cur));
  return batches;
}

BatchShape worst_case_shape(const BatchLimits& limits, size_t max_seq) {
  const auto S = static_cast<int64_t>(std::max<size_t>(max_seq, 1));
  // Budgets below one sequence still admit that sequence alone.
  const int64_t cap = static_cast<int64_t>(std::min<size_t>(bound(limits.max_tokens), 1ull << 40));
  BatchShape s;
  s.max_seq = S;
  s.padded = std::max(cap, S);
  s.tokens = s.padded;
  s.batch = std::min<int64_t>(
      s.padded, static_cast<int64_t>(std::min<size_t>(bound(limits.max_batch), 1ull << 40)));
  s.scores = s.padded * S;
  if (limits.max_scores != 0)
    s.scores = std::min(s.scores, std::max(static_cast<int64_t>(limits.max_scores), S * S));
  return s;
}

namespace {

// One group's batches as submitted: rows in batch order, written by fn until complete.
struct Submitted {
  std::vector<std::vector<size_t>> batches;
  std::vector<float> rows;
  size_t n = 0;
  uint64_t last_call = 0;  // count of fn calls made when its last one returned
};

std::vector<size_t> lengths_of(std::span<const std::vector<int32_t>> sequences,
                               std::span<const std::vector<int32_t>> token_types) {
  if (!token_types.empty() && token_types.size() != sequences.size())
    throw InvalidArgument("run_batches: token_types count differs from sequences");
  std::vector<size_t> lengths(sequences.size());
  for (size_t i = 0; i < sequences.size(); ++i) {
    if (sequences[i].empty())
      throw InvalidArgument("sequence " + std::to_string(i) + " has no tokens");
    lengths[i] = sequences[i].size();
  }
  return lengths;
}

// Plans the sequences into batches and calls fn on each, into g.rows (which must stay where
// it is until the rows are complete); after_call() after each call.
void submit(std::span<const std::vector<int32_t>> sequences,
            std::span<const std::vector<int32_t>> token_types, std::span<const size_t> lengths,
            const BatchLimits& limits, size_t dim, const BatchFn& fn, Submitted& g, uint64_t& calls,
            const std::function<void()>& after_call) {
  g.n = sequences.size();
  g.last_call = calls;
  g.batches = plan_batches(lengths, limits);
  g.rows.assign(sequences.size() * dim, 0.0f);
  std::vector<std::vector<int32_t>> ids, types;
  size_t row0 = 0;
  for (const auto& batch : g.batches) {
    ids.clear();
    types.clear();
    for (size_t i : batch) {
      ids.push_back(sequences[i]);
      if (!token_types.empty()) types.push_back(token_types[i]);
    }
    const BatchInputs in = build_batch_inputs(ids, types);
    fn(in, g.rows.data() + row0 * dim);
    row0 += batch.size();
    g.last_call = ++calls;
    if (after_call) after_call();
  }
}

// The complete rows of g in the order its sequences were given.
std::vector<float> in_caller_order(const Submitted& g, size_t dim) {
  std::vector<float> result(g.n * dim);
  size_t row0 = 0;
  for (const auto& batch : g.batches) {
    for (size_t r = 0; r < batch.size(); ++r)
      std::memcpy(result.data() + batch[r] * dim, g.rows.data() + (row0 + r) * dim,
                  dim * sizeof(float));
    row0 += batch.size();
  }
  return result;
}

void finish_quietly(const std::function<void()>& finish) {
  try {
    if (finish) finish();
  } catch (...) {
  }
}

}  // namespace

std::vector<float> run_batches(std::span<const std::vector<int32_t>> sequences,
                               std::span<const std::vector<int32_t>> token_types,
                               const BatchLimits& limits, size_t dim, const BatchFn& fn,
                               const std::function<void()>& finish) {
  const std::vector<size_t> lengths = lengths_of(sequences, token_types);
  Submitted g;
  uint64_t calls = 0;
  try {
    submit(sequences, token_types, lengths, limits, dim, fn, g, calls, {});
  } catch (...) {
    finish_quietly(finish);  // deferred writes of earlier batches land while g.rows exists
    throw;
  }
  if (finish) finish();
  return in_caller_order(g, dim);
}

void run_batch_groups(const GroupSource& next, const BatchLimits& limits, size_t dim, size_t depth,
                      const BatchFn& fn, const std::function<void()>& finish,
                      const GroupSink& done) {
  std::deque<Submitted> q;  // submitted and not handed out, oldest first (stable addresses)
  bool submitting = false;  // q.back() is still being submitted
  uint64_t calls = 0;
  // Hands out the groups whose rows are complete, oldest first; all = true finishes the
  // device's work first, so every group is.
  auto hand_out = [&](bool all) {
    if (all && !q.empty() && finish) finish();
    while (q.size() > (submitting ? 1u : 0u) && (all || calls - q.front().last_call >= depth)) {
      const Submitted g = std::move(q.front());
      q.pop_front();
      done(in_caller_order(g, dim));
    }
  };
  std::vector<std::vector<int32_t>> seqs;
  // An error of `next` (a bad sequence, a stopped producer) comes before anything of its group
  // is submitted: the groups in flight are computed and handed out first.
  auto next_or_hand_out = [&](bool wait) {
    seqs.clear();
    try {
      return next(seqs, wait);
    } catch (...) {
      try {
        hand_out(true);
      } catch (...) {
      }
      throw;
    }
  };
  try {
    for (;;) {
      if (!next_or_hand_out(false)) {
        hand_out(true);  // nothing to submit: the device drains, the rows go out meanwhile
        if (!next_or_hand_out(true)) break;
      }
      const std::vector<size_t> lengths = lengths_of(seqs, {});
      q.emplace_back();
      submitting = true;
      submit(seqs, {}, lengths, limits, dim, fn, q.back(), calls, [&] { hand_out(false); });
      submitting = false;
      hand_out(false);
    }
    hand_out(true);
  } catch (...) {
    finish_quietly(finish);  // rows still being written land while q exists
    throw;
  }
}

}  // namespace ripvec
