"""Federal Register parser on the real federalregister.gov pages of Proclamations 10925 and 10908."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.ingest.base import DocumentInfo, ParsedDocument
from assistant.ingest.detect import choose_parser
from assistant.ingest.fedreg import parse
from assistant.ingest.loaders import load
from assistant.textutil import collapse, word_count

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
P10925 = (
    CORPUS
    / "sources"
    / "fr-2025-07833-amendments-to-adjusting-imports-of-automobiles-and-automobile-parts.html"
)
P10908 = CORPUS / "sources" / "fr-2025-05930-adjusting-imports-of-automobiles-and-automobile-parts.html"


def _info(doc_id: str) -> DocumentInfo:
    return DocumentInfo(id=doc_id, title="", kind="")


@pytest.fixture(scope="module")
def p10925() -> ParsedDocument:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return parse(load(P10925), _info("fr-2025-07833"))


@pytest.fixture(scope="module")
def p10908() -> ParsedDocument:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return parse(load(P10908), _info("fr-2025-05930"))


def _with(parsed: ParsedDocument, phrase: str) -> list:
    want = collapse(phrase).lower()
    return [c for c in parsed.chunks if want in collapse(c.text).lower()]


def test_document_identity(p10925, p10908):
    for parsed, number, doc, cite, published, signed in (
        (p10925, "10925", "2025-07833", "90 FR 18899", "2025-05-02", "2025-04-29"),
        (p10908, "10908", "2025-05930", "90 FR 14705", "2025-04-03", "2025-03-26"),
    ):
        for c in parsed.chunks:
            assert c.meta["proclamation"] == number and c.meta["fr_doc"] == doc
            assert (
                c.meta["citation"] == cite and c.meta["published"] == published and c.meta["signed"] == signed
            )
            assert c.label.startswith(f"Proclamation {number}, ")
        assert parsed.info.date == published and parsed.info.kind == "source"
        assert (
            parsed.info.url.startswith("https://www.federalregister.gov/documents/")
            and doc in parsed.info.url
        )
    assert p10925.info.title == (
        "Proclamation 10925: Amendments to Adjusting Imports of Automobiles and Automobile Parts Into the "
        "United States"
    )
    assert (
        p10908.info.title
        == "Proclamation 10908: Adjusting Imports of Automobiles and Automobile Parts Into the United States"
    )


def test_detected_as_federal_register(p10925):
    assert choose_parser(load(P10925), _info("x")) == "fedreg_html"
    assert choose_parser(load(P10908), _info("x")) == "fedreg_html"


def test_clauses(p10925, p10908):
    assert {c.meta["clause"] for c in p10925.chunks if "clause" in c.meta} == {str(n) for n in range(1, 9)}
    assert {c.meta["clause"] for c in p10908.chunks if "clause" in c.meta} == {str(n) for n in range(1, 14)}
    cl2 = [c for c in p10925.chunks if c.meta.get("key") == "10925 cl. 2"]
    assert cl2 and {c.label for c in cl2} <= {"Proclamation 10925, cl. 2", "Proclamation 10925, cl. 2(b)"}
    assert cl2[0].text.startswith("(2) (a) Within 30 days of the date of this order")
    offsets = [
        c
        for c in p10925.chunks
        if c.meta.get("cites") and "Proclamation 10925, cl. 1(a)(ii)" in c.meta["cites"]
    ]
    assert offsets and offsets[0].label == "Proclamation 10925, cl. 1"  # (i) after (a) is a roman subclause
    sub_b = next(c for c in p10925.chunks if c.label == "Proclamation 10925, cl. 2(b)")
    assert sub_b.meta["subclause"] == "(b)" and sub_b.meta["fr_cite"] == "90 FR 18901"
    drawback = _with(
        p10908,
        "No drawback shall be available with respect to the duties imposed pursuant to this proclamation.",
    )
    assert len(drawback) == 1 and drawback[0].label == "Proclamation 10908, cl. 10"
    assert drawback[0].meta["key"] == "10908 cl. 10" and drawback[0].meta["fr_page"] == "14708"


def test_preamble_and_closing(p10925, p10908):
    recitals = {c.meta["recital"] for c in p10925.chunks if c.meta.get("part") == "preamble"}
    assert recitals == {str(n) for n in range(1, 10)}
    assert {c.meta["recital"] for c in p10908.chunks if c.meta.get("part") == "preamble"} == {
        str(n) for n in range(1, 11)
    }
    third = next(c for c in p10925.chunks if c.label == "Proclamation 10925, preamble ¶ 3")
    assert (
        third.text.startswith("3. In Proclamation 10908 of March 26, 2025")
        and third.meta["key"] == "10925 preamble ¶ 3"
    )
    enacting = next(c for c in p10925.chunks if c.meta.get("part") == "enacting clause")
    assert enacting.text.startswith("NOW, THEREFORE, I, DONALD J. TRUMP")
    closing = next(c for c in p10925.chunks if c.meta.get("part") == "closing")
    assert "twenty-ninth day of April" in closing.text


def test_page_chrome_absent(p10925, p10908):
    for parsed in (p10925, p10908):
        for chrome in (
            "Legal Status",
            "Enter a search term",
            "printed page",
            "Document Statistics",
            "Add to clipboard",
            "Published Document:",
        ):
            assert chrome not in parsed.text
        for c in parsed.chunks:
            assert "Billing code" not in c.text and "FR Doc." not in c.text
            assert c.text != "A Proclamation"


def test_sizes_offsets_and_ids(p10925, p10908):
    for parsed, path in ((p10925, P10925), (p10908, P10908)):
        for c in parsed.chunks:
            assert word_count(c.text) <= 180, c.label
            assert collapse(c.text) in collapse(parsed.text[c.start : c.end]), c.label
        again = parse(load(path), parsed.info)
        assert [c.id for c in again.chunks] == [c.id for c in parsed.chunks]
        assert len({c.id for c in parsed.chunks}) == len(parsed.chunks)


EXECUTIVE_ORDER = """<html><head>
<meta property="og:url" content="https://www.federalregister.gov/documents/2025/04/07/2025-06063/regulating-imports">
</head><body><div id="main">
<div class="fr-seal-block fr-seal-block-header">Published Document: 2025-06063 (90 FR 15041)</div>
<div id="fulltext_content_area">Executive Order 14257 of April 2, 2025
<h1>Regulating Imports With a Reciprocal Tariff</h1>
<p id="p-1" data-page="15041">By the authority vested in me as President by the Constitution and the laws of the
United States of America, it is hereby ordered:</p>
<p id="p-2" data-page="15041">Section 1. Background. The United States has run large and persistent annual
deficits in its trade in goods.</p>
<p id="p-3" data-page="15041">(a) The first finding of this section.</p>
<p id="p-4" data-page="15042">Sec. 2. Definitions. For purposes of this order, the term "trading partner" means
any foreign country.</p>
<p id="p-5" data-page="15042">THE WHITE HOUSE, April 2, 2025.</p>
<div class="end-matter"><p class="frdoc">[FR Doc. 2025-06063 Filed 4-4-25; 8:45 am]</p></div>
</div></div></body></html>"""


def test_executive_order_sections(tmp_path):
    page = tmp_path / "eo.html"
    page.write_text(EXECUTIVE_ORDER, encoding="utf-8")
    parsed = parse(load(page), _info("eo"))
    assert parsed.info.title == "Executive Order 14257: Regulating Imports With a Reciprocal Tariff"
    labels = [c.label for c in parsed.chunks]
    assert labels[0] == "Executive Order 14257, enacting clause"
    assert "Executive Order 14257, closing (signature)" in labels
    clauses = {c.meta["key"] for c in parsed.chunks if "clause" in c.meta}
    assert clauses == {"14257 cl. 1", "14257 cl. 2"}
    first = next(c for c in parsed.chunks if c.meta.get("key") == "14257 cl. 1")
    assert first.meta["executive_order"] == "14257" and first.meta["fr_doc"] == "2025-06063"
    assert first.meta["citation"] == "90 FR 15041" and first.meta["signed"] == "2025-04-02"
