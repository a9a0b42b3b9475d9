// The CPU backend: FP32 kernels vectorized for AVX2 / AVX-512 (chosen at run time, portable
// scalar fallback), parallel loops on the process-wide ThreadPool. Products with a loaded
// weight (linear layers) run the driver's own packed-weight kernel (cpu_packed_gemm.hpp:
// weights repacked once at first use, bias and GELU in the epilogue); other products (of two
// activations, or a query's first product with a weight) run cpu::sgemm (cpu_sgemm.hpp) on the
// same kernels. No BLAS library is linked.
//
// Threading: everything runs on ripvec's one ThreadPool. Element-wise kernels split rows,
// attention splits (sequence, head, query block) tasks, packed GEMMs split (row block, panel
// group) tasks, cpu::sgemm splits column groups or products. No other threads compute.
//
// Execution is synchronous: every operation has finished when it returns, so begin_batch(),
// end_batch() and flush_batch() do nothing.
//
// Not thread-safe: one driver serves one thread at a time (its scratch arena has one cursor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <vector>

#include "driver/cpu/cpu_bf16_gemm.hpp"
#include "driver/cpu/cpu_int8_gemm.hpp"
#include "driver/cpu/cpu_packed_gemm.hpp"
#include "driver/driver.hpp"

namespace ripvec {

struct CpuTag {};

namespace cpu {
struct CpuKernels;
enum class Isa;
}  // namespace cpu

class CpuDriver {
 public:
  using Tensor = BasicTensor<CpuTag>;

  // Picks the widest ISA the CPU supports ($RIPVEC_CPU_ISA=scalar|avx2|avx512 overrides).
  CpuDriver();
  // Forces an ISA (tests compare the builds); throws UnsupportedError if the CPU lacks it.
  explicit CpuDriver(cpu::Isa isa);
  // Also forces the GEMM path for weights (kUnpacked: tests and benchmarks).
  CpuDriver(cpu::Isa isa, cpu::GemmPath path);
  ~CpuDriver();
  CpuDriver(const CpuDriver&) = delete;
  CpuDriver& operator=(const CpuDriver&) = delete;

  std::string_view name() const { return "cpu"; }
  // F32 and I32 only.
  bool supports_dtype(DType dt) const { return dt == DType::F32 || dt == DType::I32; }
  // "scalar", "avx2" or "avx512": the kernel build in use.
  const char* isa_name() const;
  // "packed" or "unpacked": how products with a loaded weight run.
  const char* gemm_path_name() const { return packed_ ? "packed" : "unpacked"; }
  // Weights packed so far (see packed_weight(): not on the first product of < 64 rows).
  size_t packed_weight_count() const { return packs_.size(); }

  // INT8 dynamic quantization of the linear layers (linear(), linear_gelu() with a loaded
  // weight; cpu_int8_gemm.hpp, scheme g32r4): weights quantized once per (output channel, 32
  // inputs) at first use, activations per (row, 32 inputs) and call with each row's 4 largest
  // |x| in FP32, int32 sums per group, bias/GELU/everything else in FP32. Off by default in the
  // driver (exact FP32; Embedder::load turns it on). isa kAuto picks VNNI / AVX2 / scalar.
  void set_int8(bool on, cpu::Int8Isa isa = cpu::Int8Isa::kAuto);
  bool int8() const { return int8_; }
  // BF16 linear layers (cpu_bf16_gemm.hpp): weights rounded and packed once at first use,
  // activations converted per call, FP32 sums, bias/GELU/everything else in FP32. Off by
  // default; isa kAuto is select_bf16_isa's (AMX tiles where the CPU has them, else the
  // emulated kernel: the accuracy reference, slower than FP32). Takes precedence over INT8
  // when both are on.
  // Applies to linear() and linear_gelu() with a loaded weight, as INT8 does; gemm() (ModernBERT's
  // residual-accumulating output projections) stays FP32.
  void set_bf16(bool on, cpu::Bf16Isa isa = cpu::Bf16Isa::kAuto);
  // With INT8 or BF16 linear layers on (and not paused), attention() takes the kernel with BF16
  // products (cpu::attention_bf16; heads of even size). Off by default; Embedder::load turns it
  // on where cpu::attention_bf16_pays(). Throws UnsupportedError where AVX512-BF16 is missing.
  void set_attention_bf16(bool on);
  bool attention_bf16() const { return attn_bf16_; }
  bool bf16() const { return bf16_; }
  const char* bf16_isa_name() const { return cpu::bf16_isa_name(bf16_isa_); }
  // With INT8 or BF16 on, paused = true runs the following products in exact FP32 (the
  // converted weights are kept, none are made) until unpaused: Embedder::load's Auto precision
  // embeds queries this way, so a one-query process never converts the weights.
  void set_reduced_paused(bool paused) { reduced_paused_ = paused; }
  const char* int8_isa_name() const { return cpu::int8_isa_name(int8_isa_); }

  void begin_batch() {}
  void end_batch() {}
  void flush_batch() {}

  // ---- memory ----
  // F32 (and I32 as I32) weights are zero-copy views of `h`, whose memory (the mmapped
  // safetensors file) must stay valid and unchanged while the driver uses the weight; F16/BF16
  // weights are converted to F32 into a driver-owned buffer. dt must be F32 (or I32 for an I32
  // tensor). The driver remembers each weight's address: a later linear()/gemm() whose B
  // operand is that weight packs it once (into a driver-owned copy) and reuses the packing for
  // the driver's lifetime. Loading an address again drops the packings made from it, so new
  // contents at a reused address (a freed weight's memory) are packed afresh.
  Tensor load_weight(const HostTensorRef& h, DType dt);
  // Allocates the 64-byte aligned arena (no-op if already at least `bytes`). Growing it while
  // scratch tensors are live (save() != 0) throws InvalidArgument.
  void reserve_scratch(size_t bytes);
  // Bump allocation, 64-byte aligned; throws InvalidArgument naming requested and available
  // bytes when the arena is exhausted. Never calls the system allocator. Any dtype may be
  // allocated (F16/BF16 buffers are used by convert()).
  Tensor alloc(DType dt, std::initializer_list<int64_t> dims);
  size_t save() const { return cursor_; }
  // Rolls the cursor back to a mark from save(); a mark past the cursor throws.
  void restore(size_t mark);
  size_t scratch_high_water() const { return high_water_; }
  size_t scratch_capacity() const { return capacity_; }
  // Copies numel(dims) elements of dt from host memory into the arena.
  Tensor upload(const void* p, DType dt, std::initializer_list<int64_t> dims);
  // Zero-copy: the tensors view bi's vectors, which must outlive their use (as DeviceBatch
  // already requires for `host`).
  DeviceBatch<Tensor> upload_batch(const BatchInputs& bi);
  // Copies t to p as F32 (F16/BF16/I32 converted); p holds t.numel() floats.
  void to_host(const Tensor& t, void* p);
  // Element-wise F32 <-> F16 / BF16 (and same-dtype copy); same element count.
  void convert(Tensor out, const Tensor& in);

  // ---- embeddings ----
  void embedding_lookup(Tensor out, const Tensor& table, const Tensor& ids);
  void add_embeddings(Tensor x, const Tensor& table, const Tensor& ids);

  // ---- normalization ----
  void layer_norm(Tensor out, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps);

  // ---- matrix products ----
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
  void banded_sv(Tensor out, const Tensor& p, const Tensor& qkv, int64_t row0, int64_t len,
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

  // ---- fused operations (found by driver/ops.hpp) ----
  // y[R, out] = x[R, in] · w[out, in]ᵀ + bias: y is pre-filled with the bias and the GEMM
  // accumulates onto it (beta = 1), saving a pass over y.
  void linear(Tensor y, const Tensor& x, const Tensor& w, const Tensor& bias);
  // y = gelu(x · wᵀ + bias) (exact erf GELU), bias may be empty.
  void linear_gelu(Tensor y, const Tensor& x, const Tensor& w, const Tensor& bias);
  // x = layer_norm(x + in · wᵀ + bias) (driver/ops.hpp): linear into a product [R, H] allocated
  // in scratch (the caller restores its mark), then fused_residual_layernorm; under BF16 each
  // task's rows normed while in cache.
  void linear_residual_layernorm(Tensor x, const Tensor& in, const Tensor& w, const Tensor& bias,
                                 const Tensor& gamma, const Tensor& beta, float eps);
  // x = layer_norm(x + gelu(x · wiᵀ + bi) · woᵀ + bo) (driver/ops.hpp): linear_gelu into an
  // intermediate [R, I] and linear into [R, H], both allocated in scratch (the caller restores
  // its mark), then fused_residual_layernorm; under BF16 (cpu::bf16_ffn) the same values, the
  // intermediate not stored in FP32 and each row block normed while in cache.
  void ffn_gelu_layernorm(Tensor x, const Tensor& wi, const Tensor& bi, const Tensor& wo,
                          const Tensor& bo, const Tensor& gamma, const Tensor& beta, float eps);
  void fused_bias_gelu(Tensor x, const Tensor& bias);
  void fused_bias_residual(Tensor out, Tensor x, const Tensor& bias, const Tensor& residual);
  void fused_residual_layernorm(Tensor out, Tensor x, const Tensor& bias, const Tensor& residual,
                                const Tensor& gamma, const Tensor& beta, float eps);
  // Flash-style attention straight from packed qkv[T, 3H] into out[T, H]: no padding, no S×S
  // buffer; parallel over (sequence, head, chunk of 32-query blocks). Uses per-thread
  // workspaces: a fixed one allocated at construction and a K/V copy of 2 · keys · head_dim
  // floats that grows only when a call has longer sequences than any before. head_dim <= 256.
  void attention(Tensor out, const Tensor& qkv, const AttentionDesc& ad,
                 const DeviceBatch<Tensor>& db);

 private:
  struct AlignedFree {
    void operator()(void* p) const;
  };
  using Buffer = std::unique_ptr<std::byte, AlignedFree>;
  static Buffer allocate_aligned(size_t bytes);
  // The packed copy of weight w used as [n, k], made on the first product with at least
  // kPackMinRows rows or the second product of any size; null when the packed path is off, w
  // was not loaded by load_weight(), or this is w's first product and it has fewer rows (m).
  // Packing copies the whole weight (about 20-30 ms for MiniLM's 90 MB): a CLI search embeds
  // one query of a few tokens and nothing else, which is faster on the unpacked weight, while
  // a server packs on its second query and keeps the faster kernel.
  const float* packed_weight(const Tensor& w, int64_t n, int64_t k, int64_t m);
  // A weight's converted copies (packed FP32, INT8, BF16) are cached under (data, n, k).
  using WeightKey = std::tuple<const void*, int64_t, int64_t>;
  // The key of w used as [n, k] when it is a weight load_weight() returned and n, k > 0; else
  // nullopt (the product then runs on the weight as stored).
  std::optional<WeightKey> loaded_key(const Tensor& w, int64_t n, int64_t k) const;
  // Drops every packing (FP32, INT8, BF16) made from the weight at data.
  void forget_packings(const void* data);
  static constexpr int64_t kPackMinRows = 64;
  // y = x · wᵀ (+ bias) through cpu::sgemm on the weight as stored.
  void unpacked_linear(GemmDesc g, Tensor y, const Tensor& x, const Tensor& w, const Tensor& bias);
  // The INT8 copy of weight w as [n, k]; null when INT8 is off or w was not loaded.
  // gelu: the product feeds GELU (the FFN's up projection). Layers kept in FP32 (int8_keep_)
  // get null.
  const cpu::Int8Weight* int8_weight(const Tensor& w, int64_t n, int64_t k, bool gelu);
  // The BF16 copy of weight w; null when BF16 is off (or paused) or w was not loaded.
  const cpu::Bf16Weight* bf16_weight(const Tensor& w, int64_t n, int64_t k);
  // The epilogue x = layer_norm(x + product + bias) row by row, in place over x.
  cpu::RowNorm residual_norm(Tensor x, const Tensor& bias, const Tensor& gamma, const Tensor& beta,
                             float eps) const;

  const cpu::CpuKernels* k_;
  Buffer arena_;
  size_t capacity_ = 0;
  size_t cursor_ = 0;
  size_t high_water_ = 0;
  std::vector<Buffer> owned_weights_;
  Buffer attn_work_;  // kAttnWorkFloats floats per pool thread
  // attn_kv_slot_floats_ floats per pool thread: the K/V copies of attention(), grown on the
  // first call that needs more (the longest sequence so far).
  Buffer attn_kv_;
  int64_t attn_kv_slot_floats_ = 0;
  size_t attn_slots_ = 0;
  bool packed_ = false;
  std::set<const void*> weights_;  // data pointers returned by load_weight()
  std::map<WeightKey, cpu::PackedFloats> packs_;
  std::set<WeightKey> used_unpacked_;  // see packed_weight()
  bool int8_ = false;
  bool reduced_paused_ = false;
  bool bf16_ = false;
  cpu::Bf16Isa bf16_isa_ = cpu::Bf16Isa::kEmulated;
  std::map<WeightKey, cpu::Bf16Weight> bpacks_;
  cpu::Bf16Scratch bscratch_;
  cpu::Int8Isa int8_isa_ = cpu::Int8Isa::kScalar;
  std::map<WeightKey, cpu::Int8Weight> qpacks_;
  cpu::Int8Scratch qscratch_;
  // Layer kinds kept in FP32 under INT8, by shape: bit 0 qkv (n = 3k), 1 attention output
  // (n = k), 2 FFN up (GELU), 3 FFN down (k > n).
  unsigned int8_keep_ = 0;
  // Attention with BF16 products under reduced precision (cpu::attention_bf16).
  bool attn_bf16_ = false;
};

static_assert(Driver<CpuDriver>);

}  // namespace ripvec
