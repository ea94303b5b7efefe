"""Weighted reciprocal-rank fusion: passages that a channel cannot see."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from assistant.retrieve.hybrid import (
    BM25,
    EXPANDED,
    MINILM,
    MULTILINGUAL,
    UNSEEN_SCORED,
    HybridRetriever,
    _Fused,
)


def _retriever() -> HybridRetriever:
    r = HybridRetriever.__new__(HybridRetriever)  # the fusion step alone: no index, no model
    r.lexical_only_kinds = frozenset({"tariff"})
    r.rrf_k = 5
    return r


def _snap() -> SimpleNamespace:
    return SimpleNamespace(chunks={"line": SimpleNamespace(kind="tariff"), "prose": SimpleNamespace(kind="treaty")})


@pytest.mark.parametrize("weights", [
    {BM25: 1.0, MINILM: 0.5, MULTILINGUAL: 1.5},
    {BM25: 1.0, MULTILINGUAL: 1.5, EXPANDED: 0.5},
])
def test_a_passage_without_vectors_scores_as_if_every_channel_ranked_it_where_bm25_did(weights):
    # BM25 ranks the tariff line first and the prose passage second; the dense channels, which
    # cannot see the line, rank the prose first. Without scaling the line loses on BM25's vote
    # alone; with full scaling it scores what it would if every channel had ranked it first.
    r = _retriever()
    runs = {BM25: [("line", 9.0), ("prose", 8.0)]}
    if EXPANDED in weights:
        runs[EXPANDED] = [("line", 9.0), ("prose", 8.0)]
    runs.update({name: [("prose", 0.9)] for name in weights if name not in (BM25, EXPANDED)})
    fused = r._fuse(runs, weights)
    assert fused["line"].score < fused["prose"].score
    r._as_if_seen(fused, weights, _snap(), 1.0)
    everywhere_first = sum(w / (r.rrf_k + 1) for w in weights.values())
    assert fused["line"].score == pytest.approx(everywhere_first)
    assert fused["line"].score > fused["prose"].score
    assert fused["prose"].score == pytest.approx(r._fuse(runs, weights)["prose"].score)  # unchanged


def test_no_scaling_when_off_or_when_bm25_is_the_only_channel():
    fused = {"line": _Fused(score=0.1)}
    _retriever()._as_if_seen(fused, {BM25: 1.0, MINILM: 0.5}, _snap(), 0.0)
    _retriever()._as_if_seen(fused, {BM25: 1.0}, _snap(), 1.0)
    assert fused["line"].score == pytest.approx(0.1)
    half = {"line": _Fused(score=0.1)}
    _retriever()._as_if_seen(half, {BM25: 1.0, MULTILINGUAL: 3.0}, _snap(), 0.5)
    assert half["line"].score == pytest.approx(0.1 * 4.0 ** 0.5)


def test_a_figure_question_finds_a_table_right_above_the_passage_leading_in_to_it():
    """A quota's lead-in ("... shall enter duty-free in each quota year is:") names the quota; its
    table, a passage of its own, holds the figure: it ranks right above the lead-in, and a table
    already ranked above stays where it is."""
    from assistant.domain import Chunk
    from assistant.index.store import Snapshot

    def chunk(cid: str, pos: int, text: str, **meta) -> Chunk:
        return Chunk(cid, "ch2", "Chapter 2", "treaty", text, pos, 0, 1, meta=meta)

    chunks = {c.id: c for c in [
        chunk("lead", 1, "The aggregate quantity that shall enter duty-free in each quota year is:"),
        chunk("table", 2, "Quota Year Aggregate Quantity (MT) 1 1,250 2 2,500", table=True),
        chunk("after", 3, "This paragraph applies to goods of tariff item 0402.10.10."),
        chunk("other", 7, "Each Party shall publish its quota rules:"),
    ]}
    snap = Snapshot("g", {}, chunks, None, {})
    assert snap.tables_led_in() == {"lead": "table"}
    ranked = [("lead", _Fused(3.0)), ("after", _Fused(2.0)), ("table", _Fused(1.0)), ("other", _Fused(0.5))]
    out = HybridRetriever._with_tables_led_in(ranked, snap)
    assert [cid for cid, _ in out] == ["table", "lead", "after", "other"]
    assert out[0][1].score > out[1][1].score
    above = [("table", _Fused(3.0)), ("lead", _Fused(2.0))]
    assert [cid for cid, _ in HybridRetriever._with_tables_led_in(above, snap)] == ["table", "lead"]


class _Passages:
    """A multilingual embedder that records what it embeds: each text's vector is fixed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed_passages(self, texts):
        import numpy as np

        self.seen.extend(texts)
        return np.array([[0.6, 0.8] if "line" in t else [1.0, 0.0] for t in texts], dtype=np.float32)


def test_passages_indexed_without_vectors_get_their_multilingual_cosine_at_query_time():
    # the refusal reads the best multilingual cosine of the first passages; a tariff line has no
    # stored vector, so its cosine is computed from its text; the ranking and the others' stay
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from assistant.domain import ScoredChunk

    r = _retriever()
    r.multilingual_embedder = _Passages()
    r._worker, r._unseen_vectors = ThreadPoolExecutor(1), {}

    def chunk(cid: str, kind: str) -> SimpleNamespace:
        # the refusal reads `read_text` (no search-only terms): that is what is embedded
        return SimpleNamespace(id=cid, kind=kind, read_text=f"{cid} text", search_text=f"HS names {cid} text")

    def found() -> list[ScoredChunk]:
        out = [ScoredChunk(chunk(f"line{i}", "tariff"), 1.0 - i / 10) for i in range(7)]
        out.insert(1, ScoredChunk(chunk("prose", "treaty"), 0.95, multilingual=0.81))
        return out

    chunks = found()
    vectors = r._score_unseen(chunks, np.array([0.0, 1.0], dtype=np.float32))
    assert chunks[0].multilingual == pytest.approx(0.8) and chunks[1].multilingual == 0.81
    first = chunks[:UNSEEN_SCORED]
    assert all(sc.multilingual is not None for sc in first)
    assert all(sc.multilingual is None for sc in chunks[UNSEEN_SCORED:]), "only the first passages are embedded"
    assert r.multilingual_embedder.seen == [sc.chunk.read_text for sc in first if sc.chunk.kind == "tariff"]
    assert set(vectors) == {sc.chunk.id for sc in first if sc.chunk.kind == "tariff"}, "for the asked-part cosine"
    again = found()
    r._score_unseen(again, np.array([0.0, 1.0], dtype=np.float32))
    assert again[0].multilingual == pytest.approx(0.8)
    assert len(r.multilingual_embedder.seen) == UNSEEN_SCORED - 1, "a line seen before is not embedded again"


def test_lines_a_question_asks_for_are_weighed_fully_and_joining_lines_partly():
    r = _retriever()
    r.unseen_scaling, r.asked_lines_scaling = 0.75, 1.0
    assert r._line_scaling(lines_may_join=False) == 1.0
    assert r._line_scaling(lines_may_join=True) == 0.75


def test_an_english_question_scores_its_lines_only_when_no_passage_refusal_reads_has_a_cosine():
    from assistant.answer.evidence import EVIDENCE_PASSAGES
    from assistant.domain import Chunk, ScoredChunk
    from assistant.retrieve.analysis import analyze_question
    from assistant.retrieve.hybrid import REFUSAL_PASSAGES, _lines_scored

    assert REFUSAL_PASSAGES == EVIDENCE_PASSAGES  # the passages refusal reads

    def scored(kind: str, rank: int, cosine: float | None) -> ScoredChunk:
        return ScoredChunk(Chunk(f"{kind}{rank}", "d", "t", kind, "text", rank, 0, 4), 1.0 / rank,
                           rank=rank, multilingual=cosine)

    english = analyze_question("What rate does Canada's schedule set for lentils?")
    spanish = analyze_question("¿Qué tasa fija el calendario de Canadá para las lentejas?")
    lines = [scored("tariff", i, None) for i in range(1, 7)]
    with_prose = lines[:5] + [scored("treaty", 6, 0.8)]
    below = lines + [scored("treaty", 7, 0.8)]
    assert _lines_scored(english, lines) and _lines_scored(english, below)
    assert not _lines_scored(english, with_prose)
    assert _lines_scored(spanish, with_prose)


def test_a_table_row_labelled_by_a_code_defines_it_and_a_list_only_mentions_it():
    """The exact passages of a Table 1 code: the table whose row the code labels goes first, the
    paragraph that lists the code among others after it (the key is matched whatever its case)."""
    from assistant.domain import Chunk
    from assistant.retrieve.hybrid import _labels_row

    def chunk(text: str, table: bool) -> Chunk:
        return Chunk(id="c", document_id="d", title="t", kind="treaty", text=text, position=0, start=0, end=len(text),
                     meta={"table": True} if table else {})

    row = chunk("AG04049050\tProvided for in tariff item 04049050\nAG04051020\tProvided for in tariff item 04051020", True)
    listing = chunk("(d) This paragraph applies to the following Table 1 provisions: AG04051020, AG04052030.", False)
    assert _labels_row(row, "ag04051020") and _labels_row(row, "AG04051020")
    assert not _labels_row(listing, "ag04051020")
    assert not _labels_row(row, "ag0405")  # a prefix labels no row


def test_the_tariff_line_gate_answers_only_for_the_embedder_and_size_it_was_fitted_on():
    from assistant.index.embeddings import DEFAULT_MODEL
    from assistant.retrieve.line_gate import gate_for

    gate = gate_for(DEFAULT_MODEL, 384)
    assert gate is not None and gate.weights.shape == (384,)
    assert gate_for("hash-384", 384) is None
    assert gate_for(DEFAULT_MODEL, 256) is None
