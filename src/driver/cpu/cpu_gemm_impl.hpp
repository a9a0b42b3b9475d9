// Internal to the CPU driver: the packed-weight GEMM micro-kernel, written once over the SIMD
// vector type V of cpu_kernels_impl.hpp and compiled in each ISA's translation unit (included
// from cpu_kernels_impl.hpp, inside its anonymous namespace).
//
// C[rows, n] (=|+=) A[rows, k] · Wᵀ + bias, then optionally GELU, where W[n, k] was repacked
// once into column panels of NR = NV * V::W outputs (pack_weight in cpu_gemm.cpp): panel p
// holds, for each kk, the NR weights W[p*NR + j][kk] contiguously (zero past n). A is read in
// place (row-major, lda): each micro-tile broadcasts MR rows of A against one panel, keeping
// the MR x NR tile of C in registers for a whole block of k. Loop order of a block
// (GemmBlock): k-block, panel, MR rows — a panel's k-block (kc x NR floats) stays in L1 while
// every MR-row tile of the block's rows passes over it, and the block's A rows (rows x kc)
// stay in L2 across panels. Bias is folded into the accumulators' initial value and GELU is
// applied to the finished tile while it is still in L1, so the output is written once.
// Also here: gemm_nt_k, the unpacked product of a few rows against B's rows in place.
#pragma once

#include <utility>

namespace ripvec::cpu {
namespace {

// One micro-tile: rows x cols (rows == MR exactly, cols <= NR) of C over kc steps of k.
// load_c: accumulate onto C's current values; bias (nullable, points at column 0 of the tile)
// is added to the initial value.
template <class V, int MR, int NV>
void gemm_micro_k(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                  int64_t cols, bool load_c, const float* bias) {
  using R = typename V::R;
  constexpr int W = V::W;
  constexpr int NR = W * NV;
  R acc[MR][NV];
  int64_t nv[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) nv[v] = std::clamp<int64_t>(cols - v * W, 0, W);
  const bool full = cols >= NR;
  {
    R init[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      init[v] = bias == nullptr ? V::zero()
                : full          ? V::load(bias + v * W)
                                : V::loadn(bias + v * W, nv[v], 0.0f);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        acc[r][v] = init[v];
        if (load_c)
          acc[r][v] = V::add(acc[r][v], full ? V::load(c + r * ldc + v * W)
                                             : V::loadn(c + r * ldc + v * W, nv[v], 0.0f));
      }
  }
  for (int64_t kk = 0; kk < kc; ++kk) {
    R bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = V::load(b + kk * NR + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const R av = V::set1(a[r * lda + kk]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = V::fmadd(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      if (full)
        V::store(c + r * ldc + v * W, acc[r][v]);
      else if (nv[v] > 0)
        V::storen(c + r * ldc + v * W, acc[r][v], nv[v]);
    }
}

using GemmMicroFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, int64_t,
                             bool, const float*);

// Micro-kernels for 1..MR rows (index = rows), so that the last tile of a block needs no
// bounds checks inside the k loop.
template <class V, int NV, int... Rows>
constexpr std::array<GemmMicroFn, sizeof...(Rows) + 1> gemm_micro_table(
    std::integer_sequence<int, Rows...>) {
  return {nullptr, &gemm_micro_k<V, Rows + 1, NV>...};
}

// VE: the vector type of the GELU epilogue (the SSE2 GEMM of the portable build keeps that
// build's one-float GELU).
template <class V, int MR, int NV, class VE = V>
void gemm_block_k(const GemmBlock& g) {
  constexpr int NR = V::W * NV;
  static constexpr auto kMicro = gemm_micro_table<V, NV>(std::make_integer_sequence<int, MR>{});
  for (int64_t k0 = 0; k0 < g.k; k0 += g.kc) {
    const int64_t kc = std::min(g.kc, g.k - k0);
    const bool first = k0 == 0, last = k0 + kc == g.k;
    for (int64_t p = g.panel0; p < g.panel1; ++p) {
      const float* bp = g.b + (p * g.k + k0) * NR;
      const int64_t col0 = p * NR, cols = std::min<int64_t>(NR, g.n - col0);
      const float* bias = first && g.bias != nullptr ? g.bias + col0 : nullptr;
      const bool load_c = !first || g.accumulate;
      for (int64_t i = 0; i < g.rows; i += MR) {
        const int64_t mr = std::min<int64_t>(MR, g.rows - i);
        float* cp = g.c + i * g.ldc + col0;
        kMicro[mr](kc, g.a + i * g.lda + k0, g.lda, bp, cp, g.ldc, cols, load_c, bias);
        if (last && g.gelu)
          for (int64_t r = 0; r < mr; ++r) gelu_k<VE>(cp + r * g.ldc, cols);
      }
    }
  }
}

// C[rows, cols] = alpha · A · Bᵀ (+ C) over rows of A and B read in place (GemmNt): tiles of
// MR rows x 4 columns, 4·MR vector accumulators summed across lanes at the end. Column tiles
// outer, so a tile's 4 rows of B (4·k floats) stay in L1 while every row tile passes over
// them. A column tail repeats its last column (computed, not stored).
template <class V, int MR>
void gemm_nt_tile_k(const GemmNt& g, int64_t i, int64_t j, int64_t nc) {
  using R = typename V::R;
  constexpr int W = V::W, NC = 4;
  const float* ar[MR];
  const float* br[NC];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) ar[r] = g.a + (i + r) * g.lda;
#pragma GCC unroll 4
  for (int c = 0; c < NC; ++c) br[c] = g.b + (j + std::min<int64_t>(c, nc - 1)) * g.ldb;
  R acc[MR][NC];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) acc[r][c] = V::zero();
  auto step = [&](int64_t kk, int64_t n) {
    R bv[NC];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c)
      bv[c] = n == W ? V::load(br[c] + kk) : V::loadn(br[c] + kk, n, 0.0f);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const R av = n == W ? V::load(ar[r] + kk) : V::loadn(ar[r] + kk, n, 0.0f);
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c) acc[r][c] = V::fmadd(av, bv[c], acc[r][c]);
    }
  };
  int64_t kk = 0;
  for (; kk + W <= g.k; kk += W) step(kk, W);
  if (kk < g.k) step(kk, g.k - kk);
  for (int r = 0; r < MR; ++r)
    for (int64_t c = 0; c < nc; ++c) {
      float* cp = g.c + (i + r) * g.ldc + j + c;
      const float s = g.alpha * V::hsum(acc[r][c]);
      *cp = g.accumulate ? *cp + s : s;
    }
}

template <class V>
void gemm_nt_k(const GemmNt& g) {
  for (int64_t j = 0; j < g.cols; j += 4) {
    const int64_t nc = std::min<int64_t>(4, g.cols - j);
    int64_t i = 0;
    for (; i + 4 <= g.rows; i += 4) gemm_nt_tile_k<V, 4>(g, i, j, nc);
    switch (g.rows - i) {
      case 3:
        gemm_nt_tile_k<V, 3>(g, i, j, nc);
        break;
      case 2:
        gemm_nt_tile_k<V, 2>(g, i, j, nc);
        break;
      case 1:
        gemm_nt_tile_k<V, 1>(g, i, j, nc);
        break;
      default:
        break;
    }
  }
}

}  // namespace
}  // namespace ripvec::cpu
