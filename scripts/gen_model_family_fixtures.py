#!/usr/bin/env python3
"""Random-initialised fixtures for the pooling layouts of the code-search models README.md lists
(issue 12, item 6), made by transformers (torch, CPU, FP32) with HF tokenizers for the ids:

  tests/data/model/families/bert_mean_norm/      BertModel + mean pooling + Normalize: the layout
                                                 of intfloat/e5-*-v2 and thenlper/gte-*
  tests/data/model/families/modernbert_cls_norm/ ModernBertModel + CLS pooling + Normalize: the
                                                 layout of ibm-granite/granite-embedding-*-r2
Each directory holds config.json (written by transformers' save_pretrained, so every key that
version writes), model.safetensors, the 512-token WordPiece tokenizer.json of
tests/data/bert/tiny_bge_cls, the sentence-transformers files, and goldens.json: texts and the
pooled, normalised embeddings of transformers' forward pass of each text alone.
Shrunk (hidden 64, 2-3 layers, 512-token vocab) to stay small; the real models' configs could
not be fetched (the Hub is unreachable), so the sizes are not theirs, the layouts are.

Usage: python3 scripts/gen_model_family_fixtures.py   (from the repository root)
"""
import json
import pathlib
import shutil

import tokenizers
import torch
import transformers
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "model" / "families"
TOKENIZER = ROOT / "tests" / "data" / "bert" / "tiny_bge_cls" / "tokenizer.json"
TEXTS = ["", "a", "def parse_config(path): return json.load(open(path))",
         "How do I reverse a linked list in place?", "retry with exponential backoff " * 12,
         "Größenänderung fehlgeschlagen", "SELECT id FROM users WHERE name = ?"]


def write_st(d, pooling, max_seq):
    (d / "1_Pooling").mkdir(parents=True, exist_ok=True)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    (d / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    (d / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 64, "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False}, indent=2) + "\n")
    (d / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq, "do_lower_case": False}, indent=2) + "\n")


def randomize_(model, std):
    """Weights far from transformers' small init, so that attention and MLPs matter."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n and n.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(std * torch.randn_like(p))


def make(name, model, pooling, max_seq):
    d = OUT / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    model.eval()
    model.config.save_pretrained(d)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, d / "model.safetensors")
    shutil.copy(TOKENIZER, d / "tokenizer.json")
    write_st(d, pooling, max_seq)
    tok = tokenizers.Tokenizer.from_file(str(TOKENIZER))
    tok.enable_truncation(max_seq)  # as sentence-transformers truncates: specials kept
    rows = []
    for t in TEXTS:
        ids = tok.encode(t).ids
        with torch.no_grad():
            h = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
        v = h[0] if pooling == "cls" else h.mean(0)
        v = torch.nn.functional.normalize(v, dim=0)
        rows.append({"text": t, "ids": ids, "embedding": [float(x) for x in v]})
    meta = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "tokenizers": tokenizers.__version__},
            "pooling": pooling, "normalize": True, "rows": rows}
    (d / "goldens.json").write_text(json.dumps(meta) + "\n")


def main():
    torch.manual_seed(1234)
    bert = transformers.BertModel(transformers.BertConfig(
        vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=128, max_position_embeddings=128, hidden_act="gelu",
        layer_norm_eps=1e-12), add_pooling_layer=False)
    randomize_(bert, 0.15)
    make("bert_mean_norm", bert, "mean", 64)
    torch.manual_seed(5678)
    mb = transformers.ModernBertModel(transformers.ModernBertConfig(
        vocab_size=512, hidden_size=64, num_hidden_layers=3, num_attention_heads=2,
        intermediate_size=96, max_position_embeddings=512, local_attention=16,
        global_attn_every_n_layers=3, global_rope_theta=80000.0, local_rope_theta=10000.0,
        pad_token_id=0, cls_token_id=2, sep_token_id=3, bos_token_id=2, eos_token_id=3))
    randomize_(mb, 0.15)
    make("modernbert_cls_norm", mb, "cls", 64)


if __name__ == "__main__":
    main()
