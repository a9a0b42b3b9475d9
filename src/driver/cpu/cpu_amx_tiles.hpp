// Internal to the CPU driver: what the AMX-BF16 kernels share (the linear layers'
// cpu_bf16_amx_impl.hpp and the attention's cpu_bf16_attn_amx_impl.hpp): the target attribute
// of their functions and the one tile configuration both load. Internal linkage, like the
// kernels that include it; tests/driver/amx_sim.hpp may define the _tile_* names first to run
// them on emulated tiles. Needs <immintrin.h> (x86-64 only).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace ripvec::cpu {
namespace {

#define RIPVEC_AMX_TARGET \
  __attribute__((         \
      target("amx-tile,amx-bf16,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma")))

// The palette-1 configuration of both kernels: tiles 0-7 all 16 rows x 64 bytes (tiles 0-3 hold
// 16 x 16 FP32 sums, 4-5 the A operand as 16 rows x 32 BF16, 6-7 the B operand as 16 pair rows
// x 16 columns x 2), so a thread switching between them never needs another LDTILECFG layout.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

const TileConfig& tile_config() {
  static const TileConfig cfg = [] {
    TileConfig c;
    for (int t = 0; t < 8; ++t) {
      c.colsb[t] = 64;
      c.rows[t] = 16;
    }
    return c;
  }();
  return cfg;
}

}  // namespace
}  // namespace ripvec::cpu
