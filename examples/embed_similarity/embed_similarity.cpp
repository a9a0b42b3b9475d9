// Embeds a few texts with ripvec's Embedder and prints their pairwise cosine similarities.
//
//   embed_similarity [--model MODEL] [TEXT...]
//
// MODEL is a model directory (config.json, model.safetensors, tokenizer.json, optional
// sentence-transformers files) or a Hugging Face id; the default is
// sentence-transformers/all-MiniLM-L6-v2 from the local Hugging Face cache (never downloaded
// here: ResolveOptions::allow_download is off). Without TEXT, four built-in sentences are used.
// Exit status: 0 on success, 2 on any error (the message goes to stderr).
#include <ripvec/embedder.hpp>
#include <ripvec/error.hpp>

#include <cmath>
#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <vector>

namespace {

double cosine(std::span<const float> a, std::span<const float> b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return (na == 0 || nb == 0) ? 0.0 : dot / std::sqrt(na * nb);
}

}  // namespace

int main(int argc, char** argv) {
  ripvec::EmbedderOptions opts;
  opts.resolve.allow_download = false;
  opts.resolve.progress = false;
  std::vector<std::string> texts;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--model" && i + 1 < argc) {
      opts.model = argv[++i];
    } else if (arg == "-h" || arg == "--help") {
      std::printf("usage: %s [--model MODEL] [TEXT...]\n", argv[0]);
      return 0;
    } else {
      texts.push_back(arg);
    }
  }
  if (texts.empty()) {
    texts = {"How do I read a file line by line?", "Iterate over the lines of a text file",
             "Parse command line flags", "The cat sat on the mat"};
  }

  try {
    const auto embedder = ripvec::Embedder::load(opts);
    // Row-major [texts.size(), dim]; Document: the model's document prompt, if it has one.
    const std::vector<float> vecs = embedder->embed(texts, ripvec::InputKind::Document);
    const size_t dim = embedder->dim();
    std::printf("model %s, %zu-dim vectors on %s\n", embedder->model_id().c_str(), dim,
                embedder->device_name().c_str());
    for (size_t i = 0; i < texts.size(); ++i) std::printf("[%zu] %s\n", i, texts[i].c_str());
    std::printf("cosine similarity:\n    ");
    for (size_t j = 0; j < texts.size(); ++j) std::printf(" %6zu", j);
    std::printf("\n");
    const std::span<const float> all(vecs);
    for (size_t i = 0; i < texts.size(); ++i) {
      std::printf("%4zu", i);
      for (size_t j = 0; j < texts.size(); ++j)
        std::printf(" %6.3f", cosine(all.subspan(i * dim, dim), all.subspan(j * dim, dim)));
      std::printf("\n");
    }
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      std::fprintf(stderr, "embed_similarity: cannot write to stdout\n");
      return 2;
    }
  } catch (const ripvec::Error& e) {
    std::fprintf(stderr, "embed_similarity: %s\n", e.describe().c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "embed_similarity: %s\n", e.what());
    return 2;
  }
  return 0;
}
