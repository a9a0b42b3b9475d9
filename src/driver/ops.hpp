// Optional fused operations. Each is a free function over any Driver: it calls the driver's
// fused kernel when the driver declares one (detected at compile time) and otherwise composes
// the basic operations of the contract, so every driver gets a correct result and a fast
// driver gets a fast one. Architectures call these, never the fused members directly.
#pragma once

#include <cmath>

#include "driver/driver.hpp"

namespace ripvec::ops {

// The dtype activations are stored in between layers: F32 unless the driver runs a reduced
// precision path (the CUDA driver's FP16/BF16 mode). Weights that feed GEMMs are loaded in
// this dtype too; norms, softmax, pooling and accumulation stay F32 inside the kernels.
template <Driver D>
DType activation_dtype(const D& d) {
  if constexpr (requires { d.activation_dtype(); }) {
    return d.activation_dtype();
  } else {
    return DType::F32;
  }
}

// The GEMM of y[R, out] = x[R, in] · W[out, in]ᵀ (row-major, W as Hugging Face stores it).
template <class Tensor>
GemmDesc linear_desc(const Tensor& x, const Tensor& w, float beta = 0.0f) {
  GemmDesc g;
  g.m = x.rows();
  g.k = x.cols();
  g.n = w.dim(0);
  g.trans_b = true;
  g.lda = g.k;
  g.ldb = g.k;
  g.ldc = g.n;
  g.beta = beta;
  return g;
}

// y[R, out] = x[R, in] · W[out, in]ᵀ (+ bias[out] when bias is non-empty).
template <Driver D>
void linear(D& d, typename D::Tensor y, const typename D::Tensor& x, const typename D::Tensor& w,
            const typename D::Tensor& bias) {
  if constexpr (requires { d.linear(y, x, w, bias); }) {
    d.linear(y, x, w, bias);
  } else {
    d.gemm(linear_desc(x, w), x, w, y);
    if (!bias.empty()) d.add_bias(y, bias);
  }
}

// y[R, out] += x[R, in] · W[out, in]ᵀ (+ bias[out] when bias is non-empty): a residual add
// folded into the GEMM (beta = 1), so the product is never stored on its own. Every driver's
// gemm() honours beta, so this needs no fused kernel.
template <Driver D>
void linear_add(D& d, typename D::Tensor y, const typename D::Tensor& x,
                const typename D::Tensor& w, const typename D::Tensor& bias) {
  d.gemm(linear_desc(x, w, 1.0f), x, w, y);
  if (!bias.empty()) d.add_bias(y, bias);
}

// x = gelu(x + bias), exact erf GELU.
template <Driver D>
void fused_bias_gelu(D& d, typename D::Tensor x, const typename D::Tensor& bias) {
  if constexpr (requires { d.fused_bias_gelu(x, bias); }) {
    d.fused_bias_gelu(x, bias);
  } else {
    if (!bias.empty()) d.add_bias(x, bias);
    d.gelu(x);
  }
}

// y = gelu(x · Wᵀ + bias), exact erf GELU, bias may be empty: the first FFN projection with
// its activation in the GEMM's epilogue where the driver has one (the output is written once).
template <Driver D>
void linear_gelu(D& d, typename D::Tensor y, const typename D::Tensor& x,
                 const typename D::Tensor& w, const typename D::Tensor& bias) {
  if constexpr (requires { d.linear_gelu(y, x, w, bias); }) {
    d.linear_gelu(y, x, w, bias);
  } else {
    linear(d, y, x, w, typename D::Tensor{});
    fused_bias_gelu(d, y, bias);
  }
}

// out = x + bias + residual (bias may be empty); out may alias x or residual.
template <Driver D>
void fused_bias_residual(D& d, typename D::Tensor out, typename D::Tensor x,
                         const typename D::Tensor& bias, const typename D::Tensor& residual) {
  if constexpr (requires { d.fused_bias_residual(out, x, bias, residual); }) {
    d.fused_bias_residual(out, x, bias, residual);
  } else {
    if (!bias.empty()) d.add_bias(x, bias);
    d.residual_add(out, x, residual);
  }
}

// out = layer_norm(x + bias + residual) with gamma/beta (bias, beta may be empty).
// x is clobbered; out may alias x or residual.
template <Driver D>
void fused_residual_layernorm(D& d, typename D::Tensor out, typename D::Tensor x,
                              const typename D::Tensor& bias, const typename D::Tensor& residual,
                              const typename D::Tensor& gamma, const typename D::Tensor& beta,
                              float eps) {
  if constexpr (requires {
                  d.fused_residual_layernorm(out, x, bias, residual, gamma, beta, eps);
                }) {
    d.fused_residual_layernorm(out, x, bias, residual, gamma, beta, eps);
  } else {
    fused_bias_residual(d, x, x, bias, residual);
    d.layer_norm(out, x, gamma, beta, eps);
  }
}

// x[R, H] = layer_norm(x + in · Wᵀ + bias) with gamma / beta (bias, gamma, beta may be empty): an
// attention block's output projection and its residual norm. The driver's fused kernel where it
// has one (it norms the product's rows while they are in cache), else linear into a product
// [R, H] allocated in scratch (the caller restores its scratch mark), then
// fused_residual_layernorm.
template <Driver D>
void linear_residual_layernorm(D& d, typename D::Tensor x, const typename D::Tensor& in,
                               const typename D::Tensor& w, const typename D::Tensor& bias,
                               const typename D::Tensor& gamma, const typename D::Tensor& beta,
                               float eps) {
  if constexpr (requires { d.linear_residual_layernorm(x, in, w, bias, gamma, beta, eps); }) {
    d.linear_residual_layernorm(x, in, w, bias, gamma, beta, eps);
  } else {
    typename D::Tensor proj = d.alloc(x.dtype, {in.rows(), w.dim(0)});
    linear(d, proj, in, w, typename D::Tensor{});
    fused_residual_layernorm(d, x, proj, bias, x, gamma, beta, eps);
  }
}

// x[R, H] = layer_norm(x + gelu(x · Wiᵀ + bi) · Woᵀ + bo) with gamma / beta (exact erf GELU; bi,
// bo, gamma, beta may be empty): a BERT layer's feed-forward sub-layer. The driver's fused
// kernel where it has one (it need not store the intermediate, nor pass over the product again
// for the norm), else linear_gelu into an intermediate [R, I] and linear into a product [R, H],
// both allocated in scratch (the caller restores its scratch mark), then
// fused_residual_layernorm.
template <Driver D>
void ffn_gelu_layernorm(D& d, typename D::Tensor x, const typename D::Tensor& wi,
                        const typename D::Tensor& bi, const typename D::Tensor& wo,
                        const typename D::Tensor& bo, const typename D::Tensor& gamma,
                        const typename D::Tensor& beta, float eps) {
  if constexpr (requires { d.ffn_gelu_layernorm(x, wi, bi, wo, bo, gamma, beta, eps); }) {
    d.ffn_gelu_layernorm(x, wi, bi, wo, bo, gamma, beta, eps);
  } else {
    typename D::Tensor mid = d.alloc(x.dtype, {x.rows(), wi.dim(0)});
    typename D::Tensor out = d.alloc(x.dtype, {x.rows(), wo.dim(0)});
    linear_gelu(d, mid, x, wi, bi);
    linear(d, out, mid, wo, typename D::Tensor{});
    fused_residual_layernorm(d, x, out, bo, x, gamma, beta, eps);
  }
}

// out[T, nh*d] = multi-head attention over qkv[T, 3*nh*d] for every sequence of the batch,
// global or sliding-window (ad.half_window). Padding is never attended to.
template <Driver D>
void attention(D& d, typename D::Tensor out, const typename D::Tensor& qkv, const AttentionDesc& ad,
               const DeviceBatch<typename D::Tensor>& db) {
  if constexpr (requires { d.attention(out, qkv, ad, db); }) {
    d.attention(out, qkv, ad, db);
  } else if (ad.half_window >= 0) {
    // Banded form: only the 2w+1 keys around each query are computed, one sequence at a time.
    const BatchInputs& h = *db.host;
    const int64_t band = 2 * static_cast<int64_t>(ad.half_window) + 1;
    for (int b = 0; b < h.batch; ++b) {
      const size_t mark = d.save();
      const int64_t row0 = h.cu_seqlens[b];
      const int64_t len = h.seq_lengths[b];
      auto scores = d.alloc(DType::F32, {ad.num_heads, len, band});
      d.banded_qk(scores, qkv, row0, len, ad);
      d.banded_softmax(scores, ad);
      d.banded_sv(out, scores, qkv, row0, len, ad);
      d.restore(mark);
    }
  } else {
    // Padded form: split to [B, nh, S, d], two strided batched GEMMs around a masked softmax.
    const int64_t B = db.batch(), S = db.max_seq(), nh = ad.num_heads, hd = ad.head_dim;
    const size_t mark = d.save();
    auto q = d.alloc(qkv.dtype, {B, nh, S, hd});
    auto k = d.alloc(qkv.dtype, {B, nh, S, hd});
    auto v = d.alloc(qkv.dtype, {B, nh, S, hd});
    d.qkv_split(q, k, v, qkv, db, ad.num_heads);
    auto scores = d.alloc(DType::F32, {B, nh, S, S});
    GemmDesc g;
    g.m = S;
    g.n = S;
    g.k = hd;
    g.trans_b = true;
    g.lda = hd;
    g.ldb = hd;
    g.ldc = S;
    d.gemm_strided_batched(g, B * nh, S * hd, S * hd, S * S, q, k, scores);
    d.scale_mask_softmax(scores, db.float_mask, ad.scale);
    auto ctx = d.alloc(qkv.dtype, {B, nh, S, hd});
    GemmDesc g2;
    g2.m = S;
    g2.n = hd;
    g2.k = S;
    g2.lda = S;
    g2.ldb = hd;
    g2.ldc = hd;
    if (scores.dtype != v.dtype) {
      auto p = d.alloc(v.dtype, {B, nh, S, S});
      d.convert(p, scores);
      d.gemm_strided_batched(g2, B * nh, S * S, S * hd, S * hd, p, v, ctx);
    } else {
      d.gemm_strided_batched(g2, B * nh, S * S, S * hd, S * hd, scores, v, ctx);
    }
    d.attn_reshape(out, ctx, db);
    d.restore(mark);
  }
}

}  // namespace ripvec::ops
