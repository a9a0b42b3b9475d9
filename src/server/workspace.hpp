// What the MCP and LSP servers share (internal to src/server): the model, loaded once; the
// project roots being served, each with its Index kept open and its repo graph cached until the
// index changes. Uses only the public API (include/ripvec/).
//
// Thread safety: every member may be called from several request threads at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ripvec/embedder.hpp"
#include "ripvec/index.hpp"
#include "ripvec/repo_map.hpp"
#include "ripvec/server.hpp"

namespace ripvec::server {

// level: "debug", "info", "warning", "error" (syslog names as MCP uses them).
using LogFn = std::function<void(const std::string& level, const std::string& message)>;
using ProgressFn = std::function<void(const IndexProgress&)>;
// True once the request that started the work was cancelled (may be empty).
using CancelFn = std::function<bool()>;

class Workspace;

class Root {
 public:
  const std::filesystem::path& path() const { return path_; }  // canonical, as served
  // The index, opened on first use (loads the model). Shared so that a full rebuild can swap it
  // while searches finish on the old one.
  std::shared_ptr<Index> index();
  // Brings the index up to date, sending progress to `progress` (may be empty). One at a time.
  // `cancelled` stops it (CancelledError) and leaves the committed index as it was; a caller
  // waiting for the lock then runs its own update.
  UpdateStats update(const ProgressFn& progress, bool full = false, const CancelFn& cancelled = {});
  // update() once per session before the first search, unless already done.
  void ensure_indexed(const ProgressFn& progress, const CancelFn& cancelled = {});
  bool updating() const { return updating_; }
  bool indexed() const { return indexed_; }  // an update ran in this session
  // An update was tried in this session, whether or not it succeeded (indexed() implies it;
  // the file watcher watches such a root: its repo graph follows the disk even while updates
  // fail).
  bool tried() const { return tried_ || graph_only_; }
  // Served without an index (the LSP's current folder when no folder was given and it is no
  // project): the file watcher watches it, and a change only makes its repo graph stale; no
  // update ever indexes it.
  void serve_without_index() { graph_only_ = true; }
  bool graph_only() const { return graph_only_; }
  // The repo graph of the tree, rebuilt when an update changed files since the last build
  // (from the last graph: only files whose stat changed are parsed again).
  // Callers lock graph_mutex() around rank()/render() (they mutate ranks). The build runs on a
  // thread of its own for every caller that wants it: each caller waits for it and ends within
  // ~10 ms when its `cancelled` says so (CancelledError), and the build stops only when no
  // caller wants it any more. A caller waiting for another's build ignored its cancellation,
  // and a cancelled first caller threw the build away under the others (hostile probe
  // 2026-12-06). Build errors reach every caller.
  std::shared_ptr<RepoGraph> graph(const CancelFn& cancelled = {});
  std::mutex& graph_mutex() { return graph_use_mu_; }
  // Stats of the last update, "" / zero before one.
  UpdateStats last_update() const;
  std::string last_error() const;
  int64_t generation() const { return generation_; }
  // Marks the graph stale (the watcher saw changes).
  void invalidate() { ++generation_; }

 private:
  friend class Workspace;
  Root(Workspace& ws, std::filesystem::path p) : ws_(ws), path_(std::move(p)) {}
  Workspace& ws_;
  std::filesystem::path path_;
  std::mutex index_mu_;
  std::shared_ptr<Index> index_;
  std::mutex progress_mu_;
  ProgressFn progress_;  // listener of the update in flight
  CancelFn cancel_;      // cancellation of the request running the update in flight
  std::timed_mutex update_mu_;
  std::atomic<bool> updating_{false}, indexed_{false}, tried_{false}, graph_only_{false};
  std::atomic<bool> busy_logged_{false};  // busy_rule() said so since the last update went through
  // IndexOptions::when_busy of this root's indexes: serve the last committed update (give way
  // at once) when there is one, else wait (cancellable); logged once per busy period.
  std::function<bool(const std::filesystem::path&, bool)> busy_rule();
  std::atomic<int64_t> generation_{0};
  std::mutex graph_mu_, graph_use_mu_;
  std::shared_ptr<RepoGraph> graph_;
  int64_t graph_generation_ = -1;
  struct GraphBuild;                   // graph(): one build in flight and who waits for it
  std::shared_ptr<GraphBuild> build_;  // guarded by graph_mu_
  mutable std::mutex stats_mu_;
  UpdateStats last_stats_;
  std::set<std::string> warned_;  // the last update's warnings (logged when new)
  std::string last_error_;
};

class Workspace {
 public:
  Workspace(ServerOptions opts, LogFn log);
  ~Workspace();

  // Starts loading the model in the background so that the first query does not wait for it.
  void preload();
  // The model; loads it on first use (waits for a preload in flight). Throws what
  // Embedder::load throws, on every call after a failed load.
  std::shared_ptr<Embedder> embedder();
  bool embedder_ready() const { return embedder_ready_; }

  // The served root holding `hint` (a directory or regular file; relative paths are taken
  // against the first root), or the first root when hint is empty. A path below no served root
  // is opened as a new root (a file: its folder), up to ServerOptions::max_roots. `resolved`
  // (may be null) receives the canonical hint ("" when empty): a hint below the root it was
  // given must restrict what is answered to itself (search_scope). Throws InvalidArgument for
  // a hint that does not exist, is not a directory or regular file, or lies in /proc, /sys or
  // /dev; IoError.
  Root& root(const std::string& hint = {}, std::filesystem::path* resolved = nullptr);
  // The deepest served root holding the canonical path `canonical` (itself or below it), or
  // null; opens nothing.
  Root* holding(const std::filesystem::path& canonical);
  std::vector<Root*> roots();
  const ServerOptions& options() const { return opts_; }
  void log(const std::string& level, const std::string& message) const {
    if (log_) log_(level, message);
  }

 private:
  ServerOptions opts_;
  LogFn log_;
  std::mutex roots_mu_;
  std::vector<std::unique_ptr<Root>> roots_;
  Root* holding_locked(const std::filesystem::path& canonical) const;  // roots_mu_ held
  std::mutex model_mu_;
  std::condition_variable model_cv_;
  bool loading_ = false;
  std::atomic<bool> embedder_ready_{false};
  std::shared_ptr<Embedder> embedder_;
  std::string load_error_;
  std::thread preload_thread_;
};

// The sub-path of index's root that a tool call named with `resolved` (Workspace::root), for
// SearchFilter::paths: empty when the call named no path or the served root itself (the
// index's own scope then applies).
std::vector<std::string> search_scope(const std::filesystem::path& resolved, const Root& root,
                                      const Index& index);

// "a/b.py" relative to root, '/' separators; the input itself when it is not below root.
std::string relative_to(const std::filesystem::path& p, const std::filesystem::path& root);

}  // namespace ripvec::server
