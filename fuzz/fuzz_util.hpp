// Helpers shared by the libFuzzer targets (fuzz/*_fuzz.cpp).
//
// A target accepts an input when the code under test either succeeds (and what it returns obeys
// the documented invariants, checked with FUZZ_CHECK) or throws one of ripvec's typed errors.
// Anything else is a finding: a sanitizer report, a crash, a hang (libFuzzer's -timeout), an
// exception of another type escaping (libFuzzer reports it as a deadly signal), or a failed
// FUZZ_CHECK.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ripvec/error.hpp"

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace ripvec::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits at NUL bytes (never valid in the JSON or text parts the targets feed on), so a
// multi-file input stays one flat byte string that mutations and dictionaries work on.
inline std::vector<std::string_view> split_nul(std::string_view s, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    size_t p = s.find('\0');
    if (p == std::string_view::npos) break;
    parts.push_back(s.substr(0, p));
    s.remove_prefix(p + 1);
  }
  parts.push_back(s);
  return parts;
}

// A private folder for targets whose API takes paths; removed at exit. Prefers /dev/shm
// (tmpfs) so that writing one input per execution stays cheap.
class TempDir {
 public:
  TempDir() {
    std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    if (const char* t = std::getenv("TMPDIR");
        t && *t && !std::filesystem::is_directory("/dev/shm"))
      base = t;
    std::string tmpl = base + "/ripvec-fuzz-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) {
    std::perror(p.c_str());
    std::abort();
  }
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) std::abort();
  if (std::fclose(f) != 0) std::abort();
}

// Fixture files of the repository (tests/data, fuzz/data).
inline std::filesystem::path source_path(const char* rel) {
  return std::filesystem::path(RIPVEC_SOURCE_DIR) / rel;
}

}  // namespace ripvec::fuzz
