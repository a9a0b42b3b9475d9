// Typed errors for the whole project. Every throw site records file:line so that a
// user-facing message can point at the code that refused the input.
#pragma once

#include <source_location>
#include <stdexcept>
#include <string>
#include <system_error>

namespace ripvec {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what,
                 std::source_location loc = std::source_location::current())
      : std::runtime_error(what), file_(loc.file_name()), line_(loc.line()) {}
  const char* file() const noexcept { return file_; }
  unsigned line() const noexcept { return line_; }
  // "what (at src/model/safetensors.cpp:123)"
  std::string describe() const;

 private:
  const char* file_;
  unsigned line_;
};

#define RIPVEC_DECLARE_ERROR(Name)                                            \
  class Name : public Error {                                                 \
   public:                                                                    \
    explicit Name(const std::string& what,                                    \
                  std::source_location loc = std::source_location::current()) \
        : Error(what, loc) {}                                                 \
  }

// A model file (safetensors, config.json, tokenizer.json...) is malformed or inconsistent.
RIPVEC_DECLARE_ERROR(ModelFormatError);
// A file could not be opened, read, written or mapped.
RIPVEC_DECLARE_ERROR(IoError);
// The accelerator or its libraries (CUDA, cuBLAS) reported a failure.
RIPVEC_DECLARE_ERROR(DeviceError);
// A driver was asked for an operation or dtype it does not implement.
RIPVEC_DECLARE_ERROR(UnsupportedError);
// The caller passed something invalid (empty input, bad flag value, invalid UTF-8...).
RIPVEC_DECLARE_ERROR(InvalidArgument);
// A model could not be located locally and could not be downloaded.
RIPVEC_DECLARE_ERROR(ModelNotFoundError);
// The on-disk index is corrupt or from an incompatible version.
RIPVEC_DECLARE_ERROR(IndexError);
// The caller cancelled the operation (IndexOptions::cancelled, SearchOptions::cancelled,
// RepoMapOptions::cancelled); nothing it would have committed was committed.
RIPVEC_DECLARE_ERROR(CancelledError);
// Another process is updating the index and the caller chose not to wait for it
// (IndexOptions::when_busy); nothing was changed.
RIPVEC_DECLARE_ERROR(IndexBusyError);

#undef RIPVEC_DECLARE_ERROR

// A message for a std::system_error that reached a front end: for a thread that could not be
// started (std::thread's EAGAIN), "cannot start a thread: ..." with the limits that cause it (a
// cap on processes or threads, or on memory for its stack); for anything else, "internal error:
// " and what(). Shared by the CLI and the servers (an MCP client saw a bare "Resource
// temporarily unavailable"; hostile probe 2026-12-07). Thread-safe.
std::string describe_system_error(const std::system_error& e);

}  // namespace ripvec
