// `ripvec tokenize`: the model's tokenizer only (weights are not loaded).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "ripvec/model_files.hpp"
#include "ripvec/tokenizer.hpp"

namespace ripvec::cli {

int run_tokenize(const CliOptions& opts) {
  check_utf8(opts.tokenize_text, "TEXT");
  ResolveOptions ro;
  ro.progress = progress_enabled(opts);
  const ModelFiles files = resolve_model(model_spec(opts), ro);
  const auto tok = Tokenizer::from_file(files.tokenizer);
  const Encoding enc = tok->encode(opts.tokenize_text, !opts.tokenize_no_special);
  nlohmann::ordered_json j;
  j["ids"] = enc.ids;
  j["tokens"] = enc.tokens;
  const std::string out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace ripvec::cli
