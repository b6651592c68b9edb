#!/usr/bin/env bash
# All tests, with real parts (embedding model, Chroma server, llama.cpp server, Chromium).
#   ./test.sh            everything      ./test.sh -m "not slow"   the quick ones
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/ruff check rag eval ui tests bench scripts
.venv/bin/python -m pytest "$@"
