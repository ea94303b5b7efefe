"""The assistant as one object: settings in, `ask(question) -> Answer` out, or `stream(question)`.

CLI, UI and evaluation all go through this class, so they answer identically. Heavy resources
(embedding model, Chroma client, index snapshot, chat models) are created once and reused; the
snapshot is reloaded automatically when another process commits a new index.

One question goes through the same steps whatever the backend:

1. a follow-up is rewritten into a standalone question (`conversation`);
2. "what does the brief recommend on X" goes to the recommendation summary (`recommend`);
3. otherwise the question is retrieved: BM25, MiniLM and the multilingual model fused, routed by the
   question's language (`retrieve.language`; a Spanish question's BM25 side searches its English
   gloss, `translate`);
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
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from assistant.answer import abstain as abstention
from assistant.answer.abstain import Decision, with_not_covered
from assistant.answer.backends import EXTRACTIVE, BackendUnavailable, describe_error
from assistant.answer.citations import MarkerMapper, build_citation, cited_sources
from assistant.answer.conversation import understand
from assistant.answer.coverage import states_figure
from assistant.answer.extractive import (
    MAX_POINTS,
    WORD_BUDGET,
    Candidate,
    compose,
    compose_short,
    query_weights,
    score_candidates,
    select,
    sentence_candidates,
    shape,
)
from assistant.answer.language_note import with_sources_language
from assistant.answer.prompts import (
    CANNOT_ANSWER,
    PromptPassage,
    answer_messages,
    maybe_sentinel,
    says_cannot_answer,
)
from assistant.answer.recommend import draft_answer, finish_answer
from assistant.answer.related import related_passages
from assistant.answer.state import AskedQuestion, Evidence
from assistant.answer.verify import verify
from assistant.domain import Answer, ScoredChunk
from assistant.index.embeddings import Embedder, get_embedder
from assistant.index.store import IndexReader
from assistant.index.vectors import VectorStore, make_client, multilingual_store
from assistant.retrieve.analysis import QueryAnalysis, analyze_question
from assistant.retrieve.hybrid import HybridRetriever, Query, Retrieval
from assistant.settings import Settings, get_settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

History = list[tuple[str, str]]


class Assistant:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        chat_models: Mapping[str, BaseChatModel] | None = None,
        embedder: Embedder | None = None,
        multilingual_embedder: Embedder | None = None,
    ):
        """`chat_models` supplies ready-made chat models by backend name (tests pass fakes; an
        application may share one client); other LLM backends are built from settings on first use.
        `embedder` and `multilingual_embedder` replace the configured embedding models (the fast test
        tier passes small ones)."""
        self.settings = settings or get_settings()
        self.reader = IndexReader(self.settings.index_dir)
        self._chat_models: dict[str, BaseChatModel] = dict(chat_models or {})
        if embedder is not None:
            self.__dict__["embedder"] = embedder
        if multilingual_embedder is not None:
            self.__dict__["multilingual_embedder"] = multilingual_embedder

    @cached_property
    def embedder(self) -> Embedder:
        return get_embedder(self.settings.embedding_model, self.settings.embedding_batch_size)

    @cached_property
    def multilingual_embedder(self) -> Embedder | None:
        """The multilingual channel's model (None: `settings.multilingual_model` is "")."""
        if not self.settings.multilingual_model:
            return None
        return get_embedder(self.settings.multilingual_model, self.settings.embedding_batch_size)

    @cached_property
    def vectors(self) -> VectorStore:
        client = make_client(self.settings.index_dir, self.settings.chroma_host, self.settings.chroma_port)
        return VectorStore(client, self.settings.embedding_model)

    @cached_property
    def multilingual_vectors(self) -> VectorStore | None:
        """The multilingual channel's collection, on the MiniLM store's client (None: off)."""
        if not self.settings.multilingual_model:
            return None
        return multilingual_store(self.vectors.client, self.settings.multilingual_model)

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever.from_settings(
            self.reader, self.vectors, self.embedder, self.settings,
            multilingual_vectors=self.multilingual_vectors, multilingual_embedder=self.multilingual_embedder,
        )

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for: both embedding models (one query
        each), Chroma, and the language detector's model (about 1.5 s and 90 MB)."""
        self.retriever  # noqa: B018 - loads the models and opens Chroma
        self.embedder.embed_query("warm up")
        if self.multilingual_embedder is not None:
            self.multilingual_embedder.embed_query("warm up")
        self.analyze("warm up")

    def chat_model(self, backend: str) -> BaseChatModel:
        """The chat model of an LLM backend, built once (raises `BackendUnavailable`)."""
        if backend not in self._chat_models:
            from assistant.answer.llm import make_chat_model  # LangChain's chat models load only for an LLM

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
        return self.retrieve_analysed(
            self.analyze(question), k, kinds=kinds, documents=documents, mode=mode
        ).chunks

    def retrieve_analysed(
        self,
        analysis: QueryAnalysis,
        k: int | None = None,
        *,
        kinds: set[str] | None = None,
        documents: set[str] | None = None,
        mode: str = "hybrid",
    ) -> Retrieval:
        """The retrieval for an analysed question (one snapshot, the question embedded once)."""
        return self.retriever.retrieve(Query.of(analysis, k or self.settings.top_k, kinds, documents, mode))

    def analyze(
        self, question: str, standalone: str | None = None, context: str = "", follow_up: bool = False
    ) -> QueryAnalysis:
        """The one analysis of a question (`retrieve.analysis.analyze_question`); `context` is the
        thread's standalone questions up to the previous one (`Understanding.thread`), `follow_up`
        whether the turn was read against the previous one."""
        return analyze_question(question, standalone, context, follow_up=follow_up)

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
        detail: bool | None = None,
    ) -> Answer:
        """The verified, cited answer (or an explicit abstention) to `question`.

        `history` is the conversation so far as (role, text) pairs, role "user" or "assistant";
        `backend` overrides `settings.answer_backend` for this question."""
        answer = None
        for piece in self._answer(
            question, history, backend, k, kinds, documents, mode, detail, streaming=False
        ):
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
        detail: bool | None = None,
    ) -> Iterator[str | Answer]:
        """Text pieces as the answer is written, then the final verified `Answer` (whose text can
        differ from the streamed one: verification may drop sentences and renumber citations)."""
        yield from self._answer(question, history, backend, k, kinds, documents, mode, detail, streaming=True)

    def _answer(
        self,
        question: str,
        history: History | None,
        backend: str | None,
        k: int | None,
        kinds: set[str] | None,
        documents: set[str] | None,
        mode: str,
        detail: bool | None,
        *,
        streaming: bool,
    ) -> Iterator[str | Answer]:
        q = self._prepare(question, history, backend)
        q.detail = self.settings.answer_detail if detail is None else detail
        a = q.analysis
        if a.intent == "recommendation" and not documents and (not kinds or "brief" in kinds):
            answer = self._recommendations(q)
            if answer is not None:
                yield from self._emit(answer, streaming)
                return
        t = time.perf_counter()
        ev = self._evidence(q, k, kinds, documents, mode)
        q.timings["retrieve"] = (time.perf_counter() - t) * 1000
        if ev.decision.refuse:
            yield from self._emit(self._refusal(q, ev), streaming)
            return
        if q.model is not None:
            yield from self._llm_answer(q, ev, streaming)
            return
        yield from self._emit(self._extractive(q, ev), streaming)

    def _prepare(self, question: str, history: History | None, backend: str | None) -> AskedQuestion:
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
                warnings.append(
                    f"answer backend '{name}' could not be set up ({type(e).__name__}: {e}); "
                    "showing the extractive answer"
                )
                name = EXTRACTIVE
        t = time.perf_counter()
        understood = understand(question, history, llm=model, max_turns=self.settings.history_turns)
        warnings.extend(understood.warnings)
        timings = {"rewrite": (time.perf_counter() - t) * 1000} if history else {}
        # read against the previous question, or leaning on it ("Where are they based?")
        analysis = self.analyze(question, understood.standalone, understood.thread, understood.continues)
        return AskedQuestion(analysis, name, model, warnings, timings, started)

    def _evidence(
        self,
        q: AskedQuestion,
        k: int | None,
        kinds: set[str] | None,
        documents: set[str] | None,
        mode: str,
        *,
        measure_all: bool = False,
        answering: bool = True,
    ) -> Evidence:
        a = q.analysis
        ret = self.retrieve_analysed(a, k, kinds=kinds, documents=documents, mode=mode)
        if not ret.chunks:
            return Evidence(ret, [], abstention.nothing_found(a))
        cands = sentence_candidates(ret.chunks, ret.snapshot, notes=a.asks_for_source)
        if answering:  # the candidates are scored for an answer, not only for the decision
            self._embed_lines(cands, ret.timings)
        weights, vector = self._sentence_query(a, ret)
        score_candidates(a, cands, weights, vector)
        decision = abstention.decide(a, ret, self._embed_concepts, measure_all=measure_all)
        return Evidence(ret, cands, decision)

    def _sentence_query(self, a: QueryAnalysis, ret: Retrieval) -> tuple[dict[str, float], np.ndarray | None]:
        """What answer sentences are scored against: the question's terms and vector, and for a
        follow-up (a turn read against the previous question) its thread's questions' too, at
        `thread_sentence_weight` (an elliptical turn, "Where are they based?", leaves its subject
        there). A turn that asks a question of its own is scored on its own words. A question in
        another language is scored on the words retrieval searched (glossary, machine translation
        and cognates): the glossary's gloss keeps the words it lacks as typed ("ajo"), which no
        English sentence holds and which, as the rarest terms, would outweigh every other word."""
        weights = query_weights(a.search_text if a.translated else a.english, ret.snapshot)
        vector = ret.query_vector
        w = self.settings.thread_sentence_weight
        if w <= 0 or a.thread is None or not a.follow_up:  # a question of its own keeps its own words
            return weights, vector
        for t, v in query_weights(a.context_english, ret.snapshot).items():
            weights.setdefault(t, w * v)
        if vector is not None and ret.context_vector is not None:
            mixed = vector + w * ret.context_vector
            vector = mixed / (np.linalg.norm(mixed) or 1.0)
        return weights, vector

    def _embed_lines(self, cands: list[Candidate], timings: dict[str, float]) -> None:
        """A tariff line has no stored vector, so its sentence would be judged on its words alone
        and lose to any prose sentence that shares the question's meaning but not its words
        ("brewery residues" against "Brewing or distilling dregs"): the lines among the candidates
        get the vector of what they cover (their full description) when the question comes in,
        through the question path (one thread, cached: the same lines come back for related
        questions; the sentence model embeds questions and passages alike)."""
        lines = [c for c in cands if c.vector is None and c.chunk.meta.get("tariff_item")]
        if not lines or not self.settings.embed_lines_at_query:
            return
        started = time.perf_counter()
        vectors = self.embedder.embed_queries([str(c.chunk.meta.get("description_full") or c.text) for c in lines])
        for c, vector in zip(lines, vectors, strict=True):
            c.vector = vector
        timings["embed_lines_ms"] = (time.perf_counter() - started) * 1000

    def _embed_concepts(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed_queries(texts)

    def decision(
        self,
        question: str,
        *,
        history: History | None = None,
        k: int | None = None,
        kinds: set[str] | None = None,
        documents: set[str] | None = None,
        mode: str = "hybrid",
    ) -> Decision:
        """The refusal decision for a question (answer or refuse, what is not covered, the evidence
        features in `details`), without composing an answer."""
        q = self._prepare(question, history, EXTRACTIVE)
        return self._evidence(q, k, kinds, documents, mode, answering=False).decision

    def explain(
        self,
        question: str,
        *,
        history: History | None = None,
        k: int | None = None,
        kinds: set[str] | None = None,
        documents: set[str] | None = None,
        mode: str = "hybrid",
    ) -> dict[str, object]:
        """What the refusal decision sees for a question, without composing an answer (used to fit
        the coverage thresholds, and by the UI to explain a refusal)."""
        q = self._prepare(question, history, EXTRACTIVE)
        ev = self._evidence(q, k, kinds, documents, mode, measure_all=True, answering=False)
        return abstention.explain(q.analysis, ev.decision)

    # ---- the answer's producers -----------------------------------------------------------

    def _refusal(self, q: AskedQuestion, ev: Evidence, backend: str | None = None) -> Answer:
        """The plain statement of what the documents do not cover; the nearest passages come with
        it as related reading, not as an answer."""
        d = ev.decision
        answer = Answer(q.question, d.text, [], True, ev.retrieved, backend=backend or q.backend)
        answer.abstain_reason = d.reason
        answer.not_covered = list(d.not_covered)
        return self._finish(q, answer)

    def _extractive(self, q: AskedQuestion, ev: Evidence) -> Answer:
        """Verbatim sentences of the passages: by default a direct lead and a few points (the short
        answer); with `detail`, the longer answer of up to `max_answer_sentences` sentences."""
        a = q.analysis
        if q.detail:
            text, used = compose(
                select(ev.candidates, self.settings.max_answer_sentences), a, ev.snap.sources
            )
        else:
            shaped = shape(ev.candidates, a, lambda t: states_figure(a, t))
            text, used = compose_short(shaped, a, ev.snap.sources)
        if not used:
            ev = Evidence(ev.retrieval, ev.candidates, abstention.declined(q.analysis, ev.decision))
            return self._refusal(q, ev, EXTRACTIVE)
        passages = {n: chunk for n, (chunk, _) in enumerate(used, start=1)}
        notes = {c.id: cited_sources(c, ev.snap) for c in passages.values()}
        checked = verify(
            text, passages, policy=self.settings.unsupported_sentences, verbatim=True, notes=notes
        )
        quotes = {n: sents for n, (_, sents) in enumerate(used, start=1)}
        citations = [
            build_citation(new, passages[old], quotes[old], ev.snap.sources)
            for old, new in sorted(checked.numbering.items(), key=lambda kv: kv[1])
        ]
        if not citations:
            ev = Evidence(ev.retrieval, ev.candidates, abstention.declined(q.analysis, ev.decision))
            return self._refusal(q, ev, EXTRACTIVE)
        answer = Answer(
            q.question,
            with_sources_language(with_not_covered(checked.text, ev.decision), a),
            citations,
            False,
            ev.retrieved,
            backend=EXTRACTIVE,
            support=checked.support,
        )
        answer.not_covered = list(ev.decision.not_covered)
        return self._finish(q, answer)

    def _recommendations(self, q: AskedQuestion) -> Answer | None:
        """What the brief recommends on the question's subject, one verified line per
        recommendation; "The brief makes no recommendation on X." when none covers X (the closest
        ones come as related passages). None when no brief recommendation is indexed or the
        question turns out to ask about someone else's recommendation."""
        snap = self.reader.snapshot()
        if snap.empty or not snap.recommendations:
            return None
        t = time.perf_counter()
        draft = draft_answer(q.analysis, snap, self._embed_concepts)
        q.timings["retrieve"] = (time.perf_counter() - t) * 1000
        if draft.match.declined:
            return None  # "the remedy it recommends": not the brief's recommendations
        checked = [
            verify(line, draft.chunks, policy=self.settings.unsupported_sentences, verbatim=True)
            for line in draft.texts
        ]
        dropped = sum(not all(s.supported for s in c.support) for c in checked)
        if dropped:
            q.warnings.append(
                f"{dropped} recommendation line(s) not verbatim in their passages were left out"
            )
        answer = finish_answer(draft, checked, snap)
        answer.question = q.question
        return self._finish(q, answer)

    def _llm_answer(self, q: AskedQuestion, ev: Evidence, streaming: bool) -> Iterator[str | Answer]:
        assert q.model is not None
        top = ev.retrieved[: self.settings.llm_passages]
        notes = {sc.chunk.id: cited_sources(sc.chunk, ev.snap) for sc in top}
        prompt = [PromptPassage(i, sc.chunk.location, sc.chunk.text, notes[sc.chunk.id])
                  for i, sc in enumerate(top, start=1)]
        messages = answer_messages(q.standalone, prompt, self.settings.max_answer_sentences if q.detail else 6,
                                   max_points=MAX_POINTS, max_words=400 if q.detail else WORD_BUDGET + 10)
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
                    if not maybe_sentinel(so_far) and len(so_far) > emitted:
                        yield so_far[emitted:]
                        emitted = len(so_far)
            parts.append(mapper.flush())
            so_far = "".join(parts)
            if streaming and not maybe_sentinel(so_far) and len(so_far) > emitted:
                yield so_far[emitted:]
        except Exception as e:  # unreachable server, timeout, bad model name ...
            q.warnings.append(
                f"answer backend '{q.backend}' failed ({describe_error(e)}); showing the extractive answer"
            )
            yield from self._emit(self._extractive(q, ev), streaming)
            return
        q.timings["llm"] = (time.perf_counter() - t) * 1000
        text = "".join(parts).strip()
        if mapper.dropped:
            q.warnings.append(
                f"removed citation markers to passages that do not exist: {', '.join(mapper.dropped)}"
            )
        if says_cannot_answer(text) or not text:
            ev = Evidence(ev.retrieval, ev.candidates, abstention.declined(q.analysis, ev.decision))
            yield from self._emit(self._refusal(q, ev), streaming)
            return
        text = text.replace(CANNOT_ANSWER, "").strip()
        # what is not covered is decided in code (and added below), not taken from the model
        text = re.sub(r"(?im)^\s*not covered:.*$", "", text).strip()
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
            q.warnings.append(
                f"{checked.dropped} sentence(s) not supported by their cited passages were removed"
            )
        citations = [
            build_citation(new, cited[old], checked.quotes.get(new, []), snap.sources)
            for old, new in sorted(checked.numbering.items(), key=lambda kv: kv[1])
        ]
        answer = Answer(q.question, with_not_covered(checked.text, ev.decision), citations, False, ev.retrieved,
                        backend=q.backend, support=checked.support)
        answer.not_covered = list(ev.decision.not_covered)
        yield self._finish(q, answer)

    # ---- shared ends ------------------------------------------------------------------------

    def _finish(self, q: AskedQuestion, answer: Answer) -> Answer:
        if answer.citations:
            snap = self.reader.snapshot()
            for c in answer.citations:
                try:
                    c.related = related_passages(c, snap, self.retriever)
                except Exception as e:  # a missing link must not cost the answer
                    q.warnings.append(f"related passages for [{c.number}] unavailable ({describe_error(e)})")
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
