// Mutation fuzzing of the safetensors reader: thousands of deterministic mutations of a
// small valid file (bit flips, truncations, header-length edits, JSON token edits). Each one
// must either open cleanly, yielding tensors whose spans obey the format's invariants, or
// throw ModelFormatError / IoError. Anything else (another exception, a crash, a sanitizer
// report in the RIPVEC_SANITIZE build) is a bug.
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "common/test_util.hpp"
#include "ripvec/error.hpp"
#include "ripvec/safetensors.hpp"

namespace ripvec {
namespace {

namespace fs = std::filesystem;

std::string u64le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string seed_file(std::string* header_out) {
  nlohmann::json h = {
      {"__metadata__", {{"format", "pt"}}},
      {"emb.weight", {{"dtype", "F32"}, {"shape", {4, 3}}, {"data_offsets", {0, 48}}}},
      {"ln.weight", {{"dtype", "F16"}, {"shape", {3}}, {"data_offsets", {48, 54}}}},
      {"ln.bias", {{"dtype", "BF16"}, {"shape", {3}}, {"data_offsets", {54, 60}}}},
      {"position_ids", {{"dtype", "I64"}, {"shape", {1, 2}}, {"data_offsets", {60, 76}}}},
      {"empty", {{"dtype", "F32"}, {"shape", {0, 7}}, {"data_offsets", {76, 76}}}},
  };
  std::string header = h.dump();
  while (header.size() % 8) header += ' ';
  std::string data(76, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 37 + 11);
  *header_out = header;
  return u64le(header.size()) + header + data;
}

size_t elem_size(DType d) {
  return d == DType::F32 ? 4 : 2;
}

std::string mutate(const std::string& base, size_t header_len, std::mt19937_64& rng) {
  static const char* kTokens[] = {"F32",
                                  "F16",
                                  "BF16",
                                  "I64",
                                  "U8",
                                  "F64",
                                  "XX",
                                  "0",
                                  "-1",
                                  "1e3",
                                  "null",
                                  "[]",
                                  "{}",
                                  "\"",
                                  ",",
                                  ":",
                                  "]",
                                  "}",
                                  "18446744073709551615",
                                  "9223372036854775807",
                                  "4294967296",
                                  "__metadata__",
                                  "data_offsets",
                                  "shape",
                                  "dtype"};
  std::string s = base;
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  const int rounds = 1 + static_cast<int>(rng() % 3);
  for (int r = 0; r < rounds; ++r) {
    switch (rng() % 8) {
      case 0: {  // bit flips anywhere
        int flips = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < flips && !s.empty(); ++i)
          s[pick(s.size())] ^= static_cast<char>(1u << (rng() % 8));
        break;
      }
      case 1:  // truncate
        s.resize(pick(s.size() + 1));
        break;
      case 2: {  // rewrite the header length
        uint64_t v;
        switch (rng() % 4) {
          case 0:
            v = header_len + (rng() % 17) - 8;
            break;
          case 1:
            v = rng();
            break;
          case 2:
            v = rng() % 256;
            break;
          default:
            v = s.size() > 8 ? s.size() - 8 : 0;
            break;
        }
        std::string le = u64le(v);
        for (size_t i = 0; i < 8 && i < s.size(); ++i) s[i] = le[i];
        break;
      }
      case 3: {  // replace a digit inside the header
        for (int tries = 0; tries < 16; ++tries) {
          size_t p = 8 + pick(std::min(header_len, s.size() > 8 ? s.size() - 8 : 0));
          if (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) {
            s[p] = static_cast<char>('0' + rng() % 10);
            break;
          }
        }
        break;
      }
      case 4: {  // insert a token into the header
        if (s.size() <= 8) break;
        size_t p = 8 + pick(std::min(header_len, s.size() - 8));
        s.insert(p, kTokens[pick(std::size(kTokens))]);
        break;
      }
      case 5: {  // delete a span of the header
        if (s.size() <= 8) break;
        size_t p = 8 + pick(std::min(header_len, s.size() - 8));
        s.erase(p, 1 + pick(6));
        break;
      }
      case 6: {  // swap one dtype name for another, keeping the rest consistent
        static const char* kD[] = {"\"F32\"", "\"F16\"", "\"BF16\"", "\"I64\"",
                                   "\"F64\"", "\"U8\"",  "\"BOOL\"", "\"F4\""};
        const char* from = kD[pick(std::size(kD))];
        size_t p = s.find(from);
        if (p != std::string::npos) s.replace(p, std::strlen(from), kD[pick(std::size(kD))]);
        break;
      }
      default:  // append garbage
        for (size_t i = 0, n = pick(32); i < n; ++i) s += static_cast<char>(rng());
        break;
    }
  }
  return s;
}

TEST(SafeTensorsFuzz, MutationsOnlyThrowTypedErrors) {
  std::string header;
  const std::string base = seed_file(&header);
  const fs::path path = fs::temp_directory_path() /
                        ("ripvec_model_fuzz_" + std::to_string(::getpid()) + ".safetensors");
  std::mt19937_64 rng(0x5eed5afe);
  int opened = 0, rejected = 0;
  constexpr int kIterations = 5000;
  std::vector<float> buf;
  for (int it = 0; it < kIterations; ++it) {
    const std::string bytes = it == 0 ? base : mutate(base, header.size(), rng);
    {
      // A fresh inode each time: truncating and rewriting one file makes ext4 flush it to
      // disk on close (auto_da_alloc), which turns a CPU-bound loop into an I/O-bound one.
      std::error_code ec;
      fs::remove(path, ec);
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    try {
      SafeTensors st = SafeTensors::open(path);
      ++opened;
      for (const auto& name : st.names()) {
        const TensorInfo& t = st.get(name, st.get(name).shape);
        ASSERT_GE(t.numel(), 0);
        ASSERT_EQ(t.nbytes, static_cast<size_t>(t.numel()) * elem_size(t.dtype))
            << "iteration " << it << " tensor " << name;
        ASSERT_EQ(reinterpret_cast<uintptr_t>(t.data) % elem_size(t.dtype), 0u);
        buf.assign(static_cast<size_t>(t.numel()), 0.0f);
        convert_to_f32(t, buf.data());
      }
      st.metadata();
    } catch (const ModelFormatError& e) {
      ++rejected;
      ASSERT_NE(std::string(e.what()).find(path.string()), std::string::npos)
          << "iteration " << it << ": message does not name the file: " << e.what();
    } catch (const IoError&) {
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << it << ": unexpected exception: " << e.what();
    }
  }
  std::error_code ec;
  fs::remove(path, ec);
  // The corpus must exercise both outcomes, or the mutator is not doing its job.
  EXPECT_GT(opened, 100);
  EXPECT_GT(rejected, 1000);
  std::printf("opened %d, rejected %d of %d mutations\n", opened, rejected, kIterations);
}

}  // namespace
}  // namespace ripvec
