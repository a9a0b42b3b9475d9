// Index management: list every index in the cache, remove a project's indexes.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>

#include "index/locate.hpp"
#include "index/store.hpp"
#include "ripvec/error.hpp"
#include "ripvec/index.hpp"

namespace ripvec {

namespace fs = std::filesystem;
using namespace ripvec::index;

namespace {

// A folder of the cache that may not be read (another user's, mode 0700), with the reason:
// whether it holds an index is unknown, so --list and --clean name it rather than take it for an
// empty one (hostile probe 2026-12-07).
struct Unreadable {
  fs::path dir;
  std::string why;
};

// Whether `dir` can be listed. One that may not be read is added to `unreadable` (when given);
// one that is gone (a concurrent clean's) or no folder is not.
bool listable(const fs::path& dir, std::vector<Unreadable>* unreadable) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec && unreadable &&
      (ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted))
    unreadable->push_back({dir, ec.message()});
  return !ec;
}

// The real folders in `dir`, sorted (none when it cannot be listed: listable()).
std::vector<fs::path> subdirs(const fs::path& dir, std::vector<Unreadable>* unreadable = nullptr) {
  std::vector<fs::path> out;
  if (!listable(dir, unreadable)) return out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::error_code e2;
    if (it->is_directory(e2) && !it->is_symlink(e2)) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t mtime_s(const fs::path& p) {
  const int64_t ns = file_mtime_ns(p);
  return ns < 0 ? 0 : ns / 1000000000;
}

}  // namespace

namespace index {

std::string snapshot_record_problem(const fs::path& loc, const SnapshotRecord& rec, uint32_t dim,
                                    bool check_sums) {
  std::error_code ec;
  const fs::path sp = loc / rec.name;
  const auto st = fs::symlink_status(sp, ec);
  const uint64_t size = fs::is_regular_file(st) ? fs::file_size(sp, ec) : 0;
  if (!fs::is_regular_file(st) || ec || size != rec.size)
    return "the snapshot " + rec.name + " is missing or has another size than the manifest says";
  // Every chunk stores at least its int8 codes (dim bytes): a count beyond what the file can
  // hold is a damaged manifest, not an index of that size.
  if (dim == 0 || rec.n_chunks > size / dim)
    return "the manifest's chunk count (" + std::to_string(rec.n_chunks) +
           ") does not fit its snapshot (" + std::to_string(size) + " bytes)";
  // Its checksums, as a search's open checks them: damage that keeps the size (a flipped byte)
  // made --status (whose loaded snapshot was checked at its open) report the problem and --list
  // a healthy index (hostile probe 2026-12-07). One read of the file (CRC-32C in hardware).
  if (!check_sums) return {};
  try {
    Snapshot::open_file(sp);
  } catch (const Error& e) {
    return "the snapshot " + rec.name + " is damaged: " + e.what();
  }
  return {};
}

// What the manifest of the index directory `loc` says (no tree walk).
IndexStatus status_of_location(const fs::path& loc, bool check_sums) {
  IndexStatus s;
  s.location = loc;
  const fs::path mp = loc / "manifest.json";
  std::error_code ec;
  if (fs::exists(fs::symlink_status(mp, ec))) {  // none yet: an update never committed
    try {
      const Manifest m = decode_manifest(read_file(mp, kMaxManifestBytes), mp.string());
      s.root = m.root;
      s.model_id = m.model_id;
      s.dim = m.dim;
      s.vectors = m.vectors;
      for (const auto& [path, e] : m.files)
        if (e.status == "ok") ++s.files;
      s.last_update_unix = mtime_s(mp);
      if (m.snapshot) {
        s.problem = snapshot_record_problem(loc, *m.snapshot, m.dim, check_sums);
        s.exists = s.problem.empty();
        s.chunks = s.exists ? m.snapshot->n_chunks : 0;
      }
    } catch (const Error& e) {
      s.problem = std::string("the manifest is damaged: ") + e.what();
      s.files = 0;
    }
  }
  s.bytes = disk_usage(loc);
  s.read_only = ::access(loc.c_str(), W_OK) != 0;
  return s;
}

}  // namespace index

std::vector<IndexStatus> list_indexes(const fs::path& cache_dir) {
  const fs::path cache = resolve_cache_dir(cache_dir);
  std::vector<IndexStatus> out;
  std::vector<Unreadable> unreadable;
  for (const fs::path& root_dir : subdirs(cache, &unreadable)) {
    if (!listable(root_dir, &unreadable)) continue;
    std::vector<fs::path> foreign;           // tolerated: --clean keeps them (is_index_dir)
    if (is_index_dir(root_dir, &foreign)) {  // layout of format 1: the index in the root's folder
      out.push_back(status_of_location(root_dir, /*check_sums=*/true));
      continue;
    }
    for (const fs::path& loc : subdirs(root_dir))
      if (listable(loc, &unreadable) && is_index_dir(loc, &foreign))
        out.push_back(status_of_location(loc, /*check_sums=*/true));
  }
  std::stable_sort(out.begin(), out.end(), [](const IndexStatus& a, const IndexStatus& b) {
    return a.last_update_unix > b.last_update_unix;
  });
  for (const Unreadable& u : unreadable) {
    IndexStatus s;
    s.location = u.dir;
    s.unreadable = true;
    s.problem = "the folder cannot be read: " + u.why;
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

// Removes `dir` when it is an index directory that no update holds; returns the bytes freed.
// One being updated (its lock held by another process) is kept and named in `busy`: removing
// it under the writer failed that update mid-write, or, between its open and its lock, let
// two writers run at once (hostile probe 2026-12-05). The lock is held while removing.
// Files an index does not write (`foreign`) stay where they are, with the folder; the index's
// own entries go (kept lists the foreign ones). *is_index (when given) says whether `dir` was
// an index, removed or kept busy.
uint64_t remove_index_dir(const fs::path& dir, std::vector<std::string>* busy,
                          std::vector<fs::path>* kept, bool* is_index = nullptr) {
  std::vector<fs::path> foreign;
  const bool index = is_index_dir(dir, &foreign);
  if (is_index) *is_index = index;
  if (!index) return 0;
  std::optional<FileLock> lock;
  const fs::path lock_path = dir / "lock";
  std::error_code ec;
  if (fs::is_regular_file(fs::symlink_status(lock_path, ec))) {
    try {
      lock.emplace(lock_path, /*allow_read_only=*/true, /*wait=*/false);
    } catch (const Error&) {
      // not a lock anyone can hold: the folder goes as it is
    }
    // Held by another process, whether this one may write the cache or only read it (the
    // test was access(W_OK) on the lock file, which sent a reader's clean on to a removal
    // that failed with "permission denied" instead of naming the update).
    if (lock && lock->contended()) {
      busy->push_back(dir.string());
      return 0;
    }
  }
  // Moved out of the way first, under the lock: removing in place unlinked the lock file long
  // before the objects, and an update starting meanwhile created a new lock file there, locked
  // it at once and ran while its folder was being deleted. Now such an update finds no folder
  // (or, with foreign files, no lock file) and makes a new one (FileLock).
  static std::atomic<unsigned> counter{0};
  const fs::path doomed =
      dir.parent_path() / ("." + dir.filename().string() + ".removing." +
                           std::to_string(::getpid()) + "." + std::to_string(counter++));
  auto fail = [&] { throw IoError("cannot remove index " + dir.string() + ": " + ec.message()); };
  uint64_t bytes = 0;
  if (foreign.empty()) {
    bytes = disk_usage(dir);
    fs::rename(dir, doomed, ec);
    if (ec) fail();
  } else {
    // The index's own entries move into `doomed`, the lock last (while it is held); a folder
    // holding foreign entries (objects/, objects/<xx>/) is entered and only its own entries go.
    const uint64_t all = disk_usage(dir);
    uint64_t theirs = 0;
    for (const fs::path& f : foreign) {
      std::error_code e2;
      const auto st = fs::symlink_status(f, e2);
      theirs += fs::is_directory(st)      ? disk_usage(f)
                : fs::is_regular_file(st) ? fs::file_size(f, e2)
                                          : 0;
    }
    bytes = all > theirs ? all - theirs : 0;
    auto holds_foreign = [&](const fs::path& p) {
      const std::string prefix = p.string() + "/";
      return std::any_of(foreign.begin(), foreign.end(),
                         [&](const fs::path& f) { return f.string().starts_with(prefix); });
    };
    auto move = [&](const fs::path& from, const fs::path& to) {
      fs::rename(from, to, ec);
      if (ec && ec != std::errc::no_such_file_or_directory) fail();
      ec.clear();
    };
    // Moves the entries of `from` that `own` admits into `to` (made), recursing into those that
    // hold foreign entries.
    std::function<void(const fs::path&, const fs::path&, int)> move_own =
        [&](const fs::path& from, const fs::path& to, int depth) {
          fs::create_directory(to, ec);
          if (ec) fail();
          std::vector<fs::directory_entry> entries;
          for (auto it = fs::directory_iterator(from, ec); !ec && it != fs::directory_iterator();
               it.increment(ec))
            entries.push_back(*it);
          if (ec) fail();
          for (const auto& e : entries) {
            const fs::path name = e.path().filename();
            const bool own =
                depth < 0 ? std::find(foreign.begin(), foreign.end(), e.path()) == foreign.end()
                          : is_own_object_entry(e, depth);
            if (!own || (depth < 0 && name == "lock")) continue;
            if (holds_foreign(e.path()))
              move_own(e.path(), to / name, depth < 0 ? 0 : depth + 1);
            else
              move(e.path(), to / name);
          }
        };
    move_own(dir, doomed, -1);
    move(dir / "lock", doomed / "lock");
    kept->insert(kept->end(), foreign.begin(), foreign.end());
  }
  fs::remove_all(doomed, ec);
  if (ec) fail();
  return bytes;
}

// Removes the index directories inside `parent` (and `parent` itself when that leaves it
// empty, or when it is itself an index of the old layout).
uint64_t clean_parent(const fs::path& parent, std::vector<std::string>* busy,
                      std::vector<fs::path>* kept, std::vector<Unreadable>* unreadable) {
  bool index = false;
  const uint64_t own = remove_index_dir(parent, busy, kept, &index);
  if (index) return own;
  uint64_t freed = 0;
  bool held_index = false;
  for (const fs::path& d : subdirs(parent, unreadable)) {
    if (!listable(d, unreadable)) continue;
    freed += remove_index_dir(d, busy, kept, &index);
    held_index = held_index || index;
  }
  // The root's folder goes when removing its indexes emptied it (one kept busy, or its foreign
  // files, leave it not empty); an empty folder that held no index is not ours to remove (`--clean
  // --all --cache-dir ~` removed every empty folder of ~; hostile probe 2026-12-06).
  std::error_code ec;
  if (held_index && fs::is_directory(parent, ec) && fs::is_empty(parent, ec))
    fs::remove(parent, ec);
  return freed;
}

}  // namespace

uint64_t clean_indexes(const fs::path& path, const fs::path& cache_dir,
                       std::vector<fs::path>* kept) {
  const fs::path cache = resolve_cache_dir(cache_dir);
  std::vector<std::string> busy;
  std::vector<Unreadable> unreadable;
  std::vector<fs::path> kept_here;
  if (!kept) kept = &kept_here;
  kept->clear();
  uint64_t freed = 0;
  if (path.empty()) {
    for (const fs::path& d : subdirs(cache)) freed += clean_parent(d, &busy, kept, &unreadable);
  } else if (std::error_code ec; !fs::exists(fs::symlink_status(path, ec))) {
    // A project deleted since it was indexed: its cache indexes go by the root as --list
    // prints it. Only `--clean --all` could remove them (hostile probe 2026-12-06).
    fs::path root = fs::absolute(path, ec).lexically_normal();
    if (root.filename().empty()) root = root.parent_path();  // "/a/b/" -> "/a/b"
    const fs::path dir = cache / root_key(root);
    if (!fs::is_directory(dir, ec))
      throw IoError(path.string() + ": no such file or directory, and no index of that root in " +
                    cache.string());
    freed += clean_parent(dir, &busy, kept, &unreadable);
  } else {
    const fs::path root = locate_any_root(path, cache_dir);
    freed += clean_parent(cache / root_key(root), &busy, kept, &unreadable);
    freed += clean_parent(root / ".ripvec", &busy, kept, &unreadable);
  }
  std::string why, list;
  for (const auto& b : busy) list += (list.empty() ? "" : ", ") + b;
  if (!busy.empty())
    why = "kept " + std::to_string(busy.size()) +
          " index(es) another process is updating (try again when it is done): " + list;
  // A folder that cannot be read may hold an index: `--clean --all` said "removed 0 B" and
  // exited 0 over another user's indexes (hostile probe 2026-12-07).
  list.clear();
  for (const Unreadable& u : unreadable)
    list += (list.empty() ? "" : ", ") + u.dir.string() + " (" + u.why + ")";
  if (!unreadable.empty())
    why += (why.empty() ? "" : "; ") + std::string("could not read ") +
           std::to_string(unreadable.size()) + " folder(s) of the cache: " + list;
  if (!why.empty()) throw IoError(why + (freed > 0 ? "; the others were removed" : ""));
  return freed;
}

}  // namespace ripvec
