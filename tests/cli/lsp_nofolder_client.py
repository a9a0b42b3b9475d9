"""`ripvec lsp` started with no workspace folder (run by lsp_test.cpp:
LspProtocol.NoFolderOpenIndexesTheCurrentFolderOnlyInAProject):

    python3 lsp_nofolder_client.py RIPVEC MODEL_DIR CACHE_DIR TREE

With `rootUri: null` and no workspaceFolders (LSP's "no folder open") the server serves its
current folder. An editor started in a home folder that is no repository indexed all of it in
the background, dotfiles included (hostile probe 2026-12-07). Now that folder is indexed only
when it belongs to a project: TREE/home (no git) gets no index and a warning saying so;
TREE/repo (a git work tree) is indexed as before.
Exit status 0 = every check passed; 1 = failure.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_checks import check, finish, write  # noqa: E402
from raw_peer import Raw  # noqa: E402


def manifests(cache):
    return [os.path.join(d, f) for d, _, fs in os.walk(cache) for f in fs if f == "manifest.json"]


def session(ripvec, model, cache, cwd, watch=False):
    os.chdir(cwd)
    c = Raw([ripvec, "lsp"] + ([] if watch else ["--no-watch"]) +
            ["--model", model, "--cache-dir", cache], framed=True)
    c.request(1, "initialize", {"rootUri": None, "capabilities": {}})
    c.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    return c


def main():
    ripvec, model, cache, tree = sys.argv[1:5]
    home, repo = os.path.join(tree, "home"), os.path.join(tree, "repo")
    write(os.path.join(home, "notes.py"), "def shopping_list():\n    return ['milk']\n")
    write(os.path.join(home, ".secrets", "token.py"), "TOKEN = 'hunter2'\n")
    write(os.path.join(repo, "lib.py"), "def parse_config(path):\n    return path\n")
    os.makedirs(os.path.join(repo, ".git"), exist_ok=True)

    c = session(ripvec, model, os.path.join(cache, "a"), home, watch=True)
    _, m = c.wait_for(lambda m: "without indexing it" in str(m.get("params", {}).get("message", "")),
                      60)
    check(m is not None, "no folder open in a folder of no project: a warning says it is not "
                         "indexed")
    r = c.request(2, "workspace/symbol", {"query": "shopping_list"})
    check(bool((r or {}).get("result")), "its symbols are still served from the repo graph")
    # Watched without an index (review 2026-12-07): a file written on disk reaches the graph.
    time.sleep(1.0)
    write(os.path.join(home, "later.py"), "def written_on_disk_later():\n    return 1\n")
    found, i, deadline = False, 3, time.monotonic() + 30  # the watcher's debounce is 2 s
    while time.monotonic() < deadline and not found:
        time.sleep(0.5)
        r = c.request(i, "workspace/symbol", {"query": "written_on_disk_later"})
        found = bool((r or {}).get("result"))
        i += 1
    check(found, "a file written on disk later is in the graph (the folder is watched)")
    c.shutdown(99)
    check(not manifests(os.path.join(cache, "a")), "nothing was indexed")

    c = session(ripvec, model, os.path.join(cache, "b"), repo)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not manifests(os.path.join(cache, "b")):
        time.sleep(0.3)
    check(bool(manifests(os.path.join(cache, "b"))), "no folder open in a git work tree: indexed")
    c.shutdown(99)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
