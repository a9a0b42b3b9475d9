// `ripvec models`: the models installed here (no download), what each is, and which to use.
// The recommendation follows a fixed preference list for code search; only all-MiniLM-L6-v2
// was measured on this project's harness (the Hub is unreachable from its machines), so the
// reasons state properties of the models, not scores (README "Which model to pick").
#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.hpp"
#include "output.hpp"
#include "ripvec/error.hpp"
#include "ripvec/index.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/model_files.hpp"
#include "ripvec/safetensors.hpp"
#include "ripvec/tokenizer.hpp"

namespace ripvec::cli {
namespace {

namespace fs = std::filesystem;

struct Known {
  const char* id;
  const char* why;
};

// Best first for searching code on a CPU-only machine with ripvec's chunk sizes.
constexpr Known kPreference[] = {
    {"ibm-granite/granite-embedding-english-r2",
     "ModernBERT encoder trained for retrieval including code (its model card lists CoIR); "
     "8192-token context, so whole functions fit; not measured here"},
    {"nomic-ai/modernbert-embed-base",
     "ModernBERT encoder, 8192-token context, search_query/search_document prompts; not "
     "measured here"},
    {"BAAI/bge-base-en-v1.5",
     "768-dim BERT retrieval model, strong on code search in published "
     "benchmarks; slower than the small models; not measured here"},
    {"BAAI/bge-small-en-v1.5",
     "384-dim BERT retrieval model, as fast as the default with a 512-token limit; not measured "
     "here"},
    {"thenlper/gte-base", "768-dim BERT retrieval model; not measured here"},
    {"intfloat/e5-base-v2",
     "768-dim BERT retrieval model (query:/passage: prompts); not measured "
     "here"},
    {"thenlper/gte-small", "384-dim BERT retrieval model; not measured here"},
    {"intfloat/e5-small-v2",
     "384-dim BERT retrieval model (query:/passage: prompts); not "
     "measured here"},
    {"sentence-transformers/all-MiniLM-L6-v2",
     "the default: small and fast, general text rather than retrieval-trained, 256-token limit; "
     "the model this project's quality numbers were measured with"},
};

// The largest tokenizer.json a listing parses (real ones: ~0.7 MB for BERT's, ~17 MB for a
// 250,000-token multilingual vocabulary).
constexpr uintmax_t kMaxListedTokenizerBytes = uintmax_t(64) << 20;

struct Row {
  InstalledModel m;
  std::optional<int> dim, max_tokens;
  std::string pooling, arch, error;
  bool normalize = false;
};

Row describe(const InstalledModel& m) {
  Row r{m, {}, {}, "", "", "", false};
  try {
    const ModelConfig c = load_model_config(m.dir / "config.json");
    r.dim = c.hidden_size();
    r.arch = c.model_type;
    const SentenceTransformersConfig st = load_sentence_transformers_config(m.dir);
    r.pooling = st.pooling == Pooling::Cls ? "cls" : "mean";
    r.normalize = st.normalize;
    r.max_tokens = std::min(st.max_seq_length.value_or(c.max_position_embeddings()),
                            c.max_position_embeddings());
    // The weights must be the config's model: a config.json of another size (copied over,
    // edited) was listed as fine and recommended, and failed only when loaded. The header's
    // names and shapes tell (a mapping, no read of the data).
    const fs::path weights = m.dir / "model.safetensors";
    check_weights_header(c, SafeTensors::open(weights, SafeTensors::Pages::Lazy), weights.string());
    // And the tokenizer must load and fit the model: one whose tokenizer could not (an empty
    // vocabulary) was listed and recommended (hostile probe 2026-12-07). A real tokenizer.json
    // is at most a few tens of MB; a larger one is reported rather than parsed for a listing.
    const fs::path tok = m.dir / "tokenizer.json";
    std::error_code ec;
    const uintmax_t tok_bytes = fs::file_size(tok, ec);
    if (!ec && tok_bytes > kMaxListedTokenizerBytes)
      throw ModelFormatError(tok.string() + " is " + std::to_string(tok_bytes) +
                             " bytes: not a tokenizer this listing reads (over 64 MiB)");
    Tokenizer::from_file(tok)->check_fits(c.vocab_size(), tok.string(),
                                          (m.dir / "config.json").string());
  } catch (const Error& e) {  // listed with the reason: one bad model must not hide the others
    // Whole: the text output escapes it (a newline in a folder name cut the reason off).
    r.error = e.what();
  }
  return r;
}

std::string pad(std::string s, size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

}  // namespace

int run_models(const CliOptions& opts) {
  // Model directories the indexes were built with (an HF id is listed from the cache instead).
  std::vector<fs::path> dirs;
  for (const IndexStatus& s : list_indexes(opts.cache_dir)) {
    std::error_code ec;
    if (!s.model_id.empty() && fs::is_directory(s.model_id, ec)) dirs.emplace_back(s.model_id);
  }
  std::vector<Row> rows;
  for (const InstalledModel& m : list_installed_models(dirs)) rows.push_back(describe(m));

  const Row* best = nullptr;
  const char* why = nullptr;
  for (const Known& k : kPreference) {
    for (const Row& r : rows)
      if (r.error.empty() && r.m.id == k.id) {
        best = &r;
        why = k.why;
        break;
      }
    if (best) break;
  }
  if (!best)
    for (const Row& r : rows)
      if (r.error.empty()) {
        best = &r;
        why =
            "the only kind of model installed that ripvec can run; none of the models it "
            "knows for code is installed";
        break;
      }

  if (opts.models_json) {
    for (const Row& r : rows) {
      nlohmann::ordered_json j;
      j["id"] = r.m.id;
      j["dir"] = r.m.dir.string();
      j["source"] = r.m.source;
      j["bytes"] = r.m.weight_bytes;
      if (r.error.empty()) {
        j["model_type"] = r.arch;
        j["dim"] = *r.dim;
        j["max_tokens"] = *r.max_tokens;
        j["pooling"] = r.pooling;
        j["normalize"] = r.normalize;
      } else {
        j["error"] = r.error;
      }
      j["recommended"] = best == &r;
      if (best == &r) j["why"] = why;
      write_stdout(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    }
    return rows.empty() ? 1 : 0;
  }
  if (rows.empty()) {
    write_stdout("no models installed in " + escape_name(hf_hub_cache_dir().string()) +
                 " (install the default with scripts/install_default_model.sh, or pass --model "
                 "DIR to index with a model directory)\n");
    return 1;
  }
  // Model ids are folder names and paths: escaped as every name in text output (a folder named
  // with ESC[2J cleared the terminal, one with a newline broke the table: hostile probe
  // 2026-12-05, fifth round). --json keeps them as they are.
  size_t w = 5;
  for (const Row& r : rows) w = std::max(w, escape_name(r.m.id).size());
  std::string out =
      pad("MODEL", w) + "  TYPE        DIM  MAX TOKENS  POOLING     SIZE       SOURCE\n";
  for (const Row& r : rows) {
    out += pad(escape_name(r.m.id), w) + "  ";
    if (!r.error.empty()) {
      out += "cannot load: " + escape_name(r.error) + "\n";
      continue;
    }
    out += pad(r.arch, 10) + "  " + pad(std::to_string(*r.dim), 3) + "  " +
           pad(std::to_string(*r.max_tokens), 10) + "  " +
           pad(r.pooling + (r.normalize ? "+norm" : ""), 10) + "  " +
           pad(human_bytes(r.m.weight_bytes), 9) + "  " + escape_name(r.m.source) + "\n";
  }
  if (best) out += "\nrecommended: " + escape_name(best->m.id) + "\n  why: " + why + "\n";
  write_stdout(out);
  return 0;
}

}  // namespace ripvec::cli
