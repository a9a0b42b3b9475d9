// libFuzzer target: tokenizer.json text (WordPiece or byte-level BPE). Accepts
// Tokenizer::from_json succeeding with a tokenizer that encodes sample texts consistently, or a
// ModelFormatError / UnsupportedError / InvalidArgument. The vocabulary scanner (split_vocab) is
// checked against the nlohmann DOM on every input.
#include <map>
#include <nlohmann/json.hpp>

#include "tokenizer/vocab_scan.hpp"
#include "tokenizer_check.hpp"

using namespace ripvec;

namespace {

// The vocabulary scanner (tokenizer/vocab_scan.hpp) either declines or agrees with the DOM it
// stands in for: the same key -> id map (and, where ids repeat, the same entries in order), and
// a rest that parses to the document without its vocabulary; a document the DOM rejects stays
// rejected through the rest.
void check_vocab_scan(std::string_view text) {
  using nlohmann::json;
  const auto split = tok::split_vocab(text);
  if (!split) return;
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    FUZZ_CHECK(json::parse(split->rest, nullptr, false).is_discarded());
    return;
  }
  FUZZ_CHECK(doc.is_object() && doc.contains("model") && doc["model"].is_object() &&
             doc["model"].contains("vocab") && doc["model"]["vocab"].is_object());
  std::map<std::string, int32_t> got, want;
  for (const auto& [k, v] : split->entries) got[k] = v;
  tok::VocabEntries dom;
  const json& vocab = doc["model"]["vocab"];
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    FUZZ_CHECK(it.value().is_number_unsigned());
    dom.emplace_back(it.key(), static_cast<int32_t>(it.value().get<int64_t>()));
    want[it.key()] = dom.back().second;
  }
  FUZZ_CHECK(got == want);
  std::map<int32_t, int> ids;
  bool repeat = false;
  for (const auto& e : split->entries) repeat |= ++ids[e.second] > 1;
  if (repeat) FUZZ_CHECK(split->entries == dom);
  doc["model"]["vocab"] = json::object();
  FUZZ_CHECK(json::parse(split->rest, nullptr, false) == doc);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_vocab_scan(fuzz::as_text(data, size));
  std::unique_ptr<Tokenizer> tok;
  try {
    tok = Tokenizer::from_json(fuzz::as_text(data, size), "fuzz.json");
  } catch (const ModelFormatError&) {
    return 0;
  } catch (const UnsupportedError&) {
    return 0;
  } catch (const InvalidArgument&) {
    return 0;
  }
  FUZZ_CHECK(tok != nullptr);
  (void)tok->pad_id();
  for (std::string_view text :
       {"", "Hello, world!", "  naïve café\tdéjà vu\n", "foo_bar(baz) -> 42;", "日本語 😀 [MASK]",
        "[CLS] [SEP] <|endoftext|> don't"})
    fuzz::check_encode(*tok, text, false);
  // vocab_size() is the id space: every id token_to_id returns is below it, and an id names one
  // token (id_to_token, then token_to_id, gives the id back). Ids below it may be holes, which
  // id_to_token refuses with InvalidArgument (HF returns None); the largest one never is.
  const size_t n = tok->vocab_size();
  FUZZ_CHECK(n <= static_cast<size_t>(INT32_MAX) + 1);
  const int64_t last = static_cast<int64_t>(n) - 1;
  for (int64_t id64 : {int64_t{0}, int64_t{1}, int64_t{100}, int64_t{2047}, last, last + 1}) {
    if (id64 < 0 || id64 > INT32_MAX) continue;
    const auto id = static_cast<int32_t>(id64);
    std::string t;
    try {
      t = tok->id_to_token(id);
    } catch (const InvalidArgument&) {
      FUZZ_CHECK(id64 != last);
      continue;
    }
    FUZZ_CHECK(static_cast<size_t>(id) < n);
    const auto back = tok->token_to_id(t);
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(*back == id);
  }
  FUZZ_CHECK(tok->max_token_id() >= last);
  return 0;
}
