// The Driver contract: everything an architecture may ask of a backend.
//
// Architectures are templates over a type satisfying `Driver` (checked below), so every call
// inlines; the runtime choice of backend happens once, above the architecture (see
// src/pipeline/embedder.cpp). Optional fused operations live in driver/ops.hpp as free
// functions that call the driver's fused kernel when it has one and otherwise compose the
// basic operations declared here.
//
// Conventions for every operation:
//  * Tensors are row-major and contiguous (BasicTensor); shapes are given outermost first.
//  * "Packed" activations are [T, C] with T = total_tokens of the batch (no padding rows).
//    "Padded" activations are [B, S, C] or head-major [B, nh, S, d] with S = max_seq.
//  * Linear weights are stored as Hugging Face does, [out, in]; y = x · Wᵀ + b.
//  * Outputs are written, never accumulated, unless the name says "add"; an output may alias
//    an input only where the comment says "in place" or "may alias".
//  * F32 is supported by every driver. F16/BF16 activations (the "FP16 family") are accepted
//    by drivers whose supports_dtype() says so; accumulation is always F32. A driver given a
//    dtype it lacks throws UnsupportedError naming the operation and the dtype.
//  * Operations enqueue work between begin_batch() and end_batch(); results are visible on the
//    host only after to_host() (which waits) or end_batch().
#pragma once

#include <array>
#include <concepts>
#include <initializer_list>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "driver/batch.hpp"
#include "driver/tensor.hpp"

namespace ripvec {

// C[m, n] = alpha * op(A)[m, k] · op(B)[k, n] + beta * C, row-major with leading dimensions
// (elements between consecutive rows as stored). op(X) = Xᵀ when trans_X.
// A is stored [m, lda] (or [k, lda] when trans_a); B is stored [k, ldb] (or [n, ldb] when
// trans_b); C is stored [m, ldc]. A and B share a dtype; C may be F32 or the same dtype.
struct GemmDesc {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  int64_t lda = 0, ldb = 0, ldc = 0;
  float alpha = 1.0f, beta = 0.0f;
};

// Describes a multi-head self-attention over a packed QKV projection.
// qkv is [T, 3 * nh * d] with Q, K, V as consecutive blocks of nh * d columns, heads
// contiguous inside each block (the layout of HF's fused Wqkv and of concat(Wq, Wk, Wv)).
struct AttentionDesc {
  int num_heads = 0;
  int head_dim = 0;
  float scale = 1.0f;      // usually 1/sqrt(head_dim)
  int half_window = -1;    // -1: global attention; w >= 0: key j visible iff |i - j| <= w
};

// Tensors a batch needs on the device, uploaded by upload_batch(). The host BatchInputs stays
// referenced for loops that run per sequence.
template <class Tensor>
struct DeviceBatch {
  const BatchInputs* host = nullptr;
  Tensor input_ids;       // [T] I32
  Tensor token_type_ids;  // [T] I32
  Tensor position_ids;    // [T] I32
  Tensor seq_lengths;     // [B] I32
  Tensor cu_seqlens;      // [B+1] I32
  Tensor float_mask;      // [B, S] F32, 0 or kMaskedScore
  int batch() const { return host->batch; }
  int max_seq() const { return host->max_seq; }
  int64_t total_tokens() const { return host->total_tokens; }
};

// Reference to host memory holding a weight (a span of an mmapped safetensors file).
struct HostTensorRef {
  const void* data = nullptr;
  DType dtype = DType::F32;
  std::array<int64_t, 4> shape{0, 0, 0, 0};
  int rank = 0;
  int64_t numel() const {
    int64_t n = rank == 0 ? 0 : 1;
    for (int i = 0; i < rank; ++i) n *= shape[i];
    return n;
  }
};

// clang-format off
template <class D>
concept Driver = requires(D& d, const D& cd, typename D::Tensor t, const typename D::Tensor ct,
                          const GemmDesc& g, const AttentionDesc& ad, const BatchInputs& bi,
                          const DeviceBatch<typename D::Tensor>& db, const HostTensorRef& h,
                          DType dt, int i, int64_t n, float f, size_t sz, void* p,
                          std::initializer_list<int64_t> dims) {
  typename D::Tensor;
  { cd.name() } -> std::convertible_to<std::string_view>;
  { cd.supports_dtype(dt) } -> std::same_as<bool>;

  // ---- batch modes ----
  d.begin_batch();               // start enqueuing work for one batch
  d.end_batch();                 // wait until all enqueued work is done
  d.flush_batch();               // submit enqueued work without waiting

  // ---- memory ----
  // Weights: copied/converted once to `dt` (zero-copy on CPU when dtypes match), owned by the
  // driver for its lifetime, immutable afterwards.
  { d.load_weight(h, dt) } -> std::same_as<typename D::Tensor>;
  // Scratch pool: a bump arena reserved once for the worst-case batch. alloc() never calls
  // the system allocator; save()/restore() bracket a layer so its temporaries are reused.
  d.reserve_scratch(sz);
  { d.alloc(dt, dims) } -> std::same_as<typename D::Tensor>;
  { d.save() } -> std::convertible_to<size_t>;
  d.restore(sz);
  { d.scratch_high_water() } -> std::convertible_to<size_t>;
  // Host -> scratch copy of n elements of dtype dt.
  { d.upload(p, dt, dims) } -> std::same_as<typename D::Tensor>;
  { d.upload_batch(bi) } -> std::same_as<DeviceBatch<typename D::Tensor>>;
  // Device -> host, converting to F32 (waits for pending work). p holds numel floats.
  d.to_host(ct, p);
  // FP16 family: element-wise dtype conversion (out and in have the same shape).
  d.convert(t, ct);

  // ---- embeddings ----
  d.embedding_lookup(t, ct, ct);  // out[T,H] = table[V,H][ids[T]]
  d.add_embeddings(t, ct, ct);    // x[T,H] += table[V,H][ids[T]]

  // ---- normalization ----
  // out[R,C] = (x - mean) / sqrt(var + eps) * gamma + beta; beta may be empty(); may alias.
  d.layer_norm(t, ct, ct, ct, f);

  // ---- matrix products ----
  d.gemm(g, ct, ct, t);                              // see GemmDesc
  // batch i uses A + i*stride_a, B + i*stride_b, C + i*stride_c (strides in elements)
  d.gemm_strided_batched(g, n, n, n, n, ct, ct, t);

  // ---- attention (padded form) ----
  // mask[B,S] from seq_lengths: 0 for j < len, kMaskedScore otherwise.
  d.build_attn_mask(t, ct);
  // scores[B, nh, S, S] in place: softmax_j(scale * s + mask[b, j]).
  d.scale_mask_softmax(t, ct, f);
  // Same, and keys with |i - j| > half_window get kMaskedScore too (sliding window).
  d.scale_mask_softmax_windowed(t, ct, f, i);
  // qkv[T, 3H] (packed) -> q, k, v [B, nh, S, d] (padded, zero rows past each length).
  d.qkv_split(t, t, t, ct, db, i);
  // ctx[B, nh, S, d] -> out[T, H] packed (drops padding rows).
  d.attn_reshape(t, ct, db);

  // ---- attention (banded, one sequence at a time; local layers) ----
  // For a sequence of S tokens at packed rows [row0, row0 + S) of qkv[T, 3H], band width
  // W = 2 * half_window + 1: scores[nh, S, W] with scores[h,i,w] = q_i · k_{i-half+w}
  // (kMaskedScore where i-half+w is outside [0, S)).
  d.banded_qk(t, ct, n, n, ad);
  // softmax over w of scale * scores[h, i, w], in place.
  d.banded_softmax(t, ad);
  // out[row0 + i, h*d:(h+1)*d] = sum_w p[h,i,w] * v_{i-half+w}; out is [T, H].
  d.banded_sv(t, ct, ct, n, n, ad);

  // ---- positions ----
  // Rotary embedding in place on the Q and K blocks of qkv[T, 3*nh*d] (V untouched), with
  // HF's rotate_half convention: dims (j, j + d/2) rotate together by angle
  // positions[t] * theta^(-2j/d). cos, sin: [P, d/2] F32 tables; positions[T] I32.
  // Arguments: qkv, positions, cos, sin, num_heads, head_dim.
  d.rope(t, ct, ct, ct, i, i);

  // ---- activations ----
  d.gelu(t);                     // exact erf GELU, in place
  d.gelu_tanh(t);                // tanh approximation, in place
  d.silu(t);                     // in place
  d.split_gate_value(t, t, ct);  // in[R, 2I] -> first[R, I] = in[:, :I], second = in[:, I:]
  d.geglu(t, ct);                // out[R, I] = gelu(in[:, :I]) * in[:, I:]
  d.swiglu(t, ct);               // out[R, I] = silu(in[:, :I]) * in[:, I:]

  // ---- element-wise ----
  d.add_bias(t, ct);             // x[R,C] += bias[C], in place
  d.residual_add(t, ct, ct);     // out = a + b; may alias

  // ---- pooling and output ----
  d.cls_pool(t, ct, ct);         // out[B,H] = hidden[cu_seqlens[b]]
  d.mean_pool(t, ct, ct);        // out[B,H] = mean of hidden rows of sequence b
  d.l2_normalize(t);             // rows of x[B,H] to unit L2 norm, in place (zero stays zero)
  d.pad(t, ct, ct, i);           // in[T,C] packed -> out[B,S,C], zero padding
  d.unpad(t, ct, ct);            // in[B,S,C] -> out[T,C]
};
// clang-format on

}  // namespace ripvec
