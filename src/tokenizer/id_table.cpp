#include "tokenizer/id_table.hpp"

#include <algorithm>

namespace ripvec::tok {

IdTokenTable::IdTokenTable(std::vector<std::pair<int32_t, std::string_view>> entries) {
  // Among equal ids the last in input order wins. Real vocabularies have small, non-negative
  // ids: one slot per id finds the winners in one pass (a stable sort of 30,000 entries was a
  // visible part of loading a tokenizer); other id sets take the sort.
  tokens_.reserve(entries.size());
  ids_.reserve(entries.size());
  int64_t lo = 0, hi = -1;
  for (const auto& e : entries) {
    lo = std::min<int64_t>(lo, e.first);
    hi = std::max<int64_t>(hi, e.first);
  }
  if (lo >= 0 && hi < static_cast<int64_t>(4 * entries.size() + 1024)) {
    std::vector<int32_t> last(static_cast<size_t>(hi + 1), -1);
    for (size_t i = 0; i < entries.size(); ++i)
      last[static_cast<size_t>(entries[i].first)] = static_cast<int32_t>(i);
    for (int64_t id = 0; id <= hi; ++id) {
      if (last[static_cast<size_t>(id)] < 0) continue;
      ids_.push_back(static_cast<int32_t>(id));
      tokens_.emplace_back(entries[static_cast<size_t>(last[static_cast<size_t>(id)])].second);
    }
  } else {
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i + 1 < entries.size() && entries[i + 1].first == entries[i].first) continue;
      ids_.push_back(entries[i].first);
      tokens_.emplace_back(entries[i].second);
    }
  }
  id_space_ = ids_.empty() ? 0 : static_cast<size_t>(ids_.back()) + 1;
  // Dense when the index costs at most 16 bytes per token (4 bytes per id): every real
  // vocabulary (contiguous ids) takes this path.
  if (id_space_ <= 4 * ids_.size() + 1024) {
    dense_.assign(id_space_, -1);
    for (size_t s = 0; s < ids_.size(); ++s)
      dense_[static_cast<size_t>(ids_[s])] = static_cast<int32_t>(s);
    ids_.clear();
    ids_.shrink_to_fit();
  }
}

const std::string* IdTokenTable::find_sparse(int32_t id) const {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return nullptr;
  return &tokens_[static_cast<size_t>(it - ids_.begin())];
}

}  // namespace ripvec::tok
