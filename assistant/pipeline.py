"""The assistant as one object: settings in, `ask(question) -> Answer` out, or `stream(question)`.

CLI, UI and evaluation all go through this class, so they answer identically. Heavy resources
(embedding model, Chroma client, index snapshot, chat models) are created once and reused; the
snapshot is reloaded automatically when another process commits a new index.

One question goes through the same steps whatever the backend:

1. a follow-up is rewritten into a standalone question (`conversation`);
2. "what does the brief recommend on X" goes to the recommendation summary (`recommend`);
3. otherwise the question (with an English gloss when it is Spanish, `translate`) is retrieved;
4. the evidence decides abstention (`abstain`), in code, for every backend;
5. the extractive composer or an LLM writes the answer, streamed in pieces;
6. every answer is verified sentence by sentence against its citations (`verify`), and each
   citation gets its related passages: the cited source's own words, cross-referenced articles
   (`related`).

An LLM backend that cannot be built or reached, or whose answer does not survive verification,
leaves a warning and the extractive answer, never an exception.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from langchain_core.language_models import BaseChatModel

from assistant.answer import abstain as abstention
from assistant.answer.citations import MarkerMapper, build_citation, location
from assistant.answer.conversation import standalone_question
from assistant.answer.extractive import (
    compose,
    query_weights,
    score_candidates,
    select,
    sentence_candidates,
    wants_source,
)
from assistant.answer.llm import EXTRACTIVE, BackendUnavailable, make_chat_model
from assistant.answer.prompts import CANNOT_ANSWER, PromptPassage, answer_messages, says_cannot_answer
from assistant.answer.recommend import is_recommendation_question, summary_answer
from assistant.answer.related import related_passages
from assistant.answer.verify import verify
from assistant.domain import Answer, Chunk, ScoredChunk
from assistant.index.embeddings import Embedder, get_embedder
from assistant.index.store import IndexReader, Snapshot
from assistant.index.vectors import VectorStore, make_client
from assistant.retrieve.hybrid import HybridRetriever, Query
from assistant.retrieve.translate import english_gloss, expand_query, question_language
from assistant.settings import Settings, get_settings

ABSTAIN_TEXT = "The indexed documents do not answer this."
History = list[tuple[str, str]]


@dataclass
class _Question:
    """One question on its way through the pipeline."""

    question: str
    standalone: str
    search_text: str
    backend: str
    model: BaseChatModel | None
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    started: float = 0.0


@dataclass
class _Evidence:
    retrieved: list[ScoredChunk]
    snap: Snapshot
    candidates: list
    abstain: bool
    reason: str
    features: abstention.EvidenceFeatures | None = None


class Assistant:
    def __init__(self, settings: Settings | None = None, *, chat_models: Mapping[str, BaseChatModel] | None = None):
        """`chat_models` supplies ready-made chat models by backend name (tests pass fakes; an
        application may share one client); other LLM backends are built from settings on first use."""
        self.settings = settings or get_settings()
        self.reader = IndexReader(self.settings.index_dir)
        self._chat_models: dict[str, BaseChatModel] = dict(chat_models or {})

    @cached_property
    def embedder(self) -> Embedder:
        return get_embedder(self.settings.embedding_model, self.settings.embedding_batch_size)

    @cached_property
    def vectors(self) -> VectorStore:
        client = make_client(self.settings.index_dir, self.settings.chroma_host, self.settings.chroma_port)
        return VectorStore(client, self.settings.embedding_model)

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever.from_settings(self.reader, self.vectors, self.embedder, self.settings)

    def chat_model(self, backend: str) -> BaseChatModel:
        """The chat model of an LLM backend, built once (raises `BackendUnavailable`)."""
        if backend not in self._chat_models:
            self._chat_models[backend] = make_chat_model(backend, self.settings)
        return self._chat_models[backend]

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

    # ---- answering ------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        *,
        history: History | None = None,
        backend: str | None = None,
        k: int | None = None,
        kinds: set[str] | None = None,
        documents: set[str] | None = None,
        mode: str = "hybrid",
    ) -> Answer:
        """The verified, cited answer (or an explicit abstention) to `question`.

        `history` is the conversation so far as (role, text) pairs, role "user" or "assistant";
        `backend` overrides `settings.answer_backend` for this question."""
        answer = None
        for piece in self._answer(question, history, backend, k, kinds, documents, mode, streaming=False):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        *,
        history: History | None = None,
        backend: str | None = None,
        k: int | None = None,
        kinds: set[str] | None = None,
        documents: set[str] | None = None,
        mode: str = "hybrid",
    ) -> Iterator[str | Answer]:
        """Text pieces as the answer is written, then the final verified `Answer` (whose text can
        differ from the streamed one: verification may drop sentences and renumber citations)."""
        yield from self._answer(question, history, backend, k, kinds, documents, mode, streaming=True)

    def _answer(
        self,
        question: str,
        history: History | None,
        backend: str | None,
        k: int | None,
        kinds: set[str] | None,
        documents: set[str] | None,
        mode: str,
        *,
        streaming: bool,
    ) -> Iterator[str | Answer]:
        q = self._prepare(question, history, backend)
        topic = is_recommendation_question(q.standalone)
        if topic is not None and not documents and (not kinds or "brief" in kinds):
            answer = self._recommendations(q)
            if answer is not None:
                yield from self._emit(answer, streaming)
                return
        t = time.perf_counter()
        ev = self._evidence(q, k, kinds, documents, mode)
        q.timings["retrieve"] = (time.perf_counter() - t) * 1000
        if ev.abstain:
            yield from self._emit(self._abstention(q, ev), streaming)
            return
        if q.model is not None:
            yield from self._llm_answer(q, ev, streaming)
            return
        yield from self._emit(self._extractive(q, ev), streaming)

    def _prepare(self, question: str, history: History | None, backend: str | None) -> _Question:
        started = time.perf_counter()
        question = question.strip()
        name = (backend or self.settings.answer_backend or EXTRACTIVE).strip().lower()
        warnings: list[str] = []
        model = None
        if name != EXTRACTIVE:
            try:
                model = self.chat_model(name)
            except BackendUnavailable as e:
                warnings.append(f"answer backend '{name}' is unavailable: {e}; showing the extractive answer")
                name = EXTRACTIVE
            except Exception as e:  # a misconfigured client must not stop the question
                warnings.append(f"answer backend '{name}' could not be set up ({type(e).__name__}: {e}); "
                                "showing the extractive answer")
                name = EXTRACTIVE
        t = time.perf_counter()
        standalone, rewrite_warnings = standalone_question(
            question, history, llm=model, max_turns=self.settings.history_turns
        )
        warnings.extend(rewrite_warnings)
        timings = {"rewrite": (time.perf_counter() - t) * 1000} if history else {}
        return _Question(question, standalone, expand_query(standalone), name, model, warnings, timings, started)

    def _evidence(
        self, q: _Question, k: int | None, kinds: set[str] | None, documents: set[str] | None, mode: str
    ) -> _Evidence:
        retrieved = self.retrieve(q.search_text, k, kinds=kinds, documents=documents, mode=mode)
        snap = self.reader.snapshot()
        if not retrieved:
            return _Evidence(retrieved, snap, [], True, "nothing retrieved")
        query_vector = self.embedder.embed_query(q.search_text)  # abstention needs it whatever retrieved
        cands = sentence_candidates(retrieved, snap, notes=wants_source(q.standalone))
        score_candidates(q.search_text, cands, query_weights(q.search_text, snap), self.embedder)
        spanish = question_language(q.standalone) == "es"
        english = english_gloss(q.standalone) if spanish else q.standalone
        scope = self.retriever.scope(Query(q.search_text, k or self.settings.top_k, kinds, documents, mode))
        feats = abstention.features(english, retrieved, snap, query_vector, translated=spanish, scope=scope)
        abstain, reason = abstention.decide(feats)
        return _Evidence(retrieved, snap, cands, abstain, reason, feats)

    def evidence(
        self,
        question: str,
        *,
        history: History | None = None,
        k: int | None = None,
        kinds: set[str] | None = None,
        documents: set[str] | None = None,
        mode: str = "hybrid",
    ) -> tuple[abstention.EvidenceFeatures | None, bool, str]:
        """(evidence features, abstain?, reason) for a question, without composing an answer:
        what the abstention rule sees (used to calibrate it, and by the UI to explain it)."""
        q = self._prepare(question, history, EXTRACTIVE)
        ev = self._evidence(q, k, kinds, documents, mode)
        return ev.features, ev.abstain, ev.reason

    # ---- the answer's producers -----------------------------------------------------------

    def _abstention(self, q: _Question, ev: _Evidence, backend: str | None = None) -> Answer:
        answer = Answer(q.question, ABSTAIN_TEXT, [], True, ev.retrieved, backend=backend or q.backend)
        answer.abstain_reason = ev.reason
        return self._finish(q, answer)

    def _extractive(self, q: _Question, ev: _Evidence) -> Answer:
        chosen = select(ev.candidates, self.settings.max_answer_sentences)
        if not chosen:
            return self._abstention(q, ev, EXTRACTIVE)
        text, used = compose(chosen, q.standalone, ev.snap.sources)
        passages = {n: chunk for n, (chunk, _) in enumerate(used, start=1)}
        notes = {c.id: _cited_sources(c, ev.snap) for c in passages.values()}
        checked = verify(text, passages, policy=self.settings.unsupported_sentences, verbatim=True, notes=notes)
        quotes = {n: sents for n, (_, sents) in enumerate(used, start=1)}
        citations = [
            build_citation(new, passages[old], quotes[old], ev.snap.sources)
            for old, new in sorted(checked.numbering.items(), key=lambda kv: kv[1])
        ]
        answer = Answer(q.question, checked.text, citations, False, ev.retrieved, backend=EXTRACTIVE,
                        support=checked.support)
        if not citations:
            return self._abstention(q, ev, EXTRACTIVE)
        return self._finish(q, answer)

    def _recommendations(self, q: _Question) -> Answer | None:
        """The brief's recommendations on the question's topic, verified like any answer."""
        snap = self.reader.snapshot()
        if snap.empty or not any(c.kind == "brief" for c in snap.chunks.values()):
            return None
        t = time.perf_counter()
        answer = summary_answer(q.standalone, snap)
        q.timings["retrieve"] = (time.perf_counter() - t) * 1000
        answer.question = q.question
        if answer.abstained:
            return self._finish(q, answer)
        passages = {c.number: snap.chunks[c.chunk_id] for c in answer.citations if c.chunk_id in snap.chunks}
        checked = verify(answer.text, passages, policy=self.settings.unsupported_sentences)
        by_number = {c.number: c for c in answer.citations}
        citations = []
        for old, new in sorted(checked.numbering.items(), key=lambda kv: kv[1]):
            c = by_number[old]
            c.number = new
            citations.append(c)
        answer.text, answer.citations, answer.support = checked.text, citations, checked.support
        return self._finish(q, answer)

    def _llm_answer(self, q: _Question, ev: _Evidence, streaming: bool) -> Iterator[str | Answer]:
        assert q.model is not None
        top = ev.retrieved[: self.settings.llm_passages]
        notes = {sc.chunk.id: _cited_sources(sc.chunk, ev.snap) for sc in top}
        prompt = [PromptPassage(i, location(sc.chunk), sc.chunk.text, notes[sc.chunk.id])
                  for i, sc in enumerate(top, start=1)]
        messages = answer_messages(q.standalone, prompt, self.settings.max_answer_sentences)
        mapper = MarkerMapper(len(prompt))
        parts: list[str] = []
        emitted = 0
        t = time.perf_counter()
        try:
            for chunk in q.model.stream(messages):
                parts.append(mapper.feed(chunk.text))
                if streaming:
                    so_far = "".join(parts)
                    # hold back what may be the cannot-answer sentinel: it is never shown as text
                    if not _maybe_sentinel(so_far) and len(so_far) > emitted:
                        yield so_far[emitted:]
                        emitted = len(so_far)
            parts.append(mapper.flush())
            so_far = "".join(parts)
            if streaming and not _maybe_sentinel(so_far) and len(so_far) > emitted:
                yield so_far[emitted:]
        except Exception as e:  # unreachable server, timeout, bad model name ...
            q.warnings.append(
                f"answer backend '{q.backend}' failed ({_describe(e)}); showing the extractive answer"
            )
            yield from self._emit(self._extractive(q, ev), streaming)
            return
        q.timings["llm"] = (time.perf_counter() - t) * 1000
        text = "".join(parts).strip()
        if mapper.dropped:
            q.warnings.append(f"removed citation markers to passages that do not exist: {', '.join(mapper.dropped)}")
        if says_cannot_answer(text) or not text:
            yield from self._emit(self._abstention(q, ev), streaming)
            return
        text = text.replace(CANNOT_ANSWER, "").strip()
        cited = {new: top[old - 1].chunk for old, new in mapper.numbers.items()}
        snap = ev.snap
        checked = verify(
            text,
            cited,
            embed=lambda texts: np.asarray(self.embedder.embed(texts)),
            sentence_vectors=lambda cid: snap.sentences(cid) if cid in snap.sentence_spans else None,
            policy=self.settings.unsupported_sentences,
            notes=notes,
        )
        if not checked.numbering:
            q.warnings.append(
                f"no sentence of the '{q.backend}' answer was supported by the passages it cites; "
                "showing the extractive answer"
            )
            yield self._extractive(q, ev)
            return
        if checked.dropped:
            q.warnings.append(f"{checked.dropped} sentence(s) not supported by their cited passages were removed")
        citations = [
            build_citation(new, cited[old], checked.quotes.get(new, []), snap.sources)
            for old, new in sorted(checked.numbering.items(), key=lambda kv: kv[1])
        ]
        yield self._finish(
            q, Answer(q.question, checked.text, citations, False, ev.retrieved, backend=q.backend, support=checked.support)
        )

    # ---- shared ends ------------------------------------------------------------------------

    def _finish(self, q: _Question, answer: Answer) -> Answer:
        if answer.citations:
            snap = self.reader.snapshot()
            for c in answer.citations:
                try:
                    c.related = related_passages(c, snap, self.retriever)
                except Exception as e:  # a missing link must not cost the answer
                    q.warnings.append(f"related passages for [{c.number}] unavailable ({_describe(e)})")
        answer.standalone_question = q.standalone
        answer.warnings = list(dict.fromkeys(q.warnings + answer.warnings))
        total = (time.perf_counter() - q.started) * 1000
        answer.timings_ms = {**q.timings, "answer": total - sum(q.timings.values()), "total": total}
        return answer

    @staticmethod
    def _emit(answer: Answer, streaming: bool) -> Iterator[str | Answer]:
        """The finished answer's text in word-sized pieces (streaming), then the answer itself."""
        if streaming:
            yield from re.findall(r"\S+\s*|\s+", answer.text)
        yield answer


def _cited_sources(chunk: Chunk, snap: Snapshot) -> str:
    """The sources a passage's footnotes cite, as one line ("13: Fact Sheet ..., USTR, 2024")."""
    refs = [snap.sources[n] for n in chunk.footnotes if n in snap.sources]
    return "; ".join(f"{r.footnote}: {' '.join(r.text.split())}" for r in refs)


def _maybe_sentinel(text: str) -> bool:
    """The model's text so far is (the start of) the cannot-answer sentinel."""
    stripped = text.strip()
    return CANNOT_ANSWER in text or (bool(stripped) is False) or CANNOT_ANSWER.startswith(stripped)


def _describe(e: Exception) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__

