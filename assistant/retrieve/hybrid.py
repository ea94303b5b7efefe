"""Hybrid retrieval: BM25 and two dense channels fused by weighted reciprocal rank, plus exact lookup.

Three channels: BM25 over the English passages; MiniLM (English, the model of the sentence vectors
that answering and refusal read); and a multilingual model (multilingual-e5-small by default, its
vectors in their own Chroma collection), which puts a question in Spanish, French ... next to the
English passage that answers it. Each channel's candidates are ranked, and a passage scores
sum(weight / (rrf_k + rank)) over the channels that found it. Routing by the question's language
(`QueryAnalysis.language`, measured in bench/embedders.py):

- English: BM25 + MiniLM + multilingual, each on the question;
- another language: MiniLM is off (it reads English only); BM25 searches the English gloss
  (`QueryAnalysis.search_text`) and the multilingual channel the question as typed.

Without the multilingual channel (setting off, or an index built without it) the retriever is the
two-channel BM25 + MiniLM one, every question on its search text.

A question that opens with a premise ("The brief says X. How many Y ...?") is embedded by the
multilingual model a second time from its first asking sentence on, on the same worker thread, and
that vector's cosines with the passages the channel found go with the retrieval
(`Retrieval.asked_multilingual`): refusal reads what is asked, not a premise that may paraphrase a
passage. A passage stored without vectors (a tariff line) has no such cosines; for a question in
another language, or an English one none of whose first REFUSAL_PASSAGES passages has a
multilingual cosine, the lines among the first UNSEEN_SCORED passages are embedded from their text
at query time, so that refusal judges a question a line answers on that line (the ranking does not
change; `Retrieval.scored_at_query` names them).

Negotiators cite identifiers ("Article 2.4", "Annex 2-C", "§ 4611", "0101.21.00"): a passage whose
key matches the identifier is put first. The 7,749 tariff lines would crowd out prose, so they are
searched only when the question is about a tariff line or rate or names a party's schedule (phrase
rules), when the tariff-line gate (`retrieve.line_gate`, a model of the question's MiniLM vector)
says it asks for one, or when the user asks for them. The same decision tells refusal that lines
were asked for (`Retrieval.lines_asked`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from assistant.domain import Chunk, ScoredChunk
from assistant.index.embeddings import Embedder
from assistant.index.lexical import tokenize
from assistant.index.store import IndexReader, Snapshot
from assistant.index.vectors import VectorStore
from assistant.retrieve.analysis import QueryAnalysis, after_premise, analyze_question
from assistant.retrieve.line_gate import gate_for
from assistant.retrieve.line_terms import line_term_weights
from assistant.settings import Settings
from assistant.textutil import collapse, footnote_marks

BM25, MINILM, MULTILINGUAL = "bm25", "dense", "multilingual"  # channel names (a single channel's mode)
MODES = ("hybrid", MINILM, BM25, MULTILINGUAL)
# BM25 again, on the question plus the most distinctive words of the passages the channels agree
# on first (pseudo-relevance feedback): a Spanish question's English evidence shares words with the
# passages the multilingual model found, not with the question. Its weight is a setting (fitted);
# the two sizes below were set once, not swept.
EXPANDED = "bm25+feedback"
PRF_PASSAGES = 3
PRF_TERMS = 10
MAX_EXACT = 3  # passages of one named article/section boosted to the top
# A passage indexed without vectors (a tariff line) has no multilingual cosine, so the refusal,
# which reads the best cosine of the first passages (answer.evidence.EVIDENCE_PASSAGES, 6), judged
# a question answered by tariff lines on the prose around them. For a question in another
# language (whose untranslated words only that cosine can vouch for) the first UNSEEN_SCORED such
# passages are embedded at query time and scored like the rest (not fused: the ranking stays).
# Not for English whenever a line is among them: on the tuning sets it changed 1 of 305 English
# tariff-line answers, and it costs time (e5 embeds a line in about 120 ms here). Two lines decide
# the same 234 Spanish tariff-line pairs as six (refused 30 -> 20 either way); retrieval p50 / p95
# of 30 of them 97 / 132 ms before, 330 / 640 with two, 522 / 994 with six (docs/benchmarks.md,
# twenty-eighth session).
UNSEEN_SCORED = 2
# An English question is scored so only when none of the passages refusal reads has a multilingual
# cosine (lines, or passages that channel did not find): without it, refusal would read none. The
# same count as answer.evidence.EVIDENCE_PASSAGES (a test keeps them equal; retrieval does not
# import from the answer layer). A line ranked first with prose that has a cosine further down is
# still judged on that prose.
REFUSAL_PASSAGES = 6
UNSEEN_CACHE = 4096  # such passage vectors kept between questions (about 1.5 KB each)
# A question asking for a source: each of the first NOTE_CLAIMS passages brings the footnotes of its
# sentence closest to the question, at most NOTES_PER_CLAIM. Set once, not swept; measured with
# `eval` on dev, tuning, heldout and round1 (round1 citation questions hit@5 0.56 -> 0.69, the
# others unchanged: docs/benchmarks.md).
NOTE_CLAIMS = 3
NOTES_PER_CLAIM = 2
ENGLISH = "en"


@dataclass
class Query:
    """What to search: the analysed question, depth and filters. Without an analysis, `text` is
    analysed as the assistant does (`analyze_question`: language, English gloss) and `text` becomes
    its search text."""

    text: str
    k: int = 8
    kinds: set[str] | None = None
    documents: set[str] | None = None
    mode: str = "hybrid"
    analysis: QueryAnalysis | None = None

    def __post_init__(self) -> None:
        if self.analysis is None:
            self.analysis = analyze_question(self.text)
            self.text = self.analysis.search_text

    @property
    def a(self) -> QueryAnalysis:
        assert self.analysis is not None
        return self.analysis

    @property
    def typed(self) -> str:
        """What the multilingual channel embeds: the question as typed (standalone) when it is not
        in English, else the search text."""
        return self.a.text if self.a.language != ENGLISH else self.text

    @property
    def typed_after_premise(self) -> str:
        """What the multilingual channel embeds of a question that opens with a premise: `typed`
        from its first asking sentence on ("" when nothing precedes it; a sentence after it, "I
        need the cite.", belongs to what is asked)."""
        asked = after_premise(self.typed)
        return asked if collapse(asked) != collapse(self.typed) else ""

    @classmethod
    def of(cls, analysis: QueryAnalysis, k: int = 8, kinds: set[str] | None = None,
           documents: set[str] | None = None, mode: str = "hybrid") -> Query:
        return cls(analysis.search_text, k, kinds, documents, mode, analysis)


@dataclass
class Retrieval:
    """One retrieval: the ranked passages, the index snapshot they come from (so later stages read
    the same generation), the question's vectors (each model embeds it once) and the kinds searched.

    `query_vector` is MiniLM's, the model of the index's sentence vectors (refusal and composition
    compare it with them); `multilingual_vector` the multilingual model's (None when that channel was
    not searched); `weights` the channels searched and their fusion weights."""

    chunks: list[ScoredChunk]
    snapshot: Snapshot
    query_vector: np.ndarray | None = None
    scope: frozenset[str] | None = None  # kinds the question narrowed itself to (None: no narrowing)
    timings: dict[str, float] = field(default_factory=dict)
    multilingual_vector: np.ndarray | None = None
    weights: dict[str, float] = field(default_factory=dict)
    # A follow-up's MiniLM vector with its thread appended (None outside a conversation):
    # the refusal decision reads the turn with its thread too.
    context_vector: np.ndarray | None = None
    multilingual_model: str = ""  # the model of `multilingual_vector` ("" when not searched)
    # A question that opens with a premise: per passage the multilingual channel found (and per line
    # scored at query time, `HybridRetriever._score_unseen`), the cosine
    # of the question from its first asking sentence on, which refusal reads (empty: no premise, or
    # that channel not searched).
    asked_multilingual: dict[str, float] = field(default_factory=dict)
    # Passages indexed without vectors (tariff lines) whose multilingual cosine was computed at
    # query time from their text: a line's cosine sits on a scale of its own (refusal shifts it,
    # `answer.evidence.LINE_SHIFT`).
    scored_at_query: frozenset[str] = frozenset()
    # The question asks for passages of a lexical-only kind (a tariff item or rate, a schedule
    # named, the tariff-line gate, the user's filter), not merely lets strongly matching lines join
    # its prose.
    lines_asked: bool = False


def _labels_row(c: Chunk, key: str) -> bool:
    """A table passage with a row labelled by the key ("AG04051020<tab>Provided for in tariff item
    04051020") defines it; a paragraph that lists the code among others only mentions it."""
    return bool(c.meta.get("table")) and re.search(rf"(?im)^{re.escape(key)}\t", c.text) is not None


def _lines_scored(a: QueryAnalysis, chunks: list[ScoredChunk]) -> bool:
    """Whether the first lines found get their multilingual cosine at query time: for a question
    not in English (only that cosine can vouch for its untranslated words), and for an English one
    none of whose first REFUSAL_PASSAGES passages has a cosine (refusal would read none)."""
    return a.language != ENGLISH or not any(sc.multilingual is not None for sc in chunks[:REFUSAL_PASSAGES])


@dataclass
class _Fused:
    """A candidate's fused score and each channel's own score (None: that channel did not find it)."""

    score: float = 0.0
    dense: float | None = None
    lexical: float | None = None
    multilingual: float | None = None


def _kept_together(
    ranked: list[tuple[str, _Fused]], partners: dict[str, list[str]], *, above: bool
) -> list[tuple[str, _Fused]]:
    """`ranked` with each passage's partners placed right next to it (right above it, or right
    below), at its score nudged by a hair, wherever they ranked before; a partner already placed
    stays where it is."""
    if not any(cid in partners for cid, _ in ranked):
        return ranked
    by_id = dict(ranked)
    out: list[tuple[str, _Fused]] = []
    placed: set[str] = set()
    for cid, f in ranked:
        if cid in placed:
            continue
        mates = []
        for ref in partners.get(cid, []):
            if ref not in placed and ref != cid:
                own = by_id.get(ref, _Fused())
                mates.append((ref, _Fused(f.score + (1e-9 if above else -1e-9), own.dense, own.lexical,
                                          own.multilingual)))
                placed.add(ref)
        placed.add(cid)
        out += [*mates, (cid, f)] if above else [(cid, f), *mates]
    return out


def with_long_forms(text: str, snap: Snapshot) -> list[str]:
    """The query's tokens, each acronym typed in capitals that no passage uses followed by its long
    form ("ITC" searches "International Trade Commission"). An acronym the passages use is searched
    as typed: adding its long form too pulled passages about the acronym's subject ("the RRM")
    above the asked provision (round 9, tuning)."""
    typed = {t for a in _ACRONYM.findall(text) for t in tokenize(a)}
    known = snap.acronyms()
    out: list[str] = []
    for t in snap.lexical.query_tokens(text):
        out.append(t)
        if t in typed and t in known and not snap.lexical.idf(t):
            out.extend(known[t])
    return out


_ACRONYM = re.compile(r"\b[A-Z][A-Z&]{1,6}s?\b")


class HybridRetriever:
    def __init__(
        self,
        reader: IndexReader,
        vectors: VectorStore,
        embedder: Embedder,
        settings: Settings,
        *,
        multilingual_vectors: VectorStore | None = None,
        multilingual_embedder: Embedder | None = None,
    ):
        """The fusion's tunables come from `settings` only (each says there which set it was fitted on).
        `multilingual_vectors` / `multilingual_embedder`: the multilingual channel (None: off)."""
        self.reader = reader
        self.vectors = vectors
        self.embedder = embedder
        self.multilingual_vectors = multilingual_vectors if multilingual_embedder is not None else None
        self.multilingual_embedder = multilingual_embedder
        self.dense_candidates = settings.dense_candidates
        self.lexical_candidates = settings.lexical_candidates
        self.english_weights = {BM25: settings.lexical_weight, MINILM: settings.dense_weight,
                                MULTILINGUAL: settings.multilingual_weight}
        self.other_language_weights = {BM25: settings.other_language_lexical_weight,
                                       MULTILINGUAL: settings.other_language_multilingual_weight}
        self.two_channel_weights = {BM25: settings.lexical_weight, MINILM: settings.dense_weight_without_multilingual}
        self.rrf_k = settings.rrf_k
        self.context_weight = settings.context_weight
        self.prf_weights = {False: settings.other_language_feedback_weight, True: settings.feedback_weight}
        self.tariff_ratio = settings.tariff_ratio
        self.line_weights = line_term_weights() if settings.weigh_line_terms else {}
        self.kind_prior = {"brief": settings.brief_prior} if settings.brief_prior else {}
        self.note_prior = settings.note_prior
        self.lexical_only_kinds = frozenset(settings.lexical_only_kinds)
        self.unseen_scaling = settings.unseen_channel_scaling
        self.asked_lines_scaling = settings.asked_lines_scaling
        self.line_gate = gate_for(embedder.model_name, embedder.dimension) if settings.line_gate else None
        self._figure_refs: tuple[str, dict[str, list[str]]] = ("", {})
        self.last_timings: dict[str, float] = {}
        # its thread starts with the first question
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="multilingual-query")
        self._unseen_vectors: dict[str, np.ndarray] = {}  # `_score_unseen`: passage text -> vector

    def _multilingual_vector(self, text: str) -> Future[np.ndarray]:
        """The multilingual question vector, computed on the retriever's worker thread while BM25
        and MiniLM run on the caller's: each model embeds on one thread, so on two cores the two
        question embeddings overlap (bench/query_latency.py: docs/benchmarks.md, eleventh session).
        One worker: e5 questions from several sessions queue rather than oversubscribe the cores."""
        assert self.multilingual_embedder is not None
        return self._worker.submit(self.multilingual_embedder.embed_query, text)

    @classmethod
    def from_settings(cls, reader: IndexReader, vectors: VectorStore, embedder: Embedder, s: Settings,
                      **multilingual: object) -> HybridRetriever:
        return cls(reader, vectors, embedder, s, **multilingual)  # type: ignore[arg-type]

    def snapshot(self) -> Snapshot:
        return self.reader.snapshot()

    def search(self, q: Query) -> list[ScoredChunk]:
        return self.retrieve(q).chunks

    def multilingual_ready(self, snap: Snapshot) -> bool:
        """The multilingual channel is configured and the snapshot's index has its vectors."""
        ml = self.multilingual_vectors
        return ml is not None and bool(snap.multilingual_collection) and snap.multilingual_collection == ml.name

    def weights(self, q: Query, snap: Snapshot) -> dict[str, float]:
        """The channels searched for this question and their weights (a zero weight: not searched)."""
        if q.mode != "hybrid":
            if q.mode == MULTILINGUAL and not self.multilingual_ready(snap):
                raise ValueError("the multilingual channel is off or this index has no multilingual vectors "
                                 "(ASSISTANT_MULTILINGUAL_MODEL, then `usmca-assistant index`)")
            return {q.mode: 1.0}
        if not self.multilingual_ready(snap):
            return dict(self.two_channel_weights)
        if q.a.language == ENGLISH:
            return dict(self.english_weights)
        return dict(self.other_language_weights)

    def retrieve(self, q: Query) -> Retrieval:
        """The top `q.k` passages for the analysed question, with the snapshot they come from."""
        if q.mode not in MODES:
            raise ValueError(f"unknown retrieval mode '{q.mode}' (choose from {', '.join(MODES)})")
        a = q.a
        snap = self.reader.snapshot()
        if snap.empty:
            return Retrieval([], snap)
        weights = {name: w for name, w in self.weights(q, snap).items() if w > 0}
        # the multilingual vectors start first, on the worker, so that MiniLM's overlaps them
        ml_pending = self._multilingual_vector(q.typed) if MULTILINGUAL in weights else None
        asked_text = q.typed_after_premise if ml_pending is not None else ""
        asked_pending = self._multilingual_vector(asked_text) if asked_text else None
        # once per question: the dense search, the tariff-line gate, refusal and composition (MiniLM)
        t = time.perf_counter()
        vector = self.embedder.embed_query(q.text)
        embed_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        kinds, lines_may_join = self._kinds(q, snap, lambda: self._asks_for_lines(q, vector))
        gate_ms = (time.perf_counter() - t) * 1000
        # the question narrowed itself to the brief: coverage then reads the brief's words only
        scope = frozenset(kinds) if kinds == {"brief"} and not q.kinds else None
        runs: dict[str, list[tuple[str, float]]] = {}
        t0 = time.perf_counter()
        if BM25 in weights:
            tokens = with_long_forms(q.text, snap)
            lexical = snap.lexical.search_tokens(tokens, self.lexical_candidates, snap.mask(kinds, q.documents))
            if lines_may_join:
                lexical = self._with_strong_tariff_lines(q, snap, lexical)
            runs[BM25] = self._lines_weighted(lexical, tokens, snap, q.documents, lines_may_join)
        t1 = time.perf_counter()
        if MINILM in weights:
            runs[MINILM] = self._dense(self.vectors, vector, q, snap, kinds)
        t2 = time.perf_counter()
        ml_vector = None
        if ml_pending is not None:
            assert self.multilingual_vectors is not None
            ml_vector = ml_pending.result()  # the time beyond the overlap is counted here
            runs[MULTILINGUAL] = self._dense(self.multilingual_vectors, ml_vector, q, snap, kinds)
        t3 = time.perf_counter()
        prf_weight = self.prf_weights[a.language == ENGLISH]
        if BM25 in weights and MULTILINGUAL in weights and prf_weight > 0:  # as fitted: three channels
            runs[EXPANDED] = self._expanded(q, snap, kinds, self._fuse(runs, weights))
            weights[EXPANDED] = prf_weight
        fused = self._fuse(runs, weights)
        context_vector = None
        if a.context and q.mode == "hybrid" and self.context_weight > 0:
            context_vector = self._add_context(fused, q, snap, kinds, weights, lines_may_join)
        if self.lexical_only_kinds:
            self._as_if_seen(fused, weights, snap, self._line_scaling(lines_may_join))
        if not a.asks_for_source:
            # a footnote passage competes with the claim it supports only when sources are asked for
            for cid, f in fused.items():
                if "note" in snap.chunks[cid].meta:
                    f.score *= self.note_prior
        if self.kind_prior:
            for cid, f in fused.items():
                f.score *= 1.0 + self.kind_prior.get(snap.chunks[cid].kind, 0.0)
        exact = [cid for key in a.identifiers for cid in snap.by_key.get(key.lower(), [])]
        exact = [cid for cid in dict.fromkeys(exact) if self._allowed(snap.chunks[cid], kinds, q.documents)]
        if exact:
            # The passages of a named article/section/tariff line go first: the most specific
            # (the named paragraph or subsection, the table row a code labels), then the
            # best-scoring ones, at most MAX_EXACT.
            exact.sort(
                key=lambda cid: (
                    not any(sp in snap.chunks[cid].label for sp in a.specific_refs),
                    not any(_labels_row(snap.chunks[cid], key) for key in a.identifiers),
                    -(fused[cid].score if cid in fused else 0.0),
                    snap.chunks[cid].position,
                )
            )
            top = max((f.score for f in fused.values()), default=1.0)
            for i, cid in enumerate(exact[:MAX_EXACT]):
                fused.setdefault(cid, _Fused()).score = top + 1.0 / (1 + i)
        ranked = self._with_figure_text(sorted(fused.items(), key=lambda kv: -kv[1].score), snap)
        if a.asks_for_figure:
            ranked = self._with_tables_led_in(ranked, snap)
        if a.asks_for_source:
            ranked = self._with_cited_notes(ranked, snap, vector)
        ranked = ranked[: q.k]
        timings = {"lexical_ms": (t1 - t0) * 1000, "dense_ms": (t2 - t1) * 1000 + embed_ms,
                   "multilingual_ms": (t3 - t2) * 1000, "line_gate_ms": gate_ms}
        self.last_timings = timings
        chunks = [
            ScoredChunk(chunk=snap.chunks[cid], score=f.score, dense=f.dense, lexical=f.lexical, rank=i + 1,
                        multilingual=f.multilingual)
            for i, (cid, f) in enumerate(ranked)
            if cid in snap.chunks
        ]
        ml_model = "" if ml_vector is None else str(
            getattr(self.multilingual_embedder, "name", None) or getattr(self.multilingual_embedder, "model_name", "")
        )
        unseen: dict[str, np.ndarray] = {}
        if ml_vector is not None and _lines_scored(a, chunks):
            t5 = time.perf_counter()
            unseen = self._score_unseen(chunks, ml_vector)
            timings["unseen_multilingual_ms"] = (time.perf_counter() - t5) * 1000
        asked: dict[str, float] = {}
        if asked_pending is not None:
            # the same feature on the asked text: the passages the multilingual channel found, and
            # the lines scored above from their text
            found = [sc.chunk.id for sc in chunks if sc.multilingual is not None and sc.chunk.id not in unseen]
            if found or unseen:
                assert self.multilingual_vectors is not None
                t4 = time.perf_counter()
                asked_vector = asked_pending.result()
                stored = {**(self.multilingual_vectors.vectors(found) if found else {}), **unseen}
                asked = {cid: float(v @ asked_vector) for cid, v in stored.items()}
                timings["asked_multilingual_ms"] = (time.perf_counter() - t4) * 1000
            else:
                asked_pending.cancel()
        return Retrieval(chunks, snap, vector, scope, timings, ml_vector, weights, context_vector, ml_model, asked,
                         frozenset(unseen), not lines_may_join and (kinds is None or bool(kinds & self.lexical_only_kinds)))

    def _score_unseen(self, chunks: list[ScoredChunk], ml_vector: np.ndarray) -> dict[str, np.ndarray]:
        """The multilingual cosine of the first UNSEEN_SCORED passages indexed without vectors
        (lexical-only kinds), from the text the refusal reads (`Chunk.read_text`: a tariff line's
        search-only terms never count as evidence), embedded on the worker thread so that sessions
        queue, and kept per passage text (UNSEEN_CACHE). Returns the vectors, by passage id."""
        unseen = [i for i, sc in enumerate(chunks[:UNSEEN_SCORED])
                  if sc.multilingual is None and sc.chunk.kind in self.lexical_only_kinds]
        if not unseen or self.multilingual_embedder is None:
            return {}
        texts = [chunks[i].chunk.read_text for i in unseen]
        known = {t: v for t in texts if (v := self._unseen_vectors.get(t)) is not None}
        todo = [t for t in dict.fromkeys(texts) if t not in known]
        if todo:
            fresh = dict(zip(todo, self._worker.submit(self.multilingual_embedder.embed_passages, todo).result(),
                             strict=True))
            if len(self._unseen_vectors) + len(fresh) > UNSEEN_CACHE:
                self._unseen_vectors.clear()
            self._unseen_vectors.update(fresh)
            known.update(fresh)
        out: dict[str, np.ndarray] = {}
        for i, text in zip(unseen, texts, strict=True):
            v = known[text]
            chunks[i] = replace(chunks[i], multilingual=float(v @ ml_vector))
            out[chunks[i].chunk.id] = v
        return out

    def _line_scaling(self, lines_may_join: bool) -> float:
        """The exponent of `_as_if_seen`: lines searched because the question asks for them are
        what is asked and compete at every channel's full weight (`asked_lines_scaling`); lines
        that join a question on prose by matching it strongly, at `unseen_scaling`."""
        return self.unseen_scaling if lines_may_join else self.asked_lines_scaling

    def _as_if_seen(self, fused: dict[str, _Fused], weights: dict[str, float], snap: Snapshot,
                    scaling: float) -> None:
        """A passage indexed without vectors (a tariff line) is seen by the lexical runs only, so the
        dense channels' votes can never add to its score; scaled by the share of the fusion's weight
        the lexical runs hold (to the power `scaling`; 1: fully), it competes as if every channel had
        ranked it where BM25 did."""
        lexical = sum(w for name, w in weights.items() if name in (BM25, EXPANDED))
        total = sum(weights.values())
        if not scaling or not lexical or total <= lexical:
            return
        factor = (total / lexical) ** scaling
        for cid, f in fused.items():
            if snap.chunks[cid].kind in self.lexical_only_kinds:
                f.score *= factor

    def _expanded(self, q: Query, snap: Snapshot, kinds: set[str] | None,
                  first: dict[str, _Fused]) -> list[tuple[str, float]]:
        """BM25 on the question's terms plus the PRF_TERMS words of highest tf x idf in the
        PRF_PASSAGES passages the channels ranked first."""
        top = sorted(first.items(), key=lambda kv: -kv[1].score)[:PRF_PASSAGES]
        own = snap.lexical.query_tokens(q.text)
        weights: dict[str, float] = {}
        for cid, _ in top:
            for t in tokenize(snap.chunks[cid].text):
                if t not in own and not t[0].isdigit():
                    weights[t] = weights.get(t, 0.0) + snap.lexical.idf(t)
        extra = sorted(weights, key=lambda t: -weights[t])[:PRF_TERMS]
        run = snap.lexical.search_tokens(own + extra, self.lexical_candidates, snap.mask(kinds, q.documents))
        # lines are in this run only when they are asked for (`kinds` holds them)
        return self._lines_weighted(run, own + extra, snap, q.documents, admitted_only=False)

    def _add_context(self, fused: dict[str, _Fused], q: Query, snap: Snapshot, kinds: set[str] | None,
                     weights: dict[str, float], lines_may_join: bool) -> np.ndarray | None:
        """A follow-up searched again with the thread's questions appended (`QueryAnalysis.context`), each
        channel at `context_weight` times its own weight: the thread's subject counts, below the
        turn's own words. The channels' own scores stay those of the turn alone. An English turn
        that was rewritten is searched here as typed (`QueryAnalysis.typed_turn`): the rewrite
        leads the turn's own run, and this run does not depend on it, so a swap that replaced the
        wrong phrase loses nothing the user wrote (over the tuning conversations' 186 rewritten
        follow-ups, hit@5 0.790 -> 0.833, none lower). Returns the MiniLM vector of the rewrite
        with the thread appended, which refusal reads beside `QueryAnalysis.thread`
        (None when that channel was not searched)."""
        a = q.a
        text = f"{a.typed_turn or q.text} {a.context_english}"
        typed = text if a.language == ENGLISH else f"{q.typed} {a.context}"
        runs: dict[str, list[tuple[str, float]]] = {}
        ml_pending = self._multilingual_vector(typed) if MULTILINGUAL in weights else None
        if BM25 in weights:
            tokens = snap.lexical.query_tokens(text)
            runs[BM25] = snap.lexical.search_tokens(tokens, self.lexical_candidates, snap.mask(kinds, q.documents))
            if lines_may_join:
                runs[BM25] = self._with_strong_tariff_lines(replace(q, text=text), snap, runs[BM25])
            runs[BM25] = self._lines_weighted(runs[BM25], tokens, snap, q.documents, lines_may_join)
        context_vector = None
        if MINILM in weights:
            searched = self.embedder.embed_query(text)
            runs[MINILM] = self._dense(self.vectors, searched, q, snap, kinds)
            context_vector = self.embedder.embed_query(f"{q.text} {a.context_english}") if a.typed_turn else searched
        if ml_pending is not None:
            assert self.multilingual_vectors is not None
            runs[MULTILINGUAL] = self._dense(self.multilingual_vectors, ml_pending.result(), q, snap, kinds)
        for name, hits in runs.items():
            w = weights[name] * self.context_weight
            for rank, (cid, _) in enumerate(hits):
                fused.setdefault(cid, _Fused()).score += w / (self.rrf_k + rank + 1)
        return context_vector

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

    def _lines_weighted(self, run: list[tuple[str, float]], tokens: list[str], snap: Snapshot,
                        documents: set[str] | None, admitted_only: bool) -> list[tuple[str, float]]:
        """The tariff lines of a BM25 run keep their places among the other passages, but which
        line takes each place is decided by BM25 with the fitted weights of the question's terms
        (`retrieve.line_terms`): "charge" or "Canadian" in the question no longer picks the line
        that happens to say them. Lines asked for may come from the whole schedule; lines that
        joined prose by matching strongly (`admitted_only`) are only reordered among themselves.
        A place keeps its score (what ordered the run); the line in it is the weighted choice."""
        places = [i for i, (cid, _) in enumerate(run) if snap.chunks[cid].kind == "tariff"]
        if not places or not self.line_weights:
            return run
        if admitted_only:
            allowed = np.zeros(len(snap.lexical.ids), dtype=bool)
            for i in places:
                if (pos := snap.lexical.position(run[i][0])) is not None:
                    allowed[pos] = True
        else:
            allowed = snap.mask({"tariff"}, documents)
        ranked = [cid for cid, _ in snap.lexical.search_tokens(tokens, len(places), allowed, self.line_weights)]
        ranked += [run[i][0] for i in places if run[i][0] not in ranked]
        out = list(run)
        for i, cid in zip(places, ranked, strict=False):
            out[i] = (cid, run[i][1])
        return out

    def _with_figure_text(self, ranked: list[tuple[str, _Fused]], snap: Snapshot) -> list[tuple[str, _Fused]]:
        """A table found by its numbers is followed by the passage that discusses it ("…$840
        billion of bilateral trade (Figure 1)"): the figure and its finding in words belong together."""
        return _kept_together(ranked, self._figure_references(snap), above=False)

    @staticmethod
    def _with_tables_led_in(ranked: list[tuple[str, _Fused]], snap: Snapshot) -> list[tuple[str, _Fused]]:
        """A figure question that finds the passage leading in to a table ("... the aggregate
        quantity ... in each quota year under this TRQ is:") finds the table's numbers right above
        it: the lead-in names the quota, the table holds the figure asked for."""
        return _kept_together(ranked, {lead: [table] for lead, table in snap.tables_led_in().items()}, above=True)

    def _with_cited_notes(
        self, ranked: list[tuple[str, _Fused]], snap: Snapshot, vec: np.ndarray | None
    ) -> list[tuple[str, _Fused]]:
        """A source is named in the footnote of the claim, and a footnote's text shares few words
        with the question: each of the first claim passages is followed by the notes its sentence
        closest to the question carries (the brief's own claim -> footnote links)."""
        notes = snap.note_passages()
        if not notes:
            return ranked
        out: list[tuple[str, _Fused]] = []
        placed: set[str] = set()
        claims = 0
        for cid, f in ranked:
            if cid in placed:
                continue
            out.append((cid, f))
            placed.add(cid)
            c = snap.chunks[cid]
            if claims >= NOTE_CLAIMS or "note" in c.meta or not c.footnotes:
                continue
            claims += 1
            for n in self._marks_closest_to(c, snap, vec)[:NOTES_PER_CLAIM]:
                nid = notes.get((c.document_id, n))
                if nid is not None and nid not in placed:
                    out.append((nid, _Fused(f.score - 1e-9)))
                    placed.add(nid)
        return out

    @staticmethod
    def _marks_closest_to(c: Chunk, snap: Snapshot, vec: np.ndarray | None) -> list[int]:
        """The footnote marks of the passage's sentence most similar to the question (all of the
        passage's marks in text order when it has no sentence vectors)."""
        if vec is None or c.id not in snap.sentence_spans:
            return footnote_marks(c.text)
        spans, vecs = snap.sentences(c.id)
        marked = [(float(vecs[i] @ vec), footnote_marks(c.text[s:e])) for i, (s, e) in enumerate(spans)]
        marked = [(sim, marks) for sim, marks in marked if marks]
        return max(marked, key=lambda x: x[0])[1] if marked else footnote_marks(c.text)

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

    def _asks_for_lines(self, q: Query, vector: np.ndarray) -> bool:
        """The tariff-line gate (`retrieve.line_gate`) on the question's vector or, for a turn read
        with its thread, on the vector of the turn with the thread appended (the one `_add_context`
        searches), so "What about motorcycles?" after a question on Canada's lines asks for lines."""
        gate = self.line_gate
        if gate is None:
            return False
        if gate.asks_for_lines(vector):
            return True
        a = q.a
        if a.context and q.mode == "hybrid" and self.context_weight > 0:
            return gate.asks_for_lines(self.embedder.embed_query(f"{a.typed_turn or q.text} {a.context_english}"))
        return False

    def _kinds(self, q: Query, snap: Snapshot,
               asks_for_lines: Callable[[], bool] = lambda: False) -> tuple[set[str] | None, bool]:
        """(the kinds to search, whether tariff lines that match strongly may still join): the
        user's filter as given; the brief alone for a question about the brief; otherwise all
        kinds, tariff lines only when asked for (a tariff item or rate, a schedule named, or the
        tariff-line gate, `asks_for_lines`, consulted only when the rest leaves it open) or matching
        as strongly as the best prose, and never when every schedule named is one whose lines are
        not indexed (Canada's lines cannot answer for Mexico's schedule). The flag also chooses how
        fully lines are weighed against prose (`_as_if_seen`: joining lines or asked ones)."""
        if q.kinds:
            return set(q.kinds), False
        present = set(snap.kinds.tolist())
        if "brief" in present and q.a.names_brief and not q.a.names_legal:
            # "what does the brief want …": the brief answers, not a statute on the same subject
            return {"brief"}, False
        indexed = snap.scheduled_parties()
        if q.a.schedules and indexed.isdisjoint(q.a.schedules):
            # another party's lines cannot answer for the schedule named ("Mexico's schedule")
            return present - {"tariff"}, False
        if "tariff" in present and not (q.a.wants_tariff_lines or q.a.schedules or asks_for_lines()):
            return present - {"tariff"}, True
        return None, False

    @staticmethod
    def _allowed(c: Chunk, kinds: set[str] | None, documents: set[str] | None) -> bool:
        return (not kinds or c.kind in kinds) and (not documents or c.document_id in documents)

    def _dense(
        self, store: VectorStore, vec: np.ndarray, q: Query, snap: Snapshot, kinds: set[str] | None
    ) -> list[tuple[str, float]]:
        where: dict | None = None
        if kinds:
            where = {"kind": {"$in": sorted(kinds)}}
        if q.documents:
            doc_filter = {"document_id": {"$in": sorted(q.documents)}}
            where = {"$and": [where, doc_filter]} if where else doc_filter
        hits = store.query(vec, self.dense_candidates, where)
        # Vectors not in the committed snapshot (a crashed or running writer's) are ignored.
        return [(cid, s) for cid, s in hits if cid in snap.chunks]

    def _fuse(self, runs: dict[str, list[tuple[str, float]]], weights: dict[str, float]) -> dict[str, _Fused]:
        """Weighted reciprocal rank over the channels' ranked candidates; each channel's own score kept."""
        out: dict[str, _Fused] = {}
        for name, hits in runs.items():
            w = weights.get(name, 0.0)
            for rank, (cid, score) in enumerate(hits):
                f = out.setdefault(cid, _Fused())
                f.score += w / (self.rrf_k + rank + 1)
                if name == BM25:
                    f.lexical = score
                elif name == MINILM:
                    f.dense = score
                elif name == MULTILINGUAL:
                    f.multilingual = score
        return out
