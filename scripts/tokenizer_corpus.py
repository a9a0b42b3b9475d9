#!/usr/bin/env python3
"""Builds the tokenizer parity corpus: tests/data/tokenizer/corpus.jsonl.

Deterministic (fixed seed, sorted file lists) mix of:
  - real source code snippets read from files on this machine (Python stdlib, C headers,
    JavaScript / TypeScript from npm, Go / Rust / shell files that happen to be installed),
  - English prose (license texts, Debian docs, Python docstrings),
  - Unicode edge cases (accents, combining marks, CJK, emoji, RTL, zero-width, controls, NUL,
    U+FFFD, mixed scripts) and a code point sweep over assigned characters,
  - whitespace runs, very long inputs, the empty string, special tokens inside text.

Each line: {"i": index, "kind": category, "src": where it came from, "text": string}.
The corpus is committed; regenerating on another machine may pick other snippets, which is fine
because gen_tokenizer_goldens.py re-encodes whatever corpus is committed.

Usage: scripts/tokenizer_corpus.py [--out tests/data/tokenizer/corpus.jsonl]
"""
import argparse
import glob
import json
import os
import random
import sys
import unicodedata

SEED = 20240607
PY_LIB = "/root/.pyenv/versions/3.11.7/lib/python3.11"


def read_text(path):
    try:
        with open(path, "rb") as f:
            data = f.read(400_000)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def files(patterns, exclude=()):
    out = set()
    for p in patterns:
        out.update(glob.glob(p, recursive=True))
    return sorted(f for f in out if os.path.isfile(f) and not any(e in f for e in exclude))


def snippets(rng, paths, count, kind, max_lines=60, max_chars=3000):
    """`count` snippets of 1..max_lines lines from random files among `paths`."""
    out = []
    if not paths:
        return out
    tries = 0
    while len(out) < count and tries < count * 20:
        tries += 1
        path = rng.choice(paths)
        text = read_text(path)
        if not text:
            continue
        lines = text.splitlines(keepends=True)
        if not lines:
            continue
        # Mostly short/medium chunks, a few long ones (like real search chunks).
        n = rng.choice([1, 1, 2, 3, 5, 8, 12, 20, 30, max_lines])
        start = rng.randrange(len(lines))
        chunk = "".join(lines[start:start + n])[:max_chars]
        if not chunk.strip():
            continue
        out.append((kind, f"{path}:{start + 1}", chunk))
    return out


def prose(rng, count):
    paths = files(["/usr/share/common-licenses/*", "/usr/share/doc/*/README*",
                   "/usr/share/doc/*/*.md", "/usr/share/doc/dpkg/spec/*.txt"],
                  exclude=(".gz",))
    out = []
    paras = []
    for p in paths:
        t = read_text(p)
        if not t:
            continue
        for i, para in enumerate(t.split("\n\n")):
            para = para.strip()
            if 40 <= len(para) <= 1500:
                paras.append((p, i, para))
    rng.shuffle(paras)
    for p, i, para in paras[:count]:
        out.append(("prose", f"{p}#p{i}", para))
    return out


def docstrings(rng, count):
    import ast
    paths = files([PY_LIB + "/*.py"])
    out = []
    rng2 = random.Random(SEED + 1)
    rng2.shuffle(paths)
    for p in paths:
        if len(out) >= count:
            break
        t = read_text(p)
        if not t:
            continue
        try:
            tree = ast.parse(t)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module)):
                d = ast.get_docstring(node, clean=False)
                if d and len(d) > 30:
                    out.append(("docstring", f"{p}:{getattr(node, 'lineno', 0)}", d[:2000]))
                    break
    return out[:count]


UNICODE_CASES = [
    "Äpfel", "Führer", "naïve café résumé", "São Paulo", "Ångström", "İstanbul", "ǅemal",
    "ß ẞ", "ﬁﬂ ligatures", "Ω ohm Ω", "e\u0301 vs é", "a\u0300\u0301\u0302 stacked",
    "\u0301leading combining", "Zalgo: Z\u0351\u0346a\u0310\u0357l\u034cg\u0344o\u0363",
    "Crème brûlée à la carte", "Việt Nam Tiếng Việt", "Ελληνικά κείμενο ΣΊΣΥΦΟΣ", "ОДИН два Три",
    "中文分词测试", "日本語のテキスト、カタカナ、ひらがな。", "한국어 텍스트 입니다", "漢字かな混じり文",
    "𠀀𠀁 CJK ext B", "㐀㐁 ext A", "兀 compat ideograph", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "👋🌍 hello world", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "🇯🇵🇺🇸", "1️⃣ keycap", "🥰🫠🧑‍💻",
    "العربية نص", "עברית טקסט", "mixed عربي and English", "\u202eRTL override\u202c",
    "\u200bzero\u200bwidth\u200b", "zw\u200cnj\u200dj", "\ufeffBOM at start", "soft\u00adhyphen",
    "ctrl\x01\x02\x03chars", "bell\x07 esc\x1b[0m", "nul\x00inside", "\x00", "\x00\x00\x00",
    "repl\ufffdchar", "\ufffd", "\ufffd\ufffd", "del\x7fchar", "nel\x85line", "c1\x80\x9f",
    "private\ue000use\uf8ff", "\U000f0000 plane15", "tab\tsep", "line\u2028sep\u2029para",
    "nbsp\u00a0here", "ideographic\u3000space", "thin\u2009space\u202fnarrow", "ogham\u1680space",
    "mongolian\u180evs", "वर्णमाला हिन्दी", "தமிழ் எழுத்து", "ภาษาไทย", "ລາວ", "ქართული",
    "Հայերեն", "ꯃꯤꯇꯩ", "ᚠᚢᚦᚨᚱᚲ runes", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math", "𝟘𝟙𝟚 digits", "½ ¾ ⅓ fractions",
    "™ © ® symbols", "€ £ ¥ ₹ ₿ currency", "→ ← ↔ ⇒ arrows", "∀x∈ℝ: x²≥0", "“smart” ‘quotes’",
    "«guillemets» „low“", "em—dash en–dash", "ellipsis… and ‽", "¿Qué? ¡Sí!", "Ⅻ roman",
    "\u0130\u0131 dotted", "ΣΑΣ final sigma ς", "Ǆ ǆ ǅ digraphs", "ﬀ ﬃ ﬄ", "Å Å Å (three forms)",
    "한글 자모 ᄀᄁ", "가\u11a8 jamo", "\u1100\u1161\u11a8 conjoining", "\U00011938 dives akuru",
    "\U00011935\U00011930 decomposed", "\u0890 pound mark above (U14 Cf)", "\u08e2 disc sign",
    "\u2e43\u2e44 newer punctuation", "\U0001f970 newer emoji", "\u166d chi rho", "\U000111c9",
    "a\u0308\u0323 order", "a\u0323\u0308 order", "\u1e9b\u0323", "\u0344\u0345", "\u0f73\u0f75",
    "ǰ\u0323", "\u1fb3\u0345", "ΐ", "Ꭰ Cherokee ꭰ", "𐐀 Deseret 𐐨", "𞤀 Adlam 𞤢", "Ꞔ ꞔ",
    "\U00010d50\U00010d70 garay", "\u1c89\u1c8a", "\ua7cb\ua7cc", "\U00016ea0", "ℌ𝔢𝔩𝔩𝔬",
    "ⓐⓑⓒ ⒶⒷⒸ", "🄰🄱 squared", "combining enclosing ⃝ a\u20dd", "a\u0489", "x\u034f\u034fy",
    "ﷺ ligature", "ﷲ", "ㄅㄆㄇ bopomofo", "ꀀꀁ yi", "ᐁᐃ syllabics", "ߊߋ nko",
    "\u0e01\u0e49\u0e33", "\u0915\u094d\u200d\u0937", "\u0dc1\u0dca\u200d\u0dbb\u0dd3",
    "𓀀 hieroglyph 𓐰", "\U00013430\U00013438 format", "𒀀 cuneiform", "🀄 mahjong 🃏",
    "wörd-with-ümlauts_and_ünderscores", "CamelCaseÜber", "snake_case_naïve", "kebab-case-été",
]

SPECIAL_CASES = [
    "[CLS] hi [SEP]", "[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[cls] lowercase", "[ CLS ]",
    "<|endoftext|>", "text<|endoftext|>more", "<|padding|>", "|||IP_ADDRESS||| and |||EMAIL_ADDRESS|||",
    "|||PHONE_NUMBER|||", "a[MASK]b", "a [MASK] b", "a  [MASK]  b", "[MASK][MASK][MASK]",
    "[CLS][SEP][PAD][UNK][MASK]", "The capital of France is [MASK].", "[SEP]start", "end[SEP]",
    "[CLS] [CLS]", "[[CLS]]", "[CLS", "CLS]", "[MASK ]", "<s> </s> <pad> <unk> <mask>",
    "\t[MASK]\n", "\u3000[MASK]\u00a0", "é[MASK]\u0301", "[MASK]\u0301", "中[SEP]文",
    "<|endoftext|><|endoftext|>", "<|endoftext|> <|endoftext|>", " <|endoftext|>",
    "[CLS]\x00[SEP]", "x" * 50 + "[MASK]" + "y" * 50, "Question: [MASK]? Answer: [SEP]",
    "   [MASK]   ", "[MASK]" * 20,
]

WHITESPACE_CASES = [
    " ", "  ", "\t", "\n", "\r\n", "\r", "\n\n\n", " \t \n ", "\u00a0", "\u3000", "\u2003\u2002",
    "a b", "a  b", "a\tb", "a\nb", "a\r\nb", "a\u00a0b", "a\u3000b", "a\u2028b", "a\u0085b",
    "    indented code", "\t\tdouble tab", "trailing   ", "   leading", "x" + " " * 100 + "y",
    " " * 200, "\n" * 50, "\t" * 30, "\r\n" * 20, "mixed \t\r\n\u00a0\u3000\u2009 run",
    "a" + "\u00a0" * 10 + "b", "word\u000bvtab", "word\u000cformfeed", "\u001c\u001d\u001e\u001f",
    "def f():\n    return 1\n", "if (x) {\r\n\treturn;\r\n}", "  \n  \n  ",
    "a " * 200, " a" * 200, "\t".join(["col"] * 40), "\n".join(["line"] * 60),
]


def sweep_cases():
    """Every assigned code point of the dense scripts, then a sample of the rest, in chunks."""
    cps = []
    for cp in range(0x20, 0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        cat = unicodedata.category(chr(cp))
        if cat == "Cn":
            continue
        if cp < 0x3400 or (0xA000 <= cp < 0xAC00) or (0xF900 <= cp < 0x10000) or cp % 11 == 0:
            cps.append(cp)
    out = []
    step = 48
    for k in range(0, len(cps), step):
        chunk = cps[k:k + step]
        # Alternate spaced and unspaced chunks: spaced isolates each character, unspaced exercises
        # WordPiece / BPE merges and normalization across neighbours.
        sep = " " if (k // step) % 2 == 0 else ""
        out.append(("sweep", f"U+{chunk[0]:04X}..U+{chunk[-1]:04X}",
                    sep.join(chr(c) for c in chunk)))
    return out


def random_unicode(rng, count):
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        " \t\n\u00a0\u3000",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "\u0300\u0301\u0302\u0308\u0323\u0327\u034f\u20dd",
        "éèêëàâäôöûüçñåøæœßÉÀÇÑ",
        "中文字漢日本語한국어ひらがなカタカナ",
        "😀👍🏽🚀✨🔥❤️\u200d",
        "\u200b\u200c\u200d\ufeff\u00ad\u2060",
        "\x00\x01\x1b\x7f\x85\ufffd",
        "αβγδΣσςДжЯ",
        "عربيעברית",
        "[CLS][SEP][MASK]<|endoftext|>",
    ]
    out = []
    for i in range(count):
        n = rng.choice([1, 2, 3, 5, 8, 13, 21, 40, 80])
        s = "".join(rng.choice(rng.choice(pools)) for _ in range(n))
        out.append(("random", f"seed{SEED}#{i}", s))
    return out


def long_cases(rng, code_paths):
    out = []
    word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(500))
    out.append(("long", "500-char word", word))
    out.append(("long", "100-char word", "b" * 100))
    out.append(("long", "101-char word", "b" * 101))
    out.append(("long", "100 chars accented", "é" * 100))
    out.append(("long", "101 chars accented", "é" * 101))
    out.append(("long", "100 chars + punct", "c" * 100 + "." + "d" * 120))
    out.append(("long", "long identifier", "get_" + "_".join(["value"] * 60)))
    out.append(("long", "long CJK", "汉字" * 600))
    out.append(("long", "long emoji", "😀" * 400))
    out.append(("long", "long digits", "1234567890" * 100))
    out.append(("long", "base64 blob", "".join(rng.choice(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(3000))))
    # ~20k characters of real code.
    for path in code_paths[:2]:
        t = read_text(path) or ""
        out.append(("long", path, t[:20000]))
    out.append(("long", "20k prose", ("The quick brown fox jumps over the lazy dog. " * 460)[:20000]))
    return out


def build():
    rng = random.Random(SEED)
    items = [("empty", "", "")]
    py = files([PY_LIB + "/*.py", PY_LIB + "/json/*.py", PY_LIB + "/asyncio/*.py",
                PY_LIB + "/email/*.py", PY_LIB + "/unittest/*.py"])
    items += snippets(rng, py, 520, "python")
    c = files(["/usr/include/*.h", "/usr/include/*/*.h"])
    items += snippets(rng, c, 300, "c")
    cpp = files(["/usr/include/c++/12/bits/*.h"])
    items += snippets(rng, cpp, 80, "cpp")
    js = files(["/usr/lib/node_modules/npm/lib/**/*.js"])
    items += snippets(rng, js, 250, "javascript")
    ts = files(["/usr/lib/node_modules/**/*.d.ts"])
    items += snippets(rng, ts, 40, "typescript")
    go = files(["/usr/share/doc/**/*.go"])
    items += snippets(rng, go, 30, "go")
    rs = files(["/root/.rustup/toolchains/stable-*/share/doc/rust/html/error_codes/*.rs",
                "/usr/share/cargo/registry/*/src/lib.rs"])
    items += snippets(rng, rs, 30, "rust")
    sh = files(["/usr/share/doc/**/*.sh", "/usr/lib/git-core/*.sh", "/etc/**/*.sh"])
    items += snippets(rng, sh, 60, "shell")
    items += prose(rng, 200)
    items += docstrings(rng, 120)
    items += [("unicode", "handwritten", s) for s in UNICODE_CASES]
    items += random_unicode(rng, 250)
    items += sweep_cases()
    items += [("whitespace", "handwritten", s) for s in WHITESPACE_CASES]
    items += [("special", "handwritten", s) for s in SPECIAL_CASES]
    items += long_cases(rng, [p for p in py if p.endswith(("/typing.py", "/argparse.py"))])
    return items


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/tokenizer/corpus.jsonl")
    args = ap.parse_args()
    items = build()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for i, (kind, src, text) in enumerate(items):
            f.write(json.dumps({"i": i, "kind": kind, "src": src, "text": text},
                               ensure_ascii=False) + "\n")
    kinds = {}
    for k, _, _ in items:
        kinds[k] = kinds.get(k, 0) + 1
    print(f"{len(items)} strings -> {args.out}: {kinds}", file=sys.stderr)


if __name__ == "__main__":
    main()
