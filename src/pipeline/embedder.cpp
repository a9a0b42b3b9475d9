// Embedder::load: the one place where the driver and the architecture are chosen at run time.
// Everything below this file is templates over a Driver; everything above works with text.
#include "ripvec/embedder.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <future>
#include <string>
#include <utility>

#include "arch/classic_bert.hpp"
#include "arch/modern_bert.hpp"
#include "driver/cpu/cpu_driver.hpp"
#ifdef RIPVEC_HAVE_CUDA
#include "driver/cuda/cuda_driver.hpp"
#endif
#include "pipeline/batching.hpp"
#include "pipeline/encoder.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"
#include "util/thread_pool.hpp"

namespace ripvec {

namespace {

// A kind outside the enum (a cast integer) indexed the prompts out of bounds (API probe
// 2026-12-08).
void check_kind(InputKind kind) {
  if (kind != InputKind::Query && kind != InputKind::Document && kind != InputKind::Raw)
    throw InvalidArgument("unknown InputKind " + std::to_string(static_cast<int>(kind)));
}

// Attention scores of the padded fallback are capped at this many bytes per batch; drivers
// with their own attention kernel do not materialize them and get no cap.
constexpr size_t kScoreBudgetBytes = 256u << 20;

struct LoadPlan {
  ModelFiles files;
  ModelConfig config;
  SentenceTransformersConfig st;
  size_t max_seq = 0;
  size_t max_batch_tokens = 0;
  BatchLimits limits;
  ArchOptions arch;
  PoolingSpec pooling;
  // CPU linear layers in INT8 or BF16 (explicit, or Auto on a CPU where it pays).
  enum class Linear { F32, Int8, Bf16 } linear = Linear::F32;
  // Queries too (explicit --precision int8|bf16 only). Under Auto a query is embedded in FP32:
  // one short text gains nothing, and a one-query process would otherwise convert every weight
  // (~60 ms of CPU for MiniLM). FP32 queries against INT8 documents rank as INT8 ones do
  // (quality harness: held-out hybrid MRR@10 0.722 either way, docs/benchmarks.md).
  bool reduced_queries = false;
  // CPU attention with BF16 products under INT8/BF16 linear layers (CpuDriver::
  // set_attention_bf16, where cpu::attention_bf16_pays()).
  bool bf16_attention = false;
};

template <Driver D>
BatchLimits limits_for(size_t max_batch_tokens, int num_heads) {
  BatchLimits l;
  l.max_tokens = max_batch_tokens;
  if constexpr (!has_fused_attention<D>)
    l.max_scores = std::max<size_t>(1, kScoreBudgetBytes / 4 / static_cast<size_t>(num_heads));
  return l;
}

int num_heads_of(const ModelConfig& c) {
  return c.arch == Architecture::ModernBert ? c.modernbert.num_attention_heads
                                            : c.bert.num_attention_heads;
}

int head_dim_of(const ModelConfig& c) {
  const int heads = num_heads_of(c);
  return heads > 0 ? c.hidden_size() / heads : 0;
}

// Builds the (architecture x driver) pair. New architectures add one branch here; new drivers
// call this with their driver type.
template <Driver D>
void plan_limits(LoadPlan& plan) {
  plan.limits = limits_for<D>(plan.max_batch_tokens, num_heads_of(plan.config));
  plan.arch.limits = worst_case_shape(plan.limits, plan.max_seq);
}

// Reads plan only (plan_limits<D> set its limits before), so that it can run on the loader
// thread of load_weights_in_background while the plan is read elsewhere.
template <Driver D>
std::unique_ptr<Encoder> make_encoder(std::unique_ptr<D> driver, const LoadPlan& plan) {
  SafeTensors weights = SafeTensors::open(plan.files.weights);
  // NaN/Inf weights would turn every vector into NaN: refuse them here, naming the tensor.
  check_finite(weights);
  switch (plan.config.arch) {
    case Architecture::ClassicBert:
      return std::make_unique<ArchEncoder<D, ClassicBert<D>>>(
          std::move(driver), std::move(weights), plan.config.bert, plan.arch, plan.pooling);
    case Architecture::ModernBert:
      return std::make_unique<ArchEncoder<D, ModernBert<D>>>(
          std::move(driver), std::move(weights), plan.config.modernbert, plan.arch, plan.pooling);
  }
  throw UnsupportedError(plan.files.config.string() + ": model_type \"" + plan.config.model_type +
                         "\" is not supported by this build");
}

// Devices the CUDA driver can use; 0 in a build without CUDA or without a GPU.
int cuda_device_count() {
#ifdef RIPVEC_HAVE_CUDA
  return CudaDriver::device_count();
#else
  return 0;
#endif
}

#ifdef RIPVEC_HAVE_CUDA
CudaDriver::Options cuda_options(Precision p) {
  CudaDriver::Options co;
  co.activation = p == Precision::F32    ? DType::F32
                  : p == Precision::BF16 ? DType::BF16
                                         : DType::F16;
  return co;
}
#endif

// The CUDA device count and driver (context, stream, cuBLAS handles: 0.3-0.5 s, most of it the
// CUDA driver's own initialisation), started on a thread of their own when load() begins, so
// that they overlap resolving the model files and parsing the tokenizer instead of following
// them. Only where the device can be CUDA (Cuda, or Auto in a CUDA build).
struct EarlyCuda {
  std::shared_future<int> count;  // invalid: not started (then ask cuda_device_count())
#ifdef RIPVEC_HAVE_CUDA
  std::future<std::unique_ptr<CudaDriver>> driver;  // null driver when count is 0
#endif
  int device_count() {
    return count.valid() ? count.get() : cuda_device_count();
  }
};

EarlyCuda start_early_cuda([[maybe_unused]] const EmbedderOptions& opts) {
  EarlyCuda e;
#ifdef RIPVEC_HAVE_CUDA
  static const bool enabled = [] {
    const char* v = std::getenv("RIPVEC_CUDA_EARLY");
    return v == nullptr || *v != '0';
  }();
  if (!enabled || (opts.device != Device::Cuda && opts.device != Device::Auto) ||
      opts.precision == Precision::Int8)
    return e;
  auto count = std::make_shared<std::promise<int>>();
  e.count = count->get_future().share();
  e.driver =
      std::async(std::launch::async,
                 [count, co = cuda_options(opts.precision)]() -> std::unique_ptr<CudaDriver> {
                   int n = 0;
                   try {
                     n = CudaDriver::device_count();
                   } catch (...) {
                   }
                   count->set_value(n);
                   if (n == 0) return nullptr;
                   return std::make_unique<CudaDriver>(co);
                 });
#endif
  return e;
}

DType cpu_dtype(Precision p) {
  switch (p) {
    case Precision::Auto:
    case Precision::F32:
    case Precision::Int8:  // FP32 activations; the linear layers quantize on the fly
    case Precision::BF16:  // FP32 activations; the linear layers take BF16 operands
      return DType::F32;
    case Precision::F16:
      return DType::F16;
  }
  return DType::F32;
}

class EmbedderImpl final : public Embedder {
 public:
  // `enc` is the loaded encoder, or null until start_loading() gives it (CPU only); `device`
  // names the device then.
  EmbedderImpl(LoadPlan plan, std::unique_ptr<Tokenizer> tok, std::unique_ptr<Encoder> enc,
               std::string device = {})
      : plan_(std::move(plan)),
        tok_(std::move(tok)),
        enc_(std::move(enc)),
        device_(std::move(device)) {
    prompts_[static_cast<int>(InputKind::Query)] = plan_.st.query_prompt;
    prompts_[static_cast<int>(InputKind::Document)] = plan_.st.document_prompt;
    id_ = plan_.files.id;
    dim_ = enc_ ? enc_->dim() : static_cast<size_t>(plan_.config.hidden_size());
    if (enc_) {
      device_ = enc_->device_name();
      loaded_ = true;
    }
  }
  ~EmbedderImpl() override {
    // The loader thread reads plan_; a deferred load that never ran is dropped unrun.
    if (pending_.valid() &&
        pending_.wait_for(std::chrono::seconds(0)) != std::future_status::deferred)
      pending_.wait();
  }

  // Starts make_driver() and make_encoder on a thread of its own (async:
  // WeightLoading::Background) or leaves them to the first embed (deferred: OnFirstUse). The
  // driver is made there too: a CUDA driver's construction is the CUDA context and cuBLAS
  // start-up (a few hundred ms), which the caller's tokenizing or walking then overlaps.
  template <class MakeDriver>
  void start_loading(MakeDriver make_driver, std::launch when) {
    pending_ = std::async(when, [this, make = std::move(make_driver)]() mutable {
      struct Done {  // set on return and on throw: weights_ready() never waits forever
        std::atomic<bool>& flag;
        ~Done() { flag.store(true, std::memory_order_release); }
      } done{loaded_};
      return std::unique_ptr<Encoder>(make_encoder(make(), plan_));
    });
  }

  bool weights_ready() const override { return loaded_.load(std::memory_order_acquire); }

  size_t dim() const override { return dim_; }
  size_t max_seq_length() const override { return plan_.max_seq; }
  const std::string& model_id() const override { return id_; }
  std::string device_name() const override {
    return device_ + (plan_.linear == LoadPlan::Linear::Int8   ? " (int8)"
                      : plan_.linear == LoadPlan::Linear::Bf16 ? " (bf16)"
                                                               : "");
  }
  const Tokenizer& tokenizer() const override { return *tok_; }
  const std::string& prompt(InputKind kind) const override {
    check_kind(kind);
    return prompts_[static_cast<int>(kind)];
  }
  bool normalizes() const override { return plan_.pooling.normalize; }
  // INT8 and BF16 vectors differ from FP32 ones (cosine ~0.9995), so they are part of the
  // identity: an index built with one is never updated or searched with the other. FP32 adds
  // nothing, so the FP32 indexes made before INT8 existed keep their key. All INT8 kernels
  // compute the same bits, so the ISA is not part of it; the scheme's name is (a new scheme, a
  // new key). The BF16 kernels differ only in FP32 sum order, like FP32 ones across ISAs.
  std::string vector_config() const override {
    return std::string("pooling=") + (plan_.pooling.pooling == Pooling::Cls ? "cls" : "mean") +
           ";normalize=" + (plan_.pooling.normalize ? "1" : "0") +
           (plan_.linear == LoadPlan::Linear::Int8   ? ";linear=int8-g32r4"
            : plan_.linear == LoadPlan::Linear::Bf16 ? ";linear=bf16"
                                                     : "") +
           (plan_.bf16_attention ? ";attention=bf16" : "");
  }

  std::vector<std::filesystem::path> identity_files() const override {
    std::vector<std::filesystem::path> out;
    for (const auto& f : {plan_.files.config, plan_.files.weights, plan_.files.tokenizer})
      if (!f.empty()) out.push_back(f);
    return out;
  }

  std::vector<float> embed(std::span<const std::string> texts, InputKind kind) override {
    check_kind(kind);
    std::vector<std::vector<int32_t>> ids(texts.size());
    // Tokenizer::encode is const and thread-safe; tokenizing on the pool keeps it a small
    // share of the run. It never overlaps the forward pass, so the pool is free. Single
    // sequences have type ids 0 throughout, which is what run() gives token-only input.
    parallel_for(0, static_cast<int64_t>(texts.size()), 16, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) ids[i] = tokenize(texts[i], kind);
    });
    return run(ids, {}, exact_for(kind));
  }

  std::vector<float> embed_tokens(std::span<const std::vector<int32_t>> ids,
                                  InputKind kind) override {
    check_kind(kind);
    check_token_ids(ids, "embed_tokens");
    return run(ids, {}, exact_for(kind));
  }

  void embed_token_groups(const TokenGroupSource& next, const TokenGroupSink& done) override {
    Encoder& enc = encoder();
    run_batch_groups(
        [&](std::vector<std::vector<int32_t>>& ids, bool wait) {
          if (!next(ids, wait)) return false;
          check_token_ids(ids, "embed_token_groups");
          return true;
        },
        plan_.limits, dim_, enc.async_depth(),
        [&](const BatchInputs& b, float* out) { enc.embed_async(b, out); }, [&] { enc.finish(); },
        [&](std::vector<float>&& rows) {
          check_finite_rows(rows, dim_);
          done(std::move(rows));
        });
  }

 private:
  // Whether a text of this kind runs in the full precision (LoadPlan::reduced_queries).
  bool exact_for(InputKind kind) const {
    return kind == InputKind::Query && plan_.linear != LoadPlan::Linear::F32 &&
           !plan_.reduced_queries;
  }

  // The encoder, after waiting for the background load; rethrows its error on every call.
  Encoder& encoder() {
    if (!enc_) {
      if (load_error_) std::rethrow_exception(load_error_);
      try {
        enc_ = pending_.get();
      } catch (...) {
        load_error_ = std::current_exception();
        throw;
      }
      if (enc_->dim() != dim_) {  // every later call must throw too, never run with dim_
        load_error_ = std::make_exception_ptr(ModelFormatError(
            "model " + id_ + ": the encoder's width " + std::to_string(enc_->dim()) +
            " differs from config.json's " + std::to_string(dim_)));
        enc_.reset();
        std::rethrow_exception(load_error_);
      }
    }
    return *enc_;
  }

  // exact: the full precision for this call (FP32 queries beside INT8 documents, see
  // LoadPlan::reduced_queries).
  std::vector<float> run(std::span<const std::vector<int32_t>> ids,
                         std::span<const std::vector<int32_t>> types, bool exact = false) {
    Encoder& enc = encoder();
    if (exact) enc.set_exact(true);
    std::vector<float> out;
    try {
      out = run_batches(
          ids, types, plan_.limits, dim_,
          [&](const BatchInputs& b, float* out) { enc.embed_async(b, out); },
          [&] { enc.finish(); });
    } catch (...) {
      if (exact) enc.set_exact(false);
      throw;
    }
    if (exact) enc.set_exact(false);
    check_finite_rows(out, dim_);
    return out;
  }

  // Sequences the model can run: non-empty, within max_seq_length, ids inside the vocabulary
  // (checked here, so that a group's rows are never handed out before a device kernel could
  // report an id past the table: run_batch_groups hands rows out without a device sync).
  void check_token_ids(std::span<const std::vector<int32_t>> ids, const char* what) const {
    const int64_t vocab = plan_.config.vocab_size();
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i].empty())
        throw InvalidArgument(std::string(what) + ": sequence " + std::to_string(i) + " is empty");
      if (ids[i].size() > plan_.max_seq)
        throw InvalidArgument(std::string(what) + ": sequence " + std::to_string(i) + " has " +
                              std::to_string(ids[i].size()) + " tokens, more than max_seq_length " +
                              std::to_string(plan_.max_seq));
      for (int32_t t : ids[i])
        if (t < 0 || t >= vocab)
          throw InvalidArgument(std::string(what) + ": sequence " + std::to_string(i) +
                                " has token id " + std::to_string(t) +
                                ", outside the model's vocabulary (" + std::to_string(vocab) + ")");
    }
  }

  // Finite weights can still overflow (F16/BF16 activations, extreme inputs). A NaN vector
  // must not be printed as JSON or indexed as if it were a result: fail naming the input.
  static void check_finite_rows(const std::vector<float>& v, size_t dim) {
    uint32_t bad = 0;
    for (float x : v) bad |= static_cast<uint32_t>(!std::isfinite(x));
    if (bad == 0 || dim == 0) return;
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        throw Error("the model produced a non-finite value (NaN/Inf) in the embedding of input " +
                    std::to_string(i / dim) +
                    "; try --precision f32, or check the model's weights");
  }

  LoadPlan plan_;
  std::unique_ptr<Tokenizer> tok_;
  std::unique_ptr<Encoder> enc_;
  std::future<std::unique_ptr<Encoder>> pending_;
  std::atomic<bool> loaded_{false};  // the loader thread has finished (loaded or failed)
  std::exception_ptr load_error_;
  std::string device_;
  size_t dim_ = 0;
  std::array<std::string, 3> prompts_;
  std::string id_;
};

}  // namespace

std::optional<Precision> precision_from_name(std::string_view name) {
  if (name == "auto") return Precision::Auto;
  if (name == "f32") return Precision::F32;
  if (name == "f16") return Precision::F16;
  if (name == "bf16") return Precision::BF16;
  if (name == "int8") return Precision::Int8;
  return std::nullopt;
}

void Embedder::embed_token_groups(const TokenGroupSource& next, const TokenGroupSink& done) {
  std::vector<std::vector<int32_t>> ids;
  for (;;) {
    ids.clear();
    if (!next(ids, true)) return;
    done(ids.empty() ? std::vector<float>{} : embed_tokens(ids, InputKind::Document));
  }
}

std::vector<int32_t> Embedder::tokenize(std::string_view text, InputKind kind) const {
  const std::string& pre = prompt(kind);
  Encoding e;
  if (pre.empty()) {
    e = tokenizer().encode(text, /*add_special=*/true, max_seq_length());
  } else {
    std::string buf;
    buf.reserve(pre.size() + text.size());
    buf.assign(pre).append(text);
    e = tokenizer().encode(buf, /*add_special=*/true, max_seq_length());
  }
  if (e.ids.empty()) throw InvalidArgument("tokenizer produced no tokens for a text");
  for (int32_t t : e.type_ids)
    if (t != 0) throw UnsupportedError("tokenizer gives a single text non-zero token type ids");
  return std::move(e.ids);
}

std::unique_ptr<Embedder> Embedder::load(const EmbedderOptions& opts) {
  EarlyCuda early = start_early_cuda(opts);
  LoadPlan plan;
  plan.files = resolve_model(opts.model, opts.resolve);
  plan.config = load_model_config(plan.files.config);
  plan.st = load_sentence_transformers_config(plan.files.dir);
  plan.pooling.pooling = plan.st.pooling;
  plan.pooling.normalize = plan.st.normalize;

  // Sequence limit: the caller's, else sentence-transformers', else the position table's;
  // never beyond the position table.
  const size_t positions = static_cast<size_t>(std::max(plan.config.max_position_embeddings(), 1));
  size_t max_seq = plan.st.max_seq_length ? static_cast<size_t>(*plan.st.max_seq_length) : 0;
  if (opts.max_seq_length > 0) max_seq = opts.max_seq_length;
  if (max_seq == 0 || max_seq > positions) max_seq = positions;
  plan.max_seq = std::max<size_t>(max_seq, 2);
  plan.max_batch_tokens = opts.max_batch_tokens;  // 0: the device's, set below

  auto tok = Tokenizer::from_file(plan.files.tokenizer);
  tok->check_fits(plan.config.vocab_size(), plan.files.tokenizer.string(),
                  plan.files.config.string());

  std::unique_ptr<Encoder> enc;
  Device device = opts.device;
  if (device == Device::Auto) device = early.device_count() > 0 ? Device::Cuda : Device::Cpu;
  if (plan.max_batch_tokens == 0) {
    // Per device (docs/benchmarks.md, "Forward-pass token budget on the CPU"): on the CPU
    // 4,096-token passes keep a layer's activations near the caches (+2-7% over 8,192, FP32 and
    // INT8, Intel); a GPU wants large passes.
    plan.max_batch_tokens = device == Device::Cuda ? 16384 : 4096;
    if (const char* v = std::getenv("RIPVEC_BATCH_TOKENS"); v != nullptr && *v != '\0') {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v, &end, 10);
      if (end == v || *end != '\0' || n == 0 || n > (1ull << 30))
        throw InvalidArgument(std::string("RIPVEC_BATCH_TOKENS: expected a positive count, got '") +
                              v + "'");
      plan.max_batch_tokens = static_cast<size_t>(n);
    }
  }
  switch (device) {
    case Device::Cuda: {
      if (opts.precision == Precision::Int8)
        throw UnsupportedError("--precision int8 runs on the cpu only (use --device cpu)");
#ifdef RIPVEC_HAVE_CUDA
      if (early.device_count() == 0)
        throw DeviceError("--device cuda: no CUDA device is available on this machine");
      const CudaDriver::Options co = cuda_options(opts.precision);
      // The driver started early, or one made now (RIPVEC_CUDA_EARLY=0).
      auto make_driver = [co, f = std::move(early.driver)]() mutable {
        std::unique_ptr<CudaDriver> d = f.valid() ? f.get() : nullptr;
        return d ? std::move(d) : std::make_unique<CudaDriver>(co);
      };
      // Auto precision is F16 (FP32 accumulation) for both architectures: on the full real
      // shapes with random weights it matches PyTorch FP32 to cosine >= 0.99999 per text
      // (docs/benchmarks.md, scripts/gpu_bench.py; CudaModels.* in cuda_parity_test).
      plan.arch.dtype = co.activation;
      plan_limits<CudaDriver>(plan);
      if (opts.weights != WeightLoading::AtLoad) {
        auto impl = std::make_unique<EmbedderImpl>(std::move(plan), std::move(tok), nullptr,
                                                   std::string("cuda"));
        impl->start_loading(std::move(make_driver), opts.weights == WeightLoading::Background
                                                        ? std::launch::async
                                                        : std::launch::deferred);
        return impl;
      }
      enc = make_encoder(make_driver(), plan);
      break;
#else
      throw DeviceError(
          "--device cuda: this build has no CUDA support (configure with "
          "-DRIPVEC_CUDA=ON)");
#endif
    }
    case Device::Auto:
    case Device::Cpu: {
      auto driver = std::make_unique<CpuDriver>();
      // Auto: BF16 where the AMX-BF16 kernel runs (cpu::bf16_faster_than_f32: verified on AMX
      // silicon, where it is the fastest CPU mode: docs/benchmarks.md), else INT8 where it
      // is accurate and measured faster than FP32 (cpu::int8_faster_than_f32: AVX2-only CPUs and
      // AVX-512 VNNI ones), FP32 elsewhere. Accurate means cosine >= 0.999 against FP32 on the
      // real MiniLM's goldens and MRR@10 within 0.01 on the quality harness: evidence about a
      // real BERT's outlier channels, so Auto takes INT8 for BERT-family models only (ModernBERT
      // has passed on random weights alone; --precision int8 asks for it). BF16 keeps 8 bits of
      // every value, outliers included, and passes on both architectures.
      using Linear = LoadPlan::Linear;
      plan.reduced_queries = opts.precision == Precision::Int8 || opts.precision == Precision::BF16;
      if (opts.precision == Precision::BF16 ||
          (opts.precision == Precision::Auto && cpu::bf16_faster_than_f32()))
        plan.linear = Linear::Bf16;
      else if (opts.precision == Precision::Int8 ||
               (opts.precision == Precision::Auto && cpu::int8_faster_than_f32() &&
                plan.config.arch == Architecture::ClassicBert))
        plan.linear = Linear::Int8;
      if (plan.linear == Linear::Bf16) driver->set_bf16(true);
      if (plan.linear == Linear::Int8) driver->set_int8(true);
      // With reduced linear layers, attention's products in BF16 too where that pays (AMD
      // AVX512-BF16: the MiniLM layer 1.1x faster; AMX: its attention on the tiles 1.8x faster,
      // 2026-12-06; real MiniLM's INT8 and BF16 goldens still >= 0.999).
      plan.bf16_attention = plan.linear != Linear::F32 && cpu::attention_bf16_pays() &&
                            head_dim_of(plan.config) % 2 == 0;
      driver->set_attention_bf16(plan.bf16_attention);
      plan.arch.dtype = cpu_dtype(opts.precision);
      if (!driver->supports_dtype(plan.arch.dtype))
        throw UnsupportedError(std::string("the cpu driver does not support precision ") +
                               dtype_name(plan.arch.dtype));
      plan_limits<CpuDriver>(plan);
      if (opts.weights != WeightLoading::AtLoad) {
        // The EmbedderImpl owns the plan the loader thread reads, and waits for the thread.
        const std::string device(driver->name());
        auto impl =
            std::make_unique<EmbedderImpl>(std::move(plan), std::move(tok), nullptr, device);
        impl->start_loading(
            [d = std::move(driver)]() mutable { return std::move(d); },
            opts.weights == WeightLoading::Background ? std::launch::async : std::launch::deferred);
        return impl;
      }
      enc = make_encoder(std::move(driver), plan);
      break;
    }
  }
  return std::make_unique<EmbedderImpl>(std::move(plan), std::move(tok), std::move(enc));
}

}  // namespace ripvec
