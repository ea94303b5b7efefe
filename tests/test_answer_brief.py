"""Questions on the brief answered end to end: real model, real Chroma, real BM25."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from assistant.textutil import split_sentences


@pytest.mark.xfail(strict=True, reason=(
    "known regression (2026-12-02): retrieval ranks the Texas passage (p. 10, '$795 billion ... that "
    "year') above the $840 billion passage (p. 5), and the sentence scorer fitted on the five tuning "
    "sets (bench/sentence_scorer.py) trusts the retrieval rank more than the hand-set one did; the "
    "answer still gives 840 (Figure 1) but not the sentence with the USTR footnote. docs/benchmarks.md"))
def test_trade_total_answer_cites_background_and_ustr_footnote(brief_assistant):
    a = brief_assistant.ask("How much did U.S.-Mexico trade total in 2024?")
    assert not a.abstained
    assert "840" in a.text
    cited = [c for c in a.citations if "840" in c.quote]
    assert cited
    c = cited[0]
    assert c.section.startswith("Background") and c.page and "p. " in c.location
    assert any(ref.footnote == 1 and "ustr.gov" in ref.url for ref in c.footnotes)


def test_paraphrased_questions_find_their_passages(brief_assistant):
    # the questions share almost no words with the passages that answer them
    cases = [
        ("Did handing over drug lords to the Americans win Mexico's leader any credit?", "won Sheinbaum goodwill"),
        ("How dependent is Mexico on American gas for making electricity?", "70 percent of its supply"),
        ("Where do most imported car components in the U.S. originate?", "$81 billion worth (41 percent)"),
    ]
    for question, needle in cases:
        hits = brief_assistant.retrieve(question, 5)
        assert any(needle in h.chunk.text for h in hits), question


def test_hybrid_finds_what_each_side_alone_finds(brief_assistant):
    q = "What share of Mexican adults only finished secondary school?"
    needle = "60 percent of the population"
    hybrid = {h.chunk.id for h in brief_assistant.retrieve(q, 5)}
    firsts = {mode: brief_assistant.retrieve(q, 1, mode=mode)[0].chunk for mode in ("dense", "bm25")}
    found = [c for c in firsts.values() if needle in c.text]
    assert found, "at least one side alone ranks the answer first"
    assert {c.id for c in found} <= hybrid


def test_off_topic_question_abstains_and_shows_nearest_passages(brief_assistant):
    a = brief_assistant.ask("What is the boiling point of liquid nitrogen at sea level?")
    assert a.abstained
    assert a.text.startswith("The indexed documents do not") and a.not_covered
    assert a.not_covered[0].split()[-1] in a.text
    assert a.citations == []
    assert a.retrieved, "the closest passages are still returned"


def test_markers_always_point_at_existing_citations(brief_assistant):
    questions = [
        "What does the brief recommend on energy?",
        "How many workers did the Rapid Response Mechanism settlements benefit?",
        "Who wrote the brief?",
        "What did Trump say about AMLO?",
        "How large is U.S. investment in Mexico?",
    ]
    for q in questions:
        a = brief_assistant.ask(q)
        assert not a.abstained and a.citations, (q, a.abstain_reason)
        markers = {int(m) for m in re.findall(r"\[(\d+)\]", a.text)}
        numbers = [c.number for c in a.citations]
        assert markers == set(numbers), (q, a.text)
        assert numbers == list(range(1, len(a.citations) + 1))
        for c in a.citations:
            pieces = [c.quote[i:j] for i, j in split_sentences(c.quote)]
            assert c.quote.strip() and pieces, (q, c)
            for piece in pieces:  # the quote is the passage's own sentences, word for word
                assert piece in c.passage, (q, piece)


def test_every_answer_sentence_is_a_quoted_sentence(brief_assistant):
    a = brief_assistant.ask("How many workers did the Rapid Response Mechanism settlements benefit?")
    assert "36,000" in a.text
    bodies = [re.sub(r"\s*\[\d+\]\.?$", "", s).strip().removeprefix("- ")
              for s in re.split(r"(?<=\])\.\s+", a.text)]
    bodies = [b for b in bodies if b]
    assert len(bodies) >= 2, a.text
    for body in bodies:
        assert any(body.rstrip(".")[:60] in c.passage for c in a.citations), body


def test_cli_ask_json_contract(brief_settings):
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(brief_settings.index_dir))
    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ask", "How much did U.S.-Mexico trade total in 2024?", "--json"],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )
    data = json.loads(out.stdout)
    assert isinstance(data["answer"], str) and "840" in data["answer"]
    assert data["abstained"] is False
    assert data["retrieved"] and all(isinstance(r, str) for r in data["retrieved"])
    assert data["citations"]
    for c in data["citations"]:
        for key in ("document_id", "title", "location", "quote", "url"):
            assert key in c
    assert data["citations"][0]["document_id"] == "quincy-brief-80-us-mexico-special-relationship.md"


def test_cli_sources_json_contract(brief_settings):
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(brief_settings.index_dir))
    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "sources", "--json"],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )
    docs = json.loads(out.stdout)
    assert len(docs) == 1
    d = docs[0]
    assert d["kind"] == "brief" and d["chunks"] > 50
    for key in ("document_id", "title", "kind", "path", "chunks", "indexed_at"):
        assert key in d


def test_a_table_is_followed_by_the_passage_that_discusses_it(brief_assistant):
    hits = brief_assistant.retrieve("How much did U.S.-Mexico trade total in 2024?", 5)
    labels = [h.chunk.meta.get("figure") for h in hits]
    assert "Figure 1" in labels
    i = labels.index("Figure 1")
    assert "accounting for $840 billion of bilateral trade (Figure 1)" in hits[i + 1].chunk.text
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_source_question_brings_the_footnotes_of_the_claims_found(brief_assistant):
    """A footnote shares few words with the question that asks for it: each of the first claim
    passages is followed by the note its sentence closest to the question cites."""
    a = brief_assistant.analyze("Which source gives the 2024 figure for U.S. auto-parts imports from Mexico?")
    assert a.asks_for_source
    ranked = [sc.chunk for sc in brief_assistant.retrieve_analysed(a, 10).chunks]
    claims = [c for c in ranked if c.footnotes and "note" not in c.meta][:2]
    assert claims
    for claim in claims:
        after = ranked[ranked.index(claim) + 1]
        assert "note" in after.meta and after.meta["note"] in claim.footnotes
    # a question that does not ask for a source gets no such notes
    plain = [sc.chunk for sc in brief_assistant.retrieve_analysed(
        brief_assistant.analyze("How much were U.S. auto-parts imports from Mexico in 2024?"), 10).chunks]
    assert sum("note" in c.meta for c in plain) < sum("note" in c.meta for c in ranked)
