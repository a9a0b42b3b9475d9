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
/work/shared/assets/tokenizer-vectors/.

Usage: scripts/gen_tokenizer_goldens.py [--assets ../shared/assets]
"""
import argparse
import glob
import hashlib
import json
import os
import platform
import sys

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=os.path.join(ROOT, "..", "shared", "assets"))
    args = ap.parse_args()
    assets = os.path.abspath(args.assets)
    # name -> (path, path as the C++ tests find it: relative to shared assets, or "hf:minilm")
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
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
