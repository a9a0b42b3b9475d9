#!/usr/bin/env python3
"""Markdown tables from an eval.py results file.

    report.py RESULTS.json [--details]

Tables: for each query set (meaning, identifier, csn) and split (held-out, tune, all), one row
per language (code bases of a language pooled, queries weighted equally) and one per code base
for the hand-labelled sets, with MRR@10 / Recall@10 / nDCG@10 per mode. --details adds the
first relevant rank per labelled query and mode.
"""
from __future__ import annotations

import argparse
import gzip
import json
from collections import defaultdict

ORDER = ["bm25", "keyword", "semantic", "hybrid"]
LABEL = {"bm25": "BM25 (whole functions)", "keyword": "ripvec keyword", "semantic": "ripvec semantic",
         "hybrid": "ripvec hybrid"}


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def table(rows: dict[str, list[dict]], modes: list[str], metric_names=("rr", "recall", "ndcg")) -> list[str]:
    head = "| | n | " + " | ".join(f"{LABEL[m]} MRR / R@10 / nDCG" for m in modes) + " |"
    out = [head, "|---|---:|" + "---|" * len(modes)]
    for key, qs in rows.items():
        cells = []
        best = max(mean([q["scores"][m]["rr"] for q in qs]) for m in modes)
        for m in modes:
            vals = [mean([q["scores"][m][k] for q in qs]) for k in metric_names]
            s = " / ".join(f"{v:.3f}" for v in vals)
            cells.append(f"**{s}**" if abs(vals[0] - best) < 1e-9 else s)
        out.append(f"| {key} | {len(qs)} | " + " | ".join(cells) + " |")
    return out


def load(path: str) -> dict:
    """A results file, plain or gzip-compressed (.gz, as committed under results/)."""
    with (gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)) as f:
        return json.load(f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="one or more results files (groups are pooled)")
    ap.add_argument("--details", action="store_true")
    args = ap.parse_args()
    res = load(args.results[0])
    for extra in args.results[1:]:
        res["groups"].extend(load(extra)["groups"])
    modes = [m for m in ORDER if m in res["modes"]]
    lines = []
    for kind, title in (("meaning", "Hand-labelled meaning queries"),
                        ("identifier", "Identifier queries (exact symbol names)"),
                        ("csn", "Automatic docstring queries (CodeSearchNet-style, docstrings stripped)")):
        for split in (("all",) if kind == "identifier" else ("held-out", "tune")):
            by_lang: dict[str, list[dict]] = defaultdict(list)
            by_corpus: dict[str, list[dict]] = defaultdict(list)
            for g in res["groups"]:
                for q in g["queries"]:
                    if q["kind"] == kind and split in (q["split"], "all"):
                        by_lang[g["language"]].append(q)
                        by_corpus[f"{g['language']}: {g['name']}"].append(q)
            if not by_lang:
                continue
            rows = dict(sorted(by_lang.items()))
            rows["all"] = [q for qs in by_lang.values() for q in qs]
            if kind == "csn" and len(by_corpus) > len(by_lang):
                rows.update({f"  {k}": v for k, v in sorted(by_corpus.items())})
            lines.append(f"### {title}, {split} half" if split != "all" else f"### {title}, both halves")
            lines.append("")
            lines.extend(table(rows, modes))
            lines.append("")
    idx = [(g["set"], g["name"], g.get("index", {}).get("seconds"), g.get("search_seconds"), len(g["queries"]))
           for g in res["groups"]]
    lines.append("Index build (cold, s) and search wall time (s, all modes, "
                 "one process per query) per tree:")
    lines.append("")
    lines.append("| set | code base | index s | search s | queries |")
    lines.append("|---|---|---:|---:|---:|")
    for s, n, i, t, c in idx:
        lines.append(f"| {s} | {n} | {i if i is not None else '-'} | {t} | {c} |")
    if args.details:
        lines.append("")
        lines.append("| id | split | query | " + " | ".join(modes) + " |")
        lines.append("|---|---|---|" + "---|" * len(modes))
        for g in res["groups"]:
            if g["set"] != "labelled":
                continue
            for q in g["queries"]:
                ranks = [str(q["scores"][m]["first"] or "-") for m in modes]
                lines.append(f"| {q['id']} | {q['split']} | {q['query']} | " + " | ".join(ranks) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
