"""Acronyms the documents define: a sentence that says "the RRM" covers a question that names the
Rapid Response Mechanism in full, and the other way round. Acronyms they never define ("ITC") are
read by the initials of the names they use ("International Trade Commission")."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from assistant.answer.coverage import with_acronyms
from assistant.index.lexical import tokenize
from assistant.textutil import acronym_definitions, name_initials


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("USMCA also created a Rapid Response Mechanism, or RRM, whereby", [("RRM", "Rapid Response Mechanism")]),
        ("the International Emergency Economic Powers Act (IEEPA) was invoked",
         [("IEEPA", "International Emergency Economic Powers Act")]),
        ("the United States-Mexico-Canada Agreement (USMCA) entered", [("USMCA", "United States Mexico Canada Agreement")]),
        ("the Office of the U.S. Trade Representative (USTR) said", [("USTR", "U.S. Trade Representative")]),
        ("Customs and Border Protection (CBP) collects", [("CBP", "Customs and Border Protection")]),
        ("foreign direct investment (FDI) rose", [("FDI", "foreign direct investment")]),
    ],
)
def test_definitions_are_found_with_their_long_form(text, expected):
    assert acronym_definitions(text) == expected


@pytest.mark.parametrize(
    "text",
    ["exports (see Table 2) rose", "trade with Mexico, or MX", "in the text (TT) is", "a deal, or NO deal", "(US)"],
)
def test_parentheses_and_capitals_that_define_nothing(text):
    assert acronym_definitions(text) == []


def test_a_sentence_reads_the_acronyms_it_uses_and_the_long_forms_it_spells_out():
    snap = SimpleNamespace(acronyms=lambda: {"rrm": tuple(tokenize("Rapid Response Mechanism"))})
    short = with_acronyms("The RRM settlements benefited 36,000 workers.", snap)
    assert set(tokenize("rapid response mechanism")) <= short
    assert "rrm" in with_acronyms("The Rapid Response Mechanism delivers.", snap)
    # the long form's words out of order are not the long form
    assert "rrm" not in with_acronyms("A rapid mechanism of response.", snap)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a petition filed with the International Trade Commission under", [("ITC", "International Trade Commission")]),
        ("The United States Trade Representative shall", [("USTR", "Trade Representative")]),
        ("notify U.S. Customs and Border Protection of", [("USCBP", "Customs and Border Protection")]),
        ("the Committee on Ways and Means of the House", [("CWM", "Committee on Ways and Means")]),
        ("The Task Force shall meet", [("TF", "Task Force")]),  # the sentence's opening word is not the name's
    ],
)
def test_names_give_their_initials(text, expected):
    assert name_initials(text) == expected


@pytest.mark.parametrize("text", ["the United States and Mexico", "In Mexico the", "Section 232 of the Act"])
def test_runs_that_are_not_names_of_two_words_give_none(text):
    assert name_initials(text) == []
