#!/usr/bin/env bash
# Retrieval-quality harness: one command from pinned sources to markdown tables.
#
#   bench/quality/run.sh [--quick] [RIPVEC_BIN]     (default build/release/apps/cli/ripvec)
#
# 1. WORK/venv with bench/quality/requirements.txt (tree-sitter grammars, from PyPI);
# 2. fetch_corpora.py: pinned code bases (PyPI sdists, Debian packages), sha256-checked;
# 3. make_csn.py: the automatic docstring query set and its stripped trees;
# 4. eval.py: index every tree (cold cache dir), score keyword / semantic / hybrid through the
#    ripvec CLI and the plain-BM25 baseline; results JSON in WORK/results/;
# 5. report.py: markdown tables on stdout.
# --quick: at most 25 automatic queries per code base (hand-labelled sets stay whole).
# Environment: QUALITY_WORK=DIR (default ${TMPDIR:-/tmp}/ripvec-quality: it must lie outside any
# git work tree, or ripvec's root discovery indexes the enclosing repository), JOBS=N parallel ripvec processes (2),
# KEEP_CACHE=1 reuses the index cache of a previous run instead of starting cold,
# CORPORA="flask gin" limits the run to those code bases (default: all of corpora.json).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
quick=0
if [[ "${1:-}" == "--quick" ]]; then quick=1; shift; fi
ripvec="$(realpath "${1:-$repo/build/release/apps/cli/ripvec}")"
[[ -x "$ripvec" ]] || { echo "run.sh: no ripvec binary at $ripvec (build it first)" >&2; exit 2; }
work="${QUALITY_WORK:-${TMPDIR:-/tmp}/ripvec-quality}"
mkdir -p "$work"

venv="$work/venv"
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$here/requirements.txt" >&2
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi
py="$venv/bin/python"

names="${CORPORA:-$("$py" -c "import json;print(' '.join(e['name'] for e in json.load(open('$here/corpora.json'))['corpora']))")}"
# shellcheck disable=SC2086
"$py" "$here/fetch_corpora.py" --work "$work" $names >/dev/null
# shellcheck disable=SC2086
"$py" "$here/make_csn.py" --work "$work" $names

[[ "${KEEP_CACHE:-0}" == 1 ]] || rm -rf "$work/cache"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$work/results/$stamp.json"
cap=0
[[ $quick == 1 ]] && cap=25
"$py" "$here/eval.py" --work "$work" --ripvec "$ripvec" --jobs "${JOBS:-2}" \
  --csn-per-corpus "$cap" --corpora $names --out "$out"
echo "## ripvec retrieval quality ($stamp, $("$ripvec" --version), commit $(git -C "$repo" rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
echo
"$py" "$here/report.py" "$out"
echo
echo "results: $out" >&2
