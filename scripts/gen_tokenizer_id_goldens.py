#!/usr/bin/env python3
"""Writes tests/data/tokenizer/hostile_ids.json: HF `tokenizers` reference ids for small,
hand-edited-looking tokenizer.json files (tests/unit/tokenizer_ids_test.cpp).

Each case is a WordPiece or byte-level BPE tokenizer whose ids a real file never has: holes in
the vocabulary, the empty string as a token, ids far from the entry count, added tokens whose
"id" fields disagree with the ids HF gives them (in the vocabulary or not, duplicated, empty).
Recorded per case: the file, token_to_id of every string it names (and one absent), id_to_token
of every id up to the largest + 2 (null for a hole), and the ids and token strings of a few texts
without specials.
ripvec's vocab_size() is the id space (largest id + 1), not HF's get_vocab_size (distinct
strings), so that number is recorded only for reference.

Usage: python3 scripts/gen_tokenizer_id_goldens.py   (deterministic: fixed seed)
"""
import json
import os
import random

import tokenizers
from tokenizers import Tokenizer

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "tokenizer", "hostile_ids.json")
TEXTS = ["a b c", "ab [MASK] hello<x>", "hello world abc", "abc <y> a [CLS]b", ""]
WP_TOKENS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "a", "b", "c", "ab", "##b", "##c", "hello",
             "world", "", "<x>"]
ADDED = ["[MASK]", "<x>", "a", "hello", "", "[CLS]", "<y>", "<x>", "ab"]
# Byte-level: merges a b -> ab, Ġ a -> Ġa, ab c -> abc, h e -> he (all results in the vocabulary).
BPE_TOKENS = ["a", "b", "c", "e", "h", "l", "o", "w", "r", "d", "<", ">", "x", "y", "[", "]",
              "M", "A", "S", "K", "C", "L", "Ġ", "ab", "Ġa", "abc", "he", ""]
BPE_MERGES = ["a b", "Ġ a", "ab c", "h e"]


def ids_for(tokens, rng):
    style = rng.choice(["contiguous", "holes", "sparse"])
    if style == "contiguous":
        ids = list(range(len(tokens)))
        rng.shuffle(ids)
    elif style == "holes":
        ids = rng.sample(range(3 * len(tokens)), len(tokens))
    else:
        ids = rng.sample(range(len(tokens)), len(tokens) - 1) + [rng.choice([5000, 70000, 2**31 - 1])]
    return dict(zip(tokens, ids))


def added_tokens(rng, max_id):
    out = []
    for content in rng.sample(ADDED, rng.randint(0, 5)):
        special = rng.random() < 0.7
        out.append({"id": rng.randint(0, max_id + 3), "content": content, "single_word": False,
                    "lstrip": False, "rstrip": False, "normalized": not special and rng.random() < 0.5,
                    "special": special})
    return out


def case(rng, kind):
    if kind == "WordPiece":
        tokens = ["[UNK]"] + rng.sample(WP_TOKENS[1:], rng.randint(5, len(WP_TOKENS) - 1))
        vocab = ids_for(tokens, rng)
        model = {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                 "max_input_chars_per_word": 100, "vocab": vocab}
        pre = {"type": "BertPreTokenizer"}
    else:
        vocab = ids_for(BPE_TOKENS, rng)
        model = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                 "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                 "ignore_merges": False, "vocab": vocab, "merges": BPE_MERGES}
        pre = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}
    doc = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": added_tokens(rng, max(vocab.values())), "normalizer": None,
           "pre_tokenizer": pre, "post_processor": None, "decoder": None, "model": model}
    tok = Tokenizer.from_str(json.dumps(doc))
    names = sorted(set(vocab) | {a["content"] for a in doc["added_tokens"]} | {"absent"})
    top = max(tok.get_vocab(True).values())
    # Sparse cases: every named id and its neighbours instead of the whole space.
    probe = sorted({i for v in tok.get_vocab(True).values() for i in (v - 1, v, v + 1) if i >= 0} |
                   set(range(min(top + 3, 64))))
    return {"kind": kind, "tokenizer": doc,
            "hf_vocab_size": tok.get_vocab_size(True),
            "token_to_id": [[n, tok.token_to_id(n)] for n in names],
            "id_to_token": [[i, tok.id_to_token(i)] for i in probe],
            "encode": [[t, e.ids, e.tokens] for t in TEXTS
                       for e in [tok.encode(t, add_special_tokens=False)]]}


def main():
    rng = random.Random(20261204)
    cases = [case(rng, kind) for kind in ["WordPiece", "BPE"] for _ in range(30)]
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"tokenizers_version": tokenizers.__version__, "cases": cases}, f,
                  ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
