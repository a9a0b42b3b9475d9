// list_installed_models: the hub cache and known model directories, read-only.
#include <algorithm>

#include "ripvec/model_files.hpp"
#include "util/file_read.hpp"

namespace ripvec {
namespace {

namespace fs = std::filesystem;

bool complete(const fs::path& dir) {
  std::error_code ec;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"})
    if (!fs::is_regular_file(dir / f, ec)) return false;
  return true;
}

uint64_t weight_bytes(const fs::path& dir) {
  std::error_code ec;
  const auto n = fs::file_size(dir / "model.safetensors", ec);  // follows the blob symlink
  return ec ? 0 : static_cast<uint64_t>(n);
}

// "models--BAAI--bge-small-en-v1.5" -> "BAAI/bge-small-en-v1.5" (the first "--" after the
// prefix separates the owner; names may contain "--" themselves only after it).
std::string repo_id(const std::string& folder) {
  std::string rest = folder.substr(std::string("models--").size());
  const size_t sep = rest.find("--");
  if (sep == std::string::npos) return rest;
  return rest.substr(0, sep) + "/" + rest.substr(sep + 2);
}

}  // namespace

std::vector<InstalledModel> list_installed_models(const std::vector<fs::path>& dirs) {
  std::vector<InstalledModel> out;
  std::error_code ec;
  const fs::path cache = hf_hub_cache_dir();
  if (fs::is_directory(cache, ec)) {
    for (const auto& e : fs::directory_iterator(cache, ec)) {
      const std::string name = e.path().filename().string();
      if (!name.starts_with("models--") || !e.is_directory(ec)) continue;
      const fs::path snapshots = e.path() / "snapshots";
      fs::path pick;
      const std::string ref = read_first_line(e.path() / "refs" / "main");
      if (!ref.empty() && ref.find('/') == std::string::npos && complete(snapshots / ref))
        pick = snapshots / ref;
      if (pick.empty() && fs::is_directory(snapshots, ec)) {
        std::vector<fs::path> snaps;
        for (const auto& s : fs::directory_iterator(snapshots, ec))
          if (s.is_directory(ec)) snaps.push_back(s.path());
        std::sort(snaps.begin(), snaps.end());
        for (const auto& s : snaps)
          if (complete(s)) {
            pick = s;
            break;
          }
      }
      if (pick.empty()) continue;
      out.push_back({repo_id(name), pick, "hf-cache", weight_bytes(pick)});
    }
  }
  for (const fs::path& d : dirs) {
    if (!fs::is_directory(d, ec) || !complete(d)) continue;
    const fs::path canon = fs::weakly_canonical(d, ec);
    const bool seen = std::any_of(out.begin(), out.end(), [&](const InstalledModel& m) {
      std::error_code e2;
      return fs::equivalent(m.dir, canon, e2);
    });
    if (!seen) out.push_back({canon.string(), canon, "directory", weight_bytes(canon)});
  }
  std::sort(out.begin(), out.end(),
            [](const InstalledModel& a, const InstalledModel& b) { return a.id < b.id; });
  return out;
}

}  // namespace ripvec
