#!/usr/bin/env python3
"""Encodes the tokenizer parity corpus with Hugging Face `tokenizers` and writes the goldens.

For every tokenizer file below, each corpus string is encoded with add_special_tokens=True (the
file's own truncation / padding settings are switched off: truncation is tested separately), and
the ids are written one line per corpus string, space separated, in corpus order:
  tests/data/tokenizer/goldens/<name>.ids.txt
Identical outputs of two tokenizer files are stored once (the manifest points both at it).
tests/data/tokenizer/goldens/manifest.json records the tokenizers / Python versions, the sha256
of the corpus and of each tokenizer file, and the sha256 of each ids file.

The no-specials path (add_special_tokens=False) is covered by the llama.cpp vectors in
tests/data/assets/tokenizer-vectors/.

Variants (tests/data/tokenizer/variants.json): the base tokenizer.json with some top-level keys
replaced (added tokens with lstrip / rstrip / single_word / normalized flags, other normalizer,
pre-tokenizer and post-processor settings). A corpus subset plus the variants' extra_texts are
encoded with add_special_tokens=True into goldens/variants.ids.txt, one line per (variant, text):
  <variant> TAB <corpus index, or x<k> for extra_texts[k]> TAB <ids> [TAB <type ids>]
(type ids only when some are non-zero).

Per-code-point properties (goldens/unicode_props.json): for every code point (surrogates
excluded) HF's result for each normalizer / pre-tokenizer building block is dumped as text,
"<hex cp>:<hex result code points, comma separated>\n" for each code point the block changes, and
the CRC-32 + length of that dump are recorded (the dumps themselves would be megabytes).
tests/unit/tokenizer_unicode_test.cpp rebuilds the same dumps with the C++ code. Run with
--dump-props DIR to also write the dumps for diffing.

Usage: scripts/gen_tokenizer_goldens.py [--assets DIR]   (default tests/data/assets: the files the
  C++ tests read; another DIR must hold the same files, their sha256 goes into the manifest)
"""
import argparse
import glob
import hashlib
import json
import os
import platform
import sys
import zlib

import tokenizers
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "tests", "data", "tokenizer")


def minilm_tokenizer():
    hub = os.environ.get("HF_HUB_CACHE") or os.path.expanduser("~/.cache/huggingface/hub")
    hits = sorted(glob.glob(os.path.join(
        hub, "models--sentence-transformers--all-MiniLM-L6-v2", "snapshots", "*",
        "tokenizer.json")))
    return hits[0] if hits else None


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def variant_subset(corpus_kinds, subset):
    keep = []
    other = 0
    for i, kind in enumerate(corpus_kinds):
        if kind in subset["kinds_all"]:
            keep.append(i)
        else:
            if other % subset["every_nth_other"] == 0:
                keep.append(i)
            other += 1
    return keep


def write_variants(assets, texts, out_dir):
    spec_path = os.path.join(DATA, "variants.json")
    spec = json.load(open(spec_path, encoding="utf-8"))
    base_path = os.path.join(assets, "tokenizers", spec["base"], "tokenizer.json")
    base = json.load(open(base_path, encoding="utf-8"))
    kinds = [json.loads(line)["kind"] for line in open(os.path.join(DATA, "corpus.jsonl"),
                                                        encoding="utf-8")]
    keep = variant_subset(kinds, spec["subset"])
    inputs = [(str(i), texts[i]) for i in keep]
    inputs += [(f"x{k}", t) for k, t in enumerate(spec["extra_texts"])]
    lines = []
    for name, patch in spec["variants"].items():
        root = dict(base)
        root.update(patch)
        tok = Tokenizer.from_str(json.dumps(root))
        encs = tok.encode_batch([t for _, t in inputs], add_special_tokens=True)
        for (key, _), e in zip(inputs, encs):
            line = f"{name}\t{key}\t{' '.join(map(str, e.ids))}"
            if any(e.type_ids):
                line += f"\t{' '.join(map(str, e.type_ids))}"
            lines.append(line + "\n")
    body = "".join(lines)
    with open(os.path.join(out_dir, "variants.ids.txt"), "w") as f:
        f.write(body)
    print(f"variants: {len(spec['variants'])} x {len(inputs)} texts -> variants.ids.txt",
          file=sys.stderr)
    return {
        "spec": "variants.json",
        "spec_sha256": sha256_file(spec_path),
        "base_sha256": sha256_file(base_path),
        "ids": "variants.ids.txt",
        "ids_sha256": hashlib.sha256(body.encode()).hexdigest(),
        "texts_per_variant": len(inputs),
    }


def unicode_props(dump_dir=None):
    from tokenizers import normalizers, pre_tokenizers

    def bert(**kw):
        args = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                    lowercase=False)
        args.update(kw)
        return normalizers.BertNormalizer(**args)

    blocks = {
        "bert_clean_text": bert(clean_text=True).normalize_str,
        "bert_chinese_chars": bert(handle_chinese_chars=True).normalize_str,
        "bert_strip_accents": bert(strip_accents=True).normalize_str,
        "bert_lowercase": bert(lowercase=True).normalize_str,
        "lowercase": normalizers.Lowercase().normalize_str,
        "strip_accents": normalizers.StripAccents().normalize_str,
        "nfc": normalizers.NFC().normalize_str,
        "nfd": normalizers.NFD().normalize_str,
        "nfkc": normalizers.NFKC().normalize_str,
        "nfkd": normalizers.NFKD().normalize_str,
    }
    pt = pre_tokenizers.BertPreTokenizer()

    def bert_pretok(c):
        # "P" when c is isolated as punctuation, "W" when it splits as whitespace.
        n = len(pt.pre_tokenize_str("a" + c + "b"))
        return c if n == 1 else ("P" if n == 3 else "W")

    blocks["bert_pre_tokenizer"] = bert_pretok
    out = {}
    for name, fn in blocks.items():
        parts = []
        for cp in range(0x110000):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            c = chr(cp)
            r = fn(c)
            if r != c:
                parts.append(f"{cp:x}:" + ",".join(f"{ord(x):x}" for x in r) + "\n"
                             if name != "bert_pre_tokenizer" else f"{cp:x}:{r}\n")
        body = "".join(parts).encode()
        if dump_dir:
            os.makedirs(dump_dir, exist_ok=True)
            open(os.path.join(dump_dir, name + ".txt"), "wb").write(body)
        out[name] = {"entries": len(parts), "bytes": len(body), "crc32": zlib.crc32(body)}
        print(f"unicode {name}: {len(parts)} code points changed", file=sys.stderr)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=os.path.join(ROOT, "tests", "data", "assets"))
    ap.add_argument("--dump-props", default=None)
    args = ap.parse_args()
    assets = os.path.abspath(args.assets)
    # name -> (path, path as the C++ tests find it: relative to tests/data/assets, or "hf:minilm")
    specs = [
        ("bge-small-en-v1.5", os.path.join(assets, "tokenizers/bge-small-en-v1.5/tokenizer.json"),
         "assets:tokenizers/bge-small-en-v1.5/tokenizer.json"),
        ("bert-base-uncased", os.path.join(assets, "tokenizers/bert-base-uncased/tokenizer.json"),
         "assets:tokenizers/bert-base-uncased/tokenizer.json"),
        ("all-MiniLM-L6-v2", minilm_tokenizer(), "hf:sentence-transformers/all-MiniLM-L6-v2"),
        ("modernbert-base", os.path.join(assets, "tokenizers/modernbert-base/tokenizer.json"),
         "assets:tokenizers/modernbert-base/tokenizer.json"),
        ("modernbert-base.pairs-merges",
         os.path.join(assets, "tokenizers/modernbert-base/tokenizer.pairs-merges.json"),
         "assets:tokenizers/modernbert-base/tokenizer.pairs-merges.json"),
    ]
    corpus_path = os.path.join(DATA, "corpus.jsonl")
    texts = []
    with open(corpus_path, encoding="utf-8") as f:
        for line in f:
            texts.append(json.loads(line)["text"])

    out_dir = os.path.join(DATA, "goldens")
    os.makedirs(out_dir, exist_ok=True)
    manifest = {
        "generator": "scripts/gen_tokenizer_goldens.py",
        "tokenizers_version": tokenizers.__version__,
        "python": platform.python_version(),
        "corpus": "corpus.jsonl",
        "corpus_sha256": sha256_file(corpus_path),
        "corpus_size": len(texts),
        "add_special_tokens": True,
        "tokenizers": {},
    }
    written = {}  # ids-file sha256 -> file name
    for name, path, locator in specs:
        if not path or not os.path.exists(path):
            print(f"skip {name}: {path} missing", file=sys.stderr)
            continue
        tok = Tokenizer.from_file(path)
        tok.no_truncation()
        tok.no_padding()
        encs = tok.encode_batch(texts, add_special_tokens=True)
        body = "".join(" ".join(map(str, e.ids)) + "\n" for e in encs)
        digest = hashlib.sha256(body.encode()).hexdigest()
        if digest in written:
            ids_file = written[digest]
        else:
            ids_file = f"{name}.ids.txt"
            with open(os.path.join(out_dir, ids_file), "w") as f:
                f.write(body)
            written[digest] = ids_file
        manifest["tokenizers"][name] = {
            "file": locator,
            "sha256": sha256_file(path),
            "model": json.loads(tok.to_str())["model"].get("type"),
            "ids": ids_file,
            "ids_sha256": digest,
            "total_ids": sum(len(e.ids) for e in encs),
        }
        print(f"{name}: {manifest['tokenizers'][name]['total_ids']} ids -> {ids_file}",
              file=sys.stderr)
    manifest["variants"] = write_variants(assets, texts, out_dir)
    props = {"tokenizers_version": tokenizers.__version__, "blocks": unicode_props(args.dump_props)}
    with open(os.path.join(out_dir, "unicode_props.json"), "w") as f:
        json.dump(props, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
