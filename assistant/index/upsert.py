"""Embedding and storing: passage and sentence vectors of new chunks in one forward pass, upserted
into Chroma step by step; a chunk whose id and text are already indexed (a renamed file) keeps
its vectors. The multilingual channel's passage vectors (no sentence vectors) go into a second
collection by the same rules."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from assistant.domain import Chunk
from assistant.index.hooks import Faults, Progress, no_faults
from assistant.index.store import Snapshot
from assistant.index.vectors import VectorStore
from assistant.textutil import split_sentences

UPSERT_BATCHES_PER_STEP = 8  # chunks embedded and upserted together: 8 model batches
# chunk id -> (sentence spans of its text, one vector per span)
Sentences = dict[str, tuple[list[tuple[int, int]], np.ndarray]]


class IndexEmbedder(Protocol):
    """What indexing needs from an embedding model (`assistant.index.embeddings.Embedder`, or a
    small deterministic one in fast tests)."""

    dimension: int

    def embed_with_sentences(
        self, texts: list[str], spans: list[list[tuple[int, int]]], progress: Any = None
    ) -> tuple[np.ndarray, list[np.ndarray]]: ...


class PassageEmbedder(Protocol):
    """What the multilingual collection needs from a model: passage vectors only."""

    dimension: int

    def embed_passages(self, texts: list[str], progress: Any = None) -> np.ndarray: ...


def sentence_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """The units coverage reads: sentences, or the whole passage for tables and tariff lines (an
    answer quotes a tariff line's own sentence: `answer.extractive.sentence_candidates`)."""
    if chunk.meta.get("table") or chunk.kind == "tariff":
        return [(0, len(chunk.text))]
    return split_sentences(chunk.text) or [(0, len(chunk.text))]


def reuse_vectors(
    chunks: list[Chunk], current: Snapshot, vectors: VectorStore, sentences: Sentences | None = None
) -> list[Chunk]:
    """Chunks already indexed with the same text keep their vectors (their metadata is updated);
    the rest are returned for embedding. `sentences`, when given (the MiniLM collection; the
    multilingual one has none), receives the reused chunks' sentence vectors, and only chunks with
    the same sentence spans are reused there: a new segmenter changes spans without changing text."""
    same = [
        c
        for c in chunks
        if c.id in current.chunks
        and current.chunks[c.id].search_text == c.search_text
        and (
            sentences is None
            or (
                c.id in current.sentence_spans
                and [tuple(s) for s in current.sentence_spans[c.id][1]] == sentence_spans(c)
            )
        )
    ]
    have = vectors.present(c.id for c in same) if same else set()
    reused = [c for c in same if c.id in have]
    changed = [c for c in reused if current.chunks[c.id].to_metadata() != c.to_metadata()]
    if changed:
        vectors.update_metadata([c.id for c in changed], [c.to_metadata() for c in changed])
    if sentences is not None:
        for c in reused:
            sentences[c.id] = current.sentences(c.id)
    done = {c.id for c in reused}
    return [c for c in chunks if c.id not in done]


def embed_and_upsert(
    chunks: list[Chunk],
    *,
    embedder: IndexEmbedder,
    vectors: VectorStore,
    batch_size: int,
    lexical_only: set[str],
    sentences: Sentences | None,
    progress: Progress,
    faults: Faults = no_faults,
) -> None:
    """Passage and sentence vectors in one forward pass. Chunks of lexical-only kinds (the
    7,457 tariff lines: found by item number and BM25, and 90 % of the embedding time) get no
    vector; their sentence row is zero. `sentences`, when given, receives every chunk's spans
    and sentence vectors (for the generation's sentence matrix)."""
    if sentences is not None:
        for c in chunks:
            if c.kind in lexical_only:
                sentences[c.id] = ([(0, len(c.text))], np.zeros((1, embedder.dimension), dtype=np.float32))
    chunks = [c for c in chunks if c.kind not in lexical_only]
    if not chunks:
        return
    progress.stage("Embedding", len(chunks))
    step = max(1, batch_size) * UPSERT_BATCHES_PER_STEP
    for i in range(0, len(chunks), step):
        batch = chunks[i : i + step]
        spans = [sentence_spans(c) for c in batch]
        shift = [len(c.search_text) - len(c.text) for c in batch]
        vecs, sent_vecs = embedder.embed_with_sentences(
            [c.search_text for c in batch],
            [[(a + d, b + d) for a, b in sp] for sp, d in zip(spans, shift, strict=True)],
            progress=progress.advance,
        )
        vectors.upsert([c.id for c in batch], vecs, [c.text for c in batch], [c.to_metadata() for c in batch])
        if sentences is not None:
            for c, sp, sv in zip(batch, spans, sent_vecs, strict=True):
                sentences[c.id] = (sp, sv)
        faults("upsert_batch")


def embed_passages_and_upsert(
    chunks: list[Chunk],
    *,
    embedder: PassageEmbedder,
    vectors: VectorStore,
    batch_size: int,
    lexical_only: set[str],
    progress: Progress,
    faults: Faults = no_faults,
) -> None:
    """Passage vectors of the multilingual channel for the dense chunks (lexical-only kinds get
    none), upserted into its own collection step by step; the fault hook hears each step."""
    chunks = [c for c in chunks if c.kind not in lexical_only]
    if not chunks:
        return
    progress.stage("Embedding (multilingual)", len(chunks))
    step = max(1, batch_size) * UPSERT_BATCHES_PER_STEP
    for i in range(0, len(chunks), step):
        batch = chunks[i : i + step]
        vecs = embedder.embed_passages([c.search_text for c in batch], progress=progress.advance)
        vectors.upsert([c.id for c in batch], vecs, [c.text for c in batch], [c.to_metadata() for c in batch])
        faults("multilingual_batch")
