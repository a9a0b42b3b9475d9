#!/usr/bin/env python3
"""Generates the reference fixtures for the model-loading tests (tests/data/model/).

Everything here is produced by the reference Python stack (safetensors + torch), not by ripvec,
so the C++ reader is checked against an independent implementation:

  ref_mixed.safetensors           written by safetensors.torch.save_file: F32, F16 (all 65536 bit
                                  patterns: subnormals, +-inf, NaNs), BF16, an empty tensor, a
                                  scalar and an I64 buffer (like BERT's position_ids).
  ref_mixed.expected.safetensors  torch's float32 conversion (.float()) of every F32/F16/BF16
                                  tensor above, same names.
  st6_minilm/                     the JSON files sentence-transformers (version below) writes when
                                  it saves all-MiniLM-L6-v2 with query/document prompts (new-style
                                  modules.json class paths, "pooling_mode", no max_seq_length in
                                  sentence_bert_config.json); weights and tokenizer left out.
  tf5_modernbert_config.json      ModernBERT-base's config.json re-saved by transformers (version
                                  below): layer_types + rope_parameters instead of the legacy keys.
  configs/                        config.json variants (minimal = required fields only) and
                                  configs/expected.json: the value transformers (version below)
                                  resolves for every field ripvec reads, defaults included.
  minilm_tensors.json             for the real sentence-transformers/all-MiniLM-L6-v2
                                  model.safetensors (if installed, see
                                  scripts/install_default_model.sh): every tensor's dtype, shape,
                                  first 4 values and float64 sum, as read by safetensors.

Usage: python3 scripts/gen_model_fixtures.py [MODEL_DIR]
"""
import json
import os
import sys

import shutil
import tempfile

import numpy
import safetensors
import sentence_transformers
import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "model")
VERSIONS = {
    "python": sys.version.split()[0],
    "safetensors": safetensors.__version__,
    "torch": torch.__version__,
    "numpy": numpy.__version__,
    "transformers": transformers.__version__,
    "sentence_transformers": sentence_transformers.__version__,
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


def st6_layout(model_dir):
    from sentence_transformers import SentenceTransformer
    m = SentenceTransformer(model_dir, device="cpu",
                            prompts={"query": "search_query: ", "document": "search_document: "})
    dest = os.path.join(OUT, "st6_minilm")
    shutil.rmtree(dest, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        m.save(tmp)
        for rel in ["config.json", "modules.json", "config_sentence_transformers.json",
                    "sentence_bert_config.json", "tokenizer_config.json", "1_Pooling/config.json",
                    "2_Normalize/config.json"]:
            src = os.path.join(tmp, rel)
            if os.path.exists(src):
                os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
                shutil.copyfile(src, os.path.join(dest, rel))


def tf5_modernbert():
    src = os.path.join(ROOT, "tests", "data", "assets", "models", "modernbert-base")
    if not os.path.exists(os.path.join(src, "config.json")):
        print("ModernBERT-base config absent (tests/data/assets); tf5_modernbert_config.json not regenerated",
              file=sys.stderr)
        return
    cfg = transformers.ModernBertConfig.from_pretrained(src)
    with tempfile.TemporaryDirectory() as tmp:
        cfg.save_pretrained(tmp)
        shutil.copyfile(os.path.join(tmp, "config.json"),
                        os.path.join(OUT, "tf5_modernbert_config.json"))


BERT_FIELDS = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
               "intermediate_size", "hidden_act", "max_position_embeddings", "type_vocab_size",
               "layer_norm_eps", "pad_token_id", "position_embedding_type"]
MODERNBERT_FIELDS = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "hidden_activation", "max_position_embeddings",
                     "norm_eps", "norm_bias", "attention_bias", "mlp_bias", "local_attention",
                     "pad_token_id"]


def configs():
    dest = os.path.join(OUT, "configs")
    os.makedirs(dest, exist_ok=True)
    required = {"vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2,
                "num_attention_heads": 4, "intermediate_size": 128}
    with open(os.path.join(dest, "minimal_bert.json"), "w") as fh:
        json.dump({"model_type": "bert", **required}, fh, indent=2)
    with open(os.path.join(dest, "minimal_modernbert.json"), "w") as fh:
        json.dump({"model_type": "modernbert", **required, "num_hidden_layers": 7}, fh, indent=2)
    # transformers >= 5 keys override the legacy ones: rope_parameters beats *_rope_theta, and
    # layer_types (here one global layer every 2) stands without global_attn_every_n_layers.
    with open(os.path.join(dest, "tf5_custom_modernbert.json"), "w") as fh:
        json.dump({"model_type": "modernbert", **required, "num_hidden_layers": 5,
                   "global_rope_theta": 1.0, "local_rope_theta": 2.0,
                   "rope_parameters": {
                       "full_attention": {"rope_type": "default", "rope_theta": 80000.0},
                       "sliding_attention": {"rope_type": "default", "rope_theta": 20000.0}},
                   "layer_types": ["full_attention", "sliding_attention", "full_attention",
                                   "sliding_attention", "full_attention"],
                   "local_attention": 64, "norm_bias": True, "attention_bias": True,
                   "mlp_bias": True, "hidden_activation": "gelu_pytorch_tanh",
                   "norm_eps": 1e-6, "max_position_embeddings": 1024, "pad_token_id": 3},
                  fh, indent=2)
    assets = os.path.join(ROOT, "tests", "data", "assets", "models")
    sources = {
        "minimal_bert": os.path.join(dest, "minimal_bert.json"),
        "minimal_modernbert": os.path.join(dest, "minimal_modernbert.json"),
        "tf5_custom_modernbert": os.path.join(dest, "tf5_custom_modernbert.json"),
        "tf5_modernbert": os.path.join(OUT, "tf5_modernbert_config.json"),
        "st6_minilm": os.path.join(OUT, "st6_minilm", "config.json"),
        "bge-small-en-v1.5": os.path.join(assets, "bge-small-en-v1.5", "config.json"),
        "modernbert-base": os.path.join(assets, "modernbert-base", "config.json"),
        "nomic-modernbert-embed-base": os.path.join(assets, "nomic-modernbert-embed-base",
                                                    "config.json"),
    }
    expected = {"versions": VERSIONS, "configs": {}}
    for name, path in sources.items():
        if not os.path.exists(path):
            continue
        with open(path) as fh:
            raw = json.load(fh)
        if raw["model_type"] == "bert":
            c = transformers.BertConfig.from_dict(raw)
            e = {k: getattr(c, k, None) for k in BERT_FIELDS}
            # transformers 5 dropped position_embedding_type (BERT is absolute-only there); it is
            # kept only when the file sets it, so an absent value means "absolute".
            if e["position_embedding_type"] is None:
                e["position_embedding_type"] = "absolute"
        else:
            c = transformers.ModernBertConfig.from_dict(raw)
            e = {k: getattr(c, k) for k in MODERNBERT_FIELDS}
            e["global_rope_theta"] = c.rope_parameters["full_attention"]["rope_theta"]
            e["local_rope_theta"] = c.rope_parameters["sliding_attention"]["rope_theta"]
            e["global_layers"] = [i for i, t in enumerate(c.layer_types) if t == "full_attention"]
        e["model_type"] = raw["model_type"]
        expected["configs"][name] = {"file": os.path.relpath(path, ROOT), **e}
    with open(os.path.join(dest, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1, sort_keys=True)
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
    tf5_modernbert()
    d = sys.argv[1] if len(sys.argv) > 1 else default_model_dir()
    if d and os.path.exists(os.path.join(d, "model.safetensors")):
        minilm(d)
        st6_layout(d)
    else:
        print("default model not installed; minilm_tensors.json not regenerated", file=sys.stderr)
    configs()
    print("wrote fixtures to", OUT, "with", VERSIONS, file=sys.stderr)
