#!/usr/bin/env python3
"""Retrieval quality of `ripvec` on a labelled corpus (default: Flask, see flask_queries.json).

For every query and every mode it runs
    ripvec --json -n K --mode MODE -q QUERY          (cwd = the corpus root)
and scores the ranked hits against the labelled answers:

  * a hit answers a label when it is in the same file and either its symbol equals the label's
    Python qualified name, or at least half of the hit's lines lie inside the labelled
    definition (decorators included), so that pieces of a long definition split into windows
    count, while a whole-class or whole-file chunk that merely contains it does not;
  * MRR@K: mean over queries of 1 / rank of the first hit answering any label (0 if none);
  * Recall@K: mean over queries of the fraction of labels answered by some hit in the top K;
  * Hit@1: fraction of queries whose first hit answers a label.

Labels are resolved against the source with `ast` first, so a label naming a symbol that does
not exist aborts the run instead of silently scoring zero.

Usage: eval.py --ripvec BIN --root FLASK_DIR [--queries flask_queries.json] [--modes ...]
       [-n 10] [--extra='FLAGS'] [--details] [--json-out FILE]
"""
from __future__ import annotations

import argparse
import ast
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path


def definition_ranges(path: Path) -> dict[str, list[tuple[int, int]]]:
    """Qualified name ("Class.method", "func") -> [(first_line, last_line)], 1-based inclusive."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: dict[str, list[tuple[int, int]]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                out.setdefault(name, []).append((first, child.end_lineno or child.lineno))
                visit(child, name + ".")

    visit(tree, "")
    return out


def resolve_labels(root: Path, queries: list[dict]) -> None:
    cache: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for q in queries:
        for a in q["answers"]:
            p = root / a["path"]
            if not p.is_file():
                sys.exit(f"eval.py: query {q['id']}: labelled file {a['path']} not in {root}")
            if a["path"] not in cache:
                cache[a["path"]] = definition_ranges(p)
            ranges = cache[a["path"]].get(a["symbol"])
            if not ranges:
                sys.exit(f"eval.py: query {q['id']}: no definition {a['symbol']} in {a['path']}")
            a["ranges"] = ranges


def answers(hit: dict, label: dict) -> bool:
    if hit["path"] != label["path"]:
        return False
    if hit.get("symbol") == label["symbol"]:
        return True
    hs, he = int(hit["start_line"]), int(hit["end_line"])
    length = he - hs + 1
    for ls, le in label["ranges"]:
        overlap = min(he, le) - max(hs, ls) + 1
        if overlap > 0 and 2 * overlap >= length:
            return True
    return False


def run_query(ripvec: str, root: Path, query: str, mode: str, k: int, extra: list[str]) -> list[dict]:
    cmd = [ripvec, "--json", "-n", str(k), "--mode", mode, "-q", *extra, "--", query]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode == 1:
        return []
    if proc.returncode != 0:
        sys.exit(f"eval.py: {' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    hits = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    for h in hits:  # ripvec prints paths relative to the cwd; normalise "./x" just in case
        if h["path"].startswith("./"):
            h["path"] = h["path"][2:]
    return hits


def score(hits: list[dict], labels: list[dict], k: int) -> tuple[float, float, int | None]:
    hits = hits[:k]
    first = None
    for rank, h in enumerate(hits, 1):
        if any(answers(h, lab) for lab in labels):
            first = rank
            break
    found = sum(1 for lab in labels if any(answers(h, lab) for h in hits))
    return (1.0 / first if first else 0.0), found / len(labels), first


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ripvec", required=True, help="path of the ripvec binary")
    ap.add_argument("--root", required=True, type=Path, help="corpus root (extracted sdist)")
    ap.add_argument("--queries", type=Path, default=here / "flask_queries.json")
    ap.add_argument("--modes", nargs="+", default=["semantic", "keyword", "hybrid"])
    ap.add_argument("-n", type=int, default=10, help="K of MRR@K / Recall@K")
    ap.add_argument("--extra", default="",
                    help="extra ripvec flags, one shell-quoted string (use --extra='--cache-dir D')")
    ap.add_argument("--details", action="store_true", help="print the first relevant rank per query")
    ap.add_argument("--json-out", type=Path, help="write per-query results here")
    args = ap.parse_args()

    root = args.root.resolve()
    data = json.loads(args.queries.read_text())
    queries = data["queries"]
    resolve_labels(root, queries)
    ripvec = str(Path(args.ripvec).resolve())
    args.extra = shlex.split(args.extra)

    # Build the index once up front so that the per-query runs measure search, not indexing.
    t0 = time.monotonic()
    proc = subprocess.run([ripvec, "index", "-q", *args.extra, "."], cwd=root,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"eval.py: ripvec index failed ({proc.returncode}): {proc.stderr.strip()}")
    index_s = time.monotonic() - t0

    rows = []
    per_query: dict[int, dict] = {q["id"]: {"query": q["query"], "first_rank": {}} for q in queries}
    for mode in args.modes:
        mrr = rec = hit1 = 0.0
        t0 = time.monotonic()
        for q in queries:
            hits = run_query(ripvec, root, q["query"], mode, args.n, args.extra)
            rr, r, first = score(hits, q["answers"], args.n)
            mrr += rr
            rec += r
            hit1 += 1.0 if first == 1 else 0.0
            per_query[q["id"]]["first_rank"][mode] = first
            per_query[q["id"]].setdefault("top", {})[mode] = [
                f"{h['path']}:{h['start_line']}-{h['end_line']} {h.get('symbol', '')}" for h in hits[:3]]
        n = len(queries)
        rows.append((mode, mrr / n, rec / n, hit1 / n, (time.monotonic() - t0) / n))

    corpus = data.get("corpus", {})
    print(f"Corpus: {corpus.get('name', '?')} {corpus.get('version', '')} ({len(queries)} queries), "
          f"K = {args.n}; index build/refresh {index_s:.1f}s")
    print()
    print(f"| mode | MRR@{args.n} | Recall@{args.n} | Hit@1 | s/query (process) |")
    print("|---|---|---|---|---|")
    for mode, mrr, rec, h1, spq in rows:
        print(f"| {mode} | {mrr:.3f} | {rec:.3f} | {h1:.3f} | {spq:.2f} |")
    if args.details:
        print()
        print("| id | query | " + " | ".join(args.modes) + " |")
        print("|---|---|" + "---|" * len(args.modes))
        for qid, info in per_query.items():
            ranks = [str(info["first_rank"].get(m) or "-") for m in args.modes]
            print(f"| {qid} | {info['query']} | " + " | ".join(ranks) + " |")
    if args.json_out:
        args.json_out.write_text(json.dumps({"summary": rows, "queries": per_query}, indent=1))


if __name__ == "__main__":
    main()
