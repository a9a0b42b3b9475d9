// Internal to cpu_bf16_gemm.cpp: the AMX-BF16 kernel (cpu_bf16_gemm.hpp), in a header of its
// own so that tests/driver/bf16_amx_sim_test.cpp can compile the same code against an emulation
// of the tile instructions written from Intel's documented semantics (it defines the _tile_*
// names before including this file) and check the tile configuration, the pair layout of the
// packed weights and the block bookkeeping on any CPU. Everything here has internal linkage:
// each including translation unit gets its own copy. Needs <immintrin.h> (x86-64 only).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <functional>

#include "driver/cpu/cpu_amx_tiles.hpp"
#include "driver/cpu/cpu_bf16_gemm.hpp"
#include "driver/cpu/cpu_bf16_vec.hpp"
#include "driver/cpu/cpu_gemm_tasks.hpp"
#include "util/thread_pool.hpp"

namespace ripvec::cpu {
namespace {

constexpr int64_t kStep = 32;       // k per tile step (32 BF16 = one 64-byte tile row)
constexpr int64_t kPanel = 32;      // output channels per packed panel (two 16-column tiles)
constexpr int64_t kRowBlock = 128;  // rows of one pool task (four 32-row register blocks)

// The activations are converted into the tiles' own layout: rows in groups of 16, and per group
// kp / 32 blocks of 16 rows x 32 values (1 KiB each, one tile), so that a tile load reads 1 KiB
// in order. A row-major copy (rows kp * 2 bytes apart) made each tile load touch 16 lines at a
// stride: loads were 56% of the kernel's samples, the products 24% (perf, 2026-12-06).
constexpr int64_t kTileElems = 16 * kStep;  // one 16 x 32 BF16 tile

// Row r of the activations (x[0..k), or zeros when x is null; zeros beyond k) into the tile
// layout `act` of rows padded to kp: element (r, c) at
// ((r / 16) * (kp / 32) + c / 32) * 512 + (r % 16) * 32 + c % 32.
RIPVEC_AMX_TARGET void convert_row_amx(const float* x, int64_t r, int64_t k, int64_t kp,
                                       uint16_t* act) {
  uint16_t* dst = act + (r / 16) * kp * 16 + (r % 16) * kStep;
  const int64_t full = x != nullptr ? k / kStep : 0;
  for (int64_t s = 0; s < full; ++s) {
    const __m512 lo = _mm512_loadu_ps(x + s * kStep), hi = _mm512_loadu_ps(x + s * kStep + 16);
    _mm512_storeu_si512(dst + s * kTileElems, bf16x32(lo, hi));
  }
  for (int64_t s = full; s < kp / kStep; ++s)
    for (int64_t c = 0; c < kStep; ++c) {
      const int64_t col = s * kStep + c;
      dst[s * kTileElems + c] = x != nullptr && col < k ? bf16_bits(x[col]) : uint16_t{0};
    }
}

struct AmxBlock {
  const Bf16Weight* w;
  const uint16_t* act;  // the task's first row group (convert_row_amx's layout)
  float* y;
  int64_t ldc, rows;  // rows of y to write
  int64_t p0, p1;     // panels of 32 channels
  const float* bias;
  void (*gelu)(float*, int64_t);
};

// The sums of one 32 x 32 block: rows r..r+32 of the task's activations `act` (convert_row_amx's
// layout), channels of panel p of w, into sums (FP32, no bias).
RIPVEC_AMX_TARGET inline void tile_sums_amx(const Bf16Weight& w, const uint16_t* act, int64_t p,
                                            int64_t r, float (*sums)[32]) {
  const int64_t kp = w.kp, steps = kp / kStep;
  const uint16_t* panel = w.packed.data() + p * kp * kPanel;
  const uint16_t* a0 = act + r * kp;  // row groups r / 16 and r / 16 + 1
  const uint16_t* a1 = a0 + 16 * kp;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t s = 0; s < steps; ++s) {
    const uint16_t* bt = panel + s * 1024;
    _tile_loadd(4, a0 + s * kTileElems, 64);
    _tile_loadd(5, a1 + s * kTileElems, 64);
    _tile_loadd(6, bt, 64);
    _tile_loadd(7, bt + 512, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, &sums[0][0], 128);
  _tile_stored(1, &sums[0][16], 128);
  _tile_stored(2, &sums[16][0], 128);
  _tile_stored(3, &sums[16][16], 128);
}

// Lane masks of a panel's two 16-channel halves that hold channels below n.
struct PanelMasks {
  int64_t col0, cols;
  __mmask16 m0, m1;
  PanelMasks(int64_t p, int64_t n)
      : col0(p * kPanel),
        cols(std::min<int64_t>(kPanel, n - p * kPanel)),
        m0(static_cast<__mmask16>(cols >= 16 ? 0xffff : (1u << cols) - 1)),
        m1(static_cast<__mmask16>(cols >= 32   ? 0xffff
                                  : cols <= 16 ? 0
                                               : (1u << (cols - 16)) - 1)) {}
};

// One 32 x 32 block of y: rows r..r+32 of the task, channels of panel p.
RIPVEC_AMX_TARGET inline void tile_block_amx(const AmxBlock& b, int64_t p, int64_t r,
                                             float (*sums)[32]) {
  tile_sums_amx(*b.w, b.act, p, r, sums);
  const PanelMasks pm(p, b.w->n);
  const int64_t rows = std::min<int64_t>(32, b.rows - r);
  const __m512 bias0 =
      b.bias ? _mm512_maskz_loadu_ps(pm.m0, b.bias + pm.col0) : _mm512_setzero_ps();
  const __m512 bias1 =
      b.bias ? _mm512_maskz_loadu_ps(pm.m1, b.bias + pm.col0 + 16) : _mm512_setzero_ps();
  for (int64_t i = 0; i < rows; ++i) {
    float* yr = b.y + (r + i) * b.ldc + pm.col0;
    _mm512_mask_storeu_ps(yr, pm.m0, _mm512_add_ps(_mm512_load_ps(&sums[i][0]), bias0));
    _mm512_mask_storeu_ps(yr + 16, pm.m1, _mm512_add_ps(_mm512_load_ps(&sums[i][16]), bias1));
    if (b.gelu) b.gelu(yr, pm.cols);
  }
}

// The task's blocks, 32 rows at a time across its panels: the rows' activations (32 x kp, 24 KiB
// at k = 384) stay in L1 while the panels stream from L2. Panels outer, with the task's 128 rows'
// activations re-read from L2 for each panel, took 1.6x as long on the qkv projection (MiniLM
// layer, 2 threads, 2026-12-06); prefetching the operands two steps ahead gained nothing.
RIPVEC_AMX_TARGET void block_amx(const AmxBlock& b) {
  _tile_loadconfig(&tile_config());
  alignas(64) float sums[32][32];
  for (int64_t r = 0; r < b.rows; r += 32)
    for (int64_t p = b.p0; p < b.p1; ++p) tile_block_amx(b, p, r, sums);
  _tile_release();
}

// The packed panels of Bf16Weight for the AMX kernel (kp, n_pad, packed; layout in
// cpu_bf16_gemm.hpp).
void pack_amx(Bf16Weight& q, const float* w, int64_t n, int64_t k) {
  q.kp = (k + kStep - 1) / kStep * kStep;
  q.n_pad = (n + kPanel - 1) / kPanel * kPanel;
  q.packed.assign(static_cast<size_t>(q.n_pad * q.kp), 0);
  const int64_t kp = q.kp;
  parallel_for(0, q.n_pad / kPanel, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      uint16_t* panel = q.packed.data() + p * kp * kPanel;
      for (int64_t jj = 0; jj < kPanel && p * kPanel + jj < n; ++jj) {
        const float* row = w + (p * kPanel + jj) * k;
        // Tile (jj / 16) of each step; within it pair row kk, column jj % 16, element e.
        for (int64_t c = 0; c < k; ++c) {
          const int64_t s = c / kStep, kk = (c % kStep) / 2, e = c % 2;
          panel[s * 1024 + (jj / 16) * 512 + kk * 32 + (jj % 16) * 2 + e] = bf16_bits(row[c]);
        }
      }
    }
  });
}

// y[m, n] (ldc) = bias + bf16(x) bf16(W) (then GELU via gelu when not null, then each row
// through norm when not null: in the task that made it when tasks make whole rows) on the pool.
void amx_linear(const Bf16Weight& w, const float* x, int64_t lda, float* y, int64_t ldc, int64_t m,
                const float* bias, void (*gelu)(float*, int64_t), Bf16Scratch& s,
                const RowNorm* norm = nullptr) {
  const int64_t k = w.k, n = w.n;
  const int64_t threads = ThreadPool::global().size();
  const int64_t kp = w.kp, m_pad = (m + 31) / 32 * 32;
  if (s.act.size() < static_cast<size_t>(m_pad * kp)) s.act.resize(static_cast<size_t>(m_pad * kp));
  uint16_t* act = s.act.data();
  auto convert = [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) convert_row_amx(r < m ? x + r * lda : nullptr, r, k, kp, act);
  };
  run_tasks(m_pad, 16, m * k < 32768, convert);
  const GemmTasks split(m, kRowBlock, w.n_pad / kPanel, threads);
  const bool norm_in_task = norm != nullptr && split.groups == 1;
  auto run = [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t r0 = split.row_block(t) * kRowBlock;
      AmxBlock b{&w,
                 act + r0 * kp,
                 y + r0 * ldc,
                 ldc,
                 std::min(kRowBlock, m - r0),
                 split.panel0(t),
                 split.panel1(t),
                 bias,
                 gelu};
      block_amx(b);
      if (norm_in_task)  // the task's rows (192 KiB at n = 384) are still in L2
        for (int64_t i = 0; i < b.rows; ++i) norm->row(y, ldc, r0 + i, n);
    }
  };
  const double flops = 2.0 * double(m) * double(n) * double(k);
  run_tasks(split.count, 1, flops < 2e6, run);
  if (norm != nullptr && !norm_in_task) norm->all_rows(y, ldc, m, n);
}

// The up projection's 32 x 32 block (rows r..r+32 of the task, panel p of wi) through bias and
// gelu into the intermediate `inter` in convert_row_amx's layout (rows padded to wi.n_pad =
// the down weight's kp): the values amx_linear(wi, gelu) would store, rounded as
// convert_row_amx would round them, zeros past wi.n.
RIPVEC_AMX_TARGET inline void tile_block_up_amx(const Bf16Weight& wi, const uint16_t* act,
                                                const float* bias, void (*gelu)(float*, int64_t),
                                                int64_t p, int64_t r, uint16_t* inter,
                                                float (*sums)[32]) {
  tile_sums_amx(wi, act, p, r, sums);
  const PanelMasks pm(p, wi.n);
  const __m512 bias0 = bias ? _mm512_maskz_loadu_ps(pm.m0, bias + pm.col0) : _mm512_setzero_ps();
  const __m512 bias1 =
      bias ? _mm512_maskz_loadu_ps(pm.m1, bias + pm.col0 + 16) : _mm512_setzero_ps();
  const int64_t blocks = wi.n_pad / kStep;  // tiles per 16-row group of the intermediate
  for (int64_t i = 0; i < 32; ++i) {
    float* row = &sums[i][0];
    _mm512_store_ps(row, _mm512_add_ps(_mm512_load_ps(row), bias0));
    _mm512_store_ps(row + 16, _mm512_add_ps(_mm512_load_ps(row + 16), bias1));
    if (gelu) gelu(row, pm.cols);
    const __m512 lo = _mm512_maskz_mov_ps(pm.m0, _mm512_load_ps(row));
    const __m512 hi = _mm512_maskz_mov_ps(pm.m1, _mm512_load_ps(row + 16));
    const int64_t rr = r + i;
    _mm512_store_si512(inter + ((rr / 16) * blocks + p) * kTileElems + (rr % 16) * kStep,
                       bf16x32(lo, hi));
  }
}

struct AmxFfnJob {
  const Bf16Weight *wi, *wo;
  const uint16_t* act;  // the input rows (convert_row_amx's layout)
  uint16_t* inter;      // slots of kRowBlock x wo->kp values
  int64_t slot;
  float* out;
  int64_t ldc, m;
  const float* bias;
  void (*gelu)(float*, int64_t);
  std::atomic<int64_t>* next;  // the next row block to take
  const RowNorm* norm;         // nullable: each finished row block's rows through it
};

// Row blocks of the job taken one at a time until none is left, with slot sl's buffer.
RIPVEC_AMX_TARGET void amx_ffn_slot(const AmxFfnJob& j, int64_t sl) {
  _tile_loadconfig(&tile_config());
  alignas(64) float sums[32][32];
  const Bf16Weight &wi = *j.wi, &wo = *j.wo;
  uint16_t* inter = j.inter + sl * j.slot;
  const int64_t blocks = (j.m + kRowBlock - 1) / kRowBlock;
  for (int64_t t; (t = j.next->fetch_add(1, std::memory_order_relaxed)) < blocks;) {
    const int64_t r0 = t * kRowBlock, rows = std::min(kRowBlock, j.m - r0);
    for (int64_t r = 0; r < rows; r += 32)
      for (int64_t p = 0; p < wi.n_pad / kPanel; ++p)
        tile_block_up_amx(wi, j.act + r0 * wi.kp, j.bias, j.gelu, p, r, inter, sums);
    const AmxBlock down{&wo,     inter,  j.out + r0 * j.ldc, j.ldc, rows, 0, wo.n_pad / kPanel,
                        nullptr, nullptr};
    for (int64_t r = 0; r < rows; r += 32)
      for (int64_t p = 0; p < wo.n_pad / kPanel; ++p) tile_block_amx(down, p, r, sums);
    if (j.norm != nullptr)  // the block's rows (192 KiB at H = 384) are still in L2
      for (int64_t i = 0; i < rows; ++i) j.norm->row(j.out, j.ldc, r0 + i, wo.n);
  }
  _tile_release();
}

// Tasks of the fused FFN: row blocks of kRowBlock, at least two per thread (fewer leave threads
// idle that the two separate products would have kept busy by splitting their panels).
inline bool amx_ffn_fuses(int64_t m, int64_t threads) {
  return (m + kRowBlock - 1) / kRowBlock >= 2 * threads;
}

// out[m, wo.n] (ldc) = bf16(gelu(bf16(x) bf16(Wi) + bias)) bf16(Wo), gelu may be null: the FFN's
// two products, row block by row block. A task's intermediate rows (kRowBlock x wi.n: 384 KiB
// at MiniLM's 1,536) go from the up projection's epilogue, in the tiles' layout, into a buffer
// of the thread's own, where the down projection reads them back from L2: they are never stored
// in FP32 nor converted by a pass of their own. Bit for bit what amx_linear(wi, bias, gelu) then
// amx_linear(wo) compute, then norm's rows (bf16_ffn). Needs wo.k == wi.n and
// amx_ffn_fuses(m, pool threads); s.inter holds
// a kRowBlock x wo.kp slot per pool thread.
RIPVEC_AMX_TARGET void amx_ffn(const Bf16Weight& wi, const Bf16Weight& wo, const float* x,
                               int64_t lda, float* out, int64_t ldc, int64_t m, const float* bias,
                               void (*gelu)(float*, int64_t), Bf16Scratch& s,
                               const RowNorm* norm = nullptr) {
  const int64_t threads = ThreadPool::global().size();
  const int64_t kp = wi.kp, m_pad = (m + 31) / 32 * 32, slot = kRowBlock * wo.kp;
  if (s.act.size() < static_cast<size_t>(m_pad * kp)) s.act.resize(static_cast<size_t>(m_pad * kp));
  if (s.inter.size() < static_cast<size_t>(threads * slot))
    s.inter.resize(static_cast<size_t>(threads * slot));
  uint16_t* act = s.act.data();
  auto convert = [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      convert_row_amx(r < m ? x + r * lda : nullptr, r, wi.k, kp, act);
  };
  run_tasks(m_pad, 16, false, convert);
  std::atomic<int64_t> next{0};
  const AmxFfnJob job{&wi, &wo, act, s.inter.data(), slot, out, ldc, m, bias, gelu, &next, norm};
  // One call per slot (grain 1 over [0, threads): the pool hands each index out once); each takes
  // row blocks until none is left, so a slot's buffer is never shared.
  auto run = [&job](int64_t lo, int64_t hi) {
    for (int64_t sl = lo; sl < hi; ++sl) amx_ffn_slot(job, sl);
  };
  run_tasks(threads, 1, false, run);
}

}  // namespace
}  // namespace ripvec::cpu
