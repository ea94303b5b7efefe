"""The retriever contract: every retriever (hybrid, bm25, dense, naive) on the toy index (fast tier)
and on the real one (full tier) finds the probe passage, ranks best first, respects `k` and the kind
and document filters, returns the same ids every time and nothing from an empty index."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from assistant.domain import ScoredChunk
from assistant.evaluate.answerers import make_naive_retriever
from assistant.pipeline import Assistant
from assistant.retrieve.naive import TOP_K, NaiveRetriever
from tests.conftest import ContractCorpus

RETRIEVERS = ("hybrid", "bm25", "dense", "naive")


@dataclass
class Searcher:
    """One retriever behind one call signature."""

    name: str
    assistant: Assistant
    naive: NaiveRetriever | None = None

    @property
    def default_k(self) -> int:
        return TOP_K if self.naive else self.assistant.settings.top_k

    def __call__(
        self,
        question: str,
        k: int | None = None,
        *,
        kinds: set[str] | None = None,
        documents: set[str] | None = None,
    ) -> list[ScoredChunk]:
        k = k or self.default_k
        if self.naive is not None:
            return self.naive.search(question, k, kinds=kinds, documents=documents)
        return self.assistant.retrieve(question, k, kinds=kinds, documents=documents, mode=self.name)

    def known_ids(self) -> set[str]:
        if self.naive is not None:
            return set(self.naive.chunks)
        return set(self.assistant.reader.snapshot().chunks)


def searcher_for(name: str, assistant: Assistant) -> Searcher:
    return Searcher(name, assistant, make_naive_retriever(assistant) if name == "naive" else None)


@pytest.fixture(params=RETRIEVERS)
def search(request, contract_corpus: ContractCorpus) -> Searcher:
    """The retriever on the corpus's shared assistant (the naive collection is built once per corpus)."""
    cache = contract_corpus.cache
    if request.param not in cache:
        cache[request.param] = searcher_for(request.param, contract_corpus.shared)
    return cache[request.param]


def test_finds_the_probe_passage(search, contract_corpus):
    probe = contract_corpus.answerable
    hits = search(probe.question)
    found = [h for h in hits if probe.needle in h.chunk.text]
    assert found, [h.chunk.text[:80] for h in hits]
    assert found[0].chunk.document_id == probe.document and found[0].chunk.kind == probe.kind


def test_ranks_best_first(search, contract_corpus):
    for question in (contract_corpus.answerable.question, contract_corpus.filtered.question):
        hits = search(question)
        assert hits, question
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True), scores


@pytest.mark.parametrize("k", [1, 2, 5])
def test_k_is_respected(search, contract_corpus, k):
    hits = search(contract_corpus.answerable.question, k)
    if search.name == "bm25":  # only passages sharing a word with the question are candidates
        assert 1 <= len(hits) <= k
    else:
        assert len(hits) == k
    assert len({h.chunk.id for h in hits}) == len(hits), "no passage twice"


def test_kind_filter(search, contract_corpus):
    probe, other = contract_corpus.filtered, contract_corpus.answerable
    hits = search(probe.question, kinds={probe.kind})
    assert hits and {h.chunk.kind for h in hits} == {probe.kind}
    assert any(probe.needle in h.chunk.text for h in hits)
    elsewhere = search(probe.question, kinds={other.kind})
    assert elsewhere or search.name == "bm25", "dense candidates of the other kind exist"
    assert {h.chunk.kind for h in elsewhere} <= {other.kind}
    assert not any(probe.needle in h.chunk.text for h in elsewhere)


def test_document_filter(search, contract_corpus):
    probe, other = contract_corpus.filtered, contract_corpus.answerable
    hits = search(probe.question, documents={probe.document})
    assert hits and {h.chunk.document_id for h in hits} == {probe.document}
    assert any(probe.needle in h.chunk.text for h in hits)
    both = search(other.question, documents={probe.document, other.document})
    assert both and {h.chunk.document_id for h in both} <= {probe.document, other.document}
    assert any(other.needle in h.chunk.text for h in both)


def test_ids_are_stable(search, contract_corpus):
    """The same question gives the same passages in the same order, from a second retriever too,
    and every id names a passage of the index."""
    fresh = searcher_for(search.name, contract_corpus.assistant())
    for question in (contract_corpus.answerable.question, contract_corpus.filtered.question):
        first = [h.chunk.id for h in search(question)]
        assert first == [h.chunk.id for h in search(question)]
        assert first == [h.chunk.id for h in fresh(question)]
        assert set(first) <= search.known_ids()


@pytest.mark.parametrize("name", RETRIEVERS)
def test_empty_index_returns_nothing(empty_corpus, name):
    search = searcher_for(name, empty_corpus.assistant())
    for question in (empty_corpus.answerable.question, empty_corpus.off_topic, ""):
        assert search(question) == []
    assert search(empty_corpus.filtered.question, kinds={"treaty"}, documents={"x"}) == []
