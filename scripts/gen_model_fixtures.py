#!/usr/bin/env python3
"""Generates the reference fixtures for the model-loading tests (tests/data/model/).

Everything here is produced by the reference Python stack (safetensors + torch), not by ripvec,
so the C++ reader is checked against an independent implementation:

  ref_mixed.safetensors           written by safetensors.torch.save_file: F32, F16 (all 65536 bit
                                  patterns: subnormals, +-inf, NaNs), BF16, an empty tensor, a
                                  scalar and an I64 buffer (like BERT's position_ids).
  ref_mixed.expected.safetensors  torch's float32 conversion (.float()) of every F32/F16/BF16
                                  tensor above, same names.
  minilm_tensors.json             for the real sentence-transformers/all-MiniLM-L6-v2
                                  model.safetensors (if installed, see
                                  scripts/install_default_model.sh): every tensor's dtype, shape,
                                  first 4 values and float64 sum, as read by safetensors.

Usage: python3 scripts/gen_model_fixtures.py [MODEL_DIR]
"""
import json
import os
import sys

import numpy
import safetensors
import torch
from safetensors import safe_open
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "model")
VERSIONS = {
    "python": sys.version.split()[0],
    "safetensors": safetensors.__version__,
    "torch": torch.__version__,
    "numpy": numpy.__version__,
}


def mixed():
    g = torch.Generator().manual_seed(1234)
    all_halves = torch.arange(0, 65536, dtype=torch.int32).to(torch.int16).view(torch.float16)
    bf_bits = torch.cat([
        torch.tensor([0x0000, 0x8000, 0x3F80, 0xBF80, 0x7F80, 0xFF80, 0x7FC0, 0x0001, 0x807F,
                      0x7F7F, 0x0080], dtype=torch.int32),
        torch.randint(0, 65536, (1013,), generator=g, dtype=torch.int32),
    ]).to(torch.int16).view(torch.bfloat16)
    tensors = {
        "f32.matrix": torch.randn(3, 4, generator=g, dtype=torch.float32),
        "f16.all_bit_patterns": all_halves.clone(),
        "bf16.samples": bf_bits.reshape(4, 256).clone(),
        "f32.empty": torch.zeros(0, 3, dtype=torch.float32),
        "f16.scalar": torch.tensor(1.5, dtype=torch.float16),
        "embeddings.position_ids": torch.arange(8, dtype=torch.int64).reshape(1, 8),
    }
    save_file(tensors, os.path.join(OUT, "ref_mixed.safetensors"),
              metadata={"format": "pt", "generator": "scripts/gen_model_fixtures.py"})
    expected = {k: v.float().contiguous() for k, v in tensors.items() if v.dtype != torch.int64}
    save_file(expected, os.path.join(OUT, "ref_mixed.expected.safetensors"),
              metadata={"versions": json.dumps(VERSIONS, sort_keys=True)})


def minilm(model_dir):
    path = os.path.join(model_dir, "model.safetensors")
    out = {"versions": VERSIONS, "file_bytes": os.path.getsize(path), "tensors": {}}
    with safe_open(path, "pt") as f:
        out["metadata"] = f.metadata()
        for name in f.keys():
            t = f.get_tensor(name)
            flat = t.reshape(-1)
            out["tensors"][name] = {
                "dtype": str(t.dtype).replace("torch.", ""),
                "shape": list(t.shape),
                "first": [float(x) if t.is_floating_point() else int(x) for x in flat[:4]],
                "sum": float(t.double().sum()),
            }
    with open(os.path.join(OUT, "minilm_tensors.json"), "w") as fh:
        json.dump(out, fh, indent=1, sort_keys=True)
        fh.write("\n")


def default_model_dir():
    cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"),
        "hub")
    repo = os.path.join(cache, "models--sentence-transformers--all-MiniLM-L6-v2")
    try:
        with open(os.path.join(repo, "refs", "main")) as fh:
            return os.path.join(repo, "snapshots", fh.read().strip())
    except OSError:
        return None


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    mixed()
    d = sys.argv[1] if len(sys.argv) > 1 else default_model_dir()
    if d and os.path.exists(os.path.join(d, "model.safetensors")):
        minilm(d)
    else:
        print("default model not installed; minilm_tensors.json not regenerated", file=sys.stderr)
    print("wrote fixtures to", OUT, "with", VERSIONS, file=sys.stderr)
