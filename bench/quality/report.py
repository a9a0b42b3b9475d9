#!/usr/bin/env python3
"""Markdown tables from an eval.py results file.

    report.py RESULTS.json [--details]

Tables: for each query set (meaning, identifier, csn) and split (held-out, tune, all), one row
per language (code bases of a language pooled, queries weighted equally) and one per code base
for the hand-labelled sets, with MRR@10 / Recall@10 / nDCG@10 per mode. --details adds the
first relevant rank per labelled query and mode. --targets adds, per language, the issue-12
targets on MRR@10 (hybrid - BM25 >= +0.10; hybrid >= semantic and >= keyword) with 95% paired
bootstrap intervals (2,000 resamples of the queries); --before OLD.json adds OLD's hybrid.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
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


def paired_ci(a: list[float], b: list[float], n: int = 2000, seed: int = 12) -> tuple[float, float, float]:
    """Mean of a - b and its 95% paired bootstrap interval."""
    rng = random.Random(seed)
    d = [x - y for x, y in zip(a, b)]
    means = sorted(mean([d[rng.randrange(len(d))] for _ in d]) for _ in range(n))
    return mean(d), means[int(0.025 * n)], means[int(0.975 * n) - 1]


def targets(res: dict, kind: str, split: str, before: dict | None) -> list[str]:
    old = {}
    if before:
        old = {q["id"]: q for g in before["groups"] for q in g["queries"]}
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for g in res["groups"]:
        for q in g["queries"]:
            if q["kind"] == kind and split in (q["split"], "all"):
                by_lang[g["language"]].append(q)
    if not by_lang:
        return []
    by_lang = dict(sorted(by_lang.items()))
    by_lang["all"] = [q for qs in by_lang.values() for q in qs]
    out = ["| | n | " + ("hybrid before | " if before else "") +
           "hybrid | hybrid − BM25 (95% CI) | ≥ +0.10 | hybrid − semantic (95% CI) | hybrid − keyword (95% CI) | never below |",
           "|---|---:|" + ("---:|" if before else "") + "---:|---|---|---|---|---|"]
    for lang, qs in by_lang.items():
        rr = {m: [q["scores"][m]["rr"] for q in qs] for m in ORDER}
        cells = [lang, str(len(qs))]
        if before:
            cells.append(f"{mean([old[q['id']]['scores']['hybrid']['rr'] for q in qs if q['id'] in old]):.3f}")
        cells.append(f"{mean(rr['hybrid']):.3f}")
        d, lo, hi = paired_ci(rr["hybrid"], rr["bm25"])
        cells += [f"{d:+.3f} ({lo:+.3f} .. {hi:+.3f})", "yes" if d >= 0.10 else "no"]
        ds = paired_ci(rr["hybrid"], rr["semantic"])
        dk = paired_ci(rr["hybrid"], rr["keyword"])
        cells += [f"{ds[0]:+.3f} ({ds[1]:+.3f} .. {ds[2]:+.3f})", f"{dk[0]:+.3f} ({dk[1]:+.3f} .. {dk[2]:+.3f})",
                  "yes" if ds[0] >= 0 and dk[0] >= 0 else "no"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def load(path: str) -> dict:
    """A results file, plain or gzip-compressed (.gz, as committed under results/)."""
    with (gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)) as f:
        return json.load(f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="one or more results files (groups are pooled)")
    ap.add_argument("--details", action="store_true")
    ap.add_argument("--targets", action="store_true", help="issue-12 targets per language with bootstrap intervals")
    ap.add_argument("--before", help="an older results file: its hybrid MRR@10 beside the targets")
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
    if args.targets:
        before = load(args.before) if args.before else None
        for kind, title in (("meaning", "meaning queries"), ("identifier", "identifier queries"),
                            ("csn", "automatic docstring queries")):
            for split in (("all",) if kind == "identifier" else ("held-out", "tune")):
                t = targets(res, kind, split, before)
                if t and all(m in res["modes"] for m in ORDER):
                    lines += ["", f"### Targets (MRR@10), {title}, {split if split != 'all' else 'both halves'}", ""] + t
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
