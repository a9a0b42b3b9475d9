// Shared helpers for the test tiers.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace ripvec::test {

inline std::filesystem::path test_data(const std::string& rel) {
  return std::filesystem::path(RIPVEC_TEST_DATA) / rel;
}
// Third-party reference files (tokenizers, configs, reference vectors) committed under
// tests/data/assets/; its README gives each file's provenance, sha256 and licence.
inline std::filesystem::path asset(const std::string& rel) {
  return test_data("assets") / rel;
}
inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// The snapshot directory of the default model (sentence-transformers/all-MiniLM-L6-v2) in the
// HF hub cache, as scripts/install_default_model.sh leaves it; $RIPVEC_TEST_MODEL_DIR wins.
// Empty when not installed.
std::filesystem::path default_model_dir();

}  // namespace ripvec::test

// Skips a test whose real-data input is absent, except in CI, where absence is a failure
// (the CI script installs every input, so a missing one is a broken set-up, not a skip).
#define RIPVEC_REQUIRE_PATH(p)                                              \
  do {                                                                      \
    if (!std::filesystem::exists(p)) {                                      \
      if (::ripvec::test::in_ci()) FAIL() << "missing test input: " << (p); \
      GTEST_SKIP() << "missing test input: " << (p);                        \
    }                                                                       \
  } while (0)

inline std::filesystem::path ripvec::test::default_model_dir() {
  if (const char* env = std::getenv("RIPVEC_TEST_MODEL_DIR")) return env;
  std::filesystem::path cache;
  if (const char* c = std::getenv("HF_HUB_CACHE"))
    cache = c;
  else if (const char* h = std::getenv("HF_HOME"))
    cache = std::filesystem::path(h) / "hub";
  else if (const char* x = std::getenv("XDG_CACHE_HOME"))
    cache = std::filesystem::path(x) / "huggingface" / "hub";
  else if (const char* home = std::getenv("HOME"))
    cache = std::filesystem::path(home) / ".cache" / "huggingface" / "hub";
  auto repo = cache / "models--sentence-transformers--all-MiniLM-L6-v2";
  std::error_code ec;
  if (!std::filesystem::exists(repo / "refs" / "main", ec)) return {};
  std::ifstream f(repo / "refs" / "main");
  std::string rev;
  std::getline(f, rev);
  return repo / "snapshots" / rev;
}
