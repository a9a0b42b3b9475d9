// Internal to the CPU driver: the residual layer norm that follows a product row by row, shared
// by the reduced-precision linear layers (BF16, INT8) so that each row is normed while it is
// still in cache instead of in a pass of its own over the whole product.
#pragma once

#include <cstdint>

#include "driver/cpu/cpu_gemm_tasks.hpp"

namespace ripvec::cpu {

// For each row r of the product y: sum_layer_norm(out + r * ldo, y + r * ldc, bias,
// residual + r * ld_res, gamma, beta, n, eps) (CpuKernels::sum_layer_norm: y's row is
// clobbered; out may be residual). Plain pointers, no ownership; thread-safe over distinct rows.
struct RowNorm {
  void (*sum_layer_norm)(float* out, float* x, const float* bias, const float* res,
                         const float* gamma, const float* beta, int64_t n, float eps) = nullptr;
  const float *bias = nullptr, *residual = nullptr, *gamma = nullptr, *beta = nullptr;
  int64_t ld_res = 0;
  float* out = nullptr;
  int64_t ldo = 0;
  float eps = 0;
  void row(float* y, int64_t ldc, int64_t r, int64_t n) const {
    sum_layer_norm(out + r * ldo, y + r * ldc, bias, residual ? residual + r * ld_res : nullptr,
                   gamma, beta, n, eps);
  }
  // Every row of y[m, n] (ldc) through row(), on the global pool (a pass after the product).
  void all_rows(float* y, int64_t ldc, int64_t m, int64_t n) const {
    auto rows = [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) row(y, ldc, r, n);
    };
    run_tasks(m, 16, m * n < 32768, rows);
  }
};

}  // namespace ripvec::cpu
