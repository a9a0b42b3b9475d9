// Pieces shared by the encoder architectures (ClassicBert, ModernBert): batch-shape limits for
// sizing the scratch arena, weight loading with shape checks, activation names, attention
// scratch estimates. Everything is a template over the Driver so that it inlines.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "driver/driver.hpp"
#include "driver/ops.hpp"
#include "model/layer_probe.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"

namespace ripvec {

// Upper bounds of one batch's shape. The batcher (src/pipeline/batching.hpp) promises them;
// an architecture sizes its scratch arena for them once at load. Each bound is independent,
// so the scratch estimate made from them is an upper bound for every batch that respects them.
struct BatchShape {
  int64_t tokens = 0;   // T = sum of sequence lengths
  int64_t batch = 0;    // B
  int64_t max_seq = 0;  // S = longest sequence
  int64_t padded = 0;   // B * S
  int64_t scores = 0;   // B * S * S (attention scores per head in the padded form)

  static BatchShape of(const BatchInputs& b) {
    BatchShape s;
    s.tokens = b.total_tokens;
    s.batch = b.batch;
    s.max_seq = b.max_seq;
    s.padded = static_cast<int64_t>(b.batch) * b.max_seq;
    s.scores = s.padded * b.max_seq;
    return s;
  }
  bool fits_in(const BatchShape& cap) const {
    return tokens <= cap.tokens && batch <= cap.batch && max_seq <= cap.max_seq &&
           padded <= cap.padded && scores <= cap.scores;
  }
};

// What the pipeline tells an architecture at load.
struct ArchOptions {
  DType dtype = DType::F32;  // weights and activations
  BatchShape limits;         // worst-case batch, for reserve_scratch at load
};

// True when the driver brings its own attention kernel (ops::attention then does not use
// the padded q/k/v/scores buffers of the fallback).
template <Driver D>
constexpr bool has_fused_attention = requires(D& d, typename D::Tensor t, const AttentionDesc& ad,
                                              const DeviceBatch<typename D::Tensor>& db) {
  d.attention(t, t, ad, db);
};

// Bytes of scratch that one ops::attention call may take for a batch of shape `s`.
// A driver with its own kernel may say how much it needs through
// attention_scratch_bytes(ad, dtype, tokens, batch, max_seq); otherwise its kernel is assumed
// to use its own workspace. The padded fallback of ops.hpp needs q, k, v, ctx [B, nh, S, d] and
// scores [B, nh, S, S] in F32 (plus a converted copy when activations are not F32).
template <Driver D>
size_t attention_scratch_bytes(const D& d, const AttentionDesc& ad, DType dt, const BatchShape& s) {
  if constexpr (requires { d.attention_scratch_bytes(ad, dt, s.tokens, s.batch, s.max_seq); }) {
    return static_cast<size_t>(d.attention_scratch_bytes(ad, dt, s.tokens, s.batch, s.max_seq));
  } else if constexpr (has_fused_attention<D>) {
    return 0;
  } else {
    const size_t es = dtype_size(dt);
    const size_t hidden = static_cast<size_t>(ad.num_heads) * ad.head_dim;
    size_t bytes = 4 * static_cast<size_t>(s.padded) * hidden * es;
    bytes += static_cast<size_t>(ad.num_heads) * static_cast<size_t>(s.scores) * 4;
    if (dt != DType::F32) bytes += static_cast<size_t>(ad.num_heads) * s.scores * es;
    return bytes;
  }
}

// Bytes upload_batch() takes: ids, token types, positions [T] and seq_lengths, cu_seqlens,
// float_mask.
inline size_t batch_upload_bytes(const BatchShape& s) {
  return 4 * (3 * static_cast<size_t>(s.tokens) + 2 * static_cast<size_t>(s.batch) + 1 +
              static_cast<size_t>(s.padded));
}

// Per-allocation slack for a driver that aligns each alloc() (64-byte or 256-byte boundaries).
inline constexpr size_t kAllocSlack = 512;

// Activation of the feed-forward block, from config.json's hidden_act / hidden_activation.
enum class Activation { GeluErf, GeluTanh, Relu };

inline Activation parse_activation(std::string_view name, std::string_view field,
                                   const std::string& origin) {
  if (name == "gelu" || name == "gelu_python") return Activation::GeluErf;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
    return Activation::GeluTanh;
  if (name == "relu") return Activation::Relu;
  throw ModelFormatError(origin + ": unsupported " + std::string(field) + " \"" +
                         std::string(name) +
                         "\" (supported: gelu, gelu_python, gelu_new, gelu_pytorch_tanh, "
                         "gelu_fast, relu)");
}

template <Driver D>
constexpr bool has_relu = requires(D& d, typename D::Tensor t) {
  d.relu(t);
};

// x = act(x + bias) in place, bias may be empty.
template <Driver D>
void bias_activation(D& d, typename D::Tensor x, const typename D::Tensor& bias, Activation act) {
  switch (act) {
    case Activation::GeluErf:
      ops::fused_bias_gelu(d, x, bias);
      return;
    case Activation::GeluTanh:
      if (!bias.empty()) d.add_bias(x, bias);
      d.gelu_tanh(x);
      return;
    case Activation::Relu:
      if constexpr (has_relu<D>) {
        if (!bias.empty()) d.add_bias(x, bias);
        d.relu(x);
        return;
      } else {
        throw UnsupportedError(std::string("driver ") + std::string(d.name()) +
                               " has no relu kernel");
      }
  }
}

// Sentence embeddings [B, H] from packed hidden states [T, H]: the first row of each sequence
// (CLS) or the mean over its rows (padding never counted), then optionally L2-normalized —
// what sentence-transformers' Pooling (+ Normalize) modules compute. Allocated in scratch.
template <Driver D>
typename D::Tensor pool_sequences(D& d, const DeviceBatch<typename D::Tensor>& db,
                                  const typename D::Tensor& hidden, Pooling pooling,
                                  bool normalize) {
  auto out = d.alloc(hidden.dtype, {static_cast<int64_t>(db.batch()), hidden.cols()});
  if (pooling == Pooling::Cls)
    d.cls_pool(out, hidden, db.cu_seqlens);
  else
    d.mean_pool(out, hidden, db.cu_seqlens);
  if (normalize) d.l2_normalize(out);
  return out;
}

// Loads named tensors of a safetensors file into driver weights, checking shapes.
// Host buffers built here (e.g. a fused QKV weight) stay owned by the loader, because a CPU
// driver may keep zero-copy views of them; keep the loader alive as long as the weights.
template <Driver D>
class WeightLoader {
 public:
  using Tensor = typename D::Tensor;
  WeightLoader(D& d, const SafeTensors& st, DType dt) : d_(d), st_(st), dt_(dt) {}

  // The prefix under which `probe` exists: "" or one of `prefixes` (e.g. "bert.").
  // Throws ModelFormatError naming the probe and every prefix tried.
  std::string detect_prefix(std::string_view probe, std::initializer_list<const char*> prefixes) {
    if (st_.find(probe)) return "";
    std::string tried = "\"" + std::string(probe) + "\"";
    for (const char* p : prefixes) {
      std::string name = std::string(p) + std::string(probe);
      if (st_.find(name)) return p;
      tried += ", \"" + name + "\"";
    }
    // One that is there in a dtype the engine cannot use (an I64 table) was reported missing
    // (hostile probe 2026-12-07): get() names its dtype.
    if (st_.unsupported_dtype(probe)) st_.get(probe);
    for (const char* p : prefixes)
      if (const std::string name = std::string(p) + std::string(probe); st_.unsupported_dtype(name))
        st_.get(name);
    throw ModelFormatError("missing tensor " + std::string(probe) + " in " + st_.path().string() +
                           " (looked for " + tried + ")");
  }

  bool has(std::string_view name) const { return st_.find(name) != nullptr; }

  // The config's layer count against the weights, before anything is sized by it: layer n - 1's
  // probe tensor (after `prefix`) must exist and layer n's must not (a checkpoint with more
  // layers than the config says is inconsistent, not a smaller model). A config claiming 10^7
  // layers sized gigabytes of layer records before failing on the first missing one. Throws
  // ModelFormatError naming the tensor.
  void check_layer_count(const std::string& prefix, const LayerProbe& probe, int n) const {
    if (n > 0 && !has(probe.name(prefix, n - 1)))
      throw ModelFormatError("config num_hidden_layers is " + std::to_string(n) +
                             " but the weights have no tensor " + probe.name(prefix, n - 1) +
                             " (in " + st_.path().string() + ")");
    if (has(probe.name(prefix, n)))
      throw ModelFormatError("tensor " + probe.name(prefix, n) +
                             " present but config num_hidden_layers is " + std::to_string(n));
  }

  // First of `names` that exists (for legacy spellings like LayerNorm.gamma); when none do,
  // the first name is reported missing.
  std::string first_present(std::initializer_list<std::string> names) const {
    for (const auto& n : names)
      if (st_.find(n)) return n;
    return *names.begin();
  }

  Tensor load(const std::string& name, const std::vector<int64_t>& shape) {
    const TensorInfo& t = st_.get(name, shape);
    return d_.load_weight(host_ref(t.data, t.dtype, shape), dt_);
  }

  // Row-wise concatenation of same-width tensors (e.g. Wq, Wk, Wv [H, H] -> [3H, H]), built
  // in F32 on the host. Each part's shape is checked.
  Tensor load_concat(const std::vector<std::string>& names,
                     const std::vector<int64_t>& part_shape) {
    int64_t part = 1;
    for (int64_t s : part_shape) part *= s;
    std::vector<float>& buf = owned_.emplace_back(static_cast<size_t>(part * names.size()));
    for (size_t i = 0; i < names.size(); ++i)
      convert_to_f32(st_.get(names[i], part_shape), buf.data() + i * part);
    std::vector<int64_t> shape = part_shape;
    shape[0] *= static_cast<int64_t>(names.size());
    return d_.load_weight(host_ref(buf.data(), DType::F32, shape), dt_);
  }

 private:
  static HostTensorRef host_ref(const void* data, DType dt, const std::vector<int64_t>& shape) {
    HostTensorRef h;
    h.data = data;
    h.dtype = dt;
    h.rank = static_cast<int>(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) h.shape[i] = shape[i];
    return h;
  }

  D& d_;
  const SafeTensors& st_;
  DType dt_;
  // Moving a std::vector keeps its heap buffer, so pointers handed to the driver stay valid
  // when owned_ grows.
  std::vector<std::vector<float>> owned_;
};

}  // namespace ripvec
