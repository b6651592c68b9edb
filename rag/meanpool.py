"""A sentence-transformers folder of the common shape (Transformer -> mean Pooling -> Normalize) run on
`transformers` directly.

Why not sentence-transformers itself: importing it pulls scikit-learn and SciPy and took 6 of the 25 s of
a cold `rag ingest` of the bundled corpus (2-core EPYC, idle); loading the same weights through
`transformers.AutoModel` takes under 2 s and gives the same vectors (cosine >= 0.99999 in fp32; mean of the
token states under the attention mask, then L2 normalisation, truncated at the folder's max_seq_length).
Folders of any other shape (CLS pooling, extra Dense layers...) fail `is_mean_pooling` and stay on
sentence-transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

_SHAPE = ("sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling")
_NORMALIZE = "sentence_transformers.models.Normalize"


def _read(path: Path) -> Any:
    return json.loads(path.read_text())


def is_mean_pooling(path: Path) -> bool:
    """True if the folder is Transformer + mean Pooling (+ Normalize) and nothing else."""
    try:
        modules = _read(path / "modules.json")
        types = [m["type"] for m in modules]
        if tuple(types[:2]) != _SHAPE or any(t != _NORMALIZE for t in types[2:]):
            return False
        if modules[0].get("path", "") != "":
            return False
        pooling = _read(path / modules[1]["path"] / "config.json")
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return False
    modes = {k: v for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    return list(modes) == ["pooling_mode_mean_tokens"]


def max_seq_length(path: Path) -> int:
    try:
        return int(_read(path / "sentence_bert_config.json")["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 256


def _pool(states: Any, attention_mask: Any) -> Any:
    """Mean of the token states under the mask, L2-normalised (sentence-transformers' Pooling + Normalize)."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


class MeanPoolModel:
    """Tokenizer + encoder + masked mean + L2 norm; `dtype` is torch.float32 or torch.bfloat16 (weights)."""

    def __init__(self, path: Path, dtype: Any):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every cold start
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path), dtype=dtype).eval()
        self.max_len = max_seq_length(path)

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_len, return_tensors="pt")
        with torch.inference_mode():
            return _pool(self.model(**enc).last_hidden_state.float(), enc["attention_mask"]).numpy()

    def export_module(self) -> Any:
        """A torch module (input_ids, attention_mask[, token_type_ids]) -> unit vectors, for ONNX export."""
        import torch

        model = self.model

        class Pipeline(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask, token_type_ids=None):
                kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
                if token_type_ids is not None:
                    kwargs["token_type_ids"] = token_type_ids
                return _pool(self.model(**kwargs).last_hidden_state, attention_mask)

        return Pipeline().eval()
