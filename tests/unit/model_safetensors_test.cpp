// SafeTensors reader: valid files built here, files written by the Python reference
// (tests/data/model, scripts/gen_model_fixtures.py), a corpus of corrupt headers, and the real
// all-MiniLM-L6-v2 checkpoint.
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/test_util.hpp"
#include "ripvec/error.hpp"
#include "ripvec/safetensors.hpp"

namespace ripvec {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("ripvec_model_st_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string u64le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// header text (padded with spaces to a multiple of 8, like the reference writer) + data.
std::string make_file(std::string header, const std::string& data, bool pad = true) {
  if (pad)
    while (header.size() % 8) header += ' ';
  return u64le(header.size()) + header + data;
}

fs::path write(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p;
}

template <typename T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::vector<float> to_f32(const TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  convert_to_f32(t, out.data());
  return out;
}

TEST(SafeTensors, ReadsValidFileBuiltHere) {
  TempDir tmp;
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  // 1.0, -2.0, 65504 (max half), 2^-24 (smallest subnormal), +inf, -0.0
  std::vector<uint16_t> h = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x8000};
  std::vector<uint16_t> bf = {0x3F80, 0xC040};  // 1.0, -3.0
  std::string data = bytes_of(a) + bytes_of(h) + bytes_of(bf);
  json hdr = {
      {"__metadata__", {{"format", "pt"}, {"note", "x"}}},
      {"a", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}},
      {"h", {{"dtype", "F16"}, {"shape", {6}}, {"data_offsets", {24, 36}}}},
      {"bf", {{"dtype", "BF16"}, {"shape", {1, 2}}, {"data_offsets", {36, 40}}}},
      {"empty", {{"dtype", "F32"}, {"shape", {0, 5}}, {"data_offsets", {40, 40}}}},
      {"scalar_empty_span", {{"dtype", "F16"}, {"shape", {4, 0}}, {"data_offsets", {0, 0}}}},
  };
  auto path = write(tmp.path() / "ok.safetensors", make_file(hdr.dump(), data));
  SafeTensors st = SafeTensors::open(path);

  EXPECT_EQ(st.path(), path);
  EXPECT_EQ(st.names(), (std::vector<std::string>{"a", "bf", "empty", "h", "scalar_empty_span"}));
  EXPECT_EQ(st.metadata().at("format"), "pt");
  EXPECT_EQ(st.metadata().at("note"), "x");

  const TensorInfo& ta = st.get("a", {2, 3});
  EXPECT_EQ(ta.dtype, DType::F32);
  EXPECT_EQ(ta.numel(), 6);
  EXPECT_EQ(ta.nbytes, 24u);
  EXPECT_EQ(to_f32(ta), a);

  const TensorInfo& th = st.get("h");
  EXPECT_EQ(th.dtype, DType::F16);
  auto hv = to_f32(th);
  EXPECT_EQ(hv[0], 1.0f);
  EXPECT_EQ(hv[1], -2.0f);
  EXPECT_EQ(hv[2], 65504.0f);
  EXPECT_EQ(hv[3], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(hv[4]) && hv[4] > 0);
  EXPECT_TRUE(hv[5] == 0.0f && std::signbit(hv[5]));

  EXPECT_EQ(to_f32(st.get("bf")), (std::vector<float>{1.0f, -3.0f}));
  const TensorInfo& te = st.get("empty", {0, 5});
  EXPECT_EQ(te.numel(), 0);
  EXPECT_EQ(te.nbytes, 0u);
  convert_to_f32(te, nullptr);  // nothing to write

  EXPECT_EQ(st.find("nope"), nullptr);
  ASSERT_NE(st.find("a"), nullptr);
  EXPECT_EQ(st.find("a"), &ta);

  // Moving keeps the mapping (and the pointers into it) alive.
  SafeTensors moved = std::move(st);
  EXPECT_EQ(to_f32(moved.get("a")), a);
}

TEST(SafeTensors, ErrorsNameTensorFileAndShapes) {
  TempDir tmp;
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  json hdr = {{"layer.weight", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}}};
  auto path = write(tmp.path() / "m.safetensors", make_file(hdr.dump(), bytes_of(a)));
  SafeTensors st = SafeTensors::open(path);
  try {
    st.get("layer.bias");
    FAIL() << "expected ModelFormatError";
  } catch (const ModelFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor \"layer.bias\""), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  try {
    st.get("layer.weight", {3, 2});
    FAIL() << "expected ModelFormatError";
  } catch (const ModelFormatError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[3, 2]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("layer.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  }
}

TEST(SafeTensors, UnsupportedDtypeIsValidatedButOnlyRejectedOnUse) {
  TempDir tmp;
  std::vector<int64_t> ids = {0, 1, 2, 3};
  std::vector<float> w = {0.5f, 1.5f};
  json hdr = {
      {"embeddings.position_ids", {{"dtype", "I64"}, {"shape", {1, 4}}, {"data_offsets", {0, 32}}}},
      {"w", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {32, 40}}}},
  };
  auto path =
      write(tmp.path() / "i64.safetensors", make_file(hdr.dump(), bytes_of(ids) + bytes_of(w)));
  SafeTensors st = SafeTensors::open(path);
  EXPECT_EQ(st.names(), std::vector<std::string>{"w"});
  EXPECT_EQ(st.find("embeddings.position_ids"), nullptr);
  try {
    st.get("embeddings.position_ids");
    FAIL() << "expected ModelFormatError";
  } catch (const ModelFormatError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("I64"), std::string::npos) << msg;
    EXPECT_NE(msg.find("embeddings.position_ids"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  }
  // The size of an unsupported tensor is still checked.
  json bad = {{"ids", {{"dtype", "I64"}, {"shape", {1, 4}}, {"data_offsets", {0, 16}}}}};
  auto bad_path = write(tmp.path() / "bad_i64.safetensors", make_file(bad.dump(), bytes_of(ids)));
  EXPECT_THROW(SafeTensors::open(bad_path), ModelFormatError);
}

TEST(SafeTensors, UnalignedDataIsRealigned) {
  TempDir tmp;
  std::vector<float> a = {1.25f, -7.5f, 3.0f};
  // One byte of padding inside the data section before "a", and no header padding: the
  // tensor sits at an odd file offset.
  json hdr = {
      {"a", {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {1, 13}}}},
      {"h", {{"dtype", "F16"}, {"shape", {1}}, {"data_offsets", {13, 15}}}},
  };
  std::vector<uint16_t> h = {0x3C00};
  std::string text = hdr.dump();
  auto path = write(tmp.path() / "unaligned.safetensors",
                    make_file(text, std::string(1, '\0') + bytes_of(a) + bytes_of(h), false));
  SafeTensors st = SafeTensors::open(path);
  const TensorInfo& t = st.get("a");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % alignof(float), 0u);
  EXPECT_EQ(reinterpret_cast<const float*>(t.data)[1], -7.5f);
  EXPECT_EQ(to_f32(t), a);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(st.get("h").data) % 2, 0u);
  EXPECT_EQ(to_f32(st.get("h")), std::vector<float>{1.0f});
}

TEST(SafeTensors, IoErrors) {
  TempDir tmp;
  EXPECT_THROW(SafeTensors::open(tmp.path() / "does_not_exist.safetensors"), IoError);
  EXPECT_THROW(SafeTensors::open(tmp.path()), IoError);  // a directory
}

struct Corrupt {
  const char* label;
  std::string bytes;
  std::vector<std::string> must_mention;  // besides the file path
};

std::vector<Corrupt> corrupt_cases() {
  std::string f24(24, '\0');
  auto one = [](const std::string& entry) { return "{\"t\":" + entry + "}"; };
  std::string deep = std::string(200, '[') + std::string(200, ']');
  return {
      {"empty file", "", {"too small"}},
      {"5 bytes", "\x01\x02\x03\x04\x05", {"too small"}},
      {"length only", u64le(0), {"too small"}},
      {"header length past EOF", u64le(1000) + "{}", {"past the end"}},
      {"header length 2^63", u64le(uint64_t{1} << 63) + "{}", {"past the end"}},
      {"garbage JSON", make_file("{not json at all", ""), {"not valid JSON"}},
      {"JSON array", make_file("[1,2]", ""), {"'{'"}},
      {"truncated JSON", make_file("{\"t\": {\"dtype\": \"F32\"", ""), {"not valid JSON"}},
      {"entry not an object", make_file(one("3"), ""), {"\"t\"", "not a JSON object"}},
      {"missing dtype",
       make_file(one(R"({"shape":[1],"data_offsets":[0,4]})"), f24),
       {"\"t\"", "dtype"}},
      {"unknown dtype",
       make_file(one(R"({"dtype":"F33","shape":[1],"data_offsets":[0,4]})"), f24),
       {"\"t\"", "unknown dtype", "F33"}},
      {"negative shape",
       make_file(one(R"({"dtype":"F32","shape":[-1,2],"data_offsets":[0,4]})"), f24),
       {"\"t\"", "-1"}},
      {"float shape",
       make_file(one(R"({"dtype":"F32","shape":[2.5],"data_offsets":[0,4]})"), f24),
       {"\"t\"", "2.5"}},
      {"string shape",
       make_file(one(R"({"dtype":"F32","shape":"2","data_offsets":[0,4]})"), f24),
       {"\"t\"", "shape"}},
      {"span != numel*size",
       make_file(one(R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,20]})"), f24),
       {"\"t\"", "[2, 3]", "24 bytes", "span 20"}},
      {"F16 size lie",
       make_file(one(R"({"dtype":"F16","shape":[6],"data_offsets":[0,24]})"), f24),
       {"\"t\"", "needs 12 bytes"}},
      {"offsets past data section",
       make_file(one(R"({"dtype":"F32","shape":[8],"data_offsets":[0,32]})"), f24),
       {"\"t\"", "past the data section"}},
      {"offsets far past",
       make_file(
           one(R"({"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]})"),
           f24),
       {"\"t\""}},
      {"begin > end",
       make_file(one(R"({"dtype":"F32","shape":[0],"data_offsets":[8,4]})"), f24),
       {"\"t\"", "[8, 4]"}},
      {"negative offset",
       make_file(one(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})"), f24),
       {"\"t\""}},
      {"one offset",
       make_file(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})"), f24),
       {"\"t\"", "data_offsets"}},
      {"overlap",
       make_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                 f24),
       {"\"a\"", "\"b\"", "overlap"}},
      {"same span twice",
       make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                 f24),
       {"overlap"}},
      {"numel overflow",
       make_file(one(R"({"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]})"),
                 f24),
       {"\"t\"", "too many elements"}},
      {"bytes overflow",
       make_file(one(R"({"dtype":"F32","shape":[1152921504606846976],"data_offsets":[0,0]})"), f24),
       {"\"t\"", "too many elements"}},
      {"u64 dim",
       make_file(one(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,0]})"),
                 f24),
       {"\"t\""}},
      {"metadata not strings",
       make_file(R"({"__metadata__":{"format":1}})", ""),
       {"__metadata__", "format"}},
      {"metadata not object", make_file(R"({"__metadata__":[]})", ""), {"__metadata__"}},
      {"duplicate name",
       make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                 f24),
       {"\"a\"", "twice"}},
      {"deep nesting", make_file("{\"t\":" + deep + "}", ""), {"nests deeper"}},
      {"header length 0", u64le(0) + "{}", {"too small"}},
      {"invalid utf8 in name", make_file("{\"\xff\xfe\":{}}", ""), {"not valid JSON"}},
      {"comment", make_file("{/*c*/}", ""), {"not valid JSON"}},
  };
}

TEST(SafeTensors, CorruptFilesThrowModelFormatErrorNamingFileAndTensor) {
  TempDir tmp;
  int i = 0;
  for (const Corrupt& c : corrupt_cases()) {
    SCOPED_TRACE(c.label);
    auto path = write(tmp.path() / ("corrupt_" + std::to_string(i++) + ".safetensors"), c.bytes);
    try {
      SafeTensors::open(path);
      ADD_FAILURE() << "accepted a corrupt file: " << c.label;
    } catch (const ModelFormatError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
      for (const auto& m : c.must_mention) EXPECT_NE(msg.find(m), std::string::npos) << msg;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "wrong exception type for " << c.label << ": " << e.what();
    }
  }
}

// Issue 10: a header length field that covers the data section too (the JSON object ends,
// binary data follows) was reported as "nests deeper than 16 levels" when the data held brackets.
TEST(SafeTensors, HeaderLengthCoveringDataIsReportedPrecisely) {
  TempDir tmp;
  const std::string hdr = R"({"t":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})";
  const std::string data = std::string(20, '[') + "\x01\x02\x03";  // brackets in the data
  const std::string body = hdr + data;
  {  // length = everything after the 8-byte field
    auto path = write(tmp.path() / "len_rest.safetensors", u64le(body.size()) + body);
    try {
      SafeTensors::open(path);
      ADD_FAILURE() << "accepted a header length covering the data";
    } catch (const ModelFormatError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("does not match the header"), std::string::npos) << msg;
      EXPECT_NE(msg.find("ends after " + std::to_string(hdr.size()) + " bytes"), std::string::npos)
          << msg;
      EXPECT_EQ(msg.find("nests deeper"), std::string::npos) << msg;
    }
  }
  {  // length = the whole file size
    const std::string file = u64le(8 + body.size()) + body;
    auto path = write(tmp.path() / "len_file.safetensors", file);
    try {
      SafeTensors::open(path);
      ADD_FAILURE() << "accepted a header length equal to the file size";
    } catch (const ModelFormatError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("runs past the end of the file"), std::string::npos) << msg;
    }
  }
  {  // padding with spaces after the object stays valid
    std::string padded = hdr + std::string(5, ' ');
    auto path = write(tmp.path() / "padded.safetensors",
                      u64le(padded.size()) + padded + std::string(8, '\0'));
    EXPECT_NO_THROW(SafeTensors::open(path));
  }
}

// Issue 10 item 6: NaN/Inf in weights must fail at load, naming the tensor, for every dtype the
// engine reads; finite extremes (max, subnormals, -0) pass.
TEST(SafeTensors, NanWeightNamesTensor) {
  TempDir tmp;
  struct Case {
    const char* dtype;
    std::string bad_bytes;  // one element
    const char* shown;      // how the value is printed
  };
  auto f32 = [](uint32_t bits) { return bytes_of(std::vector<uint32_t>{bits}); };
  auto u16 = [](uint16_t bits) { return bytes_of(std::vector<uint16_t>{bits}); };
  const std::vector<Case> cases = {
      {"F32", f32(0x7fc00000u), "nan"}, {"F32", f32(0xff800000u), "-inf"},
      {"F32", f32(0x7f800001u), "nan"}, {"F16", u16(0x7e00), "nan"},
      {"F16", u16(0x7c00), "inf"},      {"BF16", u16(0x7fc0), "nan"},
      {"BF16", u16(0xff80), "-inf"},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.dtype) + " " + c.shown);
    const size_t esize = std::string(c.dtype) == "F32" ? 4 : 2;
    // "a.ok" is finite; "b.bad" has the bad value at element 5000 of 9000 (past the first
    // vectorised block), with finite extremes elsewhere.
    std::string ok, bad;
    for (int i = 0; i < 16; ++i) ok += esize == 4 ? f32(0x7f7fffffu) : u16(0x7bff);
    for (int i = 0; i < 9000; ++i) {
      if (i == 5000)
        bad += c.bad_bytes;
      else
        bad += esize == 4 ? f32(i % 2 ? 0x80000000u : 0x00000001u) : u16(i % 2 ? 0x8000 : 0x0001);
    }
    json hdr = {
        {"a.ok", {{"dtype", c.dtype}, {"shape", {16}}, {"data_offsets", {0, ok.size()}}}},
        {"b.bad",
         {{"dtype", c.dtype},
          {"shape", {9000}},
          {"data_offsets", {ok.size(), ok.size() + bad.size()}}}},
    };
    auto path = write(tmp.path() / ("nan_" + std::to_string(n++) + ".safetensors"),
                      make_file(hdr.dump(), ok + bad));
    SafeTensors st = SafeTensors::open(path);  // the format itself is valid
    try {
      check_finite(st);
      ADD_FAILURE() << "non-finite weight accepted";
    } catch (const ModelFormatError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("\"b.bad\""), std::string::npos) << msg;
      EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
      EXPECT_NE(msg.find("element 5000"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::string("(") + c.shown + " "), std::string::npos) << msg;
    }
  }
  // All finite (including max, subnormal and -0 values): accepted.
  std::string fine;
  for (int i = 0; i < 5000; ++i)
    fine += f32(i % 3 == 0 ? 0x7f7fffffu : i % 3 == 1 ? 1u : 0x80000000u);
  json hdr = {{"w", {{"dtype", "F32"}, {"shape", {5000}}, {"data_offsets", {0, fine.size()}}}}};
  auto path = write(tmp.path() / "finite.safetensors", make_file(hdr.dump(), fine));
  EXPECT_NO_THROW(check_finite(SafeTensors::open(path)));
}

// The real checkpoint is finite (the check must not reject real models).
TEST(SafeTensors, RealMiniLMCheckpointIsFinite) {
  const auto dir = test::default_model_dir();
  RIPVEC_REQUIRE_PATH(dir / "model.safetensors");
  EXPECT_NO_THROW(check_finite(SafeTensors::open(dir / "model.safetensors")));
}

// Files written by the Python reference implementation; every F16 bit pattern converted by
// torch's .float() must match bit for bit (NaN payloads included).
TEST(SafeTensors, MatchesPythonReferenceConversions) {
  auto src_path = test::test_data("model/ref_mixed.safetensors");
  auto exp_path = test::test_data("model/ref_mixed.expected.safetensors");
  RIPVEC_REQUIRE_PATH(src_path);
  SafeTensors src = SafeTensors::open(src_path);
  SafeTensors exp = SafeTensors::open(exp_path);
  EXPECT_EQ(src.metadata().at("format"), "pt");
  // position_ids is I64: present in the file, not usable as a weight.
  EXPECT_EQ(src.find("embeddings.position_ids"), nullptr);
  EXPECT_THROW(src.get("embeddings.position_ids"), ModelFormatError);
  EXPECT_EQ(src.names(), exp.names());
  ASSERT_EQ(src.names().size(), 5u);
  EXPECT_EQ(src.get("f16.all_bit_patterns").numel(), 65536);
  EXPECT_EQ(src.get("f16.scalar").shape, std::vector<int64_t>{});
  EXPECT_EQ(src.get("f16.scalar").numel(), 1);
  EXPECT_EQ(src.get("bf16.samples").dtype, DType::BF16);
  EXPECT_EQ(src.get("f32.empty").shape, (std::vector<int64_t>{0, 3}));
  for (const auto& name : src.names()) {
    SCOPED_TRACE(name);
    const TensorInfo& s = src.get(name);
    const TensorInfo& e = exp.get(name, s.shape);
    ASSERT_EQ(e.dtype, DType::F32);
    std::vector<float> got = to_f32(s);
    std::vector<float> want = to_f32(e);
    ASSERT_EQ(got.size(), want.size());
    size_t mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      uint32_t g = std::bit_cast<uint32_t>(got[i]), w = std::bit_cast<uint32_t>(want[i]);
      if (g != w && !(std::isnan(got[i]) && std::isnan(want[i]))) {
        if (mismatches++ < 5)
          ADD_FAILURE() << "element " << i << ": " << std::hex << g << " vs " << w;
      }
    }
    EXPECT_EQ(mismatches, 0u);
  }
}

// The real default model. Its tensor names carry no "bert." prefix (checked below), and it
// holds an I64 embeddings.position_ids buffer that must not stop it from loading.
TEST(SafeTensors, RealMiniLMCheckpointMatchesPythonReader) {
  auto dir = test::default_model_dir();
  auto path = dir / "model.safetensors";
  RIPVEC_REQUIRE_PATH(path);
  auto ref_path = test::test_data("model/minilm_tensors.json");
  std::ifstream rf(ref_path);
  json ref = json::parse(rf);
  ASSERT_EQ(ref["file_bytes"].get<uint64_t>(), fs::file_size(path))
      << "a different all-MiniLM-L6-v2 file than the one the fixture was made from";

  SafeTensors st = SafeTensors::open(path);
  EXPECT_EQ(st.metadata().at("format"), "pt");
  const auto names = st.names();
  EXPECT_EQ(names.size(), 103u);  // 104 in the file, minus the I64 position_ids
  for (const auto& n : names) EXPECT_NE(n.rfind("bert.", 0), 0u) << n;
  EXPECT_EQ(st.get("embeddings.word_embeddings.weight", {30522, 384}).dtype, DType::F32);
  st.get("embeddings.position_embeddings.weight", {512, 384});
  st.get("embeddings.token_type_embeddings.weight", {2, 384});
  st.get("encoder.layer.5.intermediate.dense.weight", {1536, 384});
  st.get("pooler.dense.weight", {384, 384});
  EXPECT_THROW(st.get("embeddings.position_ids"), ModelFormatError);

  size_t checked = 0;
  for (auto it = ref["tensors"].begin(); it != ref["tensors"].end(); ++it) {
    const std::string& name = it.key();
    const json& r = it.value();
    SCOPED_TRACE(name);
    if (r["dtype"] != "float32") {
      EXPECT_EQ(st.find(name), nullptr);
      continue;
    }
    const TensorInfo& t = st.get(name, r["shape"].get<std::vector<int64_t>>());
    std::vector<float> v = to_f32(t);
    for (size_t i = 0; i < r["first"].size(); ++i) EXPECT_EQ(v[i], r["first"][i].get<float>());
    double sum = 0;
    for (float x : v) sum += x;
    const double want = r["sum"].get<double>();
    EXPECT_NEAR(sum, want, 1e-9 * v.size() + 1e-9 * std::fabs(want));
    ++checked;
  }
  EXPECT_EQ(checked, names.size());
}

}  // namespace
}  // namespace ripvec
