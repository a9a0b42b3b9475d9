// check_finite: one pass over every weight looking for NaN/Inf, so that a corrupt or
// badly trained model fails at load with the tensor's name instead of producing NaN vectors
// (invalid JSON, an index of NaNs, searches that match nothing).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "ripvec/error.hpp"
#include "ripvec/safetensors.hpp"
#include "util/thread_pool.hpp"

namespace ripvec {

namespace {

// A float is NaN or +-Inf exactly when its exponent bits are all ones. The loops OR a flag per
// element (no early exit inside a block) so that the compiler vectorises them; target_clones
// adds AVX2 and AVX-512 versions chosen at run time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RIPVEC_FINITE_CLONES \
  __attribute__((target_clones("arch=skylake-avx512", "avx2", "default")))
#else
#define RIPVEC_FINITE_CLONES
#endif

RIPVEC_FINITE_CLONES bool any_exp_ones_32(const uint32_t* p, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad |= static_cast<uint32_t>((p[i] & 0x7f800000u) == 0x7f800000u);
  return bad != 0;
}

RIPVEC_FINITE_CLONES bool any_exp_ones_16(const uint16_t* p, size_t n, uint16_t mask) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad |= static_cast<uint32_t>((p[i] & mask) == mask);
  return bad != 0;
}

size_t elem_size(DType d) {
  return d == DType::F32 ? 4 : 2;
}

// Scans elements [begin, end) of `t`; returns the index of the first non-finite one, or `end`.
size_t first_bad(const TensorInfo& t, size_t begin, size_t end) {
  constexpr size_t kBlock = 4096;  // elements per vectorised test
  for (size_t b = begin; b < end; b += kBlock) {
    const size_t e = std::min(end, b + kBlock);
    bool bad = false;
    if (t.dtype == DType::F32) {
      bad = any_exp_ones_32(reinterpret_cast<const uint32_t*>(t.data) + b, e - b);
    } else {
      const uint16_t mask = t.dtype == DType::F16 ? 0x7c00 : 0x7f80;
      bad = any_exp_ones_16(reinterpret_cast<const uint16_t*>(t.data) + b, e - b, mask);
    }
    if (!bad) continue;
    for (size_t i = b; i < e; ++i) {  // rare: locate the element
      bool hit;
      if (t.dtype == DType::F32)
        hit = any_exp_ones_32(reinterpret_cast<const uint32_t*>(t.data) + i, 1);
      else
        hit = any_exp_ones_16(reinterpret_cast<const uint16_t*>(t.data) + i, 1,
                              t.dtype == DType::F16 ? 0x7c00 : 0x7f80);
      if (hit) return i;
    }
  }
  return end;
}

}  // namespace

void check_finite(const SafeTensors& st) {
  // Work items of at most kSlice elements so that one big embedding table is spread over
  // the pool as well as many small tensors.
  constexpr size_t kSlice = size_t{1} << 20;
  struct Slice {
    const TensorInfo* t;
    size_t begin, end;
  };
  std::vector<const TensorInfo*> tensors;
  for (const auto& name : st.names())
    if (const TensorInfo* t = st.find(name)) tensors.push_back(t);
  std::vector<Slice> slices;
  for (const TensorInfo* t : tensors) {
    if (t->dtype != DType::F32 && t->dtype != DType::F16 && t->dtype != DType::BF16) continue;
    const size_t n = t->nbytes / elem_size(t->dtype);
    for (size_t b = 0; b < n; b += kSlice) slices.push_back({t, b, std::min(n, b + kSlice)});
  }
  // First bad slice in file-name order wins, so the message does not depend on scheduling.
  std::atomic<size_t> first_slice{std::numeric_limits<size_t>::max()};
  std::vector<size_t> bad_at(slices.size(), 0);
  parallel_for(0, static_cast<int64_t>(slices.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s) {
      const Slice& sl = slices[static_cast<size_t>(s)];
      const size_t i = first_bad(*sl.t, sl.begin, sl.end);
      if (i == sl.end) continue;
      bad_at[static_cast<size_t>(s)] = i;
      size_t cur = first_slice.load();
      while (static_cast<size_t>(s) < cur && !first_slice.compare_exchange_weak(cur, s)) {
      }
    }
  });
  const size_t s = first_slice.load();
  if (s == std::numeric_limits<size_t>::max()) return;
  const Slice& sl = slices[s];
  float v = 0;
  TensorInfo one = *sl.t;
  one.data = sl.t->data + bad_at[s] * elem_size(sl.t->dtype);
  one.nbytes = elem_size(sl.t->dtype);
  one.shape = {1};
  convert_to_f32(one, &v);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%g", static_cast<double>(v));
  std::string name;  // names come from the file: keep the message printable
  for (unsigned char c : sl.t->name) name += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  throw ModelFormatError("tensor \"" + name + "\" in " + st.path().string() +
                         " holds a non-finite value (" + buf + " at element " +
                         std::to_string(bad_at[s]) +
                         "); the weights are corrupt or the model diverged in training");
}

}  // namespace ripvec
