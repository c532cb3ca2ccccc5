#!/usr/bin/env bash
# Idempotent set-up of everything the workflow needs on a Debian machine:
#   1. the Debian packages of envs/apt-packages.txt (speech synthesizers, libsndfile, ...);
#   2. a virtual environment .venv with torch==2.13.0 (CPU wheel) and envs/requirements.txt;
#   3. the speechneurons package itself, installed editable into .venv.
# With --test, also the Debian packages of envs/apt-test-packages.txt (the SLURM test cluster,
# a headless Chromium).
# Run as root, or as a user with sudo (SUDO=sudo is picked automatically when not root).
# A second run only checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO=${SUDO:-sudo}; fi

# --- 1. Debian packages -----------------------------------------------------------------
lists=(envs/apt-packages.txt)
for arg in "$@"; do
  case "$arg" in
    --test) lists+=(envs/apt-test-packages.txt) ;;
    *) echo "usage: $0 [--test]" >&2; exit 2 ;;
  esac
done
mapfile -t wanted < <(grep -hvE '^\s*(#|$)' "${lists[@]}")
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "[setup] Debian packages present"
fi

# --- 2. virtual environment ---------------------------------------------------------------
stamp=.venv/.speechneurons-setup
want_hash=$(cat envs/requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_hash" ]; then
  echo "[setup] .venv up to date"
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
echo "[setup] installing torch==2.13.0 (CPU wheel)"
.venv/bin/python -m pip install -q torch==2.13.0 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
echo "[setup] installing pinned Python dependencies"
.venv/bin/python -m pip install -q -r envs/requirements.txt 2>&1 | grep -v "is ignored" || true
.venv/bin/python -m pip install -q --no-deps -e . 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c "import speechneurons, snakemake, transformers, parselmouth, pocketsphinx"
echo "$want_hash" > "$stamp"
echo "[setup] done: $ROOT/.venv"
