#include "index/bm25.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>

#include "util/thread_pool.hpp"

namespace ripvec::index {
namespace {

constexpr size_t kMaxTermBytes = 64;  // longer runs are blobs (hashes, base64), not words

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

void emit(std::string_view s, std::vector<std::string>* out) {
  if (s.empty() || s.size() > kMaxTermBytes) return;
  std::string t(s.size(), '\0');
  for (size_t i = 0; i < s.size(); ++i) t[i] = lower(static_cast<unsigned char>(s[i]));
  out->push_back(std::move(t));
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

void tokenize_run(std::string_view run, std::vector<std::string>* out) {
  emit(run, out);
  std::vector<std::string_view> parts;
  size_t s = 0;
  for (size_t i = 0; i <= run.size(); ++i) {
    if (i == run.size() || run[i] == '_' || run[i] == '-') {
      if (i > s) split_humps(run.substr(s, i - s), &parts);
      s = i + 1;
    }
  }
  if (parts.size() == 1 && parts[0].size() == run.size()) return;  // the whole already emitted
  for (auto p : parts) emit(p, out);
}

}  // namespace

void tokenize_code(std::string_view text, std::vector<std::string>* out) {
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
    if (i > start) tokenize_run(text.substr(start, i - start), out);
  }
}

std::vector<std::string> tokenize_code(std::string_view text) {
  std::vector<std::string> out;
  tokenize_code(text, &out);
  return out;
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

Bm25Postings build_bm25(std::span<const Bm25Doc> docs, const Bm25Params& p) {
  struct DocTerms {
    std::vector<std::string> terms;  // unique, sorted
    std::vector<std::array<uint32_t, kNumFields>> tf;
    uint32_t len[kNumFields] = {0, 0, 0};
  };
  const size_t n = docs.size();
  std::vector<DocTerms> per_doc(n);
  parallel_for(0, static_cast<int64_t>(n), 64, [&](int64_t lo, int64_t hi) {
    std::vector<std::string> toks;
    std::vector<std::pair<std::string, int>> tagged;
    for (int64_t d = lo; d < hi; ++d) {
      tagged.clear();
      const std::string_view fields[kNumFields] = {docs[d].symbol, docs[d].path, docs[d].body};
      DocTerms& dt = per_doc[d];
      for (int f = 0; f < kNumFields; ++f) {
        toks.clear();
        tokenize_code(fields[f], &toks);
        dt.len[f] = static_cast<uint32_t>(toks.size());
        for (auto& t : toks) tagged.emplace_back(std::move(t), f);
      }
      std::sort(tagged.begin(), tagged.end());
      for (size_t i = 0; i < tagged.size(); ++i) {
        if (dt.terms.empty() || dt.terms.back() != tagged[i].first) {
          dt.terms.push_back(tagged[i].first);
          dt.tf.push_back({0, 0, 0});
        }
        dt.tf.back()[tagged[i].second]++;
      }
    }
  });

  float avglen[kNumFields] = {0, 0, 0};
  for (auto& dt : per_doc)
    for (int f = 0; f < kNumFields; ++f) avglen[f] += static_cast<float>(dt.len[f]);
  for (float& a : avglen) a = n > 0 ? a / static_cast<float>(n) : 0;

  // Term ids in first-seen order, then counting sort of postings by term id.
  std::unordered_map<std::string_view, uint32_t> ids;
  std::vector<std::string_view> id_term;
  std::vector<uint64_t> count;
  for (auto& dt : per_doc) {
    for (auto& t : dt.terms) {
      auto [it, fresh] = ids.try_emplace(t, static_cast<uint32_t>(id_term.size()));
      if (fresh) {
        id_term.push_back(t);
        count.push_back(0);
      }
      count[it->second]++;
    }
  }
  std::vector<uint32_t> order(id_term.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return id_term[a] < id_term[b]; });
  std::vector<uint32_t> rank(order.size());
  Bm25Postings out;
  out.num_docs = n;
  out.terms.reserve(order.size());
  out.offsets.assign(order.size() + 1, 0);
  for (uint32_t r = 0; r < order.size(); ++r) {
    rank[order[r]] = r;
    out.terms.emplace_back(id_term[order[r]]);
    out.offsets[r + 1] = out.offsets[r] + count[order[r]];
  }
  out.postings.resize(out.offsets.back());
  std::vector<uint64_t> fill(out.offsets.begin(), out.offsets.end() - 1);
  for (size_t d = 0; d < n; ++d) {
    const DocTerms& dt = per_doc[d];
    for (size_t i = 0; i < dt.terms.size(); ++i) {
      const uint32_t r = rank[ids.find(dt.terms[i])->second];
      out.postings[fill[r]++] = {static_cast<uint32_t>(d),
                                 bm25_weighted_tf(dt.tf[i].data(), dt.len, avglen, p)};
    }
  }
  return out;
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
  std::sort(q.begin(), q.end());
  q.erase(std::unique(q.begin(), q.end()), q.end());
  for (const auto& term : q) {
    size_t lo = 0, hi = s_.num_terms;
    while (lo < hi) {  // lower_bound over the sorted dictionary
      size_t mid = lo + (hi - lo) / 2;
      if (s_.term_at(s_.ctx, mid) < term)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo == s_.num_terms || s_.term_at(s_.ctx, lo) != term) continue;
    auto posts = s_.postings_of(s_.ctx, lo);
    const float idf = bm25_idf(s_.num_docs, posts.size());
    for (const Posting& po : posts) {
      if (po.doc >= scores->size()) continue;  // defensive: never index past the caller's array
      float& s = (*scores)[po.doc];
      if (s == 0.0f) touched->push_back(po.doc);
      s += bm25_term_score(idf, po.tfw, p_);
    }
  }
}

}  // namespace ripvec::index
