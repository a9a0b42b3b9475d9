"""`ripvec lsp` without a model follows the files on disk (run by lsp_test.cpp:
LspProtocol.GraphFollowsTheDiskWithoutAModel):

    python3 lsp_watch_client.py RIPVEC MODEL_DIR CACHE_DIR TREE

The server runs with the file watcher on and a model that does not exist, so every index update
fails. Its repo graph (definitions, workspace symbols, calls) must still follow edits made on
disk: before the fix the watcher watched only roots whose index update had succeeded, and the
graph was rebuilt only after one, so a function moved down five lines kept its old location and
a new file's functions were never found (hostile probe 2026-12-06).
Exit status 0 = every check passed; 1 = failure.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_checks import check, finish, write  # noqa: E402
from raw_peer import Raw  # noqa: E402


def main():
    ripvec, _model, cache, tree = sys.argv[1:5]
    write(os.path.join(tree, "lib.py"), "def target():\n    return 1\n")
    write(os.path.join(tree, "use.py"), "from lib import target\n\nx = target()\n")
    c = Raw([ripvec, "lsp", "--model", "/nonexistent/model", "--cache-dir", cache], framed=True)
    c.request(1, "initialize", {"rootUri": "file://" + tree, "capabilities": {}})
    c.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    at = {"textDocument": {"uri": "file://" + os.path.join(tree, "use.py")},
          "position": {"line": 2, "character": 5}}
    r = c.request(2, "textDocument/definition", at)
    line = lambda r: (r or {}).get("result", [{}])[0].get("range", {}).get("start", {}).get("line")
    check(line(r) == 0, f"definition before the edit: lib.py line 0 ({r})"[:200])
    # Let the failed first index and the watcher's start happen, then edit on disk.
    t, m = c.wait_for(lambda m: "indexing failed" in str(m.get("params", {}).get("message", "")),
                      60)
    check(m is not None, "the failed first index is reported")
    time.sleep(1.0)
    write(os.path.join(tree, "lib.py"), "\n\n\n\n\ndef target():\n    return 1\n")
    write(os.path.join(tree, "new.py"), "def brand_new_function():\n    pass\n")
    found = moved = False
    deadline = time.monotonic() + 30  # the watcher's debounce is 2 s
    i = 3
    while time.monotonic() < deadline and not (found and moved):
        time.sleep(0.5)
        moved = line(c.request(i, "textDocument/definition", at)) == 5
        r = c.request(i + 1, "workspace/symbol", {"query": "brand_new_function"})
        found = bool((r or {}).get("result"))
        i += 2
    check(moved, "definition after the edit on disk: lib.py line 5")
    check(found, "workspace/symbol finds the new file's function")
    c.shutdown(i)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
