#!/usr/bin/env python3
"""Automatic query set built the CodeSearchNet way, and the stripped tree it is scored on.

    make_csn.py --work DIR NAME...

For every corpus NAME (already fetched to WORK/corpora/NAME) it picks the documented functions
and methods (defs.py) and
  * takes the first sentence of the docstring / leading comment as the query,
  * writes a copy of the tree to WORK/csn/NAME in which exactly those docstrings and comments are
    blanked (replaced by empty lines, so line numbers stay the same and the code stays valid),
  * writes WORK/csn/NAME.json: the queries with their answer (path + line range of the
    definition without its docstring) in the stripped tree.

Filters, after CodeSearchNet (Husain et al. 2019, section 2.2): functions only; no tests
(a path part or the name containing "test"), no dunder/constructor methods, definitions of at
least 3 lines besides the doc, queries of 3 to 40 words (longer first sentences are cut at 40);
doc text after the first JSDoc/Rust-doc tag line or blank line is not part of the first
sentence; comments that are lint pragmas, licences or TODOs are not docs; a query text shared
by two functions is dropped for both (no unique answer). The answer is the whole definition,
so any chunk with at least half its lines inside it counts (as for the hand labels).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import defs as defs_mod  # noqa: E402

NOT_DOC = re.compile(r"^(eslint|nolint|noqa|todo|fixme|xxx|copyright|license|spdx|deprecated|"
                     r"#region|istanbul|prettier|clippy|allow\(|go:|\+build|@ts-)", re.I)


def first_sentence(doc: str) -> str:
    lines = []
    for line in doc.splitlines():
        s = line.strip()
        if not s:
            if lines:
                break
            continue
        if s.startswith("@") or s.startswith("#") or s.startswith(">>>") or s.startswith("```"):
            break
        lines.append(s)
    text = " ".join(lines)
    text = re.sub(r"`+|\[|\]|\*\*", "", text)
    m = re.search(r"(?<=[.!?])\s", text)
    if m:
        text = text[:m.start()]
    text = text.strip().rstrip(".").strip()
    words = text.split()
    if len(words) > 40:
        text = " ".join(words[:40])
    return text


def pick(defs: list[dict]) -> list[dict]:
    out = []
    for d in defs:
        if d["kind"] != "function" or not d["doc"] or d["doc_lines"] is None:
            continue
        parts = d["path"].lower().split("/")
        leaf = d["name"].split(".")[-1]
        if any("test" in p for p in parts) or "test" in d["name"].lower():
            continue
        if leaf.startswith("__") or leaf in ("constructor", "new", "init", "Init"):
            continue
        if d.get("only_doc"):
            continue
        doc_len = d["doc_lines"][1] - d["doc_lines"][0] + 1
        code_lines = d["end"] - d["start"] + 1 - doc_len
        if code_lines < 3:
            continue
        # Blanking must not touch code: the comment may not share a line with the definition.
        if d["path"].endswith(".py"):
            pass
        elif d["doc_lines"][1] >= d["def_start"]:
            continue
        if NOT_DOC.match(d["doc"].strip()):
            continue
        q = first_sentence(d["doc"])
        if len(q.split()) < 3:
            continue
        out.append(dict(d, query=q))
    counts = Counter(d["query"].lower() for d in out)
    return [d for d in out if counts[d["query"].lower()] == 1]


def build(work: Path, name: str, corpus_meta: dict) -> dict:
    src = work / "corpora" / name
    if not src.is_dir():
        sys.exit(f"make_csn.py: corpus {name} not fetched ({src})")
    dst = work / "csn" / name
    chosen = pick(defs_mod.tree_definitions(src))
    blank: dict[str, set[int]] = {}
    for d in chosen:
        blank.setdefault(d["path"], set()).update(range(d["doc_lines"][0], d["doc_lines"][1] + 1))
    if dst.exists():
        shutil.rmtree(dst)
    # Only source files: the automatic set is about code, and this halves what is embedded.
    shutil.copytree(src, dst, ignore=lambda d, names: [n for n in names if (Path(d) / n).is_file() and Path(n).suffix not in defs_mod.EXT_LANG])
    for rel, lines in blank.items():
        p = dst / rel
        text = p.read_text(encoding="utf-8").split("\n")
        for ln in lines:
            text[ln - 1] = ""
        p.write_text("\n".join(text), encoding="utf-8")
    queries = []
    for i, d in enumerate(sorted(chosen, key=lambda d: (d["path"], d["start"])), 1):
        start = d["def_start"]
        queries.append({"id": f"{name}/csn/{i}", "query": d["query"], "kind": "csn",
                        "answers": [{"path": d["path"], "symbol": d["name"],
                                     "lines": [start, d["end"]]}]})
    # Every answer must still be a definition of the same name in the stripped tree.
    stripped = {(x["path"], x["name"]) for x in defs_mod.tree_definitions(dst)}
    missing = [q["id"] for q in queries if (q["answers"][0]["path"], q["answers"][0]["symbol"]) not in stripped]
    if missing:
        sys.exit(f"make_csn.py: {name}: stripping broke definitions {missing[:5]}")
    out = {"corpus": corpus_meta, "tree": f"csn/{name}", "queries": queries}
    (work / "csn" / f"{name}.json").write_text(json.dumps(out, indent=1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("names", nargs="+")
    args = ap.parse_args()
    manifest = {e["name"]: e for e in json.loads((Path(__file__).resolve().parent / "corpora.json").read_text())["corpora"]}
    for n in args.names:
        meta = {k: manifest[n][k] for k in ("name", "language", "package", "version", "sha256")}
        out = build(args.work.resolve(), n, meta)
        print(f"make_csn.py: {n}: {len(out['queries'])} queries", file=sys.stderr)


if __name__ == "__main__":
    main()
