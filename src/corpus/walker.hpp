// File discovery for indexing: walks directory trees the way ripgrep does (gitignore rules,
// hidden files, type filters, globs) and reads files as UTF-8 text.
#pragma once

#include "util/resource_errno.hpp"  // is_resource_errno, process_limit_note

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ripvec/corpus.hpp"

namespace ripvec {

struct WalkOptions {
  std::vector<std::string> types;     // -t/--type names (e.g. "py", "rust", "cpp"); empty = all
  std::vector<std::string> type_not;  // -T
  std::vector<std::string> globs;     // -g/--glob, ripgrep semantics ("!pat" excludes)
  bool hidden = false;                // include hidden files/dirs
  bool no_ignore = false;             // ignore .gitignore/.ignore/excludes
  bool follow_symlinks = false;
  // Stay on the file system of each root: neither symlinks (with follow_symlinks) nor mount
  // points lead to another one (ripgrep's --one-file-system). Without it, pseudo file systems
  // (/proc, /sys, /dev and the kernel's other virtual ones) are still never entered from a root
  // outside them, by a mount point or by a followed link.
  bool one_file_system = false;
  // Memory bound: the walk stops (with a warning, WalkStats::truncated) after this many folders
  // or files.
  size_t max_dirs = 1'000'000;
  size_t max_files = 5'000'000;
  uint64_t max_file_size = 2 * 1024 * 1024;  // bytes; larger files skipped with a warning
  // Appended to that warning: what the size limit is (the index's, a search's).
  std::string size_limit_name = "size limit";
  unsigned threads = 0;  // 0 = all cores
  // Folders never entered nor mentioned, relative to the walk's root ('/' separators, no
  // trailing slash): an index's own folders inside the tree it indexes.
  std::vector<std::string> prune;
};

struct WalkedFile {
  std::filesystem::path abs_path;
  std::string rel_path;  // relative to its root, '/' separators
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  // With size and mtime, what tells an index that a file may have changed (as git's stat check):
  // extracting an archive, `cp -p` or `rsync -a` can give a new content the old size and mtime,
  // never the old inode change time.
  int64_t ctime_ns = 0;
  uint64_t ino = 0;
};

// "Racily clean" (git's term): a file written again within the file system's timestamp tick
// after it was read keeps its size and times, so a stat taken by a walk is not trusted as the
// record of what was read when the file's mtime lies from 2 s before the walk began to 2 s after
// it ended (the index and the repo graph keep such files with a stamp no stat matches, so the
// next update reads them again). An mtime more than a day beyond that (a machine with a wrong
// clock, `touch -d 2100`) is not racy: a later write sets it to now, which differs; taken as
// racy, such a file was read again by every update forever (hostile probe 2026-12-05). Make one
// before the walk, call walk_ended() after it.
class RacyWindow {
 public:
  RacyWindow();
  void walk_ended();
  bool racy(const WalkedFile& f) const { return f.mtime_ns >= from_ && f.mtime_ns <= to_; }

 private:
  int64_t from_, to_;
};

// A warning about one entry the walk skipped. `about` is the reason and the entry's path, the
// same on every walk that skips that entry for that reason (the index remembers it, to tell a
// file skipped for the first time from one skipped again); `text` is also in WalkStats::warnings.
struct EntryWarning {
  std::string about;
  std::string text;
};

struct WalkStats {
  size_t files = 0, dirs = 0, ignored = 0, skipped_hidden = 0, skipped_lock = 0,
         skipped_too_large = 0, skipped_unreadable = 0, skipped_symlink_loop = 0;
  size_t skipped_other_fs = 0;  // pseudo file systems, and other ones under one_file_system
  bool truncated = false;       // max_dirs or max_files was reached: the list is incomplete
  // The first failure that was the process's, not an entry's: too many open files (EMFILE,
  // ENFILE) or no memory (ENOMEM) when opening, listing or checking an entry or reading an
  // ignore file. The list is then incomplete (entries, or ignore rules, were missed) and must
  // not be taken as the tree: an index update fails instead of removing what it missed (under
  // `ulimit -n 5` whole folders were dropped from a good index and a .gitignore'd secret was
  // indexed; hostile probe 2026-12-07). Empty when none.
  std::string resource_error;
  size_t filtered = 0;                // files left out by -t/-T/-g (not counted in `ignored`)
  std::vector<std::string> warnings;  // human-readable, one per problem
  // The warnings (also in `warnings`) about one entry the walk skipped — unreadable, too large,
  // a broken symlink, a symlink loop, a special file — which every walk of an unchanged tree
  // meets again; the rest are about the walk itself (a folder it could not list, its limits).
  std::vector<EntryWarning> entry_warnings;
};

// Walks roots (dirs or files) respecting .gitignore (incl. nested ones and negations),
// .ignore, .git/info/exclude, core.excludesFile / $XDG_CONFIG_HOME/git/ignore; skips hidden
// entries and lock files (Cargo.lock, package-lock.json, yarn.lock, poetry.lock, ...) by default;
// never follows symlink loops nor enters pseudo file systems (see one_file_system); files that
// vanish/are unreadable become warnings. Sorted by
// rel_path. A root given as a file is returned whatever the ignore rules, hidden/lock checks, types
// and globs say (like ripgrep, an explicitly named file is always searched); only the size cap and
// readability apply; its rel_path is its file name. ".git" and ".ripvec" folders are never
// entered, even with hidden = true. Symlinks are skipped unless follow_symlinks (roots given as
// symlinks are always followed). Non-regular files (FIFOs, sockets, devices) are skipped.
// Order of checks for an entry below a root: -g globs (a "!glob" match excludes, a glob match
// includes and skips the remaining checks), hidden, ignore files, then for files: lock files,
// "some -g glob must match", -t/-T types, readability, size cap.
// stats may be null. Throws InvalidArgument for an unknown type name in types/type_not.
std::vector<WalkedFile> walk(const std::vector<std::filesystem::path>& roots,
                             const WalkOptions& opts, WalkStats* stats);

// ignored_below (whether a walk of a root leaves a path out): public, ripvec/corpus.hpp.

// Why `path` lies on a pseudo file system: its name ("proc", "sysfs", "/dev", ...), or nullptr
// when it does not. Such paths are never walked, searched or indexed, named or reached.
const char* pseudo_fs_name(const std::string& path);

enum class ContentStatus { Ok, Binary, InvalidUtf8, TooLarge, Unreadable };

// Reads a file as UTF-8 text: Binary if it has a NUL byte in the first 8 KiB (or anywhere),
// InvalidUtf8 if not valid UTF-8 (a UTF-8 BOM is stripped). out untouched unless Ok. Throws
// IoError naming the file when the process, not the file, is at fault (too many open files, no
// memory: is_resource_errno), so that the file is never taken for unreadable.
ContentStatus read_text_file(const std::filesystem::path& p, uint64_t max_size, std::string* out);
const char* content_status_name(ContentStatus s);

// The -t/--type table (FileType, file_types()) is public: ripvec/corpus.hpp.

}  // namespace ripvec
