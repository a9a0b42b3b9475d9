#!/usr/bin/env python3
"""Downloads pinned PyPI sdists as plain files and verifies their sha256. Builds nothing.

Used by scripts/fetch_grammars.sh. `pip download --no-binary :all:` would build each sdist's
build dependencies (Cython...) from source to read its metadata: minutes of compiling for files
we only unpack. Here the file is looked up by its sha256 in the package's index page (the
"simple" repository API, PEP 691 JSON or PEP 503 HTML, the one pip uses), downloaded and
checked; nothing is run.

Usage: fetch_pypi_sdist.py DEST_DIR PKG==VERSION=SHA256 [PKG==VERSION=SHA256 ...]
  Prints one line per archive: "<pkg>==<version> <path>" once verified and in DEST_DIR.
  Archives are fetched in parallel; an archive already in DEST_DIR with the right hash is kept.
Env: RIPVEC_PYPI_INDEX, else PIP_INDEX_URL, else https://pypi.org/simple (the index root).
Exit status 1 with a message naming the package on any failure (offline, not found, mismatch).
"""
import concurrent.futures
import hashlib
import json
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_S = 60
USER_AGENT = "ripvec-fetch-grammars/1 (+scripts/fetch_pypi_sdist.py)"


class FetchError(Exception):
    pass


def index_root():
    return (os.environ.get("RIPVEC_PYPI_INDEX") or os.environ.get("PIP_INDEX_URL")
            or "https://pypi.org/simple").rstrip("/")


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def open_url(url, accept=None):
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if accept:
        req.add_header("Accept", accept)
    return urllib.request.urlopen(req, timeout=TIMEOUT_S)


def sdist_url(pkg, version, sha):
    """The URL of the file of `pkg` whose sha256 is `sha`, from the package's index page."""
    page = f"{index_root()}/{normalize(pkg)}/"
    accept = ("application/vnd.pypi.simple.v1+json, "
              "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1")
    try:
        with open_url(page, accept) as r:
            ctype = r.headers.get("Content-Type", "")
            body = r.read().decode("utf-8")
            base = r.geturl()
    except (urllib.error.URLError, OSError) as e:
        raise FetchError(f"cannot read the index page {page}: {e}") from e
    candidates = []  # (filename, url, sha256)
    if "json" in ctype:
        for f in json.loads(body).get("files", []):
            candidates.append((f["filename"], f["url"], f.get("hashes", {}).get("sha256", "")))
    else:
        for href in re.findall(r'<a\s[^>]*href="([^"]+)"', body):
            href = href.replace("&amp;", "&")
            url, _, frag = href.partition("#")
            fsha = frag[len("sha256="):] if frag.startswith("sha256=") else ""
            candidates.append((urllib.parse.unquote(url.rsplit("/", 1)[-1]), url, fsha))
    for filename, url, fsha in candidates:
        if fsha == sha:
            return filename, urllib.parse.urljoin(base, url)
    names = [c[0] for c in candidates if f"-{version}." in c[0] and c[0].endswith(".tar.gz")]
    if names:
        raise FetchError(f"{pkg}=={version}: {names[0]} on {page} does not have the pinned "
                         f"sha256 {sha} (third_party/grammars.lock)")
    raise FetchError(f"{pkg}=={version}: no sdist with sha256 {sha} on {page}")


def fetch(dest, pkg, version, sha):
    for name in (f"{pkg.replace('-', '_')}-{version}.tar.gz", f"{pkg}-{version}.tar.gz"):
        path = os.path.join(dest, name)
        if os.path.isfile(path) and sha256_of(path) == sha:
            return path
    filename, url = sdist_url(pkg, version, sha)
    sys.stderr.write(f"fetch_pypi_sdist: downloading {url}\n")
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=".part-")
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, open_url(url) as r:
            for block in iter(lambda: r.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        if h.hexdigest() != sha:
            raise FetchError(f"{pkg}=={version}: sha256 mismatch for {url}: expected {sha}, "
                             f"got {h.hexdigest()}")
        path = os.path.join(dest, os.path.basename(filename))
        os.replace(tmp, path)
        return path
    except (urllib.error.URLError, OSError) as e:
        raise FetchError(f"{pkg}=={version}: download of {url} failed: {e}") from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    dest = argv[1]
    os.makedirs(dest, exist_ok=True)
    wanted = []
    for spec in argv[2:]:
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==([^=]+)=([0-9a-f]{64})", spec)
        if not m:
            sys.stderr.write(f"fetch_pypi_sdist: bad spec {spec!r} (want PKG==VERSION=SHA256)\n")
            return 2
        wanted.append(m.groups())
    failed = False
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        jobs = [(w, pool.submit(fetch, dest, *w)) for w in wanted]
        for (pkg, version, _), job in jobs:
            try:
                print(f"{pkg}=={version} {job.result()}", flush=True)
            except FetchError as e:
                sys.stderr.write(f"fetch_pypi_sdist: {e}\n")
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
