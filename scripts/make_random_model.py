#!/usr/bin/env python3
"""Writes a random-initialised embedding model in sentence-transformers layout, for benchmarks
where only the shape matters (the device machine cannot download real weights).

  make_random_model.py {bge-small|modernbert-embed} OUT_DIR

The config.json and tokenizer.json are the real ones committed under tests/data/assets (see its
README for provenance): bge-small-en-v1.5 (BERT, 12 layers x 384, CLS pooling, normalised, 512
tokens) and nomic-ai/modernbert-embed-base (ModernBERT, 22 layers x 768, mean pooling,
normalised, 8192 tokens, prompts "search_query: " / "search_document: "), as their model cards
ship them. Weights come from transformers' own initialisation with a fixed seed (torch 0).
"""
import json
import os
import shutil
import sys

import torch
import transformers
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.join(HERE, "..", "tests", "data", "assets")

MODELS = {
    "bge-small": dict(config="models/bge-small-en-v1.5/config.json",
                      tokenizer="tokenizers/bge-small-en-v1.5/tokenizer.json",
                      pooling="cls", max_seq_length=512, prompts={}),
    "modernbert-embed": dict(config="models/nomic-modernbert-embed-base/config.json",
                             tokenizer="tokenizers/modernbert-base/tokenizer.json",
                             pooling="mean", max_seq_length=8192,
                             prompts={"query": "search_query: ", "document": "search_document: "}),
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in MODELS:
        sys.exit(__doc__)
    spec, out = MODELS[sys.argv[1]], sys.argv[2]
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    cfg_path = os.path.join(ASSETS, spec["config"])
    config = transformers.AutoConfig.from_pretrained(cfg_path)
    torch.manual_seed(0)
    model = transformers.AutoModel.from_config(config).eval()
    state = {k: v.contiguous() for k, v in model.state_dict().items() if "pooler" not in k}
    save_file(state, os.path.join(out, "model.safetensors"))
    shutil.copy(cfg_path, os.path.join(out, "config.json"))
    shutil.copy(os.path.join(ASSETS, spec["tokenizer"]), os.path.join(out, "tokenizer.json"))
    dim = config.hidden_size
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ]
    files = {
        "modules.json": modules,
        "sentence_bert_config.json": {"max_seq_length": spec["max_seq_length"],
                                      "do_lower_case": False},
        "config_sentence_transformers.json": {"prompts": spec["prompts"],
                                              "default_prompt_name": None},
        "1_Pooling/config.json": {"word_embedding_dimension": dim,
                                  "pooling_mode_cls_token": spec["pooling"] == "cls",
                                  "pooling_mode_mean_tokens": spec["pooling"] == "mean",
                                  "pooling_mode_max_tokens": False,
                                  "pooling_mode_mean_sqrt_len_tokens": False},
    }
    for name, obj in files.items():
        with open(os.path.join(out, name), "w") as f:
            json.dump(obj, f, indent=1)
    print(f"{sys.argv[1]}: {sum(v.numel() for v in state.values()):,} parameters -> {out} "
          f"(torch {torch.__version__}, transformers {transformers.__version__})")


if __name__ == "__main__":
    main()
