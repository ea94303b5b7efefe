"""Footnotes of the real Quincy brief: text, positions, citations, short cites."""

from __future__ import annotations

import pytest

from assistant.ingest.footnotes import (
    brief_sources,
    canonical_url,
    extract_footnotes,
    footnote_markers,
    footnote_spans,
    parse_citation,
    parse_sources,
    resolve_short_cites,
)
from assistant.settings import PROJECT_ROOT

BRIEF = PROJECT_ROOT / "corpus" / "brief" / "quincy-brief-80-us-mexico-special-relationship.md"
NO_URL = [4, 45, 48, 49, 50, 57]  # the short cites and the author's interview
SHORT_CITES = {4: 3, 48: 46, 49: 47, 50: 45, 57: 55}


@pytest.fixture(scope="module")
def markdown() -> str:
    return BRIEF.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def footnotes(markdown: str) -> dict[int, str]:
    return extract_footnotes(markdown)


@pytest.fixture(scope="module")
def refs(markdown: str):
    return brief_sources(markdown)


def test_exactly_62_footnotes_numbered_1_to_62(footnotes):
    assert sorted(footnotes) == list(range(1, 63))
    assert all(text.strip() for text in footnotes.values())


def test_text_is_unescaped_and_plain(footnotes):
    assert "\\" not in "".join(footnotes.values())
    assert "*" not in "".join(footnotes.values())
    assert "<sup>" not in "".join(footnotes.values())
    assert "\\$" not in footnotes[54] and "$5 Billion" in footnotes[54]
    assert footnotes[7].startswith("C. O’Leary, R. Eberts, and B. Pittelko, “Effects of NAFTA")
    assert "Responses,” OECD, no. 131" in footnotes[7]  # italics removed, words kept


def test_wrapped_footnotes_are_joined(footnotes):
    assert footnotes[12].endswith("chapter-31-annex-facility-specific-rapid-response-labor-mechanism.")
    assert "\n" not in footnotes[13]
    assert footnotes[13].endswith("fact-sheet-usmca-rapid-response-mechanism-delivers-workers.")


def test_every_footnote_with_a_url_gets_it(footnotes, refs):
    resolved, _ = refs
    raw = parse_sources(footnotes)
    assert [r.footnote for r in raw if not r.url] == NO_URL
    assert [r.footnote for r in resolved if not r.url] == [45, 50]  # the interview has no URL
    for r in raw:
        if "http" in r.text:
            assert r.url.startswith("http") and r.url in r.text.replace("\\", "")


def test_known_urls(refs):
    by_fn = {r.footnote: r for r in refs[0]}
    assert by_fn[1].url == "https://ustr.gov/countries-regions/americas/mexico"
    assert by_fn[13].url == (
        "https://ustr.gov/about-us/policy-offices/press-office/fact-sheets/2024/september/"
        "fact-sheet-usmca-rapid-response-mechanism-delivers-workers"
    )
    assert by_fn[29].url == (
        "https://www.whitehouse.gov/presidential-actions/2025/04/"
        "amendments-to-adjusting-imports-of-automobiles-and-automobile-parts-into-the-united-states"
    )
    assert by_fn[31].url == (
        "https://ustr.gov/sites/default/files/files/agreements/FTA/USMCA/Text/34_Final_Provisions.pdf"
    )
    assert by_fn[9].url == "https://www.epi.org/publication/briefingpapers_bp147/"
    assert by_fn[33].url == "https://x.com/realDonaldTrump/status/1203096598462504961?s=20"


def test_text_fragment_is_kept_in_text_but_not_in_url(footnotes):
    assert "#:~:text=Mexico%20Trade%20Summary" in footnotes[1]
    assert canonical_url("https://a.gov/p#:~:text=x,(y).") == "https://a.gov/p"
    assert canonical_url("https://a.gov/p#sec:~:text=x") == "https://a.gov/p#sec"
    assert canonical_url("https://a.gov/x_(y)).") == "https://a.gov/x_(y)"


def test_citation_fields(refs):
    by_fn = {r.footnote: r for r in refs[0]}
    assert by_fn[8].author == "Justino de la Cruz and David Riker"
    assert by_fn[8].title == "The Impact of NAFTA on U.S. Labor Markets, Office of Economics Working Paper"
    assert by_fn[8].publisher == "U.S. International Trade Commission"
    assert by_fn[8].date == "June 2014"
    assert by_fn[29].publisher == "The White House" and by_fn[29].date == "April 29, 2025"
    assert by_fn[32].title.startswith("Hearing to Consider the Anticipated Nomination of Jamieson Greer")
    assert by_fn[32].date == "Feb. 6, 2025"
    assert by_fn[62].author == "J. David Goodman" and by_fn[62].publisher == "New York Times"
    assert by_fn[45].author == "Arturo Sarukhán" and by_fn[45].date == "June 2025"


def test_pages_and_locators(footnotes):
    assert parse_citation(7, footnotes[7]).page == "25"
    assert parse_citation(10, footnotes[10]).page == "1-72"
    assert parse_citation(4, footnotes[4]).page == "9"
    assert parse_citation(31, footnotes[31]).locator == "Article 34.7"
    assert parse_citation(25, footnotes[25]).locator == "Graph 10"


def test_short_cites_resolve_to_first_full_citation(refs):
    resolved, short = refs
    assert short == SHORT_CITES
    by_fn = {r.footnote: r for r in resolved}
    assert by_fn[48].title == "ICO/TIVA Highlights: GVC indicators for Mexico"
    assert by_fn[48].url == by_fn[46].url
    assert by_fn[49].title == "Disentangling Global Value Chains" and by_fn[49].url == by_fn[47].url
    assert by_fn[4].url == "https://www.bea.gov/sites/default/files/2024-07/dici0724.pdf"
    assert by_fn[57].url == "https://uaw.org/tariffs-mark-beginning-of-victory-for-autoworkers/"
    assert by_fn[50].author == "Arturo Sarukhán"
    assert by_fn[48].text == '"ICO/TIVA Highlights," 2.'  # a short cite keeps its own text


def test_resolution_works_on_plain_text_too(footnotes):
    _, short = resolve_short_cites(parse_sources(footnotes))
    assert short == SHORT_CITES


def test_spans_cover_footnotes_and_no_body(markdown):
    spans = footnote_spans(markdown)
    assert len(spans) == 62 + 4  # four footnotes wrap their URL into a second paragraph
    assert all(a < b for a, b in spans)
    assert all(spans[i][1] < spans[i + 1][0] for i in range(len(spans) - 1))

    def covered(pos: int) -> bool:
        return any(s <= pos < e for s, e in spans)

    body = markdown.index("Since the launch of the initial North American Free Trade Agreement")
    assert not covered(body)
    fn2 = markdown.index('<sup>2</sup> "United States Trade Summary 1993," World Integrated Trade Solution')
    wits = markdown.index("World Integrated Trade Solution", fn2)
    assert covered(fn2) and covered(wits)
    figure_source = markdown.index("Source: World Integrated Trade Solution")
    assert not covered(figure_source)
    wrapped = markdown.index("<https://ustr.gov/issue-areas/enforcement/dispute-settlement-proceedings")
    assert covered(wrapped)
    assert not covered(markdown.index("cases had been brought to the RRM"))
    for s, e in spans:
        assert markdown[s] == "<" and markdown[e - 1] in ".>,"  # whole paragraphs, nothing else
        assert "---" not in markdown[s:e] and "\n\n" not in markdown[s:e]


def test_body_markers(markdown):
    marks = footnote_markers(markdown)
    assert sorted(n for n, _, _ in marks) == list(range(1, 63))
    bare = [(n, markdown[s:e]) for n, s, e in marks if markdown[s] != "<"]
    assert bare == [(29, "29"), (45, "45")]
