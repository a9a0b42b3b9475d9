// Keeps the served indexes current while a server runs (internal to src/server). inotify watches
// every directory of each indexed root (up to max_dirs in all; .git, .ripvec and hidden
// directories are skipped); after the first change the watcher waits until the tree has been
// quiet for `debounce` seconds, then runs Index::update() (searches keep reading the previous
// snapshot meanwhile). Where inotify is unavailable or its limits are hit, the watcher falls
// back to a stat() scan (Index::status().stale) every `scan_interval` seconds.
//
// Thread safety: start() and stop() from one thread; the watcher runs on its own thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "server/workspace.hpp"

namespace ripvec::server {

class Watcher {
 public:
  Watcher(Workspace& ws, double debounce_s, size_t max_dirs = 8192, double scan_interval_s = 10);
  ~Watcher();
  void start();
  void stop();
  // Updates run so far (for tests and logs).
  size_t updates() const { return updates_; }

 private:
  void loop();
  void watch_tree(Root* root, const std::string& dir);
  bool add_watch(Root* root, const std::string& dir);

  Workspace& ws_;
  double debounce_s_, scan_interval_s_;
  size_t max_dirs_;
  int fd_ = -1;
  bool polling_ = false;                                  // inotify unavailable or over its limits
  std::map<int, std::pair<Root*, std::string>> watches_;  // wd -> (root, dir)
  std::map<Root*, bool> watched_roots_;
  // Roots whose own folder's watch went (deleted, or replaced by a new folder): watched again
  // as soon as the folder exists (they kept no watch and were never updated again).
  std::set<Root*> lost_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> updates_{0};
  std::thread thread_;
};

}  // namespace ripvec::server
