#include "index/store.hpp"

#include <limits>
#include <type_traits>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unordered_map>

#include "index/hash.hpp"
#include "ripvec/bytes.hpp"
#include "ripvec/error.hpp"
#include "util/resource_errno.hpp"
#include "util/text_util.hpp"
#include "util/thread_pool.hpp"

namespace ripvec::index {
namespace fs = std::filesystem;

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

std::atomic<uint64_t> g_tmp_counter{0};

const char* file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  return "not a regular file";
}

// Index files are opened never through a symlink (O_NOFOLLOW), never blocking in open() (a
// FIFO put in place of a file would wait for a writer forever), and only a regular file is
// accepted (a device such as /dev/zero never ends). Anything else is a damaged index:
// IndexError, which makes update() rebuild. IoError when the file cannot be opened at all.
constexpr int kIndexOpenFlags = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

[[noreturn]] void throw_open_error(const fs::path& path, int e) {
  if (e == ELOOP) throw IndexError(path.string() + " is a symbolic link, not an index file");
  if (e == ENXIO) throw IndexError(path.string() + " is not a regular file");
  throw IoError("cannot open " + path.string() + ": " + std::strerror(e) + process_limit_note(e));
}

// Takes an fd opened with kIndexOpenFlags: fills *st, requires a regular file, clears
// O_NONBLOCK. Closes fd and throws otherwise.
int checked_index_fd(int fd, const fs::path& path, struct stat* st) {
  if (::fstat(fd, st) != 0) {
    const int e = errno;
    ::close(fd);
    throw IoError("cannot stat " + path.string() + ": " + std::strerror(e));
  }
  if (!S_ISREG(st->st_mode)) {
    ::close(fd);
    throw IndexError(path.string() + " is " + file_kind(st->st_mode) + ", not an index file");
  }
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    const int e = errno;
    ::close(fd);
    throw IoError("cannot use " + path.string() + ": " + std::strerror(e));
  }
  return fd;
}

int open_index_file(const fs::path& path, int flags, struct stat* st) {
  const int fd = ::open(path.c_str(), flags | kIndexOpenFlags, 0644);
  if (fd < 0) throw_open_error(path, errno);
  return checked_index_fd(fd, path, st);
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: some file systems refuse directory fds
  ::fsync(fd);
  ::close(fd);
}

constexpr size_t kAlign = 64;
inline uint64_t align_up(uint64_t x) {
  return (x + kAlign - 1) / kAlign * kAlign;
}

// ----- object format -----
struct ObjectHeader {
  char magic[8];
  uint32_t version;
  uint32_t dim;
  uint32_t n_chunks;
  uint32_t payload_crc;
  uint64_t payload_len;
  char id[64];
  char model_key[32];
  uint32_t header_crc;
  uint32_t reserved;
};
static_assert(sizeof(ObjectHeader) == 136);
constexpr char kObjectMagic[8] = {'R', 'V', 'O', 'B', 'J', 0, 0, 1};

void put_fixed(char* dst, size_t cap, std::string_view s) {
  std::memset(dst, 0, cap);
  std::memcpy(dst, s.data(), std::min(cap, s.size()));
}
std::string_view get_fixed(const char* src, size_t cap) {
  size_t n = 0;
  while (n < cap && src[n] != 0) ++n;
  return {src, n};
}

void put_u32(std::string* out, uint32_t v) {
  out->append(reinterpret_cast<const char*>(&v), 4);
}
void put_str(std::string* out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

struct Reader {
  std::string_view data;
  size_t pos = 0;
  std::string_view origin;
  void need(size_t n) const {
    if (n > data.size() - pos)
      throw IndexError("object " + std::string(origin) + " is truncated or malformed");
  }
  uint32_t u32() {
    need(4);
    uint32_t v;
    std::memcpy(&v, data.data() + pos, 4);
    pos += 4;
    return v;
  }
  std::string str() {
    uint32_t n = u32();
    need(n);
    std::string s(data.substr(pos, n));
    pos += n;
    return s;
  }
  // A LEB128 varint as put_object_terms writes it: at most 5 bytes, a value below 2^32, no
  // redundant last byte (every object has one encoding, which re-encodes to the same bytes).
  uint32_t varint() {
    if (pos < data.size() && static_cast<uint8_t>(data[pos]) < 0x80)  // one byte: most of them
      return static_cast<uint8_t>(data[pos++]);
    uint64_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      need(1);
      const auto b = static_cast<uint8_t>(data[pos++]);
      v |= uint64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (v > UINT32_MAX || (b == 0 && shift > 0)) break;
        return static_cast<uint32_t>(v);
      }
    }
    throw IndexError("object " + std::string(origin) + " is malformed (a number out of range)");
  }
  size_t left() const { return data.size() - pos; }
};

// ----- snapshot format -----
enum Section : int {
  kStrings = 0,
  kFiles,
  kChunks,
  kVecF32,
  kVecI8,
  kScales,
  kErr,
  kTerms,
  kPostings,
  kNumSections
};

const char* const kSectionNames[kNumSections] = {"strings", "files",        "chunks",
                                                 "vectors", "int8 vectors", "scales",
                                                 "errors",  "terms",        "postings"};

struct SectionRec {
  uint64_t offset, size;
  uint32_t crc;  // CRC-32C of the section's bytes (padding excluded)
  uint32_t reserved;
};
static_assert(sizeof(SectionRec) == 24);

struct SnapshotHeader {
  char magic[8];
  uint32_t version;
  uint32_t dim;
  uint64_t n_files, n_chunks, n_terms, n_postings;
  uint64_t file_size;
  char model_key[32];
  SectionRec sections[kNumSections];
  uint32_t payload_crc;
  uint32_t header_crc;
  uint8_t reserved[8];
};
static_assert(sizeof(SnapshotHeader) == 320);
static_assert(sizeof(SnapshotHeader) % 64 == 0);
constexpr char kSnapshotMagic[8] = {'R', 'V', 'S', 'N', 'A', 'P', 0, 1};

struct FileRec {
  uint64_t path_off;
  uint32_t path_len;
  uint32_t first_chunk;
  uint32_t n_chunks;
  uint32_t flags;
  uint64_t size;
};
static_assert(sizeof(FileRec) == 32);

struct ChunkRec {
  uint32_t file;
  int32_t start_line;
  int32_t end_line;
  uint32_t symbol_len;
  uint64_t symbol_off;
  uint64_t content_off;
  uint32_t content_len;
  uint16_t kind_len;
  uint16_t lang_len;
  uint64_t kind_off;
  uint64_t lang_off;
};
static_assert(sizeof(ChunkRec) == 56);

struct TermRec {
  uint64_t str_off;
  uint32_t str_len;
  uint32_t reserved;
  uint64_t post_begin, post_end;
};
static_assert(sizeof(TermRec) == 32);
static_assert(sizeof(Posting) == 8);

uint32_t header_crc_of(SnapshotHeader h) {
  h.header_crc = 0;
  return crc32c(&h, sizeof(h));
}
uint32_t header_crc_of(ObjectHeader h) {
  h.header_crc = 0;
  return crc32c(&h, sizeof(h));
}

struct InternHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Everything the snapshot holds, except the float vectors which are streamed from objects.
// The string table is a list of pieces (views into the objects, the interned strings and the
// terms below), written in order without being copied into one buffer first. Moving the parts
// keeps those views valid (map nodes and vector elements stay where they are); never copy it.
struct SnapshotParts {
  std::vector<std::string_view> strings;
  uint64_t strings_size = 0;
  std::unordered_map<std::string, uint64_t, InternHash, std::equal_to<>> interned;
  std::vector<std::string> term_strings;
  std::vector<FileRec> files;
  std::vector<ChunkRec> chunks;
  struct FileCodes {
    const int8_t* codes = nullptr;  // [n_chunks, dim]
    const float *scales = nullptr, *err = nullptr;
  };
  std::vector<FileCodes> file_codes;  // per file: its prep's arrays, or into the ones below
  std::vector<int8_t> codes;          // of the files without prepared codes
  std::vector<float> scales, err;
  std::vector<TermRec> terms;
  std::vector<Posting> postings;
  SnapshotHeader header{};
  std::unique_ptr<struct TermsPlan> bm25;  // counted: sizes known, postings not filled yet
};

// The snapshot's postings from the files' term lists: each file's prep where it holds terms
// made for this path and chunk count (already merged into `dict` when its ids say so); the
// other files are tokenized here, consecutive ones together in blocks of about two per thread
// (their dictionaries are merged serially).
struct TermsPlan {
  Bm25Dictionary local;  // when the caller gave none
  std::vector<Bm25Doc> docs;
  std::vector<Bm25Block> made;
  std::vector<Bm25BlockRef> refs;
  std::optional<Bm25Build> build;
};

std::unique_ptr<TermsPlan> merge_terms(std::span<const SnapshotFileInput> files,
                                       Bm25Dictionary* dict) {
  auto plan = std::make_unique<TermsPlan>();
  Bm25Dictionary& d = dict ? *dict : plan->local;
  auto usable = [&](const SnapshotFileInput& f) -> const SnapshotPrep* {
    const SnapshotPrep* pr = f.object->prep.get();
    if (!pr || pr->path != f.path || pr->terms.num_docs() != f.object->chunks.size())
      return nullptr;
    const bool merged = pr->dict_id == d.id();
    const bool whole = !pr->terms.terms.empty() || pr->terms.entry_term.empty();
    return merged || whole ? pr : nullptr;
  };
  size_t missing = 0;
  for (const auto& f : files)
    if (!usable(f)) missing += f.object->chunks.size();
  const size_t per_block = std::max<size_t>(256, missing / (ThreadPool::global().size() * 2) + 1);
  // The plan, in file order: a prep, or a slice of documents to tokenize (slices never cross a
  // prep, so documents keep their order).
  struct Step {
    const SnapshotPrep* prep = nullptr;
    size_t slice = 0;
  };
  std::vector<Step> steps;
  std::vector<Bm25Doc>& docs = plan->docs;
  docs.reserve(missing);
  std::vector<std::pair<size_t, size_t>> slices;  // [first, last) into docs
  size_t open_slice = SIZE_MAX;
  for (const auto& f : files) {
    if (const SnapshotPrep* pr = usable(f)) {
      steps.push_back({pr, 0});
      open_slice = SIZE_MAX;
      continue;
    }
    for (const StoredChunk& c : f.object->chunks) {
      if (open_slice == SIZE_MAX ||
          slices[open_slice].second - slices[open_slice].first >= per_block) {
        open_slice = slices.size();
        slices.push_back({docs.size(), docs.size()});
        steps.push_back({nullptr, open_slice});
      }
      docs.push_back({c.symbol, f.path, c.content});
      slices[open_slice].second++;
    }
  }
  std::vector<Bm25Block>& made = plan->made;
  made.resize(slices.size());
  parallel_for(0, static_cast<int64_t>(slices.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s)
      made[s] =
          bm25_block(std::span(docs).subspan(slices[s].first, slices[s].second - slices[s].first));
  });
  std::vector<Bm25BlockRef>& refs = plan->refs;
  refs.reserve(steps.size());
  for (const Step& st : steps) {
    if (!st.prep) {
      refs.push_back({&made[st.slice], nullptr});
      continue;
    }
    const bool merged = st.prep->dict_id == d.id();
    refs.push_back({&st.prep->terms, merged ? &st.prep->term_ids : nullptr});
  }
  plan->build.emplace(refs, d);
  return plan;
}

SnapshotParts build_parts(std::span<const SnapshotFileInput> files, uint32_t dim,
                          std::string_view model_key, Bm25Dictionary* dict) {
  SnapshotParts p;
  // Paths, kinds and languages repeat: stored once. Symbols and contents are appended as-is
  // (views into the objects, which outlive the write).
  auto append = [&](std::string_view s) -> uint64_t {
    const uint64_t off = p.strings_size;
    if (!s.empty()) p.strings.push_back(s);
    p.strings_size += s.size();
    return off;
  };
  auto intern = [&](std::string_view s) -> uint64_t {
    auto it = p.interned.find(s);
    if (it != p.interned.end()) return it->second;
    auto added = p.interned.emplace(std::string(s), p.strings_size).first;
    return append(added->first);  // the map's nodes (and so their keys) never move
  };
  size_t n = 0;
  for (auto& f : files) {
    if (f.object->vectors.size() != f.object->chunks.size() * dim)
      throw IndexError("snapshot input for " + f.path + ": vector count does not match chunks");
    n += f.object->chunks.size();
  }
  if (n > UINT32_MAX) throw IndexError("index too large: more than 2^32 chunks");
  p.files.reserve(files.size());
  p.chunks.reserve(n);
  for (size_t fi = 0; fi < files.size(); ++fi) {
    const auto& f = files[fi];
    FileRec fr{};
    fr.path_off = intern(f.path);
    fr.path_len = static_cast<uint32_t>(f.path.size());
    fr.first_chunk = static_cast<uint32_t>(p.chunks.size());
    fr.n_chunks = static_cast<uint32_t>(f.object->chunks.size());
    fr.flags = f.flags;
    fr.size = f.size;
    p.files.push_back(fr);
    for (const StoredChunk& c : f.object->chunks) {
      ChunkRec cr{};
      cr.file = static_cast<uint32_t>(fi);
      cr.start_line = c.start_line;
      cr.end_line = c.end_line;
      cr.symbol_off = append(c.symbol);
      cr.symbol_len = static_cast<uint32_t>(c.symbol.size());
      cr.kind_off = intern(c.kind.substr(0, 0xFFFF));
      cr.kind_len = static_cast<uint16_t>(std::min<size_t>(c.kind.size(), 0xFFFF));
      cr.lang_off = intern(c.language.substr(0, 0xFFFF));
      cr.lang_len = static_cast<uint16_t>(std::min<size_t>(c.language.size(), 0xFFFF));
      cr.content_len = static_cast<uint32_t>(c.content.size());
      cr.content_off = append(c.content);
      p.chunks.push_back(cr);
    }
  }

  // Keyword terms: counted now (the layout needs their sizes), filled by finish_terms while
  // the rest is written.
  p.bm25 = merge_terms(files, dict);
  const Bm25Build& bb = *p.bm25->build;

  // int8 codes: the preps' where they were made (written from there), quantized here into
  // p.codes for the other files.
  p.file_codes.assign(files.size(), {});
  std::vector<size_t> fallback;  // files quantized here
  size_t missing = 0;
  for (size_t fi = 0; fi < files.size(); ++fi) {
    const size_t cnt = p.files[fi].n_chunks;
    const SnapshotPrep* pr = files[fi].object->prep.get();
    if (pr && pr->codes.size() == cnt * dim && pr->scales.size() == cnt && pr->err.size() == cnt)
      p.file_codes[fi] = {pr->codes.data(), pr->scales.data(), pr->err.data()};
    else if (cnt > 0) {
      fallback.push_back(fi);
      missing += cnt;
    }
  }
  p.codes.resize(missing * dim);
  p.scales.resize(missing);
  p.err.resize(missing);
  std::vector<size_t> fallback_at(fallback.size());  // first row in p.codes
  for (size_t i = 0, at = 0; i < fallback.size(); at += p.files[fallback[i]].n_chunks, ++i) {
    fallback_at[i] = at;
    p.file_codes[fallback[i]] = {p.codes.data() + at * dim, p.scales.data() + at,
                                 p.err.data() + at};
  }
  parallel_for(0, static_cast<int64_t>(fallback.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const size_t fi = fallback[i], at = fallback_at[i];
      quantize_rows(files[fi].object->vectors.data(), p.files[fi].n_chunks, dim,
                    p.codes.data() + at * dim, p.scales.data() + at, p.err.data() + at);
    }
  });
  SnapshotHeader& h = p.header;
  std::memcpy(h.magic, kSnapshotMagic, 8);
  h.version = kSnapshotVersion;
  h.dim = dim;
  h.n_files = p.files.size();
  h.n_chunks = n;
  h.n_terms = bb.num_terms();
  h.n_postings = bb.num_postings();
  put_fixed(h.model_key, sizeof(h.model_key), model_key);
  const uint64_t sizes[kNumSections] = {p.strings_size + bb.term_bytes(),
                                        p.files.size() * sizeof(FileRec),
                                        p.chunks.size() * sizeof(ChunkRec),
                                        uint64_t(n) * dim * 4,
                                        uint64_t(n) * dim,
                                        uint64_t(n) * 4,
                                        uint64_t(n) * 4,
                                        h.n_terms * sizeof(TermRec),
                                        h.n_postings * sizeof(Posting)};
  uint64_t off = sizeof(SnapshotHeader);
  for (int s = 0; s < kNumSections; ++s) {
    off = align_up(off);
    h.sections[s] = {off, sizes[s], 0, 0};  // crc: set by emit_parts
    off += sizes[s];
  }
  h.file_size = off;
  return p;
}

// The postings (sorted terms, filled lists) and the term strings at the end of the string
// table, which the layout already counted.
void finish_terms(SnapshotParts& p) {
  Bm25Postings bp = p.bm25->build->finish();
  if (bp.terms.size() != p.header.n_terms || bp.postings.size() != p.header.n_postings)
    throw IndexError("snapshot layout error (internal: term counts)");
  p.term_strings = std::move(bp.terms);
  p.terms.resize(p.term_strings.size());
  uint64_t off = p.strings_size;
  for (size_t t = 0; t < p.term_strings.size(); ++t) {
    p.terms[t].str_off = off;
    p.terms[t].str_len = static_cast<uint32_t>(p.term_strings[t].size());
    p.terms[t].post_begin = bp.offsets[t];
    p.terms[t].post_end = bp.offsets[t + 1];
    off += p.term_strings[t].size();
  }
  p.postings = std::move(bp.postings);
}

// Writes the parts (and the objects' vectors) through sinks made by `make_sink()` (each a
// callable sink(offset, data, n) with flush(), used by one thread) on writer threads: first
// everything the layout placed already (string contents, file and chunk records, vectors, int8
// codes), while the pool sorts the terms and fills the postings (finish_terms), then those.
// Each phase's bytes are cut into up to `writers.writers` contiguous ranges of about equal size
// (at least min_writer_bytes), one thread and one sink each (snapshot_writers). The checksums are
// computed once, in pieces of about 4 MiB on the pool, and combined into each section's CRC and the
// payload CRC. Fills in the header's CRC fields and returns the payload CRC.
template <typename MakeSink>
uint32_t emit_parts(SnapshotParts& p, std::span<const SnapshotFileInput> files,
                    MakeSink&& make_sink, SnapshotWriters writers) {
  struct Piece {
    const void* data;
    size_t n;
    int section;  // -1: padding between sections (in the payload CRC only)
    uint64_t off;
  };
  constexpr size_t kPiece = size_t(4) << 20;
  static const char kZeros[kAlign] = {};
  auto& S = p.header.sections;
  uint64_t pos = sizeof(SnapshotHeader);
  // Pieces in file order, in segments: 0 before the term strings, 1 the term strings, 2 up to
  // the term records, 3 those, 4 the padding before the postings, 5 the postings. Segments 1,
  // 3 and 5 exist only once finish_terms has run.
  std::vector<Piece> seg[6];
  int cur = 0;
  auto put = [&](const void* d, size_t n, int section) {
    for (size_t off = 0; off < n; off += kPiece)  // long arrays: several pieces
      seg[cur].push_back(
          {static_cast<const char*>(d) + off, std::min(kPiece, n - off), section, pos + off});
    pos += n;
  };
  auto begin = [&](Section s) {
    if (S[s].offset < pos) throw IndexError("snapshot layout error (internal)");
    put(kZeros, S[s].offset - pos, -1);
  };
  const uint32_t dim = p.header.dim;
  begin(kStrings);
  for (std::string_view piece : p.strings) put(piece.data(), piece.size(), kStrings);
  const uint64_t term_strings_at = pos;
  pos += S[kStrings].offset + S[kStrings].size - pos;  // segment 1
  cur = 2;
  begin(kFiles);
  put(p.files.data(), p.files.size() * sizeof(FileRec), kFiles);
  begin(kChunks);
  put(p.chunks.data(), p.chunks.size() * sizeof(ChunkRec), kChunks);
  begin(kVecF32);  // from the objects
  for (auto& f : files) put(f.object->vectors.data(), f.object->vectors.size() * 4, kVecF32);
  begin(kVecI8);
  for (size_t fi = 0; fi < files.size(); ++fi)
    put(p.file_codes[fi].codes, size_t(p.files[fi].n_chunks) * dim, kVecI8);
  begin(kScales);
  for (size_t fi = 0; fi < files.size(); ++fi)
    put(p.file_codes[fi].scales, size_t(p.files[fi].n_chunks) * 4, kScales);
  begin(kErr);
  for (size_t fi = 0; fi < files.size(); ++fi)
    put(p.file_codes[fi].err, size_t(p.files[fi].n_chunks) * 4, kErr);
  begin(kTerms);
  pos += S[kTerms].size;  // segment 3
  cur = 4;
  begin(kPostings);
  if (pos + S[kPostings].size != p.header.file_size)
    throw IndexError("snapshot layout error (internal)");

  // The writer: segments 0, 2 and 4 at once, the others when they are ready.
  std::mutex mu;
  std::condition_variable cv;
  bool terms_ready = false, abort = false;
  std::exception_ptr write_error;
  // The pieces of some segments through `writers` threads, contiguous ranges of about equal
  // bytes (a range ends at a piece boundary).
  auto write_segments = [&](std::initializer_list<int> gs) {
    std::vector<const Piece*> list;
    uint64_t total = 0;
    for (int g : gs)
      for (const Piece& pc : seg[g]) {
        list.push_back(&pc);
        total += pc.n;
      }
    const size_t w = std::clamp<size_t>(total / std::max<size_t>(writers.min_writer_bytes, 1), 1,
                                        std::max(writers.writers, 1u));
    std::vector<std::pair<size_t, size_t>> ranges;
    uint64_t acc = 0;
    size_t from = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      acc += list[i]->n;
      if (ranges.size() + 1 < w && acc * w >= total * (ranges.size() + 1)) {
        ranges.emplace_back(from, i + 1);
        from = i + 1;
      }
    }
    ranges.emplace_back(from, list.size());
    std::vector<std::exception_ptr> errors(ranges.size());
    auto run = [&](size_t r) {
      try {
        auto sink = make_sink();
        for (size_t i = ranges[r].first; i < ranges[r].second; ++i)
          sink(list[i]->off, list[i]->data, list[i]->n);
        sink.flush();
      } catch (...) {
        errors[r] = std::current_exception();
      }
    };
    std::vector<std::thread> extra;
    try {
      for (size_t r = 1; r < ranges.size(); ++r) extra.emplace_back(run, r);
    } catch (...) {  // no thread to be had: join the ones started, write the rest here
      for (auto& t : extra) t.join();
      for (size_t r = extra.size() + 1; r < ranges.size(); ++r) run(r);
      extra.clear();
    }
    run(0);
    for (auto& t : extra) t.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  };
  std::thread writer([&] {
    try {
      write_segments({0, 2, 4});
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return terms_ready || abort; });
        if (abort) return;
      }
      write_segments({1, 3, 5});
    } catch (...) {
      write_error = std::current_exception();
    }
  });
  try {
    finish_terms(p);
    pos = term_strings_at;
    cur = 1;
    for (const std::string& t : p.term_strings) put(t.data(), t.size(), kStrings);
    pos = S[kTerms].offset;
    cur = 3;
    put(p.terms.data(), p.terms.size() * sizeof(TermRec), kTerms);
    pos = S[kPostings].offset;
    cur = 5;
    put(p.postings.data(), p.postings.size() * sizeof(Posting), kPostings);
  } catch (...) {
    {
      std::lock_guard lk(mu);
      abort = true;
    }
    cv.notify_all();
    writer.join();
    throw;
  }
  {
    std::lock_guard lk(mu);
    terms_ready = true;
  }
  cv.notify_all();

  // Checksum tasks over the pieces in file order: runs of consecutive pieces of one section,
  // about kPiece bytes each, computed in parallel while the writer writes.
  std::vector<const Piece*> ordered;
  for (const auto& g : seg)
    for (const Piece& pc : g) ordered.push_back(&pc);
  struct Task {
    size_t first, last;  // into ordered
    uint64_t n = 0;
    uint32_t crc = 0;
  };
  std::vector<Task> tasks;
  for (size_t i = 0; i < ordered.size(); ++i) {
    if (ordered[i]->n == 0) continue;
    if (tasks.empty() || ordered[tasks.back().last - 1]->section != ordered[i]->section ||
        tasks.back().n + ordered[i]->n > kPiece)
      tasks.push_back({i, i});
    tasks.back().last = i + 1;
    tasks.back().n += ordered[i]->n;
  }
  try {
    parallel_for(0, static_cast<int64_t>(tasks.size()), 1, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t)
        for (size_t i = tasks[t].first; i < tasks[t].last; ++i)
          tasks[t].crc = crc32c(ordered[i]->data, ordered[i]->n, tasks[t].crc);
    });
  } catch (...) {
    writer.join();
    throw;
  }
  writer.join();
  if (write_error) std::rethrow_exception(write_error);
  uint32_t crc = 0;
  uint32_t section_crc[kNumSections] = {};
  uint64_t covered = 0;
  for (const Task& t : tasks) {
    crc = crc32c_combine(crc, t.crc, t.n);
    covered += t.n;
    const int s = ordered[t.first]->section;
    if (s >= 0) section_crc[s] = crc32c_combine(section_crc[s], t.crc, t.n);
  }
  if (covered != p.header.file_size - sizeof(SnapshotHeader))
    throw IndexError("snapshot layout error (internal: pieces do not cover the file)");
  for (int s = 0; s < kNumSections; ++s) S[s].crc = section_crc[s];
  p.header.payload_crc = crc;
  p.header.header_crc = header_crc_of(p.header);
  return crc;
}

}  // namespace

// ---------------- file-system primitives ----------------

AtomicFile::AtomicFile(fs::path path) : path_(std::move(path)) {
  tmp_ = path_;
  tmp_ += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(g_tmp_counter++);
  fd_ = ::open(tmp_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError("cannot create " + tmp_.string() + ": " + errno_text());
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, std::min<size_t>(n, 1 << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot write " + tmp_.string() + ": " + errno_text());
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset_ += static_cast<uint64_t>(w);
  }
}

void AtomicFile::pwrite(const void* data, size_t n, uint64_t offset) {
  auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot write " + tmp_.string() + ": " + errno_text());
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
}

void AtomicFile::commit(bool sync) {
  if (sync && ::fsync(fd_) != 0)
    throw IoError("cannot fsync " + tmp_.string() + ": " + errno_text());
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw IoError("cannot close " + tmp_.string() + ": " + errno_text());
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    throw IoError("cannot rename " + tmp_.string() + " to " + path_.string() + ": " + errno_text());
  committed_ = true;
  if (sync) fsync_dir(path_.parent_path());
}

void AtomicFile::start_writeback() {
#ifdef __linux__
  if (offset_ > writeback_from_)
    ::sync_file_range(fd_, static_cast<off_t>(writeback_from_),
                      static_cast<off_t>(offset_ - writeback_from_), SYNC_FILE_RANGE_WRITE);
#endif
  writeback_from_ = offset_;
}

void AtomicFile::start_writeback(uint64_t offset, uint64_t n) {
#ifdef __linux__
  if (n > 0)
    ::sync_file_range(fd_, static_cast<off_t>(offset), static_cast<off_t>(n),
                      SYNC_FILE_RANGE_WRITE);
#endif
}

void atomic_write_file(const fs::path& path, std::string_view bytes, bool sync) {
  AtomicFile f(path);
  f.write(bytes.data(), bytes.size());
  if (!sync) f.start_writeback();
  f.commit(sync);
}

std::string read_file(const fs::path& path, uint64_t max_bytes) {
  struct stat st {};
  const int fd = open_index_file(path, O_RDONLY, &st);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    ::close(fd);
    throw IndexError(path.string() + " is " + std::to_string(size) +
                     " bytes, more than an index file of its kind may hold (" +
                     std::to_string(max_bytes) + ")");
  }
  // Exactly the size fstat reported: a file growing meanwhile is cut there (and then fails
  // its checks), so the read is bounded whatever happens to the file.
  std::string out(static_cast<size_t>(size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t r = ::read(fd, out.data() + got, out.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      throw IoError("cannot read " + path.string() + ": " + std::strerror(e));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

namespace {
constexpr std::string_view kSkipMagic = "RVSKIP1\n";
}  // namespace

uint64_t skip_key(std::string_view about) {
  const std::array<uint8_t, 32> d = sha256(about);
  uint64_t k;
  std::memcpy(&k, d.data(), sizeof k);
  return k;
}

std::vector<uint64_t> read_skip_memory(const fs::path& path) {
  std::string bytes;
  try {
    bytes = read_file(path, kMaxSkipMemoryBytes);
  } catch (const Error&) {
    return {};
  }
  if (bytes.size() < kSkipMagic.size() || bytes.compare(0, kSkipMagic.size(), kSkipMagic) != 0 ||
      (bytes.size() - kSkipMagic.size()) % 8 != 0)
    return {};
  std::vector<uint64_t> keys((bytes.size() - kSkipMagic.size()) / 8);
  std::memcpy(keys.data(), bytes.data() + kSkipMagic.size(), keys.size() * 8);
  if (!std::is_sorted(keys.begin(), keys.end()) ||
      std::adjacent_find(keys.begin(), keys.end()) != keys.end())
    return {};
  return keys;
}

void write_skip_memory(const fs::path& path, std::span<const uint64_t> keys) {
  std::string bytes(kSkipMagic);  // then the keys as they lie in memory, as put_u32 writes
  bytes.append(reinterpret_cast<const char*>(keys.data()), keys.size() * sizeof(uint64_t));
  atomic_write_file(path, bytes, /*sync=*/false);
}

void create_private_directories(const fs::path& dir, std::error_code& ec) {
  ec.clear();
  fs::path at;
  for (const auto& part : dir) {
    at /= part;
    if (::mkdir(at.c_str(), 0700) == 0 || errno == EEXIST) continue;
    ec = std::error_code(errno, std::generic_category());
    return;
  }
  if (!fs::is_directory(dir, ec) && !ec) ec = std::make_error_code(std::errc::not_a_directory);
}

void sync_filesystem(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    ::sync();
    return;
  }
  if (::syncfs(fd) != 0) ::sync();
  ::close(fd);
}

namespace {
bool decimal(std::string_view d) {
  return !d.empty() && std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
}
}  // namespace

bool is_temp_file_name(std::string_view name) {
  // Exactly AtomicFile's form: "report.tmp.docx" is someone's file.
  const size_t at = name.rfind(".tmp.");
  if (at == std::string_view::npos || at == 0) return false;
  const std::string_view tail = name.substr(at + 5);
  const size_t dot = tail.find('.');
  return dot != std::string_view::npos && decimal(tail.substr(0, dot)) &&
         decimal(tail.substr(dot + 1));
}

bool is_snapshot_file_name(std::string_view name) {
  constexpr std::string_view kPrefix = "snapshot-", kSuffix = ".bin";
  return name.starts_with(kPrefix) && name.ends_with(kSuffix) &&
         name.size() > kPrefix.size() + kSuffix.size() &&
         decimal(name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size()));
}

FileLock::FileLock(const fs::path& path, bool allow_read_only, bool wait) {
  // A lock file removed (`ripvec index --clean`) or replaced while we waited for it locks
  // nothing any more, and a folder removed before we opened it has no lock file to open: lock
  // the file the path names now, the folder made again when it went.
  for (int attempt = 0;; ++attempt) {
    uint64_t dev = 0, ino = 0;
    bool gone = false;
    const bool locked = lock_once(path, allow_read_only, wait, &dev, &ino, &gone);
    if (!gone) {
      if (!locked || fd_ < 0) return;
      struct stat now {};
      if (::lstat(path.c_str(), &now) != 0 ? errno != ENOENT
                                           : (static_cast<uint64_t>(now.st_dev) == dev &&
                                              static_cast<uint64_t>(now.st_ino) == ino))
        return;  // still the file the path names (or it cannot be told: keep the lock)
      ::flock(fd_, LOCK_UN);
      ::close(fd_);
      fd_ = -1;
      exclusive_ = false;
    }
    if (attempt >= 100)
      throw IoError("cannot lock " + path.string() + ": the lock file keeps being removed");
    std::error_code ec;
    create_private_directories(path.parent_path(), ec);
  }
}

bool FileLock::lock_once(const fs::path& path, bool allow_read_only, bool wait, uint64_t* dev,
                         uint64_t* ino, bool* gone) {
  int lock_op = LOCK_EX;
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR | kIndexOpenFlags, 0644);
  const int err = errno;
  if (fd < 0 && err == ENOENT) {
    *gone = true;
    return false;
  }
  if (fd < 0 && allow_read_only && (err == EACCES || err == EPERM || err == EROFS)) {
    // A cache we may not write: a shared lock still waits for a writer to commit. Without a
    // lock file to open, readers rely on the manifest being replaced atomically.
    fd = ::open(path.c_str(), O_RDONLY | kIndexOpenFlags);
    if (fd < 0) return false;
    lock_op = LOCK_SH;
  } else if (fd < 0) {
    try {
      throw_open_error(path, err);
    } catch (const IndexError& e) {
      // Not ours to delete: another process may be about to lock what it opened there.
      throw IoError(std::string("cannot use the lock file: ") + e.what() + "; remove it");
    } catch (const IoError& e) {
      throw IoError(std::string("cannot open lock file: ") + e.what());
    }
  }
  struct stat st {};
  try {
    fd_ = checked_index_fd(fd, path, &st);
  } catch (const Error& e) {
    throw IoError(std::string("cannot use the lock file: ") + e.what() + "; remove it");
  }
  *dev = static_cast<uint64_t>(st.st_dev);
  *ino = static_cast<uint64_t>(st.st_ino);
  exclusive_ = lock_op == LOCK_EX;
  while (::flock(fd_, lock_op | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    if (!wait && e == EWOULDBLOCK) {
      exclusive_ = false;
      contended_ = true;
      return false;  // held by another process
    }
    if (!exclusive_) return false;  // read-only: reading without the lock is still consistent
    throw IoError("cannot lock " + path.string() + ": " + std::strerror(e));
  }
  return true;
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

std::shared_ptr<MappedFile> MappedFile::open(const fs::path& path) {
  struct stat st {};
  const int fd = open_index_file(path, O_RDONLY, &st);
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->dev_ = st.st_dev;
  m->ino_ = st.st_ino;
  m->size_ = static_cast<size_t>(st.st_size);
  m->mtime_ns_ = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (m->size_ > 0) {
    // MAP_POPULATE: opening a snapshot checks every byte's CRC; one populate call maps the
    // cached pages far faster than a page fault per 4 KiB (70 MB for 21k chunks).
    void* p = ::mmap(nullptr, m->size_, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw IoError("cannot mmap " + path.string() + ": " + std::strerror(e));
    }
    m->data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  return m;
}

bool MappedFile::is_current(const fs::path& path) const {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  return uint64_t(st.st_dev) == dev_ && uint64_t(st.st_ino) == ino_ &&
         uint64_t(st.st_size) == size_ &&
         int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec == mtime_ns_;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

int64_t file_mtime_ns(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return -1;
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// ---------------- objects ----------------

namespace {

// Whether obj's prep holds the whole keyword block of its chunks, strings included (the
// pipeline's prep until its terms are merged into the build's dictionary; one decoded from an
// object of version 4).
bool object_terms_storable(const ObjectData& obj) {
  const SnapshotPrep* pr = obj.prep.get();
  if (pr == nullptr || pr->path.empty()) return false;
  const Bm25Block& b = pr->terms;
  if (b.num_docs() != obj.chunks.size() || b.doc_end.size() != b.num_docs() ||
      b.entry_tf.size() != b.entry_term.size() || b.terms.empty() ||
      (!b.doc_end.empty() && b.doc_end.back() != b.entry_term.size()))
    return false;
  for (size_t d = 1; d < b.doc_end.size(); ++d)
    if (b.doc_end[d] < b.doc_end[d - 1]) return false;
  return true;
}

// Version 4's terms, after the keys: the path they were made for (u32 length + bytes), the
// block's terms (varint count, then varint length + bytes each), then per chunk its three field
// lengths, its entry count and per entry the term's id (the first as is, then each as its
// distance to the one before minus 1: a chunk's ids are strictly increasing) and its three field
// counts, all LEB128 varints.
void put_object_terms(const SnapshotPrep& pr, std::string* out) {
  const Bm25Block& b = pr.terms;
  put_str(out, pr.path);
  // Varints written through a pointer into room for their longest form (5 bytes), then
  // appended: a byte-by-byte append made encoding an object twice as slow.
  size_t most = 5;
  for (const std::string& t : b.terms) most += 5 + t.size();
  most += b.num_docs() * 20 + b.entry_term.size() * 20;
  thread_local std::string scratch;  // grown (and so zeroed) only when too small
  if (scratch.size() < most) scratch.resize(most);
  char* w = scratch.data();
  auto varint = [&w](uint32_t v) {
    while (v >= 0x80) {
      *w++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *w++ = static_cast<char>(v);
  };
  varint(static_cast<uint32_t>(b.terms.size()));
  for (const std::string& t : b.terms) {
    varint(static_cast<uint32_t>(t.size()));
    std::memcpy(w, t.data(), t.size());
    w += t.size();
  }
  uint32_t e = 0;
  for (size_t d = 0; d < b.num_docs(); ++d) {
    for (uint32_t len : b.doc_len[d]) varint(len);
    varint(b.doc_end[d] - e);
    for (uint32_t first = e; e < b.doc_end[d]; ++e) {
      varint(e == first ? b.entry_term[e] : b.entry_term[e] - b.entry_term[e - 1] - 1);
      for (uint32_t tf : b.entry_tf[e]) varint(tf);
    }
  }
  out->append(scratch.data(), static_cast<size_t>(w - scratch.data()));
}

// The terms above for n_chunks chunks, read to the end of the payload. Throws IndexError on
// anything a valid block cannot hold: a term id out of range or not increasing, counts the
// bytes left cannot hold, bytes left over.
std::shared_ptr<SnapshotPrep> get_object_terms(Reader& r, uint32_t n_chunks) {
  auto bad = [&](const char* what) {
    return IndexError("object " + std::string(r.origin) + ": keyword terms " + what);
  };
  auto pr = std::make_shared<SnapshotPrep>();
  pr->path = r.str();
  if (pr->path.empty() || n_chunks == 0) throw bad("are stored where none are written");
  Bm25Block& b = pr->terms;
  const uint32_t n_terms = r.varint();
  if (n_terms == 0 || n_terms > r.left() / 2) throw bad("count does not fit the object");
  b.terms.resize(n_terms);  // at most half the bytes left: two bytes a term at least
  for (std::string& t : b.terms) {
    const uint32_t len = r.varint();
    if (len == 0 || len > kMaxTermBytes) throw bad("hold a term no tokenizer gives");
    r.need(len);
    t.assign(r.data.substr(r.pos, len));
    r.pos += len;
  }
  b.doc_len.resize(n_chunks);
  b.doc_end.resize(n_chunks);
  b.entry_term.reserve(r.left() / 5);  // about 5 bytes an entry
  b.entry_tf.reserve(r.left() / 5);
  for (uint32_t d = 0; d < n_chunks; ++d) {
    for (uint32_t& len : b.doc_len[d]) len = r.varint();
    const uint32_t n = r.varint();
    if (n > r.left() / 4)
      throw bad("entry count does not fit the object");  // 4 bytes each at least
    uint64_t id = 0;
    for (uint32_t i = 0; i < n; ++i) {
      id = i == 0 ? uint64_t(r.varint()) : id + 1 + r.varint();
      if (id >= n_terms) throw bad("name a term the object does not hold");
      b.entry_term.push_back(static_cast<uint32_t>(id));
      std::array<uint32_t, kNumFields> tf{};
      for (uint32_t& c : tf) c = r.varint();
      b.entry_tf.push_back(tf);
    }
    b.doc_end[d] = static_cast<uint32_t>(b.entry_term.size());
  }
  if (r.left() != 0) throw bad("are followed by bytes that belong to nothing");
  return pr;
}

}  // namespace

std::string encode_object(const ObjectData& obj, uint32_t dim, std::string_view id_hex,
                          std::string_view model_key) {
  if (obj.vectors.size() != obj.chunks.size() * dim)
    throw InvalidArgument("encode_object: vectors do not match chunks x dim");
  std::string payload;
  size_t estimate = obj.vectors.size() * 4 + obj.keys.size() * sizeof(ChunkTextKey);
  for (const auto& c : obj.chunks)
    estimate += 24 + c.symbol.size() + c.kind.size() + c.language.size() + c.content.size();
  if (const SnapshotPrep* pr = obj.prep.get()) {
    estimate += 5 * pr->terms.entry_term.size() + 6 * pr->terms.num_docs() + pr->path.size();
    for (const std::string& t : pr->terms.terms) estimate += t.size() + 1;
  }
  payload.reserve(estimate);
  for (const auto& c : obj.chunks) {
    put_u32(&payload, static_cast<uint32_t>(c.start_line));
    put_u32(&payload, static_cast<uint32_t>(c.end_line));
    put_str(&payload, c.symbol);
    put_str(&payload, c.kind);
    put_str(&payload, c.language);
    put_str(&payload, c.content);
  }
  payload.append(reinterpret_cast<const char*>(obj.vectors.data()), obj.vectors.size() * 4);
  if (!obj.keys.empty() && obj.keys.size() != obj.chunks.size())
    throw InvalidArgument("encode_object: keys do not match chunks");
  // Version 3 always carries keys; an object without them (none were made) is written as
  // version 2, which says so. Version 4 adds the chunks' keyword terms where they were made.
  const bool keyed = !obj.keys.empty() || obj.chunks.empty();
  for (const ChunkTextKey& k : obj.keys)
    payload.append(reinterpret_cast<const char*>(k.data()), k.size());
  const bool with_terms = keyed && !obj.chunks.empty() && object_terms_storable(obj);
  if (with_terms) put_object_terms(*obj.prep, &payload);
  ObjectHeader h{};
  std::memcpy(h.magic, kObjectMagic, 8);
  h.version = with_terms ? kObjectVersion : keyed ? 3 : 2;
  h.dim = dim;
  h.n_chunks = static_cast<uint32_t>(obj.chunks.size());
  h.payload_len = payload.size();
  h.payload_crc = crc32c(payload.data(), payload.size());
  put_fixed(h.id, sizeof(h.id), id_hex);
  put_fixed(h.model_key, sizeof(h.model_key), model_key);
  h.header_crc = header_crc_of(h);
  std::string out(reinterpret_cast<const char*>(&h), sizeof(h));
  out += payload;
  return out;
}

ObjectData decode_object(std::string_view bytes, uint32_t dim, std::string_view id_hex,
                         std::string_view model_key, std::string_view origin) {
  const std::string o(origin);
  if (bytes.size() < sizeof(ObjectHeader))
    throw IndexError("object " + o + " is truncated (" + std::to_string(bytes.size()) +
                     " bytes, header needs " + std::to_string(sizeof(ObjectHeader)) + ")");
  ObjectHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  if (std::memcmp(h.magic, kObjectMagic, 8) != 0) throw IndexError("object " + o + ": bad magic");
  if (h.header_crc != header_crc_of(h))
    throw IndexError("object " + o + ": header checksum mismatch");
  if (h.version < 2 || h.version > kObjectVersion)
    throw IndexError("object " + o + ": format version " + std::to_string(h.version));
  if (h.dim != dim)
    throw IndexError("object " + o + ": dim " + std::to_string(h.dim) + ", expected " +
                     std::to_string(dim));
  if (get_fixed(h.id, sizeof(h.id)) != id_hex.substr(0, sizeof(h.id)) ||
      get_fixed(h.model_key, sizeof(h.model_key)) != model_key.substr(0, sizeof(h.model_key)))
    throw IndexError("object " + o + ": id or model key does not match its name");
  if (h.payload_len != bytes.size() - sizeof(ObjectHeader))
    throw IndexError("object " + o + ": payload length " + std::to_string(h.payload_len) +
                     " but file holds " + std::to_string(bytes.size() - sizeof(ObjectHeader)) +
                     " (truncated?)");
  std::string_view payload = bytes.substr(sizeof(ObjectHeader));
  if (crc32c(payload.data(), payload.size()) != h.payload_crc)
    throw IndexError("object " + o + ": payload checksum mismatch");
  // Each chunk takes at least 24 bytes (two lines, four lengths) plus its vector: refuse a
  // count the payload cannot hold before allocating for it.
  if (uint64_t(h.n_chunks) * (24 + uint64_t(dim) * 4) > payload.size())
    throw IndexError("object " + o + ": chunk count " + std::to_string(h.n_chunks) +
                     " does not fit its payload");
  Reader r{payload, 0, origin};
  ObjectData obj;
  obj.chunks.resize(h.n_chunks);
  for (auto& c : obj.chunks) {
    c.start_line = static_cast<int32_t>(r.u32());
    c.end_line = static_cast<int32_t>(r.u32());
    c.symbol = r.str();
    c.kind = r.str();
    c.language = r.str();
    c.content = r.str();
  }
  const size_t vbytes = size_t(h.n_chunks) * dim * 4;
  const size_t kbytes = h.version >= 3 ? size_t(h.n_chunks) * sizeof(ChunkTextKey) : 0;
  if (h.version >= 4 ? payload.size() - r.pos < vbytes + kbytes
                     : payload.size() - r.pos != vbytes + kbytes)
    throw IndexError("object " + o + ": vector section has the wrong size");
  obj.vectors.resize(size_t(h.n_chunks) * dim);
  if (vbytes > 0) std::memcpy(obj.vectors.data(), payload.data() + r.pos, vbytes);
  if (kbytes > 0) {
    obj.keys.resize(h.n_chunks);
    std::memcpy(obj.keys.data(), payload.data() + r.pos + vbytes, kbytes);
  }
  if (h.version >= 4) {
    r.pos += vbytes + kbytes;
    obj.prep = get_object_terms(r, h.n_chunks);
  }
  return obj;
}

ChunkTextKey chunk_text_key(std::span<const int32_t> ids) {
  Sha256 h;
  h.update("ripvec-chunk-ids\0", 17);
  const uint64_t n = ids.size();
  h.update(&n, sizeof(n));
  // Little endian, as every stored integer (the index is not portable to big-endian hosts).
  h.update(ids.data(), ids.size() * sizeof(int32_t));
  const std::array<uint8_t, 32> d = h.finish();
  ChunkTextKey k;
  std::memcpy(k.data(), d.data(), k.size());
  return k;
}

// ---------------- manifest ----------------

namespace {
// JSON strings are Unicode; file names are bytes. A name that is not UTF-8 is stored as NUL +
// "b64:" + base64 of its bytes: no file name contains NUL, so the form cannot collide with a
// real name, and it round-trips exactly (a lossy U+FFFD key would make two names one entry and
// the file look new on every update).
constexpr std::string_view kBytesKeyPrefix{"\0b64:", 5};

std::string path_to_json(const std::string& path) {
  if (text::valid_utf8(path)) return path;
  return std::string(kBytesKeyPrefix) + base64_encode(path);
}

std::string path_from_json(const std::string& key, const std::string& origin) {
  if (key.rfind(kBytesKeyPrefix, 0) != 0) return key;
  auto bytes = base64_decode(std::string_view(key).substr(kBytesKeyPrefix.size()));
  if (!bytes) throw IndexError("manifest " + origin + ": bad byte-string path");
  return *bytes;
}
}  // namespace

std::string encode_manifest(const Manifest& m) {
  nlohmann::json j;
  j["format"] = m.format;
  j["model_id"] = m.model_id;
  j["dim"] = m.dim;
  j["model_key"] = m.model_key;
  if (!m.vectors.empty()) j["vectors"] = m.vectors;
  j["root"] = path_to_json(m.root);
  j["generation"] = m.generation;
  if (m.snapshot) {
    j["snapshot"] = {{"name", m.snapshot->name},
                     {"size", m.snapshot->size},
                     {"mtime_ns", m.snapshot->mtime_ns},
                     {"crc32c", m.snapshot->crc32c},
                     {"n_chunks", m.snapshot->n_chunks}};
  }
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [path, e] : m.files) {
    files[path_to_json(path)] = {
        {"size", e.size}, {"mtime_ns", e.mtime_ns}, {"ctime_ns", e.ctime_ns}, {"ino", e.ino},
        {"id", e.id},     {"status", e.status},     {"chunks", e.chunks}};
  }
  j["files"] = std::move(files);
  // Paths are escaped above; the model id comes from a config file and is replaced if odd.
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// A manifest integer of type T: an integer JSON number within T's range. nlohmann's get<T>()
// converts a float or an out-of-range number with a C++ cast (undefined behaviour for, e.g.,
// 1.8e20 into uint32_t), so the type and the range are checked first.
template <class T>
T manifest_int(const nlohmann::json& v, const char* field, const std::string& origin) {
  auto bad = [&] {
    return IndexError("manifest " + origin + ": \"" + field + "\" is not an integer in range");
  };
  if (!v.is_number_integer()) throw bad();
  if (v.is_number_unsigned()) {
    const uint64_t x = v.get<uint64_t>();
    if (x > static_cast<uint64_t>(std::numeric_limits<T>::max())) throw bad();
    return static_cast<T>(x);
  }
  const int64_t x = v.get<int64_t>();
  if constexpr (std::is_unsigned_v<T>) {
    if (x < 0 || static_cast<uint64_t>(x) > static_cast<uint64_t>(std::numeric_limits<T>::max()))
      throw bad();
  } else {
    if (x < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        x > static_cast<int64_t>(std::numeric_limits<T>::max()))
      throw bad();
  }
  return static_cast<T>(x);
}

}  // namespace

Manifest decode_manifest(std::string_view json, std::string_view origin) {
  const std::string o(origin);
  try {
    auto j = nlohmann::json::parse(json);
    Manifest m;
    m.format = manifest_int<uint32_t>(j.at("format"), "format", o);
    m.model_id = j.at("model_id").get<std::string>();
    m.dim = manifest_int<uint32_t>(j.at("dim"), "dim", o);
    m.model_key = j.at("model_key").get<std::string>();
    if (j.contains("vectors")) m.vectors = j["vectors"].get<std::string>();
    m.root = path_from_json(j.value("root", ""), o);
    m.generation = manifest_int<uint64_t>(j.at("generation"), "generation", o);
    if (j.contains("snapshot")) {
      const auto& s = j["snapshot"];
      SnapshotRecord r;
      r.name = s.at("name").get<std::string>();
      r.size = manifest_int<uint64_t>(s.at("size"), "size", o);
      r.mtime_ns = manifest_int<int64_t>(s.at("mtime_ns"), "mtime_ns", o);
      r.crc32c = manifest_int<uint32_t>(s.at("crc32c"), "crc32c", o);
      r.n_chunks = manifest_int<uint64_t>(s.at("n_chunks"), "n_chunks", o);
      if (r.name.empty() || r.name.find('/') != std::string::npos)
        throw IndexError("manifest " + o + ": bad snapshot name");
      m.snapshot = r;
    }
    for (const auto& [path, e] : j.at("files").items()) {
      ManifestEntry me;
      me.size = manifest_int<uint64_t>(e.at("size"), "size", o);
      me.mtime_ns = manifest_int<int64_t>(e.at("mtime_ns"), "mtime_ns", o);
      if (e.contains("ctime_ns")) me.ctime_ns = manifest_int<int64_t>(e["ctime_ns"], "ctime_ns", o);
      if (e.contains("ino")) me.ino = manifest_int<uint64_t>(e["ino"], "ino", o);
      me.id = e.at("id").get<std::string>();
      me.status = e.at("status").get<std::string>();
      me.chunks = manifest_int<uint32_t>(e.at("chunks"), "chunks", o);
      // The id names a file under objects/: 64 lowercase hex digits (sha256), or empty for
      // a skipped file. Anything else ("../..." from a hostile repo-local index) would be a
      // path outside the index.
      const bool hex =
          me.id.size() == 64 && me.id.find_first_not_of("0123456789abcdef") == std::string::npos;
      if (me.status == "ok" ? !hex : !(hex || me.id.empty()))
        throw IndexError("manifest " + o + ": bad object id for " + path);
      m.files.emplace(path_from_json(path, o), std::move(me));
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    throw IndexError("manifest " + o + " is malformed: " + e.what());
  }
}

// ---------------- snapshot ----------------

void prepare_codes(const ObjectData& obj, uint32_t dim, SnapshotPrep* prep) {
  const size_t n = obj.chunks.size();
  if (obj.vectors.size() != n * dim)
    throw IndexError("prepare_codes: vector count does not match chunks");
  prep->codes.resize(n * dim);
  prep->scales.resize(n);
  prep->err.resize(n);
  if (n > 0)
    quantize_rows(obj.vectors.data(), n, dim, prep->codes.data(), prep->scales.data(),
                  prep->err.data());
}

namespace {

// One writer thread's way into the snapshot file: contiguous runs of pieces gathered into
// writes of about 1 MiB (vectors come one object at a time), and the write-back of every 8 MiB
// written started at once, so that the commit's fsync waits only for the last ones.
class FileSink {
 public:
  explicit FileSink(AtomicFile& out) : out_(out) { buf_.reserve(1 << 20); }
  void operator()(uint64_t off, const void* d, size_t n) {
    if (off != buf_at_ + buf_.size()) {
      flush();
      buf_at_ = off;
    }
    if (n >= (1 << 20)) {
      flush();
      out_.pwrite(d, n, off);
      out_.start_writeback(off, n);
      buf_at_ = off + n;
      return;
    }
    buf_.append(static_cast<const char*>(d), n);
    if (buf_.size() >= (1 << 20)) flush_buffer();
  }
  void flush() {
    flush_buffer();
    start_writeback();
  }

 private:
  void flush_buffer() {
    if (buf_.empty()) return;
    out_.pwrite(buf_.data(), buf_.size(), buf_at_);
    since_writeback_ += buf_.size();
    buf_at_ += buf_.size();
    buf_.clear();
    if (since_writeback_ >= (8u << 20)) start_writeback();
  }
  void start_writeback() {
    if (since_writeback_ > 0) out_.start_writeback(buf_at_ - since_writeback_, since_writeback_);
    since_writeback_ = 0;
  }
  AtomicFile& out_;
  std::string buf_;
  uint64_t buf_at_ = 0, since_writeback_ = 0;
};

// Writer threads for a snapshot file: a quarter of the cores, 2 to 4 (on the 2-core VM the
// write of a storage-only Django snapshot took 163-675 ms with one, 69-179 ms with two).
unsigned snapshot_writers() {
  return std::clamp(std::thread::hardware_concurrency() / 4, 2u, 4u);
}

}  // namespace

SnapshotWriteResult write_snapshot(AtomicFile& out, std::span<const SnapshotFileInput> files,
                                   uint32_t dim, std::string_view model_key, Bm25Dictionary* dict,
                                   SnapshotWriters w) {
  SnapshotParts p = build_parts(files, dim, model_key, dict);
  if (w.writers == 0) w.writers = snapshot_writers();
  const uint32_t crc = emit_parts(
      p, files, [&] { return FileSink(out); }, w);
  out.pwrite(&p.header, sizeof(p.header), 0);
  return {p.header.file_size, crc, p.header.n_chunks};
}

std::string build_snapshot_bytes(std::span<const SnapshotFileInput> files, uint32_t dim,
                                 std::string_view model_key, Bm25Dictionary* dict) {
  SnapshotParts p = build_parts(files, dim, model_key, dict);
  std::string out(p.header.file_size, '\0');
  struct MemorySink {
    std::string& out;
    void operator()(uint64_t off, const void* d, size_t n) { std::memcpy(out.data() + off, d, n); }
    void flush() {}
  };
  emit_parts(
      p, files, [&] { return MemorySink{out}; }, SnapshotWriters{1});
  std::memcpy(out.data(), &p.header, sizeof(p.header));
  return out;
}

namespace {
const SnapshotHeader& hdr(const uint8_t* base) {
  return *reinterpret_cast<const SnapshotHeader*>(base);
}
}  // namespace

bool Snapshot::is_current(const fs::path& path) const {
  return map_ && map_->is_current(path);
}

std::shared_ptr<Snapshot> Snapshot::open_file(const fs::path& path) {
  std::shared_ptr<Snapshot> s(new Snapshot());
  s->map_ = MappedFile::open(path);
  s->base_ = s->map_->data();
  s->size_ = s->map_->size();
  s->validate(path.string());
  return s;
}

std::shared_ptr<Snapshot> Snapshot::from_bytes(std::string bytes, std::string origin) {
  std::shared_ptr<Snapshot> s(new Snapshot());
  s->owned_ = std::move(bytes);
  s->base_ = reinterpret_cast<const uint8_t*>(s->owned_.data());
  s->size_ = s->owned_.size();
  s->validate(origin);
  return s;
}

void Snapshot::validate(std::string_view origin) {
  origin_ = std::string(origin);
  auto bad = [&](const std::string& why) { return IndexError("snapshot " + origin_ + ": " + why); };
  if (size_ < sizeof(SnapshotHeader)) throw bad("truncated (" + std::to_string(size_) + " bytes)");
  if (reinterpret_cast<uintptr_t>(base_) % alignof(SnapshotHeader) != 0)
    throw bad("misaligned buffer");
  const SnapshotHeader& h = hdr(base_);
  if (std::memcmp(h.magic, kSnapshotMagic, 8) != 0) throw bad("bad magic");
  if (h.header_crc != header_crc_of(h)) throw bad("header checksum mismatch");
  if (h.version != kSnapshotVersion)
    throw bad("format version " + std::to_string(h.version) + ", this ripvec reads " +
              std::to_string(kSnapshotVersion));
  if (h.file_size != size_)
    throw bad("header says " + std::to_string(h.file_size) + " bytes, file has " +
              std::to_string(size_) + " (truncated?)");
  if (h.dim == 0 || h.dim > (1u << 16)) throw bad("bad dim " + std::to_string(h.dim));
  if (h.n_chunks > size_ || h.n_files > size_ || h.n_terms > size_ || h.n_postings > size_)
    throw bad("counts exceed the file size");
  const uint64_t n = h.n_chunks, d = h.dim;
  const uint64_t expect[kNumSections] = {h.sections[kStrings].size,
                                         h.n_files * sizeof(FileRec),
                                         n * sizeof(ChunkRec),
                                         n * d * 4,
                                         n * d,
                                         n * 4,
                                         n * 4,
                                         h.n_terms * sizeof(TermRec),
                                         h.n_postings * sizeof(Posting)};
  for (int s = 0; s < kNumSections; ++s) {
    const SectionRec& r = h.sections[s];
    if (r.size != expect[s]) throw bad("section " + std::to_string(s) + " has the wrong size");
    if (r.offset < sizeof(SnapshotHeader) || r.offset % kAlign != 0 || r.offset > size_ ||
        r.size > size_ - r.offset)
      throw bad("section " + std::to_string(s) + " lies outside the file");
  }
  // Every byte a query reads is covered by its section's checksum: a flipped bit anywhere in
  // them is caught here, before anything is served (one CRC-32C pass over the file; see
  // docs/reliability.md for the cost). Pieces of about 4 MiB are checked in parallel and their
  // CRCs combined per section.
  constexpr uint64_t kPiece = uint64_t(4) << 20;
  std::vector<std::pair<int, uint64_t>> pieces;  // (section, offset within it)
  for (int sct = 0; sct < kNumSections; ++sct)
    for (uint64_t off = 0; off < h.sections[sct].size; off += kPiece) pieces.emplace_back(sct, off);
  std::vector<uint32_t> piece_crc(pieces.size());
  parallel_for(0, static_cast<int64_t>(pieces.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const SectionRec& r = h.sections[pieces[i].first];
      const uint64_t off = pieces[i].second;
      piece_crc[i] = crc32c(base_ + r.offset + off, std::min(kPiece, r.size - off));
    }
  });
  uint32_t got[kNumSections] = {};
  for (size_t i = 0; i < pieces.size(); ++i) {
    const SectionRec& r = h.sections[pieces[i].first];
    got[pieces[i].first] = crc32c_combine(got[pieces[i].first], piece_crc[i],
                                          std::min(kPiece, r.size - pieces[i].second));
  }
  int failed = -1;
  for (int sct = 0; sct < kNumSections && failed < 0; ++sct)
    if (got[sct] != h.sections[sct].crc) failed = sct;
  if (failed >= 0)
    throw bad(std::string("checksum mismatch in the ") + kSectionNames[failed] +
              " section (the file is damaged)");
  const auto* files = reinterpret_cast<const FileRec*>(base_ + h.sections[kFiles].offset);
  for (uint64_t i = 0; i < h.n_files; ++i) {
    if (uint64_t(files[i].first_chunk) + files[i].n_chunks > n)
      throw bad("file record " + std::to_string(i) + " points past the chunk table");
    (void)str(files[i].path_off, files[i].path_len);
  }
}

std::string_view Snapshot::str(uint64_t off, uint64_t len) const {
  const SectionRec& r = hdr(base_).sections[kStrings];
  if (off > r.size || len > r.size - off)
    throw IndexError("snapshot " + origin_ + ": string reference outside the string table");
  return {reinterpret_cast<const char*>(base_ + r.offset + off), static_cast<size_t>(len)};
}

uint32_t Snapshot::dim() const {
  return hdr(base_).dim;
}
size_t Snapshot::num_chunks() const {
  return hdr(base_).n_chunks;
}
size_t Snapshot::num_files() const {
  return hdr(base_).n_files;
}
std::string_view Snapshot::model_key() const {
  return get_fixed(hdr(base_).model_key, sizeof(SnapshotHeader::model_key));
}
uint32_t Snapshot::payload_crc() const {
  return hdr(base_).payload_crc;
}

bool Snapshot::verify_payload() const {
  const size_t n = size_ - sizeof(SnapshotHeader);
  return crc32c(base_ + sizeof(SnapshotHeader), n) == hdr(base_).payload_crc;
}

std::string_view Snapshot::chunk_path(size_t i) const {
  const SnapshotHeader& h = hdr(base_);
  const auto* c = reinterpret_cast<const ChunkRec*>(base_ + h.sections[kChunks].offset) + i;
  if (c->file >= h.n_files) throw IndexError("snapshot " + origin_ + ": bad file index");
  const auto* f = reinterpret_cast<const FileRec*>(base_ + h.sections[kFiles].offset) + c->file;
  return str(f->path_off, f->path_len);
}

Chunk Snapshot::chunk(size_t i) const {
  const SnapshotHeader& h = hdr(base_);
  if (i >= h.n_chunks) throw InvalidArgument("chunk index out of range");
  const auto* c = reinterpret_cast<const ChunkRec*>(base_ + h.sections[kChunks].offset) + i;
  Chunk out;
  out.path = std::string(chunk_path(i));
  out.start_line = c->start_line;
  out.end_line = c->end_line;
  out.symbol = std::string(str(c->symbol_off, c->symbol_len));
  out.kind = std::string(str(c->kind_off, c->kind_len));
  out.language = std::string(str(c->lang_off, c->lang_len));
  out.content = std::string(str(c->content_off, c->content_len));
  return out;
}

Snapshot::FileRef Snapshot::file_ref(size_t file) const {
  const SnapshotHeader& h = hdr(base_);
  if (file >= h.n_files) throw IndexError("snapshot " + origin_ + ": bad file index");
  const auto* f = reinterpret_cast<const FileRec*>(base_ + h.sections[kFiles].offset) + file;
  return {str(f->path_off, f->path_len), f->first_chunk, f->n_chunks, f->flags, f->size};
}

Snapshot::ChunkRef Snapshot::chunk_ref(size_t i) const {
  const SnapshotHeader& h = hdr(base_);
  if (i >= h.n_chunks) throw InvalidArgument("chunk index out of range");
  const auto* c = reinterpret_cast<const ChunkRec*>(base_ + h.sections[kChunks].offset) + i;
  if (c->file >= h.n_files) throw IndexError("snapshot " + origin_ + ": bad file index");
  return {c->file,
          c->start_line,
          c->end_line,
          str(c->symbol_off, c->symbol_len),
          str(c->kind_off, c->kind_len),
          str(c->lang_off, c->lang_len),
          str(c->content_off, c->content_len)};
}

const float* Snapshot::vectors() const {
  return reinterpret_cast<const float*>(base_ + hdr(base_).sections[kVecF32].offset);
}
const float* Snapshot::vector(size_t i) const {
  return vectors() + i * dim();
}

QuantizedRows Snapshot::quantized() const {
  const SnapshotHeader& h = hdr(base_);
  QuantizedRows q;
  q.codes = reinterpret_cast<const int8_t*>(base_ + h.sections[kVecI8].offset);
  q.scales = reinterpret_cast<const float*>(base_ + h.sections[kScales].offset);
  q.err = reinterpret_cast<const float*>(base_ + h.sections[kErr].offset);
  q.exact = vectors();
  q.n = h.n_chunks;
  q.dim = h.dim;
  return q;
}

Bm25View Snapshot::bm25(Bm25Params p) const {
  Bm25View::Source s;
  s.num_terms = hdr(base_).n_terms;
  s.num_docs = hdr(base_).n_chunks;
  s.ctx = this;
  s.term_at = [](const void* ctx, size_t i) -> std::string_view {
    auto* self = static_cast<const Snapshot*>(ctx);
    const auto& h = hdr(self->base_);
    const auto* t = reinterpret_cast<const TermRec*>(self->base_ + h.sections[kTerms].offset) + i;
    return self->str(t->str_off, t->str_len);
  };
  s.postings_of = [](const void* ctx, size_t i) -> std::span<const Posting> {
    auto* self = static_cast<const Snapshot*>(ctx);
    const auto& h = hdr(self->base_);
    const auto* t = reinterpret_cast<const TermRec*>(self->base_ + h.sections[kTerms].offset) + i;
    if (t->post_begin > t->post_end || t->post_end > h.n_postings)
      throw IndexError("snapshot " + self->origin_ + ": postings reference out of range");
    const auto* p = reinterpret_cast<const Posting*>(self->base_ + h.sections[kPostings].offset);
    return {p + t->post_begin, static_cast<size_t>(t->post_end - t->post_begin)};
  };
  return Bm25View(s, p);
}

}  // namespace ripvec::index
