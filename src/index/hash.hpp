// Hashes used by the index: SHA-256 names content-addressed objects (collision resistance
// matters: two different files must never share an object), CRC32C guards every stored byte
// against truncation and bit rot (fast enough to run over a whole vectors file).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ripvec::index {

// Incremental SHA-256 (FIPS 180-4). Uses the x86 SHA extensions when the CPU has them.
class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> finish();  // the object is spent afterwards

 private:
  void compress(const uint8_t* blocks, size_t nblocks);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::array<uint8_t, 32> sha256(std::string_view data);
std::string to_hex(const uint8_t* data, size_t n);
inline std::string to_hex(const std::array<uint8_t, 32>& d) {
  return to_hex(d.data(), d.size());
}
std::string sha256_hex(std::string_view data);

// CRC-32C (Castagnoli), as in iSCSI / ext4: crc32c("123456789") == 0xE3069283.
// `crc` is the value returned by a previous call (0 to start).
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
// The CRC-32C of A followed by B from crc32c(A), crc32c(B) and B's length, in O(log len_b):
// CRCs of pieces computed in parallel combine into the CRC of the whole.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

// For tests: force the portable code paths even where the CPU offers SHA-NI / SSE4.2.
void set_portable_hashes_for_testing(bool portable);

}  // namespace ripvec::index
