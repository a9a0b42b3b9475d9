#!/usr/bin/env bash
# Retrieval quality and end-to-end timing of ripvec on a pinned Flask source tree.
#
#   scripts/quality_flask.sh [RIPVEC_BIN]      (default build/release/apps/cli/ripvec)
#
# 1. Downloads the Flask 3.0.3 sdist from PyPI as a plain file (scripts/fetch_pypi_sdist.py,
#    nothing built), checks its sha256, extracts it to a temporary directory.
# 2. Runs bench/quality/eval.py: MRR@10 / Recall@10 / Hit@1 per mode (semantic, keyword,
#    hybrid) over bench/quality/flask_queries.json; markdown table on stdout.
# 3. Times with hyperfine: a cold `ripvec index` (fresh cache directory each run), one warm
#    `ripvec QUERY` process end to end, and `rg QUERY` on the same tree.
#
# Environment: FLASK_WORK=DIR reuses/keeps the work directory; RUNS=N hyperfine runs of the warm
# commands (default 5); COLD_RUNS=N runs of the cold index (default 1: it embeds every chunk);
# RIPVEC_EXTRA="flags" passes extra flags to every ripvec call (e.g. "--device cpu").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ripvec="$(realpath "${1:-$here/build/release/apps/cli/ripvec}")"
[[ -x "$ripvec" ]] || { echo "quality_flask.sh: no ripvec binary at $ripvec" >&2; exit 2; }

readonly FLASK_VERSION=3.0.3
readonly FLASK_SHA256=ceb27b0af3823ea2737928a4d99d125a06175b8512c445cbd9a9ce200ef76842
runs="${RUNS:-5}"
cold_runs="${COLD_RUNS:-1}"
extra=(${RIPVEC_EXTRA:-})

if [[ -n "${FLASK_WORK:-}" ]]; then
  work="$FLASK_WORK"
  mkdir -p "$work"
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/ripvec-quality.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
fi

sdist="$work/flask-$FLASK_VERSION.tar.gz"
if [[ ! -f "$sdist" ]]; then
  python3 "$(dirname "$0")/fetch_pypi_sdist.py" "$work" "flask==$FLASK_VERSION=$FLASK_SHA256" >/dev/null
fi
echo "$FLASK_SHA256  $sdist" | sha256sum --check --quiet - ||
  { echo "quality_flask.sh: sha256 mismatch for $sdist" >&2; exit 2; }
tree="$work/flask-$FLASK_VERSION"
if [[ ! -d "$tree" ]]; then
  tar -xzf "$sdist" -C "$work"
fi
files=$(cd "$tree" && find . -type f | wc -l)

# Keep the index out of the tree and out of the user's cache.
cache="$work/cache"
mkdir -p "$cache"

echo "## ripvec retrieval quality on Flask $FLASK_VERSION ($files files)"
echo
echo "ripvec: $ripvec ($("$ripvec" --version))"
echo
python3 "$here/bench/quality/eval.py" --ripvec "$ripvec" --root "$tree" \
  --queries "$here/bench/quality/flask_queries.json" -n 10 \
  --extra="--cache-dir '$cache' ${extra[*]}" --details

query="where is the session cookie signed"
rg_query="session"
echo
echo "## Timing (hyperfine; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo
cold_cache="$work/cold-cache"
hyperfine --style basic --runs "$cold_runs" --export-markdown "$work/cold.md" \
  --prepare "rm -rf '$cold_cache'" \
  -n "ripvec index (cold)" \
  "'$ripvec' index -q --cache-dir '$cold_cache' ${extra[*]} '$tree'" >&2
cat "$work/cold.md"
echo
# Warm: the index exists and is current, so the process loads the model, checks the tree for
# changes, embeds the query and searches.
"$ripvec" index -q --cache-dir "$cache" "${extra[@]}" "$tree" >/dev/null
hyperfine --style basic --runs "$runs" --warmup 1 --export-markdown "$work/warm.md" \
  -n "ripvec \"$query\" (warm index)" \
  "'$ripvec' -q --cache-dir '$cache' ${extra[*]} '$query' '$tree'" \
  -n "ripvec --mode keyword \"$query\" (warm index)" \
  "'$ripvec' -q --mode keyword --cache-dir '$cache' ${extra[*]} '$query' '$tree'" \
  -n "rg $rg_query" \
  "rg '$rg_query' '$tree'" >&2
cat "$work/warm.md"
