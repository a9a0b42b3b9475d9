// The tensor that marks layer l in each architecture's checkpoint: `before + l + after`, after
// the checkpoint's prefix ("bert." / "model." or none). One spelling for the two places that
// count layers: the loaders check the config's num_hidden_layers with it before sizing anything
// (WeightLoader::check_layer_count), `ripvec models` from the header alone
// (check_weights_header).
#pragma once

#include <string>

namespace ripvec {

struct LayerProbe {
  const char* before;
  const char* after;
  std::string name(const std::string& prefix, int layer) const {
    return prefix + before + std::to_string(layer) + after;
  }
};

inline constexpr LayerProbe kBertLayerProbe{"encoder.layer.", ".attention.self.query.weight"};
inline constexpr LayerProbe kModernBertLayerProbe{"layers.", ".attn.Wqkv.weight"};

}  // namespace ripvec
