#!/usr/bin/env python3
"""GPU parity and speed: ripvec's CUDA driver beside PyTorch (transformers) on the same card.

Runs on the device machine (scripts/device_run.sh calls it). For each model shape it
  1. builds a random-initialized model with transformers (fixed seed) and saves it in HF layout,
  2. draws a workload of token-id sequences (lengths ~ N(256, 64) clipped to [16, 512], the
     ModernBERT paper's "short variable" case, or fixed 4096-token documents),
  3. times PyTorch FP16 (SDPA, or FlashAttention-2 when installed) over the same batches,
  4. runs bench/gpu_embed_bench (our engine) on the same ids, which writes its embeddings,
  5. compares embeddings per text (cosine) against PyTorch FP32 and prints one table.

Usage: gpu_bench.py BENCH_BINARY OUT_DIR [--quick]
"""
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import transformers
from safetensors.torch import save_file

SHAPES = {
    "bge-small": dict(kind="bert", cfg=dict(
        vocab_size=30522, hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=1536, max_position_embeddings=512, type_vocab_size=2,
        hidden_act="gelu", layer_norm_eps=1e-12), pooling="cls"),
    "minilm-l6": dict(kind="bert", cfg=dict(
        vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
        intermediate_size=1536, max_position_embeddings=512, type_vocab_size=2,
        hidden_act="gelu", layer_norm_eps=1e-12), pooling="mean"),
    "modernbert-embed-base": dict(kind="modernbert", cfg=dict(
        vocab_size=50368, hidden_size=768, num_hidden_layers=22, num_attention_heads=12,
        intermediate_size=1152, max_position_embeddings=8192, local_attention=128,
        global_attn_every_n_layers=3, global_rope_theta=160000.0, local_rope_theta=10000.0,
        norm_eps=1e-5, norm_bias=False, attention_bias=False, mlp_bias=False,
        hidden_activation="gelu", pad_token_id=50283), pooling="mean"),
}


def build_model(name, out_dir):
    spec = SHAPES[name]
    torch.manual_seed(0)
    if spec["kind"] == "bert":
        config = transformers.BertConfig(**spec["cfg"])
        model = transformers.BertModel(config, add_pooling_layer=False)
    else:
        config = transformers.ModernBertConfig(**spec["cfg"])
        model = transformers.ModernBertModel(config)
    model = model.eval()
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              os.path.join(d, "model.safetensors"))
    cfg = dict(spec["cfg"])
    cfg["model_type"] = spec["kind"]
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    return model, d


def workload(kind, n, vocab, seed=7):
    rng = np.random.default_rng(seed)
    if kind == "short":
        lens = np.clip(np.round(rng.normal(256, 64, size=n)), 16, 512).astype(int)
    else:
        lens = np.full(n, kind, dtype=int)
    return [rng.integers(1000, vocab - 10, size=int(L)).tolist() for L in lens]


def batches(seqs, budget):
    """Length-sorted batches under a token budget (the same policy as ripvec's pipeline)."""
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    out, cur, tok = [], [], 0
    for i in order:
        if cur and tok + len(seqs[i]) > budget:
            out.append(cur)
            cur, tok = [], 0
        cur.append(i)
        tok += len(seqs[i])
    if cur:
        out.append(cur)
    return out


def torch_embed(model, seqs, groups, pooling, dtype, device="cuda"):
    model = model.to(device=device, dtype=dtype)
    res = [None] * len(seqs)
    with torch.inference_mode():
        for g in groups:
            L = max(len(seqs[i]) for i in g)
            ids = torch.zeros((len(g), L), dtype=torch.long)
            mask = torch.zeros((len(g), L), dtype=torch.long)
            for r, i in enumerate(g):
                ids[r, :len(seqs[i])] = torch.tensor(seqs[i])
                mask[r, :len(seqs[i])] = 1
            ids, mask = ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)
            h = model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
            if pooling == "cls":
                e = h[:, 0]
            else:
                m = mask.unsqueeze(-1).float()
                e = (h * m).sum(1) / m.sum(1)
            e = torch.nn.functional.normalize(e, dim=-1)
            for r, i in enumerate(g):
                res[i] = e[r]
    torch.cuda.synchronize()
    if any(r is None for r in res):  # a warm-up over some of the groups
        return None
    return torch.stack(res).cpu().numpy()


def time_torch(model, seqs, groups, pooling, dtype, reps=3):
    torch_embed(model, seqs, groups[:2], pooling, dtype)  # warm-up
    best = math.inf
    for _ in range(reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        torch_embed(model, seqs, groups, pooling, dtype)
        best = min(best, time.perf_counter() - t0)
    return best


def flops(spec, seqs):
    c = spec["cfg"]
    H, I, nl = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    total = 0.0
    for s in seqs:
        L = len(s)
        for layer in range(nl):
            if spec["kind"] == "bert":
                lin = 2 * L * (3 * H * H + H * H + 2 * H * I)
                keys = L
            else:
                lin = 2 * L * (3 * H * H + H * H + 2 * H * I + H * I)
                glob = layer % c["global_attn_every_n_layers"] == 0
                keys = L if glob else min(L, c["local_attention"] + 1)
            total += lin + 4 * L * keys * H
    return total


def bf16_peak():
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    return 10 * 2 * 8192 ** 3 / (time.perf_counter() - t0)


def main():
    bench, out_dir = sys.argv[1], sys.argv[2]
    quick = "--quick" in sys.argv
    os.makedirs(out_dir, exist_ok=True)
    attn = "sdpa"
    try:
        import flash_attn  # noqa: F401
        attn = "flash_attention_2"
    except ImportError:
        pass
    peak = bf16_peak()
    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}, transformers "
          f"{transformers.__version__}; peer attention: {attn}; dense bf16 peak measured "
          f"{peak / 1e12:.0f} TFLOP/s", flush=True)
    rows = []
    cases = [("minilm-l6", "short"), ("bge-small", "short"), ("modernbert-embed-base", "short"),
             ("modernbert-embed-base", 4096)]
    if quick:
        cases = cases[:1] + cases[2:3]
    for name, kind in cases:
        spec = SHAPES[name]
        model, mdir = build_model(name, out_dir)
        n = 2048 if kind == "short" else 64
        if quick:
            n //= 4
        seqs = workload(kind, n, spec["cfg"]["vocab_size"])
        budget = 16384 if kind == "short" else 32768
        groups = batches(seqs, budget)
        ids_path = os.path.join(out_dir, f"{name}-{kind}.ids")
        with open(ids_path, "w") as f:
            for s in seqs:
                f.write(" ".join(map(str, s)) + "\n")
        ref32 = torch_embed(model, seqs, groups, spec["pooling"], torch.float32)
        if attn != "sdpa":
            try:
                model.set_attn_implementation(attn)
            except Exception as e:  # keep SDPA, and say so
                print(f"peer: could not switch to {attn}: {e}", flush=True)
        t_torch = time_torch(model, seqs, groups, spec["pooling"], torch.float16)
        torch.cuda.reset_peak_memory_stats()
        emb_t16 = torch_embed(model, seqs, groups, spec["pooling"], torch.float16)
        torch_mem = torch.cuda.max_memory_allocated()
        cos_t16 = (emb_t16 * ref32).sum(1) / (np.linalg.norm(emb_t16, axis=1) *
                                              np.linalg.norm(ref32, axis=1))
        model.to("cpu")
        del model
        torch.cuda.empty_cache()
        ntok = sum(len(s) for s in seqs)
        res = {}
        for prec in ["f16", "f32"]:
            emb_path = os.path.join(out_dir, f"{name}-{kind}-{prec}.emb")
            cmd = [bench, "--model-dir", mdir, "--ids", ids_path, "--out", emb_path,
                   "--precision", prec, "--pooling", spec["pooling"], "--max-batch-tokens",
                   str(budget), "--reps", "3" if prec == "f16" else "1"]
            # Timed without the per-op profiler (its events cost launches of their own); the
            # profile comes from one extra untimed pass below.
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                print(p.stdout, p.stderr, flush=True)
                raise SystemExit(f"bench failed for {name} {prec}")
            info = json.loads(p.stdout.strip().splitlines()[-1])
            emb = np.fromfile(emb_path, dtype=np.float32).reshape(len(seqs), -1)
            cos = (emb * ref32).sum(1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(ref32, axis=1))
            res[prec] = (info, float(cos.min()))
            if prec == "f16":
                env = dict(os.environ, RIPVEC_CUDA_PROFILE="1")
                pp = subprocess.run(cmd[:-1] + ["0"], capture_output=True, text=True, env=env)
                print(pp.stderr, flush=True)
            if prec == "f16" and os.environ.get("RIPVEC_BENCH_DIAG"):
                env2 = dict(os.environ, RIPVEC_CUDA_ATTN="generic")
                p2 = subprocess.run(cmd[:-1] + ["0"], capture_output=True, text=True, env=env2)
                e2 = np.fromfile(emb_path, dtype=np.float32).reshape(len(seqs), -1)
                c2 = (e2 * ref32).sum(1) / (np.linalg.norm(e2, axis=1) * np.linalg.norm(ref32, axis=1))
                print(f"  diag {name}: f16 with generic attention min cos {c2.min():.6f} "
                      f"(rc {p2.returncode})", flush=True)
            worst = np.argsort(cos)[:4]
            print(f"  {name} {kind} {prec}: worst cos " + ", ".join(
                f"{cos[i]:.6f} (len {len(seqs[i])}, torch fp16 {cos_t16[i]:.6f})" for i in worst),
                flush=True)
        info16, cos16 = res["f16"]
        info32, cos32 = res["f32"]
        fl = flops(spec, seqs)
        ours_tps = ntok / info16["seconds"]
        torch_tps = ntok / t_torch
        row = dict(model=name, workload=str(kind), texts=len(seqs), tokens=ntok,
                   ours_tok_s=ours_tps, torch_tok_s=torch_tps, ratio=ours_tps / torch_tps,
                   mfu=fl / info16["seconds"] / peak, ours_peak_mib=info16["peak_bytes"] / 2**20,
                   torch_peak_mib=torch_mem / 2**20, min_cos_f16=cos16, min_cos_f32=cos32,
                   torch_fp16_min_cos=float(cos_t16.min()),
                   layer_times=info16.get("layer_ms"))
        rows.append(row)
        print(json.dumps(row), flush=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print("\n| model | workload | texts | tokens | ripvec tok/s | torch fp16 tok/s | ratio | MFU | "
          "peak MiB (ours/torch) | min cos f16 | min cos f32 | torch fp16 min cos |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['workload']} | {r['texts']} | {r['tokens']} | "
              f"{r['ours_tok_s']:,.0f} | {r['torch_tok_s']:,.0f} | {r['ratio']:.2f}x | "
              f"{100 * r['mfu']:.1f}% | {r['ours_peak_mib']:.0f}/{r['torch_peak_mib']:.0f} | "
              f"{r['min_cos_f16']:.6f} | {r['min_cos_f32']:.7f} | {r['torch_fp16_min_cos']:.6f} |")


if __name__ == "__main__":
    main()
