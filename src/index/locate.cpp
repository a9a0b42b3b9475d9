#include "index/locate.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "corpus/walker.hpp"
#include "index/hash.hpp"
#include "index/store.hpp"
#include "ripvec/error.hpp"
#include "ripvec/index.hpp"
#include "util/thread_pool.hpp"

namespace ripvec {

namespace fs = std::filesystem;

namespace {

// A cache path that exists must be a folder (a symlink to one is fine): a regular file given as
// --cache-dir made `index --status` report an empty index under it and `--clean --all` remove
// "0 B", both with exit 0 (hostile probe 2026-12-05).
fs::path must_be_folder(fs::path dir) {
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (!ec && fs::exists(st) && !fs::is_directory(st))
    throw IoError(dir.string() + " (the index cache) is not a directory");
  return dir;
}

}  // namespace

fs::path resolve_cache_dir(const fs::path& cache_dir) {
  if (!cache_dir.empty()) {
    std::error_code ec;
    const fs::path abs = fs::absolute(cache_dir, ec);
    return must_be_folder(ec ? cache_dir : abs.lexically_normal());
  }
  if (const char* c = std::getenv("RIPVEC_CACHE_DIR"); c && *c) return must_be_folder(c);
  // A relative $XDG_CACHE_HOME is invalid and ignored, as the XDG base directory spec says: taken
  // relative to the current folder, it scattered indexes over every folder ripvec ran in
  // (hostile probe 2026-12-07).
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x && fs::path(x).is_absolute())
    return must_be_folder(fs::path(x) / "ripvec");
  // So is a relative $HOME (hostile probe 2026-12-07: `HOME=relhome` made ./relhome/.cache/ripvec
  // in whatever folder ripvec ran in): taken as no home.
  if (const char* h = std::getenv("HOME"); h && *h && fs::path(h).is_absolute())
    return must_be_folder(fs::path(h) / ".cache" / "ripvec");
  // No home (a service, a cron job): a folder of our own in the shared temp directory. Its name
  // is predictable, so another user could have made it first (or a symlink by that name) to
  // serve us their index or collect ours: it must be a real folder owned by us.
  std::error_code ec;
  const fs::path tmp = fs::temp_directory_path(ec);
  const fs::path dir =
      (ec ? fs::path("/tmp") : tmp) / ("ripvec-cache-" + std::to_string(::getuid()));
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0 &&
      (!S_ISDIR(st.st_mode) || st.st_uid != ::getuid() || (st.st_mode & S_IWOTH) != 0))
    throw IoError(dir.string() +
                  " (the cache without $HOME) is not a folder of this user's that others cannot "
                  "write; set RIPVEC_CACHE_DIR or pass --cache-dir");
  return dir;
}

namespace index {

std::string root_key(const fs::path& canonical_root) {
  return sha256_hex(canonical_root.string()).substr(0, 32);
}

// A model file's content as part of the key: its size and CRC-32C (1 MiB pieces read on the
// pool and combined: ~10-15 ms for all-MiniLM-L6-v2's 90 MB on 2 cores). Content, not times: a
// repository's shipped .ripvec/ index must keep matching the same model on another machine.
// Remembered per file state (path, device, inode, size, mtime, ctime) in this process and in
// `<cache>/fingerprints/`, so that a command (a keyword search never reads the weights) pays
// a stat, not a read of the weights. Read with pread, not mapped: a file truncated meanwhile is
// an error, not SIGBUS.
std::string file_fingerprint(const fs::path& path, const fs::path& cache_dir) {
  std::error_code ec;
  const fs::path p = fs::canonical(path, ec);  // the hub cache links snapshots to blobs
  struct stat st {};
  if (ec || ::stat(p.c_str(), &st) != 0) return "missing";
  if (!S_ISREG(st.st_mode)) throw IoError(p.string() + ": not a regular file");
  const std::string id =
      p.string() + '\0' + std::to_string(st.st_dev) + '\0' + std::to_string(st.st_ino) + '\0' +
      std::to_string(st.st_size) + '\0' + std::to_string(st.st_mtim.tv_sec) + '.' +
      std::to_string(st.st_mtim.tv_nsec) + '\0' + std::to_string(st.st_ctim.tv_sec) + '.' +
      std::to_string(st.st_ctim.tv_nsec);
  static std::mutex mu;
  static std::map<std::string, std::string> memo;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = memo.find(id); it != memo.end()) return it->second;
  }
  const fs::path stored =
      cache_dir.empty() ? fs::path() : cache_dir / "fingerprints" / sha256_hex(id).substr(0, 32);
  std::string fp;
  if (!stored.empty()) {
    try {
      fp = read_file(stored, 64);  // a regular file, no symlink, bounded
    } catch (const Error&) {
      // none yet, or unusable: computed again below
    }
    if (!fp.empty() && fp.back() == '\n') fp.pop_back();
    if (fp.empty() || fp.size() > 40 || fp.find(':') == std::string::npos) fp.clear();
  }
  if (fp.empty()) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (const int err = errno; fd < 0)
      throw IoError(p.string() + ": " + std::strerror(err) + process_limit_note(err));
    struct Close {
      int fd;
      ~Close() { ::close(fd); }
    } close_fd{fd};
    constexpr size_t kPiece = size_t(1) << 20;
    const size_t n = static_cast<size_t>(st.st_size), pieces = (n + kPiece - 1) / kPiece;
    std::vector<uint32_t> crc(pieces);
    std::atomic<bool> short_read{false};
    parallel_for(0, static_cast<int64_t>(pieces), 1, [&](int64_t lo, int64_t hi) {
      std::vector<char> buf(kPiece);
      for (int64_t i = lo; i < hi; ++i) {
        const size_t len = std::min(kPiece, n - i * kPiece);
        size_t got = 0;
        while (got < len) {
          const ssize_t r = ::pread(fd, buf.data() + got, len - got, off_t(i * kPiece + got));
          if (r < 0 && errno == EINTR) continue;
          if (r <= 0) break;
          got += static_cast<size_t>(r);
        }
        if (got < len) short_read = true;
        crc[i] = crc32c(buf.data(), got);
      }
    });
    if (short_read) throw IoError(p.string() + ": changed while it was read");
    uint32_t all = 0;
    for (size_t i = 0; i < pieces; ++i)
      all = crc32c_combine(all, crc[i], std::min(kPiece, n - i * kPiece));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%08x", all);
    fp = std::to_string(n) + ":" + buf;
    // Best effort: a cache we cannot write only costs the read again. Only in a cache that
    // holds indexes already: a refused command, or one whose index is repo-local (.ripvec/),
    // leaves no cache folder and no file in an empty one.
    if (!stored.empty() && fs::is_directory(cache_dir, ec) && !fs::is_empty(cache_dir, ec)) {
      create_private_directories(stored.parent_path(), ec);
      try {
        atomic_write_file(stored, fp + "\n", /*sync=*/false);
      } catch (const Error&) {
        // read again next time
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  memo[id] = fp;
  return fp;
}

std::string model_key(Embedder& e, const ChunkOptions& co, const fs::path& cache_dir) {
  Sha256 h;
  auto add = [&](std::string_view s) {
    h.update(s);
    h.update("\0", 1);
  };
  add("ripvec-index");
  add(std::to_string(kFormatVersion));
  add(e.model_id());
  add(std::to_string(e.dim()));
  add(std::to_string(e.max_seq_length()));
  add(e.prompt(InputKind::Document));
  add(e.prompt(InputKind::Query));
  add(e.vector_config());
  // Only when the embedder names its files, so that keys made before this have not changed
  // for embedders that name none.
  for (const auto& f : e.identity_files()) add("file " + file_fingerprint(f, cache_dir));
  add("chunker " + std::to_string(kChunkerVersion));
  add(std::to_string(co.max_tokens));
  add(std::to_string(co.window_lines));
  add(std::to_string(co.overlap_lines));
  add(std::to_string(co.max_chunk_lines));
  add(co.tokenizer ? "tok" : "notok");
  return to_hex(h.finish()).substr(0, 32);
}

std::string model_dir_name(std::string_view model_id, std::string_view mkey) {
  // The last component of the id ("sentence-transformers/all-MiniLM-L6-v2" or a local
  // directory), reduced to characters that are safe in a file name.
  std::string_view name = model_id;
  while (!name.empty() && name.back() == '/') name.remove_suffix(1);
  if (const size_t slash = name.rfind('/'); slash != std::string_view::npos)
    name = name.substr(slash + 1);
  std::string slug;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    slug += ok ? c : '_';
    if (slug.size() >= 48) break;
  }
  while (!slug.empty() && slug.front() == '.') slug.erase(0, 1);
  if (slug.empty()) slug = "model";
  return slug + "-" + std::string(mkey.substr(0, 16));
}

namespace {

fs::path canonical_or_throw(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::canonical(p, ec);
  if (ec) throw IoError(p.string() + ": " + ec.message());
  return c;
}

bool exists_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
// Whether d holds a repository's index folder .ripvec/. One that is a symbolic link to a folder
// is refused: through it an update replaced another project's index with this one's and
// collected its objects (hostile probe 2026-12-07); a link to anything else is no index folder.
bool has_repo_index(const fs::path& d) {
  const fs::path p = d / ".ripvec";
  std::error_code ec;
  if (!fs::is_directory(p, ec)) return false;
  if (fs::is_symlink(fs::symlink_status(p, ec)))
    throw IoError(p.string() +
                  " is a symbolic link: an index is never read or written through one; remove it "
                  "(or make it a folder of its own)");
  return true;
}
bool exists_any(const fs::path& p) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(p, ec));
}

template <typename F>
const fs::path* nearest(const std::vector<fs::path>& chain, F&& pred) {
  for (const auto& d : chain)
    if (pred(d)) return &d;
  return nullptr;
}

std::vector<fs::path> ancestors(const fs::path& dir) {
  std::vector<fs::path> out;
  for (fs::path d = dir;; d = d.parent_path()) {
    out.push_back(d);
    if (d == d.parent_path()) break;
  }
  return out;
}

std::string scope_of(const fs::path& root, const fs::path& p) {
  if (p == root) return {};
  return p.lexically_relative(root).generic_string();
}

}  // namespace

void refuse_pseudo_fs(const fs::path& given, const fs::path& canonical) {
  if (const char* fs_name = pseudo_fs_name(canonical.string()))
    throw IoError(given.string() + ": on the " + fs_name +
                  " pseudo file system, which is never indexed or searched");
}

}  // namespace index

void refuse_pseudo_file_system(const fs::path& path) {
  index::refuse_pseudo_fs(path, index::canonical_or_throw(path));
}

namespace index {

Located locate_index(const fs::path& path, const fs::path& cache_dir, std::string_view model_dir,
                     bool repo_local) {
  const fs::path p = canonical_or_throw(path);
  refuse_pseudo_fs(path, p);
  const fs::path dir = exists_dir(p) ? p : p.parent_path();
  const auto chain = ancestors(dir);
  const fs::path cache = resolve_cache_dir(cache_dir);
  Located out;
  if (const fs::path* d = nearest(chain, has_repo_index)) {
    out.root = *d;
    out.location = *d / ".ripvec" / std::string(model_dir);
    out.source = Index::RootSource::RepoLocal;
  } else {
    const fs::path* found = nearest(chain, [&](const fs::path& d) {
      return exists_any(cache / root_key(d) / std::string(model_dir) / "manifest.json");
    });
    out.source = Index::RootSource::Cached;
    if (!found) {
      found = nearest(chain, [](const fs::path& d) { return exists_any(d / ".git"); });
      out.source = Index::RootSource::GitWorkTree;
    }
    // A directory the enclosing root's ignore rules leave out (a build/ folder, a vendored tree
    // in .gitignore) is not in that root's index: it becomes a root of its own, so that naming
    // it indexes it (ripgrep searches a named path whatever the ignore files say).
    if (found && *found != p && dir == p && ignored_below(*found, p)) found = nullptr;
    if (!found) out.source = Index::RootSource::Path;
    out.root = found ? *found : dir;
    out.location = repo_local ? out.root / ".ripvec" / std::string(model_dir)
                              : cache / root_key(out.root) / std::string(model_dir);
  }
  out.scope = scope_of(out.root, p);
  return out;
}

namespace {

// The model-free root rules (locate_any_root, project_root_source): the nearest folder at or
// above `path` holding .ripvec/, else the nearest with a folder of any model's indexes in the
// cache, else (with `git`) the nearest git work tree's top, else `path` itself (its directory
// for a file), with the rule that chose it.
std::pair<fs::path, Index::RootSource> any_model_root(const fs::path& path,
                                                      const fs::path& cache_dir, bool git) {
  const fs::path p = canonical_or_throw(path);
  const fs::path dir = exists_dir(p) ? p : p.parent_path();
  const auto chain = ancestors(dir);
  const fs::path cache = resolve_cache_dir(cache_dir);
  if (const fs::path* d = nearest(chain, has_repo_index)) return {*d, Index::RootSource::RepoLocal};
  if (const fs::path* d =
          nearest(chain, [&](const fs::path& d) { return exists_dir(cache / root_key(d)); }))
    return {*d, Index::RootSource::Cached};
  if (git)
    if (const fs::path* d =
            nearest(chain, [](const fs::path& d) { return exists_any(d / ".git"); }))
      return {*d, Index::RootSource::GitWorkTree};
  return {dir, Index::RootSource::Path};
}

}  // namespace

fs::path locate_any_root(const fs::path& path, const fs::path& cache_dir) {
  return any_model_root(path, cache_dir, /*git=*/false).first;
}

}  // namespace index

Index::RootSource project_root_source(const fs::path& path, const fs::path& cache_dir) {
  return index::any_model_root(path, cache_dir, /*git=*/true).second;
}

namespace index {

namespace {

bool lower_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// The kind of an entry (not following a symlink): a regular file, a real directory, or other.
enum class EntryKind { File, Dir, Other };
EntryKind kind_of(const fs::directory_entry& e) {
  std::error_code ec;
  const auto st = e.symlink_status(ec);
  if (ec) return EntryKind::Other;
  if (fs::is_regular_file(st)) return EntryKind::File;
  if (fs::is_directory(st)) return EntryKind::Dir;
  return EntryKind::Other;
}

// "<64 hex>-<hex key>.obj", or its temporary file: what objects/<2 hex>/ holds.
bool is_object_file_name(std::string_view n) {
  if (is_temp_file_name(n)) n = n.substr(0, n.rfind(".tmp."));
  if (!n.ends_with(".obj")) return false;
  n.remove_suffix(4);
  const size_t dash = n.find('-');
  return dash != std::string_view::npos && lower_hex(n.substr(0, dash)) &&
         lower_hex(n.substr(dash + 1));
}

// Whether a top-level entry of an index directory is one an index writes, by name and type.
bool is_own_top_entry(const fs::directory_entry& e) {
  const std::string n = e.path().filename().string();
  const EntryKind k = kind_of(e);
  if (n == "objects") return k == EntryKind::Dir;
  if (k != EntryKind::File) return false;
  return n == "lock" || n == "manifest.json" || n == "gc-pending" || n == "skipped" ||
         is_temp_file_name(n) || is_snapshot_file_name(n);
}

}  // namespace

bool is_own_object_entry(const fs::directory_entry& e, int depth) {
  const std::string n = e.path().filename().string();
  if (depth == 0) return kind_of(e) == EntryKind::Dir && n.size() == 2 && lower_hex(n);
  return kind_of(e) == EntryKind::File && is_object_file_name(n);
}

bool is_index_dir(const fs::path& dir, std::vector<fs::path>* foreign) {
  std::error_code ec;
  bool any = false, has_objects = false;
  std::vector<fs::path> strangers;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (!is_own_top_entry(*it)) {
      if (!foreign) return false;
      strangers.push_back(it->path());
      continue;
    }
    any = true;
    if (it->path().filename() != "objects") continue;
    has_objects = true;
    // objects/<2 hex>/<id>-<key>.obj: anything else in there is someone else's too.
    std::error_code e2;
    for (auto sub = fs::directory_iterator(it->path(), e2); !e2 && sub != fs::directory_iterator();
         sub.increment(e2)) {
      if (!is_own_object_entry(*sub, 0)) {
        if (!foreign) return false;
        strangers.push_back(sub->path());
        continue;
      }
      std::error_code e3;
      for (auto f = fs::directory_iterator(sub->path(), e3); !e3 && f != fs::directory_iterator();
           f.increment(e3))
        if (!is_own_object_entry(*f, 1)) {
          if (!foreign) return false;
          strangers.push_back(f->path());
        }
      if (e3) return false;
    }
    if (e2) return false;
  }
  if (ec || !any) return false;
  std::sort(strangers.begin(), strangers.end());
  if (foreign) *foreign = strangers;
  // A manifest of ours says so. Without one (an update killed before its first commit): an
  // empty lock (flock writes nothing) and an objects/ folder of object files alone, nothing
  // else: a `lock` and an `objects/` in someone's folder (`--cache-dir ~`) are not an index.
  try {
    decode_manifest(read_file(dir / "manifest.json", kMaxManifestBytes), "");
    return true;
  } catch (const Error&) {
  }
  const fs::path lock = dir / "lock";
  return strangers.empty() && has_objects && fs::is_regular_file(fs::symlink_status(lock, ec)) &&
         fs::file_size(lock, ec) == 0 && !ec;
}

uint64_t disk_usage(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it =
           fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code e2;
    if (it->is_regular_file(e2)) {
      const auto sz = it->file_size(e2);
      if (!e2) total += sz;
    }
  }
  return total;
}

}  // namespace index
}  // namespace ripvec
