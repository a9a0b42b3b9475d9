#!/usr/bin/env python3
"""Retrieval quality of `ripvec` on pinned code bases (see README.md for the protocol).

    eval.py --work DIR --ripvec BIN [--sets labelled csn] [--corpora NAME ...]
            [--modes keyword semantic hybrid bm25] [--csn-per-corpus N] [--jobs J]
            [--out results.json]

Query sets:
  labelled  queries/NAME.json, hand-written (kind "meaning" or "identifier"), scored on the
            fetched tree WORK/corpora/NAME;
  csn       WORK/csn/NAME.json from make_csn.py (kind "csn"), scored on the stripped tree
            WORK/csn/NAME, where the answers' docstrings are blanked.

Modes: keyword, semantic, hybrid run `ripvec --json -n 10 --mode M -q --cache-dir WORK/cache
-- QUERY` with the tree as working directory (the tree is indexed once first, timed); bm25 is
the baseline computed here: Okapi BM25 (k1 1.2, b 0.75) over whole definitions found by
tree-sitter (defs.py), with a code tokenizer that keeps each identifier and its camelCase /
snake_case / digit parts, lower-cased, and drops a short English stop-word list.

Scoring (K = 10): a ranked item answers a label when it is in the labelled file and at least
half of its lines lie inside the labelled definition (doc comment and decorators included) or
line range. MRR@K: 1/rank of the first item answering any label. Recall@K: fraction of labels
answered in the top K. nDCG@K: binary gain 1 for the first item answering each still-unanswered
label, ideal = all labels at the top. Every query falls in the "tune" or "held-out" half by the
parity of the first byte of sha256(id); results are reported for both.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import defs as defs_mod  # noqa: E402

K = 10
STOP = set("a an the of to in on for and or is are be by with as at from that this it its into "
           "when which what where how do does if not no all any each than then there these those "
           "was were will can should would may".split())


def split_half(qid: str) -> str:
    return "held-out" if hashlib.sha256(qid.encode()).digest()[0] % 2 else "tune"


# ---------------------------------------------------------------- labels and matching

def resolve(tree: Path, queries: list[dict]) -> None:
    """Attach `ranges` [(first, last)] to every answer; a label that does not resolve aborts."""
    cache: dict[str, list[dict]] = {}
    for q in queries:
        for a in q["answers"]:
            if not (tree / a["path"]).is_file():
                sys.exit(f"eval.py: {q['id']}: labelled file {a['path']} not in {tree}")
            if "lines" in a:
                a["ranges"] = [tuple(a["lines"])]
                continue
            if a["path"] not in cache:
                cache[a["path"]] = defs_mod.definitions(tree, a["path"])
            rs = [(d["start"], d["end"]) for d in cache[a["path"]] if d["name"] == a["symbol"]]
            if not rs:
                sys.exit(f"eval.py: {q['id']}: no definition {a['symbol']} in {a['path']}")
            a["ranges"] = rs


def answers(path: str, start: int, end: int, label: dict) -> bool:
    if path != label["path"]:
        return False
    length = end - start + 1
    for ls, le in label["ranges"]:
        overlap = min(end, le) - max(start, ls) + 1
        if overlap > 0 and 2 * overlap >= length:
            return True
    return False


def score(ranked: list[tuple[str, int, int, float]], labels: list[dict]) -> dict:
    ranked = ranked[:K]
    first = None
    found: set[int] = set()
    dcg = 0.0
    for rank, (p, s, e, _) in enumerate(ranked, 1):
        hit = [i for i, lab in enumerate(labels) if answers(p, s, e, lab)]
        if hit and first is None:
            first = rank
        new = [i for i in hit if i not in found]
        if new:
            dcg += 1.0 / math.log2(rank + 1)
            found.add(new[0])
    idcg = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(labels), K) + 1))
    return {"first": first, "rr": 1.0 / first if first else 0.0,
            "recall": sum(1 for i, lab in enumerate(labels) if any(answers(p, s, e, lab) for p, s, e, _ in ranked)) / len(labels),
            "ndcg": dcg / idcg}


# ---------------------------------------------------------------- BM25 baseline

def code_tokens(text: str) -> list[str]:
    out = []
    for word in re.findall(r"[A-Za-z0-9_]+", text):
        parts = [p for p in re.split(r"_+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])", word) if p]
        whole = word.lower().strip("_")
        toks = {p.lower() for p in parts}
        if whole:
            toks.add(whole)
        out.extend(t for t in toks if t not in STOP)
    return out


class BM25:
    def __init__(self, tree: Path, k1: float = 1.2, b: float = 0.75):
        self.docs = defs_mod.tree_definitions(tree)
        self.k1, self.b = k1, b
        self.tf: list[Counter] = []
        df: Counter = Counter()
        lines_cache: dict[str, list[str]] = {}
        for d in self.docs:
            if d["path"] not in lines_cache:
                lines_cache[d["path"]] = (tree / d["path"]).read_text(encoding="utf-8", errors="replace").split("\n")
            text = "\n".join(lines_cache[d["path"]][d["start"] - 1:d["end"]])
            c = Counter(code_tokens(text))
            self.tf.append(c)
            df.update(c.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.len = [sum(c.values()) for c in self.tf]
        self.avg = sum(self.len) / max(1, n)
        self.post: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(self.tf):
            for t in c:
                self.post[t].append(i)

    def search(self, query: str, depth: int = K) -> list[tuple[str, int, int, float]]:
        scores: dict[int, float] = defaultdict(float)
        for t in set(code_tokens(query)):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for i in self.post[t]:
                f = self.tf[i][t]
                scores[i] += idf * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * self.len[i] / self.avg))
        top = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:depth]
        return [(self.docs[i]["path"], self.docs[i]["start"], self.docs[i]["end"], sc) for i, sc in top]


# ---------------------------------------------------------------- ripvec

def outside_git(tree: Path) -> None:
    """ripvec's root discovery takes the enclosing git work tree's top as the root: a corpus under
    a checkout (e.g. build/quality in this repository, git-ignored) would index the repository,
    not the corpus. Refuse with the fix instead of measuring the wrong tree."""
    for d in [tree.resolve(), *tree.resolve().parents]:
        if (d / ".git").exists():
            sys.exit(f"eval.py: {tree} is inside the git work tree {d}: ripvec would index {d} instead; "
                     "set QUALITY_WORK (run.sh) / --work to a directory outside any git work tree")


def ripvec_index(ripvec: str, tree: Path, cache: Path) -> dict:
    outside_git(tree)
    t0 = time.monotonic()
    proc = subprocess.run([ripvec, "index", "--stats", "--cache-dir", str(cache), "."], cwd=tree,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"eval.py: ripvec index {tree} failed ({proc.returncode}): {proc.stderr.strip()}")
    stats = [ln for ln in proc.stderr.splitlines() if ln.startswith(("files:", "chunks:", "time:"))]
    return {"seconds": round(time.monotonic() - t0, 1), "stats": stats}


def ripvec_search(ripvec: str, tree: Path, cache: Path, query: str, mode: str,
                  depth: int = K) -> list[tuple[str, int, int, float]]:
    cmd = [ripvec, "--json", "-n", str(depth), "--mode", mode, "-q", "--cache-dir", str(cache), "--", query]
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True)
    if proc.returncode == 1:
        return []
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} (cwd {tree}) failed ({proc.returncode}): {proc.stderr.strip()}")
    out = []
    for line in proc.stdout.splitlines():
        if line.strip():
            h = json.loads(line)
            p = h["path"][2:] if h["path"].startswith("./") else h["path"]
            out.append((p, int(h["start_line"]), int(h["end_line"]), float(h.get("score", 0.0))))
    return out


# ---------------------------------------------------------------- driver

def load_sets(work: Path, sets: list[str], names: list[str], csn_cap: int) -> list[dict]:
    """[{name, set, language, tree, corpus, queries}]"""
    manifest = json.loads((HERE / "corpora.json").read_text())["corpora"]
    out = []
    for e in manifest:
        if names and e["name"] not in names:
            continue
        if "labelled" in sets and e["role"].startswith("labelled"):
            data = json.loads((HERE / "queries" / f"{e['name']}.json").read_text())
            if data["corpus"]["sha256"] != e["sha256"]:
                sys.exit(f"eval.py: queries/{e['name']}.json were written for another version of the corpus")
            out.append({"name": e["name"], "set": "labelled", "language": e["language"],
                        "tree": work / "corpora" / e["name"], "queries": data["queries"]})
        if "csn" in sets:
            p = work / "csn" / f"{e['name']}.json"
            if not p.is_file():
                sys.exit(f"eval.py: {p} missing (run make_csn.py)")
            data = json.loads(p.read_text())
            qs = data["queries"]
            if csn_cap:
                qs = sorted(qs, key=lambda q: hashlib.sha256(q["id"].encode()).hexdigest())[:csn_cap]
            out.append({"name": e["name"], "set": "csn", "language": e["language"],
                        "tree": work / data["tree"], "queries": qs})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--ripvec", required=True)
    ap.add_argument("--sets", nargs="+", default=["labelled", "csn"], choices=["labelled", "csn"])
    ap.add_argument("--corpora", nargs="*", default=[])
    ap.add_argument("--modes", nargs="+", default=["keyword", "semantic", "hybrid", "bm25"])
    ap.add_argument("--csn-per-corpus", type=int, default=0, help="cap the automatic queries per corpus (0: all)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--depth", type=int, default=K,
                    help="results kept per query and mode (scored on the first 10; more for fusion studies)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    work = args.work.resolve()
    ripvec = str(Path(args.ripvec).resolve())
    cache = work / "cache"
    groups = load_sets(work, args.sets, args.corpora, args.csn_per_corpus)

    results = {"ripvec": ripvec, "version": subprocess.run([ripvec, "--version"], capture_output=True, text=True).stdout.strip(),
               "k": K, "modes": args.modes, "groups": []}
    for g in groups:
        tree = g["tree"]
        resolve(tree, g["queries"])
        info = {"name": g["name"], "set": g["set"], "language": g["language"], "queries": []}
        ripvec_modes = [m for m in args.modes if m != "bm25"]
        if ripvec_modes:
            info["index"] = ripvec_index(ripvec, tree, cache)
        bm25 = BM25(tree) if "bm25" in args.modes else None
        t0 = time.monotonic()
        jobs = [(q, m) for q in g["queries"] for m in ripvec_modes]
        with cf.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futs = {pool.submit(ripvec_search, ripvec, tree, cache, q["query"], m, args.depth): (q["id"], m) for q, m in jobs}
            ranked = {futs[f]: f.result() for f in cf.as_completed(futs)}
        for q in g["queries"]:
            rec = {"id": q["id"], "kind": q.get("kind", "meaning"), "split": split_half(q["id"]),
                   "query": q["query"], "scores": {}, "top": {}}
            for m in args.modes:
                r = bm25.search(q["query"], args.depth) if m == "bm25" else ranked[(q["id"], m)]
                rec["scores"][m] = score(r, q["answers"])
                # The whole ranked list (path, first, last line, score), for offline fusion studies.
                rec["top"][m] = [[p, s, e, round(sc, 6)] for p, s, e, sc in r]
            info["queries"].append(rec)
        info["search_seconds"] = round(time.monotonic() - t0, 1)
        results["groups"].append(info)
        # Written after every tree so that an interrupted run keeps what it measured.
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
        print(f"eval.py: {g['set']} {g['name']}: {len(g['queries'])} queries, "
              f"index {info.get('index', {}).get('seconds', '-')}s, search {info['search_seconds']}s", file=sys.stderr)


if __name__ == "__main__":
    main()
