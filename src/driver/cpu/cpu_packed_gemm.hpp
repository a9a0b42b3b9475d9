// Internal to the CPU driver: y = x · Wᵀ (+ bias) (then GELU) with W repacked once, at first
// use, into the register-tile panels of the kernel build in use (cpu_gemm_impl.hpp), and the
// product cut into (row block, panel group) tasks on ripvec's ThreadPool. Nothing is packed
// per call: x is read in place and the weight panels are shared by every call and thread.
#pragma once

#include <cstdint>
#include <memory>

#include "driver/cpu/cpu_kernels.hpp"

namespace ripvec::cpu {

// How the CPU driver runs products whose B operand is a loaded weight.
//  * kPacked: the packed-weight kernel above, the weight packed once (every kernel build).
//  * kUnpacked: the weight multiplied as stored, through cpu::sgemm (cpu_sgemm.hpp), as
//    products of two activations always are; for tests and benchmarks.
//  * kAuto: kPacked; $RIPVEC_CPU_GEMM=packed|unpacked overrides.
enum class GemmPath { kAuto, kPacked, kUnpacked };

// 64-byte aligned floats from CacheAlignedAllocator (util/aligned_vector.hpp), not value-
// initialised: pack_weight writes every one.
struct FreeFloats {
  void operator()(float* p) const;
};
using PackedFloats = std::unique_ptr<float, FreeFloats>;

// W[n, k] (row-major, ld = k) -> ceil(n / nr) panels of k * nr floats, 64-byte aligned.
PackedFloats pack_weight(const float* w, int64_t n, int64_t k, int nr);

// The same layout into dst (ceil(n / nr) * k * nr floats), from b as W[n, k] with leading
// dimension ldb when nk, else as its transpose [k, n] (a GEMM's B without trans_b), every
// value times alpha; columns past n are zero.
void pack_panels(const float* b, int64_t ldb, bool nk, int64_t n, int64_t k, int nr, float alpha,
                 float* dst);

// c[m, n] (ldc) = (accumulate ? c : 0) + a[m, k] (lda) · Wᵀ + bias (nullable), then GELU
// when gelu. packed comes from pack_weight(w, n, k, kern.gemm_nr). Runs on the global pool.
void packed_gemm(const CpuKernels& kern, const float* packed, int64_t n, int64_t k, const float* a,
                 int64_t lda, float* c, int64_t ldc, int64_t m, const float* bias, bool accumulate,
                 bool gelu);

}  // namespace ripvec::cpu
