// Driver conformance suite: every operation of the Driver contract (src/driver/driver.hpp) and
// every fused wrapper of src/driver/ops.hpp, on random data at odd sizes and ragged batches,
// against the scalar double-accumulation reference in reference_ops.hpp.
//
// Drivers under test are "backends" in the type list below: each names its driver type, how
// to make one and whether it can run here. A CUDA backend is appended under RIPVEC_HAVE_CUDA
// and skips at run time when no device is present.
//
// Tolerances (|got - want| <= atol + rtol * |want|):
//   FP32: 1e-5 / 1e-5 on unit-scale data; reductions over k terms scale atol by sqrt(k).
//   FP16 / BF16 activations: kF16Tol / kBf16Tol below, for drivers that support them. Such a
//   backend (CudaF16, CudaBf16) stores every activation and parameter of an op in its dtype;
//   test data are rounded to that dtype first (rv()), so the reference sees exactly what the
//   device sees and the tolerance covers only the op's own rounding. Tensors the contract keeps
//   in F32 (masks, RoPE tables, banded scores) stay F32 (up32()).
#include <gtest/gtest.h>

#include <limits>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "driver/cpu/cpu_driver.hpp"
#include "driver/cpu/cpu_kernels.hpp"
#include "driver/ops.hpp"
#include "driver/reference_ops.hpp"
#include "util/thread_pool.hpp"

#ifdef RIPVEC_HAVE_CUDA
#include "driver/cuda/cuda_driver.hpp"
#endif

// Counts heap allocations (through operator new, plain and over-aligned: AlignedVector's
// buffers take the aligned form) so a test can check that the CPU driver's hot path does not
// allocate.
static std::atomic<long> g_heap_allocs{0};
void* operator new(std::size_t n) {
  g_heap_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void* operator new(std::size_t n, std::align_val_t a) {
  g_heap_allocs.fetch_add(1, std::memory_order_relaxed);
  const auto al = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(al, (std::max<std::size_t>(n, 1) + al - 1) / al * al)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace ripvec {
namespace {

using ref::IVec;
using ref::Vec;

struct Tol {
  double atol, rtol;
};
constexpr Tol kF32Tol{1e-5, 1e-5};
constexpr Tol kF16Tol{2e-3, 2e-3};
constexpr Tol kBf16Tol{1.6e-2, 1.6e-2};
Tol at_least(Tol a, Tol b) {
  return {std::max(a.atol, b.atol), std::max(a.rtol, b.rtol)};
}

// ---------------------------------------------------------------- backends

template <cpu::Isa kIsa, cpu::GemmPath kPath = cpu::GemmPath::kAuto>
struct CpuBackend {
  using Driver = CpuDriver;
  static bool available() { return cpu::isa_available(kIsa); }
  static std::unique_ptr<CpuDriver> make() { return std::make_unique<CpuDriver>(kIsa, kPath); }
  static Tol tol() { return kF32Tol; }
  static constexpr DType kAct = DType::F32;
};
using CpuAuto = CpuBackend<cpu::Isa::kAuto>;
using CpuScalar = CpuBackend<cpu::Isa::kScalar>;
using CpuAvx2 = CpuBackend<cpu::Isa::kAvx2>;
using CpuAvx512 = CpuBackend<cpu::Isa::kAvx512>;
// Weights multiplied as stored, through cpu::sgemm (the other backends pack them).
using CpuUnpacked = CpuBackend<cpu::Isa::kAuto, cpu::GemmPath::kUnpacked>;

#ifdef RIPVEC_HAVE_CUDA
template <DType kDt>
struct CudaBackendOf {
  using Driver = CudaDriver;
  static bool available() { return CudaDriver::device_available(); }
  static std::unique_ptr<CudaDriver> make() {
    CudaDriver::Options o;
    o.activation = kDt;
    return std::make_unique<CudaDriver>(o);
  }
  static Tol tol() { return kDt == DType::F32 ? kF32Tol : kDt == DType::F16 ? kF16Tol : kBf16Tol; }
  static constexpr DType kAct = kDt;
};
using CudaBackend = CudaBackendOf<DType::F32>;
using CudaF16 = CudaBackendOf<DType::F16>;
using CudaBf16 = CudaBackendOf<DType::BF16>;
#endif

using Backends = ::testing::Types<CpuAuto, CpuScalar, CpuAvx2, CpuAvx512
#ifdef RIPVEC_HAVE_CUDA
                                  ,
                                  CudaBackend, CudaF16, CudaBf16
#endif
                                  ,
                                  CpuUnpacked>;  // last, so that the CUDA instances keep 4-6

// Hides a driver's fused members so that driver/ops.hpp takes its composed fallback path.
template <class D>
class Unfused {
 public:
  using Tensor = typename D::Tensor;
  explicit Unfused(D& d) : d_(d) {}
  std::string_view name() const { return d_.name(); }
  bool supports_dtype(DType dt) const { return d_.supports_dtype(dt); }
  void begin_batch() { d_.begin_batch(); }
  void end_batch() { d_.end_batch(); }
  void flush_batch() { d_.flush_batch(); }
  Tensor load_weight(const HostTensorRef& h, DType dt) { return d_.load_weight(h, dt); }
  void reserve_scratch(size_t n) { d_.reserve_scratch(n); }
  Tensor alloc(DType dt, std::initializer_list<int64_t> dims) { return d_.alloc(dt, dims); }
  size_t save() { return d_.save(); }
  void restore(size_t m) { d_.restore(m); }
  size_t scratch_high_water() { return d_.scratch_high_water(); }
  Tensor upload(const void* p, DType dt, std::initializer_list<int64_t> dims) {
    return d_.upload(p, dt, dims);
  }
  DeviceBatch<Tensor> upload_batch(const BatchInputs& bi) { return d_.upload_batch(bi); }
  void to_host(const Tensor& t, void* p) { d_.to_host(t, p); }
  void convert(Tensor o, const Tensor& i) { d_.convert(o, i); }
  void embedding_lookup(Tensor o, const Tensor& t, const Tensor& i) {
    d_.embedding_lookup(o, t, i);
  }
  void add_embeddings(Tensor o, const Tensor& t, const Tensor& i) { d_.add_embeddings(o, t, i); }
  void layer_norm(Tensor o, const Tensor& x, const Tensor& g, const Tensor& b, float e) {
    d_.layer_norm(o, x, g, b, e);
  }
  void gemm(const GemmDesc& g, const Tensor& a, const Tensor& b, Tensor c) { d_.gemm(g, a, b, c); }
  void gemm_strided_batched(const GemmDesc& g, int64_t n, int64_t sa, int64_t sb, int64_t sc,
                            const Tensor& a, const Tensor& b, Tensor c) {
    d_.gemm_strided_batched(g, n, sa, sb, sc, a, b, c);
  }
  void build_attn_mask(Tensor m, const Tensor& l) { d_.build_attn_mask(m, l); }
  void scale_mask_softmax(Tensor s, const Tensor& m, float f) { d_.scale_mask_softmax(s, m, f); }
  void scale_mask_softmax_windowed(Tensor s, const Tensor& m, float f, int w) {
    d_.scale_mask_softmax_windowed(s, m, f, w);
  }
  void qkv_split(Tensor q, Tensor k, Tensor v, const Tensor& x, const DeviceBatch<Tensor>& db,
                 int nh) {
    d_.qkv_split(q, k, v, x, db, nh);
  }
  void attn_reshape(Tensor o, const Tensor& c, const DeviceBatch<Tensor>& db) {
    d_.attn_reshape(o, c, db);
  }
  void banded_qk(Tensor s, const Tensor& x, int64_t r, int64_t l, const AttentionDesc& ad) {
    d_.banded_qk(s, x, r, l, ad);
  }
  void banded_softmax(Tensor s, const AttentionDesc& ad) { d_.banded_softmax(s, ad); }
  void banded_sv(Tensor o, const Tensor& p, const Tensor& x, int64_t r, int64_t l,
                 const AttentionDesc& ad) {
    d_.banded_sv(o, p, x, r, l, ad);
  }
  void rope(Tensor x, const Tensor& p, const Tensor& c, const Tensor& s, int nh, int hd) {
    d_.rope(x, p, c, s, nh, hd);
  }
  void gelu(Tensor x) { d_.gelu(x); }
  void gelu_tanh(Tensor x) { d_.gelu_tanh(x); }
  void silu(Tensor x) { d_.silu(x); }
  void split_gate_value(Tensor a, Tensor b, const Tensor& i) { d_.split_gate_value(a, b, i); }
  void geglu(Tensor o, const Tensor& i) { d_.geglu(o, i); }
  void swiglu(Tensor o, const Tensor& i) { d_.swiglu(o, i); }
  void add_bias(Tensor x, const Tensor& b) { d_.add_bias(x, b); }
  void residual_add(Tensor o, const Tensor& a, const Tensor& b) { d_.residual_add(o, a, b); }
  void cls_pool(Tensor o, const Tensor& h, const Tensor& c) { d_.cls_pool(o, h, c); }
  void mean_pool(Tensor o, const Tensor& h, const Tensor& c) { d_.mean_pool(o, h, c); }
  void l2_normalize(Tensor x) { d_.l2_normalize(x); }
  void pad(Tensor o, const Tensor& i, const Tensor& c, int s) { d_.pad(o, i, c, s); }
  void unpad(Tensor o, const Tensor& i, const Tensor& c) { d_.unpad(o, i, c); }

 private:
  D& d_;
};
static_assert(Driver<Unfused<CpuDriver>>);
template <class D>
concept HasFusedLinear = requires(D& d, typename D::Tensor t) {
  d.linear(t, t, t, t);
};
template <class D>
concept HasFusedAttention = requires(D& d, typename D::Tensor t, const AttentionDesc& ad,
                                     const DeviceBatch<typename D::Tensor>& db) {
  d.attention(t, t, ad, db);
};
static_assert(HasFusedLinear<CpuDriver> && HasFusedAttention<CpuDriver>,
              "CpuDriver's fused members are not visible to ops.hpp");
static_assert(!HasFusedLinear<Unfused<CpuDriver>> && !HasFusedAttention<Unfused<CpuDriver>>);

// ---------------------------------------------------------------- helpers

constexpr size_t kScratchBytes = size_t{96} << 20;
const std::vector<int64_t> kSizes = {1, 3, 7, 17, 33, 384, 768};
const std::vector<std::vector<int32_t>> kBatches = {{1, 7, 33, 17}, {384}, {3, 1, 1}};

Vec random_vec(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Vec v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

BatchInputs make_batch(const std::vector<int32_t>& lengths, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<int32_t>> seqs;
  for (int32_t len : lengths) {
    std::vector<int32_t> s(len);
    for (auto& id : s) id = static_cast<int32_t>(rng() % 1000);
    seqs.push_back(s);
  }
  return build_batch_inputs(seqs);
}

std::string batch_name(const std::vector<int32_t>& lengths) {
  std::string s = "{";
  for (size_t i = 0; i < lengths.size(); ++i) s += (i ? "," : "") + std::to_string(lengths[i]);
  return s + "}";
}

// Expects |got - want| <= atol + rtol * |want| everywhere; reports the worst element.
void expect_close(const Vec& got, const Vec& want, Tol tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]);
    const double excess = err - (tol.atol + tol.rtol * std::fabs(want[i]));
    if (!(excess <= worst) || std::isnan(got[i])) {
      worst = std::isnan(got[i]) ? INFINITY : excess;
      at = i;
    }
  }
  EXPECT_LE(worst, 0.0) << what << ": element " << at << " got " << got[at] << " want " << want[at]
                        << " (atol " << tol.atol << ", rtol " << tol.rtol << ")";
}

Tol scaled(Tol t, double k) {
  return {t.atol * std::sqrt(std::max(k, 1.0)), t.rtol};
}

template <class B>
class DriverConformance : public ::testing::Test {
 protected:
  using D = typename B::Driver;
  using T = typename D::Tensor;

  void SetUp() override {
    if (!B::available()) GTEST_SKIP() << "backend not available on this machine";
    d_ = B::make();
    d_->reserve_scratch(kScratchBytes);
  }

  // The backend's activation dtype; a tensor of it from host floats (already rounded by rv()
  // when the reference must see the same values); F32 whatever the backend.
  static constexpr DType act() { return B::kAct; }
  T up(const Vec& v, std::initializer_list<int64_t> dims) {
    T f = d_->upload(v.data(), DType::F32, dims);
    if constexpr (B::kAct == DType::F32) {
      return f;
    } else {
      T t = d_->alloc(B::kAct, dims);
      d_->convert(t, f);
      return t;
    }
  }
  T up32(const Vec& v, std::initializer_list<int64_t> dims) {
    return d_->upload(v.data(), DType::F32, dims);
  }
  T alloc_act(std::initializer_list<int64_t> dims) { return d_->alloc(B::kAct, dims); }
  // v rounded to the activation dtype (round to nearest even, as the drivers convert).
  static Vec rv(Vec v) {
    if constexpr (B::kAct == DType::F16) {
      for (auto& x : v) x = static_cast<float>(ref::from_f16(ref::to_f16(x)));
    } else if constexpr (B::kAct == DType::BF16) {
      for (auto& x : v) x = static_cast<float>(ref::from_bf16(ref::to_bf16(x)));
    }
    return v;
  }
  T upi(const IVec& v, std::initializer_list<int64_t> dims) {
    return d_->upload(v.data(), DType::I32, dims);
  }
  T zeros(std::initializer_list<int64_t> dims) {
    T t = d_->alloc(B::kAct, dims);
    Vec z(t.numel(), 0.0f);
    if (!z.empty()) {
      T src = up32(z, {t.numel()});
      d_->convert(t.reshape({t.numel()}), src);
    }
    return t;
  }
  Vec down(const T& t) {
    Vec v(t.numel());
    d_->to_host(t, v.data());
    return v;
  }
  Tol tol() const { return B::tol(); }

  std::unique_ptr<D> d_;
};

TYPED_TEST_SUITE(DriverConformance, Backends);

// ---------------------------------------------------------------- memory

TYPED_TEST(DriverConformance, ScratchArena) {
  auto& d = *this->d_;
  const size_t mark = d.save();
  auto a = d.alloc(DType::F32, {3, 5});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data) % 64, 0u);
  EXPECT_EQ(a.numel(), 15);
  auto b = d.alloc(DType::F32, {7});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data) % 64, 0u);
  EXPECT_NE(a.data, b.data);
  EXPECT_GE(d.scratch_high_water(), 2 * size_t{64});
  d.restore(mark);
  auto c = d.alloc(DType::F32, {3, 5});
  EXPECT_EQ(c.data, a.data) << "restore() must rewind the cursor";
  d.restore(mark);
  // Exhaustion: a request beyond the arena throws, naming the sizes.
  try {
    (void)d.alloc(DType::F32, {int64_t{1} << 30});
    ADD_FAILURE() << "alloc beyond the arena did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("requested"), std::string::npos) << e.what();
  }
  // The failed alloc left the cursor alone.
  EXPECT_EQ(d.save(), mark);
}

TYPED_TEST(DriverConformance, UploadToHostAndConvert) {
  auto& d = *this->d_;
  const Vec x = random_vec(37, 1, -1000.0f, 1000.0f);
  auto t = this->up32(x, {37});
  EXPECT_EQ(this->down(t), x);
  const IVec ids = {0, -5, 7, 123456};
  auto ti = this->upi(ids, {4});
  EXPECT_EQ(this->down(ti), (Vec{0.0f, -5.0f, 7.0f, 123456.0f}));
  // F32 -> F16 / BF16 -> F32 rounds to nearest even, as the reference does.
  Vec special = x;
  for (float f : {0.0f, -0.0f, 65504.0f, 65519.0f, 65520.0f, 1e-8f, 6.1e-5f, 3.0e-7f, -2.5e-6f,
                  1.0f + 1.0f / 2048.0f, 1.0f + 3.0f / 2048.0f, 1e30f, INFINITY})
    special.push_back(f);
  auto src = this->up32(special, {static_cast<int64_t>(special.size())});
  for (DType dt : {DType::F16, DType::BF16}) {
    auto h = d.alloc(dt, {static_cast<int64_t>(special.size())});
    d.convert(h, src);
    Vec back = this->down(h);  // to_host converts to F32
    auto f32 = d.alloc(DType::F32, {static_cast<int64_t>(special.size())});
    d.convert(f32, h);
    Vec back2 = this->down(f32);
    for (size_t i = 0; i < special.size(); ++i) {
      const double want = dt == DType::F16 ? ref::from_f16(ref::to_f16(special[i]))
                                           : ref::from_bf16(ref::to_bf16(special[i]));
      EXPECT_EQ(double(back[i]), want) << (dt == DType::F16 ? "f16 " : "bf16 ") << special[i];
      EXPECT_EQ(double(back2[i]), want) << (dt == DType::F16 ? "f16 " : "bf16 ") << special[i];
    }
  }
}

TYPED_TEST(DriverConformance, LoadWeight) {
  auto& d = *this->d_;
  const Vec w = random_vec(6 * 5, 2);
  HostTensorRef h;
  h.data = w.data();
  h.dtype = DType::F32;
  h.shape = {6, 5, 0, 0};
  h.rank = 2;
  auto t = d.load_weight(h, DType::F32);
  EXPECT_EQ(t.dim(0), 6);
  EXPECT_EQ(t.dim(1), 5);
  EXPECT_EQ(this->down(t), w);
  if constexpr (std::is_same_v<typename TypeParam::Driver, CpuDriver>)
    EXPECT_EQ(t.data, static_cast<const void*>(w.data())) << "F32 weights must be zero-copy";
  for (DType dt : {DType::F16, DType::BF16}) {
    std::vector<uint16_t> bits(w.size());
    Vec want(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      bits[i] = dt == DType::F16 ? ref::to_f16(w[i]) : ref::to_bf16(w[i]);
      want[i] = dt == DType::F16 ? float(ref::from_f16(bits[i])) : ref::from_bf16(bits[i]);
    }
    h.data = bits.data();
    h.dtype = dt;
    auto tw = d.load_weight(h, DType::F32);
    EXPECT_EQ(tw.dtype, DType::F32);
    EXPECT_EQ(this->down(tw), want);
  }
}

TYPED_TEST(DriverConformance, UnsupportedDtypeThrows) {
  auto& d = *this->d_;
  EXPECT_TRUE(d.supports_dtype(DType::F32));
  for (DType dt : {DType::F16, DType::BF16}) {
    if (d.supports_dtype(dt)) continue;
    using T = typename TestFixture::T;
    const size_t mark = d.save();
    T x = d.alloc(dt, {4, 8});
    T y = d.alloc(dt, {4, 8});
    T wide = d.alloc(dt, {4, 16});
    T vec = d.alloc(dt, {8});
    T qkv = d.alloc(dt, {4, 24});
    T f32 = d.alloc(DType::F32, {4, 8});
    T ids = this->upi({0, 1, 2, 3}, {4});
    T cu = this->upi({0, 4}, {2});
    BatchInputs bi = make_batch({4}, 3);
    auto db = d.upload_batch(bi);
    AttentionDesc ad{2, 4, 0.5f, 1};
    GemmDesc g{4, 8, 8, false, true, 8, 8, 8, 1.0f, 0.0f};
    std::vector<std::pair<const char*, std::function<void()>>> calls = {
        {"embedding_lookup", [&] { d.embedding_lookup(x, y, ids); }},
        {"add_embeddings", [&] { d.add_embeddings(x, y, ids); }},
        {"layer_norm", [&] { d.layer_norm(x, x, vec, vec, 1e-5f); }},
        {"gemm", [&] { d.gemm(g, x, y, f32); }},
        {"gemm_strided_batched", [&] { d.gemm_strided_batched(g, 1, 0, 0, 0, x, y, f32); }},
        {"scale_mask_softmax", [&] { d.scale_mask_softmax(x, db.float_mask, 1.0f); }},
        {"banded_softmax", [&] { d.banded_softmax(x, ad); }},
        {"banded_qk", [&] { d.banded_qk(x, qkv, 0, 4, ad); }},
        {"rope", [&] { d.rope(qkv, ids, vec, vec, 2, 4); }},
        {"gelu", [&] { d.gelu(x); }},
        {"gelu_tanh", [&] { d.gelu_tanh(x); }},
        {"silu", [&] { d.silu(x); }},
        {"split_gate_value", [&] { d.split_gate_value(x, y, wide); }},
        {"geglu", [&] { d.geglu(x, wide); }},
        {"swiglu", [&] { d.swiglu(x, wide); }},
        {"add_bias", [&] { d.add_bias(x, vec); }},
        {"residual_add", [&] { d.residual_add(x, x, y); }},
        {"cls_pool", [&] { d.cls_pool(vec, x, cu); }},
        {"mean_pool", [&] { d.mean_pool(vec, x, cu); }},
        {"l2_normalize", [&] { d.l2_normalize(x); }},
        {"pad", [&] { d.pad(x, y, cu, 4); }},
        {"unpad", [&] { d.unpad(x, y, cu); }},
        {"ops::linear", [&] { ops::linear(d, f32, x, y, vec); }},
        {"ops::fused_bias_gelu", [&] { ops::fused_bias_gelu(d, x, vec); }},
        {"ops::fused_bias_residual", [&] { ops::fused_bias_residual(d, x, x, vec, y); }},
        {"ops::fused_residual_layernorm",
         [&] { ops::fused_residual_layernorm(d, x, x, vec, y, vec, vec, 1e-5f); }},
        {"ops::attention", [&] { ops::attention(d, x, qkv, ad, db); }},
    };
    for (auto& [name, fn] : calls) {
      try {
        fn();
        ADD_FAILURE() << name << " accepted " << (dt == DType::F16 ? "f16" : "bf16");
      } catch (const UnsupportedError& e) {
        EXPECT_NE(std::string(e.what()).find(dt == DType::F16 ? "f16" : "bf16"), std::string::npos)
            << name << ": " << e.what();
      } catch (const std::exception& e) {
        ADD_FAILURE() << name << " threw something else than UnsupportedError: " << e.what();
      }
    }
    d.restore(mark);
  }
}

// ---------------------------------------------------------------- embeddings, norms

TYPED_TEST(DriverConformance, Embeddings) {
  auto& d = *this->d_;
  for (int64_t h : kSizes) {
    const int64_t V = 50;
    const Vec table = this->rv(random_vec(V * h, 10 + h));
    IVec ids;
    for (int i = 0; i < 37; ++i) ids.push_back((i * 17 + 3) % V);
    const int64_t T = static_cast<int64_t>(ids.size());
    const size_t mark = d.save();
    auto tt = this->up(table, {V, h});
    auto ti = this->upi(ids, {T});
    auto out = this->alloc_act({T, h});
    d.embedding_lookup(out, tt, ti);
    Vec want = ref::embedding_lookup(table, h, ids);
    expect_close(this->down(out), want, this->tol(), "embedding_lookup H=" + std::to_string(h));
    const Vec table2 = this->rv(random_vec(V * h, 20 + h));
    d.add_embeddings(out, this->up(table2, {V, h}), ti);
    ref::add_embeddings(want, table2, h, ids);
    expect_close(this->down(out), want, this->tol(), "add_embeddings H=" + std::to_string(h));
    // An id outside the table is refused: at the call on the CPU, at the next end_batch() on a
    // device that checks asynchronously (CUDA).
    EXPECT_THROW(
        {
          d.embedding_lookup(out, tt, this->upi(IVec(T, static_cast<int32_t>(V)), {T}));
          d.end_batch();
        },
        InvalidArgument);
    d.restore(mark);
  }
}

TYPED_TEST(DriverConformance, LayerNorm) {
  auto& d = *this->d_;
  for (int64_t c : kSizes) {
    const int64_t r = 5;
    // Offset data: mean far from zero checks the variance is computed stably.
    Vec x = this->rv(random_vec(r * c, 30 + c, 2.0f, 4.0f));
    const Vec g = this->rv(random_vec(c, 31 + c, 0.5f, 1.5f)), b = this->rv(random_vec(c, 32 + c));
    const size_t mark = d.save();
    auto tx = this->up(x, {r, c});
    auto out = this->alloc_act({r, c});
    d.layer_norm(out, tx, this->up(g, {c}), this->up(b, {c}), 1e-5f);
    // Normalized outputs are O(1): a 1e-4 absolute error budget for sqrt(var)-level rounding.
    const Tol tol = at_least({1e-4, 1e-4}, this->tol());
    expect_close(this->down(out), ref::layer_norm(x, c, g, b, 1e-5f), tol,
                 "layer_norm C=" + std::to_string(c));
    // beta empty, in place
    d.layer_norm(tx, tx, this->up(g, {c}), typename TestFixture::T{}, 1e-12f);
    expect_close(this->down(tx), ref::layer_norm(x, c, g, {}, 1e-12f), tol,
                 "layer_norm in place, no beta, C=" + std::to_string(c));
    d.restore(mark);
  }
}

// ---------------------------------------------------------------- GEMM

TYPED_TEST(DriverConformance, Gemm) {
  auto& d = *this->d_;
  // The last two are big enough for the CPU driver to tile them over its threads (by rows,
  // then by columns).
  const std::vector<std::array<int64_t, 3>> shapes = {
      {1, 1, 1},   {3, 7, 17},    {17, 33, 7},    {33, 3, 384},  {384, 17, 33},
      {7, 768, 3}, {1, 768, 384}, {300, 200, 40}, {5, 2000, 300}};
  uint32_t seed = 100;
  for (auto [m, n, k] : shapes)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        GemmDesc g;
        g.m = m;
        g.n = n;
        g.k = k;
        g.trans_a = ta;
        g.trans_b = tb;
        g.lda = (ta ? m : k) + 3;  // padded leading dimensions
        g.ldb = (tb ? k : n) + 1;
        g.ldc = n + 2;
        g.alpha = 0.75f;
        g.beta = (ta + tb) % 2 ? 0.5f : 0.0f;
        const int64_t a_rows = ta ? k : m, b_rows = tb ? n : k;
        const Vec a = this->rv(random_vec(a_rows * g.lda, ++seed)),
                  b = this->rv(random_vec(b_rows * g.ldb, ++seed));
        Vec c = this->rv(random_vec(m * g.ldc, ++seed));
        if (g.beta == 0.0f) c[0] = NAN;  // beta = 0 overwrites, NaN must not survive
        const size_t mark = d.save();
        auto tc = this->up(c, {m, g.ldc});
        d.gemm(g, this->up(a, {a_rows, g.lda}), this->up(b, {b_rows, g.ldb}), tc);
        ref::gemm(g, a.data(), b.data(), c.data());
        expect_close(this->down(tc), c, scaled(this->tol(), double(k)),
                     "gemm m=" + std::to_string(m) + " n=" + std::to_string(n) +
                         " k=" + std::to_string(k) + " ta=" + std::to_string(ta) +
                         " tb=" + std::to_string(tb));
        d.restore(mark);
      }
}

TYPED_TEST(DriverConformance, GemmStridedBatched) {
  auto& d = *this->d_;
  // Few rows against Bᵀ (the CPU's dot-product form), then products of >= 64 rows and B not
  // transposed (packed per product, one product per thread).
  for (auto [m, n, k, tb] : std::vector<std::array<int64_t, 4>>{{7, 17, 33, 1},
                                                                {33, 33, 7, 1},
                                                                {1, 5, 3, 1},
                                                                {70, 20, 9, 1},
                                                                {7, 17, 33, 0},
                                                                {130, 40, 300, 0}}) {
    const int64_t batch = 3;
    GemmDesc g;
    g.m = m;
    g.n = n;
    g.k = k;
    g.trans_b = tb != 0;
    g.lda = k;
    g.ldb = tb ? k : n;
    g.ldc = n;
    const int64_t sa = m * k + 5, sb = n * k + 1, sc = m * n + 3;
    const Vec a = this->rv(random_vec(batch * sa, 200 + m)),
              b = this->rv(random_vec(batch * sb, 201 + m));
    Vec c = this->rv(random_vec(batch * sc, 202 + m));
    const size_t mark = d.save();
    auto tc = this->up(c, {batch * sc});
    d.gemm_strided_batched(g, batch, sa, sb, sc, this->up(a, {batch * sa}),
                           this->up(b, {batch * sb}), tc);
    for (int64_t i = 0; i < batch; ++i)
      ref::gemm(g, a.data() + i * sa, b.data() + i * sb, c.data() + i * sc);
    expect_close(this->down(tc), c, scaled(this->tol(), double(k)),
                 "gemm_strided_batched m=" + std::to_string(m) + " tb=" + std::to_string(tb));
    d.restore(mark);
  }
}

// Helper probe 2026-12-07: a negative batch stride passed the operand checks (only the last
// product's end was checked) and the products read 64 bytes before A or wrote before C; a C
// stride below one product's extent made the products overwrite each other (in whatever order
// the pool ran them). Each is refused, as is a C that overlaps A or B.
TEST(CpuGemmChecks, NegativeOrOverlappingBatchStridesAreRefused) {
  CpuDriver d;
  d.reserve_scratch(size_t{1} << 20);
  GemmDesc g{4, 4, 4, false, true, 4, 4, 4, 1.0f, 0.0f};
  const Vec v = random_vec(64, 1);
  auto a = d.upload(v.data(), DType::F32, {64});
  auto b = d.upload(v.data(), DType::F32, {64});
  auto c = d.alloc(DType::F32, {64});
  auto refused = [&](int64_t sa, int64_t sb, int64_t sc, const std::string& what,
                     int64_t batch = 2) {
    try {
      d.gemm_strided_batched(g, batch, sa, sb, sc, a, b, c);
      ADD_FAILURE() << what << ": accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  refused(-16, 16, 16, "A: negative batch stride -16");
  refused(16, -16, 16, "B: negative batch stride -16");
  refused(16, 16, -16, "C: negative batch stride -16");
  refused(16, 16, 8, "the products overlap");
  refused(16, 16, 0, "the products overlap");
  refused(16, 16, 64, "C needs 80 elements, tensor has 64");
  refused(16, 16, std::numeric_limits<int64_t>::max() / 2 + 1, "C: batch stride", 3);
  // A or B as C.
  try {
    d.gemm(g, a, b, a);
    ADD_FAILURE() << "C = A accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("C overlaps A"), std::string::npos) << e.what();
  }
  // A and B may be shared between products (stride 0) and with each other.
  EXPECT_NO_THROW(d.gemm_strided_batched(g, 2, 0, 0, 16, a, a, c));
}

// ---------------------------------------------------------------- padded attention pieces

TYPED_TEST(DriverConformance, MaskAndSoftmax) {
  auto& d = *this->d_;
  for (const auto& lengths : kBatches) {
    const BatchInputs bi = make_batch(lengths, 300);
    const int64_t B = bi.batch, S = bi.max_seq, nh = 3;
    const size_t mark = d.save();
    auto mask = d.alloc(DType::F32, {B, S});
    d.build_attn_mask(mask, this->upi(bi.seq_lengths, {B}));
    const Vec want_mask = ref::attn_mask(bi.seq_lengths, S);
    EXPECT_EQ(this->down(mask), want_mask) << batch_name(lengths);
    const Vec scores = this->rv(random_vec(B * nh * S * S, 301, -4.0f, 4.0f));
    auto ts = this->up(scores, {B, nh, S, S});
    d.scale_mask_softmax(ts, mask, 0.37f);
    Vec want = scores;
    ref::scale_mask_softmax(want, want_mask, B, S, 0.37f);
    expect_close(this->down(ts), want, this->tol(), "scale_mask_softmax " + batch_name(lengths));
    for (int w : {0, 1, 5}) {
      auto tw = this->up(scores, {B, nh, S, S});
      d.scale_mask_softmax_windowed(tw, mask, 0.37f, w);
      Vec wantw = scores;
      ref::scale_mask_softmax(wantw, want_mask, B, S, 0.37f, w);
      // Query rows past a sequence's end are padding (dropped by attn_reshape); only rows of
      // real tokens are specified.
      Vec got = this->down(tw);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = bi.seq_lengths[b]; i < S; ++i)
          for (int64_t h = 0; h < nh; ++h)
            for (int64_t j = 0; j < S; ++j)
              got[((b * nh + h) * S + i) * S + j] = wantw[((b * nh + h) * S + i) * S + j];
      expect_close(
          got, wantw, this->tol(),
          "scale_mask_softmax_windowed w=" + std::to_string(w) + " " + batch_name(lengths));
    }
    d.restore(mark);
  }
}

TYPED_TEST(DriverConformance, QkvSplitAndReshape) {
  auto& d = *this->d_;
  for (const auto& lengths : kBatches) {
    const BatchInputs bi = make_batch(lengths, 400);
    const int64_t B = bi.batch, S = bi.max_seq, T = bi.total_tokens, nh = 3, hd = 5, H = nh * hd;
    const Vec qkv = this->rv(random_vec(T * 3 * H, 401));
    const size_t mark = d.save();
    auto db = d.upload_batch(bi);
    auto q = this->alloc_act({B, nh, S, hd});
    auto k = this->alloc_act({B, nh, S, hd});
    auto v = this->alloc_act({B, nh, S, hd});
    d.qkv_split(q, k, v, this->up(qkv, {T, 3 * H}), db, nh);
    Vec rq, rk, rv;
    ref::qkv_split(qkv, bi, nh, rq, rk, rv);
    EXPECT_EQ(this->down(q), rq) << batch_name(lengths);
    EXPECT_EQ(this->down(k), rk) << batch_name(lengths);
    EXPECT_EQ(this->down(v), rv) << batch_name(lengths);
    auto out = this->alloc_act({T, H});
    d.attn_reshape(out, v, db);
    EXPECT_EQ(this->down(out), ref::attn_reshape(rv, bi, nh, hd)) << batch_name(lengths);
    d.restore(mark);
  }
}

// ---------------------------------------------------------------- banded attention pieces

TYPED_TEST(DriverConformance, BandedPieces) {
  auto& d = *this->d_;
  for (const auto& lengths : kBatches) {
    const BatchInputs bi = make_batch(lengths, 500);
    const int64_t T = bi.total_tokens;
    for (int w : {0, 2, 9}) {
      const AttentionDesc ad{3, 7, 1.0f / std::sqrt(7.0f), w};
      const int64_t H = 21, band = 2 * w + 1;
      const Vec qkv = this->rv(random_vec(T * 3 * H, 501 + w));
      const size_t mark = d.save();
      auto tq = this->up(qkv, {T, 3 * H});
      auto out = this->zeros({T, H});
      Vec want_out(T * H, 0.0f);
      for (int b = 0; b < bi.batch; ++b) {
        const int64_t row0 = bi.cu_seqlens[b], len = bi.seq_lengths[b];
        const std::string what =
            batch_name(lengths) + " seq " + std::to_string(b) + " w=" + std::to_string(w);
        auto sc = d.alloc(DType::F32, {3, len, band});
        d.banded_qk(sc, tq, row0, len, ad);
        Vec want = ref::banded_qk(qkv, row0, len, ad);
        expect_close(this->down(sc), want, scaled(this->tol(), 7), "banded_qk " + what);
        d.banded_softmax(sc, ad);
        ref::banded_softmax(want, ad);
        expect_close(this->down(sc), want, this->tol(), "banded_softmax " + what);
        // Feed the reference probabilities so banded_sv is checked on its own.
        auto tp = this->up32(want, {3, len, band});  // probabilities stay F32
        d.banded_sv(out, tp, tq, row0, len, ad);
        ref::banded_sv(want_out, want, qkv, row0, len, ad);
      }
      expect_close(this->down(out), want_out, scaled(this->tol(), band),
                   "banded_sv " + batch_name(lengths) + " w=" + std::to_string(w));
      d.restore(mark);
    }
  }
}

TYPED_TEST(DriverConformance, Rope) {
  auto& d = *this->d_;
  for (const auto& lengths : kBatches) {
    const BatchInputs bi = make_batch(lengths, 600);
    const int64_t T = bi.total_tokens, nh = 3, hd = 8, H = nh * hd, P = 400, half = hd / 2;
    Vec cos(P * half), sin(P * half);
    for (int64_t p = 0; p < P; ++p)
      for (int64_t j = 0; j < half; ++j) {
        const double ang = p * std::pow(10000.0, -2.0 * j / hd);
        cos[p * half + j] = static_cast<float>(std::cos(ang));
        sin[p * half + j] = static_cast<float>(std::sin(ang));
      }
    Vec qkv = this->rv(random_vec(T * 3 * H, 601));
    const size_t mark = d.save();
    auto tq = this->up(qkv, {T, 3 * H});
    d.rope(tq, this->upi(bi.position_ids, {T}), this->up32(cos, {P, half}),
           this->up32(sin, {P, half}), static_cast<int>(nh), static_cast<int>(hd));
    ref::rope(qkv, bi.position_ids, cos, sin, static_cast<int>(nh), static_cast<int>(hd));
    expect_close(this->down(tq), qkv, this->tol(), "rope " + batch_name(lengths));
    d.restore(mark);
  }
}

// ---------------------------------------------------------------- activations, element-wise

TYPED_TEST(DriverConformance, Activations) {
  auto& d = *this->d_;
  for (int64_t c : kSizes) {
    const int64_t r = 3;
    // Wide range: exercises the erf/tanh/exp saturation regions.
    const Vec x = this->rv(random_vec(r * c, 700 + c, -9.0f, 9.0f));
    const size_t mark = d.save();
    const std::string sz = " C=" + std::to_string(c);
    auto map = [&](auto f) {
      Vec y = x;
      for (auto& v : y) v = f(v);
      return y;
    };
    auto t = this->up(x, {r, c});
    d.gelu(t);
    expect_close(this->down(t), map(ref::gelu), this->tol(), "gelu" + sz);
    t = this->up(x, {r, c});
    d.gelu_tanh(t);
    expect_close(this->down(t), map(ref::gelu_tanh), this->tol(), "gelu_tanh" + sz);
    t = this->up(x, {r, c});
    d.silu(t);
    expect_close(this->down(t), map(ref::silu), this->tol(), "silu" + sz);
    // Gated: in[R, 2C]
    const Vec in = this->rv(random_vec(r * 2 * c, 710 + c, -5.0f, 5.0f));
    auto tin = this->up(in, {r, 2 * c});
    auto first = this->alloc_act({r, c}), second = this->alloc_act({r, c});
    d.split_gate_value(first, second, tin);
    Vec wf(r * c), ws(r * c);
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < c; ++j) {
        wf[i * c + j] = in[i * 2 * c + j];
        ws[i * c + j] = in[i * 2 * c + c + j];
      }
    EXPECT_EQ(this->down(first), wf) << "split_gate_value" << sz;
    EXPECT_EQ(this->down(second), ws) << "split_gate_value" << sz;
    auto out = this->alloc_act({r, c});
    d.geglu(out, tin);
    expect_close(this->down(out), ref::gated(in, 2 * c, ref::gelu), this->tol(), "geglu" + sz);
    d.swiglu(out, tin);
    expect_close(this->down(out), ref::gated(in, 2 * c, ref::silu), this->tol(), "swiglu" + sz);
    d.restore(mark);
  }
}

TYPED_TEST(DriverConformance, BiasAndResidual) {
  auto& d = *this->d_;
  for (int64_t c : kSizes) {
    const int64_t r = 4;
    const Vec x = this->rv(random_vec(r * c, 800 + c)), bias = this->rv(random_vec(c, 801 + c)),
              y = this->rv(random_vec(r * c, 802 + c));
    const size_t mark = d.save();
    auto tx = this->up(x, {r, c});
    d.add_bias(tx, this->up(bias, {c}));
    Vec want = x;
    for (int64_t i = 0; i < r * c; ++i) want[i] += bias[i % c];
    expect_close(this->down(tx), want, this->tol(), "add_bias C=" + std::to_string(c));
    auto ty = this->up(y, {r, c});
    d.residual_add(tx, tx, ty);  // aliasing out == a
    for (int64_t i = 0; i < r * c; ++i) want[i] += y[i];
    expect_close(this->down(tx), want, this->tol(), "residual_add C=" + std::to_string(c));
    d.restore(mark);
  }
}

// ---------------------------------------------------------------- pooling and output

TYPED_TEST(DriverConformance, PoolingPadUnpad) {
  auto& d = *this->d_;
  for (const auto& lengths : kBatches)
    for (int64_t h : {int64_t{1}, int64_t{17}, int64_t{384}}) {
      const BatchInputs bi = make_batch(lengths, 900);
      const int64_t B = bi.batch, S = bi.max_seq, T = bi.total_tokens;
      const std::string what = batch_name(lengths) + " H=" + std::to_string(h);
      const Vec hidden = this->rv(random_vec(T * h, 901 + h));
      const size_t mark = d.save();
      auto th = this->up(hidden, {T, h});
      auto db = d.upload_batch(bi);
      auto out = this->alloc_act({B, h});
      d.cls_pool(out, th, db.cu_seqlens);
      EXPECT_EQ(this->down(out), ref::cls_pool(hidden, h, bi.cu_seqlens)) << "cls_pool " << what;
      d.mean_pool(out, th, db.cu_seqlens);
      Vec want = ref::mean_pool(hidden, h, bi.cu_seqlens);
      expect_close(this->down(out), want, this->tol(), "mean_pool " + what);
      d.l2_normalize(out);
      ref::l2_normalize(want, h);
      expect_close(this->down(out), want, this->tol(), "l2_normalize " + what);
      auto padded = this->alloc_act({B, S, h});
      d.pad(padded, th, db.cu_seqlens, S);
      const Vec want_pad = ref::pad(hidden, h, bi.cu_seqlens, S);
      EXPECT_EQ(this->down(padded), want_pad) << "pad " << what;
      auto back = this->alloc_act({T, h});
      d.unpad(back, padded, db.cu_seqlens);
      EXPECT_EQ(this->down(back), ref::unpad(want_pad, h, bi.cu_seqlens, S)) << "unpad " << what;
      d.restore(mark);
    }
  // A zero row stays zero.
  const size_t mark = d.save();
  Vec z = {0.0f, 0.0f, 0.0f, 3.0f, 4.0f, 0.0f};
  auto tz = this->up(z, {2, 3});
  d.l2_normalize(tz);
  expect_close(this->down(tz), Vec{0.0f, 0.0f, 0.0f, 0.6f, 0.8f, 0.0f}, this->tol(),
               "l2_normalize zero row");
  d.restore(mark);
}

// ---------------------------------------------------------------- ops.hpp fused vs fallback

TYPED_TEST(DriverConformance, FusedLinearAndBiasOps) {
  auto& d = *this->d_;
  Unfused<typename TestFixture::D> u(d);
  for (int64_t c : kSizes) {
    const int64_t r = 5, out_f = (c * 7) % 97 + 3;
    const Vec x = this->rv(random_vec(r * c, 1000 + c)),
              w = this->rv(random_vec(out_f * c, 1001 + c)),
              bias = this->rv(random_vec(out_f, 1002 + c));
    const std::string sz = " in=" + std::to_string(c) + " out=" + std::to_string(out_f);
    const size_t mark = d.save();
    auto tx = this->up(x, {r, c});
    auto tw = this->up(w, {out_f, c});
    auto tb = this->up(bias, {out_f});
    Vec want(r * out_f);
    GemmDesc g{r, out_f, c, false, true, c, c, out_f, 1.0f, 0.0f};
    ref::gemm(g, x.data(), w.data(), want.data());
    for (int64_t i = 0; i < r * out_f; ++i) want[i] += bias[i % out_f];
    auto y1 = this->alloc_act({r, out_f}), y2 = this->alloc_act({r, out_f});
    ops::linear(d, y1, tx, tw, tb);
    ops::linear(u, y2, tx, tw, tb);
    const Tol tl = scaled(this->tol(), double(c));
    expect_close(this->down(y1), want, tl, "linear (fused)" + sz);
    {
      // Into a NaN-poisoned output: every element must be written.
      auto y3 = this->up(Vec(r * out_f, NAN), {r, out_f});
      ops::linear(d, y3, tx, tw, tb);
      expect_close(this->down(y3), want, tl, "linear (fused, poisoned output)" + sz);
    }
    expect_close(this->down(y2), want, tl, "linear (fallback)" + sz);
    // Without bias.
    ops::linear(d, y1, tx, tw, typename TestFixture::T{});
    for (int64_t i = 0; i < r * out_f; ++i) want[i] -= bias[i % out_f];
    expect_close(this->down(y1), want, tl, "linear no bias" + sz);

    // fused_bias_gelu
    const Vec xb = this->rv(random_vec(r * c, 1003 + c, -4.0f, 4.0f)),
              bb = this->rv(random_vec(c, 1004 + c));
    Vec want_g(r * c);
    for (int64_t i = 0; i < r * c; ++i) want_g[i] = ref::gelu(xb[i] + bb[i % c]);
    auto g1 = this->up(xb, {r, c}), g2 = this->up(xb, {r, c});
    ops::fused_bias_gelu(d, g1, this->up(bb, {c}));
    ops::fused_bias_gelu(u, g2, this->up(bb, {c}));
    expect_close(this->down(g1), want_g, this->tol(), "fused_bias_gelu (fused)" + sz);
    expect_close(this->down(g2), want_g, this->tol(), "fused_bias_gelu (fallback)" + sz);

    // fused_bias_residual, out aliasing residual
    const Vec res = this->rv(random_vec(r * c, 1005 + c));
    Vec want_r(r * c);
    for (int64_t i = 0; i < r * c; ++i) want_r[i] = xb[i] + bb[i % c] + res[i];
    for (int variant = 0; variant < 2; ++variant) {
      auto tres = this->up(res, {r, c});
      auto txb = this->up(xb, {r, c});
      if (variant == 0)
        ops::fused_bias_residual(d, tres, txb, this->up(bb, {c}), tres);
      else
        ops::fused_bias_residual(u, tres, txb, this->up(bb, {c}), tres);
      expect_close(this->down(tres), want_r, this->tol(),
                   std::string("fused_bias_residual ") + (variant ? "(fallback)" : "(fused)") + sz);
    }

    // fused_residual_layernorm, out aliasing residual; and with empty bias / beta
    const Vec gam = this->rv(random_vec(c, 1006 + c, 0.5f, 1.5f)),
              bet = this->rv(random_vec(c, 1007 + c));
    const Tol tln = at_least({1e-4, 1e-4}, this->tol());
    for (int empty = 0; empty < 2; ++empty) {
      Vec sum(r * c);
      for (int64_t i = 0; i < r * c; ++i) sum[i] = xb[i] + (empty ? 0.0f : bb[i % c]) + res[i];
      const Vec want_ln = ref::layer_norm(sum, c, gam, empty ? Vec{} : bet, 1e-5f);
      for (int variant = 0; variant < 2; ++variant) {
        auto tres = this->up(res, {r, c});
        auto txb = this->up(xb, {r, c});
        typename TestFixture::T tbias = empty ? typename TestFixture::T{} : this->up(bb, {c});
        typename TestFixture::T tbeta = empty ? typename TestFixture::T{} : this->up(bet, {c});
        if (variant == 0)
          ops::fused_residual_layernorm(d, tres, txb, tbias, tres, this->up(gam, {c}), tbeta,
                                        1e-5f);
        else
          ops::fused_residual_layernorm(u, tres, txb, tbias, tres, this->up(gam, {c}), tbeta,
                                        1e-5f);
        expect_close(this->down(tres), want_ln, tln,
                     std::string("fused_residual_layernorm ") +
                         (variant ? "(fallback)" : "(fused)") + (empty ? " no bias/beta" : "") +
                         sz);
      }
    }
    d.restore(mark);
  }
}

// Padded attention with the windowed softmax, composed from the basic operations.
template <class D>
void padded_windowed_attention(D& d, typename D::Tensor out, const typename D::Tensor& qkv,
                               const AttentionDesc& ad, const DeviceBatch<typename D::Tensor>& db) {
  const int64_t B = db.batch(), S = db.max_seq(), nh = ad.num_heads, hd = ad.head_dim;
  const size_t mark = d.save();
  auto q = d.alloc(qkv.dtype, {B, nh, S, hd});
  auto k = d.alloc(qkv.dtype, {B, nh, S, hd});
  auto v = d.alloc(qkv.dtype, {B, nh, S, hd});
  d.qkv_split(q, k, v, qkv, db, ad.num_heads);
  auto scores = d.alloc(DType::F32, {B, nh, S, S});
  GemmDesc g{S, S, hd, false, true, hd, hd, S, 1.0f, 0.0f};
  d.gemm_strided_batched(g, B * nh, S * hd, S * hd, S * S, q, k, scores);
  d.scale_mask_softmax_windowed(scores, db.float_mask, ad.scale, ad.half_window);
  auto probs = scores;
  if (qkv.dtype != DType::F32) {  // the second product wants P in V's dtype
    probs = d.alloc(qkv.dtype, {B, nh, S, S});
    d.convert(probs, scores);
  }
  auto ctx = d.alloc(qkv.dtype, {B, nh, S, hd});
  GemmDesc g2{S, hd, S, false, false, S, hd, hd, 1.0f, 0.0f};
  d.gemm_strided_batched(g2, B * nh, S * S, S * hd, S * hd, probs, v, ctx);
  d.attn_reshape(out, ctx, db);
  d.restore(mark);
}

TYPED_TEST(DriverConformance, Attention) {
  auto& d = *this->d_;
  Unfused<typename TestFixture::D> u(d);
  struct Heads {
    int nh, hd;
  };
  for (const auto& lengths : kBatches) {
    const bool long_seq = lengths.size() == 1 && lengths[0] >= 384;
    std::vector<Heads> heads = {{2, 8}, {3, 17}, {12, 32}};
    if (!long_seq) heads.push_back({4, 64});
    for (Heads hh : heads)
      for (int w : {-1, 0, 3, 40}) {
        if (long_seq && hh.nh == 2 && w == 0) continue;  // keep the suite fast
        const AttentionDesc ad{hh.nh, hh.hd, 1.0f / std::sqrt(float(hh.hd)), w};
        const BatchInputs bi = make_batch(lengths, 1100);
        const int64_t T = bi.total_tokens, H = int64_t{hh.nh} * hh.hd;
        const Vec qkv = this->rv(random_vec(T * 3 * H, 1101 + hh.hd + w, -2.0f, 2.0f));
        const Vec want = ref::attention(qkv, bi, ad);
        const std::string what = batch_name(lengths) + " nh=" + std::to_string(hh.nh) +
                                 " hd=" + std::to_string(hh.hd) + " w=" + std::to_string(w);
        const Tol tl = scaled(this->tol(), double(hh.hd));
        const size_t mark = d.save();
        auto tq = this->up(qkv, {T, 3 * H});
        auto db = d.upload_batch(bi);
        auto o1 = this->alloc_act({T, H});
        ops::attention(d, o1, tq, ad, db);
        expect_close(this->down(o1), want, tl, "attention (fused) " + what);
        // Fallback: padded (global) or banded (local) through ops.hpp.
        auto o2 = this->alloc_act({T, H});
        ops::attention(u, o2, tq, ad, db);
        expect_close(this->down(o2), want, tl, "attention (fallback) " + what);
        if (w >= 0) {
          // Padded with the windowed softmax must agree with the banded form.
          auto o3 = this->alloc_act({T, H});
          padded_windowed_attention(d, o3, tq, ad, db);
          expect_close(this->down(o3), want, tl, "attention (padded windowed) " + what);
        }
        d.restore(mark);
      }
  }
}

// A host view of an F32 weight [n, k] (k == 0: a vector [n]), as a model file gives it.
HostTensorRef host_f32(const Vec& v, int64_t n, int64_t k = 0) {
  HostTensorRef h;
  h.data = v.data();
  h.dtype = DType::F32;
  h.shape = {n, k, 0, 0};
  h.rank = k == 0 ? 1 : 2;
  return h;
}

// A one-off product of a few rows (a CLI query: ~10 tokens through each weight once) runs on the
// weight as stored instead of packing it (a 90 MB copy for MiniLM); the second product, or a
// first one of >= 64 rows, packs. linear_gelu's fallback used to ask twice and pack at once.
TEST(CpuPackedGemm, OneSmallProductDoesNotPack) {
  CpuDriver d(cpu::Isa::kAuto, cpu::GemmPath::kPacked);
  if (std::string(d.gemm_path_name()) != "packed") GTEST_SKIP() << "no packed kernel here";
  d.reserve_scratch(size_t{8} << 20);
  const int64_t n = 48, k = 32;
  const Vec w = random_vec(n * k, 1), bias = random_vec(n, 2), x = random_vec(128 * k, 3);
  const HostTensorRef h = host_f32(w, n, k);
  auto tw = d.load_weight(h, DType::F32);
  auto tb = d.load_weight(host_f32(bias, n), DType::F32);
  auto y = d.alloc(DType::F32, {8, n});
  auto small = d.upload(x.data(), DType::F32, {8, k});
  ops::linear_gelu(d, y, small, tw, tb);
  EXPECT_EQ(d.packed_weight_count(), 0u) << "linear_gelu of 8 rows packed its weight";
  ops::linear_gelu(d, y, small, tw, tb);
  EXPECT_EQ(d.packed_weight_count(), 1u) << "the second product packs";

  CpuDriver big_first(cpu::Isa::kAuto, cpu::GemmPath::kPacked);
  big_first.reserve_scratch(size_t{8} << 20);
  auto tw2 = big_first.load_weight(h, DType::F32);
  auto y2 = big_first.alloc(DType::F32, {128, n});
  auto big = big_first.upload(x.data(), DType::F32, {128, k});
  ops::linear(big_first, y2, big, tw2, CpuDriver::Tensor{});
  EXPECT_EQ(big_first.packed_weight_count(), 1u) << "a first product of 128 rows packs";
}

// The packed-weight GEMM (weights loaded with load_weight, repacked at first use) against the
// double reference, for every kernel build this CPU has: row counts around the register tile
// and the row block, column counts around the panel width, k across the k-block split;
// bias / no bias, the GELU epilogue (linear_gelu), the residual-accumulating form (gemm with
// beta = 1) and NaN-poisoned outputs (every element written). The unpacked path on the same
// data (cpu::sgemm: dot products below 64 rows, a per-call packing above) must agree too.
TEST(CpuPackedGemm, MatchesReference) {
  const std::vector<int64_t> ms = {1, 5, 13, 150, 301}, ns = {1, 17, 33, 389},
                             ks = {1, 7, 384, 1000};
  uint32_t seed = 7000;
  for (cpu::Isa isa : {cpu::Isa::kScalar, cpu::Isa::kAvx2, cpu::Isa::kAvx512}) {
    if (!cpu::isa_available(isa)) continue;
    CpuDriver d(isa, cpu::GemmPath::kPacked);
    CpuDriver blas(isa, cpu::GemmPath::kUnpacked);
    ASSERT_STREQ(d.gemm_path_name(), "packed") << d.isa_name();
    ASSERT_STREQ(blas.gemm_path_name(), "unpacked");
    d.reserve_scratch(size_t{32} << 20);
    blas.reserve_scratch(size_t{32} << 20);
    for (int64_t n : ns)
      for (int64_t k : ks) {
        const Vec w = random_vec(n * k, ++seed), bias = random_vec(n, ++seed);
        const HostTensorRef h = host_f32(w, n, k);
        auto tw = d.load_weight(h, DType::F32);
        auto tw_blas = blas.load_weight(h, DType::F32);
        auto tb = d.load_weight(host_f32(bias, n), DType::F32);
        for (int64_t m : ms) {
          const std::string what = std::string(d.isa_name()) + " m=" + std::to_string(m) +
                                   " n=" + std::to_string(n) + " k=" + std::to_string(k);
          const Vec x = random_vec(m * k, ++seed), c0 = random_vec(m * n, ++seed);
          Vec prod(m * n);
          GemmDesc g{m, n, k, false, true, k, k, n, 1.0f, 0.0f};
          ref::gemm(g, x.data(), w.data(), prod.data());
          const Tol tl = scaled(kF32Tol, double(k));
          const size_t mark = d.save();
          auto tx = d.upload(x.data(), DType::F32, {m, k});
          auto y = d.alloc(DType::F32, {m, n});
          Vec want(m * n), got(m * n);
          // linear with and without bias, into a poisoned output
          for (int with_bias = 0; with_bias < 2; ++with_bias) {
            for (int64_t i = 0; i < m * n; ++i) want[i] = prod[i] + (with_bias ? bias[i % n] : 0);
            std::fill_n(y.as<float>(), m * n, NAN);
            ops::linear(d, y, tx, tw, with_bias ? tb : CpuDriver::Tensor{});
            d.to_host(y, got.data());
            expect_close(got, want, tl,
                         "packed linear bias=" + std::to_string(with_bias) + " " + what);
          }
          // GELU epilogue
          for (int64_t i = 0; i < m * n; ++i) want[i] = ref::gelu(prod[i] + bias[i % n]);
          std::fill_n(y.as<float>(), m * n, NAN);
          ops::linear_gelu(d, y, tx, tw, tb);
          d.to_host(y, got.data());
          expect_close(got, want, tl, "packed linear_gelu " + what);
          // residual accumulation: C += x · Wᵀ through gemm(beta = 1)
          std::copy(c0.begin(), c0.end(), y.as<float>());
          GemmDesc ga = g;
          ga.beta = 1.0f;
          d.gemm(ga, tx, tw, y);
          for (int64_t i = 0; i < m * n; ++i) want[i] = prod[i] + c0[i];
          d.to_host(y, got.data());
          expect_close(got, want, tl, "packed gemm beta=1 " + what);
          // beta = 0 overwrites a poisoned C
          std::fill_n(y.as<float>(), m * n, NAN);
          d.gemm(g, tx, tw, y);
          d.to_host(y, got.data());
          expect_close(got, prod, tl, "packed gemm beta=0 " + what);
          d.restore(mark);
          // The unpacked path on the same weight agrees.
          const size_t mb = blas.save();
          auto bx = blas.upload(x.data(), DType::F32, {m, k});
          auto by = blas.alloc(DType::F32, {m, n});
          blas.linear(by, bx, tw_blas, CpuDriver::Tensor{});
          blas.to_host(by, got.data());
          expect_close(got, prod, tl, "unpacked linear " + what);
          blas.restore(mb);
        }
      }
  }
}

// After a warm-up call, the CPU driver's operations run without touching the heap (the scratch
// arena, the attention workspace and the packed weights are all set up beforehand), with the
// linear layers in FP32, INT8 and BF16 (their converted weights and scratch made in the warm-up),
// the sub-layers' fused calls included, with enough rows for INT8's fused FFN on this pool.
void no_heap_allocation(int linear_mode) {
  CpuDriver d;
  if (linear_mode == 1) d.set_int8(true);
  if (linear_mode == 2) d.set_bf16(true);
  d.reserve_scratch(size_t{64} << 20);
  const auto pool = static_cast<int32_t>(ThreadPool::global().size());
  const BatchInputs bi = make_batch({1, 7, 33, 17, 100, 2 * 48 * pool + 7}, 1200);
  const int64_t T = bi.total_tokens, nh = 4, hd = 32, H = nh * hd, I = 2 * H;
  auto up = [&](const Vec& v, std::initializer_list<int64_t> dims) {
    return d.upload(v.data(), DType::F32, dims);
  };
  auto qkv = up(random_vec(T * 3 * H, 1), {T, 3 * H});
  auto x = up(random_vec(T * H, 2), {T, H});
  auto res = up(random_vec(T * H, 3), {T, H});
  auto g = up(random_vec(H, 4), {H});
  // A loaded weight, so the packed GEMM runs (its packing happens in the warm-up call).
  const Vec wv = random_vec(I * H, 5);
  HostTensorRef hw;
  hw.data = wv.data();
  hw.dtype = DType::F32;
  hw.shape = {I, H, 0, 0};
  hw.rank = 2;
  auto w = d.load_weight(hw, DType::F32);
  const Vec wov = random_vec(H * I, 7);  // the FFN's down projection, [H, I]
  HostTensorRef hwo = hw;
  hwo.data = wov.data();
  hwo.shape = {H, I, 0, 0};
  auto wo = d.load_weight(hwo, DType::F32);
  auto b = up(random_vec(I, 6), {I});
  auto y = d.alloc(DType::F32, {T, I});
  auto out = d.alloc(DType::F32, {T, H});
  auto pooled = d.alloc(DType::F32, {static_cast<int64_t>(bi.batch), H});
  auto db = d.upload_batch(bi);
  auto run = [&] {
    for (int wdw : {-1, 5}) ops::attention(d, out, qkv, AttentionDesc{4, 32, 0.17f, wdw}, db);
    ops::linear(d, y, x, w, b);
    ops::linear_gelu(d, y, x, w, b);
    ops::fused_bias_gelu(d, y, b);
    ops::fused_residual_layernorm(d, out, x, g, res, g, g, 1e-12f);
    const size_t mark = d.save();  // the sub-layers' products live in the scratch arena
    ops::linear_residual_layernorm(d, x, y, wo, g, g, g, 1e-12f);
    ops::ffn_gelu_layernorm(d, x, w, b, wo, g, g, g, 1e-12f);
    d.restore(mark);
    d.layer_norm(x, x, g, g, 1e-12f);
    d.mean_pool(pooled, out, db.cu_seqlens);
    d.l2_normalize(pooled);
  };
  run();
  const long before = g_heap_allocs.load();
  run();
  EXPECT_EQ(g_heap_allocs.load() - before, 0) << "heap allocations on the hot path";
}

TEST(CpuDriverHotPath, NoHeapAllocation) {
  no_heap_allocation(0);
}

TEST(CpuDriverHotPath, NoHeapAllocationInt8) {
  no_heap_allocation(1);
}

TEST(CpuDriverHotPath, NoHeapAllocationBf16) {
  no_heap_allocation(2);
}

// A weight loaded again at the same address (its memory freed and reused for another weight of
// the same shape, as lib_gemm_bench did) was multiplied with the packing of the old contents:
// every precision's cached copy is dropped when the address is loaded again.
void reloaded_weight_is_repacked(int linear_mode) {
  CpuDriver d;
  if (linear_mode == 1) d.set_int8(true);
  if (linear_mode == 2) d.set_bf16(true);
  // FP32 keeps a packing only on the packed-GEMM path (RIPVEC_CPU_GEMM=unpacked multiplies the
  // weight as stored, so there would be nothing stale to test).
  if (linear_mode == 0 && std::string_view(d.gemm_path_name()) != "packed")
    GTEST_SKIP() << "FP32 runs unpacked here: no packed copy";
  d.reserve_scratch(size_t{16} << 20);
  const int64_t m = 96, n = 64, k = 128;  // m >= kPackMinRows: packed on first use
  const Vec xv = random_vec(m * k, 1);
  Vec wv = random_vec(n * k, 2);
  HostTensorRef hw;
  hw.data = wv.data();
  hw.dtype = DType::F32;
  hw.shape = {n, k, 0, 0};
  hw.rank = 2;
  auto x = d.upload(xv.data(), DType::F32, {m, k});
  auto y = d.alloc(DType::F32, {m, n});
  auto product = [&] {
    auto w = d.load_weight(hw, DType::F32);
    ops::linear(d, y, x, w, CpuDriver::Tensor{});
    Vec out(static_cast<size_t>(m * n));
    d.to_host(y, out.data());
    return out;
  };
  (void)product();
  const Vec next = random_vec(n * k, 3);
  std::copy(next.begin(), next.end(), wv.begin());  // new contents at the same address
  const Vec got = product();
  float worst = 0, scale = 0;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double want = 0;
      for (int64_t c = 0; c < k; ++c) want += double(xv[r * k + c]) * wv[j * k + c];
      worst = std::max(worst, std::abs(got[r * n + j] - static_cast<float>(want)));
      scale = std::max(scale, std::abs(static_cast<float>(want)));
    }
  EXPECT_LT(worst, 0.02f * scale) << "the product used the weight's old contents";
}

TEST(CpuDriverWeights, ReloadedWeightIsRepacked) {
  reloaded_weight_is_repacked(0);
}

TEST(CpuDriverWeights, ReloadedWeightIsRepackedInt8) {
  reloaded_weight_is_repacked(1);
}

TEST(CpuDriverWeights, ReloadedWeightIsRepackedBf16) {
  reloaded_weight_is_repacked(2);
}

}  // namespace
}  // namespace ripvec
