// Portable build of the CPU kernels: one float per "vector", std:: math functions.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "driver/cpu/cpu_kernels.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

#if defined(__SSE2__)
// Four floats of SSE2 (every x86-64 CPU has it), for the GEMM kernels only. With one float per
// "vector" the products of a CPU without AVX2 ran at 6 GFLOP/s per core once ripvec stopped
// linking OpenBLAS, whose SSE kernels reach 29 (gemm_bench, OPENBLAS_CORETYPE=Nehalem, model
// shapes at m = 256); with four, 32. Multiply-add is a multiply and an add (no FMA before AVX2).
struct V4 {
  using R = __m128;
  static constexpr int W = 4;
  static R zero() { return _mm_setzero_ps(); }
  static R set1(float x) { return _mm_set1_ps(x); }
  static R load(const float* p) { return _mm_loadu_ps(p); }
  static void store(float* p, R v) { _mm_storeu_ps(p, v); }
  static R loadn(const float* p, int64_t n, float fill) {
    alignas(16) float t[4] = {fill, fill, fill, fill};
    for (int64_t i = 0; i < n && i < 4; ++i) t[i] = p[i];
    return _mm_load_ps(t);
  }
  static void storen(float* p, R v, int64_t n) {
    alignas(16) float t[4];
    _mm_store_ps(t, v);
    for (int64_t i = 0; i < n && i < 4; ++i) p[i] = t[i];
  }
  static R add(R a, R b) { return _mm_add_ps(a, b); }
  static R fmadd(R a, R b, R c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
  static float hsum(R v) {
    const R s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
  }
};
using GemmVector = V4;
#else
using GemmVector = V1;
#endif

}  // namespace
}  // namespace ripvec::cpu

#include "driver/cpu/cpu_kernels_impl.hpp"

namespace ripvec::cpu {
const CpuKernels& kernels_scalar() {
  static const CpuKernels k = make_kernels<V1, GemmVector>("scalar");
  return k;
}
}  // namespace ripvec::cpu
