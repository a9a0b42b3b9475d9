// libFuzzer target: a whole .safetensors file (8-byte header length, JSON header, data).
// Accepts SafeTensors::open succeeding with tensors that obey the reader's promises, or a
// ModelFormatError / IoError.
#include <cstring>
#include <vector>

#include "fuzz_util.hpp"
#include "ripvec/safetensors.hpp"

using namespace ripvec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::TempDir dir;
  const auto path = dir.path() / "model.safetensors";
  fuzz::write_file(path, fuzz::as_text(data, size));
  try {
    SafeTensors st = SafeTensors::open(path);
    FUZZ_CHECK(size >= 8);
    uint64_t header_len;
    std::memcpy(&header_len, data, 8);
    FUZZ_CHECK(header_len <= size - 8);
    const uint64_t data_bytes = size - 8 - header_len;
    uint64_t total = 0;
    for (const std::string& name : st.names()) {
      const TensorInfo& t = st.get(name);
      FUZZ_CHECK(t.name == name);
      FUZZ_CHECK(st.find(name) == &t);
      int64_t numel = 1;
      for (int64_t d : t.shape) {
        FUZZ_CHECK(d >= 0);
        numel *= d;
      }
      FUZZ_CHECK(numel == t.numel());
      const size_t elem = t.dtype == DType::F32 ? 4 : 2;
      FUZZ_CHECK(t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16);
      FUZZ_CHECK(t.nbytes == static_cast<uint64_t>(numel) * elem);
      FUZZ_CHECK(t.nbytes <= data_bytes);
      total += t.nbytes;
      FUZZ_CHECK(total <= data_bytes);  // spans do not overlap
      if (t.nbytes > 0) FUZZ_CHECK(t.data != nullptr);
      std::vector<float> out(static_cast<size_t>(numel));
      convert_to_f32(t, out.data());  // reads every byte of the span
      (void)st.get(name, t.shape);
    }
    for (const auto& [k, v] : st.metadata()) FUZZ_CHECK(k.size() + v.size() <= header_len);
    try {
      st.get("\x01 no such tensor");
      FUZZ_CHECK(false);
    } catch (const ModelFormatError&) {
    }
  } catch (const ModelFormatError&) {
  } catch (const IoError&) {
  }
  return 0;
}
