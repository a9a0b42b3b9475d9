#!/usr/bin/env python3
"""Warm-query latency of `ripvec mcp` (through the official MCP Python SDK) and request latency of
`ripvec lsp` (raw Content-Length JSON-RPC over pipes), on one tree.

  python3 bench/mcp_lsp_bench.py --ripvec build/release/apps/cli/ripvec --tree DIR \
      [--model DIR] [--cache DIR|default] [--query-set flask|django|ripvec] [--rounds N]

The first MCP search opens (and, in a fresh cache, builds) the index; it is reported
separately. Then every query of the set runs in each mode (hybrid, semantic, keyword, interleaved
query by query) and the client-side round trip of tools/call is timed: model loaded, index open.
LSP: documentSymbol, workspace/symbol and definition over up to 50 of the tree's source files.
Prints the machine, the client versions and a Markdown table for docs/benchmarks.md.
"""
import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

# Query sets: natural-language descriptions (what the semantic side is for) and identifiers or
# short keyword phrases (what BM25 is for), mixed; every query runs in every mode.
QUERY_SETS = {
    "flask": [
        "register a url route with a view function",
        "load configuration from environment variables",
        "render a template with context",
        "handle an http error and return a response",
        "sign a session cookie",
        "teardown the application context",
        "send a file to the client",
        "parse json from the request body",
        "command line interface to run the server",
        "test client that sends requests",
    ],
    "django": [
        "hash a password with a salt",
        "check whether a password matches its hash",
        "validate an email address",
        "paginate a list of objects",
        "render a template with a context",
        "parse the http accept header",
        "set a cookie on the response",
        "csrf token check on post requests",
        "middleware that redirects to https",
        "cache the result of a view",
        "send an email with attachments",
        "reverse a url name to a path",
        "resolve a url path to a view",
        "migrate the database schema",
        "create a table for a model",
        "add a column in a migration",
        "build a sql query with joins",
        "filter a queryset by a related field",
        "aggregate values with sum and count",
        "select_related prefetch_related",
        "transaction atomic rollback on error",
        "database connection per thread",
        "serialize model instances to json",
        "upload a file and store it",
        "static files finder",
        "translate a string to the active language",
        "format a date according to the locale",
        "timezone aware datetime conversion",
        "slugify a string",
        "escape html in a template",
        "template filter that truncates words",
        "custom template tag with arguments",
        "form field validation error messages",
        "model form save commit false",
        "admin list display and search fields",
        "user permissions and groups",
        "login required decorator",
        "authenticate a user with a backend",
        "session expiry",
        "signal sent after a model is saved",
        "management command with arguments",
        "run the development server",
        "test case with a test client",
        "override settings in a test",
        "lazy object evaluation",
        "cached_property",
        "QuerySet.bulk_create",
        "get_object_or_404",
        "HttpResponseRedirect",
        "ValidationError",
        "ForeignKey on_delete CASCADE",
        "sitemap xml generation",
        "syndication feed rss",
        "gis geometry distance query",
        "postgres full text search vector",
        "content types generic foreign key",
    ],
    "ripvec": [
        "load safetensors weights with mmap",
        "tokenize text with wordpiece",
        "byte pair encoding merges",
        "reciprocal rank fusion of two rankings",
        "bm25 scoring of a chunk",
        "walk a directory respecting gitignore",
        "chunk source code with tree-sitter",
        "atomic write of a file with fsync",
        "file lock for one writer",
        "crc32c checksum of a section",
        "json rpc content length framing",
        "cancel a running request",
        "pagerank over the definition graph",
        "render the repo map within a token budget",
        "inotify file watcher with debounce",
        "find near duplicate chunks",
        "layer normalization kernel avx2",
        "attention softmax over a sequence",
        "gelu activation",
        "matrix multiply packed weights",
        "int8 quantized gemm",
        "cuda flash attention",
        "thread pool parallel for",
        "embed a batch of texts",
        "sort inputs by length into batches",
        "normalize rows to unit length",
        "top k over quantized vectors",
        "merge adjacent hits",
        "parse command line flags",
        "exit code when no results",
        "escape control characters in file names",
        "base64 encode bytes",
        "model config from config.json",
        "download a model from the hub",
        "resolve the project root",
        "incremental index update",
        "snapshot of the index on disk",
        "manifest of indexed files",
        "garbage collect unused objects",
        "progress reporting while indexing",
        "IndexProgress",
        "RepoGraph::build",
        "Endpoint::cancel",
        "search_without_index",
        "FrameReader",
        "ThreadPool",
        "CudaDriver",
        "Snapshot::open_file",
        "PathFilter",
        "Tokenizer::encode",
    ],
}



def pct(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def server_args(args):
    a = ["--device", "cpu"]
    if args.cache != "default":
        a += ["--cache-dir", args.cache]
    if args.model:
        a += ["--model", args.model]
    return a


async def bench_mcp(args, queries):
    params = StdioServerParameters(
        command=args.ripvec,
        args=["mcp", "--root", args.tree, "--no-watch", "--debug"] + server_args(args),
        env={"HF_HUB_OFFLINE": "1"})
    # --debug: the server logs each tool's own run time on stderr ("search_code ran X ms"), so
    # the table can split the round trip into server work and transport + client.
    errlog = tempfile.TemporaryFile(mode="w+")
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            t0 = time.perf_counter()
            r = await s.call_tool("search_code", {"query": queries[0]})
            index_s = time.perf_counter() - t0
            assert not r.is_error, r.content
            st = await s.call_tool("index_status", {})
            root = st.structured_content["roots"][0]
            for q in queries[:5]:  # warm-up
                await s.call_tool("search_code", {"query": q})
            out = {"chunks": root["chunks"], "files": root["files"], "index_s": index_s,
                   "index_root": root.get("index_root", "")}
            # Modes interleaved query by query, so that a burst of load on the machine hits all
            # three alike.
            times = {m: [] for m in args.modes}
            for _ in range(args.rounds):
                for q in queries:
                    for m in args.modes:
                        t0 = time.perf_counter()
                        r = await s.call_tool("search_code", {"query": q, "mode": m, "top_k": 10})
                        times[m].append((time.perf_counter() - t0) * 1000)
                        assert not r.is_error, r.content
            out["search"] = times
            errlog.flush()
            errlog.seek(0)
            ran = [float(l.split(" ran ")[1].split()[0]) for l in errlog
                   if l.startswith("ripvec mcp: search_code ran ")]
            # The last len(queries) * rounds * modes calls are the timed ones, in the same order.
            n = len(queries) * args.rounds * len(args.modes)
            ran = ran[-n:]
            out["server"] = {m: ran[i::len(args.modes)] for i, m in enumerate(args.modes)}
            t0 = time.perf_counter()
            await s.call_tool("get_repo_map", {"token_budget": 1500})
            out["map_ms"] = (time.perf_counter() - t0) * 1000
            return out


class Lsp:
    def __init__(self, cmd):
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        self.next_id = 1

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.p.stdin.flush()

    def read(self):
        n = None
        while True:
            line = self.p.stdout.readline()
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":")[1])
        return json.loads(self.p.stdout.read(n))

    def request(self, method, params):
        i = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        while True:
            m = self.read()
            if m.get("id") == i:
                return m


def bench_lsp(args):
    cmd = [args.ripvec, "lsp", "--no-watch"] + server_args(args)
    c = Lsp(cmd)
    root = os.path.abspath(args.tree)
    c.request("initialize", {"rootUri": "file://" + root, "capabilities": {}})
    c.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    files = []
    for d, _, fs in os.walk(root):
        files += [os.path.join(d, f) for f in fs
                  if f.endswith((".py", ".go", ".rs", ".js", ".ts", ".java", ".c", ".cpp", ".hpp",
                                 ".h", ".rb"))]
    files = sorted(files)[:: max(1, len(files) // 50)][:50]
    t0 = time.perf_counter()
    c.request("workspace/symbol", {"query": "x"})  # builds the graph once
    graph_ms = (time.perf_counter() - t0) * 1000
    res = {"documentSymbol": [], "workspace/symbol": [], "definition": []}
    words = ["get", "save", "render", "config", "request", "cache", "user", "query"]
    for i in range(args.lsp_requests):
        f = files[i % len(files)]
        uri = "file://" + f
        t0 = time.perf_counter()
        c.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
        res["documentSymbol"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        c.request("workspace/symbol", {"query": words[i % len(words)]})
        res["workspace/symbol"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        c.request("textDocument/definition",
                  {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 6}})
        res["definition"].append((time.perf_counter() - t0) * 1000)
    c.request("shutdown", None)
    c.send({"jsonrpc": "2.0", "method": "exit"})
    c.p.wait(timeout=60)
    return res, graph_ms


def machine():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ripvec", required=True)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--model", default="")
    ap.add_argument("--cache", default="",
                    help="index cache directory; 'default' = the server's default; empty = a "
                    "fresh temporary directory (the first search then indexes the tree)")
    ap.add_argument("--query-set", default="flask", choices=sorted(QUERY_SETS))
    ap.add_argument("--rounds", type=int, default=1, help="passes over the query set")
    ap.add_argument("--modes", default="hybrid,semantic,keyword")
    ap.add_argument("--lsp-requests", type=int, default=50)
    ap.add_argument("--no-lsp", action="store_true")
    args = ap.parse_args()
    args.modes = args.modes.split(",")
    if not args.cache:
        args.cache = tempfile.mkdtemp(prefix="ripvec-bench-")
    queries = QUERY_SETS[args.query_set]
    before = machine()
    m = asyncio.run(bench_mcp(args, queries))
    lsp, graph_ms = ({}, 0) if args.no_lsp else bench_lsp(args)
    print(f"machine: {before} at start; load average {os.getloadavg()[0]:.1f} at the end")
    print(f"clients: mcp {version('mcp')} (Python SDK), Python {sys.version.split()[0]}; "
          f"LSP: raw JSON-RPC client (bench/mcp_lsp_bench.py)")
    print(f"tree {args.tree} (index root {m['index_root']}): {m['files']} files, {m['chunks']} "
          f"chunks; first search (opens the index, updates it if needed) {m['index_s']:.1f} s")
    print(f"queries: {len(queries)} ({args.query_set} set) x {args.rounds} rounds per mode")
    print("| request | n | p50 ms | p95 ms | mean ms |")
    print("| --- | --- | --- | --- | --- |")
    rows = []
    for k, v in m["search"].items():
        rows.append((f"MCP search_code {k} (warm), client round trip", v))
        rows.append((f"MCP search_code {k}: of which the tool ran (server log)", m["server"][k]))
    rows += [("LSP " + k, v) for k, v in lsp.items()]
    for name, xs in rows:
        print(f"| {name} | {len(xs)} | {pct(xs, 50):.1f} | {pct(xs, 95):.1f} | "
              f"{statistics.mean(xs):.1f} |")
    print(f"| MCP get_repo_map 1500 tokens (first call: builds the graph) | 1 | {m['map_ms']:.1f} | | |")
    if not args.no_lsp:
        print(f"| LSP first workspace/symbol (builds the graph) | 1 | {graph_ms:.1f} | | |")


if __name__ == "__main__":
    main()
