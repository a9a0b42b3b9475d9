#!/usr/bin/env python3
"""kill -9 of `ripvec mcp` in the middle of an index update leaves a usable index.

Usage: mcp_kill_client.py RIPVEC MODEL_DIR CACHE_DIR TREE

Round 1: the `reindex` tool embeds 160 new files; the server is killed (SIGKILL) while it
embeds them. Round 2: the file watcher picks up 160 more files; the server is killed while that
update runs. Round 3: the client closes stdin while the watcher updates 320 more files; the
server must cancel that update and exit, leaving them uncommitted. After each kill, the CLI on the same root and cache (`ripvec index`, then keyword
and semantic searches) must work and answer correctly: every file is found, nothing is missing
or duplicated. Exit status 0 = every check passed, 1 = failure.
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_checks import check, finish, write  # noqa: E402
from raw_peer import start_mcp  # noqa: E402

N = 160


def cli(ripvec, model, cache, *args):
    p = subprocess.run([ripvec, *args, "--model", model, "--device", "cpu", "--cache-dir", cache],
                       capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                       timeout=900)
    return p.returncode, p.stdout, p.stderr


def rel(path, tree):
    # The CLI prints paths as the PATH argument spells them (absolute here).
    return os.path.relpath(path, tree)


def add_files(tree, lo, hi):
    for i in range(lo, hi):
        write(os.path.join(tree, "gen", f"mod_{i:03d}.py"),
              f"def zq_unique_{i}(x):\n    \"\"\"Scale x by {i}.\"\"\"\n    return x * {i}\n")


def verify(ripvec, model, cache, tree, n_files, what):
    rc, out, err = cli(ripvec, model, cache, "index", tree)
    check(rc == 0, f"{what}: `ripvec index` after the kill succeeds (rc {rc}) {err.strip()[-300:]}")
    rc, out, err = cli(ripvec, model, cache, "index", "--status", tree)
    files = next((int(l.split()[1]) for l in out.splitlines() if l.startswith("files:")), -1)
    stale = next((int(l.split()[2]) for l in out.splitlines() if l.startswith("stale files:")), -1)
    check(rc == 0 and files == n_files and stale == 0,
          f"{what}: the index holds the {n_files} files, none stale ({files}, {stale})")
    bad = []
    for i in list(range(0, n_files - 1, 17)) + [n_files - 2]:
        rc, out, err = cli(ripvec, model, cache, f"zq_unique_{i}", tree, "--mode", "keyword",
                           "--json", "-n", "3")
        hits = [json.loads(l) for l in out.splitlines() if l.strip()]
        if rc != 0 or not hits or rel(hits[0]["path"], tree) != f"gen/mod_{i:03d}.py":
            bad.append(i)
    check(not bad, f"{what}: keyword search finds each sampled file first (misses: {bad})")
    rc, out, err = cli(ripvec, model, cache, "sum of the squares of the values", tree, "--json",
                       "-n", "1")
    hits = [json.loads(l) for l in out.splitlines() if l.strip()]
    check(rc == 0 and hits and rel(hits[0]["path"], tree) == "seed.py",
          f"{what}: semantic search still finds the seed function first")


def start(ripvec, model, cache, tree, watch):
    return start_mcp(ripvec, model, cache, tree, "kill_client", [] if watch else ["--no-watch"])


def wait_for_update(c):
    """Polls index_status until the watcher's update runs (True) or 120 s pass (False)."""
    t0 = time.monotonic()
    i = 10
    while time.monotonic() - t0 < 120:
        r = c.request(i, "tools/call", {"name": "index_status", "arguments": {}}, 60)
        i += 1
        if r and r["result"]["structuredContent"]["roots"][0]["updating"]:
            return True
        time.sleep(0.1)
    return False


def kill(c):
    os.kill(c.p.pid, signal.SIGKILL)
    c.p.wait(timeout=60)
    check(c.p.returncode == -signal.SIGKILL, "the server died of SIGKILL")


def main(ripvec, model, cache, tree):
    write(os.path.join(tree, "seed.py"),
          "def seed_marker_function(values):\n"
          "    \"\"\"Sum the squares of the values.\"\"\"\n"
          "    return sum(v * v for v in values)\n")
    # Round 1: the reindex tool.
    c = start(ripvec, model, cache, tree, watch=False)
    r = c.request(2, "tools/call", {"name": "search_code", "arguments": {"query": "squares"}})
    check(r and not r["result"]["isError"], "the first search indexes the tree")
    add_files(tree, 0, N)
    c.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "reindex", "arguments": {}, "_meta": {"progressToken": 7}}})
    t, m = c.wait_for(lambda m: m.get("method") == "notifications/progress" and
                      m["params"].get("message", "").startswith("Embedding"), 300)
    check(m is not None, "round 1: reindex reaches the Embedding phase")
    # At once: the notification precedes the first embedding call, so the update cannot have
    # finished (a delay would let it finish on an idle machine).
    kill(c)
    check(not any(m and m.get("id") == 3 for _, m in c.msgs), "round 1: killed before it finished")
    verify(ripvec, model, cache, tree, N + 1, "round 1")

    # Round 2: the file watcher.
    c = start(ripvec, model, cache, tree, watch=True)
    r = c.request(2, "tools/call", {"name": "search_code", "arguments": {"query": "squares"}})
    check(r and not r["result"]["isError"], "round 2: the server opens the repaired index")
    add_files(tree, N, 2 * N)
    seen_update = wait_for_update(c)
    check(seen_update, "round 2: the watcher starts an update")
    time.sleep(1.0)
    kill(c)
    verify(ripvec, model, cache, tree, 2 * N + 1, "round 2")

    # Round 3: the client goes away (stdin closed) while the watcher updates: the server stops
    # the update at its next embedding call and exits without committing it.
    c = start(ripvec, model, cache, tree, watch=True)
    r = c.request(2, "tools/call", {"name": "search_code", "arguments": {"query": "squares"}})
    add_files(tree, 2 * N, 4 * N)
    seen_update = wait_for_update(c)
    check(seen_update, "round 3: the watcher starts an update")
    t0 = time.monotonic()
    c.p.stdin.close()
    c.p.wait(timeout=300)
    exit_s = time.monotonic() - t0
    rc, out, err = cli(ripvec, model, cache, "index", "--status", tree)
    stale = next((int(l.split()[2]) for l in out.splitlines() if l.startswith("stale files:")), -1)
    check(c.p.returncode == 0 and stale == 2 * N,
          f"round 3: the server exits {exit_s:.1f}s after stdin closes (status "
          f"{c.p.returncode}) without finishing the update ({stale} of {2 * N} files left stale)")
    return finish()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
