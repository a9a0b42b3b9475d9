"""`ripvec lsp` with a workspace folder below its index's root (run by lsp_test.cpp:
LspProtocol.SemanticSymbolsOfAFolderBelowItsIndexRoot):

    python3 lsp_subfolder_client.py RIPVEC MODEL_DIR CACHE_DIR TREE

TREE becomes a git work tree with sub/billing.py; the editor opens TREE/sub, whose index is the
work tree's (root TREE). The query matches no symbol's name, so every answer of workspace/symbol
comes from the semantic search. Hit paths were taken relative to the folder although they are
relative to the index's root, so no hit was found in the folder's graph and every semantic match
was dropped without a word (hostile probe 2026-12-07).
Exit status 0 = every check passed; 1 = failure.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_checks import check, finish, write  # noqa: E402
from raw_peer import Raw  # noqa: E402


def main():
    ripvec, model, cache, tree = sys.argv[1:5]
    os.makedirs(os.path.join(tree, ".git"), exist_ok=True)
    write(os.path.join(tree, "sub", "billing.py"),
          "def compute_invoice_tax_total(items, rate):\n"
          '    """Calculate the tax owed on an invoice from its line items."""\n'
          "    return sum(i.price for i in items) * rate\n")
    write(os.path.join(tree, "top.py"), "def unrelated_top():\n    return 0\n")
    folder = os.path.join(tree, "sub")
    c = Raw([ripvec, "lsp", "--no-watch", "--model", model, "--cache-dir", cache], framed=True)
    c.request(1, "initialize", {"rootUri": "file://" + folder, "capabilities": {}})
    c.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    names = []
    deadline = time.monotonic() + 90  # the background index of the work tree
    i = 2
    while time.monotonic() < deadline and not names:
        r = c.request(i, "workspace/symbol", {"query": "how much is owed to the state"})
        names = [(s["name"], s["location"]["uri"]) for s in (r or {}).get("result") or []]
        i += 1
        if not names:
            time.sleep(0.5)
    check(("compute_invoice_tax_total", "file://" + os.path.join(folder, "billing.py")) in names,
          f"workspace/symbol of a folder below its index's root has semantic matches: {names}"[:300])
    check(all(u.startswith("file://" + folder + "/") for _, u in names),
          "every match lies in the folder")
    c.shutdown(i)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
