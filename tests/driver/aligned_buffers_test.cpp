// The CPU kernels' packed weights and per-call activation buffers start on a cache line: glibc's
// malloc gave std::vector 16-byte alignment (a large block starts 16 bytes past a page), and
// every 64-byte load of the AMX tiles (and of the VNNI weight panels) then spanned two lines;
// the AMX-BF16 products ran at a third of their aligned rate (2026-12-06).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "driver/cpu/cpu_bf16_gemm.hpp"
#include "driver/cpu/cpu_int8_gemm.hpp"
#include "util/aligned_vector.hpp"

namespace ripvec {
namespace {

bool line_aligned(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 64 == 0;
}

TEST(AlignedBuffers, AlignedVectorStartsOnACacheLineAtEverySize) {
  for (size_t n : {1, 3, 17, 4096, 100000, 1 << 22}) {
    AlignedVector<uint16_t> v(n);
    EXPECT_TRUE(line_aligned(v.data())) << n;
    v.resize(n * 3 + 5);  // a reallocation keeps it
    EXPECT_TRUE(line_aligned(v.data())) << n;
  }
}

TEST(AlignedBuffers, Int8WeightPanelsStartOnACacheLine) {
  const int64_t n = 384, k = 384;  // 576 KiB packed: a block malloc would mmap
  std::vector<float> w(static_cast<size_t>(n * k));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 97) * 0.01f - 0.4f;
  const cpu::Int8Weight q = cpu::quantize_weight(w.data(), n, k, cpu::Int8Isa::kScalar);
  EXPECT_TRUE(line_aligned(q.packed.data()));
  EXPECT_TRUE(line_aligned(q.wt.data()));
}

TEST(AlignedBuffers, Bf16AmxPanelsStartOnACacheLine) {
  if (!cpu::amx_bf16_available()) GTEST_SKIP() << "no AMX-BF16 on this CPU";
  const int64_t n = 384, k = 1536;
  std::vector<float> w(static_cast<size_t>(n * k), 0.25f);
  const cpu::CpuKernels& kern = cpu::select_kernels(cpu::Isa::kAuto);
  const cpu::Bf16Weight q = cpu::pack_bf16_weight(kern, w.data(), n, k, cpu::Bf16Isa::kAmx);
  EXPECT_TRUE(line_aligned(q.packed.data()));
}

}  // namespace
}  // namespace ripvec
