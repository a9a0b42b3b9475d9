// GCC 12's avx512fintrin.h trips -W(maybe-)uninitialized on its own _mm512_undefined_ps().
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "driver/cpu/cpu_bf16_attention.hpp"

#include "ripvec/error.hpp"

#if defined(__x86_64__)
#include "driver/cpu/cpu_bf16_attn_amx_impl.hpp"
#endif

namespace ripvec::cpu {

size_t attention_amx_bytes(int64_t max_len, int64_t rows, int half_window, int head_dim) {
#if defined(__x86_64__)
  return amx_attn_layout(amx_attn_keys(max_len, half_window), rows, head_dim).bytes;
#else
  (void)max_len, (void)rows, (void)half_window, (void)head_dim;
  return 0;
#endif
}

void attention_amx(const AttnArgs& a, const CpuKernels& kern, void* ws) {
#if defined(__x86_64__)
  attention_amx_k(a, kern, ws);
#else
  (void)a, (void)kern, (void)ws;
  throw UnsupportedError("cpu driver: AMX-BF16 needs an x86-64 build");
#endif
}

}  // namespace ripvec::cpu
