// Directory walking with ripgrep's filtering rules, and UTF-8 file reading.
//
// The walk is level-synchronous breadth-first: every folder of one depth is read in parallel on
// the thread pool (readdir + lstat dominate), then the next depth. Each folder's context (its
// ignore rules, repository, (dev, inode) for loop detection) is immutable once built and shared
// with its children through shared_ptr, so workers never lock.
#include "corpus/walker.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <climits>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_set>

#include "corpus/gitignore.hpp"
#include "corpus/path_filter.hpp"
#include "ripvec/error.hpp"
#include "util/file_read.hpp"
#include "util/text_util.hpp"
#include "util/thread_pool.hpp"

namespace ripvec {
namespace fs = std::filesystem;
using ignore::Match;
using ignore::RuleSet;

namespace {

// Dependency lock files: generated, huge, and useless to search by meaning.
constexpr std::string_view kLockFiles[] = {
    "Cargo.lock",       "package-lock.json", "npm-shrinkwrap.json",
    "yarn.lock",        "pnpm-lock.yaml",    "bun.lockb",
    "bun.lock",         "deno.lock",         "poetry.lock",
    "Pipfile.lock",     "pdm.lock",          "uv.lock",
    "Gemfile.lock",     "composer.lock",     "go.sum",
    "flake.lock",       "mix.lock",          "Podfile.lock",
    "Package.resolved", "pubspec.lock",      "packages.lock.json",
    "gradle.lockfile",  "conan.lock",        "paket.lock",
    "shard.lock",       "Manifest.toml",     "cabal.project.freeze",
    "gomod2nix.toml",
};

bool is_lock_file(std::string_view name) {
  for (auto l : kLockFiles)
    if (name == l) return true;
  return false;
}

// Folders that are never entered: VCS internals and our own index cache.
bool is_never_entered(std::string_view name) {
  return name == ".git" || name == ".hg" || name == ".svn" || name == ".ripvec";
}

// Ignore files larger than git's own cap for them are not read (git warns and skips too).
constexpr uint64_t kMaxIgnoreFileBytes = uint64_t(100) << 20;

// The whole of a small regular file (.ignore, .gitignore, info/exclude, a .git file, git
// config), through util's bounded reader: opened without blocking and refused unless regular and
// at most 100 MiB: a repository can commit .gitignore as a symlink to /dev/zero (read until
// memory ran out: 4.5 GB in 20 s), and a FIFO in its place hung the walk. *err: errno, EINVAL
// when not a regular file, EFBIG when too large.
std::string read_ignore_file(const std::string& path, bool* ok, int* err = nullptr) {
  std::string out;
  const int e = try_read_small_file(path, kMaxIgnoreFileBytes, &out).err;
  *ok = e == 0;
  if (err) *err = e;
  return out;
}

// A git repository: its work-tree root and the rules of its .git/info/exclude.
struct Repo {
  std::string root_slash;  // absolute, ends with '/'
  RuleSet exclude;
};

// Ignore rules contributed by one folder.
struct Layer {
  std::string dir_slash;  // absolute, ends with '/'
  RuleSet dot_ignore, gitignore;
  std::shared_ptr<const Repo> repo;  // the repository this folder belongs to (may be null)
};

struct DirCtx {
  std::shared_ptr<const DirCtx> parent;
  std::string abs;  // absolute path as walked (not canonical), no trailing '/' (except "/")
  std::string rel;  // relative to the walk root, "" for the root
  dev_t dev = 0;
  ino_t ino = 0;
  dev_t root_dev = 0;                  // the walk root's file system
  bool in_walk = true;                 // false for the ancestors above the root (rules only)
  std::shared_ptr<const Layer> layer;  // null when the folder has no ignore files
  std::shared_ptr<const Repo> repo;
};

std::string with_slash(const std::string& dir) {
  return !dir.empty() && dir.back() == '/' ? dir : dir + "/";
}

std::string join(const std::string& dir, std::string_view name) {
  std::string s = dir;
  if (s.empty() || s.back() != '/') s.push_back('/');
  s.append(name);
  return s;
}

std::string join_rel(const std::string& rel, std::string_view name) {
  return rel.empty() ? std::string(name) : rel + "/" + std::string(name);
}

// Resolves the git dir of a work tree whose ".git" entry is at dot_git ("gitdir: x" files too).
std::string git_dir_of(const std::string& dot_git) {
  struct stat st;
  if (::stat(dot_git.c_str(), &st) != 0) return {};
  if (S_ISDIR(st.st_mode)) return dot_git;
  bool ok = false;
  std::string text = read_ignore_file(dot_git, &ok);
  if (!ok || text.rfind("gitdir:", 0) != 0) return {};
  std::string p = text.substr(7);
  while (!p.empty() && (p.back() == '\n' || p.back() == '\r' || p.back() == ' ')) p.pop_back();
  size_t b = p.find_first_not_of(' ');
  p = b == std::string::npos ? "" : p.substr(b);
  if (p.empty()) return {};
  if (p[0] != '/') p = join(fs::path(dot_git).parent_path().string(), p);
  return p;
}

struct Globals {
  const WalkOptions* opts = nullptr;
  RuleSet global_excludes;  // core.excludesFile, relative to each repository root
  RuleSet overrides;        // -g globs (gitignore syntax, meaning inverted)
  bool override_whitelist = false;
  std::vector<std::string> type_globs, type_not_globs;
};

// Reads core.excludesFile from git's user config files; falls back to $XDG_CONFIG_HOME/git/ignore.
std::string global_excludes_path() {
  const char* home = std::getenv("HOME");
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  std::string xdg_dir = xdg && *xdg ? xdg : (home ? std::string(home) + "/.config" : "");
  std::vector<std::string> configs;
  if (!xdg_dir.empty()) configs.push_back(xdg_dir + "/git/config");
  if (home) configs.push_back(std::string(home) + "/.gitconfig");  // wins over the XDG file
  std::string value;
  for (const auto& cfg : configs) {
    bool ok = false;
    std::string text = read_ignore_file(cfg, &ok);
    if (!ok) continue;
    std::istringstream in(text);
    std::string line;
    bool in_core = false;
    while (std::getline(in, line)) {
      size_t b = line.find_first_not_of(" \t");
      if (b == std::string::npos) continue;
      line = line.substr(b);
      if (line[0] == '#' || line[0] == ';') continue;
      if (line[0] == '[') {
        std::string sec = line.substr(1, line.find(']') - 1);
        std::transform(sec.begin(), sec.end(), sec.begin(), ::tolower);
        in_core = sec == "core";
        continue;
      }
      if (!in_core) continue;
      size_t eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string key = line.substr(0, eq);
      while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
      std::transform(key.begin(), key.end(), key.begin(), ::tolower);
      if (key != "excludesfile") continue;
      std::string v = line.substr(eq + 1);
      size_t vb = v.find_first_not_of(" \t");
      v = vb == std::string::npos ? "" : v.substr(vb);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.pop_back();
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      value = v;
    }
  }
  if (!value.empty()) {
    if (value.rfind("~/", 0) == 0 && home) value = std::string(home) + value.substr(1);
    return value;
  }
  return xdg_dir.empty() ? "" : xdg_dir + "/git/ignore";
}

struct DirResult {
  std::vector<WalkedFile> files;
  std::vector<std::shared_ptr<const DirCtx>> pending;  // subfolders to read next
  WalkStats stats;
};

void warn(WalkStats& st, std::string msg) {
  st.warnings.push_back(std::move(msg));
}

// A warning about one skipped entry (WalkStats::entry_warnings): `reason` names why (a word that
// stays the same while the entry is skipped for it: not the size of a file that grows).
void warn_entry(WalkStats& st, std::string_view reason, std::string_view path, std::string msg) {
  std::string about(reason);
  about.push_back('\0');
  about.append(path);
  st.entry_warnings.push_back({std::move(about), msg});
  st.warnings.push_back(std::move(msg));
}

// A failure of the process (is_resource_errno) recorded once as the walk's resource_error;
// true when it was one (the caller then skips the entry without calling it unreadable).
bool resource_failure(WalkStats& st, int err, const std::string& what) {
  if (!is_resource_errno(err)) return false;
  if (st.resource_error.empty())
    st.resource_error = what + ": " + std::strerror(err) + process_limit_note(err);
  return true;
}

// Loads a folder's ignore files into a Layer (null if it has none) and its repository.
void load_layer(DirCtx& ctx, const Globals& g, const std::shared_ptr<const Repo>& parent_repo,
                WalkStats* st) {
  ctx.repo = parent_repo;
  if (g.opts->no_ignore) return;
  const std::string dot_git = join(ctx.abs, ".git");
  struct stat gst;
  if (::lstat(dot_git.c_str(), &gst) == 0) {
    // A new work tree (or a submodule): rules of enclosing repositories stop here, as in git.
    auto repo = std::make_shared<Repo>();
    repo->root_slash = with_slash(ctx.abs);
    const std::string gd = git_dir_of(dot_git);
    if (!gd.empty()) {
      bool ok = false;
      std::string text = read_ignore_file(join(gd, "info/exclude"), &ok);
      if (ok) repo->exclude = RuleSet::parse(text, join(gd, "info/exclude"));
    }
    ctx.repo = repo;
  }
  auto layer = std::make_shared<Layer>();
  layer->dir_slash = with_slash(ctx.abs);
  layer->repo = ctx.repo;
  bool any = false;
  for (const char* name : {".ignore", ".gitignore"}) {
    const std::string p = join(ctx.abs, name);
    bool ok = false;
    int err = 0;
    std::string text = read_ignore_file(p, &ok, &err);
    if (!ok) {
      // A missing ignore file is the norm; an unreadable one changes what is searched.
      if (st && resource_failure(*st, err, "cannot read " + p)) continue;
      if (err != ENOENT && err != ENOTDIR && st)
        warn_entry(*st, "ignore file", p,
                   "cannot read " + p + ": " +
                       (err == EINVAL ? std::string("not a regular file (never read)")
                                      : std::string(std::strerror(err))));
      continue;
    }
    RuleSet rs = RuleSet::parse(text, p);
    if (rs.empty()) continue;
    any = true;
    (name[1] == 'i' ? layer->dot_ignore : layer->gitignore) = std::move(rs);
  }
  if (any) ctx.layer = std::move(layer);
}

// Ignore-file verdict for an entry (abs path, is_dir) whose parent folder is ctx, by ripgrep's
// precedence: .ignore files (deepest first), then .gitignore files of the same repository
// (deepest first), then .git/info/exclude, then the global excludes file.
Match ignore_match(const DirCtx& ctx, const std::string& abs, bool is_dir, const Globals& g) {
  if (g.opts->no_ignore) return Match::None;
  for (const DirCtx* d = &ctx; d; d = d->parent.get()) {
    if (!d->layer || d->layer->dot_ignore.empty()) continue;
    Match m = d->layer->dot_ignore.match(std::string_view(abs).substr(d->layer->dir_slash.size()),
                                         is_dir);
    if (m != Match::None) return m;
  }
  const Repo* repo = ctx.repo.get();
  if (!repo) return Match::None;  // .gitignore and excludes only apply inside a git repository
  for (const DirCtx* d = &ctx; d; d = d->parent.get()) {
    if (!d->layer || d->layer->repo.get() != repo || d->layer->gitignore.empty()) continue;
    Match m =
        d->layer->gitignore.match(std::string_view(abs).substr(d->layer->dir_slash.size()), is_dir);
    if (m != Match::None) return m;
  }
  std::string_view rel = std::string_view(abs).substr(repo->root_slash.size());
  if (Match m = repo->exclude.match(rel, is_dir); m != Match::None) return m;
  return g.global_excludes.match(rel, is_dir);
}

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

WalkedFile walked_file(fs::path abs, std::string rel, const struct stat& st) {
  return WalkedFile{std::move(abs),
                    std::move(rel),
                    static_cast<uint64_t>(st.st_size),
                    mtime_ns(st),
                    static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec,
                    static_cast<uint64_t>(st.st_ino)};
}

}  // namespace

// Kernel interfaces whose trees never end (/proc/self/root leads back to /), whose files block
// on read (/proc/kmsg) or are devices. devtmpfs reports tmpfs's magic, so /dev is also
// recognised by its real path.
const char* pseudo_fs_name(const std::string& path) {
  struct statfs sf;
  if (::statfs(path.c_str(), &sf) == 0) {
    switch (static_cast<unsigned long>(sf.f_type)) {
      case PROC_SUPER_MAGIC:
        return "proc";
      case SYSFS_MAGIC:
        return "sysfs";
      case DEVPTS_SUPER_MAGIC:
        return "devpts";
      case DEBUGFS_MAGIC:
        return "debugfs";
      case TRACEFS_MAGIC:
        return "tracefs";
      case SECURITYFS_MAGIC:
        return "securityfs";
      case CGROUP_SUPER_MAGIC:
      case CGROUP2_SUPER_MAGIC:
        return "cgroup";
      case BPF_FS_MAGIC:
        return "bpf";
      case PSTOREFS_MAGIC:
        return "pstore";
      case 0x62656570:  // configfs
        return "configfs";
      case 0x65735543:  // fusectl
        return "fusectl";
      case 0x19800202:  // mqueue
        return "mqueue";
      case 0x42494e4d:  // binfmt_misc
        return "binfmt_misc";
      case NSFS_MAGIC:
        return "nsfs";
      default:
        break;
    }
  }
  char real[PATH_MAX];
  if (::realpath(path.c_str(), real) != nullptr) {
    const std::string_view r = real;
    for (std::string_view top : {"/proc", "/sys", "/dev"})
      if (r == top ||
          (r.size() > top.size() && r.substr(0, top.size()) == top && r[top.size()] == '/'))
        return top == "/dev" ? "/dev" : top == "/sys" ? "sysfs" : "proc";
  }
  return nullptr;
}

namespace {

bool is_ancestor_loop(const DirCtx& parent, dev_t dev, ino_t ino) {
  for (const DirCtx* d = &parent; d && d->in_walk; d = d->parent.get())
    if (d->dev == dev && d->ino == ino) return true;
  return false;
}

// Reads one folder: its ignore files first, then every entry through the filters.
DirResult read_dir(const std::shared_ptr<DirCtx>& ctx_mut, const Globals& g) {
  DirResult out;
  WalkStats& st = out.stats;
  const WalkOptions& opts = *g.opts;
  // One warning per folder that cannot be read or entered, about that folder (an entry warning,
  // so a search of an unchanged tree does not repeat it): a folder without search permission
  // gave one for each ignore file it might hold and one per entry that could not be stat'ed,
  // and an unreadable folder was named again on every search (hostile probe 2026-12-05).
  DIR* dir = ::opendir(ctx_mut->abs.c_str());
  int err = dir ? 0 : errno;
  if (dir && ::access(ctx_mut->abs.c_str(), X_OK) != 0 && errno == EACCES) {
    err = EACCES;
    ::closedir(dir);
    dir = nullptr;
  }
  if (!dir) {
    if (resource_failure(st, err, "cannot read directory " + ctx_mut->abs)) return out;
    ++st.skipped_unreadable;
    warn_entry(st, "folder", ctx_mut->abs,
               "cannot read directory " + ctx_mut->abs + ": " + std::strerror(err));
    return out;
  }
  load_layer(*ctx_mut, g, ctx_mut->repo, &st);
  std::shared_ptr<const DirCtx> ctx = ctx_mut;
  ++st.dirs;

  const int dfd = ::dirfd(dir);
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    dirent* e = ::readdir(dir);
    if (!e) {
      if (errno != 0 && !resource_failure(st, errno, "error listing " + ctx->abs))
        warn(st, "error listing " + ctx->abs + ": " + std::strerror(errno));
      break;
    }
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }

  for (const std::string& name : names) {
    const std::string abs = join(ctx->abs, name);
    const std::string rel = join_rel(ctx->rel, name);
    struct stat lst;
    if (::fstatat(dfd, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0) {
      if (resource_failure(st, errno, "cannot stat " + abs)) continue;
      ++st.skipped_unreadable;
      warn_entry(st, errno == ENOENT ? "vanished" : "stat", abs,
                 (errno == ENOENT ? "vanished during the walk: " : "cannot stat ") + abs +
                     (errno == ENOENT ? "" : std::string(": ") + std::strerror(errno)));
      continue;
    }
    struct stat tst = lst;
    if (S_ISLNK(lst.st_mode)) {
      if (!opts.follow_symlinks) continue;
      if (::fstatat(dfd, name.c_str(), &tst, 0) != 0) {
        if (resource_failure(st, errno, "cannot stat " + abs)) continue;
        ++st.skipped_unreadable;
        warn_entry(st, "broken symlink", abs,
                   "broken symlink " + abs + ": " + std::strerror(errno));
        continue;
      }
    }
    const bool is_dir = S_ISDIR(tst.st_mode);
    // FIFOs, sockets and devices go through the rules like files (an ignored one is not
    // mentioned), then are skipped with a warning naming them: they were skipped in silence
    // (hostile probe 2026-12-05), against "a skip with a warning naming the file".
    const char* special = is_dir || S_ISREG(tst.st_mode) ? nullptr
                          : S_ISFIFO(tst.st_mode)        ? "a FIFO"
                          : S_ISSOCK(tst.st_mode)        ? "a socket"
                          : S_ISCHR(tst.st_mode)         ? "a character device"
                          : S_ISBLK(tst.st_mode)         ? "a block device"
                                                         : "not a regular file";
    if (is_dir && is_never_entered(name)) continue;
    if (is_dir && !opts.prune.empty() &&
        std::find(opts.prune.begin(), opts.prune.end(), rel) != opts.prune.end())
      continue;
    // Leaving the root's file system (a mount point, or a followed link).
    if (tst.st_dev != ctx->root_dev) {
      if (opts.one_file_system) {
        ++st.skipped_other_fs;
        continue;
      }
      if (const char* fs_name = pseudo_fs_name(abs)) {
        ++st.skipped_other_fs;
        warn(st, "not entering " + abs + ": it is on the " + fs_name +
                     " pseudo file system (never searched)");
        continue;
      }
    }

    // -g globs win over everything else (ripgrep's overrides).
    bool forced = false;
    if (!g.overrides.empty()) {
      Match m = g.overrides.match(rel, is_dir);
      if (m == Match::Whitelist) {  // a "!glob" line: excluded
        ++st.filtered;
        continue;
      }
      forced = m == Match::Ignore;  // a plain glob matched: included
    }
    if (!forced) {
      if (!opts.hidden && name[0] == '.') {
        ++st.skipped_hidden;
        continue;
      }
      if (ignore_match(*ctx, abs, is_dir, g) == Match::Ignore) {
        ++st.ignored;
        continue;
      }
    }

    if (is_dir) {
      if (opts.follow_symlinks && is_ancestor_loop(*ctx, tst.st_dev, tst.st_ino)) {
        ++st.skipped_symlink_loop;
        warn_entry(st, "symlink loop", abs,
                   "symlink loop: " + abs + " leads back to one of its parent folders; skipped");
        continue;
      }
      auto child = std::make_shared<DirCtx>();
      child->parent = ctx;
      child->abs = abs;
      child->rel = rel;
      child->dev = tst.st_dev;
      child->ino = tst.st_ino;
      child->root_dev = ctx->root_dev;
      child->repo = ctx->repo;
      out.pending.push_back(std::move(child));
      continue;
    }

    if (!forced) {
      if (is_lock_file(name)) {
        ++st.skipped_lock;
        continue;
      }
      if (g.override_whitelist) {  // some -g glob given, and none matched this file
        ++st.filtered;
        continue;
      }
    }
    if (!g.type_globs.empty() && !corpus::any_glob_matches(g.type_globs, name)) {
      ++st.filtered;
      continue;
    }
    if (!g.type_not_globs.empty() && corpus::any_glob_matches(g.type_not_globs, name)) {
      ++st.filtered;
      continue;
    }
    if (special != nullptr) {
      ++st.skipped_unreadable;
      warn_entry(st, "special", abs, "skipping " + abs + ": " + special + ", not a regular file");
      continue;
    }
    if (::faccessat(dfd, name.c_str(), R_OK, 0) != 0) {
      if (resource_failure(st, errno, "cannot read " + abs)) continue;
      ++st.skipped_unreadable;
      warn_entry(st, "unreadable", abs, "cannot read " + abs + ": " + std::strerror(errno));
      continue;
    }
    const uint64_t size = static_cast<uint64_t>(tst.st_size);
    if (opts.max_file_size > 0 && size > opts.max_file_size) {
      ++st.skipped_too_large;
      warn_entry(st, "too large", abs,
                 "skipping " + abs + ": " + std::to_string(size) + " bytes exceeds the " +
                     std::to_string(opts.max_file_size) + "-byte " + opts.size_limit_name);
      continue;
    }
    out.files.push_back(walked_file(fs::path(abs), rel, tst));
  }
  ::closedir(dir);
  return out;
}

void merge_stats(WalkStats& into, WalkStats&& from) {
  into.files += from.files;
  into.dirs += from.dirs;
  into.ignored += from.ignored;
  into.skipped_hidden += from.skipped_hidden;
  into.skipped_lock += from.skipped_lock;
  into.skipped_too_large += from.skipped_too_large;
  into.skipped_unreadable += from.skipped_unreadable;
  into.skipped_symlink_loop += from.skipped_symlink_loop;
  into.skipped_other_fs += from.skipped_other_fs;
  into.filtered += from.filtered;
  for (auto& w : from.warnings) into.warnings.push_back(std::move(w));
  for (auto& w : from.entry_warnings) into.entry_warnings.push_back(std::move(w));
  if (into.resource_error.empty()) into.resource_error = std::move(from.resource_error);
}

// A folder whose ignore files only supply rules (not walked): its layer on top of `parent`'s.
std::shared_ptr<const DirCtx> rules_ctx(std::shared_ptr<const DirCtx> parent, std::string abs,
                                        const Globals& g) {
  auto d = std::make_shared<DirCtx>();
  d->abs = std::move(abs);
  d->in_walk = false;
  load_layer(*d, g, parent ? parent->repo : nullptr, nullptr);
  d->parent = std::move(parent);
  return d;
}

// The chain of folders above a root (outermost first), for ignore files in parent folders:
// .ignore from every ancestor, .gitignore/.git info from ancestors inside the same repository.
std::shared_ptr<const DirCtx> ancestors_of(const fs::path& root_abs, const Globals& g) {
  std::vector<fs::path> chain;
  for (fs::path p = root_abs.parent_path();; p = p.parent_path()) {
    chain.push_back(p);
    if (p == p.parent_path()) break;
  }
  std::shared_ptr<const DirCtx> parent;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it)
    parent = rules_ctx(std::move(parent), it->string(), g);
  return parent;
}

// core.excludesFile's rules (empty when there is none or it cannot be read).
RuleSet global_excludes() {
  const std::string gpath = global_excludes_path();
  bool ok = false;
  std::string text = gpath.empty() ? "" : read_ignore_file(gpath, &ok);
  return ok ? RuleSet::parse(text, gpath) : RuleSet();
}

}  // namespace

namespace {
constexpr int64_t kRacyNs = 2'000'000'000;
constexpr int64_t kDayNs = int64_t(86400) * 1'000'000'000;
// Wall-clock time in ns since the epoch, the scale of file times.
int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

RacyWindow::RacyWindow()
    : from_(wall_now_ns() - kRacyNs), to_(std::numeric_limits<int64_t>::max()) {}

void RacyWindow::walk_ended() {
  to_ = wall_now_ns() + kRacyNs + kDayNs;
}

std::vector<WalkedFile> walk(const std::vector<fs::path>& roots, const WalkOptions& opts,
                             WalkStats* stats_out) {
  Globals g;
  g.opts = &opts;
  g.type_globs = corpus::type_globs(opts.types);
  g.type_not_globs = corpus::type_globs(opts.type_not);
  for (const auto& glob : opts.globs)
    for (const auto& gl : corpus::expand_glob(glob)) {
      g.overrides.add(gl);
      // A plain glob is a whitelist: "Ignore" in gitignore terms; see read_dir.
      if (!gl.empty() && gl[0] != '!') g.override_whitelist = true;
    }
  WalkStats stats;
  if (!opts.no_ignore) g.global_excludes = global_excludes();

  std::unique_ptr<ThreadPool> own_pool;
  ThreadPool* pool = &ThreadPool::global();
  if (opts.threads != 0 && opts.threads != pool->size()) {
    own_pool = std::make_unique<ThreadPool>(opts.threads);
    pool = own_pool.get();
  }

  std::vector<WalkedFile> files;
  std::vector<std::shared_ptr<DirCtx>> frontier;
  for (const auto& root : roots) {
    std::error_code ec;
    fs::path abs = fs::absolute(root, ec).lexically_normal();
    if (ec) abs = root;
    std::string abs_s = abs.string();
    while (abs_s.size() > 1 && abs_s.back() == '/') abs_s.pop_back();
    abs = abs_s;
    struct stat st;
    if (::stat(abs_s.c_str(), &st) != 0) {
      ++stats.skipped_unreadable;
      warn(stats, "cannot open " + root.string() + ": " + std::strerror(errno));
      continue;
    }
    // Named, too: /proc/self holds the environment (secrets an index would keep on disk).
    if (const char* fs_name = pseudo_fs_name(abs_s)) {
      ++stats.skipped_other_fs;
      warn(stats, "not searching " + abs_s + ": it is on the " + fs_name +
                      " pseudo file system (never searched)");
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      auto ctx = std::make_shared<DirCtx>();
      auto anc = ancestors_of(abs, g);
      ctx->parent = anc;
      ctx->repo = anc ? anc->repo : nullptr;
      ctx->abs = abs_s;
      ctx->dev = st.st_dev;
      ctx->ino = st.st_ino;
      ctx->root_dev = st.st_dev;
      frontier.push_back(std::move(ctx));
    } else if (S_ISREG(st.st_mode)) {
      // An explicitly named file is always taken, like ripgrep; only size and access apply.
      if (::access(abs_s.c_str(), R_OK) != 0) {
        ++stats.skipped_unreadable;
        warn_entry(stats, "unreadable", abs_s,
                   "cannot read " + abs_s + ": " + std::strerror(errno));
      } else if (opts.max_file_size > 0 && static_cast<uint64_t>(st.st_size) > opts.max_file_size) {
        ++stats.skipped_too_large;
        warn_entry(stats, "too large", abs_s,
                   "skipping " + abs_s + ": " + std::to_string(st.st_size) + " bytes exceeds the " +
                       std::to_string(opts.max_file_size) + "-byte " + opts.size_limit_name);
      } else {
        files.push_back(walked_file(abs, abs.filename().string(), st));
      }
    } else {
      warn_entry(stats, "special", abs_s,
                 "skipping " + abs_s + ": not a regular file or directory");
    }
  }

  size_t dirs_read = 0;
  while (!frontier.empty()) {
    // The memory bound: a followed link can make a tree look endless (links to ancestors of
    // other branches multiply paths); stop, and say so, rather than exhaust memory.
    if (dirs_read + frontier.size() > opts.max_dirs || files.size() > opts.max_files) {
      stats.truncated = true;
      const size_t room = opts.max_dirs > dirs_read ? opts.max_dirs - dirs_read : 0;
      frontier.resize(files.size() > opts.max_files ? 0 : std::min(room, frontier.size()));
      warn(stats, "walk stopped after " + std::to_string(dirs_read + frontier.size()) +
                      " folders and " + std::to_string(files.size()) + " files (limits " +
                      std::to_string(opts.max_dirs) + " and " + std::to_string(opts.max_files) +
                      "); the rest of the tree is not searched");
      if (frontier.empty()) break;
    }
    dirs_read += frontier.size();
    std::vector<DirResult> results(frontier.size());
    auto body = [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        try {
          results[i] = read_dir(frontier[i], g);
        } catch (const std::exception& e) {
          // Never let one odd folder end the walk.
          results[i] = DirResult{};
          ++results[i].stats.skipped_unreadable;
          results[i].stats.warnings.push_back("error reading " + frontier[i]->abs + ": " +
                                              e.what());
        }
      }
    };
    if (frontier.size() == 1 || pool->size() == 1 || opts.threads == 1) {
      body(0, static_cast<int64_t>(frontier.size()));
    } else {
      pool->parallel_for(0, static_cast<int64_t>(frontier.size()), 1, body);
    }
    std::vector<std::shared_ptr<DirCtx>> next;
    for (auto& r : results) {
      for (auto& f : r.files) files.push_back(std::move(f));
      for (auto& p : r.pending) next.push_back(std::const_pointer_cast<DirCtx>(p));
      merge_stats(stats, std::move(r.stats));
    }
    frontier = std::move(next);
    if (stats.truncated) break;  // the levels below were cut off
  }

  std::sort(files.begin(), files.end(), [](const WalkedFile& a, const WalkedFile& b) {
    return a.rel_path != b.rel_path ? a.rel_path < b.rel_path : a.abs_path < b.abs_path;
  });
  files.erase(std::unique(files.begin(), files.end(),
                          [](const WalkedFile& a, const WalkedFile& b) {
                            return a.abs_path == b.abs_path;
                          }),
              files.end());
  stats.files = files.size();
  if (stats_out) *stats_out = std::move(stats);
  return files;
}

// ---------------------------------------------------------------------------------------------

bool ignored_below(const fs::path& root, const fs::path& path) {
  const fs::path rel = path.lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..") return false;
  WalkOptions opts;
  Globals g;
  g.opts = &opts;
  g.global_excludes = global_excludes();
  std::shared_ptr<const DirCtx> ctx = rules_ctx(ancestors_of(root, g), root.string(), g);
  fs::path cur = root;
  for (auto it = rel.begin(); it != rel.end(); ++it) {
    const std::string name = it->string();
    if (name.empty() || name == ".") continue;
    const fs::path child = cur / name;
    std::error_code ec;
    const bool is_dir = std::next(it) != rel.end() || fs::is_directory(child, ec);
    if (is_never_entered(name)) return true;
    if (ignore_match(*ctx, child.string(), is_dir, g) == Match::Ignore) return true;
    if (!is_dir) break;
    cur = child;
    ctx = rules_ctx(ctx, cur.string(), g);
  }
  return false;
}

ContentStatus read_text_file(const fs::path& p, uint64_t max_size, std::string* out) {
  // O_NONBLOCK: opening a FIFO (one put in place of a file after the walk, or named by an LSP
  // client) would wait for a writer; fstat then refuses anything but a regular file.
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (const int err = errno; is_resource_errno(err))
      throw IoError("cannot open " + p.string() + ": " + std::strerror(err) +
                    process_limit_note(err));
    return ContentStatus::Unreadable;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return ContentStatus::Unreadable;
  }
  if (max_size > 0 && static_cast<uint64_t>(st.st_size) > max_size) {
    ::close(fd);
    return ContentStatus::TooLarge;
  }
  // Read in pieces, each checked for NUL as it arrives, into a buffer sized by the first piece
  // first: a binary file is known after its first 64 KiB. A 1.5 GB file of NUL bytes under
  // --max-filesize 2G was read whole (3.2 GB resident) before being called binary.
  constexpr size_t kFirstPiece = size_t(64) << 10, kPiece = size_t(1) << 20;
  const size_t expect = static_cast<size_t>(st.st_size);
  std::string buf;
  buf.resize(std::min(expect, kFirstPiece));
  size_t got = 0;
  while (true) {
    if (got == buf.size()) {
      // The file may have grown since fstat; keep reading up to the cap.
      if (max_size > 0 && got > max_size) {
        ::close(fd);
        return ContentStatus::TooLarge;
      }
      buf.resize(got < expect ? expect : std::max<size_t>(buf.size() * 2, 4096));
    }
    const ssize_t r = ::read(fd, buf.data() + got, std::min(buf.size() - got, kPiece));
    if (r < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return ContentStatus::Unreadable;
    }
    if (r == 0) break;
    if (std::memchr(buf.data() + got, 0, static_cast<size_t>(r)) != nullptr) {
      ::close(fd);
      return ContentStatus::Binary;
    }
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  buf.resize(got);
  if (max_size > 0 && got > max_size) return ContentStatus::TooLarge;
  size_t skip = 0;
  if (buf.size() >= 3 && std::memcmp(buf.data(), "\xEF\xBB\xBF", 3) == 0) skip = 3;
  if (!text::valid_utf8(std::string_view(buf).substr(skip))) return ContentStatus::InvalidUtf8;
  if (skip) buf.erase(0, skip);
  *out = std::move(buf);
  return ContentStatus::Ok;
}

const char* content_status_name(ContentStatus s) {
  switch (s) {
    case ContentStatus::Ok:
      return "ok";
    case ContentStatus::Binary:
      return "binary";
    case ContentStatus::InvalidUtf8:
      return "invalid UTF-8";
    case ContentStatus::TooLarge:
      return "too large";
    case ContentStatus::Unreadable:
      return "unreadable";
  }
  return "unknown";
}

}  // namespace ripvec
