// Model resolution: local directories, the HF hub cache layout, and downloads from a local
// stand-in for the Hub (tests/data/model/hub_server.py on 127.0.0.1; nothing leaves the
// machine): cache layout, resume with Range, interrupted transfers, servers that ignore
// Range, HTTP errors, offline mode.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "common/child_process.hpp"
#include "common/test_util.hpp"
#include "ripvec/error.hpp"
#include "ripvec/model_files.hpp"
#include "ripvec/safetensors.hpp"

namespace ripvec {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";
constexpr const char* kEnvVars[] = {
    "HOME",     "HF_HUB_CACHE",           "HF_HOME",       "XDG_CACHE_HOME", "HF_ENDPOINT",
    "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE"};

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_all(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::optional<std::string> find_python() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    fs::path cand = fs::path(dirs.substr(start, end - start)) / "python3";
    if (::access(cand.c_str(), X_OK) == 0) return cand.string();
    start = end + 1;
  }
  return std::nullopt;
}

// A valid safetensors file of ~200 kB so that partial transfers are meaningful.
std::string tiny_safetensors() {
  const size_t n = 50000;
  std::vector<float> w(n);
  std::mt19937 rng(7);
  for (auto& x : w) x = static_cast<float>(rng() % 1000) / 7.0f;
  std::string header = json{{"__metadata__", {{"format", "pt"}}},
                            {"w", {{"dtype", "F32"}, {"shape", {n}}, {"data_offsets", {0, n * 4}}}}}
                           .dump();
  while (header.size() % 8) header += ' ';
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + std::string(reinterpret_cast<const char*>(w.data()), n * 4);
}

class HubServer {
 public:
  HubServer(const fs::path& work, const fs::path& root) {
    auto python = find_python();
    if (!python) throw std::runtime_error("python3 not found");
    port_file_ = work / "port";
    log_ = work / "requests.log";
    fs::remove(port_file_);
    std::vector<std::string> args = {
        *python,       (fs::path(RIPVEC_TEST_DATA) / "model/hub_server.py").string(),
        "--root",      root.string(),
        "--port-file", port_file_.string(),
        "--log",       log_.string()};
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!fs::exists(port_file_)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("hub_server.py exited early");
      }
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("server timeout");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    port_ = read_all(port_file_);
  }
  ~HubServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  std::string endpoint() const { return "http://127.0.0.1:" + port_; }
  // Requests logged since the last mark() (one server serves the whole suite).
  void mark() { mark_ = fs::exists(log_) ? fs::file_size(log_) : 0; }
  std::vector<json> requests() const {
    std::vector<json> out;
    std::ifstream f(log_);
    f.seekg(static_cast<std::streamoff>(mark_));
    for (std::string line; std::getline(f, line);)
      if (!line.empty()) out.push_back(json::parse(line));
    return out;
  }
  // The requests for one file (path suffix).
  std::vector<json> requests_for(const std::string& file) const {
    std::vector<json> out;
    for (auto& r : requests()) {
      const std::string p = r["path"];
      if (p.size() > file.size() && p.compare(p.size() - file.size(), file.size(), file) == 0 &&
          p[p.size() - file.size() - 1] == '/')
        out.push_back(r);
    }
    return out;
  }

 private:
  pid_t pid_ = -1;
  fs::path port_file_, log_;
  std::string port_;
  size_t mark_ = 0;
};

// Upstream repositories served by the suite's one server; each exercises one behaviour.
struct Remote {
  const char* id;
  const char* revision = "main";
  bool commit = true;
  bool tokenizer = true;
  const char* marker = nullptr;  // behaviour switch file for hub_server.py
  const char* marker_text = "";
};
const Remote kRemotes[] = {
    {"org/tiny-model"},
    {"org/cut-model", "main", true, true, ".cut-after", "50000"},
    {"org/norange-model", "main", true, true, ".no-range"},
    {"org/nocommit-model", "main", false},
    {"org/pr-model", "refs/pr/1"},
    {"org/no-tokenizer", "main", true, false},
    {"org/gated-model", "main", true, true, ".gated"},
};

class ModelFilesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_dir_ = new fs::path(fs::temp_directory_path() /
                              ("ripvec_model_files_" + std::to_string(::getpid())));
    fs::remove_all(*suite_dir_);
    weights_ = new std::string(tiny_safetensors());
    const fs::path root = *suite_dir_ / "remote";
    for (const Remote& r : kRemotes) {
      const fs::path d = root / r.id / "resolve" / r.revision;
      write_all(d / "config.json", R"({"model_type": "bert"})");
      write_all(d / "model.safetensors", *weights_);
      if (r.tokenizer) write_all(d / "tokenizer.json", R"({"model": {"type": "WordPiece"}})");
      write_all(d / "modules.json", "[]");
      write_all(d / "1_Pooling/config.json", R"({"pooling_mode_mean_tokens": true})");
      if (r.commit) write_all(root / r.id / ".commit", kCommit);
      if (r.marker) write_all(root / r.id / r.marker, r.marker_text);
    }
    if (find_python()) server_ = new HubServer(*suite_dir_, root);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    std::error_code ec;
    fs::remove_all(*suite_dir_, ec);
    delete suite_dir_;
    delete weights_;
  }

  void SetUp() override {
    for (const char* v : kEnvVars) {
      if (const char* s = std::getenv(v)) saved_[v] = s;
      ::unsetenv(v);
    }
    static int counter = 0;
    work_ = *suite_dir_ / ("case_" + std::to_string(counter++));
    fs::create_directories(work_);
    cache_ = work_ / "cache";
    ::setenv("HF_HUB_CACHE", cache_.c_str(), 1);
    if (server_) {
      server_->mark();
      ::setenv("HF_ENDPOINT", server_->endpoint().c_str(), 1);
    }
  }
  void TearDown() override {
    for (const char* v : kEnvVars) ::unsetenv(v);
    for (auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
  }

  // The suite's server, or nullptr (then the test skips; in CI it fails).
  HubServer* hub() {
    if (!server_ && test::in_ci()) ADD_FAILURE() << "python3 is needed for the download tests";
    return server_;
  }

  static ResolveOptions quiet() {
    ResolveOptions o;
    o.progress = false;
    return o;
  }

  std::string expect_not_found(std::string_view spec, const ResolveOptions& opts) {
    try {
      resolve_model(spec, opts);
    } catch (const ModelNotFoundError& e) {
      return e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "wrong exception: " << e.what();
      return {};
    }
    ADD_FAILURE() << "resolved " << spec;
    return {};
  }

  fs::path snapshot(const std::string& repo = "org/tiny-model",
                    const std::string& name = kCommit) const {
    std::string folder = "models--" + repo;
    folder.replace(folder.find('/'), 1, "--");
    return cache_ / folder / "snapshots" / name;
  }

  static inline fs::path* suite_dir_ = nullptr;
  static inline std::string* weights_ = nullptr;
  static inline HubServer* server_ = nullptr;
  std::map<std::string, std::string> saved_;
  fs::path work_, cache_;
};

#define SERVER_OR_SKIP(var) \
  HubServer* var = hub();   \
  if (!var) GTEST_SKIP() << "no python3"

TEST_F(ModelFilesTest, HubCacheDirFollowsHuggingFaceHubPrecedence) {
  ::setenv("HOME", "/home/someone", 1);
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  ::setenv("HF_HOME", "/hfhome", 1);
  ::setenv("HF_HUB_CACHE", "/hubcache", 1);
  EXPECT_EQ(hf_hub_cache_dir(), fs::path("/hubcache"));
  ::unsetenv("HF_HUB_CACHE");
  EXPECT_EQ(hf_hub_cache_dir(), fs::path("/hfhome/hub"));
  ::unsetenv("HF_HOME");
  EXPECT_EQ(hf_hub_cache_dir(), fs::path("/xdg/huggingface/hub"));
  ::unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(hf_hub_cache_dir(), fs::path("/home/someone/.cache/huggingface/hub"));
}

TEST_F(ModelFilesTest, LocalDirectory) {
  fs::path dir = work_ / "local";
  write_all(dir / "config.json", "{}");
  write_all(dir / "tokenizer.json", "{}");
  std::string msg = expect_not_found(dir.string(), quiet());
  const std::string first_line = msg.substr(0, msg.find('\n'));
  EXPECT_NE(first_line.find("is missing model.safetensors"), std::string::npos) << msg;
  EXPECT_EQ(first_line.find("config.json"), std::string::npos) << msg;  // only what is missing
  EXPECT_NE(msg.find(dir.string()), std::string::npos) << msg;
  write_all(dir / "model.safetensors", *weights_);
  ModelFiles m = resolve_model(dir.string(), quiet());
  EXPECT_EQ(m.dir, dir);
  EXPECT_EQ(m.id, dir.string());
  EXPECT_EQ(m.config, dir / "config.json");
  EXPECT_EQ(m.weights, dir / "model.safetensors");
  EXPECT_EQ(m.tokenizer, dir / "tokenizer.json");

  msg = expect_not_found((work_ / "no/such/dir").string(), quiet());
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
  EXPECT_NE(msg.find("install_default_model.sh"), std::string::npos) << msg;
}

TEST_F(ModelFilesTest, CacheSnapshotNamedByRef) {
  fs::path repo = cache_ / "models--org--tiny-model";
  for (const char* snap : {"aaa", "bbb"}) {
    write_all(repo / "snapshots" / snap / "config.json", "{}");
    write_all(repo / "snapshots" / snap / "model.safetensors", *weights_);
    write_all(repo / "snapshots" / snap / "tokenizer.json", "{}");
  }
  write_all(repo / "refs" / "main", "bbb\n");
  ResolveOptions o = quiet();
  o.allow_download = false;
  ModelFiles m = resolve_model("org/tiny-model", o);
  EXPECT_EQ(m.dir, repo / "snapshots" / "bbb");
  EXPECT_EQ(m.id, "org/tiny-model");
  EXPECT_EQ(m.weights, repo / "snapshots" / "bbb" / "model.safetensors");

  // Another revision resolves through its own ref, or as a snapshot named by its commit.
  write_all(repo / "refs" / "v1", "aaa");
  o.revision = "v1";
  EXPECT_EQ(resolve_model("org/tiny-model", o).dir, repo / "snapshots" / "aaa");
  const std::string hash(40, 'c');
  write_all(repo / "snapshots" / hash / "config.json", "{}");
  write_all(repo / "snapshots" / hash / "model.safetensors", *weights_);
  write_all(repo / "snapshots" / hash / "tokenizer.json", "{}");
  o.revision = hash;
  EXPECT_EQ(resolve_model("org/tiny-model", o).dir, repo / "snapshots" / hash);
}

TEST_F(ModelFilesTest, CacheFallsBackToAnyCompleteSnapshotForMainOnly) {
  fs::path repo = cache_ / "models--org--tiny-model";
  write_all(repo / "snapshots" / "incomplete" / "config.json", "{}");
  write_all(repo / "snapshots" / "zzz" / "config.json", "{}");
  write_all(repo / "snapshots" / "zzz" / "model.safetensors", *weights_);
  write_all(repo / "snapshots" / "zzz" / "tokenizer.json", "{}");
  ResolveOptions o = quiet();
  o.allow_download = false;
  EXPECT_EQ(resolve_model("org/tiny-model", o).dir, repo / "snapshots" / "zzz");
  o.revision = "v2";  // pinned: must not silently get another revision
  std::string msg = expect_not_found("org/tiny-model", o);
  EXPECT_NE(msg.find((repo / "refs" / "v2").string()), std::string::npos) << msg;
}

TEST_F(ModelFilesTest, OfflineErrorListsMissingFilesPlacesAndFix) {
  fs::path repo = cache_ / "models--org--tiny-model";
  write_all(repo / "refs" / "main", "abc");
  write_all(repo / "snapshots" / "abc" / "config.json", "{}");
  write_all(repo / "snapshots" / "abc" / "tokenizer.json", "{}");
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  ::setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);  // must not be contacted
  std::string msg = expect_not_found("org/tiny-model", quiet());
  EXPECT_NE(msg.find("missing model.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find((repo / "snapshots" / "abc").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("HF_HUB_OFFLINE"), std::string::npos) << msg;
  EXPECT_NE(msg.find("install_default_model.sh"), std::string::npos) << msg;
  EXPECT_NE(msg.find("local model directory"), std::string::npos) << msg;

  ::unsetenv("HF_HUB_OFFLINE");
  ResolveOptions o = quiet();
  o.allow_download = false;
  msg = expect_not_found("org/other", o);
  EXPECT_NE(msg.find("missing config.json, model.safetensors, tokenizer.json"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find((cache_ / "models--org--other" / "refs" / "main").string()), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("downloads disabled"), std::string::npos) << msg;

  EXPECT_NE(expect_not_found("not a valid id", o).find("neither"), std::string::npos);
  EXPECT_THROW(
      [&] {
        ResolveOptions bad = o;
        bad.revision = "../../etc";
        resolve_model("org/tiny-model", bad);
      }(),
      InvalidArgument);
}

// Hostile probe 2026-12-05: a model cache this user may not read (another user's HOME) was
// listed as "refs/main (absent)" and "snapshots (no snapshots)", though both were there.
TEST_F(ModelFilesTest, UnreadableCacheIsNotCalledAbsent) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to read the cache as another user";
  fs::path repo = cache_ / "models--org--tiny-model";
  write_all(repo / "refs" / "main", "abc");
  write_all(repo / "snapshots" / "abc" / "config.json", "{}");
  ::chmod(repo.c_str(), 0700);
  for (fs::path p = cache_; p != p.root_path(); p = p.parent_path()) {
    if (p == repo) continue;
    if (p == fs::temp_directory_path()) break;
    ::chmod(p.c_str(), 0755);  // the child reaches the cache, not the model's folder
  }
  int code = 0;
  const std::string msg = test::in_child(
      65534,
      [&] {
        ResolveOptions o = quiet();
        o.allow_download = false;
        try {
          resolve_model("org/tiny-model", o);
        } catch (const ModelNotFoundError& e) {
          return std::string(e.what());
        }
        return std::string("resolved");
      },
      &code);
  ::chmod(repo.c_str(), 0755);
  if (code == test::kChildCannotDrop) GTEST_SKIP() << "cannot drop privileges to uid 65534";
  ASSERT_EQ(code, 0) << msg;
  EXPECT_EQ(msg.find("(absent)"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("(no snapshots)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("refs/main (cannot be read: Permission denied)"), std::string::npos) << msg;
}

// Hostile probe 2026-12-05, fifth round: config.json as a folder, or model.safetensors as a
// link to /dev/zero, was reported "missing".
TEST_F(ModelFilesTest, FileThatIsThereButNotRegularIsNamedSo) {
  const fs::path dir = work_ / "odd-model";
  fs::create_directories(dir / "config.json");
  write_all(dir / "tokenizer.json", "{}");
  fs::create_symlink("/dev/zero", dir / "model.safetensors");
  ResolveOptions o = quiet();
  o.allow_download = false;
  const std::string msg = expect_not_found(dir.string(), o);
  EXPECT_NE(msg.find("config.json (not a regular file)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.safetensors (not a regular file)"), std::string::npos) << msg;
  // A symlink loop as the model path "does not exist" before; now it names the loop.
  fs::create_symlink(work_ / "loop-b", work_ / "loop-a");
  fs::create_symlink(work_ / "loop-a", work_ / "loop-b");
  const std::string loop = expect_not_found((work_ / "loop-a").string(), o);
  EXPECT_NE(loop.find("cannot be used: Too many levels of symbolic links"), std::string::npos)
      << loop;
}

TEST_F(ModelFilesTest, DownloadsIntoCacheLayout) {
  SERVER_OR_SKIP(server);
  ::setenv("HF_TOKEN", "test-token-not-a-secret", 1);
  ModelFiles m = resolve_model("org/tiny-model", quiet());
  EXPECT_EQ(m.dir, snapshot());
  EXPECT_EQ(m.id, "org/tiny-model");
  EXPECT_EQ(read_all(cache_ / "models--org--tiny-model" / "refs" / "main"), kCommit);
  EXPECT_EQ(read_all(m.weights), *weights_);
  EXPECT_EQ(read_all(m.config), R"({"model_type": "bert"})");
  EXPECT_TRUE(fs::exists(m.tokenizer));
  EXPECT_EQ(read_all(m.dir / "1_Pooling" / "config.json"), R"({"pooling_mode_mean_tokens": true})");
  EXPECT_EQ(read_all(m.dir / "modules.json"), "[]");
  EXPECT_FALSE(fs::exists(m.dir / "sentence_bert_config.json"));  // 404 upstream: fine
  for (auto& e : fs::recursive_directory_iterator(cache_))
    EXPECT_EQ(e.path().string().find(".incomplete"), std::string::npos) << e.path();
  SafeTensors st = SafeTensors::open(m.weights);
  EXPECT_EQ(st.get("w").numel(), 50000);

  auto reqs = server->requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs[0]["method"], "HEAD");
  EXPECT_EQ(reqs[0]["path"], "/org/tiny-model/resolve/main/config.json");
  for (auto& r : reqs) EXPECT_EQ(r["auth"], "Bearer test-token-not-a-secret");
  EXPECT_EQ(server->requests_for("sentence_bert_config.json").at(0)["status"], 404);
  // The weights come last: a snapshot holding them has had every other file fetched.
  EXPECT_NE(reqs.back()["path"].get<std::string>().find("model.safetensors"), std::string::npos);

  // Resolving again is served from the cache, with no request at all.
  const size_t before = reqs.size();
  EXPECT_EQ(resolve_model("org/tiny-model", quiet()).dir, snapshot());
  EXPECT_EQ(server->requests().size(), before);
}

TEST_F(ModelFilesTest, ResumesPartialFileWithRange) {
  SERVER_OR_SKIP(server);
  const size_t have = 70001;
  write_all(snapshot() / "model.safetensors.incomplete", weights_->substr(0, have));
  ModelFiles m = resolve_model("org/tiny-model", quiet());
  EXPECT_EQ(read_all(m.weights), *weights_);
  EXPECT_FALSE(fs::exists(snapshot() / "model.safetensors.incomplete"));
  auto reqs = server->requests_for("model.safetensors");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["range"], "bytes=" + std::to_string(have) + "-");
  EXPECT_EQ(reqs[0]["status"], 206);
}

TEST_F(ModelFilesTest, InterruptedDownloadIsResumedByTheNextRun) {
  SERVER_OR_SKIP(server);  // org/cut-model: the first full GET stops after 50000 bytes
  std::string msg = expect_not_found("org/cut-model", quiet());
  EXPECT_NE(msg.find("resume"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
  const fs::path snap = snapshot("org/cut-model");
  const fs::path part = snap / "model.safetensors.incomplete";
  ASSERT_TRUE(fs::exists(part));
  EXPECT_EQ(fs::file_size(part), 50000u);
  EXPECT_FALSE(fs::exists(snap / "model.safetensors"));

  ModelFiles m = resolve_model("org/cut-model", quiet());
  EXPECT_EQ(read_all(m.weights), *weights_);
  auto reqs = server->requests_for("model.safetensors");
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_TRUE(reqs[0]["range"].is_null());
  EXPECT_EQ(reqs[1]["range"], "bytes=50000-");
  EXPECT_EQ(reqs[1]["status"], 206);
}

TEST_F(ModelFilesTest, ServerIgnoringRangeRestartsFromScratch) {
  SERVER_OR_SKIP(server);  // org/norange-model: Range is ignored, whole file with 200
  const fs::path snap = snapshot("org/norange-model");
  write_all(snap / "model.safetensors.incomplete", std::string(1000, 'x'));
  ModelFiles m = resolve_model("org/norange-model", quiet());
  EXPECT_EQ(read_all(m.weights), *weights_);
  auto reqs = server->requests_for("model.safetensors");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["range"], "bytes=1000-");
  EXPECT_EQ(reqs[0]["status"], 200);
}

TEST_F(ModelFilesTest, CompletePartialFileIsFinishedOn416) {
  SERVER_OR_SKIP(server);
  write_all(snapshot() / "model.safetensors.incomplete", *weights_);
  ModelFiles m = resolve_model("org/tiny-model", quiet());
  EXPECT_EQ(read_all(m.weights), *weights_);
  auto reqs = server->requests_for("model.safetensors");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["status"], 416);
}

TEST_F(ModelFilesTest, NoCommitHeaderNamesSnapshotAfterRevision) {
  SERVER_OR_SKIP(server);
  ModelFiles m = resolve_model("org/nocommit-model", quiet());
  EXPECT_EQ(m.dir, snapshot("org/nocommit-model", "main"));
  EXPECT_EQ(read_all(m.weights), *weights_);
  ResolveOptions o = quiet();
  o.allow_download = false;
  EXPECT_EQ(resolve_model("org/nocommit-model", o).dir, m.dir);
}

TEST_F(ModelFilesTest, RevisionWithSlashes) {
  SERVER_OR_SKIP(server);
  ResolveOptions o = quiet();
  o.revision = "refs/pr/1";
  ModelFiles m = resolve_model("org/pr-model", o);
  EXPECT_EQ(m.dir, snapshot("org/pr-model"));
  EXPECT_EQ(read_all(cache_ / "models--org--pr-model" / "refs" / "refs" / "pr" / "1"), kCommit);
  EXPECT_EQ(server->requests().at(0)["path"], "/org/pr-model/resolve/refs%2Fpr%2F1/config.json");
  o.allow_download = false;
  EXPECT_EQ(resolve_model("org/pr-model", o).dir, m.dir);
}

TEST_F(ModelFilesTest, HttpErrorsBecomeClearMessages) {
  SERVER_OR_SKIP(server);
  std::string msg = expect_not_found("org/does-not-exist", quiet());
  EXPECT_NE(msg.find("HTTP 404"), std::string::npos) << msg;
  EXPECT_NE(msg.find("repository org/does-not-exist not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing config.json, model.safetensors, tokenizer.json"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find((cache_ / "models--org--does-not-exist").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("install_default_model.sh"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(cache_ / "models--org--does-not-exist" / "snapshots"));

  msg = expect_not_found("org/gated-model", quiet());
  EXPECT_NE(msg.find("HTTP 401"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HF_TOKEN"), std::string::npos) << msg;

  msg = expect_not_found("org/no-tokenizer", quiet());
  EXPECT_NE(msg.find("HTTP 404"), std::string::npos) << msg;
  EXPECT_NE(msg.find("file tokenizer.json not found"), std::string::npos) << msg;

  ::setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);  // nothing listens on port 1
  msg = expect_not_found("org/tiny-model", quiet());
  EXPECT_NE(msg.find("cannot reach http://127.0.0.1:1"), std::string::npos) << msg;
}

TEST_F(ModelFilesTest, OfflineModesNeverContactTheServer) {
  SERVER_OR_SKIP(server);
  ResolveOptions o = quiet();
  o.allow_download = false;
  expect_not_found("org/tiny-model", o);
  ::setenv("HF_HUB_OFFLINE", "true", 1);
  std::string msg = expect_not_found("org/tiny-model", quiet());
  EXPECT_NE(msg.find("HF_HUB_OFFLINE=true"), std::string::npos) << msg;
  EXPECT_TRUE(server->requests().empty());
}

// The installed default model resolves from the real cache, offline, to the snapshot that
// scripts/install_default_model.sh wrote.
TEST(ModelFilesReal, DefaultModelFromHubCache) {
  fs::path dir = test::default_model_dir();
  RIPVEC_REQUIRE_PATH(dir / "model.safetensors");
  ResolveOptions o;
  o.allow_download = false;
  o.progress = false;
  ModelFiles m = resolve_model(kDefaultModelId, o);
  EXPECT_EQ(m.dir, dir);
  EXPECT_EQ(m.id, kDefaultModelId);
  EXPECT_TRUE(fs::is_regular_file(m.weights));
  EXPECT_TRUE(fs::is_regular_file(m.tokenizer));
  EXPECT_TRUE(fs::is_regular_file(m.config));
}

}  // namespace
}  // namespace ripvec
