// libFuzzer target: a snapshot file of the index (snapshot-<generation>.bin). The target
// rewrites every section checksum, the payload checksum and the header checksum before opening,
// so that mutations reach the section and record validation instead of stopping at a CRC
// mismatch. Accepts Snapshot::from_bytes succeeding with accessors that stay inside the file
// (chunks, paths, vectors, quantized rows, BM25 postings; exact and quantized top-k search), or
// an IndexError.
#include <cmath>
#include <cstring>
#include <vector>

#include "fuzz_util.hpp"
#include "index/hash.hpp"
#include "index/store.hpp"

using namespace ripvec;
using namespace ripvec::index;

namespace {
// Offsets of SnapshotHeader, format 2 (320 bytes; see src/index/store.hpp): 9 section records
// {u64 offset, u64 size, u32 crc32c, u32 reserved} from byte 88, then the payload and header
// CRCs. A format change must update them (with the seeds: fuzz_gen_store_seeds): with stale
// offsets every input fails the header check and the target fuzzes nothing.
static_assert(kSnapshotVersion == 2, "update the header offsets below and regenerate the seeds");
constexpr size_t kHeader = 320, kSections = 88, kNumSections = 9, kSectionRec = 24;
constexpr size_t kPayloadCrc = 304, kHeaderCrc = 308;
constexpr size_t kMaxChunksVisited = 4096;

void reseal(std::string& bytes) {
  if (bytes.size() < kHeader) return;
  for (size_t i = 0; i < kNumSections; ++i) {
    char* rec = bytes.data() + kSections + i * kSectionRec;
    uint64_t off, len;
    std::memcpy(&off, rec, 8);
    std::memcpy(&len, rec + 8, 8);
    if (off > bytes.size() || len > bytes.size() - off) continue;
    const uint32_t crc = crc32c(bytes.data() + off, len);
    std::memcpy(rec + 16, &crc, 4);
  }
  const uint32_t pcrc = crc32c(bytes.data() + kHeader, bytes.size() - kHeader);
  std::memcpy(bytes.data() + kPayloadCrc, &pcrc, 4);
  std::memset(bytes.data() + kHeaderCrc, 0, 4);
  const uint32_t hcrc = crc32c(bytes.data(), kHeader);
  std::memcpy(bytes.data() + kHeaderCrc, &hcrc, 4);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  reseal(bytes);
  std::shared_ptr<Snapshot> s;
  try {
    s = Snapshot::from_bytes(std::move(bytes), "snapshot-fuzz.bin");
  } catch (const IndexError&) {
    return 0;
  }
  FUZZ_CHECK(s->verify_payload());
  const size_t n = s->num_chunks(), dim = s->dim();
  FUZZ_CHECK(dim > 0);
  FUZZ_CHECK(n * dim * 4 <= s->file_size());
  (void)s->model_key();
  float sum = 0;
  std::string query = "parse config";  // then terms of the first chunk, to reach its postings
  for (size_t i = 0; i < n && i < kMaxChunksVisited; ++i) {
    try {
      Chunk c = s->chunk(i);
      FUZZ_CHECK(c.path == s->chunk_path(i));
      if (i == 0) query += " " + c.symbol + " " + c.path + " " + c.content.substr(0, 200);
    } catch (const IndexError&) {
    }
    const float* v = s->vector(i);
    for (size_t d = 0; d < dim; ++d) sum += v[d] * 0.0f;
  }
  try {
    (void)s->chunk(n);
    FUZZ_CHECK(false);
  } catch (const InvalidArgument&) {
  }
  const QuantizedRows q = s->quantized();
  FUZZ_CHECK(q.n == n && q.dim == dim);
  if (n > 0 && n * dim <= (1u << 20)) {
    std::vector<float> query_vec(dim, 0.0f);
    query_vec[0] = 1.0f;
    const auto exact = top_k_dot(query_vec, s->vectors(), n, dim, 5);
    FUZZ_CHECK(exact.size() == std::min<size_t>(5, n));
    const auto approx = top_k_dot_quantized(query_vec, q, 5);
    FUZZ_CHECK(approx.size() <= std::min<size_t>(5, n));
  }
  std::vector<float> scores(n, 0.0f);
  std::vector<uint32_t> touched;
  try {
    s->bm25().score(query, &scores, &touched);
    for (uint32_t d : touched) FUZZ_CHECK(d < n);
  } catch (const IndexError&) {
  }
  (void)sum;
  return 0;
}
