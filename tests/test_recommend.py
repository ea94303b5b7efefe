"""Recommendation summaries on the real index of the brief (no hand-typed recommendations)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from assistant.answer.recommend import (
    IN_TEXT,
    NO_RECOMMENDATION,
    SUMMARY,
    WAY_AHEAD,
    extract_recommendations,
    is_recommendation_question,
    load_recommendations,
    recommendations_for,
    summary_answer,
)
from assistant.cli import recommend as _register_recommend  # noqa: F401 - registers the command
from assistant.cli.common import app
from assistant.evaluate.metrics import answer_sentences
from assistant.settings import get_settings
from assistant.textutil import normalize_for_match
from assistant.textutil import sentences as sentences_of


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


def test_summary_bullets_and_way_ahead_headings_become_five_merged_records(recs):
    stated = [r for r in recs if r.source == WAY_AHEAD]
    assert [r.title.split()[0] for r in stated] == ["Recognize", "Use", "Use", "Encourage", "Recognize"]
    for r in stated:
        assert r.sources == [WAY_AHEAD, SUMMARY], r.title  # each summary bullet merged with its heading
        roles = {p.role for p in r.passages}
        assert roles == {"recommendation", "argument", "summary"}
        assert r.rationale  # the bullet that argues it
    # no summary bullet is left over unmerged
    assert not [r for r in recs if r.source == SUMMARY]
    energy = _by_title(recs, "Use diplomacy and USMCA mechanisms")
    assert "renewable energy" in energy.text  # the summary's wording travels with the merged record
    assert energy.rationale.startswith("Energy has been a contentious issue")


def test_every_quote_is_verbatim_in_its_passage(recs, snap):
    for r in recs:
        assert r.passages, r.title
        for p in r.passages:
            chunk = snap.chunks[p.chunk_id]
            assert normalize_for_match(p.quote) in normalize_for_match(chunk.text), (r.title, p.quote)
            assert p.location == chunk.label


def test_recommendations_stated_in_the_text_are_found(recs):
    in_text = [r for r in recs if r.source == IN_TEXT]
    titles = [r.title for r in in_text]
    # one record per item of "The review could be used to bolster ...; deepen ...; expand ...; and incentivize ..."
    for item in ("bolster workers' well-being", "deepen cooperation on energy",
                 "expand the rules of origin regime to electronics", "incentivize investment in the services sector"):
        assert any(item in t for t in titles), (item, titles)
    roo = _by_title(recs, "Extend some version of rules of origin to advanced industries")
    assert "could become a point of agreement" in roo.passages[0].quote
    assert "rules of origin" in roo.mechanisms and "technology" in roo.topics
    energy_item = next(r for r in in_text if "deepen cooperation on energy" in r.title)
    assert energy_item.topics == ["energy"] and "Article 34.7 joint review" in energy_item.mechanisms
    # the in-text energy item is linked to the stated energy recommendation
    energy = _by_title(recs, "Use diplomacy and USMCA mechanisms")
    assert energy.id in energy_item.related and energy_item.id in energy.related


def test_quoted_demands_of_others_are_not_the_briefs_recommendations(recs):
    everything = " ".join(p.quote for r in recs for p in r.passages if p.role != "argument")
    assert "should absorb the cost of these tariffs" not in everything  # the UAW's words, in quotes
    assert "must be held harmless" not in everything
    # a lead-in that only announces the list is not a recommendation of its own
    assert not [r for r in recs if "following steps" in r.title]


def test_topics_and_mechanisms_are_detected_from_the_text(recs):
    usmca = _by_title(recs, "Use the unique legal and institutional features of USMCA")
    assert {"rules of origin", "high-wage / labor value content rules", "USMCA institutional mechanisms"} <= set(
        usmca.mechanisms
    )
    assert usmca.topics[0] == "labor" and "autos" in usmca.topics
    assert _by_title(recs, "Use diplomacy and USMCA mechanisms").topics[0] == "energy"
    assert _by_title(recs, "Encourage deeper U.S. investment").topics[0] == "services"
    assert _by_title(recs, "Recognize that economic outcomes").topics[0] == "security"


def test_topic_lookup_selects_and_ranks(snap):
    energy = recommendations_for("energy", snap)
    assert energy[0].title.startswith("Use diplomacy and USMCA mechanisms to leverage U.S. energy expertise")
    assert all("energy" in r.topics for r in energy)
    assert any("deepen cooperation on energy" in r.title for r in energy)
    assert not any(r.title.startswith("Recognize President Sheinbaum") for r in energy)
    spanish = recommendations_for("energía", snap)
    assert [r.id for r in spanish] == [r.id for r in energy]
    roo = recommendations_for("rules of origin", snap)
    assert len(roo) >= 3 and all("rules of origin" in r.mechanisms for r in roo)
    assert recommendations_for("the U.S.–Canada softwood lumber dispute", snap) == []
    assert len(recommendations_for("", snap)) == len(load_recommendations(snap)) >= 10


def test_recommendation_questions_and_their_topics():
    assert is_recommendation_question("What does the brief recommend on labor?") == "labor"
    assert is_recommendation_question("¿Qué recomienda el informe sobre energía?") == "energy"
    assert is_recommendation_question("what does the brief suggest about rules of origin?") == "rules of origin"
    assert is_recommendation_question("What are the brief's recommendations?") == "all"
    lumber = is_recommendation_question("What does the brief recommend on the U.S.–Canada softwood lumber dispute?")
    assert lumber is not None and "softwood lumber" in lumber
    assert is_recommendation_question("How much did Texas export in goods in 2024?") is None
    assert is_recommendation_question("¿Cuál es el valor de las exportaciones agrícolas?") is None
    # proposals and recommendations of others are not the brief's
    assert is_recommendation_question("What did Mexico propose on semiconductors?") is None
    assert is_recommendation_question("What recommendation must the Trade Representative report to Congress?") is None


def test_summary_answer_cites_every_sentence(snap):
    answer = summary_answer("¿Qué recomienda el informe sobre energía?", snap)
    assert not answer.abstained and answer.backend == "recommendations"
    assert "leverage U.S. energy expertise" in answer.text
    assert "deepen cooperation on energy" in answer.text
    sentences = answer_sentences(answer.text)
    assert sentences and all("[" in s for s in sentences), sentences
    numbers = {c.number for c in answer.citations}
    assert numbers == set(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        assert f"[{c.number}]" in answer.text
        for quoted in sentences_of(c.quote):  # a citation may quote several sentences of its passage
            assert normalize_for_match(quoted) in normalize_for_match(c.passage), quoted
        assert c.location.startswith("Quincy Brief No. 80")
    assert [s.chunk.id for s in answer.retrieved] == [c.chunk_id for c in answer.citations]


def test_the_executive_summarys_more_concrete_wording_is_quoted_too(snap):
    answer = summary_answer("What is the brief's advice on energy?", snap)
    # the way-ahead heading says "a sector critical for Mexico's growth"; the summary says which
    assert "sector critical for Mexico's growth" in answer.text and "renewable energy sector" in answer.text
    summary_marks = [c.number for c in answer.citations if c.section.startswith("Executive")]
    assert summary_marks and f"renewable energy sector [{summary_marks[0]}]" in answer.text
    # listing every recommendation stays one sentence per recommendation
    everything = summary_answer("What does the brief recommend?", snap)
    assert "Executive summary:" not in everything.text


def test_summary_answer_abstains_when_the_brief_recommends_nothing_on_it(snap):
    answer = summary_answer("What does the brief recommend on the U.S.–Canada softwood lumber dispute?", snap)
    assert answer.abstained and answer.text == NO_RECOMMENDATION and not answer.citations


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
    lead = next(c for c in chunks.values() if "the brief recommends that" in c.text)
    bullets = next(c for c in chunks.values() if c.section == lead.section and c.position == lead.position + 1)
    del chunks[bullets.id]
    edited = dataclasses.replace(snap, generation="edited", chunks=chunks)
    recs = extract_recommendations(edited)
    titles = [r.title for r in recs if r.source == WAY_AHEAD]
    assert "Expand cooperation on critical minerals and semiconductors through the review" in titles
    assert not any(t.startswith(heading) for t in titles)
    minerals = next(r for r in recs if r.title.startswith("Expand cooperation on critical minerals"))
    assert "technology" in minerals.topics and "Article 34.7 joint review" in minerals.mechanisms
    assert all(r.sources == [WAY_AHEAD] for r in recs if r.source == WAY_AHEAD)  # nothing to merge with


def test_recommendations_are_cached_per_generation(snap):
    assert load_recommendations(snap) is load_recommendations(snap)


@pytest.fixture
def cli_env(brief_settings, monkeypatch):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(brief_settings.index_dir))
    get_settings.cache_clear()
    yield brief_settings
    get_settings.cache_clear()


def test_cli_recommend_topic_prints_citations(cli_env):
    result = CliRunner().invoke(app, ["recommend", "energy"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Use diplomacy and USMCA mechanisms" in out
    assert "Quincy Brief No. 80, The way ahead: Some recommendations, p. 25" in out
    assert "[recommendation]" in out and "Energy has been a contentious issue" in out


def test_cli_recommend_json_lists_all_with_citations(cli_env):
    result = CliRunner().invoke(app, ["recommend", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    recs = data["recommendations"]
    assert data["topic"] == "all" and len(recs) >= 10
    for r in recs:
        assert r["citations"], r["title"]
        for c in r["citations"]:
            assert c["location"] and c["quote"] and c["chunk_id"] and c["document_id"]
    none = CliRunner().invoke(app, ["recommend", "softwood lumber"], catch_exceptions=False)
    assert none.exit_code == 0 and "no recommendation" in none.output


def test_subject_the_brief_never_mentions_has_no_recommendation(brief_settings):
    from assistant.answer.recommend import recommendations_for, summary_answer
    from assistant.index.store import load_snapshot

    snap = load_snapshot(brief_settings.index_dir)
    assert recommendations_for("the softwood lumber dispute", snap) == []
    assert recommendations_for("energy", snap)
    answer = summary_answer("What does the brief recommend on the softwood lumber dispute?", snap)
    assert answer.abstained and not answer.citations
