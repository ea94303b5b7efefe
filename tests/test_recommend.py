"""The brief's recommendations on the real index of the brief: extraction, the coverage gate (a
subject the brief never discusses is refused by name, with the closest recommendations as related
passages), the one-line shape (what … why … mechanism, every piece verbatim in its cited passage),
the general list, a Spanish subject, and the `recommend` command sharing the chat's lines."""

from __future__ import annotations

import dataclasses
import json
import re
import statistics

import pytest
from typer.testing import CliRunner

from assistant.answer.recommend import (
    MAX_LINES,
    MAX_LINES_ALL,
    draft_answer,
    extract_recommendations,
    finish_answer,
    load_recommendations,
)
from assistant.answer.recommend_line import one_line, render_line
from assistant.answer.recommend_subject import DENSE_COVERED, match, recommendations_for, subject_analysis
from assistant.answer.verify import verify
from assistant.cli import recommend as _register_recommend  # noqa: F401 - registers the command
from assistant.cli.common import app
from assistant.ingest.recommendations import IN_TEXT, MECHANISM_RE, SUMMARY, WAY_AHEAD
from assistant.settings import get_settings
from assistant.textutil import normalize_for_match, sentences
from tests.conftest import BRIEF

BRIEF_TEXT = BRIEF.read_text(encoding="utf-8").lower()
LINE = re.compile(r"^- (.+)\.$")


@pytest.fixture(scope="module")
def snap(brief_assistant):
    return brief_assistant.reader.snapshot()


@pytest.fixture(scope="module")
def recs(snap):
    return load_recommendations(snap)


def _by_title(recs, start: str):
    found = [r for r in recs if r.title.startswith(start)]
    assert found, f"no recommendation titled {start!r} in {[r.title for r in recs]}"
    return found[0]


def lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("- ")]


def pieces(line: str) -> list[tuple[str, int]]:
    """(piece, citation number) of a rendered line: "- A [1] … B [2]." -> [("A", 1), ("B", 2)]."""
    body = LINE.match(line)
    assert body, line
    out = []
    for m in re.finditer(r"(.+?)\s\[(\d+)\](?:\s…\s|$)", body.group(1)):
        out.append((m.group(1), int(m.group(2))))
    assert out and " … ".join(f"{p} [{n}]" for p, n in out) == body.group(1), line
    return out


def assert_verbatim_lines(answer) -> None:
    """Each line's pieces (split again at the ellipses inside a piece) occur in the passage its
    marker cites; every marker names a citation."""
    by_number = {c.number: c for c in answer.citations}
    assert lines_of(answer.text)
    for line in lines_of(answer.text):
        for piece, n in pieces(line):
            passage = normalize_for_match(by_number[n].passage)
            for part in piece.split("…"):
                assert normalize_for_match(part.strip(" .;,")) in passage, (part, by_number[n].location)


# ---- extraction (the records the lines are made of) ---------------------------------------------


def test_summary_bullets_and_way_ahead_headings_become_five_merged_records(recs):
    stated = [r for r in recs if r.source == WAY_AHEAD]
    assert [r.title.split()[0] for r in stated] == ["Recognize", "Use", "Use", "Encourage", "Recognize"]
    for r in stated:
        assert r.sources == [WAY_AHEAD, SUMMARY], r.title
        assert {p.role for p in r.passages} == {"recommendation", "argument", "summary"}
        assert r.rationale
    assert not [r for r in recs if r.source == SUMMARY]
    energy = _by_title(recs, "Use diplomacy and USMCA mechanisms")
    assert "renewable energy" in energy.text
    assert energy.rationale.startswith("Energy has been a contentious issue")


def test_every_quote_is_verbatim_in_its_passage(recs, snap):
    for r in recs:
        assert r.passages, r.title
        for p in r.passages:
            chunk = snap.chunks[p.chunk_id]
            assert normalize_for_match(p.quote) in normalize_for_match(chunk.text), (r.title, p.quote)
            assert p.location == chunk.label


def test_recommendations_stated_in_the_text_are_found(recs):
    titles = [r.title for r in recs if r.source == IN_TEXT]
    for item in ("bolster workers' well-being", "deepen cooperation on energy",
                 "expand the rules of origin regime to electronics", "incentivize investment in the services sector"):
        assert any(item in t for t in titles), (item, titles)
    roo = _by_title(recs, "Extend some version of rules of origin to advanced industries")
    assert "rules of origin" in roo.mechanisms and "technology" in roo.topics
    energy_item = next(r for r in recs if r.source == IN_TEXT and "deepen cooperation on energy" in r.title)
    energy = _by_title(recs, "Use diplomacy and USMCA mechanisms")
    assert energy.id in energy_item.related and energy_item.id in energy.related


def test_quoted_demands_of_others_are_not_the_briefs_recommendations(recs):
    everything = " ".join(p.quote for r in recs for p in r.passages if p.role != "argument")
    assert "should absorb the cost of these tariffs" not in everything  # the UAW's words, in quotes
    assert not [r for r in recs if "following steps" in r.title]


def test_extraction_follows_the_text_not_a_list(snap):
    """Rewrite the energy heading and drop the summary: the records change with the text."""
    chunks = dict(snap.chunks)
    heading = "Use diplomacy and USMCA mechanisms to leverage U.S. energy expertise"
    energy = next(c for c in chunks.values() if c.text.startswith(heading))
    new_text = energy.text.replace(
        energy.text.split("\n")[0], "Expand cooperation on critical minerals and semiconductors through the review."
    )
    del chunks[energy.id]
    chunks["edited-energy"] = dataclasses.replace(energy, id="edited-energy", text=new_text)
    edited = dataclasses.replace(snap, generation="edited", chunks=chunks)
    titles = [r.title for r in extract_recommendations(edited) if r.source == WAY_AHEAD]
    assert "Expand cooperation on critical minerals and semiconductors through the review" in titles
    assert not any(t.startswith(heading) for t in titles)


# ---- the coverage gate ------------------------------------------------------------------------

# Subjects the brief never names (checked against its text below): a commodity regime, a visa
# programme, a trade remedy on a product.
NEVER_NAMED = [
    ("What does the brief propose on the sugar suspension agreements?", "the sugar suspension agreements", "sugar"),
    ("What does the brief recommend on H-2A visas for farm workers?", "H-2A visas for farm workers", "h-2a"),
    ("Does the brief suggest anything on softwood lumber duties?", "softwood lumber duties", "softwood"),
    # a second question after the subject is no part of it
    ("What does the brief advise on potash export quotas, and which agency would run them?",
     "potash export quotas", "potash"),
]


@pytest.mark.parametrize(("question", "subject", "word"), NEVER_NAMED)
def test_a_subject_the_brief_never_names_is_refused_by_name(brief_assistant, snap, recs, question, subject, word):
    assert word not in BRIEF_TEXT  # the premise: a plain search of the brief finds nothing
    a = brief_assistant.ask(question)
    assert a.backend == "recommendations" and a.abstained
    assert a.text.startswith(f"The brief makes no recommendation on {subject}.")
    assert a.not_covered == [subject] and a.citations == []
    # the closest recommendations come as related passages, not as the answer
    assert "Closest recommendations (related, not an answer):" in a.text
    stated = {p.chunk_id for r in recs for p in r.passages}
    assert a.retrieved and all(s.chunk.id in stated for s in a.retrieved)
    assert a.abstain_reason.startswith("no recommendation covers the subject")


def test_only_a_general_question_gets_the_full_list(brief_assistant, recs):
    a = brief_assistant.ask("What does the brief recommend?")
    assert not a.abstained and a.not_covered == []
    assert a.text.startswith(f"The brief makes {len(recs)} recommendations, among them:")
    lines = lines_of(a.text)
    assert len(lines) == MAX_LINES_ALL < len(recs)
    assert a.text.rstrip().endswith(f"And {len(recs) - MAX_LINES_ALL} more: see the Recommendations page or "
                                    "`usmca-assistant recommend`.")
    # the stated recommendations (way ahead + executive summary) come first
    stated = [r for r in recs if r.source == WAY_AHEAD]
    for line, r in zip(lines, stated, strict=True):
        assert normalize_for_match(one_line(r).what.text[:40]) in normalize_for_match(line), (line, r.title)
    assert_verbatim_lines(a)
    # a subject the brief never names gets none of that list: a few titles shown as related, uncited
    refused = brief_assistant.ask("What does the brief recommend on avocado exports?")
    assert refused.abstained and not refused.citations and not re.search(r"\[\d+\]", refused.text)
    assert "avocado" not in BRIEF_TEXT and len(lines_of(refused.text)) <= 3


def test_a_covered_and_an_uncovered_subject_answer_the_first_and_name_the_second(brief_assistant):
    a = brief_assistant.ask("What does the brief recommend on energy and sugar?")
    assert not a.abstained and a.not_covered == ["sugar"]
    assert a.text.rstrip().endswith("The brief makes no recommendation on sugar.")
    assert "deepen cooperation on energy" in a.text


def test_a_paraphrase_is_covered_by_meaning_when_the_words_miss(snap, brief_assistant):
    """No recommendation uses "leader" or "popularity" near "Mexican leader"; the closest sentence in
    meaning is the Sheinbaum recommendation's, above the fitted threshold."""
    a = subject_analysis("the Mexican leader's popularity")
    m = match(a, snap, brief_assistant._embed_concepts)
    detail = m.details["Mexican leader's popularity"]
    assert detail["lexical"] == 0 and detail["dense"] >= DENSE_COVERED
    assert m.selected and m.selected[0].title.startswith("Recognize President Sheinbaum")
    # without the model, the words alone do not cover it
    assert match(a, snap, None).refused


# ---- the one-line shape -------------------------------------------------------------------------


TOPICS = {
    "energy": "What does the brief recommend on energy?",
    "labor": "What does the brief propose on labor?",
    "autos": "What does the brief suggest for autos?",
}


@pytest.fixture(scope="module")
def topic_answers(brief_assistant):
    return {t: brief_assistant.ask(q) for t, q in TOPICS.items()}


def test_topic_answers_lead_then_one_verbatim_line_per_recommendation(topic_answers, snap):
    for topic, a in topic_answers.items():
        assert a.backend == "recommendations" and not a.abstained, topic
        lead = a.text.splitlines()[0]
        assert re.fullmatch(rf"The brief makes (one recommendation|\d+ recommendations) on {topic}:", lead), lead
        lines = lines_of(a.text)
        assert 1 <= len(lines) <= MAX_LINES
        n = 1 if lead.startswith("The brief makes one") else int(lead.split()[3])
        assert n >= len(lines)
        if n > len(lines):
            assert f"And {n - len(lines)} more" in a.text and f"`usmca-assistant recommend {topic}`" in a.text
        assert_verbatim_lines(a)
        assert all(s.supported for s in a.support), a.support  # the verifier ran and kept every line
        numbers = {c.number for c in a.citations}
        assert numbers == set(range(1, len(a.citations) + 1))
        assert [s.chunk.id for s in a.retrieved] == [c.chunk_id for c in a.citations]
        for c in a.citations:  # a citation quotes whole sentences of its passage
            for quoted in sentences(c.quote):
                assert normalize_for_match(quoted) in normalize_for_match(c.passage), quoted
            assert c.location.startswith("Quincy Brief No. 80")


def test_energy_lines_say_what_and_why(topic_answers):
    lines = lines_of(topic_answers["energy"].text)
    first = pieces(lines[0])
    assert first[0][0].startswith("Use diplomacy and USMCA mechanisms to leverage U.S. energy expertise")
    assert "renewable energy sector" in first[0][0]  # the executive summary's concrete wording
    assert len(first) >= 2 and "positive-sum outcomes" in first[1][0]  # why: the argument's reason
    assert any(piece.startswith("The review could be used to … deepen cooperation on energy")
               for line in lines for piece, _ in pieces(line))


def test_a_line_names_the_mechanism_its_record_relies_on(recs, snap):
    for r in recs:
        line = one_line(r, snap)
        shown = " ".join(p.text for p in line.pieces())
        specific = [m for m in r.mechanisms if m not in ("USMCA institutional mechanisms",)]
        if specific:
            assert any(MECHANISM_RE[m].search(shown) for m in specific), (r.title, shown)
    employ = _by_title(recs, "Employ rules of origin")
    assert one_line(employ, snap).mechanism is not None
    assert "rules of origin" in one_line(employ, snap).mechanism.text


def test_topic_answers_stay_short(topic_answers):
    words = [len(a.text.split()) for a in topic_answers.values()]
    assert statistics.median(words) <= 120, words


def test_a_piece_that_is_not_verbatim_is_dropped_by_the_verifier(brief_assistant, snap):
    """The verifier is what keeps the lines honest: a line whose why is reworded does not survive."""
    d = draft_answer(brief_assistant.analyze("What does the brief recommend on energy?"), snap)
    text, used = d.lines[0]
    reworded = text.replace("could be used to push for", "will certainly secure")
    assert reworded != text
    d.lines[0] = (reworded, used)
    checked = [verify(line, d.chunks, verbatim=True) for line in d.texts]
    answer = finish_answer(d, checked, snap)
    assert "will certainly secure" not in answer.text and checked[0].dropped == 1 and not checked[1].dropped
    assert answer.text.startswith("The brief makes one recommendation on energy:")


def test_spanish_subject_is_answered_through_its_english(brief_assistant, topic_answers):
    a = brief_assistant.ask("¿Qué recomienda el informe sobre la energía?")
    assert a.backend == "recommendations" and not a.abstained
    assert a.text.splitlines()[0] == "The brief makes 2 recommendations on energy:"
    assert lines_of(a.text) == lines_of(topic_answers["energy"].text)
    # a word the gloss keeps as typed ("materia") beside an English one: the English word decides
    mixed = brief_assistant.ask("¿Qué recomienda el informe en materia energética?")
    assert not mixed.abstained and "energy" in mixed.text.splitlines()[0], mixed.text
    refused = brief_assistant.ask("¿Recomienda algo el informe sobre el tequila?")
    assert "tequila" not in BRIEF_TEXT
    assert refused.abstained and refused.text.startswith("The brief makes no recommendation on tequila.")


def test_topic_lookup_selects_and_ranks(snap):
    energy = recommendations_for("energy", snap)
    assert energy[0].title.startswith("Use diplomacy and USMCA mechanisms to leverage U.S. energy expertise")
    assert all("energy" in r.topics for r in energy)
    assert not any(r.title.startswith("Recognize President Sheinbaum") for r in energy)
    assert [r.id for r in recommendations_for("energía", snap)] == [r.id for r in energy]
    roo = recommendations_for("rules of origin", snap)
    assert len(roo) >= 3 and all("rules of origin" in r.mechanisms for r in roo)
    assert recommendations_for("the U.S.–Canada softwood lumber dispute", snap) == []
    assert len(recommendations_for("", snap)) == len(load_recommendations(snap)) >= 10


# ---- the page and the command share the lines ---------------------------------------------------


@pytest.fixture
def cli_env(brief_settings, monkeypatch):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(brief_settings.index_dir))
    get_settings.cache_clear()
    yield brief_settings
    get_settings.cache_clear()


def test_cli_recommend_prints_the_chats_lines(cli_env, topic_answers):
    result = CliRunner().invoke(app, ["recommend", "energy"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert out[0] == "The brief makes 2 recommendations on energy:"
    assert lines_of(result.output) == lines_of(topic_answers["energy"].text)
    assert "[1] Quincy Brief No. 80, Executive Summary, p. 3" in out
    none = CliRunner().invoke(app, ["recommend", "softwood lumber"], catch_exceptions=False)
    assert none.exit_code == 0 and none.output.startswith("The brief makes no recommendation on softwood lumber.")


def test_cli_recommend_lists_every_recommendation(cli_env, recs):
    result = CliRunner().invoke(app, ["recommend"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"The brief makes {len(recs)} recommendations:")
    assert len(lines_of(result.output)) == len(recs) and "more:" not in result.output


def test_cli_recommend_json_carries_each_records_line(cli_env, snap):
    result = CliRunner().invoke(app, ["recommend", "labor", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["topic"] == "labor" and not data["abstained"] and data["recommendations"]
    for r in data["recommendations"]:
        assert r["line"].startswith("- ")
        for piece, n in pieces(r["line"]):  # numbered by the record's own passages
            quote = normalize_for_match(snap.chunks[r["citations"][n - 1]["chunk_id"]].text)
            assert all(normalize_for_match(x.strip(" .;,")) in quote for x in piece.split("…"))
        for c in r["citations"]:
            assert c["location"] and c["quote"] and c["chunk_id"] and c["document_id"]


def test_the_page_shows_the_same_line(recs, snap):
    from ui.recommendations import evidence, summary_line

    for r in recs:
        line = summary_line(r, snap)
        assert "- " + line == render_line(one_line(r, snap), lambda p, r=r: r.passages.index(p.passage) + 1)
        cards = evidence(r, snap)
        for _, n in pieces("- " + line):
            assert any(c.number == n for _, c in cards)  # each marker names an evidence card


def test_a_follow_up_naming_its_own_subject_is_judged_on_it(brief_assistant):
    first = brief_assistant.ask("What does the brief recommend on energy cooperation?")
    assert not first.abstained
    history = [("user", "What does the brief recommend on energy cooperation?"), ("assistant", first.text)]
    a = brief_assistant.ask("And what about geothermal plants?", history=history)
    assert "geothermal" not in BRIEF_TEXT
    assert a.abstained and a.text.startswith("The brief makes no recommendation on geothermal plants.")
    assert a.not_covered == ["geothermal plants"]


def test_someone_elses_recommendation_is_left_to_retrieval(brief_assistant):
    """"it recommends" without the brief, about nothing any recommendation speaks of: not routed."""
    a = brief_assistant.ask("Who votes on the remedy it recommends?")
    assert a.backend != "recommendations"
    assert brief_assistant.ask("What does it recommend?").backend == "recommendations"  # about the brief


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("What does the brief advise on potash export quotas, and which agency would run them?", "potash export quotas"),
        ("Does the brief recommend anything on dairy. If so, what?", "dairy"),
        ("Is reshoring among the brief's recommendations, and how would it work?", "reshoring"),
        ("¿Qué propone el informe sobre visas y cuántas se darían?", "visas"),
        ("What does the brief recommend on energy and labor?", "energy and labor"),  # one subject with "and"
        ("¿Qué propone sobre energía y migración?", "energía y migración"),
    ],
)
def test_a_recommendation_subject_ends_where_a_second_question_begins(question, subject):
    from assistant.retrieve.analysis import recommendation_subject

    assert recommendation_subject(question) == subject
