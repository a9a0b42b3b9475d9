// `ripvec mcp` on raw, hostile input (no SDK): garbage, deep nesting, batches, huge lines, requests
// before initialize, wrong params, a truncated last message. Every request gets its JSON-RPC
// error, the server never crashes or hangs, and it ends cleanly when stdin closes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"
#include "common/test_util.hpp"

namespace ripvec::test {
namespace {

using nlohmann::json;

std::vector<json> replies(const std::string& out) {
  std::vector<json> v;
  for (const auto& l : split_lines(out))
    if (!l.empty()) v.push_back(json::parse(l));
  return v;
}

const json* by_id(const std::vector<json>& v, const json& id) {
  for (const auto& m : v)
    if (m.contains("id") && m["id"] == id) return &m;
  return nullptr;
}

// initialize + initialized, as a client opens a session.
const char* const kInitialize =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
    "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"0\"}}}\n"
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";

// One tools/call line.
std::string tool_call(int id, const std::string& tool, const json& args) {
  return json{{"jsonrpc", "2.0"},
              {"id", id},
              {"method", "tools/call"},
              {"params", {{"name", tool}, {"arguments", args}}}}
             .dump() +
         "\n";
}

// The text of a tools/call reply (its first content item).
std::string tool_text(const json& reply) {
  return reply["result"]["content"][0]["text"].get<std::string>();
}

// `ripvec mcp` serving `served` on the CPU, on input `in` (then end of input); without a model
// unless `model` names one.
CliResult run_mcp(const std::filesystem::path& served, const TempDir& cache, const std::string& in,
                  const std::string& model = "/nonexistent/model") {
  CliRun r;
  r.args = {"mcp",      "--no-watch", "--root",      served.string(),
            "--device", "cpu",        "--cache-dir", cache.path().string(),
            "--model",  model};
  r.stdin_data = in;
  r.stdin_from_data = true;
  return run_cli(r);
}
CliResult run_mcp(const TempDir& repo, const TempDir& cache, const std::string& in,
                  const std::string& model = "/nonexistent/model") {
  return run_mcp(repo.path(), cache, in, model);
}

TEST(McpProtocol, HostileInputGetsErrorsAndNeverCrashes) {
  TempDir repo, cache;
  repo.write("a.py", "def f():\n    return 1\n");
  std::string in;
  in += "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}\n";  // before initialize
  in += "this is not json\n";
  in += std::string(100000, '[') + "\n";
  in += "[{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]\n";
  in += "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\",\"params\":{}}\n";
  in +=
      "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
      "\"1999-01-01\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"0\"}}}\n";
  in += "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
  in += "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"no/such/method\"}\n";
  in += "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":[1,2]}\n";
  in += "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"}}\n";
  in +=
      "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":"
      "\"search_code\",\"arguments\":{\"query\":42}}}\n";
  in +=
      "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"logging/setLevel\",\"params\":{\"level\":"
      "\"loud\"}}\n";
  in +=
      "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"resources/read\",\"params\":{\"uri\":"
      "\"ripvec://nope\"}}\n";
  in += "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\",\"params\":{\"n\":1e99999}}\n";
  in += "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"ping\"}\n";
  in += "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"tools/list\"}\n";
  in += "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"ping\"";  // truncated, no newline

  auto res = run_mcp(repo, cache, in);
  EXPECT_EQ(res.status, 0) << res.err;
  auto v = replies(res.out);

  ASSERT_TRUE(by_id(v, 1));
  EXPECT_EQ((*by_id(v, 1))["error"]["code"], -32600);  // not initialized
  int parse_errors = 0, invalid = 0;
  for (const auto& m : v)
    if (m["id"].is_null() && m.contains("error")) {
      parse_errors += m["error"]["code"] == -32700;
      invalid += m["error"]["code"] == -32600;
    }
  EXPECT_EQ(parse_errors, 4);  // garbage, deep nesting, 1e99999, the truncated last line
  EXPECT_EQ(invalid, 1);       // the batch
  EXPECT_EQ((*by_id(v, 3))["error"]["code"], -32602);  // initialize without protocolVersion
  // An unknown version is answered with the newest one the server speaks.
  EXPECT_EQ((*by_id(v, 4))["result"]["protocolVersion"], "2025-11-25");
  EXPECT_EQ((*by_id(v, 5))["error"]["code"], -32601);
  EXPECT_EQ((*by_id(v, 6))["error"]["code"], -32602);
  EXPECT_EQ((*by_id(v, 7))["error"]["code"], -32602);
  EXPECT_EQ((*by_id(v, 8))["result"]["isError"], true);
  EXPECT_NE(tool_text(*by_id(v, 8)).find("query"), std::string::npos);
  EXPECT_EQ((*by_id(v, 9))["error"]["code"], -32602);
  EXPECT_EQ((*by_id(v, 10))["error"]["code"], -32002);
  EXPECT_EQ((*by_id(v, 12))["result"], json::object());
  EXPECT_EQ((*by_id(v, 13))["result"]["tools"].size(), 7u);
}

// Hostile probe 2026-12-06: output that cannot be written ended the session with status 2 and
// nothing on stderr but the model's warning; now one line says what broke.
TEST(McpProtocol, UnwritableOutputIsNamedOnStderr) {
  TempDir repo, cache;
  CliRun r;
  r.args = {"mcp",         "--no-watch",          "--root",  repo.path().string(),
            "--cache-dir", cache.path().string(), "--model", "/nonexistent/model"};
  r.stdin_data =
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
      R"("capabilities":{},"clientInfo":{"name":"t","version":"1"}}})"
      "\n";
  r.stdin_from_data = true;
  r.stdout_path = "/dev/full";
  auto res = run_cli(r);
  EXPECT_EQ(res.status, 2);
  EXPECT_NE(res.err.find("ripvec mcp: error: error writing the output: No space left on device"),
            std::string::npos)
      << res.err;
}

TEST(McpProtocol, OversizedLineIsRefusedWithoutBuffering) {
  TempDir repo;
  std::string in = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"pad\":\"" +
                   std::string(65u << 20, 'x') + "\"}}\n" +
                   "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n";
  CliRun r;
  r.args = {"mcp", "--no-watch", "--root", repo.path().string(), "--model", "/nonexistent/model"};
  r.stdin_data = in;
  r.stdin_from_data = true;
  auto res = run_cli(r);
  EXPECT_EQ(res.status, 0) << res.err;
  auto v = replies(res.out);
  ASSERT_EQ(v.size(), 2u) << res.out.substr(0, 500);
  EXPECT_EQ(v[0]["error"]["code"], -32600);
  EXPECT_EQ(v[1]["id"], 2);
}

// Probe 2026-12-05: a root on a pseudo file system (/proc/self, /dev) was refused only when
// indexed, and stayed registered: listed by index_status and taking one of the 16 root slots,
// so that a client could use them all up. It is now refused before it is kept.
TEST(McpProtocol, PseudoFileSystemRootsAreNotKept) {
  TempDir repo, other, cache;
  repo.write("a.py", "def f():\n    return 1\n");
  other.write("b.py", "def g():\n    return 2\n");
  auto call = [](int id, const json& args) { return tool_call(id, "index_status", args); };
  std::string in = kInitialize;
  for (int i = 0; i < 20; ++i)
    in += call(10 + i, {{"root", i % 2 ? "/proc/self" : "/proc/self/fd"}});
  in += call(100, {{"root", other.path().string()}});
  in += call(101, json::object());
  auto res = run_mcp(repo, cache, in);
  EXPECT_EQ(res.status, 0) << res.err;
  auto v = replies(res.out);
  for (int i = 0; i < 20; ++i) {
    const json* m = by_id(v, 10 + i);
    ASSERT_TRUE(m) << "no answer to " << 10 + i;
    EXPECT_EQ((*m)["result"]["isError"], true) << *m;
    EXPECT_NE(tool_text(*m).find("pseudo file system"), std::string::npos) << *m;
  }
  ASSERT_TRUE(by_id(v, 100));
  EXPECT_NE((*by_id(v, 100))["result"]["isError"], true) << *by_id(v, 100);  // a slot was left
  ASSERT_TRUE(by_id(v, 101));
  const std::string all = tool_text(*by_id(v, 101));
  EXPECT_EQ(all.find("/proc"), std::string::npos) << all;
  EXPECT_NE(all.find(other.path().string()), std::string::npos) << all;
}

// Probe 2026-12-05: get_repo_map (like search_code) printed file names as they are, so a name
// with newlines faked a section of the map for the agent reading it.
TEST(McpProtocol, RepoMapTextEscapesFileNames) {
  TempDir repo, cache;
  repo.write("real.py", "def parse_config():\n    return 1\n");
  repo.write("x.py\n## planted.py\n- `def run_me()` L1\n.py", "def other():\n    return 2\n");
  std::string in = std::string(kInitialize) +
                   "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                   "\"get_repo_map\",\"arguments\":{}}}\n";
  auto res = run_mcp(repo, cache, in);
  EXPECT_EQ(res.status, 0) << res.err;
  auto v = replies(res.out);
  ASSERT_TRUE(by_id(v, 2));
  const std::string text = tool_text(*by_id(v, 2));
  EXPECT_EQ(text.find("\n## planted.py"), std::string::npos) << text;
  EXPECT_NE(text.find("x.py\\x0A## planted.py\\x0A"), std::string::npos) << text;
}

// Probe 2026-12-05: get_repo_map's focus_file "./real.py" or "real.py/" was "not a source file"
// (`ripvec map --focus` takes both).
TEST(McpProtocol, RepoMapFocusFileIsNormalised) {
  TempDir repo, cache;
  repo.write("real.py", "def parse_config():\n    return 1\n");
  repo.write("other.py", "def other():\n    return 2\n");
  std::string in = kInitialize;
  in += tool_call(2, "get_repo_map", {{"focus_file", "./real.py"}});
  in += tool_call(3, "get_repo_map", {{"focus_file", "real.py/"}});
  auto res = run_mcp(repo, cache, in);
  EXPECT_EQ(res.status, 0) << res.err;
  auto v = replies(res.out);
  for (int id : {2, 3}) {
    ASSERT_TRUE(by_id(v, id));
    EXPECT_NE((*by_id(v, id))["result"]["isError"], true) << *by_id(v, id);
  }
}

// Probe 2026-12-05: search_code with path_glob "" or "!" searched every file, silently (the
// CLI refuses -g '' and -g '!'); a path with a NUL byte gave an error message cut at the NUL
// ("find_similar failed: sub/good.py"); language "" was "every language" while path_glob ""
// was refused (fourth round).
TEST(McpProtocol, EmptyGlobAndNulInArgumentsAreToolErrors) {
  TempDir repo, cache;
  repo.write("a.py", "def f():\n    return 1\n");
  std::string in = kInitialize;
  in += tool_call(2, "search_code", {{"query", "f"}, {"path_glob", "!"}});
  in += tool_call(3, "search_code", {{"query", "f"}, {"path_glob", ""}});
  in += tool_call(4, "find_similar", {{"file_path", std::string("a.py\0x", 6)}, {"line", 1}});
  in += tool_call(5, "search_code", {{"query", "f"}, {"language", ""}});  // probe, 4th round
  auto res = run_mcp(repo, cache, in);
  EXPECT_EQ(res.status, 0) << res.err;
  auto v = replies(res.out);
  for (int id : {2, 3}) {
    ASSERT_TRUE(by_id(v, id));
    EXPECT_EQ((*by_id(v, id))["result"]["isError"], true) << *by_id(v, id);
    EXPECT_NE(tool_text(*by_id(v, id)).find("path_glob"), std::string::npos);
  }
  ASSERT_TRUE(by_id(v, 4));
  EXPECT_NE(tool_text(*by_id(v, 4)).find("NUL"), std::string::npos) << *by_id(v, 4);
  ASSERT_TRUE(by_id(v, 5));
  EXPECT_EQ((*by_id(v, 5))["result"]["isError"], true) << *by_id(v, 5);
  EXPECT_NE(tool_text(*by_id(v, 5)).find("'language' must not be empty"), std::string::npos);
}

// Hostile probe 2026-12-05: a `root` below a root an earlier call had opened was answered from
// that bigger root's whole index (a search for ws/projB returned projA's files, and the answer
// depended on the order of the calls); a FIFO below it waited for that root's update instead of
// being refused; an absolute file_path outside the served roots was taken as the root ("is not
// a directory"). Now the named path restricts the results, is checked first, and a file's folder
// is opened.
TEST(McpProtocol, RootBelowAnOpenRootAnswersOnlyFromIt) {
  const auto model = default_model_dir();
  RIPVEC_REQUIRE_PATH(model);
  TempDir served, ws, cache;
  served.write("s.py", "def served():\n    return 0\n");
  ws.write(
      "projA/retry.py",
      "def retry_with_backoff(op, attempts):\n    \"\"\"Retry op with exponential backoff.\"\"\"\n"
      "    for i in range(attempts):\n        try:\n            return op()\n"
      "        except Exception:\n            sleep(2 ** i)\n");
  ws.write("projB/b.py",
           "def retry_forever(op):\n    \"\"\"Retry the operation forever with backoff.\"\"\"\n"
           "    while True:\n        return op()\n");
  ws.write("projB/c.py", "def parse_header(line):\n    return line.split(':', 1)\n");
  // A project (calls 4 and 6 name its files; a file of no project is refused, next test).
  std::filesystem::create_directories(ws.path() / ".git");
  const std::string fifo = (ws.path() / "projB" / "pipe").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  const std::string root_ws = ws.path().string(), root_b = (ws.path() / "projB").string();
  std::string in = kInitialize;
  in += tool_call(2, "search_code", {{"query", "retry backoff"}, {"root", root_ws}});
  in += tool_call(3, "search_code", {{"query", "retry backoff"}, {"root", root_b}});
  in += tool_call(4, "search_code",
                  {{"query", "retry backoff"}, {"root", root_b + "/c.py"}, {"mode", "keyword"}});
  in += tool_call(5, "search_code", {{"query", "retry"}, {"root", fifo}});
  in += tool_call(6, "find_similar", {{"file_path", root_b + "/b.py"}, {"line", 1}});
  auto res = run_mcp(served, cache, in, model.string());
  EXPECT_EQ(res.status, 0) << res.err;
  auto v = replies(res.out);
  auto paths = [&](int id) {
    std::vector<std::string> out;
    const json* m = by_id(v, id);
    if (m == nullptr || !m->contains("result") || !(*m)["result"].contains("structuredContent"))
      return out;
    for (const auto& h : (*m)["result"]["structuredContent"]["results"])
      out.push_back(h["path"].get<std::string>());
    return out;
  };
  const auto all = paths(2);
  EXPECT_NE(std::find(all.begin(), all.end(), "projA/retry.py"), all.end()) << res.out;
  // Paths are relative to the root that answered: ws ("projB/b.py") when call 2 opened it
  // first, else projB itself ("b.py"; the two calls run at once on two workers, in either
  // order: this test failed under load in 2026-12-06's local run). projA's files never.
  auto in_b = [](const std::string& p, std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (p == n || p == std::string("projB/") + n) return true;
    return false;
  };
  const auto b = paths(3);
  ASSERT_FALSE(b.empty()) << res.out;
  for (const auto& p : b) EXPECT_TRUE(in_b(p, {"b.py", "c.py"})) << p;
  const auto c = paths(4);
  for (const auto& p : c) EXPECT_TRUE(in_b(p, {"c.py"})) << p;
  ASSERT_TRUE(by_id(v, 5));
  EXPECT_EQ((*by_id(v, 5))["result"]["isError"], true) << *by_id(v, 5);
  EXPECT_NE(tool_text(*by_id(v, 5)).find("not a directory or a regular file"), std::string::npos);
  ASSERT_TRUE(by_id(v, 6));
  EXPECT_NE((*by_id(v, 6))["result"]["isError"], true) << *by_id(v, 6);
}

// Hostile probe 2026-12-07: a root through a folder that does not exist, or through a file
// ("no-such-dir/../src", "src/util.py/../main.py", "src/util.py/..") was served: its ".." was
// resolved as text. The OS opens none of them: each is an isError result naming the root.
TEST(McpProtocol, RootThroughAMissingFolderOrAFileIsRefused) {
  TempDir repo, cache;
  repo.write("src/util.py", "def util():\n    return 1\n");
  repo.write("src/main.py", "def main():\n    return 2\n");
  std::string in = kInitialize;
  int id = 2;
  const std::vector<std::string> roots = {"no-such-dir/../src", "src/util.py/../main.py",
                                          "src/util.py/.."};
  for (const auto& root : roots)
    in += tool_call(id++, "search_code", {{"query", "util"}, {"root", root}, {"mode", "keyword"}});
  auto res = run_mcp(repo, cache, in);
  EXPECT_EQ(res.status, 0) << res.err;
  auto v = replies(res.out);
  for (int i = 0; i < 3; ++i) {
    const json* m = by_id(v, 2 + i);
    ASSERT_TRUE(m) << res.out;
    EXPECT_EQ((*m)["result"]["isError"], true) << *m;
    EXPECT_NE(tool_text(*m).find("root " + roots[i] + " does not exist"), std::string::npos) << *m;
  }
}

// Hostile probe 2026-12-07: find_similar of a file of no project (no git work tree, no
// .ripvec/, no index of a folder above it; ~/notes.txt in a home folder that is no repository,
// /etc/hostname) made the file's folder a root and indexed it whole, dotfiles included, and that
// index then took over every repository below it. Such a file named as file_path or root is
// refused; nothing is indexed.
TEST(McpProtocol, FileOfNoProjectIsRefusedNotItsFolderIndexed) {
  const auto model = default_model_dir();
  RIPVEC_REQUIRE_PATH(model);
  TempDir served, home, cache;
  served.write("s.py", "def served():\n    return 0\n");
  home.write("notes.txt", "buy milk and shopping list for the weekend\n");
  home.write("docs/plan.txt", "the weekend plan: shopping, then a walk\n");
  home.write("private/.env", "SECRET_TOKEN=hunter2\n");
  const std::string notes = (home.path() / "notes.txt").string();
  std::string in = kInitialize;
  in += tool_call(2, "find_similar", {{"file_path", notes}, {"line", 1}});
  in += tool_call(3, "search_code", {{"query", "shopping"}, {"root", notes}});
  auto res = run_mcp(served, cache, in, model.string());
  EXPECT_EQ(res.status, 0) << res.err;
  auto v = replies(res.out);
  for (int id : {2, 3}) {
    const json* m = by_id(v, id);
    ASSERT_TRUE(m) << res.out;
    EXPECT_EQ((*m)["result"]["isError"], true) << *m;
    EXPECT_NE(tool_text(*m).find("file of no project"), std::string::npos) << *m;
  }
  for (const auto& e : std::filesystem::recursive_directory_iterator(cache.path()))
    EXPECT_NE(e.path().filename(), "manifest.json") << "an index was written: " << e.path();
}

// Hostile probe 2026-12-06: find_duplicates compared the whole index (pairs from outside a
// served root below its git root, whose index it shares, and outside a `root` named below the
// served one), get_repo_map of a `root` below the served one mapped the whole served tree, and
// find_similar took a relative file_path against the index's root (for --root repo/sub only
// "sub/a.py" worked, while get_repo_map's focus_file is relative to the root).
// A Python function and the paths of both sides of every pair in a find_duplicates reply.
const std::string kAddNumbers =
    "def add_numbers(first, second):\n    \"\"\"Add two numbers.\"\"\"\n"
    "    total = first + second\n    return total\n";
std::vector<std::string> pair_paths(const json& reply) {
  std::vector<std::string> paths;
  if (reply["result"].contains("structuredContent"))
    for (const auto& p : reply["result"]["structuredContent"]["pairs"])
      for (const char* side : {"a", "b"}) paths.push_back(p[side]["path"].get<std::string>());
  return paths;
}

TEST(McpProtocol, DuplicatesMapAndSimilarStayInTheRootTheyAreGiven) {
  const auto model = default_model_dir();
  RIPVEC_REQUIRE_PATH(model);
  TempDir repo, cache;
  std::filesystem::create_directories(repo.path() / ".git");  // the index root: repo
  const std::string& fn = kAddNumbers;
  repo.write("sub/a.py", fn);
  repo.write("sub/b.py", "import os\n\n\n" + fn);
  repo.write("other/c.py", fn);
  repo.write("other/d.py", "import sys\n\n\n" + fn);
  // find_duplicates' reply (id 2) has pairs, all of them in sub/.
  auto expect_pairs_in_sub = [](const CliResult& res, const std::vector<json>& v) {
    const json* m = by_id(v, 2);
    ASSERT_TRUE(m) << res.out;
    const std::vector<std::string> paths = pair_paths(*m);
    ASSERT_FALSE(paths.empty()) << res.out;
    for (const auto& p : paths) EXPECT_TRUE(p.starts_with("sub/")) << p;
  };
  const std::string sub = (repo.path() / "sub").string();
  {  // served root repo/sub: its index is repo's, scoped to sub
    std::string in = kInitialize;
    in += tool_call(2, "find_duplicates", {{"threshold", 0.5}});
    in += tool_call(3, "find_similar", {{"file_path", "a.py"}, {"line", 1}});
    in += tool_call(4, "find_similar", {{"file_path", "sub/a.py"}, {"line", 1}});
    const CliResult res = run_mcp(repo.path() / "sub", cache, in, model.string());
    ASSERT_EQ(res.status, 0) << res.err;
    const auto v = replies(res.out);
    ASSERT_NO_FATAL_FAILURE(expect_pairs_in_sub(res, v));
    for (int id : {3, 4}) {
      ASSERT_TRUE(by_id(v, id));
      EXPECT_NE((*by_id(v, id))["result"]["isError"], true) << *by_id(v, id);
    }
  }
  {  // served root repo, `root` naming repo/sub
    std::string in = kInitialize;
    in += tool_call(2, "find_duplicates", {{"threshold", 0.5}, {"root", sub}});
    in += tool_call(3, "get_repo_map", {{"root", sub}});
    in += tool_call(4, "find_similar", {{"file_path", "b.py"}, {"line", 4}, {"root", sub}});
    const CliResult res = run_mcp(repo, cache, in, model.string());
    ASSERT_EQ(res.status, 0) << res.err;
    const auto v = replies(res.out);
    ASSERT_NO_FATAL_FAILURE(expect_pairs_in_sub(res, v));
    ASSERT_TRUE(by_id(v, 3));
    const std::string map = tool_text(*by_id(v, 3));
    EXPECT_NE(map.find("a.py"), std::string::npos) << map;
    EXPECT_EQ(map.find("c.py"), std::string::npos) << map;
    ASSERT_TRUE(by_id(v, 4));
    EXPECT_NE((*by_id(v, 4))["result"]["isError"], true) << *by_id(v, 4);
  }
}

// A `root` naming a hidden folder: search_code answered from it (a named path's own hidden
// components do not count as hidden: SearchFilter::paths) but find_duplicates refused every
// chunk under it, because its own hidden test looked at the whole path ("0 pairs", silently).
// Hidden files below a named root stay out of both.
TEST(McpProtocol, DuplicatesInAHiddenFolderNamedAsRootAreFound) {
  const auto model = default_model_dir();
  RIPVEC_REQUIRE_PATH(model);
  TempDir repo, cache;
  std::filesystem::create_directories(repo.path() / ".git");
  const std::string& fn = kAddNumbers;
  repo.write(".tools/a.py", fn);
  repo.write(".tools/b.py", "import os\n\n\n" + fn);
  repo.write(".tools/.c.py", fn);
  repo.write("src/d.py", fn);
  const std::string tools = (repo.path() / ".tools").string();
  std::string in = kInitialize;
  in += tool_call(2, "find_duplicates", {{"threshold", 0.5}, {"root", tools}});
  in +=
      tool_call(3, "search_code", {{"query", "add_numbers"}, {"mode", "keyword"}, {"root", tools}});
  const CliResult res = run_mcp(repo, cache, in, model.string());
  ASSERT_EQ(res.status, 0) << res.err;
  const auto v = replies(res.out);
  const json* dup = by_id(v, 2);
  ASSERT_TRUE(dup) << res.out;
  const std::vector<std::string> paths = pair_paths(*dup);
  ASSERT_FALSE(paths.empty()) << *dup;
  for (const auto& p : paths) {
    EXPECT_TRUE(p.starts_with(".tools/")) << p;
    EXPECT_EQ(p.find(".c.py"), std::string::npos) << p;
  }
  ASSERT_TRUE(by_id(v, 3));
  EXPECT_NE(tool_text(*by_id(v, 3)).find("a.py"), std::string::npos) << *by_id(v, 3);
}

// Hostile probe 2026-12-06: a `root` naming a folder the served root's .gitignore leaves out
// was answered from the served root's index, which holds none of its files: "No results",
// silently, where `ripvec QUERY build/` finds them. Such a folder is a root of its own.
TEST(McpProtocol, IgnoredFolderNamedAsRootIsIndexedOnItsOwn) {
  const auto model = default_model_dir();
  RIPVEC_REQUIRE_PATH(model);
  TempDir repo, cache;
  std::filesystem::create_directories(repo.path() / ".git");
  repo.write(".gitignore", "build/\n");
  repo.write("src/app.py", "def serve():\n    return 0\n");
  repo.write("build/gen.py", "def platypusfunc():\n    return 42\n");
  const std::string build = (repo.path() / "build").string();
  std::string in = kInitialize;
  in += tool_call(2, "search_code", {{"query", "platypusfunc"}, {"mode", "keyword"}});
  in += tool_call(3, "search_code",
                  {{"query", "platypusfunc"}, {"mode", "keyword"}, {"root", build}});
  const CliResult res = run_mcp(repo, cache, in, model.string());
  ASSERT_EQ(res.status, 0) << res.err;
  const auto v = replies(res.out);
  ASSERT_TRUE(by_id(v, 2) && by_id(v, 3)) << res.out;
  // The served root's own search leaves build/ out, as its ignore rules say.
  EXPECT_EQ(tool_text(*by_id(v, 2)).find("gen.py"), std::string::npos) << *by_id(v, 2);
  const json& r3 = (*by_id(v, 3))["result"];
  ASSERT_TRUE(r3.contains("structuredContent")) << r3;
  ASSERT_FALSE(r3["structuredContent"]["results"].empty()) << r3;
  EXPECT_EQ(r3["structuredContent"]["results"][0]["path"], "gen.py") << r3;
}

// Hostile probe 2026-12-06: every update warned again about each file it skips, so a client
// heard "not valid UTF-8" for the same file once per reindex (per save, with the watcher).
// The tool reply still lists it each time; the log notification comes once.
TEST(McpProtocol, SkippedFileIsLoggedOncePerSession) {
  const auto model = default_model_dir();
  RIPVEC_REQUIRE_PATH(model);
  TempDir repo, cache;
  std::filesystem::create_directories(repo.path() / ".git");
  repo.write("app.py", "def serve():\n    return 0\n");
  repo.write("latin1.py", std::string("name = 'caf\xe9'\n"));
  std::string in = kInitialize;
  in += tool_call(2, "reindex", json::object());
  in += tool_call(3, "reindex", json::object());
  in += tool_call(4, "reindex", json::object());
  const CliResult res = run_mcp(repo, cache, in, model.string());
  ASSERT_EQ(res.status, 0) << res.err;
  const auto v = replies(res.out);
  ASSERT_TRUE(by_id(v, 2) && by_id(v, 3) && by_id(v, 4)) << res.out;
  for (int id : {2, 3, 4})
    EXPECT_NE(tool_text(*by_id(v, id)).find("latin1.py"), std::string::npos) << *by_id(v, id);
  int logged = 0;
  for (const auto& m : v)
    if (m.value("method", "") == "notifications/message" &&
        m["params"]["data"].get<std::string>().find("latin1.py") != std::string::npos)
      ++logged;
  EXPECT_EQ(logged, 1) << res.out;
}

// Hostile probe 2026-12-05: a second initialize mid-session was answered as the first.
TEST(McpProtocol, SecondInitializeIsRefused) {
  TempDir repo, cache;
  repo.write("a.py", "def f():\n    return 1\n");
  std::string in = std::string(kInitialize) +
                   "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
                   "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{"
                   "\"name\":\"t\",\"version\":\"0\"}}}\n"
                   "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}\n";
  auto res = run_mcp(repo, cache, in);
  EXPECT_EQ(res.status, 0) << res.err;
  auto v = replies(res.out);
  ASSERT_TRUE(by_id(v, 1));
  EXPECT_TRUE((*by_id(v, 1)).contains("result"));
  ASSERT_TRUE(by_id(v, 2));
  EXPECT_EQ((*by_id(v, 2))["error"]["code"], -32600) << *by_id(v, 2);
  ASSERT_TRUE(by_id(v, 3));
  EXPECT_TRUE((*by_id(v, 3)).contains("result")) << "the session goes on";
}

}  // namespace
}  // namespace ripvec::test
