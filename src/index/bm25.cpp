#include "index/bm25.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "util/thread_pool.hpp"

namespace ripvec::index {
namespace {

inline bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}
inline bool is_upper(unsigned char c) {
  return c >= 'A' && c <= 'Z';
}
inline bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
// Lowercase ASCII letters and non-ASCII bytes form words that camelCase splitting never cuts.
inline bool is_lowerish(unsigned char c) {
  return (c >= 'a' && c <= 'z') || c >= 0x80;
}

inline char lower(unsigned char c) {
  return is_upper(c) ? static_cast<char>(c + 32) : c;
}

// Splits one '_'/'-'-free segment at case humps and letter/digit changes.
void split_humps(std::string_view seg, std::vector<std::string_view>* parts) {
  size_t start = 0;
  for (size_t i = 1; i < seg.size(); ++i) {
    auto p = static_cast<unsigned char>(seg[i - 1]), c = static_cast<unsigned char>(seg[i]);
    bool cut = false;
    if (is_digit(p) != is_digit(c)) {
      cut = true;
    } else if (is_lowerish(p) && is_upper(c)) {
      cut = true;  // fooBar
    } else if (is_upper(p) && is_upper(c) && i + 1 < seg.size() &&
               is_lowerish(static_cast<unsigned char>(seg[i + 1]))) {
      cut = true;  // HTTPServer: cut before the 'S' that starts "Server"
    }
    if (cut) {
      parts->push_back(seg.substr(start, i - start));
      start = i;
    }
  }
  if (start < seg.size()) parts->push_back(seg.substr(start));
}

// Calls f(term) for the whole run and then its parts; `term` is lowercased into a stack buffer
// and valid only during the call: no allocation per token in the index build's hot loop.
template <typename F>
void for_each_run_term(std::string_view run, F&& f) {
  char buf[kMaxTermBytes];
  auto emit = [&](std::string_view s) {
    if (s.empty() || s.size() > kMaxTermBytes) return;
    for (size_t i = 0; i < s.size(); ++i) buf[i] = lower(static_cast<unsigned char>(s[i]));
    f(std::string_view(buf, s.size()));
  };
  emit(run);
  thread_local std::vector<std::string_view> parts;
  parts.clear();
  size_t s = 0;
  for (size_t i = 0; i <= run.size(); ++i) {
    if (i == run.size() || run[i] == '_' || run[i] == '-') {
      if (i > s) split_humps(run.substr(s, i - s), &parts);
      s = i + 1;
    }
  }
  if (parts.size() == 1 && parts[0].size() == run.size()) return;  // the whole already emitted
  for (size_t i = 0; i < parts.size(); ++i) emit(parts[i]);
}

template <typename F>
void for_each_term(std::string_view text, F&& f) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    while (i < n && !is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < n) {
      auto c = static_cast<unsigned char>(text[i]);
      if (is_word_byte(c)) {
        ++i;
      } else if (c == '-' && i > start && i + 1 < n &&
                 is_word_byte(static_cast<unsigned char>(text[i + 1]))) {
        ++i;  // kebab-case joins; a lone or trailing '-' ends the run
      } else {
        break;
      }
    }
    if (i > start) for_each_run_term(text.substr(start, i - start), f);
  }
}

struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TermDict = std::unordered_map<std::string, uint32_t, TransparentHash, std::equal_to<>>;

}  // namespace

void tokenize_code(std::string_view text, std::vector<std::string>* out) {
  for_each_term(text, [&](std::string_view t) { out->emplace_back(t); });
}

std::vector<std::string> tokenize_code(std::string_view text) {
  std::vector<std::string> out;
  tokenize_code(text, &out);
  return out;
}

namespace {

bool is_vowel(char c) {
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}
bool has_vowel(std::string_view s) {
  return std::any_of(s.begin(), s.end(), is_vowel);
}
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A query term whose indexed forms may differ from it by stem_light: lowercase letters only.
bool is_stemmable(std::string_view w) {
  return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

}  // namespace

std::string stem_light(std::string_view word) {
  std::string w(word);
  if (w.size() <= 3 || !is_stemmable(w)) return w;
  if (ends_with(w, "ies") && w.size() > 4) {
    w.resize(w.size() - 2);  // entries -> entri
  } else if (ends_with(w, "sses") || ends_with(w, "ches") || ends_with(w, "shes") ||
             ends_with(w, "xes") || ends_with(w, "zes")) {
    w.resize(w.size() - 2);  // classes -> class, matches -> match
  } else if (w.back() == 's' && !ends_with(w, "ss") && !ends_with(w, "us") && !ends_with(w, "is")) {
    w.pop_back();  // handlers -> handler
  }
  auto strip = [&](std::string_view suffix) {
    if (!ends_with(w, suffix)) return false;
    const std::string_view rest = std::string_view(w).substr(0, w.size() - suffix.size());
    if (rest.size() < 3 || !has_vowel(rest)) return false;
    w.resize(rest.size());
    // stopped -> stopp -> stop; but call-ed, pass-ed, buzz-ed keep their double letter.
    const size_t n = w.size();
    if (w[n - 1] == w[n - 2] && !is_vowel(w[n - 1]) && w[n - 1] != 'l' && w[n - 1] != 's' &&
        w[n - 1] != 'z')
      w.pop_back();
    return true;
  };
  if (!strip("ing")) strip("ed");
  if (w.size() > 3 && w.back() == 'e') w.pop_back();    // handle -> handl (= handl-ed, handl-ing)
  if (w.size() > 3 && w.back() == 'y') w.back() = 'i';  // retry -> retri (= retri-es)
  return w;
}

bool is_stop_word(std::string_view t) {
  static constexpr std::string_view kStop[] = {
      "a",     "an",  "the",  "of",   "to",    "in",     "on",    "for",  "and",   "or",
      "is",    "are", "be",   "by",   "with",  "as",     "at",    "from", "that",  "this",
      "it",    "its", "into", "when", "which", "what",   "where", "how",  "do",    "does",
      "if",    "not", "no",   "all",  "any",   "each",   "than",  "then", "there", "these",
      "those", "was", "were", "will", "can",   "should", "would", "may"};
  return std::find(std::begin(kStop), std::end(kStop), t) != std::end(kStop);
}

float bm25_idf(size_t num_docs, size_t df) {
  const double n = static_cast<double>(num_docs), d = static_cast<double>(df);
  return static_cast<float>(std::log(1.0 + (n - d + 0.5) / (d + 0.5)));
}

float bm25_weighted_tf(const uint32_t tf[kNumFields], const uint32_t len[kNumFields],
                       const float avglen[kNumFields], const Bm25Params& p) {
  const float w[kNumFields] = {p.w_symbol, p.w_path, p.w_body};
  float s = 0;
  for (int f = 0; f < kNumFields; ++f) {
    if (tf[f] == 0) continue;
    const float norm =
        avglen[f] > 0 ? 1.0f - p.b + p.b * static_cast<float>(len[f]) / avglen[f] : 1.0f;
    s += w[f] * static_cast<float>(tf[f]) / norm;
  }
  return s;
}

Bm25Block bm25_block(std::span<const Bm25Doc> docs) {
  Bm25Block bl;
  TermDict dict;
  auto id_of = [&](std::string_view t) {
    auto it = dict.find(t);
    if (it != dict.end()) return it->second;
    const auto id = static_cast<uint32_t>(bl.terms.size());
    bl.terms.emplace_back(t);
    dict.emplace(std::string(t), id);
    return id;
  };
  std::vector<uint64_t> keyed;       // local id << 2 | field
  std::vector<uint64_t> path_keyed;  // the path field's keys of the previous document
  std::string_view last_path;
  bool have_path = false;
  for (size_t d = 0; d < docs.size(); ++d) {
    keyed.clear();
    std::array<uint32_t, kNumFields> len{0, 0, 0};
    auto field = [&](int f, std::string_view text, std::vector<uint64_t>* out) {
      for_each_term(text, [&](std::string_view t) {
        out->push_back(uint64_t(id_of(t)) << 2 | uint64_t(f));
        len[f]++;
      });
    };
    field(kFieldSymbol, docs[d].symbol, &keyed);
    if (!have_path || docs[d].path != last_path) {
      path_keyed.clear();
      const uint32_t before = len[kFieldPath];
      field(kFieldPath, docs[d].path, &path_keyed);
      len[kFieldPath] = before;
      last_path = docs[d].path;
      have_path = true;
    }
    keyed.insert(keyed.end(), path_keyed.begin(), path_keyed.end());
    len[kFieldPath] = static_cast<uint32_t>(path_keyed.size());
    field(kFieldBody, docs[d].body, &keyed);
    std::sort(keyed.begin(), keyed.end());
    for (size_t i = 0; i < keyed.size(); ++i) {
      const auto id = static_cast<uint32_t>(keyed[i] >> 2);
      if (i == 0 || (keyed[i - 1] >> 2) != id) {
        bl.entry_term.push_back(id);
        bl.entry_tf.push_back({0, 0, 0});
      }
      bl.entry_tf.back()[keyed[i] & 3]++;
    }
    bl.doc_end.push_back(static_cast<uint32_t>(bl.entry_term.size()));
    bl.doc_len.push_back(len);
  }
  return bl;
}

namespace {
std::atomic<uint64_t> g_dictionary_ids{0};
}  // namespace

Bm25Dictionary::Bm25Dictionary() : id_(++g_dictionary_ids) {
  slots_.resize(4096);
}

namespace {
// 8 bytes at a time, each word mixed in by a multiply (terms are short: one to three words).
uint64_t term_hash(std::string_view t) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ t.size();
  for (size_t i = 0; i < t.size(); i += 8) {
    uint64_t w = 0;
    std::memcpy(&w, t.data() + i, std::min<size_t>(8, t.size() - i));
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 29);
}
}  // namespace

void Bm25Dictionary::grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.id == UINT32_MAX) continue;
    size_t i = term_hash(term(s.id)) & mask;
    while (slots_[i].id != UINT32_MAX) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

std::vector<uint32_t> Bm25Dictionary::add(const Bm25Block& b) {
  std::vector<uint32_t> ids(b.terms.size());
  for (size_t k = 0; k < b.terms.size(); ++k) {
    const std::string_view t = b.terms[k];
    if (2 * (off_.size() + 1) > slots_.size()) grow();
    const uint64_t h = term_hash(t);
    const auto tag = static_cast<uint32_t>(h >> 32);
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.id == UINT32_MAX) {
        s = {tag, static_cast<uint32_t>(off_.size())};
        off_.push_back(bytes_.size());
        bytes_.append(t);
        ids[k] = s.id;
        break;
      }
      if (s.tag == tag && term(s.id) == t) {
        ids[k] = s.id;
        break;
      }
    }
  }
  const size_t unsorted = off_.size() - sorted_.size();
  if (unsorted >= std::max<size_t>(4096, sorted_.size() / 4)) presort();
  return ids;
}

void Bm25Dictionary::presort() {
  const size_t first = sorted_.size();
  if (first == off_.size()) return;
  // The new ids by term: by the first 8 bytes as one big-endian integer (terms hold no NUL,
  // so zero padding keeps the order), the whole term only among those with the same 8 bytes:
  // a sort of integers in cache, not of strings scattered over the heap. Then one merge.
  std::vector<std::pair<uint64_t, uint32_t>> keyed(off_.size() - first);
  for (size_t i = 0; i < keyed.size(); ++i) {
    const auto id = static_cast<uint32_t>(first + i);
    const std::string_view t = term(id);
    uint64_t k = 0;
    for (size_t j = 0; j < 8; ++j)
      k = k << 8 | (j < t.size() ? static_cast<unsigned char>(t[j]) : 0u);
    keyed[i] = {k, id};
  }
  std::sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return term(a.second) < term(b.second);
  });
  for (const auto& k : keyed) sorted_.push_back(k.second);
  std::inplace_merge(sorted_.begin(), sorted_.begin() + static_cast<std::ptrdiff_t>(first),
                     sorted_.end(), [&](uint32_t a, uint32_t b) { return term(a) < term(b); });
}

const std::vector<uint32_t>& Bm25Dictionary::sorted() {
  presort();
  return sorted_;
}

Bm25Build::Bm25Build(std::span<const Bm25BlockRef> blocks, Bm25Dictionary& dict,
                     const Bm25Params& p)
    : blocks_(blocks), dict_(dict), p_(p) {
  // Blocks not merged yet join the dictionary now (serially: it is one map).
  ids_.resize(blocks.size());
  auto& ids = ids_;
  auto& merged_now = merged_now_;
  size_t late = 0;
  for (const auto& r : blocks) late += r.ids == nullptr;
  merged_now.reserve(late);
  size_t& n = n_;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const Bm25Block& bl = *blocks[b].block;
    if (blocks[b].ids == nullptr) {
      if (bl.terms.empty() && !bl.entry_term.empty())
        throw std::logic_error("build_bm25: a block without its terms and without term ids");
      merged_now.push_back(dict.add(bl));
      ids[b] = &merged_now.back();
    } else {
      ids[b] = blocks[b].ids;
    }
    if (ids[b]->size() != bl.terms.size() && !bl.terms.empty())
      throw std::logic_error("build_bm25: term ids do not match the block");
    n += bl.num_docs();
  }

  float* avglen = avglen_;
  for (const auto& r : blocks)
    for (auto& l : r.block->doc_len)
      for (int f = 0; f < kNumFields; ++f) avglen[f] += static_cast<float>(l[f]);
  for (float& a : avglen_) a = n > 0 ? a / static_cast<float>(n) : 0;

  // The blocks in `parts` runs of about equal entry counts, counted and filled in parallel (a
  // counting sort: each run's postings of a term follow the previous runs', so documents stay
  // in increasing order within each term).
  size_t total_entries = 0;
  for (const auto& r : blocks) total_entries += r.block->entry_term.size();
  const size_t parts = std::clamp<size_t>(total_entries / 65536, 1, ThreadPool::global().size());
  auto& run_begin = run_begin_;  // block index where each run starts
  auto& run_doc = run_doc_;      // its first document
  run_begin = {0};
  run_doc = {0};
  {
    size_t acc = 0;
    uint32_t doc = 0;
    for (size_t b = 0; b < blocks.size(); ++b) {
      acc += blocks[b].block->entry_term.size();
      doc += static_cast<uint32_t>(blocks[b].block->num_docs());
      if (acc * parts >= total_entries * run_begin.size() && run_begin.size() < parts &&
          b + 1 < blocks.size()) {
        run_begin.push_back(b + 1);
        run_doc.push_back(doc);
      }
    }
    run_begin.push_back(blocks.size());
  }
  const size_t runs = run_begin.size() - 1;
  // Document frequency of each dictionary term per run; terms of the dictionary that no block
  // holds (merged for a file that is not in this build) get no entry.
  auto& run_count = run_count_;
  run_count.assign(runs, std::vector<uint64_t>(dict.size(), 0));
  parallel_for(0, static_cast<int64_t>(runs), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      for (size_t b = run_begin[r]; b < run_begin[r + 1]; ++b)
        for (uint32_t t : blocks[b].block->entry_term) run_count[r][(*ids[b])[t]]++;
  });
  auto& count = count_;
  count.assign(dict.size(), 0);
  for (const auto& rc : run_count)
    for (size_t i = 0; i < rc.size(); ++i) count[i] += rc[i];
  auto& order = order_;
  order.reserve(dict.size());
  for (uint32_t i = 0; i < dict.size(); ++i) {
    if (count[i] == 0) continue;
    order.push_back(i);
    term_bytes_ += dict.term(i).size();
    num_postings_ += count[i];
  }
}

Bm25Postings Bm25Build::finish() {
  auto& order = order_;
  auto& count = count_;
  auto& run_count = run_count_;
  auto& dict = dict_;
  const auto& run_begin = run_begin_;
  const auto& run_doc = run_doc_;
  const auto& ids = ids_;
  const auto blocks = blocks_;
  const float* avglen = avglen_;
  const Bm25Params& p = p_;
  const size_t runs = run_begin.size() - 1;
  const size_t n = n_;
  // The present terms in term order: the dictionary's order (mostly sorted while it grew).
  order.clear();
  for (uint32_t id : dict.sorted())
    if (count[id] > 0) order.push_back(id);
  Bm25Postings out;
  out.num_docs = n;
  out.terms.reserve(order.size());
  out.offsets.assign(order.size() + 1, 0);
  for (uint32_t r = 0; r < order.size(); ++r) {
    out.terms.emplace_back(dict.term(order[r]));
    out.offsets[r + 1] = out.offsets[r] + count[order[r]];
  }
  // Each run's first slot per term (reusing its counts, indexed by dictionary id).
  for (uint32_t r = 0; r < order.size(); ++r) {
    uint64_t at = out.offsets[r];
    for (auto& rc : run_count) {
      const uint64_t c = rc[order[r]];
      rc[order[r]] = at;
      at += c;
    }
  }
  out.postings.resize(out.offsets.back());
  parallel_for(0, static_cast<int64_t>(runs), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      std::vector<uint64_t>& fill = run_count[r];
      uint32_t doc = run_doc[r];
      for (size_t b = run_begin[r]; b < run_begin[r + 1]; ++b) {
        const Bm25Block& bl = *blocks[b].block;
        const std::vector<uint32_t>& g = *ids[b];
        uint64_t e = 0;
        for (size_t d = 0; d < bl.num_docs(); ++d, ++doc) {
          const auto& len = bl.doc_len[d];
          for (; e < bl.doc_end[d]; ++e)
            out.postings[fill[g[bl.entry_term[e]]]++] = {
                doc, bm25_weighted_tf(bl.entry_tf[e].data(), len.data(), avglen, p)};
        }
      }
    }
  });
  return out;
}

Bm25Postings build_bm25(std::span<const Bm25BlockRef> blocks, Bm25Dictionary& dict,
                        const Bm25Params& p) {
  return Bm25Build(blocks, dict, p).finish();
}

Bm25Postings build_bm25(std::span<const Bm25Doc> docs, const Bm25Params& p) {
  // Two blocks per thread: enough to balance the tokenizing, and few, since their dictionaries
  // are merged serially (with 8 per thread that merge dominated the snapshot write on 16
  // cores: docs/benchmarks.md, "Ingest (issue 9)").
  const size_t n = docs.size();
  const size_t per_block = std::max<size_t>(256, n / (ThreadPool::global().size() * 2) + 1);
  const size_t nblocks = (n + per_block - 1) / per_block;
  std::vector<Bm25Block> blocks(nblocks);
  parallel_for(0, static_cast<int64_t>(nblocks), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      const size_t first = static_cast<size_t>(b) * per_block;
      blocks[b] = bm25_block(docs.subspan(first, std::min(n, first + per_block) - first));
    }
  });
  std::vector<Bm25BlockRef> refs;
  refs.reserve(nblocks);
  for (const auto& bl : blocks) refs.push_back({&bl, nullptr});
  Bm25Dictionary dict;
  return build_bm25(refs, dict, p);
}

Bm25View Bm25View::of(const Bm25Postings& bp, Bm25Params p) {
  Source s;
  s.num_terms = bp.terms.size();
  s.num_docs = bp.num_docs;
  s.ctx = &bp;
  s.term_at = [](const void* c, size_t i) -> std::string_view {
    return static_cast<const Bm25Postings*>(c)->terms[i];
  };
  s.postings_of = [](const void* c, size_t i) -> std::span<const Posting> {
    auto* b = static_cast<const Bm25Postings*>(c);
    return {b->postings.data() + b->offsets[i], b->offsets[i + 1] - b->offsets[i]};
  };
  return Bm25View(s, p);
}

void Bm25View::score(std::string_view query, std::vector<float>* scores,
                     std::vector<uint32_t>* touched) const {
  std::vector<std::string> q = tokenize_code(query);
  if (p_.drop_stop_words &&
      std::any_of(q.begin(), q.end(), [](const std::string& t) { return !is_stop_word(t); }))
    std::erase_if(q, [](const std::string& t) { return is_stop_word(t); });
  // One key per distinct term, or per distinct stem when stemming.
  if (p_.stem)
    for (auto& t : q) t = stem_light(t);
  std::sort(q.begin(), q.end());
  q.erase(std::unique(q.begin(), q.end()), q.end());

  auto lower_bound = [&](std::string_view t) {
    size_t lo = 0, hi = s_.num_terms;
    while (lo < hi) {  // over the sorted dictionary
      size_t mid = lo + (hi - lo) / 2;
      if (s_.term_at(s_.ctx, mid) < t)
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  };
  auto add = [&](uint32_t doc, float v) {
    if (doc >= scores->size()) return;  // defensive: never index past the caller's array
    float& s = (*scores)[doc];
    if (s == 0.0f) touched->push_back(doc);
    s += v;
  };
  std::vector<std::span<const Posting>> forms;
  std::vector<Posting> merged;
  for (const auto& key : q) {
    forms.clear();
    if (p_.stem && is_stemmable(key)) {
      // Every indexed form t with stem_light(t) == key starts with key, or with key minus its
      // last letter when that is the 'i' of a 'y' ("retri" <- "retry"; only in keys of 4+
      // letters): scan that prefix.
      const std::string_view prefix = key.size() >= 4 && key.back() == 'i'
                                          ? std::string_view(key).substr(0, key.size() - 1)
                                          : std::string_view(key);
      for (size_t i = lower_bound(prefix); i < s_.num_terms; ++i) {
        const std::string_view t = s_.term_at(s_.ctx, i);
        if (t.substr(0, prefix.size()) != prefix) break;
        if (stem_light(t) == key) forms.push_back(s_.postings_of(s_.ctx, i));
      }
    } else {
      const size_t i = lower_bound(key);
      if (i < s_.num_terms && s_.term_at(s_.ctx, i) == key)
        forms.push_back(s_.postings_of(s_.ctx, i));
    }
    if (forms.empty()) continue;
    if (forms.size() == 1) {
      const float idf = bm25_idf(s_.num_docs, forms[0].size());
      for (const Posting& po : forms[0]) add(po.doc, bm25_term_score(idf, po.tfw, p_));
      continue;
    }
    // Several forms: one pseudo term frequency per document (their sum), one idf over the union.
    merged.clear();
    for (auto f : forms) merged.insert(merged.end(), f.begin(), f.end());
    std::sort(merged.begin(), merged.end(),
              [](const Posting& a, const Posting& b) { return a.doc < b.doc; });
    size_t out = 0;
    for (size_t i = 0; i < merged.size(); ++i) {
      if (out > 0 && merged[out - 1].doc == merged[i].doc)
        merged[out - 1].tfw += merged[i].tfw;
      else
        merged[out++] = merged[i];
    }
    merged.resize(out);
    const float idf = bm25_idf(s_.num_docs, merged.size());
    for (const Posting& po : merged) add(po.doc, bm25_term_score(idf, po.tfw, p_));
  }
}

}  // namespace ripvec::index
