// libFuzzer target: an object file of the index (objects/ab/<id>-<mkey>.obj). The target
// rewrites both checksums before decoding (and takes dim, id and model key from the header),
// so that mutations reach the payload parser instead of stopping at a CRC mismatch. Accepts
// decode_object succeeding with chunks and vectors that round-trip through encode_object, or an
// IndexError.
#include <cstring>

#include "fuzz_util.hpp"
#include "index/hash.hpp"
#include "index/store.hpp"

using namespace ripvec;
using namespace ripvec::index;

namespace {
// A format change must update the offsets below and the seeds (fuzz_gen_store_seeds).
static_assert(kFormatVersion == 2, "check the header offsets below and regenerate the seeds");
// Offsets of ObjectHeader (src/index/store.hpp documents the layout; 136 bytes).
constexpr size_t kHeader = 136, kDim = 12, kPayloadCrc = 20, kId = 32, kKey = 96, kHeaderCrc = 128;

std::string fixed(const std::string& s, size_t off, size_t cap) {
  size_t n = 0;
  while (n < cap && s[off + n] != 0) ++n;
  return s.substr(off, n);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  uint32_t dim = 384;
  std::string id, key;
  if (bytes.size() >= kHeader) {
    std::memcpy(&dim, bytes.data() + kDim, 4);
    id = fixed(bytes, kId, 64);
    key = fixed(bytes, kKey, 32);
    const uint32_t pcrc = crc32c(bytes.data() + kHeader, bytes.size() - kHeader);
    std::memcpy(bytes.data() + kPayloadCrc, &pcrc, 4);
    std::memset(bytes.data() + kHeaderCrc, 0, 4);
    const uint32_t hcrc = crc32c(bytes.data(), kHeader);
    std::memcpy(bytes.data() + kHeaderCrc, &hcrc, 4);
  }
  ObjectData obj;
  try {
    obj = decode_object(bytes, dim, id, key, "fuzz.obj");
  } catch (const IndexError&) {
    return 0;
  }
  FUZZ_CHECK(obj.vectors.size() == obj.chunks.size() * dim);
  const std::string again = encode_object(obj, dim, id, key);
  FUZZ_CHECK(again.size() == bytes.size());
  FUZZ_CHECK(std::memcmp(again.data() + kHeader, bytes.data() + kHeader, size - kHeader) == 0);
  const ObjectData obj2 = decode_object(again, dim, id, key, "re-encoded");
  FUZZ_CHECK(obj2.chunks.size() == obj.chunks.size());
  for (size_t i = 0; i < obj.chunks.size(); ++i) {
    const StoredChunk &a = obj.chunks[i], &b = obj2.chunks[i];
    FUZZ_CHECK(a.start_line == b.start_line && a.end_line == b.end_line && a.symbol == b.symbol &&
               a.kind == b.kind && a.language == b.language && a.content == b.content);
  }
  FUZZ_CHECK(obj.vectors.empty() ||
             std::memcmp(obj.vectors.data(), obj2.vectors.data(), obj.vectors.size() * 4) == 0);
  return 0;
}
