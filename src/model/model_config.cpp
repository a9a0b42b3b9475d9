// config.json and sentence-transformers JSON files -> typed structs. Defaults follow
// transformers' BertConfig / ModernBertConfig and sentence-transformers' own loaders, so a
// field left out of a file means what it means to the Python reference.
#include "ripvec/model_config.hpp"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "ripvec/error.hpp"
#include "util/file_read.hpp"
#include "util/json_depth.hpp"

namespace ripvec {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string type_name(const json& v) {
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number_float()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  if (v.is_null()) return "null";
  return "value";
}

// config.json and the sentence-transformers files are a few KB.
constexpr uint64_t kMaxConfigBytes = uint64_t(64) << 20;

json read_json(const fs::path& path) {
  const std::string text = read_small_file(path, kMaxConfigBytes);
  if (json_nesting_depth(text, kMaxJsonNesting) > kMaxJsonNesting)
    throw ModelFormatError("malformed JSON in " + path.string() + ": nested deeper than " +
                           std::to_string(kMaxJsonNesting) + " levels");
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw ModelFormatError("malformed JSON in " + path.string() + ": " + e.what());
  }
}

// Typed field access on one JSON object, with error messages naming the file and field.
class Fields {
 public:
  Fields(const json& j, const fs::path& file) : j_(j), file_(file) {}

  [[noreturn]] void fail(const std::string& field, const std::string& msg) const {
    throw ModelFormatError(file_.string() + ": field \"" + field + "\" " + msg);
  }

  const json* find(const std::string& field) const {
    auto it = j_.find(field);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  int req_int(const std::string& field, int min_value) const {
    const json* v = find(field);
    if (!v) fail(field, "is missing");
    return to_int(field, *v, min_value);
  }
  int opt_int(const std::string& field, int def, int min_value) const {
    const json* v = find(field);
    return v ? to_int(field, *v, min_value) : def;
  }
  float opt_float(const std::string& field, float def) const {
    const json* v = find(field);
    return v ? to_float(field, *v) : def;
  }
  bool opt_bool(const std::string& field, bool def) const {
    const json* v = find(field);
    if (!v) return def;
    if (!v->is_boolean()) fail(field, "must be a boolean, got " + type_name(*v));
    return v->get<bool>();
  }
  std::string opt_string(const std::string& field, const std::string& def) const {
    const json* v = find(field);
    if (!v) return def;
    if (!v->is_string()) fail(field, "must be a string, got " + type_name(*v));
    return v->get<std::string>();
  }

  int to_int(const std::string& field, const json& v, int min_value) const {
    int64_t x = 0;
    if (v.is_number_unsigned()) {
      uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int>::max()))
        fail(field, "value " + v.dump() + " is out of range");
      x = static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
      x = v.get<int64_t>();
    } else {
      fail(field, "must be an integer, got " + type_name(v));
    }
    if (x < min_value || x > std::numeric_limits<int>::max())
      fail(field, "value " + std::to_string(x) + " is out of range (minimum " +
                      std::to_string(min_value) + ")");
    return static_cast<int>(x);
  }
  float to_float(const std::string& field, const json& v) const {
    if (!v.is_number()) fail(field, "must be a number, got " + type_name(v));
    double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > std::numeric_limits<float>::max())
      fail(field, "value " + v.dump() + " is out of range");
    return static_cast<float>(d);
  }

 private:
  const json& j_;
  const fs::path& file_;
};

void check_heads(const Fields& f, int hidden, int heads) {
  if (hidden % heads != 0)
    f.fail("hidden_size", "(" + std::to_string(hidden) +
                              ") is not a multiple of num_attention_heads (" +
                              std::to_string(heads) + ")");
}

BertConfig parse_bert(const Fields& f) {
  BertConfig c;
  c.vocab_size = f.req_int("vocab_size", 1);
  c.hidden_size = f.req_int("hidden_size", 1);
  c.num_hidden_layers = f.req_int("num_hidden_layers", 1);
  c.num_attention_heads = f.req_int("num_attention_heads", 1);
  c.intermediate_size = f.req_int("intermediate_size", 1);
  check_heads(f, c.hidden_size, c.num_attention_heads);
  c.hidden_act = f.opt_string("hidden_act", c.hidden_act);
  c.max_position_embeddings = f.opt_int("max_position_embeddings", c.max_position_embeddings, 1);
  c.type_vocab_size = f.opt_int("type_vocab_size", c.type_vocab_size, 0);
  c.layer_norm_eps = f.opt_float("layer_norm_eps", c.layer_norm_eps);
  if (!(c.layer_norm_eps > 0)) f.fail("layer_norm_eps", "must be positive");
  c.pad_token_id = f.opt_int("pad_token_id", c.pad_token_id, 0);
  c.position_embedding_type = f.opt_string("position_embedding_type", c.position_embedding_type);
  return c;
}

// rope_parameters (transformers >= 5) takes precedence over the legacy *_rope_theta keys,
// as in ModernBertConfig.convert_rope_params_to_dict.
void parse_rope_parameters(const Fields& f, ModernBertConfig& c) {
  const json* rp = f.find("rope_parameters");
  if (!rp) {
    if (f.find("rope_scaling")) f.fail("rope_scaling", "is set; RoPE scaling is not supported");
    return;
  }
  if (!rp->is_object()) f.fail("rope_parameters", "must be an object, got " + type_name(*rp));
  for (const char* kind : {"full_attention", "sliding_attention"}) {
    auto it = rp->find(kind);
    if (it == rp->end() || it->is_null()) continue;
    const std::string field = std::string("rope_parameters.") + kind;
    if (!it->is_object()) f.fail(field, "must be an object, got " + type_name(*it));
    if (auto t = it->find("rope_type"); t != it->end() && !t->is_null()) {
      if (!t->is_string() || t->get<std::string>() != "default")
        f.fail(field + ".rope_type", "is " + t->dump() + "; only \"default\" RoPE is supported");
    }
    if (auto th = it->find("rope_theta"); th != it->end() && !th->is_null()) {
      float theta = f.to_float(field + ".rope_theta", *th);
      if (std::string(kind) == "full_attention")
        c.global_rope_theta = theta;
      else
        c.local_rope_theta = theta;
    }
  }
}

// layer_types (transformers >= 5) spells out which layers attend globally; the engine
// models it as "every n-th layer, starting at 0", so anything else is unsupported.
void parse_layer_types(const Fields& f, ModernBertConfig& c) {
  const json* lt = f.find("layer_types");
  if (!lt) return;
  if (!lt->is_array()) f.fail("layer_types", "must be an array, got " + type_name(*lt));
  if (static_cast<int>(lt->size()) != c.num_hidden_layers)
    f.fail("layer_types", "has " + std::to_string(lt->size()) +
                              " entries but num_hidden_layers is " +
                              std::to_string(c.num_hidden_layers));
  std::vector<bool> global;
  for (const json& t : *lt) {
    if (!t.is_string()) f.fail("layer_types", "entries must be strings, got " + type_name(t));
    const std::string& s = t.get_ref<const std::string&>();
    if (s == "full_attention")
      global.push_back(true);
    else if (s == "sliding_attention")
      global.push_back(false);
    else
      f.fail("layer_types", "has unknown entry \"" + s + "\"");
  }
  if (!f.find("global_attn_every_n_layers")) {
    // Period = distance to the second global layer (or the whole stack if there is one).
    int n = c.num_hidden_layers;
    for (int i = 1; i < c.num_hidden_layers; ++i)
      if (global[i]) {
        n = i;
        break;
      }
    c.global_attn_every_n_layers = n;
  }
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    if (global[i] != (i % c.global_attn_every_n_layers == 0))
      f.fail("layer_types", "does not follow one global layer every " +
                                std::to_string(c.global_attn_every_n_layers) +
                                " layers starting at layer 0; this pattern is not supported");
  }
}

ModernBertConfig parse_modernbert(const Fields& f) {
  ModernBertConfig c;
  c.vocab_size = f.req_int("vocab_size", 1);
  c.hidden_size = f.req_int("hidden_size", 1);
  c.num_hidden_layers = f.req_int("num_hidden_layers", 1);
  c.num_attention_heads = f.req_int("num_attention_heads", 1);
  c.intermediate_size = f.req_int("intermediate_size", 1);
  check_heads(f, c.hidden_size, c.num_attention_heads);
  if ((c.hidden_size / c.num_attention_heads) % 2 != 0)
    f.fail("hidden_size", "gives an odd head dimension, which RoPE cannot rotate");
  c.hidden_activation = f.opt_string("hidden_activation", c.hidden_activation);
  c.max_position_embeddings = f.opt_int("max_position_embeddings", c.max_position_embeddings, 1);
  c.norm_eps = f.opt_float("norm_eps", c.norm_eps);
  if (!(c.norm_eps > 0)) f.fail("norm_eps", "must be positive");
  c.norm_bias = f.opt_bool("norm_bias", c.norm_bias);
  c.attention_bias = f.opt_bool("attention_bias", c.attention_bias);
  c.mlp_bias = f.opt_bool("mlp_bias", c.mlp_bias);
  c.global_rope_theta = f.opt_float("global_rope_theta", c.global_rope_theta);
  c.local_rope_theta = f.opt_float("local_rope_theta", c.local_rope_theta);
  parse_rope_parameters(f, c);
  if (!(c.global_rope_theta > 0)) f.fail("global_rope_theta", "must be positive");
  if (!(c.local_rope_theta > 0)) f.fail("local_rope_theta", "must be positive");
  c.global_attn_every_n_layers =
      f.opt_int("global_attn_every_n_layers", c.global_attn_every_n_layers, 1);
  parse_layer_types(f, c);
  c.local_attention = f.opt_int("local_attention", c.local_attention, 1);
  c.pad_token_id = f.opt_int("pad_token_id", c.pad_token_id, 0);
  return c;
}

}  // namespace

int ModelConfig::hidden_size() const {
  return arch == Architecture::ModernBert ? modernbert.hidden_size : bert.hidden_size;
}

int ModelConfig::vocab_size() const {
  return arch == Architecture::ModernBert ? modernbert.vocab_size : bert.vocab_size;
}

int ModelConfig::max_position_embeddings() const {
  return arch == Architecture::ModernBert ? modernbert.max_position_embeddings
                                          : bert.max_position_embeddings;
}

ModelConfig load_model_config(const fs::path& config_json) {
  json j = read_json(config_json);
  if (!j.is_object()) throw ModelFormatError(config_json.string() + ": not a JSON object");
  Fields f(j, config_json);
  ModelConfig cfg;
  const json* mt = f.find("model_type");
  if (!mt) f.fail("model_type", "is missing");
  if (!mt->is_string()) f.fail("model_type", "must be a string, got " + type_name(*mt));
  cfg.model_type = mt->get<std::string>();
  if (cfg.model_type == "bert") {
    cfg.arch = Architecture::ClassicBert;
    cfg.bert = parse_bert(f);
  } else if (cfg.model_type == "modernbert") {
    cfg.arch = Architecture::ModernBert;
    cfg.modernbert = parse_modernbert(f);
  } else {
    throw ModelFormatError("unsupported model_type \"" + cfg.model_type + "\" in " +
                           config_json.string() + "; supported: bert, modernbert");
  }
  return cfg;
}

namespace {

// Module class names as written by sentence-transformers < 5 ("sentence_transformers.models.X")
// and >= 5 ("sentence_transformers.<pkg>.modules.<file>.X"): the last component names the class.
std::string st_class_name(const std::string& type) {
  if (type.rfind("sentence_transformers.", 0) != 0) return {};
  return type.substr(type.rfind('.') + 1);
}

void parse_pooling(const fs::path& modules, const fs::path& file, SentenceTransformersConfig& out) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw ModelFormatError(modules.string() + " lists a Pooling module but " + file.string() +
                           " does not exist");
  json j = read_json(file);
  if (!j.is_object()) throw ModelFormatError(file.string() + ": not a JSON object");
  Fields f(j, file);
  std::vector<std::string> modes;
  if (const json* pm = f.find("pooling_mode")) {
    // sentence-transformers >= 5: "pooling_mode": "mean" or a list of modes to concatenate.
    if (pm->is_string()) {
      modes.push_back(pm->get<std::string>());
    } else if (pm->is_array()) {
      for (const json& m : *pm) {
        if (!m.is_string()) f.fail("pooling_mode", "entries must be strings");
        modes.push_back(m.get<std::string>());
      }
    } else {
      f.fail("pooling_mode", "must be a string or an array, got " + type_name(*pm));
    }
  } else {
    // Legacy boolean keys. None of them written means mean pooling (sentence-transformers' default
    // for pooling_mode_mean_tokens); written and all false selects nothing, which
    // sentence-transformers cannot run (an empty concatenation): an error, not a guess.
    static const std::pair<const char*, const char*> kLegacy[] = {
        {"pooling_mode_cls_token", "cls"},
        {"pooling_mode_max_tokens", "max"},
        {"pooling_mode_mean_tokens", "mean"},
        {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"},
        {"pooling_mode_weightedmean_tokens", "weightedmean"},
        {"pooling_mode_lasttoken", "lasttoken"},
    };
    bool written = false;
    for (auto [key, mode] : kLegacy) {
      written = written || f.find(key) != nullptr;
      if (f.opt_bool(key, false)) modes.push_back(mode);
    }
    if (modes.empty() && written)
      throw ModelFormatError(file.string() +
                             ": selects no pooling mode (every pooling_mode_* key is false)");
    if (modes.empty()) modes.push_back("mean");
  }
  if (modes.size() != 1) {
    std::string all;
    for (const auto& m : modes) all += (all.empty() ? "" : "+") + m;
    throw ModelFormatError(file.string() + ": unsupported pooling mode " + all +
                           " (concatenated poolings); supported: cls, mean");
  }
  if (modes[0] == "cls")
    out.pooling = Pooling::Cls;
  else if (modes[0] == "mean")
    out.pooling = Pooling::Mean;
  else
    throw ModelFormatError(file.string() + ": unsupported pooling mode \"" + modes[0] +
                           "\"; supported: cls, mean");
  out.include_prompt = f.opt_bool("include_prompt", true);
}

}  // namespace

SentenceTransformersConfig load_sentence_transformers_config(const fs::path& dir) {
  SentenceTransformersConfig out;
  std::error_code ec;

  const fs::path modules = dir / "modules.json";
  if (fs::exists(modules, ec)) {
    out.present = true;
    json j = read_json(modules);
    if (!j.is_array()) throw ModelFormatError(modules.string() + ": not a JSON array");
    // sentence-transformers runs the modules in the order listed, each on what the one before
    // it produced: Transformer (token embeddings), Pooling (the sentence embedding), then
    // optionally Normalize (of that embedding). Any other order or a missing Pooling is a
    // model it cannot encode with (Normalize before Pooling has no sentence embedding to
    // normalize); such a list was read as mean pooling, unnormalized or normalized.
    const auto order_error = [&](const std::string& what) {
      return ModelFormatError(modules.string() + ": " + what +
                              "; sentence-transformers needs Transformer, Pooling and optionally "
                              "Normalize, in that order");
    };
    enum class Stage { kStart, kTransformer, kPooling, kNormalize } stage = Stage::kStart;
    for (const json& m : j) {
      if (!m.is_object()) throw ModelFormatError(modules.string() + ": entry is not an object");
      Fields f(m, modules);
      const std::string type = f.opt_string("type", "");
      const std::string path = f.opt_string("path", "");
      const std::string cls = st_class_name(type);
      if (cls == "Transformer") {
        if (stage != Stage::kStart) throw order_error("Transformer is not the first module");
        stage = Stage::kTransformer;
      } else if (cls == "Normalize") {
        if (stage != Stage::kPooling) throw order_error("Normalize is not right after Pooling");
        out.normalize = true;
        stage = Stage::kNormalize;
      } else if (cls == "Pooling") {
        if (stage != Stage::kTransformer)
          throw order_error("Pooling is not right after the Transformer");
        const fs::path rel(path);
        bool escapes = rel.is_absolute();
        for (const auto& part : rel) escapes = escapes || part == "..";
        if (escapes)
          f.fail("path", "\"" + path + "\" must be a relative path inside the model directory");
        parse_pooling(modules, dir / path / "config.json", out);
        stage = Stage::kPooling;
      } else {
        // Dense, LayerNorm, custom code...: silently skipping them would change the vectors.
        throw ModelFormatError(modules.string() + ": unsupported sentence-transformers module \"" +
                               type + "\"; supported: Transformer, Pooling, Normalize");
      }
    }
    if (stage == Stage::kStart || stage == Stage::kTransformer)
      throw order_error("no Pooling module is listed");
  }

  const fs::path st_cfg = dir / "config_sentence_transformers.json";
  if (fs::exists(st_cfg, ec)) {
    json j = read_json(st_cfg);
    if (!j.is_object()) throw ModelFormatError(st_cfg.string() + ": not a JSON object");
    auto it = j.find("prompts");
    if (it != j.end() && !it->is_null()) {
      if (!it->is_object())
        throw ModelFormatError(st_cfg.string() + ": field \"prompts\" must be an object");
      Fields p(*it, st_cfg);
      out.query_prompt = p.opt_string("query", "");
      out.document_prompt = p.opt_string("document", p.opt_string("passage", ""));
    }
  }

  const fs::path sb_cfg = dir / "sentence_bert_config.json";
  if (fs::exists(sb_cfg, ec)) {
    json j = read_json(sb_cfg);
    if (!j.is_object()) throw ModelFormatError(sb_cfg.string() + ": not a JSON object");
    Fields f(j, sb_cfg);
    if (f.find("max_seq_length")) out.max_seq_length = f.opt_int("max_seq_length", 0, 1);
  }
  // sentence-transformers >= 5 no longer writes max_seq_length there; the Transformer module
  // takes it from the tokenizer's model_max_length instead. transformers writes 1e30 for
  // "no limit", which is not a limit worth recording.
  if (out.present && !out.max_seq_length) {
    const fs::path tok_cfg = dir / "tokenizer_config.json";
    if (fs::exists(tok_cfg, ec)) {
      json j = read_json(tok_cfg);
      if (j.is_object()) {
        auto it = j.find("model_max_length");
        if (it != j.end() && it->is_number_integer() && it->get<int64_t>() > 0 &&
            it->get<int64_t>() <= std::numeric_limits<int>::max())
          out.max_seq_length = static_cast<int>(it->get<int64_t>());
      }
    }
  }
  return out;
}

}  // namespace ripvec
