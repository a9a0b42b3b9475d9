// `ripvec`: parse flags, dispatch to a command, map errors to exit status 2 with one line on
// stderr ("ripvec: <message>"; --debug adds where the error was raised). Standard output is
// checked to the end (close_stdout); a reader that closed the pipe ends the run quietly.
#include <pthread.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>
#include <system_error>

#include "commands.hpp"
#include "flags.hpp"
#include "output.hpp"
#include "protocol_commands.hpp"
#include "ripvec/corpus.hpp"
#include "ripvec/error.hpp"

#ifndef RIPVEC_VERSION_STRING
#define RIPVEC_VERSION_STRING "0.1.0"
#endif

namespace {

constexpr int kExitError = 2;

int fail(const std::string& msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "ripvec: %s\n", ripvec::cli::escape_message(msg).c_str());
  return kExitError;
}

// Which class of error, in words, for the cases where the message alone would be ambiguous.
std::string error_message(const ripvec::Error& e, bool debug) {
  std::string prefix;
  if (dynamic_cast<const ripvec::ModelNotFoundError*>(&e))
    prefix = "model not found: ";
  else if (dynamic_cast<const ripvec::ModelFormatError*>(&e))
    prefix = "bad model file: ";
  else if (dynamic_cast<const ripvec::DeviceError*>(&e))
    prefix = "device error: ";
  else if (dynamic_cast<const ripvec::UnsupportedError*>(&e))
    prefix = "unsupported: ";
  else if (dynamic_cast<const ripvec::IndexError*>(&e))
    prefix = "index error: ";
  // IoError and InvalidArgument messages already name the file / argument.
  return prefix + (debug ? e.describe() : std::string(e.what()));
}

// Ends the run: checks that everything written to stdout reached it. A write error turns
// `status` into 2; a closed pipe keeps it (nothing more could be shown anyway).
int finish(int status) {
  try {
    ripvec::cli::close_stdout();
  } catch (const ripvec::cli::StdoutClosed&) {
  } catch (const ripvec::Error& e) {
    return fail(e.what());
  }
  return status;
}

int run(int argc, char** argv) {
  using namespace ripvec::cli;
  guard_standard_descriptors();  // before anything opens a file
  // EPIPE instead of death by SIGPIPE, so that a closed pipe is told apart from other write
  // errors (it exits 0 quietly, as ripgrep does; see close_stdout).
  std::signal(SIGPIPE, SIG_IGN);
  // EFBIG instead of death by SIGXFSZ past a file-size limit (`ulimit -f`): the write error is
  // reported (exit 2 naming the file) and a temporary --npy file removed; the signal killed the
  // process (status 153) and left the temporary file behind (hostile probe 2026-12-05).
  std::signal(SIGXFSZ, SIG_IGN);
  report_cpu_time_limit();
  CLI::App app{"ripvec: semantic code search (grep by meaning)", "ripvec"};
  app.set_version_flag("-V,--version", std::string("ripvec ") + RIPVEC_VERSION_STRING);
  CliOptions opts;
  const Commands cmds = build_cli(app, opts);
  ProtocolOptions popts;
  const ProtocolCommands pcmds = add_protocol_commands(app, popts);

  try {
    app.parse(parse_order_args(app, argc, argv));
  } catch (const CLI::CallForHelp& e) {
    return finish(app.exit(e));
  } catch (const CLI::CallForAllHelp& e) {
    return finish(app.exit(e));
  } catch (const CLI::CallForVersion& e) {
    return finish(app.exit(e));
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (see ripvec --help)");
  }
  // `ripvec --json map .`, `ripvec --model M mcp`: a search flag before `map`, `mcp` or `lsp`
  // belongs to the search, which does not run; the command ran without it, silently (hostile
  // probe 2026-12-06). Only -j/--threads and --debug apply to every command.
  for (const CLI::App* sub : {pcmds.map, pcmds.mcp, pcmds.lsp}) {
    if (sub == nullptr || !sub->parsed()) continue;
    for (const CLI::Option* o : app.get_options()) {
      if (o->count() == 0 || !o->nonpositional()) continue;
      const std::string name = o->get_name();
      if (name == "--threads" || name == "-j" || name == "--debug") continue;
      const std::string cmd = sub->get_name();
      return fail(name + " before `" + cmd + "` is a flag of the search, not of `" + cmd +
                  "` (flags of `" + cmd + "` go after it; see ripvec " + cmd + " --help)");
    }
  }

  // The shared thread pool reads $RIPVEC_THREADS when first used.
  if (opts.threads > 0) setenv("RIPVEC_THREADS", std::to_string(opts.threads).c_str(), 1);

  try {
    if (opts.type_list) {
      for (const auto& t : ripvec::file_types()) {
        std::string line = t.name + ":";
        for (size_t i = 0; i < t.globs.size(); ++i) line += (i ? ", " : " ") + t.globs[i];
        write_stdout(line + "\n");
      }
      return finish(0);
    }
    if (int rc = run_protocol_command(pcmds, popts); rc >= 0) return finish(rc);
    if (cmds.index->parsed()) return finish(run_index(opts));
    if (cmds.embed->parsed()) return finish(run_embed(opts));
    if (cmds.tokenize->parsed()) return finish(run_tokenize(opts));
    if (cmds.models->parsed()) return finish(run_models(opts));
    return finish(run_search(opts));
  } catch (const StdoutClosed&) {
    return 0;  // the reader has all it wanted (`ripvec QUERY | head -3`)
  } catch (const ripvec::Error& e) {
    return fail(error_message(e, opts.debug));
  } catch (const std::bad_alloc&) {
    return fail("out of memory");
  } catch (const std::system_error& e) {
    // std::thread's failure to start one: name the limit, not an "internal error".
    return fail(ripvec::describe_system_error(e));
  } catch (const std::exception& e) {
    return fail(std::string("internal error: ") + e.what());
  }
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// The stack of every thread of the process, the one running the command included: at least
// 8 MiB, or RLIMIT_STACK when that is larger. Threads take RLIMIT_STACK as their default size, so
// under `ulimit -s 256` the chunker's walk of a syntax tree overflowed its 256 KiB in a pool
// thread at ~180 levels (300 nested parentheses in a .py file crashed index, search, map and
// the servers; hostile probe 2026-12-07).
size_t thread_stack_bytes() {
  constexpr size_t kMin = size_t{8} << 20;
  rlimit rl{};
  if (::getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > kMin)
    return static_cast<size_t>(rl.rlim_cur);
  return kMin;
}

// Runs the command on a thread with that stack (the main thread's is RLIMIT_STACK's, fixed at
// exec), and makes it every later thread's default (pool, ingest, writers, servers). Without a
// thread to be had the command runs here, as before.
int run_with_stack(int argc, char** argv) {
  pthread_attr_t attr;
  if (::pthread_attr_init(&attr) != 0) return run(argc, argv);
  struct Call {
    int argc;
    char** argv;
    int status;
  } call{argc, argv, kExitError};
  pthread_t t{};
  const bool ok = ::pthread_attr_setstacksize(&attr, thread_stack_bytes()) == 0 &&
                  ::pthread_setattr_default_np(&attr) == 0 &&
                  ::pthread_create(
                      &t, &attr,
                      [](void* p) -> void* {
                        auto* c = static_cast<Call*>(p);
                        c->status = run(c->argc, c->argv);
                        return nullptr;
                      },
                      &call) == 0;
  ::pthread_attr_destroy(&attr);
  if (!ok) return run(argc, argv);
  ::pthread_join(t, nullptr);
  return call.status;
}

}  // namespace

// Every run ends with _Exit once its outputs are flushed (finish() has checked and closed
// stdout; an error path has printed its line): the libraries' exit handlers are skipped.
// The CUDA runtime's teardown costs 0.11-0.14 s on the H200 host, which the driver does not
// need (it reclaims an exiting process's context). And a library's handler can hang: the
// OpenBLAS ripvec linked until 2026-12-07 joined its worker thread there, and under an
// address-space limit that worker retried a failed allocation forever (`ripvec tokenize`
// printed "out of memory" and never ended: hostile probe 2026-12-07). Sanitizer builds exit
// normally (LeakSanitizer checks at exit), as does RIPVEC_EXIT_TEARDOWN=1 (A/B measurements).
int main(int argc, char** argv) {
  const int status = run_with_stack(argc, argv);
  const char* keep = std::getenv("RIPVEC_EXIT_TEARDOWN");
  if (kSanitized || (keep != nullptr && std::string(keep) == "1")) return status;
  std::fflush(nullptr);
  std::_Exit(status);
}
