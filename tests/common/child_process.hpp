// Runs a piece of a test in a forked child, optionally as another user: permission bits do not
// bind root, so tests of "permission denied" paths drop to uid/gid 65534 ("nobody") there.
// A forked child has no thread-pool workers: what it runs must not need the global pool unless
// the parent never started it.
#pragma once

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <exception>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

namespace ripvec::test {

inline constexpr int kChildCannotDrop = 77;  // exit code: setgid/setuid refused

// Returns what fn returned in the child; *code is the child's exit code: 0, kChildCannotDrop,
// 3 when fn threw (the text is then "exception: <what>"), or 128 + signal.
inline std::string in_child(int uid, const std::function<std::string()>& fn, int* code) {
  int fds[2];
  if (::pipe(fds) != 0) {
    *code = -1;
    return "pipe failed";
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    *code = -1;
    return "fork failed";
  }
  if (pid == 0) {
    ::close(fds[0]);
    if (uid >= 0 && (::setgid(uid) != 0 || ::setuid(uid) != 0)) ::_exit(kChildCannotDrop);
    std::string r;
    int rc = 0;
    try {
      r = fn();
    } catch (const std::exception& e) {
      r = std::string("exception: ") + e.what();
      rc = 3;
    }
    const ssize_t w = ::write(fds[1], r.data(), r.size());
    ::_exit(w == static_cast<ssize_t>(r.size()) ? rc : 1);
  }
  ::close(fds[1]);
  std::string r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) r.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// in_child (as the same user) for code that might block or read without end: the child gets
// SIGALRM after `seconds` and may map at most `max_bytes`, so that a regression fails the test
// (*code 142, or a bad_alloc) instead of stalling it or swapping the machine.
// Under AddressSanitizer the address-space limit is not set: its shadow memory already maps
// terabytes of address space, so any new mapping of the child would fail ("ERROR: Failed to
// mmap"); the alarm still bounds the time, and the release tier bounds the memory.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

inline std::string in_bounded_child(const std::function<std::string()>& fn, int* code,
                                    unsigned seconds = 10, rlim_t max_bytes = rlim_t(1) << 30) {
  return in_child(
      -1,
      [&] {
        ::alarm(seconds);
        if (!kAddressSanitizer) {
          const struct rlimit lim = {max_bytes, max_bytes};
          ::setrlimit(RLIMIT_AS, &lim);
        }
        return fn();
      },
      code);
}

// The two hostile stand-ins for a file ripvec reads: a FIFO (open() waits for a writer) or a
// symlink to /dev/zero (never ends).
inline void plant_fifo_or_dev_zero(const std::filesystem::path& p, bool fifo) {
  if (fifo) {
    if (::mkfifo(p.c_str(), 0644) != 0) throw std::runtime_error("mkfifo " + p.string());
  } else {
    std::filesystem::create_symlink("/dev/zero", p);
  }
}

}  // namespace ripvec::test
