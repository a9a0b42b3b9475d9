#pragma once
#include <cstdint>

namespace ripvec {
// Element types of tensors in model files and on drivers.
enum class DType : uint8_t { F32, F16, BF16, I32 };
}  // namespace ripvec
