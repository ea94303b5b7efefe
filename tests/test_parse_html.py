"""Shared HTML helpers and the generic web-page parser; parser detection and the PARSERS table."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.ingest import html
from assistant.ingest.base import DocumentInfo
from assistant.ingest.detect import PARSERS, choose_parser
from assistant.ingest.loaders import load
from assistant.textutil import collapse, word_count

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"

PAGE = """<!DOCTYPE html>
<html lang="en"><head><title>Trade notes | Example Site</title>
<style>.x { color: red }</style><script>var tracker = "do-not-index";</script></head>
<body>
<header><nav><a href="/">Home</a> <a href="/about">About us</a></nav></header>
<div id="banner" role="banner">Site-wide banner text</div>
<main>
  <h1>Rules of Origin Explained</h1>
  <p>Intro paragraph with a note<sup><a href="#fn1">1</a></sup> and <b>bold</b> text.</p>
  <span class="wb-inv">Hidden helper text</span>
  <h2>Regional value content</h2>
  <p>The regional value content for passenger vehicles rises to 75 percent.</p>
  <ul>
    <li>First item
      <ul><li>Nested item</li></ul>
    </li>
    <li>Second item</li>
  </ul>
  <h3>Labor value content</h3>
  <p>At least 40 percent of a vehicle must be made by workers earning at least 16 dollars an hour.</p>
  <table><caption>Phase-in</caption>
    <thead><tr><th>Year</th><th>RVC</th></tr></thead>
    <tbody><tr><td>2020</td><td>66%</td></tr><tr><td>2023</td><td>75%</td></tr></tbody>
  </table>
  <form><input name="q"><button>Search</button></form>
  <aside class="related">Related stories sidebar</aside>
  <aside class="wb-fnote" role="note"><h2>Footnotes</h2><dl><dt>Footnote 1</dt>
    <dd id="fn1"><p>The note text.</p>
      <p class="fn-rtn"><a href="#fn1-rf">Return to footnote 1</a></p></dd></dl>
  </aside>
</main>
<footer>Copyright footer text</footer>
<noscript>Enable JavaScript</noscript>
</body></html>
"""


@pytest.fixture()
def page(tmp_path) -> Path:
    path = tmp_path / "rules-of-origin.html"
    path.write_text(PAGE, encoding="utf-8")
    return path


def test_main_content_text_without_chrome(page):
    doc = html.html_text(page.read_text(encoding="utf-8"))
    assert doc.title == "Rules of Origin Explained"
    for chrome in (
        "do-not-index",
        "color: red",
        "About us",
        "Site-wide banner",
        "Hidden helper",
        "Search",
        "Related stories",
        "Copyright footer",
        "Enable JavaScript",
        "Return to footnote",
    ):
        assert chrome not in doc.text
    assert "Intro paragraph with a note¹ and bold text." in doc.text  # footnote number as a superscript
    assert "The note text." in doc.text  # footnote asides are document text
    assert "\n\nThe regional value content for passenger vehicles rises to 75 percent.\n\n" in doc.text


def test_elements_and_offsets(page):
    doc = html.html_text(page.read_text(encoding="utf-8"))
    kinds = [(e.kind, e.level, e.text) for e in doc.elements]
    assert ("heading", 1, "Rules of Origin Explained") in kinds
    assert ("heading", 3, "Labor value content") in kinds
    assert ("item", 0, "First item") in kinds and ("item", 1, "Nested item") in kinds
    assert ("term", 0, "Footnote 1") in kinds
    table = next(e for e in doc.elements if e.kind == "table")
    assert table.caption == "Phase-in" and table.header_rows == 1
    assert table.rows == (("Year", "RVC"), ("2020", "66%"), ("2023", "75%"))
    for e in doc.elements:
        assert doc.text[e.start : e.end] == e.text
    for row, (s, e) in zip(table.rows, table.row_spans, strict=True):
        assert doc.text[s:e] == "\t".join(row)


def test_main_content_falls_back_to_largest_article():
    soup = html.make_soup(
        "<html><body><div>menu menu</div><article><p>short</p></article>"
        f"<article><h1>Big</h1><p>{'word ' * 80}</p></article></body></html>"
    )
    root = html.main_content(soup)
    assert root.name == "article" and root.find("h1").get_text() == "Big"


def test_generic_parser_blocks_under_headings(page):
    raw = load(page)
    assert choose_parser(raw, DocumentInfo(id="u1", title="", kind="")) == "html"
    parsed = PARSERS["html"](raw, DocumentInfo(id="u1", title="", kind=""))
    assert parsed.info.title == "Rules of Origin Explained" and parsed.info.kind == "user"
    rvc = next(c for c in parsed.chunks if "75 percent" in c.text and "RVC" not in c.text)
    assert rvc.section == "Rules of Origin Explained > Regional value content"
    assert rvc.label == "Regional value content"
    assert "First item" in rvc.text  # a short list merges with the paragraph above it
    table = next(c for c in parsed.chunks if "2023\t75%" in c.text)
    assert table.section == "Rules of Origin Explained > Regional value content > Labor value content"
    for c in parsed.chunks:
        assert collapse(c.text) in collapse(parsed.text[c.start : c.end])
    again = PARSERS["html"](load(page), DocumentInfo(id="u1", title="", kind=""))
    assert [c.id for c in again.chunks] == [c.id for c in parsed.chunks]


def test_long_tables_are_cut_into_row_windows():
    rows = "".join(f"<tr><td>{i}</td><td>{'value ' * 12}</td></tr>" for i in range(60))
    doc = html.html_text(f"<main><h1>T</h1><table><tr><th>N</th><th>V</th></tr>{rows}</table></main>")
    table = next(e for e in doc.elements if e.kind == "table")
    blocks = html.table_blocks(doc.text, table, section="T", label="T")
    assert len(blocks) > 1 and all(b.keep_whole for b in blocks)
    assert all(word_count(b.text) <= 150 for b in blocks)
    assert blocks[0].text.startswith("N\tV\n0\t")
    assert all("N | V" in b.section for b in blocks[1:])  # later windows carry the header in their context
    assert "header_rows" not in blocks[0].meta and all(b.meta["header_rows"] == ["N\tV"] for b in blocks[1:])
    assert [b.start for b in blocks] == sorted(b.start for b in blocks)


def test_real_pages_through_the_generic_parser():
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    gac = load(CORPUS / "usmca" / "usmca-ch02-national-treatment-and-market-access-for-goods.html")
    parsed = PARSERS["html"](gac, DocumentInfo(id="gac", title="", kind=""))
    assert parsed.chunks and "gtag(" not in parsed.text and "Skip to main content" not in parsed.text
    assert parsed.info.title.startswith("Canada-United States-Mexico Agreement (CUSMA) - Chapter 2")
    fr = load(
        CORPUS
        / "sources"
        / "fr-2025-07833-amendments-to-adjusting-imports-of-automobiles-and-automobile-parts.html"
    )
    parsed = PARSERS["html"](fr, DocumentInfo(id="fr", title="", kind=""))
    assert any("No drawback" in c.text or "import adjustment offset" in c.text for c in parsed.chunks)
    assert "Enter a search term" not in parsed.text


def test_parser_names_and_registry_choice(tmp_path):
    assert set(PARSERS) == {"treaty_html", "treaty_pdf", "tariff_html", "uscode_md", "fedreg_html", "html"}
    md = tmp_path / "code.md"
    md.write_text("# Chapter\n\n## 19 U.S.C. § 4501. Purpose\n\nText.\n", encoding="utf-8")
    raw = load(md)
    assert choose_parser(raw, DocumentInfo(id="c", title="", kind="")) == "uscode_md"
    assert choose_parser(raw, DocumentInfo(id="c", title="", kind="", parser="markdown")) == "markdown"
    assert choose_parser(raw, DocumentInfo(id="c", title="", kind="", parser="generic")) == "markdown"
    notes = tmp_path / "notes.txt"
    notes.write_text("Plain notes about the USMCA review.\n", encoding="utf-8")
    assert choose_parser(load(notes), DocumentInfo(id="n", title="", kind="")) == "text"
    if CORPUS.is_dir():
        brief = load(CORPUS / "brief" / "quincy-brief-80-us-mexico-special-relationship.md")
        assert choose_parser(brief, DocumentInfo(id="b", title="", kind="")) == "brief"
