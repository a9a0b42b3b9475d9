// End to end with the real default model (all-MiniLM-L6-v2 through Embedder::load): the
// persistent index finds files by meaning, every stored vector belongs to its chunk (scores
// equal a fresh embedding of that chunk's text), and an edit re-embeds only the edited file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "chunk/chunker.hpp"
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

EmbedderOptions model_options() {
  EmbedderOptions o;
  o.model = test::default_model_dir().string();
  o.device = Device::Cpu;
  o.resolve.allow_download = false;
  o.resolve.progress = false;
  return o;
}

class IndexModel : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("ripvec_idxmodel_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    root_ = base_ / "repo";
    write(root_ / "auth/passwords.py", R"(import hashlib, os

def hash_password(password: str) -> bytes:
    """Derive a salted PBKDF2 hash so stored credentials cannot be reversed."""
    salt = os.urandom(16)
    return salt + hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)

def verify_password(password: str, stored: bytes) -> bool:
    salt, digest = stored[:16], stored[16:]
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000) == digest
)");
    write(root_ / "net/retry.py", R"(import time, urllib.request

def fetch_with_retry(url, attempts=5, backoff=0.5):
    """Download a URL, retrying failed HTTP requests with exponential backoff."""
    for i in range(attempts):
        try:
            return urllib.request.urlopen(url, timeout=10).read()
        except OSError:
            time.sleep(backoff * (2 ** i))
    raise RuntimeError("giving up on " + url)
)");
    write(root_ / "math/matrix.rs", R"(/// Multiplies two dense row-major matrices.
pub fn matmul(a: &[f32], b: &[f32], n: usize, m: usize, k: usize) -> Vec<f32> {
    let mut c = vec![0.0; n * k];
    for i in 0..n { for p in 0..m { for j in 0..k { c[i * k + j] += a[i * m + p] * b[p * k + j]; } } }
    c
}
)");
    write(root_ / "io/csv_reader.go", R"(package io

// ReadRows parses comma separated values from a file into string records.
func ReadRows(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil { return nil, err }
	defer f.Close()
	return csv.NewReader(f).ReadAll()
}
)");
    write(root_ / "docs/dates.md",
          "# Dates\n\nAll timestamps are formatted as ISO 8601 in UTC "
          "before they are shown to users.\n");
  }
  void TearDown() override { fs::remove_all(base_); }
  void reduced_index_is_separate(Precision precision, const char* tag);
  fs::path base_, root_;
};

}  // namespace

TEST_F(IndexModel, FindsByMeaningAndVectorsBelongToTheirChunks) {
  RIPVEC_REQUIRE_PATH(test::default_model_dir() / "model.safetensors");
  std::shared_ptr<Embedder> emb = Embedder::load(model_options());
  IndexOptions io;
  io.cache_dir = base_ / "cache";
  auto idx = Index::open(root_, emb, io);
  UpdateStats st = idx->update();
  EXPECT_EQ(st.files_added, 5u);
  EXPECT_EQ(st.chunks_embedded, idx->status().chunks);

  struct Case {
    const char* query;
    const char* path;
  } cases[] = {{"how are user passwords stored securely", "auth/passwords.py"},
               {"retry an http download when the network fails", "net/retry.py"},
               {"multiply two matrices", "math/matrix.rs"},
               {"parse a csv file", "io/csv_reader.go"},
               {"what time zone are dates shown in", "docs/dates.md"}};
  SearchOptions so;
  so.mode = SearchMode::Semantic;
  so.top_k = 3;
  so.merge_adjacent = false;  // each hit is one stored chunk, checked against the chunker
  for (const auto& c : cases) {
    auto hits = idx->search(c.query, so);
    ASSERT_FALSE(hits.empty()) << c.query;
    EXPECT_EQ(hits[0].path, c.path) << c.query;
    // The stored vector of each hit is the embedding of that very chunk: recompute it.
    const std::string q(c.query);
    auto qv = emb->embed(std::span(&q, 1), InputKind::Query);
    ChunkOptions co;
    co.tokenizer = &emb->tokenizer();
    co.max_tokens = emb->max_seq_length();
    for (const auto& h : hits) {
      std::ifstream f(root_ / h.path);
      std::string content((std::istreambuf_iterator<char>(f)), {});
      std::string text;
      for (auto& ch : chunk_file(h.path, content, co))
        if (ch.start_line == h.start_line && ch.end_line == h.end_line) text = ch.embed_text;
      ASSERT_FALSE(text.empty()) << h.path;
      auto dv = emb->embed(std::span(&text, 1), InputKind::Document);
      double dot = 0, nq = 0, nd = 0;
      for (size_t j = 0; j < emb->dim(); ++j) {
        dot += double(qv[j]) * dv[j];
        nq += double(qv[j]) * qv[j];
        nd += double(dv[j]) * dv[j];
      }
      EXPECT_NEAR(h.semantic_score, dot / std::sqrt(nq * nd), 2e-4) << h.path;
    }
  }
  // Hybrid (the default) and keyword agree on an identifier.
  auto hy = idx->search("fetch_with_retry", SearchOptions{});
  ASSERT_FALSE(hy.empty());
  EXPECT_EQ(hy[0].path, "net/retry.py");

  // Edit one file: only its chunks are embedded again.
  write(root_ / "docs/dates.md",
        "# Dates\n\nTimestamps are shown in the user's local time zone.\n");
  fs::last_write_time(root_ / "docs/dates.md",
                      fs::last_write_time(root_ / "docs/dates.md") + std::chrono::seconds(5));
  UpdateStats s2 = idx->update();
  EXPECT_EQ(s2.modified, std::vector<std::string>{"docs/dates.md"});
  EXPECT_EQ(s2.chunks_embedded, 1u);
  EXPECT_EQ(idx->update().chunks_embedded, 0u);
}

TEST_F(IndexModel, NoIndexSearchMatchesPersistent) {
  RIPVEC_REQUIRE_PATH(test::default_model_dir() / "model.safetensors");
  std::shared_ptr<Embedder> emb = Embedder::load(model_options());
  IndexOptions io;
  io.cache_dir = base_ / "cache";
  auto idx = Index::open(root_, emb, io);
  idx->update();
  SearchOptions so;
  so.top_k = 5;
  auto a = idx->search("hash a password", so);
  auto b = search_without_index(root_, *emb, "hash a password", so, io, nullptr);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].path, b[i].path);
    EXPECT_NEAR(a[i].semantic_score, b[i].semantic_score, 1e-5);
  }
}

// INT8 vectors are part of the index identity (Embedder::vector_config): an index built with
// FP32 vectors is never updated or searched with INT8 ones (nor the reverse). Opening the
// root with an INT8 embedder gives a sibling index that embeds everything itself, and the
// FP32 index stays as it was.
// An index of reduced-precision vectors (INT8 or CPU BF16: `tag` in vector_config) is kept
// apart from the FP32 one and never updated with FP32 vectors.
void IndexModel::reduced_index_is_separate(Precision precision, const char* tag) {
  RIPVEC_REQUIRE_PATH(test::default_model_dir() / "model.safetensors");
  EmbedderOptions fo = model_options();
  fo.precision = Precision::F32;
  EmbedderOptions qo = model_options();
  qo.precision = precision;
  std::shared_ptr<Embedder> f32 = Embedder::load(fo), reduced = Embedder::load(qo);
  EXPECT_EQ(f32->vector_config().find(tag), std::string::npos);
  EXPECT_NE(reduced->vector_config().find(tag), std::string::npos);
  IndexOptions io;
  io.cache_dir = base_ / "cache";
  auto a = Index::open(root_, f32, io);
  EXPECT_EQ(a->update().files_added, 5u);
  auto b = Index::open(root_, reduced, io);
  EXPECT_NE(a->location(), b->location());
  const UpdateStats sb = b->update();
  EXPECT_EQ(sb.files_added, 5u);
  EXPECT_EQ(sb.chunks_embedded, b->status().chunks);
  SearchOptions so;
  so.mode = SearchMode::Semantic;
  auto hits = b->search("multiply two matrices", so);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].path, "math/matrix.rs");
  // The FP32 index is untouched: reopened with FP32, nothing to embed.
  EXPECT_EQ(Index::open(root_, f32, io)->update().chunks_embedded, 0u);
  // Status and the cache listing tell the two apart (the manifest stores vector_config).
  EXPECT_EQ(b->status().vectors, reduced->vector_config());
  EXPECT_EQ(a->status().vectors, f32->vector_config());
  const std::vector<IndexStatus> all = list_indexes(io.cache_dir);
  ASSERT_EQ(all.size(), 2u);
  for (const IndexStatus& s : all)
    EXPECT_EQ(s.vectors,
              s.location == b->location() ? reduced->vector_config() : f32->vector_config());
}

TEST_F(IndexModel, Int8IndexIsSeparateFromF32) {
  reduced_index_is_separate(Precision::Int8, "int8");
}

TEST_F(IndexModel, Bf16IndexIsSeparateFromF32) {
  reduced_index_is_separate(Precision::BF16, "bf16");
}
