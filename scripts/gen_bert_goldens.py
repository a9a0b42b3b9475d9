#!/usr/bin/env python3
"""Generates the ClassicBert golden fixtures under tests/data/bert/ with the reference stack
(sentence-transformers + transformers + torch, CPU, float32).

Outputs (all small, committed):
  minilm_goldens.json / .f32   texts, HF token ids and sentence-transformers embeddings
                               (normalized, [N, 384] little-endian float32) of the REAL
                               sentence-transformers/all-MiniLM-L6-v2, loaded by path.
  tiny_bge_cls/                a randomly initialised BertModel with the bge-small-en-v1.5
                               layout (absolute positions, head_dim 32, gelu, CLS pooling +
                               Normalize, a query prompt), shrunk (2 layers, hidden 128,
                               512-token vocab) to stay small; weights stored as F16.
  tiny_bge_cls_goldens.json / .f32
  tiny_gelu_new/               a second random BertModel: hidden_act gelu_new, tensor names
                               with the "bert." prefix (BertForMaskedLM style), mean pooling
                               without Normalize, max_seq_length 48; weights stored as BF16.
  tiny_gelu_new_goldens.json / .f32
  versions.json                package versions used.

Usage: python3 scripts/gen_bert_goldens.py [--model-dir DIR] [--out tests/data/bert]
DIR defaults to the HF cache snapshot that scripts/install_default_model.sh installs.
"""
import argparse
import json
import os
import pathlib
import random
import shutil
import tempfile

import numpy as np
import safetensors
import safetensors.torch
import sentence_transformers
import tokenizers
import torch
import transformers
from sentence_transformers import SentenceTransformer

ROOT = pathlib.Path(__file__).resolve().parent.parent


def default_model_dir():
    cache = os.environ.get("HF_HUB_CACHE")
    if not cache:
        home = os.environ.get("HF_HOME")
        if home:
            cache = os.path.join(home, "hub")
        else:
            xdg = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
            cache = os.path.join(xdg, "huggingface", "hub")
    repo = pathlib.Path(cache) / "models--sentence-transformers--all-MiniLM-L6-v2"
    rev = (repo / "refs" / "main").read_text().strip()
    return repo / "snapshots" / rev


# ---------------------------------------------------------------------------------------------
# Inputs. Hand-written pieces of prose, code and non-ASCII text; then seeded combinations of
# them so that lengths spread from 1 token to well past the 256-token limit.

PROSE = [
    "What is Deep Learning?",
    "Deep Learning is...",
    "The quick brown fox jumps over the lazy dog.",
    "How do I reverse a linked list in place without extra memory?",
    "Semantic search finds code by meaning rather than by exact keywords.",
    "Returns the number of bytes written, or -1 on error; errno is set appropriately.",
    "The cache is invalidated whenever the underlying file's modification time changes.",
    "Parse the configuration file and report every unknown key with its line number.",
    "A mutex protects the shared queue; workers block on a condition variable until work arrives.",
    "She sells sea shells by the sea shore, and the shells she sells are surely sea shells.",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong stepped out at 02:56 UTC.",
    "Error: connection refused (ECONNREFUSED) while contacting 127.0.0.1:8080",
    "TODO(alice): remove this workaround once the upstream bug #4521 is fixed.",
    "Binary search requires the input to be sorted; otherwise the result is undefined.",
    "The function retries up to three times with exponential backoff before giving up.",
    "Why does my Docker container exit immediately after starting?",
    "Convert a UTF-8 string to lowercase, handling multi-byte characters correctly.",
    "user authentication with JWT tokens and refresh token rotation",
    "where is the database connection pool configured",
    "Memory-mapped files let the operating system page data in lazily on first access.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "Don't panic!  Mostly harmless...",
    "e.g. i.e. etc. vs. Mr. Dr. U.S.A. 3.14159 1,000,000 $42.50 100% #hashtag @mention",
    "ALL CAPS SENTENCE WITH SHOUTING AND NUMBERS 12345",
    "mixedCase camelCaseIdentifier snake_case_identifier SCREAMING_CASE kebab-case-name",
    "https://github.com/rust-lang/rust/issues/12345?tab=comments#issuecomment-987654",
    "   leading and trailing whitespace   ",
    "tabs\tand\nnewlines\r\nand\u00a0non-breaking\u2003spaces",
]

UNICODE = [
    "café naïve résumé coöperate façade jalapeño",
    "Größenänderung der Datei fehlgeschlagen: Zugriff verweigert",
    "深度学习是什么？",
    "機械学習モデルのトレーニングには大量のデータが必要です。",
    "데이터베이스 연결을 설정하는 방법",
    "Как настроить подключение к базе данных?",
    "ما هو التعلم العميق؟",
    "Ελληνικά: α β γ δ ε — ∑ᵢ xᵢ² ≤ ∞",
    "emoji 🚀🔥 in a commit message ✨ fix: 🐛",
    "👩‍💻 writes code; 🏳️‍🌈 flags; 👍🏽 skin tones",
    "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ and ﬁ ligatures",
    "e\u0301 combining acute vs é precomposed",
    "zero\u200bwidth\u200cjoiners\u200d and soft\u00adhyphen",
    "हिन्दी में एक वाक्य",
    "עברית מימין לשמאל",
    "ไทยไม่มีช่องว่างระหว่างคำ",
    "Tiếng Việt có dấu thanh",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙 𝒜𝓁𝓅𝒽𝒶 ℝⁿ",
]

CODE = [
    "def",
    "}",
    "x = 1",
    "return nullptr;",
    "import numpy as np",
    "#include <vector>",
    "fn main() {\n    println!(\"Hello, world!\");\n}",
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "int add(int a, int b) { return a + b; }",
    "template <typename T>\nT clamp(T v, T lo, T hi) {\n  return v < lo ? lo : (hi < v ? hi : v);\n}",
    "SELECT u.id, u.name, COUNT(o.id) AS orders FROM users u LEFT JOIN orders o ON o.user_id = u.id "
    "GROUP BY u.id, u.name HAVING COUNT(o.id) > 5 ORDER BY orders DESC;",
    "const debounce = (fn, ms) => {\n  let t;\n  return (...args) => {\n    clearTimeout(t);\n"
    "    t = setTimeout(() => fn(...args), ms);\n  };\n};",
    "func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {\n\tif r.Method != "
    "http.MethodGet {\n\t\thttp.Error(w, \"method not allowed\", 405)\n\t\treturn\n\t}\n}",
    "for f in *.log; do gzip -9 \"$f\" && mv \"$f.gz\" archive/; done",
    "{\"name\": \"ripvec\", \"version\": \"0.1.0\", \"dependencies\": {\"serde\": \"1.0\"}}",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n",
    "<div class=\"container\"><p id=\"greeting\">Hello &amp; welcome</p></div>",
    "class LRUCache:\n    def __init__(self, capacity: int):\n        self.cap = capacity\n"
    "        self.data = OrderedDict()\n\n    def get(self, key):\n        if key not in self.data:\n"
    "            return -1\n        self.data.move_to_end(key)\n        return self.data[key]\n",
    "impl<T: Ord> BinaryHeap<T> {\n    pub fn push(&mut self, item: T) {\n        let old_len = "
    "self.len();\n        self.data.push(item);\n        unsafe { self.sift_up(0, old_len) };\n    }\n}",
    "public static <T extends Comparable<T>> void sort(List<T> list) {\n    Collections.sort(list);\n}",
    "std::unique_ptr<Tokenizer> tok = Tokenizer::from_file(dir / \"tokenizer.json\");",
    "if (ptr == NULL) { fprintf(stderr, \"out of memory\\n\"); exit(EXIT_FAILURE); }",
    "#!/usr/bin/env bash\nset -euo pipefail\ncd \"$(dirname \"$0\")/..\"\ncmake --build build -j\"$(nproc)\"",
    "a[i] += b[j] * c[k] >> 2 | mask & ~flags ^ 0xFF; x <<= 3; y ||= z && !w;",
    "// SPDX-License-Identifier: Apache-2.0\n// Copyright 2024 The Authors",
    "    @property\n    def name(self) -> str:\n        \"\"\"The user's display name.\"\"\"\n        return self._name",
    "CREATE INDEX CONCURRENTLY idx_orders_user ON orders (user_id) WHERE deleted_at IS NULL;",
    "async fn fetch(url: &str) -> Result<String, reqwest::Error> {\n    reqwest::get(url).await?.text().await\n}",
    "matrix = [[row[i] for row in grid] for i in range(len(grid[0]))]",
    "ERROR 2024-05-01T12:34:56.789Z [worker-3] task=embed id=7f3a9c status=failed retry=2/5",
]

WORDS = (
    "the of and to in is that for it with as was on be by this are or from at an which have "
    "not but all were when we there can more if will one about up out them some what so into "
    "function return value error index vector token model batch layer hidden size cache file "
    "buffer thread lock queue server client request response parse config module import class "
    "struct enum match async await yield lambda pointer memory allocate free search embed query"
).split()


def build_texts():
    rng = random.Random(20240601)
    texts = ["", " ", "a", "?", "hello", "Hi!", "ok", "42", "🙂", "深"]
    texts += PROSE + UNICODE + CODE
    pool = PROSE + UNICODE + CODE
    # Seeded combinations: 2..40 pieces joined, which spans ~10 to ~1500 tokens.
    for i in range(90):
        n = rng.choice([2, 2, 3, 3, 4, 5, 6, 8, 10, 14, 20, 30, 40])
        sep = rng.choice(["\n", " ", "\n\n", "; "])
        texts.append(sep.join(rng.choice(pool) for _ in range(n)))
    # Word salads of controlled length.
    for n in [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 120, 150, 180, 200, 230, 250, 252, 253, 254, 255,
              256, 260, 300, 400, 700]:
        texts.append(" ".join(rng.choice(WORDS) for _ in range(n)))
    # Identifier soup: many word pieces per word.
    for n in [4, 16, 64, 200]:
        texts.append(" ".join(
            "".join(rng.choice(["get", "Set", "_id", "Http", "json", "Parser", "2", "x", "Buf", "ptr"])
                    for _ in range(rng.randint(1, 5))) for _ in range(n)))
    # Long documents: a whole "file" of code, a long paragraph.
    texts.append("\n\n".join(CODE))
    texts.append(" ".join(PROSE * 3))
    texts.append("".join(UNICODE) * 2)
    return texts


# ---------------------------------------------------------------------------------------------
# Tiny random models.

TINY_VOCAB_WORDS = (
    "the of and to in is that for it with as was on be by this are or from at an which have not "
    "but all were when we there can more if will one about up out them some what so into def "
    "return value error index vector token model batch layer hidden size cache file buffer thread "
    "lock queue server client request response parse config module import class struct enum match "
    "async await yield lambda pointer memory search embed query deep learning fox dog quick brown "
    "jumps over lazy code data user name list key get set int float string char void main print "
    "hello world test run build make open close read write new delete true false null none self "
    "represent sentence searching relevant passages how do where why who".split()
)


def tiny_tokenizer(out_dir: pathlib.Path):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789") + list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    vocab = specials + chars + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    for w in TINY_VOCAB_WORDS:
        if w not in vocab:
            vocab.append(w)
    for suf in ["##s", "##ed", "##ing", "##er", "##ly", "##tion", "##es", "##en", "##al", "##ize"]:
        if suf not in vocab:
            vocab.append(suf)
    vocab = vocab[:512]
    while len(vocab) < 512:
        vocab.append(f"[unused{len(vocab)}]")
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]",
                                     max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    from tokenizers import decoders
    tok.decoder = decoders.WordPiece(prefix="##")
    for s in specials:
        tok.add_special_tokens([tokenizers.AddedToken(s, special=True)])
    fast = transformers.BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]",
                                          pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]")
    fast.save_pretrained(str(out_dir))
    return len(vocab)


def randomize_(model: torch.nn.Module, seed: int, std: float):
    """Every parameter random (biases and LayerNorm too), so that loading any of them wrongly
    shows up in the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif "LayerNorm.bias" in name or name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))


def write_st_files(d: pathlib.Path, dim: int, pooling: str, normalize: bool, max_seq: int,
                   prompts: dict):
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    (d / "modules.json").write_text(json.dumps(modules, indent=2))
    (d / "1_Pooling").mkdir(exist_ok=True)
    (d / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False}, indent=2))
    (d / "sentence_bert_config.json").write_text(json.dumps(
        {"max_seq_length": max_seq, "do_lower_case": False}, indent=2))
    (d / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": prompts, "default_prompt_name": None}, indent=2))


def make_tiny(out: pathlib.Path, name: str, cfg: dict, seed: int, std: float, pooling: str,
              normalize: bool, max_seq: int, prompts: dict, store_dtype, prefix: str):
    d = out / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    vocab_size = tiny_tokenizer(d)
    config = transformers.BertConfig(vocab_size=vocab_size, **cfg)
    torch.manual_seed(seed)
    model = transformers.BertModel(config, add_pooling_layer=False).eval()
    randomize_(model, seed, std)
    # Round weights to the storage dtype first, so that the goldens are computed from exactly
    # the values the fixture stores.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(store_dtype).to(torch.float32))
    config.save_pretrained(str(d))
    tensors = {prefix + k: v.detach().to(store_dtype).contiguous()
               for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    safetensors.torch.save_file(tensors, str(d / "model.safetensors"), metadata={"format": "pt"})
    write_st_files(d, cfg["hidden_size"], pooling, normalize, max_seq, prompts)
    # Load back through sentence-transformers from the files just written: this checks that
    # the files say what we mean (pooling, normalize, prompts) and produces the goldens.
    # float32 compute whatever the storage dtype (transformers would otherwise keep F16/BF16).
    st = SentenceTransformer(str(d), device="cpu", model_kwargs={"dtype": torch.float32})
    assert next(st.parameters()).dtype == torch.float32
    return st


def dump_goldens(out: pathlib.Path, stem: str, st: SentenceTransformer, texts, kinds, extra):
    tok = st.tokenizer
    max_len = st.max_seq_length
    rows = []
    meta = {"texts": texts, "dim": st.get_sentence_embedding_dimension(),
            "max_seq_length": max_len, "kinds": [], **extra}
    for kind in kinds:
        prompt = st.prompts.get(kind, "") if kind != "raw" else ""
        if kind == "raw":
            emb = st.encode(texts, batch_size=16, convert_to_numpy=True)
        else:
            emb = st.encode(texts, prompt_name=kind, batch_size=16, convert_to_numpy=True)
        ids = [tok(prompt + t, truncation=True, max_length=max_len)["input_ids"] for t in texts]
        meta["kinds"].append({"kind": kind, "prompt": prompt, "ids": ids, "row_offset": len(rows)})
        rows.extend(np.asarray(emb, dtype=np.float32))
    arr = np.stack(rows).astype("<f4")
    (out / f"{stem}.f32").write_bytes(arr.tobytes())
    (out / f"{stem}.json").write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")))
    return arr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--out", default=str(ROOT / "tests" / "data" / "bert"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    versions = {"sentence-transformers": sentence_transformers.__version__,
                "transformers": transformers.__version__, "torch": torch.__version__,
                "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__,
                "numpy": np.__version__}
    (out / "versions.json").write_text(json.dumps(versions, indent=2) + "\n")

    # 1) The real default model.
    model_dir = pathlib.Path(args.model_dir) if args.model_dir else default_model_dir()
    st = SentenceTransformer(str(model_dir), device="cpu", model_kwargs={"dtype": torch.float32})
    texts = build_texts()
    arr = dump_goldens(out, "minilm_goldens", st, texts, ["raw"],
                       {"model": "sentence-transformers/all-MiniLM-L6-v2", "pooling": "mean",
                        "normalize": True, "versions": versions})
    lens = [len(st.tokenizer(t)["input_ids"]) for t in texts]
    print(f"minilm: {len(texts)} texts, untruncated lengths {min(lens)}..{max(lens)}, "
          f"{sum(l > 256 for l in lens)} over 256; {arr.shape}")

    # 2) bge-small-en-v1.5 layout (absolute positions, head_dim 32, exact GELU, CLS + Normalize,
    #    query instruction), shrunk to 2 layers x 128 hidden and F16 storage to stay ~1 MB.
    bge_query = "Represent this sentence for searching relevant passages: "
    st = make_tiny(out, "tiny_bge_cls",
                   dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=512, hidden_act="gelu", max_position_embeddings=128,
                        type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0),
                   seed=1, std=0.08, pooling="cls", normalize=True, max_seq=128,
                   prompts={"query": bge_query, "document": ""}, store_dtype=torch.float16,
                   prefix="")
    tiny_texts = texts[:120]
    dump_goldens(out, "tiny_bge_cls_goldens", st, tiny_texts, ["document", "query"],
                 {"model": "tiny_bge_cls", "pooling": "cls", "normalize": True})

    # 3) gelu_new activation, "bert." tensor prefix, mean pooling, no Normalize, BF16 storage.
    st = make_tiny(out, "tiny_gelu_new",
                   dict(hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=256, hidden_act="gelu_new", max_position_embeddings=64,
                        type_vocab_size=2, layer_norm_eps=1e-7, pad_token_id=0),
                   seed=2, std=0.12, pooling="mean", normalize=False, max_seq=48,
                   prompts={}, store_dtype=torch.bfloat16, prefix="bert.")
    dump_goldens(out, "tiny_gelu_new_goldens", st, tiny_texts, ["raw"],
                 {"model": "tiny_gelu_new", "pooling": "mean", "normalize": False})
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
