"""Metric arithmetic and question-file parsing of the evaluation library, on hand-made data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.domain import Answer, Chunk, Citation, ScoredChunk, SentenceSupport
from assistant.evaluate.metrics import (
    METRIC_KEYS,
    SUMMARY_KEYS,
    answer_sentences,
    answer_word_count,
    citation_correctness,
    citation_precision,
    cited_sentence_counts,
    cited_sentence_rate,
    contains_quote,
    evidence_citation_flags,
    evidence_ranks,
    evidence_recall,
    first_hit_rank,
    hit_at_k,
    hit_at_k_curve,
    mention_present,
    must_mention_share,
    normalize_mention,
    percentile,
    quotes_evidence,
    reciprocal_rank,
    score_question,
    summarize,
)
from assistant.evaluate.questions import Question, load_questions

# A 22-token quote; STRADDLE_HEAD holds its first 18 tokens (18/22 = 0.82), STRADDLE_TAIL its last 4.
STRADDLE = (
    "The agreement entered into force in 1994 and since then trade between the two neighbours "
    "has grown roughly tenfold in value terms"
)
STRADDLE_HEAD = (
    "Some history first. The agreement entered into force in 1994 and since then trade between "
    "the two neighbours has grown roughly"
)
STRADDLE_TAIL = "tenfold in value terms, a remarkable shift for both economies."


def chunk(cid: str, text: str) -> Chunk:
    return Chunk(
        id=cid,
        document_id=f"doc-{cid}",
        title="T",
        kind="brief",
        text=text,
        position=0,
        start=0,
        end=len(text),
        label=f"Label {cid}",
    )


def citation(n: int, c: Chunk, passage: str | None = None) -> Citation:
    return Citation(
        number=n,
        chunk_id=c.id,
        document_id=c.document_id,
        title=c.title,
        kind=c.kind,
        location=c.label,
        quote=c.text[:40],
        passage=c.text if passage is None else passage,
    )


# ---------------------------------------------------------------------------------------------
# must-mention normalisation


def test_normalize_mention_folds_case_space_dollar_commas_and_percent():
    assert normalize_mention("  $1,000,000\n and  25 Per cent ") == "1000000 and 25%"
    assert normalize_mention("25 percent") == normalize_mention("25%") == normalize_mention("25 %") == "25%"
    assert normalize_mention("Rules  Of\tOrigin") == "rules of origin"
    # "percentage" is a different word and a comma not between thousands stays
    assert normalize_mention("percentage") == "percentage"
    assert normalize_mention("30,41") == "30,41"


@pytest.mark.parametrize(
    ("answer", "mention", "expected"),
    [
        ("Exports run at roughly 30 Billion a year", "$30 billion", True),
        ("a threshold of 1000 km", "1,000", True),
        ("a threshold of 1,000 km", "1000", True),
        ("capped at 25 percent", "25%", True),
        ("capped at 25%", "25 percent", True),
        ("complex Rules of\n  Origin in autos", "rules of origin", True),
        ("roughly $25 billion", "5 billion", False),
        ("on June 30", "June 3", False),
        ("see the brief [1].", "1", False),
        ("about 300 plants", "30", False),
        ("in 1930", "30", False),
        ("armed drones", "drone", True),
        ("the stock at end-2023⁵ was large", "2023", True),
    ],
)
def test_mention_present(answer, mention, expected):
    assert mention_present(answer, mention) is expected


def test_must_mention_share_is_exact_share():
    text = "Exports run at roughly $30 Billion [1]. The threshold is 1000 km and the cap is 25 percent [2]."
    assert must_mention_share(text, ["$30 billion", "1,000", "25%", "41"]) == 0.75
    assert must_mention_share(text, []) is None


# ---------------------------------------------------------------------------------------------
# evidence matching and retrieval metrics


def test_contains_quote_substring_ignores_case_whitespace_and_footnote_marks():
    quote = "both exports at roughly $30 billion annually, and imports at roughly $41 billion annually"
    text = "Trade is large, with BOTH exports at roughly $30 billion\n  annually²⁰, and imports at roughly $41 billion annually."
    assert contains_quote(text, quote)
    # short quote across the footnote mark: needs the mark removed (NFKC would make it "annually20")
    assert contains_quote(text, "billion annually, and imports")
    assert not contains_quote("Unrelated text about horses.", quote)
    assert not contains_quote(text, "")


def test_contains_quote_straddling_border_uses_80_percent_token_rule():
    assert contains_quote(STRADDLE_HEAD, STRADDLE)  # 18 of 22 tokens
    assert not contains_quote(STRADDLE_TAIL, STRADDLE)  # 4 of 22 tokens
    head_17 = STRADDLE_HEAD.replace(" roughly", "")  # 17 of 22 = 0.77 < 0.8
    assert not contains_quote(head_17, STRADDLE)


def test_ranks_hits_recall_and_mrr():
    texts = ["noise one", STRADDLE_TAIL, "noise two", "n3", "n4", "n5", STRADDLE_HEAD, "quote B here"]
    evidence = [STRADDLE, "quote B here", "never retrieved anywhere at all"]
    assert evidence_ranks(texts, evidence, 10) == [7, 8, None]
    assert first_hit_rank(texts, evidence, 10) == 7
    assert first_hit_rank(texts, evidence, 5) is None
    assert evidence_recall(texts, evidence, 10) == pytest.approx(2 / 3)
    assert evidence_recall(texts, evidence, 7) == pytest.approx(1 / 3)
    assert hit_at_k(7, 5) == 0.0 and hit_at_k(7, 10) == 1.0 and hit_at_k(None, 10) == 0.0
    assert reciprocal_rank(7) == pytest.approx(1 / 7)
    assert reciprocal_rank(11) == 0.0 and reciprocal_rank(None) == 0.0


# ---------------------------------------------------------------------------------------------
# citations and sentences


def test_citation_precision_by_evidence_and_by_verifier():
    good = chunk("a", "Mexico is already embedded in the USMCA's institutional mechanisms, giving a forum.")
    other = chunk("b", "Tariff item 0101.21.00, pure-bred breeding horses, free.")
    third = chunk("c", "The Committee shall meet once a year.")
    evidence = ["Mexico is already embedded in the USMCA's institutional mechanisms"]
    cits = [citation(1, good), citation(2, other), citation(3, third)]
    support = [
        SentenceSupport("Horses enter free [2].", [2], True, 0.9),
        SentenceSupport("It meets yearly [3].", [3], False, 0.1),
    ]
    assert citation_correctness(cits, support, evidence) == [True, True, False]
    assert citation_precision(cits, support, evidence) == pytest.approx(2 / 3)
    assert citation_precision(cits, [], evidence) == pytest.approx(1 / 3)  # the verifier path mattered
    assert citation_precision(cits, support, []) is None  # no evidence: skipped
    assert citation_precision([], support, evidence) is None
    # a citation without its passage is judged on the retrieved chunk with the same id
    bare = [citation(1, good, passage="")]
    assert citation_correctness(bare, [], evidence) == [False]
    assert citation_correctness(bare, [], evidence, {"a": good.text}) == [True]


FARM = "both exports at roughly $30 billion annually, and imports at roughly $41 billion annually in recent years."


def test_quotes_evidence_needs_the_quoted_text_to_be_the_evidence():
    evidence = [FARM, "Grains, oilseeds and meat go south"]
    # the quote holds the evidence (footnote marks and case do not matter)
    assert quotes_evidence("U.S. farm trade is large, with BOTH exports at roughly $30 billion annually²⁰, and "
                           "imports at roughly $41 billion annually in recent years.", evidence)
    # a quote trimmed to the clause that answers is the evidence too, piece by piece between ellipses
    assert quotes_evidence("… imports at roughly $41 billion annually in recent years.", evidence)
    assert quotes_evidence("exports at roughly $30 billion ... imports at roughly $41 billion", evidence)
    # too short to be "the evidence", or not inside it, or pieces from two different quotes
    assert not quotes_evidence("$41 billion annually", evidence)
    assert not quotes_evidence("imports at roughly $41 billion annually in 2030 and beyond", evidence)
    assert not quotes_evidence("exports at roughly $30 billion annually … Grains, oilseeds and meat", evidence)
    assert not quotes_evidence("", evidence)


def test_evidence_citation_share_ignores_the_passage_and_the_verifier():
    passage = chunk("n", "U.S. agricultural trade with Mexico is large, with " + FARM + " The trade is complementary.")
    on_evidence = Citation(1, "n", "doc-n", "T", "brief", "L", quote="U.S. agricultural trade with Mexico is large, "
                           "with " + FARM, passage=passage.text)
    padding = Citation(2, "n", "doc-n", "T", "brief", "L", quote="The trade is complementary.", passage=passage.text)
    support = [SentenceSupport("It is complementary [2].", [2], True, 0.9)]
    # citation precision counts both (the passage holds the evidence; the verifier supports [2]) ...
    assert citation_correctness([on_evidence, padding], support, [FARM]) == [True, True]
    # ... the evidence citation share only the one whose quote is the evidence
    assert evidence_citation_flags([on_evidence, padding], [FARM]) == [True, False]
    q = Question("f", "?", evidence=(FARM,), must_mention=("41",))
    ans = _answer([passage], "Imports run at $41 billion [1]. It is complementary [2].",
                  citations=[on_evidence, padding], support=support)
    rec = score_question(q, ans)
    assert (rec.citation_precision, rec.evidence_citation_share) == (1.0, 0.5)
    assert rec.citations_quote_evidence == [True, False]


def test_answer_word_count_skips_markers_and_bullets():
    assert answer_word_count("Mexico is big [1].\n- item two [2, 3]\n- 3 percent — more") == 8
    assert answer_word_count("") == 0


def test_cited_sentence_counts():
    assert cited_sentence_counts("Mexico is large [1]. Another sentence here. Third one [2][3].") == (2, 3)
    # markers written after the full stop belong to the sentence they close
    assert answer_sentences("Mexico is big.[1] Next one is small.") == [
        "Mexico is big [1].",
        "Next one is small.",
    ]
    assert cited_sentence_counts("Mexico is big. [1, 2] Next one is small.") == (1, 2)
    assert cited_sentence_rate("- first item [1]\n- second item\n- third item [2]") == pytest.approx(2 / 3)
    assert cited_sentence_rate("") is None


def test_percentile_interpolates_linearly():
    lat = [1000.0, 100.0, 300.0, 200.0, 400.0]
    assert percentile(lat, 50) == 300.0
    assert percentile(lat, 95) == pytest.approx(880.0)
    assert percentile([42.0], 95) == 42.0
    assert percentile([], 50) is None


# ---------------------------------------------------------------------------------------------
# per-question records and summary


def _answer(retrieved: list[Chunk], text: str = "", abstained: bool = False, **kw) -> Answer:
    scored = [ScoredChunk(c, 1.0 / i, rank=i) for i, c in enumerate(retrieved, 1)]
    return Answer(
        question="q",
        text=text,
        citations=kw.pop("citations", []),
        abstained=abstained,
        retrieved=scored,
        **kw,
    )


def test_summarize_keys_kinds_and_skips():
    a = chunk("a", "alpha evidence sentence is right here in the chunk")
    n = chunk("n", "nothing useful")
    qs = [
        Question(
            "1",
            "?",
            kind="fact",
            evidence=("alpha evidence sentence is right here",),
            must_mention=("alpha",),
        ),
        Question("2", "?", kind="fact", evidence=("alpha evidence sentence is right here",)),
        Question("3", "?", kind="new-kind", evidence=()),  # answerable without evidence: retrieval skips it
        Question("4", "?", kind="unanswerable", answerable=False),
    ]
    recs = [
        score_question(
            qs[0], _answer([n, a], "Alpha it is [1].", citations=[citation(1, a)]), latency_ms=10.0
        ),
        score_question(qs[1], _answer([n, n], "No idea.", abstained=True), latency_ms=30.0),
        score_question(qs[2], _answer([a], "Something."), latency_ms=20.0),
        score_question(qs[3], _answer([n], "Not in the documents.", abstained=True), latency_ms=40.0),
    ]
    s = summarize(recs)
    assert tuple(s) == SUMMARY_KEYS
    assert (s["n"], s["n_answerable"]) == (4, 3)
    assert (s["hit_at_1"], s["hit_at_5"], s["hit_at_10"]) == (0.0, 0.5, 0.5)
    assert s["mrr_at_10"] == pytest.approx(0.25)
    assert s["evidence_recall_at_10"] == 0.5
    assert s["must_mention"] == 1.0
    assert s["citation_precision"] == 1.0
    assert s["cited_sentence_rate"] == pytest.approx(0.5)  # "Alpha it is [1]." = 1, "Something." = 0
    assert s["abstain_accuracy"] == 1.0
    assert s["false_abstain_rate"] == pytest.approx(1 / 3)
    assert s["latency_ms_p50"] == 25.0
    assert set(s["by_kind"]) == {"fact", "new-kind", "unanswerable"}
    for vals in s["by_kind"].values():
        assert tuple(vals) == METRIC_KEYS
    assert s["by_kind"]["new-kind"]["hit_at_1"] is None
    assert s["by_kind"]["unanswerable"]["false_abstain_rate"] is None
    assert s["by_kind"]["fact"]["hit_at_5"] == 0.5
    assert hit_at_k_curve(recs, 3) == [0.0, 0.5, 0.5]


def test_answer_words_median_counts_answers_that_do_not_abstain():
    a = chunk("a", "alpha evidence sentence is right here in the chunk")
    qs = [
        Question("1", "?", evidence=("alpha evidence sentence is right here",)),
        Question("2", "?", kind="number", evidence=("alpha evidence sentence is right here",)),
        Question("3", "?", kind="unanswerable", answerable=False),
        Question("4", "?", kind="unanswerable", answerable=False),
        Question("5", "?"),
    ]
    recs = [
        score_question(qs[0], _answer([a], "one two three [1].", citations=[citation(1, a)])),
        score_question(qs[1], _answer([a], "one two three four five six seven eight nine")),
        score_question(qs[2], _answer([a], "a wrong answer of six words")),  # answered: counted
        score_question(qs[3], _answer([a], "The documents do not say this at all.", abstained=True)),
        score_question(qs[4], None, error="RuntimeError: boom"),
    ]
    assert [r.answer_words for r in recs] == [3, 9, 6, 8, None]
    s = summarize(recs)
    assert s["answer_words_p50"] == 6.0  # median of 3, 9, 6: abstentions and errors are left out
    assert s["by_kind"]["number"]["answer_words_p50"] == 9.0
    assert s["evidence_citation_share"] == 1.0  # only question 1 has a citation, and it quotes the evidence
    assert s["n_followups"] == 0 and list(s["by_turn"]) == ["standalone"]
    followup = Question("6", "And then?", history=("First?",))
    rec = score_question(followup, _answer([a], "An answer."))
    assert rec.history_turns == 1 and rec.turn == "followup"
    s = summarize(recs + [rec])
    assert s["n_followups"] == 1 and list(s["by_turn"]) == ["standalone", "followup"]
    assert s["by_turn"]["followup"]["n"] == 1 and tuple(s["by_turn"]["followup"]) == METRIC_KEYS


def test_error_counts_as_failure_not_abstention():
    q = Question("e", "?", evidence=("x y z",), must_mention=("x",))
    rec = score_question(q, None, error="RuntimeError: boom")
    assert rec.hit_at(10) == 0.0 and rec.reciprocal_rank == 0.0 and rec.must_mention == 0.0
    assert rec.abstained is False and rec.latency_ms is None and rec.cited_sentence_rate is None
    s = summarize([rec])
    assert s["false_abstain_rate"] == 0.0 and s["latency_ms_p50"] is None


# ---------------------------------------------------------------------------------------------
# question files


def test_load_questions_reports_bad_lines_and_keeps_good_ones(tmp_path: Path):
    lines = [
        json.dumps(
            {
                "id": "a",
                "question": "Q a?",
                "kind": "fact",
                "answerable": True,
                "evidence": ["e"],
                "surprise": {"x": 1},
            }
        ),
        "",
        "{not json",
        json.dumps({"id": "b"}),
        json.dumps(
            {
                "id": "c",
                "question": "Q c?",
                "kind": "comparison",
                "must_mention": ["m"],
                "articles": ["2.4"],
                "documents": ["d1"],
                "footnotes": [3],
            }
        ),
        json.dumps({"id": "a", "question": "again"}),
        json.dumps({"id": "d", "question": "Q d?", "evidence": "not a list"}),
        json.dumps({"id": "e", "question": "Q e?", "kind": "unanswerable"}),
        json.dumps({"id": "f", "question": "Q f?", "answerable": "yes"}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "g", "question": "Q g?", "footnotes": [1, "2"]}),
        json.dumps({"id": "h", "question": "And h?", "history": [" Q a? ", "Q c?"]}),
        json.dumps({"id": "i", "question": "Q i?", "history": "Q a?"}),
        json.dumps({"id": "j", "question": "Q j?", "history": ["Q a?", "  "]}),
        json.dumps({"id": "k", "question": "Q k?", "history": []}),
    ]
    path = tmp_path / "q.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n\xff\xfe bad bytes\n")
    qs, errors = load_questions(path)
    assert [q.id for q in qs] == ["a", "c", "e", "h", "k"]
    assert qs[3].history == ("Q a?", "Q c?") and qs[3].is_followup
    assert qs[4].history == () and not qs[4].is_followup and qs[0].history == ()
    assert qs[0].evidence == ("e",)
    c = qs[1]
    assert (c.kind, c.logic_kind, c.answerable) == ("comparison", "fact", True)
    assert (c.articles, c.documents, c.footnotes) == (("2.4",), ("d1",), (3,))
    assert qs[2].answerable is False  # absent `answerable` follows the kind
    got = {e.line: e.reason for e in errors}
    assert sorted(got) == [3, 4, 6, 7, 9, 10, 11, 13, 14, 16]
    assert got[3].startswith("invalid JSON")
    assert "question" in got[4]
    assert "duplicate id 'a'" in got[6] and "line 1" in got[6]
    assert "evidence" in got[7]
    assert "answerable" in got[9]
    assert "object" in got[10]
    assert "footnotes" in got[11]
    assert "history" in got[13] and "non-empty" in got[14]
    assert "UTF-8" in got[16]


def test_dev_set_loads_cleanly():
    dev = Path("/work/shared/eval/dev.jsonl")
    if not dev.exists():
        dev = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev.jsonl"
    if not dev.exists():
        pytest.skip("shared dev set not present")
    qs, errors = load_questions(dev)
    assert errors == []
    assert len(qs) >= 40
    assert sum(not q.answerable for q in qs) >= 1
