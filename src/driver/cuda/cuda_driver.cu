// CudaDriver: memory, GEMMs (cuBLAS, F32 accumulation) and the element-wise / row kernels.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <cublasLt.h>

#include "driver/cuda/cuda_common.cuh"
#include "driver/cuda/cuda_driver.hpp"
#include "driver/cuda/cuda_vec_kernels.cuh"
#include "driver/ops.hpp"

namespace ripvec {

using cuda::check;
using cuda::check_launch;
using cuda::from_f;
using cuda::Param;
using cuda::to_f;

// A cuBLASLt matmul plan for one linear-layer shape: descriptors and the heuristic's algorithm,
// made once per (m, n, k, dtypes, alignment) and reused for every later batch of that shape.
struct LtKey {
  int64_t m, n, k;
  int dt, out_dt, bias_dt;
  uint32_t align;
  auto operator<=>(const LtKey&) const = default;
};
struct LtPlan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool ok = false;  // false: the heuristic found nothing; use cublasGemmEx + add_bias
};

struct CudaDriver::Impl {
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  cublasLtHandle_t lt = nullptr;
  // Keyed by m too, which changes with nearly every batch: bounded, so a long indexing run
  // does not accumulate descriptors (a cleared cache only costs the heuristic calls again).
  std::map<LtKey, LtPlan> lt_plans;
  static constexpr size_t kMaxLtPlans = 512;
  void clear_lt_plans() {
    for (auto& [key, p] : lt_plans) {
      if (p.a) cublasLtMatrixLayoutDestroy(p.a);
      if (p.b) cublasLtMatrixLayoutDestroy(p.b);
      if (p.c) cublasLtMatrixLayoutDestroy(p.c);
      if (p.op) cublasLtMatmulDescDestroy(p.op);
    }
    lt_plans.clear();
  }
  void* blas_workspace = nullptr;
  std::vector<void*> weights;  // owned device buffers, freed at destruction
  size_t weight_bytes = 0;
  int* error_flag = nullptr;       // set by kernels that find bad input (e.g. an id past the table)
  int* error_flag_host = nullptr;  // pinned mirror read at end_batch()/to_host()
  void* host_staging = nullptr;    // pinned, for upload() and to_host()
  size_t host_staging_bytes = 0;

  // Pipelined batches: two pinned buffers for upload_batch() and two for to_host_async(), each
  // with the event after which the device is done with it, so the host fills one while the
  // device still reads the other (no stream-wide wait between batches).
  struct Pinned {
    void* p = nullptr;
    size_t cap = 0;
    cudaEvent_t done = nullptr;  // waiting on it before its first record returns at once
    float* out = nullptr;        // to_host_async: where the bytes go once done
    size_t bytes = 0;
  };
  Pinned batch_in[2], batch_out[2];
  int next_in = 0, next_out = 0;

  // Waits until the device is done with b and makes room for `bytes`.
  void* reuse(Pinned& b, size_t bytes) {
    if (b.done == nullptr)
      check(cudaEventCreateWithFlags(&b.done, cudaEventDisableTiming), "cudaEventCreate");
    check(cudaEventSynchronize(b.done), "pinned buffer wait");
    if (bytes > b.cap) {
      if (b.p) check(cudaFreeHost(b.p), "cudaFreeHost");
      b.p = nullptr;
      b.cap = std::max(bytes, b.cap * 2);
      check(cudaMallocHost(&b.p, b.cap), "cudaMallocHost");
    }
    return b.p;
  }
  // Finishes a pending to_host_async copy: waits for it and writes its output.
  void complete(Pinned& b) {
    if (!b.out) return;
    check(cudaEventSynchronize(b.done), "to_host_async wait");
    std::memcpy(b.out, b.p, b.bytes);
    b.out = nullptr;
  }

  // Per-operation GPU time ($RIPVEC_CUDA_PROFILE=1): events around each op, summed at every
  // end_batch() and printed to stderr when the driver is destroyed.
  bool profile = false;
  std::vector<std::tuple<const char*, cudaEvent_t, cudaEvent_t>> pending;
  std::vector<cudaEvent_t> spare;
  std::map<std::string, std::pair<double, long>> totals;

  cudaEvent_t event() {
    if (!spare.empty()) {
      cudaEvent_t e = spare.back();
      spare.pop_back();
      return e;
    }
    cudaEvent_t e;
    check(cudaEventCreate(&e), "cudaEventCreate");
    return e;
  }
  void collect() {
    for (auto& [name, a, b] : pending) {
      float ms = 0;
      cudaEventElapsedTime(&ms, a, b);
      auto& t = totals[name];
      t.first += ms;
      t.second += 1;
      spare.push_back(a);
      spare.push_back(b);
    }
    pending.clear();
  }

  void* staging(size_t bytes) {
    if (bytes > host_staging_bytes) {
      if (host_staging) check(cudaFreeHost(host_staging), "cudaFreeHost");
      host_staging_bytes = std::max(bytes, host_staging_bytes * 2);
      check(cudaMallocHost(&host_staging, host_staging_bytes), "cudaMallocHost");
    }
    return host_staging;
  }
};

namespace {
class ProfScope {
 public:
  ProfScope(CudaDriver::Impl* impl, const char* name)
      : impl_(impl->profile ? impl : nullptr), name_(name) {
    if (!impl_) return;
    start_ = impl_->event();
    cudaEventRecord(start_, impl_->stream);
  }
  ~ProfScope() {
    if (!impl_) return;
    cudaEvent_t stop = impl_->event();
    cudaEventRecord(stop, impl_->stream);
    impl_->pending.emplace_back(name_, start_, stop);
  }

 private:
  CudaDriver::Impl* impl_;
  const char* name_;
  cudaEvent_t start_ = nullptr;
};
#define RIPVEC_PROF(name) ProfScope prof_scope_(impl_.get(), name)

constexpr size_t kAlign = 256;
constexpr size_t kBlasWorkspace = 32u << 20;
constexpr size_t kWeightChunk = 16u << 20;  // pinned staging per weight-upload step

Param param(const CudaDriver::Tensor& t) {
  return Param{t.empty() ? nullptr : t.data, static_cast<int>(t.dtype)};
}

inline int blocks_for(int64_t n, int threads) {
  return static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 65535LL * 16));
}

// ---------------------------------------------------------------- element-wise kernels
template <class To, class Ti>
__global__ void convert_kernel(To* out, const Ti* in, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    out[i] = from_f<To>(to_f(in[i]));
}

__global__ void i32_to_f32_kernel(float* out, const int32_t* in, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    out[i] = static_cast<float>(in[i]);
}

template <class T>
__global__ void embedding_kernel(T* out, Param table, const int32_t* ids, int64_t rows, int64_t H,
                                 int64_t V, bool add, int* error_flag) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < rows * H;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = i / H, c = i % H;
    const int32_t id = ids[r];
    if (id < 0 || id >= V) {
      *error_flag = 1;  // reported by the host at end_batch()/to_host()
      out[i] = from_f<T>(0.f);
      continue;
    }
    float v = table[(int64_t)id * H + c];
    out[i] = from_f<T>(add ? to_f(out[i]) + v : v);
  }
}

enum class Act { None, Gelu, GeluTanh, Silu };
__device__ __forceinline__ float apply_act(Act a, float x) {
  switch (a) {
    case Act::Gelu:
      return cuda::gelu_erf(x);
    case Act::GeluTanh:
      return cuda::gelu_tanh_f(x);
    case Act::Silu:
      return cuda::silu_f(x);
    default:
      return x;
  }
}

// x = act(x + bias)
template <class T>
__global__ void bias_act_kernel(T* x, Param bias, int64_t rows, int64_t cols, Act act) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < rows * cols;
       i += (int64_t)gridDim.x * blockDim.x) {
    float v = to_f(x[i]);
    if (bias.valid()) v += bias[i % cols];
    x[i] = from_f<T>(apply_act(act, v));
  }
}

// out = a + bias + b  (any of out/a/b may alias)
template <class T>
__global__ void add3_kernel(T* out, const T* a, Param bias, const T* b, int64_t rows,
                            int64_t cols) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < rows * cols;
       i += (int64_t)gridDim.x * blockDim.x) {
    float v = to_f(a[i]) + to_f(b[i]);
    if (bias.valid()) v += bias[i % cols];
    out[i] = from_f<T>(v);
  }
}

// out[r, i] = act(in[r, i]) * in[r, I + i]; act None with split=true copies both halves.
template <class T>
__global__ void gated_kernel(T* out, T* second, const T* in, int64_t rows, int64_t I, Act act,
                             bool split) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < rows * I;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = idx / I, c = idx % I;
    float a = to_f(in[r * 2 * I + c]);
    float g = to_f(in[r * 2 * I + I + c]);
    if (split) {
      out[idx] = from_f<T>(a);
      second[idx] = from_f<T>(g);
    } else {
      out[idx] = from_f<T>(apply_act(act, a) * g);
    }
  }
}

// ---------------------------------------------------------------- row reductions
template <int kThreads>
__device__ float block_sum(float v, float* red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < kThreads / 32; ++w) total += red[w];
  return total;
}
template <int kThreads>
__device__ float block_max(float v, float* red) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float m = -INFINITY;
  for (int w = 0; w < kThreads / 32; ++w) m = fmaxf(m, red[w]);
  return m;
}

// out = LN(x + bias + residual) * gamma + beta; residual/bias optional. One block per row; the
// row is kept in shared memory (F32) between the two passes.
template <class T, int kThreads>
__global__ void layer_norm_kernel(T* out, const T* x, Param bias, const T* residual, Param gamma,
                                  Param beta, int64_t cols, float eps) {
  extern __shared__ float row[];
  __shared__ float red[kThreads / 32];
  const int64_t r = blockIdx.x;
  const T* xr = x + r * cols;
  const T* rr = residual ? residual + r * cols : nullptr;
  float s = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
    float v = to_f(xr[c]);
    if (rr) v += to_f(rr[c]);
    if (bias.valid()) v += bias[c];
    row[c] = v;
    s += v;
  }
  const float mean = block_sum<kThreads>(s, red) / cols;
  float sq = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
    float d = row[c] - mean;
    sq += d * d;
  }
  const float var = block_sum<kThreads>(sq, red) / cols;
  const float inv = rsqrtf(var + eps);
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
    float v = (row[c] - mean) * inv * gamma[c];
    if (beta.valid()) v += beta[c];
    out[r * cols + c] = from_f<T>(v);
  }
}

// Softmax over the last dim of scores[rows, S] in place: p = softmax(scale*s + mask[b, j]),
// with an optional sliding window |i - j| <= half_window. Row r is (b, h, i) of [B, nh, S, S].
template <class T, int kThreads>
__global__ void softmax_kernel(T* scores, const float* mask, int64_t nh, int64_t S, float scale,
                               int half_window) {
  __shared__ float red[kThreads / 32];
  const int64_t r = blockIdx.x;
  const int64_t b = r / (nh * S), i = r % S;
  T* row = scores + r * S;
  const float* m = mask ? mask + b * S : nullptr;
  auto val = [&](int64_t j) {
    float v = scale * to_f(row[j]);
    if (m) v += m[j];
    if (half_window >= 0 && (j < i - half_window || j > i + half_window)) v += -1.0e30f;
    return v;
  };
  float mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < S; j += kThreads) mx = fmaxf(mx, val(j));
  mx = block_max<kThreads>(mx, red);
  float s = 0.f;
  for (int64_t j = threadIdx.x; j < S; j += kThreads) s += __expf(val(j) - mx);
  s = block_sum<kThreads>(s, red);
  const float inv = 1.f / s;
  for (int64_t j = threadIdx.x; j < S; j += kThreads) {
    float p = __expf(val(j) - mx) * inv;
    row[j] = from_f<T>(p);
  }
}

// Softmax of banded scores[nh, len, W] rows in place (W = 2w+1), keys outside [0, len) masked.
template <class T, int kThreads>
__global__ void banded_softmax_kernel(T* scores, int64_t len, int64_t W, int half, float scale) {
  __shared__ float red[kThreads / 32];
  const int64_t r = blockIdx.x;
  const int64_t i = r % len;
  T* row = scores + r * W;
  auto val = [&](int64_t w) {
    int64_t j = i - half + w;
    return (j < 0 || j >= len) ? -1.0e30f : scale * to_f(row[w]);
  };
  float mx = -INFINITY;
  for (int64_t w = threadIdx.x; w < W; w += kThreads) mx = fmaxf(mx, val(w));
  mx = block_max<kThreads>(mx, red);
  float s = 0.f;
  for (int64_t w = threadIdx.x; w < W; w += kThreads) s += __expf(val(w) - mx);
  s = block_sum<kThreads>(s, red);
  for (int64_t w = threadIdx.x; w < W; w += kThreads) row[w] = from_f<T>(__expf(val(w) - mx) / s);
}

__global__ void build_mask_kernel(float* mask, const int32_t* lens, int64_t B, int64_t S) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < B * S;
       i += (int64_t)gridDim.x * blockDim.x)
    mask[i] = (i % S) < lens[i / S] ? 0.f : -1.0e30f;
}

__device__ __forceinline__ int seq_of_row(const int32_t* cu, int B, int64_t row) {
  int lo = 0, hi = B - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (cu[mid] <= row)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// qkv[T, 3H] -> q/k/v [B, nh, S, d] (zeros past each length)
template <class T>
__global__ void qkv_split_kernel(T* q, T* k, T* v, const T* qkv, const int32_t* cu, int64_t B,
                                 int64_t S, int64_t nh, int64_t d) {
  const int64_t H = nh * d;
  const int64_t n = B * nh * S * d;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < n;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t e = idx % d, s = (idx / d) % S, h = (idx / (d * S)) % nh, b = idx / (d * S * nh);
    int64_t len = cu[b + 1] - cu[b];
    if (s < len) {
      const T* src = qkv + (cu[b] + s) * 3 * H + h * d + e;
      q[idx] = src[0];
      k[idx] = src[H];
      v[idx] = src[2 * H];
    } else {
      q[idx] = k[idx] = v[idx] = from_f<T>(0.f);
    }
  }
}

// ctx[B, nh, S, d] -> out[T, H]
template <class T>
__global__ void attn_reshape_kernel(T* out, const T* ctx, const int32_t* cu, int B, int64_t T_,
                                    int64_t S, int64_t nh, int64_t d) {
  const int64_t H = nh * d;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < T_ * H;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t t = idx / H, c = idx % H, h = c / d, e = c % d;
    int b = seq_of_row(cu, B, t);
    int64_t s = t - cu[b];
    out[idx] = ctx[((b * nh + h) * S + s) * d + e];
  }
}

// pad: in[T, C] -> out[B, S, C]; unpad the reverse
template <class T>
__global__ void pad_kernel(T* out, const T* in, const int32_t* cu, int64_t B, int64_t S,
                           int64_t C) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < B * S * C;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t c = idx % C, s = (idx / C) % S, b = idx / (C * S);
    out[idx] = s < cu[b + 1] - cu[b] ? in[(cu[b] + s) * C + c] : from_f<T>(0.f);
  }
}
template <class T>
__global__ void unpad_kernel(T* out, const T* in, const int32_t* cu, int B, int64_t T_, int64_t S,
                             int64_t C) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < T_ * C;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t t = idx / C, c = idx % C;
    int b = seq_of_row(cu, B, t);
    out[idx] = in[(b * S + (t - cu[b])) * C + c];
  }
}

// Banded scores[h, i, w] = q_i . k_{i-half+w} for one sequence at rows [row0, row0+len).
template <class T>
__global__ void banded_qk_kernel(float* scores, const T* qkv, int64_t row0, int64_t len, int64_t nh,
                                 int64_t d, int half) {
  const int64_t W = 2 * half + 1, H = nh * d;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < nh * len * W;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t w = idx % W, i = (idx / W) % len, h = idx / (W * len);
    int64_t j = i - half + w;
    float acc = -1.0e30f;
    if (j >= 0 && j < len) {
      const T* q = qkv + (row0 + i) * 3 * H + h * d;
      const T* k = qkv + (row0 + j) * 3 * H + H + h * d;
      acc = 0.f;
      for (int64_t e = 0; e < d; ++e) acc += to_f(q[e]) * to_f(k[e]);
    }
    scores[idx] = acc;
  }
}
template <class T, class P>
__global__ void banded_sv_kernel(T* out, const P* probs, const T* qkv, int64_t row0, int64_t len,
                                 int64_t nh, int64_t d, int half) {
  const int64_t W = 2 * half + 1, H = nh * d;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < len * H;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = idx / H, c = idx % H, h = c / d, e = c % d;
    float acc = 0.f;
    for (int64_t w = 0; w < W; ++w) {
      int64_t j = i - half + w;
      if (j < 0 || j >= len) continue;
      acc += to_f(probs[(h * len + i) * W + w]) * to_f(qkv[(row0 + j) * 3 * H + 2 * H + h * d + e]);
    }
    out[(row0 + i) * H + c] = from_f<T>(acc);
  }
}

// Rotary embedding on the Q and K blocks of qkv[T, 3H]; pairs (j, j + d/2).
template <class T>
__global__ void rope_kernel(T* qkv, const int32_t* pos, const float* cosv, const float* sinv,
                            int64_t T_, int64_t nh, int64_t d) {
  const int64_t H = nh * d, half = d / 2;
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < T_ * 2 * nh * half;
       idx += (int64_t)gridDim.x * blockDim.x) {
    int64_t j = idx % half, h = (idx / half) % (2 * nh), t = idx / (half * 2 * nh);
    T* base = qkv + t * 3 * H + h * d;  // h in [0, 2nh) walks Q heads then K heads
    float c = cosv[pos[t] * half + j], s = sinv[pos[t] * half + j];
    float x1 = to_f(base[j]), x2 = to_f(base[j + half]);
    base[j] = from_f<T>(x1 * c - x2 * s);
    base[j + half] = from_f<T>(x2 * c + x1 * s);
  }
}

// out[b, :] = CLS row or mean of the rows of sequence b (F32 accumulation)
template <class To, class Ti>
__global__ void pool_kernel(To* out, const Ti* hidden, const int32_t* cu, int64_t H, bool mean) {
  const int64_t b = blockIdx.x;
  const int64_t r0 = cu[b], r1 = cu[b + 1];
  for (int64_t c = threadIdx.x; c < H; c += blockDim.x) {
    float acc = 0.f;
    if (mean) {
      for (int64_t r = r0; r < r1; ++r) acc += to_f(hidden[r * H + c]);
      acc /= fmaxf(1.f, float(r1 - r0));
    } else {
      acc = to_f(hidden[r0 * H + c]);
    }
    out[b * H + c] = from_f<To>(acc);
  }
}

template <class T, int kThreads>
__global__ void l2_kernel(T* x, int64_t cols) {
  __shared__ float red[kThreads / 32];
  T* row = x + blockIdx.x * cols;
  float s = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) s += to_f(row[c]) * to_f(row[c]);
  s = block_sum<kThreads>(s, red);
  const float inv = s > 0.f ? rsqrtf(s) : 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) row[c] = from_f<T>(to_f(row[c]) * inv);
}

bool aligned16(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}
// The vectorized kernels take 8 elements per thread, 16-byte aligned, 32-bit indices.
bool vec_ok(int64_t n, int64_t cols, std::initializer_list<const void*> ptrs) {
  if (n <= 0 || cols % 8 != 0 || n / 8 >= (int64_t(1) << 31)) return false;
  for (const void* p : ptrs)
    if (p && !aligned16(p)) return false;
  return true;
}
cuda::VAct vact_of(int a) {
  return static_cast<cuda::VAct>(a);
}

void require_same(const CudaDriver::Tensor& a, const CudaDriver::Tensor& b, const char* op) {
  if (a.dtype != b.dtype)
    throw InvalidArgument(std::string("cuda driver: ") + op + ": operand dtypes differ (" +
                          dtype_name(a.dtype) + " vs " + dtype_name(b.dtype) + ")");
}

}  // namespace

// ====================================================================== lifecycle
int CudaDriver::device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::string CudaDriver::device_description(int device) {
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  return std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
         std::to_string(p.totalGlobalMem >> 30) + " GiB)";
}

CudaDriver::CudaDriver(const Options& opts)
    : impl_(std::make_unique<Impl>()), activation_(opts.activation) {
  if (device_count() <= opts.device)
    throw DeviceError("no CUDA device " + std::to_string(opts.device) + " (found " +
                      std::to_string(device_count()) + ")");
  if (activation_ == DType::I32) throw InvalidArgument("cuda driver: I32 activations");
  impl_->device = opts.device;
  if (const char* p = std::getenv("RIPVEC_CUDA_PROFILE")) impl_->profile = std::string(p) == "1";
  check(cudaSetDevice(opts.device), "cudaSetDevice");
  check(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cublasCreate(&impl_->blas), "cublasCreate");
  check(cublasSetStream(impl_->blas, impl_->stream), "cublasSetStream");
  check(cublasLtCreate(&impl_->lt), "cublasLtCreate");
  check(cudaMalloc(&impl_->blas_workspace, kBlasWorkspace), "cudaMalloc(cublas workspace)");
  check(cublasSetWorkspace(impl_->blas, impl_->blas_workspace, kBlasWorkspace),
        "cublasSetWorkspace");
  check(cudaMalloc(&impl_->error_flag, sizeof(int)), "cudaMalloc(error flag)");
  check(cudaMemset(impl_->error_flag, 0, sizeof(int)), "cudaMemset(error flag)");
  check(cudaMallocHost(&impl_->error_flag_host, sizeof(int)), "cudaMallocHost(error flag)");
  // FP32 mode must stay FP32 (a check mode), so no TF32 shortcuts.
  check(cublasSetMathMode(impl_->blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
}

CudaDriver::~CudaDriver() {
  if (!impl_) return;
  cudaStreamSynchronize(impl_->stream);
  if (impl_->profile) {
    impl_->collect();
    double total = 0;
    for (auto& [k, v] : impl_->totals) total += v.first;
    std::fprintf(stderr, "ripvec cuda profile (GPU ms by op):\n");
    for (auto& [k, v] : impl_->totals)
      std::fprintf(stderr, "  %-28s %10.3f ms %6.1f%% %8ld calls\n", k.c_str(), v.first,
                   100.0 * v.first / (total > 0 ? total : 1), v.second);
  }
  for (auto& [n, a, b] : impl_->pending) {
    cudaEventDestroy(a);
    cudaEventDestroy(b);
  }
  for (cudaEvent_t e : impl_->spare) cudaEventDestroy(e);
  for (void* p : impl_->weights) cudaFree(p);
  if (scratch_) cudaFree(scratch_);
  if (impl_->blas_workspace) cudaFree(impl_->blas_workspace);
  if (impl_->host_staging) cudaFreeHost(impl_->host_staging);
  for (auto* arr : {impl_->batch_in, impl_->batch_out})
    for (int i = 0; i < 2; ++i) {
      if (arr[i].p) cudaFreeHost(arr[i].p);
      if (arr[i].done) cudaEventDestroy(arr[i].done);
    }
  if (impl_->error_flag) cudaFree(impl_->error_flag);
  if (impl_->error_flag_host) cudaFreeHost(impl_->error_flag_host);
  impl_->clear_lt_plans();
  if (impl_->lt) cublasLtDestroy(impl_->lt);
  if (impl_->blas) cublasDestroy(impl_->blas);
  if (impl_->stream) cudaStreamDestroy(impl_->stream);
}

std::string CudaDriver::description() const {
  return "cuda:" + std::to_string(impl_->device) + " " + device_description(impl_->device);
}

void CudaDriver::begin_batch() {}
void CudaDriver::end_batch() {
  check(cudaMemcpyAsync(impl_->error_flag_host, impl_->error_flag, sizeof(int),
                        cudaMemcpyDeviceToHost, impl_->stream),
        "end_batch error flag");
  check(cudaStreamSynchronize(impl_->stream), "end_batch");
  if (impl_->profile) impl_->collect();
  raise_device_errors();
}

void CudaDriver::raise_device_errors() {
  if (*impl_->error_flag_host == 0) return;
  *impl_->error_flag_host = 0;
  check(cudaMemsetAsync(impl_->error_flag, 0, sizeof(int), impl_->stream), "reset error flag");
  throw InvalidArgument("cuda driver: token id outside the embedding table");
}
void CudaDriver::flush_batch() {
  check(cudaGetLastError(), "flush_batch");
}

size_t CudaDriver::device_bytes() const {
  return impl_->weight_bytes + capacity_ + kBlasWorkspace;
}

// ====================================================================== memory
CudaDriver::Tensor CudaDriver::load_weight(const HostTensorRef& h, DType dt) {
  Tensor t;
  t.rank = h.rank;
  t.shape = h.shape;
  t.dtype = dt;
  const size_t bytes = t.bytes();
  void* dev = nullptr;
  check(cudaMalloc(&dev, std::max<size_t>(bytes, 1)), "cudaMalloc(weight)");
  impl_->weights.push_back(dev);
  impl_->weight_bytes += bytes;
  t.data = dev;
  if (bytes == 0) return t;
  // Upload in the source dtype, then convert on the device (one pass, no host conversion).
  // Every copy goes through pinned staging on the driver's own stream, so the conversion
  // kernel is ordered after the copy. (A plain cudaMemcpy from pageable memory may return
  // before its DMA has landed, and runs on the legacy stream, which our non-blocking stream
  // does not wait for: the conversion then read a partly stale buffer, the F16/BF16-only
  // ClassicBert error of the previous benchmarks.)
  const size_t src_bytes = static_cast<size_t>(h.numel()) * dtype_size(h.dtype);
  void* src_dev = dev;
  if (h.dtype != dt) {
    check(cudaMalloc(&src_dev, src_bytes), "cudaMalloc(weight staging)");
  }
  const size_t chunk = std::min<size_t>(src_bytes, kWeightChunk);
  char* pinned = static_cast<char*>(impl_->staging(chunk));
  for (size_t off = 0; off < src_bytes; off += chunk) {
    const size_t n = std::min(chunk, src_bytes - off);
    // The staging buffer is reused: the previous chunk's copy must have left it.
    check(cudaStreamSynchronize(impl_->stream), "weight upload sync");
    std::memcpy(pinned, static_cast<const char*>(h.data) + off, n);
    check(cudaMemcpyAsync(static_cast<char*>(src_dev) + off, pinned, n, cudaMemcpyHostToDevice,
                          impl_->stream),
          "cudaMemcpyAsync(weight)");
  }
  if (h.dtype != dt) {
    Tensor src = t;
    src.data = src_dev;
    src.dtype = h.dtype;
    convert(t, src);
  }
  check(cudaStreamSynchronize(impl_->stream), "weight upload");
  if (src_dev != dev) check(cudaFree(src_dev), "cudaFree(weight staging)");
  return t;
}

void CudaDriver::reserve_scratch(size_t bytes) {
  if (bytes <= capacity_) return;
  check(cudaStreamSynchronize(impl_->stream), "reserve_scratch sync");
  if (scratch_) check(cudaFree(scratch_), "cudaFree(scratch)");
  scratch_ = nullptr;
  check(cudaMalloc(&scratch_, bytes), "cudaMalloc(scratch)");
  capacity_ = bytes;
  cursor_ = 0;
}

CudaDriver::Tensor CudaDriver::alloc(DType dt, std::initializer_list<int64_t> dims) {
  Tensor t;
  t.dtype = dt;
  for (int64_t d : dims) t.shape[t.rank++] = d;
  const size_t bytes = (t.bytes() + kAlign - 1) / kAlign * kAlign;
  if (cursor_ + bytes > capacity_)
    throw DeviceError("cuda driver: scratch arena exhausted: requested " + std::to_string(bytes) +
                      " bytes, " + std::to_string(capacity_ - cursor_) + " of " +
                      std::to_string(capacity_) + " left (reserve_scratch too small)");
  t.data = scratch_ + cursor_;
  cursor_ += bytes;
  high_water_ = std::max(high_water_, cursor_);
  return t;
}

CudaDriver::Tensor CudaDriver::upload(const void* host, DType dt,
                                      std::initializer_list<int64_t> dims) {
  Tensor t = alloc(dt, dims);
  if (t.bytes() == 0) return t;
  // Through pinned staging so the copy is truly asynchronous on our stream. The staging
  // buffer is reused, so wait for the previous copy out of it first.
  check(cudaStreamSynchronize(impl_->stream), "upload sync");
  void* st = impl_->staging(t.bytes());
  std::memcpy(st, host, t.bytes());
  check(cudaMemcpyAsync(t.data, st, t.bytes(), cudaMemcpyHostToDevice, impl_->stream),
        "cudaMemcpyAsync(upload)");
  return t;
}

DeviceBatch<CudaDriver::Tensor> CudaDriver::upload_batch(const BatchInputs& b) {
  RIPVEC_PROF("upload_batch");
  // One pinned staging copy for all six arrays: a single H2D transfer per batch.
  const int64_t T = b.total_tokens, B = b.batch, S = b.max_seq;
  const size_t n_i32 = 3 * T + B + (B + 1);
  const size_t bytes = n_i32 * 4 + static_cast<size_t>(B * S) * 4;
  Impl::Pinned& buf = impl_->batch_in[impl_->next_in];
  impl_->next_in ^= 1;
  char* st = static_cast<char*>(impl_->reuse(buf, bytes));
  char* w = st;
  auto put = [&](const void* p, size_t n) {
    std::memcpy(w, p, n);
    w += n;
  };
  put(b.input_ids.data(), T * 4);
  put(b.token_type_ids.data(), T * 4);
  put(b.position_ids.data(), T * 4);
  put(b.seq_lengths.data(), B * 4);
  put(b.cu_seqlens.data(), (B + 1) * 4);
  put(b.float_mask.data(), B * S * 4);
  Tensor all = alloc(DType::I32, {static_cast<int64_t>(bytes / 4)});
  check(cudaMemcpyAsync(all.data, st, bytes, cudaMemcpyHostToDevice, impl_->stream),
        "cudaMemcpyAsync(batch)");
  check(cudaEventRecord(buf.done, impl_->stream), "cudaEventRecord(batch upload)");
  DeviceBatch<Tensor> db;
  db.host = &b;
  int64_t off = 0;
  db.input_ids = all.at_offset(off, {T});
  off += T;
  db.token_type_ids = all.at_offset(off, {T});
  off += T;
  db.position_ids = all.at_offset(off, {T});
  off += T;
  db.seq_lengths = all.at_offset(off, {B});
  off += B;
  db.cu_seqlens = all.at_offset(off, {B + 1});
  off += B + 1;
  db.float_mask = all.at_offset(off, {B, S});
  db.float_mask.dtype = DType::F32;
  return db;
}

const void* CudaDriver::f32_on_device(const Tensor& t) {
  if (t.dtype == DType::F32) return t.data;
  const int64_t n = t.numel();
  Tensor tmp = alloc(DType::F32, {n});
  if (t.dtype == DType::I32) {
    i32_to_f32_kernel<<<blocks_for(n, 256), 256, 0, impl_->stream>>>(tmp.as<float>(),
                                                                     t.as<int32_t>(), n);
    check_launch("i32_to_f32_kernel");
  } else {
    convert(tmp, t);
  }
  return tmp.data;
}

void CudaDriver::to_host(const Tensor& t, void* out_f32) {
  const int64_t n = t.numel();
  if (n == 0) return;
  const size_t mark = save();
  const void* src = f32_on_device(t);
  void* st = impl_->staging(n * 4);
  check(cudaMemcpyAsync(st, src, n * 4, cudaMemcpyDeviceToHost, impl_->stream), "to_host");
  check(cudaMemcpyAsync(impl_->error_flag_host, impl_->error_flag, sizeof(int),
                        cudaMemcpyDeviceToHost, impl_->stream),
        "to_host error flag");
  check(cudaStreamSynchronize(impl_->stream), "to_host sync");
  restore(mark);
  raise_device_errors();
  std::memcpy(out_f32, st, n * 4);
}

void CudaDriver::to_host_async(const Tensor& t, float* out) {
  const int64_t n = t.numel();
  if (n == 0) return;
  Impl::Pinned& buf = impl_->batch_out[impl_->next_out];
  impl_->next_out ^= 1;
  impl_->complete(buf);  // the copy made into this buffer two calls ago
  void* dst = impl_->reuse(buf, static_cast<size_t>(n) * 4);
  // The F32 copy lives in scratch; the copy below is ordered before any later kernel reuses it.
  const size_t mark = save();
  const void* src = f32_on_device(t);
  check(
      cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * 4, cudaMemcpyDeviceToHost, impl_->stream),
      "to_host_async");
  check(cudaEventRecord(buf.done, impl_->stream), "cudaEventRecord(to_host_async)");
  restore(mark);
  buf.out = out;
  buf.bytes = static_cast<size_t>(n) * 4;
}

void CudaDriver::wait_host_copies() {
  try {
    // The older buffer first (either order is correct; this one keeps outputs in call order).
    impl_->complete(impl_->batch_out[impl_->next_out]);
    impl_->complete(impl_->batch_out[impl_->next_out ^ 1]);
  } catch (...) {
    // A failed wait (a sticky device error) leaves no copy pointing at outputs the caller is
    // about to free: a later to_host_async would write into them.
    for (auto& b : impl_->batch_out) b.out = nullptr;
    throw;
  }
  end_batch();  // device errors flagged by any of the batches surface here
}

void CudaDriver::discard_host_copies() {
  for (auto& b : impl_->batch_out) b.out = nullptr;
  end_batch();
}

void CudaDriver::convert(Tensor out, const Tensor& in) {
  if (out.numel() != in.numel()) throw InvalidArgument("cuda driver: convert: sizes differ");
  const int64_t n = in.numel();
  if (n == 0) return;
  if (out.dtype == in.dtype) {
    check(cudaMemcpyAsync(out.data, in.data, in.bytes(), cudaMemcpyDeviceToDevice, impl_->stream),
          "convert copy");
    return;
  }
  RIPVEC_DISPATCH_FLOAT(out.dtype, To, RIPVEC_DISPATCH_FLOAT(in.dtype, Ti, {
                          convert_kernel<To, Ti><<<blocks_for(n, 256), 256, 0, impl_->stream>>>(
                              out.as<To>(), in.as<Ti>(), n);
                        }));
  check_launch("convert_kernel");
}

// ====================================================================== embeddings
void CudaDriver::embedding_lookup(Tensor out, const Tensor& table, const Tensor& ids) {
  RIPVEC_PROF("embedding");
  const int64_t rows = ids.numel(), H = table.cols();
  RIPVEC_DISPATCH_FLOAT(out.dtype, T, {
    embedding_kernel<T><<<blocks_for(rows * H, 256), 256, 0, impl_->stream>>>(
        out.as<T>(), param(table), ids.as<int32_t>(), rows, H, table.dim(0), false,
        impl_->error_flag);
  });
  check_launch("embedding_kernel");
}
void CudaDriver::add_embeddings(Tensor x, const Tensor& table, const Tensor& ids) {
  RIPVEC_PROF("embedding");
  const int64_t rows = ids.numel(), H = table.cols();
  RIPVEC_DISPATCH_FLOAT(x.dtype, T, {
    embedding_kernel<T><<<blocks_for(rows * H, 256), 256, 0, impl_->stream>>>(
        x.as<T>(), param(table), ids.as<int32_t>(), rows, H, table.dim(0), true, impl_->error_flag);
  });
  check_launch("embedding_kernel(add)");
}

// ====================================================================== norms
void CudaDriver::layer_norm(Tensor out, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                            float eps) {
  fused_residual_layernorm(out, x, Tensor{}, Tensor{}, gamma, beta, eps);
}

void CudaDriver::fused_residual_layernorm(Tensor out, Tensor x, const Tensor& bias,
                                          const Tensor& residual, const Tensor& gamma,
                                          const Tensor& beta, float eps) {
  RIPVEC_PROF("layer_norm");
  require_same(out, x, "layer_norm");
  if (!residual.empty()) require_same(x, residual, "fused_residual_layernorm");
  const int64_t rows = x.rows(), cols = x.cols();
  if (rows == 0) return;
  if (cols <= 1024 && rows < (int64_t(1) << 31) &&
      vec_ok(rows * cols, cols,
             {out.data, x.data, residual.data, gamma.data, beta.data, bias.data})) {
    const uint32_t warps_per_block = 8;
    const uint32_t blocks = static_cast<uint32_t>((rows + warps_per_block - 1) / warps_per_block);
    RIPVEC_DISPATCH_FLOAT(x.dtype, T, {
      auto args = std::make_tuple(
          out.as<T>(), x.as<T>(), param(bias), residual.empty() ? nullptr : residual.as<T>(),
          param(gamma), param(beta), static_cast<uint32_t>(rows), static_cast<uint32_t>(cols), eps);
      auto launch = [&](auto kernel) {
        std::apply(
            [&](auto... a) { kernel<<<blocks, warps_per_block * 32, 0, impl_->stream>>>(a...); },
            args);
      };
      if (cols <= 256)
        launch(cuda::layer_norm_warp<T, 1>);
      else if (cols <= 512)
        launch(cuda::layer_norm_warp<T, 2>);
      else
        launch(cuda::layer_norm_warp<T, 4>);
    });
    check_launch("layer_norm_warp");
    return;
  }
  constexpr int kThreads = 256;
  const size_t smem = cols * sizeof(float);
  RIPVEC_DISPATCH_FLOAT(x.dtype, T, {
    layer_norm_kernel<T, kThreads><<<rows, kThreads, smem, impl_->stream>>>(
        out.as<T>(), x.as<T>(), param(bias), residual.empty() ? nullptr : residual.as<T>(),
        param(gamma), param(beta), cols, eps);
  });
  check_launch("layer_norm_kernel");
}

// ====================================================================== GEMM
// Row-major C = op(A) op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ: swap operands and sizes.
void CudaDriver::gemm(const GemmDesc& g, const Tensor& a, const Tensor& b, Tensor c) {
  gemm_strided_batched(g, 1, 0, 0, 0, a, b, c);
}

void CudaDriver::gemm_strided_batched(const GemmDesc& g, int64_t batch, int64_t stride_a,
                                      int64_t stride_b, int64_t stride_c, const Tensor& a,
                                      const Tensor& b, Tensor c) {
  RIPVEC_PROF("gemm");
  require_same(a, b, "gemm");
  if (g.m == 0 || g.n == 0 || batch == 0) return;
  const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const float alpha = g.alpha, beta = g.beta;
  check(cublasGemmStridedBatchedEx(impl_->blas, op_b, op_a, g.n, g.m, g.k, &alpha, b.data,
                                   cuda::cuda_type(b.dtype), g.ldb, stride_b, a.data,
                                   cuda::cuda_type(a.dtype), g.lda, stride_a, &beta, c.data,
                                   cuda::cuda_type(c.dtype), g.ldc, stride_c, batch,
                                   CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmStridedBatchedEx");
}

namespace {
uint32_t alignment_of(const void* p) {
  const auto v = reinterpret_cast<uintptr_t>(p);
  return v == 0 ? 256u : std::min<uint32_t>(256u, static_cast<uint32_t>(v & (~v + 1)));
}
}  // namespace

// y[m, n] = x[m, k] · W[n, k]ᵀ + bias through cuBLASLt with the bias fused into the GEMM's
// epilogue (one pass over y instead of two). Column-major, that is D[n, m] = op_T(W) · x with
// the bias along D's rows. Without a bias, or when cuBLASLt offers no algorithm for the shape,
// it is cublasGemmEx and (if any) add_bias.
void CudaDriver::linear(Tensor y, const Tensor& x, const Tensor& w, const Tensor& bias) {
  require_same(x, w, "linear");
  const int64_t m = x.rows(), k = x.cols(), n = w.dim(0);
  if (m == 0 || n == 0) return;
  const bool lt_ok = !bias.empty() && k > 0 && y.dtype == x.dtype && bias.dtype == y.dtype;
  if (lt_ok) {
    RIPVEC_PROF("gemm");
    const uint32_t align = std::min({alignment_of(x.data), alignment_of(w.data),
                                     alignment_of(y.data), alignment_of(bias.data)});
    const LtKey key{m,
                    n,
                    k,
                    static_cast<int>(x.dtype),
                    static_cast<int>(y.dtype),
                    static_cast<int>(bias.dtype),
                    align};
    auto it = impl_->lt_plans.find(key);
    if (it == impl_->lt_plans.end()) {
      // Safe with matmuls still queued: cuBLASLt reads descriptors at the call (PyTorch
      // destroys its own right after cublasLtMatmul returns).
      if (impl_->lt_plans.size() >= Impl::kMaxLtPlans) impl_->clear_lt_plans();
      LtPlan p;
      const cudaDataType_t t = cuda::cuda_type(x.dtype), to = cuda::cuda_type(y.dtype);
      check(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "LtMatmulDescCreate");
      const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
      const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
      const int32_t bias_t = cuda::cuda_type(bias.dtype);
      const void* bias_p = bias.data;
      check(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)),
            "Lt TRANSA");
      check(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)),
            "Lt TRANSB");
      check(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)),
            "Lt EPILOGUE");
      check(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_t,
                                           sizeof(bias_t)),
            "Lt BIAS_DATA_TYPE");
      check(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_p,
                                           sizeof(bias_p)),
            "Lt BIAS_POINTER");
      check(cublasLtMatrixLayoutCreate(&p.a, t, k, n, k), "LtMatrixLayoutCreate(A)");
      check(cublasLtMatrixLayoutCreate(&p.b, t, k, m, k), "LtMatrixLayoutCreate(B)");
      check(cublasLtMatrixLayoutCreate(&p.c, to, n, m, n), "LtMatrixLayoutCreate(C)");
      cublasLtMatmulPreference_t pref = nullptr;
      check(cublasLtMatmulPreferenceCreate(&pref), "LtMatmulPreferenceCreate");
      const uint64_t ws = kBlasWorkspace;
      check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                 &ws, sizeof(ws)),
            "Lt MAX_WORKSPACE_BYTES");
      for (auto attr :
           {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
            CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
        check(cublasLtMatmulPreferenceSetAttribute(pref, attr, &align, sizeof(align)),
              "Lt MIN_ALIGNMENT");
      cublasLtMatmulHeuristicResult_t result{};
      int found = 0;
      const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(impl_->lt, p.op, p.a, p.b, p.c, p.c,
                                                               pref, 1, &result, &found);
      cublasLtMatmulPreferenceDestroy(pref);
      p.ok = st == CUBLAS_STATUS_SUCCESS && found > 0;
      if (p.ok) p.algo = result.algo;
      it = impl_->lt_plans.emplace(key, p).first;
    }
    const LtPlan& p = it->second;
    if (p.ok) {
      const void* bias_p = bias.data;
      check(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_p,
                                           sizeof(bias_p)),
            "Lt BIAS_POINTER");
      const float alpha = 1.0f, beta = 0.0f;
      check(cublasLtMatmul(impl_->lt, p.op, &alpha, w.data, p.a, x.data, p.b, &beta, y.data, p.c,
                           y.data, p.c, &p.algo, impl_->blas_workspace, kBlasWorkspace,
                           impl_->stream),
            "cublasLtMatmul");
      return;
    }
  }
  gemm(ops::linear_desc(x, w), x, w, y);
  if (!bias.empty()) add_bias(y, bias);
}

// ====================================================================== attention helpers
void CudaDriver::build_attn_mask(Tensor mask, const Tensor& seq_lengths) {
  const int64_t B = mask.dim(0), S = mask.dim(1);
  build_mask_kernel<<<blocks_for(B * S, 256), 256, 0, impl_->stream>>>(
      mask.as<float>(), seq_lengths.as<int32_t>(), B, S);
  check_launch("build_mask_kernel");
}

void CudaDriver::scale_mask_softmax(Tensor scores, const Tensor& mask, float scale) {
  scale_mask_softmax_windowed(scores, mask, scale, -1);
}

void CudaDriver::scale_mask_softmax_windowed(Tensor scores, const Tensor& mask, float scale,
                                             int half_window) {
  const int64_t B = scores.dim(0), nh = scores.dim(1), S = scores.dim(2);
  const int64_t rows = B * nh * S;
  if (rows == 0) return;
  constexpr int kThreads = 128;
  RIPVEC_DISPATCH_FLOAT(scores.dtype, T, {
    softmax_kernel<T, kThreads><<<rows, kThreads, 0, impl_->stream>>>(
        scores.as<T>(), mask.empty() ? nullptr : mask.as<float>(), nh, S, scale, half_window);
  });
  check_launch("softmax_kernel");
}

void CudaDriver::qkv_split(Tensor q, Tensor k, Tensor v, const Tensor& qkv,
                           const DeviceBatch<Tensor>& db, int num_heads) {
  const int64_t B = q.dim(0), S = q.dim(2), d = q.dim(3);
  const int64_t n = B * num_heads * S * d;
  RIPVEC_DISPATCH_FLOAT(qkv.dtype, T, {
    qkv_split_kernel<T><<<blocks_for(n, 256), 256, 0, impl_->stream>>>(
        q.as<T>(), k.as<T>(), v.as<T>(), qkv.as<T>(), db.cu_seqlens.as<int32_t>(), B, S, num_heads,
        d);
  });
  check_launch("qkv_split_kernel");
}

void CudaDriver::attn_reshape(Tensor out, const Tensor& ctx, const DeviceBatch<Tensor>& db) {
  const int64_t B = ctx.dim(0), nh = ctx.dim(1), S = ctx.dim(2), d = ctx.dim(3);
  const int64_t T_ = out.rows();
  RIPVEC_DISPATCH_FLOAT(out.dtype, T, {
    attn_reshape_kernel<T><<<blocks_for(T_ * nh * d, 256), 256, 0, impl_->stream>>>(
        out.as<T>(), ctx.as<T>(), db.cu_seqlens.as<int32_t>(), static_cast<int>(B), T_, S, nh, d);
  });
  check_launch("attn_reshape_kernel");
}

void CudaDriver::banded_qk(Tensor scores, const Tensor& qkv, int64_t row0, int64_t len,
                           const AttentionDesc& ad) {
  if (scores.dtype != DType::F32) throw UnsupportedError("cuda driver: banded_qk wants F32 scores");
  const int64_t n = static_cast<int64_t>(ad.num_heads) * len * (2 * ad.half_window + 1);
  RIPVEC_DISPATCH_FLOAT(qkv.dtype, T, {
    banded_qk_kernel<T><<<blocks_for(n, 256), 256, 0, impl_->stream>>>(
        scores.as<float>(), qkv.as<T>(), row0, len, ad.num_heads, ad.head_dim, ad.half_window);
  });
  check_launch("banded_qk_kernel");
}

void CudaDriver::banded_softmax(Tensor scores, const AttentionDesc& ad) {
  const int64_t len = scores.dim(1), W = scores.dim(2);
  const int64_t rows = scores.dim(0) * len;
  if (rows == 0) return;
  constexpr int kThreads = 128;
  RIPVEC_DISPATCH_FLOAT(scores.dtype, T, {
    banded_softmax_kernel<T, kThreads>
        <<<rows, kThreads, 0, impl_->stream>>>(scores.as<T>(), len, W, ad.half_window, ad.scale);
  });
  check_launch("banded_softmax_kernel");
}

void CudaDriver::banded_sv(Tensor out, const Tensor& probs, const Tensor& qkv, int64_t row0,
                           int64_t len, const AttentionDesc& ad) {
  const int64_t n = len * ad.num_heads * ad.head_dim;
  if (probs.dtype != DType::F32) throw UnsupportedError("cuda driver: banded_sv wants F32 probs");
  RIPVEC_DISPATCH_FLOAT(qkv.dtype, T, {
    banded_sv_kernel<T, float><<<blocks_for(n, 256), 256, 0, impl_->stream>>>(
        out.as<T>(), probs.as<float>(), qkv.as<T>(), row0, len, ad.num_heads, ad.head_dim,
        ad.half_window);
  });
  check_launch("banded_sv_kernel");
}

void CudaDriver::rope(Tensor qkv, const Tensor& positions, const Tensor& cos, const Tensor& sin,
                      int num_heads, int head_dim) {
  RIPVEC_PROF("rope");
  const int64_t T_ = qkv.rows();
  const int64_t n = T_ * num_heads * head_dim;  // 2 blocks × nh × d/2 pairs
  if ((head_dim / 2) % 8 == 0 && vec_ok(n, head_dim / 2, {qkv.data, cos.data, sin.data})) {
    const uint32_t half8 = head_dim / 16, heads2 = 2 * num_heads;
    const uint32_t nthreads = static_cast<uint32_t>(T_) * heads2 * half8;
    RIPVEC_DISPATCH_FLOAT(qkv.dtype, T, {
      cuda::rope_vec<T><<<(nthreads + 255) / 256, 256, 0, impl_->stream>>>(
          qkv.as<T>(), positions.as<int32_t>(), cos.as<float>(), sin.as<float>(), nthreads, heads2,
          half8, head_dim);
    });
    check_launch("rope_vec");
    return;
  }
  RIPVEC_DISPATCH_FLOAT(qkv.dtype, T, {
    rope_kernel<T><<<blocks_for(n, 256), 256, 0, impl_->stream>>>(
        qkv.as<T>(), positions.as<int32_t>(), cos.as<float>(), sin.as<float>(), T_, num_heads,
        head_dim);
  });
  check_launch("rope_kernel");
}

// ====================================================================== activations
#define RIPVEC_BIAS_ACT(x, bias, act)                                               \
  do {                                                                              \
    RIPVEC_PROF("bias_act");                                                        \
    const int64_t rows_ = (x).rows(), cols_ = (x).cols();                           \
    if (rows_ * cols_ == 0) return;                                                 \
    if (vec_ok(rows_ * cols_, cols_, {(x).data, (bias).data})) {                    \
      const uint32_t n8_ = static_cast<uint32_t>(rows_ * cols_ / 8);                \
      RIPVEC_DISPATCH_FLOAT((x).dtype, T, {                                         \
        cuda::bias_act_vec<T><<<(n8_ + 255) / 256, 256, 0, impl_->stream>>>(        \
            (x).as<T>(), param(bias), n8_, static_cast<uint32_t>(cols_ / 8),        \
            vact_of(static_cast<int>(act)));                                        \
      });                                                                           \
      check_launch("bias_act_vec");                                                 \
      return;                                                                       \
    }                                                                               \
    RIPVEC_DISPATCH_FLOAT((x).dtype, T, {                                           \
      bias_act_kernel<T><<<blocks_for(rows_* cols_, 256), 256, 0, impl_->stream>>>( \
          (x).as<T>(), param(bias), rows_, cols_, act);                             \
    });                                                                             \
    check_launch("bias_act_kernel");                                                \
  } while (0)

void CudaDriver::gelu(Tensor x) {
  RIPVEC_BIAS_ACT(x, Tensor{}, Act::Gelu);
}
void CudaDriver::gelu_tanh(Tensor x) {
  RIPVEC_BIAS_ACT(x, Tensor{}, Act::GeluTanh);
}
void CudaDriver::silu(Tensor x) {
  RIPVEC_BIAS_ACT(x, Tensor{}, Act::Silu);
}
void CudaDriver::add_bias(Tensor x, const Tensor& bias) {
  RIPVEC_BIAS_ACT(x, bias, Act::None);
}
void CudaDriver::fused_bias_gelu(Tensor x, const Tensor& bias) {
  RIPVEC_BIAS_ACT(x, bias, Act::Gelu);
}

static void launch_gated(cudaStream_t st, CudaDriver::Tensor out, CudaDriver::Tensor second,
                         const CudaDriver::Tensor& in, Act act, bool split) {
  const int64_t rows = in.rows(), I = in.cols() / 2;
  if (rows * I == 0) return;
  if (!split && vec_ok(rows * I, I, {out.data, in.data})) {
    const uint32_t n8 = static_cast<uint32_t>(rows * I / 8);
    RIPVEC_DISPATCH_FLOAT(in.dtype, T, {
      cuda::gated_vec<T><<<(n8 + 255) / 256, 256, 0, st>>>(out.as<T>(), in.as<T>(), n8,
                                                           static_cast<uint32_t>(I / 8),
                                                           vact_of(static_cast<int>(act)));
    });
    check_launch("gated_vec");
    return;
  }
  RIPVEC_DISPATCH_FLOAT(in.dtype, T, {
    gated_kernel<T><<<blocks_for(rows * I, 256), 256, 0, st>>>(out.as<T>(), second.as<T>(),
                                                               in.as<T>(), rows, I, act, split);
  });
  check_launch("gated_kernel");
}
void CudaDriver::split_gate_value(Tensor first, Tensor second, const Tensor& in) {
  launch_gated(impl_->stream, first, second, in, Act::None, true);
}
void CudaDriver::geglu(Tensor out, const Tensor& in) {
  RIPVEC_PROF("geglu");
  launch_gated(impl_->stream, out, Tensor{}, in, Act::Gelu, false);
}
void CudaDriver::swiglu(Tensor out, const Tensor& in) {
  launch_gated(impl_->stream, out, Tensor{}, in, Act::Silu, false);
}

// ====================================================================== element-wise
void CudaDriver::residual_add(Tensor out, const Tensor& a, const Tensor& b) {
  fused_bias_residual(out, a, Tensor{}, b);
}
void CudaDriver::fused_bias_residual(Tensor out, Tensor x, const Tensor& bias,
                                     const Tensor& residual) {
  RIPVEC_PROF("residual_add");
  require_same(x, residual, "residual_add");
  const int64_t rows = x.rows(), cols = x.cols();
  if (rows * cols == 0) return;
  if (vec_ok(rows * cols, cols, {out.data, x.data, residual.data, bias.data})) {
    const uint32_t n8 = static_cast<uint32_t>(rows * cols / 8);
    RIPVEC_DISPATCH_FLOAT(x.dtype, T, {
      cuda::add3_vec<T><<<(n8 + 255) / 256, 256, 0, impl_->stream>>>(
          out.as<T>(), x.as<T>(), param(bias), residual.as<T>(), n8,
          static_cast<uint32_t>(cols / 8));
    });
    check_launch("add3_vec");
    return;
  }
  RIPVEC_DISPATCH_FLOAT(x.dtype, T, {
    add3_kernel<T><<<blocks_for(rows * cols, 256), 256, 0, impl_->stream>>>(
        out.as<T>(), x.as<T>(), param(bias), residual.as<T>(), rows, cols);
  });
  check_launch("add3_kernel");
}

// ====================================================================== pooling / output
static void launch_pool(cudaStream_t st, CudaDriver::Tensor out, const CudaDriver::Tensor& hidden,
                        const CudaDriver::Tensor& cu, bool mean) {
  const int64_t B = out.dim(0), H = hidden.cols();
  if (B == 0) return;
  RIPVEC_DISPATCH_FLOAT(out.dtype, To, RIPVEC_DISPATCH_FLOAT(hidden.dtype, Ti, {
                          pool_kernel<To, Ti><<<B, 256, 0, st>>>(out.as<To>(), hidden.as<Ti>(),
                                                                 cu.as<int32_t>(), H, mean);
                        }));
  check_launch("pool_kernel");
}
void CudaDriver::cls_pool(Tensor out, const Tensor& hidden, const Tensor& cu_seqlens) {
  launch_pool(impl_->stream, out, hidden, cu_seqlens, false);
}
void CudaDriver::mean_pool(Tensor out, const Tensor& hidden, const Tensor& cu_seqlens) {
  launch_pool(impl_->stream, out, hidden, cu_seqlens, true);
}
void CudaDriver::l2_normalize(Tensor x) {
  RIPVEC_PROF("pool_l2");
  const int64_t rows = x.rows(), cols = x.cols();
  if (rows == 0) return;
  RIPVEC_DISPATCH_FLOAT(x.dtype, T,
                        { l2_kernel<T, 256><<<rows, 256, 0, impl_->stream>>>(x.as<T>(), cols); });
  check_launch("l2_kernel");
}
void CudaDriver::pad(Tensor out, const Tensor& in, const Tensor& cu_seqlens, int max_seq) {
  const int64_t B = out.dim(0), C = in.cols();
  RIPVEC_DISPATCH_FLOAT(in.dtype, T, {
    pad_kernel<T><<<blocks_for(B * max_seq * C, 256), 256, 0, impl_->stream>>>(
        out.as<T>(), in.as<T>(), cu_seqlens.as<int32_t>(), B, max_seq, C);
  });
  check_launch("pad_kernel");
}
void CudaDriver::unpad(Tensor out, const Tensor& in, const Tensor& cu_seqlens) {
  const int64_t B = in.dim(0), S = in.dim(1), C = in.dim(2), T_ = out.rows();
  RIPVEC_DISPATCH_FLOAT(in.dtype, T, {
    unpad_kernel<T><<<blocks_for(T_ * C, 256), 256, 0, impl_->stream>>>(
        out.as<T>(), in.as<T>(), cu_seqlens.as<int32_t>(), static_cast<int>(B), T_, S, C);
  });
  check_launch("unpad_kernel");
}

// Implemented in cuda_attention.cu.
void launch_flash_attention(cudaStream_t st, CudaDriver::Tensor out, const CudaDriver::Tensor& qkv,
                            const AttentionDesc& ad, const DeviceBatch<CudaDriver::Tensor>& db);

void CudaDriver::attention(Tensor out, const Tensor& qkv, const AttentionDesc& ad,
                           const DeviceBatch<Tensor>& db) {
  RIPVEC_PROF("attention");
  launch_flash_attention(impl_->stream, out, qkv, ad, db);
}

}  // namespace ripvec
