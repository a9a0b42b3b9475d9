#!/usr/bin/env python3
"""`ripvec mcp` on a root whose index another process is updating: this client holds the index's
lock, as a `ripvec index` stopped with Ctrl-Z would. Until 2026-12-07 (hostile probe) a search
waited on that lock without limit, and cancelling the request did not end the wait.

Usage: mcp_busy_client.py RIPVEC MODEL_DIR CACHE_DIR TREE

1. With a committed update: search_code answers at once from it (without the file added since),
   the client hears a warning naming the other process, and once the lock is released the next
   search takes in the added file.
2. With no committed update (a fresh index folder): search_code waits; notifications/cancelled
   ends the wait (index_status stops saying "updating" while the lock is still held) and the
   server answers a ping; after the release a search indexes the tree.
Exit status 0 = every check passed, 1 = failure.
"""
import fcntl
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_checks import check, finish, write  # noqa: E402
from raw_peer import start_mcp  # noqa: E402


def start(ripvec, model, cache, tree):
    return start_mcp(ripvec, model, cache, tree, "busy_client", ["--no-watch"])


def search(c, i, query, timeout=120):
    return c.request(i, "tools/call", {"name": "search_code",
                                       "arguments": {"query": query, "mode": "keyword"}}, timeout)


def text_of(r):
    return "".join(part.get("text", "") for part in r["result"]["content"]) if r else ""


def hold(lock_path):
    os.makedirs(os.path.dirname(lock_path), exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def release(fd):
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def index_folder(ripvec, model, cache, tree):
    out = subprocess.run([ripvec, "index", "--status", "--model", model, "--device", "cpu",
                          "--cache-dir", cache, tree], capture_output=True, text=True).stdout
    return next((l[len("index: "):].split(" (read-only)")[0] for l in out.splitlines()
                 if l.startswith("index: ")), None)


def main(ripvec, model, cache, tree):
    write(os.path.join(tree, "zoo.py"),
          "def wallaby_feeding_schedule():\n    return 'wallaby'\n")
    write(os.path.join(tree, "farm.py"), "def count_the_sheep(n):\n    return n + 1\n")
    rc = subprocess.run([ripvec, "index", "-q", "--model", model, "--device", "cpu",
                         "--cache-dir", cache, tree], capture_output=True).returncode
    check(rc == 0, "the tree is indexed")
    loc = index_folder(ripvec, model, cache, tree)
    check(loc is not None and os.path.exists(os.path.join(loc, "manifest.json")),
          f"the index folder is known ({loc})")
    write(os.path.join(tree, "koala.py"), "def koala_count_marker(x):\n    return x + 1\n")

    # 1. A committed update to serve.
    fd = hold(os.path.join(loc, "lock"))
    c = start(ripvec, model, cache, tree)
    t0 = time.monotonic()
    r = search(c, 2, "wallaby feeding", timeout=60)
    dt = time.monotonic() - t0
    check(r is not None and not r["result"]["isError"],
          f"busy: search_code answers from the last update ({dt:.1f} s)")
    check("zoo.py" in text_of(r), "busy: its results are the committed index's")
    r = search(c, 3, "koala_count_marker", timeout=60)
    check(r is not None and "koala.py" not in text_of(r),
          "busy: the file added since is not served yet")
    warned = any(m and m.get("method") == "notifications/message" and
                 "another process is updating the index" in json.dumps(m["params"])
                 for _, m in c.msgs)
    check(warned, "busy: the client is told another process is updating the index")
    release(fd)
    r = search(c, 4, "koala_count_marker")
    check(r is not None and "koala.py" in text_of(r),
          "released: the next search takes in the added file")
    c.close()

    # 2. Nothing committed yet: the search waits, and cancelling it ends the wait.
    fresh = os.path.join(cache, "fresh")
    os.makedirs(fresh)
    loc2 = index_folder(ripvec, model, fresh, tree)
    check(loc2 is not None, f"the fresh index folder is known ({loc2})")
    fd = hold(os.path.join(loc2, "lock"))
    c = start(ripvec, model, fresh, tree)
    c.send({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "search_code", "arguments": {"query": "koala", "mode": "keyword"}}})
    time.sleep(2.0)
    check(not any(m and m.get("id") == 5 for _, m in c.msgs),
          "no update to serve: the search waits for the other process")
    c.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}})
    stopped = False
    t0 = time.monotonic()
    i = 10
    while time.monotonic() - t0 < 10 and not stopped:
        st = c.request(i, "tools/call", {"name": "index_status", "arguments": {}}, 30)
        i += 1
        stopped = st is not None and not st["result"]["structuredContent"]["roots"][0]["updating"]
        time.sleep(0.1)
    check(stopped, "cancelled: the wait ends while the lock is still held")
    check(c.request(100, "ping", {}, 10) is not None, "cancelled: the server answers a ping")
    release(fd)
    r = search(c, 101, "koala_count_marker")
    check(r is not None and "koala.py" in text_of(r), "released: a search indexes the tree")
    c.close()
    return finish()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
