// Writes seed inputs for the store_* fuzz targets: real manifest, object and snapshot files
// produced by the store's own encoders from the chunker fixtures (tests/data/chunk) with small
// deterministic unit vectors. Run by hand when the formats change:
//   build/fuzz/fuzz/fuzz_gen_store_seeds fuzz/corpus
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "index/hash.hpp"
#include "index/store.hpp"

using namespace ripvec;
using namespace ripvec::index;
namespace fs = std::filesystem;

namespace {
void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::cout << p.string() << " (" << bytes.size() << " bytes)\n";
}

ObjectData make_object(const std::string& text, uint32_t dim, int n_chunks, uint32_t seed) {
  ObjectData o;
  std::istringstream in(text);
  std::string line, body;
  int n = 0;
  while (std::getline(in, line)) body += line + "\n", ++n;
  for (int c = 0; c < n_chunks; ++c) {
    StoredChunk sc;
    sc.start_line = 1 + c;
    sc.end_line = n;
    sc.symbol = c == 0 ? "" : "Parser.parse_config";
    sc.kind = c == 0 ? "window" : "method";
    sc.language = "python";
    sc.content = body.substr(0, 120 * (c + 1));
    o.chunks.push_back(sc);
    float norm = 0;
    std::vector<float> v(dim);
    for (uint32_t d = 0; d < dim; ++d) {
      v[d] = std::sin(float(seed * 31 + c * 7 + d));
      norm += v[d] * v[d];
    }
    for (float& x : v) o.vectors.push_back(x / std::sqrt(norm));
  }
  return o;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_gen_store_seeds <fuzz/corpus>\n";
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path src = fs::path(RIPVEC_SOURCE_DIR) / "tests/data/chunk";
  auto slurp = [&](const char* name) {
    std::ifstream f(src / name, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  const uint32_t dim = 8;
  const std::string key = "0123456789abcdef0123456789abcdef";
  const ObjectData a = make_object(slurp("sample.py"), dim, 3, 1);
  const ObjectData b = make_object(slurp("sample.rs"), dim, 2, 2);
  const ObjectData empty;
  const std::string id_a = sha256_hex("src/sample.py"), id_b = sha256_hex("src/sample.rs");
  write(out / "store_object/sample_py.obj", encode_object(a, dim, id_a, key));
  write(out / "store_object/sample_rs.obj", encode_object(b, dim, id_b, key));
  write(out / "store_object/empty.obj", encode_object(empty, dim, sha256_hex("empty"), key));
  // The current version: text keys and the chunks' keyword terms (what an index writes).
  ObjectData a4 = a;
  for (size_t c = 0; c < a4.chunks.size(); ++c) {
    const std::vector<int32_t> ids = {101, 7, static_cast<int32_t>(c), 102};
    a4.keys.push_back(chunk_text_key(ids));
  }
  a4.prep = std::make_shared<SnapshotPrep>();
  a4.prep->path = "src/sample.py";
  a4.prep->terms = snapshot_terms(a4.prep->path, std::span<const StoredChunk>(a4.chunks));
  write(out / "store_object/sample_py_terms.obj", encode_object(a4, dim, id_a, key));

  const SnapshotFileInput files[] = {{"src/sample.py", &a}, {"src/sample.rs", &b}};
  const std::string snap = build_snapshot_bytes(files, dim, key);
  write(out / "store_snapshot/two_files.bin", snap);
  write(out / "store_snapshot/one_file.bin", build_snapshot_bytes(std::span(files, 1), dim, key));
  write(out / "store_snapshot/no_files.bin",
        build_snapshot_bytes(std::span<const SnapshotFileInput>(), dim, key));

  Manifest m;
  m.model_id = "sentence-transformers/all-MiniLM-L6-v2";
  m.dim = dim;
  m.model_key = key;
  m.root = "/home/user/project";
  m.generation = 7;
  m.snapshot = SnapshotRecord{"snapshot-7.bin", snap.size(), 1733300000123456789, 0x1234abcd, 5};
  m.files["src/sample.py"] = {1024, 1733300000000000000, 1733300000000000000, 131075, id_a, "ok",
                              3};
  m.files["src/sample.rs"] = {585, -1, 0, 0, id_b, "ok", 2};
  m.files["logo.png"] = {4096, 1733300000000000001, 1733300000000000001, 131077, "", "binary", 0};
  m.files["bad.txt"] = {12, 1733300000000000002, 1733300000000000002, 131078, "", "invalid-utf8",
                        0};
  write(out / "store_manifest/manifest.json", encode_manifest(m));
  Manifest bare;
  bare.model_id = "x";
  bare.dim = 384;
  write(out / "store_manifest/no_snapshot.json", encode_manifest(bare));
  return 0;
}
