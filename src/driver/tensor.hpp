// Tensor views shared by every driver. A driver's associated tensor type is
// `BasicTensor<ItsTag>`: the tag keeps host and device pointers from mixing at compile time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "ripvec/dtype.hpp"
#include "ripvec/error.hpp"

namespace ripvec {

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::I32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
  }
  return 0;
}
const char* dtype_name(DType t);

// Non-owning, row-major, contiguous view of driver memory. `data` is a host pointer on the
// CPU driver and a device pointer on the CUDA driver; never dereference one of another
// driver. Shapes are written outermost first, e.g. {tokens, hidden}.
template <class Tag>
struct BasicTensor {
  void* data = nullptr;
  std::array<int64_t, 4> shape{0, 0, 0, 0};
  int rank = 0;
  DType dtype = DType::F32;

  int64_t numel() const {
    int64_t n = rank == 0 ? 0 : 1;
    for (int i = 0; i < rank; ++i) n *= shape[i];
    return n;
  }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  int64_t dim(int i) const { return shape[i]; }
  // Size of the innermost dimension, the row length of a 2-D view.
  int64_t cols() const { return rank == 0 ? 0 : shape[rank - 1]; }
  int64_t rows() const { return cols() == 0 ? 0 : numel() / cols(); }
  bool empty() const { return data == nullptr || numel() == 0; }

  template <class T>
  T* as() const {
    return static_cast<T*>(data);
  }

  // View `count` rows starting at `first` of the outermost dimension.
  BasicTensor rows_view(int64_t first, int64_t count) const {
    BasicTensor t = *this;
    int64_t row_elems = numel() / (shape[0] == 0 ? 1 : shape[0]);
    t.data = static_cast<char*>(data) + first * row_elems * static_cast<int64_t>(dtype_size(dtype));
    t.shape[0] = count;
    return t;
  }
  // The same memory seen with another shape (numel must match).
  BasicTensor reshape(std::initializer_list<int64_t> dims) const {
    BasicTensor t = *this;
    t.rank = 0;
    int64_t n = 1;
    for (int64_t d : dims) {
      t.shape[t.rank++] = d;
      n *= d;
    }
    if (n != numel()) throw InvalidArgument("reshape: element count changes");
    return t;
  }
  // Flat view at an element offset, with a new shape; the caller guarantees bounds.
  BasicTensor at_offset(int64_t elem_offset, std::initializer_list<int64_t> dims) const {
    BasicTensor t = *this;
    t.data = static_cast<char*>(data) + elem_offset * static_cast<int64_t>(dtype_size(dtype));
    t.rank = 0;
    for (int64_t d : dims) t.shape[t.rank++] = d;
    return t;
  }
};

template <class Tag>
BasicTensor<Tag> make_view(void* data, DType dtype, std::initializer_list<int64_t> dims) {
  BasicTensor<Tag> t;
  t.data = data;
  t.dtype = dtype;
  for (int64_t d : dims) t.shape[t.rank++] = d;
  return t;
}

}  // namespace ripvec
