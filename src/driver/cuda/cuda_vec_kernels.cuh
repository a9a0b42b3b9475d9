// Vectorized kernels for the memory-bound operations of the hot path: every thread moves
// 8 elements with 16-byte (F16/BF16) or 2×16-byte (F32) accesses and uses 32-bit index
// arithmetic, one division per 8 elements. The generic grid-stride kernels in
// cuda_driver.cu remain for shapes these do not take (a row length not a multiple of 8, or
// more than 2^31 elements).
#pragma once

#include "driver/cuda/cuda_common.cuh"

namespace ripvec::cuda {

template <class T>
__device__ __forceinline__ void load8(const T* p, float* f) {
  if constexpr (sizeof(T) == 2) {
    uint4 u = *reinterpret_cast<const uint4*>(p);
    const T* t = reinterpret_cast<const T*>(&u);
#pragma unroll
    for (int i = 0; i < 8; ++i) f[i] = to_f(t[i]);
  } else {
    const float4 a = reinterpret_cast<const float4*>(p)[0];
    const float4 b = reinterpret_cast<const float4*>(p)[1];
    f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w;
    f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
  }
}

template <class T>
__device__ __forceinline__ void store8(T* p, const float* f) {
  if constexpr (sizeof(T) == 2) {
    uint4 u;
    T* t = reinterpret_cast<T*>(&u);
#pragma unroll
    for (int i = 0; i < 8; ++i) t[i] = from_f<T>(f[i]);
    *reinterpret_cast<uint4*>(p) = u;
  } else {
    reinterpret_cast<float4*>(p)[0] = make_float4(f[0], f[1], f[2], f[3]);
    reinterpret_cast<float4*>(p)[1] = make_float4(f[4], f[5], f[6], f[7]);
  }
}

// Parameter vector (bias, gamma, beta) of run-time dtype, 8 at a time.
__device__ __forceinline__ void load8(const Param& p, int64_t i, float* f) {
  switch (p.dt) {
    case static_cast<int>(DType::F32): load8(static_cast<const float*>(p.p) + i, f); return;
    case static_cast<int>(DType::F16): load8(static_cast<const __half*>(p.p) + i, f); return;
    default: load8(static_cast<const __nv_bfloat16*>(p.p) + i, f); return;
  }
}

enum class VAct { None, Gelu, GeluTanh, Silu };
__device__ __forceinline__ float vact(VAct a, float x) {
  switch (a) {
    case VAct::Gelu: return gelu_erf(x);
    case VAct::GeluTanh: return gelu_tanh_f(x);
    case VAct::Silu: return silu_f(x);
    default: return x;
  }
}

// x = act(x + bias), x [rows, cols], cols % 8 == 0.
template <class T>
__global__ void bias_act_vec(T* x, Param bias, uint32_t n8, uint32_t cols8, VAct act) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n8) return;
  float v[8], b[8];
  load8(x + size_t(i) * 8, v);
  if (bias.valid()) {
    load8(bias, int64_t(i % cols8) * 8, b);
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] += b[k];
  }
#pragma unroll
  for (int k = 0; k < 8; ++k) v[k] = vact(act, v[k]);
  store8(x + size_t(i) * 8, v);
}

// out = a + bias + r (any may alias), cols % 8 == 0.
template <class T>
__global__ void add3_vec(T* out, const T* a, Param bias, const T* r, uint32_t n8, uint32_t cols8) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n8) return;
  float va[8], vr[8];
  load8(a + size_t(i) * 8, va);
  load8(r + size_t(i) * 8, vr);
  if (bias.valid()) {
    float b[8];
    load8(bias, int64_t(i % cols8) * 8, b);
#pragma unroll
    for (int k = 0; k < 8; ++k) va[k] += b[k];
  }
#pragma unroll
  for (int k = 0; k < 8; ++k) va[k] += vr[k];
  store8(out + size_t(i) * 8, va);
}

// out[r, i] = act(in[r, i]) * in[r, I + i], I % 8 == 0.
template <class T>
__global__ void gated_vec(T* out, const T* in, uint32_t n8, uint32_t I8, VAct act) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n8) return;
  const uint32_t r = i / I8, c8 = i % I8;
  const size_t base = size_t(r) * 16 * I8 + size_t(c8) * 8;
  float a[8], g[8];
  load8(in + base, a);
  load8(in + base + size_t(I8) * 8, g);
#pragma unroll
  for (int k = 0; k < 8; ++k) a[k] = vact(act, a[k]) * g[k];
  store8(out + size_t(i) * 8, a);
}

// RoPE on Q and K of qkv[T, 3H]: thread = (token, head in [0, 2nh), 8 pairs). half % 8 == 0.
template <class T>
__global__ void rope_vec(T* qkv, const int32_t* pos, const float* cosv, const float* sinv,
                         uint32_t n, uint32_t heads2, uint32_t half8, uint32_t d) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const uint32_t j8 = i % half8, h = (i / half8) % heads2, t = i / (half8 * heads2);
  const uint32_t half = half8 * 8;
  const size_t H = size_t(heads2 / 2) * d;
  T* base = qkv + size_t(t) * 3 * H + size_t(h) * d + j8 * 8;
  const float* c = cosv + size_t(pos[t]) * half + j8 * 8;
  const float* s = sinv + size_t(pos[t]) * half + j8 * 8;
  float x1[8], x2[8], cv[8], sv[8];
  load8(base, x1);
  load8(base + half, x2);
  load8(c, cv);
  load8(s, sv);
  float o1[8], o2[8];
#pragma unroll
  for (int k = 0; k < 8; ++k) {
    o1[k] = x1[k] * cv[k] - x2[k] * sv[k];
    o2[k] = x2[k] * cv[k] + x1[k] * sv[k];
  }
  store8(base, o1);
  store8(base + half, o2);
}

// out = LN(x + bias + residual) * gamma + beta, one warp per row, cols % 8 == 0 and
// cols <= 8 * 32 * kChunks. The row stays in registers between the passes.
template <class T, int kChunks>
__global__ void layer_norm_warp(T* out, const T* x, Param bias, const T* residual, Param gamma,
                                Param beta, uint32_t rows, uint32_t cols, float eps) {
  const uint32_t warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= rows) return;
  const uint32_t chunks = cols / 8;
  const size_t row = size_t(warp) * cols;
  float v[kChunks][8];
  float s = 0.f;
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const uint32_t ch = lane + 32 * c;
    if (ch < chunks) {
      load8(x + row + ch * 8, v[c]);
      if (residual) {
        float r[8];
        load8(residual + row + ch * 8, r);
#pragma unroll
        for (int k = 0; k < 8; ++k) v[c][k] += r[k];
      }
      if (bias.valid()) {
        float b[8];
        load8(bias, ch * 8, b);
#pragma unroll
        for (int k = 0; k < 8; ++k) v[c][k] += b[k];
      }
#pragma unroll
      for (int k = 0; k < 8; ++k) s += v[c][k];
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  const float mean = s / cols;
  float q = 0.f;
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const uint32_t ch = lane + 32 * c;
    if (ch < chunks) {
#pragma unroll
      for (int k = 0; k < 8; ++k) {
        const float dlt = v[c][k] - mean;
        q += dlt * dlt;
      }
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) q += __shfl_xor_sync(0xffffffffu, q, o);
  const float inv = rsqrtf(q / cols + eps);
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const uint32_t ch = lane + 32 * c;
    if (ch < chunks) {
      float g[8], b[8], o[8];
      load8(gamma, ch * 8, g);
      if (beta.valid()) load8(beta, ch * 8, b);
#pragma unroll
      for (int k = 0; k < 8; ++k) o[k] = (v[c][k] - mean) * inv * g[k] + (beta.valid() ? b[k] : 0.f);
      store8(out + row + ch * 8, o);
    }
  }
}

}  // namespace ripvec::cuda
