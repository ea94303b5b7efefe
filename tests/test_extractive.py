"""The extractive answerer's sentence scoring and selection, on real indexes."""

from __future__ import annotations

import pytest

from assistant.answer import extractive
from assistant.answer.extractive import (
    Candidate,
    query_weights,
    score_candidates,
    select,
    sentence_candidates,
)


def _brief_chunk(assistant, phrase: str):
    snap = assistant.reader.snapshot()
    return next(c for c in snap.chunks.values() if phrase in c.text)


def test_selection_prefers_a_sentence_for_the_uncovered_part_of_the_question(brief_assistant):
    """Two parts ("what does it sell" / "what does it buy"): after the best sentence for the first
    part, a slightly lower-scoring sentence that covers the second part beats a near-duplicate of
    the first."""
    chunk = _brief_chunk(brief_assistant, "grains, oilseeds, and meat")
    first = Candidate(chunk, 1, "The U.S. largely supplies grains.", score=0.80, covers={"sell": 0.4})
    again = Candidate(chunk, 2, "Grain sales keep rising.", score=0.70, covers={"sell": 0.4})
    other = Candidate(chunk, 3, "It receives fruits and vegetables.", score=0.62, covers={"buy": 0.4})
    picked = select([first, again, other], max_sentences=2)
    assert [c.text for c in picked] == [first.text, other.text]
    # without the coverage bonus the plain score order wins: the bonus is what changed the pick
    original = extractive.GAIN_WEIGHT
    try:
        extractive.GAIN_WEIGHT = 0.0
        assert [c.text for c in select([first, again, other], max_sentences=2)] == [first.text, again.text]
    finally:
        extractive.GAIN_WEIGHT = original


def test_a_sentence_is_scored_with_its_neighbours(brief_assistant):
    """"She has done so with approval ratings around 75 percent" is about Sheinbaum only through the
    sentence before it: reading the neighbours raises its score."""
    question = "How popular is Sheinbaum?"
    retrieved = brief_assistant.retrieve(question)
    snap = brief_assistant.reader.snapshot()
    cands = sentence_candidates(retrieved, snap)
    target = [c for c in cands if "approval ratings" in c.text]
    assert target, "the approval-rating sentence is among the candidates"
    assert "Sheinbaum" not in target[0].text and "Sheinbaum" in target[0].neighbours
    weights = query_weights(question, snap)
    score_candidates(question, cands, weights, brief_assistant.embedder)
    with_context = target[0].score
    original = extractive.CONTEXT_WEIGHT
    try:
        extractive.CONTEXT_WEIGHT = 0.0
        score_candidates(question, cands, weights, brief_assistant.embedder)
    finally:
        extractive.CONTEXT_WEIGHT = original
    assert with_context > target[0].score


def test_every_candidate_records_the_question_terms_it_covers(brief_assistant):
    question = "How many cartel leaders did Sheinbaum transfer?"
    snap = brief_assistant.reader.snapshot()
    cands = sentence_candidates(brief_assistant.retrieve(question), snap)
    score_candidates(question, cands, query_weights(question, snap), brief_assistant.embedder)
    best = max(cands, key=lambda c: c.score)
    assert "29" in best.text and {"cartel", "sheinbaum"} <= set(best.covers)
    assert best.lexical == pytest.approx(sum(best.covers.values()))


def test_tariff_lines_with_the_same_words_but_other_items_are_distinct_facts(full_assistant):
    snap = full_assistant.reader.snapshot()
    lines = [c for c in snap.chunks.values() if c.kind == "tariff" and c.meta.get("tariff_item", "").startswith("0406.90")]
    lines = [c for c in lines if "within access commitment" in c.text.lower()][:2]
    assert len(lines) == 2
    a, b = (Candidate(c, 1, c.text) for c in lines)
    assert not extractive._repeats(a, b)
    assert extractive._repeats(Candidate(lines[0], 2, lines[0].text), a)
