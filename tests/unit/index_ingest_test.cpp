// Parallel ingest is deterministic: an index built with one ingest thread and with many has
// the same objects and the same snapshot bytes (the real default model on the CPU, so batch
// composition matters to the last bit), and progress ends with files and chunks complete.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

#include "common/test_util.hpp"
#include "ripvec/index.hpp"

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
    for (int f = 0; f < 12; ++f) {
      std::string py = "import os\n\n";
      for (int i = 0; i <= f * 2; ++i)
        py += "def handler_" + std::to_string(f) + "_" + std::to_string(i) +
              "(request):\n    \"\"\"Handle request kind " + std::to_string(i) +
              ".\"\"\"\n    return request.get('k" + std::to_string(i) + "')\n\n";
      write(root_ / ("app/mod" + std::to_string(f) + ".py"), py);
    }
    std::string rs;
    for (int i = 0; i < 40; ++i)
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
    EXPECT_GT(st.chunks_embedded, 60u);
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
  const auto many = build(emb, 6);
  const auto dflt = build(emb, 0);
  ASSERT_TRUE(one.count("snapshot"));
  ASSERT_GT(one.size(), 10u);
  EXPECT_TRUE(one == many);
  EXPECT_TRUE(one == dflt);
}
