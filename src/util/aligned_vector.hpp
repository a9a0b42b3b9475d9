// Memory that starts on a 64-byte boundary (a cache line, and the width of an AVX-512 load or
// an AMX tile row): CacheAlignedAllocator, the one source of it (the CPU driver's arena and
// packed weights, realigned safetensors data), and AlignedVector, a std::vector using it. glibc's
// malloc gives 16-byte alignment, and a large block (mmap'd) starts 16 bytes past a page: every
// 64-byte load of such a buffer at a multiple of 64 from its start spans two cache lines. An AMX
// tile load of 16 such rows ran at a third of the aligned rate (0.66 against 2.17 TFLOP/s of
// TDPBF16PS on one core, 2026-12-06).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace ripvec {

template <class T>
struct CacheAlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  CacheAlignedAllocator() = default;
  template <class U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const CacheAlignedAllocator<U>&) const noexcept {
    return true;
  }
};

// Thread safety and errors as std::vector's (std::bad_alloc when memory runs out).
template <class T>
using AlignedVector = std::vector<T, CacheAlignedAllocator<T>>;

}  // namespace ripvec
