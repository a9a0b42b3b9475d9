// Flash-style attention over packed QKV with cu_seqlens (no padding, no score matrix in
// device memory), global or sliding-window.
//
// F16/BF16: the mma.sync kernel of cuda_flash_mma.cuh (FlashAttention-2 scheme: Q, S, P and O
// in registers, K/V tiles double-buffered through shared memory; a local layer's block only
// visits key tiles that intersect its window). It replaced a WMMA kernel that round-tripped
// S and O through shared memory: 1.5-2.4x slower end to end (docs/benchmarks.md).
// F32 (the check mode): a plain kernel, one thread per query, same online softmax.
// Other head sizes: a generic kernel, one thread per (query, head).
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
  // $RIPVEC_CUDA_ATTN=generic forces the untiled kernel (a diagnostic for the tiled one).
  static const bool force_generic = [] {
    const char* e = std::getenv("RIPVEC_CUDA_ATTN");
    return e && std::string(e) == "generic";
  }();
  const bool aligned = (reinterpret_cast<uintptr_t>(out.data) % 16 == 0) &&
                       (reinterpret_cast<uintptr_t>(qkv.data) % 16 == 0);
  const bool tiled =
      !force_generic && aligned && (d == 16 || d == 32 || d == 64 || d == 128);
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
