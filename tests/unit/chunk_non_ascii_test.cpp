// Regression test (found by the libFuzzer chunker target, fuzz/chunker_fuzz.cpp): a code file
// whose lines hold no ASCII letter or digit (identifiers and comments in another script) got no
// chunk at all, so it was neither embedded nor found by keyword search. Any non-ASCII character
// now counts as a letter when the chunker decides whether uncovered lines are worth a chunk.
#include <gtest/gtest.h>

#include "chunk/chunker.hpp"

namespace ripvec {
namespace {

TEST(ChunkNonAscii, CodeFileWithOnlyNonAsciiIdentifiersStillGetsAChunk) {
  const std::string src = "変数 = 値\nプリント(変数)\n";
  const auto chunks = chunk_file("src/a.py", src, ChunkOptions{});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].content, "変数 = 値\nプリント(変数)");
  EXPECT_EQ(chunks[0].kind, "window");
  EXPECT_EQ(chunks[0].start_line, 1);
  EXPECT_EQ(chunks[0].end_line, 2);
}

TEST(ChunkNonAscii, CyrillicCommentOnlyShellScriptStillGetsAChunk) {
  const auto chunks = chunk_file("run.sh", "# привет мир\n", ChunkOptions{});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].content, "# привет мир");
}

TEST(ChunkNonAscii, PunctuationOnlyFileStillGetsNoChunk) {
  // Unchanged rule: nothing a query could match, nothing to embed.
  EXPECT_TRUE(chunk_file("src/a.sh", "#!\n", ChunkOptions{}).empty());
}

}  // namespace
}  // namespace ripvec
