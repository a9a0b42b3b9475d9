// Opens (or creates) the ripvec index for a directory, brings it up to date and searches it.
//
//   search_index [--model MODEL] [--cache-dir DIR] [--mode hybrid|semantic|keyword] [-k N]
//                PATH QUERY
//
// PATH is a directory or a file; the index root is found from it as ripvec does (an existing
// .ripvec/ index, an index of this model in the cache, the git work tree, else PATH), and a PATH
// below the root restricts the search to it. The index lives in DIR (default: ripvec's cache,
// $RIPVEC_CACHE_DIR or ~/.cache/ripvec) and is updated incrementally: a second run embeds only
// what changed. MODEL as in embed_similarity (default all-MiniLM-L6-v2 from the local HF cache).
// Exit status: 0 with results, 1 without, 2 on any error.
#include <ripvec/embedder.hpp>
#include <ripvec/error.hpp>
#include <ripvec/index.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

#include <unistd.h>

int main(int argc, char** argv) {
  ripvec::EmbedderOptions eopts;
  eopts.resolve.allow_download = false;
  eopts.resolve.progress = false;
  ripvec::IndexOptions iopts;
  ripvec::SearchOptions sopts;
  std::string path, query;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      const bool has_value = i + 1 < argc;
      if (arg == "--model" && has_value) {
        eopts.model = argv[++i];
      } else if (arg == "--cache-dir" && has_value) {
        iopts.cache_dir = argv[++i];
      } else if (arg == "--mode" && has_value) {
        sopts.mode = ripvec::parse_search_mode(argv[++i]);
      } else if (arg == "-k" && has_value) {
        sopts.top_k = std::strtoul(argv[++i], nullptr, 10);
      } else if (path.empty() && arg.rfind("-", 0) != 0) {
        path = arg;
      } else if (query.empty() && arg.rfind("-", 0) != 0) {
        query = arg;
      } else {
        path.clear();
        break;
      }
    }
    if (path.empty() || query.empty()) {
      std::fprintf(stderr,
                   "usage: %s [--model MODEL] [--cache-dir DIR] [--mode hybrid|semantic|keyword] "
                   "[-k N] PATH QUERY\n",
                   argv[0]);
      return 2;
    }

    // The index shares the embedder with whoever else holds it (here: nobody).
    std::shared_ptr<ripvec::Embedder> embedder = ripvec::Embedder::load(eopts);
    // A one-line progress display, on a terminal only (it rewrites itself with \r).
    if (isatty(STDERR_FILENO)) {
      iopts.progress = [](const ripvec::IndexProgress& p) {
        std::fprintf(stderr, "\r%-9s files %zu/%zu  chunks %zu/%zu  %.1fs",
                     ripvec::index_phase_name(p.phase), p.files_done, p.files_total, p.chunks_done,
                     p.chunks_total, p.elapsed_s);
        if (p.phase == ripvec::IndexProgress::Phase::Done) std::fprintf(stderr, "\n");
      };
    }
    const auto index = ripvec::Index::open(path, embedder, iopts);
    const ripvec::UpdateStats stats = index->update();
    std::fprintf(stderr, "index %s: root %s, %zu chunks (%zu embedded now)\n",
                 index->location().c_str(), index->root().c_str(), stats.chunks_total,
                 stats.chunks_embedded);
    for (const std::string& w : stats.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());

    const auto hits = index->search(query, sopts);
    for (const ripvec::Hit& h : hits) {
      std::printf("%s:%d-%d  %.3f  %s %s\n", h.path.c_str(), h.start_line, h.end_line, h.score,
                  h.kind.c_str(), h.symbol.c_str());
    }
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      std::fprintf(stderr, "search_index: cannot write to stdout\n");
      return 2;
    }
    return hits.empty() ? 1 : 0;
  } catch (const ripvec::Error& e) {
    std::fprintf(stderr, "search_index: %s\n", e.describe().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "search_index: %s\n", e.what());
  }
  return 2;
}
