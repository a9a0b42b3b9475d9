#include "index/rank.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "index/store.hpp"
#include "index/vector_search.hpp"
#include "ripvec/error.hpp"

namespace ripvec::index {

// ---------------- fusion ----------------

MinMax MinMax::of(std::span<const float> list_scores) {
  MinMax m;
  if (list_scores.empty()) return m;
  m.empty = false;
  m.lo = m.hi = list_scores[0];
  for (float v : list_scores) {
    m.lo = std::min(m.lo, v);
    m.hi = std::max(m.hi, v);
  }
  return m;
}

namespace {

bool is_ident_start(unsigned char c) {
  return std::isalpha(c) || c == '_' || c == '$';
}
bool is_ident_char(unsigned char c) {
  return std::isalnum(c) || c == '_' || c == '$';
}

}  // namespace

bool looks_like_identifier(std::string_view q) {
  auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)) || c == '`'; };
  while (!q.empty() && blank(q.front())) q.remove_prefix(1);
  while (!q.empty() && blank(q.back())) q.remove_suffix(1);
  if (q.empty()) return false;
  for (char c : q)
    if (std::isspace(static_cast<unsigned char>(c))) return false;
  if (q.find('/') != std::string_view::npos || q.find('\\') != std::string_view::npos)
    return true;  // a path
  bool compound = false;
  if (q.size() > 2 && q.substr(q.size() - 2) == "()") {
    q.remove_suffix(2);
    compound = true;
  }
  // Segments of identifier characters joined by '::', '.', '->' or '#'.
  size_t i = 0;
  while (true) {
    if (i >= q.size() || !is_ident_start(static_cast<unsigned char>(q[i]))) return false;
    const size_t start = i;
    while (i < q.size() && is_ident_char(static_cast<unsigned char>(q[i]))) ++i;
    const std::string_view seg = q.substr(start, i - start);
    for (size_t k = 1; k < seg.size(); ++k) {
      const auto p = static_cast<unsigned char>(seg[k - 1]), c = static_cast<unsigned char>(seg[k]);
      if ((std::islower(p) && std::isupper(c)) || (std::isalpha(p) && std::isdigit(c)) ||
          (std::isdigit(p) && std::isalpha(c)))
        compound = true;  // camelCase, utf8, sha256sum
    }
    const size_t a = seg.find_first_not_of('_'), b = seg.find_last_not_of('_');
    if (a != std::string_view::npos && seg.substr(a, b - a + 1).find('_') != std::string_view::npos)
      compound = true;  // snake_case (a leading or trailing '_' alone is not)
    if (i == q.size()) break;
    size_t sep = 0;
    if (q.compare(i, 2, "::") == 0 || q.compare(i, 2, "->") == 0)
      sep = 2;
    else if (q[i] == '.' || q[i] == '#')
      sep = 1;
    else
      return false;
    i += sep;
    compound = true;  // qualified: Client.get, std::move
  }
  return compound;
}

float semantic_weight(std::string_view query) {
  return looks_like_identifier(query) ? kIdentifierSemanticWeight : kSemanticWeight;
}

bool is_prose_language(std::string_view language) {
  return language == "text" || language == "markdown" || language == "rst" ||
         language == "restructuredtext" || language == "asciidoc" || language == "org";
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

bool is_test_path(std::string_view path) {
  static constexpr std::string_view kDirs[] = {"test", "tests", "testing", "__tests__", "spec"};
  std::string_view name = path;
  for (size_t slash; (slash = name.find('/')) != std::string_view::npos;) {
    const std::string_view dir = name.substr(0, slash);
    for (auto d : kDirs)
      if (dir == d) return true;
    name.remove_prefix(slash + 1);
  }
  if (name.starts_with("test_") || name == "conftest.py") return true;
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  const std::string_view stem = name.substr(0, dot), ext = name.substr(dot + 1);
  if (ends_with(stem, "_test")) return true;  // gin_test.go, parser_test.c
  if (ext == "js" || ext == "jsx" || ext == "ts" || ext == "tsx" || ext == "mjs" || ext == "cjs")
    return ends_with(stem, ".test") || ends_with(stem, ".spec");
  return false;
}

bool mentions_tests(std::string_view query) {
  static constexpr std::string_view kWords[] = {"test", "tests", "testing", "spec", "specs"};
  size_t i = 0;
  while (i < query.size()) {
    while (i < query.size() && !std::isalnum(static_cast<unsigned char>(query[i]))) ++i;
    const size_t b = i;
    while (i < query.size() && std::isalnum(static_cast<unsigned char>(query[i]))) ++i;
    const std::string_view w = query.substr(b, i - b);
    for (auto k : kWords)
      if (iequals(w, k)) return true;
  }
  return false;
}

// ---------------- content check ----------------

namespace {

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool starts_with_word(std::string_view line, std::string_view word) {
  // Not '(' : "open(path)" or "use(x)" at the start of a line is code, not an import.
  return line.size() > word.size() && line.compare(0, word.size(), word) == 0 &&
         (line[word.size()] == ' ' || line[word.size()] == '\t' || line[word.size()] == '"' ||
          line[word.size()] == '<');
}

// Lines that only pull names in or open a scope: imports, includes, package/namespace lines.
bool is_preamble_line(std::string_view l) {
  static constexpr std::string_view kWords[] = {
      "import",    "from",   "#include", "#import", "use",     "using", "package",
      "namespace", "module", "extern",   "require", "library", "open",  "#pragma"};
  for (auto w : kWords)
    if (starts_with_word(l, w)) return true;
  if (l.rfind("#include", 0) == 0 || l.rfind("#pragma once", 0) == 0) return true;
  // "const x = require('y');"
  if (l.find("require(") != std::string_view::npos && l.find('=') != std::string_view::npos)
    return true;
  return false;
}

bool is_punctuation_only(std::string_view l) {
  for (char c : l)
    if (std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80)
      return false;
  return true;
}

bool is_definition_kind(std::string_view kind) {
  static constexpr std::string_view kKinds[] = {
      "function",  "method", "constructor", "class",  "struct", "enum",      "union",
      "interface", "type",   "trait",       "record", "macro",  "annotation"};
  for (auto k : kKinds)
    if (kind == k) return true;
  return false;
}

}  // namespace

bool is_contentless(std::string_view kind, std::string_view content) {
  const int need = is_definition_kind(kind) ? 1 : 2;
  int substantive = 0;
  size_t pos = 0;
  while (pos <= content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) nl = content.size();
    const std::string_view l = trim(content.substr(pos, nl - pos));
    if (!l.empty() && !is_punctuation_only(l) && !is_preamble_line(l)) {
      // A long line is content on its own: a one-line note, a .env setting, a window of a
      // minified bundle were ranked after every other chunk, so the one exact answer was left
      // out of the results (hostile probe 2026-12-07).
      if (++substantive >= need || l.size() >= kContentLineBytes) return false;
    }
    pos = nl + 1;
  }
  return true;
}

// ---------------- merging ----------------

namespace {

std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string_view::npos) {
      out.push_back(s.substr(pos));
      break;
    }
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

// a absorbs b (a is the better hit: it keeps its score, symbol, kind and ranks).
void absorb(Hit& a, const Hit& b) {
  const int start = std::min(a.start_line, b.start_line);
  const int end = std::max(a.end_line, b.end_line);
  // Line i of the union comes from whichever hit holds it (contents are exact source lines;
  // a capped content may hold fewer lines than its range, then the other hit fills in).
  const auto la = split_lines(a.content), lb = split_lines(b.content);
  std::string merged;
  for (int line = start; line <= end; ++line) {
    const std::string_view* src = nullptr;
    if (line >= a.start_line && static_cast<size_t>(line - a.start_line) < la.size())
      src = &la[line - a.start_line];
    else if (line >= b.start_line && static_cast<size_t>(line - b.start_line) < lb.size())
      src = &lb[line - b.start_line];
    if (src == nullptr) continue;
    if (line != start) merged += '\n';
    merged.append(*src);
  }
  a.content = std::move(merged);
  a.start_line = start;
  a.end_line = end;
  a.score = std::max(a.score, b.score);
  a.semantic_score = std::max(a.semantic_score, b.semantic_score);
  a.keyword_score = std::max(a.keyword_score, b.keyword_score);
  auto better_rank = [](int x, int y) { return x < 0 ? y : (y < 0 ? x : std::min(x, y)); };
  a.semantic_rank = better_rank(a.semantic_rank, b.semantic_rank);
  a.keyword_rank = better_rank(a.keyword_rank, b.keyword_rank);
}

// The most lines a merged hit spans. Overlapping windows of one long text without definitions
// (prose, a log, a generated table) chained into hits of 900 lines and 45 KB, and left a search
// with fewer hits than asked (API probe 2026-12-08).
constexpr int kMaxMergedLines = 200;

bool overlaps(const Hit& a, const Hit& b) {
  return a.path == b.path && a.start_line <= b.end_line && b.start_line <= a.end_line;
}

bool mergeable(const Hit& a, const Hit& b) {
  if (a.path != b.path) return false;
  if (std::max(a.end_line, b.end_line) - std::min(a.start_line, b.start_line) >= kMaxMergedLines)
    return false;
  if (overlaps(a, b)) return true;
  const bool touch = a.end_line + 1 == b.start_line || b.end_line + 1 == a.start_line;
  return touch && a.symbol == b.symbol;
}

// b (the worse hit) keeps only its lines outside a's, the longer side when a lies inside it;
// false when none are left (nor any of its content: a capped content holds fewer lines than
// its range).
bool trim_outside(const Hit& a, Hit& b) {
  const int before = a.start_line - b.start_line, after = b.end_line - a.end_line;
  if (before <= 0 && after <= 0) return false;
  const int start = before >= after ? b.start_line : a.end_line + 1;
  const int end = before >= after ? a.start_line - 1 : b.end_line;
  const auto lines = split_lines(b.content);
  std::string kept;
  for (int line = start; line <= end; ++line) {
    const size_t k = static_cast<size_t>(line - b.start_line);
    if (k >= lines.size()) break;  // a capped content holds fewer lines than its range
    if (line != start) kept += '\n';
    kept.append(lines[k]);
  }
  if (kept.empty() && static_cast<size_t>(start - b.start_line) >= lines.size()) return false;
  b.content = std::move(kept);
  b.start_line = start;
  b.end_line = end;
  return true;
}

// Settles hits[first] against the others: merges it with every mergeable hit, repeatedly (a
// union can reach further hits); a hit that overlaps one it cannot merge with (the union would
// pass kMaxMergedLines) keeps only its own lines, or goes. Every hit that changes is settled in
// turn (a grown hit can meet a third one: the first version moved on to the trimmed hit and left
// that overlap; review 2026-12-08), so no two hits overlap when it returns if none did apart
// from hits[first]. Ends: each step removes a hit or shrinks one's lines.
void settle(std::vector<Hit>* hits, size_t first) {
  auto& h = *hits;
  std::vector<size_t> work{first};
  const auto erase = [&](size_t d) {
    h.erase(h.begin() + static_cast<std::ptrdiff_t>(d));
    std::erase(work, d);
    for (size_t& w : work)
      if (w > d) --w;
  };
  while (!work.empty()) {
    const size_t i = work.back();
    bool changed = false;
    for (size_t j = 0; j < h.size() && !changed; ++j) {
      if (j == i) continue;
      const size_t keep = std::min(i, j), drop = std::max(i, j);
      if (mergeable(h[i], h[j])) {
        absorb(h[keep], h[drop]);
        erase(drop);
        work.push_back(keep);
        changed = true;
      } else if (overlaps(h[i], h[j])) {
        if (trim_outside(h[keep], h[drop]))
          work.push_back(drop);
        else
          erase(drop);
        changed = true;
      }
    }
    if (!changed) work.pop_back();  // hits[i] meets no other hit
  }
}

}  // namespace

void merge_adjacent_hits(std::vector<Hit>* hits) {
  for (size_t i = 0; i < hits->size(); ++i) settle(hits, i);
}

void merge_hit(std::vector<Hit>* hits, size_t i) {
  settle(hits, i);
}

// ---------------- ranking ----------------

namespace {

struct Cand {
  uint32_t src = 0, id = 0;
  float score = 0;
};

uint64_t key_of(uint32_t src, uint32_t id) {
  return (uint64_t(src) << 32) | id;
}

bool better_cand(const Cand& a, const Cand& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.src != b.src) return a.src < b.src;
  return a.id < b.id;
}

}  // namespace

std::vector<Hit> rank(std::span<const RankSource> sources, const RankRequest& req) {
  if (req.top_k == 0) return {};
  const bool want_sem = req.mode != SearchMode::Keyword;
  const bool want_kw = req.mode != SearchMode::Semantic;
  size_t n_total = 0;
  for (const auto& s : sources) n_total += s.snap ? s.snap->num_chunks() : 0;
  if (n_total == 0) return {};
  // Deeper lists than returned: fusion needs items ranked moderately by both sides, and
  // demotion and merging consume candidates (see kFusionDepth).
  const size_t depth = std::max(kFusionDepth, req.top_k * 4);

  std::vector<Cand> sem, kw;
  std::vector<std::vector<float>> kw_scores(sources.size());
  if (want_sem) {
    for (uint32_t s = 0; s < sources.size(); ++s) {
      const Snapshot* snap = sources[s].snap;
      if (!snap || snap->num_chunks() == 0) continue;
      if (req.query_vec.size() != snap->dim())
        throw IndexError("query vector has dim " + std::to_string(req.query_vec.size()) +
                         ", index has " + std::to_string(snap->dim()));
      QuantizedRows rows = snap->quantized();
      if (sources[s].allow) rows.allow = sources[s].allow->data();
      for (const ScoredId& r : top_k_dot_quantized(req.query_vec, rows, depth))
        sem.push_back({s, r.id, r.score});
    }
    std::sort(sem.begin(), sem.end(), better_cand);
    if (sem.size() > depth) sem.resize(depth);
  }
  float kw_best = 0;
  // An identifier is written exactly: no other forms of its words (stemming would let a chunk
  // full of "normalized" outrank the definition of cmark_strbuf_normalize_whitespace).
  Bm25Params kw_params;
  kw_params.stem = !looks_like_identifier(req.query_text);
  const bool demote_tests = !mentions_tests(req.query_text);
  if (want_kw) {
    for (uint32_t s = 0; s < sources.size(); ++s) {
      const Snapshot* snap = sources[s].snap;
      if (!snap || snap->num_chunks() == 0) continue;
      auto& scores = kw_scores[s];
      scores.assign(snap->num_chunks(), 0.0f);
      std::vector<uint32_t> touched;
      snap->bm25(kw_params).score(req.query_text, &scores, &touched);
      const auto* allow = sources[s].allow;
      // Test files by file (a file's chunks are contiguous, so the last answer is reused).
      uint32_t test_file = UINT32_MAX;
      bool test_file_is_test = false;
      for (uint32_t d : touched) {
        const auto r = snap->chunk_ref(d);
        if (is_prose_language(r.language)) scores[d] *= kProseKeywordWeight;
        if (demote_tests) {
          if (r.file != test_file) {
            test_file = r.file;
            test_file_is_test = is_test_path(snap->file_ref(r.file).path);
          }
          if (test_file_is_test) scores[d] *= kTestKeywordWeight;
        }
        if ((!allow || (*allow)[d]) && scores[d] > 0) kw.push_back({s, d, scores[d]});
      }
    }
    const size_t k = std::min(depth, kw.size());
    std::partial_sort(kw.begin(), kw.begin() + static_cast<std::ptrdiff_t>(k), kw.end(),
                      better_cand);
    kw.resize(k);
    if (!kw.empty()) kw_best = kw.front().score;
  }

  auto ref = [&](const Cand& c) { return sources[c.src].snap->chunk_ref(c.id); };
  std::unordered_map<uint64_t, bool> contentless_cache;
  auto contentless = [&](const Cand& c) {
    auto [it, fresh] = contentless_cache.try_emplace(key_of(c.src, c.id), false);
    if (fresh) {
      const auto r = ref(c);
      it->second = is_contentless(r.kind, r.content);
    }
    return it->second;
  };
  auto demote = [&](std::vector<Cand>& list) {
    std::stable_partition(list.begin(), list.end(), [&](const Cand& c) { return !contentless(c); });
  };
  demote(sem);
  demote(kw);

  // The fused order, as (candidate, score, ranks).
  struct Ordered {
    Cand c;
    float score = 0, sem_score = 0, kw_score = 0;
    int sem_rank = -1, kw_rank = -1;
  };
  std::vector<Ordered> order;
  if (req.mode == SearchMode::Semantic) {
    for (size_t r = 0; r < sem.size(); ++r)
      order.push_back({sem[r], sem[r].score, sem[r].score, 0.0f, static_cast<int>(r), -1});
  } else if (req.mode == SearchMode::Keyword) {
    for (size_t r = 0; r < kw.size(); ++r)
      order.push_back({kw[r], kw[r].score / kw_best, 0.0f, kw[r].score, -1, static_cast<int>(r)});
  } else {
    // Convex fusion (rank.hpp): each side normalised by the min and max of its first
    // kFusionDepth candidates; every candidate of either list is scored on both sides.
    auto norm_of = [](const std::vector<Cand>& list) {
      std::vector<float> v;
      for (size_t r = 0; r < list.size() && r < kFusionDepth; ++r) v.push_back(list[r].score);
      return MinMax::of(v);
    };
    // Demotion reordered the lists: the norms come from the best scores, not the first items.
    auto by_score = [](std::vector<Cand> list) {
      std::sort(list.begin(), list.end(), better_cand);
      return list;
    };
    const MinMax sem_norm = norm_of(by_score(sem)), kw_norm = norm_of(by_score(kw));
    const float alpha = semantic_weight(req.query_text);
    std::unordered_map<uint64_t, size_t> pos;
    auto add = [&](const Cand& c, bool semantic_side, int r) {
      auto [it, fresh] = pos.try_emplace(key_of(c.src, c.id), order.size());
      if (fresh) {
        Ordered o{c, 0.0f, 0.0f, 0.0f, -1, -1};
        o.sem_score = semantic_side
                          ? c.score
                          : dot_f32(req.query_vec.data(), sources[c.src].snap->vector(c.id),
                                    req.query_vec.size());
        o.kw_score = kw_scores[c.src].empty() ? 0.0f : kw_scores[c.src][c.id];
        o.score = convex_fuse(o.sem_score, o.kw_score, sem_norm, kw_norm, alpha);
        order.push_back(o);
      }
      Ordered& o = order[it->second];
      (semantic_side ? o.sem_rank : o.kw_rank) = r;
    };
    for (size_t r = 0; r < sem.size(); ++r) add(sem[r], true, static_cast<int>(r));
    for (size_t r = 0; r < kw.size(); ++r) add(kw[r], false, static_cast<int>(r));
    auto best_rank = [](const Ordered& o) {
      const int x = o.sem_rank < 0 ? INT32_MAX : o.sem_rank;
      const int y = o.kw_rank < 0 ? INT32_MAX : o.kw_rank;
      return std::min(x, y);
    };
    std::sort(order.begin(), order.end(), [&](const Ordered& x, const Ordered& y) {
      const bool cx = contentless(x.c), cy = contentless(y.c);
      if (cx != cy) return cy;  // chunks without content of their own last
      if (x.score != y.score) return x.score > y.score;
      const int bx = best_rank(x), by = best_rank(y);
      if (bx != by) return bx < by;
      return better_cand({x.c.src, x.c.id, 0.0f}, {y.c.src, y.c.id, 0.0f});
    });
  }

  std::vector<Hit> hits;
  for (const Ordered& o : order) {
    if (hits.size() >= req.top_k) break;
    if (req.threshold && o.score < *req.threshold) continue;
    const Snapshot& snap = *sources[o.c.src].snap;
    const auto r = snap.chunk_ref(o.c.id);
    Hit h;
    h.path = std::string(snap.file_ref(r.file).path);
    h.start_line = r.start_line;
    h.end_line = r.end_line;
    h.symbol = std::string(r.symbol);
    h.kind = std::string(r.kind);
    h.language = std::string(r.language);
    h.content = std::string(r.content);
    h.score = o.score;
    h.semantic_score = o.sem_score;
    h.keyword_score = o.kw_score;
    h.semantic_rank = o.sem_rank;
    h.keyword_rank = o.kw_rank;
    hits.push_back(std::move(h));
    if (req.merge_adjacent) settle(&hits, hits.size() - 1);
  }
  return hits;
}

}  // namespace ripvec::index
