"""Follow-up questions: rewritten into standalone questions (by rule, or by a chat model)."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.answer.conversation import is_follow_up, rule_rewrite, standalone_question, topic
from assistant.pipeline import Assistant
from assistant.textutil import sentences

RRM = "What does the brief say about the Rapid Response Mechanism?"


def test_rrm_follow_up_answers_36000_with_a_citation(brief_assistant):
    first = brief_assistant.ask(RRM)
    assert not first.abstained
    history = [("user", RRM), ("assistant", first.text)]
    a = brief_assistant.ask("How many workers did it benefit?", history=history)
    assert not a.abstained
    assert a.standalone_question == "How many workers did the Rapid Response Mechanism benefit?"
    assert a.question == "How many workers did it benefit?"
    assert "36,000" in a.text
    cited = [c for c in a.citations if "36,000" in c.quote]
    assert cited and all(s in cited[0].passage for s in sentences(cited[0].quote))


def test_without_history_the_question_is_searched_as_typed(brief_assistant):
    a = brief_assistant.ask("How many workers did it benefit?")
    assert a.standalone_question == "How many workers did it benefit?"


def test_elliptical_follow_up_swaps_the_country():
    prev = "What share of U.S. auto parts imports came from Mexico?"
    assert rule_rewrite("and for Canada?", prev) == "What share of U.S. auto parts imports came from Canada?"
    assert rule_rewrite("¿Y para Canadá?", "¿Cuánto exportó Texas a México en 2024?") == \
        "¿Cuánto exportó Texas a Canada en 2024?"


def test_connective_follow_up_without_a_country_extends_the_previous_question():
    out = rule_rewrite("What about aluminum?", "What tariffs hit Mexican steel this year?")
    assert "steel" in out and "aluminum" in out


def test_standalone_questions_are_left_alone():
    assert not is_follow_up("Who wrote this brief, and what is his position?")
    assert not is_follow_up("How much did Texas export in goods in 2024?")
    prev = "What does the brief say about energy?"
    assert rule_rewrite("How much did Texas export in goods in 2024?", prev) == \
        "How much did Texas export in goods in 2024?"


def test_topic_of_a_question():
    assert topic(RRM) == "the Rapid Response Mechanism"
    assert topic("How did Trump describe AMLO during his first term?") in ("Trump", "AMLO")


def test_a_chain_of_follow_ups_keeps_its_topic():
    history = [("user", "What is NAFTA?"), ("assistant", "..."), ("user", "When did it take effect?"),
               ("assistant", "...")]
    q, warnings = standalone_question("What replaced it?", history)
    assert q == "What replaced NAFTA?" and not warnings


def test_llm_rewrites_the_follow_up_when_configured(brief_assistant):
    rewrite = "How many workers did the Rapid Response Mechanism settlements benefit?"
    model = FakeListChatModel(responses=[rewrite, "NOT_IN_PASSAGES"])
    a = Assistant(brief_assistant.settings, chat_models={"fakellm": model})
    ans = a.ask("How many workers did it benefit?", history=[("user", RRM), ("assistant", "...")], backend="fakellm")
    assert ans.standalone_question == rewrite


def test_unusable_llm_rewrite_falls_back_to_the_rule():
    model = FakeListChatModel(responses=["x" * 1000])
    q, warnings = standalone_question("How many workers did it benefit?", [("user", RRM)], llm=model)
    assert q == "How many workers did the Rapid Response Mechanism benefit?"
    assert warnings and "rule" in warnings[0]
