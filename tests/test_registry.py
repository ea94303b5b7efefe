"""The committed registry: contents, checksums of the mirror files, footnote sources and links."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from assistant.ingest.base import DocumentInfo
from assistant.ingest.registry import (
    INDEXED,
    REFERENCE_ONLY,
    Registry,
    RegistryError,
    citation_url,
    load_registry,
    mirror_path,
    url_confirmed,
)
from assistant.settings import PROJECT_ROOT

REGISTRY = PROJECT_ROOT / "corpus" / "registry.json"
MIRROR = PROJECT_ROOT.parent / "shared" / "corpus"
BRIEF_ID = "quincy-brief-80-us-mexico-special-relationship.md"
P10925 = "fr-2025-07833-amendments-to-adjusting-imports-of-automobiles-and-automobile-parts.html"
MIRROR_FILES = {
    "usmca/usmca-ch02-national-treatment-and-market-access-for-goods.html": ("treaty", "treaty_html"),
    "usmca/usmca-ch02-annex-2-b-tariff-schedule-of-canada.html": ("tariff", "tariff_html"),
    "us-code/19-usc-chapter-29-usmca-implementation.md": ("law", "uscode_md"),
    f"sources/{P10925}": ("source", "fedreg_html"),
    "sources/fr-2025-05930-adjusting-imports-of-automobiles-and-automobile-parts.html": (
        "source",
        "fedreg_html",
    ),
}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(REGISTRY)


def test_loads_with_unique_ids(registry):
    ids = [d.id for d in registry.documents]
    assert len(ids) == len(set(ids))
    raw = json.loads(REGISTRY.read_text(encoding="utf-8"))
    assert isinstance(raw, list) and len(raw) == len(ids)


def test_brief_entry(registry):
    brief = registry.by_id(BRIEF_ID)
    assert brief is not None and brief.kind == "brief" and brief.parser == "brief"
    assert brief.path == f"brief/{BRIEF_ID}"
    assert brief.sha256 == hashlib.sha256((PROJECT_ROOT / "corpus" / brief.path).read_bytes()).hexdigest()


def test_mirror_entries(registry):
    for rel, (kind, parser) in MIRROR_FILES.items():
        doc = registry.by_id(Path(rel).name)
        assert doc is not None, rel
        assert (doc.kind, doc.parser, mirror_path(doc), doc.path) == (kind, parser, rel, rel)
        assert doc.url.startswith("https://") and url_confirmed(doc)


@pytest.mark.skipif(not MIRROR.is_dir(), reason="the shared corpus mirror is not on this machine")
def test_mirror_checksums_match_the_real_files(registry):
    for rel in [*MIRROR_FILES, f"brief/{BRIEF_ID}"]:
        doc = registry.by_id(Path(rel).name)
        assert doc.sha256 == hashlib.sha256((MIRROR / rel).read_bytes()).hexdigest(), rel


GC_CHAPTER = (
    "https://www.international.gc.ca/trade-commerce/trade-agreements-accords-commerciaux/agr-acc/"
    "cusma-aceum/text-texte/{:02d}.aspx?lang=eng"
)


def test_usmca_chapters_come_from_the_gc_pages_with_ustr_pdfs_as_fallback(registry):
    chapters = {d.extra["chapter"]: d for d in registry.documents if d.parser == "treaty_html"}
    assert sorted(chapters) == list(range(1, 35))
    for n, doc in chapters.items():
        assert doc.url == GC_CHAPTER.format(n), "one address pattern for all 34 chapters"
        assert doc.parser == "treaty_html" and doc.publisher == "Global Affairs Canada"
        assert doc.id == Path(mirror_path(doc)).name == f"{Path(doc.id).stem}.html"
        assert doc.id.startswith(f"usmca-ch{n:02d}-") and mirror_path(doc).startswith("usmca/")
        primary, pdf = registry.variants(doc)
        assert primary is doc
        assert pdf.url.startswith("https://ustr.gov/sites/default/files/files/agreements/FTA/USMCA/")
        assert pdf.url.endswith(".pdf") and pdf.parser == "treaty_pdf" and pdf.sha256 == ""
        assert pdf.id == Path(mirror_path(pdf)).name == f"{Path(doc.id).stem}.pdf"
        assert (pdf.kind, pdf.extra["chapter"], pdf.extra["fallback_of"]) == ("treaty", n, doc.id)
        assert pdf.publisher == "Office of the U.S. Trade Representative" and registry.by_id(pdf.id) == pdf
        assert isinstance(doc.extra["url_confirmed"], bool) and isinstance(pdf.extra["url_confirmed"], bool)
    assert url_confirmed(chapters[2]) and chapters[2].sha256  # the mirror's file
    assert not url_confirmed(chapters[3]) and citation_url(chapters[3]).endswith("toc-tdm.aspx?lang=eng")
    ch34_pdf = registry.variants(chapters[34])[1]
    assert ch34_pdf.url.endswith("/Text/34_Final_Provisions.pdf") and url_confirmed(ch34_pdf)
    assert registry.by_id("usmca-protocol-replacing-nafta.pdf").kind == "treaty"
    assert registry.by_id("usmca-protocol-of-amendment-2019.pdf").date == "2019-12-10"
    letters = [d for d in registry.documents if d.extra.get("side_letter")]
    assert len(letters) >= 2 and all(d.parser == "treaty_pdf" for d in letters)
    for entry in registry.documents:  # an unconfirmed URL is never shown to a reader as the link
        for doc in registry.variants(entry):
            if not url_confirmed(doc) and doc.extra.get("listing_url"):
                assert citation_url(doc) == doc.extra["listing_url"]


def test_a_registry_without_fallbacks_reads_as_before(tmp_path):
    """The previous registry layout: one URL per entry, PDF chapters with their own ids."""
    old = [
        {
            "id": "usmca-ch34-final-provisions.pdf",
            "title": "USMCA Chapter 34: Final Provisions",
            "kind": "treaty",
            "url": "https://ustr.gov/sites/default/files/files/agreements/FTA/USMCA/Text/34_Final_Provisions.pdf",
            "parser": "treaty_pdf",
            "mirror": "usmca/usmca-ch34-final-provisions.pdf",
            "chapter": 34,
        },
    ]
    (tmp_path / "old.json").write_text(json.dumps(old))
    reg = load_registry(tmp_path / "old.json")
    (doc,) = reg.documents
    assert reg.variants(doc) == [doc] and doc.parser == "treaty_pdf" and doc.extra["chapter"] == 34
    assert reg.match_path(tmp_path / "usmca" / "usmca-ch34-final-provisions.pdf") is doc


def test_bad_fallbacks_are_rejected(tmp_path):
    cases = {
        "needs at least a url": [{"url": "https://x.org/a.pdf"}],
        "unknown parser": [{"url": "https://x.org/a.pdf", "mirror": "a.pdf", "parser": "nope"}],
        "already used": [{"url": "https://x.org/a.html", "mirror": "t/a.html"}],
        "must be relative": [{"url": "https://x.org/a.pdf", "mirror": "../a.pdf"}],
    }
    for message, fallbacks in cases.items():
        entry = {"id": "a.html", "title": "A", "kind": "treaty", "mirror": "t/a.html", "fallbacks": fallbacks}
        (tmp_path / "r.json").write_text(json.dumps([entry]))
        with pytest.raises(RegistryError, match=message):
            load_registry(tmp_path / "r.json")


def test_footnote_sources(registry):
    assert [s.footnote for s in registry.sources] == list(range(1, 63))
    fn29 = registry.source(29)
    assert fn29.document_id == P10925
    assert registry.by_id(P10925).footnotes == [29]
    fn31 = registry.source(31)  # the brief cites the USTR PDF: the chapter's entry, whose fallback it is
    assert fn31.document_id == "usmca-ch34-final-provisions.html" and fn31.locator == "Article 34.7"
    assert registry.by_id("usmca-ch34-final-provisions.pdf").footnotes == [31]
    assert registry.source(48).repeats == 46 and registry.source(48).page == "2"
    assert registry.source(1).repeats is None and registry.source(1).document_id == ""


def test_indexed_status(registry):
    status = registry.source_status({P10925, BRIEF_ID})
    assert status[29] == INDEXED
    assert status[31] == REFERENCE_ONLY and status[1] == REFERENCE_ONLY
    assert registry.source(29).status([]) == REFERENCE_ONLY
    for ch34 in ("usmca-ch34-final-provisions.html", "usmca-ch34-final-provisions.pdf"):  # either source
        assert registry.source_status({ch34})[31] == INDEXED


def test_match_path(registry, tmp_path):
    html = registry.match_path(tmp_path / "usmca" / "usmca-ch34-final-provisions.html")
    pdf = registry.match_path(tmp_path / "usmca" / "usmca-ch34-final-provisions.pdf")
    assert (html.id, html.parser) == ("usmca-ch34-final-provisions.html", "treaty_html")
    assert (pdf.id, pdf.parser, pdf.kind) == ("usmca-ch34-final-provisions.pdf", "treaty_pdf", "treaty")
    assert pdf.url.endswith("34_Final_Provisions.pdf") and pdf.footnotes == [31]
    assert registry.match_path(f"/elsewhere/corpus/brief/{BRIEF_ID}").id == BRIEF_ID
    assert registry.match_path(tmp_path / "unknown.pdf") is None


def test_bad_registries_are_rejected(tmp_path):
    dup = [{"id": "a", "title": "A", "kind": "user"}, {"id": "a", "title": "B", "kind": "user"}]
    (tmp_path / "dup.json").write_text(json.dumps(dup))
    with pytest.raises(RegistryError, match="duplicate id"):
        load_registry(tmp_path / "dup.json")
    bad = [{"id": "a", "title": "A", "kind": "user", "mirror": "../escape.pdf"}]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(RegistryError, match="relative"):
        load_registry(tmp_path / "bad.json")


def test_registry_without_brief_has_no_sources(tmp_path):
    (tmp_path / "r.json").write_text(
        json.dumps({"documents": [{"id": "x.pdf", "title": "X", "kind": "user"}]})
    )
    reg = load_registry(tmp_path / "r.json")
    assert reg.sources == [] and isinstance(reg.documents[0], DocumentInfo)
