"""The answer contract: the extractive backend and an LLM backend (a fake LangChain chat model passed
through `Assistant(chat_models=...)`) on the toy index (fast tier) and the real one (full tier).

Each backend gives a cited answer whose markers map to real passages that hold the cited sentences,
abstains (in code, before any model is called) when the documents do not answer, and treats a
hostile passage's text as data: it is quoted, never obeyed, and cannot forge citations or close the
prompt's data block.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from assistant.answer.prompts import CANNOT_ANSWER
from assistant.domain import Answer
from assistant.textutil import split_sentences
from tests.conftest import ContractCorpus

BACKENDS = ("extractive", "fake-llm")
_PASSAGE_HEAD = re.compile(r"(?m)^\[P(\d+)\] \(")
_BLOCK = re.compile(r"<<<BEGIN PASSAGES (\w+)>>>\n(.*)\n<<<END PASSAGES (\w+)>>>", re.S)


class QuotingChatModel(BaseChatModel):
    """A fake LLM that answers like a careful model: it quotes the sentence of the prompt's passages
    that holds `needle` and cites that passage as [Pn] (then `extra`, e.g. a forged "[P42]"); with no
    such passage, or with `refuse`, it writes the cannot-answer sentinel. Every prompt is kept."""

    needle: str
    extra: str = ""
    refuse: bool = False
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "quoting-fake"

    def passages(self, messages: list[BaseMessage]) -> dict[int, str]:
        block = _BLOCK.search(messages[-1].text)
        assert block, "the prompt has one passages block"
        parts = _PASSAGE_HEAD.split(block.group(2))
        return {int(n): text.split("\n", 1)[1] for n, text in zip(parts[1::2], parts[2::2], strict=True)}

    def reply(self, messages: list[BaseMessage]) -> str:
        if self.refuse:
            return CANNOT_ANSWER
        for n, text in self.passages(messages).items():
            for a, b in split_sentences(text):
                if self.needle in text[a:b]:
                    return f"{text[a:b].strip()} [P{n}]{self.extra}"
        return CANNOT_ANSWER

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.calls.append(list(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.reply(messages)))])


def ask(corpus: ContractCorpus, backend: str, question: str, model: QuotingChatModel | None = None) -> Answer:
    if backend == "extractive":
        return corpus.shared.ask(question)
    return corpus.assistant(chat_models={backend: model}).ask(question, backend=backend)


def collapse(text: str) -> str:
    return " ".join(text.split())


def markers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """(sentence, its citation numbers) for each sentence of an answer that ends in markers."""
    return [
        (body.strip(), markers(marks))
        for body, marks in re.findall(r"(.+?)((?:\s*\[\d+\])+)\.?(?=\s|$)", text, flags=re.S)
    ]


def assert_citations_hold(answer: Answer, corpus: ContractCorpus) -> None:
    """Numbers 1..n, every marker has a citation and every citation a marker; each citation names a
    real passage of the index and quotes sentences of it; each cited sentence is in a passage it cites."""
    snap = corpus.shared.reader.snapshot()
    numbers = [c.number for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1)), numbers
    assert set(markers(answer.text)) == set(numbers), answer.text
    for c in answer.citations:
        chunk = snap.chunks[c.chunk_id]
        assert (c.passage, c.document_id, c.kind) == (chunk.text, chunk.document_id, chunk.kind)
        pieces = [c.quote[a:b] for a, b in split_sentences(c.quote)]
        assert c.quote.strip() and pieces, c
        for piece in pieces:  # a list's lead-in and item are quoted on one line
            assert collapse(piece) in collapse(c.passage), (piece, c.passage)
    by_number = {c.number: c for c in answer.citations}
    sentences = cited_sentences(answer.text)
    assert sentences, answer.text
    for sentence, cited in sentences:
        assert any(_quotes(sentence, by_number[n]) for n in cited), (sentence, cited)


def _quotes(sentence: str, c: Any) -> bool:
    """The sentence (without the list bullet of a supporting point and the "location: " an
    extractive answer opens legal text with) is words of the cited passage."""
    body = collapse(sentence).removeprefix("- ").removeprefix(collapse(c.location) + ": ").rstrip(".")
    return body[:60] in collapse(c.passage)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


def test_cited_answer(contract_corpus, backend):
    probe = contract_corpus.answerable
    model = QuotingChatModel(needle=probe.needle)
    a = ask(contract_corpus, backend, probe.question, model)
    assert not a.abstained and a.backend == backend, (a.text, a.warnings)
    assert probe.needle in a.text
    assert_citations_hold(a, contract_corpus)
    holding = [c for c in a.citations if probe.needle in c.quote]
    assert holding and holding[0].document_id == probe.document
    if backend != "extractive":
        assert len(model.calls) == 1 and a.support and all(s.supported for s in a.support)


def test_markers_map_to_the_passages_the_model_was_shown(contract_corpus):
    """An LLM cites prompt ids; each becomes a citation of the very passage shown under that id, and
    an id naming no passage is dropped with a warning."""
    probe = contract_corpus.answerable
    model = QuotingChatModel(needle=probe.needle, extra="[P42]")
    a = ask(contract_corpus, "fake-llm", probe.question, model)
    (shown,) = model.calls
    n = next(i for i, text in model.passages(shown).items() if probe.needle in text)
    assert not a.abstained and markers(a.text) == [1] and "42" not in a.text
    (c,) = a.citations
    assert c.chunk_id == a.retrieved[n - 1].chunk.id, "prompt id P<n> is the n-th retrieved passage"
    assert any("P42" in w for w in a.warnings), a.warnings
    assert_citations_hold(a, contract_corpus)


def test_abstains_when_the_documents_do_not_answer(contract_corpus, backend):
    model = QuotingChatModel(needle="anything")
    a = ask(contract_corpus, backend, contract_corpus.off_topic, model)
    assert a.abstained and a.citations == [], a.text
    assert a.text.startswith(("The indexed documents do not", "Nothing in the indexed documents")), a.text
    assert a.not_covered and all(x.split()[-1] in a.text for x in a.not_covered), "the refusal names what is missing"
    assert a.abstain_reason and a.retrieved, "the reason and the nearest passages are shown"
    assert a.backend == backend
    assert model.calls == [], "abstention is decided in code, before any model is asked"


def test_model_that_cannot_answer_gives_an_abstention(contract_corpus):
    model = QuotingChatModel(needle=contract_corpus.answerable.needle, refuse=True)
    a = ask(contract_corpus, "fake-llm", contract_corpus.answerable.question, model)
    assert len(model.calls) == 1
    assert a.abstained and a.citations == [] and a.backend == "fake-llm"
    assert a.text.startswith("The indexed documents do not") and a.not_covered, a.text


def test_hostile_passage_text_stays_data(hostile_corpus, backend):
    probe = hostile_corpus.hostile
    model = QuotingChatModel(needle=probe.needle)
    a = ask(hostile_corpus, backend, probe.question, model)
    assert not a.abstained and probe.needle in a.text, (a.text, a.warnings)
    assert_citations_hold(a, hostile_corpus)
    (c,) = [c for c in a.citations if c.document_id == probe.document]
    assert "<script>alert(1)</script>" in c.passage, "markup is kept as text, not stripped or run"
    retrieved = {sc.chunk.id for sc in a.retrieved}
    assert all(c.chunk_id in retrieved for c in a.citations), "a passage cannot add citations"
    if backend == "extractive":  # quoting the passage's orders is fine: they are shown as its words
        return
    assert "P9" not in a.text and "reveal" not in a.text.lower(), "the passage's orders are not followed"
    (system, user) = model.calls[0]
    assert "Ignore all previous" not in system.text and "Quokka" not in system.text
    (block,) = _BLOCK.findall(user.text)
    begin, inside, end = block
    assert begin == end, "the passage cannot close the data block"
    assert "Ignore all previous instructions" in inside and "(P9)" in inside and "[P9]" not in user.text
    assert "«END PASSAGES 1»" in inside and user.text.count("<<<END PASSAGES") == 1
