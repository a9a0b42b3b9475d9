// The CUDA driver: the same Driver contract as the CPU driver, on one GPU and one stream.
//
// This header includes no CUDA headers (the stream and handles are held behind Impl), so the
// architecture templates instantiated for it compile with the host compiler; the kernels live
// in the .cu files of this folder.
//
// Precision (the seed's FP16 path): activations are stored in activation_dtype() — F16 by
// default, BF16 or F32 on request — while GEMMs, norms, softmax and pooling accumulate in F32.
// Every operation accepts F32, F16 and BF16 tensors; I32 for ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "driver/driver.hpp"

namespace ripvec {

struct CudaTag {};

class CudaDriver {
 public:
  using Tensor = BasicTensor<CudaTag>;

  struct Options {
    int device = 0;
    DType activation = DType::F16;
  };

  CudaDriver() : CudaDriver(Options{}) {}
  explicit CudaDriver(const Options& opts);
  ~CudaDriver();
  CudaDriver(const CudaDriver&) = delete;
  CudaDriver& operator=(const CudaDriver&) = delete;

  // Number of usable CUDA devices (0 when no driver or device; never throws).
  static int device_count();
  static bool device_available() { return device_count() > 0; }
  // "NVIDIA H100 80GB HBM3 (sm_90, 80 GiB)"; throws DeviceError for a bad index.
  static std::string device_description(int device);

  std::string_view name() const { return "cuda"; }
  bool supports_dtype(DType) const { return true; }
  DType activation_dtype() const { return activation_; }
  std::string description() const;

  // ---- batch modes ----
  void begin_batch();
  void end_batch();
  void flush_batch();

  // ---- memory ----
  Tensor load_weight(const HostTensorRef& h, DType dt);
  void reserve_scratch(size_t bytes);
  Tensor alloc(DType dt, std::initializer_list<int64_t> dims);
  size_t save() const { return cursor_; }
  void restore(size_t mark) { cursor_ = mark; }
  size_t scratch_high_water() const { return high_water_; }
  size_t scratch_capacity() const { return capacity_; }
  Tensor upload(const void* host, DType dt, std::initializer_list<int64_t> dims);
  DeviceBatch<Tensor> upload_batch(const BatchInputs& b);
  void to_host(const Tensor& t, void* out_f32);
  // Asynchronous to_host for pipelined batches: enqueues the copy of t (as F32) and returns;
  // out (t.numel() floats) is written by the time wait_host_copies() returns. Two copies can
  // be in flight; a third first completes the oldest. discard_host_copies() waits for the
  // device and drops pending copies without writing their outputs (after an error).
  void to_host_async(const Tensor& t, float* out);
  static constexpr size_t kHostCopiesInFlight = 2;  // a copy is complete two calls later
  void wait_host_copies();
  void discard_host_copies();
  void convert(Tensor out, const Tensor& in);
  // Peak bytes of device memory held by this driver (weights + scratch).
  size_t device_bytes() const;

  // ---- embeddings ----
  void embedding_lookup(Tensor out, const Tensor& table, const Tensor& ids);
  void add_embeddings(Tensor x, const Tensor& table, const Tensor& ids);

  // ---- normalization ----
  void layer_norm(Tensor out, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps);

  // ---- matrix products (cuBLAS, tensor cores, F32 accumulation) ----
  void gemm(const GemmDesc& g, const Tensor& a, const Tensor& b, Tensor c);
  void gemm_strided_batched(const GemmDesc& g, int64_t batch, int64_t stride_a, int64_t stride_b,
                            int64_t stride_c, const Tensor& a, const Tensor& b, Tensor c);

  // ---- attention (padded form) ----
  void build_attn_mask(Tensor mask, const Tensor& seq_lengths);
  void scale_mask_softmax(Tensor scores, const Tensor& mask, float scale);
  void scale_mask_softmax_windowed(Tensor scores, const Tensor& mask, float scale, int half_window);
  void qkv_split(Tensor q, Tensor k, Tensor v, const Tensor& qkv, const DeviceBatch<Tensor>& db,
                 int num_heads);
  void attn_reshape(Tensor out, const Tensor& ctx, const DeviceBatch<Tensor>& db);

  // ---- attention (banded) ----
  void banded_qk(Tensor scores, const Tensor& qkv, int64_t row0, int64_t len,
                 const AttentionDesc& ad);
  void banded_softmax(Tensor scores, const AttentionDesc& ad);
  void banded_sv(Tensor out, const Tensor& probs, const Tensor& qkv, int64_t row0, int64_t len,
                 const AttentionDesc& ad);

  // ---- positions ----
  void rope(Tensor qkv, const Tensor& positions, const Tensor& cos, const Tensor& sin,
            int num_heads, int head_dim);

  // ---- activations ----
  void gelu(Tensor x);
  void gelu_tanh(Tensor x);
  void silu(Tensor x);
  void split_gate_value(Tensor first, Tensor second, const Tensor& in);
  void geglu(Tensor out, const Tensor& in);
  void swiglu(Tensor out, const Tensor& in);

  // ---- element-wise ----
  void add_bias(Tensor x, const Tensor& bias);
  void residual_add(Tensor out, const Tensor& a, const Tensor& b);

  // ---- pooling and output ----
  void cls_pool(Tensor out, const Tensor& hidden, const Tensor& cu_seqlens);
  void mean_pool(Tensor out, const Tensor& hidden, const Tensor& cu_seqlens);
  void l2_normalize(Tensor x);
  void pad(Tensor out, const Tensor& in, const Tensor& cu_seqlens, int max_seq);
  void unpad(Tensor out, const Tensor& in, const Tensor& cu_seqlens);

  // ---- optional fused operations (see driver/ops.hpp) ----
  void linear(Tensor y, const Tensor& x, const Tensor& w, const Tensor& bias);
  void fused_bias_gelu(Tensor x, const Tensor& bias);
  void fused_bias_residual(Tensor out, Tensor x, const Tensor& bias, const Tensor& residual);
  void fused_residual_layernorm(Tensor out, Tensor x, const Tensor& bias, const Tensor& residual,
                                const Tensor& gamma, const Tensor& beta, float eps);
  // Flash-style attention straight from packed qkv with cu_seqlens: the score matrix is never
  // stored; local layers only visit keys inside the window.
  void attention(Tensor out, const Tensor& qkv, const AttentionDesc& ad,
                 const DeviceBatch<Tensor>& db);

 public:
  struct Impl;  // opaque; public so that the .cu helpers can name it

 private:
  // Throws what a kernel flagged (bad ids) since the last check; the flag lives on the device
  // so kernels never synchronize, and it is read whenever the host waits anyway.
  void raise_device_errors();
  // t as F32 on the device: t itself, or a converted copy in scratch (the caller brackets it
  // with save()/restore()).
  const void* f32_on_device(const Tensor& t);
  std::unique_ptr<Impl> impl_;
  DType activation_;
  size_t cursor_ = 0, capacity_ = 0, high_water_ = 0;
  char* scratch_ = nullptr;
};

static_assert(Driver<CudaDriver>);

}  // namespace ripvec
