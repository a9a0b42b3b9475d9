#include "util/resource_errno.hpp"

#include <cerrno>

namespace ripvec {

bool is_resource_errno(int err) {
  return err == EMFILE || err == ENFILE || err == ENOMEM;
}

std::string process_limit_note(int err) {
  switch (err) {
    case EMFILE:
      return " (a limit of this process, not of the file: `ulimit -n`)";
    case ENFILE:
      return " (the system's limit of open files, not the file's)";
    case ENOMEM:
      return " (the memory of this process or the system, not the file)";
    default:
      return "";
  }
}

}  // namespace ripvec
