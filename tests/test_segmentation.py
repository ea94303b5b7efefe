"""Sentence segmentation on the corpus's own hard cases, and citation markers around identifiers.

The gold file tests/data/segmentation_cases.jsonl holds text taken verbatim from the parsed corpus
(source = document id; bench/segmentation.py re-checks that) or answer/question text built from the
corpus's labels and sentences (source = "answer" / "question"), each with its expected sentences.
No model and no index: these run in well under a second.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.answer.verify import split_answer, strip_markers, verify
from assistant.domain import Chunk
from assistant.textutil import sentences, split_sentences

CASES_FILE = Path(__file__).parent / "data" / "segmentation_cases.jsonl"
CASES = [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]

# Cases the segmenter is known to get wrong, with the reason (none at present; keep this short).
KNOWN_FAILURES: dict[str, str] = {}


def test_the_gold_file_is_large_and_consistent():
    assert len(CASES) >= 80
    assert len({c["id"] for c in CASES}) == len(CASES)
    for c in CASES:
        pos = 0
        for s in c["sentences"]:
            assert s == s.strip() and s, c["id"]
            j = c["text"].find(s, pos)
            assert j >= 0 and not c["text"][pos:j].strip(), f"{c['id']}: {s[:40]!r} is not next in the text"
            pos = j + len(s)
        assert not c["text"][pos:].strip(), c["id"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['id']}-{c['hard'][:40]}" for c in CASES])
def test_gold_case(case):
    if case["id"] in KNOWN_FAILURES:
        pytest.xfail(KNOWN_FAILURES[case["id"]])
    assert sentences(case["text"]) == case["sentences"]


@pytest.mark.parametrize(
    "text",
    [c["text"] for c in CASES] + ["", "   ", "\n\n", "...", "[1].", "¹²", "a\n\n\nb", " x. \n y. "],
)
def test_spans_are_ordered_trimmed_and_never_empty(text):
    spans = split_sentences(text)
    prev = 0
    for a, b in spans:
        assert prev <= a < b <= len(text)
        assert not text[a].isspace() and not text[b - 1].isspace()
        prev = b
    # nothing but whitespace is left out
    covered = "".join(text[a:b] for a, b in spans)
    assert "".join(covered.split()) == "".join(text.split())


def test_footnote_marks_and_markers_stay_with_their_sentence():
    text = "The settlements benefited 36,000 workers.¹³ [1] Mexico leads. [2][3] Next one.²"
    assert sentences(text) == ["The settlements benefited 36,000 workers.¹³ [1]", "Mexico leads. [2][3]", "Next one.²"]


def test_a_footnote_mark_after_a_full_stop_ends_the_sentence_even_after_an_abbreviation():
    text = "Mexico has not imposed retaliatory tariffs unlike Canada, China, and the E.U.⁴⁰ And in a recent interview, he agreed."
    assert len(sentences(text)) == 2


@pytest.mark.parametrize(
    "text",
    [
        "Customs duties follow each Party's Schedule, as set out in USMCA Art. 2.4.2 [1].",
        "USMCA Ch. 2, footnote 3: The merchandise processing fee (MPF) is the only customs user fee [1].",
        "Tariff item 0406.90.11 has the rate 0 [1].",
        "Tariff item 0406.90.11 of heading 04.06 or of tariff item No. 9919.00.00 has the rate 0 [1].",
        "19 U.S.C. § 4611(b): The joint review takes place on the sixth anniversary [2].",
        "Proclamation 10925, cl. 4: (4) The Secretary shall determine whether modifications are necessary [1].",
        "Quincy Brief No. 80, note 33, p. 17: Trump once tweeted about his counterpart [1].",
        "USMCA Annex 2-B (Canada) General Notes, para. 10: 10. Notwithstanding paragraph 8, Canada shall apply it [1].",
        "The settlement was reached at 12:01 a.m. eastern daylight time on April 3, 2025 [1].",
        "See USMCA Arts. 34.6 and 34.7 for the joint review [1].",
    ],
)
def test_split_answer_never_cuts_an_identifier(text):
    parts = split_answer(text)
    assert len(parts) == 1, [p[0] for p in parts]
    sentence, cited, _ = parts[0]
    assert sentence == text and cited == [int(text[-3])]


def test_split_answer_keeps_markers_with_their_sentence_and_moves_them_inside():
    parts = split_answer(
        "Mexico is the largest partner.[1] Tariff item 0406.90.11 is duty-free. [2][3]\n"
        "- USMCA Art. 2.4.2 applies [4].\n- Trade grew.¹³ [5]"
    )
    assert [p[0] for p in parts] == [
        "Mexico is the largest partner [1].",
        "Tariff item 0406.90.11 is duty-free [2][3].",
        "- USMCA Art. 2.4.2 applies [4].",
        "- Trade grew [5].¹³",
    ]
    assert [p[1] for p in parts] == [[1], [2, 3], [4], [5]]
    assert [p[2] for p in parts] == [" ", " ", "\n", "\n"]


@pytest.mark.parametrize("case", [c for c in CASES if c["source"] == "answer"], ids=lambda c: c["id"])
def test_split_answer_on_answer_shaped_gold_cases(case):
    parts = split_answer(case["text"])
    assert len(parts) == len(case["sentences"])
    for (sentence, cited, _), want in zip(parts, case["sentences"], strict=True):
        assert strip_markers(sentence) == strip_markers(want)
        assert cited == [int(n) for n in re.findall(r"\[(\d+)\]", want)]


def _chunk(text: str, label: str) -> Chunk:
    return Chunk(id="c1", document_id="d", title="USMCA Chapter 2", kind="treaty", text=text, position=0,
                 start=0, end=len(text), label=label)


def test_verification_keeps_a_label_with_its_sentence_and_one_marker_at_its_end():
    footnote = ("The merchandise processing fee (MPF) is the only customs user fee of the United States to which "
                "this paragraph applies. The derecho de trámite aduanero is the only customs user fee of Mexico "
                "to which this paragraph applies.")
    chunk = _chunk(footnote, "USMCA Ch. 2, footnote 3")
    answer = ("USMCA Ch. 2, footnote 3: The merchandise processing fee (MPF) is the only customs user fee of the "
              "United States to which this paragraph applies [1].")
    v = verify(answer, {1: chunk}, verbatim=True)
    assert v.text == answer
    assert len(v.support) == 1 and v.support[0].supported


def test_verification_of_a_tariff_answer_puts_the_marker_after_the_identifier_sentence():
    row = ("7806.00.00 Other articles of lead. 0 0\nUnder Canada's USMCA tariff schedule (Annex 2-B), tariff item "
           "7806.00.00 (Other articles of lead) has the rate 0 (duty-free from the date of entry into force of the "
           "Agreement) for originating goods of Mexico and the United States.")
    chunk = Chunk(id="t1", document_id="d", title="Tariff Schedule of Canada", kind="tariff", text=row,
                  position=0, start=0, end=len(row), label="USMCA Annex 2-B (Canada) tariff item 7806.00.00")
    answer = " ".join(row.split())[:-1] + " [1]."
    v = verify(answer, {1: chunk}, verbatim=True)
    assert "7806.00.00 (Other articles of lead)" in v.text
    assert "lead [1]. 0 0" not in v.text and "lead. 0 0 [1]" in v.text
    assert v.text.endswith("Mexico and the United States [1].")


def test_a_cited_lead_in_and_the_quote_after_its_colon_are_verified_one_by_one():
    # two sentences of one passage that are not adjacent in it, the first a lead-in ending in a colon:
    # the segmenter keeps them together, verification must check each quote on its own
    passage = ("With respect to a petition on any other violation of the labor obligations of a USMCA country: "
               "(1) The Committee shall review the information. It may ask for more. (2) If the Committee reaches "
               "an affirmative determination, the further review shall end not later than 60 days after the date "
               "of the submission.")
    chunk = _chunk(passage, "19 U.S.C. § 4646(c)")
    answer = ("19 U.S.C. § 4646(c): With respect to a petition on any other violation of the labor obligations of a "
              "USMCA country [1]: (2) If the Committee reaches an affirmative determination, the further review shall "
              "end not later than 60 days after the date of the submission [1].")
    assert [cited for _, cited, _ in split_answer(answer)] == [[1], [1]]
    v = verify(answer, {1: chunk}, verbatim=True)
    assert "60 days" in v.text and "labor obligations" in v.text
    assert len(v.support) == 2 and all(s.supported for s in v.support)
