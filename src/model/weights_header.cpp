// check_weights_header (ripvec/model_config.hpp): whether a safetensors header is the model
// its config.json describes, from tensor names and shapes alone.
#include <string>
#include <vector>

#include "model/layer_probe.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"

namespace ripvec {

namespace {

// Layer l's probe tensor (src/model/layer_probe.hpp) under either checkpoint prefix (bert. /
// model., or none), as the architectures load them.
bool has_layer(const ModelConfig& c, const SafeTensors& w, int l) {
  const bool modern = c.arch == Architecture::ModernBert;
  const LayerProbe& probe = modern ? kModernBertLayerProbe : kBertLayerProbe;
  for (const char* prefix : {"", modern ? "model." : "bert."})
    if (w.find(probe.name(prefix, l)) != nullptr) return true;
  return false;
}

}  // namespace

void check_weights_header(const ModelConfig& c, const SafeTensors& w, const std::string& origin) {
  const std::vector<int64_t> table{c.vocab_size(), c.hidden_size()};
  bool found = false;
  for (const std::string& name : w.names()) found = found || w.find(name)->shape == table;
  if (!found)
    throw ModelFormatError(origin + " does not match config.json: no [" + std::to_string(table[0]) +
                           ", " + std::to_string(table[1]) +
                           "] word embedding table (vocab_size, hidden_size)");
  const int n = c.arch == Architecture::ModernBert ? c.modernbert.num_hidden_layers
                                                   : c.bert.num_hidden_layers;
  if (!has_layer(c, w, n - 1))
    throw ModelFormatError(origin + " does not match config.json: num_hidden_layers is " +
                           std::to_string(n) + " but it has no layer " + std::to_string(n - 1));
  if (has_layer(c, w, n))
    throw ModelFormatError(origin + " does not match config.json: num_hidden_layers is " +
                           std::to_string(n) + " but it has a layer " + std::to_string(n));
}

}  // namespace ripvec
