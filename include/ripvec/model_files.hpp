// Locating a model: a local directory, a Hugging Face cache snapshot, or a Hub download.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ripvec {

inline constexpr std::string_view kDefaultModelId = "sentence-transformers/all-MiniLM-L6-v2";

struct ModelFiles {
  std::string id;                   // HF id ("org/name") or the directory given
  std::filesystem::path dir;        // directory holding config.json etc.
  std::filesystem::path config;     // config.json
  std::filesystem::path weights;    // model.safetensors
  std::filesystem::path tokenizer;  // tokenizer.json
};

struct ResolveOptions {
  bool allow_download = true;  // false: never touch the network ($HF_HUB_OFFLINE=1 too)
  bool progress = true;        // progress bar on stderr while downloading
  std::string revision = "main";
  // Only tokenizer.json is required (for `ripvec tokenize`); config.json and model.safetensors
  // are filled in when present and left empty otherwise. A download still fetches every file.
  bool tokenizer_only = false;
};

// The hub cache root: $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
// else ~/.cache/huggingface/hub.
std::filesystem::path hf_hub_cache_dir();

// `spec` is a directory path or an HF id. Looks in the directory, then in the hub cache
// (models--ORG--NAME/snapshots/REV/ where refs/main names REV, else any snapshot holding all
// files), then downloads into that cache layout. Throws ModelNotFoundError listing exactly
// which files are missing and every place looked.
ModelFiles resolve_model(std::string_view spec, const ResolveOptions& opts = {});

// A model found on this machine without any download: what `ripvec models` lists.
struct InstalledModel {
  std::string id;             // "org/name" for a hub cache entry, else the directory
  std::filesystem::path dir;  // holds config.json, model.safetensors, tokenizer.json
  std::string source;         // "hf-cache" or "directory"
  uint64_t weight_bytes = 0;  // size of model.safetensors
};

// Every complete model (config.json, model.safetensors and tokenizer.json present) in the hub
// cache (hf_hub_cache_dir(): per repository the snapshot refs/main names, else the first
// complete one by name) and in `dirs` (model directories the caller knows of, e.g. those its
// indexes were built with; incomplete or missing ones are skipped). Sorted by id, no duplicates
// (same directory). Reads only directory entries and file sizes; never throws on unreadable
// entries (they are skipped).
std::vector<InstalledModel> list_installed_models(
    const std::vector<std::filesystem::path>& dirs = {});

}  // namespace ripvec
