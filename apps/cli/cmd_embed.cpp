// `ripvec embed`: texts from arguments, or one per line on stdin, to vectors.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "output.hpp"
#include "ripvec/error.hpp"

namespace ripvec::cli {

namespace {

std::vector<std::string> read_stdin_lines() {
  std::vector<std::string> lines;
  std::string line;
  size_t lineno = 0;
  while (std::getline(std::cin, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF input
    check_utf8(line, "stdin line " + std::to_string(lineno));
    lines.push_back(std::move(line));
  }
  if (std::cin.bad()) throw IoError("error reading stdin");
  return lines;
}

void print_row(std::string& out, const float* row, size_t dim) {
  out += '[';
  for (size_t d = 0; d < dim; ++d) {
    if (d != 0) out += ',';
    out += format_float(row[d]);
  }
  out += ']';
}

}  // namespace

int run_embed(const CliOptions& opts) {
  std::vector<std::string> texts;
  if (!opts.embed_texts.empty()) {
    texts = opts.embed_texts;
    for (size_t i = 0; i < texts.size(); ++i)
      check_utf8(texts[i], "argument " + std::to_string(i + 1));
  } else {
    texts = read_stdin_lines();
  }
  if (texts.empty())
    throw InvalidArgument("no input texts (give TEXT arguments or lines on stdin)");

  auto embedder = load_embedder(opts);
  const InputKind kind = opts.embed_query      ? InputKind::Query
                         : opts.embed_document ? InputKind::Document
                                               : InputKind::Raw;
  const std::vector<float> vecs = embedder->embed(texts, kind);
  const size_t dim = embedder->dim();
  if (vecs.size() != texts.size() * dim)
    throw Error("embedder returned " + std::to_string(vecs.size()) + " floats for " +
                std::to_string(texts.size()) + " texts of dim " + std::to_string(dim));

  if (!opts.npy_path.empty()) {
    write_npy(opts.npy_path, vecs, texts.size(), dim);
    return 0;
  }
  std::string out;
  out.reserve(vecs.size() * 12);
  if (opts.embed_json) {
    out += '[';
    for (size_t i = 0; i < texts.size(); ++i) {
      if (i != 0) out += ',';
      print_row(out, vecs.data() + i * dim, dim);
    }
    out += "]\n";
  } else {
    for (size_t i = 0; i < texts.size(); ++i) {
      print_row(out, vecs.data() + i * dim, dim);
      out += '\n';
    }
  }
  write_stdout(out);
  return 0;
}

}  // namespace ripvec::cli
