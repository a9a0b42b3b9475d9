#include "driver/cpu/cpu_driver.hpp"
#include "driver/ops.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>

#include "driver/cpu/cpu_kernels.hpp"
#include "driver/cpu/cpu_sgemm.hpp"
#include "driver/cpu/half.hpp"
#include "util/aligned_vector.hpp"
#include "util/thread_pool.hpp"

namespace ripvec {
namespace {

using Tensor = CpuDriver::Tensor;

const char* dt_str(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::F16:
      return "f16";
    case DType::BF16:
      return "bf16";
    case DType::I32:
      return "i32";
  }
  return "?";
}

[[noreturn]] void fail(const char* op, const std::string& what) {
  throw InvalidArgument(std::string("cpu driver: ") + op + ": " + what);
}

// Every compute operation is FP32; the FP16 family is refused with UnsupportedError.
void need_f32(const char* op, const Tensor& t, const char* role) {
  if (t.dtype == DType::F32) return;
  if (t.dtype == DType::F16 || t.dtype == DType::BF16)
    throw UnsupportedError(std::string("cpu driver: ") + op + " does not support " +
                           dt_str(t.dtype));
  fail(op, std::string(role) + " must be f32, got " + dt_str(t.dtype));
}
void need_i32(const char* op, const Tensor& t, const char* role) {
  if (t.dtype != DType::I32) fail(op, std::string(role) + " must be i32, got " + dt_str(t.dtype));
}
void need_data(const char* op, const Tensor& t, const char* role) {
  if (t.numel() > 0 && t.data == nullptr) fail(op, std::string(role) + " has no data");
}
// The message is only built when the check fails, so checks cost nothing on the hot path.
#define CPU_CHECK(cond, op, what) \
  do {                            \
    if (!(cond)) fail(op, what);  \
  } while (0)
std::string shape_str(const Tensor& t) {
  std::string s = "[";
  for (int i = 0; i < t.rank; ++i) s += (i ? ", " : "") + std::to_string(t.shape[i]);
  return s + "]";
}

float* fp(const Tensor& t) {
  return static_cast<float*>(t.data);
}
const int32_t* ip(const Tensor& t) {
  return static_cast<const int32_t*>(t.data);
}

// parallel_for through a one-reference closure: std::function keeps it in its small buffer,
// so dispatching a kernel never touches the heap however much the body captures.
template <class F>
void pfor(int64_t begin, int64_t end, int64_t grain, const F& body) {
  parallel_for(begin, end, grain, [&body](int64_t lo, int64_t hi) { body(lo, hi); });
}

// Rows per parallel chunk so that each chunk touches at least ~16K floats.
int64_t row_grain(int64_t cols) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1));
}

template <class F>
void for_rows(int64_t rows, int64_t cols, F&& f) {
  pfor(0, rows, row_grain(cols), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) f(r);
  });
}

// Validates that a GEMM operand stored as `rows` rows of leading dimension ld, of which
// `cols` are used, fits in `avail` elements starting at `offset`.
void check_operand(const char* op, const char* name, int64_t rows, int64_t cols, int64_t ld,
                   int64_t offset, int64_t avail) {
  CPU_CHECK(ld >= std::max<int64_t>(1, cols), op,
            std::string(name) + ": leading dimension " + std::to_string(ld) + " < row length " +
                std::to_string(cols));
  if (rows == 0 || cols == 0) return;
  const int64_t last = offset + (rows - 1) * ld + cols;
  CPU_CHECK(last <= avail, op,
            std::string(name) + " needs " + std::to_string(last) + " elements, tensor has " +
                std::to_string(avail));
}

// The element offset of the last of `batch` operands `stride` apart; throws for a negative
// stride or one whose offsets overflow.
int64_t last_offset(const char* op, const char* name, int64_t batch, int64_t stride) {
  CPU_CHECK(stride >= 0, op,
            std::string(name) + ": negative batch stride " + std::to_string(stride));
  int64_t off = 0;
  CPU_CHECK(!__builtin_mul_overflow(std::max<int64_t>(batch - 1, 0), stride, &off), op,
            std::string(name) + ": batch stride " + std::to_string(stride) + " overflows");
  return off;
}

// Negative strides read and wrote outside the tensors (the offset of the last operand was
// checked against the end only; helper probe 2026-12-07), and products whose C overlap each
// other, or overlap A or B, gave results that depend on the order the pool ran them in.
void check_gemm(const char* op, const GemmDesc& g, int64_t batch, int64_t sa, int64_t sb,
                int64_t sc, const Tensor& a, const Tensor& b, const Tensor& c) {
  need_f32(op, a, "A");
  need_f32(op, b, "B");
  need_f32(op, c, "C");
  CPU_CHECK(g.m >= 0 && g.n >= 0 && g.k >= 0 && batch >= 0, op, "negative size");
  const int64_t la = last_offset(op, "A", batch, sa), lb = last_offset(op, "B", batch, sb),
                lc = last_offset(op, "C", batch, sc);
  if (g.trans_a)
    check_operand(op, "A", g.k, g.m, g.lda, la, a.numel());
  else
    check_operand(op, "A", g.m, g.k, g.lda, la, a.numel());
  if (g.trans_b)
    check_operand(op, "B", g.n, g.k, g.ldb, lb, b.numel());
  else
    check_operand(op, "B", g.k, g.n, g.ldb, lb, b.numel());
  check_operand(op, "C", g.m, g.n, g.ldc, lc, c.numel());
  if (batch == 0 || g.m == 0 || g.n == 0) return;
  const int64_t c_extent = (g.m - 1) * g.ldc + g.n;  // elements one product's C spans
  CPU_CHECK(batch == 1 || sc >= c_extent, op,
            "C's batch stride " + std::to_string(sc) + " is below the " + std::to_string(c_extent) +
                " elements one product writes: the products overlap");
  // C against A and B, as address ranges of the whole batch.
  const float* c0 = fp(c);
  const float* c1 = c0 + lc + c_extent;
  auto overlaps = [&](const Tensor& x, int64_t last, int64_t rows, int64_t ld, int64_t cols) {
    if (rows == 0 || cols == 0) return false;
    const float* x0 = fp(x);
    const float* x1 = x0 + last + (rows - 1) * ld + cols;
    return x0 < c1 && c0 < x1;
  };
  CPU_CHECK(!overlaps(a, la, g.trans_a ? g.k : g.m, g.lda, g.trans_a ? g.m : g.k), op,
            "C overlaps A");
  CPU_CHECK(!overlaps(b, lb, g.trans_b ? g.n : g.k, g.ldb, g.trans_b ? g.k : g.n), op,
            "C overlaps B");
}

int32_t read_cu(const Tensor& cu, int64_t i) {
  return ip(cu)[i];
}

// Validates cu_seqlens[B+1] against a packed tensor of `total` rows; returns B.
int64_t check_cu(const char* op, const Tensor& cu, int64_t total) {
  need_i32(op, cu, "cu_seqlens");
  CPU_CHECK(cu.numel() >= 1, op, "cu_seqlens is empty");
  const int64_t b = cu.numel() - 1;
  const int32_t* p = ip(cu);
  CPU_CHECK(p[0] == 0, op, "cu_seqlens[0] != 0");
  for (int64_t i = 0; i < b; ++i)
    CPU_CHECK(p[i + 1] >= p[i], op, "cu_seqlens is not non-decreasing");
  CPU_CHECK(p[b] <= total, op,
            "cu_seqlens ends at " + std::to_string(p[b]) + " but the tensor has " +
                std::to_string(total) + " rows");
  return b;
}

}  // namespace

// ---------------------------------------------------------------- construction, memory

void CpuDriver::AlignedFree::operator()(void* p) const {
  CacheAlignedAllocator<std::byte>().deallocate(static_cast<std::byte*>(p), 0);
}

CpuDriver::Buffer CpuDriver::allocate_aligned(size_t bytes) {
  bytes = (std::max<size_t>(bytes, 64) + 63) / 64 * 64;
  return Buffer(CacheAlignedAllocator<std::byte>().allocate(bytes));
}

CpuDriver::CpuDriver() : CpuDriver(cpu::Isa::kAuto) {}

CpuDriver::CpuDriver(cpu::Isa isa) : CpuDriver(isa, cpu::GemmPath::kAuto) {}

CpuDriver::CpuDriver(cpu::Isa isa, cpu::GemmPath path) : k_(&cpu::select_kernels(isa)) {
  if (path == cpu::GemmPath::kAuto) {
    path = cpu::GemmPath::kPacked;
    if (const char* env = std::getenv("RIPVEC_CPU_GEMM")) {
      const std::string s = env;
      if (s == "unpacked")
        path = cpu::GemmPath::kUnpacked;
      else if (!s.empty() && s != "packed" && s != "auto")
        throw InvalidArgument("RIPVEC_CPU_GEMM: unknown value '" + s +
                              "' (expected packed, unpacked or auto)");
    }
  }
  packed_ = path == cpu::GemmPath::kPacked;
  attn_slots_ = ThreadPool::global().size();
  attn_work_ = allocate_aligned(attn_slots_ * cpu::kAttnWorkFloats * sizeof(float));
}

CpuDriver::~CpuDriver() = default;

const char* CpuDriver::isa_name() const {
  return k_->isa;
}

std::optional<CpuDriver::WeightKey> CpuDriver::loaded_key(const Tensor& w, int64_t n,
                                                          int64_t k) const {
  // k == 0 (an empty reduction) is left to cpu::sgemm, which writes C = bias / 0.
  if (n <= 0 || k <= 0 || w.data == nullptr || !weights_.contains(w.data)) return std::nullopt;
  return WeightKey{w.data, n, k};
}

void CpuDriver::forget_packings(const void* data) {
  auto of = [data](const auto& entry) { return std::get<0>(entry.first) == data; };
  std::erase_if(packs_, of);
  std::erase_if(bpacks_, of);
  std::erase_if(qpacks_, of);
  std::erase_if(used_unpacked_, [data](const WeightKey& key) { return std::get<0>(key) == data; });
}

const float* CpuDriver::packed_weight(const Tensor& w, int64_t n, int64_t k, int64_t m) {
  const auto key = packed_ ? loaded_key(w, n, k) : std::nullopt;
  if (!key) return nullptr;
  auto it = packs_.find(*key);
  if (it == packs_.end()) {
    if (m < kPackMinRows && used_unpacked_.insert(*key).second) return nullptr;
    it = packs_.emplace(*key, cpu::pack_weight(fp(w), n, k, k_->gemm_nr)).first;
  }
  return it->second.get();
}

void CpuDriver::set_int8(bool on, cpu::Int8Isa isa) {
  int8_ = on;
  if (on) {
    const cpu::Int8Isa pick = cpu::select_int8_isa(isa);
    if (pick != int8_isa_) qpacks_.clear();
    int8_isa_ = pick;
    // $RIPVEC_CPU_INT8_FP32=qkv,out,up,down keeps those layer kinds in FP32 (accuracy study).
    if (const char* env = std::getenv("RIPVEC_CPU_INT8_FP32")) {
      const std::string s = env;
      int8_keep_ = (s.find("qkv") != std::string::npos ? 1u : 0u) |
                   (s.find("out") != std::string::npos ? 2u : 0u) |
                   (s.find("up") != std::string::npos ? 4u : 0u) |
                   (s.find("down") != std::string::npos ? 8u : 0u);
    }
  }
}

void CpuDriver::set_attention_bf16(bool on) {
  if (on && !cpu::attention_bf16_available())
    throw UnsupportedError("cpu driver: BF16 attention needs AVX512-BF16, which this CPU lacks");
  attn_bf16_ = on;
}

void CpuDriver::set_bf16(bool on, cpu::Bf16Isa isa) {
  if (on) {
    const cpu::Bf16Isa pick = cpu::select_bf16_isa(isa);  // may throw: leave the driver as it was
    if (pick != bf16_isa_) bpacks_.clear();
    bf16_isa_ = pick;
  }
  bf16_ = on;
}

const cpu::Bf16Weight* CpuDriver::bf16_weight(const Tensor& w, int64_t n, int64_t k) {
  const auto key = bf16_ && !reduced_paused_ ? loaded_key(w, n, k) : std::nullopt;
  if (!key) return nullptr;
  auto it = bpacks_.find(*key);
  if (it == bpacks_.end())
    it = bpacks_.emplace(*key, cpu::pack_bf16_weight(*k_, fp(w), n, k, bf16_isa_)).first;
  return &it->second;
}

const cpu::Int8Weight* CpuDriver::int8_weight(const Tensor& w, int64_t n, int64_t k, bool gelu) {
  const auto key = int8_ && !reduced_paused_ ? loaded_key(w, n, k) : std::nullopt;
  if (!key) return nullptr;
  const unsigned kind = gelu ? 4u : k > n ? 8u : n == 3 * k ? 1u : 2u;
  if (int8_keep_ & kind) return nullptr;
  auto it = qpacks_.find(*key);
  if (it == qpacks_.end())
    it = qpacks_.emplace(*key, cpu::quantize_weight(fp(w), n, k, int8_isa_)).first;
  return &it->second;
}

Tensor CpuDriver::load_weight(const HostTensorRef& h, DType dt) {
  Tensor t;
  t.rank = h.rank;
  t.shape = h.shape;
  t.dtype = dt;
  const int64_t n = h.numel();
  if (n > 0 && h.data == nullptr) fail("load_weight", "host tensor has no data");
  if (dt == DType::F16 || dt == DType::BF16)
    throw UnsupportedError(std::string("cpu driver: load_weight does not support ") + dt_str(dt));
  if (dt == DType::I32) {
    if (h.dtype != DType::I32)
      fail("load_weight", std::string("cannot load ") + dt_str(h.dtype) + " as i32");
    t.data = const_cast<void*>(h.data);
    return t;
  }
  switch (h.dtype) {
    case DType::F32:
      t.data = const_cast<void*>(h.data);  // the mapping is immutable and outlives us
      // Loading an address again means "these are the weights now": packings made from what
      // lay there before (a freed weight whose memory was reused for another) must go.
      if (!weights_.insert(t.data).second) forget_packings(t.data);
      return t;
    case DType::F16:
    case DType::BF16: {
      Buffer buf = allocate_aligned(static_cast<size_t>(n) * sizeof(float));
      float* dst = reinterpret_cast<float*>(buf.get());
      const uint16_t* src = static_cast<const uint16_t*>(h.data);
      const bool f16 = h.dtype == DType::F16;
      for (int64_t i = 0; i < n; ++i)
        dst[i] = f16 ? cpu::half_to_float(src[i]) : cpu::bf16_to_float(src[i]);
      t.data = dst;
      owned_weights_.push_back(std::move(buf));
      // A new buffer may land where a caller's freed F32 weight was packed.
      if (!weights_.insert(t.data).second) forget_packings(t.data);
      return t;
    }
    case DType::I32:
      break;
  }
  fail("load_weight", std::string("cannot load ") + dt_str(h.dtype) + " as f32");
}

void CpuDriver::reserve_scratch(size_t bytes) {
  bytes = (bytes + 63) / 64 * 64;
  if (bytes <= capacity_) return;
  if (cursor_ != 0)
    fail("reserve_scratch",
         "cannot grow the arena while " + std::to_string(cursor_) + " bytes of scratch are live");
  arena_ = allocate_aligned(bytes);
  capacity_ = bytes;
}

Tensor CpuDriver::alloc(DType dt, std::initializer_list<int64_t> dims) {
  Tensor t;
  t.dtype = dt;
  if (dims.size() > 4) fail("alloc", "rank above 4");
  for (int64_t d : dims) {
    if (d < 0) fail("alloc", "negative dimension");
    t.shape[t.rank++] = d;
  }
  const size_t bytes = (t.bytes() + 63) / 64 * 64;
  if (bytes > capacity_ - cursor_)
    throw InvalidArgument("cpu driver: scratch arena exhausted: requested " +
                          std::to_string(t.bytes()) + " bytes for " + dt_str(dt) + " " +
                          shape_str(t) + ", " + std::to_string(capacity_ - cursor_) + " of " +
                          std::to_string(capacity_) + " bytes available (reserve_scratch more)");
  t.data = arena_.get() + cursor_;
  cursor_ += bytes;
  high_water_ = std::max(high_water_, cursor_);
  return t;
}

void CpuDriver::restore(size_t mark) {
  if (mark > cursor_)
    fail("restore",
         "mark " + std::to_string(mark) + " is past the cursor " + std::to_string(cursor_));
  cursor_ = mark;
}

Tensor CpuDriver::upload(const void* p, DType dt, std::initializer_list<int64_t> dims) {
  Tensor t = alloc(dt, dims);
  if (t.bytes() > 0) {
    if (p == nullptr) fail("upload", "null source");
    std::memcpy(t.data, p, t.bytes());
  }
  return t;
}

DeviceBatch<Tensor> CpuDriver::upload_batch(const BatchInputs& bi) {
  const int64_t T = bi.total_tokens, B = bi.batch, S = bi.max_seq;
  auto ok = [&](size_t have, int64_t want) { return static_cast<int64_t>(have) == want; };
  if (!ok(bi.input_ids.size(), T) || !ok(bi.token_type_ids.size(), T) ||
      !ok(bi.position_ids.size(), T) || !ok(bi.seq_lengths.size(), B) ||
      !ok(bi.cu_seqlens.size(), B + 1) || !ok(bi.float_mask.size(), B * S))
    fail("upload_batch", "BatchInputs vectors do not match batch/max_seq/total_tokens");
  auto view = [](const auto& v, DType dt, int64_t n) {
    return make_view<CpuTag>(const_cast<void*>(static_cast<const void*>(v.data())), dt, {n});
  };
  DeviceBatch<Tensor> db;
  db.host = &bi;
  db.input_ids = view(bi.input_ids, DType::I32, T);
  db.token_type_ids = view(bi.token_type_ids, DType::I32, T);
  db.position_ids = view(bi.position_ids, DType::I32, T);
  db.seq_lengths = view(bi.seq_lengths, DType::I32, B);
  db.cu_seqlens = view(bi.cu_seqlens, DType::I32, B + 1);
  db.float_mask = make_view<CpuTag>(const_cast<float*>(bi.float_mask.data()), DType::F32, {B, S});
  return db;
}

void CpuDriver::to_host(const Tensor& t, void* p) {
  const int64_t n = t.numel();
  if (n == 0) return;
  need_data("to_host", t, "tensor");
  if (p == nullptr) fail("to_host", "null destination");
  float* dst = static_cast<float*>(p);
  switch (t.dtype) {
    case DType::F32:
      std::memcpy(dst, t.data, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::F16:
    case DType::BF16: {
      const uint16_t* src = static_cast<const uint16_t*>(t.data);
      const bool f16 = t.dtype == DType::F16;
      for (int64_t i = 0; i < n; ++i)
        dst[i] = f16 ? cpu::half_to_float(src[i]) : cpu::bf16_to_float(src[i]);
      return;
    }
    case DType::I32: {
      const int32_t* src = ip(t);
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
      return;
    }
  }
}

void CpuDriver::convert(Tensor out, const Tensor& in) {
  const int64_t n = in.numel();
  CPU_CHECK(out.numel() == n, "convert",
            "element counts differ: out " + shape_str(out) + ", in " + shape_str(in));
  need_data("convert", in, "in");
  need_data("convert", out, "out");
  if (n == 0) return;
  if (out.dtype == in.dtype) {
    std::memmove(out.data, in.data, in.bytes());
    return;
  }
  const auto src_dt = in.dtype, dst_dt = out.dtype;
  auto is_half = [](DType d) { return d == DType::F16 || d == DType::BF16; };
  if (src_dt == DType::F32 && is_half(dst_dt)) {
    const float* s = fp(in);
    uint16_t* d = static_cast<uint16_t*>(out.data);
    const bool f16 = dst_dt == DType::F16;
    pfor(0, n, 1 << 15, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        d[i] = f16 ? cpu::float_to_half(s[i]) : cpu::float_to_bf16(s[i]);
    });
    return;
  }
  if (is_half(src_dt) && dst_dt == DType::F32) {
    const uint16_t* s = static_cast<const uint16_t*>(in.data);
    float* d = fp(out);
    const bool f16 = src_dt == DType::F16;
    pfor(0, n, 1 << 15, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        d[i] = f16 ? cpu::half_to_float(s[i]) : cpu::bf16_to_float(s[i]);
    });
    return;
  }
  if (is_half(src_dt) && is_half(dst_dt)) {
    const uint16_t* s = static_cast<const uint16_t*>(in.data);
    uint16_t* d = static_cast<uint16_t*>(out.data);
    const bool to_f16 = dst_dt == DType::F16;
    for (int64_t i = 0; i < n; ++i) {
      const float f = to_f16 ? cpu::bf16_to_float(s[i]) : cpu::half_to_float(s[i]);
      d[i] = to_f16 ? cpu::float_to_half(f) : cpu::float_to_bf16(f);
    }
    return;
  }
  throw UnsupportedError(std::string("cpu driver: convert from ") + dt_str(src_dt) + " to " +
                         dt_str(dst_dt) + " is not supported");
}

// ---------------------------------------------------------------- embeddings

namespace {
void check_embedding(const char* op, const Tensor& out, const Tensor& table, const Tensor& ids) {
  need_f32(op, out, "out");
  need_f32(op, table, "table");
  need_i32(op, ids, "ids");
  CPU_CHECK(table.rank == 2, op, "table must be [V, H], got " + shape_str(table));
  CPU_CHECK(out.cols() == table.cols() && out.rows() == ids.numel(), op,
            "out " + shape_str(out) + " does not match ids " + shape_str(ids) + " and table " +
                shape_str(table));
  const int32_t* p = ip(ids);
  const int64_t v = table.dim(0);
  for (int64_t i = 0; i < ids.numel(); ++i)
    if (p[i] < 0 || p[i] >= v)
      fail(op, "id " + std::to_string(p[i]) + " at position " + std::to_string(i) +
                   " is outside the table's " + std::to_string(v) + " rows");
}
}  // namespace

void CpuDriver::embedding_lookup(Tensor out, const Tensor& table, const Tensor& ids) {
  check_embedding("embedding_lookup", out, table, ids);
  const int64_t h = table.cols();
  const int32_t* id = ip(ids);
  for_rows(ids.numel(), h, [&](int64_t t) {
    std::memcpy(fp(out) + t * h, fp(table) + static_cast<int64_t>(id[t]) * h, h * sizeof(float));
  });
}

void CpuDriver::add_embeddings(Tensor x, const Tensor& table, const Tensor& ids) {
  check_embedding("add_embeddings", x, table, ids);
  const int64_t h = table.cols();
  const int32_t* id = ip(ids);
  for_rows(ids.numel(), h, [&](int64_t t) {
    k_->accumulate(fp(x) + t * h, fp(table) + static_cast<int64_t>(id[t]) * h, h);
  });
}

// ---------------------------------------------------------------- normalization

void CpuDriver::layer_norm(Tensor out, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                           float eps) {
  const char* op = "layer_norm";
  need_f32(op, out, "out");
  need_f32(op, x, "x");
  const int64_t c = x.cols(), r = x.rows();
  CPU_CHECK(out.numel() == x.numel(), op, "out " + shape_str(out) + " != x " + shape_str(x));
  if (!gamma.empty()) need_f32(op, gamma, "gamma");
  if (!beta.empty()) need_f32(op, beta, "beta");
  CPU_CHECK(gamma.empty() || gamma.numel() == c, op, "gamma " + shape_str(gamma) + " != [C]");
  CPU_CHECK(beta.empty() || beta.numel() == c, op, "beta " + shape_str(beta) + " != [C]");
  const float* g = gamma.empty() ? nullptr : fp(gamma);
  const float* b = beta.empty() ? nullptr : fp(beta);
  for_rows(r, c, [&](int64_t i) { k_->layer_norm(fp(out) + i * c, fp(x) + i * c, g, b, c, eps); });
}

// ---------------------------------------------------------------- matrix products

void CpuDriver::gemm(const GemmDesc& g, const Tensor& a, const Tensor& b, Tensor c) {
  check_gemm("gemm", g, 1, 0, 0, 0, a, b, c);
  // x · Wᵀ (+ C) with W a loaded weight stored densely: the packed kernel (ModernBERT's
  // residual-accumulating output projections come this way, with beta = 1).
  if (!g.trans_a && g.trans_b && g.ldb == g.k && g.alpha == 1.0f &&
      (g.beta == 0.0f || g.beta == 1.0f) && g.m > 0 && g.n > 0 && g.k > 0)
    if (const float* pw = packed_weight(b, g.n, g.k, g.m)) {
      cpu::packed_gemm(*k_, pw, g.n, g.k, fp(a), g.lda, fp(c), g.ldc, g.m, nullptr, g.beta == 1.0f,
                       false);
      return;
    }
  cpu::sgemm(*k_, g, 1, 0, 0, 0, fp(a), fp(b), fp(c));
}

void CpuDriver::gemm_strided_batched(const GemmDesc& g, int64_t batch, int64_t stride_a,
                                     int64_t stride_b, int64_t stride_c, const Tensor& a,
                                     const Tensor& b, Tensor c) {
  check_gemm("gemm_strided_batched", g, batch, stride_a, stride_b, stride_c, a, b, c);
  cpu::sgemm(*k_, g, batch, stride_a, stride_b, stride_c, fp(a), fp(b), fp(c));
}

// ---------------------------------------------------------------- attention (padded)

void CpuDriver::build_attn_mask(Tensor mask, const Tensor& seq_lengths) {
  const char* op = "build_attn_mask";
  need_f32(op, mask, "mask");
  need_i32(op, seq_lengths, "seq_lengths");
  const int64_t b = seq_lengths.numel();
  CPU_CHECK(b > 0 ? mask.numel() % b == 0 : mask.numel() == 0, op, "mask is not [B, S]");
  const int64_t s = b > 0 ? mask.numel() / b : 0;
  for (int64_t i = 0; i < b; ++i) {
    const int64_t len = ip(seq_lengths)[i];
    CPU_CHECK(len >= 0 && len <= s, op,
              "sequence length " + std::to_string(len) + " outside [0, S]");
    for (int64_t j = 0; j < s; ++j) fp(mask)[i * s + j] = j < len ? 0.0f : kMaskedScore;
  }
}

namespace {
void padded_softmax(const cpu::CpuKernels& k, const char* op, Tensor& scores, const Tensor& mask,
                    float scale, int half_window) {
  need_f32(op, scores, "scores");
  need_f32(op, mask, "mask");
  CPU_CHECK(mask.rank == 2, op, "mask must be [B, S], got " + shape_str(mask));
  const int64_t b = mask.dim(0), s = mask.dim(1);
  CPU_CHECK(b * s * s > 0 ? scores.numel() % (b * s * s) == 0 : scores.numel() == 0, op,
            "scores " + shape_str(scores) + " is not [B, nh, S, S] for mask " + shape_str(mask));
  if (scores.numel() == 0) return;
  const int64_t nh = scores.numel() / (b * s * s);
  const int64_t rows = b * nh * s;
  const float* m = fp(mask);
  float* sc = fp(scores);
  for_rows(rows, s, [&](int64_t r) {
    const int64_t i = r % s;
    const int64_t batch = r / (nh * s);
    int64_t lo = 0, hi = s;
    if (half_window >= 0) {
      lo = std::max<int64_t>(0, i - half_window);
      hi = std::min<int64_t>(s, i + half_window + 1);
    }
    k.softmax(sc + r * s, s, scale, m + batch * s, lo, hi);
  });
}
}  // namespace

void CpuDriver::scale_mask_softmax(Tensor scores, const Tensor& mask, float scale) {
  padded_softmax(*k_, "scale_mask_softmax", scores, mask, scale, -1);
}

void CpuDriver::scale_mask_softmax_windowed(Tensor scores, const Tensor& mask, float scale,
                                            int half_window) {
  CPU_CHECK(half_window >= 0, "scale_mask_softmax_windowed", "negative half_window");
  padded_softmax(*k_, "scale_mask_softmax_windowed", scores, mask, scale, half_window);
}

void CpuDriver::qkv_split(Tensor q, Tensor k, Tensor v, const Tensor& qkv,
                          const DeviceBatch<Tensor>& db, int num_heads) {
  const char* op = "qkv_split";
  need_f32(op, q, "q");
  need_f32(op, k, "k");
  need_f32(op, v, "v");
  need_f32(op, qkv, "qkv");
  CPU_CHECK(db.host != nullptr, op, "DeviceBatch without host inputs");
  const BatchInputs& h = *db.host;
  const int64_t B = h.batch, S = h.max_seq, H = qkv.cols() / 3;
  CPU_CHECK(
      qkv.cols() % 3 == 0 && num_heads > 0 && H % num_heads == 0, op,
      "qkv " + shape_str(qkv) + " does not split into 3 x " + std::to_string(num_heads) + " heads");
  const int64_t nh = num_heads, hd = H / nh;
  CPU_CHECK(qkv.rows() >= h.total_tokens, op, "qkv has fewer rows than the batch has tokens");
  for (const Tensor* t : {&q, &k, &v})
    CPU_CHECK(t->numel() == B * nh * S * hd, op,
              "output " + shape_str(*t) + " is not [B, nh, S, d]");
  Tensor* outs[3] = {&q, &k, &v};
  for_rows(B * S, 3 * H, [&](int64_t r) {
    const int64_t b = r / S, s = r % S;
    const bool real = s < h.seq_lengths[b];
    const float* src = fp(qkv) + (h.cu_seqlens[b] + s) * 3 * H;
    for (int part = 0; part < 3; ++part) {
      for (int64_t hh = 0; hh < nh; ++hh) {
        float* dst = fp(*outs[part]) + ((b * nh + hh) * S + s) * hd;
        if (real)
          std::memcpy(dst, src + part * H + hh * hd, hd * sizeof(float));
        else
          std::memset(dst, 0, hd * sizeof(float));
      }
    }
  });
}

void CpuDriver::attn_reshape(Tensor out, const Tensor& ctx, const DeviceBatch<Tensor>& db) {
  const char* op = "attn_reshape";
  need_f32(op, out, "out");
  need_f32(op, ctx, "ctx");
  CPU_CHECK(db.host != nullptr, op, "DeviceBatch without host inputs");
  const BatchInputs& h = *db.host;
  const int64_t B = h.batch, S = h.max_seq, H = out.cols();
  CPU_CHECK(out.rows() == h.total_tokens, op, "out " + shape_str(out) + " is not [T, H]");
  CPU_CHECK(ctx.rank == 4 && ctx.dim(0) == B && ctx.dim(2) == S && ctx.dim(1) * ctx.dim(3) == H, op,
            "ctx " + shape_str(ctx) + " is not [B, nh, S, d] for out " + shape_str(out));
  const int64_t nh = ctx.dim(1), hd = ctx.dim(3);
  for_rows(h.total_tokens, H, [&](int64_t t) {
    // Sequence of packed row t (binary search over cu_seqlens).
    const auto it = std::upper_bound(h.cu_seqlens.begin(), h.cu_seqlens.end(), t);
    const int64_t b = (it - h.cu_seqlens.begin()) - 1;
    const int64_t s = t - h.cu_seqlens[b];
    for (int64_t hh = 0; hh < nh; ++hh)
      std::memcpy(fp(out) + t * H + hh * hd, fp(ctx) + ((b * nh + hh) * S + s) * hd,
                  hd * sizeof(float));
  });
}

// ---------------------------------------------------------------- attention (banded)

namespace {
struct BandGeom {
  int64_t nh, hd, H, band, half;
};
BandGeom check_band(const char* op, const Tensor& qkv, int64_t row0, int64_t len,
                    const AttentionDesc& ad) {
  need_f32(op, qkv, "qkv");
  CPU_CHECK(ad.num_heads > 0 && ad.head_dim > 0 && ad.half_window >= 0, op,
            "needs num_heads, head_dim > 0 and half_window >= 0");
  BandGeom g;
  g.nh = ad.num_heads;
  g.hd = ad.head_dim;
  g.H = g.nh * g.hd;
  g.half = ad.half_window;
  g.band = 2 * g.half + 1;
  CPU_CHECK(qkv.cols() == 3 * g.H, op, "qkv " + shape_str(qkv) + " is not [T, 3 * nh * d]");
  CPU_CHECK(row0 >= 0 && len >= 0 && row0 + len <= qkv.rows(), op, "rows outside qkv");
  return g;
}
}  // namespace

void CpuDriver::banded_qk(Tensor scores, const Tensor& qkv, int64_t row0, int64_t len,
                          const AttentionDesc& ad) {
  const char* op = "banded_qk";
  const BandGeom g = check_band(op, qkv, row0, len, ad);
  need_f32(op, scores, "scores");
  CPU_CHECK(scores.numel() == g.nh * len * g.band, op,
            "scores " + shape_str(scores) + " is not [nh, S, W]");
  const float* base = fp(qkv) + row0 * 3 * g.H;
  for_rows(g.nh * len, g.band * g.hd, [&](int64_t r) {
    const int64_t h = r / len, i = r % len;
    const float* q = base + i * 3 * g.H + h * g.hd;
    float* out = fp(scores) + r * g.band;
    for (int64_t w = 0; w < g.band; ++w) {
      const int64_t j = i - g.half + w;
      out[w] = (j < 0 || j >= len) ? kMaskedScore
                                   : k_->dot(q, base + j * 3 * g.H + g.H + h * g.hd, g.hd);
    }
  });
}

void CpuDriver::banded_softmax(Tensor scores, const AttentionDesc& ad) {
  const char* op = "banded_softmax";
  need_f32(op, scores, "scores");
  CPU_CHECK(ad.half_window >= 0, op, "negative half_window");
  const int64_t band = 2 * static_cast<int64_t>(ad.half_window) + 1;
  CPU_CHECK(scores.numel() % band == 0, op, "scores " + shape_str(scores) + " is not [nh, S, W]");
  for_rows(scores.numel() / band, band, [&](int64_t r) {
    k_->softmax(fp(scores) + r * band, band, ad.scale, nullptr, 0, band);
  });
}

void CpuDriver::banded_sv(Tensor out, const Tensor& p, const Tensor& qkv, int64_t row0, int64_t len,
                          const AttentionDesc& ad) {
  const char* op = "banded_sv";
  const BandGeom g = check_band(op, qkv, row0, len, ad);
  need_f32(op, out, "out");
  need_f32(op, p, "p");
  CPU_CHECK(p.numel() == g.nh * len * g.band, op, "p " + shape_str(p) + " is not [nh, S, W]");
  CPU_CHECK(out.cols() == g.H && out.rows() >= row0 + len, op,
            "out " + shape_str(out) + " is not [T, H]");
  const float* base = fp(qkv) + row0 * 3 * g.H;
  for_rows(g.nh * len, g.band * g.hd, [&](int64_t r) {
    const int64_t h = r / len, i = r % len;
    const float* pr = fp(p) + r * g.band;
    float* dst = fp(out) + (row0 + i) * g.H + h * g.hd;
    std::memset(dst, 0, g.hd * sizeof(float));
    for (int64_t w = 0; w < g.band; ++w) {
      const int64_t j = i - g.half + w;
      if (j < 0 || j >= len) continue;
      k_->axpy(dst, pr[w], base + j * 3 * g.H + 2 * g.H + h * g.hd, g.hd);
    }
  });
}

// ---------------------------------------------------------------- positions

void CpuDriver::rope(Tensor qkv, const Tensor& positions, const Tensor& cos, const Tensor& sin,
                     int num_heads, int head_dim) {
  const char* op = "rope";
  need_f32(op, qkv, "qkv");
  need_i32(op, positions, "positions");
  need_f32(op, cos, "cos");
  need_f32(op, sin, "sin");
  CPU_CHECK(num_heads > 0 && head_dim > 0 && head_dim % 2 == 0, op, "needs an even head_dim");
  const int64_t H = static_cast<int64_t>(num_heads) * head_dim, half = head_dim / 2;
  CPU_CHECK(qkv.cols() == 3 * H, op, "qkv " + shape_str(qkv) + " is not [T, 3 * nh * d]");
  CPU_CHECK(positions.numel() == qkv.rows(), op, "positions do not match qkv rows");
  CPU_CHECK(cos.cols() == half && sin.cols() == half && cos.numel() == sin.numel(), op,
            "cos/sin tables are not [P, d/2]");
  const int64_t P = cos.rows();
  const int32_t* pos = ip(positions);
  for (int64_t t = 0; t < positions.numel(); ++t)
    CPU_CHECK(pos[t] >= 0 && pos[t] < P, op,
              "position " + std::to_string(pos[t]) + " outside the table's " + std::to_string(P) +
                  " rows");
  for_rows(qkv.rows(), 2 * H, [&](int64_t t) {
    const float* c = fp(cos) + pos[t] * half;
    const float* s = fp(sin) + pos[t] * half;
    float* row = fp(qkv) + t * 3 * H;
    for (int64_t h = 0; h < 2 * num_heads; ++h) {  // Q heads, then K heads
      float* x = row + h * head_dim;
      for (int64_t j = 0; j < half; ++j) {
        const float x1 = x[j], x2 = x[j + half];
        x[j] = x1 * c[j] - x2 * s[j];
        x[j + half] = x2 * c[j] + x1 * s[j];
      }
    }
  });
}

// ---------------------------------------------------------------- activations

namespace {
template <class F>
void elementwise(Tensor& x, F&& f) {
  const int64_t n = x.numel();
  pfor(0, n, 1 << 14, [&](int64_t lo, int64_t hi) { f(fp(x) + lo, hi - lo); });
}
}  // namespace

void CpuDriver::gelu(Tensor x) {
  need_f32("gelu", x, "x");
  elementwise(x, [&](float* p, int64_t n) { k_->gelu(p, n); });
}

void CpuDriver::gelu_tanh(Tensor x) {
  need_f32("gelu_tanh", x, "x");
  elementwise(x, [&](float* p, int64_t n) { k_->gelu_tanh(p, n); });
}

void CpuDriver::silu(Tensor x) {
  need_f32("silu", x, "x");
  elementwise(x, [&](float* p, int64_t n) { k_->silu(p, n); });
}

void CpuDriver::split_gate_value(Tensor first, Tensor second, const Tensor& in) {
  const char* op = "split_gate_value";
  need_f32(op, first, "first");
  need_f32(op, second, "second");
  need_f32(op, in, "in");
  const int64_t i2 = in.cols(), I = i2 / 2, R = in.rows();
  CPU_CHECK(i2 % 2 == 0 && first.numel() == R * I && second.numel() == R * I, op,
            "in " + shape_str(in) + " does not split into " + shape_str(first) + " and " +
                shape_str(second));
  for_rows(R, i2, [&](int64_t r) {
    std::memcpy(fp(first) + r * I, fp(in) + r * i2, I * sizeof(float));
    std::memcpy(fp(second) + r * I, fp(in) + r * i2 + I, I * sizeof(float));
  });
}

namespace {
void gated(const char* op, Tensor& out, const Tensor& in,
           void (*kern)(float*, const float*, const float*, int64_t)) {
  need_f32(op, out, "out");
  need_f32(op, in, "in");
  const int64_t i2 = in.cols(), I = i2 / 2, R = in.rows();
  CPU_CHECK(i2 % 2 == 0 && out.numel() == R * I, op,
            "out " + shape_str(out) + " is not half of in " + shape_str(in));
  for_rows(R, i2,
           [&](int64_t r) { kern(fp(out) + r * I, fp(in) + r * i2, fp(in) + r * i2 + I, I); });
}
}  // namespace

void CpuDriver::geglu(Tensor out, const Tensor& in) {
  gated("geglu", out, in, k_->geglu);
}
void CpuDriver::swiglu(Tensor out, const Tensor& in) {
  gated("swiglu", out, in, k_->swiglu);
}

// ---------------------------------------------------------------- element-wise

void CpuDriver::add_bias(Tensor x, const Tensor& bias) {
  const char* op = "add_bias";
  need_f32(op, x, "x");
  need_f32(op, bias, "bias");
  const int64_t c = x.cols();
  CPU_CHECK(bias.numel() == c, op, "bias " + shape_str(bias) + " does not match x " + shape_str(x));
  for_rows(x.rows(), c, [&](int64_t r) { k_->accumulate(fp(x) + r * c, fp(bias), c); });
}

void CpuDriver::residual_add(Tensor out, const Tensor& a, const Tensor& b) {
  const char* op = "residual_add";
  need_f32(op, out, "out");
  need_f32(op, a, "a");
  need_f32(op, b, "b");
  CPU_CHECK(a.numel() == b.numel() && out.numel() == a.numel(), op,
            "shapes differ: out " + shape_str(out) + ", a " + shape_str(a) + ", b " + shape_str(b));
  pfor(0, a.numel(), 1 << 14,
       [&](int64_t lo, int64_t hi) { k_->add(fp(out) + lo, fp(a) + lo, fp(b) + lo, hi - lo); });
}

// ---------------------------------------------------------------- pooling and output

void CpuDriver::cls_pool(Tensor out, const Tensor& hidden, const Tensor& cu_seqlens) {
  const char* op = "cls_pool";
  need_f32(op, out, "out");
  need_f32(op, hidden, "hidden");
  const int64_t B = check_cu(op, cu_seqlens, hidden.rows()), H = hidden.cols();
  CPU_CHECK(out.numel() == B * H, op, "out " + shape_str(out) + " is not [B, H]");
  for (int64_t b = 0; b < B; ++b) {
    const int64_t row = read_cu(cu_seqlens, b);
    if (read_cu(cu_seqlens, b + 1) > row)
      std::memcpy(fp(out) + b * H, fp(hidden) + row * H, H * sizeof(float));
    else
      std::memset(fp(out) + b * H, 0, H * sizeof(float));
  }
}

void CpuDriver::mean_pool(Tensor out, const Tensor& hidden, const Tensor& cu_seqlens) {
  const char* op = "mean_pool";
  need_f32(op, out, "out");
  need_f32(op, hidden, "hidden");
  const int64_t B = check_cu(op, cu_seqlens, hidden.rows()), H = hidden.cols();
  CPU_CHECK(out.numel() == B * H, op, "out " + shape_str(out) + " is not [B, H]");
  // Parallel over column blocks so that a single long sequence still uses every thread.
  const int64_t cb = 64;
  pfor(0, B * ((H + cb - 1) / cb), 1, [&](int64_t lo, int64_t hi) {
    const int64_t nblk = (H + cb - 1) / cb;
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t b = task / nblk, c0 = (task % nblk) * cb, w = std::min(cb, H - c0);
      const int64_t r0 = read_cu(cu_seqlens, b), r1 = read_cu(cu_seqlens, b + 1);
      float* dst = fp(out) + b * H + c0;
      std::memset(dst, 0, w * sizeof(float));
      for (int64_t r = r0; r < r1; ++r) k_->accumulate(dst, fp(hidden) + r * H + c0, w);
      if (r1 > r0) k_->scale(dst, 1.0f / static_cast<float>(r1 - r0), w);
    }
  });
}

void CpuDriver::l2_normalize(Tensor x) {
  need_f32("l2_normalize", x, "x");
  const int64_t c = x.cols();
  for_rows(x.rows(), c, [&](int64_t r) {
    float* row = fp(x) + r * c;
    // As torch.nn.functional.normalize: x / max(||x||, 1e-12); a zero row stays zero.
    const float norm = std::sqrt(k_->sum_squares(row, c));
    k_->scale(row, 1.0f / std::max(norm, 1e-12f), c);
  });
}

void CpuDriver::pad(Tensor out, const Tensor& in, const Tensor& cu_seqlens, int max_seq) {
  const char* op = "pad";
  need_f32(op, out, "out");
  need_f32(op, in, "in");
  const int64_t B = check_cu(op, cu_seqlens, in.rows()), C = in.cols(), S = max_seq;
  CPU_CHECK(out.numel() == B * S * C, op,
            "out " + shape_str(out) + " is not [B, S, C] with S = " + std::to_string(S));
  for (int64_t b = 0; b < B; ++b)
    CPU_CHECK(read_cu(cu_seqlens, b + 1) - read_cu(cu_seqlens, b) <= S, op,
              "a sequence is longer than max_seq");
  for_rows(B * S, C, [&](int64_t r) {
    const int64_t b = r / S, s = r % S;
    const int64_t r0 = read_cu(cu_seqlens, b), len = read_cu(cu_seqlens, b + 1) - r0;
    float* dst = fp(out) + r * C;
    if (s < len)
      std::memcpy(dst, fp(in) + (r0 + s) * C, C * sizeof(float));
    else
      std::memset(dst, 0, C * sizeof(float));
  });
}

void CpuDriver::unpad(Tensor out, const Tensor& in, const Tensor& cu_seqlens) {
  const char* op = "unpad";
  need_f32(op, out, "out");
  need_f32(op, in, "in");
  const int64_t C = out.cols();
  const int64_t B = check_cu(op, cu_seqlens, out.rows());
  CPU_CHECK(B > 0 && C > 0 && in.numel() % (B * C) == 0, op,
            "in " + shape_str(in) + " is not [B, S, C] for out " + shape_str(out));
  const int64_t S = in.numel() / (B * C);
  for (int64_t b = 0; b < B; ++b)
    CPU_CHECK(read_cu(cu_seqlens, b + 1) - read_cu(cu_seqlens, b) <= S, op,
              "a sequence is longer than S");
  for (int64_t b = 0; b < B; ++b) {
    const int64_t r0 = read_cu(cu_seqlens, b), len = read_cu(cu_seqlens, b + 1) - r0;
    if (len > 0) std::memcpy(fp(out) + r0 * C, fp(in) + b * S * C, len * C * sizeof(float));
  }
}

// ---------------------------------------------------------------- fused

namespace {
// Validates y[R, out] = x[R, in] · w[out, in]ᵀ (+ bias[out]) and returns its GEMM.
GemmDesc check_linear(const char* op, const Tensor& y, const Tensor& x, const Tensor& w,
                      const Tensor& bias) {
  need_f32(op, y, "y");
  need_f32(op, x, "x");
  need_f32(op, w, "w");
  const GemmDesc g = ops::linear_desc(x, w);
  CPU_CHECK(w.rank == 2 && w.dim(1) == g.k, op,
            "w " + shape_str(w) + " is not [out, in] for x " + shape_str(x));
  CPU_CHECK(y.numel() == g.m * g.n, op, "y " + shape_str(y) + " is not [R, out]");
  if (!bias.empty()) {
    need_f32(op, bias, "bias");
    CPU_CHECK(bias.numel() == g.n, op, "bias " + shape_str(bias) + " is not [out]");
  }
  check_gemm(op, g, 1, 0, 0, 0, x, w, y);
  return g;
}

// Validates out = layer_norm(x + bias + residual) with gamma / beta, or out = x + bias +
// residual (bias, gamma, beta may be empty): F32 tensors, out / x / residual of one size, the
// vectors of x's width.
void check_norm_operands(const char* op, const Tensor& out, const Tensor& x, const Tensor& bias,
                         const Tensor& residual, const Tensor& gamma, const Tensor& beta) {
  need_f32(op, out, "out");
  need_f32(op, x, "x");
  need_f32(op, residual, "residual");
  const int64_t c = x.cols();
  CPU_CHECK(out.numel() == x.numel() && residual.numel() == x.numel(), op,
            "shapes differ: out " + shape_str(out) + ", x " + shape_str(x) + ", residual " +
                shape_str(residual));
  for (const Tensor* t : {&bias, &gamma, &beta}) {
    if (t->empty()) continue;
    need_f32(op, *t, "bias/gamma/beta");
    CPU_CHECK(t->numel() == c, op, shape_str(*t) + " does not match x " + shape_str(x));
  }
}
}  // namespace

void CpuDriver::linear(Tensor y, const Tensor& x, const Tensor& w, const Tensor& bias) {
  GemmDesc g = check_linear("linear", y, x, w, bias);
  if (const cpu::Bf16Weight* bw = bf16_weight(w, g.n, g.k)) {
    cpu::bf16_linear(*k_, *bw, fp(x), g.lda, fp(y), g.ldc, g.m, bias.empty() ? nullptr : fp(bias),
                     false, bscratch_);
    return;
  }
  if (const cpu::Int8Weight* qw = int8_weight(w, g.n, g.k, false)) {
    cpu::int8_linear(*qw, fp(x), g.lda, fp(y), g.ldc, g.m, bias.empty() ? nullptr : fp(bias),
                     nullptr, qscratch_);
    return;
  }
  if (const float* pw = packed_weight(w, g.n, g.k, g.m)) {
    cpu::packed_gemm(*k_, pw, g.n, g.k, fp(x), g.lda, fp(y), g.ldc, g.m,
                     bias.empty() ? nullptr : fp(bias), false, false);
    return;
  }
  unpacked_linear(g, y, x, w, bias);
}

void CpuDriver::unpacked_linear(GemmDesc g, Tensor y, const Tensor& x, const Tensor& w,
                                const Tensor& bias) {
  if (!bias.empty()) {
    const float* b = fp(bias);
    for_rows(g.m, g.n, [&](int64_t r) { std::memcpy(fp(y) + r * g.n, b, g.n * sizeof(float)); });
    g.beta = 1.0f;
  }
  cpu::sgemm(*k_, g, 1, 0, 0, 0, fp(x), fp(w), fp(y));
}

void CpuDriver::linear_gelu(Tensor y, const Tensor& x, const Tensor& w, const Tensor& bias) {
  const GemmDesc g = check_linear("linear_gelu", y, x, w, bias);
  if (const cpu::Bf16Weight* bw = bf16_weight(w, g.n, g.k)) {
    cpu::bf16_linear(*k_, *bw, fp(x), g.lda, fp(y), g.ldc, g.m, bias.empty() ? nullptr : fp(bias),
                     true, bscratch_);
    return;
  }
  if (const cpu::Int8Weight* qw = int8_weight(w, g.n, g.k, true)) {
    cpu::int8_linear(*qw, fp(x), g.lda, fp(y), g.ldc, g.m, bias.empty() ? nullptr : fp(bias),
                     k_->gelu, qscratch_);
    return;
  }
  if (const float* pw = packed_weight(w, g.n, g.k, g.m)) {
    cpu::packed_gemm(*k_, pw, g.n, g.k, fp(x), g.lda, fp(y), g.ldc, g.m,
                     bias.empty() ? nullptr : fp(bias), false, true);
    return;
  }
  // Not linear(): it would ask packed_weight() again and pack on this first use.
  unpacked_linear(g, y, x, w, Tensor{});
  fused_bias_gelu(y, bias);
}

cpu::RowNorm CpuDriver::residual_norm(Tensor x, const Tensor& bias, const Tensor& gamma,
                                      const Tensor& beta, float eps) const {
  cpu::RowNorm norm;
  norm.sum_layer_norm = k_->sum_layer_norm;
  norm.bias = bias.empty() ? nullptr : fp(bias);
  norm.residual = norm.out = fp(x);
  norm.ld_res = norm.ldo = x.cols();
  norm.gamma = gamma.empty() ? nullptr : fp(gamma);
  norm.beta = beta.empty() ? nullptr : fp(beta);
  norm.eps = eps;
  return norm;
}

void CpuDriver::linear_residual_layernorm(Tensor x, const Tensor& in, const Tensor& w,
                                          const Tensor& bias, const Tensor& gamma,
                                          const Tensor& beta, float eps) {
  const char* op = "linear_residual_layernorm";
  need_f32(op, w, "w");
  CPU_CHECK(w.rank == 2, op, "w " + shape_str(w) + " is not [out, in]");
  // The product [R, H] is reserved either way (the arena is sized for it): the checks run
  // against it, and only the unfused path keeps it past a task.
  Tensor proj = alloc(DType::F32, {in.rows(), w.dim(0)});
  const GemmDesc g = check_linear(op, proj, in, w, Tensor{});
  check_norm_operands(op, x, proj, bias, x, gamma, beta);
  // The norm walks x's rows with the product's width (RowNorm): the two must agree, not only
  // their element counts (review 2026-12-07).
  CPU_CHECK(x.cols() == g.n, op, "x " + shape_str(x) + " is not [R, " + std::to_string(g.n) + "]");
  if (const cpu::Bf16Weight* bw = bf16_weight(w, g.n, g.k)) {
    const cpu::RowNorm norm = residual_norm(x, bias, gamma, beta, eps);
    cpu::bf16_linear(*k_, *bw, fp(in), g.lda, fp(proj), g.ldc, g.m, nullptr, false, bscratch_,
                     &norm);
    return;
  }
  if (const cpu::Int8Weight* qw = int8_weight(w, g.n, g.k, false)) {
    const cpu::RowNorm norm = residual_norm(x, bias, gamma, beta, eps);
    cpu::int8_linear(*qw, fp(in), g.lda, fp(proj), g.ldc, g.m, nullptr, nullptr, qscratch_, &norm);
    return;
  }
  linear(proj, in, w, Tensor{});
  fused_residual_layernorm(x, proj, bias, x, gamma, beta, eps);
}

void CpuDriver::ffn_gelu_layernorm(Tensor x, const Tensor& wi, const Tensor& bi, const Tensor& wo,
                                   const Tensor& bo, const Tensor& gamma, const Tensor& beta,
                                   float eps) {
  const char* op = "ffn_gelu_layernorm";
  need_f32(op, wi, "wi");
  need_f32(op, wo, "wo");
  CPU_CHECK(wi.rank == 2 && wo.rank == 2, op,
            "wi " + shape_str(wi) + " and wo " + shape_str(wo) + " are not matrices");
  // The intermediate [R, I] and the product [R, H] are reserved either way (the arena is sized
  // for them): the checks run against them, and only the unfused paths write them.
  Tensor mid = alloc(DType::F32, {x.rows(), wi.dim(0)});
  Tensor out = alloc(DType::F32, {x.rows(), wo.dim(0)});
  const GemmDesc up = check_linear(op, mid, x, wi, bi);
  const GemmDesc down = check_linear(op, out, mid, wo, Tensor{});
  check_norm_operands(op, x, out, bo, x, gamma, beta);
  CPU_CHECK(x.cols() == down.n, op,
            "x " + shape_str(x) + " is not [R, " + std::to_string(down.n) + "]");
  const cpu::Bf16Weight* bwi = bf16_weight(wi, up.n, up.k);
  const cpu::Bf16Weight* bwo = bwi != nullptr ? bf16_weight(wo, down.n, down.k) : nullptr;
  if (bwi != nullptr && bwo != nullptr) {
    const cpu::RowNorm norm = residual_norm(x, bo, gamma, beta, eps);
    cpu::bf16_ffn(*k_, *bwi, *bwo, fp(x), up.lda, fp(mid), fp(out), down.ldc, up.m,
                  bi.empty() ? nullptr : fp(bi), true, bscratch_, &norm);
    return;
  }
  const cpu::Int8Weight* qwi = bwi == nullptr ? int8_weight(wi, up.n, up.k, true) : nullptr;
  const cpu::Int8Weight* qwo = qwi != nullptr ? int8_weight(wo, down.n, down.k, false) : nullptr;
  if (qwi != nullptr && qwo != nullptr) {
    const cpu::RowNorm norm = residual_norm(x, bo, gamma, beta, eps);
    cpu::int8_ffn(*qwi, *qwo, fp(x), up.lda, fp(mid), fp(out), down.ldc, up.m,
                  bi.empty() ? nullptr : fp(bi), k_->gelu, qscratch_, &norm);
    return;
  }
  linear_gelu(mid, x, wi, bi);
  linear(out, mid, wo, Tensor{});
  fused_residual_layernorm(x, out, bo, x, gamma, beta, eps);
}

void CpuDriver::fused_bias_gelu(Tensor x, const Tensor& bias) {
  const char* op = "fused_bias_gelu";
  need_f32(op, x, "x");
  if (bias.empty()) return gelu(x);
  need_f32(op, bias, "bias");
  const int64_t c = x.cols();
  CPU_CHECK(bias.numel() == c, op, "bias " + shape_str(bias) + " does not match x " + shape_str(x));
  for_rows(x.rows(), c, [&](int64_t r) { k_->bias_gelu(fp(x) + r * c, fp(bias), c); });
}

void CpuDriver::fused_bias_residual(Tensor out, Tensor x, const Tensor& bias,
                                    const Tensor& residual) {
  const char* op = "fused_bias_residual";
  check_norm_operands(op, out, x, bias, residual, Tensor{}, Tensor{});
  const int64_t c = x.cols();
  if (bias.empty()) return residual_add(out, x, residual);
  for_rows(x.rows(), c, [&](int64_t r) {
    k_->add3(fp(out) + r * c, fp(x) + r * c, fp(bias), fp(residual) + r * c, c);
  });
}

void CpuDriver::fused_residual_layernorm(Tensor out, Tensor x, const Tensor& bias,
                                         const Tensor& residual, const Tensor& gamma,
                                         const Tensor& beta, float eps) {
  const char* op = "fused_residual_layernorm";
  check_norm_operands(op, out, x, bias, residual, gamma, beta);
  const int64_t c = x.cols();
  const float* b = bias.empty() ? nullptr : fp(bias);
  const float* g = gamma.empty() ? nullptr : fp(gamma);
  const float* be = beta.empty() ? nullptr : fp(beta);
  for_rows(x.rows(), c, [&](int64_t r) {
    k_->sum_layer_norm(fp(out) + r * c, fp(x) + r * c, b, fp(residual) + r * c, g, be, c, eps);
  });
}

void CpuDriver::attention(Tensor out, const Tensor& qkv, const AttentionDesc& ad,
                          const DeviceBatch<Tensor>& db) {
  const char* op = "attention";
  need_f32(op, out, "out");
  need_f32(op, qkv, "qkv");
  CPU_CHECK(db.host != nullptr, op, "DeviceBatch without host inputs");
  const BatchInputs& h = *db.host;
  const int64_t nh = ad.num_heads, hd = ad.head_dim, H = nh * hd;
  CPU_CHECK(nh > 0 && hd > 0, op, "needs num_heads and head_dim > 0");
  if (hd > cpu::kAttnMaxHeadDim)
    throw UnsupportedError("cpu driver: attention with head_dim " + std::to_string(hd) +
                           " (at most " + std::to_string(cpu::kAttnMaxHeadDim) + ")");
  CPU_CHECK(qkv.cols() == 3 * H, op, "qkv " + shape_str(qkv) + " is not [T, 3 * nh * d]");
  CPU_CHECK(qkv.rows() >= h.total_tokens, op, "qkv has fewer rows than the batch has tokens");
  CPU_CHECK(out.cols() == H && out.rows() >= h.total_tokens, op,
            "out " + shape_str(out) + " is not [T, H]");
  // Tasks are (sequence, head, chunk of query blocks) over the longest sequence: whole
  // sequences while there are enough (sequence, head) pairs to keep every thread busy (the
  // contiguous K/V copy of a task is then made once per head), split into query chunks
  // otherwise. Chunks past a shorter sequence's end are skipped at once. Threads pull tasks from
  // an atomic counter, each using its own workspace slot (one parallel_for chunk per slot).
  const int64_t qblocks = (h.max_seq + cpu::kAttnQBlock - 1) / cpu::kAttnQBlock;
  const int64_t pairs = static_cast<int64_t>(h.batch) * nh;
  const int64_t threads = static_cast<int64_t>(attn_slots_);
  int64_t split = 1;
  while (split < qblocks && pairs * split < 4 * threads) ++split;
  const int64_t per = (qblocks + split - 1) / split;
  split = qblocks == 0 ? 0 : (qblocks + per - 1) / per;
  const int64_t tasks = pairs * split;
  if (tasks == 0) return;
  const int64_t kv_floats = (cpu::attn_kv_floats(h.max_seq, per * cpu::kAttnQBlock, ad.half_window,
                                                 static_cast<int>(hd)) +
                             15) /
                            16 * 16;
  if (kv_floats > attn_kv_slot_floats_) {
    attn_kv_ = allocate_aligned(attn_slots_ * static_cast<size_t>(kv_floats) * sizeof(float));
    attn_kv_slot_floats_ = kv_floats;
  }
  // Reduced precision (INT8 or BF16 linear layers, not paused) takes the BF16 attention where
  // it is on (attn_bf16_).
  const bool bf16_attn = attn_bf16_ && (int8_ || bf16_) && !reduced_paused_ && hd % 2 == 0;
  std::atomic<int64_t> next{0};
  const float* base = fp(qkv);
  float* obase = fp(out);
  auto* work = reinterpret_cast<float*>(attn_work_.get());
  auto* kv = reinterpret_cast<float*>(attn_kv_.get());
  const int64_t slots = std::min<int64_t>(threads, tasks);
  const int64_t kv_stride = attn_kv_slot_floats_;
  pfor(0, slots, 1, [&](int64_t lo, int64_t) {
    // Where the AMX kernel runs, each thread claims its next task before it runs the current
    // one, so that the kernel can fetch the next task's rows while it computes (AttnArgs::next;
    // two arguments in turn), while at least a task per thread is left beyond those claimed:
    // a thread holding a task it has not started idles the others at the end (one query's 12
    // tasks ran on half of 12 threads; review 2026-12-07). The other kernels do not use it.
    cpu::AttnArgs args[2];
    for (cpu::AttnArgs& a : args) {
      a.work = work + lo * cpu::kAttnWorkFloats;
      a.kv = kv + lo * kv_stride;
      a.ld = 3 * H;
      a.ldo = H;
      a.head_dim = static_cast<int>(hd);
      a.scale = ad.scale;
      a.half_window = ad.half_window;
    }
    auto claim = [&](cpu::AttnArgs& a) {
      for (;;) {
        const int64_t t = next.fetch_add(1, std::memory_order_relaxed);
        if (t >= tasks) return false;
        const int64_t b = t / (nh * split), rem = t % (nh * split);
        const int64_t hh = rem / split, ch = rem % split;
        const int64_t len = h.seq_lengths[b];
        a.q_begin = ch * per * cpu::kAttnQBlock;
        if (a.q_begin >= len) continue;
        a.q_end = std::min<int64_t>(len, a.q_begin + per * cpu::kAttnQBlock);
        a.len = len;
        const int64_t row0 = h.cu_seqlens[b];
        a.q = base + row0 * 3 * H + hh * hd;
        a.k = a.q + H;
        a.v = a.q + 2 * H;
        a.out = obase + row0 * H + hh * hd;
        return true;
      }
    };
    const bool ahead = bf16_attn && cpu::attention_amx_runs(args[0]);
    int cur = 0;
    for (bool have = claim(args[0]); have;) {
      const bool have_next =
          ahead && next.load(std::memory_order_relaxed) + slots < tasks && claim(args[1 - cur]);
      cpu::AttnArgs& a = args[cur];
      a.next = have_next ? &args[1 - cur] : nullptr;
      if (bf16_attn)
        cpu::attention_bf16(a);
      else
        k_->attention(a);
      if (have_next)
        cur = 1 - cur;
      else
        have = claim(args[cur]);
    }
  });
}

}  // namespace ripvec
