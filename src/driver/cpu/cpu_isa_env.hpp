// Internal to the CPU driver: the environment overrides of its kernel choices
// ($RIPVEC_CPU_ISA, $RIPVEC_CPU_INT8, $RIPVEC_CPU_BF16), read one way.
#pragma once

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "ripvec/error.hpp"

namespace ripvec::cpu {

// The choice $var names among `names`, or `fallback` when it is unset, empty or "auto". Any other
// value throws InvalidArgument listing the accepted ones ("expected a, b, c or auto").
template <class E>
E env_choice(const char* var, E fallback,
             std::initializer_list<std::pair<std::string_view, E>> names) {
  const char* env = std::getenv(var);
  if (env == nullptr) return fallback;
  const std::string_view s = env;
  if (s.empty() || s == "auto") return fallback;
  std::string accepted;
  for (const auto& [name, value] : names) {
    if (s == name) return value;
    accepted += std::string(name) + ", ";
  }
  throw InvalidArgument(std::string(var) + ": unknown value '" + std::string(s) + "' (expected " +
                        accepted.substr(0, accepted.size() - 2) + " or auto)");
}

}  // namespace ripvec::cpu
