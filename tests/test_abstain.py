"""Abstention is decided in code from the retrieval evidence, the same for every backend."""

from __future__ import annotations

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.answer import abstain
from assistant.pipeline import ABSTAIN_TEXT, Assistant

# Questions whose subject the corpus never mentions, a treaty article that is not indexed, and a
# plain off-topic question. (Near misses built from words the corpus does use, such as the peso's
# exchange rate, are beyond what term coverage and similarity can tell apart: see
# bench/abstain_calibration.py.)
UNANSWERABLE = [
    "What antidumping duty rate does the U.S. charge on fresh tomatoes from Mexico?",
    "How is the U.S.-Canada softwood lumber dispute being resolved?",
    "What does USMCA Article 32.10 require before a party signs a trade deal with a non-market country?",
    "Who won the 2022 FIFA World Cup?",
]
ANSWERABLE = [
    "How many cartel leaders did Sheinbaum hand over to U.S. custody?",
    "What share of its natural gas supply does Mexico get from the United States?",
    "Which automaker furloughed workers at five U.S. plants because of parts supply worries?",
]


class _Count(BaseCallbackHandler):
    def __init__(self) -> None:
        self.n = 0

    def on_chat_model_start(self, *args, **kwargs):  # noqa: D102
        self.n += 1


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_near_miss_and_off_topic_questions_abstain(brief_assistant, question):
    a = brief_assistant.ask(question)
    assert a.abstained and a.text == ABSTAIN_TEXT and a.citations == []
    assert a.retrieved, "the nearest passages come with the abstention"


@pytest.mark.parametrize("question", ANSWERABLE)
def test_answerable_questions_are_answered(brief_assistant, question):
    a = brief_assistant.ask(question)
    assert not a.abstained and a.citations


def test_the_llm_is_not_asked_when_the_evidence_is_too_weak(brief_assistant):
    counter = _Count()
    model = FakeListChatModel(responses=["Tomatoes pay 17.09 percent [P1]."], callbacks=[counter])
    a = Assistant(brief_assistant.settings, chat_models={"fakellm": model})
    ans = a.ask(UNANSWERABLE[0], backend="fakellm")
    assert ans.abstained and ans.text == ABSTAIN_TEXT and ans.backend == "fakellm"
    assert counter.n == 0


def test_an_identifier_no_document_contains_is_decisive(brief_assistant):
    f, decided, reason = brief_assistant.evidence("What does Article 32.10 say about the review?")
    assert f is not None and f.missing_ids == ("32.10",) and decided and "32.10" in reason
    f2, _, _ = brief_assistant.evidence("What does the brief say about the 16-year extension?")
    assert f2.missing_ids == ()


def test_features_see_terms_the_corpus_never_uses(brief_assistant):
    f, decided, reason = brief_assistant.evidence("What does the brief say about zorblatt quuxification?")
    assert f is not None and f.unknown_share > 0.5 and decided and "no document uses" in reason
    f2, decided2, _ = brief_assistant.evidence("How many workers did the Rapid Response Mechanism settlements benefit?")
    assert f2.unknown_share == 0 and f2.coverage > 0.8 and not decided2


def test_rule_thresholds_are_applied_as_documented():
    def f(coverage: float, dense: float, unknown: float = 0.0) -> abstain.EvidenceFeatures:
        return abstain.EvidenceFeatures(coverage=coverage, sentence_coverage=coverage, dense=dense,
                                        unknown_share=unknown, n_terms=3)

    assert abstain.decide(f(0.9, 0.7)) == (False, "")
    assert abstain.decide(f(0.9, 0.7, unknown=abstain.MAX_UNKNOWN_SHARE + 0.01))[0]
    assert abstain.decide(f(abstain.MIN_COVERAGE - 0.01, 0.99))[0]
    edge = abstain.MIN_EVIDENCE - 0.6
    assert abstain.decide(f(0.6, edge - 0.01))[0] and not abstain.decide(f(0.6, edge + 0.01))[0]
