#!/usr/bin/env python3
"""HF `tokenizers` encoding speed on the tokenizer parity corpus, to compare with
bench/tokenizer_bpe_bench.cpp (same inputs, same counting: ids with specials).

  RAYON_NUM_THREADS=1 python3 scripts/bench_bpe.py [tokenizer.json] [corpus.jsonl] [repeats]

Reports Tokenizer.encode in a Python loop (one thread, includes the per-call Python overhead)
and Tokenizer.encode_batch (Rust loop; one thread when RAYON_NUM_THREADS=1). Each is timed on a
fresh tokenizer (cold word cache) and then as the best of the later passes.
"""
import json
import os
import sys
import time

import tokenizers
from tokenizers import Tokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def main():
    tok_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, "tests", "data", "assets", "tokenizers", "modernbert-base", "tokenizer.json")
    corpus = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        ROOT, "tests", "data", "tokenizer", "corpus.jsonl")
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    texts = [json.loads(l)["text"] for l in open(corpus, encoding="utf-8") if l.strip()]
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    print(f"tokenizers {tokenizers.__version__}, RAYON_NUM_THREADS="
          f"{os.environ.get('RAYON_NUM_THREADS', 'unset')}; {len(texts)} texts, "
          f"{nbytes / 1e6:.2f} MB")

    def loop(tok):
        return sum(len(tok.encode(t).ids) for t in texts)

    def batch(tok):
        return sum(len(e.ids) for e in tok.encode_batch(texts))

    for name, fn in (("encode loop", loop), ("encode_batch", batch)):
        tok = Tokenizer.from_file(tok_path)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            n = fn(tok)
            times.append(time.perf_counter() - t0)
        cold, best = times[0], min(times[1:]) if len(times) > 1 else times[0]
        print(f"HF {name}, cold cache: {cold:.3f} s  {n / cold:.0f} ids/s  {nbytes / 1e6 / cold:.2f} MB/s")
        print(f"HF {name}, warm (best of {repeats - 1}): {best:.3f} s  {n / best:.0f} ids/s  "
              f"{nbytes / 1e6 / best:.2f} MB/s  ({n} ids)")


if __name__ == "__main__":
    main()
