"""Hybrid retrieval: BM25 and dense candidates fused by weighted reciprocal rank, plus exact lookup.

Negotiators cite identifiers ("Article 2.4", "Annex 2-C", "§ 4611", "0101.21.00"): a passage whose
key matches the identifier is put first. The 7,749 tariff lines would crowd out prose, so they are
searched only when the question is about a tariff line or rate, or when the user asks for them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np

from assistant.domain import Chunk, ScoredChunk
from assistant.index.embeddings import Embedder
from assistant.index.store import IndexReader, Snapshot
from assistant.index.vectors import VectorStore
from assistant.retrieve.analysis import QueryAnalysis, analyze
from assistant.settings import Settings

MODES = ("hybrid", "dense", "bm25")
MAX_EXACT = 3  # passages of one named article/section boosted to the top


@dataclass
class Query:
    """What to search: the analysed question (made from `text` when not given), depth and filters."""

    text: str
    k: int = 8
    kinds: set[str] | None = None
    documents: set[str] | None = None
    mode: str = "hybrid"
    analysis: QueryAnalysis | None = None

    def __post_init__(self) -> None:
        if self.analysis is None:
            self.analysis = analyze(self.text)

    @property
    def a(self) -> QueryAnalysis:
        assert self.analysis is not None
        return self.analysis

    @classmethod
    def of(cls, analysis: QueryAnalysis, k: int = 8, kinds: set[str] | None = None,
           documents: set[str] | None = None, mode: str = "hybrid") -> Query:
        return cls(analysis.search_text, k, kinds, documents, mode, analysis)


@dataclass
class Retrieval:
    """One retrieval: the ranked passages, the index snapshot they come from (so later stages read
    the same generation), the question's vector (embedded once) and the kinds searched."""

    chunks: list[ScoredChunk]
    snapshot: Snapshot
    query_vector: np.ndarray | None = None
    scope: frozenset[str] | None = None  # kinds the question narrowed itself to (None: no narrowing)
    timings: dict[str, float] = field(default_factory=dict)


class HybridRetriever:
    def __init__(self, reader: IndexReader, vectors: VectorStore, embedder: Embedder, settings: Settings):
        """The fusion's tunables come from `settings` only (each says there which set it was fitted on)."""
        self.reader = reader
        self.vectors = vectors
        self.embedder = embedder
        self.dense_candidates = settings.dense_candidates
        self.lexical_candidates = settings.lexical_candidates
        self.dense_weight = settings.dense_weight
        self.lexical_weight = settings.lexical_weight
        self.rrf_k = settings.rrf_k
        self.tariff_ratio = settings.tariff_ratio
        self.kind_prior = {"brief": settings.brief_prior} if settings.brief_prior else {}
        self.note_prior = settings.note_prior
        self._figure_refs: tuple[str, dict[str, list[str]]] = ("", {})
        self.last_timings: dict[str, float] = {}

    @classmethod
    def from_settings(cls, reader: IndexReader, vectors: VectorStore, embedder: Embedder, s: Settings) -> HybridRetriever:
        return cls(reader, vectors, embedder, s)

    def snapshot(self) -> Snapshot:
        return self.reader.snapshot()

    def search(self, q: Query) -> list[ScoredChunk]:
        return self.retrieve(q).chunks

    def retrieve(self, q: Query) -> Retrieval:
        """The top `q.k` passages for the analysed question, with the snapshot they come from."""
        if q.mode not in MODES:
            raise ValueError(f"unknown retrieval mode '{q.mode}' (choose from {', '.join(MODES)})")
        a = q.a
        snap = self.reader.snapshot()
        if snap.empty:
            return Retrieval([], snap)
        kinds, lines_may_join = self._kinds(q, snap)
        scope = None if (q.kinds or lines_may_join or kinds is None) else frozenset(kinds)
        t0 = time.perf_counter()
        lexical: list[tuple[str, float]] = []
        dense: list[tuple[str, float]] = []
        if q.mode in ("hybrid", "bm25"):
            lexical = snap.lexical.search(q.text, self.lexical_candidates, snap.mask(kinds, q.documents))
            if lines_may_join:
                lexical = self._with_strong_tariff_lines(q, snap, lexical)
        t1 = time.perf_counter()
        vector = self.embedder.embed_query(q.text)  # once per question: dense search, refusal, composition
        if q.mode in ("hybrid", "dense"):
            dense = self._dense(vector, q, snap, kinds)
        t2 = time.perf_counter()
        fused = self._fuse(lexical, dense, q.mode)
        if not a.asks_for_source:
            # a footnote passage competes with the claim it supports only when sources are asked for
            fused = {cid: (v[0] * self.note_prior, v[1], v[2]) if "note" in snap.chunks[cid].meta else v
                     for cid, v in fused.items()}
        if self.kind_prior:
            fused = {
                cid: (v[0] * (1.0 + self.kind_prior.get(snap.chunks[cid].kind, 0.0)), v[1], v[2])
                for cid, v in fused.items()
            }
        exact = [cid for key in a.identifiers for cid in snap.by_key.get(key.lower(), [])]
        exact = [cid for cid in dict.fromkeys(exact) if self._allowed(snap.chunks[cid], kinds, q.documents)]
        if exact:
            # The passages of a named article/section/tariff line go first: the most specific
            # (the named paragraph or subsection), then the best-scoring ones, at most MAX_EXACT.
            exact.sort(
                key=lambda cid: (
                    not any(sp in snap.chunks[cid].label for sp in a.specific_refs),
                    -fused.get(cid, (0.0, None, None))[0],
                    snap.chunks[cid].position,
                )
            )
            top = max((s for s, _, _ in fused.values()), default=1.0)
            for i, cid in enumerate(exact[:MAX_EXACT]):
                _, d, lx = fused.get(cid, (0.0, None, None))
                fused[cid] = (top + 1.0 / (1 + i), d, lx)
        ranked = self._with_figure_text(sorted(fused.items(), key=lambda kv: -kv[1][0]), snap)[: q.k]
        timings = {"lexical_ms": (t1 - t0) * 1000, "dense_ms": (t2 - t1) * 1000}
        self.last_timings = timings
        chunks = [
            ScoredChunk(chunk=snap.chunks[cid], score=s, dense=d, lexical=lx, rank=i + 1)
            for i, (cid, (s, d, lx)) in enumerate(ranked)
            if cid in snap.chunks
        ]
        return Retrieval(chunks, snap, vector, scope, timings)

    def _with_strong_tariff_lines(
        self, q: Query, snap: Snapshot, lexical: list[tuple[str, float]]
    ) -> list[tuple[str, float]]:
        """A question that names a product ("butter substitutes", "maple syrup") without saying
        "tariff": tariff lines join the candidates only when they match it at least as strongly as
        the best prose passage does, so they never crowd out prose on other questions."""
        lines = snap.lexical.search(q.text, 3, snap.mask({"tariff"}, q.documents))
        best_prose = lexical[0][1] if lexical else 0.0
        strong = [(cid, sc) for cid, sc in lines if sc >= self.tariff_ratio * best_prose]
        if not strong:
            return lexical
        return sorted(lexical + strong, key=lambda x: -x[1])

    def _with_figure_text(
        self, ranked: list[tuple[str, tuple[float, float | None, float | None]]], snap: Snapshot
    ) -> list[tuple[str, tuple[float, float | None, float | None]]]:
        """A table found by its numbers is followed by the passage that discusses it ("…$840
        billion of bilateral trade (Figure 1)"): the figure and its finding in words belong together."""
        refs = self._figure_references(snap)
        if not refs:
            return ranked
        out: list[tuple[str, tuple[float, float | None, float | None]]] = []
        placed: set[str] = set()
        by_id = dict(ranked)
        for cid, v in ranked:
            if cid in placed:
                continue
            out.append((cid, v))
            placed.add(cid)
            for ref in refs.get(cid, []):
                if ref not in placed:
                    _, dense, lexical = by_id.get(ref, (0.0, None, None))
                    out.append((ref, (v[0] - 1e-9, dense, lexical)))  # ranks right after its figure
                    placed.add(ref)
        return out

    def _figure_references(self, snap: Snapshot) -> dict[str, list[str]]:
        """Table chunk id -> ids of the passages of the same document that cite that figure."""
        if self._figure_refs[0] == snap.generation:
            return self._figure_refs[1]
        tables = [c for c in snap.chunks.values() if c.meta.get("figure")]
        refs: dict[str, list[str]] = {}
        for t in tables:
            cue = re.compile(rf"\(\s*{re.escape(t.meta['figure'])}\s*\)")
            refs[t.id] = [
                c.id for c in snap.chunks.values()
                if c.document_id == t.document_id and c.id != t.id and cue.search(c.text)
            ]
        self._figure_refs = (snap.generation, refs)
        return refs

    def _kinds(self, q: Query, snap: Snapshot) -> tuple[set[str] | None, bool]:
        """(the kinds to search, whether tariff lines that match strongly may still join): the
        user's filter as given; the brief alone for a question about the brief; otherwise all
        kinds, tariff lines only when asked for or matching as strongly as the best prose."""
        if q.kinds:
            return set(q.kinds), False
        present = set(snap.kinds.tolist())
        if "brief" in present and q.a.names_brief and not q.a.names_legal:
            # "what does the brief want …": the brief answers, not a statute on the same subject
            return {"brief"}, False
        if "tariff" in present and not q.a.wants_tariff_lines:
            return present - {"tariff"}, True
        return None, False

    @staticmethod
    def _allowed(c: Chunk, kinds: set[str] | None, documents: set[str] | None) -> bool:
        return (not kinds or c.kind in kinds) and (not documents or c.document_id in documents)

    def _dense(self, vec: np.ndarray, q: Query, snap: Snapshot, kinds: set[str] | None) -> list[tuple[str, float]]:
        where: dict | None = None
        if kinds:
            where = {"kind": {"$in": sorted(kinds)}}
        if q.documents:
            doc_filter = {"document_id": {"$in": sorted(q.documents)}}
            where = {"$and": [where, doc_filter]} if where else doc_filter
        hits = self.vectors.query(vec, self.dense_candidates, where)
        # Vectors not in the committed snapshot (a crashed or running writer's) are ignored.
        return [(cid, s) for cid, s in hits if cid in snap.chunks]

    def _fuse(
        self, lexical: list[tuple[str, float]], dense: list[tuple[str, float]], mode: str
    ) -> dict[str, tuple[float, float | None, float | None]]:
        out: dict[str, tuple[float, float | None, float | None]] = {}
        wl = self.lexical_weight if mode != "dense" else 0.0
        wd = self.dense_weight if mode != "bm25" else 0.0
        for rank, (cid, score) in enumerate(lexical):
            s, d, _ = out.get(cid, (0.0, None, None))
            out[cid] = (s + wl / (self.rrf_k + rank + 1), d, score)
        for rank, (cid, score) in enumerate(dense):
            s, _, lx = out.get(cid, (0.0, None, None))
            out[cid] = (s + wd / (self.rrf_k + rank + 1), score, lx)
        if mode == "bm25":
            return {c: v for c, v in out.items() if v[2] is not None}
        if mode == "dense":
            return {c: v for c, v in out.items() if v[1] is not None}
        return out
