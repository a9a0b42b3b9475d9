// Internal helpers shared by the CUDA driver's translation units.
#pragma once

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <string>

#include "ripvec/dtype.hpp"
#include "ripvec/error.hpp"

namespace ripvec::cuda {

inline void check(cudaError_t e, const char* what,
                  std::source_location loc = std::source_location::current()) {
  if (e != cudaSuccess)
    throw DeviceError(std::string("CUDA error in ") + what + ": " + cudaGetErrorName(e) + " (" +
                          cudaGetErrorString(e) + ")",
                      loc);
}
inline void check(cublasStatus_t s, const char* what,
                  std::source_location loc = std::source_location::current()) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw DeviceError(std::string("cuBLAS error in ") + what + ": " + cublasGetStatusName(s) +
                          " (" + cublasGetStatusString(s) + ")",
                      loc);
}
// After every launch: a bad configuration shows up here, not at the next sync.
inline void check_launch(const char* kernel,
                         std::source_location loc = std::source_location::current()) {
  check(cudaGetLastError(), kernel, loc);
}

template <class T>
__device__ __forceinline__ float to_f(T x);
template <>
__device__ __forceinline__ float to_f<float>(float x) { return x; }
template <>
__device__ __forceinline__ float to_f<__half>(__half x) { return __half2float(x); }
template <>
__device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T>
__device__ __forceinline__ T from_f(float x);
template <>
__device__ __forceinline__ float from_f<float>(float x) { return x; }
template <>
__device__ __forceinline__ __half from_f<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// A parameter vector (bias, gamma, beta) whose dtype is only known at run time: the branch is
// uniform across the grid, so it costs little next to the memory traffic.
struct Param {
  const void* p = nullptr;
  int dt = 0;  // DType as int
  __device__ __forceinline__ float operator[](int64_t i) const {
    switch (dt) {
      case static_cast<int>(DType::F32): return static_cast<const float*>(p)[i];
      case static_cast<int>(DType::F16): return __half2float(static_cast<const __half*>(p)[i]);
      default: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    }
  }
  __device__ __forceinline__ bool valid() const { return p != nullptr; }
};

__device__ __forceinline__ float gelu_erf(float x) {
  return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f));
}
__device__ __forceinline__ float gelu_tanh_f(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}
__device__ __forceinline__ float silu_f(float x) { return x / (1.0f + __expf(-x)); }

inline cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::F32: return CUDA_R_32F;
    case DType::F16: return CUDA_R_16F;
    case DType::BF16: return CUDA_R_16BF;
    case DType::I32: return CUDA_R_32I;
  }
  return CUDA_R_32F;
}

}  // namespace ripvec::cuda

// Runs BODY with `T` bound to the C++ type of a floating dtype.
#define RIPVEC_DISPATCH_FLOAT(dtype, T, ...)                                            \
  switch (dtype) {                                                                      \
    case ::ripvec::DType::F32: {                                                        \
      using T = float;                                                                  \
      __VA_ARGS__;                                                                      \
      break;                                                                            \
    }                                                                                   \
    case ::ripvec::DType::F16: {                                                        \
      using T = __half;                                                                 \
      __VA_ARGS__;                                                                      \
      break;                                                                            \
    }                                                                                   \
    case ::ripvec::DType::BF16: {                                                       \
      using T = __nv_bfloat16;                                                          \
      __VA_ARGS__;                                                                      \
      break;                                                                            \
    }                                                                                   \
    default:                                                                            \
      throw ::ripvec::UnsupportedError("cuda driver: integer tensor where a float one " \
                                       "was expected");                                 \
  }
