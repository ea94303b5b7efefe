"""The UI's escaping helpers, upload checks and citation helpers (plain functions, no Streamlit run).

Escaping is checked against a real CommonMark renderer (markdown-it-py, which Streamlit's Markdown
dialect extends): the rendered HTML must contain the document's characters as text and no tag,
link or image made from them.
"""

from __future__ import annotations

import html
import json
import re
import shutil

import markdown_it
import pytest

from assistant.domain import SentenceSupport
from ui.citation_cards import citation_support, document_context, find_span, quote_spans, split_table
from ui.safety import md_escape, md_highlight, md_link, memo_escape, safe_url
from ui.uploads import (
    UploadRejected,
    check_upload,
    duplicate_of,
    is_inside,
    restore,
    sanitize_filename,
    save_upload,
    sniff_format,
)

EVIL = (
    "Quota <script>alert(1)</script> see [click](javascript:alert(1)) and ![x](http://evil/img) "
    "<img src=x onerror=alert(2)> <b>raw</b> :red[red] :material/home: $x^2$ *em* _u_ `code` "
    "[ref]: http://evil\n    indented code\n# heading\n> quote\n1. item\n- bullet\n| a | b |\n&lt;tag&gt; &#106;"
)


def render(md: str) -> str:
    return markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render(md)


def visible_text(rendered: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


def test_md_escape_renders_as_the_original_text():
    rendered = render(md_escape(EVIL))
    tags = set(re.findall(r"<\s*([a-zA-Z0-9]+)", rendered))
    assert tags <= {"p", "br"}, rendered  # no script, img, a, em, code, pre, h1, blockquote, ol, ul, table
    shown = visible_text(rendered)
    for piece in ("<script>alert(1)</script>", "[click](javascript:alert(1))", "![x](http://evil/img)",
                  "<img src=x onerror=alert(2)>", ":red[red]", "$x^2$", "*em*", "`code`", "# heading",
                  "> quote", "1. item", "- bullet", "&lt;tag&gt;", "&#106;"):
        assert piece in shown, piece


def test_md_escape_keeps_words_and_line_breaks_and_drops_indentation():
    assert md_escape("U.S. trade") == "U\\.S\\. trade"
    assert md_escape("a\n    b") == "a\nb"
    assert md_escape("  lead", line_start=False) == "  lead"
    assert md_escape("page\fnext") == "page\n\nnext"


def test_md_highlight_bolds_only_the_span_and_escapes_the_rest():
    text = "First <b>sentence</b>. The quoted one [x](javascript:y). Last."
    span = find_span(text, "The quoted one [x](javascript:y).")
    rendered = render(md_highlight(text, [span]))
    assert "<strong>The quoted one [x](javascript:y).</strong>" in html.unescape(rendered)
    assert "<a" not in rendered and "<b>" not in rendered
    assert "First <b>sentence</b>." in visible_text(rendered)


def test_md_highlight_across_lines_keeps_breaks():
    text = "Title\nrow one\nrow two\nafter"
    rendered = render(md_highlight(text, [(6, 21)]))
    assert "<strong>row one</strong><br />" in rendered and "<strong>row two</strong>" in rendered


def test_safe_url_allows_only_web_links():
    assert safe_url("https://ustr.gov/a b(c)") == "https://ustr.gov/a%20b%28c%29"
    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<b>", "/relative", "http://",
                "https://x.org/\nfoo", "vbscript:msgbox", ""):
        assert safe_url(bad) is None, bad
    assert md_link("label", "javascript:alert(1)") == "label"
    assert render(md_link("a]b", "https://x.org/p)q")).count("<a ") == 1


def test_memo_escape_is_readable_and_inert():
    raw = "U.S. Art. 34.7 costs $5 [x](javascript:y) <script> ![i](http://e/i)"
    out = memo_escape(raw)
    assert "U.S. Art. 34.7" in out
    rendered = render(out)
    assert "<a" not in rendered and "<img" not in rendered and "<script" not in rendered
    assert render(memo_escape("# not a heading\n1. not a list")).count("<h1") == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\Report Q1.PDF", "Report Q1.pdf"),
        ("..hidden.md", "hidden.md"),
        ("résumé<script>.html", "resume_script.html"),
        ("con.txt", "upload_con.txt"),
        ("a" * 300 + ".md", "a" * 117 + ".md"),
    ],
)
def test_sanitize_filename(name, expected):
    assert sanitize_filename(name) == expected


def test_sanitize_filename_refuses_names_without_extension():
    with pytest.raises(UploadRejected):
        sanitize_filename("README")


def test_sniff_format():
    assert sniff_format(b"%PDF-1.7\n...") == "pdf"
    assert sniff_format(b"<!DOCTYPE html><html><body>x</body></html>") == "html"
    assert sniff_format(b"# Title\n\nSome text") == "text"
    assert sniff_format(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") == "binary"
    assert sniff_format("text".encode("utf-16")) == "text"


def test_check_upload_by_extension_and_content():
    assert check_upload("memo.md", b"# Memo\n\ntext", 1) == "memo.md"
    cases = {
        ("memo.exe", b"MZ\x90\x00"): "unsupported file type",
        ("empty.txt", b""): "empty",
        ("fake.pdf", b"<html><body>not a pdf</body></html>"): "not a PDF",
        ("real.txt", b"%PDF-1.4\n..."): "content is a PDF",
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"): "binary",
        ("big.txt", b"x" * (1024 * 1024 + 1)): "too large",
    }
    for (name, data), reason in cases.items():
        with pytest.raises(UploadRejected, match=reason):
            check_upload(name, data, 1)


def test_save_upload_replaces_and_restores(tmp_path):
    folder = tmp_path / "user"
    first = save_upload("../memo.md", b"# v1\n\none", folder, 1)
    assert first.path == folder / "memo.md" and not first.replaced
    second = save_upload("memo.md", b"# v2\n\ntwo", folder, 1)
    assert second.replaced and first.path.read_bytes() == b"# v2\n\ntwo"
    restore(second)  # the indexer refused v2: v1 comes back
    assert (folder / "memo.md").read_bytes() == b"# v1\n\none"
    restore(first)  # a refused new file is removed
    assert not (folder / "memo.md").exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".uploading")]
    assert is_inside(folder / "x.md", folder) and not is_inside(tmp_path / "x.md", folder)


def test_duplicate_of_finds_indexed_content(brief_settings):
    from assistant.index.store import load_snapshot
    from tests.conftest import BRIEF

    snap = load_snapshot(brief_settings.index_dir)
    assert duplicate_of(BRIEF.read_bytes(), snap.documents) in snap.documents
    assert duplicate_of(b"something else", snap.documents) is None


def test_quote_spans_find_each_quoted_sentence():
    passage = "One fact here. Two more facts.\nThree is last."
    assert quote_spans(passage, "Two more facts.") == [(15, 30)]
    spans = quote_spans(passage, "One fact here. Three is last.")
    assert [passage[a:b] for a, b in spans] == ["One fact here.", "Three is last."]
    assert find_span("a  b\nc", "a b c") == (0, 6)


def test_split_table_reads_tab_rows():
    t = split_table("Figure 1: Title\nA\tB\nCanada\t1\t2\nMexico\t3\t4\nUnits: dollars")
    assert t is not None and t.before == "Figure 1: Title" and t.after == "Units: dollars"
    assert t.header == ["", "A", "B"] and t.records()[1] == {"": "Mexico", "A": "3", "B": "4"}
    assert split_table("no table here\njust lines") is None


def test_citation_support_needs_every_citing_sentence():
    support = [
        SentenceSupport("a [1].", [1], True, 0.9),
        SentenceSupport("b [1][2].", [1, 2], False, 0.2, "number not in passage"),
    ]
    assert citation_support(1, support).status == "weak"
    assert citation_support(1, support).reasons == ("number not in passage",)
    assert citation_support(3, support).status == "unchecked"
    assert citation_support(1, support[:1]).status == "supported"


def test_document_context_shows_the_passage_in_its_text(brief_assistant, brief_settings):
    answer = brief_assistant.ask("How much did U.S.-Mexico trade total in 2024?")
    snap = brief_assistant.reader.snapshot()
    c = answer.citations[0]
    ctx = document_context(brief_settings.index_dir, snap, c.chunk_id, chars=300)
    assert ctx is not None
    a, b = ctx.passage
    assert " ".join(ctx.text[a:b].split()) == " ".join(c.passage.split())
    assert len(ctx.text) > b - a  # there is text around it
    assert document_context(brief_settings.index_dir, snap, "no-such-chunk") is None


def test_document_context_when_the_text_is_gone(brief_assistant, brief_settings, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(brief_settings.index_dir, index)
    snap = brief_assistant.reader.snapshot()
    for f in (index / "texts").iterdir():
        f.unlink()
    chunk_id = next(iter(snap.chunks))
    assert document_context(index, snap, chunk_id) is None
    assert json.loads((index / "documents.json").read_text())["documents"]
