// safetensors reader. Layout: u64 LE header length N, N bytes of JSON header, data section.
// Everything in the header is validated before any tensor is handed out, so that code
// downstream can trust every TensorInfo (span inside the mapping, size == numel x dtype size).
#include "ripvec/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>

#include "ripvec/error.hpp"
#include "util/aligned_vector.hpp"
#include "util/resource_errno.hpp"

namespace ripvec {

namespace {

using nlohmann::json;

// The format stores little-endian values and tensors are handed out zero-copy.
static_assert(std::endian::native == std::endian::little, "big-endian hosts are not supported");

// Same bound as the reference Rust implementation (safetensors::MAX_HEADER_SIZE): a header
// larger than this is not a model, it is an attack or a corrupt length field.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// Real headers nest 3 levels ({name: {shape: [..]}}); anything deeper is rejected before
// parsing so a hostile header cannot exhaust the stack.
constexpr int kMaxJsonDepth = 16;

struct DTypeDesc {
  const char* name;
  unsigned bits;  // element size in bits (sub-byte float formats exist)
  bool supported;
  DType dtype;
};

// Every dtype the safetensors spec (and the reference implementation) knows. Only F32, F16
// and BF16 are usable as weights; the rest are validated for size and overlap (so the file
// as a whole is checked) but not exposed: BERT checkpoints commonly carry an I64
// "position_ids" buffer that must not make the whole file unreadable.
constexpr DTypeDesc kDTypes[] = {
    {"F32", 32, true, DType::F32},     {"F16", 16, true, DType::F16},
    {"BF16", 16, true, DType::BF16},   {"F64", 64, false, DType::F32},
    {"I64", 64, false, DType::F32},    {"U64", 64, false, DType::F32},
    {"I32", 32, false, DType::F32},    {"U32", 32, false, DType::F32},
    {"I16", 16, false, DType::F32},    {"U16", 16, false, DType::F32},
    {"I8", 8, false, DType::F32},      {"U8", 8, false, DType::F32},
    {"BOOL", 8, false, DType::F32},    {"F8_E5M2", 8, false, DType::F32},
    {"F8_E4M3", 8, false, DType::F32}, {"F8_E8M0", 8, false, DType::F32},
    {"F6_E2M3", 6, false, DType::F32}, {"F6_E3M2", 6, false, DType::F32},
    {"F4", 4, false, DType::F32},      {"C64", 64, false, DType::F32},
};

const DTypeDesc* find_dtype(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

size_t dtype_size(DType d) {
  switch (d) {
    case DType::F32:
    case DType::I32:
      return 4;
    case DType::F16:
    case DType::BF16:
      return 2;
  }
  return 0;
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::I32:
      return "I32";
  }
  return "?";
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string quote_name(std::string_view s) {
  // Tensor names come from the file; keep messages printable and unambiguous.
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// Bracket structure of a JSON text that starts with '{', ignoring brackets inside strings.
struct JsonScan {
  int max_depth = 0;    // stops counting once `limit` is exceeded
  size_t end = 0;       // offset just past the bracket closing the top-level value
  bool closed = false;  // false: the text ends (or the limit was hit) inside the value
};
// Stops at the top-level value's closing bracket, so that bytes after it (the data section,
// when the header length field is too large) are reported as such, not parsed as JSON.
JsonScan scan_json(const char* p, size_t n, int limit) {
  JsonScan r;
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < n; ++i) {
    char c = p[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{' || c == '[') {
      r.max_depth = std::max(r.max_depth, ++depth);
      if (r.max_depth > limit) return r;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) {
        r.end = i + 1;
        r.closed = true;
        return r;
      }
    }
  }
  return r;
}

// Reads a JSON integer that must be non-negative and fit in int64 (uint64 for offsets).
bool get_u64(const json& v, uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer()) {
    int64_t x = v.get<int64_t>();
    if (x < 0) return false;
    out = static_cast<uint64_t>(x);
    return true;
  }
  return false;
}

class Mapping {
 public:
  Mapping() = default;
  Mapping(void* p, size_t n) : p_(p), n_(n) {}
  Mapping(Mapping&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~Mapping() { reset(); }
  const std::byte* data() const { return static_cast<const std::byte*>(p_); }
  size_t size() const { return n_; }

 private:
  void reset() {
    if (p_) munmap(p_, n_);
    p_ = nullptr;
    n_ = 0;
  }
  void* p_ = nullptr;
  size_t n_ = 0;
};

struct AlignedFree {
  void operator()(std::byte* p) const { CacheAlignedAllocator<std::byte>().deallocate(p, 0); }
};

}  // namespace

struct SafeTensors::Impl {
  std::filesystem::path path;
  Mapping mapping;
  std::map<std::string, std::string> metadata;
  std::vector<TensorInfo> tensors;  // sorted by name
  std::unordered_map<std::string, size_t> index;
  // Tensors of a dtype the engine cannot use (name -> dtype name); get() names the dtype.
  std::map<std::string, std::string, std::less<>> unsupported;
  // Copies of tensors whose position in the file is not aligned to their element size.
  std::vector<std::unique_ptr<std::byte[], AlignedFree>> realigned;

  [[noreturn]] void fail(const std::string& msg) const {
    throw ModelFormatError("invalid safetensors file " + path.string() + ": " + msg);
  }
  [[noreturn]] void fail_tensor(const std::string& name, const std::string& msg) const {
    throw ModelFormatError("invalid safetensors file " + path.string() + ": tensor " +
                           quote_name(name) + ": " + msg);
  }

  void parse(const std::byte* base, size_t file_size);
};

void SafeTensors::Impl::parse(const std::byte* base, size_t file_size) {
  if (file_size < 8)
    fail("file is " + std::to_string(file_size) + " bytes, too small for the 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(base[i]);
  if (header_len > file_size - 8)
    fail("header length " + std::to_string(header_len) + " runs past the end of the file (" +
         std::to_string(file_size) + " bytes)");
  if (header_len > kMaxHeaderBytes)
    fail("header length " + std::to_string(header_len) + " exceeds the " +
         std::to_string(kMaxHeaderBytes) + "-byte limit");
  if (header_len < 2) fail("header length " + std::to_string(header_len) + " is too small");

  const char* hdr = reinterpret_cast<const char*>(base + 8);
  if (hdr[0] != '{') fail("header does not start with '{'");
  const JsonScan scan = scan_json(hdr, header_len, kMaxJsonDepth);
  if (scan.max_depth > kMaxJsonDepth)
    fail("header JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  if (!scan.closed)
    fail("header is not valid JSON: its object is not closed within the header length " +
         std::to_string(header_len) + " (truncated, or a corrupt length field?)");
  // Writers may pad the header with spaces; anything else after the object means the length
  // field covers bytes that are not header (typically the data section).
  for (size_t i = scan.end; i < header_len; ++i) {
    const char c = hdr[i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      fail("header length " + std::to_string(header_len) + " does not match the header: its " +
           "JSON object ends after " + std::to_string(scan.end) +
           " bytes and non-space bytes follow (a corrupt length field?)");
  }

  // Duplicate tensor names would make the header ambiguous (which entry wins depends on
  // the parser); reject them like the reference implementation does.
  std::set<std::string> seen_keys;
  std::string duplicate;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      const auto& k = parsed.get_ref<const std::string&>();
      if (!seen_keys.insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(hdr, hdr + header_len, cb, /*allow_exceptions=*/true,
                         /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) fail("tensor " + quote_name(duplicate) + " appears twice in the header");
  if (!header.is_object()) fail("header is not a JSON object");

  const uint64_t data_start = 8 + header_len;
  const uint64_t data_len = file_size - data_start;

  struct Span {
    uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Span> spans;
  spans.reserve(header.size());

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail("__metadata__ is not a JSON object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          fail("__metadata__ entry " + quote_name(m.key()) + " is not a string");
        metadata.emplace(m.key(), m.value().get<std::string>());
      }
      continue;
    }
    if (!v.is_object()) fail_tensor(name, "entry is not a JSON object");

    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) fail_tensor(name, "missing or non-string \"dtype\"");
    const std::string& dtype_str = dt->get_ref<const std::string&>();
    const DTypeDesc* desc = find_dtype(dtype_str);
    if (!desc) fail_tensor(name, "unknown dtype " + quote_name(dtype_str));

    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) fail_tensor(name, "missing or non-array \"shape\"");
    std::vector<int64_t> shape;
    shape.reserve(sh->size());
    uint64_t numel = 1;
    bool overflow = false;
    for (const json& d : *sh) {
      uint64_t dim = 0;
      if (!get_u64(d, dim) || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail_tensor(name, "shape entry " + d.dump() + " is not a non-negative integer");
      shape.push_back(static_cast<int64_t>(dim));
      if (__builtin_mul_overflow(numel, dim, &numel)) overflow = true;
    }
    // A zero dimension makes the product 0 even if an earlier partial product overflowed.
    if (std::find(shape.begin(), shape.end(), 0) != shape.end()) {
      numel = 0;
      overflow = false;
    }
    uint64_t nbits = 0;
    if (overflow || numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(numel, uint64_t{desc->bits}, &nbits))
      fail_tensor(name, "shape " + shape_str(shape) + " has too many elements");

    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2)
      fail_tensor(name, "\"data_offsets\" is not an array of two integers");
    uint64_t begin = 0, end = 0;
    if (!get_u64((*off)[0], begin) || !get_u64((*off)[1], end))
      fail_tensor(name, "\"data_offsets\" " + off->dump() + " are not non-negative integers");
    if (begin > end)
      fail_tensor(name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                            "] end before they begin");
    if (end > data_len)
      fail_tensor(name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                            "] run past the data section (" + std::to_string(data_len) + " bytes)");
    const uint64_t span = end - begin;
    if (nbits % 8 != 0 || span != nbits / 8)
      fail_tensor(name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                            "] span " + std::to_string(span) + " bytes, but shape " +
                            shape_str(shape) + " of " + desc->name + " needs " +
                            (nbits % 8 ? std::to_string(nbits) + " bits"
                                       : std::to_string(nbits / 8) + " bytes"));
    spans.push_back({begin, end, &name});

    if (!desc->supported) {
      unsupported.emplace(name, desc->name);
      continue;
    }
    TensorInfo t;
    t.name = name;
    t.dtype = desc->dtype;
    t.shape = std::move(shape);
    t.data = base + data_start + begin;
    t.nbytes = static_cast<size_t>(span);
    tensors.push_back(std::move(t));
  }

  // Overlap check on non-empty spans (an empty tensor occupies no bytes).
  std::erase_if(spans, [](const Span& s) { return s.begin == s.end; });
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].begin < spans[i - 1].end)
      fail("tensors " + quote_name(*spans[i - 1].name) + " [" + std::to_string(spans[i - 1].begin) +
           ", " + std::to_string(spans[i - 1].end) + ") and " + quote_name(*spans[i].name) + " [" +
           std::to_string(spans[i].begin) + ", " + std::to_string(spans[i].end) + ") overlap");
  }

  std::sort(tensors.begin(), tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  for (size_t i = 0; i < tensors.size(); ++i) index.emplace(tensors[i].name, i);

  // Writers pad the header so data is 8-byte aligned, but the format does not require it.
  // Consumers read weights as float/uint16 arrays, so give them aligned memory either way.
  for (TensorInfo& t : tensors) {
    const size_t align = dtype_size(t.dtype);
    if (t.nbytes == 0) {
      t.data = base;  // nothing to read; keep the pointer aligned and inside the mapping
      continue;
    }
    if (reinterpret_cast<uintptr_t>(t.data) % align == 0) continue;
    std::unique_ptr<std::byte[], AlignedFree> copy(
        CacheAlignedAllocator<std::byte>().allocate(t.nbytes));
    std::memcpy(copy.get(), t.data, t.nbytes);
    t.data = copy.get();
    realigned.push_back(std::move(copy));
  }
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafeTensors::SafeTensors(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SafeTensors::SafeTensors(SafeTensors&&) noexcept = default;
SafeTensors& SafeTensors::operator=(SafeTensors&&) noexcept = default;
SafeTensors::~SafeTensors() = default;

SafeTensors SafeTensors::open(const std::filesystem::path& path, Pages pages) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw IoError("cannot open safetensors file " + path.string() + ": " + std::strerror(err) +
                  process_limit_note(err));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw IoError("cannot stat safetensors file " + path.string() + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError("safetensors path " + path.string() + " is not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    impl->fail("file is " + std::to_string(size) +
               " bytes, too small for the 8-byte header length");
  }
  // MAP_POPULATE: the finite check and the first forward pass read every byte; one populate
  // call maps the cached pages far faster than ~22,000 separate page faults (90 MB model).
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | (pages == Pages::Whole ? MAP_POPULATE : 0),
                 fd, 0);
  int err = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (p == MAP_FAILED)
    throw IoError("cannot mmap safetensors file " + path.string() + ": " + std::strerror(err) +
                  process_limit_note(err));
  impl->mapping = Mapping(p, size);
  impl->parse(impl->mapping.data(), size);
  return SafeTensors(std::move(impl));
}

const TensorInfo* SafeTensors::find(std::string_view name) const {
  auto it = impl_->index.find(std::string(name));
  return it == impl_->index.end() ? nullptr : &impl_->tensors[it->second];
}

const std::string* SafeTensors::unsupported_dtype(std::string_view name) const {
  auto it = impl_->unsupported.find(name);
  return it == impl_->unsupported.end() ? nullptr : &it->second;
}

const TensorInfo& SafeTensors::get(std::string_view name) const {
  if (const TensorInfo* t = find(name)) return *t;
  if (const std::string* dt = unsupported_dtype(name))
    throw ModelFormatError("tensor " + quote_name(name) + " in " + impl_->path.string() +
                           " has dtype " + *dt + "; supported: F32, F16, BF16");
  throw ModelFormatError("missing tensor " + quote_name(name) + " in " + impl_->path.string());
}

const TensorInfo& SafeTensors::get(std::string_view name,
                                   const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& t = get(name);
  if (t.shape != expected_shape)
    throw ModelFormatError("tensor " + quote_name(name) + " in " + impl_->path.string() +
                           " has shape " + shape_str(t.shape) + ", expected " +
                           shape_str(expected_shape));
  return t;
}

std::vector<std::string> SafeTensors::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->tensors.size());
  for (const auto& t : impl_->tensors) out.push_back(t.name);
  return out;
}

const std::map<std::string, std::string>& SafeTensors::metadata() const {
  return impl_->metadata;
}

const std::filesystem::path& SafeTensors::path() const {
  return impl_->path;
}

namespace {

// IEEE 754 binary16 -> binary32, exact for every input (normals, subnormals, +-0, inf, NaN
// with its payload kept in the high mantissa bits).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal half: value = mant * 2^-24. Normalize into a float exponent.
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    mant &= 0x3ffu;
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

}  // namespace

void convert_to_f32(const TensorInfo& t, float* out) {
  const size_t n = t.nbytes / dtype_size(t.dtype);
  switch (t.dtype) {
    case DType::F32:
      if (n) std::memcpy(out, t.data, n * sizeof(float));
      return;
    case DType::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = half_to_float(h);
      }
      return;
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
      }
      return;
    case DType::I32:
      break;
  }
  throw UnsupportedError(std::string("convert_to_f32: tensor ") + quote_name(t.name) +
                         " has dtype " + dtype_name(t.dtype) + "; supported: F32, F16, BF16");
}

}  // namespace ripvec
