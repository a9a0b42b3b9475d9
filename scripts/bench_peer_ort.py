#!/usr/bin/env python3
"""CPU embedding throughput of ripvec beside ONNX Runtime (FP32 stock, FP32 with ORT's BERT
fusion optimizer, and INT8 from ORT's quantize_dynamic), same machine, same run, same corpus,
same thread count. Needs no PyTorch: the ONNX graph of the BERT encoder is built directly from
the model's safetensors with onnx.helper (the same graph torch.onnx exports for BertModel:
Gather embeddings, LayerNormalization, MatMul+Add projections, Softmax attention with an
additive mask, erf GELU) and checked against a reference before anything is timed:
sentence-transformers goldens (--goldens tests/data/bert/minilm_goldens.json, real MiniLM
weights) or, where PyTorch is installed, transformers' BertModel on the same weights.

  python3 scripts/bench_peer_ort.py --ripvec-bench build/release/bench/embed_bench \\
      [--model-dir DIR] [--goldens tests/data/bert/minilm_goldens.json] [--threads 2] \\
      [--texts 64] [--batch 32] [--seq 256] [--iters 3] [--skip ort,ort-fused,ort-int8] \\
      [--ripvec-env RIPVEC_CPU_GEMM_MC=8 ...] [--label NAME]

--model-dir: a Hugging Face model folder (config.json, tokenizer.json, model.safetensors);
default: the all-MiniLM-L6-v2 snapshot in the HF cache. The corpus is embed_bench's generator
(scripts/bench_peer_cpu.py's copy of it). Timed: forward + mean pooling of pre-tokenized batches
of --batch sequences, best of --iters interleaved rounds after a warm-up (every engine runs once
per round, so a busy machine slows all alike). Prints a table and one JSON line per engine.
"""
import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_peer_cpu import (bert_flops, default_model_dir, generate_corpus,  # noqa: E402
                            print_engine_table)


class Cfg:
    def __init__(self, d):
        self.hidden_size = d["hidden_size"]
        self.intermediate_size = d["intermediate_size"]
        self.num_hidden_layers = d["num_hidden_layers"]
        self.num_attention_heads = d["num_attention_heads"]
        self.layer_norm_eps = d.get("layer_norm_eps", 1e-12)


def load_weights(model_dir):
    from safetensors.numpy import load_file
    w = load_file(str(pathlib.Path(model_dir) / "model.safetensors"))
    # Some checkpoints prefix every name with "bert." (BertForX); the encoder is the same.
    return {k[5:] if k.startswith("bert.") else k: v.astype(np.float32) if v.dtype != np.int64
            else v for k, v in w.items()}


def build_onnx(cfg, w, path):
    """BertModel's last_hidden_state as an ONNX graph (opset 17) with w's values."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    H, nh = cfg.hidden_size, cfg.num_attention_heads
    hd = H // nh
    nodes, inits = [], []
    count = [0]

    names = set()

    def init(name, arr):
        if name not in names:  # shared constants are created once
            names.add(name)
            inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, ins, **attrs):
        count[0] += 1
        out = f"{op.lower()}_{count[0]}"
        nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    def linear(x, prefix):
        return node("Add", [node("MatMul", [x, init(prefix + ".weight_t",
                                                      w[prefix + ".weight"].T)]),
                            init(prefix + ".bias", w[prefix + ".bias"])])

    def layer_norm(x, prefix):
        return node("LayerNormalization", [x, init(prefix + ".weight", w[prefix + ".weight"]),
                                           init(prefix + ".bias", w[prefix + ".bias"])],
                    axis=-1, epsilon=cfg.layer_norm_eps)

    e = "embeddings"
    word = node("Gather", [init(e + ".word", w[e + ".word_embeddings.weight"]), "input_ids"])
    seq_len = node("Shape", ["input_ids"], start=1, end=2)  # [S], 1-D
    pos = node("Slice", [init(e + ".pos", w[e + ".position_embeddings.weight"]),
                         init("zero_1d", np.array([0], np.int64)), seq_len,
                         init("axis0", np.array([0], np.int64))])  # rows 0..S-1
    typ = node("Gather", [init(e + ".type", w[e + ".token_type_embeddings.weight"]),
                          "token_type_ids"])
    x = layer_norm(node("Add", [node("Add", [word, pos]), typ]), e + ".LayerNorm")
    # [B, 1, 1, S] additive mask, in the node order ORT's attention fusion recognises.
    u = node("Unsqueeze", [node("Unsqueeze", ["attention_mask", init("ax1", np.array([1]))]),
                           init("ax2", np.array([2]))])
    maskf = node("Cast", [u], to=TensorProto.FLOAT)
    mask = node("Mul", [node("Sub", [init("one_f", np.array(1.0, np.float32)), maskf]),
                        init("neg_big", np.array(-3.4028234663852886e38, np.float32))])
    heads_shape = init("heads_shape", np.array([0, 0, nh, hd], np.int64))
    merge_shape = init("merge_shape", np.array([0, 0, H], np.int64))
    scale = init("sqrt_hd", np.array(math.sqrt(hd), np.float32))
    for i in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{i}"
        q = node("Transpose", [node("Reshape", [linear(x, p + ".attention.self.query"),
                                                heads_shape])], perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, p + ".attention.self.key"),
                                                heads_shape])], perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, p + ".attention.self.value"),
                                                heads_shape])], perm=[0, 2, 1, 3])
        scores = node("Add", [node("Div", [node("MatMul", [q, k]), scale]), mask])
        probs = node("Softmax", [scores], axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, v])], perm=[0, 2, 1, 3]),
                               merge_shape])
        attn = linear(ctx, p + ".attention.output.dense")
        x = layer_norm(node("Add", [attn, x]), p + ".attention.output.LayerNorm")
        inter = linear(x, p + ".intermediate.dense")
        erf = node("Erf", [node("Div", [inter, init("sqrt2", np.array(math.sqrt(2.0),
                                                                      np.float32))])])
        gelu = node("Mul", [node("Mul", [inter, node("Add", [erf, "one_f"])]),
                            init("half", np.array(0.5, np.float32))])
        out = linear(gelu, p + ".output.dense")
        x = layer_norm(node("Add", [out, x]), p + ".output.LayerNorm")
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    dims = ["batch", "seq"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dims)
              for n in ["input_ids", "attention_mask", "token_type_ids"]]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                           dims + [H])
    graph = helper.make_graph(nodes, "bert", inputs, [output], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def pad_batch(seqs):
    S = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), S), dtype=np.int64)
    mask = np.zeros((len(seqs), S), dtype=np.int64)
    for r, s in enumerate(seqs):
        ids[r, :len(s)] = s
        mask[r, :len(s)] = 1
    return ids, mask, np.zeros_like(ids)


def pool(hidden, mask):
    m = mask[..., None].astype(np.float32)
    v = (hidden * m).sum(1) / m.sum(1)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ripvec-bench", default=None)
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--goldens", default=None)
    ap.add_argument("--texts", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--skip", default="")
    ap.add_argument("--label", default=None)
    ap.add_argument("--ripvec-env", action="append", default=[],
                    help="NAME=VALUE[,NAME=VALUE] for an extra ripvec engine run with this "
                         "environment (repeatable; each adds one engine, e.g. "
                         "RIPVEC_CPU_GEMM_MC=8)")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import onnxruntime as ort
    from tokenizers import Tokenizer

    model_dir = pathlib.Path(args.model_dir) if args.model_dir else default_model_dir()
    cfg = Cfg(json.loads((model_dir / "config.json").read_text()))
    tmp = tempfile.TemporaryDirectory()
    onnx_path = os.path.join(tmp.name, "model.onnx")
    weights = load_weights(model_dir)
    build_onnx(cfg, weights, onnx_path)
    del weights

    def session(path):
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

    def embed(sess, batches):
        return np.concatenate([pool(sess.run(None, {"input_ids": i, "attention_mask": m,
                                                    "token_type_ids": t})[0], m)
                               for i, m, t in batches])

    # Correctness of the graph before any timing.
    stock = session(onnx_path)
    check = None
    if args.goldens:
        g = json.loads(pathlib.Path(args.goldens).read_text())
        kind = g["kinds"][0]
        ref = np.fromfile(pathlib.Path(args.goldens).with_suffix(".f32"), dtype=np.float32)
        ref = ref.reshape(-1, g["dim"])[kind["row_offset"]:kind["row_offset"] + len(g["texts"])]
        got = embed(stock, [pad_batch([ids]) for ids in kind["ids"]])
        check = ("sentence-transformers goldens", float((got * ref).sum(1).min()))
    else:
        try:
            import torch
            import transformers
            m = transformers.AutoModel.from_pretrained(str(model_dir),
                                                       dtype=torch.float32).eval()
            b = pad_batch([[101] + [1000 + 7 * j + i for j in range(40 + 9 * i)] + [102]
                           for i in range(8)])
            with torch.inference_mode():
                h = m(input_ids=torch.from_numpy(b[0]), attention_mask=torch.from_numpy(b[1]),
                      token_type_ids=torch.from_numpy(b[2])).last_hidden_state.numpy()
            check = ("transformers BertModel", float((embed(stock, [b]) * pool(h, b[1])).sum(1)
                                                     .min()))
            del m
        except ImportError:
            pass
    if check is None:
        sys.exit("no reference to check the ONNX graph against (--goldens, or install torch)")
    print(f"ONNX graph vs {check[0]}: min cosine {check[1]:.7f}", flush=True)
    if check[1] < 0.9999:
        sys.exit("the ONNX graph disagrees with its reference")

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(args.seq)
    tok.no_padding()
    texts = generate_corpus(args.texts)
    enc = [e.ids for e in tok.encode_batch(texts)]
    lens = [len(e) for e in enc]
    tokens = sum(lens)
    flops = bert_flops(cfg, lens)
    batches = [pad_batch(enc[i:i + args.batch]) for i in range(0, len(enc), args.batch)]

    engines = []
    outputs = {}

    def ort_engine(key, label, sess):
        def run():
            t0 = time.perf_counter()
            outputs[key] = embed(sess, batches)
            return time.perf_counter() - t0
        engines.append((key, label, run))

    if "ort" not in skip:
        ort_engine("ort", f"onnxruntime {ort.__version__} fp32", stock)
    fused_path = os.path.join(tmp.name, "model_fused.onnx")
    fused_ops = {}
    if not {"ort-fused", "ort-int8"} <= skip:
        from onnxruntime.transformers import optimizer
        opt = optimizer.optimize_model(onnx_path, model_type="bert",
                                       num_heads=cfg.num_attention_heads,
                                       hidden_size=cfg.hidden_size, opt_level=0, use_gpu=False)
        fused_ops = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
        opt.save_model_to_file(fused_path)
    if "ort-fused" not in skip:
        ort_engine("ort-fused", f"onnxruntime {ort.__version__} fp32 bert-fused", session(fused_path))
    if "ort-int8" not in skip:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        q_path = os.path.join(tmp.name, "model_int8.onnx")
        import onnx
        # Types of the fused graph's com.microsoft ops are unknown to shape inference.
        quantize_dynamic(fused_path, q_path, weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        ort_engine("ort-int8", f"onnxruntime {ort.__version__} int8 quantize_dynamic",
                   session(q_path))

    procs = []
    if args.ripvec_bench:
        corpus = os.path.join(tmp.name, "corpus.json")
        with open(corpus, "w") as f:
            json.dump(texts, f)
        variants = [("ripvec", {})] + [
            ("ripvec " + e, dict(kv.split("=", 1) for kv in e.split(",")))
            for e in args.ripvec_env]
        for key, extra in variants:
            env = dict(os.environ, RIPVEC_THREADS=str(args.threads), HF_HUB_OFFLINE="1", **extra)
            proc = subprocess.Popen([args.ripvec_bench, "--model", str(model_dir), "--corpus",
                                     corpus, "--batch", str(args.batch), "--seq", str(args.seq),
                                     "--serve"], env=env, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
            hello = proc.stdout.readline()
            if not hello:
                sys.exit(f"embed_bench failed ({proc.wait()})")
            info = json.loads(hello)
            if info["tokens"] != tokens:
                print(f"WARNING: token counts differ (ripvec {info['tokens']}, HF {tokens})",
                      file=sys.stderr)

            def ask(cmd, proc=proc):
                proc.stdin.write(cmd + "\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
                if not line:
                    sys.exit(f"embed_bench exited ({proc.wait()})")
                return json.loads(line)
            procs.append(proc)
            label = f"ripvec {info['isa']} {info.get('gemm', '')}".strip()
            if extra:
                label += " " + " ".join(f"{k}={v}" for k, v in extra.items())
            engines.insert(len(procs) - 1, (key, label, lambda ask=ask: ask("model")["model_s"]))

    for key, _, fn in engines:
        if not key.startswith("ripvec"):
            fn()  # warm-up (embed_bench warms up before serving)
    best = {key: float("inf") for key, _, _ in engines}
    for _ in range(args.iters):
        for key, _, fn in engines:
            best[key] = min(best[key], fn())
    for proc in procs:
        proc.stdin.write("quit\n")
        proc.stdin.close()
        proc.wait()
    ref = outputs.get("ort")
    agree = {}
    for k, v in outputs.items():
        if ref is not None and k != "ort":
            agree[k] = float((v * ref).sum(1).min())
    tmp.cleanup()
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    name = args.label or model_dir.name
    print(f"\nmodel {name}: {len(texts)} texts, {tokens} tokens (<= {args.seq} per text), batch "
          f"{args.batch}, {args.threads} threads, {flops / 1e9:.1f} GFLOP per pass, best of "
          f"{args.iters} interleaved rounds, load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f} on {os.cpu_count()} cpus; ORT fused ops {fused_ops}; min cosine vs "
          f"ORT fp32 {agree}")
    print_engine_table(engines, best, tokens, flops, width=58)
    for key, label, _ in engines:
        print(json.dumps({"model": name, "engine": key, "label": label, "threads": args.threads,
                          "tokens": tokens, "seconds": best[key],
                          "tokens_per_s": tokens / best[key],
                          "gflops": flops / best[key] / 1e9}))


if __name__ == "__main__":
    main()
