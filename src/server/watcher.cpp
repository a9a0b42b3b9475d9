#include "server/watcher.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "ripvec/error.hpp"

namespace ripvec::server {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                           IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB;

bool skip_dir(const std::string& name) {
  return name.empty() || name[0] == '.' || name == "node_modules" || name == "__pycache__";
}

}  // namespace

Watcher::Watcher(Workspace& ws, double debounce_s, size_t max_dirs, double scan_interval_s)
    : ws_(ws), debounce_s_(debounce_s), scan_interval_s_(scan_interval_s), max_dirs_(max_dirs) {}

Watcher::~Watcher() {
  stop();
}

void Watcher::start() {
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) {
    polling_ = true;
    ws_.log("warning", std::string("file watcher: inotify unavailable (") + std::strerror(errno) +
                           "); scanning every " + std::to_string(int(scan_interval_s_)) + " s");
  }
  thread_ = std::thread([this] { loop(); });
}

void Watcher::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

bool Watcher::add_watch(Root* root, const std::string& dir) {
  if (polling_) return false;
  if (watches_.size() >= max_dirs_) {
    polling_ = true;
    ws_.log("warning", "file watcher: more than " + std::to_string(max_dirs_) +
                           " directories; falling back to periodic scans");
    return false;
  }
  int wd = inotify_add_watch(fd_, dir.c_str(), kMask | IN_ONLYDIR);
  if (wd < 0) {
    if (errno == ENOSPC || errno == ENOMEM) {
      polling_ = true;
      ws_.log("warning",
              "file watcher: inotify watch limit reached (fs.inotify.max_user_watches);"
              " falling back to periodic scans");
    }
    return false;
  }
  watches_[wd] = {root, dir};
  return true;
}

void Watcher::watch_tree(Root* root, const std::string& top) {
  if (!add_watch(root, top)) return;
  std::error_code ec;
  fs::recursive_directory_iterator it(top, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (stop_ || polling_) return;
    std::error_code e2;
    if (!it->is_directory(e2) || it->is_symlink(e2)) continue;
    if (skip_dir(it->path().filename().string())) {
      it.disable_recursion_pending();
      continue;
    }
    if (!add_watch(root, it->path().string())) it.disable_recursion_pending();
  }
}

void Watcher::loop() {
  std::map<Root*, Clock::time_point> dirty;  // root -> last event
  std::map<Root*, std::string> failed;       // root -> why its last update failed
  // Failed updates are tried again without a new change: 5 s after the first failure, the wait
  // doubling up to 5 min. A full disk that was freed, a folder made readable again, were caught
  // up only by the next change, and searches served the stale index until then (hostile probe
  // 2026-12-07). Root -> when to try again (max: queued), and failures in a row.
  std::map<Root*, std::pair<Clock::time_point, int>> retry;
  Clock::time_point last_scan = Clock::now();
  std::vector<char> buf(64 * 1024);
  while (!stop_) {
    // Start watching roots once they have an index (the first search or reindex builds it),
    // or an update of theirs was tried and failed (no model: the repo graph still follows the
    // files, through the invalidation below).
    for (Root* r : ws_.roots()) {
      if (watched_roots_.count(r) || !r->tried()) continue;  // tried: indexed, or failed
      watched_roots_[r] = true;
      if (!polling_) watch_tree(r, r->path().string());
      // Changes made between the index's last update and the watches above raised no event:
      // one update after the debounce catches them (it only stats files when nothing changed).
      dirty[r] = Clock::now();
    }
    for (auto it = lost_.begin(); it != lost_.end();) {
      std::error_code ec;
      if (polling_ || !fs::is_directory((*it)->path(), ec)) {
        ++it;
        continue;
      }
      watch_tree(*it, (*it)->path().string());
      dirty[*it] = Clock::now();
      it = lost_.erase(it);
    }
    if (!polling_ && fd_ >= 0) {
      pollfd p{fd_, POLLIN, 0};
      int n = ::poll(&p, 1, 250);
      if (n > 0) {
        for (;;) {
          ssize_t len = ::read(fd_, buf.data(), buf.size());
          if (len <= 0) break;
          for (ssize_t off = 0; off < len;) {
            auto* ev = reinterpret_cast<inotify_event*>(buf.data() + off);
            off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
            if (ev->mask & IN_Q_OVERFLOW) {
              // Events were dropped, among them possibly the creation of folders, which then
              // had no watch and never raised an event again (a file added there stayed out of
              // the index: hostile probe 2026-12-05, fifth round). Walk every root again:
              // watches already set keep their descriptors, new folders get theirs.
              for (auto& [r, on] : watched_roots_) {
                if (!polling_) watch_tree(r, r->path().string());
                dirty[r] = Clock::now();
              }
              continue;
            }
            auto w = watches_.find(ev->wd);
            if (w == watches_.end()) continue;
            Root* root = w->second.first;
            std::string name = ev->len ? std::string(ev->name) : std::string();
            if (!name.empty() && name[0] == '.' && name != ".gitignore" && name != ".ignore")
              continue;  // editor swap files, .git, .ripvec
            if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && !skip_dir(name))
              watch_tree(root, w->second.second + "/" + name);
            const bool root_watch = w->second.second == root->path().string();
            if (ev->mask & IN_IGNORED) {
              if (root_watch) lost_.insert(root);
              watches_.erase(w);
              continue;
            }
            // The root's own folder renamed away: its watches follow it to the new name. Drop
            // them, and watch whatever folder has the root's path again (a fresh checkout moved
            // in, or the same one moved back).
            if ((ev->mask & IN_MOVE_SELF) && root_watch) {
              for (auto it = watches_.begin(); it != watches_.end();) {
                if (it->second.first == root) {
                  ::inotify_rm_watch(fd_, it->first);
                  it = watches_.erase(it);
                } else {
                  ++it;
                }
              }
              lost_.insert(root);
              continue;
            }
            dirty[root] = Clock::now();
          }
        }
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      if (Clock::now() - last_scan >= std::chrono::duration<double>(scan_interval_s_)) {
        last_scan = Clock::now();
        for (auto& [r, on] : watched_roots_) {
          try {
            if (!r->index()->status().stale.empty())
              dirty[r] = Clock::now() - std::chrono::hours(1);
          } catch (const std::exception& e) {
            ws_.log("warning", std::string("file watcher: scan failed: ") + e.what());
          }
        }
      }
    }
    for (auto& [r, at] : retry)
      if (Clock::now() >= at.first) {
        dirty.try_emplace(r, Clock::now() - std::chrono::hours(1));
        at.first = Clock::time_point::max();
      }
    // Debounced updates.
    for (auto it = dirty.begin(); it != dirty.end();) {
      if (Clock::now() - it->second < std::chrono::duration<double>(debounce_s_)) {
        ++it;
        continue;
      }
      Root* r = it->first;
      it = dirty.erase(it);
      // The files changed: the repo graph is built again on its next use, whether or not the
      // index update below succeeds (without a model it fails each time, and the graph of an
      // LSP session stayed as it was at the start; hostile probe 2026-12-06).
      r->invalidate();
      if (r->graph_only()) continue;  // served without an index: the graph is all there is
      try {
        // stop() cancels an update in flight: a server whose client went away exits at the next
        // embedding call instead of finishing a large update nobody will search.
        UpdateStats st = r->update(nullptr, false, [this] { return stop_.load(); });
        ++updates_;
        failed.erase(r);
        retry.erase(r);
        if (!st.added.empty() || !st.modified.empty() || !st.removed.empty())
          ws_.log("info", "index of " + r->path().string() +
                              " updated: " + std::to_string(st.added.size()) + " added, " +
                              std::to_string(st.modified.size()) + " modified, " +
                              std::to_string(st.removed.size()) + " removed");
      } catch (const CancelledError&) {
        return;  // stopping
      } catch (const std::exception& e) {
        // Once per cause: the same failure at every change (no model) is said once.
        std::string why = e.what();
        if (failed[r] != why)
          ws_.log("warning", "file watcher: update of " + r->path().string() + " failed: " + why +
                                 " (said once until it changes)");
        failed[r] = std::move(why);
        auto& [at, n] = retry[r];
        at = Clock::now() + std::min<std::chrono::seconds>(
                                std::chrono::seconds(5 << std::min(n, 6)), std::chrono::minutes(5));
        ++n;
      }
    }
  }
}

}  // namespace ripvec::server
