// Bounded, non-blocking reads of the small files ripvec takes from directories it does not
// control (a model directory, the Hugging Face cache: config.json, the sentence-transformers
// files, tokenizer.json, refs/main; a searched tree: .gitignore, .ignore, git's own files).
//
// A FIFO in their place blocked open() forever, and a symlink to /dev/zero was read until memory
// ran out (4.6 GB in 20 s for modules.json). The index's own files have their own reader
// (src/index/store.hpp, read_file: never through a symlink); these follow symlinks, since the
// Hugging Face cache links every file to a blob.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace ripvec {

// What try_read_small_file could not do: err is 0 (read), an errno of open/fstat/read, EINVAL
// (not a regular file) or EFBIG (larger than the bound; size is then the file's size).
struct SmallFileError {
  int err = 0;
  bool at_open = false;  // the failure was open()'s
  uint64_t size = 0;
};

// read_small_file without exceptions, for callers to whom a missing or refused file is routine
// (the walk's ignore files): the content goes to *out only when err is 0.
SmallFileError try_read_small_file(const std::filesystem::path& path, uint64_t max_bytes,
                                   std::string* out);

// The whole content of `path`, a regular file (after following symlinks) of at most `max_bytes`.
// Opened with O_NONBLOCK, so a FIFO never waits for a writer. Throws IoError naming the path when
// it cannot be opened or read, is not a regular file (a FIFO, a device, a directory) or is larger
// than `max_bytes`. Thread-safe.
std::string read_small_file(const std::filesystem::path& path, uint64_t max_bytes);

// The first line of `path` without trailing white space (a Hugging Face refs/main: a commit
// hash), or "" when read_small_file refuses it (at most 4 KiB) or cannot read it.
std::string read_first_line(const std::filesystem::path& path);

}  // namespace ripvec
