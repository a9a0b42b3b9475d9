// Flash-style attention over packed QKV with cu_seqlens (no padding, no score matrix in
// device memory), global or sliding-window.
//
// F16/BF16: one block of 4 warps takes 64 queries of one (sequence, head); K/V tiles of 64 keys
// stream through shared memory; QKᵀ and PV run on tensor cores (WMMA 16×16×16, F32
// accumulators); the softmax is the online (running max / running sum) form in F32. A local
// layer's block only visits key tiles that intersect its window.
// F32 (the check mode): a plain kernel, one thread per query, same online softmax.
#include <mma.h>

#include <cstdlib>
#include <string>

#include "driver/cuda/cuda_common.cuh"
#include "driver/cuda/cuda_driver.hpp"
#include "driver/cuda/cuda_flash_mma.cuh"

namespace ripvec {

using cuda::check_launch;
using cuda::from_f;
using cuda::to_f;

namespace {

constexpr int kBQ = 64;     // queries per block
constexpr int kBK = 64;     // keys per tile
constexpr int kWarps = 4;   // 16 query rows per warp
constexpr int kPadT = 8;    // row padding (elements) for 16-bit tiles: keeps 16-byte alignment
constexpr int kPadF = 4;    // row padding for float tiles

template <int D>
struct FlashSmem {
  static constexpr int ldt = D + kPadT;     // Q, K, V row stride
  static constexpr int lds = kBK + kPadF;   // S row stride (float)
  static constexpr int ldp = kBK + kPadT;   // P row stride
  static constexpr int ldo = D + kPadF;     // O row stride (float)
  static constexpr size_t q_off = 0;
  static constexpr size_t k_off = q_off + size_t(kBQ) * ldt * 2;
  static constexpr size_t v_off = k_off + size_t(kBK) * ldt * 2;
  static constexpr size_t s_off = v_off + size_t(kBK) * ldt * 2;
  static constexpr size_t p_off = s_off + size_t(kBQ) * lds * 4;
  static constexpr size_t o_off = p_off + size_t(kBQ) * ldp * 2;
  static constexpr size_t bytes = o_off + size_t(kBQ) * ldo * 4;
};

// Copies rows [r0, r0 + 64) of one head's D columns (block `which` of qkv: 0 Q, 1 K, 2 V) into
// a shared tile with 16-byte loads; rows past `rend` are zero.
template <class T, int D>
__device__ void load_tile(T* tile, const T* qkv, int64_t row_base, int r0, int rend, int64_t H,
                          int which, int h) {
  constexpr int kVec = 8;  // 8 × 16-bit = 16 bytes
  constexpr int kPerRow = D / kVec;
  for (int idx = threadIdx.x; idx < kBQ * kPerRow; idx += blockDim.x) {
    const int r = idx / kPerRow, c = (idx % kPerRow) * kVec;
    uint4 val = make_uint4(0, 0, 0, 0);
    if (r0 + r < rend)
      val = *reinterpret_cast<const uint4*>(qkv + (row_base + r0 + r) * 3 * H + which * H +
                                            int64_t(h) * D + c);
    *reinterpret_cast<uint4*>(tile + r * FlashSmem<D>::ldt + c) = val;
  }
}

template <class T, int D>
__global__ void __launch_bounds__(kWarps * 32)
    flash_attention_kernel(T* out, const T* qkv, const int32_t* cu, int nh, float scale,
                           int half_window) {
  using namespace nvcuda;
  using L = FlashSmem<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  T* Qs = reinterpret_cast<T*>(smem + L::q_off);
  T* Ks = reinterpret_cast<T*>(smem + L::k_off);
  T* Vs = reinterpret_cast<T*>(smem + L::v_off);
  float* Ss = reinterpret_cast<float*>(smem + L::s_off);
  T* Ps = reinterpret_cast<T*>(smem + L::p_off);
  float* Os = reinterpret_cast<float*>(smem + L::o_off);

  const int b = blockIdx.z, h = blockIdx.y;
  const int q0 = blockIdx.x * kBQ;
  const int64_t row_base = cu[b];
  const int len = cu[b + 1] - cu[b];
  if (q0 >= len) return;
  const int64_t H = int64_t(nh) * D;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  load_tile<T, D>(Qs, qkv, row_base, q0, len, H, 0, h);
  for (int i = threadIdx.x; i < kBQ * L::ldo; i += blockDim.x) Os[i] = 0.f;

  // Two lanes per query row: lane owns row (lane / 2) of its warp's 16, half (lane % 2).
  const int my_row = warp * 16 + lane / 2;
  const int my_half = lane % 2;
  const int qi = q0 + my_row;
  float m_run = -INFINITY, l_run = 0.f;

  int k_begin = 0, k_end = len;
  if (half_window >= 0) {
    k_begin = max(0, q0 - half_window);
    k_end = min(len, q0 + kBQ - 1 + half_window + 1);
  }
  k_begin = (k_begin / kBK) * kBK;

  for (int k0 = k_begin; k0 < k_end; k0 += kBK) {
    __syncthreads();  // previous tile's readers are done
    load_tile<T, D>(Ks, qkv, row_base, k0, len, H, 1, h);
    load_tile<T, D>(Vs, qkv, row_base, k0, len, H, 2, h);
    __syncthreads();

    // S_w[16, 64] = Q_w[16, D] · Kᵀ
    {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kBK / 16];
#pragma unroll
      for (int n = 0; n < kBK / 16; ++n) wmma::fill_fragment(acc[n], 0.f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::load_matrix_sync(a, Qs + warp * 16 * L::ldt + kk * 16, L::ldt);
#pragma unroll
        for (int n = 0; n < kBK / 16; ++n) {
          wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> bf;
          wmma::load_matrix_sync(bf, Ks + n * 16 * L::ldt + kk * 16, L::ldt);
          wmma::mma_sync(acc[n], a, bf, acc[n]);
        }
      }
#pragma unroll
      for (int n = 0; n < kBK / 16; ++n)
        wmma::store_matrix_sync(Ss + warp * 16 * L::lds + n * 16, acc[n], L::lds,
                                wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax on this lane's half row (32 keys).
    float* srow = Ss + my_row * L::lds + my_half * 32;
    T* prow = Ps + my_row * L::ldp + my_half * 32;
    float vals[32];
    float tmax = -INFINITY;
#pragma unroll
    for (int c = 0; c < 32; ++c) {
      const int j = k0 + my_half * 32 + c;
      bool ok = j < len;
      if (half_window >= 0) ok = ok && j >= qi - half_window && j <= qi + half_window;
      vals[c] = ok ? srow[c] * scale : -INFINITY;
      tmax = fmaxf(tmax, vals[c]);
    }
    tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 1));
    const float m_new = fmaxf(m_run, tmax);
    float psum = 0.f;
    const float alpha = (m_new == -INFINITY) ? 1.f : __expf(m_run - m_new);
#pragma unroll
    for (int c = 0; c < 32; ++c) {
      const float p = (vals[c] == -INFINITY) ? 0.f : __expf(vals[c] - m_new);
      psum += p;
      prow[c] = from_f<T>(p);
    }
    psum += __shfl_xor_sync(0xffffffffu, psum, 1);
    l_run = l_run * alpha + psum;
    m_run = m_new;
    float* orow = Os + my_row * L::ldo + my_half * (D / 2);
#pragma unroll
    for (int c = 0; c < D / 2; ++c) orow[c] *= alpha;
    __syncwarp();

    // O_w[16, D] += P_w[16, 64] · V[64, D]
#pragma unroll
    for (int n = 0; n < D / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> o;
      wmma::load_matrix_sync(o, Os + warp * 16 * L::ldo + n * 16, L::ldo, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kBK / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> bf;
        wmma::load_matrix_sync(a, Ps + warp * 16 * L::ldp + kk * 16, L::ldp);
        wmma::load_matrix_sync(bf, Vs + kk * 16 * L::ldt + n * 16, L::ldt);
        wmma::mma_sync(o, a, bf, o);
      }
      wmma::store_matrix_sync(Os + warp * 16 * L::ldo + n * 16, o, L::ldo, wmma::mem_row_major);
    }
    __syncwarp();
  }

  if (qi < len) {
    const float inv = l_run > 0.f ? 1.f / l_run : 0.f;
    const float* orow = Os + my_row * L::ldo + my_half * (D / 2);
    T* dst = out + (row_base + qi) * H + int64_t(h) * D + my_half * (D / 2);
#pragma unroll
    for (int c = 0; c < D / 2; ++c) dst[c] = from_f<T>(orow[c] * inv);
  }
}

// F32 reference-precision path: one thread per query row.
template <int D>
__global__ void attention_f32_kernel(float* out, const float* qkv, const int32_t* cu, int nh,
                                     float scale, int half_window) {
  const int b = blockIdx.z, h = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t row_base = cu[b];
  const int len = cu[b + 1] - cu[b];
  if (i >= len) return;
  const int64_t H = int64_t(nh) * D;
  const float* q = qkv + (row_base + i) * 3 * H + int64_t(h) * D;
  float qr[D], acc[D];
#pragma unroll
  for (int e = 0; e < D; ++e) {
    qr[e] = q[e];
    acc[e] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  int j0 = 0, j1 = len;
  if (half_window >= 0) {
    j0 = max(0, i - half_window);
    j1 = min(len, i + half_window + 1);
  }
  for (int j = j0; j < j1; ++j) {
    const float* k = qkv + (row_base + j) * 3 * H + H + int64_t(h) * D;
    float s = 0.f;
#pragma unroll
    for (int e = 0; e < D; ++e) s += qr[e] * k[e];
    s *= scale;
    const float m_new = fmaxf(m, s);
    const float alpha = __expf(m - m_new), p = __expf(s - m_new);
    const float* v = k + H;
    l = l * alpha + p;
#pragma unroll
    for (int e = 0; e < D; ++e) acc[e] = acc[e] * alpha + p * v[e];
    m = m_new;
  }
  float* dst = out + (row_base + i) * H + int64_t(h) * D;
#pragma unroll
  for (int e = 0; e < D; ++e) dst[e] = acc[e] / l;
}

// Any head dimension up to kMaxGenericDim, any dtype: one thread per (query, head). Used for the
// head sizes the tiled kernels are not instantiated for; slow but exact in F32 accumulation.
constexpr int kMaxGenericDim = 256;
template <class T>
__global__ void attention_generic_kernel(T* out, const T* qkv, const int32_t* cu, int nh, int D,
                                         float scale, int half_window) {
  const int b = blockIdx.z, h = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t row_base = cu[b];
  const int len = cu[b + 1] - cu[b];
  if (i >= len) return;
  const int64_t H = int64_t(nh) * D;
  const T* q = qkv + (row_base + i) * 3 * H + int64_t(h) * D;
  float acc[kMaxGenericDim];
  for (int e = 0; e < D; ++e) acc[e] = 0.f;
  float m = -INFINITY, l = 0.f;
  int j0 = 0, j1 = len;
  if (half_window >= 0) {
    j0 = max(0, i - half_window);
    j1 = min(len, i + half_window + 1);
  }
  for (int j = j0; j < j1; ++j) {
    const T* k = qkv + (row_base + j) * 3 * H + H + int64_t(h) * D;
    float s = 0.f;
    for (int e = 0; e < D; ++e) s += to_f(q[e]) * to_f(k[e]);
    s *= scale;
    const float m_new = fmaxf(m, s);
    const float alpha = __expf(m - m_new), p = __expf(s - m_new);
    const T* v = k + H;
    l = l * alpha + p;
    for (int e = 0; e < D; ++e) acc[e] = acc[e] * alpha + p * to_f(v[e]);
    m = m_new;
  }
  T* dst = out + (row_base + i) * H + int64_t(h) * D;
  for (int e = 0; e < D; ++e) dst[e] = from_f<T>(acc[e] / l);
}

template <class T, int D>
void launch_flash(cudaStream_t st, T* out, const T* qkv, const int32_t* cu, int B, int S, int nh,
                  float scale, int half_window) {
  const size_t smem = FlashSmem<D>::bytes;
  static bool configured = false;  // per instantiation; the attribute is per function
  if (!configured) {
    cuda::check(cudaFuncSetAttribute(flash_attention_kernel<T, D>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(smem)),
                "cudaFuncSetAttribute(flash)");
    configured = true;
  }
  dim3 grid((S + kBQ - 1) / kBQ, nh, B);
  flash_attention_kernel<T, D><<<grid, kWarps * 32, smem, st>>>(out, qkv, cu, nh, scale,
                                                                 half_window);
  check_launch("flash_attention_kernel");
}

template <class T, int D>
void launch_flash_mma(cudaStream_t st, T* out, const T* qkv, const int32_t* cu, int B, int S,
                      int nh, float scale, int half_window) {
  namespace fl = cuda::flash;
  const size_t smem = fl::Smem<D>::bytes;
  static bool configured = false;  // per instantiation; the attribute is per function
  if (!configured) {
    cuda::check(cudaFuncSetAttribute(fl::flash_mma_kernel<T, D>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(smem)),
                "cudaFuncSetAttribute(flash_mma)");
    configured = true;
  }
  dim3 grid((S + fl::kBQ - 1) / fl::kBQ, nh, B);
  const float scale_log2 = scale * 1.4426950408889634f;
  fl::flash_mma_kernel<T, D><<<grid, fl::kWarps * 32, smem, st>>>(out, qkv, cu, nh, scale_log2,
                                                                   half_window);
  check_launch("flash_mma_kernel");
}

template <int D>
void launch_f32(cudaStream_t st, float* out, const float* qkv, const int32_t* cu, int B, int S,
                int nh, float scale, int half_window) {
  dim3 grid((S + 63) / 64, nh, B);
  attention_f32_kernel<D><<<grid, 64, 0, st>>>(out, qkv, cu, nh, scale, half_window);
  check_launch("attention_f32_kernel");
}

}  // namespace

void launch_flash_attention(cudaStream_t st, CudaDriver::Tensor out, const CudaDriver::Tensor& qkv,
                            const AttentionDesc& ad, const DeviceBatch<CudaDriver::Tensor>& db) {
  const int B = db.batch(), S = db.max_seq(), nh = ad.num_heads, d = ad.head_dim;
  if (B == 0) return;
  const int32_t* cu = db.cu_seqlens.as<int32_t>();
  if (out.dtype != qkv.dtype) throw InvalidArgument("cuda attention: out/qkv dtypes differ");
  // $RIPVEC_CUDA_ATTN=generic forces the untiled kernel, =wmma the WMMA kernel (diagnostics
  // and comparisons for the default mma.sync kernel).
  static const std::string attn_mode = [] {
    const char* e = std::getenv("RIPVEC_CUDA_ATTN");
    return std::string(e ? e : "");
  }();
  const bool aligned = (reinterpret_cast<uintptr_t>(out.data) % 16 == 0) &&
                       (reinterpret_cast<uintptr_t>(qkv.data) % 16 == 0);
  const bool tiled = attn_mode != "generic" && aligned && (d == 16 || d == 32 || d == 64 || d == 128);
  const bool use_wmma = attn_mode == "wmma";
  if (!tiled) {
    if (d <= 0 || d > kMaxGenericDim)
      throw UnsupportedError("cuda attention: head_dim " + std::to_string(d) + " (at most " +
                             std::to_string(kMaxGenericDim) + ")");
    dim3 grid((S + 63) / 64, nh, B);
    RIPVEC_DISPATCH_FLOAT(qkv.dtype, T, {
      attention_generic_kernel<T><<<grid, 64, 0, st>>>(out.as<T>(), qkv.as<T>(), cu, nh, d,
                                                       ad.scale, ad.half_window);
    });
    check_launch("attention_generic_kernel");
    return;
  }
  auto unsupported = [&] { return UnsupportedError("cuda attention: head_dim"); };
  if (qkv.dtype == DType::F32) {
    switch (d) {
      case 16: launch_f32<16>(st, out.as<float>(), qkv.as<float>(), cu, B, S, nh, ad.scale, ad.half_window); break;
      case 32: launch_f32<32>(st, out.as<float>(), qkv.as<float>(), cu, B, S, nh, ad.scale, ad.half_window); break;
      case 64: launch_f32<64>(st, out.as<float>(), qkv.as<float>(), cu, B, S, nh, ad.scale, ad.half_window); break;
      case 128: launch_f32<128>(st, out.as<float>(), qkv.as<float>(), cu, B, S, nh, ad.scale, ad.half_window); break;
      default: throw unsupported();
    }
    return;
  }
  auto go = [&](auto tag) {
    using T = decltype(tag);
    if (use_wmma) {
      switch (d) {
        case 16: launch_flash<T, 16>(st, out.as<T>(), qkv.as<T>(), cu, B, S, nh, ad.scale, ad.half_window); break;
        case 32: launch_flash<T, 32>(st, out.as<T>(), qkv.as<T>(), cu, B, S, nh, ad.scale, ad.half_window); break;
        case 64: launch_flash<T, 64>(st, out.as<T>(), qkv.as<T>(), cu, B, S, nh, ad.scale, ad.half_window); break;
        case 128: launch_flash<T, 128>(st, out.as<T>(), qkv.as<T>(), cu, B, S, nh, ad.scale, ad.half_window); break;
        default: throw unsupported();
      }
      return;
    }
    switch (d) {
      case 16: launch_flash_mma<T, 16>(st, out.as<T>(), qkv.as<T>(), cu, B, S, nh, ad.scale, ad.half_window); break;
      case 32: launch_flash_mma<T, 32>(st, out.as<T>(), qkv.as<T>(), cu, B, S, nh, ad.scale, ad.half_window); break;
      case 64: launch_flash_mma<T, 64>(st, out.as<T>(), qkv.as<T>(), cu, B, S, nh, ad.scale, ad.half_window); break;
      case 128: launch_flash_mma<T, 128>(st, out.as<T>(), qkv.as<T>(), cu, B, S, nh, ad.scale, ad.half_window); break;
      default: throw unsupported();
    }
  };
  if (qkv.dtype == DType::F16) go(__half{});
  else if (qkv.dtype == DType::BF16) go(__nv_bfloat16{});
  else throw UnsupportedError("cuda attention: dtype");
}

}  // namespace ripvec
