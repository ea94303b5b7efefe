"""USMCA treaty parser on the real Government of Canada Chapter 2 page, and on USTR-layout PDFs that
the tests write themselves (a minimal PDF with Helvetica text lines, read back through pypdf)."""

from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path

import pytest

from assistant.ingest.base import DocumentInfo, ParsedDocument, RawDocument
from assistant.ingest.detect import choose_parser
from assistant.ingest.loaders import load
from assistant.ingest.treaty import parse_html, parse_pdf, xrefs
from assistant.textutil import collapse, word_count

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CH2 = CORPUS / "usmca" / "usmca-ch02-national-treatment-and-market-access-for-goods.html"


def _info(doc_id: str = "usmca-ch02") -> DocumentInfo:
    return DocumentInfo(id=doc_id, title="", kind="")


@pytest.fixture(scope="module")
def ch2() -> ParsedDocument:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return parse_html(load(CH2), _info())


def _with(parsed: ParsedDocument, phrase: str) -> list:
    want = collapse(phrase).lower()
    return [c for c in parsed.chunks if want in collapse(c.text).lower()]


# ---- Chapter 2, GAC HTML layout ------------------------------------------------------------------


def test_detected_as_treaty_html():
    if not CORPUS.is_dir():
        pytest.skip("shared corpus not found")
    assert choose_parser(load(CH2), _info()) == "treaty_html"


def test_chapter_two_has_exactly_the_seventeen_articles(ch2):
    articles = {c.meta["article"] for c in ch2.chunks if c.meta.get("article") and "annex" not in c.meta}
    assert articles == {f"2.{n}" for n in range(1, 18)}
    titles = {
        c.meta["article"]: c.meta["article_title"] for c in ch2.chunks if c.meta.get("article") in articles
    }
    assert titles["2.4"] == "Treatment of Customs Duties"
    assert titles["2.11"] == "Import and Export Restrictions"
    assert titles["2.17"] == "Committee on Trade in Goods"
    assert titles["2.9"].startswith("Duty-Free Entry of Commercial Samples")
    art24 = [c for c in ch2.chunks if c.meta.get("key") == "2.4"]
    assert art24 and all(c.section == "Chapter 2 — Article 2.4: Treatment of Customs Duties" for c in art24)
    assert all(c.label.startswith("USMCA Art. 2.4") for c in art24)
    assert ch2.info.title == "USMCA Chapter 2: National Treatment and Market Access for Goods"
    assert ch2.info.kind == "treaty"


def test_article_and_paragraph_labels(ch2):
    labels = {c.label for c in ch2.chunks}
    assert "USMCA Art. 2.5.6(c)" in labels  # a long paragraph is cut between its subparagraphs
    assert "USMCA Art. 2.3.3" in labels  # a paragraph on its own
    assert "USMCA Art. 2.6" in labels  # an article of one unnumbered paragraph
    para_level = [lb for lb in labels if re.fullmatch(r"USMCA Art\. 2\.\d+\.\d+", lb)]
    assert len(para_level) >= 10
    c = next(c for c in ch2.chunks if c.label == "USMCA Art. 2.3.3")
    assert c.meta["paragraph"] == "3" and c.meta["key"] == "2.3" and c.meta["chapter"] == "2"
    # merged short paragraphs carry the article-level label and list their paragraphs
    merged = [c for c in ch2.chunks if c.meta.get("paragraphs")]
    assert merged and all(
        re.fullmatch(r"USMCA (Art\. [\d.A]+|Annex 2-[ABC].*|Appendix 2.*)", c.label) for c in merged
    )


def test_annexes_appendices_and_their_keys(ch2):
    by_label = {c.label: c for c in ch2.chunks}
    annex_c = [c for c in ch2.chunks if c.meta.get("key") == "Annex 2-C"]
    assert annex_c and all(c.label.startswith("USMCA Annex 2-C") for c in annex_c)
    assert all(c.meta["annex"] == "2-C" for c in annex_c)
    assert (
        "Annex 2-C: Provisions between Mexico and the United States on Automotive Goods" in annex_c[0].section
    )
    assert (
        _with(
            ch2, "The customs duty applied by the United States on passenger vehicles imported from Mexico"
        )[0]
        in annex_c
    )
    annex_a = [c for c in ch2.chunks if c.meta.get("annex") == "2-A"]
    assert {c.meta["article"] for c in annex_a} == {"2.A.1", "2.A.2", "2.A.3", "2.A.4"}
    assert any(lb.startswith("USMCA Annex 2-B (Canada) General Notes") for lb in by_label)
    trq_ca = [c for c in ch2.chunks if c.label.startswith("USMCA Appendix 2 (TRQs, Canada)")]
    trq_us = [c for c in ch2.chunks if c.label.startswith("USMCA Appendix 2 (TRQs, United States)")]
    assert trq_ca and trq_us and all(c.meta["key"] == "Appendix 2" for c in trq_ca + trq_us)
    assert any("TRQ-CA1: Milk" in c.text for c in trq_ca)
    parts = [c for c in ch2.chunks if c.label == "USMCA Annex 2-C Appendix (Auto Parts)"]
    assert parts and any("870899 Parts and Accessories of Motor Vehicles" in c.text for c in parts)


def test_footnotes_attached_and_kept_as_chunks(ch2):
    notes = {c.meta["footnote"]: c for c in ch2.chunks if "footnote" in c.meta}
    assert sorted(notes) == [1, 2, 3, 4, 5]
    assert notes[1].label == "USMCA Ch. 2, footnote 1"
    assert "Processes such as testing, cleaning, repacking" in notes[1].text
    citing = [c for c in ch2.chunks if 1 in c.footnotes and "footnote" not in c.meta]
    assert len(citing) == 1 and citing[0].meta["key"] == "2.5"
    assert notes[1].meta["cited_in"] == citing[0].label
    assert "Processes such as testing" in citing[0].meta["footnotes_text"]
    # the marker stays a superscript; the footnote's text is not glued into the sentence
    assert "was exported.¹ If that good has been commingled" in citing[0].text
    assert "Processes such as testing" not in citing[0].text
    fn3 = [c for c in ch2.chunks if 3 in c.footnotes]
    assert fn3 and "merchandise processing fee" in fn3[0].meta["footnotes_text"]


def test_cross_references(ch2):
    c = next(c for c in ch2.chunks if c.label == "USMCA Art. 2.3.3")
    assert c.meta["xrefs"] == ["Annex 2-A", "2.11"]
    c = next(c for c in ch2.chunks if c.meta.get("paragraph") == "2" and c.meta.get("key") == "2.13")
    assert "5.2" not in c.meta["xrefs"]  # Article 5.2 of the Import Licensing Agreement is not USMCA
    assert xrefs("Article 2.11.1 (Import and Export Restrictions) and Chapter 4 (Rules of Origin)") == [
        "2.11",
        "Chapter 4",
    ]
    assert xrefs("goods classified in Chapters 19, 20, 21, or 22 and Annex 2-B") == ["Annex 2-B"]


def test_site_chrome_and_scripts_absent(ch2):
    for chrome in (
        "Skip to main content",
        "gtag(",
        "dataLayer",
        "Date modified",
        "Language selection",
        "Government of Canada All contacts",
        "Return to footnote",
        "_satellite",
    ):
        assert chrome not in ch2.text
    assert ch2.text.count("Article 2.4: Treatment of Customs Duties") == 1


def test_dev_evidence_quotes(ch2):
    used = _with(
        ch2,
        "no Party shall adopt or maintain a prohibition or restriction on the importation of "
        "originating used vehicles from the territory of another Party.",
    )
    assert len(used) == 1 and used[0].meta["key"] == "2.11"
    committee = _with(
        ch2,
        "The Goods Committee shall meet on the request of a Party or the Commission to "
        "consider any matter arising under this Chapter.",
    )
    assert len(committee) == 1 and committee[0].meta["key"] == "2.17"


def test_chunk_sizes_offsets_and_ids(ch2):
    for c in ch2.chunks:
        if "table" not in c.label.lower():
            assert word_count(c.text) <= 180, c.label
        assert collapse(c.text) in collapse(ch2.text[c.start : c.end]), c.label
    again = parse_html(load(CH2), _info())
    assert [c.id for c in again.chunks] == [c.id for c in ch2.chunks]
    assert len({c.id for c in ch2.chunks}) == len(ch2.chunks)
    assert all(c.document_id == "usmca-ch02" and c.kind == "treaty" for c in ch2.chunks)


# ---- USTR PDF layout -----------------------------------------------------------------------------


def _pdf(pages: list[list[tuple[str, float, float, float]]]) -> bytes:
    """A minimal PDF: each page a list of (text, font size, x, y) drawn in Helvetica."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font = 3 + 2 * len(pages)
    for i, items in enumerate(pages):
        ops = ["BT"]
        for text, size, x, y in items:
            esc = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"/F1 {size} Tf 1 0 0 1 {x} {y} Tm ({esc}) Tj")
        ops.append("ET")
        stream = "\n".join(ops).encode("cp1252")
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode()
        )
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    return out.getvalue()


def _page(body: list[str], footer: str, notes: list[str]) -> list[tuple[str, float, float, float]]:
    """USTR page layout: body lines wrapped at ~95 characters, page number and footnotes at the bottom."""
    items, y = [], 740.0
    for para in body:
        for line in textwrap.wrap(para, 95):
            items.append((line, 11, 72, y))
            y -= 14
        y -= 4
    for i, note in enumerate(notes):
        items.append((note, 8, 72, 80 - 10 * i))
    items.append((footer, 10, 300, 30))
    return items


# Article 34.6 and the start of Article 34.7 as laid out in the USTR chapter PDF (wording abridged).
CH34_P1 = [
    "CHAPTER 34",
    "FINAL PROVISIONS",
    "Article 34.6: Withdrawal",
    "1. A Party may withdraw from this Agreement by providing written notice of withdrawal to the other "
    "Parties.",
    "2. A withdrawal shall take effect six months after a Party provides written notice to the other "
    "Parties. If a Party withdraws, this Agreement shall remain in force for the remaining Parties.",
    "Article 34.7: Review and Term Extension",
    "1. This Agreement shall terminate 16 years after the date of its entry into force, unless each Party "
    "confirms it wishes to continue this Agreement for a new 16-year term, in accordance with the procedures "
    "set forth in paragraphs 2 through 6.",
    "2. On the sixth anniversary of the entry into force of this Agreement, the Commission shall meet to "
    "conduct a \u201cjoint review\u201d of this Agreement, review any recommendations for action submitted "
    "by a Party, and decide on any appropriate actions.1 Each Party may provide recommendations for the "
    "Commission to take action at least one month before the Commission\u2019s joint review meeting is held.",
]
CH34_P1_NOTES = [
    "1 For greater certainty, the joint review is conducted in accordance with Article 30.2 "
    "(Functions of the Commission)."
]
CH34_P2 = [
    "3. As part of the Commission\u2019s joint review, each Party shall confirm, in writing, through its "
    "head of government, if it wishes to extend the term of this Agreement for another 16-year period.",
    "4. If as part of the six-year joint review a Party does not confirm its wish to extend the term of this "
    "Agreement for another 16-year period:",
    "(a) the Commission shall meet to conduct a joint review annually for the remainder of the term of this "
    "Agreement; and",
    "(b) the Parties may confirm their desire to extend the term of this Agreement at any time during the "
    "annual joint reviews.",
]


@pytest.fixture(scope="module")
def ch34_raw(tmp_path_factory) -> RawDocument:
    path = tmp_path_factory.mktemp("pdf") / "usmca-ch34-excerpt.pdf"
    path.write_bytes(_pdf([_page(CH34_P1, "34-4", CH34_P1_NOTES), _page(CH34_P2, "34-5", [])]))
    return load(path)


@pytest.fixture(scope="module")
def ch34(ch34_raw) -> ParsedDocument:
    return parse_pdf(ch34_raw, _info("usmca-ch34"))


def test_pdf_layout_articles_paragraphs_pages(ch34, ch34_raw):
    assert "Article 34.7: Review and Term Extension" in ch34_raw.text  # pypdf read the hand-written PDF
    assert choose_parser(ch34_raw, _info()) == "treaty_pdf"
    assert ch34.info.title == "USMCA Chapter 34: Final Provisions"
    keys = {c.meta.get("key") for c in ch34.chunks}
    assert {"34.6", "34.7"} <= keys
    c = _with(ch34, "A withdrawal shall take effect six months after")[0]
    assert c.label.startswith("USMCA Art. 34.6") and c.meta["article_title"] == "Withdrawal" and c.page == 1
    review = _with(ch34, "each Party shall confirm, in writing, through its head of government")[0]
    assert review.meta["key"] == "34.7" and review.page == 2
    assert review.section == "Chapter 34 — Article 34.7: Review and Term Extension"
    items = _with(ch34, "(a) the Commission shall meet to conduct a joint review annually")[0]
    assert items.meta["key"] == "34.7" and "4" in (
        items.meta.get("paragraphs") or [items.meta.get("paragraph")]
    )
    # wrapped lines are joined back; page numbers are gone
    assert (
        "for a new 16-year term, in accordance with the procedures set forth in paragraphs 2 through 6."
        in ch34.text
    )
    assert "34-4" not in ch34.text and "34-5" not in ch34.text


def test_pdf_layout_footnotes(ch34):
    note = next(c for c in ch34.chunks if c.meta.get("footnote") == 1)
    assert note.label == "USMCA Ch. 34, footnote 1" and note.meta["xrefs"] == ["30.2"]
    citing = next(c for c in ch34.chunks if 1 in c.footnotes and "footnote" not in c.meta)
    assert "decide on any appropriate actions.¹ Each Party may provide" in citing.text
    assert "For greater certainty" not in citing.text
    assert "Article 30.2" in citing.meta["footnotes_text"]
    for c in ch34.chunks:
        assert collapse(c.text) in collapse(ch34.text[c.start : c.end])


ANNEX_P1 = [
    "ANNEX 31-A",
    "UNITED STATES-MEXICO FACILITY-SPECIFIC RAPID RESPONSE LABOR MECHANISM",
    "Article 31-A.1: Scope and Purpose",
    "1. The purpose of the Facility-Specific Rapid Response Labor Mechanism (Mechanism) is to ensure "
    "remediation of a Denial of Rights, as defined in Article 31-A.2 (Denial of Rights), for workers at a "
    "Covered Facility.",
    "2. This Annex shall only apply between Mexico and the United States.",
    "Article 31-A.2: Denial of Rights",
    "For purposes of this Annex, a claim can be brought with respect to a Covered Facility if the "
    "complainant Party has a good faith basis belief that workers at the facility are being denied the "
    "right of free association and collective bargaining under laws necessary to fulfill the obligations "
    "of the other Party under this Agreement (Denial of Rights).7",
    "APPENDIX 1",
    "LAYOUT SAMPLE",
    "1. This Appendix sets out a sample paragraph in the layout of a USTR appendix.",
]
ANNEX_NOTES = [
    "7 With respect to the United States, a claim can be brought only with respect to an alleged "
    "Denial of Rights owed to workers at a covered facility under an enforced order of the National "
    "Labor Relations Board."
]


def test_pdf_layout_annex_and_appendix(tmp_path):
    path = tmp_path / "annex-31-a.pdf"
    path.write_bytes(_pdf([_page(ANNEX_P1, "31-A-1", ANNEX_NOTES)]))
    parsed = parse_pdf(load(path), _info("annex-31-a"))
    first = _with(parsed, "This Annex shall only apply between Mexico and the United States.")[0]
    assert first.meta["key"] == "31-A.1" and first.meta["annex"] == "31-A"
    assert first.label.startswith("USMCA Art. 31-A.1")
    assert (
        "Annex 31-A: United States-Mexico Facility-Specific Rapid Response Labor Mechanism" in first.section
    )
    denial = _with(parsed, "are being denied the right of free association")[0]
    assert denial.label == "USMCA Art. 31-A.2" and denial.footnotes == (
        7,
    )  # an excerpt's footnotes start anywhere
    assert "National Labor Relations Board" in denial.meta["footnotes_text"]
    appendix = _with(parsed, "This Appendix sets out a sample paragraph")[0]
    assert appendix.label.startswith("USMCA Appendix 1") and appendix.meta["key"] == "Appendix 1"
    assert "31-A-1" not in parsed.text


PREAMBLE = [
    "PREAMBLE",
    "The Government of the United States of America, the Government of the United Mexican States, and "
    "the Government of Canada (collectively \u201cthe Parties\u201d), resolving to:",
    "REPLACE the 1994 North American Free Trade Agreement with a 21st Century, high standard new agreement "
    "to support mutually beneficial trade leading to freer, fairer markets, and to robust economic growth "
    "in the region;",
]


def test_pdf_without_articles_is_still_chunked(tmp_path):
    """The registry sends the Preamble, the protocols and the side letters to this parser too."""
    path = tmp_path / "usmca-preamble.pdf"
    path.write_bytes(_pdf([_page(PREAMBLE, "Preamble-1", [])]))
    info = DocumentInfo(id="usmca-preamble.pdf", title="USMCA Preamble", kind="treaty", parser="treaty_pdf")
    parsed = parse_pdf(load(path), info)
    assert parsed.chunks and all(c.label == "USMCA Preamble" for c in parsed.chunks)
    assert _with(parsed, "REPLACE the 1994 North American Free Trade Agreement")
    assert parsed.warnings  # says that no article headings were found
    assert "Preamble-1" not in parsed.text


def test_a_quota_table_carries_the_title_of_its_paragraph(ch2):
    # A TRQ's year-by-year quantities are a table of numbers under "16. TRQ-CA12: Products
    # Consisting of Natural Milk Constituents": the title goes into the table's section (its search
    # context), so "TRQ-CA12 in year 19" finds the table, not only the paragraph around it.
    tables = {c.label: c for c in ch2.chunks if c.label.endswith(", table") and "TRQs" in c.label}
    assert len(tables) == 24
    ca12 = tables["USMCA Appendix 2 (TRQs, Canada), para. 16 (TRQ-CA12: Products Consisting of Natural Milk "
                  "Constituents), table"]
    assert ca12.section.endswith("— 16. TRQ-CA12: Products Consisting of Natural Milk Constituents")
    assert "TRQ-CA12" in ca12.search_text and "TRQ-CA12" not in ca12.text
    assert "19\t3,141" in ca12.text and ca12.meta.get("table")  # quoted row by row, like the brief's tables
    us1 = tables["USMCA Appendix 2 (TRQs, United States), para. 6 (TRQ – US 1: Fluid Cream, Sour Cream, Ice "
                 "Cream, and Milk Beverages), table"]
    assert "US 1: Fluid Cream" in us1.section


def test_what_follows_a_quota_table_belongs_to_its_quota_not_the_next(ch2):
    # "Starting in quota year 19, the quantity shall remain at 785 MT" closes TRQ-CA7 (milk
    # powders); it once shared a passage with the title of TRQ-CA8 (condensed milk), so an answer
    # on condensed milk quoted milk powder's final quantity
    tails = _with(ch2, "shall remain at 785 MT per year")
    [ca7] = [t for t in tails if "TRQ-CA7" in t.section]
    assert ca7.label == "USMCA Appendix 2 (TRQs, Canada), para. 11"
    assert not any("TRQ-CA8" in t.search_text for t in tails)
