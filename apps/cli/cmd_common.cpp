#include <unistd.h>

#include <chrono>

#include "commands.hpp"
#include "ripvec/error.hpp"

namespace ripvec::cli {

std::string model_spec(const CliOptions& opts) {
  if (!opts.model.empty()) return opts.model;
  if (const char* env = std::getenv("RIPVEC_MODEL"); env != nullptr && env[0] != '\0') return env;
  return std::string(kDefaultModelId);
}

bool progress_enabled(const CliOptions& opts) {
  return !opts.quiet && isatty(STDERR_FILENO) == 1;
}

EmbedderOptions embedder_options(const CliOptions& opts) {
  EmbedderOptions eo;
  eo.model = model_spec(opts);
  if (opts.device == "cpu") {
    eo.device = Device::Cpu;
  } else if (opts.device == "cuda") {
    eo.device = Device::Cuda;
  } else if (opts.device == "auto") {
    eo.device = Device::Auto;
  } else {
    throw InvalidArgument("--device: expected auto, cpu or cuda, got '" + opts.device + "'");
  }
  if (opts.precision == "f32") {
    eo.precision = Precision::F32;
  } else if (opts.precision == "f16") {
    eo.precision = Precision::F16;
  } else if (opts.precision == "bf16") {
    eo.precision = Precision::BF16;
  } else if (opts.precision == "auto") {
    eo.precision = Precision::Auto;
  } else {
    throw InvalidArgument("--precision: expected auto, f32, f16 or bf16, got '" + opts.precision +
                          "'");
  }
  eo.resolve.progress = progress_enabled(opts);
  return eo;
}

WalkOptions walk_options(const CliOptions& opts) {
  WalkOptions w;
  w.types = opts.types;
  w.type_not = opts.type_not;
  w.globs = opts.globs;
  w.hidden = opts.hidden;
  w.no_ignore = opts.no_ignore;
  w.follow_symlinks = opts.follow;
  w.one_file_system = opts.one_file_system;
  if (!opts.max_filesize.empty()) w.max_file_size = parse_size(opts.max_filesize, "--max-filesize");
  w.threads = opts.threads;
  return w;
}

std::unique_ptr<Embedder> load_embedder(const CliOptions& opts, double* seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  auto e = Embedder::load(embedder_options(opts));
  if (seconds != nullptr)
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return e;
}

void check_utf8(std::string_view s, const std::string& what) {
  // Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      throw InvalidArgument(what + ": invalid UTF-8 at byte " + std::to_string(i + 1));
    }
    if (i + len > n)
      throw InvalidArgument(what + ": invalid UTF-8 (truncated sequence) at byte " +
                            std::to_string(i + 1));
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80)
        throw InvalidArgument(what + ": invalid UTF-8 at byte " + std::to_string(i + 1));
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      throw InvalidArgument(what + ": invalid UTF-8 at byte " + std::to_string(i + 1));
    i += len;
  }
}

}  // namespace ripvec::cli
