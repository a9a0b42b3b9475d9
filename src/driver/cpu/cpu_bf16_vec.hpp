// Internal to the CPU driver: the two AVX512-BF16 conversions every BF16 kernel shares (the
// VDPBF16PS attention, the AMX attention, the AMX GEMM's activations), so that the order of a
// converted row and the pair layout that TDPBF16PS and VDPBF16PS read are spelled once. Internal
// linkage; each function carries the target it needs, a subset of every including kernel's, so
// it inlines into them. Needs <immintrin.h> (x86-64 only).
#pragma once

#include <immintrin.h>

namespace ripvec::cpu {
namespace {

#define RIPVEC_BF16_VEC_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

// BF16 (nearest even, VCVTNE2PS2BF16) of 32 floats in order: lo's 16, then hi's.
RIPVEC_BF16_VEC_TARGET inline __m512i bf16x32(__m512 lo, __m512 hi) {
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

// Words (bf16(lo[i]), bf16(hi[i])) for i < 16, lo in the low half: the pair layout of the dot
// products' second operand.
RIPVEC_BF16_VEC_TARGET inline __m512i bf16_pairs(__m512 lo, __m512 hi) {
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                       23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(idx, bf16x32(lo, hi));
}

#undef RIPVEC_BF16_VEC_TARGET

}  // namespace
}  // namespace ripvec::cpu
