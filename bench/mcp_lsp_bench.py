#!/usr/bin/env python3
"""Warm-query latency of `ripvec mcp` (through the official MCP Python SDK) and request latency of
`ripvec lsp` (raw Content-Length JSON-RPC over pipes), on one tree.

  python3 bench/mcp_lsp_bench.py --ripvec build/release/apps/cli/ripvec --tree DIR \
      [--model DIR] [--cache DIR] [--queries 50]

The first MCP search indexes the tree (reported separately); then every query of a fixed list
runs --queries times in rotation and the client-side round trip is timed (model loaded, index
warm). LSP: documentSymbol, workspace/symbol and definition on the tree's files.
Prints a Markdown table row set for docs/benchmarks.md and the client versions.
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

QUERIES = [
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
]


def pct(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


async def bench_mcp(args):
    params = StdioServerParameters(
        command=args.ripvec,
        args=["mcp", "--root", args.tree, "--device", "cpu", "--cache-dir", args.cache,
              "--no-watch"] + (["--model", args.model] if args.model else []),
        env={"HF_HUB_OFFLINE": "1"})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            t0 = time.perf_counter()
            r = await s.call_tool("search_code", {"query": QUERIES[0]})
            index_s = time.perf_counter() - t0
            st = await s.call_tool("index_status", {})
            chunks = st.structured_content["roots"][0]["chunks"]
            for q in QUERIES:  # warm every query path once
                await s.call_tool("search_code", {"query": q})
            times = []
            for i in range(args.queries):
                q = QUERIES[i % len(QUERIES)]
                t0 = time.perf_counter()
                r = await s.call_tool("search_code", {"query": q, "top_k": 10})
                times.append((time.perf_counter() - t0) * 1000)
                assert not r.is_error, r.content
            kw = []
            for i in range(args.queries):
                t0 = time.perf_counter()
                await s.call_tool("search_code", {"query": QUERIES[i % len(QUERIES)],
                                                  "mode": "keyword"})
                kw.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            await s.call_tool("get_repo_map", {"token_budget": 1500})
            map_ms = (time.perf_counter() - t0) * 1000
            return {"chunks": chunks, "index_s": index_s, "hybrid": times, "keyword": kw,
                    "map_ms": map_ms}


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
    cmd = [args.ripvec, "lsp", "--device", "cpu", "--cache-dir", args.cache, "--no-watch"]
    if args.model:
        cmd += ["--model", args.model]
    c = Lsp(cmd)
    root = os.path.abspath(args.tree)
    c.request("initialize", {"rootUri": "file://" + root, "capabilities": {}})
    c.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    files = []
    for d, _, fs in os.walk(root):
        files += [os.path.join(d, f) for f in fs if f.endswith(".py")]
    files = sorted(files)[:20]
    c.request("workspace/symbol", {"query": "x"})  # builds the graph once
    res = {"documentSymbol": [], "workspace/symbol": [], "definition": []}
    for i in range(args.queries):
        f = files[i % len(files)]
        uri = "file://" + f
        t0 = time.perf_counter()
        c.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
        res["documentSymbol"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        c.request("workspace/symbol", {"query": ["route", "session", "config", "render"][i % 4]})
        res["workspace/symbol"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        c.request("textDocument/definition",
                  {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 6}})
        res["definition"].append((time.perf_counter() - t0) * 1000)
    c.request("shutdown", None)
    c.send({"jsonrpc": "2.0", "method": "exit"})
    c.p.wait(timeout=30)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ripvec", required=True)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--model", default="")
    ap.add_argument("--cache", default="")
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args()
    if not args.cache:
        args.cache = tempfile.mkdtemp(prefix="ripvec-bench-")
    m = asyncio.run(bench_mcp(args))
    lsp = bench_lsp(args)
    print(f"clients: mcp {version('mcp')} (Python SDK), Python {sys.version.split()[0]}; "
          f"LSP: raw JSON-RPC client (bench/mcp_lsp_bench.py)")
    print(f"tree {args.tree}: {m['chunks']} chunks; first search incl. indexing {m['index_s']:.1f} s")
    print("| request | n | p50 ms | p95 ms |")
    print("| --- | --- | --- | --- |")
    for name, xs in [("MCP search_code hybrid (warm)", m["hybrid"]),
                     ("MCP search_code keyword (warm)", m["keyword"])] + \
                    [("LSP " + k, v) for k, v in lsp.items()]:
        print(f"| {name} | {len(xs)} | {pct(xs, 50):.1f} | {pct(xs, 95):.1f} |")
    print(f"| MCP get_repo_map 1500 tokens | 1 | {m['map_ms']:.1f} | |")


if __name__ == "__main__":
    main()
