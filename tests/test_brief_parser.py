"""The brief's structure: sections, printed pages, footnotes, joined page-split paragraphs, tables."""

from __future__ import annotations

import pytest

from assistant.ingest.base import DocumentInfo
from assistant.ingest.brief import parse_brief
from assistant.ingest.loaders import load
from assistant.textutil import collapse, footnote_marks

from .conftest import BRIEF


@pytest.fixture(scope="module")
def parsed():
    info = DocumentInfo(id=BRIEF.name, title="The U.S. and Mexico: A Special Relationship", kind="brief")
    return parse_brief(load(BRIEF), info)


def find(parsed, needle):
    hits = [c for c in parsed.chunks if needle in c.text]
    assert hits, f"no chunk contains {needle!r}"
    return hits[0]


def test_sections_follow_headings(parsed):
    sections = list(dict.fromkeys(c.section for c in parsed.chunks))
    assert sections[:4] == ["Cover", "Executive Summary", "Introduction", "Background: A deeply intertwined partnership"]
    assert "The way ahead: Some recommendations" in sections
    assert "Argument: The costs of misunderstanding the U.S.–Mexico economic relationship" in sections
    assert not any("**" in s for s in sections)


def body_chunks(parsed):
    return [c for c in parsed.chunks if "note" not in c.meta]


def test_footnote_text_never_enters_the_body(parsed):
    body = "\n".join(c.text for c in body_chunks(parsed))
    assert "World Integrated Trade Solution, <https" not in body
    assert "Fact Sheet; The USMCA Rapid Response Mechanism Delivers" not in body
    assert "https://ustr.gov/issue-areas/enforcement" not in body
    assert "---" not in body


def test_page_split_paragraphs_are_joined(parsed):
    c = find(parsed, "noted in September 2024 that 27")
    assert "27 cases had been brought to the RRM" in collapse(c.text)
    assert "The settlements benefited 36,000 workers" in c.text
    c = find(parsed, "Meanwhile, 57 percent of Mexico's imports")
    assert "came from the United States, yet another sign" in c.text
    c = find(parsed, "Key aspects of the United States–Mexico–Canada")
    assert "United States–Mexico–Canada Agreement, or USMCA" in c.text


def test_footnotes_recorded_and_resolved(parsed):
    c = find(parsed, "accounting for $840 billion of bilateral trade")
    assert c.section.startswith("Background")
    assert {1, 2} <= set(c.footnotes)
    assert footnote_marks(c.text)[:2] == [1, 2]
    sources = {s.footnote: s for s in parsed.sources}
    assert len(sources) == 62
    assert sources[1].url.startswith("https://ustr.gov/countries-regions/americas/mexico")
    # a bare marker on its own line ("29") is attached to the passage it follows
    c = find(parsed, "ensure that benefits of production are concentrated in the United States")
    assert 29 in c.footnotes
    # a short cite resolves to its first full citation
    assert sources[48].repeats == 46 and sources[48].url == sources[46].url


def test_pages_counted_from_the_cover(parsed):
    pages = [c.page for c in body_chunks(parsed)]
    assert pages == sorted(pages), "pages never go backwards"
    assert parsed.chunks[0].page == 1 and parsed.chunks[0].section == "Cover"
    assert find(parsed, "President Trump's policies carry risks").page == 2
    assert find(parsed, "Since the launch of the initial North American").page == 5
    assert find(parsed, "The U.S. has spent more than three decades").page > 20
    assert all(f"p. {c.page}" in c.label for c in parsed.chunks)


def test_tables_kept_whole_with_caption(parsed):
    fig1 = [c for c in parsed.chunks if c.meta.get("figure") == "Figure 1"]
    assert len(fig1) == 1
    t = fig1[0].text
    assert t.startswith("Figure 1: Mexico's Growing Importance to U.S. Trade")
    for row in ("Canada\t100\t114\t214\t349\t413\t763", "Mexico\t42\t41\t83\t334\t506\t840", "China\t9"):
        assert row in t
    assert "Units: Billions of dollars annually" in t and "Source: World Integrated Trade Solution" in t
    fig3 = [c for c in parsed.chunks if c.meta.get("figure") == "Figure 3"]
    assert len(fig3) == 1
    assert "Percentage Content by Country for Selected Vehicles" in fig3[0].text
    assert "Toyota Tundra" in fig3[0].text and "Audi Q540" in fig3[0].text
    assert "NHTSA" in fig3[0].text
    # the figure title is not mistaken for a section heading
    assert all("Growing Importance" not in c.section for c in parsed.chunks)


def test_chunks_fit_the_embedding_window(parsed):
    for c in parsed.chunks:
        if not c.meta.get("table"):
            assert len(c.text.split()) <= 150, c.label


def test_offsets_point_into_the_source(parsed):
    src = parsed.text
    for c in parsed.chunks:
        assert 0 <= c.start < c.end <= len(src)
    c = find(parsed, "In 2022, Mexico overtook China")
    assert "In 2022, Mexico overtook China" in src[c.start : c.end]


def test_ids_are_deterministic(parsed):
    info = DocumentInfo(id=BRIEF.name, title="The U.S. and Mexico: A Special Relationship", kind="brief")
    again = parse_brief(load(BRIEF), info)
    assert [c.id for c in again.chunks] == [c.id for c in parsed.chunks]
    assert len({c.id for c in parsed.chunks}) == len(parsed.chunks)


def test_recommendation_heading_stays_with_its_argument(parsed):
    c = find(parsed, "Recognize President Sheinbaum’s popularity and openness to compromise as an opportunity")
    assert "Mexico has serious economic needs" in c.text
    assert c.section == "The way ahead: Some recommendations"


def test_each_footnote_is_a_passage_of_its_own(parsed):
    notes = {c.meta["note"]: c for c in parsed.chunks if "note" in c.meta}
    assert sorted(notes) == list(range(1, 63))
    n10 = notes[10]
    assert n10.text.startswith("Note 10: Felipe Benguria, “The Impact of NAFTA on U.S. Local Labor Market Employment,”")
    assert n10.footnotes == (10,) and n10.section == "Notes" and n10.page == find(parsed, "minority workers").page
    # found by the claim it supports: the citing sentence is in the search text, not in the quote
    assert "women without college educations" in n10.context and "women" not in n10.text
    assert "ustr.gov/about-us/policy-offices/press-office/fact-sheets" in notes[13].text
