#include "tokenizer/id_table.hpp"

#include <algorithm>

namespace ripvec::tok {

IdTokenTable::IdTokenTable(std::vector<std::pair<int32_t, std::string_view>> entries) {
  // Stable sort by id keeps the input order among equal ids: the last of each run wins.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  tokens_.reserve(entries.size());
  ids_.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i + 1 < entries.size() && entries[i + 1].first == entries[i].first) continue;
    ids_.push_back(entries[i].first);
    tokens_.emplace_back(entries[i].second);
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
