#include "util/file_read.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "ripvec/error.hpp"

namespace ripvec {

std::string read_small_file(const std::filesystem::path& path, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw IoError("cannot open " + path.string() + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw IoError("cannot read " + path.string() + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw IoError(path.string() + " is not a regular file (a FIFO, a device or a folder)");
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    throw IoError(path.string() + " is too large (" + std::to_string(size) + " bytes; at most " +
                  std::to_string(max_bytes) + ")");
  // Exactly the size fstat gave: a file that grows meanwhile is read as it was.
  std::string out(static_cast<size_t>(size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw IoError("cannot read " + path.string() + ": " + std::strerror(errno));
    if (n == 0) break;  // shrank meanwhile
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
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
