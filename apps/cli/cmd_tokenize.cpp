// `ripvec tokenize`: the model's tokenizer only (weights are not loaded; config.json, when
// present, is read to check the tokenizer against the model).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.hpp"
#include "output.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/model_files.hpp"
#include "ripvec/tokenizer.hpp"

namespace ripvec::cli {

int run_tokenize(const CliOptions& opts) {
  check_utf8(opts.tokenize_text, "TEXT");
  ResolveOptions ro;
  ro.progress = progress_enabled(opts);
  ro.tokenizer_only = true;  // a directory holding just tokenizer.json is enough
  const ModelFiles files = resolve_model(model_spec(opts), ro);
  const auto tok = Tokenizer::from_file(files.tokenizer);
  // With the model's config at hand, ids it could not embed are an error here too. A config of
  // an architecture this build cannot run does not stop tokenizing.
  if (!files.config.empty()) {
    std::optional<ModelConfig> config;
    try {
      config = load_model_config(files.config);
    } catch (const UnsupportedError&) {
    }
    if (config)
      tok->check_fits(config->vocab_size(), files.tokenizer.string(), files.config.string());
  }
  const Encoding enc = tok->encode(opts.tokenize_text, !opts.tokenize_no_special);
  nlohmann::ordered_json j;
  j["ids"] = enc.ids;
  j["tokens"] = enc.tokens;
  const std::string out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  write_stdout(out);
  return 0;
}

}  // namespace ripvec::cli
