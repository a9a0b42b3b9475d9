#include "tokenizer/wordpiece.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "ripvec/error.hpp"
#include "tokenizer/unicode.hpp"
#include "tokenizer/utf8.hpp"

namespace ripvec::tok {
namespace {

using nlohmann::json;

[[noreturn]] void bad(std::string_view origin, const std::string& msg) {
  throw ModelFormatError(std::string(origin) + ": " + msg);
}

inline bool is_cont_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Per-thread scratch buffers: encode() is const and may run on many threads at once.
struct Scratch {
  std::string normalized;
  std::vector<AddedTokenSplitter::Segment> segments;
  std::vector<int32_t> ids;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

std::unique_ptr<WordPieceTokenizer> WordPieceTokenizer::from_json(const nlohmann::json& root,
                                                                  std::string_view origin,
                                                                  const VocabEntries* scanned) {
  std::unique_ptr<WordPieceTokenizer> t(new WordPieceTokenizer());
  t->origin_ = std::string(origin);
  const json& model = root.at("model");
  auto vocab = model.find("vocab");
  if (vocab == model.end() || !vocab->is_object())
    bad(origin, "WordPiece model needs an object 'vocab'");
  t->unk_token_ = model.value("unk_token", std::string("[UNK]"));
  t->prefix_ = model.value("continuing_subword_prefix", std::string("##"));
  {
    auto m = model.find("max_input_chars_per_word");
    if (m != model.end() && !m->is_null()) {
      if (!m->is_number_unsigned()) bad(origin, "max_input_chars_per_word must be >= 0");
      t->max_input_chars_per_word_ = m->get<size_t>();
    }
  }

  auto add = [&](const std::string& tok, int32_t id) {
    if (utf8_invalid_offset(tok) != tok.size()) bad(origin, "vocab entry is not valid UTF-8");
    t->vocab_.insert(tok, id, /*overwrite=*/true);
    t->max_word_bytes_ = std::max(t->max_word_bytes_, tok.size());
    if (tok.size() >= t->prefix_.size() && tok.compare(0, t->prefix_.size(), t->prefix_) == 0) {
      t->continuation_.insert(std::string_view(tok).substr(t->prefix_.size()), id, true);
      t->max_cont_bytes_ = std::max(t->max_cont_bytes_, tok.size() - t->prefix_.size());
    }
  };
  if (scanned) {
    t->vocab_.reserve(scanned->size());
    for (const auto& [tok, id] : *scanned) add(tok, id);
  } else {
    t->vocab_.reserve(vocab->size());
    for (auto it = vocab->begin(); it != vocab->end(); ++it) {
      if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
          it.value().get<int64_t>() > INT32_MAX)
        bad(origin, "vocab entry '" + it.key() + "' has no valid id");
      add(it.key(), static_cast<int32_t>(it.value().get<int64_t>()));
    }
  }
  t->unk_id_ = t->vocab_.find(t->unk_token_);

  t->normalizer_ = make_normalizer(root.value("normalizer", json()), origin);

  const json pre = root.value("pre_tokenizer", json());
  if (pre.is_null()) {
    t->pretok_ = PreTok::kNone;
  } else {
    const std::string type = pre.is_object() ? pre.value("type", std::string()) : std::string();
    if (type == "BertPreTokenizer")
      t->pretok_ = PreTok::kBert;
    else if (type == "WhitespaceSplit")
      t->pretok_ = PreTok::kWhitespaceSplit;
    else
      throw UnsupportedError(std::string(origin) + ": pre_tokenizer type '" + type +
                             "' is not supported with a WordPiece model");
  }

  auto added = parse_added_tokens(root.value("added_tokens", json()), origin);
  assign_hf_added_token_ids(
      added, t->vocab_.size(), [&](std::string_view s) { return t->vocab_.find(s); }, origin);
  t->added_ = AddedTokenSplitter(std::move(added), t->normalizer_.get());
  // The splitter's tokens exclude empty contents, which HF ignores (no id, no vocabulary entry).
  std::vector<std::pair<int32_t, std::string_view>> entries;
  entries.reserve(t->vocab_.size() + t->added_.tokens().size());
  t->vocab_.for_each([&](std::string_view k, int32_t v) { entries.emplace_back(v, k); });
  t->model_tokens_ = IdTokenTable(entries);
  for (const auto& a : t->added_.tokens()) entries.emplace_back(a.id, a.content);
  t->id_to_token_ = IdTokenTable(std::move(entries));

  t->post_ = PostProcessor::from_json(root.value("post_processor", json()), origin);

  // Pad id: the file's padding config, else [PAD], else 0.
  t->pad_id_ = 0;
  const json padding = root.value("padding", json());
  if (padding.is_object() && padding.contains("pad_id") && padding["pad_id"].is_number_integer()) {
    t->pad_id_ = padding["pad_id"].get<int32_t>();
  } else if (auto p = t->token_to_id("[PAD]")) {
    t->pad_id_ = *p;
  }
  return t;
}

int32_t WordPieceTokenizer::max_token_id() const {
  int32_t m = id_to_token_.max_id();
  for (const auto& p : post_.prefix()) m = std::max(m, p.id);
  for (const auto& p : post_.suffix()) m = std::max(m, p.id);
  return m;
}

std::string WordPieceTokenizer::unk_problem() const {
  if (unk_id_ >= 0) return {};
  // Any word without a WordPiece split (an emoji, a rare script) becomes unk_token.
  return "unk_token '" + unk_token_ +
         "' is not in the vocabulary, so a word the vocabulary cannot split (an emoji, "
         "a rare character) could not be encoded";
}

std::optional<int32_t> WordPieceTokenizer::token_to_id(std::string_view token) const {
  if (auto a = added_.token_to_id(token)) return a;
  const int32_t id = vocab_.find(token);
  if (id == StringIdMap::kAbsent) return std::nullopt;
  return id;
}

std::string WordPieceTokenizer::id_to_token(int32_t id) const {
  const std::string* t = id_to_token_.find(id);
  if (t == nullptr) {
    throw InvalidArgument("token id " + std::to_string(id) + " is not in the vocabulary of " +
                          origin_);
  }
  return *t;
}

template <class Emit>
void WordPieceTokenizer::wordpiece(std::string_view word, Emit& emit) const {
  // HF counts characters, not bytes, against max_input_chars_per_word.
  if (utf8_count(word) > max_input_chars_per_word_) {
    if (unk_id_ < 0) bad(origin_, "unk_token '" + unk_token_ + "' is not in the vocabulary");
    emit(unk_id_);
    return;
  }
  // Greedy longest-match-first. Candidates longer than the longest vocabulary entry cannot
  // match, so the search starts there instead of at the end of the word (same result as HF).
  int32_t local[64];
  size_t n_local = 0;
  std::vector<int32_t> spill;
  size_t start = 0;
  while (start < word.size()) {
    const StringIdMap& map = start == 0 ? vocab_ : continuation_;
    const size_t max_bytes = start == 0 ? max_word_bytes_ : max_cont_bytes_;
    size_t end = word.size() - start > max_bytes ? start + max_bytes : word.size();
    while (end > start && end < word.size() && is_cont_byte(word[end])) --end;
    int32_t found = StringIdMap::kAbsent;
    while (end > start) {
      found = map.find(word.substr(start, end - start));
      if (found != StringIdMap::kAbsent) break;
      --end;
      while (end > start && is_cont_byte(word[end])) --end;
    }
    if (found == StringIdMap::kAbsent) {
      if (unk_id_ < 0) bad(origin_, "unk_token '" + unk_token_ + "' is not in the vocabulary");
      emit(unk_id_);
      return;
    }
    if (n_local < 64)
      local[n_local++] = found;
    else
      spill.push_back(found);
    start = end;
  }
  for (size_t i = 0; i < n_local; ++i) emit(local[i]);
  for (int32_t id : spill) emit(id);
}

template <class Emit>
void WordPieceTokenizer::run(std::string_view text, size_t limit, Emit&& emit) const {
  require_valid_utf8(text);
  if (limit == 0) return;
  Scratch& s = scratch();
  std::string& normalized = s.normalized;
  auto& segments = s.segments;
  if (added_.empty()) {
    normalized.clear();
    segments.clear();
    if (normalizer_)
      normalizer_->normalize(text, normalized);
    else
      normalized.assign(text);
    if (!normalized.empty()) segments.push_back({0, normalized.size(), -1});
  } else {
    added_.extract_and_normalize(text, normalized, segments);
  }
  // Ids past `limit` are dropped and the scan stops at the next word boundary.
  size_t produced = 0;
  // `added`: the id is an added token's (its string is the token's content), else the model's.
  auto sink = [&](int32_t id, bool added = false) {
    if (produced < limit) {
      emit(id, added);
      ++produced;
    }
  };
  {
    for (const auto& seg : segments) {
      if (produced >= limit) break;
      if (seg.id >= 0) {
        sink(seg.id, true);
        continue;
      }
      const std::string_view piece(normalized.data() + seg.begin, seg.end - seg.begin);
      if (pretok_ == PreTok::kNone) {
        wordpiece(piece, sink);
        continue;
      }
      // Whitespace separates words and is dropped; BertPreTokenizer also isolates each
      // punctuation character as its own word.
      const bool bert = pretok_ == PreTok::kBert;
      size_t word_start = 0;
      size_t i = 0;
      while (i < piece.size() && produced < limit) {
        const size_t cs = i;
        const auto b = static_cast<unsigned char>(piece[i]);
        char32_t c;
        if (b < 0x80) {
          c = b;
          ++i;
        } else {
          c = utf8_next(piece, i);
        }
        if (unicode::is_whitespace(c)) {
          if (cs > word_start) wordpiece(piece.substr(word_start, cs - word_start), sink);
          word_start = i;
        } else if (bert && unicode::is_bert_punctuation(c)) {
          if (cs > word_start) wordpiece(piece.substr(word_start, cs - word_start), sink);
          wordpiece(piece.substr(cs, i - cs), sink);
          word_start = i;
        }
      }
      if (piece.size() > word_start && produced < limit) wordpiece(piece.substr(word_start), sink);
    }
  }
}

Encoding WordPieceTokenizer::encode(std::string_view text, bool add_special,
                                    size_t max_length) const {
  const size_t budget = post_.content_budget(add_special, max_length);
  Encoding enc;
  enc.tokens.reserve(post_.num_special());
  // Token strings as HF gives them: the vocabulary's string for a model id, the content for an
  // added token (they differ only where a file gives an added token a vocabulary id).
  run(text, budget, [&](int32_t id, bool added) {
    enc.ids.push_back(id);
    enc.tokens.push_back(*(added ? id_to_token_ : model_tokens_).find(id));
  });
  post_.apply(enc, add_special);
  return enc;
}

size_t WordPieceTokenizer::count_tokens(std::string_view text, bool add_special) const {
  size_t n = 0;
  run(text, std::numeric_limits<size_t>::max(), [&](int32_t, bool) { ++n; });
  return n + (add_special ? post_.num_special() : 0);
}

}  // namespace ripvec::tok
