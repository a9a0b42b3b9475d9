// Runs the built `ripvec` binary (RIPVEC_CLI) as a child process and captures what it does:
// stdout, stderr, exit status. Optionally feeds stdin, overrides environment variables, and gives
// the child a pseudo-terminal as stdout/stderr to exercise the isatty() paths.
#pragma once

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

extern char** environ;

namespace ripvec::test {

struct CliResult {
  int status = -1;  // exit status, or 128 + signal
  std::string out, err;
};

struct CliRun {
  std::vector<std::string> args;  // without argv[0]
  std::string stdin_data;
  bool stdin_from_data = false;            // else stdin is /dev/null
  std::map<std::string, std::string> env;  // set (value) or unset (value "\x01unset")
  std::filesystem::path cwd;               // empty: inherit
  bool tty = false;  // stdout and stderr on a pseudo-terminal (captured together in `out`)
  // Write-error cases: stdout opened on this path (e.g. /dev/full; `out` stays empty), or a
  // pipe whose read end is already closed (EPIPE), and a file-size limit (RLIMIT_FSIZE, bytes,
  // with SIGXFSZ ignored so writes fail with EFBIG) for the child: a full disk without root.
  std::string stdout_path;
  bool stdout_closed_pipe = false;
  unsigned long long fsize_limit = 0;
  // Runs `prefix... ripvec args...` (e.g. setpriv to drop root).
  std::vector<std::string> prefix;
};

inline constexpr const char* kUnset = "\x01unset";

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A fresh temporary directory removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("ripvec-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }
  void write(const std::string& rel, const std::string& content) const {
    auto p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << content;
  }

 private:
  std::filesystem::path path_;
};

inline std::vector<std::string> child_env(const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : overrides) {
    if (v == kUnset)
      env.erase(k);
    else
      env[k] = v;
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// argv and envp for posix_spawn of `prefix... ripvec args...` with run.env applied (the strings
// live as long as this object).
struct SpawnArgs {
  explicit SpawnArgs(const CliRun& run) : argv_s(run.prefix), env_s(child_env(run.env)) {
    argv_s.push_back(RIPVEC_CLI);
    argv_s.insert(argv_s.end(), run.args.begin(), run.args.end());
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  SpawnArgs(const SpawnArgs&) = delete;
  SpawnArgs& operator=(const SpawnArgs&) = delete;
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, envp;
};

inline CliResult run_cli(const CliRun& run) {
  CliResult res;
  TempDir io;
  const auto in_path = io / "stdin", out_path = io / "stdout", err_path = io / "stderr";
  {
    std::ofstream f(in_path, std::ios::binary);
    f << run.stdin_data;
  }
  SpawnArgs sa(run);

  int master = -1, slave = -1;
  if (run.tty && openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
    ADD_FAILURE() << "openpty failed";
    return res;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (run.stdin_from_data)
    posix_spawn_file_actions_addopen(&fa, 0, in_path.c_str(), O_RDONLY, 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (run.tty) {
    posix_spawn_file_actions_adddup2(&fa, slave, 1);
    posix_spawn_file_actions_adddup2(&fa, slave, 2);
    posix_spawn_file_actions_addclose(&fa, master);
    posix_spawn_file_actions_addclose(&fa, slave);
  } else {
    if (run.stdout_path.empty() && !run.stdout_closed_pipe)
      posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                       0644);
    else if (!run.stdout_path.empty())
      posix_spawn_file_actions_addopen(&fa, 1, run.stdout_path.c_str(), O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  int pipe_fds[2] = {-1, -1};
  if (run.stdout_closed_pipe && !run.tty) {
    if (::pipe(pipe_fds) != 0) {
      ADD_FAILURE() << "pipe failed";
      return res;
    }
    ::close(pipe_fds[0]);  // no reader: the child's writes fail with EPIPE / SIGPIPE
    posix_spawn_file_actions_adddup2(&fa, pipe_fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, pipe_fds[1]);
  }
  // The limit is inherited by the child and restored right after spawn; this process ignores
  // SIGXFSZ meanwhile, the child starts with the default action (death), as from a shell with
  // `ulimit -f`: ripvec must ignore it itself (it ignored SIGXFSZ here, which hid the death).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t xfsz;
  sigemptyset(&xfsz);
  sigaddset(&xfsz, SIGXFSZ);
  posix_spawnattr_setsigdefault(&attr, &xfsz);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  struct rlimit old_fsize {};
  ::getrlimit(RLIMIT_FSIZE, &old_fsize);
  void (*old_xfsz)(int) = SIG_DFL;
  if (run.fsize_limit > 0) {
    old_xfsz = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = old_fsize;
    lim.rlim_cur = static_cast<rlim_t>(run.fsize_limit);
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  if (!run.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, run.cwd.c_str());
  pid_t pid = -1;
  int rc = posix_spawn(&pid, sa.argv[0], &fa, &attr, sa.argv.data(), sa.envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (run.fsize_limit > 0) {
    ::setrlimit(RLIMIT_FSIZE, &old_fsize);
    ::signal(SIGXFSZ, old_xfsz);
  }
  if (pipe_fds[1] >= 0) ::close(pipe_fds[1]);
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn " << sa.argv[0] << " failed: " << rc;
    return res;
  }
  if (run.tty) {
    ::close(slave);
    char buf[4096];
    for (;;) {  // read until the child closes the terminal (EIO on Linux)
      ssize_t n = ::read(master, buf, sizeof(buf));
      if (n <= 0) break;
      res.out.append(buf, static_cast<size_t>(n));
    }
    ::close(master);
  }
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  res.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  if (!run.tty) {
    if (run.stdout_path.empty() && !run.stdout_closed_pipe) res.out = slurp(out_path);
    res.err = slurp(err_path);
  }
  return res;
}

inline CliResult run_cli(std::vector<std::string> args) {
  CliRun r;
  r.args = std::move(args);
  return run_cli(r);
}

// `ripvec ARGS` with `model` on the CPU, the index cache in `cache`, no progress output
// (-q), offline, NO_COLOR unset.
inline CliRun model_run(std::vector<std::string> args, const std::filesystem::path& cache,
                        const std::filesystem::path& model) {
  CliRun r;
  r.args = std::move(args);
  for (const char* a : {"-q", "--device", "cpu", "--cache-dir"}) r.args.push_back(a);
  r.args.push_back(cache.string());
  r.args.push_back("--model");
  r.args.push_back(model.string());
  r.env["HF_HUB_OFFLINE"] = "1";
  r.env["NO_COLOR"] = kUnset;
  return r;
}

inline bool has_escape(const std::string& s) {
  return s.find('\x1b') != std::string::npos;
}

inline std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) lines.push_back(l);
  return lines;
}

// One JSON value per line of `out` (`--json` search output).
inline std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  for (const auto& l : split_lines(out)) v.push_back(nlohmann::json::parse(l));
  return v;
}

}  // namespace ripvec::test
