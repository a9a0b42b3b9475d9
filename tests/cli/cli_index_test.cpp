// `ripvec` search and `ripvec index` on the index service, with a tiny random model (the
// model does not matter here; keyword mode gives deterministic rankings): filters never
// change the index, sub-paths and files are answered from the enclosing index, progress on a
// non-TTY stderr, --status / --list / --clean, and the output modes -l, --vimgrep, -C.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"
#include "common/test_util.hpp"

namespace ripvec::test {
namespace {

namespace fs = std::filesystem;

const char* kPy = R"(import os


def read_settings(path):
    """Load the wallaby settings file."""
    with open(path) as f:
        return f.read()


def write_settings(path, text):
    with open(path, "w") as f:
        f.write(text)
)";

const char* kRs = R"(/// Counts the wallaby entries.
pub fn count_entries(items: &[u32]) -> usize {
    items.len()
}
)";

class CliIndex : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_.write("app/settings.py", kPy);
    repo_.write("lib/count.rs", kRs);
    repo_.write("notes.md", "# Notes\n\nThe wallaby migration plan.\n");
  }
  std::string model() const { return model_dir().string(); }
  static fs::path model_dir() { return fs::path(RIPVEC_TEST_DATA) / "bert/tiny_bge_cls"; }
  CliRun run(std::vector<std::string> args, bool quiet = true) const {
    CliRun r;
    r.args = std::move(args);
    if (quiet) r.args.push_back("-q");
    for (const char* a : {"--device", "cpu", "--cache-dir"}) r.args.push_back(a);
    r.args.push_back(cache_.path().string());
    r.args.push_back("--model");
    r.args.push_back(model());
    r.env["HF_HUB_OFFLINE"] = "1";
    r.env["NO_COLOR"] = kUnset;
    r.env["RIPVEC_CACHE_DIR"] = kUnset;
    return r;
  }
  // The folder of the (one) index in the cache: where its manifest is; empty when none.
  fs::path index_location() const {
    fs::path loc;
    for (const auto& e : fs::recursive_directory_iterator(cache_.path()))
      if (e.path().filename() == "manifest.json") loc = e.path().parent_path();
    return loc;
  }
  static size_t embedded(const std::string& index_out) {
    const auto at = index_out.find("chunks: ");
    return at == std::string::npos ? size_t(-1) : std::stoul(index_out.substr(at + 8));
  }

  TempDir repo_, cache_;
};

// Hostile probe 2026-12-06: `--mode keyword` on a tree never indexed embedded every chunk
// first (minutes on a CPU for a large tree) although a keyword search uses no vector. It now
// searches the files without the index and without the model's weights, says so, and writes
// nothing. The model here has broken weights: loading them fails any search that embeds.
TEST_F(CliIndex, KeywordSearchOfAnUnindexedTreeLoadsNoWeights) {
  TempDir model;
  for (const auto& e : fs::directory_iterator(model_dir()))
    fs::copy(e.path(), model.path() / e.path().filename(), fs::copy_options::recursive);
  fs::remove(model.path() / "model.safetensors");
  model.write("model.safetensors", "these are not weights");
  auto with = [&](std::vector<std::string> args, bool quiet) {
    CliRun r = run(std::move(args), quiet);
    r.args.back() = model.path().string();  // --model's value
    return r;
  };
  auto k = run_cli(with({"--mode", "keyword", "--json", "wallaby entries", repo_.path()}, false));
  ASSERT_EQ(k.status, 0) << k.err;
  EXPECT_NE(k.out.find("lib/count.rs"), std::string::npos) << k.out;
  EXPECT_NE(k.err.find("keyword search without one"), std::string::npos) << k.err;
  auto list = run_cli(with({"index", "--list"}, true));
  EXPECT_EQ(list.status, 1) << "an index was written: " << list.out;
  // The weights are broken indeed: a search that embeds fails.
  auto s = run_cli(with({"--mode", "semantic", "wallaby entries", repo_.path()}, true));
  EXPECT_EQ(s.status, 2) << s.out;
  // Once the tree is indexed (a sound model), keyword searches use the index and say nothing.
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  auto i = run_cli(run({"--mode", "keyword", "wallaby entries", repo_.path()}, false));
  ASSERT_EQ(i.status, 0) << i.err;
  EXPECT_EQ(i.err.find("without one"), std::string::npos) << i.err;
  EXPECT_NE(i.out.find("count.rs"), std::string::npos) << i.out;
}

// Hostile probe 2026-12-06 (second round): the keyword search of a tree never indexed walked
// the PATH given, so `-g` was anchored there (`-g 'src/*.c' src` found nothing, `-g 'sub/*.c'`
// did), and after `ripvec index` at the project root, as documented: the same command gave
// other files. It is anchored at the root either way.
TEST_F(CliIndex, KeywordSearchWithoutAnIndexAnchorsGlobsAtTheRoot) {
  TempDir t;
  fs::create_directories(t.path() / ".git");
  t.write("src/a.c", "int zebra_a(void) { return 1; }\n");
  t.write("src/sub/c.c", "int zebra_c(void) { return 2; }\n");
  auto files = [&](const std::string& glob) {
    auto r = run_cli(run(
        {"--mode", "keyword", "-l", "-g", glob, "zebra_a zebra_c", (t.path() / "src").string()}));
    return std::make_pair(r.status, r.out);
  };
  for (int indexed = 0; indexed < 2; ++indexed) {
    if (indexed) {
      ASSERT_EQ(run_cli(run({"index", t.path().string()})).status, 0);
    }
    auto [st, out] = files("src/*.c");
    EXPECT_EQ(st, 0) << "indexed " << indexed << ": " << out;
    EXPECT_NE(out.find("a.c"), std::string::npos) << out;
    EXPECT_EQ(out.find("c.c"), std::string::npos) << out;
    EXPECT_EQ(files("sub/*.c").first, 1) << "indexed " << indexed;
  }
}

TEST_F(CliIndex, FilteredSearchesLeaveTheIndexUntouched) {
  auto first = run_cli(run({"index", repo_.path()}));
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_GT(embedded(first.out), 0u);
  for (std::vector<std::string> flags : {std::vector<std::string>{"-t", "py"},
                                         {"-T", "rust"},
                                         {"-g", "lib/**"},
                                         {"--hidden"},
                                         {"--no-ignore"},
                                         {"--max-filesize", "100"},
                                         {"--max-filesize", "1G"}}) {
    std::vector<std::string> args = flags;
    for (const char* a : {"--mode", "keyword", "wallaby"}) args.push_back(a);
    args.push_back(repo_.path().string());
    auto r = run_cli(run(args));
    EXPECT_LE(r.status, 1) << r.err;
  }
  auto again = run_cli(run({"index", repo_.path()}));
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(embedded(again.out), 0u) << again.out;
  EXPECT_NE(again.out.find("0 removed"), std::string::npos) << again.out;
}

TEST_F(CliIndex, TypeFilterRestrictsResults) {
  auto r = run_cli(run({"--json", "--mode", "keyword", "-t", "rust", "wallaby", repo_.path()}));
  ASSERT_EQ(r.status, 0) << r.err;
  for (const auto& l : split_lines(r.out))
    EXPECT_EQ(nlohmann::json::parse(l)["language"], "rust") << l;
}

TEST_F(CliIndex, SubDirectoryAndFileAreAnsweredFromTheEnclosingIndex) {
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  auto sub =
      run_cli(run({"--stats", "--json", "--mode", "keyword", "wallaby", (repo_ / "app").string()}));
  ASSERT_EQ(sub.status, 0) << sub.err;
  EXPECT_NE(sub.err.find(" 0 chunks embedded"), std::string::npos) << sub.err;
  for (const auto& l : split_lines(sub.out)) {
    const std::string p = nlohmann::json::parse(l)["path"];
    EXPECT_EQ(p.rfind((repo_ / "app").string(), 0), 0u) << p;
  }
  const std::string file = (repo_ / "lib/count.rs").string();
  auto one = run_cli(run({"--stats", "--json", "--mode", "keyword", "wallaby", file}));
  ASSERT_EQ(one.status, 0) << one.err;
  EXPECT_NE(one.err.find(" 0 chunks embedded"), std::string::npos) << one.err;
  for (const auto& l : split_lines(one.out)) EXPECT_EQ(nlohmann::json::parse(l)["path"], file);
  // No second index was made.
  auto list = run_cli(run({"index", "--list"}));
  EXPECT_EQ(split_lines(list.out).size(), 3u) << list.out;
}

TEST_F(CliIndex, ProgressLinesOnANonTerminalStderr) {
  auto r = run_cli(run({"index", repo_.path()}, /*quiet=*/false));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("ripvec: embedding "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ripvec: done in "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;  // plain lines, no redraws
  // Nothing to do: nothing printed.
  auto again = run_cli(run({"index", repo_.path()}, /*quiet=*/false));
  EXPECT_EQ(again.err, "");
  // -q: silent.
  repo_.write("more.py", "def more():\n    return 1\n");
  auto quiet = run_cli(run({"index", repo_.path()}));
  EXPECT_EQ(quiet.err, "");
}

// Hostile probe 2026-12-06: a progress line's chunk total is what the chunker found so far
// while files are still being chunked ("embedding 0/280 chunks", then 320 embedded). Such a
// total now ends in "+"; a total without it is the run's.
TEST_F(CliIndex, ProgressChunkTotalIsMarkedWhileFilesAreStillChunked) {
  for (int i = 0; i < 300; ++i) {
    std::string body;
    for (int k = 0; k < 6; ++k)
      body += "def f" + std::to_string(i) + "_" + std::to_string(k) + "(x):\n    return x * " +
              std::to_string(k) + "\n\n\n";
    repo_.write("many/m" + std::to_string(i) + ".py", body);
  }
  auto r = run_cli(run({"index", repo_.path()}, /*quiet=*/false));
  ASSERT_EQ(r.status, 0) << r.err;
  const size_t at = r.out.find(" embedded, ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const size_t total = std::stoul(r.out.substr(at + 11));  // "chunks: N embedded, M total"
  int lines = 0;
  for (const auto& l : split_lines(r.err)) {
    const size_t e = l.find("ripvec: embedding ");
    if (e == std::string::npos) continue;
    ++lines;
    const size_t slash = l.find('/', e);
    const size_t end = l.find(" chunks", slash);
    ASSERT_TRUE(slash != std::string::npos && end != std::string::npos) << l;
    std::string denom = l.substr(slash + 1, end - slash - 1);
    const bool lower_bound = !denom.empty() && denom.back() == '+';
    if (lower_bound) denom.pop_back();
    const size_t shown = std::stoul(denom);
    if (lower_bound)
      EXPECT_LE(shown, total) << l;
    else
      EXPECT_EQ(shown, total) << l << " (a total without '+' must be the run's)";
  }
  EXPECT_GE(lines, 1) << r.err;
}

TEST_F(CliIndex, ProgressBarOnATerminal) {
  CliRun r = run({"index", repo_.path().string()}, /*quiet=*/false);
  r.tty = true;
  auto res = run_cli(r);
  ASSERT_EQ(res.status, 0) << res.out;
  EXPECT_NE(res.out.find("loading model"), std::string::npos) << res.out;
  EXPECT_NE(res.out.find("\r\x1b[2Kembedding "), std::string::npos) << res.out;
  EXPECT_NE(res.out.find(" chunks, files "), std::string::npos) << res.out;
  EXPECT_EQ(res.out.find("ripvec: embedding"), std::string::npos) << res.out;  // no log lines
}

TEST_F(CliIndex, StatusListAndClean) {
  auto none = run_cli(run({"index", "--list"}));
  EXPECT_EQ(none.status, 1);
  EXPECT_EQ(none.out, "");
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  repo_.write("new.py", "def fresh():\n    return 1\n");
  auto st = run_cli(run({"index", "--status", (repo_ / "app").string()}));
  ASSERT_EQ(st.status, 0) << st.err;
  EXPECT_NE(st.out.find("root: " + fs::canonical(repo_.path()).string() + "\n"), std::string::npos)
      << st.out;
  EXPECT_NE(st.out.find("files: 3\n"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("stale files: 1\nA new.py\n"), std::string::npos) << st.out;
  auto list = run_cli(run({"index", "--list"}));
  ASSERT_EQ(list.status, 0);
  EXPECT_EQ(list.out.rfind(fs::canonical(repo_.path()).string() + "\n", 0), 0u) << list.out;
  EXPECT_NE(list.out.find("tiny_bge_cls"), std::string::npos) << list.out;
  auto clean = run_cli(run({"index", "--clean", repo_.path()}));
  ASSERT_EQ(clean.status, 0) << clean.err;
  EXPECT_EQ(clean.out.rfind("removed ", 0), 0u) << clean.out;
  EXPECT_EQ(run_cli(run({"index", "--list"})).out, "");
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  EXPECT_EQ(run_cli(run({"index", "--clean", "--all"})).status, 0);
  EXPECT_EQ(run_cli(run({"index", "--list"})).out, "");
}

// Hostile probe 2026-12-06: the index of a project deleted since could be removed only by
// `--clean --all` (every index): `--clean ROOT` with the root --list printed failed "No such
// file or directory". Now it removes that root's indexes; a missing path with no index is
// still an error.
TEST_F(CliIndex, CleanOfADeletedProjectByItsListedRoot) {
  TempDir gone;
  gone.write("g.py", "def gone():\n    return 1\n");
  ASSERT_EQ(run_cli(run({"index", gone.path()})).status, 0);
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  const std::string root = fs::canonical(gone.path()).string();
  fs::remove_all(gone.path());
  auto list = run_cli(run({"index", "--list"}));
  ASSERT_NE(list.out.find(root + "\n"), std::string::npos) << list.out;
  auto clean = run_cli(run({"index", "--clean", root + "/"}));
  ASSERT_EQ(clean.status, 0) << clean.err;
  EXPECT_EQ(clean.out.rfind("removed ", 0), 0u) << clean.out;
  list = run_cli(run({"index", "--list"}));
  EXPECT_EQ(list.out.find(root + "\n"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(fs::canonical(repo_.path()).string()), std::string::npos) << list.out;
  auto again = run_cli(run({"index", "--clean", root}));
  EXPECT_EQ(again.status, 2) << again.out;
  EXPECT_NE(again.err.find("no index of that root"), std::string::npos) << again.err;
}

// An FP32, an INT8 and a BF16 index of one root and model are three indexes, and --list tells
// them apart (the BF16 one was listed like the FP32 one).
TEST_F(CliIndex, ListNamesReducedPrecisionIndexes) {
  for (const char* p : {"f32", "int8", "bf16"})
    ASSERT_EQ(run_cli(run({"index", "--precision", p, repo_.path()})).status, 0) << p;
  auto list = run_cli(run({"index", "--list"}));
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_EQ(split_lines(list.out).size(), 9u) << list.out;
  EXPECT_NE(list.out.find(", int8 vectors, "), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(", bf16 vectors, "), std::string::npos) << list.out;
}

// Probe 2026-12-05: `--status` on an index whose manifest is garbage said "files: 0, last
// update: never" as if nothing were wrong, and `--list` printed a manifest's chunk count
// unchecked (18446744073709551615 chunks). Both now name the damage; the next update repairs
// it and the problem goes away.
TEST_F(CliIndex, StatusAndListNameADamagedManifest) {
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  fs::path manifest;
  for (const auto& e : fs::recursive_directory_iterator(cache_.path()))
    if (e.path().filename() == "manifest.json") manifest = e.path();
  ASSERT_FALSE(manifest.empty());
  nlohmann::json m;
  std::ifstream(manifest) >> m;
  m["snapshot"]["n_chunks"] = 18446744073709551615ull;
  std::ofstream(manifest, std::ios::trunc) << m.dump();
  auto list = run_cli(run({"index", "--list"}));
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_NE(list.out.find("damaged: the manifest's chunk count (18446744073709551615)"),
            std::string::npos)
      << list.out;
  EXPECT_EQ(list.out.find(" 18446744073709551615 chunks"), std::string::npos) << list.out;
  std::ofstream(manifest, std::ios::trunc) << "{garbage";
  auto st = run_cli(run({"index", "--status", repo_.path()}));
  ASSERT_EQ(st.status, 0) << st.err;
  EXPECT_NE(st.out.find("problem: the manifest is damaged: "), std::string::npos) << st.out;
  list = run_cli(run({"index", "--list"}));
  EXPECT_NE(list.out.find("damaged: the manifest is damaged"), std::string::npos) << list.out;
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);  // rebuilds
  st = run_cli(run({"index", "--status", repo_.path()}));
  EXPECT_EQ(st.out.find("problem:"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("files: 3\n"), std::string::npos) << st.out;
  EXPECT_EQ(run_cli(run({"index", "--list"})).out.find("damaged"), std::string::npos);
}

// Hostile probe 2026-12-05, fourth round: with the manifest damaged, --list printed an empty
// line for the root; with the snapshot cut short, --status said "last update: never" where
// --list gave the date. Both say the same now.
TEST_F(CliIndex, StatusAndListAgreeOnADamagedIndex) {
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  fs::path manifest, snapshot;
  for (const auto& e : fs::recursive_directory_iterator(cache_.path())) {
    if (e.path().filename() == "manifest.json") manifest = e.path();
    if (e.path().filename().string().starts_with("snapshot-")) snapshot = e.path();
  }
  ASSERT_FALSE(manifest.empty());
  ASSERT_FALSE(snapshot.empty());
  fs::resize_file(snapshot, 100);
  auto st = run_cli(run({"index", "--status", repo_.path()}));
  ASSERT_EQ(st.status, 0) << st.err;
  EXPECT_EQ(st.out.find("last update: never"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("problem: "), std::string::npos) << st.out;
  auto list = run_cli(run({"index", "--list"}));
  EXPECT_NE(list.out.find("damaged: "), std::string::npos) << list.out;
  std::ofstream(manifest, std::ios::trunc) << "{garbage";
  list = run_cli(run({"index", "--list"}));
  EXPECT_EQ(list.out.rfind("(root unknown: the manifest is damaged)\n", 0), 0u) << list.out;
  // Hostile probe 2026-12-07: damage that keeps the size (one flipped byte) was a problem for
  // --status and a healthy index for --list. Both check the snapshot's checksums now.
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);  // rebuilt
  for (const auto& e : fs::recursive_directory_iterator(cache_.path()))
    if (e.path().filename().string().starts_with("snapshot-")) snapshot = e.path();
  {
    std::fstream f(snapshot, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(snapshot) / 2));
    const char c = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(fs::file_size(snapshot) / 2));
    f.put(static_cast<char>(c ^ 0x5a));
  }
  st = run_cli(run({"index", "--status", repo_.path()}));
  EXPECT_NE(st.out.find("problem: the snapshot "), std::string::npos) << st.out;
  list = run_cli(run({"index", "--list"}));
  EXPECT_NE(list.out.find(", damaged: the snapshot "), std::string::npos) << list.out;
  // With no manifest at all (a first index stopped before its commit), --list says so instead
  // of calling the manifest damaged (hostile probe 2026-12-07).
  fs::remove(manifest);
  for (const auto& e : fs::directory_iterator(manifest.parent_path()))
    if (e.path().filename().string().starts_with("snapshot-")) fs::remove(e.path());
  list = run_cli(run({"index", "--list"}));
  EXPECT_EQ(list.out.rfind("(root unknown: no update committed yet", 0), 0u) << list.out;
  EXPECT_EQ(list.out.find("damaged"), std::string::npos) << list.out;
}

// Probe 2026-12-05 (second round): --status and --list printed the root raw (an escape sequence
// in a folder name reached the terminal); the index report already escaped it.
TEST_F(CliIndex, StatusAndListEscapeTheRoot) {
  TempDir parent;
  const fs::path root = parent / "root\x1b[2J";
  fs::create_directories(root);
  std::ofstream(root / "a.py") << "def a():\n    return 1\n";
  ASSERT_EQ(run_cli(run({"index", root.string()})).status, 0);
  for (const auto& args : {std::vector<std::string>{"index", "--status", root.string()},
                           std::vector<std::string>{"index", "--list"}}) {
    auto r = run_cli(run(args));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("root\\x1B[2J"), std::string::npos) << r.out;
  }
}

// Probe 2026-12-05: a folder counted as an index when it held a file named `lock` or
// `manifest.json`, so `ripvec index --clean --all --cache-dir ~` (or RIPVEC_CACHE_DIR=$HOME)
// deleted every project with a web manifest, whole, and --list listed them. Only folders
// holding nothing but what an index writes, with an empty lock or a ripvec manifest, count.
TEST_F(CliIndex, CleanAllNeverRemovesFoldersThatAreNotIndexes) {
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  const fs::path c = cache_.path();
  auto put = [&](const std::string& rel, const std::string& text) {
    fs::create_directories((c / rel).parent_path());
    std::ofstream(c / rel, std::ios::binary) << text;
  };
  put("webapp/manifest.json", R"({"name": "My PWA", "start_url": "/"})");
  put("webapp/app.js", "console.log(1)\n");
  put("lonely/manifest.json", R"({"name": "only a manifest"})");
  put("proj/sub/lock", "pid 4242\n");
  put("proj/sub/notes.txt", "years of work\n");
  put("lockfile/lock", "pid 4242\n");
  put("proj/empty-lock-and-more/lock", "");
  put("proj/empty-lock-and-more/thesis.tex", "\\documentclass{article}\n");
  auto list = run_cli(run({"index", "--list"}));
  ASSERT_EQ(list.status, 0) << list.err;
  for (const char* d : {"webapp", "lonely", "proj", "lockfile"})
    EXPECT_EQ(list.out.find(c.string() + "/" + d), std::string::npos) << list.out;
  auto clean = run_cli(run({"index", "--clean", "--all"}));
  ASSERT_EQ(clean.status, 0) << clean.err;
  for (const char* f :
       {"webapp/manifest.json", "webapp/app.js", "lonely/manifest.json", "proj/sub/lock",
        "proj/sub/notes.txt", "lockfile/lock", "proj/empty-lock-and-more/thesis.tex"})
    EXPECT_TRUE(fs::exists(c / f)) << f << " was removed";
  EXPECT_EQ(run_cli(run({"index", "--list"})).out, "");  // the real index is gone
}

// Probe 2026-12-05: without $HOME (a service, a cron job) the cache was <temp>/ripvec-cache,
// the same folder for every user: whoever made it first served their index to the others and
// could collect theirs. It is now <temp>/ripvec-cache-<uid>, and when it exists it must be a
// folder of this user's that only it can write (not a symlink, not another user's).
TEST_F(CliIndex, CacheWithoutHomeIsPerUserAndMustBeOurs) {
  TempDir tmp;
  auto index_without_home = [&] {
    CliRun r;
    r.args = {"index", "-q", repo_.path().string(), "--device", "cpu", "--model", model()};
    r.env["HF_HUB_OFFLINE"] = "1";
    for (const char* v : {"HOME", "XDG_CACHE_HOME", "RIPVEC_CACHE_DIR"}) r.env[v] = kUnset;
    r.env["TMPDIR"] = tmp.path().string();
    return run_cli(r);
  };
  const fs::path ours = tmp / ("ripvec-cache-" + std::to_string(::getuid()));
  auto r = index_without_home();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_directory(ours));
  EXPECT_FALSE(fs::exists(tmp / "ripvec-cache"));

  fs::remove_all(ours);
  fs::create_directories(tmp / "elsewhere");
  fs::create_directory_symlink(tmp / "elsewhere", ours);
  r = index_without_home();
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("RIPVEC_CACHE_DIR"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(tmp / "elsewhere"));

  fs::remove(ours);
  fs::create_directories(ours);
  fs::permissions(ours, fs::perms::all);  // world-writable: anyone could swap the index
  r = index_without_home();
  EXPECT_EQ(r.status, 2) << r.err;
  if (::geteuid() == 0) {  // another user's folder
    fs::permissions(ours, fs::perms::owner_all);
    ASSERT_EQ(::chown(ours.c_str(), 65534, 65534), 0);
    r = index_without_home();
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_TRUE(fs::is_empty(ours));
  }
}

// Probe 2026-12-07: a relative $XDG_CACHE_HOME was taken relative to the current folder, so
// indexes were scattered over every folder ripvec ran in. The XDG spec says to ignore it.
TEST_F(CliIndex, RelativeXdgCacheHomeOrHomeIsIgnored) {
  TempDir home, cwd;
  CliRun r;
  r.args = {"index", "-q", repo_.path().string(), "--device", "cpu", "--model", model()};
  r.env["HF_HUB_OFFLINE"] = "1";
  r.env["RIPVEC_CACHE_DIR"] = kUnset;
  r.env["HOME"] = home.path().string();
  r.env["XDG_CACHE_HOME"] = "relcache";
  r.cwd = cwd.path();
  auto out = run_cli(r);
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_FALSE(fs::exists(cwd / "relcache")) << "the index went under the current folder";
  EXPECT_TRUE(fs::is_directory(home / ".cache" / "ripvec"));
  // So is a relative HOME (hostile probe 2026-12-07: ./relhome/.cache/ripvec was made): no home,
  // the per-user folder in the temp directory.
  TempDir tmp;
  r.env["XDG_CACHE_HOME"] = kUnset;
  r.env["HOME"] = "relhome";
  r.env["TMPDIR"] = tmp.path().string();
  out = run_cli(r);
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_FALSE(fs::exists(cwd / "relhome")) << "the index went under the current folder";
  EXPECT_TRUE(fs::is_directory(tmp / ("ripvec-cache-" + std::to_string(::getuid()))));
}

// Probe 2026-12-07: on a full disk, a search of a valid index failed whole (exit 2, nothing
// printed) because its update could not write. A failed update leaves the index as it was last
// written: that is searched, the error and "may be out of date" go to stderr, and the status is
// 2 (an error occurred, as ripgrep's). Here `objects` is made a FIFO, which the next update
// refuses with an IoError as it would refuse a full disk.
TEST_F(CliIndex, SearchWhoseUpdateFailsServesTheLastIndexAndExits2) {
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  const fs::path loc = index_location();
  ASSERT_FALSE(loc.empty());
  fs::remove_all(loc / "objects");
  ASSERT_EQ(::mkfifo((loc / "objects").c_str(), 0644), 0);
  repo_.write("lib/koala.py", "def koala_count(x):\n    return x + 1\n");
  auto r = run_cli(run({"--mode", "keyword", "-l", "wallaby", repo_.path()}));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("objects is not a folder"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("may be out of date"), std::string::npos) << r.err;
  EXPECT_EQ(split_lines(r.out).size(), 3u) << r.out;  // the three files of the last update
  // A tree never indexed has no last update to serve: the error alone, as before. (Semantic:
  // a keyword search of a tree without an index searches its files without one.) Another
  // PATH's root is still searched (review 2026-12-07: its results were dropped).
  fs::remove(loc / "manifest.json");
  r = run_cli(run({"--mode", "semantic", "-l", "wallaby", repo_.path()}));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("objects is not a folder"), std::string::npos) << r.err;
  TempDir other;
  other.write(".git/HEAD", "ref: refs/heads/main\n");
  other.write("zoo.py", "def wallaby_feeding_schedule():\n    return 'wallaby'\n");
  r = run_cli(run({"--mode", "semantic", "-l", "wallaby", repo_.path(), other.path()}));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("objects is not a folder"), std::string::npos) << r.err;
  EXPECT_EQ(split_lines(r.out), std::vector<std::string>{(other / "zoo.py").string()}) << r.out;
}

// Hostile probe 2026-12-07: under a low open-file limit (`ulimit -n 5`) folders and ignore files
// that could not be opened (EMFILE) were taken for unreadable: their files were removed from a
// good index, and a .gitignore'd secret was indexed, with exit status 0. The process's limit is
// not a property of the files: the update fails naming the limit, and the index is unchanged.
TEST_F(CliIndex, TooManyOpenFilesNeverRemovesFilesFromTheIndex) {
  RIPVEC_REQUIRE_PATH("/usr/bin/prlimit");
  repo_.write(".git/HEAD", "ref: refs/heads/main\n");
  repo_.write(".gitignore", "secret*\n");
  repo_.write("secret_keys.py", "API_KEY = 'wallaby'\n");
  for (int d = 0; d < 6; ++d)
    for (int f = 0; f < 4; ++f)
      repo_.write("pkg" + std::to_string(d) + "/m" + std::to_string(f) + ".py",
                  "def f" + std::to_string(d) + "_" + std::to_string(f) + "():\n    return 1\n");
  auto r = run_cli(run({"index", repo_.path()}, false));
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_NE(r.out.find("files: 28 seen, 28 added"), std::string::npos) << r.out;
  CliRun limited = run({"index", repo_.path()}, false);
  limited.prefix = {"/usr/bin/prlimit", "--nofile=5:5"};
  r = run_cli(limited);
  if (r.status != 0) {
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("Too many open files"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("a limit of this process, not of the file: `ulimit -n`"),
              std::string::npos)
        << r.err;
  } else {  // enough descriptors after all: then nothing may have been dropped
    EXPECT_NE(r.out.find("0 added, 0 modified, 0 removed"), std::string::npos) << r.out;
  }
  EXPECT_EQ(r.out.find("secret_keys.py"), std::string::npos) << r.out;
  r = run_cli(run({"index", repo_.path()}, false));  // the index as it was: nothing to redo
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("files: 28 seen, 0 added, 0 modified, 0 removed, 28 unchanged"),
            std::string::npos)
      << r.out;
}

// Hostile probe 2026-12-07: while another process updated the index (a `ripvec index` stopped
// with Ctrl-Z, a long first index), every search of that tree waited on its lock with no limit
// and no word of why, keyword searches too. A search now serves the index's last update at once,
// saying so; `ripvec index` still waits for the other writer, and says what it waits for. The
// other process is this test, holding the index's lock.
TEST_F(CliIndex, SearchWhileAnotherProcessUpdatesServesTheLastUpdate) {
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  const fs::path loc = index_location();
  ASSERT_FALSE(loc.empty());
  repo_.write("lib/koala.py", "def koala_count(x):\n    return x + 1\n");
  const int fd = ::open((loc / "lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  for (const char* mode : {"keyword", "semantic"}) {
    CliRun r = run({"--mode", mode, "-l", "wallaby", repo_.path()}, /*quiet=*/false);
    r.prefix = {"/usr/bin/timeout", "20"};
    const auto res = run_cli(r);
    EXPECT_EQ(res.status, 0) << mode << ": " << res.err;
    EXPECT_NE(res.err.find("another process is updating the index of"), std::string::npos)
        << res.err;
    if (std::string(mode) == "keyword") EXPECT_EQ(split_lines(res.out).size(), 3u) << res.out;
  }
  CliRun ix = run({"index", repo_.path()}, /*quiet=*/false);
  ix.prefix = {"/usr/bin/timeout", "5"};
  const auto waited = run_cli(ix);
  EXPECT_EQ(waited.status, 124) << waited.err;  // still waiting when timeout stopped it
  EXPECT_NE(waited.err.find("waiting for another process that is updating the index at"),
            std::string::npos)
      << waited.err;
  ::flock(fd, LOCK_UN);
  ::close(fd);
  // The other writer done, the next search takes in the new file.
  const auto after = run_cli(run({"--mode", "keyword", "-l", "koala", repo_.path()}));
  EXPECT_EQ(after.status, 0) << after.err;
  EXPECT_EQ(split_lines(after.out), std::vector<std::string>{(repo_ / "lib/koala.py").string()});
}

// Hostile probe 2026-12-07: a file where the index's folder goes (<cache>/<root key>, or the
// model's folder below it) failed every search with "cannot create index directory ...: Not a
// directory; ... give a writable --cache-dir" (the cache was writable) and --status reported an
// ordinary empty index. Both name the file now.
TEST_F(CliIndex, FileWhereTheIndexFolderGoesIsNamed) {
  ASSERT_EQ(run_cli(run({"index", repo_.path()})).status, 0);
  const fs::path loc = index_location();
  ASSERT_FALSE(loc.empty());
  for (const fs::path& blocked : {loc.parent_path(), loc}) {
    fs::remove_all(loc.parent_path());
    fs::create_directories(blocked.parent_path());
    std::ofstream(blocked) << "hi\n";
    const std::string want = blocked.string() + " is not a folder (the index of ";
    const auto r = run_cli(run({"--mode", "semantic", "wallaby", repo_.path()}));
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("writable"), std::string::npos) << r.err;
    const auto st = run_cli(run({"index", "--status", repo_.path()}));
    EXPECT_NE(st.out.find("problem: " + want), std::string::npos) << st.out;
    EXPECT_EQ(st.out.find("rebuilds"), std::string::npos) << st.out;
  }
  fs::remove(loc);
  EXPECT_EQ(run_cli(run({"--mode", "semantic", "wallaby", repo_.path()})).status, 0);
}

// Hostile probe 2026-12-07: a .ripvec that is a symbolic link to another repository's index
// folder was used as this repository's index: an update replaced the other project's index with
// this one's and collected its objects. It is refused, naming it, and the other index is intact.
TEST_F(CliIndex, RepoIndexFolderThatIsASymlinkIsRefused) {
  ASSERT_EQ(run_cli(run({"index", "--repo-local", repo_.path()})).status, 0);
  TempDir other;
  other.write("zoo.py", "def wallaby_feeding_schedule():\n    return 'wallaby'\n");
  fs::create_directory_symlink(repo_ / ".ripvec", other / ".ripvec");
  for (std::vector<std::string> args : {std::vector<std::string>{"index", other.path()},
                                        {"--mode", "keyword", "wallaby", other.path()},
                                        {"index", "--clean", other.path()}}) {
    const auto r = run_cli(run(args));
    EXPECT_EQ(r.status, 2) << args[0] << " " << args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(".ripvec is a symbolic link"), std::string::npos) << r.err;
  }
  const auto again = run_cli(run({"index", repo_.path()}, /*quiet=*/false));
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(embedded(again.out), 0u) << again.out;
  EXPECT_NE(again.out.find("0 removed"), std::string::npos) << again.out;
}

TEST_F(CliIndex, FilesWithMatchesVimgrepAndContext) {
  auto l = run_cli(run({"-l", "--mode", "keyword", "wallaby", repo_.path()}));
  ASSERT_EQ(l.status, 0) << l.err;
  const auto files = split_lines(l.out);
  ASSERT_EQ(files.size(), 3u) << l.out;
  for (const auto& f : files) EXPECT_TRUE(fs::exists(f)) << f;

  auto v = run_cli(run({"--vimgrep", "--mode", "keyword", "-t", "rust", "wallaby", repo_.path()}));
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_EQ(split_lines(v.out)[0],
            (repo_ / "lib/count.rs").string() + ":1:16:/// Counts the wallaby entries.")
      << v.out;

  auto c = run_cli(
      run({"-C", "1", "--mode", "keyword", "-t", "py", "-n", "1", "wallaby", repo_.path()}));
  ASSERT_EQ(c.status, 0) << c.err;
  const auto lines = split_lines(c.out);
  ASSERT_EQ(lines.size(), 4u) << c.out;  // heading, the matching line with one line around
  EXPECT_NE(lines[0].find("read_settings"), std::string::npos) << c.out;
  EXPECT_EQ(lines[1], "4-def read_settings(path):");
  EXPECT_EQ(lines[2], "5:    \"\"\"Load the wallaby settings file.\"\"\"");
  EXPECT_EQ(lines[3], "6-    with open(path) as f:");

  auto nc = run_cli(run({"--no-content", "--mode", "keyword", "wallaby", repo_.path()}));
  ASSERT_EQ(nc.status, 0) << nc.err;
  EXPECT_EQ(split_lines(nc.out).size(), 3u) << nc.out;
}

}  // namespace
}  // namespace ripvec::test
