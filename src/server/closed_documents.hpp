// When each closed document was closed, for as long as a request could still need to know
// (internal to src/server; LspServer's didClose and its version checks). A request stamped s
// (the document epoch when it was read) that reads a file from disk compares the file's closing
// epoch with s: closed after s means ContentModified. Entries closed at or before the oldest
// stamp of the requests still pending can never trigger that, so they are dropped: every
// didClose of a distinct URI was kept forever, and each request copied all of them into its
// read set (200,000 closed documents: 80-90 ms per hover and 234 MB; hostile probe 2026-12-06).
// Not thread-safe: the caller's lock guards it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>

namespace ripvec::server {

class ClosedDocuments {
 public:
  // `path` was closed at `epoch` (epochs increase from call to call).
  void closed(const std::string& path, uint64_t epoch) {
    at_[path] = epoch;
    order_.emplace_back(epoch, path);
  }
  // Drops every entry closed at or before `oldest_pending` (the smallest stamp of the requests
  // received and not answered; the current epoch when there are none). Amortised O(1).
  void prune(uint64_t oldest_pending) {
    while (!order_.empty() && order_.front().first <= oldest_pending) {
      auto it = at_.find(order_.front().second);
      // A path closed again later has a newer entry in order_; only its own erases it.
      if (it != at_.end() && it->second == order_.front().first) at_.erase(it);
      order_.pop_front();
    }
  }
  // The epoch `path` was last closed at, or 0 when none is kept.
  uint64_t closed_at(const std::string& path) const {
    auto it = at_.find(path);
    return it == at_.end() ? 0 : it->second;
  }
  const std::map<std::string, uint64_t>& entries() const { return at_; }
  size_t size() const { return at_.size(); }

 private:
  std::map<std::string, uint64_t> at_;                  // path -> its last closing epoch
  std::deque<std::pair<uint64_t, std::string>> order_;  // every closing, oldest first
};

}  // namespace ripvec::server
