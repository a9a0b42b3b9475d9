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

}  // namespace ripvec
