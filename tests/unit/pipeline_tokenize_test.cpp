// Tokenize once: Embedder::tokenize() gives exactly the ids embed() runs, so the index can
// tokenize on its own threads and embed ids. Proven bitwise on the CPU with the real default
// model (all-MiniLM-L6-v2): embed_tokens(tokenize(t)) == embed(t), and the ids the chunker
// carries (counted once to fit the budget) equal tokenize(embed_text).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "chunk/chunker.hpp"
#include "common/test_util.hpp"
#include "index/ingest.hpp"
#include "ripvec/embedder.hpp"
#include "ripvec/error.hpp"

using namespace ripvec;

namespace {

EmbedderOptions model_options() {
  EmbedderOptions o;
  o.model = test::default_model_dir().string();
  o.device = Device::Cpu;
  o.resolve.allow_download = false;
  o.resolve.progress = false;
  return o;
}

std::vector<std::string> sample_texts() {
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "word" + std::to_string(i) + " ";
  return {"def hash_password(password): return pbkdf2(password)", "",
          "Ünïcödé — naïve café 東京 🙂",
          long_text,  // truncated to max_seq_length
          "// path: src/a.rs\nfn main() { println!(\"hi\"); }"};
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST(PipelineTokenize, EmbedTokensOfTokenizeEqualsEmbedBitwise) {
  RIPVEC_REQUIRE_PATH(test::default_model_dir() / "model.safetensors");
  auto e = Embedder::load(model_options());
  const auto texts = sample_texts();
  for (InputKind kind : {InputKind::Document, InputKind::Query, InputKind::Raw}) {
    std::vector<std::vector<int32_t>> ids;
    for (const auto& t : texts) ids.push_back(e->tokenize(t, kind));
    EXPECT_EQ(ids[3].size(), e->max_seq_length());  // the long text is truncated
    EXPECT_TRUE(bitwise_equal(e->embed_tokens(ids, kind), e->embed(texts, kind)));
    // One text at a time too (a batch of one).
    EXPECT_TRUE(bitwise_equal(e->embed_tokens(std::span(ids).subspan(0, 1), kind),
                              e->embed(std::span(texts).subspan(0, 1), kind)));
  }
}

TEST(PipelineTokenize, TokenizeAddsThePromptAndSpecials) {
  RIPVEC_REQUIRE_PATH(test::default_model_dir() / "model.safetensors");
  auto e = Embedder::load(model_options());
  const std::string t = "parse the configuration file";
  const std::string& pre = e->prompt(InputKind::Document);
  EXPECT_EQ(e->tokenize(t, InputKind::Document),
            e->tokenizer().encode(pre + t, true, e->max_seq_length()).ids);
}

// A kind outside the enum is refused by every call that takes one: prompt() indexed its
// prompts with it, out of bounds, and embed() ran on (API probe 2026-12-08).
TEST(PipelineTokenize, UnknownInputKindIsInvalidArgument) {
  RIPVEC_REQUIRE_PATH(test::default_model_dir() / "model.safetensors");
  auto e = Embedder::load(model_options());
  const auto bad = static_cast<InputKind>(7);
  const std::vector<std::string> texts = {"parse the configuration file"};
  EXPECT_THROW(e->prompt(bad), InvalidArgument);
  EXPECT_THROW(e->tokenize(texts[0], bad), InvalidArgument);
  EXPECT_THROW(e->embed(texts, bad), InvalidArgument);
  const std::vector<std::vector<int32_t>> ids = {e->tokenize(texts[0], InputKind::Document)};
  EXPECT_THROW(e->embed_tokens(ids, bad), InvalidArgument);
}

TEST(PipelineTokenize, ChunkIdsAreTheIdsTheEmbedderRuns) {
  RIPVEC_REQUIRE_PATH(test::default_model_dir() / "model.safetensors");
  auto e = Embedder::load(model_options());
  const ChunkOptions co = index::chunk_options_for(*e);
  ASSERT_TRUE(co.encode);
  std::string src = "import os\n\nclass Store:\n    \"\"\"Keeps values.\"\"\"\n\n";
  for (int i = 0; i < 30; ++i)
    src += "    def get_" + std::to_string(i) +
           "(self, key):\n        return self.values.get(key, " + std::to_string(i) + ")\n\n";
  // One definition far over the token budget: split into token windows.
  src += "def huge():\n";
  for (int i = 0; i < 200; ++i) src += "    total += compute_value_" + std::to_string(i) + "(x)\n";
  // One line over the budget: cut in embed_text.
  src += "LONG = [" + std::string(3000, '1') + "]\n";
  const auto chunks = chunk_file("src/store.py", src, co);
  ASSERT_GT(chunks.size(), 30u);
  for (const auto& c : chunks) {
    const std::string& text = c.embed_text.empty() ? c.content : c.embed_text;
    EXPECT_EQ(c.ids, e->tokenize(text, InputKind::Document)) << c.start_line << "-" << c.end_line;
    EXPECT_LE(c.ids.size(), e->max_seq_length());
  }
  // The cut itself does not depend on carrying ids.
  ChunkOptions plain = co;
  plain.encode = nullptr;
  plain.encode_is_plain = false;
  const auto again = chunk_file("src/store.py", src, plain);
  ASSERT_EQ(again.size(), chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(again[i].embed_text, chunks[i].embed_text);
    EXPECT_TRUE(again[i].ids.empty());
  }
}

// embed_token_groups (the index's ingest) gives each group the rows embed_tokens gives it, in
// group order, empty groups included; a sequence the model cannot run is refused naming it,
// before anything runs (an id past the table is checked on the host: a GPU kernel would only
// report it at the run's end, after earlier groups' rows were handed out).
TEST(PipelineTokenize, TokenGroupsEqualEmbedTokensPerGroup) {
  RIPVEC_REQUIRE_PATH(test::default_model_dir() / "model.safetensors");
  auto e = Embedder::load(model_options());
  const auto texts = sample_texts();
  std::vector<std::vector<std::vector<int32_t>>> groups(4);
  for (size_t i = 0; i < texts.size(); ++i)
    groups[i % 3].push_back(e->tokenize(texts[i], InputKind::Document));
  // groups[3] stays empty
  size_t next = 0;
  std::vector<std::vector<float>> got;
  e->embed_token_groups(
      [&](std::vector<std::vector<int32_t>>& ids, bool wait) {
        if (next == groups.size()) return false;
        if (!wait && next == 1) return false;  // "not ready yet" once
        ids = groups[next++];
        return true;
      },
      [&](std::vector<float>&& rows) { got.push_back(std::move(rows)); });
  ASSERT_EQ(got.size(), groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].empty()) {
      EXPECT_TRUE(got[g].empty());
      continue;
    }
    EXPECT_TRUE(bitwise_equal(got[g], e->embed_tokens(groups[g]))) << "group " << g;
  }

  std::vector<std::vector<int32_t>> bad = {e->tokenize("fine", InputKind::Document),
                                           {101, 999999, 102}};
  int handed = 0;
  bool given = false;
  try {
    e->embed_token_groups(
        [&](std::vector<std::vector<int32_t>>& ids, bool) {
          if (given) return false;
          given = true;
          ids = bad;
          return true;
        },
        [&](std::vector<float>&&) { ++handed; });
    ADD_FAILURE() << "an id past the vocabulary was run";
  } catch (const InvalidArgument& err) {
    EXPECT_NE(std::string(err.what()).find("sequence 1 has token id 999999"), std::string::npos)
        << err.what();
  }
  EXPECT_EQ(handed, 0);
  EXPECT_THROW(e->embed_tokens(bad), InvalidArgument);
}
