#!/usr/bin/env python3
"""Offline fusion study on an eval.py results file run with --depth 50 (or more).

    fusion.py RESULTS.json [--kind meaning] [--set labelled]

Re-ranks the stored keyword / semantic / bm25 lists of every query with several fusion rules and
scores them exactly as eval.py does (first 10 items). Items of the two lists are the same when
path, first and last line agree (ripvec's keyword and semantic modes rank the same chunks; BM25
items are whole definitions, so fusing them with chunks just interleaves). Each rule's parameter
is chosen on the tune half (best mean MRR@10 over all languages) and reported on the held-out
half, per language, next to ripvec's own hybrid mode and the better of its two inputs.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval import score  # noqa: E402

K = 10


def rrf(lists: list[list], weights: list[float], k: float) -> list:
    acc: dict[tuple, float] = defaultdict(float)
    for lst, w in zip(lists, weights):
        for rank, it in enumerate(lst, 1):
            acc[tuple(it[:3])] += w / (k + rank)
    return [list(key) + [s] for key, s in sorted(acc.items(), key=lambda kv: -kv[1])]


def convex(lists: list[list], alpha: float) -> list:
    """alpha * norm(first) + (1 - alpha) * norm(second); min-max over each list, 0 if absent."""
    acc: dict[tuple, float] = defaultdict(float)
    for lst, w in zip(lists, (alpha, 1 - alpha)):
        if not lst:
            continue
        hi, lo = max(x[3] for x in lst), min(x[3] for x in lst)
        for it in lst:
            acc[tuple(it[:3])] += w * ((it[3] - lo) / (hi - lo) if hi > lo else 1.0)
    return [list(key) + [s] for key, s in sorted(acc.items(), key=lambda kv: -kv[1])]


def load(path: str) -> dict:
    """A results file, plain or gzip-compressed (.gz, as committed under results/)."""
    with (gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)) as f:
        return json.load(f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="one or more results files (groups are pooled)")
    ap.add_argument("--kind", default="meaning")
    ap.add_argument("--set", default="labelled")
    ap.add_argument("--answers", default="", help="queries dir or csn dir to reload labels (default: bench/quality/queries)")
    args = ap.parse_args()
    res = load(args.results[0])
    for extra in args.results[1:]:
        res["groups"].extend(load(extra)["groups"])
    here = Path(__file__).resolve().parent
    import eval as ev  # for label resolution
    work = Path(res.get("work", here.parent.parent / "build" / "quality"))

    rows = []  # (language, split, {mode: list}, answers)
    for g in res["groups"]:
        if g["set"] != args.set:
            continue
        if g["set"] == "labelled":
            qfile = here / "queries" / f"{g['name']}.json"
            tree = work / "corpora" / g["name"]
        else:
            qfile = work / "csn" / f"{g['name']}.json"
            tree = work / "csn" / g["name"]
        qs = {q["id"]: q for q in json.loads(qfile.read_text())["queries"]}
        ev.resolve(tree, list(qs.values()))
        for q in g["queries"]:
            if q["kind"] == args.kind:
                rows.append((g["language"], q["split"], q["top"], qs[q["id"]]["answers"]))

    rules = {"ripvec hybrid": [None], "RRF k 60 (simulated, checks the simulation)": [60], "RRF k": [1, 5, 10, 20, 30, 60, 100],
             "RRF semantic weight (k 60)": [0.5, 1.0, 1.5, 2.0, 3.0],
             "convex alpha (semantic)": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
             "RRF semantic + BM25 functions k": [5, 10, 30, 60]}

    def ranked(rule: str, p, top: dict) -> list:
        kw, se = top.get("keyword", []), top.get("semantic", [])
        if rule == "ripvec hybrid":
            return top["hybrid"]
        if rule.startswith("RRF k"):
            return rrf([kw, se], [1, 1], p)
        if rule == "RRF semantic weight (k 60)":
            return rrf([kw, se], [1, p], 60)
        if rule == "convex alpha (semantic)":
            return convex([se, kw], p)
        if rule == "RRF semantic + BM25 functions k":
            return rrf([top["bm25"], se], [1, 1], p)
        raise ValueError(rule)

    def mrr(rule, p, split, lang=None) -> tuple[float, int]:
        vals = [score(ranked(rule, p, top)[:K], ans)["rr"] for l, s, top, ans in rows
                if s == split and (lang is None or l == lang)]
        return (sum(vals) / len(vals) if vals else float("nan")), len(vals)

    langs = sorted({r[0] for r in rows})
    print(f"Fusion study, {args.set} {args.kind} queries; parameter picked on the tune half, MRR@10 on held-out")
    print()
    print("| rule | param (tune MRR) | " + " | ".join(langs) + " | all |")
    print("|---|---|" + "---|" * (len(langs) + 1))
    for base in ("keyword", "semantic", "bm25"):
        cells = []
        for lang in langs + [None]:
            vals = [score(top[base][:K], ans)["rr"] for l, s, top, ans in rows
                    if s == "held-out" and (lang is None or l == lang)]
            cells.append(f"{sum(vals) / len(vals):.3f}")
        print(f"| {base} alone | | " + " | ".join(cells) + " |")
    for rule, params in rules.items():
        best = max(params, key=lambda p: mrr(rule, p, "tune")[0])
        cells = [f"{mrr(rule, best, 'held-out', lang)[0]:.3f}" for lang in langs + [None]]
        label = "" if best is None else f"{best} ({mrr(rule, best, 'tune')[0]:.3f})"
        print(f"| {rule} | {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
