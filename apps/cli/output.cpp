#include "output.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "chunk/text_util.hpp"
#include "ripvec/error.hpp"
#include "util/base64.hpp"

namespace ripvec::cli {

namespace {

constexpr const char* kMagenta = "\x1b[35m";
constexpr const char* kGreen = "\x1b[32m";
constexpr const char* kBoldRed = "\x1b[1;31m";
constexpr const char* kDim = "\x1b[2m";
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kReset = "\x1b[0m";

std::string paint(std::string_view s, const char* sgr, bool color) {
  if (!color) return std::string(s);
  return std::string(sgr) + std::string(s) + kReset;
}

bool is_word_byte(unsigned char c) {
  return std::isalnum(c) || c == '_' || c >= 0x80;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Byte ranges [begin, end) of `line` that contain one of `words` (case-insensitive), merged.
std::vector<std::pair<size_t, size_t>> find_matches(std::string_view line,
                                                    const std::vector<std::string>& words) {
  std::vector<std::pair<size_t, size_t>> spans;
  if (words.empty()) return spans;
  const std::string low = lower(line);
  for (const auto& w : words) {
    for (size_t pos = low.find(w); pos != std::string::npos; pos = low.find(w, pos + w.size()))
      spans.emplace_back(pos, pos + w.size());
  }
  std::sort(spans.begin(), spans.end());
  std::vector<std::pair<size_t, size_t>> merged;
  for (const auto& s : spans) {
    if (!merged.empty() && s.first <= merged.back().second)
      merged.back().second = std::max(merged.back().second, s.second);
    else
      merged.push_back(s);
  }
  return merged;
}

// English words too common to be worth highlighting in code.
bool is_stopword(std::string_view w) {
  static constexpr std::string_view kStop[] = {
      "and",   "are",  "but",   "can",  "does", "for",   "from",  "has",   "have",  "how",
      "into",  "its",  "like",  "not",  "off",  "one",   "only",  "our",   "out",   "should",
      "that",  "the",  "their", "them", "then", "there", "these", "this",  "those", "use",
      "using", "was",  "were",  "what", "when", "where", "which", "while", "who",   "why",
      "will",  "with", "would", "you",  "your", "all",   "any",   "some"};
  for (auto s : kStop)
    if (s == w) return true;
  return false;
}

}  // namespace

std::string result_json(const ResultView& r) {
  nlohmann::ordered_json j;
  j["path"] = r.path;  // a name that is not UTF-8: U+FFFD for its bad bytes (dump below)...
  if (!text::valid_utf8(r.path)) j["path_b64"] = base64_encode(r.path);  // ...and its bytes
  j["start_line"] = r.start_line;
  j["end_line"] = r.end_line;
  j["symbol"] = r.symbol;
  j["kind"] = r.kind;
  j["language"] = r.language;
  j["score"] = r.score;
  j["content"] = r.content;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> highlight_words(std::string_view query) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < query.size()) {
    while (i < query.size() && !is_word_byte(static_cast<unsigned char>(query[i]))) ++i;
    size_t j = i;
    while (j < query.size() && is_word_byte(static_cast<unsigned char>(query[j]))) ++j;
    if (j - i >= 3) {
      std::string w = lower(query.substr(i, j - i));
      if (!is_stopword(w) && std::find(words.begin(), words.end(), w) == words.end())
        words.push_back(std::move(w));
    }
    i = j;
  }
  return words;
}

std::string result_text(const ResultView& r, const std::vector<std::string>& query_words,
                        bool color) {
  std::string out;
  out += paint(r.path, kMagenta, color);
  out += ':';
  out += paint(std::to_string(r.start_line), kGreen, color);
  out += '-';
  out += paint(std::to_string(r.end_line), kGreen, color);
  if (!r.symbol.empty()) {
    out += "  ";
    out += paint(r.symbol, kBold, color);
  }
  if (!r.kind.empty()) out += " (" + r.kind + ")";
  char score[32];
  std::snprintf(score, sizeof(score), "  score %.4f", r.score);
  out += paint(score, kDim, color);
  out += '\n';

  std::string_view content = r.content;
  int lineno = r.start_line;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    size_t end = nl == std::string_view::npos ? content.size() : nl;
    std::string_view line = content.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto spans = find_matches(line, query_words);
    out += paint(std::to_string(lineno), kGreen, color);
    out += spans.empty() ? '-' : ':';
    size_t at = 0;
    for (const auto& [b, e] : spans) {
      out += line.substr(at, b - at);
      out += paint(line.substr(b, e - b), kBoldRed, color);
      at = e;
    }
    out += line.substr(at);
    out += '\n';
    ++lineno;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return out;
}

std::string format_float(float v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

void write_npy(const std::string& path, const std::vector<float>& data, size_t rows, size_t cols) {
  // Format v1.0: magic, version, u16 header length, then an ASCII dict padded with spaces
  // and ended by '\n' so that magic + len + header is a multiple of 64 bytes.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) + "), }";
  const size_t prefix = 6 + 2 + 2;
  size_t total = prefix + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw IoError("cannot open '" + path + "' for writing: " + std::strerror(errno));
  const char magic[] = "\x93NUMPY\x01\x00";
  f.write(magic, 8);
  const uint16_t hlen = static_cast<uint16_t>(header.size());
  const char len_le[2] = {static_cast<char>(hlen & 0xff), static_cast<char>(hlen >> 8)};
  f.write(len_le, 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  static_assert(std::endian::native == std::endian::little, "npy writer assumes little endian");
  f.write(reinterpret_cast<const char*>(data.data()),
          static_cast<std::streamsize>(data.size() * sizeof(float)));
  f.flush();
  if (!f) throw IoError("failed writing '" + path + "': " + std::strerror(errno));
}

void Progress::update(std::string_view stage, uint64_t done, uint64_t total, std::string_view unit,
                      std::string_view extra) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (stage != stage_) {
    stage_ = std::string(stage);
    stage_start_ = now;
  } else if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_draw_ = now;
  std::string line = std::string(stage);
  if (total > 0) {
    constexpr int kWidth = 24;
    const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
    const int filled = static_cast<int>(frac * kWidth);
    line.append(" [").append(filled, '=').append(kWidth - filled, ' ').append("] ");
    line.append(std::to_string(done)).append("/").append(std::to_string(total));
    line.append(" ").append(unit);
    const double elapsed = std::chrono::duration<double>(now - stage_start_).count();
    if (done > 0 && done < total && elapsed > 0.5) {
      const double eta = elapsed * static_cast<double>(total - done) / static_cast<double>(done);
      char buf[48];
      std::snprintf(buf, sizeof(buf), "  ETA %dm%02ds", static_cast<int>(eta) / 60,
                    static_cast<int>(eta) % 60);
      line += buf;
    }
  } else if (done > 0) {
    line.append(" ").append(std::to_string(done)).append(" ").append(unit);
  }
  if (!extra.empty()) line.append("  ").append(extra);
  if (line.size() > 120) line.resize(120);
  std::fprintf(stderr, "\r\x1b[2K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\r\x1b[2K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace ripvec::cli
