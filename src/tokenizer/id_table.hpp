// Id -> token string table of a vocabulary and its added tokens, for id_to_token and for the
// token strings of an Encoding.
//
// The id space is [0, max id + 1). It may have holes (ids naming no token): HF `tokenizers`
// accepts such files and its id_to_token returns None there. Ids are whatever the file says (up
// to INT32_MAX), so memory follows the number of tokens, not the largest id: a dense index when
// the ids fill at least a quarter of the space, else a sorted list searched by bisection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ripvec::tok {

class IdTokenTable {
 public:
  // entries: (id >= 0, token). When an id appears more than once the last entry wins, so callers
  // pass the model vocabulary first and the added tokens after it: HF's id_to_token looks in the
  // added vocabulary first.
  explicit IdTokenTable(std::vector<std::pair<int32_t, std::string_view>> entries = {});

  // max id + 1 over all entries; 0 when there are none.
  size_t id_space() const { return id_space_; }
  // The largest id, or -1 when there are none (id_space() - 1 without overflowing int32_t).
  int32_t max_id() const { return static_cast<int32_t>(static_cast<int64_t>(id_space_) - 1); }

  // The token of `id`, or nullptr for an id outside the space or a hole.
  const std::string* find(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= id_space_) return nullptr;
    if (!dense_.empty()) {
      const int32_t slot = dense_[static_cast<size_t>(id)];
      return slot < 0 ? nullptr : &tokens_[static_cast<size_t>(slot)];
    }
    return find_sparse(id);
  }

 private:
  const std::string* find_sparse(int32_t id) const;

  std::vector<std::string> tokens_;  // by slot
  std::vector<int32_t> ids_;         // sparse: ids of the slots, ascending
  std::vector<int32_t> dense_;       // dense: id -> slot, -1 for a hole
  size_t id_space_ = 0;
};

}  // namespace ripvec::tok
