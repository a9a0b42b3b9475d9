#include "driver/cpu/cpu_kernels.hpp"

#include <cstdlib>
#include <string>

#include "driver/cpu/cpu_isa_env.hpp"
#include "ripvec/error.hpp"

namespace ripvec::cpu {

bool isa_available(Isa isa) {
  switch (isa) {
    case Isa::kAuto:
    case Isa::kScalar:
      return true;
#if defined(__x86_64__)
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
             __builtin_cpu_supports("fma");
#else
    case Isa::kAvx2:
    case Isa::kAvx512:
      return false;
#endif
  }
  return false;
}

const CpuKernels& select_kernels(Isa isa) {
  if (isa == Isa::kAuto)
    isa = env_choice("RIPVEC_CPU_ISA", Isa::kAuto,
                     {{"scalar", Isa::kScalar}, {"avx2", Isa::kAvx2}, {"avx512", Isa::kAvx512}});
  if (isa == Isa::kAuto) {
    if (isa_available(Isa::kAvx512)) return kernels_avx512();
    if (isa_available(Isa::kAvx2)) return kernels_avx2();
    return kernels_scalar();
  }
  if (!isa_available(isa))
    throw UnsupportedError(std::string("cpu driver: this CPU lacks the requested ISA ") +
                           (isa == Isa::kAvx512 ? "avx512" : "avx2"));
  switch (isa) {
    case Isa::kAvx512:
      return kernels_avx512();
    case Isa::kAvx2:
      return kernels_avx2();
    default:
      return kernels_scalar();
  }
}

}  // namespace ripvec::cpu
