#!/usr/bin/env python3
"""Does a PageRank boost help ranking? An offline study on the labelled query sets.

  build/quality/venv/bin/python bench/quality/pagerank_rerank.py \\
      [--results bench/quality/results/2026-12-04-labelled-depth50.json.gz] \\
      [--work build/quality] [--ripvec build/release/apps/cli/ripvec]

For every labelled code base (fetched by fetch_corpora.py into WORK/corpora), the repo map's
PageRank comes from `ripvec map --json TREE`: one rank per file and one per definition. Each
mode's top-50 candidates of the results file (path, lines, score, as ripvec ranked them) are
re-scored with

    score' = score + w * scale_m * log(max(pr, floor) * n)

where pr is the PageRank of the candidate's file (`--signal file`) or of the innermost definition
covering the candidate (`--signal def`, falling back to the file), n the number of files (or
definitions), so log(pr * n) = 0 for an average one, floor = 0.1 / n, and scale_m the spread of
that mode's scores (the median over queries of top-1 minus top-10 score), so that one w means
the same push in every mode. w is chosen on the tune half (grid, per mode; ties keep the
smaller |w|), and MRR@10 / Recall@10 are reported on the held-out half for w = 0 (ripvec as it
ranks today, recomputed from the candidates) and the tuned w. Identifier queries are included
in both halves as eval.py splits them.
Labels and matching are eval.py's (defs.py resolves symbols to line ranges).
"""
import argparse
import bisect
import gzip
import json
import math
import random
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
import eval as ev  # noqa: E402

GRID = [-0.2, -0.1, -0.05, -0.02, 0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5]


def pagerank_of(ripvec: str, tree: Path) -> dict:
    p = subprocess.run([ripvec, "map", "--json", str(tree)], capture_output=True, text=True,
                       check=True)
    m = json.loads(p.stdout)
    files = {f["path"]: f["rank"] for f in m["files"]}
    defs: dict[str, list] = {}
    n_defs = 0
    for f in m["files"]:
        ds = sorted((d["line"], d["end_line"], d["rank"]) for d in f["definitions"])
        defs[f["path"]] = ds
        n_defs += len(ds)
    return {"files": files, "defs": defs, "n_files": len(files), "n_defs": max(n_defs, 1)}


def signal(pr: dict, kind: str, path: str, start: int, end: int) -> float:
    n_files = pr["n_files"]
    file_pr = pr["files"].get(path)
    if kind == "file" or path not in pr["defs"]:
        if file_pr is None:
            return math.log(0.1)  # not a source file of the graph (docs, tests data)
        return math.log(max(file_pr, 0.1 / n_files) * n_files)
    # Innermost definition that covers the candidate's first line.
    best = None
    for (s, e, r) in pr["defs"][path]:
        if s <= start <= e and (best is None or e - s < best[1] - best[0]):
            best = (s, e, r)
    if best is None:
        return math.log(max(file_pr, 0.1 / n_files) * n_files)
    n = pr["n_defs"]
    return math.log(max(best[2], 0.1 / n) * n)


def rerank(cands: list, pr: dict, kind: str, w: float, scale: float) -> list:
    if w == 0:
        return cands
    scored = [(s + w * scale * signal(pr, kind, p, a, b), i, (p, a, b, s))
              for i, (p, a, b, s) in enumerate(cands)]
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [c for _, _, c in scored]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path,
                    default=HERE / "results" / "2026-12-04-labelled-depth50.json.gz")
    ap.add_argument("--work", type=Path, default=REPO / "build" / "quality")
    ap.add_argument("--ripvec", default=str(REPO / "build" / "release" / "apps" / "cli" / "ripvec"))
    ap.add_argument("--signal", choices=["file", "def"], default="file")
    args = ap.parse_args()
    res = json.load(gzip.open(args.results))
    modes = [m for m in res["modes"] if m != "bm25"]
    # (mode) -> list of (split, group, candidates, labels, pr)
    rows: dict[str, list] = {m: [] for m in modes}
    for g in res["groups"]:
        if g["set"] != "labelled":
            continue
        tree = args.work / "corpora" / g["name"]
        qdata = json.loads((HERE / "queries" / f"{g['name']}.json").read_text())["queries"]
        labels = {q["id"]: q for q in qdata}
        ev.resolve(tree, qdata)
        pr = pagerank_of(args.ripvec, tree)
        print(f"{g['name']}: {pr['n_files']} files, {pr['n_defs']} definitions in the graph",
              file=sys.stderr)
        for q in g["queries"]:
            for m in modes:
                cands = [tuple(c) for c in q["top"][m]]
                rows[m].append((q["split"], g["name"], cands, labels[q["id"]]["answers"], pr,
                                q["kind"]))
    print(f"PageRank signal: {args.signal}; results {args.results.name}; "
          f"candidates per query: {len(rows[modes[0]][0][2])}\n")
    print("| mode | w (tuned) | tune MRR@10 w=0 → w | held-out MRR@10 w=0 | held-out MRR@10 w | "
          "held-out Δ 95% CI (paired bootstrap) | better / worse queries | "
          "held-out Recall@10 w=0 → w | held-out queries |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for m in modes:
        spreads = [c[2][0][3] - c[2][min(9, len(c[2]) - 1)][3] for c in rows[m] if len(c[2]) > 1]
        scale = statistics.median(spreads) if spreads else 1.0

        def per_query(split, w, key):
            return [ev.score(rerank(c, pr, args.signal, w, scale), labs)[key]
                    for sp, _, c, labs, pr, _ in rows[m] if sp == split]

        def metric(split, w, key):
            xs = per_query(split, w, key)
            return sum(xs) / len(xs), len(xs)

        best_w, best = 0.0, metric("tune", 0.0, "rr")[0]
        base_tune = best
        for w in GRID:
            v = metric("tune", w, "rr")[0]
            if v > best + 1e-12 or (abs(v - best) <= 1e-12 and abs(w) < abs(best_w)):
                best_w, best = w, v
        h0, n = metric("held-out", 0.0, "rr")
        hw, _ = metric("held-out", best_w, "rr")
        r0, _ = metric("held-out", 0.0, "recall")
        rw, _ = metric("held-out", best_w, "recall")
        a, b = per_query("held-out", 0.0, "rr"), per_query("held-out", best_w, "rr")
        d = [y - x for x, y in zip(a, b)]
        rng = random.Random(12)
        boots = sorted(sum(rng.choice(d) for _ in d) / len(d) for _ in range(2000))
        ci = f"{boots[50]:+.3f} .. {boots[1949]:+.3f}"
        wins, losses = sum(x > 0 for x in d), sum(x < 0 for x in d)
        print(f"| {m} | {best_w:+.2f} (scale {scale:.4g}) | {base_tune:.3f} → {best:.3f} | "
              f"{h0:.3f} | {hw:.3f} | {ci} | {wins} / {losses} | {r0:.3f} → {rw:.3f} | {n} |")
        # The whole curve on held-out, for the record (not used to choose anything).
        curve = ", ".join(f"{w:+.2f}: {metric('held-out', w, 'rr')[0]:.3f}" for w in GRID)
        print(f"|  | held-out MRR over the grid: {curve} | | | | | | | |")


if __name__ == "__main__":
    main()
