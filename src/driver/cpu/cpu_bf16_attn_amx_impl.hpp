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

// Where the pieces of one task live in its workspace (byte offsets, each 64-byte aligned):
//  kt: keys in the B layout of Q·Kᵀ: per tile of 16 keys and step of 32 dimensions, a 16 x 16
//      pair tile, element [kk][j][e] = bf16(k[16 t + j][32 s + 2 kk + e]);
//  vp: values in the B layout of P·V: per step of 32 keys and tile of 16 dimensions, element
//      [kk][c][e] = bf16(v[32 t + 2 kk + e][16 u + c]);
//  qb: the task's query rows, bf16(q * scale * log2(e)), hdp per row (zeros beyond);
//  s / pb: one block's scores (FP32) and probabilities (BF16), 32 x kAttnKBlock;
//  o / ob: the output accumulator and one block's P·V, 32 x hdp FP32; m, l, corr: 32 each.
struct AmxAttnLayout {
  int64_t hdp = 0, steps = 0, ctiles = 0;
  size_t kt = 0, vp = 0, qb = 0, s = 0, pb = 0, o = 0, ob = 0, m = 0, l = 0, corr = 0, bytes = 0;
};

AmxAttnLayout amx_attn_layout(int64_t keys, int64_t rows, int64_t head_dim) {
  AmxAttnLayout L;
  L.hdp = round_up(head_dim, 32);
  L.steps = L.hdp / 32;
  L.ctiles = L.hdp / kAttnTile;
  const auto nkp = static_cast<size_t>(round_up(std::max<int64_t>(keys, 1), kAttnKBlock));
  const auto hdp = static_cast<size_t>(L.hdp);
  size_t at = 0;
  auto take = [&](size_t bytes) {
    const size_t off = at;
    at = static_cast<size_t>(round_up(static_cast<int64_t>(at + bytes), 64));
    return off;
  };
  L.kt = take(nkp * hdp * 2);
  L.vp = take(nkp * hdp * 2);
  L.qb = take(static_cast<size_t>(round_up(std::max<int64_t>(rows, 1), 32)) * hdp * 2);
  L.s = take(32 * kAttnKBlock * 4);
  L.pb = take(32 * kAttnKBlock * 2);
  L.o = take(32 * hdp * 4);
  L.ob = take(32 * hdp * 4);
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

// Keys [k0, k1) of the sequence into kt and vp, zeros up to a multiple of kAttnKBlock keys.
RIPVEC_AMX_TARGET void pack_keys_amx(const AttnArgs& a, const AmxAttnLayout& L, int64_t k0,
                                     int64_t k1, uint16_t* kt, uint16_t* vp) {
  const int64_t hd = a.head_dim, hdp = L.hdp, nk = k1 - k0, nkp = round_up(nk, kAttnKBlock);
  alignas(64) uint16_t r0[kAttnMaxHeadDim], r1[kAttnMaxHeadDim];
  auto convert = [&](const float* base, int64_t j, uint16_t* row) {
    if (j < nk)
      convert_row_amx(base + (k0 + j) * a.ld, hd, hdp, row);
    else
      std::memset(row, 0, static_cast<size_t>(hdp) * 2);
  };
  for (int64_t j = 0; j < nkp; ++j) {
    convert(a.k, j, r0);
    uint16_t* dst = kt + (j / kAttnTile) * L.steps * 512 + (j % kAttnTile) * 2;
    for (int64_t s = 0; s < L.steps; ++s)
      for (int64_t kk = 0; kk < 16; ++kk)
        std::memcpy(dst + s * 512 + kk * 32, r0 + s * 32 + 2 * kk, 4);
  }
  // Two keys' rows interleaved element by element: 32 dimensions of the pair make one tile row
  // of each of two dimension tiles.
  const __m512i lo = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8,
                                      39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
  const __m512i hi = _mm512_add_epi16(lo, _mm512_set1_epi16(16));
  for (int64_t j = 0; j < nkp; j += 2) {
    convert(a.v, j, r0);
    convert(a.v, j + 1, r1);
    uint16_t* dst = vp + (j / 32) * L.ctiles * 512 + ((j % 32) / 2) * 32;
    for (int64_t c = 0; c < hdp; c += 32) {
      const __m512i x0 = _mm512_load_si512(r0 + c), x1 = _mm512_load_si512(r1 + c);
      _mm512_storeu_si512(dst + (c / kAttnTile) * 512, _mm512_permutex2var_epi16(x0, lo, x1));
      _mm512_storeu_si512(dst + (c / kAttnTile + 1) * 512, _mm512_permutex2var_epi16(x0, hi, x1));
    }
  }
}

// AttnArgs rows [q_begin, q_end) of one (sequence, head); see cpu_bf16_attention.hpp.
RIPVEC_AMX_TARGET void attention_amx_k(const AttnArgs& a, const CpuKernels& kern, void* ws) {
  const int64_t hd = a.head_dim, nrows = a.q_end - a.q_begin;
  if (nrows <= 0) return;
  const AmxAttnLayout L = amx_attn_layout(amx_attn_keys(a.len, a.half_window), nrows, hd);
  const int64_t hdp = L.hdp;
  auto* base = static_cast<char*>(ws);
  auto* kt = reinterpret_cast<uint16_t*>(base + L.kt);
  auto* vp = reinterpret_cast<uint16_t*>(base + L.vp);
  auto* qb = reinterpret_cast<uint16_t*>(base + L.qb);
  auto* s = reinterpret_cast<float*>(base + L.s);
  auto* pb = reinterpret_cast<uint16_t*>(base + L.pb);
  auto* o = reinterpret_cast<float*>(base + L.o);
  auto* ob = reinterpret_cast<float*>(base + L.ob);
  auto* m = reinterpret_cast<float*>(base + L.m);
  auto* l = reinterpret_cast<float*>(base + L.l);
  auto* corr = reinterpret_cast<float*>(base + L.corr);

  // The query rows, times scale · log2(e) (the scores come out in log2 units), then to BF16.
  const float qscale = a.scale * 1.44269504088896341f;
  alignas(64) float row[kAttnMaxHeadDim];
  const int64_t qrows = round_up(nrows, 32);
  for (int64_t r = 0; r < qrows; ++r) {
    uint16_t* dst = qb + r * hdp;
    if (r >= nrows) {
      std::memset(dst, 0, static_cast<size_t>(hdp) * 2);
      continue;
    }
    const float* src = a.q + (a.q_begin + r) * a.ld;
    for (int64_t c = 0; c < hd; ++c) row[c] = src[c] * qscale;
    convert_row_amx(row, hd, hdp, dst);
  }
  const bool local = a.half_window >= 0;
  if (!local) pack_keys_amx(a, L, 0, a.len, kt, vp);

  _tile_loadconfig(&tile_config());
  for (int64_t q0 = a.q_begin; q0 < a.q_end; q0 += kAttnQBlock) {
    const int64_t nq = std::min(a.q_end, q0 + kAttnQBlock) - q0;
    int64_t k_begin = 0, k_end = a.len;
    if (local) {
      k_begin = std::max<int64_t>(0, q0 - a.half_window);
      k_end = std::min<int64_t>(a.len, q0 + nq + a.half_window);
      pack_keys_amx(a, L, k_begin, k_end, kt, vp);
    }
    const int64_t origin = local ? k_begin : 0;
    const uint16_t* qrow = qb + (q0 - a.q_begin) * hdp;
    for (int64_t r = 0; r < 32; ++r) {
      m[r] = kMaskedScore;
      l[r] = 0.0f;
    }
    std::memset(o, 0, static_cast<size_t>(32 * hdp) * sizeof(float));
    std::memset(pb, 0, 32 * kAttnKBlock * sizeof(uint16_t));
    for (int64_t j0 = k_begin; j0 < k_end; j0 += kAttnKBlock) {
      const int64_t nk = std::min(kAttnKBlock, k_end - j0), npad = round_up(nk, 32);
      const int64_t rel = j0 - origin;  // a multiple of kAttnKBlock
      // 1. Scores: 32 queries x 32 keys per pass (tiles 0-3), Q in 4-5, K in 6-7.
      for (int64_t pr = 0; pr < npad / 32; ++pr)
        amx_2x2(qrow, qrow + 16 * hdp, 32, hdp * 2, kt + (rel / kAttnTile + 2 * pr) * L.steps * 512,
                512, L.steps * 512, L.steps, s + pr * 32, kAttnKBlock * 4);
      // 2. The online softmax step (probabilities rounded to BF16 in place, zeros to npad).
      kern.attn_softmax_rows({.s = s,
                              .lds = kAttnKBlock,
                              .rows = nq,
                              .n = nk,
                              .npad = npad,
                              .q0 = q0,
                              .j0 = j0,
                              .half_window = a.half_window,
                              .m = m,
                              .l = l,
                              .corr = corr});
      for (int64_t r = 0; r < nq; ++r)  // exact: the values are BF16 already
        for (int64_t c = 0; c < npad; c += 32) {
          const float* x = s + r * kAttnKBlock + c;
          _mm512_storeu_si512(pb + r * kAttnKBlock + c,
                              reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + 16),
                                                                            _mm512_loadu_ps(x))));
        }
      // 3. P·V: 32 queries x 32 dimensions per pass (tiles 0-3), P in 4-5, V in 6-7.
      for (int64_t g = 0; g < hdp / 32; ++g)
        amx_2x2(pb, pb + 16 * kAttnKBlock, 32, kAttnKBlock * 2,
                vp + ((rel / 32) * L.ctiles + 2 * g) * 512, L.ctiles * 512, 512, npad / 32,
                ob + g * 32, hdp * 4);
      // 4. o = o * corr + this block's P·V
      for (int64_t r = 0; r < nq; ++r) {
        const __m512 cr = _mm512_set1_ps(corr[r]);
        for (int64_t c = 0; c < hdp; c += 16)
          _mm512_storeu_ps(o + r * hdp + c, _mm512_fmadd_ps(_mm512_loadu_ps(o + r * hdp + c), cr,
                                                            _mm512_loadu_ps(ob + r * hdp + c)));
      }
    }
    // 5. out = o / l
    for (int64_t r = 0; r < nq; ++r) {
      const __m512 inv = _mm512_set1_ps(1.0f / l[r]);
      float* dst = a.out + (q0 + r) * a.ldo;
      for (int64_t c = 0; c < hd; c += 16) {
        const int64_t left = hd - c;
        const auto mask = static_cast<__mmask16>(left >= 16 ? 0xffff : (1u << left) - 1);
        _mm512_mask_storeu_ps(dst + c, mask, _mm512_mul_ps(_mm512_loadu_ps(o + r * hdp + c), inv));
      }
    }
  }
  _tile_release();
}

}  // namespace
}  // namespace ripvec::cpu
