// Flash attention on mma.sync tensor cores (the FlashAttention-2 scheme), for F16/BF16 packed
// QKV with cu_seqlens, global or sliding-window.
//
// A block of kWarps warps takes 16 * kWarps queries of one (sequence, head); each warp owns
// 16 query rows for the whole key loop. Q fragments stay in registers; K/V tiles of kBK keys
// stream through shared memory with cp.async, double-buffered so the next tile's load overlaps
// this tile's math. S = Q·Kᵀ, the online softmax (running max and sum in F32, exp2 with the
// scale folded in) and O += P·V all stay in registers: the S accumulator's layout is the A
// operand layout of the P·V product, so P never touches shared memory. Fragments come from
// shared memory with ldmatrix (.trans for V); rows are padded by 16 bytes so its eight row
// reads hit distinct banks. O is divided by the row sum once at the end and leaves through
// shared memory in 16-byte stores.
//
// Fragment layouts (PTX ISA, mma.m16n8k16, g = lane / 4, q = lane % 4):
//   A 16×16 row-major: r0 (g, 2q..2q+1), r1 (g+8, 2q..), r2 (g, 2q+8..), r3 (g+8, 2q+8..)
//   B 16×8  "col":     r0 (k 2q..2q+1, n g), r1 (k 2q+8.., n g)
//   C 16×8  F32:       c0,c1 (g, 2q..2q+1), c2,c3 (g+8, 2q..2q+1)
#pragma once

#include <cstdint>
#include <type_traits>

#include "driver/cuda/cuda_common.cuh"

namespace ripvec::cuda::flash {

constexpr int kWarps = 4;
constexpr int kBQ = 16 * kWarps;  // queries per block
constexpr int kBK = 64;           // keys per tile
constexpr int kPad = 8;           // elements of row padding (16 bytes)

template <int D>
struct Smem {
  static constexpr int ld = D + kPad;               // row stride (elements) of every tile
  static constexpr size_t tile = size_t(kBK) * ld;  // elements of one K or V tile
  static constexpr size_t q_tile = size_t(kBQ) * ld;
  // Q, then K[2], V[2]
  static constexpr size_t bytes = (q_tile + 4 * tile) * 2;
};

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte async copy global -> shared; src_bytes 0 zero-fills the destination.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  const int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(n));
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::);
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

template <class T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  if constexpr (std::is_same_v<T, __half>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, "
        "%7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

template <class T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  if constexpr (std::is_same_v<T, __half>) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  } else {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
}

// Loads rows [r0, r0 + kRows) of one head's D columns (block `which` of qkv: 0 Q, 1 K, 2 V)
// into a padded shared tile; rows at or past `len` are zero-filled.
template <class T, int D, int kRows>
__device__ __forceinline__ void load_tile_async(T* tile, const T* qkv, int64_t row_base, int r0,
                                                int len, int64_t H, int which, int h) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  for (int idx = threadIdx.x; idx < kRows * kChunks; idx += kWarps * 32) {
    const int r = idx / kChunks, c = (idx % kChunks) * 8;
    const bool valid = r0 + r < len;
    const T* src = qkv + (row_base + (valid ? r0 + r : 0)) * 3 * H + which * H + int64_t(h) * D + c;
    cp_async16(tile + r * Smem<D>::ld + c, src, valid);
  }
}

template <class T, int D>
__global__ void __launch_bounds__(kWarps * 32)
    flash_mma_kernel(T* __restrict__ out, const T* __restrict__ qkv, const int32_t* __restrict__ cu,
                     int nh, float scale_log2, int half_window) {
  using L = Smem<D>;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* Qs = reinterpret_cast<T*>(smem_raw);
  T* Ks = Qs + L::q_tile;  // two stages
  T* Vs = Ks + 2 * L::tile;

  const int b = blockIdx.z, h = blockIdx.y;
  const int q0 = blockIdx.x * kBQ;
  const int64_t row_base = cu[b];
  const int len = cu[b + 1] - cu[b];
  if (q0 >= len) return;
  const int64_t H = int64_t(nh) * D;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, qd = lane % 4;

  int k_begin = 0, k_end = len;
  if (half_window >= 0) {
    k_begin = max(0, q0 - half_window);
    k_end = min(len, q0 + kBQ + half_window);
  }
  k_begin = (k_begin / kBK) * kBK;
  const int n_tiles = (k_end - k_begin + kBK - 1) / kBK;

  load_tile_async<T, D, kBQ>(Qs, qkv, row_base, q0, len, H, 0, h);
  load_tile_async<T, D, kBK>(Ks, qkv, row_base, k_begin, len, H, 1, h);
  load_tile_async<T, D, kBK>(Vs, qkv, row_base, k_begin, len, H, 2, h);
  cp_async_commit();

  uint32_t qf[D / 16][4];
  float o[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  // Rows g and g + 8 of this warp's 16.
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};
  const int qi0 = q0 + warp * 16 + g, qi1 = qi0 + 8;

  for (int it = 0; it < n_tiles; ++it) {
    const int stage = it & 1;
    const int k0 = k_begin + it * kBK;
    if (it + 1 < n_tiles) {
      load_tile_async<T, D, kBK>(Ks + (stage ^ 1) * L::tile, qkv, row_base, k0 + kBK, len, H, 1, h);
      load_tile_async<T, D, kBK>(Vs + (stage ^ 1) * L::tile, qkv, row_base, k0 + kBK, len, H, 2, h);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (it == 0) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk)
        ldmatrix_x4(qf[kk], Qs + (warp * 16 + (lane & 15)) * L::ld + kk * 16 + (lane >> 4) * 8);
    }
    const T* Kt = Ks + stage * L::tile;
    const T* Vt = Vs + stage * L::tile;

    // S[16, kBK] = Q · Kᵀ
    float s[kBK / 8][4];
#pragma unroll
    for (int n = 0; n < kBK / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
      for (int n = 0; n < kBK / 8; n += 2) {
        uint32_t kb[4];
        const int key = n * 8 + (lane & 7) + ((lane >> 4) << 3);
        const int dim = kk * 16 + ((lane >> 3) & 1) * 8;
        ldmatrix_x4(kb, Kt + key * L::ld + dim);
        mma16816<T>(s[n], qf[kk], kb[0], kb[1]);
        mma16816<T>(s[n + 1], qf[kk], kb[2], kb[3]);
      }
    }

    // Masking: keys past the sequence, and outside the window for local layers.
    const bool need_mask = half_window >= 0 || k0 + kBK > len;
    float tmax[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kBK / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float v = s[n][e] * scale_log2;
        if (need_mask) {
          const int j = k0 + n * 8 + 2 * qd + (e & 1);
          const int qi = e < 2 ? qi0 : qi1;
          bool ok = j < len;
          if (half_window >= 0) ok = ok && j >= qi - half_window && j <= qi + half_window;
          v = ok ? v : -INFINITY;
        }
        s[n][e] = v;
        tmax[e >> 1] = fmaxf(tmax[e >> 1], v);
      }
    }
    float alpha[2], m_use[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(0xffffffffu, tmax[r], 1));
      tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(0xffffffffu, tmax[r], 2));
      const float m_new = fmaxf(m_run[r], tmax[r]);
      m_use[r] = m_new == -INFINITY ? 0.f : m_new;  // a row with nothing visible yet
      alpha[r] = exp2f(m_run[r] - m_use[r]);
      m_run[r] = m_new;
      l_run[r] *= alpha[r];
    }
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      o[n][0] *= alpha[0];
      o[n][1] *= alpha[0];
      o[n][2] *= alpha[1];
      o[n][3] *= alpha[1];
    }
    // P = exp2(S - m), packed straight into A fragments of the P·V product.
    uint32_t pf[kBK / 16][4];
#pragma unroll
    for (int n = 0; n < kBK / 8; ++n) {
      const float p0 = exp2f(s[n][0] - m_use[0]), p1 = exp2f(s[n][1] - m_use[0]);
      const float p2 = exp2f(s[n][2] - m_use[1]), p3 = exp2f(s[n][3] - m_use[1]);
      l_run[0] += p0 + p1;
      l_run[1] += p2 + p3;
      pf[n / 2][(n & 1) * 2 + 0] = pack2<T>(p0, p1);
      pf[n / 2][(n & 1) * 2 + 1] = pack2<T>(p2, p3);
    }
    // O[16, D] += P[16, kBK] · V[kBK, D]
#pragma unroll
    for (int ks = 0; ks < kBK / 16; ++ks) {
#pragma unroll
      for (int n = 0; n < D / 8; n += 2) {
        uint32_t vb[4];
        const int key = ks * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
        const int dim = n * 8 + (lane >> 4) * 8;
        ldmatrix_x4_trans(vb, Vt + key * L::ld + dim);
        mma16816<T>(o[n], pf[ks], vb[0], vb[1]);
        mma16816<T>(o[n + 1], pf[ks], vb[2], vb[3]);
      }
    }
    __syncthreads();  // this stage is refilled two iterations from now
  }

  // Row sums over the quad, normalize, stage the warp's 16 rows in (now idle) Q smem, then
  // 16-byte stores of the rows that exist.
  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float l = l_run[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    inv[r] = l > 0.f ? 1.f / l : 0.f;
  }
  T* Ow = Qs + warp * 16 * L::ld;
#pragma unroll
  for (int n = 0; n < D / 8; ++n) {
    const int c = n * 8 + 2 * qd;
    *reinterpret_cast<uint32_t*>(Ow + g * L::ld + c) = pack2<T>(o[n][0] * inv[0], o[n][1] * inv[0]);
    *reinterpret_cast<uint32_t*>(Ow + (g + 8) * L::ld + c) =
        pack2<T>(o[n][2] * inv[1], o[n][3] * inv[1]);
  }
  __syncwarp();
  constexpr int kChunks = D / 8;
#pragma unroll
  for (int idx = lane; idx < 16 * kChunks; idx += 32) {
    const int r = idx / kChunks, c = (idx % kChunks) * 8;
    const int qi = q0 + warp * 16 + r;
    if (qi < len)
      *reinterpret_cast<uint4*>(out + (row_base + qi) * H + int64_t(h) * D + c) =
          *reinterpret_cast<const uint4*>(Ow + r * L::ld + c);
  }
}

}  // namespace ripvec::cuda::flash
