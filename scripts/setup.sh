#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine: system packages, tree-sitter grammar sources,
# the default model (into the Hugging Face cache layout), and a release build of ripvec.
#   scripts/setup.sh            # everything, build in build/release
#   scripts/setup.sh --no-build # dependencies and model only
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
[[ "${1:-}" == "--no-build" ]] && build=0

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# Debian packages; why each is in the README's "Dependencies" table.
pkgs=(build-essential cmake pkg-config git python3 python3-pip
      nlohmann-json3-dev libutf8proc-dev libcli11-dev
      libcurl4-openssl-dev libgtest-dev libgmock-dev libbenchmark-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Tree-sitter runtime and grammars, from pinned PyPI sdists (hash-checked).
if [[ -x scripts/fetch_grammars.sh ]]; then scripts/fetch_grammars.sh; fi

# The official MCP Python SDK (and jsonschema): the client that tests/cli/mcp_sdk_test drives
# `ripvec mcp` with. Pinned: the version the protocol tests were written against.
if ! python3 -c "import mcp, jsonschema" 2>/dev/null; then
  echo "setup: installing the MCP Python SDK (mcp==2.3.0, jsonschema)" >&2
  python3 -m pip install --quiet "mcp==2.3.0" jsonschema
fi

# The default model, sentence-transformers/all-MiniLM-L6-v2, into ~/.cache/huggingface/hub.
scripts/install_default_model.sh

if ((build)); then
  cmake --preset release >/dev/null
  cmake --build build/release -j"$(nproc)" --target ripvec
  echo "setup: built build/release/apps/cli/ripvec" >&2
fi
