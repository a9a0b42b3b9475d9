#!/usr/bin/env python3
"""ModernBERT CPU throughput of ripvec beside PyTorch (transformers ModernBertModel, FP32, sdpa),
same machine, same run, same inputs, same weights, same thread count. Prints a markdown table.

  python3 scripts/bench_modernbert_cpu.py [--bench build/release/bench/modernbert_cpu_bench]
      [--model-dir DIR] [--threads N] [--texts 64] [--mean 256] [--std 64] [--min 16]
      [--max 512] [--long 4096] [--iters 2] [--layer-reps 3] [--rss LEN] [--json OUT]

Model: the nomic-ai/modernbert-embed-base shape (config from tests/data/assets), random weights
(real ones cannot be fetched here; speed does not depend on the values). Without --model-dir a
temporary directory gets transformers' default random init; with it (e.g. the directory of
scripts/modernbert_full_parity.sh) its weights are used. The ModernBERT tokenizer.json is
copied in when missing (Embedder::load wants one; the benchmark feeds token ids).

Cases: "short": --texts sequences with lengths ~ N(mean, std) clipped to [min, max]; "long":
one --long-token sequence. Inputs: the splitmix64 stream of bench/modernbert_cpu_bench.cpp
(checked by checksum). ripvec runs Embedder::embed_tokens (its own batching, 16384-token
budget, packed sequences, mean pooling + L2 norm); PyTorch runs the same length-sorted
batches padded (B*S <= 16384), masked mean pooling + L2 norm, under torch.inference_mode().
Rounds interleave the engines (ripvec short, torch short, ripvec long, torch long) so that a
busy machine slows both alike; a warm-up on 8 short texts, then --iters timed rounds: best and
median.
CPU seconds (user + system, all threads, per process) are recorded beside the wall time: on
a shared machine they depend much less on the other tenants (a spinning OpenMP worker counts,
though). Per-layer time at --long tokens: ripvec from ModernBert::forward_timed (median of
--layer-reps), PyTorch from forward hooks on each encoder layer during the timed long runs.
--rss LEN: peak RSS (VmHWM) of one LEN-token input in a fresh process for each engine.
"""
import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
HUB_CONFIG = ROOT / "tests" / "data" / "assets" / "models" / "nomic-modernbert-embed-base" / "config.json"
TOKENIZER = ROOT / "tests" / "data" / "assets" / "tokenizers" / "modernbert-base" / "tokenizer.json"
CONFIG_KEYS = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
               "intermediate_size", "max_position_embeddings", "local_attention",
               "global_attn_every_n_layers", "global_rope_theta", "local_rope_theta", "norm_eps",
               "norm_bias", "attention_bias", "mlp_bias", "hidden_activation", "pad_token_id"]
MASK64 = (1 << 64) - 1


class SplitMix:
    """bench/modernbert_cpu_bench.cpp's generator, bit for bit."""

    def __init__(self, seed):
        self.s = seed & MASK64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53

    def normal(self):
        z = 0.0
        for _ in range(12):
            z += self.uniform()
        return z - 6.0


def make_inputs(a, vocab):
    import math
    rng = SplitMix(a.seed)
    shorts = []
    for _ in range(a.texts):
        n = math.floor(a.mean + a.std * rng.normal() + 0.5)
        n = int(min(max(n, a.min), a.max))
        shorts.append([rng.next() % vocab for _ in range(n)])
    long_ids = [rng.next() % vocab for _ in range(a.long)]
    return shorts, long_ids


def plan_batches(lengths, max_tokens=16384):
    """src/pipeline/batching.cpp's plan: longest first, (B+1)*S <= max_tokens."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches, cur, seq = [], [], 0
    for i in order:
        if cur and (len(cur) + 1) > max_tokens // seq:
            batches.append(cur)
            cur = []
        if not cur:
            seq = lengths[i]
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def make_model_dir(out):
    import torch
    from safetensors.torch import save_file
    from transformers import ModernBertConfig, ModernBertModel
    hub = json.loads(HUB_CONFIG.read_text())
    cfg = {k: hub[k] for k in CONFIG_KEYS if k in hub}
    torch.manual_seed(0)
    model = ModernBertModel(ModernBertConfig(**cfg)).eval().float()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              os.path.join(out, "model.safetensors"))
    cfg.update(model_type="modernbert", architectures=["ModernBertModel"])
    pathlib.Path(out, "config.json").write_text(json.dumps(cfg, indent=2))


class Ripvec:
    def __init__(self, bench, model_dir, threads, a):
        env = dict(os.environ, RIPVEC_THREADS=str(threads))
        cmd = [bench, "--model", model_dir, "--serve", "--texts", str(a.texts), "--mean",
               str(a.mean), "--std", str(a.std), "--min", str(a.min), "--max", str(a.max),
               "--long", str(a.long), "--seed", str(a.seed), "--layer-reps", str(a.layer_reps)]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  env=env)
        self.hello = self._read()

    def _read(self):
        line = self.p.stdout.readline()
        if not line:
            raise SystemExit("modernbert_cpu_bench exited early")
        return json.loads(line)

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self._read()

    def close(self):
        self.ask_quit()

    def ask_quit(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            pass
        self.p.wait(timeout=60)


class Torch:
    def __init__(self, model_dir, threads):
        import torch
        from transformers import ModernBertModel
        torch.set_num_threads(threads)
        self.torch = torch
        self.model = ModernBertModel.from_pretrained(model_dir, attn_implementation="sdpa",
                                                     dtype=torch.float32).eval()
        self.pad = self.model.config.pad_token_id or 0
        self.layer_ms = None
        self._t = []
        for layer in self.model.layers:
            layer.register_forward_pre_hook(lambda m, args: self._t.append(time.perf_counter()))
            layer.register_forward_hook(lambda m, args, out: self._t.append(time.perf_counter()))

    def embed(self, seqs):
        torch = self.torch
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = [None] * len(seqs)
        with torch.inference_mode():
            for batch in plan_batches([len(s) for s in seqs]):
                S = len(seqs[batch[0]])
                ids = torch.full((len(batch), S), self.pad, dtype=torch.long)
                mask = torch.zeros((len(batch), S), dtype=torch.long)
                for r, i in enumerate(batch):
                    ids[r, :len(seqs[i])] = torch.tensor(seqs[i])
                    mask[r, :len(seqs[i])] = 1
                self._t = []
                h = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
                m = mask.unsqueeze(-1).to(h.dtype)
                pooled = (h * m).sum(1) / m.sum(1)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                for r, i in enumerate(batch):
                    out[i] = pooled[r]
        secs = time.perf_counter() - t0
        self.cpu_s = time.process_time() - c0
        # Layer times of the last forward pass (the only one for a single long sequence).
        self.layer_ms = [(self._t[2 * l + 1] - self._t[2 * l]) * 1e3
                         for l in range(len(self._t) // 2)]
        return secs


def rss_child(engine, model_dir, length, threads, bench, seed):
    """Peak RSS (VmHWM, KiB) of one `length`-token input in a fresh process. Not ru_maxrss:
    Linux carries a forking parent's peak into the child across exec."""
    if engine == "ripvec":
        env = dict(os.environ, RIPVEC_THREADS=str(threads))
        out = subprocess.run([bench, "--model", model_dir, "--rss", str(length), "--seed",
                              str(seed)], env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    code = f"""
import json, time, torch
from transformers import ModernBertModel
torch.set_num_threads({threads})
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
before = hwm()
m = ModernBertModel.from_pretrained({model_dir!r}, attn_implementation="sdpa",
                                    dtype=torch.float32).eval()
after_load = hwm()
ids = torch.randint(0, m.config.vocab_size, (1, {length}))
t0 = time.perf_counter()
with torch.inference_mode():
    h = m(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state.mean(1)
print(json.dumps(dict(cmd="rss", tokens={length}, embed_s=time.perf_counter() - t0,
    vm_hwm_start_kib=before, vm_hwm_after_load_kib=after_load, vm_hwm_kib=hwm())))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine():
    model = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return dict(cpu=model, cores=os.cpu_count(), python=platform.python_version())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=str(ROOT / "build" / "release" / "bench" /
                                           "modernbert_cpu_bench"))
    ap.add_argument("--model-dir")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--texts", type=int, default=64)
    ap.add_argument("--mean", type=float, default=256)
    ap.add_argument("--std", type=float, default=64)
    ap.add_argument("--min", type=int, default=16)
    ap.add_argument("--max", type=int, default=512)
    ap.add_argument("--long", type=int, default=4096)
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--layer-reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rss", type=int, default=0)
    ap.add_argument("--json")
    a = ap.parse_args()

    import torch
    import transformers
    tmp = None
    if a.model_dir:
        model_dir = a.model_dir
    else:
        tmp = tempfile.mkdtemp(prefix="ripvec-modernbert-bench.")
        model_dir = tmp
        print(f"# random-initialized modernbert-embed-base shape in {model_dir}", flush=True)
        make_model_dir(model_dir)
    try:
        if not os.path.exists(os.path.join(model_dir, "tokenizer.json")):
            shutil.copyfile(TOKENIZER, os.path.join(model_dir, "tokenizer.json"))
        vocab = json.loads(pathlib.Path(model_dir, "config.json").read_text())["vocab_size"]
        shorts, long_ids = make_inputs(a, vocab)
        load0 = os.getloadavg()

        rv = Ripvec(a.bench, model_dir, a.threads, a)
        h = rv.hello
        want = dict(short_n=len(shorts), short_tokens=sum(map(len, shorts)),
                    short_sum=sum(map(sum, shorts)), long_tokens=len(long_ids),
                    long_sum=sum(long_ids))
        for k, v in want.items():
            if h[k] != v:
                raise SystemExit(f"input mismatch with the C++ generator: {k} {h[k]} != {v}")
        pt = Torch(model_dir, a.threads)
        print(f"# {want['short_n']} short texts, {want['short_tokens']} tokens; long "
              f"{want['long_tokens']} tokens; threads {a.threads} (ripvec pool {h['threads']}, "
              f"torch {torch.get_num_threads()})", flush=True)

        res = {k: [] for k in ("rv_short", "pt_short", "rv_long", "pt_long")}
        cpu = {k: [] for k in res}
        pt_layers = []
        # Warm-up: the first 8 short texts through each engine (first-touch of memory, lazy
        # initialization); a full untimed round would double the run on 2 cores.
        rw = rv.ask("warm")["seconds"]
        pw = pt.embed(shorts[:8])
        print(f"# warm-up (8 texts): ripvec {rw:.2f} s, torch {pw:.2f} s", flush=True)
        for r in range(1, a.iters + 1):
            j = rv.ask("short")
            rs = j["seconds"]
            cpu["rv_short"].append(j["cpu_s"])
            ps = pt.embed(shorts)
            cpu["pt_short"].append(pt.cpu_s)
            j = rv.ask("long")
            rl = j["seconds"]
            cpu["rv_long"].append(j["cpu_s"])
            pl = pt.embed([long_ids])
            cpu["pt_long"].append(pt.cpu_s)
            print(f"# round {r}: wall (cpu) s: ripvec short {rs:.2f} ({cpu['rv_short'][-1]:.1f}), "
                  f"torch short {ps:.2f} ({cpu['pt_short'][-1]:.1f}), ripvec long {rl:.2f} "
                  f"({cpu['rv_long'][-1]:.1f}), torch long {pl:.2f} ({cpu['pt_long'][-1]:.1f}), "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
            for k, v in zip(res, (rs, ps, rl, pl)):
                res[k].append(v)
            pt_layers.append(pt.layer_ms)
        rv_layers = rv.ask("layers")
        rv.close()

        L = len(pt_layers[0])
        pt_med = [statistics.median(run[l] for run in pt_layers) for l in range(L)]
        glob = set(rv_layers["global_layers"])
        pt_g = statistics.mean(pt_med[l] for l in range(1, L) if l in glob)
        pt_l = statistics.mean(pt_med[l] for l in range(1, L) if l not in glob)

        rss = {}
        if a.rss:
            for eng in ("ripvec", "torch"):
                rss[eng] = rss_child(eng, model_dir, a.rss, a.threads, a.bench, a.seed)
        load1 = os.getloadavg()

        def row(name, tokens, rvk, ptk):
            rb, pb = min(res[rvk]), min(res[ptk])
            rm, pm = statistics.median(res[rvk]), statistics.median(res[ptk])
            rc, pc = min(cpu[rvk]), min(cpu[ptk])
            return (f"| {name} | {tokens} | {tokens / rb:,.0f} ({tokens / rm:,.0f}) | "
                    f"{tokens / pb:,.0f} ({tokens / pm:,.0f}) | {pb / rb:.2f}x | "
                    f"{tokens / rc:,.0f} | {tokens / pc:,.0f} |")

        lines = [
            f"Machine: {machine()['cpu']}, {os.cpu_count()} cores; threads {a.threads}; "
            f"torch {torch.__version__}, transformers {transformers.__version__}; "
            f"load average {load0[0]:.1f} at start, {load1[0]:.1f} at end",
            "",
            "| case | tokens | ripvec tokens/s best (median) | PyTorch tokens/s best (median) "
            "| speed-up (best) | ripvec tokens per CPU-s | PyTorch tokens per CPU-s |",
            "|---|---|---|---|---|---|---|",
            row(f"{a.texts} texts ~N({a.mean:g},{a.std:g}) in [{a.min},{a.max}]",
                want["short_tokens"], "rv_short", "pt_short"),
            row(f"1 x {a.long} tokens", a.long, "rv_long", "pt_long"),
            "",
            f"Per-layer wall time at {a.long} tokens (ms, mean over layers; layer 0 excluded: it "
            "also holds the embedding lookup):",
            "",
            "| engine | global layer | local layer | local / global | whole forward |",
            "|---|---|---|---|---|",
            f"| ripvec (median of {a.layer_reps}) | {rv_layers['global_mean_ms']:.1f} | "
            f"{rv_layers['local_mean_ms']:.1f} | "
            f"{rv_layers['local_mean_ms'] / rv_layers['global_mean_ms']:.2f} | "
            f"{rv_layers['total_ms']:.0f} |",
            f"| PyTorch sdpa (median of {len(pt_layers)}) | {pt_g:.1f} | {pt_l:.1f} | "
            f"{pt_l / pt_g:.2f} | {sum(pt_med):.0f} |",
        ]
        if rss:
            lines += ["", f"Peak RSS, one {a.rss}-token input, fresh process (MiB):", "",
                      "| engine | after load | after embed | embed s |", "|---|---|---|---|"]
            for eng, r in rss.items():
                lines.append(f"| {eng} | {r['vm_hwm_after_load_kib'] / 1024:.0f} | "
                             f"{r['vm_hwm_kib'] / 1024:.0f} | {r['embed_s']:.1f} |")
        print("\n".join(lines))
        if a.json:
            pathlib.Path(a.json).write_text(json.dumps(dict(
                args=vars(a), machine=machine(), load=[load0, load1], inputs=want, seconds=res,
                cpu_seconds=cpu,
                ripvec_layers=rv_layers, torch_layers_median_ms=pt_med, rss=rss,
                versions=dict(torch=torch.__version__, transformers=transformers.__version__)),
                indent=2))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
