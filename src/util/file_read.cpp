#include "util/file_read.hpp"
#include "util/resource_errno.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

#include "ripvec/error.hpp"

namespace ripvec {

SmallFileError try_read_small_file(const std::filesystem::path& path, uint64_t max_bytes,
                                   std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return {errno, true, 0};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {errno, false, 0};
  if (!S_ISREG(st.st_mode)) return {EINVAL, false, 0};
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) return {EFBIG, false, size};
  // Exactly the size fstat gave: a file that grows meanwhile is read as it was.
  std::string text(static_cast<size_t>(size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {errno, false, 0};
    if (n == 0) break;  // shrank meanwhile
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  *out = std::move(text);
  return {};
}

std::string read_small_file(const std::filesystem::path& path, uint64_t max_bytes) {
  std::string out;
  const SmallFileError e = try_read_small_file(path, max_bytes, &out);
  if (e.err == 0) return out;
  if (e.err == EINVAL)
    throw IoError(path.string() + " is not a regular file (a FIFO, a device or a folder)");
  if (e.err == EFBIG)
    throw IoError(path.string() + " is too large (" + std::to_string(e.size) + " bytes; at most " +
                  std::to_string(max_bytes) + ")");
  throw IoError((e.at_open ? "cannot open " : "cannot read ") + path.string() + ": " +
                std::strerror(e.err) + process_limit_note(e.err));
}

std::string read_first_line(const std::filesystem::path& path) {
  std::string s;
  try {
    s = read_small_file(path, 4096);
  } catch (const Error&) {
    return {};
  }
  s.resize(std::min(s.find('\n'), s.size()));
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

}  // namespace ripvec
