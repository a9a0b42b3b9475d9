// Internal to cpu_kernels_avx512bf16.cpp: the BF16 attention on AMX tiles (attention_bf16 where
// AMX-BF16 runs; cpu_kernels.hpp), in a header of its own so that
// tests/driver/bf16_amx_sim_test.cpp can compile the same code against its emulation of the tile
// instructions and check its tile layouts on any AVX512-BF16 CPU.
// Internal linkage. Needs <immintrin.h> (x86-64 only).
//
// Same definition as the VDPBF16PS kernel: q·scale·log2(e), k, v and the probabilities rounded
// to BF16 (nearest even), products summed in FP32, the softmax in FP32. Shapes differ: per block
// of 32 queries (two 16-row tiles), scores S = Q·Kᵀ come out of the tiles as rows [query][key]
// for up to kAttnAmxKeyBlock keys at a time, each row's maximum and sum are taken once per such
// block (an online softmax across blocks, as the other kernels do across 64-key blocks), and
// O = P·V goes back through the tiles. Operands are laid out once per task in the tiles' order
// (1 KiB per tile, 64-byte rows; keys counted from the task's first, a multiple of 32):
//   K tiles  per 16 keys g and 32 head dims s: row p, column n = the pair (k[16g+n][32s+2p],
//            k[16g+n][32s+2p+1]) (the B operand of Q·Kᵀ: a transposed block of K's pairs)
//   V tiles  per 32 keys t and 16 head dims c: row p, column n = (v[32t+2p][16c+n],
//            v[32t+2p+1][16c+n]) (the B operand of P·V)
//   Q tiles  per 32 head dims s and 16 queries h: row r = q[16h+r][32s .. 32s+32)
//   P tiles  per 32 keys t and 16 queries h: row r = p[16h+r][32t .. 32t+32)
// Keys past the task's range are zero in K and V and get probability 0, as do keys outside a
// query's sliding window; queries past the range are zero rows whose outputs are not written.
// Any head_dim that is a multiple of 16 up to kAttnMaxHeadDim: attention_amx_fits().
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "driver/cpu/cpu_amx_tiles.hpp"
#include "driver/cpu/cpu_bf16_vec.hpp"
#include "driver/cpu/cpu_kernels.hpp"

namespace ripvec::cpu {
namespace {

constexpr int64_t kAmxTile = 512;  // BF16 values of one 16 x 32 tile

bool attention_amx_fits(const AttnArgs& a) {
  return a.head_dim % 16 == 0 && a.head_dim > 0 && a.head_dim <= kAttnMaxHeadDim;
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

// K tiles (layout above) of keys [kbase, kbase + keys32), keys >= kend zero. The next 16 keys'
// rows are prefetched: qkv, just written by the QKV projection, is far larger than the caches and
// its rows of one head are 3·H floats apart, a stride the hardware prefetchers do not follow.
RIPVEC_AMX_TARGET void amx_pack_keys(const AttnArgs& a, int64_t kbase, int64_t kend, int64_t keys32,
                                     uint16_t* kt) {
  const int64_t ld = a.ld, hd = a.head_dim, steps = (hd + 31) / 32;
  const float* k = a.k + kbase * ld;
  const int64_t nk = kend - kbase;
  for (int64_t g = 0; g < keys32 / 16; ++g) {
    for (int64_t n = 16 * (g + 1); n < std::min(nk, 16 * (g + 2)); ++n)
      for (int64_t c = 0; c < hd; c += 16) __builtin_prefetch(k + n * ld + c, 0, 0);
    for (int64_t st = 0; st < steps; ++st) {
      __m512i r[16];
      for (int64_t n = 0; n < 16; ++n) {
        const int64_t key = 16 * g + n;
        const float* row = key < nk ? k + key * ld : nullptr;
        const int64_t c = 32 * st;
        r[n] =
            bf16x32(amx_row16(row, c), c + 16 < hd ? amx_row16(row, c + 16) : _mm512_setzero_ps());
      }
      amx_transpose16(r);
      uint16_t* tile = kt + (g * steps + st) * kAmxTile;
      for (int p = 0; p < 16; ++p) _mm512_storeu_si512(tile + p * 32, r[p]);
    }
  }
}

// V tiles (layout above) of keys [kbase, kbase + keys32), keys >= kend zero.
RIPVEC_AMX_TARGET void amx_pack_values(const AttnArgs& a, int64_t kbase, int64_t kend,
                                       int64_t keys32, uint16_t* vt) {
  const int64_t ld = a.ld, hd = a.head_dim, groups = hd / 16;
  const float* v = a.v + kbase * ld;
  const int64_t nk = kend - kbase;
  for (int64_t t = 0; t < keys32 / 32; ++t) {
    for (int64_t n = 32 * (t + 1); n < std::min(nk, 32 * (t + 2)); ++n)
      for (int64_t c = 0; c < hd; c += 16) __builtin_prefetch(v + n * ld + c, 0, 0);
    for (int64_t p = 0; p < 16; ++p) {
      const int64_t k0 = 32 * t + 2 * p;
      const float* lo = k0 < nk ? v + k0 * ld : nullptr;
      const float* hi = k0 + 1 < nk ? v + (k0 + 1) * ld : nullptr;
      for (int64_t c = 0; c < groups; ++c)
        _mm512_storeu_si512(vt + (t * groups + c) * kAmxTile + p * 32,
                            bf16_pairs(amx_row16(lo, 16 * c), amx_row16(hi, 16 * c)));
    }
  }
}

// Lanes of keys [16 i, 16 i + 16) inside [lo, hi).
inline __mmask16 amx_lanes(int64_t i, int64_t lo, int64_t hi) {
  const int64_t a = std::max<int64_t>(lo - 16 * i, 0), b = std::min<int64_t>(hi - 16 * i, 16);
  if (a >= b) return 0;
  return static_cast<__mmask16>(((1u << b) - 1u) & ~((1u << a) - 1u));
}

// Probabilities 2^(s - max) of keys [16 i, 16 i + 16) of a score row, 0 outside [lo, hi).
RIPVEC_AMX_TARGET inline __m512 amx_prob(const float* srow, int64_t i, int64_t lo, int64_t hi,
                                         __m512 vmax) {
  const __mmask16 m = amx_lanes(i, lo, hi);
  if (m == 0) return _mm512_setzero_ps();
  return _mm512_maskz_mov_ps(m, amx_exp2(_mm512_sub_ps(_mm512_loadu_ps(srow + 16 * i), vmax)));
}

// The keys that queries [q0, q1) attend to: all, or those within the sliding window of any, from
// a multiple of 32 (the V tiles' step) at or below the first.
inline void amx_key_range(const AttnArgs& a, int64_t q0, int64_t q1, int64_t& k_begin,
                          int64_t& k_end) {
  k_begin = 0;
  k_end = a.len;
  if (a.half_window >= 0) {
    k_begin = std::max<int64_t>(0, q0 - a.half_window) / 32 * 32;
    k_end = std::min<int64_t>(a.len, q1 + a.half_window);
  }
}

// The next task's rows (AttnArgs::next) fetched into the caches a few cache lines per step, one
// step per query row of each softmax, so that the fetches overlap this task's tile and vector work;
// in bursts they stall on the core's few outstanding misses as the loads themselves did. Items are
// (row, line) pairs: the next task's query rows, then its key and value rows in turn.
struct AmxNextFetch {
  const float *q = nullptr, *k = nullptr, *v = nullptr;
  int64_t ld = 0, lines = 0, q_items = 0, total = 0, at = 0, per_step = 0;

  // steps: how many times step() will be called during this task.
  AmxNextFetch(const AttnArgs* n, int64_t steps) {
    if (n == nullptr || n->q_end <= n->q_begin || steps <= 0) return;
    int64_t kb = 0, ke = 0;
    amx_key_range(*n, n->q_begin, n->q_end, kb, ke);
    ld = n->ld;
    lines = (n->head_dim + 15) / 16;
    q = n->q + n->q_begin * ld;
    k = n->k + kb * ld;
    v = n->v + kb * ld;
    q_items = (n->q_end - n->q_begin) * lines;
    total = q_items + 2 * (ke - kb) * lines;
    per_step = (total + steps - 1) / steps;
  }
  void step() {
    for (const int64_t end = std::min(total, at + per_step); at < end; ++at) {
      const float* p;
      if (at < q_items) {
        p = q + (at / lines) * ld + (at % lines) * 16;
      } else {
        const int64_t j = at - q_items, w = j % (2 * lines);
        p = (w < lines ? k : v) + (j / (2 * lines)) * ld + (w % lines) * 16;
      }
      _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
    }
  }
};

// One task, block by block of 32 queries; each query block's keys (all of them, or those within
// the sliding window of any of its queries, from a multiple of 32) in key blocks of up to
// kAttnAmxKeyBlock, each through four stages: Q·Kᵀ on the tiles (scores), the softmax
// (probabilities, vector code), P·V on the tiles (the key block's output) and the merge into the
// output rows. Software-pipelined (the scores of one key block, the softmax of the one before, and
// so on, so that no stage reads what a tile store has just written) they measured no faster on
// the AMX development VM (MiniLM head, 2026-12-06), so they run in order on one set of buffers.
struct AmxPipe {
  static constexpr int64_t Qb = kAttnQBlock, Kb = kAttnAmxKeyBlock, lds = Kb + 16;
  static constexpr int64_t kQt = Qb * kAttnMaxHeadDim / 2;  // floats of the Q tiles
  static constexpr int64_t kS = Qb * lds, kP = Qb * Kb / 2, kO = Qb * kAttnMaxHeadDim;
  const AttnArgs& a;
  const uint16_t* kt;  // K and V tiles from key kbase (a multiple of 32)
  const uint16_t* vt;
  int64_t kbase;
  int64_t hd, steps, groups;
  float* base;  // a.work: qt, s, pt, ob, acc, m, l, corr (every part a multiple of 16 floats)

  uint16_t* qt() const { return reinterpret_cast<uint16_t*>(base); }
  float* s() const { return base + kQt; }
  uint16_t* pt() const { return reinterpret_cast<uint16_t*>(base + kQt + kS); }
  float* ob() const { return base + kQt + kS + kP; }
  float* acc() const { return base + kQt + kS + kP + kO; }
  float* m() const { return base + kQt + kS + kP + 2 * kO; }
  float* l() const { return m() + Qb; }
  float* corr() const { return m() + 2 * Qb; }
};

// A query block and one of its key blocks.
struct AmxUnit {
  int64_t q0, nq;    // queries [q0, q0 + nq)
  int64_t k0, nk;    // keys [k0, k0 + nk), k0 - kbase a multiple of 32
  bool first, last;  // the query block's first / last key block
  // Keys of query q0 + r that this block holds, relative to k0: [lo, hi).
  int64_t lo(const AttnArgs& a, int64_t r) const {
    return a.half_window < 0 ? 0 : std::clamp<int64_t>(q0 + r - a.half_window - k0, 0, nk);
  }
  int64_t hi(const AttnArgs& a, int64_t r) const {
    return a.half_window < 0 ? nk : std::clamp<int64_t>(q0 + r + a.half_window + 1 - k0, 0, nk);
  }
};

// The query block's Q tiles (rows times scale · log2(e): the softmax works in powers of two; zero
// past its queries) and its running maximum and sum.
RIPVEC_AMX_TARGET void amx_stage_queries(const AmxPipe& p, const AmxUnit& u) {
  const AttnArgs& a = p.a;
  const int64_t hd = p.hd;
  uint16_t* qt = p.qt();
  const __m512 vscale = _mm512_set1_ps(a.scale * 1.44269504088896341f);
  for (int64_t r = 0; r < AmxPipe::Qb; ++r) {
    const float* row = r < u.nq ? a.q + (u.q0 + r) * a.ld : nullptr;
    for (int64_t st = 0; st < p.steps; ++st) {
      const int64_t c = 32 * st;
      const __m512 lo = _mm512_mul_ps(amx_row16(row, c), vscale);
      const __m512 hi =
          c + 16 < hd ? _mm512_mul_ps(amx_row16(row, c + 16), vscale) : _mm512_setzero_ps();
      _mm512_storeu_si512(qt + (st * 2 + r / 16) * kAmxTile + (r % 16) * 32, bf16x32(lo, hi));
    }
    p.m()[r] = -INFINITY;
    p.l()[r] = 0.0f;
  }
}

// The scores S[r][j] = q_r · k_(k0 + j), 32 x 32 blocks of four tiles.
RIPVEC_AMX_TARGET void amx_stage_scores(const AmxPipe& p, const AmxUnit& u) {
  const int64_t nk32 = (u.nk + 31) / 32 * 32, steps = p.steps, lds = AmxPipe::lds;
  const uint16_t* qt = p.qt();
  float* s = p.s();
  for (int64_t j = 0; j < nk32; j += 32) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    const uint16_t* k_g0 = p.kt + ((u.k0 - p.kbase + j) / 16) * steps * kAmxTile;
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

// The probabilities 2^(s - max) (0 for keys outside a row's [lo, hi)) into the P tiles, the
// running maximum and sum of every row, and the rescale 2^(old max - new max) of what earlier key
// blocks summed (corr; 0 where nothing was).
RIPVEC_AMX_TARGET void amx_stage_softmax(const AmxPipe& p, const AmxUnit& u, AmxNextFetch& next) {
  constexpr int64_t Qb = AmxPipe::Qb, lds = AmxPipe::lds;
  const AttnArgs& a = p.a;
  const int64_t nk32 = (u.nk + 31) / 32 * 32;
  const float* s = p.s();
  uint16_t* pt = p.pt();
  float *m = p.m(), *l = p.l(), *corr = p.corr();
  // Each row's maximum over its keys of the block (into corr; -inf if it has none there): rows
  // are independent chains, which the core overlaps. Rows past nq get -inf.
  for (int64_t r = 0; r < Qb; ++r) {
    corr[r] = -INFINITY;
    if (r >= u.nq) continue;
    const float* srow = s + r * lds;
    const int64_t lo = u.lo(a, r), hi = u.hi(a, r);
    const int64_t f0 = (lo + 15) / 16, f1 = hi / 16;  // vectors wholly inside
    __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0;
    int64_t i = f0;
    for (; i + 2 <= f1; i += 2) {
      m0 = _mm512_max_ps(m0, _mm512_loadu_ps(srow + 16 * i));
      m1 = _mm512_max_ps(m1, _mm512_loadu_ps(srow + 16 * i + 16));
    }
    if (i < f1) m0 = _mm512_max_ps(m0, _mm512_loadu_ps(srow + 16 * i));
    for (const int64_t e : {lo / 16, f1})  // partly covered vectors at either end
      if (const __mmask16 k = e < f0 || e >= f1 ? amx_lanes(e, lo, hi) : __mmask16{0}; k != 0)
        m1 = _mm512_max_ps(m1, _mm512_mask_loadu_ps(m1, k, srow + 16 * e));
    if (lo < hi) corr[r] = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
  }
  // New running maxima and the rescale, 16 rows at a time. A row with no key yet keeps -inf
  // and a rescale of 0 (its sum and output are still 0).
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  for (int64_t n = 0; n < Qb; n += 16) {
    const __m512 mold = _mm512_loadu_ps(m + n);
    const __m512 mnew = _mm512_max_ps(mold, _mm512_loadu_ps(corr + n));
    const __mmask16 had = _mm512_cmp_ps_mask(mold, ninf, _CMP_NEQ_OQ);
    _mm512_storeu_ps(corr + n, _mm512_maskz_mov_ps(had, amx_exp2(_mm512_sub_ps(mold, mnew))));
    _mm512_storeu_ps(m + n, mnew);
  }
  for (int64_t r = 0; r < Qb; ++r) {
    next.step();
    uint16_t* prow = pt + (r / 16) * kAmxTile + (r % 16) * 32;  // key step t at + 2t tiles
    const int64_t lo = r < u.nq ? u.lo(a, r) : 0, hi = r < u.nq ? u.hi(a, r) : 0;
    if (lo >= hi) {  // past nq, or no key of this row in the block
      for (int64_t t = 0; t < nk32 / 32; ++t)
        _mm512_storeu_si512(prow + t * 2 * kAmxTile, _mm512_setzero_si512());
      continue;
    }
    const float* srow = s + r * lds;
    const __m512 vm = _mm512_set1_ps(m[r]);
    const int64_t t0 = (lo + 31) / 32, t1 = hi / 32;  // steps of 32 keys wholly inside
    __m512 sum0 = _mm512_setzero_ps(), sum1 = sum0;
    for (int64_t t = 0; t < nk32 / 32; ++t) {
      __m512 p0, p1;
      if (t >= t0 && t < t1) {
        p0 = amx_exp2(_mm512_sub_ps(_mm512_loadu_ps(srow + 32 * t), vm));
        p1 = amx_exp2(_mm512_sub_ps(_mm512_loadu_ps(srow + 32 * t + 16), vm));
      } else {
        p0 = amx_prob(srow, 2 * t, lo, hi, vm);
        p1 = amx_prob(srow, 2 * t + 1, lo, hi, vm);
      }
      sum0 = _mm512_add_ps(sum0, p0);
      sum1 = _mm512_add_ps(sum1, p1);
      _mm512_storeu_si512(prow + t * 2 * kAmxTile, bf16x32(p0, p1));
    }
    l[r] = l[r] * corr[r] + _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
  }
}

// The key block's P·V into ob (acc when it is the query block's only one), 32 queries x 32 head
// dims (four tiles) at a time.
RIPVEC_AMX_TARGET void amx_stage_values(const AmxPipe& p, const AmxUnit& u) {
  const int64_t nk32 = (u.nk + 31) / 32 * 32, hd = p.hd, groups = p.groups;
  const uint16_t* pt = p.pt();
  const uint16_t* vblock = p.vt + ((u.k0 - p.kbase) / 32) * groups * kAmxTile;
  float* o = u.first && u.last ? p.acc() : p.ob();
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

// The key block's output merged: acc = acc · corr + ob (ob itself on the first key block; a
// query block's only key block wrote acc); after the last, out[q0 + r] = acc[r] / l[r] (l >= 1:
// a row's maximum contributes 2^0, and every query has at least itself as a key).
RIPVEC_AMX_TARGET void amx_stage_merge(const AmxPipe& p, const AmxUnit& u) {
  const int64_t hd = p.hd;
  const float* ob = p.ob();
  float* acc = p.acc();
  const float* corr = p.corr();
  if (!(u.first && u.last)) {
    for (int64_t r = 0; r < u.nq; ++r) {
      const __m512 cr = _mm512_set1_ps(corr[r]);
      for (int64_t c = 0; c < hd; c += 16) {
        const __m512 x = _mm512_loadu_ps(ob + r * hd + c);
        _mm512_storeu_ps(acc + r * hd + c,
                         u.first ? x : _mm512_fmadd_ps(_mm512_loadu_ps(acc + r * hd + c), cr, x));
      }
    }
  }
  if (!u.last) return;
  const float* l = p.l();
  for (int64_t r = 0; r < u.nq; ++r) {
    const __m512 inv = _mm512_set1_ps(1.0f / l[r]);
    float* dst = p.a.out + (u.q0 + r) * p.a.ldo;
    for (int64_t c = 0; c < hd; c += 16)
      _mm512_storeu_ps(dst + c, _mm512_mul_ps(_mm512_loadu_ps(acc + r * hd + c), inv));
  }
}

// Starts fetching the rows of the query block at q0 (if in range) into the caches: the first
// while K and V are packed, each next one while the block before it is computed. Loaded when
// needed, they were a quarter of the kernel's samples in a layer (qkv is far larger than the
// caches; perf, MiniLM BF16 layer, 2026-12-06).
inline void amx_fetch_queries(const AttnArgs& a, int64_t q0) {
  for (int64_t t = q0; t < std::min(a.q_end, q0 + kAttnQBlock); ++t)
    for (int64_t c = 0; c < a.head_dim; c += 16) __builtin_prefetch(a.q + t * a.ld + c, 0, 3);
}

// The task: K and V of the keys it needs into tiles (a.kv), then every key block of every query
// block of [q_begin, q_end). Loads the tile configuration and releases the tiles. Only where
// attention_amx_fits(a).
RIPVEC_AMX_TARGET void attention_amx_k(const AttnArgs& a) {
  if (a.q_end <= a.q_begin) return;
  const int64_t hd = a.head_dim;
  int64_t kbase = 0, kend = 0;
  amx_key_range(a, a.q_begin, a.q_end, kbase, kend);
  const int64_t keys32 = (kend - kbase + 31) / 32 * 32;
  auto* kt = reinterpret_cast<uint16_t*>(a.kv);
  uint16_t* vt = kt + keys32 * ((hd + 31) / 32 * 32);
  amx_fetch_queries(a, a.q_begin);
  amx_pack_keys(a, kbase, kend, keys32, kt);
  amx_pack_values(a, kbase, kend, keys32, vt);
  const AmxPipe p{a, kt, vt, kbase, hd, (hd + 31) / 32, hd / 16, a.work};
  int64_t steps = 0;  // softmax rows of this task: one fetch step each
  for (int64_t q0 = a.q_begin; q0 < a.q_end; q0 += AmxPipe::Qb) {
    int64_t k_begin = 0, k_end = 0;
    amx_key_range(a, q0, std::min(a.q_end, q0 + AmxPipe::Qb), k_begin, k_end);
    steps += AmxPipe::Qb * ((k_end - k_begin + AmxPipe::Kb - 1) / AmxPipe::Kb);
  }
  AmxNextFetch next(a.next, steps);
  _tile_loadconfig(&tile_config());
  for (int64_t q0 = a.q_begin; q0 < a.q_end; q0 += AmxPipe::Qb) {
    amx_fetch_queries(a, q0 + AmxPipe::Qb);
    AmxUnit u;
    u.q0 = q0;
    u.nq = std::min(AmxPipe::Qb, a.q_end - q0);
    int64_t k_begin = 0, k_end = 0;
    amx_key_range(a, q0, q0 + u.nq, k_begin, k_end);
    amx_stage_queries(p, u);
    for (u.k0 = k_begin; u.k0 < k_end; u.k0 += AmxPipe::Kb) {
      u.nk = std::min(AmxPipe::Kb, k_end - u.k0);
      u.first = u.k0 == k_begin;
      u.last = u.k0 + u.nk == k_end;
      amx_stage_scores(p, u);
      amx_stage_softmax(p, u, next);
      amx_stage_values(p, u);
      amx_stage_merge(p, u);
    }
  }
  _tile_release();
}

}  // namespace
}  // namespace ripvec::cpu
