#include "pipeline/batching.hpp"

#include <algorithm>
#include <cstring>
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

std::vector<float> run_batches(std::span<const std::vector<int32_t>> sequences,
                               std::span<const std::vector<int32_t>> token_types,
                               const BatchLimits& limits, size_t dim, const BatchFn& fn,
                               const std::function<void()>& finish) {
  if (!token_types.empty() && token_types.size() != sequences.size())
    throw InvalidArgument("run_batches: token_types count differs from sequences");
  std::vector<size_t> lengths(sequences.size());
  for (size_t i = 0; i < sequences.size(); ++i) {
    if (sequences[i].empty())
      throw InvalidArgument("sequence " + std::to_string(i) + " has no tokens");
    lengths[i] = sequences[i].size();
  }
  std::vector<float> result(sequences.size() * dim);
  std::vector<std::vector<int32_t>> ids, types;
  const auto batches = plan_batches(lengths, limits);
  // Rows of every batch, in batch order: fn may fill them after it returns (until finish).
  std::vector<float> rows(sequences.size() * dim, 0.0f);
  size_t row0 = 0;
  try {
    for (const auto& batch : batches) {
      ids.clear();
      types.clear();
      for (size_t i : batch) {
        ids.push_back(sequences[i]);
        if (!token_types.empty()) types.push_back(token_types[i]);
      }
      const BatchInputs in = build_batch_inputs(ids, types);
      fn(in, rows.data() + row0 * dim);
      row0 += batch.size();
    }
  } catch (...) {
    // Deferred writes of earlier batches must land while `rows` still exists.
    try {
      if (finish) finish();
    } catch (...) {
    }
    throw;
  }
  if (finish) finish();
  row0 = 0;
  for (const auto& batch : batches) {
    for (size_t r = 0; r < batch.size(); ++r)
      std::memcpy(result.data() + batch[r] * dim, rows.data() + (row0 + r) * dim,
                  dim * sizeof(float));
    row0 += batch.size();
  }
  return result;
}

}  // namespace ripvec
