#!/usr/bin/env python3
"""Which INT8 activation-scale granularity keeps MiniLM within cosine 0.999 of FP32?

NumPy forward of the real all-MiniLM-L6-v2 (safetensors from the HF cache) with every linear
layer fake-quantized like src/driver/cpu/cpu_int8_gemm.cpp (per-output-channel symmetric weight
scales, symmetric activation scales, rint), against the same forward in FP32, over the token ids
of tests/data/bert/minilm_goldens.json. Scheme "token": one activation scale per row (what the
driver does); "gN": one scale per row and group of N input channels;
"wonly" / "aonly": only the weights / only the activations (per token) quantized.
Composite schemes, fields joined by "_": "wX" weights (wch per output channel, wgN per output
channel and group of N input channels, wnone FP32), "aX" activations (atok per row, agN per row
and group of N, anone FP32), "oN" the N input channels of largest |x| over the rows kept in FP32
(LLM.int8-style decomposition; the rest quantized; with "sfull" the weights keep the scales of
their whole rows, as when the columns are chosen per call), "pN" the same with the N columns of
W of largest max |w| (static, chosen at load), "rN" each row's own N entries of largest |x|
in FP32 (a sparse FP32 correction; weights keep whole-row scales; batch-independent), "fKINDS" layer kinds kept in FP32 (letters:
q qkv, a attention output, u FFN up, d FFN down), "lLIST" layers (0-5) kept in FP32, "mwN" / "maN" weight / activation codes in [-N, N]
(default 127; 63 is 7 bits, what a vpmaddubsw kernel needs to never saturate), "tLETTERS" the
attention's operands quantized (see attention(): q for Q and K, v for V, p / P for the
probabilities in 8 / 15 bits), e.g. wg32_ag32_r4_tqPv.
E.g. wg32_ag32 (both grouped by 32 along k), wch_atok_o8, wch_atok_fd.
  python3 scripts/int8_accuracy_study.py [--texts 60] [--schemes token,g64,g32,wg32_ag32]
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

def qrows(x, group, qmax=127):
    if group is None:
        amax = np.abs(x).max(axis=-1, keepdims=True)
        inv = np.where(amax > 0, qmax / np.maximum(amax, 1e-30), 0).astype(np.float32)
        return np.clip(np.rint(x * inv), -qmax, qmax) * (amax / qmax)
    r, k = x.shape
    xg = x.reshape(r, k // group, group)
    return qrows(xg, None, qmax).reshape(r, k)

LEGACY = {"token": "wch_atok", "aonly": "wnone_atok", "wonly": "wch_anone"}

def parse(scheme):
    scheme = LEGACY.get(scheme, scheme)
    if scheme[0] == "g" and scheme[1:].isdigit():
        scheme = "wch_a" + scheme
    f = {"w": "ch", "a": "tok", "o": 0, "p": 0, "r": 0, "f": "", "l": "", "s": "", "mw": 127,
         "ma": 127, "t": ""}
    for part in scheme.split("_"):
        if part[0] == "m":  # mwN / maN: weight / activation codes in [-N, N] (127: 8 bits)
            f[part[:2]] = int(part[2:])
        else:
            f[part[0]] = int(part[1:]) if part[0] in "opr" else part[1:]
    return f

def qgroup(x, spec, qmax=127):
    if spec == "none":
        return x
    return qrows(x, None if spec in ("ch", "tok") else int(spec[1:]), qmax)

def linear(x, w, b, scheme, kind="", layer=-1):
    if scheme is not None:
        f = parse(scheme)
        if kind in f["f"] or str(layer) in f["l"]:
            return x @ w.T + b
        if f["r"] > 0:  # per row: its N entries of largest |x| in FP32 (batch-independent)
            idx = np.argsort(-np.abs(x), axis=1)[:, : f["r"]]
            keep = np.zeros(x.shape, bool)
            np.put_along_axis(keep, idx, True, axis=1)
            xr = np.where(keep, 0, x)
            return (x - xr) @ w.T + qgroup(xr, f["a"], f["ma"]) @ qgroup(w, f["w"], f["mw"]).T + b
        if f["o"] > 0 or f["p"] > 0:  # outlier input channels in FP32, the rest quantized
            if f["p"] > 0:  # static: the columns of W with the largest max |w|
                cols = np.argsort(-np.abs(w).max(axis=0))[: f["p"]]
            else:  # dynamic: the columns of x with the largest max |x| over the rows
                cols = np.argsort(-np.abs(x).max(axis=0))[: f["o"]]
            keep = np.zeros(x.shape[1], bool)
            keep[cols] = True
            y = x[:, keep] @ w[:, keep].T
            xr = np.where(keep, 0, x)
            # sfull: weights quantized once over their whole rows (what a driver can do when the
            # outlier columns are chosen per call), else over the non-outlier columns only.
            wr = np.where(keep, 0, qgroup(w, f["w"])) if f["s"] == "full" else \
                qgroup(np.where(keep, 0, w), f["w"])
            return y + qgroup(xr, f["a"]) @ wr.T + b
        w, x = qgroup(w, f["w"], f["mw"]), qgroup(x, f["a"], f["ma"])
    return x @ w.T + b

def ln(x, gname):
    m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-12) * W[gname + ".weight"] + W[gname + ".bias"]

try:
    from scipy.special import erf
except ImportError:
    erf = np.vectorize(math.erf)
def gelu(x):
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))

def attention(q, k, v, t):
    """Softmax attention of one sequence, q k v [heads, tokens, 32]. t: quantized operands, letters
    q (Q and K: int8, one scale per token and head), p (probabilities: u8 codes of p / 255, p
    relative to the row's max, the codes' sum as the row's sum), P (the same in 15 bits), v (V:
    int8, one scale per head dimension and block of 64 keys)."""
    if "q" in t:
        q, k = qrows(q, None), qrows(k, None)
    if "v" in t:
        vb = v.copy()
        for b0 in range(0, v.shape[1], 64):
            blk = v[:, b0:b0 + 64, :].transpose(0, 2, 1)
            vb[:, b0:b0 + 64, :] = qrows(blk, None).transpose(0, 2, 1)
        v = vb
    s = q @ k.transpose(0, 2, 1) / math.sqrt(32)
    s = np.exp(s - s.max(-1, keepdims=True))
    if "p" in t:
        s = np.rint(s * 255) / 255
    if "P" in t:
        s = np.rint(s * 32767) / 32767
    s /= s.sum(-1, keepdims=True)
    return s @ v

def embed(ids, scheme):
    t = len(ids)
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:t] \
        + W["embeddings.token_type_embeddings.weight"][0]
    x = ln(x, "embeddings.LayerNorm")
    for l in range(6):
        p = f"encoder.layer.{l}."
        q = linear(x, W[p + "attention.self.query.weight"], W[p + "attention.self.query.bias"], scheme, "q", l)
        k = linear(x, W[p + "attention.self.key.weight"], W[p + "attention.self.key.bias"], scheme, "q", l)
        v = linear(x, W[p + "attention.self.value.weight"], W[p + "attention.self.value.bias"], scheme, "q", l)
        q, k, v = (a.reshape(t, 12, 32).transpose(1, 0, 2) for a in (q, k, v))
        ctx = attention(q, k, v, parse(scheme)["t"] if scheme else "").transpose(1, 0, 2).reshape(t, 384)
        a = linear(ctx, W[p + "attention.output.dense.weight"], W[p + "attention.output.dense.bias"], scheme, "a", l)
        x = ln(a + x, p + "attention.output.LayerNorm")
        h = gelu(linear(x, W[p + "intermediate.dense.weight"], W[p + "intermediate.dense.bias"], scheme, "u", l))
        o = linear(h, W[p + "output.dense.weight"], W[p + "output.dense.bias"], scheme, "d", l)
        x = ln(o + x, p + "output.LayerNorm")
    e = x.mean(0)
    return e / np.linalg.norm(e)

ref = [embed(ids, None) for ids in ids_all]
for scheme in args.schemes.split(","):
    cos = [float(embed(ids, scheme) @ r) for ids, r in zip(ids_all, ref)]
    print(f"{scheme:6s} {len(cos)} texts: min cosine {min(cos):.6f} mean {np.mean(cos):.6f} "
          f"texts < 0.999: {sum(c < 0.999 for c in cos)}")
