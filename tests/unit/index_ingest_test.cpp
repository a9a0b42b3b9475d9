// Parallel ingest is deterministic: an index built with one ingest thread and with many has
// the same objects and the same snapshot bytes (the real default model on the CPU, so batch
// composition matters to the last bit), and progress ends with files and chunks complete.
// The window logic (length sort across files, groups, hand-back in task order) is checked
// with many threads and tiny windows against a per-text embedder.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <sstream>
#include <string>

#include "common/test_util.hpp"
#include "index/ingest.hpp"
#include "ripvec/index.hpp"
#include "test_hash_embedder.hpp"

using namespace ripvec;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

EmbedderOptions model_options() {
  EmbedderOptions o;
  o.model = test::default_model_dir().string();
  o.device = Device::Cpu;
  o.resolve.allow_download = false;
  o.resolve.progress = false;
  return o;
}

// Objects by relative path, and the snapshot's bytes under one key (its name carries the
// generation only).
std::map<std::string, std::string> index_files(const fs::path& cache) {
  std::map<std::string, std::string> out;
  for (const auto& de : fs::recursive_directory_iterator(cache)) {
    if (!de.is_regular_file()) continue;
    const std::string name = de.path().filename().string();
    const std::string rel = fs::relative(de.path(), cache).string();
    if (rel.find("objects") != std::string::npos)
      out["object " + name] = read(de.path());
    else if (name.starts_with("snapshot-"))
      out["snapshot"] = read(de.path());
  }
  return out;
}

class IndexIngest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("ripvec_ingest_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    root_ = base_ / "repo";
    // Files of very different sizes and languages, so windows hold many lengths.
    for (int f = 0; f < 6; ++f) {
      std::string py = "import os\n\n";
      for (int i = 0; i <= f; ++i)
        py += "def handler_" + std::to_string(f) + "_" + std::to_string(i) +
              "(request):\n    \"\"\"Handle request kind " + std::to_string(i) +
              ".\"\"\"\n    return request.get('k" + std::to_string(i) + "')\n\n";
      write(root_ / ("app/mod" + std::to_string(f) + ".py"), py);
    }
    std::string rs;
    for (int i = 0; i < 12; ++i)
      rs += "pub fn area_" + std::to_string(i) + "(w: f64, h: f64) -> f64 { w * h * " +
            std::to_string(i) + ".0 }\n";
    write(root_ / "geo/shapes.rs", rs);
    write(root_ / "README.md", "# Demo\n\nA small tree for the ingest determinism test.\n");
    write(root_ / "empty.txt", "");
  }
  void TearDown() override { fs::remove_all(base_); }

  // Builds a cold index with `threads` ingest threads into its own cache.
  std::map<std::string, std::string> build(std::shared_ptr<Embedder> emb, unsigned threads) {
    IndexOptions io;
    io.cache_dir = base_ / ("cache" + std::to_string(threads));
    io.threads = threads;
    IndexProgress last;
    std::mutex mu;
    io.progress = [&](const IndexProgress& p) {
      std::lock_guard lk(mu);
      last = p;
    };
    auto idx = Index::open(root_, emb, io);
    const UpdateStats st = idx->update();
    EXPECT_GT(st.chunks_embedded, 20u);
    EXPECT_EQ(last.files_done, last.files_total);
    EXPECT_EQ(last.chunks_done, last.chunks_total);
    EXPECT_EQ(last.chunks_done, st.chunks_embedded);
    return index_files(io.cache_dir);
  }
  fs::path base_, root_;
};

}  // namespace

TEST_F(IndexIngest, OneThreadAndManyThreadsGiveTheSameBytes) {
  RIPVEC_REQUIRE_PATH(test::default_model_dir() / "model.safetensors");
  std::shared_ptr<Embedder> emb = Embedder::load(model_options());
  const auto one = build(emb, 1);
  const auto many = build(emb, 5);
  ASSERT_TRUE(one.count("snapshot"));
  ASSERT_GT(one.size(), 6u);
  EXPECT_TRUE(one == many);
}

// The snapshot's keyword terms and int8 codes are made per file while embedding runs (and
// merged into the update's dictionary); an update that mixes them with unchanged objects read
// from disk (edits, an added file, a removal, a file turned binary) writes the very bytes of a
// cold index of the resulting tree, where every file was prepared.
TEST_F(IndexIngest, IncrementalSnapshotEqualsColdRebuild) {
  auto emb = std::make_shared<TestHashEmbedder>();
  IndexOptions io;
  io.cache_dir = base_ / "cache_inc";
  auto idx = Index::open(root_, emb, io);
  idx->update();
  write(root_ / "app/mod2.py", "def renamed_handler(request):\n    return 'HTTPServer utf8'\n");
  write(root_ / "app/new_file.py", "class RetryBackoff:\n    pass\n");
  fs::remove(root_ / "app/mod4.py");
  write(root_ / "README.md", std::string("\0\1binary now", 13));
  for (const char* f : {"app/mod2.py", "app/new_file.py", "README.md"})
    fs::last_write_time(root_ / f, fs::last_write_time(root_ / f) + std::chrono::seconds(3));
  const UpdateStats st = idx->update();
  EXPECT_EQ(st.files_removed, 2u);  // mod4.py, and README.md (binary)
  EXPECT_EQ(st.files_added, 1u);
  EXPECT_EQ(st.files_modified, 1u);
  io.cache_dir = base_ / "cache_cold";
  Index::open(root_, emb, io)->update();
  const auto inc = index_files(base_ / "cache_inc");
  const auto cold = index_files(base_ / "cache_cold");
  ASSERT_TRUE(cold.count("snapshot"));
  EXPECT_TRUE(inc.at("snapshot") == cold.at("snapshot"));
}

// The pipeline itself, with small windows so that many windows and groups are cut: every file
// comes back once, in task order, each chunk with the vector of its own text (the hashed
// embedder gives a text the same vector in any batch), whatever the thread count.
TEST_F(IndexIngest, WindowsHandFilesBackInOrderWithTheirOwnVectors) {
  // Two files large enough to be started before their turn (run_pipeline's early files), in
  // the middle of the walk order: the hand-back order and the vectors must not change.
  std::string big_py, big_txt;
  for (int i = 0; big_py.size() < 100 * 1024; ++i)
    big_py += "def step_" + std::to_string(i) + "(x):\n    return x * " + std::to_string(i) +
              " + len(str(x))\n\n";
  for (int i = 0; big_txt.size() < 80 * 1024; ++i)
    big_txt += "line " + std::to_string(i) + " of a large plain text file\n";
  write(root_ / "app/large_module.py", big_py);
  write(root_ / "docs/large_notes.txt", big_txt);
  TestHashEmbedder emb;
  std::vector<index::FileTask> tasks;
  WalkStats ws;
  for (const WalkedFile& f : walk({root_}, WalkOptions{}, &ws)) tasks.push_back({tasks.size(), f});
  ASSERT_GT(tasks.size(), 6u);
  for (unsigned threads : {1u, 3u, 7u}) {
    for (size_t window : {1u, 5u, 64u}) {
      index::PipelineConfig cfg;
      cfg.embedder = &emb;
      cfg.chunk = index::chunk_options_for(emb);
      cfg.threads = threads;
      cfg.window_chunks = window;
      cfg.group_tokens = 200;  // a few chunks per embed call
      cfg.max_file_size = 1 << 20;
      std::vector<size_t> order;
      size_t chunks = 0;
      cfg.done = [&](const index::FileTask& t, index::FileOutcome&& out) {
        order.push_back(t.slot);
        if (out.status != ContentStatus::Ok) return;
        ASSERT_TRUE(out.obj);
        std::string content;
        read_text_file(t.file.abs_path, 1 << 20, &content);
        const auto want = chunk_file(t.file.rel_path, content, cfg.chunk);
        ASSERT_EQ(out.obj->chunks.size(), want.size()) << t.file.rel_path;
        for (size_t c = 0; c < want.size(); ++c) {
          const std::vector<std::vector<int32_t>> ids{
              emb.tokenize(want[c].embed_text, InputKind::Document)};
          std::vector<float> v = emb.embed_tokens(ids);
          index::normalize_rows(v.data(), 1, emb.dim());  // the pipeline's one pass
          ASSERT_EQ(0, std::memcmp(v.data(), out.obj->vectors.data() + c * emb.dim(),
                                   emb.dim() * sizeof(float)))
              << t.file.rel_path << " chunk " << c;
        }
        chunks += want.size();
      };
      const index::PipelineTimes times = index::run_pipeline(tasks, cfg);
      std::vector<size_t> want_order(tasks.size());
      std::iota(want_order.begin(), want_order.end(), size_t{0});
      EXPECT_EQ(order, want_order) << threads << " threads, window " << window;
      EXPECT_EQ(times.chunks_embedded, chunks);
    }
  }
}
