// Reader for the safetensors format: memory-mapped, validated up front, zero-copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ripvec/dtype.hpp"

namespace ripvec {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;       // outermost first
  const std::byte* data = nullptr;  // inside the mapping, valid while the SafeTensors lives
  size_t nbytes = 0;
  int64_t numel() const;
};

// Opens and validates a .safetensors file: header length within the file, valid JSON, a dtype
// of the safetensors format (an unknown dtype string is an error; tensors of dtypes other than
// F32, F16 and BF16 open but are hidden from find(), and get() names their dtype: see
// unsupported_dtype()), each tensor's byte span equal to
// numel x dtype size and inside the data section, no overlaps. Throws IoError (cannot
// open/map) or ModelFormatError (anything malformed), naming the file and the tensor.
class SafeTensors {
 public:
  // Whole: the file's pages are read in at open (one populate call: a model's loader and its
  // finite check read every byte anyway). Lazy: only what is touched is read (the header, for
  // a listing that checks names and shapes: `ripvec models` read every multi-GB weights file
  // of the cache on each run; hostile probe 2026-12-07).
  enum class Pages { Whole, Lazy };
  static SafeTensors open(const std::filesystem::path& path, Pages pages = Pages::Whole);
  SafeTensors(SafeTensors&&) noexcept;
  SafeTensors& operator=(SafeTensors&&) noexcept;
  ~SafeTensors();

  const TensorInfo* find(std::string_view name) const;  // nullptr when absent
  // The dtype (e.g. "I64") of a tensor the file holds in a dtype the engine cannot use, which
  // find() does not return; nullptr when the file has no such tensor of that name.
  const std::string* unsupported_dtype(std::string_view name) const;
  // Throws ModelFormatError "missing tensor NAME in FILE" when absent.
  const TensorInfo& get(std::string_view name) const;
  // Like get(), and also checks the shape; throws ModelFormatError naming both shapes.
  const TensorInfo& get(std::string_view name, const std::vector<int64_t>& expected_shape) const;
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const;
  const std::filesystem::path& path() const;

 private:
  struct Impl;
  explicit SafeTensors(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Checks that every F32/F16/BF16 tensor holds only finite values (no NaN, no +-Inf): one
// vectorised pass over the mapped data, spread over the global thread pool. Throws
// ModelFormatError naming the file, the tensor, the first bad element's index and its value.
// Cost: a read of the whole file (docs/benchmarks.md, "Weight finiteness check").
void check_finite(const SafeTensors& st);

// Converts one element range to float (F32/F16/BF16 source).
void convert_to_f32(const TensorInfo& t, float* out);

}  // namespace ripvec
