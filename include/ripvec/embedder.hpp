// The engine's public face: text in, L2-normalized (when the model says so) vectors out.
// Chooses the driver (CPU or CUDA) and the architecture at load time; nothing here exposes
// CUDA or BLAS.
//
// Thread safety: an Embedder is NOT safe to call from several threads at once (its driver owns
// one scratch arena and, on the CPU, the process-wide thread pool). Use one Embedder per thread
// or serialize calls with a mutex; the const accessors (dim, tokenizer, prompt...) are safe.
// A single embed() call already uses every core of the pool.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ripvec/model_files.hpp"
#include "ripvec/tokenizer.hpp"

namespace ripvec {

enum class InputKind { Query, Document, Raw };  // which sentence-transformers prompt to prepend
enum class Device { Auto, Cpu, Cuda };
// Auto: F16 on CUDA; on the CPU BF16 documents where the CPU runs the AMX-BF16 kernel (both
// architectures), else, for BERT-family models, Int8 documents where a verified INT8 kernel is
// measured faster than the FP32 one (AVX2-only CPUs, AVX-512 VNNI ones), with queries
// (InputKind::Query) still embedded in FP32; F32 elsewhere. device_name() and vector_config()
// say which was chosen. F32 is exact FP32 everywhere. Int8 (CPU only, documents
// and queries): linear layers dynamically quantized to INT8 (scales per row / output channel and
// group of 32 inputs, int32 sums per group, each row's 4 largest |x| in FP32; cosine >= 0.999
// against FP32 on the real MiniLM goldens); layer norm, softmax, GELU, attention and pooling stay
// FP32. BF16: on CUDA, BF16 activations; on the CPU (documents and queries), the linear layers'
// two operands rounded to BF16 with FP32 sums (cosine 0.99995 on the MiniLM goldens), everything
// else FP32: AMX tiles where the CPU has them, else an exact emulation on the FP32 kernels
// (slower than F32). INT8 and CPU BF16 vectors are part of an index's identity (vector_config()):
// never mixed with FP32 ones.
enum class Precision { Auto, F32, F16, BF16, Int8 };
// The Precision spelled "auto", "f32", "f16", "bf16" or "int8" (the CLI's --precision values);
// nullopt for any other text. Pure; thread-safe.
std::optional<Precision> precision_from_name(std::string_view name);

enum class WeightLoading { AtLoad, Background, OnFirstUse };

struct EmbedderOptions {
  std::string model = std::string(kDefaultModelId);
  Device device = Device::Auto;
  Precision precision = Precision::Auto;
  // Token budget of one forward pass; 0: the device's (CPU 4,096: the activations of a 16,384-
  // token pass outgrow the caches and its GEMMs run 5-10% slower; CUDA 16,384).
  // $RIPVEC_BATCH_TOKENS overrides 0 (for A/B measurements).
  size_t max_batch_tokens = 0;
  size_t max_seq_length = 0;  // 0: the model's (sentence_bert_config or config.json)
  ResolveOptions resolve;
  // When the weights are mapped, checked and handed to the driver (on CUDA with the device's
  // start-up: context, cuBLAS, uploads). AtLoad: in load(), which throws what that throws
  // (ModelFormatError for NaN weights, ...). Background: load() returns once the model is resolved
  // and its configs and tokenizer are read, and a thread of its own loads the weights, so that a
  // caller's other start-up work (walking and checking an index) overlaps it. OnFirstUse: the first
  // embed loads them (a keyword search of an unchanged index never does). With Background and
  // OnFirstUse the first embed()/embed_tokens() waits for the weights and throws what loading
  // them threw, and so does every later call.
  WeightLoading weights = WeightLoading::AtLoad;
};

class Embedder {
 public:
  virtual ~Embedder() = default;

  // Resolves, loads and validates the model; throws ModelNotFoundError, ModelFormatError,
  // DeviceError (e.g. --device cuda without a GPU), UnsupportedError (a model type this build
  // lacks, a tokenizer component it does not implement, a precision the device cannot run:
  // int8 on CUDA, f16 on the CPU) or InvalidArgument (options out of range: an empty model
  // name, a malformed RIPVEC_BATCH_TOKENS).
  static std::unique_ptr<Embedder> load(const EmbedderOptions& opts);

  virtual size_t dim() const = 0;
  virtual size_t max_seq_length() const = 0;  // in tokens, specials included
  virtual const std::string& model_id() const = 0;
  virtual std::string device_name() const = 0;  // "cpu", "cpu (int8)", "cuda:0 (NVIDIA H100...)"
  virtual const Tokenizer& tokenizer() const = 0;
  // Every function taking an InputKind throws InvalidArgument for a value outside the enum.
  virtual const std::string& prompt(InputKind kind) const = 0;
  // What else decides the vectors of a text besides model id, dim, prompts and max length
  // (pooling, normalisation, INT8 linear layers), as text: part of an index's identity
  // (ripvec/index.hpp), so that a change gives a fresh index instead of mixed vectors. Empty when
  // nothing else does.
  virtual std::string vector_config() const { return {}; }
  // The files whose content decides the vectors (weights, tokenizer, config): an index's
  // identity includes their content (size and CRC-32C), so that a model whose weights changed
  // in place (fine-tuned again, re-downloaded, edited) gets a fresh index instead of being
  // searched against vectors of the old weights. Empty when there are none (test embedders).
  virtual std::vector<std::filesystem::path> identity_files() const { return {}; }
  // Whether the weights are loaded (or their loading has failed), so that embed() starts
  // without waiting: always true with WeightLoading::AtLoad; with Background, once the loader
  // thread is done; with OnFirstUse, after the first embed. Non-blocking and thread-safe: a
  // caller can tokenize (or walk) until then and hand everything over in one call.
  virtual bool weights_ready() const { return true; }
  // Whether embed()/embed_tokens() already return L2-normalised rows (the model's pooling
  // normalises): a caller that needs unit vectors normalises only when this is false.
  virtual bool normalizes() const { return false; }

  // The token ids embed() feeds the model for `text`: the prompt of `kind` prepended, specials
  // added, truncated to max_seq_length(). embed_tokens({tokenize(t, k)}, k) equals embed({t}, k)
  // bitwise for the same batch (tests/unit/pipeline_tokenize_test.cpp), so callers may
  // tokenize on their own threads and hand the ids over. Const and thread-safe. Throws
  // InvalidArgument when the text yields no tokens.
  std::vector<int32_t> tokenize(std::string_view text, InputKind kind) const;

  // Embeds texts with the prompt of `kind` prepended, truncated to max_seq_length().
  // Returns row-major [texts.size(), dim()] in the caller's order. Texts may be empty strings.
  virtual std::vector<float> embed(std::span<const std::string> texts, InputKind kind) = 0;
  // Same for already tokenized sequences (specials included, each non-empty). `kind` says what
  // they are (their prompt is already in the ids): under Precision::Auto queries may run in a
  // higher precision than documents (see Precision).
  virtual std::vector<float> embed_tokens(std::span<const std::vector<int32_t>> ids,
                                          InputKind kind) = 0;
  // Documents (the index's case).
  std::vector<float> embed_tokens(std::span<const std::vector<int32_t>> ids) {
    return embed_tokens(ids, InputKind::Document);
  }

  // A run of embed_tokens(group, Document) calls, one group after another, with the device
  // kept busy between them (an index's ingest): on a GPU the next group is submitted before
  // the previous group's rows are handed out, so the device does not drain at every group.
  // Each group's rows equal what embed_tokens() returns for it.
  //   next(ids, wait): fills `ids` (empty on entry; each sequence non-empty, at most
  //     max_seq_length() tokens) with the next group and returns true. With wait = false it
  //     may return false when no group is ready yet (the groups in flight are finished and
  //     handed out, then next is called with wait = true); with wait = true false ends the
  //     run. A group may be empty (its rows are empty).
  //   done(rows): row-major [group size, dim()] in the group's order, once per group, in group
  //     order, never before the whole group is computed.
  // Both are called on the calling thread. One call at a time per embedder, like every embed
  // call. Errors: InvalidArgument for a bad sequence (naming it), the device's errors, and
  // whatever next or done throws end the run and are rethrown; groups not yet handed out are
  // dropped, except on an error of next or a bad sequence (before its group runs): the groups
  // in flight are handed out first. The default runs embed_tokens() per group.
  using TokenGroupSource = std::function<bool(std::vector<std::vector<int32_t>>& ids, bool wait)>;
  using TokenGroupSink = std::function<void(std::vector<float>&& rows)>;
  virtual void embed_token_groups(const TokenGroupSource& next, const TokenGroupSink& done);
};

}  // namespace ripvec
