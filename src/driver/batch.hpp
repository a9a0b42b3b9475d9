// Host-side description of one batch of tokenized sequences, in both the packed
// (unpadded) layout the engine computes on and the padded layout some kernels want.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ripvec {

// Sequences are concatenated without padding: token t of sequence b sits at packed row
// cu_seqlens[b] + t. All vectors are filled by build_batch_inputs().
struct BatchInputs {
  int batch = 0;             // B: number of sequences
  int max_seq = 0;           // S: longest sequence in the batch
  int64_t total_tokens = 0;  // T: sum of seq_lengths
  std::vector<int32_t> input_ids;       // [T]
  std::vector<int32_t> token_type_ids;  // [T] (zeros unless the caller gives segments)
  std::vector<int32_t> position_ids;    // [T] 0..len-1 within each sequence
  std::vector<int32_t> seq_lengths;     // [B]
  std::vector<int32_t> cu_seqlens;      // [B+1], cu_seqlens[0] = 0, cu_seqlens[B] = T
  std::vector<float> float_mask;        // [B, S] 0 for a real key, kMaskedScore for padding
  std::vector<float> pooling_mask;      // [B, S] 1 for a real token, 0 for padding
};

// Additive score for a masked key. Finite so that a fully masked row cannot produce NaN.
inline constexpr float kMaskedScore = -1.0e30f;

// Packs `sequences` (token ids, each non-empty) into a BatchInputs. token_type_ids may be
// empty (all zeros) or hold one vector per sequence of the same lengths.
BatchInputs build_batch_inputs(std::span<const std::vector<int32_t>> sequences,
                               std::span<const std::vector<int32_t>> token_type_ids = {});

}  // namespace ripvec
