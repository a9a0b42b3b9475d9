#!/usr/bin/env python3
"""Writes the committed seed corpora fuzz/corpus/<target>/ from the repository's fixtures
(tests/data, fuzz/data): real files, truncated and lightly mutated copies. Deterministic;
rerun after changing a fixture:  python3 fuzz/make_seeds.py
The store_* seeds come from the store's own encoders: build/fuzz/fuzz/fuzz_gen_store_seeds."""
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")


def rd(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors: small valid files, real headers with their data cut, broken variants ----
def st_file(header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


mixed = {
    "__metadata__": {"format": "pt"},
    "emb.weight": {"dtype": "F32", "shape": [4, 3], "data_offsets": [0, 48]},
    "ln.weight": {"dtype": "F16", "shape": [3], "data_offsets": [48, 54]},
    "ln.bias": {"dtype": "BF16", "shape": [3], "data_offsets": [54, 60]},
    "position_ids": {"dtype": "I64", "shape": [1, 2], "data_offsets": [60, 76]},
    "empty": {"dtype": "F32", "shape": [0, 7], "data_offsets": [76, 76]},
}
data = bytes((i * 37 + 11) & 0xFF for i in range(76))
put("safetensors", "mixed.safetensors", st_file(mixed, data))
put("safetensors", "mixed_truncated.safetensors", st_file(mixed, data)[:-9])
put("safetensors", "scalar.safetensors",
    st_file({"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}, b"\x00\x00\x80\x3f"))
put("safetensors", "empty_header.safetensors", st_file({}, b""))
for name, rel in [("bge_header", "tests/data/bert/tiny_bge_cls/model.safetensors"),
                  ("modernbert_header", "tests/data/modernbert/tiny/model.safetensors")]:
    raw = rd(rel)
    (n,) = struct.unpack("<Q", raw[:8])
    put("safetensors", name + ".safetensors", raw[: 8 + n + 64])  # header + a little data
put("safetensors", "header_len_is_file_size.safetensors", struct.pack("<Q", 16) + b"{}      ")

# ---- model_config: config.json \0 modules.json \0 1_Pooling/config.json \0
#      config_sentence_transformers.json \0 sentence_bert_config.json \0 tokenizer_config.json
ST_FILES = ["config.json", "modules.json", "1_Pooling/config.json",
            "config_sentence_transformers.json", "sentence_bert_config.json",
            "tokenizer_config.json"]
for model in ["tests/data/model/st6_minilm", "tests/data/bert/tiny_bge_cls",
              "tests/data/bert/tiny_gelu_new"]:
    parts = [rd(os.path.join(model, f)) if os.path.exists(os.path.join(ROOT, model, f)) else b"{}"
             for f in ST_FILES]
    put("model_config", os.path.basename(model), b"\0".join(parts))
for rel in ["tests/data/model/configs/minimal_bert.json",
            "tests/data/model/configs/minimal_modernbert.json",
            "tests/data/model/configs/tf5_custom_modernbert.json",
            "tests/data/model/tf5_modernbert_config.json",
            "tests/data/modernbert/tiny/config.json"]:
    put("model_config", os.path.basename(os.path.dirname(rel)) + "_" + os.path.basename(rel),
        rd(rel))

# ---- tokenizer_json: the WordPiece fixture, a small BPE cut, variants of both ----
wp = rd("tests/data/bert/tiny_bge_cls/tokenizer.json")
put("tokenizer_json", "wordpiece.json", wp)
wpj = json.loads(wp)
variants = json.loads(rd("tests/data/tokenizer/variants.json"))
for vname, v in list(variants.get("variants", {}).items())[:8]:
    if isinstance(v, dict):
        put("tokenizer_json", "wordpiece_" + vname + ".json",
            json.dumps(dict(wpj, **v), ensure_ascii=False))
bpe = json.loads(rd("fuzz/data/bpe_tokenizer.json"))
small = dict(bpe)
merges = bpe["model"]["merges"][:150]
keep = {t for t in bpe["model"]["vocab"] if len(t) == 1}
for m in merges:
    a, b = m.split(" ") if isinstance(m, str) else m
    keep.update((a, b, a + b))
small["model"] = dict(bpe["model"], merges=merges,
                      vocab={t: i for t, i in bpe["model"]["vocab"].items() if t in keep})
small["added_tokens"] = [t for t in bpe["added_tokens"] if t["special"]][:8]
put("tokenizer_json", "bpe_small.json", json.dumps(small, ensure_ascii=False))
pairs = dict(small)
pairs["model"] = dict(small["model"], merges=[m.split(" ") for m in merges])
put("tokenizer_json", "bpe_small_pair_merges.json", json.dumps(pairs, ensure_ascii=False))
put("tokenizer_json", "wordpiece_truncated.json", wp[: len(wp) // 2])

# ---- tokenize: texts of the tokenizer parity corpus and the chunker fixtures ----
lines = rd("tests/data/tokenizer/corpus.jsonl").decode("utf-8").split("\n")
seen = set()
for line in filter(None, lines):
    rec = json.loads(line)
    if rec["kind"] in seen or len(rec["text"].encode()) > 2000:
        continue
    seen.add(rec["kind"])
    put("tokenize", "corpus_" + rec["kind"], rec["text"])
put("tokenize", "invalid_utf8", b"caf\xc3 \xff\xfe ok \xed\xa0\x80 surrogate")
put("tokenize", "specials", "[CLS] hello [MASK] <|endoftext|> [SEP][PAD] don't")

# ---- gitignore: a realistic file with paths, and git's t3070 wildmatch cases ----
put("gitignore", "realistic",
    b"# build output\n/build/\n*.o\n!keep.o\n**/node_modules/\ndocs/**/*.pdf\n\\#literal\n"
    b"trailing\\ \nfoo[0-9].txt\n[!a-c]*.log\nvendor/**\n"
    b"\0src/a.o\0keep.o\0build/\0x/node_modules/\0docs/a/b/c.pdf\0#literal\0foo7.txt\0d.log")
n = 0
for line in rd("tests/data/chunk/wildmatch_t3070.tsv").decode("utf-8").splitlines():
    if line.startswith("#") or not line.strip():
        continue
    cols = line.split("\t")
    if len(cols) != 6:
        continue
    text, pat = (c.encode().decode("unicode_escape").encode("latin-1") for c in cols[4:6])
    if n % 4 == 0:
        put("gitignore", "t3070_%03d" % n, pat + b"\0" + text)
    n += 1

# ---- chunker: byte 0 = file name index, byte 1 = option flags, then the source ----
NAMES = ["a.py", "a.js", "a.ts", "a.tsx", "a.go", "a.rs", "A.java", "a.c", "a.cpp", "a.rb",
         "a.sh", "a.h", "notes.md", "a.txt", "Makefile"]
FIXTURE = {"a.py": "sample.py", "a.js": "sample.js", "a.ts": "sample.ts", "a.tsx": "sample.tsx",
           "a.go": "sample.go", "a.rs": "sample.rs", "A.java": "Sample.java", "a.c": "sample.c",
           "a.cpp": "sample.cpp", "a.rb": "sample.rb", "a.sh": "sample.sh",
           "notes.md": "notes.md"}
for i, name in enumerate(NAMES):
    if name not in FIXTURE:
        continue
    src = rd("tests/data/chunk/" + FIXTURE[name])
    put("chunker", FIXTURE[name], bytes([i, 0]) + src)
    put("chunker", FIXTURE[name] + ".tok", bytes([i, 3]) + src)  # tokenizer, 32 tokens
    put("chunker", FIXTURE[name] + ".cut", bytes([i, 4 | 0x30]) + src[: len(src) * 2 // 3])
print("seeds written to", OUT)
