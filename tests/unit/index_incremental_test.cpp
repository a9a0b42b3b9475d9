// The persistent index end to end with a deterministic stand-in embedder (TestHashEmbedder:
// hashed bag of code terms, unit/test_hash_embedder.hpp), so that storage and incremental logic are
// tested without the neural engine: what is re-embedded after edits, renames and deletions, model
// changes, damaged files on disk, concurrent writers, and agreement with --no-index search.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "chunk/chunker.hpp"
#include "index/bm25.hpp"
#include "index/rank.hpp"
#include "ripvec/error.hpp"
#include "ripvec/index.hpp"
#include "unit/test_hash_embedder.hpp"

using namespace ripvec;
namespace fs = std::filesystem;

namespace {

// Every write gets a distinct mtime well in the past: entries whose mtime is within 2 s of an
// update are "racily clean" and re-hashed by design, which would blur what these tests count.
void set_past_mtime(const fs::path& p) {
  static int counter = 0;
  fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::hours(1) +
                             std::chrono::seconds(10 * ++counter));
}

void write(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << s;
  }
  set_past_mtime(p);
}

// A new mtime without a content change (what `touch` does).
void bump_mtime(const fs::path& p) {
  set_past_mtime(p);
}

std::string py_file(const std::string& name, int n_funcs) {
  std::string s;
  for (int i = 0; i < n_funcs; ++i) {
    s += "def " + name + "_func_" + std::to_string(i) + "(x):\n";
    for (int l = 0; l < 12; ++l)
      s += "    x = x + " + std::to_string(i * 100 + l) + "  # " + name + " step\n";
    s += "    return x\n\n";
  }
  return s;
}

class IndexIncremental : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("ripvec_idx_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    root_ = base_ / "repo";
    cache_ = base_ / "cache";
    fs::create_directories(root_);
    write(root_ / "src/alpha.py", py_file("alpha", 3));
    write(root_ / "src/beta.py", py_file("beta", 2));
    write(root_ / "lib/gamma.py", py_file("gamma", 4));
    write(root_ / "README.md",
          "# Demo project\n\nThe zanzibar widget frobnicates configuration.\n");
    write(root_ / "notes.txt", "plain text notes about quux handling\n");
  }
  void TearDown() override { fs::remove_all(base_); }

  IndexOptions opts() const {
    IndexOptions o;
    o.cache_dir = cache_;
    return o;
  }
  std::unique_ptr<Index> open(Embedder& e, IndexOptions o) {
    return Index::open(root_, borrow(e), o);
  }
  std::unique_ptr<Index> open(Embedder& e) { return open(e, opts()); }

  std::vector<std::string> top_paths(const Index& idx, const std::string& q, SearchMode m,
                                     size_t k = 5) {
    SearchOptions so;
    so.mode = m;
    so.top_k = k;
    std::vector<std::string> out;
    for (auto& h : idx.search(q, so)) out.push_back(h.path);
    return out;
  }
  size_t count_objects() const {
    size_t n = 0;
    for (auto& e : fs::recursive_directory_iterator(cache_))
      if (e.path().extension() == ".obj") ++n;
    return n;
  }

  fs::path base_, root_, cache_;
};

size_t chunks_of(const std::string& rel, const std::string& content, Embedder& e) {
  ChunkOptions co;
  co.tokenizer = &e.tokenizer();
  co.max_tokens = e.max_seq_length();
  return chunk_file(rel, content, co).size();
}

}  // namespace

TEST_F(IndexIncremental, FirstRunThenNothingToDo) {
  TestHashEmbedder emb;
  auto idx = open(emb);
  EXPECT_EQ(idx->status().chunks, 0u);
  EXPECT_TRUE(idx->search("anything", {}).empty());
  UpdateStats s1 = idx->update();
  EXPECT_EQ(s1.files_seen, 5u);
  EXPECT_EQ(s1.files_added, 5u);
  EXPECT_EQ(s1.added.size(), 5u);
  EXPECT_GT(s1.chunks_embedded, 5u);
  EXPECT_EQ(s1.chunks_embedded, s1.chunks_total);
  EXPECT_EQ(emb.documents_embedded, s1.chunks_embedded);
  EXPECT_EQ(idx->status().chunks, s1.chunks_total);
  EXPECT_EQ(count_objects(), 5u);
  EXPECT_TRUE(fs::exists(idx->location() / "manifest.json"));
  EXPECT_EQ(idx->location().parent_path().parent_path(), cache_);

  UpdateStats s2 = idx->update();
  EXPECT_EQ(s2.chunks_embedded, 0u);
  EXPECT_EQ(s2.files_unchanged, 5u);
  EXPECT_TRUE(s2.added.empty() && s2.modified.empty() && s2.removed.empty());
  EXPECT_EQ(s2.chunks_total, s1.chunks_total);

  // A fresh process (new ProjectIndex) sees the committed index without updating.
  TestHashEmbedder emb2;
  auto again = open(emb2);
  EXPECT_EQ(again->status().chunks, s1.chunks_total);
  auto kw = top_paths(*again, "zanzibar", SearchMode::Keyword);
  ASSERT_FALSE(kw.empty());
  EXPECT_EQ(kw[0], "README.md");
  EXPECT_EQ(again->update().chunks_embedded, 0u);
  EXPECT_EQ(emb2.documents_embedded, 0u);
}

TEST_F(IndexIncremental, EditOneFileReembedsOnlyIt) {
  TestHashEmbedder emb;
  auto idx = open(emb);
  idx->update();
  const std::string new_beta = py_file("beta", 3) + "def brand_new_helper():\n    return 1\n";
  write(root_ / "src/beta.py", new_beta);
  bump_mtime(root_ / "src/beta.py");
  const size_t before = emb.documents_embedded;
  UpdateStats s = idx->update();
  EXPECT_EQ(s.modified, std::vector<std::string>{"src/beta.py"});
  EXPECT_EQ(s.files_modified, 1u);
  EXPECT_EQ(s.files_unchanged, 4u);
  // beta's first two functions are as they were: their vectors are kept.
  EXPECT_EQ(s.chunks_reused, 2u);
  EXPECT_EQ(s.chunks_embedded + s.chunks_reused, chunks_of("src/beta.py", new_beta, emb));
  EXPECT_EQ(emb.documents_embedded - before, s.chunks_embedded);
  EXPECT_EQ(s.objects_collected, 1u);  // the old version of beta.py
  EXPECT_EQ(count_objects(), 5u);
  auto kw = top_paths(*idx, "brand_new_helper", SearchMode::Keyword);
  ASSERT_FALSE(kw.empty());
  EXPECT_EQ(kw[0], "src/beta.py");
}

// Editing one function of a file re-embeds that function's chunk only: the file's other
// chunks have the same text (so the same token ids) as in its previous version, whose object
// gives their vectors. The index then answers exactly as one built from scratch.
TEST_F(IndexIncremental, EditingOneFunctionReembedsOnlyItsChunk) {
  write(root_ / "lib/gamma.py", py_file("gamma", 6));
  TestHashEmbedder emb;
  auto idx = open(emb);
  idx->update();
  std::string gamma = py_file("gamma", 6);
  const std::string from = "x = x + 305  # gamma step", to = "x = x * 305  # gamma scaled step";
  ASSERT_NE(gamma.find(from), std::string::npos);
  gamma.replace(gamma.find(from), from.size(), to);
  write(root_ / "lib/gamma.py", gamma);
  const size_t before = emb.documents_embedded;
  UpdateStats s = idx->update();
  EXPECT_EQ(s.modified, std::vector<std::string>{"lib/gamma.py"});
  EXPECT_EQ(s.chunks_embedded, 1u);
  EXPECT_EQ(s.chunks_reused, 5u);
  EXPECT_EQ(emb.documents_embedded - before, 1u);

  // The same answers, scores included, as a first index of the edited tree.
  TestHashEmbedder fresh_emb;
  IndexOptions o = opts();
  o.cache_dir = base_ / "fresh-cache";
  auto fresh = open(fresh_emb, o);
  EXPECT_EQ(fresh->update().chunks_embedded, s.chunks_total);
  for (const char* q : {"gamma scaled step", "gamma_func_2", "alpha step", "zanzibar widget"}) {
    for (SearchMode m : {SearchMode::Semantic, SearchMode::Hybrid}) {
      SearchOptions so;
      so.mode = m;
      so.top_k = 50;
      const auto a = idx->search(q, so), b = fresh->search(q, so);
      ASSERT_EQ(a.size(), b.size()) << q;
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].path, b[i].path) << q << " " << i;
        EXPECT_EQ(a[i].start_line, b[i].start_line) << q << " " << i;
        EXPECT_EQ(a[i].score, b[i].score) << q << " " << i;
      }
    }
  }
  // An edit that changes every chunk's text (here: the path in each header, by a rename) keeps
  // nothing.
  fs::rename(root_ / "lib/gamma.py", root_ / "lib/gamma2.py");
  UpdateStats r = idx->update();
  EXPECT_EQ(r.chunks_reused, 0u);
  EXPECT_EQ(r.chunks_embedded, 6u);
}

// A first index skips listing the objects folder in its garbage collection only when the
// folder held nothing before it: the objects of a first index killed before its commit (no
// manifest, no snapshot) are still there for the next first index, and those no longer named
// (a file edited in between) are collected by it.
TEST_F(IndexIncremental, ObjectsOfAKilledFirstIndexAreCollectedByTheNext) {
  TestHashEmbedder emb;
  fs::path loc;
  {
    auto idx = open(emb);
    idx->update();
    loc = idx->location();
  }
  ASSERT_EQ(count_objects(), 5u);
  // What a first index killed between its objects and its commit leaves behind.
  fs::remove(loc / "manifest.json");
  for (auto& e : fs::directory_iterator(loc))
    if (e.path().filename().string().starts_with("snapshot-")) fs::remove(e.path());
  write(root_ / "src/beta.py", py_file("beta", 2) + "def late_edit():\n    return 2\n");
  bump_mtime(root_ / "src/beta.py");
  auto idx = open(emb);
  const UpdateStats s = idx->update();
  EXPECT_EQ(s.files_added, 5u);
  EXPECT_EQ(s.objects_collected, 1u);  // beta.py's object from before the edit
  EXPECT_EQ(count_objects(), 5u);
}

TEST_F(IndexIncremental, TouchWithoutChangeEmbedsNothing) {
  TestHashEmbedder emb;
  auto idx = open(emb);
  idx->update();
  bump_mtime(root_ / "lib/gamma.py");
  UpdateStats s = idx->update();
  EXPECT_EQ(s.chunks_embedded, 0u);
  EXPECT_TRUE(s.modified.empty());
  EXPECT_EQ(s.files_unchanged, 5u);
  // The new mtime is recorded: the next run does not even hash the file.
  UpdateStats s2 = idx->update();
  EXPECT_EQ(s2.chunk_s, 0.0);
}

TEST_F(IndexIncremental, TouchKeepsTheSnapshot) {
  TestHashEmbedder emb;
  auto idx = open(emb);
  idx->update();
  auto snapshot_name = [&] {
    for (auto& e : fs::directory_iterator(idx->location()))
      if (e.path().filename().string().rfind("snapshot-", 0) == 0) return e.path().filename();
    return fs::path();
  };
  const fs::path before = snapshot_name();
  bump_mtime(root_ / "src/alpha.py");
  bump_mtime(root_ / "README.md");
  UpdateStats s = idx->update();
  EXPECT_EQ(s.chunks_embedded, 0u);
  EXPECT_EQ(s.files_unchanged, 5u);
  EXPECT_EQ(snapshot_name(), before);  // nothing to rebuild
  EXPECT_EQ(idx->update().chunk_s, 0.0);
}

TEST_F(IndexIncremental, RacilyCleanFileIsRehashed) {
  // A file written in the same timestamp tick as the update that read it keeps size and mtime
  // when rewritten: the index must not trust that stat.
  TestHashEmbedder emb;
  auto idx = open(emb);
  const fs::path f = root_ / "src/racy.py";
  { std::ofstream(f) << "def racy_version_one():\n    return 1\n"; }
  const auto mtime = fs::last_write_time(f);  // now: inside the racy window
  idx->update();
  { std::ofstream(f, std::ios::trunc) << "def racy_version_two():\n    return 2\n"; }
  fs::last_write_time(f, mtime);  // same size, same mtime
  UpdateStats s = idx->update();
  EXPECT_EQ(s.modified, std::vector<std::string>{"src/racy.py"});
  auto kw = top_paths(*idx, "racy_version_two", SearchMode::Keyword);
  ASSERT_FALSE(kw.empty());
  EXPECT_EQ(kw[0], "src/racy.py");
}

// Probe 2026-12-05: a file replaced by one of the same size and mtime (an extracted archive,
// `cp -p`, `rsync -a`, reproducible builds that give every file one mtime) was "unchanged": the
// index served the old text and status said nothing was stale. The inode change time and inode
// number are compared too (git's stat check).
TEST_F(IndexIncremental, SameSizeAndMtimeButNewContentIsReread) {
  TestHashEmbedder emb;
  auto idx = open(emb);
  const fs::path f = root_ / "src/archived.py";
  write(f, "def archived_version_one():\n    return 1\n");
  const auto mtime = fs::last_write_time(f);
  idx->update();
  // As `tar x` does: a new file (new inode) with the old size and mtime.
  fs::remove(f);
  write(f, "def archived_version_two():\n    return 2\n");
  fs::last_write_time(f, mtime);
  IndexStatus before = idx->status();
  EXPECT_EQ(before.stale, std::vector<std::string>{"M src/archived.py"});
  UpdateStats s = idx->update();
  EXPECT_EQ(s.modified, std::vector<std::string>{"src/archived.py"});
  auto kw = top_paths(*idx, "archived_version_two", SearchMode::Keyword);
  ASSERT_FALSE(kw.empty());
  EXPECT_EQ(kw[0], "src/archived.py");
  // In place (same inode), mtime put back (`touch -r`): the change time still moved.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  { std::ofstream(f, std::ios::in | std::ios::out) << "def archived_version_six"; }
  fs::last_write_time(f, mtime);
  s = idx->update();
  EXPECT_EQ(s.modified, std::vector<std::string>{"src/archived.py"});
  kw = top_paths(*idx, "archived_version_six", SearchMode::Keyword);
  ASSERT_FALSE(kw.empty());
  EXPECT_EQ(kw[0], "src/archived.py");
  // Nothing changed since: not even read.
  EXPECT_EQ(idx->update().chunk_s, 0.0);
}

// Probe 2026-12-05: a root renamed away for a moment (or deleted and made again) made the
// watcher's update walk nothing and commit an empty index, which the server then served. An
// update whose root is gone fails and leaves the committed index as it was.
TEST_F(IndexIncremental, RootThatIsGoneLeavesTheIndexAlone) {
  TestHashEmbedder emb;
  auto idx = open(emb);
  const size_t chunks = idx->update().chunks_total;
  ASSERT_GT(chunks, 0u);
  const fs::path away = base_ / "away";
  fs::rename(root_, away);
  EXPECT_THROW(idx->update(), IoError);
  fs::rename(away, root_);
  EXPECT_EQ(idx->status().chunks, chunks);
  auto kw = top_paths(*idx, "gamma_func_2", SearchMode::Keyword);
  ASSERT_FALSE(kw.empty());
  EXPECT_EQ(kw[0], "lib/gamma.py");
  UpdateStats again = idx->update();
  EXPECT_EQ(again.chunks_embedded, 0u);
  EXPECT_TRUE(again.removed.empty());
}

// Probe 2026-12-05: a file whose mtime is in the future (`touch -d 2100-01-01`) was recorded
// as "racily clean" (mtime -1): every update read it again and `--status` called it stale
// forever.
TEST_F(IndexIncremental, FutureMtimeIsNotStaleForever) {
  TestHashEmbedder emb;
  auto idx = open(emb);
  const fs::path f = root_ / "src/future.py";
  write(f, "def from_the_future():\n    return 2100\n");
  fs::last_write_time(f, fs::file_time_type::clock::now() + std::chrono::hours(24 * 365 * 50));
  idx->update();
  EXPECT_TRUE(idx->status().stale.empty()) << idx->status().stale.front();
  UpdateStats again = idx->update();
  EXPECT_EQ(again.chunk_s, 0.0);  // not even read
  EXPECT_TRUE(again.modified.empty());
}

TEST_F(IndexIncremental, RenameAndDelete) {
  TestHashEmbedder emb;
  auto idx = open(emb);
  const size_t total0 = idx->update().chunks_total;
  const std::string gamma = py_file("gamma", 4);
  fs::rename(root_ / "lib/gamma.py", root_ / "lib/gamma_renamed.py");
  UpdateStats s = idx->update();
  EXPECT_EQ(s.removed, std::vector<std::string>{"lib/gamma.py"});
  EXPECT_EQ(s.added, std::vector<std::string>{"lib/gamma_renamed.py"});
  // The path is part of what is embedded (chunk headers), so the renamed file is re-embedded.
  EXPECT_EQ(s.chunks_embedded, chunks_of("lib/gamma_renamed.py", gamma, emb));
  EXPECT_EQ(s.chunks_total, total0);
  auto kw = top_paths(*idx, "gamma_func_2", SearchMode::Keyword, 20);
  ASSERT_FALSE(kw.empty());
  for (auto& p : kw) EXPECT_NE(p, "lib/gamma.py");
  EXPECT_EQ(kw[0], "lib/gamma_renamed.py");

  fs::remove(root_ / "src/alpha.py");
  UpdateStats d = idx->update();
  EXPECT_EQ(d.removed, std::vector<std::string>{"src/alpha.py"});
  EXPECT_EQ(d.chunks_embedded, 0u);
  EXPECT_EQ(d.objects_collected, 1u);
  EXPECT_EQ(d.chunks_total, total0 - chunks_of("src/alpha.py", py_file("alpha", 3), emb));
  EXPECT_EQ(count_objects(), 4u);
  for (auto& p : top_paths(*idx, "alpha_func_1", SearchMode::Hybrid, 50))
    EXPECT_NE(p, "src/alpha.py");
}

TEST_F(IndexIncremental, RevertReusesTheOldObjectWhenStillPresent) {
  // Two edits within one update window are not needed: a reverted file whose object is
  // still stored (e.g. killed before GC) is reused. Simulate with a manual copy of the object.
  TestHashEmbedder emb;
  auto idx = open(emb);
  idx->update();
  std::vector<fs::path> objs;
  for (auto& e : fs::recursive_directory_iterator(idx->location() / "objects"))
    if (e.is_regular_file()) objs.push_back(e.path());
  const fs::path keep = base_ / "saved";
  fs::create_directories(keep);
  for (auto& o : objs) fs::copy_file(o, keep / o.filename());
  const std::string orig = py_file("beta", 2);
  write(root_ / "src/beta.py", orig + "\n# tweak\n");
  bump_mtime(root_ / "src/beta.py");
  // (A comment after the last function changes no chunk's text: every vector is kept.)
  const UpdateStats tweaked = idx->update();
  EXPECT_EQ(tweaked.files_modified, 1u);
  EXPECT_GT(tweaked.chunks_embedded + tweaked.chunks_reused, 0u);
  for (auto& o : objs) {
    if (fs::exists(o)) continue;
    fs::create_directories(o.parent_path());  // GC removes emptied object folders
    fs::copy_file(keep / o.filename(), o);
  }
  write(root_ / "src/beta.py", orig);
  bump_mtime(root_ / "src/beta.py");
  UpdateStats s = idx->update();
  EXPECT_EQ(s.modified, std::vector<std::string>{"src/beta.py"});
  EXPECT_EQ(s.chunks_embedded, 0u);
}

TEST_F(IndexIncremental, TwoModelsIndexesCoexistAndSwitchingBackEmbedsNothing) {
  TestHashEmbedder a("test/model-a"), b("test/model-b");
  auto ia = open(a);
  const size_t n = ia->update().chunks_total;
  auto ib = open(b);
  EXPECT_NE(ib->location(), ia->location());
  EXPECT_EQ(ib->location().parent_path(), ia->location().parent_path());  // one root folder
  EXPECT_EQ(ib->status().chunks, 0u);  // never shows model-a vectors
  UpdateStats s = ib->update();
  EXPECT_EQ(s.chunks_embedded, n);
  EXPECT_EQ(s.files_added, 5u);
  EXPECT_EQ(count_objects(), 10u);  // both models' objects stay
  // Back to model a (a fresh process): nothing to embed.
  TestHashEmbedder a2("test/model-a");
  auto ia2 = open(a2);
  EXPECT_EQ(ia2->location(), ia->location());
  EXPECT_EQ(ia2->update().chunks_embedded, 0u);
  EXPECT_EQ(a2.documents_embedded, 0u);
  // Same id, other dim: another index too.
  TestHashEmbedder c("test/model-b", 32);
  auto ic = open(c);
  EXPECT_NE(ic->location(), ib->location());
  EXPECT_EQ(ic->status().chunks, 0u);
  EXPECT_EQ(ic->update().chunks_embedded, n);
  EXPECT_EQ(ic->search("alpha", {}).size(), 10u);
  EXPECT_EQ(list_indexes(cache_).size(), 3u);
}

TEST_F(IndexIncremental, ReindexRebuildsEverything) {
  TestHashEmbedder emb;
  const size_t n = open(emb)->update().chunks_total;
  IndexOptions o = opts();
  o.reindex = true;
  auto idx = open(emb, o);
  UpdateStats s = idx->update();
  EXPECT_EQ(s.chunks_embedded, n);
  EXPECT_EQ(idx->update().chunks_embedded, 0u);
}

TEST_F(IndexIncremental, CorruptOrTruncatedObjectIsRebuilt) {
  TestHashEmbedder emb;
  auto idx = open(emb);
  idx->update();
  // Damage alpha's object (flip a byte) and truncate beta's; then change notes.txt so that
  // the snapshot must be rebuilt from objects.
  const fs::path objdir = idx->location() / "objects";
  std::vector<fs::path> objs;
  for (auto& e : fs::recursive_directory_iterator(objdir))
    if (e.is_regular_file()) objs.push_back(e.path());
  ASSERT_EQ(objs.size(), 5u);
  // Identify objects by content: decode is internal, so read the manifest ids instead.
  std::string manifest;
  {
    std::ifstream f(idx->location() / "manifest.json");
    manifest.assign(std::istreambuf_iterator<char>(f), {});
  }
  auto id_of = [&](const std::string& rel) {
    size_t p = manifest.find("\"" + rel + "\"");
    size_t q = manifest.find("\"id\"", p);
    size_t a = manifest.find('"', q + 4);
    return manifest.substr(a + 1, 64);
  };
  auto obj_path = [&](const std::string& rel) {
    std::string id = id_of(rel);
    for (auto& o : objs)
      if (o.filename().string().rfind(id, 0) == 0) return o;
    return fs::path();
  };
  const fs::path a = obj_path("src/alpha.py"), b = obj_path("src/beta.py");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  {
    std::fstream f(a, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    char c = 0;
    f.read(&c, 1);
    f.seekp(200);
    c = static_cast<char>(c ^ 0x40);
    f.write(&c, 1);
  }
  fs::resize_file(b, fs::file_size(b) - 10);
  write(root_ / "notes.txt", "plain text notes about quux handling, edited\n");
  bump_mtime(root_ / "notes.txt");
  UpdateStats s = idx->update();
  EXPECT_EQ(s.corrupt_rebuilt, 2u);
  EXPECT_EQ(s.modified, std::vector<std::string>{"notes.txt"});
  EXPECT_EQ(s.chunks_embedded,
            chunks_of("src/alpha.py", py_file("alpha", 3), emb) +
                chunks_of("src/beta.py", py_file("beta", 2), emb) +
                chunks_of("notes.txt", "plain text notes about quux handling, edited\n", emb));
  ASSERT_GE(s.warnings.size(), 2u);
  bool mentions = false;
  for (auto& w : s.warnings) mentions |= w.find("src/alpha.py") != std::string::npos;
  EXPECT_TRUE(mentions);
  // A missing object is rebuilt as well.
  fs::remove(obj_path("lib/gamma.py").empty() ? fs::path("/nonexistent")
                                              : obj_path("lib/gamma.py"));
  UpdateStats s2 = idx->update();
  EXPECT_EQ(s2.chunks_embedded, chunks_of("lib/gamma.py", py_file("gamma", 4), emb));
  EXPECT_EQ(idx->update().chunks_embedded, 0u);
}

TEST_F(IndexIncremental, CorruptOrTruncatedSnapshotIsRebuiltFromObjects) {
  TestHashEmbedder emb;
  auto idx = open(emb);
  const size_t n = idx->update().chunks_total;
  auto snapshot_file = [&] {
    for (auto& e : fs::directory_iterator(idx->location()))
      if (e.path().filename().string().rfind("snapshot-", 0) == 0) return e.path();
    return fs::path();
  };
  // Flip one byte inside the vectors (payload): caught by the CRC because mtime changed.
  fs::path sp = snapshot_file();
  {
    std::fstream f(sp, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(sp) / 2));
    f.write("\x7f\x7f\x7f\x7f", 4);
  }
  bump_mtime(sp);
  UpdateStats s = idx->update();
  EXPECT_EQ(s.corrupt_rebuilt, 1u);
  EXPECT_EQ(s.chunks_embedded, 0u);  // objects are intact: nothing to re-embed
  EXPECT_EQ(s.chunks_total, n);
  // Truncate: caught at open, by queries too.
  sp = snapshot_file();
  fs::resize_file(sp, fs::file_size(sp) - 100);
  TestHashEmbedder emb2;
  auto reader = open(emb2);
  EXPECT_EQ(reader->status().chunks, 0u);  // refuses the damaged file instead of crashing
  UpdateStats s2 = reader->update();
  EXPECT_EQ(s2.corrupt_rebuilt, 1u);
  EXPECT_EQ(s2.chunks_embedded, 0u);
  EXPECT_EQ(reader->status().chunks, n);
  // Garbage manifest: rebuilt, and the stored objects are still reused.
  write(reader->location() / "manifest.json", "{ not json");
  UpdateStats s3 = reader->update();
  EXPECT_EQ(s3.corrupt_rebuilt, 1u);
  EXPECT_EQ(s3.chunks_embedded, 0u);
  EXPECT_EQ(reader->status().chunks, n);
  ASSERT_FALSE(top_paths(*reader, "zanzibar", SearchMode::Keyword).empty());
}

TEST_F(IndexIncremental, ConcurrentUpdatesAreSerialized) {
  TestHashEmbedder e1, e2;
  auto i1 = open(e1);
  auto i2 = open(e2);
  std::atomic<bool> go{false};
  UpdateStats s1, s2;
  std::thread t1([&] {
    while (!go) {
    }
    s1 = i1->update();
  });
  std::thread t2([&] {
    while (!go) {
    }
    s2 = i2->update();
  });
  go = true;
  t1.join();
  t2.join();
  // Exactly one of them did the work; the other found it done.
  EXPECT_EQ(std::min(s1.chunks_embedded, s2.chunks_embedded), 0u);
  EXPECT_EQ(std::max(s1.chunks_embedded, s2.chunks_embedded), s1.chunks_total);
  EXPECT_EQ(s1.chunks_total, s2.chunks_total);
  EXPECT_EQ(i1->status().chunks, i2->status().chunks);
  EXPECT_EQ(count_objects(), 5u);
}

TEST_F(IndexIncremental, SkippedFilesAreCountedAndNotReread) {
  write(root_ / "blob.bin", std::string("abc\0def", 7));
  write(root_ / "latin1.txt", "caf\xe9\n");
  TestHashEmbedder emb;
  auto idx = open(emb);
  UpdateStats s = idx->update();
  EXPECT_EQ(s.skipped_binary, 1u);
  EXPECT_EQ(s.skipped_invalid_utf8, 1u);
  EXPECT_EQ(s.files_added, 5u);
  UpdateStats s2 = idx->update();
  EXPECT_EQ(s2.skipped_binary, 1u);
  EXPECT_EQ(s2.skipped_invalid_utf8, 1u);
  EXPECT_EQ(s2.chunk_s, 0.0);  // nothing was read
  // A file that was indexed and turns binary leaves the index.
  write(root_ / "notes.txt", std::string("now\0binary", 10));
  bump_mtime(root_ / "notes.txt");
  UpdateStats s3 = idx->update();
  EXPECT_EQ(s3.removed, std::vector<std::string>{"notes.txt"});
  EXPECT_EQ(s3.skipped_binary, 2u);
}

TEST_F(IndexIncremental, RepoLocalIndexDoesNotIndexItself) {
  TestHashEmbedder emb;
  IndexOptions o;
  o.repo_local = true;
  auto idx = open(emb, o);  // the index holds hidden files: it would see .ripvec/ otherwise
  EXPECT_EQ(idx->location().parent_path(), fs::canonical(root_) / ".ripvec");
  UpdateStats s = idx->update();
  EXPECT_EQ(s.files_seen, 5u);
  UpdateStats s2 = idx->update();
  EXPECT_EQ(s2.files_seen, 5u);
  EXPECT_EQ(s2.chunks_embedded, 0u);
  EXPECT_TRUE(fs::exists(idx->location() / "manifest.json"));
}

TEST_F(IndexIncremental, SearchModesScoresAndThreshold) {
  TestHashEmbedder emb;
  auto idx = open(emb);
  idx->update();
  SearchOptions so;
  so.top_k = 3;
  so.mode = SearchMode::Semantic;
  auto sem = idx->search("gamma_func_3 gamma step", so);
  ASSERT_EQ(sem.size(), 3u);
  EXPECT_EQ(sem[0].path, "lib/gamma.py");
  EXPECT_GT(sem[0].score, 0.3f);
  EXPECT_LE(sem[0].score, 1.0001f);
  EXPECT_EQ(sem[0].score, sem[0].semantic_score);
  EXPECT_EQ(sem[0].semantic_rank, 0);
  EXPECT_EQ(sem[0].keyword_rank, -1);
  for (size_t i = 1; i < sem.size(); ++i) EXPECT_GE(sem[i - 1].score, sem[i].score);
  EXPECT_FALSE(sem[0].content.empty());
  EXPECT_GT(sem[0].end_line, 0);

  so.mode = SearchMode::Keyword;
  auto kw = idx->search("frobnicates", so);
  ASSERT_EQ(kw.size(), 1u);
  EXPECT_EQ(kw[0].path, "README.md");
  EXPECT_EQ(kw[0].score, 1.0f);          // normalised by the query's best BM25F
  EXPECT_GT(kw[0].keyword_score, 0.0f);  // the raw BM25F

  so.mode = SearchMode::Hybrid;
  so.top_k = 10;
  auto hy = idx->search("alpha_func_0", so);
  ASSERT_FALSE(hy.empty());
  EXPECT_EQ(hy[0].path, "src/alpha.py");
  // Convex fusion in [0, 1]; an identifier query weighs the keyword side 0.8, and the best
  // chunk on both sides scores 1.
  EXPECT_LE(hy[0].score, 1.0f + 1e-6f);
  EXPECT_GT(hy[0].score, 1.0f - index::kIdentifierSemanticWeight - 1e-6f);
  if (hy[0].semantic_rank == 0 && hy[0].keyword_rank == 0) EXPECT_NEAR(hy[0].score, 1.0f, 1e-6);
  for (size_t i = 1; i < hy.size(); ++i) {
    EXPECT_GE(hy[i].score, 0.0f);
    EXPECT_LE(hy[i].score, hy[0].score);
  }
  EXPECT_NE(hy[0].semantic_score, 0.0f);

  // Threshold applies to the reported score of the mode.
  so.mode = SearchMode::Semantic;
  so.top_k = 100;
  so.threshold = 0.5f;
  for (auto& h : idx->search("alpha step", so)) EXPECT_GE(h.score, 0.5f);
  so.threshold = 1.5f;
  EXPECT_TRUE(idx->search("alpha step", so).empty());
  so.mode = SearchMode::Hybrid;
  so.threshold = 0.5f;
  for (auto& h : idx->search("alpha step", so)) EXPECT_GE(h.score, 0.5f);
}

TEST_F(IndexIncremental, HybridOrderAndScoresDoNotDependOnTopK) {
  // Fusion normalises each side over a fixed candidate depth: -n 3 is a prefix of -n 20 with
  // the same scores (issue 12: the candidate depth used to follow -n).
  TestHashEmbedder emb;
  auto idx = open(emb);
  idx->update();
  for (const char* q : {"alpha step", "beta_func_1"}) {
    SearchOptions so;
    so.merge_adjacent = false;
    so.top_k = 3;
    auto few = idx->search(q, so);
    so.top_k = 20;
    auto many = idx->search(q, so);
    ASSERT_FALSE(few.empty()) << q;
    ASSERT_LE(few.size(), many.size()) << q;
    for (size_t i = 0; i < few.size(); ++i) {
      EXPECT_EQ(few[i].path, many[i].path) << q << " #" << i;
      EXPECT_EQ(few[i].start_line, many[i].start_line) << q << " #" << i;
      EXPECT_EQ(few[i].score, many[i].score) << q << " #" << i;
    }
  }
}

TEST_F(IndexIncremental, InMemorySearchMatchesPersistentIndex) {
  TestHashEmbedder emb;
  auto idx = open(emb);
  idx->update();
  for (SearchMode m : {SearchMode::Semantic, SearchMode::Keyword, SearchMode::Hybrid}) {
    SearchOptions so;
    so.mode = m;
    so.top_k = 8;
    UpdateStats st;
    auto a = search_without_index(root_, emb, "beta_func_1 step", so, opts(), &st);
    auto b = idx->search("beta_func_1 step", so);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].path, b[i].path);
      EXPECT_EQ(a[i].start_line, b[i].start_line);
      EXPECT_FLOAT_EQ(a[i].score, b[i].score);
    }
    EXPECT_EQ(st.chunks_total, idx->status().chunks);
    EXPECT_EQ(st.files_added, 5u);
  }
  // --no-index wrote nothing anywhere.
  size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(cache_)) files += e.is_regular_file();
  EXPECT_EQ(files, 5u /*objects*/ + 3u /*manifest, snapshot, lock*/);
}

TEST_F(IndexIncremental, ProgressIsReported) {
  TestHashEmbedder emb;
  IndexOptions o = opts();
  std::vector<IndexProgress> seen;
  o.progress = [&](const IndexProgress& p) { seen.push_back(p); };
  auto idx = open(emb, o);
  UpdateStats s = idx->update();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().phase, IndexProgress::Phase::Scanning);
  EXPECT_EQ(seen.back().phase, IndexProgress::Phase::Done);
  EXPECT_EQ(seen.back().files_done, 5u);
  EXPECT_EQ(seen.back().files_total, 5u);
  EXPECT_EQ(seen.back().chunks_done, s.chunks_embedded);
  EXPECT_EQ(seen.back().chunks_total, s.chunks_embedded);
  bool embedding = false;
  for (size_t i = 0; i < seen.size(); ++i) {
    embedding |= seen[i].phase == IndexProgress::Phase::Embedding;
    EXPECT_LE(seen[i].files_done, seen[i].files_total);
    EXPECT_LE(seen[i].chunks_done, seen[i].chunks_total);
    // Counts never decrease within a phase (Chunking -> Embedding -> Writing -> Done keep them).
    if (i > 0 && seen[i].phase != IndexProgress::Phase::Scanning &&
        seen[i - 1].phase != IndexProgress::Phase::Scanning) {
      EXPECT_GE(seen[i].files_done, seen[i - 1].files_done);
      EXPECT_GE(seen[i].chunks_done, seen[i - 1].chunks_done);
    }
  }
  EXPECT_TRUE(embedding);
  // The mean rate is chunks_done over the time since the first Embedding report (what the
  // CLI's ETA divides by: the recent rate swings with the chunks' length).
  double t0 = -1;
  for (const IndexProgress& p : seen) {
    if (p.phase == IndexProgress::Phase::Embedding && t0 < 0) t0 = p.elapsed_s;
    if (p.chunks_per_s_mean > 0) {
      ASSERT_GE(t0, 0);
      EXPECT_NEAR(p.chunks_per_s_mean, static_cast<double>(p.chunks_done) / (p.elapsed_s - t0),
                  1e-9 * p.chunks_per_s_mean);
    } else if (t0 >= 0 && p.chunks_done > 0 && p.elapsed_s > t0 &&
               p.phase != IndexProgress::Phase::Scanning) {
      ADD_FAILURE() << "no mean rate at " << p.chunks_done << " chunks";
    }
  }
  // Nothing to do: Scanning then Done.
  seen.clear();
  idx->update();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.back().phase, IndexProgress::Phase::Done);
}

// Fails once `budget` document texts have been embedded (a model error mid-update).
class FailingEmbedder final : public Embedder {
 public:
  FailingEmbedder(TestHashEmbedder& inner, size_t budget) : inner_(inner), budget_(budget) {}
  size_t dim() const override { return inner_.dim(); }
  size_t max_seq_length() const override { return inner_.max_seq_length(); }
  const std::string& model_id() const override { return inner_.model_id(); }
  std::string device_name() const override { return "test"; }
  const Tokenizer& tokenizer() const override { return inner_.tokenizer(); }
  const std::string& prompt(InputKind k) const override { return inner_.prompt(k); }
  std::vector<float> embed(std::span<const std::string> texts, InputKind kind) override {
    if (kind == InputKind::Document) {
      if (texts.size() > budget_) throw DeviceError("simulated failure");
      budget_ -= texts.size();
    }
    return inner_.embed(texts, kind);
  }
  using Embedder::embed_tokens;
  std::vector<float> embed_tokens(std::span<const std::vector<int32_t>> ids,
                                  InputKind kind) override {
    if (ids.size() > budget_) throw DeviceError("simulated failure");  // documents come as ids
    budget_ -= ids.size();
    return inner_.embed_tokens(ids, kind);
  }
  // An index's groups. With no budget at all the run fails at once, as the real embedder's
  // run does when its weights could not be loaded (its first step waits for them).
  void embed_token_groups(const TokenGroupSource& next, const TokenGroupSink& done) override {
    ++runs;
    if (budget_ == 0) throw DeviceError("simulated failure: weights cannot be loaded");
    Embedder::embed_token_groups(next, done);
  }
  int runs = 0;

 private:
  TestHashEmbedder& inner_;
  size_t budget_;
};

TEST_F(IndexIncremental, EmbedderFailureKeepsThePreviousIndex) {
  TestHashEmbedder emb;
  const size_t n = open(emb)->update().chunks_total;
  write(root_ / "src/alpha.py", py_file("alpha", 5));
  write(root_ / "src/delta.py", py_file("delta", 3));
  bump_mtime(root_ / "src/alpha.py");
  IndexOptions o = opts();
  FailingEmbedder failing(emb, 3);
  auto idx = open(failing, o);
  EXPECT_THROW(idx->update(), DeviceError);
  // The committed index is untouched and still answers.
  EXPECT_EQ(idx->status().chunks, n);
  EXPECT_FALSE(top_paths(*idx, "zanzibar", SearchMode::Keyword).empty());
  // The next run with a working model completes the job and cleans up what the failed run
  // left behind.
  auto ok = open(emb);
  UpdateStats s = ok->update();
  EXPECT_EQ(s.added, std::vector<std::string>{"src/delta.py"});
  EXPECT_EQ(s.modified, std::vector<std::string>{"src/alpha.py"});
  EXPECT_EQ(count_objects(), 6u);
  EXPECT_FALSE(fs::exists(ok->location() / "gc-pending"));
  EXPECT_EQ(ok->update().chunks_embedded, 0u);
}

// An update with nothing to embed (touched files whose objects are reused, a skipped binary
// file, a removed file, the snapshot rebuilt from objects) never takes the embedder: a keyword
// search loads the weights only when the update has files to embed, and a model that cannot
// load does not fail it. The streamed ingest's first version started a run at once, whose
// first step waits for the weights (review of 8c98554).
TEST_F(IndexIncremental, UpdateThatEmbedsNothingNeverTakesTheEmbedder) {
  TestHashEmbedder emb;
  const size_t n = open(emb)->update().chunks_total;
  bump_mtime(root_ / "src/alpha.py");
  write(root_ / "data.bin", std::string("\x00\x01\x02binary", 9));
  FailingEmbedder broken(emb, 0);  // as a model whose weights cannot load
  {
    auto idx = open(broken);
    UpdateStats s = idx->update();
    EXPECT_EQ(s.chunks_embedded, 0u);
    EXPECT_EQ(s.chunks_total, n);
  }
  fs::remove(root_ / "src/beta.py");
  for (const auto& e : fs::directory_iterator(open(emb)->location()))
    if (e.path().filename().string().starts_with("snapshot-")) fs::remove(e.path());
  {
    auto idx = open(broken);
    UpdateStats s = idx->update();
    EXPECT_EQ(s.chunks_embedded, 0u);
    EXPECT_EQ(s.files_removed, 1u);
  }
  EXPECT_EQ(broken.runs, 0);
}

TEST_F(IndexIncremental, BadRootIsAnError) {
  TestHashEmbedder emb;
  EXPECT_THROW(Index::open(base_ / "missing", borrow(emb), opts()), IoError);
  // A file opens the index of its directory, scoped to the file.
  auto idx = Index::open(root_ / "notes.txt", borrow(emb), opts());
  EXPECT_EQ(idx->root(), fs::canonical(root_));
  EXPECT_EQ(idx->scope(), "notes.txt");
}
