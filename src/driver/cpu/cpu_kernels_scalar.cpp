// Portable build of the CPU kernels: one float per "vector", std:: math functions.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "driver/cpu/cpu_kernels.hpp"

namespace ripvec::cpu {
namespace {

struct V1 {
  using R = float;
  static constexpr int W = 1;
  static constexpr bool kScalar = true;
  static constexpr int kJB = 1, kCB = 1;
  static R zero() { return 0.0f; }
  static R set1(float x) { return x; }
  static R load(const float* p) { return *p; }
  static void store(float* p, R v) { *p = v; }
  static R loadn(const float* p, int64_t n, float fill) { return n > 0 ? *p : fill; }
  static void storen(float* p, R v, int64_t n) {
    if (n > 0) *p = v;
  }
  static R add(R a, R b) { return a + b; }
  static R sub(R a, R b) { return a - b; }
  static R mul(R a, R b) { return a * b; }
  static R div(R a, R b) { return a / b; }
  static R fmadd(R a, R b, R c) { return a * b + c; }
  static R fnmadd(R a, R b, R c) { return c - a * b; }
  static R max(R a, R b) { return std::max(a, b); }
  static R min(R a, R b) { return std::min(a, b); }
  static R abs(R a) { return std::fabs(a); }
  static float hsum(R v) { return v; }
  static float hmax(R v) { return v; }
  static R round(R v) { return std::nearbyint(v); }
  static R pow2n(R n) { return std::ldexp(1.0f, static_cast<int>(n)); }
  static R blend_lt(R a, R b, R x, R y) { return a < b ? x : y; }
  static R blend_gt(R a, R b, R x, R y) { return a > b ? x : y; }
  static R iota() { return 0.0f; }
};

}  // namespace
}  // namespace ripvec::cpu

#include "driver/cpu/cpu_kernels_impl.hpp"

namespace ripvec::cpu {
const CpuKernels& kernels_scalar() {
  static const CpuKernels k = make_kernels<V1>("scalar");
  return k;
}
}  // namespace ripvec::cpu
