#!/usr/bin/env python3
"""Writes fuzz/data/bpe_tokenizer.json: ModernBERT's byte-level BPE tokenizer.json cut down to
its first 2,000 merges (every byte-level symbol kept, ids renumbered densely, all added tokens,
normalizer, pre-tokenizer and post-processor unchanged), so the libFuzzer `tokenize` target
can exercise the real BPE pipeline from a file small enough to commit.

  python3 fuzz/gen_bpe_fixture.py tests/data/assets/tokenizers/modernbert-base/tokenizer.json
"""
import json
import sys

KEEP_MERGES = 2000

src = json.load(open(sys.argv[1], encoding="utf-8"))
model = src["model"]
vocab = model["vocab"]
merges = model["merges"][:KEEP_MERGES]
pairs = [m.split(" ") if isinstance(m, str) else m for m in merges]

keep = set()
# The byte-level alphabet: every single-character token of the original vocabulary.
keep.update(t for t in vocab if len(t) == 1)
for a, b in pairs:
    keep.update((a, b, a + b))
old_ids = sorted(vocab[t] for t in keep)
remap = {old: new for new, old in enumerate(old_ids)}
inv = {i: t for t, i in vocab.items()}
new_vocab = {inv[o]: remap[o] for o in old_ids}

next_id = len(new_vocab)
added = []
for tok in src["added_tokens"]:
    if tok["id"] in remap:
        tok = dict(tok, id=remap[tok["id"]])
    else:
        remap[tok["id"]] = next_id
        tok = dict(tok, id=next_id)
        next_id += 1
    added.append(tok)


def fix_ids(node):
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "ids" and isinstance(v, list):
                out[k] = [remap[i] for i in v]
            else:
                out[k] = fix_ids(v)
        return out
    if isinstance(node, list):
        return [fix_ids(v) for v in node]
    return node


out = dict(src)
out["added_tokens"] = added
out["post_processor"] = fix_ids(src["post_processor"])
out["model"] = dict(model, vocab=new_vocab, merges=merges)
with open("fuzz/data/bpe_tokenizer.json", "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    f.write("\n")
print(f"{len(new_vocab)} vocab, {len(merges)} merges, {len(added)} added tokens")
