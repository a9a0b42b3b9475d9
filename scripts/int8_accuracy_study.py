#!/usr/bin/env python3
"""Which INT8 activation-scale granularity keeps MiniLM within cosine 0.999 of FP32?

NumPy forward of the real all-MiniLM-L6-v2 (safetensors from the HF cache) with every linear
layer fake-quantized like src/driver/cpu/cpu_int8_gemm.cpp (per-output-channel symmetric weight
scales, symmetric activation scales, rint), against the same forward in FP32, over the token ids
of tests/data/bert/minilm_goldens.json. Scheme "token": one activation scale per row (what the
driver does); "gN": one scale per row and group of N input channels;
"wonly" / "aonly": only the weights / only the activations (per token) quantized.
  python3 scripts/int8_accuracy_study.py [--texts 60] [--schemes token,g64,g32]
"""
import argparse, glob, json, math, os
import numpy as np
from safetensors.numpy import load_file

ap = argparse.ArgumentParser()
ap.add_argument("--texts", type=int, default=60)
ap.add_argument("--schemes", default="token,g64,g32")
args = ap.parse_args()
snap = sorted(glob.glob(os.path.expanduser(
    "~/.cache/huggingface/hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/*/")))[0]
W = load_file(snap + "model.safetensors")
W = {k.removeprefix("bert."): v.astype(np.float32) for k, v in W.items()}
g = json.load(open(os.path.join(os.path.dirname(__file__), "../tests/data/bert/minilm_goldens.json")))
ids_all = g["kinds"][0]["ids"][: args.texts]

def qrows(x, group):
    if group is None:
        amax = np.abs(x).max(axis=-1, keepdims=True)
        inv = np.where(amax > 0, 127.0 / np.maximum(amax, 1e-30), 0).astype(np.float32)
        return np.clip(np.rint(x * inv), -127, 127) * (amax / 127.0)
    r, k = x.shape
    xg = x.reshape(r, k // group, group)
    return qrows(xg, None).reshape(r, k)

def linear(x, w, b, scheme):
    if scheme is not None:
        if scheme != "aonly":
            w = qrows(w, None)
        if scheme != "wonly":
            x = qrows(x, None if scheme in ("token", "aonly") else int(scheme[1:]))
    return x @ w.T + b

def ln(x, gname):
    m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-12) * W[gname + ".weight"] + W[gname + ".bias"]

erf = np.vectorize(math.erf)
def gelu(x):
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))

def embed(ids, scheme):
    t = len(ids)
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:t] \
        + W["embeddings.token_type_embeddings.weight"][0]
    x = ln(x, "embeddings.LayerNorm")
    for l in range(6):
        p = f"encoder.layer.{l}."
        q = linear(x, W[p + "attention.self.query.weight"], W[p + "attention.self.query.bias"], scheme)
        k = linear(x, W[p + "attention.self.key.weight"], W[p + "attention.self.key.bias"], scheme)
        v = linear(x, W[p + "attention.self.value.weight"], W[p + "attention.self.value.bias"], scheme)
        q, k, v = (a.reshape(t, 12, 32).transpose(1, 0, 2) for a in (q, k, v))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(32)
        s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(t, 384)
        a = linear(ctx, W[p + "attention.output.dense.weight"], W[p + "attention.output.dense.bias"], scheme)
        x = ln(a + x, p + "attention.output.LayerNorm")
        h = gelu(linear(x, W[p + "intermediate.dense.weight"], W[p + "intermediate.dense.bias"], scheme))
        o = linear(h, W[p + "output.dense.weight"], W[p + "output.dense.bias"], scheme)
        x = ln(o + x, p + "output.LayerNorm")
    e = x.mean(0)
    return e / np.linalg.norm(e)

ref = [embed(ids, None) for ids in ids_all]
for scheme in args.schemes.split(","):
    cos = [float(embed(ids, scheme) @ r) for ids, r in zip(ids_all, ref)]
    print(f"{scheme:6s} {len(cos)} texts: min cosine {min(cos):.6f} mean {np.mean(cos):.6f} "
          f"texts < 0.999: {sum(c < 0.999 for c in cos)}")
