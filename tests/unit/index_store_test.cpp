// On-disk formats: objects, snapshots and the manifest round-trip, and every kind of damage
// (truncation, flipped bytes, wrong id / model / dim) is reported as IndexError.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "index/hash.hpp"
#include "index/store.hpp"
#include "ripvec/error.hpp"

using namespace ripvec;
using namespace ripvec::index;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("ripvec_store_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

ObjectData make_object(size_t n, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  ObjectData o;
  for (size_t i = 0; i < n; ++i) {
    StoredChunk c;
    c.start_line = static_cast<int>(10 * i + 1);
    c.end_line = static_cast<int>(10 * i + 9);
    c.symbol = "func_" + std::to_string(seed) + "_" + std::to_string(i);
    c.kind = "function";
    c.language = "python";
    c.content = "def " + c.symbol + "():\n    return " + std::to_string(i) + "\n";
    o.chunks.push_back(c);
    std::vector<float> v(dim);
    double s = 0;
    for (auto& x : v) {
      x = nd(rng);
      s += x * x;
    }
    for (auto& x : v) o.vectors.push_back(static_cast<float>(x / std::sqrt(s)));
    const std::vector<int32_t> ids = {101, static_cast<int32_t>(seed), static_cast<int32_t>(i),
                                      102};
    o.keys.push_back(chunk_text_key(ids));
  }
  return o;
}

const std::string kId(64, 'a');
const std::string kKey = "0123456789abcdef0123456789abcdef";

// Object bytes marked version 4 with their payload length and both checksums made right (the
// ObjectHeader offsets: version 8, payload CRC 20, payload length 24, header CRC 128, 136 bytes),
// as a planted object would have them.
std::string as_version4(std::string b) {
  const uint32_t version = 4;
  std::memcpy(b.data() + 8, &version, 4);
  const uint64_t len = b.size() - 136;
  std::memcpy(b.data() + 24, &len, 8);
  const uint32_t pcrc = crc32c(b.data() + 136, len);
  std::memcpy(b.data() + 20, &pcrc, 4);
  std::memset(b.data() + 128, 0, 4);
  const uint32_t hcrc = crc32c(b.data(), 136);
  std::memcpy(b.data() + 128, &hcrc, 4);
  return b;
}

}  // namespace

TEST(IndexStore, ObjectRoundTrip) {
  ObjectData o = make_object(5, 16, 1);
  std::string bytes = encode_object(o, 16, kId, kKey);
  ObjectData d = decode_object(bytes, 16, kId, kKey, "x");
  ASSERT_EQ(d.chunks.size(), 5u);
  EXPECT_EQ(d.vectors, o.vectors);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(d.chunks[i].symbol, o.chunks[i].symbol);
    EXPECT_EQ(d.chunks[i].content, o.chunks[i].content);
    EXPECT_EQ(d.chunks[i].start_line, o.chunks[i].start_line);
    EXPECT_EQ(d.chunks[i].end_line, o.chunks[i].end_line);
  }
  EXPECT_EQ(d.keys, o.keys);
  // Zero chunks is a valid object (an empty file).
  EXPECT_TRUE(decode_object(encode_object({}, 16, kId, kKey), 16, kId, kKey, "x").chunks.empty());
}

// Objects written before the chunks' text keys (version 2) are read as they are, without keys
// (their files' next edit embeds every chunk); an object made without keys is written so.
// Keys that do not match the chunks are refused.
TEST(IndexStore, ObjectWithoutTextKeysIsVersion2AndStillRead) {
  ObjectData o = make_object(4, 8, 3);
  const std::string keyed = encode_object(o, 8, kId, kKey);
  o.keys.clear();
  const std::string plain = encode_object(o, 8, kId, kKey);
  uint32_t version = 0;
  std::memcpy(&version, plain.data() + 8, 4);
  EXPECT_EQ(version, 2u);
  std::memcpy(&version, keyed.data() + 8, 4);
  EXPECT_EQ(version, 3u);  // keys, no keyword terms (the object has no prep)
  EXPECT_EQ(keyed.size(), plain.size() + 4 * sizeof(ChunkTextKey));
  const ObjectData d = decode_object(plain, 8, kId, kKey, "v2");
  EXPECT_TRUE(d.keys.empty());
  EXPECT_EQ(d.vectors, o.vectors);
  ASSERT_EQ(d.chunks.size(), 4u);
  EXPECT_EQ(d.chunks[3].content, o.chunks[3].content);
  o.keys.resize(3);
  EXPECT_THROW(encode_object(o, 8, kId, kKey), InvalidArgument);
  // The key is the ids' alone, and tells ids apart.
  const std::vector<int32_t> a = {1, 2, 3}, b = {1, 2, 4}, c = {1, 2};
  EXPECT_EQ(chunk_text_key(a), chunk_text_key(std::vector<int32_t>{1, 2, 3}));
  EXPECT_NE(chunk_text_key(a), chunk_text_key(b));
  EXPECT_NE(chunk_text_key(a), chunk_text_key(c));
}

TEST(IndexStore, ObjectDamageDetected) {
  const std::string good = encode_object(make_object(3, 8, 2), 8, kId, kKey);
  // Every truncation point fails.
  for (size_t len = 0; len < good.size(); len += 7)
    EXPECT_THROW(decode_object(good.substr(0, len), 8, kId, kKey, "t"), IndexError) << len;
  // Every single flipped byte fails (header CRC, payload CRC or an identity check).
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    EXPECT_THROW(decode_object(bad, 8, kId, kKey, "f"), IndexError) << "byte " << i;
  }
  EXPECT_THROW(decode_object(good + "x", 8, kId, kKey, "g"), IndexError);
  EXPECT_THROW(decode_object(good, 16, kId, kKey, "d"), IndexError);
  EXPECT_THROW(decode_object(good, 8, std::string(64, 'b'), kKey, "i"), IndexError);
  EXPECT_THROW(decode_object(good, 8, kId, std::string(32, 'f'), "m"), IndexError);
}

TEST(IndexStore, ManifestRoundTripAndMalformed) {
  Manifest m;
  m.model_id = "sentence-transformers/all-MiniLM-L6-v2";
  m.dim = 384;
  m.model_key = kKey;
  m.root = "/tmp/x";
  m.generation = 42;
  m.snapshot = SnapshotRecord{"snapshot-42.bin", 1234, 5678, 0xdeadbeef, 17};
  m.files["src/a.py"] = {10, 20, 21, 7, kId, "ok", 3};
  m.files["img.png"] = {99, 30, 31, 8, "", "binary", 0};
  Manifest d = decode_manifest(encode_manifest(m), "m");
  EXPECT_EQ(d.model_id, m.model_id);
  EXPECT_EQ(d.dim, 384u);
  EXPECT_EQ(d.generation, 42u);
  ASSERT_TRUE(d.snapshot);
  EXPECT_EQ(d.snapshot->crc32c, 0xdeadbeefu);
  EXPECT_EQ(d.snapshot->n_chunks, 17u);
  ASSERT_EQ(d.files.size(), 2u);
  EXPECT_EQ(d.files["src/a.py"].id, kId);
  EXPECT_EQ(d.files["src/a.py"].chunks, 3u);
  EXPECT_EQ(d.files["src/a.py"].ctime_ns, 21);
  EXPECT_EQ(d.files["src/a.py"].ino, 7u);
  EXPECT_EQ(d.files["img.png"].status, "binary");
  // A manifest from before ctime and inode were recorded: both read as 0 (file read again).
  std::string old = encode_manifest(m);
  for (const char* key : {"\"ctime_ns\"", "\"ino\""})
    for (size_t p; (p = old.find(key)) != std::string::npos;)
      old.erase(p, old.find(',', p) - p + 1);
  Manifest o = decode_manifest(old, "m");
  EXPECT_EQ(o.files["src/a.py"].ctime_ns, 0);
  EXPECT_EQ(o.files["src/a.py"].ino, 0u);
  EXPECT_EQ(o.files["src/a.py"].mtime_ns, 20);

  const std::string text = encode_manifest(m);
  EXPECT_THROW(decode_manifest(text.substr(0, text.size() / 2), "m"), IndexError);
  EXPECT_THROW(decode_manifest("{}", "m"), IndexError);
  EXPECT_THROW(decode_manifest("", "m"), IndexError);
  EXPECT_THROW(decode_manifest(R"({"format":1,"model_id":"x","dim":"a","model_key":"k",
      "generation":1,"files":{}})",
                               "m"),
               IndexError);
}

// Found by fuzz_store_manifest: "format": 1.8e20 (a float past uint32_t) reached nlohmann's
// get<uint32_t>(), a cast with undefined behaviour. Every integer field is now type- and
// range-checked: the manifest is malformed (rebuilt), never misread.
TEST(IndexStore, ManifestNumberOutOfRangeIsMalformed) {
  auto with = [](const std::string& field, const std::string& value) {
    std::string j =
        R"({"format":2,"model_id":"x","dim":384,"model_key":"k","generation":1,)"
        R"("snapshot":{"name":"s.bin","size":1,"mtime_ns":-5,"crc32c":7,"n_chunks":1},)"
        R"("files":{"a.py":{"size":1,"mtime_ns":2,"id":"","status":"binary","chunks":0}}})";
    const std::string key = "\"" + field + "\":";
    const size_t at = j.find(key) + key.size();
    const size_t end = j.find_first_of(",}", at);
    return j.substr(0, at) + value + j.substr(end);
  };
  EXPECT_NO_THROW(decode_manifest(with("format", "2"), "m"));
  EXPECT_EQ(decode_manifest(with("mtime_ns", "-5"), "m").snapshot->mtime_ns, -5);
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, std::string>>{{"format", "184467440737095516161"},
                                                        {"format", "1.5"},
                                                        {"format", "4294967296"},
                                                        {"dim", "-1"},
                                                        {"generation", "-3"},
                                                        {"crc32c", "1e10"},
                                                        {"n_chunks", "true"},
                                                        {"chunks", "4294967296"},
                                                        {"mtime_ns", "9223372036854775808"}})
    EXPECT_THROW(decode_manifest(with(field, value), "m"), IndexError) << field << "=" << value;
}

// An object id names a file under objects/: one that is not 64 lowercase hex digits (a hostile
// repo-local .ripvec/ with "../../..." ids) made the index read, and delete as corrupt, a file
// outside the index directory. Such a manifest is malformed (rebuilt), never followed.
TEST(IndexStore, ManifestObjectIdThatIsNotHexIsMalformed) {
  auto with_id = [](const std::string& id, const std::string& status) {
    return R"({"format":2,"model_id":"x","dim":384,"model_key":"k","generation":1,)"
           R"("files":{"a.py":{"size":1,"mtime_ns":2,"id":")" +
           id + R"(","status":")" + status + R"(","chunks":0}}})";
  };
  const std::string good(64, 'a');
  EXPECT_NO_THROW(decode_manifest(with_id(good, "ok"), "m"));
  EXPECT_NO_THROW(decode_manifest(with_id("", "binary"), "m"));
  const std::string dots = "../../../../../../../../../../tmp/victim/";
  for (const auto& [id, status] : std::vector<std::pair<std::string, std::string>>{
           {dots + std::string(64 - dots.size(), 'v'), "ok"},
           {dots + std::string(64 - dots.size(), 'v'), "binary"},
           {std::string(63, 'a') + "/", "ok"},
           {std::string(64, 'A'), "ok"},
           {std::string(64, 'g'), "ok"},
           {"", "ok"}})
    EXPECT_THROW(decode_manifest(with_id(id, status), "m"), IndexError) << id << " " << status;
}

// The snapshot file is written by several threads at once (contiguous ranges, each its own
// buffered sink): the bytes are the same for any number of them, and equal the memory image.
TEST(IndexStore, SnapshotBytesDoNotDependOnWriterThreads) {
  const fs::path dir = temp_dir("snapw");
  const uint32_t dim = 64;
  std::vector<ObjectData> objs;
  for (int i = 0; i < 40; ++i) objs.push_back(make_object(i % 7, dim, 10 + i));
  std::vector<SnapshotFileInput> in;
  for (int i = 0; i < 40; ++i)
    in.push_back({"src/f" + std::to_string(i) + ".py", &objs[static_cast<size_t>(i)]});
  const std::string mem = build_snapshot_bytes(in, dim, kKey);
  for (unsigned writers : {1u, 2u, 3u, 7u}) {
    const fs::path p = dir / ("snapshot-" + std::to_string(writers) + ".bin");
    {
      AtomicFile f(p);
      // Ranges of at least 1 KiB, so that a small snapshot is cut into several.
      write_snapshot(f, in, dim, kKey, nullptr, SnapshotWriters{writers, 1024});
      f.commit(false);
    }
    std::ifstream f(p, std::ios::binary);
    const std::string disk((std::istreambuf_iterator<char>(f)), {});
    EXPECT_EQ(disk, mem) << writers << " writers";
    EXPECT_TRUE(Snapshot::open_file(p)->verify_payload());
  }
  fs::remove_all(dir);
}

TEST(IndexStore, SnapshotRoundTrip) {
  const fs::path dir = temp_dir("snap");
  const uint32_t dim = 24;
  ObjectData a = make_object(3, dim, 3), b = make_object(0, dim, 4), c = make_object(2, dim, 5);
  std::vector<SnapshotFileInput> in = {{"src/a.py", &a}, {"empty.txt", &b}, {"lib/c.py", &c}};
  const fs::path p = dir / "snapshot-1.bin";
  SnapshotWriteResult wr;
  {
    AtomicFile f(p);
    wr = write_snapshot(f, in, dim, kKey);
    f.commit(false);
  }
  EXPECT_EQ(wr.n_chunks, 5u);
  EXPECT_EQ(fs::file_size(p), wr.size);
  auto s = Snapshot::open_file(p);
  EXPECT_EQ(s->num_chunks(), 5u);
  EXPECT_EQ(s->num_files(), 3u);
  EXPECT_EQ(s->dim(), dim);
  EXPECT_EQ(s->model_key(), kKey);
  EXPECT_TRUE(s->verify_payload());
  EXPECT_EQ(s->payload_crc(), wr.payload_crc);
  Chunk ch = s->chunk(3);
  EXPECT_EQ(ch.path, "lib/c.py");
  EXPECT_EQ(ch.symbol, c.chunks[0].symbol);
  EXPECT_EQ(ch.content, c.chunks[0].content);
  EXPECT_EQ(ch.kind, "function");
  EXPECT_EQ(ch.language, "python");
  EXPECT_EQ(ch.start_line, 1);
  EXPECT_EQ(std::memcmp(s->vector(4), c.vectors.data() + dim, dim * 4), 0);
  EXPECT_EQ(std::memcmp(s->vector(0), a.vectors.data(), dim * 4), 0);
  // The in-memory image is byte-identical to the file.
  std::string mem = build_snapshot_bytes(in, dim, kKey);
  std::ifstream f(p, std::ios::binary);
  std::string disk((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(mem, disk);
  // Vector search over the mapped int8 + float sections finds a stored row exactly.
  auto q = std::vector<float>(c.vectors.begin() + dim, c.vectors.begin() + 2 * dim);
  auto top = top_k_dot_quantized(q, s->quantized(), 1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].id, 4u);
  // Keyword postings: the symbol of chunk 1 of a.py.
  std::vector<float> sc(5, 0.0f);
  std::vector<uint32_t> touched;
  s->bm25().score(a.chunks[1].symbol, &sc, &touched);
  EXPECT_EQ(std::max_element(sc.begin(), sc.end()) - sc.begin(), 1);
  fs::remove_all(dir);
}

TEST(IndexStore, SnapshotDamageDetected) {
  const uint32_t dim = 16;
  ObjectData a = make_object(4, dim, 6);
  std::vector<SnapshotFileInput> in = {{"a.py", &a}};
  const std::string good = build_snapshot_bytes(in, dim, kKey);
  for (size_t len : {size_t(0), size_t(100), size_t(255), good.size() / 2, good.size() - 1})
    EXPECT_THROW(Snapshot::from_bytes(good.substr(0, len), "t"), IndexError) << len;
  EXPECT_THROW(Snapshot::from_bytes(good + std::string(64, '\0'), "t"), IndexError);
  // Header bytes and section bytes: caught at open (header and per-section checksums).
  // Padding between sections is read by nothing; verify_payload still sees it.
  for (size_t i = 0; i < 320; i += 5) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 1);
    EXPECT_THROW(Snapshot::from_bytes(bad, "h"), IndexError) << i;
  }
  std::mt19937 rng(1);
  size_t caught = 0;
  for (int t = 0; t < 50; ++t) {
    std::string bad = good;
    size_t i = 320 + rng() % (good.size() - 320);
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    try {
      auto s = Snapshot::from_bytes(bad, "p");
      EXPECT_FALSE(s->verify_payload()) << i;  // padding
    } catch (const IndexError& e) {
      EXPECT_NE(std::string(e.what()).find("checksum mismatch"), std::string::npos) << e.what();
      ++caught;
    }
  }
  EXPECT_GT(caught, 25u);
}

// What the ingest pipeline makes per file while the embedder runs (terms on an ingest thread;
// codes and the dictionary merge on the finisher), for `path`.
void prepare_like_the_pipeline(ObjectData* o, const std::string& path, uint32_t dim,
                               Bm25Dictionary* dict) {
  auto prep = std::make_shared<SnapshotPrep>();
  prep->path = path;
  prep->terms = snapshot_terms(path, std::span<const StoredChunk>(o->chunks));
  prepare_codes(*o, dim, prep.get());
  if (dict) {
    prep->term_ids = dict->add(prep->terms);
    prep->dict_id = dict->id();
    prep->terms.terms = {};
  }
  o->prep = std::move(prep);
}

// Snapshot bytes never depend on what was prepared beforehand: every mix of files with and
// without preps, preps merged into the build's dictionary or another one, a dictionary that
// also holds terms of files no longer in the snapshot (an update's removals), preps made for
// another path (a renamed object) or stale ones (another chunk count) gives the bytes of the
// plain build.
TEST(IndexStore, PreparedSnapshotEqualsPlainBuild) {
  const uint32_t dim = 24;
  std::vector<ObjectData> objs;
  for (uint32_t i = 0; i < 7; ++i) objs.push_back(make_object(i % 4, dim, 40 + i));
  objs[2].chunks[0].content = "HTTPServer parse_config retry-backoff Größe utf8";
  objs[3].chunks[1].symbol = "";
  const std::vector<std::string> paths = {
      "a.py",     "src/b.py",  "src/b2.py",        "docs/Read-Me.md",
      "x/y/z.rs", "empty.txt", "src/HTTPServer.cc"};
  auto inputs = [&] {
    std::vector<SnapshotFileInput> in;
    for (size_t i = 0; i < objs.size(); ++i) in.push_back({paths[i], &objs[i], 100 + i, 0});
    return in;
  };
  const std::string plain = build_snapshot_bytes(inputs(), dim, kKey);
  ASSERT_GT(plain.size(), 320u);

  // All prepared and merged into the build's dictionary, which also holds a removed file's
  // terms (merged first, so every id shifts).
  {
    Bm25Dictionary dict;
    ObjectData gone = make_object(3, dim, 99);
    gone.chunks[0].content = "zanzibar quux only here";
    prepare_like_the_pipeline(&gone, "removed.py", dim, &dict);
    for (size_t i = 0; i < objs.size(); ++i)
      prepare_like_the_pipeline(&objs[i], paths[i], dim, &dict);
    EXPECT_EQ(build_snapshot_bytes(inputs(), dim, kKey, &dict), plain);
    // The same preps with no dictionary, or another one: terms are made again from the objects.
    EXPECT_EQ(build_snapshot_bytes(inputs(), dim, kKey), plain);
    Bm25Dictionary other;
    EXPECT_EQ(build_snapshot_bytes(inputs(), dim, kKey, &other), plain);
  }
  // Every other file prepared (unchanged objects read from disk have none), unmerged preps
  // among merged ones, a prep made for another path, a stale prep with too few chunks.
  {
    Bm25Dictionary dict;
    for (size_t i = 0; i < objs.size(); ++i) {
      objs[i].prep.reset();
      if (i % 2 == 0) prepare_like_the_pipeline(&objs[i], paths[i], dim, &dict);
    }
    prepare_like_the_pipeline(&objs[1], paths[1], dim, nullptr);  // terms kept, not merged
    prepare_like_the_pipeline(&objs[3], "renamed.md", dim, &dict);
    ObjectData shorter = objs[5];
    shorter.chunks.resize(shorter.chunks.size() > 0 ? shorter.chunks.size() - 1 : 0);
    shorter.vectors.resize(shorter.chunks.size() * dim);
    prepare_like_the_pipeline(&shorter, paths[5], dim, &dict);
    objs[5].prep = shorter.prep;
    EXPECT_EQ(build_snapshot_bytes(inputs(), dim, kKey, &dict), plain);
  }
  // Written through write_snapshot, too.
  const fs::path dir = temp_dir("prep");
  {
    AtomicFile f(dir / "s.bin");
    Bm25Dictionary dict;
    for (size_t i = 0; i < objs.size(); ++i)
      prepare_like_the_pipeline(&objs[i], paths[i], dim, &dict);
    write_snapshot(f, inputs(), dim, kKey, &dict);
    f.commit(false);
  }
  std::ifstream f(dir / "s.bin", std::ios::binary);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(f)), {}), plain);
  fs::remove_all(dir);
}

// An object written with the keyword terms the pipeline made for its chunks (version 4) gives
// them back as its prep, for the path they were made for, and a snapshot built from such
// objects is byte for byte the plain build: an incremental commit takes the unchanged files'
// terms from their objects instead of tokenizing every file again. Terms already merged into
// a dictionary (their strings dropped) are not written: version 3.
TEST(IndexStore, ObjectCarriesItsKeywordTerms) {
  const uint32_t dim = 16;
  std::vector<ObjectData> objs;
  const std::vector<std::string> paths = {"src/HTTPServer.cc", "docs/Read-Me.md", "a.py"};
  for (uint32_t i = 0; i < 3; ++i) objs.push_back(make_object(2 + i, dim, 60 + i));
  objs[0].chunks[1].content = "HTTPServer parse_config retry-backoff Größe utf8 utf8 x";
  objs[1].chunks[0].symbol = "";
  std::vector<SnapshotFileInput> in;
  for (size_t i = 0; i < objs.size(); ++i) in.push_back({paths[i], &objs[i], 10 + i, 0});
  const std::string plain = build_snapshot_bytes(in, dim, kKey);

  std::vector<ObjectData> decoded;
  for (size_t i = 0; i < objs.size(); ++i) {
    ObjectData o = objs[i];
    prepare_like_the_pipeline(&o, paths[i], dim, nullptr);
    const std::string bytes = encode_object(o, dim, kId, kKey);
    uint32_t version = 0;
    std::memcpy(&version, bytes.data() + 8, 4);
    EXPECT_EQ(version, kObjectVersion);
    ObjectData d = decode_object(bytes, dim, kId, kKey, "v4");
    ASSERT_NE(d.prep, nullptr) << i;
    EXPECT_EQ(d.prep->path, paths[i]);
    const Bm25Block &got = d.prep->terms, &want = o.prep->terms;
    EXPECT_EQ(got.terms, want.terms);
    EXPECT_EQ(got.entry_term, want.entry_term);
    EXPECT_EQ(got.entry_tf, want.entry_tf);
    EXPECT_EQ(got.doc_end, want.doc_end);
    EXPECT_EQ(got.doc_len, want.doc_len);
    EXPECT_TRUE(d.prep->codes.empty());  // not stored: made by the build
    EXPECT_EQ(d.vectors, o.vectors);
    EXPECT_EQ(d.keys, o.keys);
    decoded.push_back(std::move(d));
  }
  for (size_t i = 0; i < decoded.size(); ++i) in[i].object = &decoded[i];
  EXPECT_EQ(build_snapshot_bytes(in, dim, kKey), plain);
  Bm25Dictionary dict;
  EXPECT_EQ(build_snapshot_bytes(in, dim, kKey, &dict), plain);
  // Under another path (a renamed file: another object), the stored terms are not used.
  in[2].path = "b.py";
  const std::string renamed_plain = [&] {
    std::vector<SnapshotFileInput> p2 = in;
    for (size_t i = 0; i < p2.size(); ++i) p2[i].object = &objs[i];
    return build_snapshot_bytes(p2, dim, kKey);
  }();
  EXPECT_EQ(build_snapshot_bytes(in, dim, kKey), renamed_plain);

  ObjectData merged = objs[0];
  prepare_like_the_pipeline(&merged, paths[0], dim, &dict);
  const std::string v3 = encode_object(merged, dim, kId, kKey);
  uint32_t version = 0;
  std::memcpy(&version, v3.data() + 8, 4);
  EXPECT_EQ(version, 3u);
  EXPECT_EQ(decode_object(v3, dim, kId, kKey, "v3").prep, nullptr);
}

// Terms that a valid block cannot hold are damage (IndexError), never read past the object or
// used: a term id past the block's terms, ids that do not increase within a chunk (written as a
// delta, which wraps to an id past the terms), and hand-made sections (checksums made right, as
// a planted object would have them): bytes left over, cut short, an empty path, no terms, an
// empty or over-long term, a count in a redundant varint form, more terms than bytes.
TEST(IndexStore, ObjectTermsThatDoNotFitAreRefused) {
  const uint32_t dim = 8;
  ObjectData o = make_object(2, dim, 70);
  prepare_like_the_pipeline(&o, "a.py", dim, nullptr);
  ASSERT_GE(o.prep->terms.entry_term.size(), 3u);
  {
    ObjectData bad = o;
    bad.prep = std::make_shared<SnapshotPrep>(*o.prep);
    bad.prep->terms.entry_term[0] = static_cast<uint32_t>(bad.prep->terms.terms.size());
    EXPECT_THROW(decode_object(encode_object(bad, dim, kId, kKey), dim, kId, kKey, "range"),
                 IndexError);
  }
  {
    ObjectData bad = o;
    bad.prep = std::make_shared<SnapshotPrep>(*o.prep);
    std::swap(bad.prep->terms.entry_term[0], bad.prep->terms.entry_term[1]);
    EXPECT_THROW(decode_object(encode_object(bad, dim, kId, kKey), dim, kId, kKey, "order"),
                 IndexError);
  }
  const std::string bytes = encode_object(o, dim, kId, kKey);
  ASSERT_NO_THROW(decode_object(bytes, dim, kId, kKey, "good"));
  // Hand-made term sections after the same chunks, vectors and keys (the object's version-3
  // bytes), version 4 and checksums made right.
  ObjectData plain = o;
  plain.prep.reset();
  const std::string v3 = encode_object(plain, dim, kId, kKey);
  ASSERT_EQ(bytes.compare(136, v3.size() - 136, v3, 136), 0);
  const std::string terms = bytes.substr(v3.size());
  auto with_terms = [&](const std::string& t) { return as_version4(v3 + t); };
  ASSERT_EQ(with_terms(terms), bytes);
  auto path_field = [](const std::string& p) {
    std::string f(4, '\0');
    const auto n = static_cast<uint32_t>(p.size());
    std::memcpy(f.data(), &n, 4);
    return f + p;
  };
  const std::string ok_path = path_field("a.py");
  ASSERT_EQ(terms.compare(0, ok_path.size(), ok_path), 0);
  const std::string after_path = terms.substr(ok_path.size());  // the term count onwards
  const std::vector<std::pair<const char*, std::string>> bad_sections = {
      {"bytes left over", terms + std::string(1, '\0')},
      {"a varint cut off", terms + std::string(1, '\x80')},
      {"the section cut short", terms.substr(0, terms.size() - 1)},
      {"no section at all", ""},
      {"an empty path", path_field("") + after_path},
      {"a term count of 0", ok_path + std::string(1, '\0')},
      {"a term count in a redundant form", ok_path + "\x81\x00" + after_path.substr(1)},
      // One term, then the two chunks with no entries (3 lengths and a count each): whole
      // sections but for the term itself.
      {"an empty term", ok_path + std::string("\x01\x00", 2) + std::string(8, '\0')},
      {"a term of 65 bytes", ok_path + "\x01\x41" + std::string(65, 'a') + std::string(8, '\0')},
      {"a term of 64 bytes, no chunk naming it", ok_path + "\x01\x40" + std::string(64, 'a')},
      {"more terms than bytes", ok_path + "\xff\xff\xff\xff\x0f"},
  };
  for (const auto& [what, section] : bad_sections)
    EXPECT_THROW(decode_object(with_terms(section), dim, kId, kKey, what), IndexError) << what;
  // The longest term the tokenizer gives is kept (the same section with its chunks' lengths).
  EXPECT_NO_THROW(
      decode_object(with_terms(ok_path + "\x01\x40" + std::string(64, 'a') + std::string(8, '\0')),
                    dim, kId, kKey, "64 bytes"));
  // A version-4 object of no chunks holds no terms.
  ObjectData none;
  const std::string empty3 = encode_object(none, dim, kId, kKey);
  EXPECT_THROW(decode_object(as_version4(empty3 + path_field("a.py") + "\x01\x01x"), dim, kId, kKey,
                             "zero chunks"),
               IndexError);
}

// A snapshot large enough that the writer meets every case: an object's vectors over 1 MiB
// (written directly), sections over 4 MiB (checksummed in several pieces, combined), runs of
// small pieces gathered in the buffer, and the term strings, records and postings written
// after the rest. The file equals the in-memory image, opens (every section checksum) and its
// payload CRC matches one pass over the bytes.
TEST(IndexStore, LargeSnapshotWrittenInPiecesRoundTrips) {
  const uint32_t dim = 384;
  std::vector<ObjectData> objs;
  objs.push_back(make_object(3000, dim, 7));  // 4.6 MB of vectors
  for (uint32_t i = 0; i < 40; ++i) objs.push_back(make_object(1 + i % 5, dim, 100 + i));
  for (size_t c = 0; c < objs[0].chunks.size(); ++c)
    objs[0].chunks[c].content +=
        std::string(1500, static_cast<char>('a' + c % 26)) + " word" + std::to_string(c);
  std::vector<SnapshotFileInput> in;
  std::vector<std::string> paths;
  for (size_t i = 0; i < objs.size(); ++i)
    paths.push_back("dir" + std::to_string(i % 3) + "/f" + std::to_string(i) + ".py");
  for (size_t i = 0; i < objs.size(); ++i) in.push_back({paths[i], &objs[i], 10 + i, 0});
  const std::string mem = build_snapshot_bytes(in, dim, kKey);
  ASSERT_GT(mem.size(), size_t(10) << 20);
  const fs::path dir = temp_dir("large");
  SnapshotWriteResult wr;
  {
    AtomicFile f(dir / "s.bin");
    Bm25Dictionary dict;
    wr = write_snapshot(f, in, dim, kKey, &dict);
    f.commit(false);
  }
  std::ifstream f(dir / "s.bin", std::ios::binary);
  EXPECT_TRUE(std::string((std::istreambuf_iterator<char>(f)), {}) == mem);
  auto snap = Snapshot::open_file(dir / "s.bin");
  EXPECT_TRUE(snap->verify_payload());
  EXPECT_EQ(snap->payload_crc(), wr.payload_crc);
  EXPECT_EQ(snap->num_chunks(), 3000u + 120u);
  std::vector<float> sc(snap->num_chunks(), 0.0f);
  std::vector<uint32_t> touched;
  snap->bm25().score("word2999", &sc, &touched);  // word2999 (only there), word, 2999
  EXPECT_EQ(std::max_element(sc.begin(), sc.end()) - sc.begin(), 2999);
  fs::remove_all(dir);
}

TEST(IndexStore, AtomicFileLeavesNothingUncommitted) {
  const fs::path dir = temp_dir("atomic");
  {
    AtomicFile f(dir / "x.bin");
    f.write("hello", 5);
  }
  EXPECT_TRUE(fs::is_empty(dir));
  atomic_write_file(dir / "y.bin", "abc");
  EXPECT_EQ(read_file(dir / "y.bin"), "abc");
  atomic_write_file(dir / "y.bin", "defg");
  EXPECT_EQ(read_file(dir / "y.bin"), "defg");
  size_t n = 0;
  for (auto& e : fs::directory_iterator(dir)) {
    EXPECT_FALSE(is_temp_file_name(e.path().filename().string()));
    ++n;
  }
  EXPECT_EQ(n, 1u);
  EXPECT_THROW(read_file(dir / "missing"), IoError);
  fs::remove_all(dir);
}

TEST(IndexStore, FileLockExcludesOtherThreads) {
  const fs::path dir = temp_dir("lock");
  std::atomic<int> inside{0}, max_inside{0};
  auto worker = [&] {
    for (int i = 0; i < 20; ++i) {
      FileLock l(dir / "lock");
      int now = ++inside;
      int m = max_inside.load();
      while (now > m && !max_inside.compare_exchange_weak(m, now)) {
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      --inside;
    }
  };
  std::thread t1(worker), t2(worker), t3(worker);
  t1.join();
  t2.join();
  t3.join();
  EXPECT_EQ(max_inside.load(), 1);
  fs::remove_all(dir);
}
