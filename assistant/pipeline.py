"""The assistant as one object: settings in, `ask(question) -> Answer` out.

CLI, UI and evaluation all go through this class, so they answer identically. Heavy resources
(embedding model, Chroma client, index snapshot) are created once and reused; the snapshot is
reloaded automatically when another process commits a new index.
"""

from __future__ import annotations

import time
from functools import cached_property

from assistant.answer.citations import build_citation
from assistant.answer.extractive import compose, query_weights, score_candidates, select, sentence_candidates
from assistant.domain import Answer, Citation, ScoredChunk
from assistant.index.embeddings import Embedder, get_embedder
from assistant.index.store import IndexReader
from assistant.index.vectors import VectorStore, make_client
from assistant.retrieve.hybrid import HybridRetriever, Query
from assistant.settings import Settings, get_settings

ABSTAIN_TEXT = "The indexed documents do not answer this."


class Assistant:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.reader = IndexReader(self.settings.index_dir)

    @cached_property
    def embedder(self) -> Embedder:
        return get_embedder(self.settings.embedding_model, self.settings.embedding_batch_size)

    @cached_property
    def vectors(self) -> VectorStore:
        client = make_client(self.settings.index_dir, self.settings.chroma_host, self.settings.chroma_port)
        return VectorStore(client, self.settings.embedding_model)

    @cached_property
    def retriever(self) -> HybridRetriever:
        s = self.settings
        return HybridRetriever(
            self.reader,
            self.vectors,
            self.embedder,
            dense_candidates=s.dense_candidates,
            lexical_candidates=s.lexical_candidates,
            dense_weight=s.dense_weight,
            lexical_weight=s.lexical_weight,
            rrf_k=s.rrf_k,
        )

    def retrieve(
        self,
        question: str,
        k: int | None = None,
        *,
        kinds: set[str] | None = None,
        documents: set[str] | None = None,
        mode: str = "hybrid",
    ) -> list[ScoredChunk]:
        return self.retriever.search(Query(question, k or self.settings.top_k, kinds, documents, mode))

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        kinds: set[str] | None = None,
        documents: set[str] | None = None,
        mode: str = "hybrid",
    ) -> Answer:
        t0 = time.perf_counter()
        question = question.strip()
        retrieved = self.retrieve(question, k, kinds=kinds, documents=documents, mode=mode)
        t1 = time.perf_counter()
        snap = self.reader.snapshot()
        weights = query_weights(question, snap)
        cands = sentence_candidates(retrieved, snap)
        score_candidates(question, cands, weights, self.embedder)
        chosen = select(cands, self.settings.max_answer_sentences)
        abstain = self._abstain(chosen)
        if abstain or not chosen:
            answer = Answer(question, ABSTAIN_TEXT, [], True, retrieved, standalone_question=question)
        else:
            text, used = compose(chosen, question)
            citations: list[Citation] = [
                build_citation(n, chunk, quotes, snap.sources) for n, (chunk, quotes) in enumerate(used, start=1)
            ]
            answer = Answer(question, text, citations, False, retrieved, standalone_question=question)
        t2 = time.perf_counter()
        answer.timings_ms = {"retrieve": (t1 - t0) * 1000, "answer": (t2 - t1) * 1000, "total": (t2 - t0) * 1000}
        return answer

    @staticmethod
    def _abstain(chosen: list) -> bool:
        if not chosen:
            return True
        best = chosen[0]
        return best.lexical < 0.35 and best.dense < 0.45
