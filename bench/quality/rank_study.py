#!/usr/bin/env python3
"""Offline ranking study over ripvec's own index: tune keyword and fusion choices in seconds.

    rank_study.py --work DIR --ripvec BIN [--corpora NAME ...] [--set labelled|csn]

Reads each tree's committed snapshot from WORK/cache (chunks with their path, symbol, kind,
language, content and float32 vectors: exactly what ripvec ranks), embeds the queries once with
`ripvec embed --query` (the model's query prompt applied, as searches do), and re-implements in
NumPy/Python the ranking of src/index/rank.cpp and bm25.cpp with switches for each candidate
change: identifier splitting variants, light stemming, field weights, a doc-comment field, the
fusion rule and its weight, identifier-query detection. Every configuration is scored exactly as
eval.py scores ripvec (first 10 items, same label matching), parameters are picked on the tune
half and reported on the held-out half. The choices it finds are then implemented in C++ and
measured end to end with run.sh / eval.py; this file is the study, not the measurement.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import struct
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import eval as ev  # noqa: E402

K = 10
SECTIONS = ["strings", "files", "chunks", "vec_f32", "vec_i8", "scales", "err", "terms", "postings"]


# ---------------------------------------------------------------- snapshot reader

def find_index(cache: Path, tree: Path, key: str = "") -> Path:
    """The index of tree under cache; key (a model_key prefix) picks one of several (an FP32 and
    an INT8 index of the same tree sit side by side)."""
    root = str(tree.resolve())
    for m in cache.glob("*/*/manifest.json") if not list(cache.glob("*/manifest.json")) else cache.glob("*/manifest.json"):
        j = json.loads(m.read_text())
        if j.get("root") == root and j.get("model_key", "").startswith(key):
            return m.parent
    for m in cache.rglob("manifest.json"):
        j = json.loads(m.read_text())
        if j.get("root") == root and j.get("model_key", "").startswith(key):
            return m.parent
    sys.exit(f"rank_study.py: no index of {root} under {cache} (run ripvec index first)")


def read_snapshot(index_dir: Path) -> tuple[list[dict], np.ndarray]:
    man = json.loads((index_dir / "manifest.json").read_text())
    raw = (index_dir / man["snapshot"]["name"]).read_bytes()
    magic, version, dim, n_files, n_chunks, n_terms, n_post, fsize = struct.unpack_from("<8sIIQQQQQ", raw, 0)
    off = 8 + 4 + 4 + 8 * 5 + 32
    sec = {}
    for name in SECTIONS:
        o, s, _crc, _r = struct.unpack_from("<QQII", raw, off)
        sec[name] = (o, s)
        off += 24
    so, ss = sec["strings"]
    strings = raw[so:so + ss]

    def st(o, n):
        return strings[o:o + n].decode("utf-8", errors="replace")
    fo, _ = sec["files"]
    files = []
    for i in range(n_files):
        p_off, p_len, first, cnt, flags, size = struct.unpack_from("<QIIIIQ", raw, fo + 32 * i)
        files.append(st(p_off, p_len))
    co, _ = sec["chunks"]
    chunks = []
    for i in range(n_chunks):
        f, sl, el, sym_len, sym_off, c_off, c_len, k_len, l_len, k_off, l_off = struct.unpack_from(
            "<IiiIQQIHHQQ", raw, co + 56 * i)
        chunks.append({"path": files[f], "start": sl, "end": el, "symbol": st(sym_off, sym_len),
                       "kind": st(k_off, k_len), "lang": st(l_off, l_len), "content": st(c_off, c_len)})
    first: dict = {}
    for i, c in enumerate(chunks):  # a definition's first piece (a long one is cut into windows)
        if c["kind"] != "window" and c["symbol"]:
            k = (c["path"], c["symbol"], c["kind"])
            if k not in first or c["start"] < chunks[first[k]]["start"]:
                first[k] = i
    for i in first.values():
        chunks[i]["first_piece"] = True
    vo, vs = sec["vec_f32"]
    vecs = np.frombuffer(raw[vo:vo + vs], dtype=np.float32).reshape(n_chunks, dim)
    return chunks, vecs


# ---------------------------------------------------------------- tokenizer (bm25.cpp)

RUN = re.compile(r"[A-Za-z0-9_\x80-\U0010ffff]+(?:-[A-Za-z0-9_\x80-\U0010ffff]+)*")
HUMP = re.compile(r"(?<=[0-9])(?=[^0-9])|(?<=[^0-9])(?=[0-9])|(?<=[a-z\x80-\U0010ffff])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z\x80-\U0010ffff])")


def stem(w: str) -> str:
    """stem_light of src/index/bm25.cpp (same rules, same order)."""
    if len(w) <= 3 or not re.fullmatch(r"[a-z]+", w):
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-2]
    elif w.endswith(("sses", "ches", "shes", "xes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]

    def strip(w: str, suf: str):
        if not w.endswith(suf):
            return None
        rest = w[:-len(suf)]
        if len(rest) < 3 or not any(c in "aeiouy" for c in rest):
            return None
        if rest[-1] == rest[-2] and rest[-1] not in "aeiouylsz":
            rest = rest[:-1]
        return rest
    r = strip(w, "ing")
    if r is None:
        r = strip(w, "ed")
    if r is not None:
        w = r
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    if len(w) > 3 and w.endswith("y"):
        w = w[:-1] + "i"
    return w


def terms(text: str, do_stem: bool = False) -> list[str]:
    out = []
    for m in RUN.finditer(text):
        run = m.group(0)
        whole = run.lower()
        if len(whole) <= 64:
            out.append(stem(whole) if do_stem else whole)
        parts = []
        for seg in re.split(r"[_-]", run):
            if seg:
                parts.extend(p for p in HUMP.split(seg) if p)
        if len(parts) == 1 and len(parts[0]) == len(run):
            continue
        for p in parts:
            if len(p) <= 64:
                pl = p.lower()
                out.append(stem(pl) if do_stem else pl)
    return out


# ---------------------------------------------------------------- BM25F

STOP = set(ev.STOP)
COMMENT = re.compile(r"^\s*(#|//|/\*|\*|\"\"\"|''')")


def split_doc(content: str) -> tuple[str, str]:
    """(comment/docstring lines, code lines) by a line heuristic."""
    doc, code = [], []
    in_py_doc = False
    for line in content.split("\n"):
        s = line.strip()
        if in_py_doc:
            doc.append(line)
            if s.endswith(('"""', "'''")):
                in_py_doc = False
            continue
        if s.startswith(('"""', "'''")):
            doc.append(line)
            if not (len(s) >= 6 and s.endswith(s[:3])):
                in_py_doc = True
            continue
        (doc if COMMENT.match(line) else code).append(line)
    return "\n".join(doc), "\n".join(code)


class Keyword:
    FIELDS = ("symbol", "path", "doc", "body")

    def __init__(self, chunks: list[dict], do_stem: bool, split_docs: bool):
        self.n = len(chunks)
        self.tf: list[dict[str, list[int]]] = []
        lens = np.zeros((self.n, 4))
        df: Counter = Counter()
        for i, c in enumerate(chunks):
            if split_docs:
                d, b = split_doc(c["content"])
            else:
                d, b = "", c["content"]
            fields = [c["symbol"], c["path"], d, b]
            tfd: dict[str, list[int]] = {}
            for f, text in enumerate(fields):
                ts = terms(text, do_stem)
                lens[i, f] = len(ts)
                for t in ts:
                    tfd.setdefault(t, [0, 0, 0, 0])[f] += 1
            self.tf.append(tfd)
            df.update(tfd.keys())
        self.lens = lens
        self.avg = lens.mean(axis=0)
        self.df = df
        self.post: dict[str, list[int]] = defaultdict(list)
        for i, tfd in enumerate(self.tf):
            for t in tfd:
                self.post[t].append(i)
        self.do_stem = do_stem

    def scores(self, query: str, w: tuple, k1: float = 1.2, b: float = 0.75,
               stop: bool = False) -> np.ndarray:
        s = np.zeros(self.n)
        qt = terms(query, False)
        if stop and any(t not in STOP for t in qt):
            qt = [t for t in qt if t not in STOP]
        qt = sorted({stem(t) if self.do_stem else t for t in qt})
        for t in qt:
            p = self.post.get(t)
            if not p:
                continue
            idf = math.log(1 + (self.n - len(p) + 0.5) / (len(p) + 0.5))
            for d in p:
                tf = self.tf[d][t]
                tfw = 0.0
                for f in range(4):
                    if tf[f]:
                        norm = 1 - b + b * self.lens[d, f] / self.avg[f] if self.avg[f] > 0 else 1
                        tfw += w[f] * tf[f] / norm
                s[d] += idf * tfw * (k1 + 1) / (k1 + tfw)
        return s


# ---------------------------------------------------------------- rank.cpp pieces

PREAMBLE = ("import", "from", "#include", "#import", "use", "using", "package", "namespace", "module",
            "extern", "require", "library", "open", "#pragma")
DEF_KINDS = {"function", "method", "constructor", "class", "struct", "enum", "union", "interface", "type",
             "trait", "record", "macro", "annotation"}


def contentless(kind: str, content: str) -> bool:
    need = 1 if kind in DEF_KINDS else 2
    n = 0
    for line in content.split("\n"):
        s = line.strip()
        if not s or all(not (ch.isalnum() or ord(ch) >= 0x80) for ch in s):
            continue
        pre = any(s.startswith(w) and len(s) > len(w) and s[len(w)] in " \t\"<" for w in PREAMBLE)
        pre = pre or s.startswith("#include") or s.startswith("#pragma once") or ("require(" in s and "=" in s)
        if pre:
            continue
        n += 1
        if n >= need:
            return False
    return True


def merge(order: list[int], chunks: list[dict], k: int = K) -> list[tuple[str, int, int, float]]:
    hits: list[list] = []  # [path, start, end, symbol]
    for i in order:
        if len(hits) >= k:
            break
        c = chunks[i]
        h = [c["path"], c["start"], c["end"], c["symbol"]]
        hits.append(h)
        idx = len(hits) - 1
        changed = True
        while changed:
            changed = False
            for j in range(len(hits)):
                if j == idx:
                    continue
                a, o = hits[idx], hits[j]
                if a[0] != o[0]:
                    continue
                overlap = a[1] <= o[2] and o[1] <= a[2]
                touch = (a[2] + 1 == o[1] or o[2] + 1 == a[1]) and a[3] == o[3]
                if overlap or touch:
                    keep, drop = min(idx, j), max(idx, j)
                    hits[keep] = [hits[keep][0], min(a[1], o[1]), max(a[2], o[2]), hits[keep][3]]
                    del hits[drop]
                    idx = keep
                    changed = True
                    break
    return [(h[0], h[1], h[2], 0.0) for h in hits]


IDENT = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:::|\.|->|#)[A-Za-z_$][\w$]*)*(?:\(\))?$")


def identifier_like(q: str) -> bool:
    q = q.strip().strip("`")
    if not q or any(ch.isspace() for ch in q):
        return False
    if "/" in q or "\\" in q:
        return True  # a path
    if not IDENT.match(q):
        return False
    core = re.sub(r"(::|\.|->|#|\(\))", "", q)
    return ("_" in core.strip("_") or re.search(r"[a-z][A-Z]", core) is not None
            or re.search(r"[A-Za-z][0-9]|[0-9][A-Za-z]", core) is not None
            or any(sep in q for sep in ("::", ".", "->", "#", "()")))


# ---------------------------------------------------------------- what is embedded (issue 12 item 2)

DOC_LINE = re.compile(r"^\s*(#(?!!)|//|/\*|\*|@|#\[)")


def squash(s: str, cap: int = 200) -> str:
    out = " ".join(s.split())
    return out[:cap]


def signature_guess(c: dict) -> str:
    """The chunker's "// signature:" line for a definition chunk that starts with doc lines (its
    header repeats the signature when the chunk does not start on the signature row)."""
    if c["kind"] == "window" or not c["symbol"]:
        return ""
    lines = c["content"].split("\n")
    if not lines or not DOC_LINE.match(lines[0]):
        return ""
    in_block = False
    for ln in lines:
        t = ln.strip()
        if in_block:
            if "*/" in t:
                in_block = False
            continue
        if t.startswith("/*") and "*/" not in t:
            in_block = True
            continue
        if not t or DOC_LINE.match(ln):
            continue
        s = squash(t)
        while s and s[-1] in "{: ":
            s = s[:-1]
        return s
    return ""


def ident_words(s: str) -> str:
    """Identifier parts as lower-case words: "Flask.make_response" -> "flask make response"."""
    out = []
    for m in RUN.finditer(s):
        for seg in re.split(r"[_-]", m.group(0)):
            out.extend(p.lower() for p in HUMP.split(seg) if p)
    return " ".join(out)


IDENT_RUN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_+[A-Za-z0-9]+)+|[a-z]+[A-Z][A-Za-z0-9]*|[A-Z]+[a-z]+[A-Z][A-Za-z0-9]*")


def split_identifiers(text: str) -> str:
    """camelCase / snake_case identifiers of a text written as separate words."""
    return IDENT_RUN.sub(lambda m: ident_words(m.group(0)), text)


def head_lines(c: dict, max_lines: int = 12) -> list[str]:
    """The lines a reader looks at first: leading doc comments / decorators, the signature, and a
    Python docstring right after it (at most max_lines)."""
    lines = c["content"].split("\n")
    out, i, in_block = [], 0, False
    while i < len(lines):
        t = lines[i].strip()
        if in_block:
            out.append(lines[i])
            in_block = "*/" not in t
            i += 1
            continue
        if t.startswith("/*"):
            out.append(lines[i])
            in_block = "*/" not in t[2:]
            i += 1
            continue
        if not t or DOC_LINE.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        break
    if i < len(lines):
        out.append(lines[i])  # the signature
        i += 1
    if c["lang"] == "python":
        while i < len(lines) and not lines[i].strip():
            i += 1
        q3 = ('"' * 3, "'" * 3)
        if i < len(lines) and lines[i].strip().lstrip("rbuRBU").startswith(q3):
            q = q3[0] if q3[0] in lines[i] else q3[1]
            closed = lines[i].count(q) >= 2
            out.append(lines[i])
            i += 1
            while not closed and i < len(lines):
                out.append(lines[i])
                closed = q in lines[i]
                i += 1
    return [ln for ln in out if ln.strip()][:max_lines]


def embed_text(c: dict, variant: str) -> str:
    """Reconstructs the chunker's embed_text (variant "cur") or a candidate replacement."""
    path, sym, kind = c["path"], c["symbol"], c["kind"]
    sig = signature_guess(c)
    body = c["content"]
    if variant == "none":
        return body
    cur = "// path: " + path + "\n" + ("// scope: " + sym + "\n" if sym else "") + (
        "// signature: " + sig + "\n" if sig else "")
    if variant == "cur":
        return cur + body
    if variant == "words":  # the current header plus the symbol's words
        return cur + ("// name: " + ident_words(sym) + "\n" if sym else "") + body
    if variant == "splitbody":  # current header, identifiers of the body split into words
        return cur + split_identifiers(body)
    if variant == "wordsplit":
        return cur + ("// name: " + ident_words(sym) + "\n" if sym else "") + split_identifiers(body)
    if variant == "head":  # a second, short text per definition: header, doc comment, signature
        return (cur + "\n".join(head_lines(c))) if c.get("first_piece") else ""
    if variant == "headwords":
        return (cur + ("// name: " + ident_words(sym) + "\n" if sym else "") + "\n".join(head_lines(c))) \
            if c.get("first_piece") else ""
    what = "" if kind == "window" else kind + " " + ident_words(sym)
    if variant == "nl":  # one plain line: path, kind and the symbol's words
        return path + (" · " + what if what else "") + (" · " + sig if sig else "") + "\n" + body
    if variant == "nlsplit":
        return path + (" · " + what if what else "") + (" · " + sig if sig else "") + "\n" + split_identifiers(body)
    if variant == "nlsym":  # plain line with the symbol as written and its words
        return path + (" · " + kind + " " + sym + " (" + ident_words(sym) + ")" if sym and kind != "window" else "") + (
            " · " + sig if sig else "") + "\n" + body
    raise SystemExit(f"unknown text variant {variant}")


def variant_vectors(work: Path, ripvec: str, name: str, chunks: list[dict], variant: str) -> tuple[np.ndarray, dict]:
    """Embeds every chunk's text of a variant with `ripvec embed` (newlines become blanks: the
    WordPiece normaliser of MiniLM treats both as whitespace, so the ids are the same); cached."""
    texts = [embed_text(c, variant).replace("\r", " ").replace("\n", " ") for c in chunks]
    key = hashlib.sha256(("\x00".join(texts)).encode()).hexdigest()[:16]
    out = work / "study" / f"text-{name}-{variant}-{key}.npy"
    stats = {}
    try:
        from tokenizers import Tokenizer as HfTok
        tj = next(Path.home().glob(".cache/huggingface/hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/*/tokenizer.json"))
        tok = HfTok.from_file(str(tj))
        tok.no_truncation()
        lens = [len(e.ids) for e in tok.encode_batch(texts)]
        stats = {"tokens": sum(min(n, 256) for n in lens), "over": sum(n > 256 for n in lens), "n": len(lens)}
    except Exception as ex:  # noqa: BLE001 (token counts are informative only)
        print(f"(no token counts: {ex})", file=sys.stderr)
    if not out.is_file():
        subprocess.run(["nice", ripvec, "embed", "--npy", str(out)], input="\n".join(texts) + "\n", text=True, check=True)
    return np.load(out), stats


TEST_PATH = re.compile(r"(^|/)(tests?|testing|__tests__|spec)/|(^|/)test_[^/]*$|_test\.[a-z]+$|\.(test|spec)\.[jt]sx?$|(^|/)conftest\.py$")

def mentions_tests(query: str) -> bool:
    """rank.cpp's mentions_tests: a word (split at anything but letters and digits) test, tests,
    testing, spec or specs, any case."""
    return any(w in ("test", "tests", "testing", "spec", "specs") for w in re.split(r"[^a-z0-9]+", query.lower()))


# ---------------------------------------------------------------- study

def ev_load(path: str) -> dict:
    import gzip
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        return json.load(f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--ripvec", required=True)
    ap.add_argument("--corpora", nargs="*", default=["flask", "gin", "cmark-gfm", "axios", "ureq"])
    ap.add_argument("--set", default="labelled", choices=["labelled", "csn"])
    ap.add_argument("--study", default="all")
    ap.add_argument("--cache", default="cache", help="index cache under WORK (cache-hashed: chunks only)")
    ap.add_argument("--key", default="", help="model_key prefix of the index to read (ripvec index --status "
                    "prints it), when a tree has several (FP32 and INT8)")
    ap.add_argument("--qtag", default="", help="tag of the query-vector cache (a different --ripvec, for "
                    "example one that embeds with --precision int8, needs its own)")
    ap.add_argument("--brief", action="store_true", help="one line per --study config: hybrid per language and "
                    "its margins over BM25 and over max(semantic, keyword)")
    ap.add_argument("--head", default="", help="text variant embedded as a second vector per definition "
                    "(head, headwords); configs mix it in with \"head\": w or \"max\"")
    ap.add_argument("--text", default="", help="comma-separated chunk text variants to re-embed and "
                    "score with the shipped ranking (embed_text(): cur, none, words, nl, ...)")
    ap.add_argument("--sem-from", default="", help="semantic top lists from an eval.py results file "
                    "(for an index with stand-in vectors): listed chunks get their cosine, others less")
    args = ap.parse_args()
    work = args.work.resolve()
    groups = ev.load_sets(work, [args.set], args.corpora, 0)
    data = []
    for g in groups:
        ev.resolve(g["tree"], g["queries"])
        chunks, vecs = read_snapshot(find_index(work / args.cache, g["tree"], args.key))
        qtexts = [q["query"] for q in g["queries"]]
        cache = work / "study" / f"{g['set']}-{g['name']}-q{args.qtag}.npy"
        cache.parent.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha256("\n".join(qtexts).encode()).hexdigest()
        keyf = cache.with_suffix(".key")
        if not cache.is_file() or not keyf.is_file() or keyf.read_text() != key:
            subprocess.run([args.ripvec, "embed", "--query", "--npy", str(cache)], input="\n".join(qtexts) + "\n",
                           text=True, check=True)
            keyf.write_text(key)
        qv = np.load(cache)
        if args.sem_from:
            old = {q["id"]: q for og in ev_load(args.sem_from)["groups"] if og["name"] == g["name"]
                   and og["set"] == g["set"] for q in og["queries"]}
            by_path = defaultdict(list)
            for i, c in enumerate(chunks):
                by_path[c["path"]].append(i)
            sem = np.zeros((len(chunks), len(qtexts)), dtype=np.float32)
            for qi, q in enumerate(g["queries"]):
                lst = old[q["id"]]["top"]["semantic"]
                sem[:, qi] = min(x[3] for x in lst) - 0.01
                for p, s0, e0, sc in reversed(lst):
                    best = max(by_path.get(p, []), default=None,
                               key=lambda i: min(e0, chunks[i]["end"]) - max(s0, chunks[i]["start"]))
                    if best is not None and min(e0, chunks[best]["end"]) >= max(s0, chunks[best]["start"]):
                        sem[best, qi] = max(sem[best, qi], sc)
            vecs, qv = sem, np.eye(len(qtexts), dtype=np.float32)
        cl = np.array([contentless(c["kind"], c["content"]) for c in chunks])
        bm = ev.BM25(g["tree"])
        bm25_rr = [ev.score(bm.search(q["query"]), q["answers"])["rr"] for q in g["queries"]]
        data.append({"g": g, "chunks": chunks, "vecs": vecs, "vecs0": vecs, "bm25": bm25_rr, "qv": qv, "contentless": cl, "kw": {}})
        print(f"{g['name']}: {len(chunks)} chunks, {len(qtexts)} queries", file=sys.stderr)

    def kw_index(d, do_stem, split_docs):
        key = (do_stem, split_docs)
        if key not in d["kw"]:
            d["kw"][key] = Keyword(d["chunks"], do_stem, split_docs)
        return d["kw"][key]

    def groups_of(d):
        """d["groups"][i]: the first chunk of chunk i's definition (path, symbol, kind)."""
        if "groups" in d:
            return
        gid: dict = {}
        grp = np.arange(len(d["chunks"]))
        for i, c in enumerate(d["chunks"]):
            if c["kind"] != "window" and c["symbol"]:
                grp[i] = gid.setdefault((c["path"], c["symbol"], c["kind"]), i)
        d["groups"] = grp

    # Per query cached inputs: semantic scores (full), keyword scores per config.
    def evaluate(cfg: dict, kinds=("meaning",)) -> dict:
        """Returns {(lang, split, kind): [rr...]} for the modes 'keyword', 'semantic', 'hybrid'."""
        res: dict = defaultdict(list)
        depth = cfg.get("depth", 100)
        for d in data:
            kwi = kw_index(d, cfg.get("stem", False), cfg.get("docfield", False))
            sem_all = d["vecs"] @ d["qv"].T  # [n, q]
            is_doc = np.array([c["lang"] in ("markdown", "text", "rst", "restructuredtext") or
                               c["path"].endswith((".rst", ".md", ".txt")) for c in d["chunks"]])
            for qi, q in enumerate(d["g"]["queries"]):
                kind = q.get("kind", "meaning")
                if kind == "csn":
                    kind = "meaning"  # scored like meaning queries
                if kind not in kinds and not (kinds == ("all",)):
                    continue
                split = ev.split_half(q["id"])
                res[(d["g"]["language"], split, kind, "bm25")].append(d["bm25"][qi])
                sem = sem_all[:, qi]
                if cfg.get("prf"):
                    # Pseudo-relevance feedback (Rocchio on the query vector): the query moved
                    # toward the mean of its prf_k nearest chunks, weight prf, renormalised.
                    top = np.argsort(-sem, kind="stable")[:cfg.get("prf_k", 3)]
                    qn = d["qv"][qi] + cfg["prf"] * d["vecs"][top].mean(axis=0)
                    sem = d["vecs"] @ (qn / np.linalg.norm(qn))
                if cfg.get("defagg") or cfg.get("kwagg"):
                    groups_of(d)
                if cfg.get("defagg"):
                    # Issue 12 item 5: a definition cut into several chunks re-scored as a whole:
                    # "max" gives every piece the best piece's cosine (multi-vector max-sim),
                    # "mean" averages each piece's cosine with that of the pieces' mean vector.
                    if "group_vecs" not in d:
                        grp = d["groups"]
                        mv = np.zeros_like(d["vecs"])
                        np.add.at(mv, grp, d["vecs"])
                        mv /= np.linalg.norm(mv, axis=1, keepdims=True) + 1e-12
                        d["group_vecs"] = mv
                    grp = d["groups"]
                    if cfg["defagg"] == "max":
                        best = np.full(len(sem), -1.0)
                        np.maximum.at(best, grp, sem)
                        sem = best[grp]
                    else:
                        sem = 0.5 * sem + 0.5 * (d["group_vecs"] @ d["qv"][qi])[grp]
                if cfg.get("head") is not None and "head_vecs" in d:
                    h = d["head_vecs"] @ d["qv"][qi]
                    has = d["has_head"]
                    w = cfg["head"]
                    sem = np.where(has, np.maximum(sem, h) if w == "max" else (1 - w) * sem + w * h, sem)
                # As rank.cpp: identifier-like queries are matched without stemming.
                kwq = kw_index(d, False, cfg.get("docfield", False)) if identifier_like(q["query"]) else kwi
                kw = kwq.scores(q["query"], cfg.get("w", (3.0, 1.5, 1.0, 1.0)), cfg.get("k1", 1.2), cfg.get("b", 0.75),
                                cfg.get("stop", False))
                if cfg.get("kwdef"):
                    # A definition cut into several chunks scored by BM25 as one document (the
                    # baseline's view: its pieces' text concatenated); each piece gets
                    # max(own, whole) ("max") or the whole's score ("whole").
                    groups_of(d)
                    ck = ("def", kwq.do_stem)
                    if ck not in d["kw"]:
                        merged: dict = {}
                        for i, c in enumerate(d["chunks"]):
                            g0 = int(d["groups"][i])
                            if g0 not in merged:
                                merged[g0] = dict(c)
                            elif i != g0:
                                merged[g0]["content"] += "\n" + c["content"]
                        keys = sorted(merged)
                        d["kw"][ck] = (Keyword([merged[k] for k in keys], kwq.do_stem, False),
                                       np.array([keys.index(int(g0)) for g0 in d["groups"]]))
                    kdef, slot = d["kw"][ck]
                    whole = kdef.scores(q["query"], cfg.get("w", (3.0, 1.5, 1.0, 1.0)), cfg.get("k1", 1.2),
                                        cfg.get("b", 0.75), cfg.get("stop", False))[slot]
                    kw = np.maximum(kw, whole) if cfg["kwdef"] == "max" else whole
                if cfg.get("kwagg"):
                    kbest = np.zeros(len(kw))
                    np.maximum.at(kbest, d["groups"], kw)
                    kw = kbest[d["groups"]]
                if cfg.get("testpen_kw") is not None and not mentions_tests(q["query"]) and \
                        not (cfg.get("testpen_ident_exempt") and identifier_like(q["query"])):
                    if "is_test" not in d:
                        d["is_test"] = np.array([bool(TEST_PATH.search(c["path"])) for c in d["chunks"]])
                    kw = kw * np.where(d["is_test"], cfg["testpen_kw"], 1.0)
                if cfg.get("docpen", 1.0) != 1.0:
                    kw = kw * np.where(is_doc, cfg["docpen"], 1.0)
                cl = d["contentless"]

                def ordered(scores: np.ndarray, mask_pos=True) -> list[int]:
                    idx = np.argsort(-scores, kind="stable")
                    if mask_pos:
                        idx = idx[scores[idx] > 0]
                    idx = idx[:depth]
                    return [int(i) for i in idx if not cl[i]] + [int(i) for i in idx if cl[i]]
                sem_list = ordered(sem, False)
                kw_list = ordered(kw)
                alpha = cfg.get("alpha", 0.7)
                if cfg.get("alpha_lang"):
                    alpha = cfg["alpha_lang"].get(d["g"]["language"], alpha)
                if identifier_like(q["query"]) and cfg.get("ident_alpha") is not None:
                    alpha = cfg["ident_alpha"]
                rule = cfg.get("rule", "convex")
                fused: dict[int, float] = defaultdict(float)
                if cfg.get("alpha_by_kw") and kw_list:
                    # keyword weight scaled by how many query terms the best keyword hit matched
                    qts = {t for t in terms(q["query"]) if t not in STOP}
                    best = kwq.tf[kw_list[0]]
                    frac = sum(1 for t in qts if (stem(t) if kwq.do_stem else t) in best) / max(1, len(qts))
                    alpha = 1 - (1 - alpha) * min(1.0, frac / cfg["alpha_by_kw"])
                if rule == "rrf":
                    kk = cfg.get("rrf_k", 60)
                    for r, i in enumerate(sem_list):
                        fused[i] += alpha * 2 / (kk + r + 1)
                    for r, i in enumerate(kw_list):
                        fused[i] += (1 - alpha) * 2 / (kk + r + 1)
                elif rule == "convex":
                    s_hi, s_lo = sem[sem_list[0]] if sem_list else 1, min(sem[i] for i in sem_list) if sem_list else 0
                    if cfg.get("sem_norm") == "max":
                        s_hi = max(sem[i] for i in sem_list); s_lo = cfg.get("sem_floor", 0.0)
                    else:
                        s_hi = max(sem[i] for i in sem_list)
                    k_hi = max((kw[i] for i in kw_list), default=0.0)
                    k_lo = min((kw[i] for i in kw_list), default=0.0) if cfg.get("kw_norm", "minmax") == "minmax" else 0.0
                    cands = set(sem_list) | set(kw_list)
                    both = cfg.get("both", True)
                    for i in cands:
                        sv = sem[i] if (both or i in set(sem_list)) else s_lo
                        kv = kw[i] if (both or i in set(kw_list)) else k_lo
                        sn = min(1.0, max(0.0, (sv - s_lo) / (s_hi - s_lo))) if s_hi > s_lo else 1.0
                        kn = min(1.0, max(0.0, (kv - k_lo) / (k_hi - k_lo))) if k_hi > k_lo else (1.0 if k_hi > 0 and kv > 0 else 0.0)
                        fused[i] = alpha * sn + (1 - alpha) * kn
                elif rule in ("zscore", "rankconvex"):
                    cands = set(sem_list) | set(kw_list)
                    if rule == "zscore":
                        # Each side standardised over its own list (mean, std); a candidate
                        # missing from a list counts as that list's minimum.
                        def z(vals, lst, score):
                            a = np.array([score[i] for i in lst], dtype=np.float64)
                            if len(a) == 0:
                                return lambda i: 0.0
                            mu, sd, lo = a.mean(), a.std() or 1.0, a.min()
                            return lambda i: (max(score[i], lo) - mu) / sd
                        zs, zk = z(None, sem_list, sem), z(None, kw_list, kw)
                        for i in cands:
                            fused[i] = alpha * zs(i) + (1 - alpha) * zk(i)
                    else:
                        rs_ = {i: r for r, i in enumerate(sem_list)}
                        rk_ = {i: r for r, i in enumerate(kw_list)}
                        for i in cands:
                            fused[i] = alpha * (1 - rs_.get(i, depth) / depth) + (1 - alpha) * (1 - rk_.get(i, depth) / depth)
                if cfg.get("cover"):
                    # Query-term coverage: the idf-weighted share of the query's distinct terms
                    # (stop words dropped, stemmed as the keyword side) that occur anywhere in the
                    # candidate (symbol, path or body), added with weight cover to the fused score.
                    qts = sorted({(stem(t) if kwq.do_stem else t) for t in terms(q["query"])
                                  if t not in STOP} or {(stem(t) if kwq.do_stem else t) for t in terms(q["query"])})
                    idf = {t: math.log(1 + (kwq.n - len(kwq.post.get(t, ())) + 0.5) / (len(kwq.post.get(t, ())) + 0.5))
                           for t in qts}
                    tot = sum(idf.values()) or 1.0
                    for i in fused:
                        fused[i] += cfg["cover"] * sum(idf[t] for t in qts if t in kwq.tf[i]) / tot
                if cfg.get("testpen") is not None and not re.search(r"\b(tests?|testing|spec|specs)\b", q["query"], re.I):
                    if "is_test" not in d:
                        d["is_test"] = np.array([bool(TEST_PATH.search(c["path"])) for c in d["chunks"]])
                    for i in fused:
                        if d["is_test"][i]:
                            fused[i] *= cfg["testpen"]
                hy = sorted(fused, key=lambda i: (cl[i], -fused[i], i))
                for mode, lst in (("semantic", sem_list), ("keyword", kw_list), ("hybrid", hy)):
                    r = ev.score(merge(lst, d["chunks"]), q["answers"])["rr"]
                    res[(d["g"]["language"], split, kind, mode)].append(r)
                if cfg.get("dump") and split == cfg["dump"] and kind == "meaning":
                    rr = {m: ev.score(merge(l, d["chunks"]), q["answers"])["rr"] for m, l in
                          (("sem", sem_list), ("kw", kw_list), ("hyb", hy))}
                    top = merge(hy, d["chunks"])[:3]
                    print(f"DUMP {q['id']:14s} bm25 {d['bm25'][qi]:.2f} " + " ".join(f"{m} {v:.2f}" for m, v in rr.items())
                          + f" | {q['query'][:70]} | ans {[(a['path'], a.get('symbol')) for a in q['answers']]}"
                          + f" | top {[(t[0], t[1], t[2]) for t in top]}")
        return res

    def summary(res: dict, split: str, mode: str, kind="meaning") -> tuple[float, dict]:
        langs = sorted({k[0] for k in res})
        per = {}
        allv = []
        for l in langs:
            v = res.get((l, split, kind, mode), [])
            per[l] = sum(v) / len(v) if v else float("nan")
            allv += v
        return (sum(allv) / len(allv) if allv else float("nan")), per

    def show(name: str, cfg: dict):
        res = evaluate(cfg, kinds=("meaning", "identifier"))
        line = [name]
        for split in ("tune", "held-out"):
            for mode in ("bm25", "keyword", "semantic", "hybrid"):
                a, per = summary(res, split, mode)
                line.append(f"{split[:4]} {mode[:3]} {a:.3f} [" + " ".join(f"{v:.2f}" for v in per.values()) + "]")
        ids = [r for k, v in res.items() if k[2] == "identifier" and k[3] == "hybrid" for r in v]
        idk = [r for k, v in res.items() if k[2] == "identifier" and k[3] == "keyword" for r in v]
        line.append(f"ident hyb {sum(ids) / max(1, len(ids)):.3f} kw {sum(idk) / max(1, len(idk)):.3f}")
        print(" | ".join(line), flush=True)

    ref_res: list = []

    def brief(name: str, cfg: dict):
        """One line per config: hybrid MRR@10 per language, its margin over BM25 (whole
        functions) and over the better of semantic / keyword, tune and held-out."""
        res = evaluate(cfg, kinds=("meaning", "identifier"))
        out = [f"{name:34s}"]
        for split in ("tune", "held-out"):
            a, hy = summary(res, split, "hybrid")
            _, bm = summary(res, split, "bm25")
            _, se = summary(res, split, "semantic")
            _, kw = summary(res, split, "keyword")
            out.append(f"{split[:4]} {a:.3f} hyb[" + " ".join(f"{hy[l]:.3f}" for l in hy) + "] -bm25[" +
                       " ".join(f"{hy[l] - bm[l]:+.2f}" for l in hy) + "] -max(s,k)[" +
                       " ".join(f"{hy[l] - max(se[l], kw[l]):+.2f}" for l in hy) + "]")
        ids = [r for k, v in res.items() if k[2] == "identifier" and k[3] == "hybrid" for r in v]
        out.append(f"id {sum(ids) / max(1, len(ids)):.3f}")
        if ref_res:
            # paired bootstrap (2,000 resamples) of the hybrid MRR@10 difference against the
            # first config, over the meaning queries of each half
            rng = np.random.default_rng(12)
            for split in ("tune", "held-out"):
                keys = sorted(k for k in res if k[1] == split and k[2] == "meaning" and k[3] == "hybrid")
                a = np.array([r for k in keys for r in res[k]])
                b = np.array([r for k in keys for r in ref_res[0][k]])
                idx = rng.integers(0, len(a), size=(2000, len(a)))
                diff = (a[idx] - b[idx]).mean(axis=1)
                lo, hi = np.percentile(diff, [2.5, 97.5])
                out.append(f"{split[:4]} d {a.mean() - b.mean():+.3f} [{lo:+.3f} {hi:+.3f}] "
                           f"{int((a > b).sum())}/{int((a < b).sum())}")
        else:
            ref_res.append(res)
        print(" | ".join(out), flush=True)

    studies = {
        "base": [("ripvec before issue 12 (rrf 60)", {"rule": "rrf", "alpha": 0.5, "w": (3, 1.5, 1, 1)}),
                 ("shipped (rank.hpp)", {"alpha": 0.6, "ident_alpha": 0.2, "depth": 100, "stop": True,
                                         "stem": True, "docpen": 0.5})],
    }
    exec_cfgs = json.loads(args.study) if args.study.startswith("[") else None
    if args.head:
        for d in data:
            hv, st = variant_vectors(work, args.ripvec, d["g"]["name"], d["chunks"], args.head)
            d["head_vecs"] = hv
            d["has_head"] = np.array([bool(embed_text(c, args.head)) for c in d["chunks"]])
            print(f"head {d['g']['name']}: {st}", file=sys.stderr)
    if args.text and exec_cfgs:  # one variant's vectors under the given configurations
        for d in data:
            d["vecs"], _ = variant_vectors(work, args.ripvec, d["g"]["name"], d["chunks"], args.text)
        for name, cfg in exec_cfgs:
            (brief if args.brief else show)(name, cfg)
        return
    if args.text:
        shipped = studies["base"][1][1]
        for variant in args.text.split(","):
            tot = {"tokens": 0, "over": 0, "n": 0}
            for d in data:
                d["vecs"], st = variant_vectors(work, args.ripvec, d["g"]["name"], d["chunks"], variant)
                for k in tot:
                    tot[k] += st.get(k, 0)
                cos = (d["vecs"] * d["vecs0"]).sum(1)
                print(f"  {d['g']['name']} {variant}: cos to index {np.median(cos):.4f} median, "
                      f"{(cos > 0.999).mean():.2f} same", file=sys.stderr)
            print(f"{variant}: {tot['tokens']} tokens for {tot['n']} chunks, {tot['over']} over 256", flush=True)
            show(f"text {variant}", shipped)
        return
    if exec_cfgs:
        for name, cfg in exec_cfgs:
            if "w" in cfg:
                cfg["w"] = tuple(cfg["w"])
            (brief if args.brief else show)(name, cfg)
    else:
        for name, cfg in studies["base"]:
            show(name, cfg)


if __name__ == "__main__":
    main()
