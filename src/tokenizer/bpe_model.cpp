#include "tokenizer/bpe_model.hpp"

#include <algorithm>
#include <cstdio>

#include "ripvec/error.hpp"
#include "tokenizer/bpe_pretokenizer.hpp"

namespace ripvec::bpe_detail {

// ---- MergeMap ----

void BpeModel::MergeMap::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  keys_.assign(cap, 0);
  values_.assign(cap, MergeValue{0, 0});
  used_.assign(cap, 0);
  mask_ = cap - 1;
  size_ = 0;
}

void BpeModel::MergeMap::insert(int32_t a, int32_t b, MergeValue v) {
  if ((size_ + 1) * 2 > keys_.size()) {
    // Grow and re-insert.
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<MergeValue> old_values = std::move(values_);
    std::vector<uint8_t> old_used = std::move(used_);
    reserve(std::max<size_t>(old_keys.size(), 8));
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_used[i]) {
        insert(static_cast<int32_t>(old_keys[i] >> 32), static_cast<int32_t>(old_keys[i]),
               old_values[i]);
      }
    }
  }
  const uint64_t k = key(a, b);
  size_t h = hash(k) & mask_;
  while (used_[h]) {
    if (keys_[h] == k) {
      values_[h] = v;
      return;
    }
    h = (h + 1) & mask_;
  }
  used_[h] = 1;
  keys_[h] = k;
  values_[h] = v;
  ++size_;
}

const BpeModel::MergeValue* BpeModel::MergeMap::find(int32_t a, int32_t b) const {
  if (keys_.empty()) return nullptr;
  const uint64_t k = key(a, b);
  size_t h = hash(k) & mask_;
  while (used_[h]) {
    if (keys_[h] == k) return &values_[h];
    h = (h + 1) & mask_;
  }
  return nullptr;
}

// ---- loading ----

namespace {

std::string optional_string(const nlohmann::json& model, const char* key,
                            const std::string& where) {
  if (!model.contains(key) || model[key].is_null()) return {};
  if (!model[key].is_string())
    throw ModelFormatError(where + "." + key + " must be a string or null");
  return model[key].get<std::string>();
}

bool optional_bool(const nlohmann::json& model, const char* key, const std::string& where) {
  if (!model.contains(key) || model[key].is_null()) return false;
  if (!model[key].is_boolean()) throw ModelFormatError(where + "." + key + " must be a boolean");
  return model[key].get<bool>();
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& model, std::string_view origin,
                   const tok::VocabEntries* scanned) {
  const std::string where = std::string(origin) + ": model";
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    throw ModelFormatError(where + ".vocab must be an object of token -> id");
  }
  const auto& vocab = model["vocab"];
  if (scanned) {
    vocab_.reserve(scanned->size());
    for (const auto& [tok, id] : *scanned) vocab_[tok] = id;
  } else {
    vocab_.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
          it.value().get<int64_t>() > INT32_MAX) {
        throw ModelFormatError(where + ".vocab[\"" + it.key() +
                               "\"] must be a non-negative integer id");
      }
      vocab_[it.key()] = static_cast<int32_t>(it.value().get<int64_t>());
    }
  }

  if (model.contains("dropout") && !model["dropout"].is_null()) {
    if (!model["dropout"].is_number()) throw ModelFormatError(where + ".dropout must be a number");
    if (model["dropout"].get<double>() != 0.0) {
      throw UnsupportedError(
          where + ".dropout is set: BPE dropout (random, training-only) is not supported");
    }
  }
  unk_token_ = optional_string(model, "unk_token", where);
  if (!unk_token_.empty()) {
    // Like HF, a missing unk token is an error only when a character actually needs it.
    if (auto it = vocab_.find(unk_token_); it != vocab_.end()) unk_id_ = it->second;
  }
  prefix_ = optional_string(model, "continuing_subword_prefix", where);
  suffix_ = optional_string(model, "end_of_word_suffix", where);
  fuse_unk_ = optional_bool(model, "fuse_unk", where);
  byte_fallback_ = optional_bool(model, "byte_fallback", where);
  ignore_merges_ = optional_bool(model, "ignore_merges", where);
  simple_ = prefix_.empty() && suffix_.empty();

  if (!model.contains("merges") || !model["merges"].is_array()) {
    throw ModelFormatError(where + ".merges must be an array");
  }
  const auto& merges = model["merges"];
  merges_.reserve(merges.size());
  std::string a, b;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& m = merges[rank];
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos) {
        throw ModelFormatError(where + ".merges[" + std::to_string(rank) + "] \"" + s +
                               "\" is not two tokens separated by a space");
      }
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      throw ModelFormatError(where + ".merges[" + std::to_string(rank) +
                             "] must be a \"a b\" string or an [\"a\", \"b\"] pair");
    }
    auto ia = vocab_.find(a);
    auto ib = vocab_.find(b);
    if (ia == vocab_.end() || ib == vocab_.end()) {
      throw ModelFormatError(where + ".merges[" + std::to_string(rank) + "] names token \"" +
                             (ia == vocab_.end() ? a : b) + "\" that is not in the vocabulary");
    }
    if (b.size() < prefix_.size()) {
      throw ModelFormatError(where + ".merges[" + std::to_string(rank) +
                             "] right token is shorter than continuing_subword_prefix");
    }
    const std::string merged = a + b.substr(prefix_.size());
    auto im = vocab_.find(merged);
    if (im == vocab_.end()) {
      throw ModelFormatError(where + ".merges[" + std::to_string(rank) + "] result \"" + merged +
                             "\" is not in the vocabulary");
    }
    merges_.insert(ia->second, ib->second, MergeValue{static_cast<uint32_t>(rank), im->second});
  }

  const auto& b2u = byte_to_unicode();
  for (int byte = 0; byte < 256; ++byte) {
    auto it = vocab_.find(b2u[byte]);
    byte_id_[byte] = it == vocab_.end() ? -1 : it->second;
  }
}

std::string BpeModel::unk_problem() const {
  if (unk_token_.empty() || unk_id_) return {};
  const auto& b2u = byte_to_unicode();
  int missing = 0, first = -1;
  for (int byte = 0; byte < 256; ++byte) {
    // The symbol as a word's first and only byte; with a prefix/suffix the other forms are
    // checked too.
    bool ok = vocab_.find(b2u[byte]) != vocab_.end();
    if (ok && !prefix_.empty()) ok = vocab_.find(prefix_ + b2u[byte]) != vocab_.end();
    if (ok && !suffix_.empty()) ok = vocab_.find(b2u[byte] + suffix_) != vocab_.end();
    if (!ok && byte_fallback_) {
      char code[8];
      std::snprintf(code, sizeof code, "<0x%02X>", byte);
      ok = vocab_.find(std::string_view(code)) != vocab_.end();
    }
    if (!ok) {
      ++missing;
      if (first < 0) first = byte;
    }
  }
  if (missing == 0) return {};
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", first);
  return "unk_token '" + unk_token_ + "' is not in the vocabulary, and " + std::to_string(missing) +
         " byte(s) (first " + hex + ") have no symbol, so a text holding them could not be encoded";
}

// ---- encoding ----

void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>* syms) const {
  const auto& b2u = byte_to_unicode();
  // Pending unknown: (present, id). Mirrors HF merge_word, including that byte-fallback pieces
  // do not flush a pending unk.
  bool unk_pending = false;
  std::string s;
  for (size_t i = 0; i < word.size(); ++i) {
    const auto byte = static_cast<unsigned char>(word[i]);
    int32_t id = -1;
    if (simple_) {
      id = byte_id_[byte];
      if (id < 0) s = b2u[byte];
    } else {
      s.clear();
      if (i != 0) s += prefix_;
      s += b2u[byte];
      if (i + 1 == word.size()) s += suffix_;
      auto it = vocab_.find(s);
      if (it != vocab_.end()) id = it->second;
    }
    if (id >= 0) {
      if (unk_pending) {
        syms->push_back(*unk_id_);
        unk_pending = false;
      }
      syms->push_back(id);
      continue;
    }
    if (byte_fallback_) {
      std::vector<int32_t> fb;
      bool all = true;
      for (unsigned char c : s) {
        char code[8];
        std::snprintf(code, sizeof code, "<0x%02X>", c);
        auto it = vocab_.find(std::string_view(code));
        if (it == vocab_.end()) {
          all = false;
          break;
        }
        fb.push_back(it->second);
      }
      if (all) {
        syms->insert(syms->end(), fb.begin(), fb.end());
        continue;
      }
    }
    if (!unk_token_.empty()) {
      if (!unk_id_) {
        throw InvalidArgument("text needs the unknown token \"" + unk_token_ +
                              "\", which is not in the BPE vocabulary");
      }
      if (unk_pending && !fuse_unk_) syms->push_back(*unk_id_);
      unk_pending = true;
    }
  }
  if (unk_pending) syms->push_back(*unk_id_);
}

namespace {

struct Sym {
  int32_t id;
  int32_t prev;
  int32_t next;
  bool alive;
};
struct QItem {
  uint32_t rank;
  int32_t pos;
  int32_t new_id;
};
// std heap functions keep the "largest" on top; make that the lowest (rank, pos).
struct QLater {
  bool operator()(const QItem& x, const QItem& y) const {
    return x.rank != y.rank ? x.rank > y.rank : x.pos > y.pos;
  }
};

}  // namespace

void BpeModel::merge(std::vector<int32_t>* ids) const {
  const size_t n = ids->size();
  if (n < 2) return;
  thread_local std::vector<Sym> syms;
  thread_local std::vector<QItem> heap;
  syms.resize(n);
  heap.clear();
  for (size_t i = 0; i < n; ++i) {
    syms[i] = Sym{(*ids)[i], static_cast<int32_t>(i) - 1,
                  i + 1 < n ? static_cast<int32_t>(i + 1) : -1, true};
  }
  for (size_t i = 0; i + 1 < n; ++i) {
    if (const MergeValue* m = merges_.find(syms[i].id, syms[i + 1].id)) {
      heap.push_back(QItem{m->rank, static_cast<int32_t>(i), m->new_id});
    }
  }
  std::make_heap(heap.begin(), heap.end(), QLater{});
  // The same algorithm as HF's Word::merge_all, so that results agree even in its corner cases
  // (an entry is considered current when its pair still merges into the same new id).
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), QLater{});
    const QItem top = heap.back();
    heap.pop_back();
    Sym& cur = syms[top.pos];
    if (!cur.alive || cur.next < 0) continue;
    const int32_t next_pos = cur.next;
    const Sym right = syms[next_pos];
    const MergeValue* m = merges_.find(cur.id, right.id);
    if (m == nullptr || m->new_id != top.new_id) continue;
    cur.id = top.new_id;
    cur.next = right.next;
    syms[next_pos].alive = false;
    if (right.next >= 0) syms[right.next].prev = top.pos;
    if (cur.prev >= 0) {
      if (const MergeValue* pm = merges_.find(syms[cur.prev].id, cur.id)) {
        heap.push_back(QItem{pm->rank, cur.prev, pm->new_id});
        std::push_heap(heap.begin(), heap.end(), QLater{});
      }
    }
    if (cur.next >= 0) {
      if (const MergeValue* nm = merges_.find(cur.id, syms[cur.next].id)) {
        heap.push_back(QItem{nm->rank, top.pos, nm->new_id});
        std::push_heap(heap.begin(), heap.end(), QLater{});
      }
    }
  }
  ids->clear();
  for (int32_t i = 0; i >= 0; i = syms[i].next) ids->push_back(syms[i].id);
}

void BpeModel::word_ids(std::string_view word, std::vector<int32_t>* ids) const {
  std::vector<int32_t> syms;
  syms.reserve(word.size());
  initial_symbols(word, &syms);
  merge(&syms);
  ids->insert(ids->end(), syms.begin(), syms.end());
}

void BpeModel::tokenize_bytes(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const auto& b2u = byte_to_unicode();
    std::string mapped;
    for (char c : word) mapped += b2u[static_cast<unsigned char>(c)];
    auto it = vocab_.find(mapped);
    if (it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  if (word.size() >= kMaxCachedWordBytes) {
    word_ids(word, ids);
    return;
  }
  Shard& shard = cache_[(tok::hash_bytes(word) >> 59) % kShards];
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    const int32_t slot = shard.index.find(word);
    if (slot != tok::StringIdMap::kAbsent) {
      const auto [offset, count] = shard.spans[static_cast<size_t>(slot)];
      ids->insert(ids->end(), shard.arena.begin() + offset, shard.arena.begin() + offset + count);
      return;
    }
  }
  const size_t before = ids->size();
  word_ids(word, ids);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.spans.size() < kShardCapacity && !shard.index.contains(word)) {
    shard.index.insert(word, static_cast<int32_t>(shard.spans.size()));
    shard.spans.emplace_back(static_cast<uint32_t>(shard.arena.size()),
                             static_cast<uint32_t>(ids->size() - before));
    shard.arena.insert(shard.arena.end(), ids->begin() + static_cast<std::ptrdiff_t>(before),
                       ids->end());
  }
}

}  // namespace ripvec::bpe_detail
