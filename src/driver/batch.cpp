#include "driver/batch.hpp"

#include <algorithm>

#include "ripvec/error.hpp"

namespace ripvec {

BatchInputs build_batch_inputs(std::span<const std::vector<int32_t>> sequences,
                               std::span<const std::vector<int32_t>> token_type_ids) {
  if (!token_type_ids.empty() && token_type_ids.size() != sequences.size())
    throw InvalidArgument("build_batch_inputs: token_type_ids count differs from sequences");
  BatchInputs b;
  b.batch = static_cast<int>(sequences.size());
  b.cu_seqlens.push_back(0);
  for (size_t i = 0; i < sequences.size(); ++i) {
    const auto& s = sequences[i];
    if (s.empty()) throw InvalidArgument("build_batch_inputs: empty sequence");
    if (!token_type_ids.empty() && token_type_ids[i].size() != s.size())
      throw InvalidArgument("build_batch_inputs: token_type_ids length differs from ids");
    b.seq_lengths.push_back(static_cast<int32_t>(s.size()));
    b.max_seq = std::max<int>(b.max_seq, static_cast<int>(s.size()));
    b.input_ids.insert(b.input_ids.end(), s.begin(), s.end());
    if (token_type_ids.empty())
      b.token_type_ids.insert(b.token_type_ids.end(), s.size(), 0);
    else
      b.token_type_ids.insert(b.token_type_ids.end(), token_type_ids[i].begin(),
                              token_type_ids[i].end());
    for (size_t t = 0; t < s.size(); ++t) b.position_ids.push_back(static_cast<int32_t>(t));
    b.cu_seqlens.push_back(b.cu_seqlens.back() + static_cast<int32_t>(s.size()));
  }
  b.total_tokens = b.cu_seqlens.back();
  b.float_mask.assign(static_cast<size_t>(b.batch) * b.max_seq, kMaskedScore);
  b.pooling_mask.assign(static_cast<size_t>(b.batch) * b.max_seq, 0.0f);
  for (int i = 0; i < b.batch; ++i)
    for (int t = 0; t < b.seq_lengths[i]; ++t) {
      b.float_mask[static_cast<size_t>(i) * b.max_seq + t] = 0.0f;
      b.pooling_mask[static_cast<size_t>(i) * b.max_seq + t] = 1.0f;
    }
  return b;
}

}  // namespace ripvec
