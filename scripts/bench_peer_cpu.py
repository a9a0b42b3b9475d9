#!/usr/bin/env python3
"""CPU embedding throughput of ripvec beside PyTorch and ONNX Runtime (FP32), same machine, same
run, same corpus, same thread count. Prints a table of tokens/s.

  python3 scripts/bench_peer_cpu.py [--ripvec-bench build/release/bench/embed_bench]
                                    [--model-dir DIR] [--texts 64] [--batch 32] [--seq 256]
                                    [--threads N] [--iters 3]

The corpus is the deterministic one bench/embed_bench.cpp generates (same generator), written
to a JSON file and handed to embed_bench with --corpus, so every engine embeds the same texts;
texts truncate at --seq tokens. Timed: the forward pass plus pooling of pre-tokenized batches of
--batch sequences, best of --iters rounds after one warm-up; each round runs every engine once
(embed_bench in --serve mode), so a busy machine slows all engines alike. ONNX: the same BertModel exported with
torch.onnx (opset 17), run with ORT_ENABLE_ALL, and again after onnxruntime's BERT fusion
optimizer (fused attention / LayerNorm / GELU), the fastest stock ORT CPU configuration.
Needs: torch, transformers, onnx, onnxruntime.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

WORDS = ["the", "function", "returns", "a", "vector", "of", "tokens", "when", "parsing", "config",
         "file", "error", "handling", "thread", "pool", "queue", "request", "server", "client",
         "cache", "index", "search", "embedding", "model", "layer", "hidden", "size", "batch",
         "def", "return", "self.value", "std::vector<int>", "for", "(i = 0; i < n; ++i)", "{", "}",
         "if", "else", "nullptr", "async", "await", "=>", "import", "numpy", "as", "np", "class",
         "struct", "impl", "fn", "main()", "println!", "SELECT", "FROM", "WHERE", "user_id", "=",
         "42;", "memory", "allocation", "is", "slow", "because", "the", "allocator", "locks"]


def generate_corpus(n):
    """Same LCG and word list as generate_corpus() in bench/embed_bench.cpp."""
    mask = (1 << 64) - 1
    s = 0x9E3779B97F4A7C15
    out = []
    for _ in range(n):
        words = []
        for _ in range(400):
            s = (s * 6364136223846793005 + 1442695040888963407) & mask
            words.append(WORDS[(s >> 33) % len(WORDS)])
        out.append(" ".join(words))
    return out


def default_model_dir():
    cache = os.environ.get("HF_HUB_CACHE") or (
        os.path.join(os.environ["HF_HOME"], "hub") if os.environ.get("HF_HOME") else
        os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                     "huggingface", "hub"))
    repo = pathlib.Path(cache) / "models--sentence-transformers--all-MiniLM-L6-v2"
    return repo / "snapshots" / (repo / "refs" / "main").read_text().strip()


def bert_flops(cfg, lens):
    H, I, L = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    return sum(L * (2.0 * S * (4 * H * H + 2 * H * I) + 4.0 * S * S * H) for S in lens)


def print_engine_table(engines, best, tokens, flops, width=52):
    """One row per (key, label, fn) engine: best seconds, tokens/s, GFLOP/s, time vs ripvec."""
    print(f"{'engine':<{width}} {'best s':>8} {'tokens/s':>10} {'GFLOP/s':>8} {'vs ripvec':>9}")
    base = best.get("ripvec")
    for key, label, _ in engines:
        t = best[key]
        rel = f"{t / base:.2f}x" if base else "-"
        print(f"{label:<{width}} {t:8.3f} {tokens / t:10.0f} {flops / t / 1e9:8.1f} {rel:>9}")
    print("('vs ripvec': time relative to ripvec; > 1 means slower than ripvec)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ripvec-bench", default=None, help="path of the built embed_bench")
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--texts", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma list of engines to skip: torch,ort,ort-fused")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    import numpy as np
    import torch
    import transformers
    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    model_dir = pathlib.Path(args.model_dir) if args.model_dir else default_model_dir()
    texts = generate_corpus(args.texts)
    tok = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    enc = [tok(t, truncation=True, max_length=args.seq)["input_ids"] for t in texts]
    lens = [len(e) for e in enc]
    tokens = sum(lens)
    batches = []
    for i in range(0, len(enc), args.batch):
        chunk = enc[i:i + args.batch]
        S = max(len(e) for e in chunk)
        ids = np.zeros((len(chunk), S), dtype=np.int64)
        mask = np.zeros((len(chunk), S), dtype=np.int64)
        for r, e in enumerate(chunk):
            ids[r, :len(e)] = e
            mask[r, :len(e)] = 1
        batches.append((ids, mask, np.zeros_like(ids)))
    model = transformers.AutoModel.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    flops = bert_flops(model.config, lens)

    def pool(hidden, mask):
        m = mask[..., None].astype(np.float32)
        v = (hidden * m).sum(1) / m.sum(1)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    outputs = {}
    engines = []  # (key, label, fn) where fn() runs one timed pass and returns seconds

    def timed(fn):
        def run():
            t0 = time.perf_counter()
            fn()
            return time.perf_counter() - t0
        return run

    if "torch" not in skip:
        def run_torch():
            out = []
            with torch.inference_mode():
                for ids, mask, tt in batches:
                    h = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                              token_type_ids=torch.from_numpy(tt)).last_hidden_state.numpy()
                    out.append(pool(h, mask))
            outputs["torch"] = np.concatenate(out)
        engines.append(("torch", "pytorch " + torch.__version__.split("+")[0] + " (eager fp32)",
                        timed(run_torch)))

    tmp = tempfile.TemporaryDirectory()
    onnx_path = os.path.join(tmp.name, "model.onnx")
    if not {"ort", "ort-fused"} <= skip:
        ids, mask, tt = batches[0]

        class Wrapper(torch.nn.Module):  # positional inputs -> keyword call
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

        with torch.no_grad():
            torch.onnx.export(
                Wrapper(model), (torch.from_numpy(ids), torch.from_numpy(mask),
                                 torch.from_numpy(tt)),
                onnx_path, input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                dynamic_axes={n: {0: "batch", 1: "seq"} for n in
                              ["input_ids", "attention_mask", "token_type_ids",
                               "last_hidden_state"]})

    def ort_engine(key, label, path):
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

        def run():
            out = []
            for ids, mask, tt in batches:
                h = sess.run(None, {"input_ids": ids, "attention_mask": mask,
                                    "token_type_ids": tt})[0]
                out.append(pool(h, mask))
            outputs[key] = np.concatenate(out)
        engines.append((key, label, timed(run)))

    if "ort" not in skip:
        ort_engine("ort", f"onnxruntime {ort.__version__} (fp32, ORT_ENABLE_ALL)", onnx_path)
    if "ort-fused" not in skip:
        from onnxruntime.transformers import optimizer
        fused_path = os.path.join(tmp.name, "model_fused.onnx")
        opt = optimizer.optimize_model(onnx_path, model_type="bert",
                                       num_heads=model.config.num_attention_heads,
                                       hidden_size=model.config.hidden_size, opt_level=1,
                                       use_gpu=False)
        opt.save_model_to_file(fused_path)
        ort_engine("ort-fused", f"onnxruntime {ort.__version__} (fp32, bert fusion optimizer)",
                   fused_path)

    rip = None
    if args.ripvec_bench:
        corpus = os.path.join(tmp.name, "corpus.json")
        with open(corpus, "w") as f:
            json.dump(texts, f)
        env = dict(os.environ, RIPVEC_THREADS=str(args.threads), HF_HUB_OFFLINE="1")
        proc = subprocess.Popen([args.ripvec_bench, "--model", str(model_dir), "--corpus", corpus,
                                 "--batch", str(args.batch), "--seq", str(args.seq), "--serve"],
                                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

        def ask(cmd):
            proc.stdin.write(cmd + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            if not line:
                sys.exit(f"embed_bench exited ({proc.wait()})")
            return json.loads(line)

        hello = proc.stdout.readline()
        if not hello:
            sys.exit(f"embed_bench failed ({proc.wait()})")
        rip = json.loads(hello)
        if rip["tokens"] != tokens:
            print(f"WARNING: token counts differ (ripvec {rip['tokens']}, HF {tokens})",
                  file=sys.stderr)
        engines.insert(0, ("ripvec", f"ripvec (cpu, {rip['isa']})",
                           lambda: ask("model")["model_s"]))

    # Warm-up, then rounds that run every engine once each, so that a machine whose load varies
    # slows all engines alike; best of the rounds.
    for key, label, fn in engines:
        if key != "ripvec":  # embed_bench warms up before serving
            fn()
    best = {key: float("inf") for key, _, _ in engines}
    for r in range(args.iters):
        for key, label, fn in engines:
            best[key] = min(best[key], fn())
    if rip:
        rip["e2e_s"] = min(ask("e2e")["e2e_s"] for _ in range(args.iters))
        rip["sgemm_ceiling_gflops"] = ask("ceiling")["sgemm_ceiling_gflops"]
        proc.stdin.write("quit\n")
        proc.stdin.close()
        proc.wait()
    tmp.cleanup()

    # The peers must agree with each other (a broken export would be a meaningless row).
    ref = outputs.get("torch")
    for k, v in outputs.items():
        if ref is not None and k != "torch":
            cos = (v * ref).sum(1).min()
            if cos < 0.9999:
                print(f"WARNING: {k} disagrees with torch (min cosine {cos:.6f})", file=sys.stderr)

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"\nmodel {model_dir.name if args.model_dir else 'all-MiniLM-L6-v2'}: {len(texts)} texts, "
          f"{tokens} tokens (<= {args.seq} per text), batch {args.batch}, {args.threads} threads, "
          f"{flops / 1e9:.1f} GFLOP per pass, best of {args.iters} interleaved rounds, "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    print_engine_table(engines, best, tokens, flops)
    if rip:
        g = flops / best["ripvec"] / 1e9
        print(f"ripvec end-to-end (tokenization included): {tokens / rip['e2e_s']:.0f} tokens/s")
        print(f"ripvec forward {g:.1f} GFLOP/s = {100 * g / rip['sgemm_ceiling_gflops']:.0f}% of "
              f"the sgemm ceiling ({rip['sgemm_ceiling_gflops']:.1f} GFLOP/s: best of the "
              f"driver's gemm on the model's linear shapes, m={args.batch * args.seq})")


if __name__ == "__main__":
    main()
