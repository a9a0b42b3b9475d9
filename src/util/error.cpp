#include "ripvec/error.hpp"

#include <cstring>

namespace ripvec {

std::string Error::describe() const {
  // Strip the build-machine prefix so messages show repository-relative paths.
  std::string file = file_;
  for (const char* root : {"/src/", "/apps/", "/include/"}) {
    if (auto pos = file.rfind(root); pos != std::string::npos) {
      file = file.substr(pos + 1);
      break;
    }
  }
  return std::string(what()) + " (at " + file + ":" + std::to_string(line_) + ")";
}

std::string describe_system_error(const std::system_error& e) {
  if (e.code() == std::errc::resource_unavailable_try_again)
    return std::string("cannot start a thread: ") + e.what() +
           " (a limit is reached: on processes or threads, `ulimit -u` or a container's pids "
           "limit, or on memory for its stack, `ulimit -v`; fewer threads need less: "
           "--threads N)";
  return std::string("internal error: ") + e.what();
}

}  // namespace ripvec
