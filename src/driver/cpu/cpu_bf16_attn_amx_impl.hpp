// Internal to cpu_kernels_avx512bf16.cpp: the BF16 attention on AMX tiles (attention_bf16 where
// AMX-BF16 runs; cpu_kernels.hpp), in a header of its own so that
// tests/driver/bf16_attn_amx_sim_test.cpp can compile the same code against the emulated tile
// instructions (tests/driver/amx_sim.hpp) and check its tile layouts on any AVX512-BF16 CPU.
// Internal linkage. Needs <immintrin.h> (x86-64 only).
//
// Same definition as the VDPBF16PS kernel: q·scale·log2(e), k, v and the probabilities rounded
// to BF16 (nearest even), products summed in FP32, the softmax in FP32. Shapes differ: per block
// of 32 queries (two 16-row tiles), scores S = Q·Kᵀ come out of the tiles as rows [query][key]
// for up to kAttnAmxKeyBlock keys at a time, each row's maximum and sum are taken once per such
// block (an online softmax across blocks, as the other kernels do across 64-key blocks), and
// O = P·V goes back through the tiles. Operands are laid out once per task in the tiles' order
// (1 KiB per tile, 64-byte rows):
//   K tiles  per 16 keys g and 32 head dims s: row p, column n = the pair (k[16g+n][32s+2p],
//            k[16g+n][32s+2p+1]) (the B operand of Q·Kᵀ: a transposed block of K's pairs)
//   V tiles  per 32 keys t and 16 head dims c: row p, column n = (v[32t+2p][16c+n],
//            v[32t+2p+1][16c+n]) (the B operand of P·V)
//   Q tiles  per 32 head dims s and 16 queries h: row r = q[16h+r][32s .. 32s+32)
//   P tiles  per 32 keys t and 16 queries h: row r = p[16h+r][32t .. 32t+32)
// Keys past the sequence are zero in K and V and get probability 0; queries past the range are
// zero rows whose outputs are not written. Global attention only (half_window < 0), head_dim a
// multiple of 16 and at most kAttnMaxHeadDim: attention_amx_fits().
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "driver/cpu/cpu_amx_tiles.hpp"
#include "driver/cpu/cpu_kernels.hpp"

namespace ripvec::cpu {
namespace {

constexpr int64_t kAmxTile = 512;  // BF16 values of one 16 x 32 tile

bool attention_amx_fits(const AttnArgs& a) {
  return a.half_window < 0 && a.head_dim % 16 == 0 && a.head_dim > 0 &&
         a.head_dim <= kAttnMaxHeadDim;
}

// 2^x for finite x <= 0 (a score minus its row's maximum): 2^floor(x) · 2^f, f = x - floor(x) in
// [0, 1) by VREDUCEPS, 2^f by a degree-5 polynomial (relative error 1.7e-7, fitted to 2^f on
// [0, 1)), the power of two applied by VSCALEFPS (which takes floor(x) itself): 8 instructions
// where vexp2's rounding split takes 12. Below 2^-126 the result is subnormal or zero, a
// probability BF16 flushes to zero anyway.
RIPVEC_AMX_TARGET inline __m512 amx_exp2(__m512 x) {
  const __m512 f = _mm512_reduce_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 p = _mm512_set1_ps(1.877575065009296e-3f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(8.989344350993633e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.582631379365921e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.401536256074905e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931530833244324e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.999999403953552e-1f));
  return _mm512_scalef_ps(p, x);
}

// BF16 of 32 floats in order (lo's 16, then hi's).
RIPVEC_AMX_TARGET inline __m512i amx_bf16x32(__m512 lo, __m512 hi) {
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

// Words (lo[i], hi[i]) for i < 16, each a BF16 pair with lo in the low half.
RIPVEC_AMX_TARGET inline __m512i amx_pairs(__m512 lo, __m512 hi) {
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                       23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(idx, amx_bf16x32(lo, hi));
}

// r[i] (16 dwords each) becomes column i: r[i][j] <- r[j][i].
RIPVEC_AMX_TARGET inline void amx_transpose16(__m512i (&r)[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  // r[i] now holds, in each 128-bit lane L, rows 4(i/4)..+3's column 4L + i%4: gather lanes.
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
    r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xdd);
  }
}

// 16 floats of row `src` from column c (zeros for a null row).
RIPVEC_AMX_TARGET inline __m512 amx_row16(const float* src, int64_t c) {
  return src != nullptr ? _mm512_loadu_ps(src + c) : _mm512_setzero_ps();
}

// K tiles (layout above) of keys [0, keys32), keys >= len zero. The next 16 keys' rows are
// prefetched, and the rows of the queries [q_begin, q_end) among them for the query blocks that
// follow: qkv, just written by the QKV projection, is far larger than the caches and its rows of
// one head are 3·H floats apart, a stride the hardware prefetchers do not follow.
RIPVEC_AMX_TARGET void amx_pack_keys(const AttnArgs& a, int64_t keys32, uint16_t* kt) {
  const float* k = a.k;
  const int64_t ld = a.ld, len = a.len, hd = a.head_dim;
  const int64_t steps = (hd + 31) / 32;
  for (int64_t g = 0; g < keys32 / 16; ++g) {
    for (int64_t n = 0; n < 16; ++n) {
      const int64_t ahead = 16 * (g + 1) + n;
      if (ahead < len)
        for (int64_t c = 0; c < hd; c += 16) __builtin_prefetch(k + ahead * ld + c, 0, 0);
      if (ahead >= a.q_begin && ahead < a.q_end)
        for (int64_t c = 0; c < hd; c += 16) __builtin_prefetch(a.q + ahead * ld + c, 0, 0);
    }
    for (int64_t s = 0; s < steps; ++s) {
      __m512i r[16];
      for (int64_t n = 0; n < 16; ++n) {
        const int64_t key = 16 * g + n;
        const float* row = key < len ? k + key * ld : nullptr;
        const int64_t c = 32 * s;
        r[n] = amx_bf16x32(amx_row16(row, c),
                           c + 16 < hd ? amx_row16(row, c + 16) : _mm512_setzero_ps());
      }
      amx_transpose16(r);
      uint16_t* tile = kt + (g * steps + s) * kAmxTile;
      for (int p = 0; p < 16; ++p) _mm512_storeu_si512(tile + p * 32, r[p]);
    }
  }
}

// V tiles (layout above) of keys [0, keys32), keys >= len zero.
RIPVEC_AMX_TARGET void amx_pack_values(const float* v, int64_t ld, int64_t len, int64_t hd,
                                       int64_t keys32, uint16_t* vt) {
  const int64_t groups = hd / 16;
  for (int64_t t = 0; t < keys32 / 32; ++t) {
    for (int64_t n = 0; n < 32; ++n) {
      const int64_t ahead = 32 * (t + 1) + n;
      if (ahead < len)
        for (int64_t c = 0; c < hd; c += 16) __builtin_prefetch(v + ahead * ld + c, 0, 0);
    }
    for (int64_t p = 0; p < 16; ++p) {
      const int64_t k0 = 32 * t + 2 * p;
      const float* lo = k0 < len ? v + k0 * ld : nullptr;
      const float* hi = k0 + 1 < len ? v + (k0 + 1) * ld : nullptr;
      for (int64_t c = 0; c < groups; ++c)
        _mm512_storeu_si512(vt + (t * groups + c) * kAmxTile + p * 32,
                            amx_pairs(amx_row16(lo, 16 * c), amx_row16(hi, 16 * c)));
    }
  }
}

// Probabilities 2^(s - max) of keys [16 i, 16 i + 16) of a score row whose first `full` vectors
// are keys of the sequence, then `rest` (mask) keys, then padding (probability 0).
RIPVEC_AMX_TARGET inline __m512 amx_prob(const float* srow, int64_t i, int64_t full, __mmask16 rest,
                                         __m512 vmax) {
  if (i < full) return amx_exp2(_mm512_sub_ps(_mm512_loadu_ps(srow + 16 * i), vmax));
  if (i == full && rest != 0)
    return _mm512_maskz_mov_ps(rest, amx_exp2(_mm512_sub_ps(_mm512_loadu_ps(srow + 16 * i), vmax)));
  return _mm512_setzero_ps();
}

// One task in units of (query block b, key block kb), b-major; each unit goes through four
// stages: Q·Kᵀ on the tiles (scores), the softmax (probabilities, vector code), P·V on the tiles
// (the key block's output) and the merge into the output rows. Software-pipelined (the scores
// of unit i + 1, the softmax of i, P·V of i - 1 and the merge of i - 2 in one step, so that no
// stage reads what a tile store has just written) they measured no faster on the AMX
// development VM (MiniLM head, 2026-12-06), so they run in order on one set of buffers.
struct AmxPipe {
  static constexpr int64_t Qb = kAttnQBlock, Kb = kAttnAmxKeyBlock, lds = Kb + 16;
  static constexpr int64_t kQt = Qb * kAttnMaxHeadDim / 2;  // floats of the Q tiles
  static constexpr int64_t kS = Qb * lds, kP = Qb * Kb / 2, kO = Qb * kAttnMaxHeadDim;
  const AttnArgs& a;
  const uint16_t* kt;
  const uint16_t* vt;
  int64_t hd, steps, groups, blocks;
  float* base;  // a.work: qt, s, pt, ob, acc, m, l, corr (every part a multiple of 16 floats)

  uint16_t* qt() const { return reinterpret_cast<uint16_t*>(base); }
  float* s() const { return base + kQt; }
  uint16_t* pt() const { return reinterpret_cast<uint16_t*>(base + kQt + kS); }
  float* ob() const { return base + kQt + kS + kP; }
  float* acc() const { return base + kQt + kS + kP + kO; }
  float* m() const { return base + kQt + kS + kP + 2 * kO; }
  float* l() const { return m() + Qb; }
  float* corr() const { return m() + 2 * Qb; }
  int64_t q0(int64_t b) const { return a.q_begin + b * Qb; }
  int64_t nq(int64_t b) const { return std::min(Qb, a.q_end - q0(b)); }
  int64_t nk(int64_t kb) const { return std::min(Kb, a.len - kb * Kb); }
};

// Query block b's Q tiles (rows times scale · log2(e): the softmax works in powers of two; zero
// past the block's queries) and its running maximum and sum.
RIPVEC_AMX_TARGET void amx_stage_queries(const AmxPipe& p, int64_t b) {
  const AttnArgs& a = p.a;
  const int64_t nq = p.nq(b), hd = p.hd;
  uint16_t* qt = p.qt();
  const __m512 vscale = _mm512_set1_ps(a.scale * 1.44269504088896341f);
  for (int64_t r = 0; r < AmxPipe::Qb; ++r) {
    const float* row = r < nq ? a.q + (p.q0(b) + r) * a.ld : nullptr;
    for (int64_t st = 0; st < p.steps; ++st) {
      const int64_t c = 32 * st;
      const __m512 lo = _mm512_mul_ps(amx_row16(row, c), vscale);
      const __m512 hi =
          c + 16 < hd ? _mm512_mul_ps(amx_row16(row, c + 16), vscale) : _mm512_setzero_ps();
      _mm512_storeu_si512(qt + (st * 2 + r / 16) * kAmxTile + (r % 16) * 32, amx_bf16x32(lo, hi));
    }
    p.m()[r] = -INFINITY;
    p.l()[r] = 0.0f;
  }
}

// Unit u's scores S[r][j] = q_r · k_(k0 + j), 32 x 32 blocks of four tiles.
RIPVEC_AMX_TARGET void amx_stage_scores(const AmxPipe& p, int64_t u) {
  const int64_t kb = u % p.blocks, k0 = kb * AmxPipe::Kb;
  const int64_t nk32 = (p.nk(kb) + 31) / 32 * 32, steps = p.steps, lds = AmxPipe::lds;
  const uint16_t* qt = p.qt();
  float* s = p.s();
  for (int64_t j = 0; j < nk32; j += 32) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    const uint16_t* k_g0 = p.kt + ((k0 + j) / 16) * steps * kAmxTile;
    const uint16_t* k_g1 = k_g0 + steps * kAmxTile;
    for (int64_t st = 0; st < steps; ++st) {
      _tile_loadd(4, qt + (st * 2) * kAmxTile, 64);
      _tile_loadd(5, qt + (st * 2 + 1) * kAmxTile, 64);
      _tile_loadd(6, k_g0 + st * kAmxTile, 64);
      _tile_loadd(7, k_g1 + st * kAmxTile, 64);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, s + j, lds * 4);
    _tile_stored(1, s + j + 16, lds * 4);
    _tile_stored(2, s + 16 * lds + j, lds * 4);
    _tile_stored(3, s + 16 * lds + j + 16, lds * 4);
  }
}

// Unit u's probabilities 2^(s - max) (0 for keys past the sequence) into its P tiles, the
// running maximum and sum of every row of its query block, and the rescale 2^(old max - new
// max) of what earlier key blocks summed (corr).
RIPVEC_AMX_TARGET void amx_stage_softmax(const AmxPipe& p, int64_t u) {
  constexpr int64_t Qb = AmxPipe::Qb, lds = AmxPipe::lds;
  const int64_t b = u / p.blocks, kb = u % p.blocks, nq = p.nq(b);
  const int64_t nk = p.nk(kb), nk32 = (nk + 31) / 32 * 32;
  const float* s = p.s();
  uint16_t* pt = p.pt();
  float *m = p.m(), *l = p.l(), *corr = p.corr();
  const int64_t full = nk / 16, rest = nk % 16;
  const __mmask16 rest_mask = static_cast<__mmask16>((1u << rest) - 1u);
  // Each row's maximum over the block (into corr): rows are independent chains, which the core
  // overlaps; rows past nq get 0.
  for (int64_t r = 0; r < Qb; ++r) {
    if (r >= nq) {
      corr[r] = 0.0f;
      continue;
    }
    const float* srow = s + r * lds;
    __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0;
    int64_t i = 0;
    for (; i + 2 <= full; i += 2) {
      m0 = _mm512_max_ps(m0, _mm512_loadu_ps(srow + 16 * i));
      m1 = _mm512_max_ps(m1, _mm512_loadu_ps(srow + 16 * i + 16));
    }
    if (i < full) m0 = _mm512_max_ps(m0, _mm512_loadu_ps(srow + 16 * i));
    if (rest != 0) m1 = _mm512_max_ps(m1, _mm512_mask_loadu_ps(m1, rest_mask, srow + 16 * full));
    corr[r] = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
  }
  // New running maxima and the rescale, 16 rows at a time (0 on the first key block, where the
  // old maximum is -inf).
  for (int64_t n = 0; n < Qb; n += 16) {
    const __m512 mold = _mm512_loadu_ps(m + n);
    const __m512 mnew = _mm512_max_ps(mold, _mm512_loadu_ps(corr + n));
    _mm512_storeu_ps(corr + n, kb == 0 ? _mm512_setzero_ps() : amx_exp2(_mm512_sub_ps(mold, mnew)));
    _mm512_storeu_ps(m + n, mnew);
  }
  for (int64_t r = 0; r < Qb; ++r) {
    uint16_t* prow = pt + (r / 16) * kAmxTile + (r % 16) * 32;  // key step t at + 2t tiles
    if (r >= nq) {
      for (int64_t t = 0; t < nk32 / 32; ++t)
        _mm512_storeu_si512(prow + t * 2 * kAmxTile, _mm512_setzero_si512());
      continue;
    }
    const float* srow = s + r * lds;
    const __m512 vm = _mm512_set1_ps(m[r]);
    __m512 sum0 = _mm512_setzero_ps(), sum1 = sum0;
    int64_t t = 0;
    for (; t < full / 2; ++t) {
      const __m512 p0 = amx_exp2(_mm512_sub_ps(_mm512_loadu_ps(srow + 32 * t), vm));
      const __m512 p1 = amx_exp2(_mm512_sub_ps(_mm512_loadu_ps(srow + 32 * t + 16), vm));
      sum0 = _mm512_add_ps(sum0, p0);
      sum1 = _mm512_add_ps(sum1, p1);
      _mm512_storeu_si512(prow + t * 2 * kAmxTile, amx_bf16x32(p0, p1));
    }
    for (; t < nk32 / 32; ++t) {  // the block's last 32 keys when they are not all real
      const __m512 p0 = amx_prob(srow, 2 * t, full, rest_mask, vm);
      const __m512 p1 = amx_prob(srow, 2 * t + 1, full, rest_mask, vm);
      sum0 = _mm512_add_ps(sum0, p0);
      sum1 = _mm512_add_ps(sum1, p1);
      _mm512_storeu_si512(prow + t * 2 * kAmxTile, amx_bf16x32(p0, p1));
    }
    l[r] = l[r] * corr[r] + _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
  }
}

// Unit u's P·V into ob (acc when there is one key block), 32 queries x 32 head dims (four tiles) at
// a time.
RIPVEC_AMX_TARGET void amx_stage_values(const AmxPipe& p, int64_t u) {
  const int64_t kb = u % p.blocks, nk32 = (p.nk(kb) + 31) / 32 * 32;
  const int64_t hd = p.hd, groups = p.groups;
  const uint16_t* pt = p.pt();
  const uint16_t* vblock = p.vt + (kb * AmxPipe::Kb / 32) * groups * kAmxTile;
  float* o = p.blocks > 1 ? p.ob() : p.acc();
  for (int64_t c = 0; c < groups; c += 2) {
    const bool two = c + 1 < groups;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t t = 0; t < nk32 / 32; ++t) {
      const uint16_t* vtile = vblock + (t * groups + c) * kAmxTile;
      _tile_loadd(4, pt + (t * 2) * kAmxTile, 64);
      _tile_loadd(5, pt + (t * 2 + 1) * kAmxTile, 64);
      _tile_loadd(6, vtile, 64);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(2, 5, 6);
      if (two) {
        _tile_loadd(7, vtile + kAmxTile, 64);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(3, 5, 7);
      }
    }
    _tile_stored(0, o + 16 * c, hd * 4);
    _tile_stored(2, o + 16 * hd + 16 * c, hd * 4);
    if (two) {
      _tile_stored(1, o + 16 * (c + 1), hd * 4);
      _tile_stored(3, o + 16 * hd + 16 * (c + 1), hd * 4);
    }
  }
}

// Unit u's output merged: acc = acc · corr + ob (ob itself on the first key block; with one key
// block P·V wrote acc); on the last key block out[q0 + r] = acc[r] / l[r] (l >= 1: the maximum
// contributes 2^0).
RIPVEC_AMX_TARGET void amx_stage_merge(const AmxPipe& p, int64_t u) {
  const int64_t b = u / p.blocks, kb = u % p.blocks, nq = p.nq(b), hd = p.hd;
  const float* ob = p.ob();
  float* acc = p.acc();
  const float* corr = p.corr();
  if (p.blocks > 1) {
    for (int64_t r = 0; r < nq; ++r) {
      const __m512 cr = _mm512_set1_ps(corr[r]);
      for (int64_t c = 0; c < hd; c += 16) {
        const __m512 x = _mm512_loadu_ps(ob + r * hd + c);
        _mm512_storeu_ps(acc + r * hd + c,
                         kb == 0 ? x : _mm512_fmadd_ps(_mm512_loadu_ps(acc + r * hd + c), cr, x));
      }
    }
  }
  if (kb + 1 < p.blocks) return;
  const float* l = p.l();
  for (int64_t r = 0; r < nq; ++r) {
    const __m512 inv = _mm512_set1_ps(1.0f / l[r]);
    float* dst = p.a.out + (p.q0(b) + r) * p.a.ldo;
    for (int64_t c = 0; c < hd; c += 16)
      _mm512_storeu_ps(dst + c, _mm512_mul_ps(_mm512_loadu_ps(acc + r * hd + c), inv));
  }
}

// The task: K and V of every key into tiles (a.kv), then every unit of the query blocks of
// [q_begin, q_end). Loads the tile configuration and releases the tiles. Only where
// attention_amx_fits(a).
RIPVEC_AMX_TARGET void attention_amx_k(const AttnArgs& a) {
  const int64_t hd = a.head_dim, keys32 = (a.len + 31) / 32 * 32;
  if (a.q_end <= a.q_begin) return;
  auto* kt = reinterpret_cast<uint16_t*>(a.kv);
  uint16_t* vt = kt + keys32 * ((hd + 31) / 32 * 32);
  amx_pack_keys(a, keys32, kt);
  amx_pack_values(a.v, a.ld, a.len, hd, keys32, vt);
  const AmxPipe p{
      a, kt, vt, hd, (hd + 31) / 32, hd / 16, (a.len + AmxPipe::Kb - 1) / AmxPipe::Kb, a.work};
  const int64_t units = (a.q_end - a.q_begin + AmxPipe::Qb - 1) / AmxPipe::Qb * p.blocks;
  _tile_loadconfig(&tile_config());
  for (int64_t u = 0; u < units; ++u) {
    if (u % p.blocks == 0) amx_stage_queries(p, u / p.blocks);
    amx_stage_scores(p, u);
    amx_stage_softmax(p, u);
    amx_stage_values(p, u);
    amx_stage_merge(p, u);
  }
  _tile_release();
}

}  // namespace
}  // namespace ripvec::cpu
