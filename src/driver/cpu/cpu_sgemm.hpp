// Internal to the CPU driver: the general FP32 GEMM (any transposes, alpha, beta, a batch at
// element strides) without a BLAS library, on the kernels of the build in use. Used for the
// products whose B is not a packed weight: a query's first product with each weight, the
// Driver concept's gemm() and gemm_strided_batched() on activations, and every product under
// RIPVEC_CPU_GEMM=unpacked.
//
// Why no BLAS: OpenBLAS (linked until 2026-12-07) started a worker thread when the library
// loaded, before main. Under RLIMIT_NPROC too low for it every command, --version included,
// exited 130 (SIGINT); under an address-space limit its buffer allocation retried forever, so a
// search's query product hung. The packed kernel already ran every product of the model's
// forward pass; this file gives the rest the same kernels.
#pragma once

#include <cstdint>

#include "driver/cpu/cpu_kernels.hpp"
#include "driver/driver.hpp"

namespace ripvec::cpu {

// Products of fewer rows than this against a row-major Bᵀ are dot products over B in place
// (CpuKernels::gemm_nt): packing B would cost as much as the product (a query of 10 tokens
// against a 1536 x 384 weight). From this many rows on, op(B) is packed per product.
inline constexpr int64_t kGemmNtMaxRows = 64;

// For i in [0, batch): C_i[m, n] = alpha · op(A_i) · op(B_i) + beta · C_i, where X_i starts at
// x + i * s_x and op() transposes when g.trans_a / g.trans_b (row-major, leading dimensions
// g.lda / g.ldb / g.ldc). beta == 0 overwrites C (a NaN there does not survive); alpha == 0 or
// k == 0 leaves beta · C, as BLAS does. alpha scales B's values where B is packed and the sums
// where it is not (fewer rows): the two differ in rounding, and near the float range's end
// (a product that overflows before alpha halves it). Operands are checked by the caller
// (CpuDriver's check_gemm: sizes, non-negative strides, no C overlapping another product's C,
// A or B). Runs on the global ThreadPool (serially when called from inside it).
// Allocates its packing buffers per call (never on the model's hot path, whose weights are
// packed once). Thread-safe for distinct C.
void sgemm(const CpuKernels& kern, const GemmDesc& g, int64_t batch, int64_t sa, int64_t sb,
           int64_t sc, const float* a, const float* b, float* c);

}  // namespace ripvec::cpu
