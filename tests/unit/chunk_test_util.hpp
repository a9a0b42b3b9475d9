// Helpers for the chunk_* tests: scratch directory trees and running git.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace ripvec::test {

// A fresh directory under $TMPDIR, removed (with everything in it) on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ripvec_chunk_XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    if (p) path_ = p;
  }
  ~ScratchDir() {
    std::error_code ec;
    // Restore permissions a test may have removed, so that cleanup works when not root.
    for (auto it = std::filesystem::recursive_directory_iterator(
             path_, std::filesystem::directory_options::skip_permission_denied, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      ::chmod(it->path().c_str(), 0755);
    }
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

  // Writes a file (creating parent folders) with the given bytes.
  std::filesystem::path write(const std::string& rel, const std::string& content = "x\n") const {
    auto p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary);
    f << content;
    return p;
  }
  std::filesystem::path mkdir(const std::string& rel) const {
    auto p = path_ / rel;
    std::filesystem::create_directories(p);
    return p;
  }

 private:
  std::filesystem::path path_;
};

inline bool have_git() {
  return std::system("git --version >/dev/null 2>&1") == 0;
}

// Runs a shell command, returning its stdout ("" and ok=false on failure).
inline std::string run_capture(const std::string& cmd, bool* ok) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) {
    *ok = false;
    return out;
  }
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
  *ok = ::pclose(f) == 0;
  return out;
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q.push_back(c);
  }
  return q + "'";
}

}  // namespace ripvec::test
