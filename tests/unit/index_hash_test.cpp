// SHA-256 against FIPS 180-4 / NIST CAVP example vectors, CRC32C against RFC 3720's check
// value and test patterns; both code paths (SHA-NI / SSE4.2 and portable) must agree.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "index/hash.hpp"

using namespace ripvec::index;

namespace {
struct PortableGuard {
  explicit PortableGuard(bool p) { set_portable_hashes_for_testing(p); }
  ~PortableGuard() { set_portable_hashes_for_testing(false); }
};
}  // namespace

class HashPaths : public ::testing::TestWithParam<bool> {};

TEST_P(HashPaths, Sha256NistVectors) {
  PortableGuard g(GetParam());
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_P(HashPaths, Sha256IncrementalEqualsOneShot) {
  PortableGuard g(GetParam());
  std::mt19937 rng(7);
  std::string data(5000, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  const auto whole = sha256(data);
  for (size_t step : {1u, 3u, 63u, 64u, 65u, 1000u}) {
    Sha256 h;
    for (size_t i = 0; i < data.size(); i += step) h.update(std::string_view(data).substr(i, step));
    EXPECT_EQ(h.finish(), whole) << "step " << step;
  }
}

TEST_P(HashPaths, Crc32c) {
  PortableGuard g(GetParam());
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  // RFC 3720 B.4: 32 bytes of zeros, of 0xFF, and an increasing sequence.
  std::string zeros(32, '\0'), ones(32, '\xff'), inc(32, '\0');
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<char>(i);
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(inc.data(), 32), 0x46DD794Eu);
  // Chaining equals one pass, at unaligned offsets too.
  std::string s(1001, 'x');
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 31 + 7);
  uint32_t c = crc32c(s.data(), 13);
  c = crc32c(s.data() + 13, s.size() - 13, c);
  EXPECT_EQ(c, crc32c(s.data(), s.size()));
}

// Combining the CRCs of two pieces gives the CRC of the whole (the snapshot writer checks its
// pieces in parallel), for every split of random data including empty pieces.
TEST_P(HashPaths, Crc32cCombineEqualsOnePass) {
  PortableGuard g(GetParam());
  std::mt19937 rng(5);
  for (size_t len : {size_t(0), size_t(1), size_t(9), size_t(64), size_t(1000), size_t(70001)}) {
    std::string d(len, '\0');
    for (auto& c : d) c = static_cast<char>(rng());
    const uint32_t whole = crc32c(d.data(), d.size());
    for (size_t cut : {size_t(0), len / 3, len / 2, len > 0 ? len - 1 : 0, len}) {
      const uint32_t a = crc32c(d.data(), cut), b = crc32c(d.data() + cut, len - cut);
      EXPECT_EQ(crc32c_combine(a, b, len - cut), whole) << len << " cut " << cut;
    }
  }
  // "123456789" from "1234" and "56789".
  EXPECT_EQ(crc32c_combine(crc32c("1234", 4), crc32c("56789", 5), 5), 0xE3069283u);
}

INSTANTIATE_TEST_SUITE_P(Index, HashPaths, ::testing::Values(false, true),
                         [](const auto& i) { return i.param ? "portable" : "native"; });

TEST(IndexHash, PathsAgreeOnRandomData) {
  std::mt19937 rng(11);
  for (int len : {0, 1, 55, 56, 63, 64, 119, 120, 4096, 10007}) {
    std::string d(len, '\0');
    for (auto& c : d) c = static_cast<char>(rng());
    set_portable_hashes_for_testing(true);
    auto a = sha256_hex(d);
    auto ca = crc32c(d.data(), d.size());
    set_portable_hashes_for_testing(false);
    EXPECT_EQ(a, sha256_hex(d)) << len;
    EXPECT_EQ(ca, crc32c(d.data(), d.size())) << len;
  }
}
