// describe_system_error (include/ripvec/error.hpp): the message the CLI and the MCP server give
// for a std::system_error. A thread that could not start names the limits behind it (an MCP
// client saw a bare "Resource temporarily unavailable"; hostile probe 2026-12-07); anything else
// is an internal error with its text.
#include <gtest/gtest.h>

#include <system_error>

#include "ripvec/error.hpp"

namespace ripvec {
namespace {

TEST(UtilError, ThreadThatCannotStartNamesItsLimits) {
  const std::system_error again(std::make_error_code(std::errc::resource_unavailable_try_again),
                                "pthread_create");
  const std::string m = describe_system_error(again);
  EXPECT_EQ(m.rfind("cannot start a thread: pthread_create", 0), 0u) << m;
  EXPECT_NE(m.find("ulimit -u"), std::string::npos) << m;
  EXPECT_NE(m.find("ulimit -v"), std::string::npos) << m;
  const std::system_error other(std::make_error_code(std::errc::invalid_argument), "mutex");
  EXPECT_EQ(describe_system_error(other).rfind("internal error: mutex", 0), 0u)
      << describe_system_error(other);
}

}  // namespace
}  // namespace ripvec
