// Shared by gemm_bench and lib_gemm_bench: the linear layers the engine issues, y[m, n] = x[m, k]
// · W[n, k]ᵀ, of MiniLM / bge-small (H 384, FFN 1536) and bge-base (768, 3072), their random
// operands, the timing rule and the --m list parser.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "driver/driver.hpp"

namespace ripvec::bench {

struct GemmShape {
  const char* what;
  int n, k;
};

inline constexpr GemmShape kGemmShapes[] = {
    {"qkv 384", 1152, 384}, {"out 384", 384, 384}, {"up 384", 1536, 384}, {"down 384", 384, 1536},
    {"qkv 768", 2304, 768}, {"out 768", 768, 768}, {"up 768", 3072, 768}, {"down 768", 768, 3072},
};

// One product's operands, uniform in [-1, 1) (x first, then W, from rng), and its output.
struct GemmCase {
  int m, n, k;
  std::vector<float> x, w, y;  // x [m, k], W [n, k], y [m, n]
  GemmCase(const GemmShape& s, int rows, std::mt19937& rng)
      : m(rows),
        n(s.n),
        k(s.k),
        x(size_t(rows) * s.k),
        w(size_t(s.n) * s.k),
        y(size_t(rows) * s.n) {
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (auto& v : x) v = dist(rng);
    for (auto& v : w) v = dist(rng);
  }
  // W as a host tensor, for a driver's load_weight().
  HostTensorRef weight() const {
    HostTensorRef h;
    h.data = w.data();
    h.dtype = DType::F32;
    h.shape = {n, k, 0, 0};
    h.rank = 2;
    return h;
  }
};

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The fastest of reps timed calls of f after one untimed call (thread start, page faults,
// weight packing), in seconds.
inline double best_of(int reps, const std::function<void()>& f) {
  f();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now_s();
    f();
    best = std::min(best, now_s() - t0);
  }
  return best;
}

// "256,1024" -> {256, 1024}
inline std::vector<int> parse_int_list(const std::string& s) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t e = s.find(',', pos);
    out.push_back(std::atoi(s.substr(pos, e - pos).c_str()));
    if (e == std::string::npos) break;
    pos = e + 1;
  }
  return out;
}

}  // namespace ripvec::bench
