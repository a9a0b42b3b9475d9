// Batching policy: length sort, budgets, caller order, worst-case shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <numeric>
#include <random>
#include <set>

#include "pipeline/batching.hpp"
#include "ripvec/error.hpp"

namespace ripvec {
namespace {

std::vector<size_t> random_lengths(size_t n, size_t max_len, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> len(1, max_len);
  std::vector<size_t> v(n);
  for (auto& x : v) x = len(rng);
  return v;
}

// Every index exactly once; each batch sorted longest first and within the limits (or a
// single sequence).
void check_plan(const std::vector<size_t>& lengths, const BatchLimits& lim,
                const std::vector<std::vector<size_t>>& plan) {
  std::vector<int> seen(lengths.size(), 0);
  size_t prev_len = SIZE_MAX;
  for (const auto& b : plan) {
    ASSERT_FALSE(b.empty());
    const size_t S = lengths[b.front()];
    size_t sum = 0;
    for (size_t i : b) {
      ++seen.at(i);
      EXPECT_LE(lengths[i], S);
      EXPECT_LE(lengths[i], prev_len);  // global order is non-increasing
      prev_len = lengths[i];
      sum += lengths[i];
    }
    if (b.size() > 1) {
      if (lim.max_tokens) {
        EXPECT_LE(b.size() * S, lim.max_tokens);
      }
      if (lim.max_batch) {
        EXPECT_LE(b.size(), lim.max_batch);
      }
      if (lim.max_scores) {
        EXPECT_LE(b.size() * S * S, lim.max_scores);
      }
    }
    EXPECT_LE(sum, b.size() * S);
  }
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 1) << "index " << i;
}

TEST(PipelineBatching, RespectsEveryBound) {
  for (unsigned seed = 0; seed < 20; ++seed) {
    auto lengths = random_lengths(300, 300, seed);
    BatchLimits lim;
    lim.max_tokens = 1000 + seed * 97;
    lim.max_batch = seed % 3 == 0 ? 0 : 7 + seed;
    lim.max_scores = seed % 2 == 0 ? 0 : 200000 + seed * 1000;
    auto plan = plan_batches(lengths, lim);
    check_plan(lengths, lim, plan);
  }
}

TEST(PipelineBatching, GreedyFillsBatches) {
  // 10 sequences of 100 tokens under a 250-token budget: batches of 2.
  std::vector<size_t> lengths(10, 100);
  BatchLimits lim;
  lim.max_tokens = 250;
  auto plan = plan_batches(lengths, lim);
  ASSERT_EQ(plan.size(), 5u);
  for (const auto& b : plan) EXPECT_EQ(b.size(), 2u);
  // Ties keep the caller's order.
  EXPECT_EQ(plan[0], (std::vector<size_t>{0, 1}));
  EXPECT_EQ(plan[4], (std::vector<size_t>{8, 9}));
}

TEST(PipelineBatching, OversizedSequenceGetsItsOwnBatch) {
  std::vector<size_t> lengths{5, 900, 5, 5};
  BatchLimits lim;
  lim.max_tokens = 100;
  auto plan = plan_batches(lengths, lim);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0], (std::vector<size_t>{1}));
  EXPECT_EQ(plan[1], (std::vector<size_t>{0, 2, 3}));
}

TEST(PipelineBatching, ScoreCapSplitsLongSequences) {
  std::vector<size_t> lengths(8, 512);
  BatchLimits lim;
  lim.max_tokens = 1 << 20;
  lim.max_scores = 3 * 512 * 512;
  auto plan = plan_batches(lengths, lim);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].size(), 3u);
  EXPECT_EQ(plan[2].size(), 2u);
}

TEST(PipelineBatching, EmptySequenceRejected) {
  std::vector<size_t> lengths{3, 0};
  EXPECT_THROW(plan_batches(lengths, BatchLimits{}), InvalidArgument);
  std::vector<std::vector<int32_t>> seqs{{1, 2}, {}};
  EXPECT_THROW(run_batches(seqs, {}, BatchLimits{}, 1, [](const BatchInputs&, float*) {}),
               InvalidArgument);
}

TEST(PipelineBatching, WorstCaseShapeBoundsEveryPlannedBatch) {
  for (unsigned seed = 0; seed < 10; ++seed) {
    const size_t max_seq = 64 + seed * 40;
    auto lengths = random_lengths(200, max_seq, 100 + seed);
    BatchLimits lim;
    lim.max_tokens = seed == 3 ? 10 : 2000 + 300 * seed;  // seed 3: budget below one sequence
    lim.max_scores = seed % 2 ? 0 : 1500000;
    const BatchShape cap = worst_case_shape(lim, max_seq);
    for (const auto& b : plan_batches(lengths, lim)) {
      std::vector<std::vector<int32_t>> seqs;
      for (size_t i : b) seqs.emplace_back(lengths[i], 7);
      const BatchShape s = BatchShape::of(build_batch_inputs(seqs));
      EXPECT_TRUE(s.fits_in(cap)) << "seed " << seed << " B=" << s.batch << " S=" << s.max_seq;
    }
  }
}

TEST(PipelineBatching, RunBatchesRestoresCallerOrder) {
  // fn writes, per sequence, (first id, length, token type of the last token): the result
  // must come back in the caller's order whatever the batching did.
  std::mt19937 rng(7);
  std::vector<std::vector<int32_t>> seqs, types;
  for (int i = 0; i < 157; ++i) {
    const int len = 1 + static_cast<int>(rng() % 90);
    seqs.emplace_back(len, 0);
    seqs.back()[0] = i;
    types.emplace_back(len, i % 2);
  }
  BatchLimits lim;
  lim.max_tokens = 400;
  int calls = 0;
  auto out = run_batches(seqs, types, lim, 3, [&](const BatchInputs& b, float* rows) {
    ++calls;
    EXPECT_LE(static_cast<size_t>(b.batch) * b.max_seq, 400u);
    for (int r = 0; r < b.batch; ++r) {
      const int32_t first = b.cu_seqlens[r], last = b.cu_seqlens[r + 1] - 1;
      rows[r * 3 + 0] = static_cast<float>(b.input_ids[first]);
      rows[r * 3 + 1] = static_cast<float>(b.seq_lengths[r]);
      rows[r * 3 + 2] = static_cast<float>(b.token_type_ids[last]);
    }
  });
  EXPECT_GT(calls, 1);
  ASSERT_EQ(out.size(), seqs.size() * 3);
  for (size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_EQ(out[i * 3 + 0], static_cast<float>(i));
    EXPECT_EQ(out[i * 3 + 1], static_cast<float>(seqs[i].size()));
    EXPECT_EQ(out[i * 3 + 2], static_cast<float>(i % 2));
  }
}

TEST(PipelineBatching, NoInputsNoCalls) {
  int calls = 0;
  auto out = run_batches({}, {}, BatchLimits{}, 4, [&](const BatchInputs&, float*) { ++calls; });
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(calls, 0);
}

// fn may write its rows after it returns, until finish(): the pipelined (embed_async) form.
TEST(RunBatches, DeferredWritesLandInCallerOrder) {
  std::vector<std::vector<int32_t>> seqs;
  for (int i = 0; i < 23; ++i) seqs.push_back(std::vector<int32_t>(1 + (i * 7) % 13, i));
  BatchLimits lim;
  lim.max_tokens = 30;
  std::vector<std::pair<float*, std::vector<int32_t>>> pending;  // out, first id of each row
  int finishes = 0;
  auto out = run_batches(
      seqs, {}, lim, 2,
      [&](const BatchInputs& b, float* rows) {
        std::vector<int32_t> firsts;
        for (int r = 0; r < b.batch; ++r) firsts.push_back(b.input_ids[b.cu_seqlens[r]]);
        pending.emplace_back(rows, std::move(firsts));  // nothing written yet
      },
      [&] {
        ++finishes;
        for (auto& [rows, firsts] : pending)
          for (size_t r = 0; r < firsts.size(); ++r) {
            rows[2 * r] = static_cast<float>(firsts[r]);
            rows[2 * r + 1] = -1.0f;
          }
      });
  EXPECT_EQ(finishes, 1);
  EXPECT_GT(pending.size(), 3u);
  for (int i = 0; i < 23; ++i) {
    EXPECT_EQ(out[2 * i], static_cast<float>(i)) << i;
    EXPECT_EQ(out[2 * i + 1], -1.0f) << i;
  }
}

// An error in a later batch still lets earlier deferred writes land before the rows go away.
TEST(RunBatches, FinishRunsWhenABatchThrows) {
  std::vector<std::vector<int32_t>> seqs(5, std::vector<int32_t>(10, 1));
  BatchLimits lim;
  lim.max_tokens = 10;
  int calls = 0, finishes = 0;
  EXPECT_THROW(run_batches(
                   seqs, {}, lim, 1,
                   [&](const BatchInputs&, float*) {
                     if (++calls == 3) throw InvalidArgument("bad batch");
                   },
                   [&] { ++finishes; }),
               InvalidArgument);
  EXPECT_EQ(finishes, 1);
}

// A device whose rows land late, like the CUDA driver's to_host_async: at most two copies in
// flight, a third call completes the oldest, finish() completes all. Rows are (first id, -1).
struct LateDevice {
  std::deque<std::pair<float*, std::vector<int32_t>>> pending;
  int calls = 0, finishes = 0;
  void land(const std::pair<float*, std::vector<int32_t>>& p) {
    for (size_t r = 0; r < p.second.size(); ++r) {
      p.first[2 * r] = static_cast<float>(p.second[r]);
      p.first[2 * r + 1] = -1.0f;
    }
  }
  void fn(const BatchInputs& b, float* rows) {
    ++calls;
    if (pending.size() == 2) {
      land(pending.front());
      pending.pop_front();
    }
    std::vector<int32_t> firsts;
    for (int r = 0; r < b.batch; ++r) firsts.push_back(b.input_ids[b.cu_seqlens[r]]);
    pending.emplace_back(rows, std::move(firsts));
  }
  void finish() {
    ++finishes;
    for (auto& p : pending) land(p);
    pending.clear();
  }
};

std::vector<std::vector<std::vector<int32_t>>> numbered_groups(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<std::vector<int32_t>>> groups(n);
  int32_t id = 0;
  for (auto& g : groups) {
    const size_t count = rng() % 9;  // some groups empty
    for (size_t i = 0; i < count; ++i) g.push_back(std::vector<int32_t>(1 + rng() % 12, id++));
  }
  return groups;
}

// Every group's rows are complete and in its own order when handed out, groups in order; the
// device is drained once, at the end, when next always has a group ready: group k+1 is
// submitted before group k is handed out (a drain per group cost a cold GPU index 40 drains).
TEST(RunBatchGroups, RowsCompleteInOrderWithOneDrain) {
  for (unsigned seed : {1u, 2u, 3u}) {
    const auto groups = numbered_groups(12, seed);
    BatchLimits lim;
    lim.max_tokens = 24;
    LateDevice dev;
    size_t next = 0;
    std::vector<int> submitted_before_done;  // fn calls made when each group was handed out
    std::vector<std::vector<float>> got;
    run_batch_groups(
        [&](std::vector<std::vector<int32_t>>& seqs, bool) {
          if (next == groups.size()) return false;
          seqs = groups[next++];
          return true;
        },
        lim, 2, 2, [&](const BatchInputs& b, float* rows) { dev.fn(b, rows); },
        [&] { dev.finish(); },
        [&](std::vector<float>&& rows) {
          submitted_before_done.push_back(dev.calls);
          got.push_back(std::move(rows));
        });
    ASSERT_EQ(got.size(), groups.size());
    EXPECT_EQ(dev.finishes, 1) << "the device was drained between groups";
    for (size_t g = 0; g < groups.size(); ++g) {
      ASSERT_EQ(got[g].size(), 2 * groups[g].size());
      for (size_t i = 0; i < groups[g].size(); ++i) {
        EXPECT_EQ(got[g][2 * i], static_cast<float>(groups[g][i][0])) << g << "/" << i;
        EXPECT_EQ(got[g][2 * i + 1], -1.0f) << g << "/" << i;
      }
    }
    // Handing out never waited for the device while later batches could still be submitted.
    EXPECT_LT(submitted_before_done.front(), dev.calls);
  }
}

// next(wait = false) returning false drains the device and hands out what is in flight before
// next is asked again with wait = true (a producer that is behind gets the rows meanwhile).
TEST(RunBatchGroups, NotReadyHandsOutWhatIsInFlight) {
  const std::vector<std::vector<std::vector<int32_t>>> groups = {
      {{1, 1}, {2}}, {{3, 3, 3}}, {{4}, {5, 5}}};
  LateDevice dev;
  size_t next = 0;
  size_t handed = 0;
  std::vector<size_t> handed_when_waiting;
  run_batch_groups(
      [&](std::vector<std::vector<int32_t>>& seqs, bool wait) {
        if (!wait) return false;  // never ready without waiting
        handed_when_waiting.push_back(handed);
        if (next == groups.size()) return false;
        seqs = groups[next++];
        return true;
      },
      BatchLimits{}, 2, 2, [&](const BatchInputs& b, float* rows) { dev.fn(b, rows); },
      [&] { dev.finish(); }, [&](std::vector<float>&&) { ++handed; });
  EXPECT_EQ(handed, groups.size());
  EXPECT_EQ(handed_when_waiting, (std::vector<size_t>{0, 1, 2, 3}));
}

// An error in a later group: the earlier group was handed out or dropped, never handed out
// incomplete; the deferred writes land (finish) before the rows go away; the error surfaces.
TEST(RunBatchGroups, ErrorEndsTheRunAfterFinish) {
  LateDevice dev;
  int groups_given = 0;
  std::vector<std::vector<float>> got;
  EXPECT_THROW(run_batch_groups(
                   [&](std::vector<std::vector<int32_t>>& seqs, bool) {
                     seqs = {{++groups_given}};
                     return true;
                   },
                   BatchLimits{}, 2, 2,
                   [&](const BatchInputs& b, float* rows) {
                     if (dev.calls == 4) throw InvalidArgument("bad batch");
                     dev.fn(b, rows);
                   },
                   [&] { dev.finish(); },
                   [&](std::vector<float>&& rows) { got.push_back(std::move(rows)); }),
               InvalidArgument);
  EXPECT_EQ(dev.finishes, 1);
  for (size_t g = 0; g < got.size(); ++g) EXPECT_EQ(got[g][0], static_cast<float>(g + 1));
}

// An error of `next` (a bad sequence in group 3, say) comes before its group is submitted: the
// groups already in flight are finished and handed out, then the error surfaces (the first
// version dropped them, and an index re-embedded their files next time).
TEST(RunBatchGroups, ErrorOfNextHandsOutTheGroupsInFlightFirst) {
  LateDevice dev;
  int given = 0;
  std::vector<std::vector<float>> got;
  EXPECT_THROW(run_batch_groups(
                   [&](std::vector<std::vector<int32_t>>& seqs, bool) {
                     if (++given == 3) throw InvalidArgument("bad sequence in group 3");
                     seqs = {{given * 10}, {given * 10 + 1, 7}};
                     return true;
                   },
                   BatchLimits{}, 2, 2, [&](const BatchInputs& b, float* rows) { dev.fn(b, rows); },
                   [&] { dev.finish(); },
                   [&](std::vector<float>&& rows) { got.push_back(std::move(rows)); }),
               InvalidArgument);
  ASSERT_EQ(got.size(), 2u);
  for (size_t g = 0; g < 2; ++g) {
    EXPECT_EQ(got[g][0], static_cast<float>(10 * (g + 1)));
    EXPECT_EQ(got[g][2], static_cast<float>(10 * (g + 1) + 1));
  }
}

}  // namespace
}  // namespace ripvec
