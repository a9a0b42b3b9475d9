// ModernBert: the pre-norm encoder of model_type "modernbert" (answerdotai/ModernBERT,
// nomic-ai/modernbert-embed-base, ...), as a template over the Driver.
//
//   x = LayerNorm(tok_emb[ids])                                   (no position embeddings)
//   per layer l:  h = l == 0 ? x : LayerNorm_attn(x)
//                 qkv = h · Wqkvᵀ (+ b);  RoPE on q, k with θ_global or θ_local
//                 x  += Wo · attention(qkv)                        global, or sliding window
//                                                   (the GEMM accumulates into x: beta = 1)
//                 g   = LayerNorm_mlp(x) · Wiᵀ (+ b)               [T, 2I]
//                 x  += Wo_mlp · (gelu(g[:, :I]) * g[:, I:])        (GeGLU)
//   out = LayerNorm_final(x)
//
// Layer l is global when l % global_attn_every_n_layers == 0, else local: a query sees keys
// with |i - j| <= local_attention / 2 (HF's bidirectional sliding-window mask). Bias flags
// (norm_bias, attention_bias, mlp_bias) come from config.json. Everything runs on the packed
// tokens [T, H]; local layers use the driver's banded/windowed attention so their cost grows
// linearly with the sequence length. RoPE tables are built once per theta at load for every
// position up to max_position_embeddings.
#pragma once

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "arch/arch_common.hpp"
#include "driver/driver.hpp"
#include "driver/ops.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"

namespace ripvec {

template <Driver D>
class ModernBert {
 public:
  using Tensor = typename D::Tensor;
  using Batch = DeviceBatch<Tensor>;

  // Tensor names may carry a "model." prefix (ModernBertForMaskedLM checkpoints). Throws
  // ModelFormatError naming the tensor when one is missing or disagrees with the config.
  ModernBert(D& d, const SafeTensors& st, const ModernBertConfig& cfg, const ArchOptions& opts = {})
      : d_(d), cfg_(cfg), dtype_(opts.dtype), loader_(d, st, opts.dtype) {
    // Config values are config.json's, beside the weights (they were blamed on the weights file:
    // "…/model.safetensors config: …"; hostile probe 2026-12-07).
    const std::string origin = (st.path().parent_path() / "config.json").string();
    validate_config(origin);
    if (!d.supports_dtype(dtype_))
      throw UnsupportedError(std::string("driver ") + std::string(d.name()) + " does not support " +
                             dtype_name(dtype_));
    head_dim_ = cfg.hidden_size / cfg.num_attention_heads;
    load_weights();
    build_rope_tables();
    if (opts.limits.tokens > 0) {
      reserved_ = scratch_bytes(opts.limits);
      d_.reserve_scratch(reserved_);
    }
  }
  ModernBert(const ModernBert&) = delete;
  ModernBert& operator=(const ModernBert&) = delete;

  int hidden_size() const { return cfg_.hidden_size; }
  int max_positions() const { return cfg_.max_position_embeddings; }
  int num_heads() const { return cfg_.num_attention_heads; }
  DType dtype() const { return dtype_; }
  const ModernBertConfig& config() const { return cfg_; }
  bool is_global_layer(int l) const { return l % cfg_.global_attn_every_n_layers == 0; }

  AttentionDesc attention_desc(int layer) const {
    AttentionDesc ad;
    ad.num_heads = cfg_.num_attention_heads;
    ad.head_dim = head_dim_;
    ad.scale = 1.0f / std::sqrt(static_cast<float>(head_dim_));
    ad.half_window = is_global_layer(layer) ? -1 : cfg_.local_attention / 2;
    return ad;
  }

  size_t scratch_bytes(const BatchShape& s) const {
    const size_t es = dtype_size(dtype_);
    const size_t T = static_cast<size_t>(s.tokens), H = cfg_.hidden_size,
                 I = cfg_.intermediate_size;
    const size_t upload = batch_upload_bytes(s) + 6 * kAllocSlack;
    const size_t hidden = T * H * es + kAllocSlack;
    size_t attn_own = 0;
    // Layers 0 .. g cover one global and the local kinds (g = INT_MAX is a valid config: the
    // sum is taken in 64 bits).
    const int64_t kinds =
        std::min<int64_t>(cfg_.num_hidden_layers, int64_t{cfg_.global_attn_every_n_layers} + 1);
    for (int l = 0; l < kinds; ++l)
      attn_own = std::max(attn_own, attention_scratch_bytes(d_, attention_desc(l), dtype_, s));
    // Banded fallback: one sequence's [nh, S, 2w+1] F32 scores at a time.
    const size_t band = has_fused_attention<D>
                            ? 0
                            : static_cast<size_t>(cfg_.num_attention_heads) * s.max_seq *
                                  (static_cast<size_t>(cfg_.local_attention) + 1) * 4;
    // Attention half: normed [T,H], qkv [T,3H], ctx [T,H] + the attention's own (the output
    // projection accumulates into x).
    const size_t attn =
        T * 5 * H * es + 3 * kAllocSlack + std::max(attn_own, band) + 8 * kAllocSlack;
    // MLP half: normed [T,H], wi [T,2I], act [T,I] (the down projection accumulates into x).
    const size_t mlp = T * (H + 3 * I) * es + 3 * kAllocSlack;
    const size_t pooled = static_cast<size_t>(s.batch) * H * 4 + kAllocSlack;
    return upload + hidden + std::max(attn, mlp) + pooled + (64u << 10);
  }

  void ensure_scratch(const BatchShape& s) {
    const size_t need = scratch_bytes(s);
    if (need > reserved_) {
      d_.reserve_scratch(need);
      reserved_ = need;
    }
  }
  size_t reserved_scratch() const { return reserved_; }

  void check_batch(const BatchInputs& b) const {
    if (b.max_seq > cfg_.max_position_embeddings)
      throw InvalidArgument("sequence of " + std::to_string(b.max_seq) +
                            " tokens exceeds max_position_embeddings " +
                            std::to_string(cfg_.max_position_embeddings));
    for (int64_t t = 0; t < b.total_tokens; ++t) {
      const int32_t id = b.input_ids[t];
      if (id < 0 || id >= cfg_.vocab_size)
        throw InvalidArgument("token id " + std::to_string(id) + " outside the vocabulary [0, " +
                              std::to_string(cfg_.vocab_size) + ")");
    }
  }

  // Final hidden states [T, H] (packed, dtype()), in scratch.
  Tensor forward(const Batch& db) {
    auto no_callback = [](int) {};
    return forward_timed(db, &no_callback);
  }

  // forward() that calls (*on_layer)(l) after each layer has been enqueued (benchmarks use it
  // with a synchronizing callback to time global and local layers apart).
  template <class OnLayer>
  Tensor forward_timed(const Batch& db, OnLayer* on_layer) {
    check_batch(*db.host);
    const int64_t T = db.total_tokens(), H = cfg_.hidden_size, I = cfg_.intermediate_size;
    const float eps = cfg_.norm_eps;

    Tensor x = d_.alloc(dtype_, {T, H});
    d_.embedding_lookup(x, tok_emb_, db.input_ids);
    d_.layer_norm(x, x, emb_norm_g_, emb_norm_b_, eps);

    for (int l = 0; l < cfg_.num_hidden_layers; ++l) {
      const Layer& L = layers_[l];
      const size_t mark = d_.save();
      {
        Tensor h = x;
        if (l != 0) {
          h = d_.alloc(dtype_, {T, H});
          d_.layer_norm(h, x, L.attn_norm_g, L.attn_norm_b, eps);
        }
        Tensor qkv = d_.alloc(dtype_, {T, 3 * H});
        ops::linear(d_, qkv, h, L.wqkv, L.bqkv);
        const bool global = is_global_layer(l);
        d_.rope(qkv, db.position_ids, global ? cos_global_ : cos_local_,
                global ? sin_global_ : sin_local_, cfg_.num_attention_heads, head_dim_);
        Tensor ctx = d_.alloc(dtype_, {T, H});
        ops::attention(d_, ctx, qkv, attention_desc(l), db);
        ops::linear_add(d_, x, ctx, L.wo, L.bo);  // x += ctx · Woᵀ (+ bo)
      }
      d_.restore(mark);
      {
        Tensor h = d_.alloc(dtype_, {T, H});
        d_.layer_norm(h, x, L.mlp_norm_g, L.mlp_norm_b, eps);
        Tensor wi = d_.alloc(dtype_, {T, 2 * I});
        ops::linear(d_, wi, h, L.wi, L.bi);
        Tensor act = d_.alloc(dtype_, {T, I});
        d_.geglu(act, wi);
        ops::linear_add(d_, x, act, L.wo_mlp, L.bo_mlp);  // x += act · Wo_mlpᵀ (+ bo_mlp)
      }
      d_.restore(mark);
      (*on_layer)(l);
    }
    d_.layer_norm(x, x, final_norm_g_, final_norm_b_, eps);
    return x;
  }

  Tensor pooled(const Batch& db, const Tensor& hidden, Pooling pooling, bool normalize) {
    return pool_sequences(d_, db, hidden, pooling, normalize);
  }

 private:
  struct Layer {
    Tensor attn_norm_g, attn_norm_b;  // absent on layer 0
    Tensor wqkv, bqkv;                // [3H, H], [3H]
    Tensor wo, bo;                    // [H, H], [H]
    Tensor mlp_norm_g, mlp_norm_b;    // [H]
    Tensor wi, bi;                    // [2I, H], [2I]
    Tensor wo_mlp, bo_mlp;            // [H, I], [H]
  };

  void validate_config(const std::string& origin) const {
    auto positive = [&](int v, const char* field) {
      if (v <= 0)
        throw ModelFormatError(origin + ": " + field + " must be positive, got " +
                               std::to_string(v));
    };
    positive(cfg_.vocab_size, "vocab_size");
    positive(cfg_.hidden_size, "hidden_size");
    positive(cfg_.num_hidden_layers, "num_hidden_layers");
    positive(cfg_.num_attention_heads, "num_attention_heads");
    positive(cfg_.intermediate_size, "intermediate_size");
    positive(cfg_.max_position_embeddings, "max_position_embeddings");
    positive(cfg_.global_attn_every_n_layers, "global_attn_every_n_layers");
    if (cfg_.local_attention < 0)
      throw ModelFormatError(origin + ": local_attention must not be negative");
    if (cfg_.hidden_size % cfg_.num_attention_heads != 0)
      throw ModelFormatError(origin + ": hidden_size " + std::to_string(cfg_.hidden_size) +
                             " is not a multiple of num_attention_heads " +
                             std::to_string(cfg_.num_attention_heads));
    if ((cfg_.hidden_size / cfg_.num_attention_heads) % 2 != 0)
      throw ModelFormatError(origin + ": head dimension must be even for RoPE");
    if (cfg_.hidden_activation != "gelu" && cfg_.hidden_activation != "gelu_python")
      throw ModelFormatError(origin + ": unsupported hidden_activation \"" +
                             cfg_.hidden_activation + "\" (supported: gelu)");
    if (!(cfg_.norm_eps > 0.0f))
      throw ModelFormatError(origin + ": norm_eps must be positive");
  }

  std::pair<Tensor, Tensor> load_norm(const std::string& base, int64_t h) {
    Tensor g = loader_.load(base + ".weight", {h});
    Tensor b;
    if (cfg_.norm_bias) b = loader_.load(base + ".bias", {h});
    return {g, b};
  }

  void load_weights() {
    const int64_t H = cfg_.hidden_size, I = cfg_.intermediate_size;
    const std::string p = loader_.detect_prefix("embeddings.tok_embeddings.weight", {"model."});
    tok_emb_ = loader_.load(p + "embeddings.tok_embeddings.weight", {cfg_.vocab_size, H});
    std::tie(emb_norm_g_, emb_norm_b_) = load_norm(p + "embeddings.norm", H);
    loader_.check_layer_count(p, kModernBertLayerProbe, cfg_.num_hidden_layers);
    layers_.resize(cfg_.num_hidden_layers);
    for (int l = 0; l < cfg_.num_hidden_layers; ++l) {
      Layer& L = layers_[l];
      const std::string n = p + "layers." + std::to_string(l) + ".";
      if (l != 0) std::tie(L.attn_norm_g, L.attn_norm_b) = load_norm(n + "attn_norm", H);
      L.wqkv = loader_.load(n + "attn.Wqkv.weight", {3 * H, H});
      if (cfg_.attention_bias) L.bqkv = loader_.load(n + "attn.Wqkv.bias", {3 * H});
      L.wo = loader_.load(n + "attn.Wo.weight", {H, H});
      if (cfg_.attention_bias) L.bo = loader_.load(n + "attn.Wo.bias", {H});
      std::tie(L.mlp_norm_g, L.mlp_norm_b) = load_norm(n + "mlp_norm", H);
      L.wi = loader_.load(n + "mlp.Wi.weight", {2 * I, H});
      if (cfg_.mlp_bias) L.bi = loader_.load(n + "mlp.Wi.bias", {2 * I});
      L.wo_mlp = loader_.load(n + "mlp.Wo.weight", {H, I});
      if (cfg_.mlp_bias) L.bo_mlp = loader_.load(n + "mlp.Wo.bias", {H});
    }
    std::tie(final_norm_g_, final_norm_b_) = load_norm(p + "final_norm", H);
  }

  // cos/sin [P, d/2] for inv_freq_j = theta^(-2j/d), computed in double then rounded, the way
  // HF computes them in F32 from position * inv_freq.
  std::pair<Tensor, Tensor> rope_table(float theta, std::vector<float>& cos_buf,
                                       std::vector<float>& sin_buf) {
    const int64_t P = cfg_.max_position_embeddings, half = head_dim_ / 2;
    cos_buf.resize(static_cast<size_t>(P * half));
    sin_buf.resize(static_cast<size_t>(P * half));
    for (int64_t j = 0; j < half; ++j) {
      // HF: inv_freq = 1 / (base ** (arange(0, dim, 2).float() / dim)) in F32.
      const float inv_freq =
          1.0f / std::pow(theta, static_cast<float>(2 * j) / static_cast<float>(head_dim_));
      for (int64_t pos = 0; pos < P; ++pos) {
        const float angle = static_cast<float>(pos) * inv_freq;
        cos_buf[pos * half + j] = std::cos(angle);
        sin_buf[pos * half + j] = std::sin(angle);
      }
    }
    HostTensorRef c, s;
    c.data = cos_buf.data();
    s.data = sin_buf.data();
    c.dtype = s.dtype = DType::F32;
    c.rank = s.rank = 2;
    c.shape[0] = s.shape[0] = P;
    c.shape[1] = s.shape[1] = half;
    return {d_.load_weight(c, DType::F32), d_.load_weight(s, DType::F32)};
  }

  void build_rope_tables() {
    std::tie(cos_global_, sin_global_) =
        rope_table(cfg_.global_rope_theta, rope_bufs_[0], rope_bufs_[1]);
    std::tie(cos_local_, sin_local_) =
        rope_table(cfg_.local_rope_theta, rope_bufs_[2], rope_bufs_[3]);
  }

  D& d_;
  ModernBertConfig cfg_;
  DType dtype_;
  int head_dim_ = 0;
  WeightLoader<D> loader_;
  Tensor tok_emb_, emb_norm_g_, emb_norm_b_, final_norm_g_, final_norm_b_;
  std::vector<Layer> layers_;
  // Host tables a CPU driver views zero-copy: they live as long as the model.
  std::vector<float> rope_bufs_[4];
  Tensor cos_global_, sin_global_, cos_local_, sin_local_;
  size_t reserved_ = 0;
};

}  // namespace ripvec
