"""Footnote sources and cross-references on the full real index (brief + treaty + law + proclamations)."""

from __future__ import annotations

import pytest

from assistant.answer.citations import build_citation
from assistant.answer.related import CROSS_REFERENCE, FOOTNOTE_SOURCE, related_passages
from assistant.domain import Citation, SourceRef
from assistant.textutil import normalize_for_match

PROCLAMATION_10925 = "fr-2025-07833-amendments-to-adjusting-imports-of-automobiles-and-automobile-parts.html"
KEYS = ("relation", "chunk_id", "document_id", "title", "location", "quote", "url")


@pytest.fixture(scope="module")
def snap(full_assistant):
    return full_assistant.reader.snapshot()


def _assert_well_formed(item: dict, snap) -> None:
    assert set(KEYS) <= set(item), item
    chunk = snap.chunks[item["chunk_id"]]
    assert chunk.document_id == item["document_id"] and item["location"] == chunk.label
    assert item["quote"] and normalize_for_match(item["quote"]) in normalize_for_match(chunk.text)


def test_a_brief_passage_citing_footnote_29_gets_the_proclamation_passage_it_quotes(full_assistant, snap):
    assert snap.sources[29].document_id == PROCLAMATION_10925  # footnote 29's source is indexed
    passage = next(c for c in snap.chunks.values() if c.kind == "brief" and 29 in c.footnotes)
    sentence = passage.text[passage.text.index("Indeed, the relevant executive order") :]
    citation = build_citation(1, passage, [sentence], snap.sources)
    related = related_passages(citation, snap, full_assistant.retriever)
    sources = [r for r in related if r["relation"] == FOOTNOTE_SOURCE]
    assert len(sources) == 1, related
    item = sources[0]
    _assert_well_formed(item, snap)
    assert item["document_id"] == PROCLAMATION_10925 and item["via"] == "footnote 29"
    assert item["location"].startswith("Proclamation 10925")
    assert item["url"].startswith("https://www.federalregister.gov/")
    # the passage whose words the brief quotes ("more effectively eliminate the national security threat")
    assert "more effectively eliminate the national security threat" in item["quote"]
    assert "create jobs in the automotive industry" in item["quote"]


def test_a_claim_without_quoted_words_is_matched_by_retrieval_within_the_source(full_assistant, snap):
    claim = (
        "Carmakers may claim an import adjustment offset of 3.75 percent of the suggested retail price of "
        "vehicles assembled in the United States.²⁹"
    )
    ref = snap.sources[29]
    citation = Citation(1, "not-indexed", "memo", "A memo", "user", "memo", claim, claim, footnotes=[ref])
    items = related_passages(citation, snap, full_assistant.retriever)
    assert [i["relation"] for i in items] == [FOOTNOTE_SOURCE]
    item = items[0]
    _assert_well_formed(item, snap)
    assert item["document_id"] == PROCLAMATION_10925  # searched in that document only
    assert "3.75 percent" in item["quote"]


def test_footnotes_whose_source_is_not_indexed_give_no_source_passage(full_assistant, snap):
    passage = next(c for c in snap.chunks.values() if c.kind == "brief" and 1 in c.footnotes)
    assert not snap.sources[1].document_id
    citation = build_citation(1, passage, [], snap.sources)
    assert related_passages(citation, snap, full_assistant.retriever) == []
    unknown = SourceRef(footnote=99, text="x", document_id="not-in-the-index.pdf")
    memo = Citation(1, "x", "memo", "A memo", "user", "memo", "Claim.⁹⁹", "Claim.⁹⁹", footnotes=[unknown])
    assert related_passages(memo, snap, full_assistant.retriever) == []


def test_a_chapter_2_passage_that_refers_to_another_article_gets_that_article(snap):
    citing = next(
        c
        for c in sorted(snap.chunks.values(), key=lambda c: c.position)
        if c.kind == "treaty" and c.meta.get("key") == "2.12" and "2.11" in c.meta.get("xrefs", [])
    )
    assert "Article 2.11" in citing.text
    related = related_passages(build_citation(1, citing, [], snap.sources), snap)
    xrefs = [r for r in related if r["relation"] == CROSS_REFERENCE]
    assert xrefs and xrefs[0]["via"] == "2.11"
    target = snap.chunks[xrefs[0]["chunk_id"]]
    _assert_well_formed(xrefs[0], snap)
    assert target.meta.get("key") == "2.11" and target.document_id == citing.document_id
    # the linked article's first passage, quoted from its start (not a bare paragraph number)
    first = min((snap.chunks[i] for i in snap.by_key["2.11"]), key=lambda c: c.position)
    assert target.id == first.id
    assert xrefs[0]["quote"].startswith("1. Except as otherwise provided in this Agreement")


def test_annex_references_resolve_and_a_passage_never_links_to_itself(snap):
    citing = next(
        c for c in snap.chunks.values() if c.kind == "treaty" and "Annex 2-C" in c.meta.get("xrefs", [])
    )
    related = related_passages(build_citation(1, citing, [], snap.sources), snap)
    annex = [r for r in related if r["via"] == "Annex 2-C"]
    assert annex and snap.chunks[annex[0]["chunk_id"]].meta.get("annex") == "2-C"
    assert citing.id not in {r["chunk_id"] for r in related}
    # references to chapters that are not indexed (Chapter 4) are skipped, not guessed
    assert not [r for r in related if r["via"].startswith("Chapter")]
