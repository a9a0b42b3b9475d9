// On-disk formats of the index and the file-system primitives they rely on.
//
// <location>/
//   lock                         flock(LOCK_EX) held by the one process updating the index
//                                (LOCK_SH by a reader of an index it may not write)
//   manifest.json                the commit point (written last, atomically)
//   objects/ab/<id>-<mkey>.obj   one per indexed file version (id = SHA-256 of path + content)
//   snapshot-<generation>.bin    all chunks, vectors and keyword postings, mmapped by queries
//   skipped                      the entries the last update's walk skipped (read_skip_memory)
//
// manifest.json (format kFormatVersion):
//   {"format":2, "model_id":..., "dim":384, "model_key":"<32 hex>", "root":"/abs/root",
//    "generation":7,
//    "snapshot":{"name":"snapshot-7.bin","size":N,"mtime_ns":T,"crc32c":C,"n_chunks":K},
//    "files":{"src/a.py":{"size":N,"mtime_ns":T,"ctime_ns":C,"ino":I,"id":"<64 hex>",
//                         "status":"ok","chunks":3}, ...}}
//   status is "ok" for indexed files, else the reason it is skipped ("binary", "invalid-utf8",
//   ...) so that skipped files are not re-read until they change. mtime_ns is -1 for a file
//   whose mtime was within 2 s of the update that read it ("racily clean": re-hashed next time).
//   A path (file key or root) that is not valid UTF-8 is written as "\u0000b64:<base64 of the
//   bytes>" (no file name contains NUL, so this cannot collide) and decoded back exactly.
//   At most kMaxManifestBytes.
//
// Object file (little endian, version kObjectVersion; versions 2 and 3 are still read):
//   ObjectHeader (136 bytes: magic "RVOBJ\0\0\1", version, dim, n_chunks, payload_crc32c,
//                 payload_len, id (64 hex), model key (32 hex), header_crc32c, reserved)
//   payload: per chunk: i32 start_line, i32 end_line, then 4 strings (u32 length + bytes):
//            symbol, kind, language, content; then float32 vectors [n_chunks, dim]; then
//            (version 3 and 4) the chunks' text keys, 16 bytes each [n_chunks] (chunk_text_key:
//            what the next version of the file looks up to keep a vector instead of
//            embedding its chunk again); then (version 4) the chunks' keyword terms, the
//            Bm25Block the snapshot build merges (the path they were made for as u32 length +
//            bytes, then LEB128 varints: the block's terms as length + bytes, per chunk its
//            three field lengths, its entry count and per entry the term id as a delta and its
//            three field counts), so that a commit after an edit does not tokenize every
//            unchanged file again. A version-2 object has no keys, a version-3 one no terms
//            (the build tokenizes its chunks). decode_object gives the terms as the object's
//            prep, used as they are for files whose stat says they are unchanged; an object
//            reused for a file read again keeps them only if they equal the terms made from its
//            checked chunks (object_terms_match, index/ingest.cpp).
//
// Snapshot file (little endian, version kSnapshotVersion = 2): SnapshotHeader (320 bytes:
// magic "RVSNAP\0\1", u32 version, u32 dim, u64 n_files, n_chunks, n_terms, n_postings,
// u64 file size, model key (32 hex), per section {u64 offset, u64 size, u32 crc32c,
// u32 reserved} in the order below, u32 payload_crc, u32 header_crc, 8 reserved bytes) then
// the sections, each 64-byte aligned (zero padding between them):
//   strings  (blob all string fields point into)   files    FileRec[n_files]
//   chunks   ChunkRec[n_chunks]                    vec_f32  float[n_chunks][dim]
//   vec_i8   int8[n_chunks][dim]                   scales   float[n_chunks]
//   err      float[n_chunks]                       terms    TermRec[n_terms] (sorted)
//   postings Posting[n_postings]
// FileRec (32 bytes): u64 path_off, u32 path_len, u32 first_chunk, u32 n_chunks, u32 flags
// (kFileHidden...), u64 size (the file's bytes when it was read). ChunkRec (56 bytes): file,
// start/end line, symbol, content, kind and language as (offset, length) into strings.
// header_crc covers the header (and so the section checksums), each section's crc32c its bytes
// (padding excluded), payload_crc everything after the header (padding included). Opening a
// snapshot checks the header, the section bounds, every section's checksum and every file
// record: a damaged snapshot is never served; update() rebuilds it from the objects. A snapshot
// of another version (1: 24-byte FileRec, 256-byte header without section checksums) is
// rebuilt the same way.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunk/chunker.hpp"
#include "index/bm25.hpp"
#include "index/vector_search.hpp"

namespace ripvec::index {

// Manifest and object format; part of the index key (locate.cpp), so an index of another
// format lives in another directory. 2: released together with snapshot version 2 (and the
// manifest's byte-string paths below).
inline constexpr uint32_t kFormatVersion = 2;
// The object file's own version (ObjectHeader::version). 3: the chunks' text keys after the
// vectors; 4: their keyword terms after the keys. Not part of the index key: an index keeps
// its objects of versions 2 and 3, which are read as they are (no keys; no terms), and writes
// version 4 for each file it embeds from then on. (A ripvec from before reads a newer object
// as damaged and embeds its file again.)
inline constexpr uint32_t kObjectVersion = 4;
// Snapshot layout. 2: FileRec carries the file's size and flags (hidden), for filters at query
// time, and every section has a CRC-32C in the header, verified when the snapshot is mapped.
inline constexpr uint32_t kSnapshotVersion = 2;

// FileRec::flags bits.
inline constexpr uint32_t kFileHidden = 1;  // some component of the path starts with '.'

// ---------- file-system primitives ----------

// Writes to a temp file in the destination directory; commit() renames it over `path`.
// Destroying an uncommitted AtomicFile removes the temp file.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void write(const void* data, size_t n);
  void pwrite(const void* data, size_t n, uint64_t offset);
  uint64_t offset() const { return offset_; }
  // Starts the write-back of what was written since the last call, without waiting (Linux
  // sync_file_range), so that the fsync of commit() or a later syncfs has less left to wait
  // for. Best effort: errors are the fsync's to report.
  void start_writeback();
  // The same for `n` bytes at `offset` (written with pwrite); does not move start_writeback()'s
  // position.
  void start_writeback(uint64_t offset, uint64_t n);
  // fsync (when `sync`) + rename + fsync of the directory (when `sync`).
  void commit(bool sync = true);

 private:
  std::filesystem::path path_, tmp_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  uint64_t writeback_from_ = 0;
  bool committed_ = false;
};

// Without `sync`, the write-back starts at once (start_writeback) but is not waited for.
void atomic_write_file(const std::filesystem::path& path, std::string_view bytes, bool sync = true);
// Index files are opened without following a symlink and without blocking, and must be regular
// files; reads are bounded by `max_bytes` (the most an index file of that kind may hold).
// Throws IoError when the file cannot be opened or read, IndexError when it is a symlink, a
// FIFO, a device, ... or larger than max_bytes (a damaged index: update() rebuilds it).
inline constexpr uint64_t kMaxManifestBytes = uint64_t(256) << 20;
inline constexpr uint64_t kMaxObjectBytes = uint64_t(1) << 30;
std::string read_file(const std::filesystem::path& path, uint64_t max_bytes = kMaxObjectBytes);
// The index's memory of the entries its last update's walk skipped (unreadable, too large,
// special files: corpus::EntryWarning::about), so that a one-shot search can tell an entry
// skipped for the first time (news) from one skipped again (a repeat). A set of 64-bit keys
// (skip_key), sorted and unique, in a file of its own: "RVSKIP1\n" and the keys, little-endian.
// read_skip_memory gives an empty set for a missing, unreadable or malformed file (every skip is
// news once, and the next update writes it again); write_skip_memory throws IoError like
// atomic_write_file (no fsync: losing it costs one warning printed again).
inline constexpr uint64_t kMaxSkipMemoryBytes = uint64_t(64) << 20;
uint64_t skip_key(std::string_view about);
std::vector<uint64_t> read_skip_memory(const std::filesystem::path& path);
void write_skip_memory(const std::filesystem::path& path, std::span<const uint64_t> keys);
// Flushes the file system holding `dir` (one syncfs instead of an fsync per object).
void sync_filesystem(const std::filesystem::path& dir);
// create_directories, each folder it makes mode 0700 (existing ones are left as they are): an
// index holds the text of every file it read, so other users must not reach it, whatever the
// files' own modes (a 0600 .env was readable through the 0644 snapshot in 0755 folders:
// hostile probe 2026-12-05). The XDG base directory rule for cache folders says the same.
void create_private_directories(const std::filesystem::path& dir, std::error_code& ec);
// Names of temp files AtomicFile leaves behind when killed (removed by the next writer):
// "<name>.tmp.<pid>.<counter>" exactly.
bool is_temp_file_name(std::string_view name);
// Names of snapshot files: "snapshot-<generation>.bin".
bool is_snapshot_file_name(std::string_view name);

// Advisory lock (flock) on `path`, created if needed; blocks until granted. Exclusive, unless
// allow_read_only and the lock file cannot be opened for writing (EACCES, EPERM, EROFS: a
// read-only cache): then a shared lock on a read-only descriptor (it still waits for a writer
// to commit), or no lock when even that is impossible (readers rely on the atomic manifest
// rename); exclusive() says which. flock locks belong to the open file description, so two
// threads of one process exclude each other too. Throws IoError when `path` is a symlink,
// FIFO, device... ("remove it") or cannot be opened and read-only use was not allowed.
// A lock file that was removed or replaced while we waited (`ripvec index --clean`) is not
// kept: the one the path names then is locked (its folder made again when it went too). With
// wait false, a lock another process holds is not waited for: held() is false.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& path, bool allow_read_only = false,
                    bool wait = true);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool exclusive() const { return exclusive_; }
  bool held() const { return fd_ >= 0; }
  // Not held because another process holds the lock (wait = false only): an update is under
  // way, also in a cache this process may only read.
  bool contended() const { return contended_; }

 private:
  // One open + flock; false when no lock was taken (read-only without one, not waiting, or
  // the folder is gone: *gone). Sets *dev, *ino to the opened file's. Throws as the
  // constructor says.
  bool lock_once(const std::filesystem::path& path, bool allow_read_only, bool wait, uint64_t* dev,
                 uint64_t* ino, bool* gone);
  int fd_ = -1;
  bool exclusive_ = false;
  bool contended_ = false;
};

// Read-only mapping of a whole file (MAP_SHARED; fine to keep after the file is unlinked).
// Opened like read_file (regular files only, no symlink, no blocking).
class MappedFile {
 public:
  static std::shared_ptr<MappedFile> open(const std::filesystem::path& path);  // IoError
  ~MappedFile();
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  int64_t mtime_ns() const { return mtime_ns_; }
  // Whether `path` names this very file now (same device, inode, size and mtime).
  bool is_current(const std::filesystem::path& path) const;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int64_t mtime_ns_ = 0;
  uint64_t dev_ = 0, ino_ = 0;
};

int64_t file_mtime_ns(const std::filesystem::path& p);  // -1 when it cannot be stat'ed

// ---------- objects ----------

struct StoredChunk {
  int32_t start_line = 0, end_line = 0;
  std::string symbol, kind, language, content;
};

// What one file adds to a snapshot besides its object's bytes: its chunks' keyword terms and
// the int8 codes of its vectors. The ingest pipeline makes them once per file while the
// embedder runs (the terms on the ingest threads, the dictionary merge and the codes on the
// finisher: index/ingest.cpp), so that after the last vector only the merge into postings and
// the write remain. The terms are stored with the object (version 4) and read back with it;
// the codes are not stored. The snapshot build makes whatever is missing or was made for
// another path, chunk count or dictionary.
struct SnapshotPrep {
  std::string path;                // the path `terms` were made for (the BM25 path field)
  Bm25Block terms;                 // one document per chunk: symbol, path, content
  uint64_t dict_id = 0;            // the Bm25Dictionary that term_ids belong to; 0: none
  std::vector<uint32_t> term_ids;  // terms' ids in that dictionary
  std::vector<int8_t> codes;       // [n_chunks, dim] (quantize_rows); empty: not made
  std::vector<float> scales, err;  // [n_chunks]
};

// What a chunk's vector is a function of: its token ids (the embedded text, prompt included,
// as the model runs it), under one index's model key. SHA-256 of a tag and the ids, first 16
// bytes: two different texts of one file never share a key in practice (2^-128 per pair).
using ChunkTextKey = std::array<uint8_t, 16>;
ChunkTextKey chunk_text_key(std::span<const int32_t> ids);

struct ObjectData {
  std::vector<StoredChunk> chunks;
  std::vector<float> vectors;  // [chunks.size(), dim], L2-normalized
  // [chunks.size()] chunk_text_key of each chunk, or empty (an object of version 2, or one
  // whose chunks were not all tokenized). Written and read with the object.
  std::vector<ChunkTextKey> keys;
  // Derived (see SnapshotPrep): made by the pipeline, or read from an object of version 4 (its
  // terms only; null for older objects). Written only before the object is shared (the
  // pipeline hands objects back complete).
  std::shared_ptr<SnapshotPrep> prep;
};

// The keyword terms of a file's chunks (symbol, path, content per chunk), as the snapshot
// build indexes them.
template <class ChunkT>
Bm25Block snapshot_terms(std::string_view path, std::span<const ChunkT> chunks) {
  std::vector<Bm25Doc> docs;
  docs.reserve(chunks.size());
  for (const ChunkT& c : chunks) docs.push_back({c.symbol, path, c.content});
  return bm25_block(docs);
}
// Fills prep's codes, scales and err from obj.vectors ([n, dim]).
void prepare_codes(const ObjectData& obj, uint32_t dim, SnapshotPrep* prep);

std::string encode_object(const ObjectData& obj, uint32_t dim, std::string_view id_hex,
                          std::string_view model_key);
// Throws IndexError naming `origin` on a bad magic/version, a wrong id, model key or dim,
// a length that does not match the file (truncation) or a checksum mismatch.
ObjectData decode_object(std::string_view bytes, uint32_t dim, std::string_view id_hex,
                         std::string_view model_key, std::string_view origin);

// ---------- manifest ----------

struct ManifestEntry {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  // The inode change time and inode number the file had (0 and 0: not recorded, a manifest
  // from before they were; such an entry's file is read again once).
  int64_t ctime_ns = 0;
  uint64_t ino = 0;
  std::string id;      // object id (hex SHA-256 of path and content); empty when skipped
  std::string status;  // "ok" or why the file is not indexed
  uint32_t chunks = 0;
};

struct SnapshotRecord {
  std::string name;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint32_t crc32c = 0;
  uint64_t n_chunks = 0;
};

struct Manifest {
  uint32_t format = kFormatVersion;
  std::string model_id;
  uint32_t dim = 0;
  std::string model_key;
  // Embedder::vector_config() of the stored vectors, for people (`index --status/--list`: an
  // INT8 and an FP32 index of one tree); model_key is what identifies. Empty in manifests
  // written before it existed.
  std::string vectors;
  std::string root;
  uint64_t generation = 0;
  std::optional<SnapshotRecord> snapshot;
  std::map<std::string, ManifestEntry> files;
};

std::string encode_manifest(const Manifest& m);
// Throws IndexError (naming `origin`) when the JSON is malformed or a field is missing.
Manifest decode_manifest(std::string_view json, std::string_view origin);

// ---------- snapshot ----------

struct SnapshotFileInput {
  std::string path;
  const ObjectData* object = nullptr;
  uint64_t size = 0;   // bytes of the file when it was read
  uint32_t flags = 0;  // kFileHidden...
};

// Writes a snapshot of `files` (in this order) into `out`; returns the payload CRC.
// Quantizes the vectors and builds the BM25 postings (path field = the file's rel path).
struct SnapshotWriteResult {
  uint64_t size = 0;
  uint32_t payload_crc = 0;
  uint64_t n_chunks = 0;
};
// `dict` is the dictionary the files' preps were merged into (null: none); terms not merged
// into it are merged now, and it may gain terms (not thread-safe: one build at a time).
// The bytes do not depend on which preps were made beforehand.
// Writer threads: `writers` (0: a quarter of the cores, 2 to 4), each given a contiguous
// range of at least `min_writer_bytes`; the file's bytes do not depend on either.
struct SnapshotWriters {
  unsigned writers = 0;
  size_t min_writer_bytes = size_t(16) << 20;
};
SnapshotWriteResult write_snapshot(AtomicFile& out, std::span<const SnapshotFileInput> files,
                                   uint32_t dim, std::string_view model_key,
                                   Bm25Dictionary* dict = nullptr, SnapshotWriters w = {});
// Same into memory (search_in_memory); the string is the whole file image.
std::string build_snapshot_bytes(std::span<const SnapshotFileInput> files, uint32_t dim,
                                 std::string_view model_key, Bm25Dictionary* dict = nullptr);

class Snapshot {
 public:
  // Validates header, sizes, section bounds and section checksums (reads the whole file once).
  // Throws IndexError naming the origin and the damaged section.
  static std::shared_ptr<Snapshot> open_file(const std::filesystem::path& path);
  static std::shared_ptr<Snapshot> from_bytes(std::string bytes, std::string origin);

  uint32_t dim() const;
  size_t num_chunks() const;
  size_t num_files() const;
  std::string_view model_key() const;
  uint64_t file_size() const { return size_; }
  // Whether `path` is still the file this snapshot was opened from (not replaced since).
  bool is_current(const std::filesystem::path& path) const;
  // Recomputes the payload CRC and compares it with the header's (reads everything).
  bool verify_payload() const;
  uint32_t payload_crc() const;

  // Chunk i with path, lines, symbol, kind, language and content (embed_text left empty).
  // Throws IndexError if its records point outside the file.
  Chunk chunk(size_t i) const;
  std::string_view chunk_path(size_t i) const;

  // Views into the mapping (valid while the Snapshot lives). Throw IndexError when a record
  // points outside the file.
  struct FileRef {
    std::string_view path;
    uint32_t first_chunk = 0, n_chunks = 0, flags = 0;
    uint64_t size = 0;
  };
  struct ChunkRef {
    uint32_t file = 0;
    int32_t start_line = 0, end_line = 0;
    std::string_view symbol, kind, language, content;
  };
  FileRef file_ref(size_t file) const;
  ChunkRef chunk_ref(size_t i) const;
  const float* vector(size_t i) const;
  const float* vectors() const;
  QuantizedRows quantized() const;
  Bm25View bm25(Bm25Params p = {}) const;

 private:
  Snapshot() = default;
  void validate(std::string_view origin);
  std::string_view str(uint64_t off, uint64_t len) const;

  std::shared_ptr<MappedFile> map_;
  std::string owned_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  std::string origin_;
};

}  // namespace ripvec::index
