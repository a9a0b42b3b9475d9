// Regression test (found by the libFuzzer chunker target, fuzz/chunker_fuzz.cpp): chunk_file
// promises chunks sorted by start_line, but when a tokenizer split an overlapping line window
// into smaller windows, the later pieces could start after the next window did (lines 55-60
// of window 1-60 after window 51-110), so chunks came back out of order.
#include <gtest/gtest.h>

#include <string>

#include "chunk/chunker.hpp"
#include "common/test_util.hpp"
#include "ripvec/tokenizer.hpp"

namespace ripvec {
namespace {

void expect_sorted(const std::vector<Chunk>& chunks) {
  ASSERT_FALSE(chunks.empty());
  for (size_t i = 1; i < chunks.size(); ++i)
    EXPECT_LE(chunks[i - 1].start_line, chunks[i].start_line)
        << "chunk " << i << " (lines " << chunks[i].start_line << "-" << chunks[i].end_line
        << ") after lines " << chunks[i - 1].start_line << "-" << chunks[i - 1].end_line;
}

TEST(ChunkOrder, TokenSplitOverlappingWindowsStaySortedByStartLine) {
  const auto tok = Tokenizer::from_file(test::test_data("bert/tiny_bge_cls/tokenizer.json"));
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += "line " + std::to_string(i) + " has several plain words to make it long enough\n";
  ChunkOptions opts;
  opts.tokenizer = tok.get();
  opts.max_tokens = 32;
  opts.window_lines = 16;
  opts.overlap_lines = 15;
  expect_sorted(chunk_file("Makefile", text, opts));
}

TEST(ChunkOrder, DefaultWindowsOfLongLinesStaySortedByStartLine) {
  const auto tok = Tokenizer::from_file(test::test_data("bert/tiny_bge_cls/tokenizer.json"));
  std::string text;
  for (int i = 0; i < 150; ++i)
    text += "notes " + std::to_string(i) + " alpha beta gamma delta epsilon zeta eta theta\n";
  ChunkOptions opts;  // window 60, overlap 10
  opts.tokenizer = tok.get();
  opts.max_tokens = 256;
  expect_sorted(chunk_file("notes.txt", text, opts));
}

}  // namespace
}  // namespace ripvec
