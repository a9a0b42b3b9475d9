#include "server/duplicates.hpp"

#include <algorithm>
#include <mutex>
#include <queue>
#include <tuple>

#include "util/thread_pool.hpp"

namespace ripvec::server {

namespace {

constexpr size_t kBlockRows = 64;

struct Cand {
  float sim;
  uint32_t i, j;
  bool operator>(const Cand& o) const { return sim > o.sim; }
};

}  // namespace

std::vector<DuplicatePair> find_duplicates(const IndexSnapshot& snap, float threshold,
                                           size_t max_pairs,
                                           const std::function<bool(const Hit&)>& keep,
                                           const std::function<bool()>& cancelled,
                                           size_t* compared) {
  const size_t dim = snap.dim();
  std::vector<uint32_t> ids;  // snapshot rows that take part
  std::vector<Hit> meta;
  for (size_t i = 0; i < snap.size(); ++i) {
    Hit h = snap.chunk(i);
    if (keep && !keep(h)) continue;
    ids.push_back(static_cast<uint32_t>(i));
    h.content.clear();  // only needed for the pairs returned
    meta.push_back(std::move(h));
  }
  const size_t n = ids.size();
  if (compared != nullptr) *compared = n;
  std::vector<float> vecs(n * dim);
  for (size_t k = 0; k < n; ++k) snap.vector(ids[k], vecs.data() + k * dim);

  // Min-heap of the best max_pairs candidates; its top is the weakest kept.
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> best;
  std::mutex best_mu;
  auto overlapping = [&](size_t a, size_t b) {
    return meta[a].path == meta[b].path && meta[a].start_line <= meta[b].end_line &&
           meta[b].start_line <= meta[a].end_line;
  };
  for (size_t b0 = 0; b0 < n && max_pairs > 0; b0 += kBlockRows) {
    if (cancelled && cancelled()) return {};
    const size_t b1 = std::min(n, b0 + kBlockRows);
    parallel_for(static_cast<int64_t>(b0), static_cast<int64_t>(b1), 1,
                 [&](int64_t lo, int64_t hi) {
                   // Bounded per range too: a low threshold must not collect N^2 pairs.
                   std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> local;
                   for (int64_t i = lo; i < hi; ++i) {
                     const float* vi = vecs.data() + static_cast<size_t>(i) * dim;
                     for (size_t j = static_cast<size_t>(i) + 1; j < n; ++j) {
                       const float* vj = vecs.data() + j * dim;
                       float dot = 0;
                       for (size_t d = 0; d < dim; ++d) dot += vi[d] * vj[d];
                       if (dot < threshold || overlapping(static_cast<size_t>(i), j)) continue;
                       if (local.size() == max_pairs) {
                         if (dot <= local.top().sim) continue;
                         local.pop();
                       }
                       local.push({dot, static_cast<uint32_t>(i), static_cast<uint32_t>(j)});
                     }
                   }
                   std::lock_guard<std::mutex> lock(best_mu);
                   for (; !local.empty(); local.pop()) {
                     const Cand c = local.top();
                     if (best.size() < max_pairs) {
                       best.push(c);
                     } else if (c.sim > best.top().sim) {
                       best.pop();
                       best.push(c);
                     }
                   }
                 });
  }
  std::vector<Cand> kept;
  while (!best.empty()) {
    kept.push_back(best.top());
    best.pop();
  }
  std::sort(kept.begin(), kept.end(), [](const Cand& a, const Cand& b) {
    return a.sim != b.sim ? a.sim > b.sim : std::tie(a.i, a.j) < std::tie(b.i, b.j);
  });
  std::vector<DuplicatePair> out;
  for (const Cand& c : kept) {
    DuplicatePair p;
    p.a = snap.chunk(ids[c.i]);
    p.b = snap.chunk(ids[c.j]);
    p.a.score = p.b.score = c.sim;
    p.similarity = c.sim;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace ripvec::server
