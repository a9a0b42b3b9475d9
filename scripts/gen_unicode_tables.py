#!/usr/bin/env python3
"""Generates src/tokenizer/unicode_tables.inc from the `unicode_categories` 0.1.1 Rust crate.

HF `tokenizers` decides "control" (BertNormalizer clean_text), "punctuation" (BertPreTokenizer)
and "nonspacing mark" (strip_accents) with that crate, whose tables are Unicode 8.0. Token ids
depend on those exact tables, so we take them from the crate's own source (Debian package
librust-unicode-categories-dev: /usr/share/cargo/registry/unicode_categories-0.1.1/src/tables.rs)
rather than from a newer Unicode database.

Lowercasing in HF is Rust's char::to_lowercase. The table kRustLowercase is dumped from the Rust
standard library of the `rustc` on PATH (its char::UNICODE_VERSION is recorded in the output);
utf8proc's simple mapping lags behind it and misses the one multi-character mapping (U+0130).

HF's StripAccents normalizer removes General_Category=Mark per the unicode-normalization-
alignments crate, whose tables are Unicode 9.0. kV9Marks = the crate-8.0 marks (Mn, Mc, Me) +
marks first assigned in 9.0 (DerivedAge via Perl's Unicode::UCD, category from Python's
unicodedata) + U+1885/U+1886, which Unicode 9.0 moved from Lo to Mn.

Normalization forms come from utf8proc, but HF's normalization crate has Unicode 11.0
decomposition data: kNoDecomposeInHf lists the code points utf8proc decomposes (canonically or
for compatibility) that were assigned after Unicode 11.0 (Age from Perl's Unicode::UCD; code points
unassigned there are newer still), which HF leaves as they are.

Usage: scripts/gen_unicode_tables.py [path/to/tables.rs] > src/tokenizer/unicode_tables.inc
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

DEFAULT = "/usr/share/cargo/registry/unicode_categories-0.1.1/src/tables.rs"

# Ranges the crate hard-codes in lib.rs instead of listing in tables.rs (is_other_private_use).
PRIVATE_USE = [(0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD)]


def parse(path):
    text = open(path, encoding="utf-8").read()
    tables = {}
    for m in re.finditer(r"pub static (\w+) : &'static \[char\] = &\[(.*?)\];", text, re.S):
        tables[m.group(1)] = [int(x, 16) for x in re.findall(r"\\u\{([0-9A-Fa-f]+)\}", m.group(2))]
    return text, tables


def ranges(cps):
    out = []
    for cp in sorted(set(cps)):
        if out and out[-1][1] + 1 == cp:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def emit(name, rs):
    lines = [f"constexpr CodeRange {name}[] = {{"]
    row = []
    for lo, hi in rs:
        row.append(f"{{0x{lo:X}, 0x{hi:X}}}")
        if len(row) == 6:
            lines.append("    " + ", ".join(row) + ",")
            row = []
    if row:
        lines.append("    " + ", ".join(row) + ",")
    lines.append("};")
    return "\n".join(lines)


RUST_DUMP = r"""
fn main() {
    let v = char::UNICODE_VERSION;
    println!("{}.{}.{}", v.0, v.1, v.2);
    for cp in 0u32..0x110000 {
        if let Some(c) = char::from_u32(cp) {
            let l: Vec<char> = c.to_lowercase().collect();
            if l.len() != 1 || l[0] != c {
                let s: Vec<String> = l.iter().map(|x| format!("{:X}", *x as u32)).collect();
                println!("{:X} {}", cp, s.join(","));
            }
        }
    }
}
"""


def rust_lowercase():
    rustc = shutil.which("rustc") or os.path.expanduser("~/.cargo/bin/rustc")
    ver = subprocess.run([rustc, "--version"], capture_output=True, text=True, check=True).stdout
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "lc.rs")
        exe = os.path.join(d, "lc")
        open(src, "w").write(RUST_DUMP)
        subprocess.run([rustc, "-O", src, "-o", exe], check=True)
        out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout.split("\n")
    unicode_version = out[0]
    single, multi = [], []
    for line in out[1:]:
        if not line:
            continue
        a, b = line.split()
        lows = [int(x, 16) for x in b.split(",")]
        if len(lows) == 1:
            single.append((int(a, 16), lows[0]))
        else:
            multi.append((int(a, 16), lows))
    return ver.strip(), unicode_version, single, multi


def marks_v9(tables):
    import unicodedata
    dump = subprocess.run(
        ["perl", "-MUnicode::UCD=prop_invmap", "-e",
         'my ($l,$m)=prop_invmap("Age"); print "$l->[$_]\\t$m->[$_]\\n" for 0..$#$l'],
        capture_output=True, text=True, check=True).stdout
    starts, vals = [], []
    for line in dump.splitlines():
        a, b = line.split("\t")
        starts.append(int(a))
        vals.append(b)
    new9 = set()
    for k, lo in enumerate(starts):
        if vals[k] != "9.0":
            continue
        hi = starts[k + 1] if k + 1 < len(starts) else 0x110000
        for cp in range(lo, hi):
            if unicodedata.category(chr(cp)).startswith("M"):
                new9.add(cp)
    v8 = set(tables["MARK_NONSPACING"]) | set(tables["MARK_SPACE_COMBINING"]) | set(
        tables["MARK_ENCLOSING"])
    return sorted(v8 | new9 | {0x1885, 0x1886})


def perl_ages():
    dump = subprocess.run(
        ["perl", "-MUnicode::UCD=prop_invmap", "-e",
         'my ($l,$m)=prop_invmap("Age"); print "$l->[$_]\\t$m->[$_]\\n" for 0..$#$l'],
        capture_output=True, text=True, check=True).stdout
    starts, vals = [], []
    for line in dump.splitlines():
        a, b = line.split("\t")
        starts.append(int(a))
        vals.append(b)
    return starts, vals


def post_v11_decomposable():
    import bisect
    import ctypes
    lib = ctypes.CDLL("libutf8proc.so.2")
    lib.utf8proc_decompose_char.restype = ctypes.c_ssize_t
    lib.utf8proc_decompose_char.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_int32),
                                            ctypes.c_ssize_t, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    starts, vals = perl_ages()
    buf = (ctypes.c_int32 * 32)()
    last = ctypes.c_int(0)
    out = []
    options = (1 << 1) | (1 << 2) | (1 << 4)  # STABLE | COMPAT | DECOMPOSE
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        n = lib.utf8proc_decompose_char(cp, buf, 32, options, ctypes.byref(last))
        if n == 1 and buf[0] == cp:
            continue
        age = vals[bisect.bisect_right(starts, cp) - 1]
        if age in ("NA", "Unassigned") or tuple(map(int, age.split("."))) > (11, 0):
            out.append(cp)
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    text, t = parse(path)
    control = t["OTHER_CONTROL"] + t["OTHER_FORMAT"] + t["OTHER_PRIVATE_USE"]
    for lo, hi in PRIVATE_USE:
        control += list(range(lo, hi + 1))
    punct = []
    for k in ("PUNCTUATION_CONNECTOR", "PUNCTUATION_DASH", "PUNCTUATION_CLOSE",
              "PUNCTUATION_FINAL_QUOTE", "PUNCTUATION_INITIAL_QUOTE", "PUNCTUATION_OTHER",
              "PUNCTUATION_OPEN"):
        punct += t[k]
    mn = t["MARK_NONSPACING"]
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    print("// Generated by scripts/gen_unicode_tables.py from the unicode_categories 0.1.1 crate")
    print(f"// (tables.rs sha256 {sha}). Do not edit.")
    print("// Inclusive code point ranges, sorted. Unicode 8.0 data, as HF tokenizers sees it.")
    print("#pragma once")
    print()
    print(emit("kV8OtherControlFormatPrivate", ranges(control)))
    print()
    print(emit("kV8Punctuation", ranges(punct)))
    print()
    print(emit("kV8MarkNonspacing", ranges(mn)))
    print()
    print("// General_Category=Mark as of Unicode 9.0 (see the header of the generator).")
    print(emit("kV9Marks", ranges(marks_v9(t))))
    print()
    print("// Decomposed by utf8proc but assigned after Unicode 11.0: HF leaves them alone.")
    print(emit("kNoDecomposeInHf", ranges(post_v11_decomposable())))
    ver, uver, single, multi = rust_lowercase()
    # The C++ side special-cases the multi-character mappings; fail loudly if Rust grows more.
    assert [m[0] for m in multi] == [0x130], multi
    print()
    print(f"// Rust char::to_lowercase, single-code-point mappings ({ver}, Unicode {uver}).")
    print("constexpr CaseMapping kRustLowercase[] = {")
    row = []
    for a, b in single:
        row.append(f"{{0x{a:X}, 0x{b:X}}}")
        if len(row) == 6:
            print("    " + ", ".join(row) + ",")
            row = []
    if row:
        print("    " + ", ".join(row) + ",")
    print("};")


if __name__ == "__main__":
    main()
