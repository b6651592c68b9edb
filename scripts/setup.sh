#!/usr/bin/env bash
# Idempotent set-up on a fresh machine (python3 >= 3.11, build tools, root for apt):
# a venv in .venv, the local CPU torch wheel, the project with its LLM and test extras.
# Re-runs are instant unless pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${RAG_VENV:-.venv}
PY=${PYTHON:-python3}
stamp="$VENV/.setup-stamp"
# The browser the UI tests drive: Debian's Chromium (Playwright cannot download its own here).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the browser tests (apt-get, about a minute)" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null; } \
    || echo "could not install chromium: the browser UI tests will be skipped" >&2
fi
want=$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-40)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi

echo "setting up $VENV (first run compiles llama-cpp-python: about 8 minutes)" >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q --upgrade pip
# pip finds the local CPU build of torch; uv/poetry would fetch a multi-GB CUDA build.
pip install -q "torch==2.13.0"
# The default (native) llama.cpp build segfaults on these CPUs (AMX): pin the ISA explicitly.
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
pip install -q -e ".[llm,test]"
echo "$want" > "$stamp"
