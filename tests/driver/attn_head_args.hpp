// Test helper: the AttnArgs of one head of a packed [len, 3 * nh * hd] qkv buffer (Q, K, V of
// every head side by side in each row, as the driver's QKV projection writes them) whose output
// is an [len, nh * hd] buffer: what the attention kernels' tests call kernels with.
#pragma once

#include <cmath>
#include <cstdint>

#include "driver/cpu/cpu_kernels.hpp"

namespace ripvec::cpu::test {

// Head h of nh heads of size hd over a sequence of len tokens, query rows [q_begin, q_end),
// half_window as AttnArgs; scale 1 / sqrt(hd). work and kv are the caller's workspaces.
inline AttnArgs head_args(const float* qkv, float* out, int64_t h, int64_t nh, int hd, int64_t len,
                          int64_t q_begin, int64_t q_end, int half_window, float* work, float* kv) {
  const int64_t H = nh * hd;
  AttnArgs a;
  a.q = qkv + h * hd;
  a.k = a.q + H;
  a.v = a.q + 2 * H;
  a.ld = 3 * H;
  a.out = out + h * hd;
  a.ldo = H;
  a.len = len;
  a.q_begin = q_begin;
  a.q_end = q_end;
  a.head_dim = hd;
  a.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  a.half_window = half_window;
  a.work = work;
  a.kv = kv;
  return a;
}

}  // namespace ripvec::cpu::test
