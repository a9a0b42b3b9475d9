#!/usr/bin/env python3
"""Tokenizer throughput: ripvec (bench/tokenizer_bench) beside HF `tokenizers`, same corpus,
same machine, same run, one thread.

HF is measured two ways: a Python loop over Tokenizer.encode (what a Python caller pays, includes
the Python->Rust call per string) and encode_batch with RAYON_NUM_THREADS=1 (Rust loop, one thread;
the closer comparison). Both with add_special_tokens=True, truncation/padding off.

Usage: scripts/bench_tokenizer.py --bench-bin build/<dir>/bench/tokenizer_bench [--seconds 2]
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(seconds, fn):
    fn()
    passes, t0 = 0, time.perf_counter()
    while True:
        ids = fn()
        passes += 1
        el = time.perf_counter() - t0
        if el >= seconds:
            return el / passes, ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench-bin", required=True)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests/data/tokenizer/corpus.jsonl"))
    args = ap.parse_args()
    assets = os.path.join(ROOT, "tests", "data", "assets", "tokenizers")
    files = {
        "bge-small-en-v1.5": os.path.join(assets, "bge-small-en-v1.5/tokenizer.json"),
        "modernbert-base": os.path.join(assets, "modernbert-base/tokenizer.json"),
    }
    cmd = [args.bench_bin, "--corpus", args.corpus, "--seconds", str(args.seconds)]
    cmd += [f"{k}={v}" for k, v in files.items()]
    rows = [json.loads(line) for line in subprocess.run(
        cmd, check=True, capture_output=True, text=True).stdout.splitlines() if line.strip()]

    os.environ["RAYON_NUM_THREADS"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    import tokenizers
    from tokenizers import Tokenizer
    texts = [json.loads(line)["text"] for line in open(args.corpus, encoding="utf-8")]
    nbytes = sum(len(t.encode()) for t in texts)
    for name, path in files.items():
        tok = Tokenizer.from_file(path)
        tok.no_truncation()
        tok.no_padding()
        loop_s, ids = timed(args.seconds, lambda: sum(len(tok.encode(t).ids) for t in texts))
        batch_s, ids_b = timed(args.seconds, lambda: sum(
            len(e.ids) for e in tok.encode_batch(texts)))
        for mode, s, n in (("encode (python loop)", loop_s, ids),
                           ("encode_batch (1 thread)", batch_s, ids_b)):
            rows.append({"impl": f"HF tokenizers {tokenizers.__version__}", "tokenizer": name,
                         "mode": mode, "ids": n, "seconds_per_pass": s, "ids_per_s": n / s,
                         "mb_per_s": nbytes / s / 1e6})
    print(f"corpus: {len(texts)} strings, {nbytes / 1e6:.2f} MB")
    print(f"{'tokenizer':20} {'impl':22} {'mode':26} {'ids/pass':>9} {'M ids/s':>8} {'MB/s':>7}")
    for r in sorted(rows, key=lambda r: (r["tokenizer"], r["impl"] != "ripvec")):
        print(f"{r['tokenizer']:20} {r['impl']:22} {r['mode']:26} {r['ids']:9d} "
              f"{r['ids_per_s'] / 1e6:8.2f} {r['mb_per_s']:7.2f}")


if __name__ == "__main__":
    main()
