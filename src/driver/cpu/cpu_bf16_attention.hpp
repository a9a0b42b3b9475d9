// Internal to the CPU driver: the attention of Precision::BF16 on AMX tiles.
//
// The function is the FP32 kernel's with AttnArgs::bf16 (cpu_kernels.hpp): q * scale * log2(e),
// k and v rounded to BF16, scores in blocks of kAttnKBlock keys with the online softmax, each
// probability rounded to BF16 before it multiplies v, FP32 sums. Here the two products of a
// block run on AMX-BF16 tiles (TDPBF16PS): scores = Q·Kᵀ for 32 queries x 32 keys at a time,
// and P·V for 32 queries x 32 dimensions; the softmax step between them is the kernel table's
// attn_softmax_rows (AVX-512 on the CPUs that have AMX). So this kernel and the FP32 kernel with
// AttnArgs::bf16 (the emulation, any CPU) differ only in the order of their FP32 sums.
#pragma once

#include <cstddef>
#include <cstdint>

#include "driver/cpu/cpu_kernels.hpp"

namespace ripvec::cpu {

// Bytes of workspace attention_amx needs for one task of at most `rows` query rows of a
// sequence of at most max_len tokens (64-byte aligned by the caller).
size_t attention_amx_bytes(int64_t max_len, int64_t rows, int half_window, int head_dim);

// Rows [a.q_begin, a.q_end) of one (sequence, head), as attention_k with a.bf16 computes them
// (a.work and a.kv are not used); ws: attention_amx_bytes(...) bytes, 64-byte aligned, owned by
// the calling thread. Needs amx_bf16_available() (cpu_bf16_gemm.hpp); kern is the AVX-512
// kernel table (its attn_softmax_rows).
void attention_amx(const AttnArgs& a, const CpuKernels& kern, void* ws);

}  // namespace ripvec::cpu
