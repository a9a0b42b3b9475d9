#include "server/workspace.hpp"

#include <chrono>
#include <future>
#include <set>

#include "ripvec/corpus.hpp"
#include "ripvec/error.hpp"
#include "ripvec/index.hpp"

namespace ripvec::server {

namespace fs = std::filesystem;

std::string relative_to(const fs::path& p, const fs::path& root) {
  std::error_code ec;
  fs::path rel = fs::relative(p, root, ec);
  std::string s = rel.generic_string();
  if (ec || s.empty() || s.starts_with("..")) return p.generic_string();
  return s == "." ? std::string() : s;
}

std::vector<std::string> search_scope(const fs::path& resolved, const Root& root,
                                      const Index& index) {
  if (resolved.empty() || resolved == root.path()) return {};
  // A root named below a bigger served root (ws/projB under ws) was answered from the bigger
  // root's whole index, projA's files included (hostile probe 2026-12-05).
  return {relative_to(resolved, index.root())};
}

// ---------------------------------------------------------------- Root

std::shared_ptr<Index> Root::index() {
  std::lock_guard<std::mutex> lock(index_mu_);
  if (!index_) {
    IndexOptions io = ws_.options().index;
    io.progress = [this](const IndexProgress& p) {
      std::lock_guard<std::mutex> l(progress_mu_);
      if (progress_) progress_(p);
    };
    io.cancelled = [this] {
      std::lock_guard<std::mutex> l(progress_mu_);
      return cancel_ && cancel_();
    };
    io.when_busy = busy_rule();
    index_ = Index::open(path_, ws_.embedder(), io);
  }
  return index_;
}

std::function<bool(const std::filesystem::path&, bool)> Root::busy_rule() {
  // Another process is updating this index (`ripvec index` in a terminal, one stopped with
  // Ctrl-Z): with a committed update to serve, the update gives way at once (IndexBusyError:
  // searches answer from that update, the watcher tries again); without one it waits, polling,
  // and a cancelled request stops waiting. A request waited without limit and could not be
  // cancelled (hostile probe 2026-12-07). Said once until an update goes through.
  return [this](const std::filesystem::path&, bool serve) {
    if (!busy_logged_.exchange(true))
      ws_.log("warning", "another process is updating the index of " + escape_name(path_.string()) +
                             (serve ? ": serving its last update until that is done"
                                    : ": waiting for it (no update of it to serve yet)"));
    return !serve;
  };
}

UpdateStats Root::update(const ProgressFn& progress, bool full, const CancelFn& cancelled) {
  // Waiting for another request's update stays cancellable.
  std::unique_lock<std::timed_mutex> lock(update_mu_, std::defer_lock);
  while (!lock.try_lock_for(std::chrono::milliseconds(50)))
    if (cancelled && cancelled()) throw CancelledError("index update cancelled");
  updating_ = true;
  tried_ = true;
  struct Reset {
    Root* r;
    ~Reset() {
      std::lock_guard<std::mutex> l(r->progress_mu_);
      r->progress_ = nullptr;
      r->cancel_ = nullptr;
      r->updating_ = false;
    }
  } reset{this};
  {
    std::lock_guard<std::mutex> l(progress_mu_);
    progress_ = progress;
    cancel_ = cancelled;
  }
  std::shared_ptr<Index> idx;
  if (full) {
    // A rebuild opens a second Index that drops what is stored; searches finish on the old one.
    IndexOptions io = ws_.options().index;
    io.reindex = true;
    io.progress = [this](const IndexProgress& p) {
      std::lock_guard<std::mutex> l(progress_mu_);
      if (progress_) progress_(p);
    };
    io.cancelled = [this] {
      std::lock_guard<std::mutex> l(progress_mu_);
      return cancel_ && cancel_();
    };
    io.when_busy = busy_rule();
    idx = Index::open(path_, ws_.embedder(), io);
  } else {
    idx = index();
  }
  UpdateStats st;
  try {
    st = idx->update();
  } catch (const CancelledError&) {
    throw;  // not a failure of the index: index_status keeps the last real error
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> l(stats_mu_);
    last_error_ = e.what();
    throw;
  }
  busy_logged_ = false;
  if (full) {
    std::lock_guard<std::mutex> l(index_mu_);
    index_ = idx;
  }
  if (!st.added.empty() || !st.modified.empty() || !st.removed.empty() || full) ++generation_;
  indexed_ = true;
  std::vector<std::string> fresh;  // warnings the update before did not give
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    last_stats_ = st;
    last_error_.clear();
    std::set<std::string> now(st.warnings.begin(), st.warnings.end());
    for (const auto& w : st.warnings)
      if (!warned_.count(w)) fresh.push_back(w);
    warned_ = std::move(now);
  }
  // Each update warns again about every file it skips (a file that is not UTF-8 at each save
  // of any other file: the same client notification per save, hostile probe 2026-12-06); a
  // session hears each once, and again only after it went away and came back.
  for (const auto& w : fresh) ws_.log("warning", w);
  return st;
}

void Root::ensure_indexed(const ProgressFn& progress, const CancelFn& cancelled) {
  if (indexed_) return;
  try {
    update(progress, false, cancelled);
  } catch (const IndexBusyError&) {
    // Another process is updating it and it has a committed update: searches answer from that
    // (busy_rule); the next request, or the watcher, tries the update again.
  }
}

struct Root::GraphBuild {
  int64_t generation = 0;
  // Callers waiting for the build; the build stops (CancelledError) when none is left.
  std::shared_ptr<std::atomic<int>> wanted = std::make_shared<std::atomic<int>>(0);
  std::shared_future<std::shared_ptr<RepoGraph>> result;
};

std::shared_ptr<RepoGraph> Root::graph(const CancelFn& cancelled) {
  for (;;) {
    std::shared_ptr<GraphBuild> b;
    {
      std::lock_guard<std::mutex> lock(graph_mu_);
      const int64_t gen = generation_;
      if (graph_ && graph_generation_ == gen) return graph_;
      // A build of another generation, or one that ended without a graph (stopped when every
      // caller had gone, or failed), is not joined: a new one starts.
      const bool ended =
          build_ && build_->result.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
      if (!build_ || build_->generation != gen || ended) {
        auto nb = std::make_shared<GraphBuild>();
        nb->generation = gen;
        *nb->wanted = 1;  // this caller, before the thread can look
        // The thread holds only what it needs (not `this`: a Root may go while it runs). The
        // last graph's facts stand for the files that did not change since (after an edit only
        // the edited files are parsed again; after the first index, none).
        nb->result =
            std::async(std::launch::async, [path = path_, wanted = nb->wanted, prev = graph_] {
              RepoMapOptions ro;
              ro.cancelled = [wanted] { return wanted->load() == 0; };
              ro.previous = prev.get();
              return std::make_shared<RepoGraph>(RepoGraph::build(path, ro));
            }).share();
        build_ = nb;
      } else {
        ++*build_->wanted;
      }
      b = build_;
    }
    struct Unwant {
      std::atomic<int>& n;
      ~Unwant() { --n; }
    } unwant{*b->wanted};
    while (b->result.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready)
      if (cancelled && cancelled()) throw CancelledError("repo graph: request cancelled");
    std::shared_ptr<RepoGraph> g;
    try {
      g = b->result.get();
    } catch (const CancelledError&) {
      // Every caller had gone for a moment and the build stopped; this one still wants it.
      if (cancelled && cancelled()) throw;
      continue;
    }
    std::lock_guard<std::mutex> lock(graph_mu_);
    if (b->generation >= graph_generation_) {
      graph_ = g;
      graph_generation_ = b->generation;
    }
    if (build_ == b) build_.reset();
    return g;
  }
}

UpdateStats Root::last_update() const {
  std::lock_guard<std::mutex> l(stats_mu_);
  return last_stats_;
}

std::string Root::last_error() const {
  std::lock_guard<std::mutex> l(stats_mu_);
  return last_error_;
}

// ---------------------------------------------------------------- Workspace

Workspace::Workspace(ServerOptions opts, LogFn log) : opts_(std::move(opts)), log_(std::move(log)) {
  if (opts_.roots.empty()) opts_.roots.push_back(".");  // checked below like any root
  for (const auto& r : opts_.roots) {
    std::error_code ec;
    fs::path canon = fs::canonical(r, ec);
    if (ec || !fs::is_directory(canon, ec))
      throw IoError(r.string() + ": not a directory" + (ec ? " (" + ec.message() + ")" : ""));
    roots_.push_back(std::unique_ptr<Root>(new Root(*this, canon)));
  }
}

Workspace::~Workspace() {
  if (preload_thread_.joinable()) preload_thread_.join();
}

void Workspace::preload() {
  std::lock_guard<std::mutex> lock(model_mu_);
  if (embedder_ || loading_ || preload_thread_.joinable()) return;
  preload_thread_ = std::thread([this] {
    try {
      embedder();
    } catch (const std::exception& e) {
      log("error", std::string("model load failed: ") + e.what());
    }
  });
}

std::shared_ptr<Embedder> Workspace::embedder() {
  std::unique_lock<std::mutex> lock(model_mu_);
  model_cv_.wait(lock, [&] { return !loading_; });
  if (embedder_) return embedder_;
  if (!load_error_.empty()) throw ModelNotFoundError(load_error_);
  loading_ = true;
  lock.unlock();
  std::shared_ptr<Embedder> e;
  std::string err;
  try {
    e = std::shared_ptr<Embedder>(Embedder::load(opts_.embedder));
  } catch (const std::system_error& ex) {
    err = describe_system_error(ex);  // a thread that could not start: which limits to look at
  } catch (const std::exception& ex) {
    err = ex.what();
  }
  lock.lock();
  loading_ = false;
  if (e) {
    embedder_ = e;
    embedder_ready_ = true;
    log("info", "model " + e->model_id() + " loaded on " + e->device_name());
  } else {
    load_error_ = err.empty() ? "model load failed" : err;
  }
  model_cv_.notify_all();
  if (!embedder_) throw ModelNotFoundError(load_error_);
  return embedder_;
}

Root& Workspace::root(const std::string& hint, fs::path* resolved) {
  std::lock_guard<std::mutex> lock(roots_mu_);
  if (resolved) resolved->clear();
  if (hint.empty()) return *roots_.front();
  fs::path p(hint);
  if (p.is_relative()) p = roots_.front()->path() / p;
  // canonical, not weakly_canonical: "no-such-dir/../src" and "util.py/../main.py" name nothing
  // the OS can open, though a lexical ".." cancels the missing or non-folder part (they were
  // served; hostile probe 2026-12-07).
  std::error_code ec;
  fs::path canon = fs::canonical(p, ec);
  if (ec || !fs::exists(canon, ec))
    throw InvalidArgument("root " + hint + " does not exist" +
                          (ec ? " (" + ec.message() + ")" : std::string()));
  // Checked before any served root is asked: /dev/null below a served "/" waited for that root's
  // whole-disk update instead of being refused (hostile probe 2026-12-05).
  const bool dir = fs::is_directory(canon, ec);
  if (!dir && !fs::is_regular_file(canon, ec))
    throw InvalidArgument("root " + hint + " is not a directory or a regular file");
  try {
    refuse_pseudo_file_system(canon);
  } catch (const Error& e) {
    throw InvalidArgument("root " + hint + ": " + e.what());
  }
  if (resolved) *resolved = canon;
  // A folder the served root's ignore rules leave out is not in its index: it is a root of its
  // own, as for the CLI (Index::open). It was answered from the served root's index, which
  // holds none of its files: "No results", silently (hostile probe 2026-12-06).
  if (Root* best = holding_locked(canon);
      best != nullptr && !(dir && canon != best->path() && ignored_below(best->path(), canon)))
    return *best;
  // A file below no served root: its folder is the new root (Index::open finds the project's
  // own root above it), not "root ... is not a directory" — if the file belongs to a project.
  // A file of no project (no git work tree, no .ripvec/, no index of a folder above it) is
  // refused: its folder became a root indexed whole, so find_similar of ~/notes.txt indexed all
  // of $HOME, dotfiles included, and that index then took over every repository below it
  // (hostile probe 2026-12-07; the CLI searches such a file alone). Told without the model:
  // get_repo_map and index_status of such a file need none.
  if (!dir && project_root_source(canon, opts_.index.cache_dir) == Index::RootSource::Path)
    throw InvalidArgument("root " + hint +
                          " is a file of no project (no git work tree, no .ripvec/ folder and "
                          "no index of a folder above it): name a folder as root to index it");
  const fs::path dir_path = dir ? canon : canon.parent_path();
  if (roots_.size() >= opts_.max_roots)
    throw InvalidArgument("too many roots open (" + std::to_string(opts_.max_roots) + ")");
  roots_.push_back(std::unique_ptr<Root>(new Root(*this, dir_path)));
  log("info", "serving a new root: " + dir_path.string());
  return *roots_.back();
}

Root* Workspace::holding(const fs::path& canonical) {
  std::lock_guard<std::mutex> lock(roots_mu_);
  return holding_locked(canonical);
}

Root* Workspace::holding_locked(const fs::path& canonical) const {
  const std::string abs = canonical.string();
  Root* best = nullptr;
  for (const auto& r : roots_) {
    const std::string rp = r->path().string();
    const bool below = abs.compare(0, rp.size(), rp) == 0 &&
                       (abs.size() == rp.size() || abs[rp.size()] == '/' || rp == "/");
    if (below && (!best || rp.size() > best->path().string().size())) best = r.get();
  }
  return best;
}

std::vector<Root*> Workspace::roots() {
  std::lock_guard<std::mutex> lock(roots_mu_);
  std::vector<Root*> out;
  for (auto& r : roots_) out.push_back(r.get());
  return out;
}

}  // namespace ripvec::server
