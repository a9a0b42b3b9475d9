// Every write to stdout is checked (issue 10, item 2): /dev/full, a pipe nobody reads, and a full
// disk for --npy (simulated with RLIMIT_FSIZE in the child). Uses the tiny test model, so each
// run takes a fraction of a second.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cli_runner.hpp"
#include "common/test_util.hpp"

namespace ripvec::test {
namespace {

namespace fs = std::filesystem;

std::string tiny_model() {
  return test_data("bert/tiny_bge_cls").string();
}

CliRun tiny_run(std::vector<std::string> args) {
  CliRun r;
  r.args = std::move(args);
  r.args.insert(r.args.end(), {"--model", tiny_model(), "--device", "cpu"});
  r.env["HF_HUB_OFFLINE"] = "1";
  return r;
}

void expect_write_error(const CliResult& r) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("error writing to stdout"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
}

// A small repository to search and index.
class CliOutput : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_.write("src/prime.py",
                "def is_prime(n):\n    return n > 1 and all(n % d for d in "
                "range(2, n))\n");
    repo_.write("src/fib.py", "def fibonacci(count):\n    seq = [0, 1]\n    return seq\n");
  }
  TempDir repo_, cache_;
};

TEST(CliOutputEmbed, EmbedToDevFullExits2) {
  CliRun r = tiny_run({"embed", "hello"});
  r.stdout_path = "/dev/full";
  expect_write_error(run_cli(r));
}

// More than a stdio buffer of output (the probe saw output cut at 64 KiB and exit 0).
TEST(CliOutputEmbed, EmbedManyLinesToDevFullExits2) {
  CliRun r = tiny_run({"embed"});
  r.stdin_from_data = true;
  for (int i = 1; i <= 200; ++i) r.stdin_data += std::to_string(i) + "\n";
  r.stdout_path = "/dev/full";
  expect_write_error(run_cli(r));
  CliRun j = tiny_run({"embed", "--json", "a", "b"});
  j.stdout_path = "/dev/full";
  expect_write_error(run_cli(j));
}

// The probe's case: `seq 1 200 | ripvec embed > file-on-a-full-disk` exited 0 with the output
// cut at 64 KiB. A regular file on a "full disk" (RLIMIT_FSIZE, EFBIG) is an error.
TEST(CliOutputEmbed, EmbedToFullDiskFileExits2) {
  CliRun r = tiny_run({"embed"});
  r.stdin_from_data = true;
  for (int i = 1; i <= 200; ++i) r.stdin_data += std::to_string(i) + "\n";
  r.fsize_limit = 16384;
  auto res = run_cli(r);
  EXPECT_EQ(res.status, 2) << res.err;
  EXPECT_NE(res.err.find("error writing to stdout: File too large"), std::string::npos) << res.err;
  EXPECT_LE(res.out.size(), 16384u);
}

TEST(CliOutputEmbed, TokenizeToDevFullExits2) {
  CliRun r;
  r.args = {"tokenize", "--model", tiny_model(), "hello world"};
  r.stdout_path = "/dev/full";
  expect_write_error(run_cli(r));
}

TEST(CliOutputEmbed, HelpAndTypeListToDevFullExit2) {
  for (auto args : {std::vector<std::string>{"--help"}, std::vector<std::string>{"--type-list"},
                    std::vector<std::string>{"--version"}}) {
    CliRun r;
    r.args = args;
    r.stdout_path = "/dev/full";
    SCOPED_TRACE(args[0]);
    expect_write_error(run_cli(r));
  }
}

TEST_F(CliOutput, SearchToDevFullExits2) {
  for (const char* fmt : {"--json", "--color=never"}) {
    CliRun r = tiny_run({"prime number", repo_.path().string(), "--no-index", fmt});
    r.stdout_path = "/dev/full";
    SCOPED_TRACE(fmt);
    expect_write_error(run_cli(r));
  }
}

TEST_F(CliOutput, IndexReportToDevFullExits2) {
  CliRun r = tiny_run({"index", repo_.path().string(), "--cache-dir", cache_.path().string()});
  r.stdout_path = "/dev/full";
  expect_write_error(run_cli(r));
}

// A reader that went away (`ripvec ... | head -0`): quiet, status 0, as ripgrep does.
TEST_F(CliOutput, ClosedPipeExitsQuietly) {
  CliRun e = tiny_run({"embed", "hello", "world"});
  e.stdout_closed_pipe = true;
  auto r = run_cli(e);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  CliRun s = tiny_run({"prime number", repo_.path().string(), "--no-index", "--json"});
  s.stdout_closed_pipe = true;
  r = run_cli(s);
  EXPECT_EQ(r.status, 0) << r.err;
  // Progress lines (stderr is not a terminal) may appear; no error or warning may.
  EXPECT_EQ(r.err.find("error"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
}

// Probe 2026-12-05: with stderr closed (`ripvec index 2>&-`) the objects, the manifest and the
// snapshot the index opened took descriptor 2 while another thread still printed progress to
// it (strace: objects written as fd 2 between "embedding" and "writing the index" lines); with
// stdout closed, a server's replies could go into whatever file became fd 1. Closed standard
// descriptors are now held by /dev/null from the start, opened so that using them still fails
// with EBADF. Checked on a live `ripvec lsp` (waiting on its stdin) through /proc.
TEST(CliOutputEmbed, ClosedStandardDescriptorsAreNeverReused) {
  int in[2];
  ASSERT_EQ(::pipe(in), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::close(in[0]);
    ::close(in[1]);
    ::close(1);
    ::close(2);
    ::execl(RIPVEC_CLI, RIPVEC_CLI, "lsp", "--no-watch", "--model", "/nonexistent/model",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(in[0]);
  auto link = [&](int fd) {
    char buf[4096];
    const std::string p = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
    const ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  std::string fd1, fd2;
  for (int i = 0; i < 300 && (fd1 != "/dev/null" || fd2 != "/dev/null"); ++i) {
    ::usleep(10000);  // the server starts, then waits for its first message
    fd1 = link(1);
    fd2 = link(2);
  }
  ::close(in[1]);  // end of input: the server exits
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(fd1, "/dev/null");
  EXPECT_EQ(fd2, "/dev/null");
  EXPECT_TRUE(WIFEXITED(status)) << status;

  // Writing to a closed stdout is still the error it was; a closed stderr loses only messages.
  TempDir d;
  d.write("a.py", "def alpha():\n    return 1\n");
  CliRun closed_out = tiny_run({"-q", "--no-index", "alpha", d.path().string()});
  closed_out.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" >&-"};
  auto r = run_cli(closed_out);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("error writing to stdout: Bad file descriptor"), std::string::npos) << r.err;
  CliRun closed_err = tiny_run({"--no-index", "alpha", d.path().string()});
  closed_err.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&-"};
  r = run_cli(closed_err);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("alpha"), std::string::npos) << r.out;
  CliRun closed_in = tiny_run({"embed"});
  closed_in.prefix = {"/bin/sh", "-c", "exec \"$0\" \"$@\" <&-"};
  r = run_cli(closed_in);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("stdin"), std::string::npos) << r.err;
}

// Probe 2026-12-05: `--color always` colored the normal output but not -l or --vimgrep, which
// ripgrep colors (the path in both; in --vimgrep also the line number and the match). Now the
// same path color (magenta) as a result heading; never with --color never, nor with NO_COLOR
// on a terminal; and no color when stdout is not a terminal (the plain bytes as before).
TEST_F(CliOutput, FilesWithMatchesAndVimgrepAreColoredLikeResults) {
  const std::string path = (repo_ / "src/fib.py").string();
  auto run = [&](std::vector<std::string> flags, bool tty = false, bool no_color = false) {
    std::vector<std::string> args{"-q", "--no-index", "-n", "1"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"fibonacci sequence", repo_.path().string()});
    CliRun r = tiny_run(args);
    r.tty = tty;
    r.env["NO_COLOR"] = no_color ? "1" : kUnset;
    auto res = run_cli(r);
    EXPECT_EQ(res.status, 0) << res.err;
    // A terminal turns "\n" into "\r\n".
    res.out.erase(std::remove(res.out.begin(), res.out.end(), '\r'), res.out.end());
    return res.out;
  };
  const std::string magenta = "\x1b[35m" + path + "\x1b[0m";
  EXPECT_EQ(run({"-l", "--color", "always"}), magenta + "\n");
  EXPECT_EQ(run({"-l"}), path + "\n");
  EXPECT_EQ(run({"-l"}, true), magenta + "\n");
  EXPECT_EQ(run({"-l"}, true, true), path + "\n");
  EXPECT_EQ(run({"-l", "--color", "never"}, true), path + "\n");

  const std::string colored = run({"--vimgrep", "--color", "always"});
  EXPECT_EQ(colored.rfind(magenta + ":\x1b[32m1\x1b[0m:5:def ", 0), 0u) << colored;
  EXPECT_NE(colored.find("\x1b[1;31mfibonacci\x1b[0m"), std::string::npos) << colored;
  EXPECT_EQ(run({"--vimgrep"}), path + ":1:5:def fibonacci(count):\n");
  EXPECT_EQ(run({"--vimgrep"}, true), colored);
  EXPECT_FALSE(has_escape(run({"--vimgrep"}, true, true)));
  EXPECT_FALSE(has_escape(run({"--vimgrep", "--color", "never"}, true)));
}

std::vector<std::string> dir_names(const fs::path& d) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(d)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A full disk during --npy: error, and no partial (or 0-byte) file; an existing file is kept.
TEST(CliOutputNpy, NpyFullDiskLeavesNoPartialFile) {
  TempDir out;
  CliRun r = tiny_run({"embed", "--npy", (out / "v.npy").string()});
  r.stdin_from_data = true;
  for (int i = 0; i < 64; ++i) r.stdin_data += "text number " + std::to_string(i) + "\n";
  r.fsize_limit = 8192;  // 64 x 128 floats = 32 KiB does not fit
  auto res = run_cli(r);
  EXPECT_EQ(res.status, 2) << res.err;
  EXPECT_NE(res.err.find("v.npy"), std::string::npos) << res.err;
  EXPECT_NE(res.err.find("File too large"), std::string::npos) << res.err;
  EXPECT_EQ(dir_names(out.path()), std::vector<std::string>{}) << "partial or temporary file left";

  out.write("v.npy", "previous contents");
  res = run_cli(r);
  EXPECT_EQ(res.status, 2) << res.err;
  EXPECT_EQ(dir_names(out.path()), std::vector<std::string>{"v.npy"});
  EXPECT_EQ(slurp(out / "v.npy"), "previous contents");

  r.fsize_limit = 0;  // room enough: the file is replaced, complete
  res = run_cli(r);
  EXPECT_EQ(res.status, 0) << res.err;
  EXPECT_EQ(dir_names(out.path()), std::vector<std::string>{"v.npy"});
  EXPECT_EQ(fs::file_size(out / "v.npy"), 128u + 64 * 128 * 4);
}

// Through a symlink the target is replaced and the link kept; through /dev/stdout the bytes go
// to stdout (no regular file is put in place of the link).
TEST(CliOutputNpy, NpyThroughSymlinkReplacesTarget) {
  TempDir out;
  out.write("real.npy", "old");
  fs::create_symlink(out / "real.npy", out / "link.npy");
  auto r = run_cli(tiny_run({"embed", "--npy", (out / "link.npy").string(), "hi"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(out / "link.npy"));
  EXPECT_EQ(slurp(out / "real.npy").substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(dir_names(out.path()), (std::vector<std::string>{"link.npy", "real.npy"}));
  auto s = run_cli(tiny_run({"embed", "--npy", "/dev/stdout", "hi"}));
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_EQ(s.out.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(s.out.size(), 128u + 128 * 4);
  EXPECT_TRUE(fs::is_symlink("/dev/stdout"));
}

// Probe 2026-12-05: `--npy -` wrote a file named "-" in the current folder; "-" is standard
// output, as for most tools.
TEST(CliOutputNpy, NpyDashIsStandardOutput) {
  TempDir d;
  CliRun e = tiny_run({"embed", "--npy", "-", "hello", "world"});
  e.cwd = d.path();
  auto r = run_cli(e);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind(std::string("\x93NUMPY", 6), 0), 0u);
  EXPECT_FALSE(fs::exists(d / "-"));
}

// Probe 2026-12-05 (second round): `--npy -` reopened /dev/stdout, truncating the file stdout
// was redirected to (`>> log` lost what it held) and ignoring a closed stdout or a reader that
// left. Standard output is now written through the checked stdout of every other output.
CliRun through_shell(CliRun r, const std::string& redirect) {
  r.prefix = {"/bin/bash", "-c", "set -o pipefail; \"$@\" " + redirect, "sh"};
  return r;
}

TEST(CliOutputNpy, DashAppendsToTheFileStdoutWasRedirectedTo) {
  TempDir d;
  d.write("log", "precious\n");
  const auto r = run_cli(through_shell(tiny_run({"embed", "--npy", "-", "hello"}),
                                       ">> '" + (d / "log").string() + "'"));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string got = slurp(d / "log");
  EXPECT_EQ(got.substr(0, 9), "precious\n");
  EXPECT_EQ(got.substr(9, 6), "\x93NUMPY");
  EXPECT_EQ(got.size(), 9u + 128u + 128 * 4);
}

// Hostile probe 2026-12-05, third round: a link to /dev/stdout, or /proc/thread-self/fd/1, was
// resolved through the kernel's own links to the file stdout was redirected to, which --npy
// then replaced (`>> log` lost what log held; exit 0); /dev/stdin replaced the file stdin read.
// Links are followed only up to /dev/ and /proc/: a named descriptor is written in place, a
// regular file named through them is refused.
TEST(CliOutputNpy, LinksToStdoutOrStdinNeverReplaceTheirFile) {
  TempDir d;
  fs::create_symlink("/dev/stdout", d / "to-stdout");
  for (const std::string target :
       {(d / "to-stdout").string(), std::string("/proc/thread-self/fd/1")}) {
    SCOPED_TRACE(target);
    d.write("log", "precious\n");
    const auto r = run_cli(through_shell(tiny_run({"embed", "--npy", target, "hello"}),
                                         ">> '" + (d / "log").string() + "'"));
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string got = slurp(d / "log");
    EXPECT_EQ(got.substr(0, 9), "precious\n");
    EXPECT_EQ(got.substr(9, 6), "\x93NUMPY");
  }
  d.write("in.txt", "a\nb\n");
  const auto r = run_cli(through_shell(tiny_run({"embed", "--npy", "/dev/stdin", "x"}),
                                       "< '" + (d / "in.txt").string() + "'"));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("pseudo file system"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(d / "in.txt"), "a\nb\n");
}

// Hostile probe 2026-12-05, third round: as another user, --npy replaced a read-only file (root's,
// 0444) in a folder anyone may write, by rename; a shell's `> FILE` fails there. Now the same
// "Permission denied", exit 2, the file as it was.
TEST(CliOutputNpy, ReadOnlyFileIsNotReplaced) {
  if (::geteuid() != 0 || !fs::exists("/usr/bin/setpriv"))
    GTEST_SKIP() << "needs root and setpriv to run as another user";
  TempDir d;
  fs::permissions(d.path(), fs::perms::all | fs::perms::sticky_bit);
  d.write("ro.npy", "keep");
  fs::permissions(d / "ro.npy",
                  fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  CliRun r = tiny_run({"embed", "--npy", (d / "ro.npy").string(), "hi"});
  r.prefix = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  const auto res = run_cli(r);
  EXPECT_EQ(res.status, 2) << res.err;
  EXPECT_NE(res.err.find("cannot write '" + (d / "ro.npy").string() + "': Permission denied"),
            std::string::npos)
      << res.err;
  EXPECT_EQ(slurp(d / "ro.npy"), "keep");
}

TEST(CliOutputNpy, DashWithClosedStdoutIsAnErrorAndAClosedPipeIsNot) {
  const auto closed = run_cli(through_shell(tiny_run({"embed", "--npy", "-", "hello"}), ">&-"));
  EXPECT_EQ(closed.status, 2) << closed.err;
  EXPECT_NE(closed.err.find("error writing to stdout"), std::string::npos) << closed.err;
  std::string input;
  for (int i = 0; i < 3000; ++i) input += "line " + std::to_string(i) + "\n";
  CliRun r = through_shell(tiny_run({"embed", "--npy", "-"}), "| head -c 20 >/dev/null");
  r.stdin_from_data = true;
  r.stdin_data = input;
  const auto piped = run_cli(r);
  EXPECT_EQ(piped.status, 0) << piped.err;
  EXPECT_EQ(piped.err, "");
}

// A file replaced by --npy keeps its mode (a private file stayed private only by luck of the
// umask before: it became 0644).
TEST(CliOutputNpy, ReplacedFileKeepsItsMode) {
  TempDir d;
  d.write("v.npy", "old");
  fs::permissions(d / "v.npy", fs::perms::owner_read | fs::perms::owner_write);
  const auto r = run_cli(tiny_run({"embed", "--npy", (d / "v.npy").string(), "hi"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(fs::status(d / "v.npy").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(slurp(d / "v.npy").substr(0, 6), "\x93NUMPY");
}

// Through a link whose target does not exist yet, the target is written and the link kept
// (the link was replaced by a regular file).
TEST(CliOutputNpy, DanglingSymlinkKeepsTheLinkAndWritesItsTarget) {
  TempDir d;
  fs::create_symlink("target.npy", d / "link.npy");
  const auto r = run_cli(tiny_run({"embed", "--npy", (d / "link.npy").string(), "hi"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(d / "link.npy")));
  EXPECT_EQ(slurp(d / "target.npy").substr(0, 6), "\x93NUMPY");
}

// Killed while rows stream into the temporary file (an endless stdin), ripvec removes it: it
// stayed behind, and `yes | ripvec embed --npy F` left gigabytes.
TEST(CliOutputNpy, SignalRemovesTheTemporaryFile) {
  TempDir d;
  int in[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  SpawnArgs sa(tiny_run({"embed", "--npy", (d / "v.npy").string()}));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, sa.argv[0], &fa, nullptr, sa.argv.data(), sa.envp.data()), 0);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  std::string block;
  for (int i = 0; i < 9000; ++i) block += "text " + std::to_string(i) + "\n";
  ASSERT_EQ(::write(in[1], block.data(), std::min<size_t>(block.size(), 60000)), 60000);
  // Wait (at most 30 s) for the temporary file, then for rows in it (past the 128-byte header).
  bool seen = false;
  for (int i = 0; i < 300 && !seen; ++i) {
    for (const auto& e : fs::directory_iterator(d.path()))
      if (e.path().filename().string().find(".ripvec-tmp-") != std::string::npos &&
          fs::file_size(e.path()) > 128)
        seen = true;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(seen) << "no temporary file with rows appeared";
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(in[1]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  EXPECT_EQ(dir_names(d.path()), std::vector<std::string>{}) << "left behind";
}

TEST(CliOutputNpy, NpyToDevFullExits2) {
  auto r = run_cli(tiny_run({"embed", "--npy", "/dev/full", "hello"}));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
}

TEST(CliOutputNpy, NpyIntoMissingDirectoryOrOntoDirectoryExits2) {
  TempDir out;
  auto r = run_cli(tiny_run({"embed", "--npy", (out / "no/such/dir/v.npy").string(), "hi"}));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
  r = run_cli(tiny_run({"embed", "--npy", out.path().string(), "hi"}));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("directory"), std::string::npos) << r.err;
}

// `ripvec embed ARGS` with stdin and stdout on pipes the test holds: `input` is written to stdin,
// which stays open until stdout has shown a whole line or `wait_s` passed; then stdin is closed
// and the rest of stdout read. `before_close` is what stdout showed while stdin was still open.
struct PipedEmbed {
  int status = -1;
  std::string before_close, out;
};

PipedEmbed embed_through_pipes(const std::vector<std::string>& args, const std::string& input,
                               double wait_s) {
  PipedEmbed res;
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe failed";
    return res;
  }
  SpawnArgs sa(tiny_run(args));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, sa.argv[0], &fa, nullptr, sa.argv.data(), sa.envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    ADD_FAILURE() << "posix_spawn failed: " << rc;
    return res;
  }
  // Write the input while reading stdout (the child's output may exceed a pipe buffer); a child
  // that exits early makes the write fail with EPIPE, not kill the test.
  void (*old_pipe)(int) = ::signal(SIGPIPE, SIG_IGN);
  size_t written = 0;
  bool in_open = true;
  const auto t0 = std::chrono::steady_clock::now();
  std::string got;
  char buf[65536];
  for (;;) {
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (in_open && written == input.size() &&
        (got.find('\n') != std::string::npos || waited > wait_s)) {
      res.before_close = got;
      ::close(in[1]);
      in_open = false;
    }
    pollfd p[2] = {{out[0], POLLIN, 0}, {in_open ? in[1] : -1, POLLOUT, 0}};
    if (written == input.size()) p[1].fd = -1;
    if (::poll(p, 2, 100) < 0 && errno != EINTR) break;
    if (p[1].revents & (POLLOUT | POLLERR)) {
      const ssize_t w =
          ::write(in[1], input.data() + written, std::min<size_t>(input.size() - written, 4096));
      if (w <= 0) break;
      written += static_cast<size_t>(w);
    }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
  }
  if (in_open) ::close(in[1]);
  ::close(out[0]);
  ::signal(SIGPIPE, old_pipe);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  res.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  res.out = std::move(got);
  return res;
}

// Probe 2026-12-05: `yes | ripvec embed` read all of stdin before embedding anything: its
// memory grew without bound and it never printed a line. Stdin is now embedded block by block
// (8,192 lines): the first vectors come out while stdin is still open, and the output is the
// same as for the whole input at once.
TEST(CliOutputEmbed, YesPipedIntoEmbedPrintsBeforeStdinCloses) {
  std::string input;
  for (int i = 0; i < 20000; ++i) input += "y\n";
  const auto r = embed_through_pipes({"embed"}, input, 30);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.before_close.find('\n'), std::string::npos)
      << "nothing printed while stdin was open (" << r.before_close.size() << " bytes)";
  const auto lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 20000u);
  EXPECT_EQ(lines.front(), lines.back());
  EXPECT_EQ(nlohmann::json::parse(lines.front()).size(), 128u);
}

// Probe 2026-12-05: a producer that pauses (`tail -f log | ripvec embed`) got nothing until 8,192
// lines had come. The lines it sent are embedded once stdin stays quiet for a moment.
TEST(CliOutputEmbed, PausedProducerGetsItsRowsBeforeMoreInput) {
  const auto r = embed_through_pipes({"embed"}, "first\nsecond\nthird\n", 20);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.before_close.find('\n'), std::string::npos)
      << "rows held back while stdin stayed open (waited 20 s)";
  EXPECT_EQ(split_lines(r.out).size(), 3u);
}

// Probe 2026-12-06: on the CPU each embedding call took every block tokenized so far (up to
// 65,536 texts), so a long stream's first rows came after a whole block of 8,192 texts: a
// minute and more with the default model on 2 cores. A CPU call takes at most 1,024 texts.
// 9,000 texts of about 60 tokens with the default model: the first row must come within 30 s
// (about 8 s on 2 idle cores; the first 8,192 texts take over a minute).
TEST(CliOutputEmbed, FirstRowsOfALongStreamComeWithinSeconds) {
  RIPVEC_REQUIRE_PATH(default_model_dir());
  std::string input;
  for (int i = 0; i < 9000; ++i) {
    input += "line " + std::to_string(i) + ":";
    for (int w = 0; w < 40; ++w) input += " word" + std::to_string((i * 7 + w) % 997);
    input += "\n";
  }
  CliRun run;
  run.args = {"embed", "--model", default_model_dir().string(), "--device", "cpu"};
  run.env["HF_HUB_OFFLINE"] = "1";
  SpawnArgs sa(run);
  int in[2], out[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, sa.argv[0], &fa, nullptr, sa.argv.data(), sa.envp.data()), 0);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  void (*old_pipe)(int) = ::signal(SIGPIPE, SIG_IGN);
  const auto t0 = std::chrono::steady_clock::now();
  size_t written = 0;
  std::string got;
  char buf[65536];
  double first_row_s = -1;
  // stdin stays open: the rows must come from what was sent, not from its end.
  while (first_row_s < 0) {
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (waited > 30) break;
    pollfd p[2] = {{out[0], POLLIN, 0}, {written < input.size() ? in[1] : -1, POLLOUT, 0}};
    if (::poll(p, 2, 100) < 0 && errno != EINTR) break;
    if (p[1].revents & POLLOUT) {
      const ssize_t w =
          ::write(in[1], input.data() + written, std::min<size_t>(input.size() - written, 65536));
      if (w <= 0) break;
      written += static_cast<size_t>(w);
    }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
      if (got.find('\n') != std::string::npos)
        first_row_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(in[1]);
  ::close(out[0]);
  ::signal(SIGPIPE, old_pipe);
  EXPECT_GE(first_row_s, 0) << "no row within 30 s (" << written << " bytes of input sent)";
  if (first_row_s >= 0) std::printf("first row after %.1f s\n", first_row_s);
}

// Hostile probe 2026-12-06: `embed --json` stopped by a line that is not UTF-8 printed the
// rows before it but never the array's closing ']': stdout was not JSON. It is closed.
TEST(CliOutputEmbed, JsonArrayIsClosedWhenABadLineEndsTheRun) {
  std::string input;
  for (int i = 0; i < 1500; ++i)
    input += i == 1200 ? "bad \xff\n" : "ok " + std::to_string(i) + "\n";
  CliRun r = tiny_run({"embed", "--json"});
  r.stdin_data = input;
  r.stdin_from_data = true;
  auto res = run_cli(r);
  EXPECT_EQ(res.status, 2) << res.err;
  EXPECT_NE(res.err.find("stdin line 1201"), std::string::npos) << res.err;
  nlohmann::json rows;
  ASSERT_NO_THROW(rows = nlohmann::json::parse(res.out)) << res.out.substr(res.out.size() - 200);
  EXPECT_EQ(rows.size(), 1200u);
}

// A stream without newlines is not one text: past 64 MiB the line is refused (exit 2, naming
// the line; rows of the blocks before it are printed first) instead of growing in memory.
TEST(CliOutputEmbed, EndlessLineIsAnErrorNotUnboundedMemory) {
  std::string input = "first\n";
  input += std::string((size_t{64} << 20) + (size_t{2} << 20), 'x');
  CliRun r = tiny_run({"embed"});
  r.stdin_from_data = true;
  r.stdin_data = std::move(input);
  const auto res = run_cli(r);
  EXPECT_EQ(res.status, 2) << res.err;
  EXPECT_NE(res.err.find("stdin line 2 is longer than 64 MiB"), std::string::npos) << res.err;
}

// The blocks of a long stdin make the rows of one call over the whole input, in input order, in
// every format: lines, --json, --npy FILE (its header written last, with the row count) and
// --npy - (rows kept until the end: a pipe cannot be rewound to patch the header). The texts
// repeat every 1,000 lines, so a row out of place across blocks shows.
TEST(CliOutputNpy, StdinOfManyBlocksGivesTheSameRowsInEveryFormat) {
  std::string input;
  for (int i = 0; i < 20000; ++i)
    input +=
        "text " + std::to_string(i % 1000 * 7919 % 1009) + (i % 1000 % 3 ? " and more\n" : "\n");
  CliRun lines_run = tiny_run({"embed"});
  lines_run.stdin_from_data = true;
  lines_run.stdin_data = input;
  const auto lines = run_cli(lines_run);
  ASSERT_EQ(lines.status, 0) << lines.err;
  const auto rows = split_lines(lines.out);
  ASSERT_EQ(rows.size(), 20000u);
  for (size_t i = 1000; i < rows.size(); ++i) ASSERT_EQ(rows[i], rows[i % 1000]) << i;
  EXPECT_NE(rows[0], rows[1]);
  CliRun json_run = lines_run;
  json_run.args.insert(json_run.args.begin() + 1, "--json");
  const auto json = run_cli(json_run);
  ASSERT_EQ(json.status, 0) << json.err;
  std::string expect_json = "[";
  for (size_t i = 0; i < rows.size(); ++i) expect_json += (i ? "," : "") + rows[i];
  EXPECT_TRUE(json.out == expect_json + "]\n") << "--json differs from the lines";

  TempDir d;
  CliRun npy_run = lines_run;
  npy_run.args.insert(npy_run.args.begin() + 1, {"--npy", (d / "v.npy").string()});
  const auto npy = run_cli(npy_run);
  ASSERT_EQ(npy.status, 0) << npy.err;
  EXPECT_EQ(npy.out, "");
  CliRun dash_run = lines_run;
  dash_run.args.insert(dash_run.args.begin() + 1, {"--npy", "-"});
  const auto dash = run_cli(dash_run);
  ASSERT_EQ(dash.status, 0) << dash.err;
  const std::string file = slurp(d / "v.npy");
  EXPECT_TRUE(file == dash.out) << "--npy FILE and --npy - differ";
  ASSERT_EQ(file.size(), 128u + rows.size() * 128 * 4);
  EXPECT_NE(file.substr(0, 128).find("'shape': (20000, 128), }"), std::string::npos)
      << file.substr(0, 128);
  EXPECT_EQ(file[127], '\n');
  for (size_t i : {size_t{0}, size_t{8191}, size_t{8192}, size_t{19999}}) {
    std::vector<float> row(128);
    std::memcpy(row.data(), file.data() + 128 + i * 128 * 4, 128 * 4);
    EXPECT_EQ(row, nlohmann::json::parse(rows[i]).get<std::vector<float>>()) << i;
  }
  EXPECT_EQ(dir_names(d.path()), std::vector<std::string>{"v.npy"});
}

// NaN weights: `embed --json` must not print [[nan,...]] (invalid JSON); the load fails naming
// the tensor, and stdout stays empty.
TEST(CliOutputEmbed, EmbedJsonWithNanWeightsExits2) {
  TempDir m;
  fs::copy(tiny_model(), m.path() / "model", fs::copy_options::recursive);
  std::string st = slurp(m.path() / "model/model.safetensors");
  uint64_t hlen = 0;
  std::memcpy(&hlen, st.data(), 8);
  const auto hdr = nlohmann::json::parse(st.substr(8, hlen));
  const std::string name = "embeddings.word_embeddings.weight";
  ASSERT_TRUE(hdr.contains(name)) << hdr.dump().substr(0, 300);
  const size_t off = 8 + hlen + hdr[name]["data_offsets"][0].get<size_t>();
  const uint32_t inf32 = 0x7f800000u;
  const uint16_t inf16 = hdr[name]["dtype"] == "BF16" ? 0x7f80 : 0x7c00;
  if (hdr[name]["dtype"] == "F32")
    std::memcpy(st.data() + off, &inf32, 4);
  else
    std::memcpy(st.data() + off, &inf16, 2);
  m.write("model/model.safetensors", st);
  CliRun r;
  r.args = {"embed", "--json", "--model", (m.path() / "model").string(), "--device", "cpu", "hi"};
  auto res = run_cli(r);
  EXPECT_EQ(res.status, 2) << res.err;
  EXPECT_EQ(res.out, "");
  EXPECT_NE(res.err.find(name), std::string::npos) << res.err;
  EXPECT_NE(res.err.find("non-finite"), std::string::npos) << res.err;
}

}  // namespace
}  // namespace ripvec::test
