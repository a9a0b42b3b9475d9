#!/usr/bin/env python3
"""Golden outputs for ModernBERT parity tests, from Hugging Face `transformers` (torch, CPU, FP32).

Random-initialized ModernBertModel (fixed seed) because real ModernBERT weights cannot be fetched
on the project's machines. Writes, into OUT_DIR:
  config.json        old-style Hub config (global_rope_theta / local_rope_theta /
                     global_attn_every_n_layers, like nomic-ai/modernbert-embed-base's)
  model.safetensors  the weights, F32, ModernBertModel names (no "model." prefix)
  goldens.json       inputs (token ids per sequence), versions, shapes
  hidden.f32         last_hidden_state of every sequence run ALONE, concatenated [sum(len), H]
  pooled.f32         mean-pooled then L2-normalized embeddings [n, H] (sentence-transformers'
                     Pooling(mean) + Normalize on the same hidden states)

  scripts/gen_modernbert_goldens.py tiny OUT_DIR   # the CI fixture (committed, < 2 MB)
  scripts/gen_modernbert_goldens.py full OUT_DIR   # modernbert-embed-base shape (large, on demand)
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from safetensors.torch import save_file
from transformers import ModernBertConfig, ModernBertModel


def build(kind):
    if kind == "tiny":
        cfg = dict(vocab_size=512, hidden_size=64, num_hidden_layers=4, num_attention_heads=2,
                   intermediate_size=96, max_position_embeddings=1024, local_attention=16,
                   global_attn_every_n_layers=3, global_rope_theta=160000.0,
                   local_rope_theta=10000.0, norm_eps=1e-5, norm_bias=False,
                   attention_bias=False, mlp_bias=False, hidden_activation="gelu",
                   pad_token_id=0)
        lengths = [1, 63, 64, 65, 127, 128, 129, 300, 1000, 17, 2, 33]
    elif kind == "tiny-bias":
        cfg = dict(vocab_size=512, hidden_size=64, num_hidden_layers=3, num_attention_heads=2,
                   intermediate_size=96, max_position_embeddings=512, local_attention=8,
                   global_attn_every_n_layers=2, global_rope_theta=80000.0,
                   local_rope_theta=5000.0, norm_eps=1e-6, norm_bias=True,
                   attention_bias=True, mlp_bias=True, hidden_activation="gelu",
                   pad_token_id=0)
        lengths = [1, 9, 40, 130]
    elif kind == "full":
        with open(os.path.join(os.path.dirname(__file__), "..", "tests", "data", "assets",
                               "models", "nomic-modernbert-embed-base", "config.json")) as f:
            hub = json.load(f)
        keys = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "max_position_embeddings", "local_attention",
                "global_attn_every_n_layers", "global_rope_theta", "local_rope_theta", "norm_eps",
                "norm_bias", "attention_bias", "mlp_bias", "hidden_activation", "pad_token_id"]
        cfg = {k: hub[k] for k in keys if k in hub}
        lengths = [1, 63, 64, 65, 127, 128, 129, 300, 1000, 2048]
    else:
        raise SystemExit("kind must be tiny, tiny-bias or full")
    return cfg, lengths


def main():
    kind, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    cfg, lengths = build(kind)
    torch.manual_seed(1234)
    config = ModernBertConfig(**cfg)
    model = ModernBertModel(config).eval().float()
    # Larger-than-default random weights so that every sub-layer visibly moves the output.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif "tok_embeddings" in name:
                p.copy_(torch.randn_like(p))
            else:
                p.copy_(0.06 * torch.randn_like(p))
    rng = np.random.default_rng(99)
    seqs = [rng.integers(1, cfg["vocab_size"], size=n).tolist() for n in lengths]

    hidden, pooled = [], []
    with torch.no_grad():
        for ids in seqs:
            x = torch.tensor([ids], dtype=torch.long)
            h = model(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state[0]
            hidden.append(h.numpy().astype(np.float32))
            m = h.mean(dim=0)
            pooled.append((m / m.norm()).numpy().astype(np.float32))
        # A padded batch through transformers too, to prove its masking agrees with the
        # one-by-one reference (the C++ side is compared with the one-by-one outputs).
        maxlen = max(len(s) for s in seqs[:6])
        ids = torch.zeros((6, maxlen), dtype=torch.long)
        mask = torch.zeros((6, maxlen), dtype=torch.long)
        for i, s in enumerate(seqs[:6]):
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, :len(s)] = 1
        hb = model(input_ids=ids, attention_mask=mask).last_hidden_state
        worst = 0.0
        for i, s in enumerate(seqs[:6]):
            worst = max(worst, float((hb[i, :len(s)] - torch.from_numpy(hidden[i])).abs().max()))
        assert worst < 1e-4, f"transformers batch vs single disagree: {worst}"

    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(out, "model.safetensors"))
    hub_cfg = dict(cfg)
    hub_cfg.update(model_type="modernbert", architectures=["ModernBertModel"])
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(hub_cfg, f, indent=2)
    np.concatenate(hidden).tofile(os.path.join(out, "hidden.f32"))
    np.stack(pooled).tofile(os.path.join(out, "pooled.f32"))
    meta = dict(kind=kind, hidden_size=cfg["hidden_size"], lengths=lengths, input_ids=seqs,
                versions=dict(torch=torch.__version__, transformers=transformers.__version__,
                              numpy=np.__version__),
                generator="scripts/gen_modernbert_goldens.py", seed=1234,
                note="last_hidden_state per sequence run alone, FP32 CPU eager/sdpa")
    with open(os.path.join(out, "goldens.json"), "w") as f:
        json.dump(meta, f)
    print(f"wrote {out}: {len(seqs)} sequences, {sum(lengths)} tokens")


if __name__ == "__main__":
    main()
