// libFuzzer target: manifest.json of an index. Accepts decode_manifest succeeding with a
// manifest that survives encode_manifest + decode_manifest unchanged, or an IndexError.
#include "fuzz_util.hpp"
#include "index/store.hpp"

using namespace ripvec;
using namespace ripvec::index;

namespace {
bool same(const Manifest& a, const Manifest& b) {
  if (a.format != b.format || a.model_id != b.model_id || a.dim != b.dim ||
      a.model_key != b.model_key || a.root != b.root || a.generation != b.generation ||
      a.snapshot.has_value() != b.snapshot.has_value() || a.files.size() != b.files.size())
    return false;
  if (a.snapshot) {
    const SnapshotRecord &x = *a.snapshot, &y = *b.snapshot;
    if (x.name != y.name || x.size != y.size || x.mtime_ns != y.mtime_ns || x.crc32c != y.crc32c ||
        x.n_chunks != y.n_chunks)
      return false;
  }
  for (auto i = a.files.begin(), j = b.files.begin(); i != a.files.end(); ++i, ++j) {
    if (i->first != j->first || i->second.size != j->second.size ||
        i->second.mtime_ns != j->second.mtime_ns || i->second.id != j->second.id ||
        i->second.status != j->second.status || i->second.chunks != j->second.chunks)
      return false;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Manifest m;
  try {
    m = decode_manifest(fuzz::as_text(data, size), "manifest.json");
  } catch (const IndexError&) {
    return 0;
  }
  if (m.snapshot) {
    FUZZ_CHECK(!m.snapshot->name.empty());
    FUZZ_CHECK(m.snapshot->name.find('/') == std::string::npos);
  }
  for (const auto& [path, e] : m.files) {
    // An "ok" entry names its object file: objects/<id[0:2]>/<id>-<model key>.obj.
    if (e.status == "ok") FUZZ_CHECK(e.id.size() == 64);
  }
  const std::string again = encode_manifest(m);
  const Manifest m2 = decode_manifest(again, "re-encoded manifest");
  FUZZ_CHECK(same(m, m2));
  return 0;
}
