// Exact top-k by dot product over L2-normalized float32 vectors (cosine similarity).
//
// Two scans give the same answer:
//  - top_k_dot: reads every float32 row (memory bound: 1.5 GB for 1M x 384).
//  - top_k_dot_quantized: reads an int8 copy of the rows (4x less memory traffic) with, per
//    row, a scale and an upper bound `err` on ||v - scale * codes||. Since
//    |q.v - q.v~| <= ||q|| * err, each approximate score gives an interval that must hold the
//    exact score; rows whose upper bound cannot reach the k-th best lower bound are dropped and
//    the remaining few are rescored exactly from the float32 rows. The result is the same top-k
//    as the float32 scan, not an approximation.
// Both run on the global thread pool with a heap per block, and use AVX-512 / AVX2 kernels
// chosen at run time (scalar fallback).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace ripvec::index {

struct ScoredId {
  uint32_t id = 0;
  float score = 0;
};

// Best first: higher score, then lower id.
inline bool better(const ScoredId& a, const ScoredId& b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

// Avx512Vnni: the int8 scan also quantizes the query to int8 and uses vpdpbusd (the bound
// then adds the query's own rounding error); float32 kernels are the Avx512 ones.
enum class SimdLevel { Scalar, Avx2, Avx512, Avx512Vnni };
SimdLevel simd_level();  // what the kernels use now
const char* simd_level_name(SimdLevel l);
// Caps the level (tests run every path); never raises it above what the CPU has.
void set_simd_level_cap(SimdLevel cap);

float dot_f32(const float* a, const float* b, size_t dim);

// vectors: row-major [n, dim] float32. Returns min(k, n) hits, best first. allow (optional,
// [n]): rows whose byte is 0 are left out before ranking (filters), so the result is the top k
// of the allowed rows.
std::vector<ScoredId> top_k_dot(std::span<const float> query, const float* vectors, size_t n,
                                size_t dim, size_t k, const uint8_t* allow = nullptr);

// Rows must be L2-normalized (norm <= 1 + 1e-3), as the index stores them: the query-side
// error term of the VNNI scan relies on it.
struct QuantizedRows {
  const int8_t* codes = nullptr;   // [n, dim] row-major
  const float* scales = nullptr;   // [n]: row ~= scales[i] * codes[i]
  const float* err = nullptr;      // [n]: >= ||row - scales[i] * codes[i]||_2
  const float* exact = nullptr;    // [n, dim] float32 rows, for rescoring
  const uint8_t* allow = nullptr;  // optional [n]: rows whose byte is 0 are not ranked
  size_t n = 0, dim = 0;
};

// Symmetric per-row int8 quantization (scale = max|x| / 127) with a rounded-up error norm.
void quantize_rows(const float* rows, size_t n, size_t dim, int8_t* codes, float* scales,
                   float* err);

struct QuantizedSearchStats {
  size_t rescored = 0;  // rows rescored in float32
};

std::vector<ScoredId> top_k_dot_quantized(std::span<const float> query, const QuantizedRows& rows,
                                          size_t k, QuantizedSearchStats* stats = nullptr);

}  // namespace ripvec::index
