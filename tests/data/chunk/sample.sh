#!/usr/bin/env bash
set -euo pipefail

# Prints usage.
usage() {
  echo "usage: $0 <dir>"
  exit 1
}

function build {
  make -C "$1"
}

[[ $# -eq 1 ]] || usage
build "$1"
