// The residual layer norm the CPU driver hands its reduced-precision products (RowNorm), as
// the driver builds it for a sub-layer: shared by the BF16 and INT8 GEMM suites.
#pragma once

#include <cstdint>
#include <vector>

#include "driver/cpu/cpu_kernels.hpp"
#include "driver/cpu/cpu_row_norm.hpp"

namespace ripvec::cpu::test {

// x = layer_norm(x + y + bias) row by row over x[rows][n] (eps 1e-12), in place.
inline RowNorm in_place_norm(const CpuKernels& kern, float* x, int64_t n,
                             const std::vector<float>& bias, const std::vector<float>& gamma,
                             const std::vector<float>& beta) {
  RowNorm norm;
  norm.sum_layer_norm = kern.sum_layer_norm;
  norm.bias = bias.data();
  norm.residual = norm.out = x;
  norm.ld_res = norm.ldo = n;
  norm.gamma = gamma.data();
  norm.beta = beta.data();
  norm.eps = 1e-12f;
  return norm;
}

// What in_place_norm leaves in x after a product y[rows][n]: x = layer_norm(x + y + bias) row
// by row, through the kernels' sum_layer_norm, on copies.
inline std::vector<float> norm_reference(const CpuKernels& kern, std::vector<float> x,
                                         std::vector<float> y, int64_t n,
                                         const std::vector<float>& bias,
                                         const std::vector<float>& gamma,
                                         const std::vector<float>& beta) {
  for (int64_t r = 0; r < static_cast<int64_t>(x.size()) / n; ++r)
    kern.sum_layer_norm(x.data() + r * n, y.data() + r * n, bias.data(), x.data() + r * n,
                        gamma.data(), beta.data(), n, 1e-12f);
  return x;
}

}  // namespace ripvec::cpu::test
