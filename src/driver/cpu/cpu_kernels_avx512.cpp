// AVX-512 build of the CPU kernels (16 floats per vector, masked tails). Every function defined
// after the target pragma is compiled for AVX-512F; all library headers are included before
// it so that no inline library code is emitted with these instructions.
// GCC 12's avx512fintrin.h trips -W(maybe-)uninitialized on its own _mm512_undefined_ps().
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "driver/batch.hpp"
#include "driver/cpu/cpu_kernels.hpp"

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")

namespace ripvec::cpu {
namespace {

#include "driver/cpu/cpu_v16.hpp"  // NOLINT(build/include): after the target pragma

}  // namespace
}  // namespace ripvec::cpu

#include "driver/cpu/cpu_kernels_impl.hpp"

namespace ripvec::cpu {
const CpuKernels& kernels_avx512() {
  static const CpuKernels k = make_kernels<V16>("avx512");
  return k;
}
}  // namespace ripvec::cpu
#pragma GCC pop_options

#else
namespace ripvec::cpu {
const CpuKernels& kernels_avx512() {
  return kernels_scalar();
}
}  // namespace ripvec::cpu
#endif
