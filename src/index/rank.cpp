#include "index/rank.hpp"

#include <algorithm>
#include <unordered_map>

namespace ripvec::index {

std::vector<FusedItem> rrf_fuse(std::span<const uint32_t> a, std::span<const uint32_t> b, float k) {
  std::unordered_map<uint32_t, size_t> pos;
  std::vector<FusedItem> out;
  auto add = [&](std::span<const uint32_t> list, bool first) {
    for (size_t r = 0; r < list.size(); ++r) {
      auto [it, fresh] = pos.try_emplace(list[r], out.size());
      if (fresh) out.push_back({list[r], 0.0f, -1, -1});
      FusedItem& f = out[it->second];
      int& slot = first ? f.rank_a : f.rank_b;
      if (slot < 0) slot = static_cast<int>(r);
    }
  };
  add(a, true);
  add(b, false);
  for (auto& f : out) {
    // Summed in a fixed order so equal rank pairs give bit-identical scores.
    f.score = rrf_term(f.rank_a, k) + rrf_term(f.rank_b, k);
  }
  auto best_rank = [](const FusedItem& f) {
    int x = f.rank_a < 0 ? INT32_MAX : f.rank_a, y = f.rank_b < 0 ? INT32_MAX : f.rank_b;
    return std::min(x, y);
  };
  std::sort(out.begin(), out.end(), [&](const FusedItem& x, const FusedItem& y) {
    if (x.score != y.score) return x.score > y.score;
    int bx = best_rank(x), by = best_rank(y);
    if (bx != by) return bx < by;
    return x.id < y.id;
  });
  return out;
}

}  // namespace ripvec::index
