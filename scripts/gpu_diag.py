#!/usr/bin/env python3
"""Diagnostic for F16 accuracy of ClassicBert on the CUDA driver (scripts/gpu_bench.py helper):
min cosine vs torch FP32 for several workloads and model variants."""
import os, subprocess, sys
import numpy as np, torch
sys.path.insert(0, os.path.dirname(__file__))
import gpu_bench as gb

bench, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

def run(model, d, seqs, tag, pooling="mean"):
    ids = os.path.join(out, tag + ".ids")
    with open(ids, "w") as f:
        for s in seqs: f.write(" ".join(map(str, s)) + "\n")
    groups = gb.batches(seqs, 16384)
    ref = gb.torch_embed(model, seqs, groups, pooling, torch.float32)
    t16 = gb.torch_embed(model, seqs, groups, pooling, torch.float16)
    model.to(torch.float32)
    res = []
    for prec in ["f16", "bf16", "f32"]:
        emb = os.path.join(out, tag + prec + ".emb")
        p = subprocess.run([bench, "--model-dir", d, "--ids", ids, "--out", emb, "--precision", prec,
                            "--pooling", pooling, "--reps", "0"], capture_output=True, text=True)
        e = np.fromfile(emb, dtype=np.float32).reshape(len(seqs), -1)
        c = (e * ref).sum(1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(ref, axis=1))
        res.append(f"{prec} {c.min():.6f}")
    c16 = (t16 * ref).sum(1) / (np.linalg.norm(t16, axis=1) * np.linalg.norm(ref, axis=1))
    print(f"{tag:28s} ours: {', '.join(res)} | torch f16 {c16.min():.6f}", flush=True)

model, d = gb.build_model("minilm-l6", out)
rng = np.random.default_rng(3)
short = [rng.integers(1000, 30000, size=int(n)).tolist() for n in rng.integers(16, 64, 64)]
mid = [rng.integers(1000, 30000, size=int(n)).tolist() for n in rng.integers(200, 300, 64)]
one = [rng.integers(1000, 30000, size=8).tolist()]
run(model, d, short, "minilm short<=64")
run(model, d, mid, "minilm 200-300")
run(model, d, one, "minilm one len 8")
# Variant: 1 layer
import json, transformers
from safetensors.torch import save_file
for variant in ["layers1", "nopos", "notype"]:
    cfg = dict(gb.SHAPES["minilm-l6"]["cfg"])
    if variant == "layers1": cfg["num_hidden_layers"] = 1
    torch.manual_seed(0)
    m = transformers.BertModel(transformers.BertConfig(**cfg), add_pooling_layer=False).eval()
    with torch.no_grad():
        if variant == "nopos": m.embeddings.position_embeddings.weight.zero_()
        if variant == "notype": m.embeddings.token_type_embeddings.weight.zero_()
    vd = os.path.join(out, variant); os.makedirs(vd, exist_ok=True)
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, os.path.join(vd, "model.safetensors"))
    cfg["model_type"] = "bert"
    json.dump(cfg, open(os.path.join(vd, "config.json"), "w"))
    run(m, vd, short, "variant " + variant)
