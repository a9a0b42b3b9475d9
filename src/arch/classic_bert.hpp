// ClassicBert: the post-norm BERT encoder of model_type "bert" (BERT, MiniLM, BGE, E5, GTE...),
// as a template over the Driver so that every call inlines into the backend.
//
//   x = LayerNorm(word_emb[ids] + pos_emb[positions] + type_emb[token_types])
//   per layer:  a = attention(x · Wqkvᵀ + bqkv)            (global, scale 1/sqrt(head_dim))
//               x = LayerNorm(x + a · Woᵀ + bo)
//               h = act(x · Wiᵀ + bi)                      (gelu erf / gelu tanh / relu)
//               x = LayerNorm(x + h · Wo2ᵀ + bo2)
//
// Everything runs on the packed tokens [T, H] of a batch (no padding rows). Wq, Wk, Wv are
// concatenated once at load into one [3H, H] weight (the layout AttentionDesc expects).
// Weights are immutable after load; all temporaries of forward() come from the driver's
// scratch arena, reserved once for the worst-case batch (ArchOptions::limits).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
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
class ClassicBert {
 public:
  using Tensor = typename D::Tensor;
  using Batch = DeviceBatch<Tensor>;

  // Loads and validates every weight of `st` against `cfg`. Tensor names may carry a "bert."
  // prefix (checkpoints of BertFor* heads). Throws ModelFormatError naming the tensor when one
  // is missing or its shape disagrees with the config, and for unsupported config values.
  ClassicBert(D& d, const SafeTensors& st, const BertConfig& cfg, const ArchOptions& opts = {})
      : d_(d), cfg_(cfg), dtype_(opts.dtype), loader_(d, st, opts.dtype) {
    // Config values are config.json's, beside the weights (they were blamed on the weights file:
    // "…/model.safetensors config: …"; hostile probe 2026-12-07).
    const std::string origin = (st.path().parent_path() / "config.json").string();
    validate_config(origin);
    act_ = parse_activation(cfg.hidden_act, "hidden_act", origin);
    if (act_ == Activation::Relu && !has_relu<D>)
      throw UnsupportedError("hidden_act relu: driver " + std::string(d.name()) +
                             " has no relu kernel");
    if (!d.supports_dtype(dtype_))
      throw UnsupportedError(std::string("driver ") + std::string(d.name()) + " does not support " +
                             dtype_name(dtype_));
    load_weights();
    ad_.num_heads = cfg.num_attention_heads;
    ad_.head_dim = cfg.hidden_size / cfg.num_attention_heads;
    ad_.scale = 1.0f / std::sqrt(static_cast<float>(ad_.head_dim));
    ad_.half_window = -1;
    if (opts.limits.tokens > 0) {
      reserved_ = scratch_bytes(opts.limits);
      d_.reserve_scratch(reserved_);
    }
  }
  ClassicBert(const ClassicBert&) = delete;
  ClassicBert& operator=(const ClassicBert&) = delete;

  int hidden_size() const { return cfg_.hidden_size; }
  int max_positions() const { return cfg_.max_position_embeddings; }
  int num_heads() const { return cfg_.num_attention_heads; }
  DType dtype() const { return dtype_; }
  const BertConfig& config() const { return cfg_; }

  // Scratch bytes a batch of (at most) shape `s` needs, from upload_batch() to pooling.
  size_t scratch_bytes(const BatchShape& s) const {
    const size_t es = dtype_size(dtype_);
    const size_t T = static_cast<size_t>(s.tokens), H = cfg_.hidden_size,
                 I = cfg_.intermediate_size;
    const size_t upload = batch_upload_bytes(s) + 6 * kAllocSlack;
    const size_t hidden = T * H * es + kAllocSlack;
    // Attention half of a layer: qkv [T,3H], ctx [T,H], proj [T,H] and the attention's own.
    const size_t attn = T * 5 * H * es + 3 * kAllocSlack +
                        attention_scratch_bytes(d_, ad_, dtype_, s) + 8 * kAllocSlack;
    // Feed-forward half: inter [T,I], out [T,H].
    const size_t ffn = T * (I + H) * es + 2 * kAllocSlack;
    const size_t pooled = static_cast<size_t>(s.batch) * H * 4 + kAllocSlack;
    return upload + hidden + std::max(attn, ffn) + pooled + (64u << 10);
  }

  // Grows the arena when a batch is larger than the load-time limits. Call with no live scratch
  // allocation (before upload_batch()), never inside forward().
  void ensure_scratch(const BatchShape& s) {
    const size_t need = scratch_bytes(s);
    if (need > reserved_) {
      d_.reserve_scratch(need);
      reserved_ = need;
    }
  }
  size_t reserved_scratch() const { return reserved_; }

  // Checks a host batch against the model (ids within the vocabulary, token types within
  // type_vocab_size, no sequence longer than max_position_embeddings). Throws InvalidArgument.
  void check_batch(const BatchInputs& b) const {
    if (b.max_seq > cfg_.max_position_embeddings)
      throw InvalidArgument("sequence of " + std::to_string(b.max_seq) +
                            " tokens exceeds max_position_embeddings " +
                            std::to_string(cfg_.max_position_embeddings));
    for (int64_t t = 0; t < b.total_tokens; ++t) {
      const int32_t id = b.input_ids[t], ty = b.token_type_ids[t];
      if (id < 0 || id >= cfg_.vocab_size)
        throw InvalidArgument("token id " + std::to_string(id) + " outside the vocabulary [0, " +
                              std::to_string(cfg_.vocab_size) + ")");
      if (ty < 0 || ty >= cfg_.type_vocab_size)
        throw InvalidArgument("token type id " + std::to_string(ty) + " outside [0, " +
                              std::to_string(cfg_.type_vocab_size) + ")");
    }
  }

  // Final hidden states [T, H] (packed, dtype()), allocated in scratch: valid until the
  // caller restores the scratch mark it took before the call.
  Tensor forward(const Batch& db) {
    check_batch(*db.host);
    const int64_t T = db.total_tokens(), H = cfg_.hidden_size, I = cfg_.intermediate_size;
    const float eps = cfg_.layer_norm_eps;

    Tensor x = d_.alloc(dtype_, {T, H});
    d_.embedding_lookup(x, word_emb_, db.input_ids);
    d_.add_embeddings(x, pos_emb_, db.position_ids);
    d_.add_embeddings(x, type_emb_, db.token_type_ids);
    d_.layer_norm(x, x, emb_ln_g_, emb_ln_b_, eps);

    for (const Layer& L : layers_) {
      const size_t mark = d_.save();
      {
        Tensor qkv = d_.alloc(dtype_, {T, 3 * H});
        ops::linear(d_, qkv, x, L.wqkv, L.bqkv);
        Tensor ctx = d_.alloc(dtype_, {T, H});
        ops::attention(d_, ctx, qkv, ad_, db);
        ops::linear_residual_layernorm(d_, x, ctx, L.wo, L.bo, L.ln1_g, L.ln1_b, eps);
      }
      d_.restore(mark);
      {
        if (act_ == Activation::GeluErf) {
          // GELU in the first GEMM's epilogue, the norm in the second's where the driver can.
          ops::ffn_gelu_layernorm(d_, x, L.wi, L.bi, L.wo2, L.bo2, L.ln2_g, L.ln2_b, eps);
        } else {
          Tensor out = d_.alloc(dtype_, {T, H});
          Tensor inter = d_.alloc(dtype_, {T, I});
          ops::linear(d_, inter, x, L.wi, Tensor{});
          bias_activation(d_, inter, L.bi, act_);
          ops::linear(d_, out, inter, L.wo2, Tensor{});
          ops::fused_residual_layernorm(d_, x, out, L.bo2, x, L.ln2_g, L.ln2_b, eps);
        }
      }
      d_.restore(mark);
    }
    return x;
  }

  // Sentence embeddings [B, H] from hidden [T, H]: the [CLS] row or the mean over each
  // sequence's tokens (padding never counted), then optionally L2-normalized, which is what
  // sentence-transformers' Pooling (+ Normalize) modules compute. Allocated in scratch.
  Tensor pooled(const Batch& db, const Tensor& hidden, Pooling pooling, bool normalize) {
    return pool_sequences(d_, db, hidden, pooling, normalize);
  }

 private:
  struct Layer {
    Tensor wqkv, bqkv;    // [3H, H], [3H]
    Tensor wo, bo;        // [H, H], [H]
    Tensor ln1_g, ln1_b;  // [H]
    Tensor wi, bi;        // [I, H], [I]
    Tensor wo2, bo2;      // [H, I], [H]
    Tensor ln2_g, ln2_b;  // [H]
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
    positive(cfg_.type_vocab_size, "type_vocab_size");
    if (cfg_.hidden_size % cfg_.num_attention_heads != 0)
      throw ModelFormatError(origin + ": hidden_size " + std::to_string(cfg_.hidden_size) +
                             " is not a multiple of num_attention_heads " +
                             std::to_string(cfg_.num_attention_heads));
    if (cfg_.position_embedding_type != "absolute")
      throw ModelFormatError(origin + ": unsupported position_embedding_type \"" +
                             cfg_.position_embedding_type + "\" (only \"absolute\")");
    if (!(cfg_.layer_norm_eps > 0.0f))
      throw ModelFormatError(origin + ": layer_norm_eps must be positive");
  }

  // LayerNorm parameters under either spelling (weight/bias, or TF-era gamma/beta).
  std::pair<Tensor, Tensor> load_ln(const std::string& base, int64_t h) {
    const std::string g = loader_.first_present({base + ".weight", base + ".gamma"});
    const std::string b = loader_.first_present({base + ".bias", base + ".beta"});
    return {loader_.load(g, {h}), loader_.load(b, {h})};
  }

  void load_weights() {
    const int64_t H = cfg_.hidden_size, I = cfg_.intermediate_size;
    const std::string p = loader_.detect_prefix("embeddings.word_embeddings.weight", {"bert."});
    word_emb_ = loader_.load(p + "embeddings.word_embeddings.weight", {cfg_.vocab_size, H});
    pos_emb_ = loader_.load(p + "embeddings.position_embeddings.weight",
                            {cfg_.max_position_embeddings, H});
    type_emb_ =
        loader_.load(p + "embeddings.token_type_embeddings.weight", {cfg_.type_vocab_size, H});
    std::tie(emb_ln_g_, emb_ln_b_) = load_ln(p + "embeddings.LayerNorm", H);
    loader_.check_layer_count(p, kBertLayerProbe, cfg_.num_hidden_layers);
    layers_.resize(cfg_.num_hidden_layers);
    for (int l = 0; l < cfg_.num_hidden_layers; ++l) {
      const std::string n = p + "encoder.layer." + std::to_string(l) + ".";
      const std::string s = n + "attention.self.";
      Layer& L = layers_[l];
      L.wqkv =
          loader_.load_concat({s + "query.weight", s + "key.weight", s + "value.weight"}, {H, H});
      L.bqkv = loader_.load_concat({s + "query.bias", s + "key.bias", s + "value.bias"}, {H});
      L.wo = loader_.load(n + "attention.output.dense.weight", {H, H});
      L.bo = loader_.load(n + "attention.output.dense.bias", {H});
      std::tie(L.ln1_g, L.ln1_b) = load_ln(n + "attention.output.LayerNorm", H);
      L.wi = loader_.load(n + "intermediate.dense.weight", {I, H});
      L.bi = loader_.load(n + "intermediate.dense.bias", {I});
      L.wo2 = loader_.load(n + "output.dense.weight", {H, I});
      L.bo2 = loader_.load(n + "output.dense.bias", {H});
      std::tie(L.ln2_g, L.ln2_b) = load_ln(n + "output.LayerNorm", H);
    }
  }

  D& d_;
  BertConfig cfg_;
  DType dtype_;
  Activation act_ = Activation::GeluErf;
  AttentionDesc ad_;
  WeightLoader<D> loader_;  // owns host buffers the driver may view (fused QKV)
  Tensor word_emb_, pos_emb_, type_emb_, emb_ln_g_, emb_ln_b_;
  std::vector<Layer> layers_;
  size_t reserved_ = 0;
};

}  // namespace ripvec
