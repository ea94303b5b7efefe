"""LangChain `BaseRetriever` adapter over the hybrid retriever, for people who build chains.

The product never needs LangChain to retrieve; this exists so a user's own LangChain pipeline (or a
comparison harness) gets the same passages the assistant cites, as `Document`s whose metadata can
be turned back into a `Chunk` with `Chunk.from_metadata`. README.md ("Use from LangChain") plugs it
into a five-line chain (`retriever | format docs | prompt | chat model | StrOutputParser`), and
tests/test_langchain_readme.py runs that very snippet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from assistant.domain import ScoredChunk
from assistant.retrieve.hybrid import MODES, HybridRetriever, Query


def to_document(sc: ScoredChunk) -> Document:
    """A retrieved passage as a LangChain Document: the passage text, the chunk's flat metadata
    (`Chunk.to_metadata`) plus its id, rank and scores."""
    md: dict[str, Any] = sc.chunk.to_metadata()
    md.update(id=sc.chunk.id, rank=sc.rank, score=float(sc.score))
    if sc.dense is not None:
        md["dense"] = float(sc.dense)
    if sc.lexical is not None:
        md["lexical"] = float(sc.lexical)
    return Document(id=sc.chunk.id, page_content=sc.chunk.text, metadata=md)


def _as_set(values: Iterable[str] | None) -> set[str] | None:
    return set(values) if values else None


class HybridLangChainRetriever(BaseRetriever):
    """`invoke(query)` -> the hybrid retriever's top `k` passages as Documents.

    Filters can be fixed on the instance (`kinds`, `documents`) or given per call:
    `retriever.invoke("...", kinds={"treaty"})`; a per-call value replaces the instance's.
    """

    retriever: HybridRetriever
    k: int = 8
    mode: str = "hybrid"
    kinds: set[str] | None = None
    documents: set[str] | None = None

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        kinds: Iterable[str] | None = None,
        documents: Iterable[str] | None = None,
        mode: str | None = None,
    ) -> list[Document]:
        mode = mode or self.mode
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode '{mode}' (choose from {', '.join(MODES)})")
        q = Query(
            query,
            k or self.k,
            _as_set(kinds) if kinds is not None else self.kinds,
            _as_set(documents) if documents is not None else self.documents,
            mode,
        )
        return [to_document(sc) for sc in self.retriever.search(q)]
