#include "tokenizer/bpe.hpp"

#include <string>

#include "ripvec/error.hpp"

namespace ripvec {

std::unique_ptr<Tokenizer> make_bpe_tokenizer(const nlohmann::json& root, std::string_view origin) {
  (void)root;
  // Placeholder until the implementation lands: refuse loudly rather than return a wrong tokenizer.
  throw UnsupportedError(std::string(origin) + ": BPE tokenizer not implemented yet");
}

}  // namespace ripvec
