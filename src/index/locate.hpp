// Index identity and where an index lives.
//
//   <cache>/<root key>/<model dir>/     the cache (resolve_cache_dir(), ripvec/index.hpp)
//   <root>/.ripvec/<model dir>/         repo-local (IndexOptions::repo_local, or found)
// root key  = 32 hex of SHA-256(canonical root path)
// model dir = "<model name>-<16 hex of the model key>", e.g. "all-MiniLM-L6-v2-3fa2c1d0e9b84c1a"
// model key = 32 hex of SHA-256 over everything that changes stored vectors or chunks: model
//             id, dim, max length, prompts, Embedder::vector_config() (pooling, normalisation,
//             INT8 linear layers: an INT8 index is a sibling of the FP32 one, never mixed),
//             the chunker's version and options. Two models' indexes of one root are siblings.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "chunk/chunker.hpp"
#include "ripvec/embedder.hpp"
#include "ripvec/index.hpp"

namespace ripvec::index {

std::string root_key(const std::filesystem::path& canonical_root);
// cache_dir (resolved): where model files' fingerprints are remembered (`fingerprints/`); empty:
// only in this process.
std::string model_key(Embedder& e, const ChunkOptions& co,
                      const std::filesystem::path& cache_dir = {});
std::string model_dir_name(std::string_view model_id, std::string_view model_key);

struct Located {
  std::filesystem::path root;      // canonical
  std::filesystem::path location;  // index directory
  std::string scope;               // the opened path relative to root ("" at the root)
  Index::RootSource source = Index::RootSource::Path;  // the rule that chose root
};

// Throws IoError when `canonical` (the canonical form of the PATH `given`) lies on a pseudo
// file system (/proc, /sys, /dev...): never indexed or searched, named or not. /proc/self
// holds the process environment, which an index would keep on disk.
void refuse_pseudo_fs(const std::filesystem::path& given, const std::filesystem::path& canonical);

// Root discovery (ripvec/index.hpp, Index::open). `path` must exist (IoError otherwise) and
// not lie on a pseudo file system (refuse_pseudo_fs).
Located locate_index(const std::filesystem::path& path, const std::filesystem::path& cache_dir,
                     std::string_view model_dir, bool repo_local);

// Root discovery without a model (for clean): nearest .ripvec/, else nearest root with a
// folder in the cache, else the path (its directory for a file).
std::filesystem::path locate_any_root(const std::filesystem::path& path,
                                      const std::filesystem::path& cache_dir);

// Whether `dir` is an index directory we created: it holds only the names an index writes,
// each of its type (regular files lock, manifest.json, gc-pending, snapshot-<n>.bin, temp files
// "<name>.tmp.<pid>.<n>"; a real folder objects/ of two-hex-digit folders of object files),
// and a manifest that decodes or, without one (an update killed before its first commit), an
// empty lock file and objects/. `--clean` removes such a folder whole. A lock or a
// manifest.json alone used to be enough (`ripvec index --clean --all --cache-dir ~` deleted
// every project folder with a manifest.json), then a lock and an objects/ folder of anything,
// or a folder named like a snapshot (hostile probes 2026-12-05, 2026-12-06).
// With `foreign` given, entries an index does not write (a `.DS_Store`, a note, a file dropped
// into objects/) are listed in it instead of disqualifying the folder, which must then hold a
// manifest of ours; such a folder is listed by --list and emptied of the index's own entries
// by --clean, which keeps the foreign ones (a stray file hid the index from both).
bool is_index_dir(const std::filesystem::path& dir,
                  std::vector<std::filesystem::path>* foreign = nullptr);
// Whether an entry of objects/ (depth 0: a folder named by two hex digits, not a symlink) or of
// one of its folders (depth 1: a regular file "<hex id>-<hex key>.obj" or its temporary file)
// is one an index writes.
bool is_own_object_entry(const std::filesystem::directory_entry& e, int depth);

// What the manifest in the index directory `loc` says, without walking the tree (manage.cpp);
// IndexStatus::problem names a damaged manifest or a snapshot that does not match it.
// check_sums: also check the snapshot's checksums (snapshot_record_problem).
IndexStatus status_of_location(const std::filesystem::path& loc, bool check_sums = false);

struct SnapshotRecord;
// Empty when the snapshot file `rec` names exists in `loc` with the recorded size, can hold
// rec.n_chunks chunks of `dim` int8 codes and, with check_sums, passes the checks a search's open
// makes (Snapshot::open_file: header, bounds, section checksums: one read of the whole file);
// else what is wrong, for people (manage.cpp).
std::string snapshot_record_problem(const std::filesystem::path& loc, const SnapshotRecord& rec,
                                    uint32_t dim, bool check_sums = false);

// Bytes used by the files below `dir` (0 when it does not exist).
uint64_t disk_usage(const std::filesystem::path& dir);

}  // namespace ripvec::index
