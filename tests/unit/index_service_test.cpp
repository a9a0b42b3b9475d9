// The index as a service (ripvec/index.hpp) with the deterministic TestHashEmbedder: filters
// at query time never change the index, sub-paths and files are answered from the enclosing
// index, hidden / ignored / oversized files, merging and demotion of hits, find_similar,
// status / list / clean, and searches running while an update commits.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "chunk/chunker.hpp"
#include "index/rank.hpp"
#include "index/store.hpp"
#include "ripvec/error.hpp"
#include "ripvec/index.hpp"
#include "unit/test_hash_embedder.hpp"

using namespace ripvec;
namespace fs = std::filesystem;

namespace {

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

class IndexService : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("ripvec_svc_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    root_ = base_ / "repo";
    cache_ = base_ / "cache";
    fs::create_directories(root_ / ".git");  // a work tree: .gitignore applies
    write(root_ / ".gitignore", "build/\n");
    write(root_ / "src/alpha.py", py_file("alpha", 3));
    write(root_ / "src/beta.py", py_file("beta", 2));
    write(root_ / "lib/gamma.py", py_file("gamma", 4));
    write(root_ / "README.md",
          "# Demo project\n\nThe zanzibar widget frobnicates configuration.\n");
    write(root_ / ".config/secret.py", "def hidden_quokka(x):\n    return x * 2  # quokka\n");
    write(root_ / "build/generated.py", "def generated_wombat(x):\n    return x  # wombat\n");
  }
  void TearDown() override { fs::remove_all(base_); }

  IndexOptions opts() const {
    IndexOptions o;
    o.cache_dir = cache_;
    return o;
  }
  std::unique_ptr<Index> open(Embedder& e, const fs::path& p) {
    return Index::open(p, borrow(e), opts());
  }
  static std::set<std::string> paths_of(const std::vector<Hit>& hits) {
    std::set<std::string> s;
    for (const auto& h : hits) s.insert(h.path);
    return s;
  }
  static SearchOptions keyword(size_t k = 20) {
    SearchOptions so;
    so.mode = SearchMode::Keyword;
    so.top_k = k;
    return so;
  }

  fs::path base_, root_, cache_;
};

}  // namespace

TEST_F(IndexService, FilteredSearchesLeaveTheIndexUntouched) {
  TestHashEmbedder emb;
  auto idx = open(emb, root_);
  const UpdateStats first = idx->update();
  // The index holds hidden files (flagged), not ignored ones.
  EXPECT_EQ(first.files_seen, 6u);  // 4 sources + .gitignore + .config/secret.py
  SearchOptions so;
  so.top_k = 50;
  so.filter.types = {"py"};
  for (const auto& h : idx->search("step zanzibar", so))
    EXPECT_EQ(h.path.substr(h.path.size() - 3), ".py");
  so.filter = {};
  so.filter.globs = {"lib/**"};
  EXPECT_EQ(paths_of(idx->search("step", so)), std::set<std::string>{"lib/gamma.py"});
  so.filter = {};
  so.filter.globs = {"!lib/**"};
  EXPECT_EQ(paths_of(idx->search("step", so)).count("lib/gamma.py"), 0u);
  so.filter = {};
  so.filter.hidden = true;
  so.filter.no_ignore = true;
  so.filter.max_file_size = 1u << 30;
  idx->search("quokka wombat", so);
  so.filter = {};
  so.filter.type_not = {"py"};
  so.filter.max_file_size = 100;
  idx->search("widget", so);
  // A fresh Index (another process) finds nothing to do.
  TestHashEmbedder emb2;
  const UpdateStats again = open(emb2, root_)->update();
  EXPECT_EQ(again.chunks_embedded, 0u);
  EXPECT_EQ(again.files_removed, 0u);
  EXPECT_EQ(again.chunks_total, first.chunks_total);
  EXPECT_EQ(emb2.documents_embedded, 0u);
}

TEST_F(IndexService, FiltersActBeforeTopK) {
  TestHashEmbedder emb;
  auto idx = open(emb, root_);
  idx->update();
  SearchOptions so;
  so.mode = SearchMode::Semantic;
  so.top_k = 1;
  so.filter.types = {"md"};
  // The README is far down the unfiltered ranking for this query; filtering after top-1 would
  // return nothing.
  auto hits = idx->search("alpha_func_0 alpha step", so);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].path, "README.md");
}

TEST_F(IndexService, SubDirectoryAndFileAreAnsweredFromTheEnclosingIndex) {
  TestHashEmbedder emb;
  {
    auto first = open(emb, root_ / "src");
    EXPECT_EQ(first->root_source(), Index::RootSource::GitWorkTree);
    first->update();
  }
  const size_t embedded = emb.documents_embedded;

  auto sub = open(emb, root_ / "src");
  EXPECT_EQ(sub->root(), fs::canonical(root_));
  EXPECT_EQ(sub->root_source(), Index::RootSource::Cached);
  EXPECT_EQ(sub->scope(), "src");
  EXPECT_EQ(sub->update().chunks_embedded, 0u);
  auto hits = sub->search("step", keyword());
  ASSERT_FALSE(hits.empty());
  for (const auto& h : hits) EXPECT_EQ(h.path.rfind("src/", 0), 0u) << h.path;

  auto file = open(emb, root_ / "lib/gamma.py");
  EXPECT_EQ(file->scope(), "lib/gamma.py");
  EXPECT_EQ(file->location(), sub->location());
  EXPECT_EQ(file->update().chunks_embedded, 0u);
  EXPECT_EQ(paths_of(file->search("step", keyword())), std::set<std::string>{"lib/gamma.py"});
  EXPECT_EQ(emb.documents_embedded, embedded);  // nothing embedded again

  // Explicit filter paths replace the scope.
  SearchOptions so = keyword();
  so.filter.paths = {"src/beta.py", "lib"};
  EXPECT_EQ(paths_of(sub->search("step", so)),
            (std::set<std::string>{"src/beta.py", "lib/gamma.py"}));
}

// `ripvec index build-dev/corpus` inside a work tree whose .gitignore has build*/ indexed the
// enclosing repository (without the named folder) instead of the folder: a directory that the
// enclosing root's ignore rules leave out is a root of its own.
TEST_F(IndexService, IgnoredDirectoryNamedAsPathIsIndexedAsItsOwnRoot) {
  write(root_ / "build/nested/tool.py", "def ignored_capybara(x):\n    return x  # capybara\n");
  TestHashEmbedder emb;
  auto idx = open(emb, root_ / "build");
  EXPECT_EQ(idx->root(), fs::canonical(root_ / "build"));
  EXPECT_EQ(idx->root_source(), Index::RootSource::Path);
  EXPECT_EQ(idx->scope(), "");
  const UpdateStats st = idx->update();
  EXPECT_EQ(st.files_added, 2u);  // generated.py and nested/tool.py, nothing of the repository
  EXPECT_EQ(paths_of(idx->search("capybara", keyword())), std::set<std::string>{"nested/tool.py"});
  // A sub-folder of the ignored one is answered from that index.
  auto nested = open(emb, root_ / "build/nested");
  EXPECT_EQ(nested->root(), fs::canonical(root_ / "build"));
  EXPECT_EQ(nested->update().chunks_embedded, 0u);
  // Folders the rules admit still belong to the repository's index.
  EXPECT_EQ(open(emb, root_ / "src")->root(), fs::canonical(root_));
}

// A skipped entry's warning is in entry_warnings (front ends may show it only when the index
// changed) once an update skipped it before; a warning about the index itself never is (the
// review found a read-only index's "out of date" warning hidden along with the repeated skip
// warnings).
TEST_F(IndexService, EntryWarningsHoldOnlyWarningsAboutSkippedEntries) {
  write(root_ / "src/huge.py", "x = 1\n" + std::string(40000, '#') + "\n");
  TestHashEmbedder emb;
  IndexOptions o = opts();
  o.max_file_size = 20000;
  auto idx = Index::open(root_, borrow(emb), o);
  UpdateStats st = idx->update();
  EXPECT_TRUE(st.entry_warnings.empty()) << ::testing::PrintToString(st.entry_warnings);
  st = idx->update();  // unchanged: the same skip is met again
  ASSERT_EQ(st.entry_warnings.size(), 1u) << ::testing::PrintToString(st.entry_warnings);
  EXPECT_NE(st.entry_warnings[0].find("huge.py"), std::string::npos) << st.entry_warnings[0];
  EXPECT_EQ(std::count(st.warnings.begin(), st.warnings.end(), st.entry_warnings[0]), 1);
  // A damaged snapshot: the "rebuilding" warning is about the index, not an entry.
  for (auto& e : fs::recursive_directory_iterator(cache_))
    if (e.path().filename().string().rfind("snapshot", 0) == 0) {
      std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(200);
      f.put('\x5a');
    }
  auto again = Index::open(root_, borrow(emb), o);
  st = again->update();
  size_t about_snapshot = 0;
  for (const auto& w : st.warnings)
    if (w.find("snapshot") != std::string::npos) {
      ++about_snapshot;
      EXPECT_EQ(std::count(st.entry_warnings.begin(), st.entry_warnings.end(), w), 0) << w;
    }
  EXPECT_EQ(about_snapshot, 1u) << ::testing::PrintToString(st.warnings);
  EXPECT_EQ(st.entry_warnings.size(), 1u) << ::testing::PrintToString(st.entry_warnings);
}

// An entry the walk skips for the first time (a new file over the size limit, a FIFO) is news:
// in warnings, not in entry_warnings, so a one-shot search names it; the next update meets it
// again and it is a repeat. A file over the limit that grows is skipped for the same reason (a
// repeat); one that becomes a FIFO is skipped for another (news). Before, every entry the walk
// skipped was a repeat, and a new file over the limit was named only when the index next
// gained or lost a file.
TEST_F(IndexService, EntrySkippedForTheFirstTimeIsNewsOnce) {
  TestHashEmbedder emb;
  IndexOptions o = opts();
  o.max_file_size = 20000;
  auto idx = Index::open(root_, borrow(emb), o);
  idx->update();
  const auto names = [](const std::vector<std::string>& ws, const std::string& what) {
    return std::count_if(ws.begin(), ws.end(),
                         [&](const std::string& w) { return w.find(what) != std::string::npos; });
  };
  write(root_ / "src/huge.py", "x = 1\n" + std::string(40000, '#') + "\n");
  UpdateStats st = idx->update();
  EXPECT_EQ(st.files_added, 0u);
  EXPECT_EQ(names(st.warnings, "huge.py"), 1) << ::testing::PrintToString(st.warnings);
  EXPECT_EQ(names(st.entry_warnings, "huge.py"), 0) << ::testing::PrintToString(st.entry_warnings);
  st = Index::open(root_, borrow(emb), o)->update();  // another process: remembered on disk
  EXPECT_EQ(names(st.entry_warnings, "huge.py"), 1) << ::testing::PrintToString(st.entry_warnings);
  write(root_ / "src/huge.py", "x = 2\n" + std::string(50000, '#') + "\n");
  st = idx->update();
  EXPECT_EQ(names(st.entry_warnings, "huge.py"), 1) << ::testing::PrintToString(st.warnings);
  fs::remove(root_ / "src/huge.py");
  ASSERT_EQ(::mkfifo((root_ / "src/huge.py").c_str(), 0644), 0);
  st = idx->update();
  EXPECT_EQ(names(st.warnings, "huge.py"), 1) << ::testing::PrintToString(st.warnings);
  EXPECT_EQ(names(st.entry_warnings, "huge.py"), 0) << ::testing::PrintToString(st.entry_warnings);
  st = idx->update();
  EXPECT_EQ(names(st.entry_warnings, "huge.py"), 1) << ::testing::PrintToString(st.entry_warnings);
  // A damaged memory forgets: each skip is news once more, then remembered again.
  for (auto& e : fs::recursive_directory_iterator(cache_))
    if (e.path().filename() == "skipped") {
      std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << "RVSKIP1\nabc";
    }
  st = idx->update();
  EXPECT_EQ(names(st.warnings, "huge.py"), 1) << ::testing::PrintToString(st.warnings);
  EXPECT_EQ(names(st.entry_warnings, "huge.py"), 0) << ::testing::PrintToString(st.entry_warnings);
  st = idx->update();
  EXPECT_EQ(names(st.entry_warnings, "huge.py"), 1) << ::testing::PrintToString(st.entry_warnings);
  // The memory is the index's own file: cleaning removes it with the rest (it was "kept, not
  // written by ripvec", and the folder with it; review 2026-12-08).
  const fs::path location = idx->location();
  idx.reset();
  std::vector<fs::path> kept;
  EXPECT_GT(clean_indexes(root_, cache_, &kept), 0u);
  EXPECT_TRUE(kept.empty()) << ::testing::PrintToString(kept);
  EXPECT_FALSE(fs::exists(location));
}

TEST_F(IndexService, HiddenFilesAreStoredButSearchedOnlyWhenAsked) {
  TestHashEmbedder emb;
  auto idx = open(emb, root_);
  idx->update();
  EXPECT_TRUE(idx->search("quokka", keyword()).empty());
  SearchOptions so = keyword();
  so.filter.hidden = true;
  EXPECT_EQ(paths_of(idx->search("quokka", so)), std::set<std::string>{".config/secret.py"});
  // Named explicitly, a hidden folder is searched without --hidden.
  auto named = open(emb, root_ / ".config");
  EXPECT_EQ(paths_of(named->search("quokka", keyword())),
            std::set<std::string>{".config/secret.py"});
}

TEST_F(IndexService, IgnoredAndOversizedFilesAreEmbeddedForOneSearchOnly) {
  TestHashEmbedder emb;
  IndexOptions o = opts();
  o.max_file_size = 1400;  // the gamma file (4 functions, ~1.6 KB) is larger
  auto idx = Index::open(root_, borrow(emb), o);
  const UpdateStats st = idx->update();
  EXPECT_EQ(st.skipped_too_large, 1u);
  EXPECT_TRUE(idx->search("wombat", keyword()).empty());
  SearchOptions so = keyword();
  so.filter.no_ignore = true;
  EXPECT_EQ(paths_of(idx->search("wombat", so)), std::set<std::string>{"build/generated.py"});
  so = keyword();
  EXPECT_EQ(paths_of(idx->search("gamma_func_3", so)).count("lib/gamma.py"), 0u);
  so.filter.max_file_size = 1 << 20;
  const size_t embedded_before = emb.documents_embedded;
  auto big = idx->search("gamma_func_3", so);
  ASSERT_FALSE(big.empty());
  EXPECT_EQ(big[0].path, "lib/gamma.py");
  // A keyword search reads no vector: the file is chunked, not embedded (its every chunk was,
  // 14 s for a 300 KB file; API probe 2026-12-08). A hybrid one embeds it.
  EXPECT_EQ(emb.documents_embedded, embedded_before);
  SearchOptions hybrid = so;
  hybrid.mode = SearchMode::Hybrid;
  EXPECT_EQ(idx->search("gamma_func_3", hybrid)[0].path, "lib/gamma.py");
  EXPECT_GT(emb.documents_embedded, embedded_before);
  // Ranked together with the indexed chunks, by the same rules.
  so.filter.max_file_size = 100;  // below every file: nothing left
  EXPECT_TRUE(idx->search("gamma_func_3", so).empty());
  // Nothing of them was stored.
  EXPECT_EQ(idx->update().chunks_embedded, 0u);
  EXPECT_EQ(idx->status().chunks, st.chunks_total);
}

// Overlapping windows of a long text without definitions chained into hits of 900 lines and
// 45 KB, so that a search for 10 hits returned 4 (API probe 2026-12-08; `ripvec --mode keyword
// -n 10` of this text gave 2 hits, of 1,250 and 422 lines): a merged hit spans at most 200 lines,
// and a window that overlaps one it cannot join keeps only its own lines.
TEST_F(IndexService, MergedWindowsOfALongTextStayReadable) {
  std::string text;
  for (int i = 0; i < 4000; ++i)
    text += "line " + std::to_string(i) + " the quick brown fox jumps over the lazy dog\n";
  write(root_ / "notes.txt", text);
  TestHashEmbedder emb;
  auto idx = open(emb, root_);
  idx->update();
  for (SearchMode m : {SearchMode::Keyword, SearchMode::Hybrid}) {
    SearchOptions so;
    so.mode = m;
    so.top_k = 10;
    auto hits = idx->search("lazy dog", so);
    EXPECT_GE(hits.size(), 5u) << search_mode_name(m);
    for (size_t i = 0; i < hits.size(); ++i) {
      EXPECT_LE(hits[i].end_line - hits[i].start_line + 1, 200);
      for (size_t j = i + 1; j < hits.size(); ++j)
        EXPECT_TRUE(hits[i].end_line < hits[j].start_line || hits[j].end_line < hits[i].start_line)
            << hits[i].start_line << "-" << hits[i].end_line << " vs " << hits[j].start_line << "-"
            << hits[j].end_line;
      std::string want;  // the exact lines of the file (line numbers are 1-based)
      for (int l = hits[i].start_line; l <= hits[i].end_line; ++l)
        want += (l > hits[i].start_line ? "\n" : "") + std::string("line ") +
                std::to_string(l - 1) + " the quick brown fox jumps over the lazy dog";
      EXPECT_EQ(hits[i].content, want) << hits[i].start_line << "-" << hits[i].end_line;
    }
  }
}

TEST_F(IndexService, MergedHitsNeverOverlap) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "line " + std::to_string(i) + " of the kookaburra notes\n";
  write(root_ / "notes.txt", text);  // windows of 60 lines overlapping by 10
  TestHashEmbedder emb;
  auto idx = open(emb, root_);
  idx->update();
  for (SearchMode m : {SearchMode::Semantic, SearchMode::Keyword, SearchMode::Hybrid}) {
    SearchOptions so;
    so.mode = m;
    so.top_k = 10;
    so.merge_adjacent = false;
    auto raw = idx->search("kookaburra notes", so);
    bool raw_overlap = false;
    for (size_t i = 0; i < raw.size(); ++i)
      for (size_t j = i + 1; j < raw.size(); ++j)
        raw_overlap |= raw[i].path == raw[j].path && raw[i].start_line <= raw[j].end_line &&
                       raw[j].start_line <= raw[i].end_line;
    EXPECT_TRUE(raw_overlap);  // the windows do overlap before merging
    so.merge_adjacent = true;
    auto hits = idx->search("kookaburra notes", so);
    for (size_t i = 0; i < hits.size(); ++i) {
      for (size_t j = i + 1; j < hits.size(); ++j) {
        if (hits[i].path != hits[j].path) continue;
        EXPECT_TRUE(hits[i].end_line < hits[j].start_line || hits[j].end_line < hits[i].start_line)
            << hits[i].start_line << "-" << hits[i].end_line << " vs " << hits[j].start_line << "-"
            << hits[j].end_line;
      }
      // The merged content is the file's exact lines.
      if (hits[i].path == "notes.txt") {
        std::string want;
        for (int l = hits[i].start_line; l <= hits[i].end_line; ++l)
          want += (l > hits[i].start_line ? "\n" : "") + std::string("line ") +
                  std::to_string(l - 1) + " of the kookaburra notes";
        EXPECT_EQ(hits[i].content, want);
      }
    }
  }
}

TEST_F(IndexService, ChunksWithoutContentNeverOutrankDefinitions) {
  EXPECT_TRUE(index::is_contentless("window", "import os\nimport sys\nfrom numbat import x\n"));
  EXPECT_TRUE(index::is_contentless("namespace", "namespace numbat {\n}\n"));
  EXPECT_TRUE(index::is_contentless("window", "#include <numbat.h>\n\n}\n};\n"));
  EXPECT_FALSE(index::is_contentless("function", "def numbat(): return 1"));
  EXPECT_FALSE(index::is_contentless("window", "x = numbat()\ny = x + 1\n"));
  EXPECT_FALSE(index::is_contentless("window", "open(path)\nuse(x)\n"));
  EXPECT_TRUE(index::is_contentless("window", "use std::io;\nuse numbat::Numbat;\n"));
  // One short line is not content; one long line is (a note, a .env setting, minified code).
  EXPECT_TRUE(index::is_contentless("window", "    return numbat;\n}\n"));
  EXPECT_FALSE(index::is_contentless("window", "retry the request with backoff when it is busy\n"));
  EXPECT_FALSE(index::is_contentless("window", "DATABASE_URL=postgres://db.internal:5432/app"));
  std::string imports;
  for (int i = 0; i < 8; ++i)
    imports += "from numbat.numbat_" + std::to_string(i) + " import numbat\n";
  write(root_ / "pkg/mod.py", imports + "\n\ndef count_numbat(x):\n    return x + 1\n");
  TestHashEmbedder emb;
  auto idx = open(emb, root_);
  idx->update();
  for (SearchMode m : {SearchMode::Semantic, SearchMode::Keyword, SearchMode::Hybrid}) {
    SearchOptions so;
    so.mode = m;
    auto hits = idx->search("numbat", so);
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(hits[0].symbol, "count_numbat") << search_mode_name(m);
  }
}

// Tests repeat the words of the code they exercise: on the keyword side a test file counts
// kTestKeywordWeight, unless the query asks for tests.
TEST_F(IndexService, TestFilesRankBelowTheCodeTheyExercise) {
  write(root_ / "src/settings.py",
        "def apply_settings(x):\n    # frobnicate the numbat before use\n    return x\n");
  write(root_ / "tests/test_settings.py",
        "def check_apply(x):\n    # frobnicate numbat, frobnicate numbat again\n"
        "    assert frobnicate(numbat(x)) == numbat(frobnicate(x))\n");
  TestHashEmbedder emb;
  auto idx = open(emb, root_);
  idx->update();
  auto hits = idx->search("frobnicate the numbat", keyword());
  ASSERT_GE(hits.size(), 2u);
  EXPECT_EQ(hits[0].path, "src/settings.py");
  EXPECT_EQ(hits[1].path, "tests/test_settings.py");
  // Without the weight the test would lead: it has the words more often (checked here, so that
  // this test fails if the weight stops applying).
  EXPECT_GT(hits[1].score / index::kTestKeywordWeight, hits[0].score);
  // A query that asks for tests ranks them by their words alone ("specs" is in no chunk).
  hits = idx->search("frobnicate the numbat specs", keyword());
  ASSERT_GE(hits.size(), 2u);
  EXPECT_EQ(hits[0].path, "tests/test_settings.py");
}

TEST_F(IndexService, FindSimilarLeavesOutTheChunkItself) {
  TestHashEmbedder emb;
  auto idx = open(emb, root_);
  idx->update();
  SearchOptions so;
  so.mode = SearchMode::Semantic;
  auto hits = idx->find_similar("src/alpha.py", 3, so);
  ASSERT_FALSE(hits.empty());
  for (const auto& h : hits)
    EXPECT_FALSE(h.path == "src/alpha.py" && h.start_line <= 3 && 3 <= h.end_line);
  EXPECT_EQ(hits[0].path, "src/alpha.py");  // its sibling functions are the nearest
  EXPECT_THROW(idx->find_similar("src/missing.py", 1, so), InvalidArgument);
  EXPECT_THROW(idx->find_similar(root_ / "src/alpha.py", 100000, so), InvalidArgument);
}

TEST_F(IndexService, StatusListAndClean) {
  TestHashEmbedder a("test/model-a"), b("test/model-b");
  auto ia = open(a, root_);
  EXPECT_FALSE(ia->status().exists);
  ia->update();
  open(b, root_)->update();
  IndexStatus s = ia->status();
  EXPECT_TRUE(s.exists);
  EXPECT_EQ(s.root, fs::canonical(root_));
  EXPECT_EQ(s.model_id, "test/model-a");
  EXPECT_EQ(s.files, 6u);
  EXPECT_GT(s.chunks, 0u);
  EXPECT_GT(s.bytes, 0u);
  EXPECT_GT(s.last_update_unix, 0);
  EXPECT_TRUE(s.stale.empty());
  write(root_ / "src/alpha.py", py_file("alpha", 1));
  write(root_ / "src/new.py", "def fresh():\n    return 1\n");
  fs::remove(root_ / "README.md");
  EXPECT_EQ(ia->status().stale,
            (std::vector<std::string>{"D README.md", "M src/alpha.py", "A src/new.py"}));

  auto all = list_indexes(cache_);
  ASSERT_EQ(all.size(), 2u);
  for (const auto& x : all) EXPECT_EQ(x.root, fs::canonical(root_));
  // Something that is not an index is never removed.
  fs::create_directories(cache_ / "not-an-index" / "keep");
  write(cache_ / "not-an-index" / "keep" / "file", "x");
  EXPECT_GT(clean_indexes(root_ / "src", cache_), 0u);  // a sub-path finds its project
  EXPECT_TRUE(list_indexes(cache_).empty());
  EXPECT_TRUE(fs::exists(cache_ / "not-an-index" / "keep" / "file"));
  ia->update();
  EXPECT_EQ(list_indexes(cache_).size(), 1u);
  EXPECT_GT(clean_indexes({}, cache_), 0u);
  EXPECT_TRUE(list_indexes(cache_).empty());
  EXPECT_TRUE(fs::exists(cache_ / "not-an-index" / "keep" / "file"));
}

// Probe 2026-12-05: `ripvec index --clean` removed an index another process was updating (the
// update failed mid-write: "cannot create .../objects/...tmp: No such file"), and removed the
// lock file another update had just opened, so that the next one ran beside it. An index whose
// lock is held is kept and named; the others go.
// Hostile probe 2026-12-06: a file ripvec did not write in an index folder (a `.DS_Store`, a
// note) made the folder "not an index": --list did not show it and --clean said "removed 0 B".
// It is listed, and --clean removes the index's own files and keeps the stranger, naming it.
TEST_F(IndexService, StrayFileInAnIndexFolderIsListedAndKeptByClean) {
  TestHashEmbedder a("test/model-a");
  auto ia = open(a, root_);
  ia->update();
  auto all = list_indexes(cache_);
  ASSERT_EQ(all.size(), 1u);
  const fs::path loc = all[0].location;
  write(loc / ".DS_Store", "finder");
  fs::create_directories(loc / "notes");
  write(loc / "notes" / "todo.txt", "mine");
  all = list_indexes(cache_);
  ASSERT_EQ(all.size(), 1u) << "an index with a stray file is not listed";
  EXPECT_EQ(all[0].location, loc);
  EXPECT_GT(all[0].chunks, 0u);
  std::vector<fs::path> kept;
  EXPECT_GT(clean_indexes(root_, cache_, &kept), 0u);
  EXPECT_EQ(kept, (std::vector<fs::path>{loc / ".DS_Store", loc / "notes"}));
  EXPECT_TRUE(list_indexes(cache_).empty());
  EXPECT_TRUE(fs::exists(loc / ".DS_Store"));
  EXPECT_TRUE(fs::exists(loc / "notes" / "todo.txt"));
  for (const char* ours : {"manifest.json", "objects", "lock"})
    EXPECT_FALSE(fs::exists(loc / ours)) << ours;
  // The project indexes again into the same folder, strays and all.
  EXPECT_GT(open(a, root_)->update().chunks_embedded, 0u);
  ASSERT_EQ(list_indexes(cache_).size(), 1u);
  EXPECT_EQ(list_indexes(cache_)[0].location, loc);
}

// Hostile probe 2026-12-06 (second round): --clean removed what it did not write: an empty
// folder of the cache folder (`--cache-dir ~`: every empty folder of ~), a folder with an empty
// `lock` and an `objects/` folder of anything, and in a real index entries named like its own
// but of another type or form (a folder `snapshot-mine.bin/`, `report.tmp.docx`, a file dropped
// into objects/). Only what an index writes, by name and type, goes.
TEST_F(IndexService, CleanNeverRemovesWhatAnIndexDoesNotWrite) {
  fs::create_directories(cache_ / "EmptyPlaceholder");
  write(cache_ / "backup" / "lock", "");
  write(cache_ / "backup" / "objects" / "blob1", "mine");
  TestHashEmbedder a("test/model-a");
  open(a, root_)->update();
  auto all = list_indexes(cache_);
  ASSERT_EQ(all.size(), 1u);  // not "backup"
  const fs::path loc = all[0].location;
  write(loc / "snapshot-mine.bin" / "sub" / "data", "mine");
  write(loc / "report.tmp.docx", "mine");
  write(loc / "objects" / "README.user", "mine");
  fs::path some_objects;
  for (const auto& e : fs::directory_iterator(loc / "objects"))
    if (e.is_directory()) some_objects = e.path();
  ASSERT_FALSE(some_objects.empty());
  write(some_objects / "notes.txt", "mine");
  std::vector<fs::path> kept;
  EXPECT_GT(clean_indexes({}, cache_, &kept), 0u);
  for (const fs::path& p :
       {cache_ / "EmptyPlaceholder", cache_ / "backup" / "lock",
        cache_ / "backup" / "objects" / "blob1", loc / "snapshot-mine.bin" / "sub" / "data",
        loc / "report.tmp.docx", loc / "objects" / "README.user", some_objects / "notes.txt"})
    EXPECT_TRUE(fs::exists(p)) << p << " was removed";
  EXPECT_EQ(kept.size(), 4u);
  for (const char* ours : {"manifest.json", "lock"}) EXPECT_FALSE(fs::exists(loc / ours)) << ours;
  size_t obj_files = 0;
  for (const auto& e : fs::recursive_directory_iterator(loc / "objects"))
    obj_files += e.path().extension() == ".obj" ? 1 : 0;
  EXPECT_EQ(obj_files, 0u);
  EXPECT_TRUE(list_indexes(cache_).empty());
}

TEST_F(IndexService, CleanKeepsAnIndexBeingUpdated) {
  TestHashEmbedder a("test/model-a"), b("test/model-b");
  auto ia = open(a, root_);
  ia->update();
  open(b, root_)->update();
  ASSERT_EQ(list_indexes(cache_).size(), 2u);
  {
    index::FileLock writer(ia->location() / "lock");  // an update in progress
    try {
      clean_indexes(root_, cache_);
      ADD_FAILURE() << "clean removed an index whose lock is held";
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find(ia->location().string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("the others were removed"), std::string::npos);
    }
    auto left = list_indexes(cache_);
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].model_id, "test/model-a");
  }
  EXPECT_GT(clean_indexes(root_, cache_), 0u);  // not held any more
  EXPECT_TRUE(list_indexes(cache_).empty());
}

// fn's result as the exit code of a child process run as uid/gid 65534 (needs root): 3 when the
// ids cannot be dropped, 6 when fn throws anything but what it catches itself, -1 when the child
// did not exit.
int exit_code_as_nobody(const std::function<int()>& fn) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    try {
      ::_exit(fn());
    } catch (...) {
      ::_exit(6);
    }
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// Known since the 2026-12-05 probe: --clean told "another process holds the lock" from "this
// cache is read-only" by access(W_OK) on the lock file. A user who may only read the cache,
// cleaning while its owner updates, was sent on to a removal that failed with "permission
// denied" instead of being told an update is under way. The lock's own answer (EWOULDBLOCK on
// the shared lock a reader takes) now decides.
TEST_F(IndexService, CleanByAReaderNamesTheUpdateUnderWay) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the clean as another user";
  TestHashEmbedder a("test/model-a");
  auto ia = open(a, root_);
  ia->update();
  // Index folders are private (IndexFoldersAreClosedToOtherUsers): a cache shared with readers
  // is one its owner opened to them.
  for (const auto& e : fs::recursive_directory_iterator(cache_))
    fs::permissions(e.path(),
                    e.is_directory() ? fs::perms::group_read | fs::perms::group_exec |
                                           fs::perms::others_read | fs::perms::others_exec
                                     : fs::perms::group_read | fs::perms::others_read,
                    fs::perm_options::add);
  fs::permissions(cache_, fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
  index::FileLock writer(ia->location() / "lock");  // an update in progress
  // The reader: uid 65534 may read the cache, not write it.
  const int code = exit_code_as_nobody([&] {
    try {
      clean_indexes(root_, cache_);
      return 4;
    } catch (const IoError& e) {
      return std::string(e.what()).find("another process is updating") != std::string::npos ? 0 : 5;
    }
  });
  EXPECT_EQ(code, 0) << "3: no setuid, 4: no error, 5: another error, 6: other";
  EXPECT_EQ(list_indexes(cache_).size(), 1u);
}

// Hostile probe 2026-12-07: to a user who could list the cache but not an index folder in it
// (another user's index, mode 0700), `--list` showed nothing (exit 1) and `--clean --all` said
// "removed 0 B" (exit 0). list_indexes() names the folder (IndexStatus::unreadable) and
// clean_indexes() ends in IoError naming it.
TEST_F(IndexService, UnreadableCacheFoldersAreNamedByListAndClean) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to read the cache as another user";
  TestHashEmbedder a("test/model-a");
  auto ia = open(a, root_);
  ia->update();
  const fs::path loc = ia->location();  // <cache>/<root key>/<model>: stays 0700
  for (const fs::path& d : {cache_, loc.parent_path()})
    fs::permissions(d, fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
  const int code = exit_code_as_nobody([&] {
    try {
      const auto all = list_indexes(cache_);
      if (all.size() != 1 || !all[0].unreadable || all[0].location != loc ||
          all[0].problem.find("cannot be read") == std::string::npos)
        return 4;
      clean_indexes({}, cache_);
      return 5;
    } catch (const IoError& e) {
      const std::string w = e.what();
      return w.find("could not read 1 folder(s) of the cache: " + loc.string()) != std::string::npos
                 ? 0
                 : 6;
    }
  });
  EXPECT_EQ(code, 0) << "3: no setuid, 4: not listed, 5: clean without error, 6: another error";
  const auto all = list_indexes(cache_);  // its owner still sees it whole
  ASSERT_EQ(all.size(), 1u);
  EXPECT_FALSE(all[0].unreadable);
}

// ... and a lock file removed while an update waited for it is not the update's lock: the
// waiter locks the file the path names afterwards (made again), which excludes the next one.
TEST_F(IndexService, LockRemovedWhileWaitingIsTakenAgain) {
  const fs::path dir = base_ / "idx", lock = dir / "lock";
  fs::create_directories(dir);
  auto holder = std::make_unique<index::FileLock>(lock);
  std::atomic<bool> locked{false};
  std::thread waiter([&] {
    index::FileLock l(lock);
    locked = true;
    while (locked) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(locked.load());
  fs::remove_all(dir);  // a clean, holding the lock
  holder.reset();
  for (int i = 0; i < 400 && !locked; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(locked.load());
  EXPECT_TRUE(fs::exists(lock));
  {
    index::FileLock other(lock, false, /*wait=*/false);
    EXPECT_FALSE(other.held());  // the waiter holds the lock the path names
  }
  locked = false;
  waiter.join();
  {
    index::FileLock after(lock, false, /*wait=*/false);
    EXPECT_TRUE(after.held());
  }
  // A folder that went before the lock file was opened (a clean between an update's
  // create_directories and its lock) is made again, not an error.
  fs::remove_all(dir);
  index::FileLock again(lock);
  EXPECT_TRUE(again.held());
  EXPECT_TRUE(fs::exists(lock));
}

// Probe 2026-12-05: a model whose weights changed in place (same id, same shapes) kept its
// index: searches compared the new weights' query vectors with the old weights' documents
// (cosines near 0, exit 0, no warning). The content of the model's files (size and CRC-32C) is
// part of the index key: another index, built afresh; the same content (copied with its
// times, or touched) finds the same index.
TEST_F(IndexService, ChangedModelWeightsGetAFreshIndex) {
  const fs::path weights = base_ / "model" / "model.safetensors";
  write(weights, std::string(3u << 20, 'a'));  // three 1 MiB pieces
  TestHashEmbedder e("test/model-w");
  e.set_identity_files({weights});
  auto first = open(e, root_);
  first->update();
  const fs::path loc = first->location();
  set_past_mtime(weights);  // touched: same content
  EXPECT_EQ(open(e, root_)->location(), loc);
  std::string changed(3u << 20, 'a');
  changed[(2u << 20) + 5] = 'b';  // one byte of the last piece, same size
  write(weights, changed);
  auto second = open(e, root_);
  EXPECT_NE(second->location(), loc);
  EXPECT_FALSE(second->status().exists);  // a fresh index, not the old vectors
}

// Probe 2026-12-05: a search running while `ripvec index --clean` removed the index answered
// "no results" for the index its own update had just built (the manifest re-checked after the
// update was gone), and a server kept answering "no results" after an outside clean. The
// snapshot this process last saw committed is served until an update makes a new one.
TEST_F(IndexService, CleanedIndexKeepsServingItsLastSnapshot) {
  TestHashEmbedder a("test/model-a");
  auto idx = open(a, root_);
  idx->update();
  ASSERT_FALSE(idx->search("gamma_func_1", keyword()).empty());
  EXPECT_GT(clean_indexes(root_, cache_), 0u);
  auto hits = idx->search("gamma_func_1", keyword());
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].path, "lib/gamma.py");
  idx->update();  // builds it again
  EXPECT_TRUE(idx->status().exists);
  EXPECT_FALSE(idx->search("gamma_func_1", keyword()).empty());
}

TEST_F(IndexService, RepoLocalIndexIsFoundWithoutAFlag) {
  TestHashEmbedder emb;
  IndexOptions o = opts();
  o.repo_local = true;
  auto local = Index::open(root_, borrow(emb), o);
  local->update();
  EXPECT_EQ(local->location().parent_path(), fs::canonical(root_) / ".ripvec");
  auto found = open(emb, root_ / "lib");  // no repo_local flag
  EXPECT_EQ(found->location(), local->location());
  EXPECT_EQ(found->root_source(), Index::RootSource::RepoLocal);
  EXPECT_EQ(found->update().chunks_embedded, 0u);
  EXPECT_FALSE(fs::exists(cache_));
}

// Hostile probe 2026-12-05: a 0600 .env was copied into 0644 index files in 0755 folders, so
// every user of the machine could read it there. The folders an index creates are 0700 (in the
// cache and in a repository's .ripvec/), whatever the umask lets through beyond that.
TEST_F(IndexService, IndexFoldersAreClosedToOtherUsers) {
  TestHashEmbedder emb;
  write(root_ / ".env", "AWS_SECRET_KEY=hunter2\n");
  fs::permissions(root_ / ".env", fs::perms::owner_read | fs::perms::owner_write);
  const mode_t old_mask = ::umask(022);
  for (bool repo_local : {false, true}) {
    SCOPED_TRACE(repo_local ? "repo-local" : "cache");
    IndexOptions o = opts();
    o.repo_local = repo_local;
    auto idx = Index::open(root_, borrow(emb), o);
    idx->update();
    // Every folder from the first one the index made down to its objects' folders.
    const fs::path top = repo_local ? fs::canonical(root_) / ".ripvec" : cache_;
    std::vector<fs::path> dirs = {top};
    for (auto it = fs::recursive_directory_iterator(top); it != fs::recursive_directory_iterator();
         ++it)
      if (it->is_directory()) dirs.push_back(it->path());
    ASSERT_GT(dirs.size(), 3u);
    for (const auto& d : dirs) {
      const auto p = fs::status(d).permissions();
      EXPECT_EQ(p & (fs::perms::group_all | fs::perms::others_all), fs::perms::none) << d;
    }
  }
  ::umask(old_mask);
}

// Hostile probe 2026-12-05: with --cache-dir inside the tree, the index's own folder was left
// out of the walk but the rest of the cache was not: its fingerprints/ (and any other model's
// index there) were indexed as text. The whole cache is left out now.
// Probe 2026-12-07: the cache's own files were walked and warned about before they were left
// out ("skipping cachedir/.../snapshot-1.bin: ... exceeds the size limit", one file "too
// large"): the walk never enters the index's own folders.
TEST_F(IndexService, CacheInsideTheTreeIsNeverIndexed) {
  TestHashEmbedder a("test/model-a"), b("test/model-b");
  IndexOptions o = opts();
  o.cache_dir = root_ / "cachedir";
  o.max_file_size = 4000;                    // above the tree's files, below a snapshot's size
  for (int round = 0; round < 2; ++round) {  // the second round sees the first one's cache
    for (TestHashEmbedder* e : {&a, &b}) {
      auto idx = Index::open(root_, borrow(*e), o);
      const UpdateStats st = idx->update();
      for (const auto& w : st.warnings) EXPECT_EQ(w.find("cachedir"), std::string::npos) << w;
      EXPECT_EQ(st.skipped_too_large, 0u);
      auto snap = idx->snapshot();
      for (size_t i = 0; i < snap->size(); ++i)
        EXPECT_FALSE(snap->chunk(i).path.starts_with("cachedir/")) << snap->chunk(i).path;
    }
  }
  EXPECT_TRUE(fs::exists(root_ / "cachedir"));
}

// IndexOptions::when_busy: with another process holding the index's lock (this test, through
// a descriptor of its own: flock locks belong to the open file), update() asks once with the
// location; false: IndexBusyError and nothing changed (the snapshot still searchable); true: it
// waits (here the holder lets go from inside the callback) and goes on; true with `cancelled`
// saying so: CancelledError while the lock is still held. Without the other holder it is not
// called.
TEST_F(IndexService, WhenBusySaysWhetherToWaitForAnotherWriter) {
  TestHashEmbedder emb;
  IndexOptions o = opts();
  std::vector<fs::path> asked;
  bool wait = false, cancel = false;
  int held = -1;
  auto take = [&](const fs::path& lock) {
    held = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(held, 0);
    ASSERT_EQ(::flock(held, LOCK_EX), 0);
  };
  auto let_go = [&] {
    ::flock(held, LOCK_UN);
    ::close(held);
    held = -1;
  };
  std::vector<bool> committed;
  o.when_busy = [&](const fs::path& loc, bool has_update) {
    asked.push_back(loc);
    committed.push_back(has_update);
    if (wait && !cancel) let_go();
    return wait;
  };
  o.cancelled = [&] { return cancel; };
  auto idx = Index::open(root_, borrow(emb), o);
  idx->update();
  EXPECT_TRUE(asked.empty());
  const size_t chunks = idx->snapshot()->size();
  write(root_ / "late.py", py_file("late", 2));
  take(idx->location() / "lock");
  EXPECT_THROW(idx->update(), IndexBusyError);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], idx->location());
  EXPECT_EQ(idx->snapshot()->size(), chunks);
  wait = cancel = true;
  EXPECT_THROW(idx->update(), CancelledError);
  EXPECT_EQ(asked.size(), 2u);
  EXPECT_EQ(idx->snapshot()->size(), chunks);
  cancel = false;
  const UpdateStats st = idx->update();
  EXPECT_EQ(held, -1);
  EXPECT_EQ(asked.size(), 3u);
  EXPECT_EQ(st.files_added, 1u);
  EXPECT_GT(idx->snapshot()->size(), chunks);
  EXPECT_EQ(committed, (std::vector<bool>{true, true, true}));
  // An index that no update has committed yet says so: nothing to serve meanwhile.
  fs::create_directories(base_ / "other");
  write(base_ / "other" / "x.py", py_file("x", 2));
  auto fresh = Index::open(base_ / "other", borrow(emb), o);
  ASSERT_FALSE(fresh->has_snapshot());
  fs::create_directories(fresh->location());
  take(fresh->location() / "lock");
  wait = false;
  EXPECT_THROW(fresh->update(), IndexBusyError);
  ASSERT_EQ(committed.size(), 4u);
  EXPECT_FALSE(committed[3]);
  let_go();
}

TEST_F(IndexService, ConcurrentSearchesDuringUpdatesSeeWholeSnapshots) {
  TestHashEmbedder emb;
  auto idx = open(emb, root_);
  idx->update();
  // Two versions of one file; every hit must be a chunk of one of them, never a mix.
  const std::string va = py_file("alpha", 3), vb = py_file("alpha", 5);
  std::set<std::string> valid;
  ChunkOptions co = [&] {
    ChunkOptions c;
    c.tokenizer = &emb.tokenizer();
    c.max_tokens = emb.max_seq_length();
    return c;
  }();
  for (const auto* v : {&va, &vb})
    for (const auto& c : chunk_file("src/alpha.py", *v, co)) valid.insert(c.content);
  std::atomic<bool> stop{false};
  std::atomic<size_t> searches{0}, bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t)
    readers.emplace_back([&] {
      SearchOptions so;
      so.top_k = 5;
      so.merge_adjacent = false;
      so.filter.paths = {"src/alpha.py"};
      while (!stop) {
        for (const auto& h : idx->search("alpha step", so))
          if (!valid.count(h.content)) ++bad;
        ++searches;
      }
    });
  for (int i = 0; i < 6; ++i) {
    write(root_ / "src/alpha.py", i % 2 ? va : vb);
    idx->update();
  }
  while (searches < 10) std::this_thread::yield();
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GE(searches.load(), 10u);
}

// An embedder whose document calls take a while (a device busy with a large group).
class SlowDocumentEmbedder final : public Embedder {
 public:
  explicit SlowDocumentEmbedder(Embedder& in) : in_(in) {}
  size_t dim() const override { return in_.dim(); }
  size_t max_seq_length() const override { return in_.max_seq_length(); }
  const std::string& model_id() const override { return in_.model_id(); }
  std::string device_name() const override { return in_.device_name(); }
  const Tokenizer& tokenizer() const override { return in_.tokenizer(); }
  const std::string& prompt(InputKind k) const override { return in_.prompt(k); }
  std::vector<float> embed(std::span<const std::string> texts, InputKind k) override {
    return in_.embed(texts, k);
  }
  using Embedder::embed_tokens;
  std::vector<float> embed_tokens(std::span<const std::vector<int32_t>> ids, InputKind k) override {
    if (k == InputKind::Document) {
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
      const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
      int64_t expected = 0;
      first_at.compare_exchange_strong(expected, now);
      last_at = now;
      ++groups;
    }
    return in_.embed_tokens(ids, k);
  }
  std::atomic<int> groups{0};
  std::atomic<int64_t> first_at{0}, last_at{0};  // steady_clock ticks of the first/last group

 private:
  Embedder& in_;
};

// The ingest runs its groups as one run through the embedder (embed_token_groups) and holds
// the embedder for it; a search that arrives meanwhile gets the embedder between two groups,
// not after the whole update (~1.5 s here).
TEST_F(IndexService, SearchDuringAnUpdateWaitsForOneGroupNotTheUpdate) {
  for (int f = 0; f < 150; ++f)
    write(root_ / ("many/m" + std::to_string(f) + ".py"), py_file("m" + std::to_string(f), 12));
  TestHashEmbedder inner;
  SlowDocumentEmbedder emb(inner);
  auto idx = open(emb, root_);
  std::atomic<bool> updating{true};
  std::thread up([&] {
    idx->update();
    updating = false;
  });
  while (emb.groups.load() < 3 && updating)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_TRUE(updating.load()) << "the update ended before the search could start";
  SearchOptions so;
  so.mode = SearchMode::Semantic;
  const int groups_before = emb.groups.load();
  const auto t0 = std::chrono::steady_clock::now();
  idx->search("alpha step", so);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int groups_meanwhile = emb.groups.load() - groups_before;
  const bool still_updating = updating.load();
  up.join();
  EXPECT_TRUE(still_updating) << "the search waited for the whole update";
  EXPECT_LE(groups_meanwhile, 2) << "the search waited " << waited << " s";
  EXPECT_GE(emb.groups.load(), groups_before + 5);  // the update went on after it
}

// Two updates at once (two roots, as an MCP server with two workspaces has) take turns with
// the embedder group by group: the second does not wait for the whole first one.
TEST_F(IndexService, TwoUpdatesAtOnceTakeTurnsWithTheEmbedder) {
  for (int f = 0; f < 100; ++f) {
    write(base_ / "one" / ".git" / "HEAD", "x");
    write(base_ / "two" / ".git" / "HEAD", "x");
    write(base_ / ("one/m" + std::to_string(f) + ".py"), py_file("a" + std::to_string(f), 12));
    write(base_ / ("two/m" + std::to_string(f) + ".py"), py_file("b" + std::to_string(f), 12));
  }
  TestHashEmbedder inner;
  SlowDocumentEmbedder e1(inner), e2(inner);
  auto i1 = open(e1, base_ / "one");
  auto i2 = open(e2, base_ / "two");
  std::thread t1([&] { i1->update(); });
  while (e1.groups.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  i2->update();
  t1.join();
  EXPECT_GT(e1.groups.load(), 10);
  EXPECT_LT(e2.first_at.load(), e1.last_at.load())
      << "the second update embedded nothing until the first one's last group";
}

TEST_F(IndexService, BadSearchOptionsAreInvalidArguments) {
  TestHashEmbedder emb;
  auto idx = open(emb, root_);
  SearchOptions so;
  so.top_k = 0;
  EXPECT_THROW(idx->search("x", so), InvalidArgument);
  so = {};
  so.threshold = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(idx->search("x", so), InvalidArgument);
  so = {};
  so.filter.types = {"no-such-type"};
  EXPECT_THROW(idx->search("x", so), InvalidArgument);
  so = {};
  so.filter.max_file_size = 0;
  EXPECT_THROW(idx->search("x", so), InvalidArgument);
  so = {};
  so.filter.paths = {"../outside"};
  EXPECT_THROW(idx->search("x", so), InvalidArgument);
  EXPECT_THROW(parse_search_mode("fuzzy"), InvalidArgument);
  so = {};
  so.mode = static_cast<SearchMode>(42);  // ran as hybrid (API probe 2026-12-08)
  EXPECT_THROW(idx->search("x", so), InvalidArgument);
  EXPECT_STREQ(search_mode_name(so.mode), "unknown");
}

// A progress callback that throws on the progress ticker thread (every 200 ms of a long
// update) ended the process through std::terminate (API probe 2026-12-08); it now ends update()
// (and search_without_index) with its exception, as one thrown on the update's own thread does,
// and the index stays usable. The model is slow (each embed call 500 ms) so that ticks come
// while no report runs; the callback throws only for the ticker's reports (a repeat of the
// phase last reported, from another thread than the caller's: the embedding thread reports
// only phase changes).
TEST_F(IndexService, ProgressCallbackThrowingOnTheTickerEndsTheUpdate) {
  TestHashEmbedder emb;
  emb.delay_per_call = std::chrono::milliseconds(500);
  IndexOptions o = opts();
  const std::thread::id caller = std::this_thread::get_id();
  auto last = std::make_shared<std::atomic<int>>(-1);
  auto ticker_calls = std::make_shared<std::atomic<int>>(0);
  o.progress = [caller, last, ticker_calls](const IndexProgress& p) {
    const int phase = static_cast<int>(p.phase);
    const bool repeat = last->exchange(phase) == phase;
    if (repeat && std::this_thread::get_id() != caller) {
      ++*ticker_calls;
      throw std::runtime_error("ticker-boom");
    }
  };
  auto idx = Index::open(root_, borrow(emb), o);
  try {
    idx->update();
    ADD_FAILURE() << "update() returned";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "ticker-boom");
  }
  EXPECT_EQ(ticker_calls->load(), 1);  // the ticker stopped at its exception
  *last = -1;
  try {
    search_without_index(root_, emb, "alpha", keyword(), o);  // keyword: no embed call to wait on
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "ticker-boom");
  }
  *last = -1;
  *ticker_calls = 0;
  SearchOptions semantic;
  semantic.mode = SearchMode::Semantic;
  try {
    search_without_index(root_, emb, "alpha", semantic, o);
    ADD_FAILURE() << "search_without_index() returned";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "ticker-boom");
  }
  EXPECT_EQ(ticker_calls->load(), 1);
  emb.delay_per_call = std::chrono::milliseconds(0);
  auto again = Index::open(root_, borrow(emb), opts());
  again->update();
  EXPECT_FALSE(again->search("alpha", keyword()).empty());
}

// IndexOptions::cancelled stops an update before it commits (the committed index keeps serving
// what it held); SearchOptions::cancelled stops a search. What the MCP/LSP cancellations use.
TEST_F(IndexService, CancelledUpdateCommitsNothingAndCancelledSearchThrows) {
  TestHashEmbedder emb;
  std::atomic<int> polls{0}, cancel_after{1 << 30};
  IndexOptions o = opts();
  o.cancelled = [&] { return ++polls > cancel_after; };
  auto idx = Index::open(root_, borrow(emb), o);
  idx->update();
  const size_t chunks = idx->status().chunks;
  write(root_ / "src/delta.py", py_file("delta", 5));
  polls = 0;
  cancel_after = 1;  // the check after the walk passes, the one before the first embedding stops
  EXPECT_THROW(idx->update(), CancelledError);
  EXPECT_EQ(polls.load(), 2);
  EXPECT_EQ(idx->status().chunks, chunks);
  EXPECT_TRUE(paths_of(idx->search("delta_func_3", keyword())).count("src/delta.py") == 0);
  cancel_after = 1 << 30;
  UpdateStats st = idx->update();
  EXPECT_EQ(st.added, std::vector<std::string>{"src/delta.py"});
  EXPECT_TRUE(paths_of(idx->search("delta_func_3", keyword())).count("src/delta.py") == 1);

  for (SearchMode m : {SearchMode::Keyword, SearchMode::Semantic, SearchMode::Hybrid}) {
    SearchOptions so;
    so.mode = m;
    so.cancelled = [] { return true; };
    EXPECT_THROW(idx->search("delta", so), CancelledError);
    EXPECT_THROW(idx->find_similar("src/alpha.py", 3, so), CancelledError);
  }
}
