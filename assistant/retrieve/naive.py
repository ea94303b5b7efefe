"""The naive baseline: the stock LangChain RAG recipe a user would otherwise copy.

Each indexed document's plain text is split by `RecursiveCharacterTextSplitter` into 1,000-character
pieces with 200 characters of overlap, embedded with the same model as the product, stored in its
own Chroma collection (namespace "naive") and searched by plain cosine similarity, top 4. No
structure-aware chunking, no BM25, no exact lookup, no tariff-line handling: it exists so the
evaluation can say how much the product's own retrieval adds.

The collection is built lazily on first use and brought up to date whenever the index generation
changes; pieces are keyed by document content and position, so unchanged documents are not
embedded again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.domain import Chunk, ScoredChunk, chunk_id
from assistant.index.embeddings import Embedder
from assistant.index.store import IndexReader, read_text
from assistant.index.vectors import VectorStore
from assistant.retrieve.langchain import to_document

CHUNK_SIZE = 1000  # characters, the LangChain tutorial's default
CHUNK_OVERLAP = 200
TOP_K = 4  # `vectorstore.as_retriever()` returns 4 documents by default
NAMESPACE = "naive"
ID_PREFIX = "naive-"


def make_splitter() -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
    )


def naive_chunks(document: dict[str, Any], text: str) -> list[Chunk]:
    """One document's text (a manifest entry of the index and its stored text) as naive pieces.

    Pieces carry the document's id, title, kind and URL so they can be cited like any passage;
    the citation label gives the character range, the only location the recipe knows.
    """
    sha = str(document["sha256"])
    title = str(document.get("title") or document["id"])
    out = []
    for pos, piece in enumerate(make_splitter().create_documents([text])):
        start = int(piece.metadata.get("start_index", -1))
        if start < 0:  # the splitter could not locate the piece (never seen; keep it citable)
            start = 0
        body = piece.page_content
        out.append(
            Chunk(
                id=ID_PREFIX + chunk_id(sha, pos, body),
                document_id=str(document["id"]),
                title=title,
                kind=str(document.get("kind") or "user"),
                text=body,
                position=pos,
                start=start,
                end=start + len(body),
                label=f"{title}, characters {start:,}–{start + len(body):,}",
                url=str(document.get("url") or ""),
                meta={"splitter": f"recursive-{CHUNK_SIZE}-{CHUNK_OVERLAP}"},
            )
        )
    return out


class NaiveRetriever:
    """Plain Chroma similarity over 1,000/200-character pieces of the indexed documents."""

    def __init__(self, reader: IndexReader, vectors: VectorStore, embedder: Embedder, k: int = TOP_K):
        self.reader = reader
        self.vectors = vectors
        self.embedder = embedder
        self.k = k
        self.chunks: dict[str, Chunk] = {}
        self.generation: str | None = None
        self.missing_texts: list[str] = []  # documents whose stored text was not found
        self.last_build: dict[str, float] = {}
        self._lock = threading.Lock()

    def ensure_built(self) -> None:
        """Split, embed and store what the current index generation holds and the collection
        lacks; delete pieces of documents the index no longer has."""
        snap = self.reader.snapshot()
        if snap.generation == self.generation:
            return
        with self._lock:
            if snap.generation == self.generation:
                return
            refresh = getattr(self.vectors, "refresh", None)
            if refresh is not None:  # see what other processes committed to the collection
                refresh()
            chunks: dict[str, Chunk] = {}
            missing = []
            for doc in sorted(snap.documents.values(), key=lambda d: d["id"]):
                text = read_text(self.reader.index_dir, doc["sha256"])
                if text is None:
                    missing.append(doc["id"])
                    continue
                chunks.update((c.id, c) for c in naive_chunks(doc, text))
            present = self.vectors.all_ids()
            todo = [c for cid, c in chunks.items() if cid not in present]
            if todo:
                vecs = self.embedder.embed([c.text for c in todo])
                self.vectors.upsert(
                    [c.id for c in todo], vecs, [c.text for c in todo], [c.to_metadata() for c in todo]
                )
            stale = present - set(chunks)
            if stale:
                self.vectors.delete(stale)
            self.chunks = chunks
            self.missing_texts = missing
            self.last_build = {"pieces": float(len(chunks)), "embedded": float(len(todo))}
            self.generation = snap.generation

    def search(
        self,
        text: str,
        k: int | None = None,
        *,
        kinds: set[str] | None = None,
        documents: set[str] | None = None,
    ) -> list[ScoredChunk]:
        """Top-k pieces by cosine similarity, best first; optional kind/document filters."""
        self.ensure_built()
        if not self.chunks:
            return []
        where: dict | None = None
        if kinds:
            where = {"kind": {"$in": sorted(kinds)}}
        if documents:
            doc_filter = {"document_id": {"$in": sorted(documents)}}
            where = {"$and": [where, doc_filter]} if where else doc_filter
        hits = self.vectors.query(self.embedder.embed_query(text), k or self.k, where)
        hits = [(cid, s) for cid, s in hits if cid in self.chunks]
        return [
            ScoredChunk(chunk=self.chunks[cid], score=s, dense=s, rank=i)
            for i, (cid, s) in enumerate(hits, start=1)
        ]

    def as_langchain(self, **kwargs: Any) -> NaiveLangChainRetriever:
        return NaiveLangChainRetriever(retriever=self, **kwargs)


class NaiveLangChainRetriever(BaseRetriever):
    """The naive retriever behind LangChain's interface: `invoke(query)` -> top-4 Documents."""

    retriever: NaiveRetriever
    k: int = TOP_K
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
    ) -> list[Document]:
        hits = self.retriever.search(
            query,
            k or self.k,
            kinds=set(kinds) if kinds is not None else self.kinds,
            documents=set(documents) if documents is not None else self.documents,
        )
        return [to_document(sc) for sc in hits]
