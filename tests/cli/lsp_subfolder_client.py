"""`ripvec lsp` with a workspace folder below its index's root (run by lsp_test.cpp:
LspProtocol.SemanticSymbolsOfAFolderBelowItsIndexRoot):

    python3 lsp_subfolder_client.py RIPVEC MODEL_DIR CACHE_DIR TREE

TREE becomes a git work tree with sub/billing.py; the editor opens TREE/sub, whose index is the
work tree's (root TREE). The query matches no symbol's name, so every answer of workspace/symbol
comes from the semantic search. Hit paths were taken relative to the folder although they are
relative to the index's root, so no hit was found in the folder's graph and every semantic match
was dropped without a word (hostile probe 2026-12-07). Queries the model reads nothing of answer
an empty list without a warning.
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
    # A query the model reads nothing of (emoji only, white space) has no semantic matches and
    # logs nothing: an editor sends one per keystroke, and each logged "semantic search failed"
    # (2026-12-07, with check_query).
    for q in ["\U0001F600\U0001F600", "   "]:
        i += 1
        r = c.request(i, "workspace/symbol", {"query": q})
        check(r is not None and "error" not in r and r.get("result") == [],
              f"workspace/symbol {q!r} answers an empty list: {r}"[:200])
    i += 1
    c.request(i, "workspace/symbol", {"query": "invoice tax"})  # the log is in order after it
    logs = [m["params"]["message"] for _, m in c.msgs
            if m and m.get("method") == "window/logMessage"]
    check(not any("semantic search failed" in l for l in logs),
          f"no warning for them: {[l for l in logs if 'semantic' in l]}"[:300])
    i += 1
    c.shutdown(i)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
