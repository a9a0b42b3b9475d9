// base64 (how non-UTF-8 file names travel through JSON) against the test vectors of
// RFC 4648 section 10, plus every byte value and the malformed inputs the decoder must refuse.
#include <gtest/gtest.h>

#include "ripvec/bytes.hpp"

namespace ripvec {
namespace {

TEST(UtilBase64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> kVectors[] = {{"", ""},
                                                          {"f", "Zg=="},
                                                          {"fo", "Zm8="},
                                                          {"foo", "Zm9v"},
                                                          {"foob", "Zm9vYg=="},
                                                          {"fooba", "Zm9vYmE="},
                                                          {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, coded] : kVectors) {
    EXPECT_EQ(base64_encode(plain), coded);
    EXPECT_EQ(base64_decode(coded), std::optional<std::string>(plain));
  }
}

TEST(UtilBase64, EveryByteRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 37) {
    const std::string s = all.substr(all.size() - n);
    EXPECT_EQ(base64_decode(base64_encode(s)), std::optional<std::string>(s));
  }
  EXPECT_EQ(base64_encode("bad\xffname.py"), "YmFk/25hbWUucHk=");  // python3 base64.b64encode
}

TEST(UtilBase64, MalformedInputIsRefused) {
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zh==", "Zm9=Zm9v", "Zm9v!A==", "Zm=v"})
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
}

}  // namespace
}  // namespace ripvec
