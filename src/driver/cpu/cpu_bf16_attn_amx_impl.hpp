// Internal to cpu_bf16_attention.cpp: the AMX-BF16 attention kernel (cpu_bf16_attention.hpp), in
// a header of its own so that tests/driver/bf16_amx_sim_test.cpp can compile the same code
// against its emulation of the tile instructions and check the layouts and the block bookkeeping
// on any CPU with AVX512-BF16. Internal linkage, like cpu_bf16_amx_impl.hpp (whose tile
// configuration and row conversion it shares).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "driver/batch.hpp"
#include "driver/cpu/cpu_bf16_amx_impl.hpp"
#include "driver/cpu/cpu_kernels.hpp"

namespace ripvec::cpu {
namespace {

constexpr int64_t kAttnTile = 16;  // rows / keys / dimensions of one tile

inline int64_t round_up(int64_t x, int64_t m) {
  return (x + m - 1) / m * m;
}

// Where the pieces of one task live in its workspace (byte offsets, each 64-byte aligned). The
// products run transposed, as the FP32 kernel keeps its blocks ([key][query], [dim][query]), so
// that the softmax step between them is the FP32 kernel's own (vectors over queries):
//  kr: keys as A of Sᵀ = K·Qᵀ: bf16 rows of hdp values (zeros beyond hd and the keys);
//  vt: values as A of Oᵀ = Vᵀ·P: bf16 rows of nkp keys per dimension;
//  qp: queries as B of Sᵀ: per query block, step of 32 dimensions and tile of 16 queries, a
//      16 x 16 pair tile [kk][n][e] = bf16(q[16 u + n][32 s + 2 kk + e] * scale * log2(e));
//  st: one block's scores / probabilities, kAttnKBlock keys x 32 queries (FP32);
//  pp: the probabilities as B of Oᵀ: per step of 32 keys and tile of 16 queries, [kk][n][e];
//  acc / ob: Oᵀ and one block's Vᵀ·P, hdp x 32 FP32; m, l, corr: 32 each.
struct AmxAttnLayout {
  int64_t hdp = 0, steps = 0, nkp = 0;
  size_t kr = 0, vt = 0, qp = 0, st = 0, pp = 0, acc = 0, ob = 0, m = 0, l = 0, corr = 0, bytes = 0;
};

AmxAttnLayout amx_attn_layout(int64_t keys, int64_t rows, int64_t head_dim) {
  AmxAttnLayout L;
  L.hdp = round_up(head_dim, 32);
  L.steps = L.hdp / 32;
  L.nkp = round_up(std::max<int64_t>(keys, 1), kAttnKBlock);
  const auto nkp = static_cast<size_t>(L.nkp), hdp = static_cast<size_t>(L.hdp);
  size_t at = 0;
  auto take = [&](size_t bytes) {
    const size_t off = at;
    at = static_cast<size_t>(round_up(static_cast<int64_t>(at + bytes), 64));
    return off;
  };
  L.kr = take(nkp * hdp * 2);
  L.vt = take(nkp * hdp * 2);
  L.qp = take(static_cast<size_t>(round_up(std::max<int64_t>(rows, 1), 32)) * hdp * 2);
  L.st = take(kAttnKBlock * 32 * 4);
  L.pp = take(kAttnKBlock * 32 * 2);
  L.acc = take(hdp * 32 * 4);
  L.ob = take(hdp * 32 * 4);
  L.m = take(32 * 4);
  L.l = take(32 * 4);
  L.corr = take(32 * 4);
  L.bytes = at;
  return L;
}

// Keys one task packs at a time: the whole sequence for global attention, one query block's
// window for local attention (its first key is not aligned to the tiles of another block's).
int64_t amx_attn_keys(int64_t len, int half_window) {
  return half_window >= 0 ? std::min<int64_t>(len, kAttnQBlock + 2 * int64_t{half_window}) : len;
}

// Two rows of 32 BF16 values interleaved element by element, as one row of each of two 16-column
// pair tiles: out[2 i + e] = (e ? b : a)[i] for i < 16, then the same for i in 16..31.
RIPVEC_AMX_TARGET inline void interleave_pairs(const uint16_t* a, const uint16_t* b, uint16_t* t0,
                                               uint16_t* t1) {
  const __m512i lo = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8,
                                      39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
  const __m512i hi = _mm512_add_epi16(lo, _mm512_set1_epi16(16));
  const __m512i x0 = _mm512_loadu_si512(a), x1 = _mm512_loadu_si512(b);
  _mm512_storeu_si512(t0, _mm512_permutex2var_epi16(x0, lo, x1));
  _mm512_storeu_si512(t1, _mm512_permutex2var_epi16(x0, hi, x1));
}

// Keys [k0, k1) of the sequence into kr and vt, zeros up to nkp keys.
RIPVEC_AMX_TARGET void pack_keys_amx(const AttnArgs& a, const AmxAttnLayout& L, int64_t k0,
                                     int64_t k1, uint16_t* kr, uint16_t* vt) {
  const int64_t hd = a.head_dim, hdp = L.hdp, nk = k1 - k0, nkp = L.nkp;
  alignas(64) uint16_t row[kAttnMaxHeadDim];
  for (int64_t j = 0; j < nkp; ++j) {
    if (j < nk) {
      convert_row_amx(a.k + (k0 + j) * a.ld, hd, hdp, kr + j * hdp);
      convert_row_amx(a.v + (k0 + j) * a.ld, hd, hdp, row);
    } else {
      std::memset(kr + j * hdp, 0, static_cast<size_t>(hdp) * 2);
      std::memset(row, 0, static_cast<size_t>(hdp) * 2);
    }
    for (int64_t c = 0; c < hdp; ++c) vt[c * nkp + j] = row[c];
  }
}

// AttnArgs rows [q_begin, q_end) of one (sequence, head); see cpu_bf16_attention.hpp.
RIPVEC_AMX_TARGET void attention_amx_k(const AttnArgs& a, const CpuKernels& kern, void* ws) {
  constexpr int64_t Qb = kAttnQBlock;
  static_assert(Qb == 32, "two 16-query tiles per query block");
  const int64_t hd = a.head_dim, nrows = a.q_end - a.q_begin;
  if (nrows <= 0) return;
  const AmxAttnLayout L = amx_attn_layout(amx_attn_keys(a.len, a.half_window), nrows, hd);
  const int64_t hdp = L.hdp, nkp = L.nkp;
  auto* base = static_cast<char*>(ws);
  auto* kr = reinterpret_cast<uint16_t*>(base + L.kr);
  auto* vt = reinterpret_cast<uint16_t*>(base + L.vt);
  auto* qp = reinterpret_cast<uint16_t*>(base + L.qp);
  auto* st = reinterpret_cast<float*>(base + L.st);
  auto* pp = reinterpret_cast<uint16_t*>(base + L.pp);
  auto* acc = reinterpret_cast<float*>(base + L.acc);
  auto* ob = reinterpret_cast<float*>(base + L.ob);
  auto* m = reinterpret_cast<float*>(base + L.m);
  auto* l = reinterpret_cast<float*>(base + L.l);
  auto* corr = reinterpret_cast<float*>(base + L.corr);

  // The query rows times scale · log2(e) (scores in log2 units), to BF16, in the pair layout.
  const float qscale = a.scale * 1.44269504088896341f;
  alignas(64) float row[kAttnMaxHeadDim];
  alignas(64) uint16_t rb[kAttnMaxHeadDim];
  const int64_t qrows = round_up(nrows, Qb);
  for (int64_t r = 0; r < qrows; ++r) {
    if (r < nrows) {
      const float* src = a.q + (a.q_begin + r) * a.ld;
      for (int64_t c = 0; c < hd; ++c) row[c] = src[c] * qscale;
      convert_row_amx(row, hd, hdp, rb);
    } else {
      std::memset(rb, 0, static_cast<size_t>(hdp) * 2);
    }
    uint16_t* dst = qp + (r / Qb) * L.steps * 2 * 512 + ((r % Qb) / 16) * 512 + (r % 16) * 2;
    for (int64_t s = 0; s < L.steps; ++s)
      for (int64_t kk = 0; kk < 16; ++kk)
        std::memcpy(dst + s * 1024 + kk * 32, rb + s * 32 + 2 * kk, 4);
  }
  const bool local = a.half_window >= 0;
  if (!local) pack_keys_amx(a, L, 0, a.len, kr, vt);

  _tile_loadconfig(&tile_config());
  for (int64_t q0 = a.q_begin; q0 < a.q_end; q0 += Qb) {
    const int64_t q1 = std::min(a.q_end, q0 + Qb), nq = q1 - q0;
    int64_t k_begin = 0, k_end = a.len;
    if (local) {
      k_begin = std::max<int64_t>(0, q0 - a.half_window);
      k_end = std::min<int64_t>(a.len, q1 + a.half_window);
      pack_keys_amx(a, L, k_begin, k_end, kr, vt);
    }
    const int64_t origin = local ? k_begin : 0;
    const uint16_t* qblk = qp + ((q0 - a.q_begin) / Qb) * L.steps * 2 * 512;
    for (int64_t r = 0; r < Qb; ++r) {
      m[r] = kMaskedScore;
      l[r] = 0.0f;
    }
    std::memset(acc, 0, static_cast<size_t>(hdp * Qb) * sizeof(float));
    for (int64_t j0 = k_begin; j0 < k_end; j0 += kAttnKBlock) {
      const int64_t nk = std::min(kAttnKBlock, k_end - j0), npad = round_up(nk, 32);
      const int64_t rel = j0 - origin;  // a multiple of kAttnKBlock
      // 1. Sᵀ[j][r] = k_j · q_r: 32 keys x 32 queries a pass (keys as A, queries as B).
      for (int64_t kp = 0; kp < npad; kp += 32) {
        const uint16_t* k0 = kr + (rel + kp) * hdp;
        amx_2x2(k0, k0 + 16 * hdp, 32, hdp * 2, qblk, 1024, 512, L.steps, st + kp * Qb, Qb * 4);
      }
      // 2. The FP32 kernel's softmax step, probabilities rounded to BF16.
      kern.attn_softmax_block({.s = st,
                               .nk = nk,
                               .q0 = q0,
                               .q1 = q1,
                               .j0 = j0,
                               .half_window = a.half_window,
                               .m = m,
                               .l = l,
                               .corr = corr,
                               .bf16 = true});
      std::memset(st + nk * Qb, 0, static_cast<size_t>((npad - nk) * Qb) * sizeof(float));
      // Pairs of keys to the B layout (exact: the values are BF16 already).
      for (int64_t j = 0; j < npad; j += 2) {
        alignas(64) uint16_t r0[Qb], r1[Qb];
        for (int64_t i = 0; i < 2; ++i) {
          const float* x = st + (j + i) * Qb;
          _mm512_store_si512(i == 0 ? r0 : r1, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(
                                                   _mm512_loadu_ps(x + 16), _mm512_loadu_ps(x))));
        }
        uint16_t* t = pp + (j / 32) * 1024 + ((j % 32) / 2) * 32;
        interleave_pairs(r0, r1, t, t + 512);
      }
      // 3. Oᵀ[c][r] = sum_j v_j[c] p[j][r]: 32 dimensions x 32 queries a pass; then
      // accᵀ = accᵀ * corr + Oᵀ.
      for (int64_t g = 0; g < hdp; g += 32) {
        const uint16_t* v0 = vt + g * nkp + rel;
        amx_2x2(v0, v0 + 16 * nkp, 32, nkp * 2, pp, 1024, 512, npad / 32, ob + g * Qb, Qb * 4);
      }
      const __m512 c0 = _mm512_loadu_ps(corr), c1 = _mm512_loadu_ps(corr + 16);
      for (int64_t c = 0; c < hdp; ++c) {
        float* ar = acc + c * Qb;
        const float* br = ob + c * Qb;
        _mm512_storeu_ps(ar, _mm512_fmadd_ps(_mm512_loadu_ps(ar), c0, _mm512_loadu_ps(br)));
        _mm512_storeu_ps(ar + 16,
                         _mm512_fmadd_ps(_mm512_loadu_ps(ar + 16), c1, _mm512_loadu_ps(br + 16)));
      }
    }
    // 4. out[r][c] = accᵀ[c][r] / l[r]
    for (int64_t r = 0; r < nq; ++r) {
      const float inv = 1.0f / l[r];
      float* dst = a.out + (q0 + r) * a.ldo;
      for (int64_t c = 0; c < hd; ++c) dst[c] = acc[c * Qb + r] * inv;
    }
  }
  _tile_release();
}

}  // namespace
}  // namespace ripvec::cpu
